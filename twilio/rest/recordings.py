"""``client.recordings``: the recordings this client has seen in webhooks
(Kaphila announces them with ``recording.completed``; it has no listing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from twilio.base.exceptions import TwilioRestException
from twilio.kaphila import CODE_NOT_FOUND

if TYPE_CHECKING:
    from twilio.rest import Client


class RecordingInstance:
    def __init__(self, view: dict[str, Any]) -> None:
        self.sid: str = view["recording_sid"]
        self.call_sid: str = view["sid"]
        self.media_url: str | None = view.get("recording_url")
        self.duration: str | None = view.get("recording_duration")
        self.status = "completed" if self.media_url else "in-progress"

    def __repr__(self) -> str:
        return f"<Twilio.Api.V2010.RecordingInstance sid={self.sid}>"


class RecordingList:
    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return "<Twilio.Api.V2010.RecordingList>"

    def stream(
        self, call_sid: str | None = None, limit: int | None = None, **kwargs: Any
    ) -> Iterator[RecordingInstance]:
        count = 0
        for view in self._client.call_store.all():
            if not view.get("recording_sid") or (call_sid and view["sid"] != call_sid):
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield RecordingInstance(view)

    def list(
        self, call_sid: str | None = None, limit: int | None = None, **kwargs: Any
    ) -> list[RecordingInstance]:
        return list(self.stream(call_sid=call_sid, limit=limit))

    def get(self, sid: str) -> RecordingInstance:
        for recording in self.stream():
            if recording.sid == sid:
                return recording
        raise TwilioRestException(
            404, f"/Recordings/{sid}", f"no recording {sid!r} seen", CODE_NOT_FOUND
        )

    def __call__(self, sid: str) -> RecordingInstance:
        return self.get(sid)

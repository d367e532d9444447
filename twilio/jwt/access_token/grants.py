"""The grants of Twilio's ``AccessToken``, with twilio-python 9.x's keys and
payloads (a field left empty is left out)."""

from __future__ import annotations

from typing import Any

from twilio.jwt.access_token import AccessTokenGrant


def _given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value}


class ChatGrant(AccessTokenGrant):
    """Grant to access Twilio Chat."""

    def __init__(
        self,
        service_sid: str | None = None,
        endpoint_id: str | None = None,
        deployment_role_sid: str | None = None,
        push_credential_sid: str | None = None,
    ) -> None:
        self.service_sid = service_sid
        self.endpoint_id = endpoint_id
        self.deployment_role_sid = deployment_role_sid
        self.push_credential_sid = push_credential_sid

    @property
    def key(self) -> str:
        return "chat"

    def to_payload(self) -> dict[str, Any]:
        return _given(
            service_sid=self.service_sid,
            endpoint_id=self.endpoint_id,
            deployment_role_sid=self.deployment_role_sid,
            push_credential_sid=self.push_credential_sid,
        )


class SyncGrant(AccessTokenGrant):
    """Grant to access Twilio Sync."""

    def __init__(self, service_sid: str | None = None, endpoint_id: str | None = None) -> None:
        self.service_sid = service_sid
        self.endpoint_id = endpoint_id

    @property
    def key(self) -> str:
        return "data_sync"

    def to_payload(self) -> dict[str, Any]:
        return _given(service_sid=self.service_sid, endpoint_id=self.endpoint_id)


class VoiceGrant(AccessTokenGrant):
    """Grant to access Twilio Programmable Voice."""

    def __init__(
        self,
        incoming_allow: bool | None = None,
        outgoing_application_sid: str | None = None,
        outgoing_application_params: dict[str, Any] | None = None,
        push_credential_sid: str | None = None,
        endpoint_id: str | None = None,
    ) -> None:
        self.incoming_allow = incoming_allow
        self.outgoing_application_sid = outgoing_application_sid
        self.outgoing_application_params = outgoing_application_params
        self.push_credential_sid = push_credential_sid
        self.endpoint_id = endpoint_id

    @property
    def key(self) -> str:
        return "voice"

    def to_payload(self) -> dict[str, Any]:
        grant: dict[str, Any] = {}
        if self.incoming_allow is True:
            grant["incoming"] = {"allow": True}
        if self.outgoing_application_sid:
            grant["outgoing"] = {"application_sid": self.outgoing_application_sid}
            if self.outgoing_application_params:
                grant["outgoing"]["params"] = self.outgoing_application_params
        grant.update(
            _given(push_credential_sid=self.push_credential_sid, endpoint_id=self.endpoint_id)
        )
        return grant


class VideoGrant(AccessTokenGrant):
    """Grant to access Twilio Video."""

    def __init__(self, room: str | None = None) -> None:
        self.room = room

    @property
    def key(self) -> str:
        return "video"

    def to_payload(self) -> dict[str, Any]:
        return _given(room=self.room)


class TaskRouterGrant(AccessTokenGrant):
    """Grant to access Twilio TaskRouter."""

    def __init__(
        self,
        workspace_sid: str | None = None,
        worker_sid: str | None = None,
        role: str | None = None,
    ) -> None:
        self.workspace_sid = workspace_sid
        self.worker_sid = worker_sid
        self.role = role

    @property
    def key(self) -> str:
        return "task_router"

    def to_payload(self) -> dict[str, Any]:
        return _given(workspace_sid=self.workspace_sid, worker_sid=self.worker_sid, role=self.role)


class PlaybackGrant(AccessTokenGrant):
    """Grant to access a Twilio Live stream: the grant as Twilio's API returned it."""

    def __init__(self, grant: Any = None) -> None:
        self.grant = grant

    @property
    def key(self) -> str:
        return "player"

    def to_payload(self) -> Any:
        return self.grant


__all__ = [
    "ChatGrant",
    "PlaybackGrant",
    "SyncGrant",
    "TaskRouterGrant",
    "VideoGrant",
    "VoiceGrant",
]

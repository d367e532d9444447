"""Telephony: the reducer's effects, carried out through the Twilio SDK.

Every SDK call runs in an executor, never on the loop thread, and every
outcome comes back as an event: failures carry a message in the operator's
words ("Caller ID +19876543210 is not verified on this account (Kaphila 400)"),
never an exception in the GUI.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar, assert_never

from console.core.events import (
    ActionFailed,
    ActionKind,
    ActionRequested,
    ActionSucceeded,
    CallChecked,
    CheckCall,
    DialAccepted,
    DialFailed,
    Effect,
    Event,
    Failure,
    PlaceCall,
    PresencePosted,
    PublishPresence,
    RunAction,
)
from twilio.base.exceptions import (
    KaphilaNotSupportedError,
    TwilioConnectionError,
    TwilioException,
    TwilioRestException,
    TwilioTimeoutError,
)
from twilio.rest import Client
from twilio.rest.calls import CallContext

T = TypeVar("T")

CHECK_RATE = 40.0  # checks a second: inside the sandbox's 50/s per key, room left for the operator


TAKE_OVER_PATH = "/team/calls/{call_id}/takeover"  # docs/TEAM.md (supervisors only)


def failed(exc: TwilioException, team: bool = False) -> dict[str, Any]:
    """An SDK error as the facts a failure event carries (the words are
    ``console.qt.wording``'s): why, what was said, Twilio's code, the HTTP status.

    Through a team's gateway a 403 is the gateway's authority ("call CA… belongs
    to alice"), and a 401 its refusal of the desk's operator token, not Kaphila's
    refusal of an API key."""
    if team and isinstance(exc, TwilioRestException) and exc.status in (401, 403):
        reason = Failure.FORBIDDEN if exc.status == 403 else Failure.UNAUTHORIZED
        return {"reason": reason, "message": exc.msg, "code": exc.code, "status": exc.status}
    if isinstance(exc, TwilioTimeoutError):
        return {"reason": Failure.TIMED_OUT, "message": exc.msg, "code": exc.code}
    if isinstance(exc, TwilioConnectionError):
        return {"reason": Failure.UNREACHABLE, "message": str(exc.cause), "code": exc.code}
    if isinstance(exc, KaphilaNotSupportedError):
        return {"reason": Failure.NOT_SUPPORTED, "message": exc.msg, "code": exc.code}
    if isinstance(exc, TwilioRestException):
        reason = Failure.BAD_ANSWER if (exc.status or 0) < 400 else Failure.REFUSED
        return {"reason": reason, "message": exc.msg, "code": exc.code, "status": exc.status}
    return {"reason": Failure.REFUSED, "message": exc.msg or type(exc).__name__, "code": exc.code}


class Pacer:
    """At most ``rate`` starts a second, evenly spaced (0: no limit)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0

    async def wait(self) -> None:
        if self.rate <= 0:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._next)
        self._next = start + 1.0 / self.rate
        if start > now:
            await asyncio.sleep(start - now)


class Telephony:
    def __init__(
        self,
        client: Client,
        webhook_url: Callable[[], str | None],
        executor: Executor | None = None,
        clock: Callable[[], float] = time.time,
        check_rate: float = CHECK_RATE,
        team: bool = False,
    ) -> None:
        self._client = client
        self._team = team  # through a team's gateway: 401/403 are the gateway's
        self._webhook_url = webhook_url
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(
            max_workers=8, thread_name_prefix="kaphila-sdk"
        )
        self._clock = clock
        self._check_pacer = Pacer(check_rate)

    async def run(self, effect: Effect) -> Event:
        match effect:
            case PlaceCall():
                return await self.place_call(effect)
            case RunAction():
                return await self.act(effect)
            case CheckCall():
                return await self.check(effect)
            case PublishPresence():  # a team desk's presence service posts these
                return PresencePosted(effect.status, self._clock(), ok=False)

    async def place_call(self, cmd: PlaceCall) -> Event:
        options: dict[str, Any] = {
            "machine_detection": "enable" if cmd.amd else "none",
            "timeout": cmd.ring_timeout,
        }
        if cmd.voice:
            options["voice"] = cmd.voice
        url = self._webhook_url()
        if url:
            # Kaphila's plain JSON events for the listener (not a TwiML URL: through
            # a gateway, Twilio's url= would be fetched for TwiML).
            options["webhook_url"] = url
        try:
            call = await self._run(
                self._client.calls.create, to=cmd.to, from_=cmd.caller_id, **options
            )
        except TwilioException as exc:
            return DialFailed(
                request_id=cmd.request_id, at=self._clock(), **failed(exc, self._team)
            )
        if not call.sid:  # the SDK refuses such an answer; never leave the dial pending
            return DialFailed(
                cmd.request_id, "no call id", self._clock(), reason=Failure.BAD_ANSWER
            )
        return DialAccepted(cmd.request_id, call.sid, self._clock(), credits=call.credits)

    async def act(self, effect: RunAction) -> Event:
        cmd = effect.request
        try:
            if cmd.kind is ActionKind.TAKE_OVER:
                path = TAKE_OVER_PATH.format(call_id=cmd.call_sid)
                await self._run(self._client.kaphila.post, path, {})
            else:
                await self._run(perform, self._client.calls(cmd.call_sid), cmd)
        except TwilioException as exc:
            return ActionFailed(
                request_id=cmd.request_id, at=self._clock(), **failed(exc, self._team)
            )
        return ActionSucceeded(cmd.request_id, self._clock())

    async def check(self, cmd: CheckCall) -> CallChecked:
        """The call's status as the API reports it now; ``reachable=False`` when the
        API cannot be asked (unreachable, refused). Paced here (``CHECK_RATE``); how
        many are in flight is the session's check queue's to bound (``CHECKERS``)."""
        sid = cmd.call_sid
        await self._check_pacer.wait()
        try:
            call = await self._run(self._client.calls(sid).fetch)
        except TwilioRestException as exc:
            if exc.status == 404:
                return CallChecked(sid, None, self._clock(), cmd.reason)
            return CallChecked(sid, None, self._clock(), cmd.reason, reachable=False)
        except TwilioException:
            return CallChecked(sid, None, self._clock(), cmd.reason, reachable=False)
        return CallChecked(sid, call.status, self._clock(), cmd.reason)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    def close(self) -> None:
        if self._own_executor:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._client.close()


def perform(context: CallContext, cmd: ActionRequested) -> None:
    """One operator action on a live call, as a Kaphila-native call: an action is
    not a TwiML document, so nothing hangs up once it is done."""
    match cmd.kind:
        case ActionKind.HANG_UP:
            context.hangup()
        case ActionKind.SPEAK:
            context.speak(cmd.text, voice=cmd.voice)
        case ActionKind.GATHER:
            context.gather(
                cmd.text or None,
                num_digits=cmd.num_digits,
                timeout=cmd.timeout,
                finish_on_key=cmd.finish_on_key or None,
                valid_digits=cmd.valid_digits or None,
            )
        case ActionKind.FORWARD:
            context.forward(cmd.text)
        case ActionKind.DOCUMENT | ActionKind.TAKE_OVER:  # the reducer never asks these here
            raise KaphilaNotSupportedError(f"{cmd.kind.value} from perform()")
        case _:
            assert_never(cmd.kind)

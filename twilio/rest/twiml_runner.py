"""Running TwiML on Kaphila ("context-aware TwiML" in the SDK document).

Kaphila has no TwiML interpreter; it has API calls. A TwiML document is run
verb by verb as those calls:

    <Say>              POST /voice (``loop`` repeats; SSML is spoken as plain text)
    <Gather>           POST /gather: nested <Say> is the prompt, timeout s -> ms,
                       numDigits, finishOnKey (Twilio's default '#'), validDigits
    <Dial>/<Number>    POST /forwardcall to the (first) number
    <Hangup>/<Reject>  POST /hangup
    <Pause>            a wait
    <Redirect>         fetch that URL's TwiML and go on with it

Anything else (<Play>, <Record>, <Sms>, <Enqueue>, <Connect>, ...) makes the
whole document fail with ``KaphilaNotSupportedError`` before anything is sent.

A <Gather> is asynchronous on Kaphila: the document stops there. When the
gather's result arrives as a webhook, ``WebhookHelper`` hands it back here:
with an ``action`` the SDK POSTs the digits there (as Twilio would) and runs the
TwiML it returns; on a timeout the verbs after the <Gather> run (Twilio's
fall-through). Unlike Twilio, a document that runs out of verbs leaves the
call up: end it with <Hangup/> to hang up.

``execute`` runs on the caller's thread and raises. ``submit`` queues a
document for a call's background worker (one per call, in order), used for
webhook-triggered runs so that the webhook can be answered at once; failures
there are logged and kept in ``errors``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from twilio import kaphila
from twilio.base.exceptions import (
    KaphilaNotSupportedError,
    TwilioException,
    TwilioRestException,
)
from twilio.twiml import TwiML

if TYPE_CHECKING:
    from twilio.rest import Client

log = logging.getLogger("twilio.kaphila.twiml")

SUPPORTED = frozenset({"Say", "Gather", "Dial", "Hangup", "Reject", "Pause", "Redirect"})
GATHER_CHILDREN = frozenset({"Say", "Pause"})
MAX_REDIRECTS = 10
SEEN_LIMIT = 20_000  # webhook identities remembered for de-duplication
TWILIO_GATHER_TIMEOUT = 5  # seconds, Twilio's default
TWILIO_FINISH_ON_KEY = "#"


@dataclass
class PendingGather:
    """A <Gather> this SDK started and whose result has not come yet."""

    action: str | None
    method: str
    fallthrough: list[ET.Element]
    document_url: str | None


@dataclass
class _CallQueue:
    items: deque[Callable[[], None]] = field(default_factory=deque)
    running: bool = False


class TwimlRunner:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._gathers: dict[str, PendingGather] = {}
        self._on_answer: dict[str, str] = {}
        self._queues: dict[str, _CallQueue] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._idle = threading.Condition(self._lock)
        self.errors: deque[tuple[str, str]] = deque(maxlen=1000)
        self._seen: OrderedDict[tuple[str, ...], None] = OrderedDict()

    # ------------------------------------------------------------------ public

    def execute(self, call_sid: str, twiml: Any, document_url: str | None = None) -> None:
        """Run a TwiML document on a live call now; raises on the first failure."""
        verbs = self._parse(twiml, call_sid)
        self._run(call_sid, verbs, document_url, depth=0)

    def execute_url(
        self,
        call_sid: str,
        url: str,
        method: str = "POST",
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Fetch TwiML from ``url`` (as Twilio would, with the call's parameters) and run it."""
        document = self._fetch(call_sid, url, method, params, payload)
        self.execute(call_sid, document, document_url=url)

    def run_when_answered(self, call_sid: str, twiml: Any) -> None:
        """``calls.create(twiml=...)``: check it now, run it once the call is answered."""
        text = twiml.render() if isinstance(twiml, TwiML) else str(twiml)
        self._parse(text, call_sid)
        with self._lock:
            self._on_answer[call_sid] = text

    def first_time(self, key: tuple[str, ...]) -> bool:
        """False for a webhook already seen (Kaphila delivers at least once)."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            while len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
            return True

    def take_on_answer(self, call_sid: str) -> str | None:
        with self._lock:
            return self._on_answer.pop(call_sid, None)

    def pending_gather(self, call_sid: str) -> PendingGather | None:
        with self._lock:
            return self._gathers.get(call_sid)

    def take_gather(self, call_sid: str) -> PendingGather | None:
        with self._lock:
            return self._gathers.pop(call_sid, None)

    def submit(self, call_sid: str, work: Callable[[], None], what: str) -> None:
        """Queue ``work`` on the call's background worker (in order per call)."""

        def guarded() -> None:
            try:
                work()
            except TwilioException as exc:
                self._record_error(call_sid, f"{what}: {exc.msg}")
            except Exception as exc:  # a bug or an app error: keep the worker alive
                log.exception("running %s for call %s failed", what, call_sid)
                self._record_error(call_sid, f"{what}: {type(exc).__name__}: {exc}")

        with self._lock:
            queue = self._queues.setdefault(call_sid, _CallQueue())
            queue.items.append(guarded)
            if queue.running:
                return
            queue.running = True
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kaphila-twiml")
            pool = self._pool
        pool.submit(self._drain, call_sid)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no background TwiML work is queued or running."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while any(q.running for q in self._queues.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ running

    def _drain(self, call_sid: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[call_sid]
                if not queue.items:
                    queue.running = False
                    del self._queues[call_sid]
                    self._idle.notify_all()
                    return
                work = queue.items.popleft()
            work()

    def _record_error(self, call_sid: str, message: str) -> None:
        message = self._client.kaphila.redact(message)
        log.error("TwiML for call %s was not run: %s", call_sid, message)
        self.errors.append((call_sid, message))

    def _run(
        self, call_sid: str, verbs: list[ET.Element], document_url: str | None, depth: int
    ) -> None:
        api = self._client.kaphila
        for index, verb in enumerate(verbs):
            tag = verb.tag
            if tag == "Say":
                text = _plain_text(verb)
                if text:
                    body: dict[str, Any] = {
                        kaphila.F_CALL_ID: call_sid,
                        kaphila.F_TEXT: text,
                        kaphila.F_PLAY_TO: kaphila.PLAY_TO_DEFAULT,
                    }
                    if verb.get("voice"):
                        body[kaphila.F_VOICE_NAME] = verb.get("voice")
                    for _ in range(_loop_count(verb)):
                        api.post(kaphila.VOICE, body)
            elif tag == "Pause":
                time.sleep(_number(verb.get("length"), 1.0))
            elif tag == "Gather":
                api.post(kaphila.GATHER, _gather_body(call_sid, verb))
                with self._lock:
                    self._gathers[call_sid] = PendingGather(
                        action=verb.get("action"),
                        method=(verb.get("method") or "POST").upper(),
                        fallthrough=verbs[index + 1 :],
                        document_url=document_url,
                    )
                return
            elif tag == "Dial":
                number = _dial_number(verb)
                api.post(
                    kaphila.FORWARD_CALL,
                    {kaphila.F_CALL_ID: call_sid, kaphila.F_FORWARD_NUMBER: number},
                )
                return
            elif tag in ("Hangup", "Reject"):
                api.post(kaphila.HANGUP, {kaphila.F_CALL_ID: call_sid})
                return
            elif tag == "Redirect":
                if depth >= MAX_REDIRECTS:
                    raise TwilioException(
                        f"more than {MAX_REDIRECTS} <Redirect>s in a row "
                        f"for call {call_sid}; stopping"
                    )
                url = self.resolve(call_sid, (verb.text or "").strip(), document_url)
                document = self._fetch(call_sid, url, (verb.get("method") or "POST").upper())
                self._run(call_sid, self._parse(document, call_sid), url, depth + 1)
                return

    def run_fallthrough(self, call_sid: str, pending: PendingGather) -> None:
        if pending.fallthrough:
            self._run(call_sid, pending.fallthrough, pending.document_url, depth=0)

    # ------------------------------------------------------------------ documents

    def _parse(self, twiml: Any, call_sid: str) -> list[ET.Element]:
        """The document's verbs, after checking that Kaphila can run every one."""
        text = twiml.render() if isinstance(twiml, TwiML) else str(twiml)
        uri = self._client.kaphila.url(kaphila.VOICE)
        try:
            # The app's own TwiML; expat refuses entity-expansion bombs.
            root = ET.fromstring(text)  # noqa: S314
        except ET.ParseError as exc:
            raise TwilioRestException(
                400,
                uri,
                f"the TwiML for call {call_sid} is not well-formed XML: {exc}",
                kaphila.CODE_BAD_REQUEST,
                "POST",
            ) from None
        if root.tag != "Response":
            raise TwilioRestException(
                400,
                uri,
                f"TwiML must have <Response> at its root, not <{root.tag}>",
                kaphila.CODE_BAD_REQUEST,
                "POST",
            )
        for verb in root:
            if verb.tag not in SUPPORTED:
                raise KaphilaNotSupportedError(f"<{verb.tag}>", uri=uri)
            if verb.tag == "Gather":
                _check_gather(verb, uri)
            elif verb.tag == "Dial":
                _dial_number(verb, uri)
            elif verb.tag == "Say":
                _loop_count(verb, uri)
        return list(root)

    def _fetch(
        self,
        call_sid: str,
        url: str,
        method: str,
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> str:
        """GET or POST the app's URL for TwiML, with Twilio's call parameters (never
        the API key: this is the app's server, not Kaphila).

        A POST that answers a Kaphila webhook (a <Gather> action) carries that
        webhook's JSON, so a handler that calls ``process_webhook(request.get_json())``
        works unchanged; Twilio's parameters are in the query string as well.
        Other POSTs are form-encoded, as Twilio sends them."""
        from twilio.webhook import call_params

        form: dict[str, object] = {**call_params(self._client, call_sid), **(params or {})}
        http = self._client.http_client
        method = method.upper()
        if method == "GET":
            response = http.request("GET", url, params=form, timeout=15)
        elif payload is not None:
            response = http.request(
                "POST",
                url,
                params=form,
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
                timeout=15,
            )
        else:
            response = http.request("POST", url, data=form, timeout=15)
        if response.status_code >= 400:
            raise TwilioRestException(
                response.status_code,
                url,
                f"fetching TwiML from {url} answered HTTP {response.status_code}",
                kaphila.CODE_BAD_REQUEST,
                method,
            )
        return response.text

    def resolve(self, call_sid: str, url: str, document_url: str | None) -> str:
        """An absolute URL for ``url``, relative to the document or the call's webhook."""
        if url.startswith(("http://", "https://")):
            return url
        base = document_url or (self._client.call_store.get(call_sid) or {}).get("webhook_url")
        if not base:
            raise TwilioException(
                f"cannot resolve the relative URL {url!r} for call "
                f"{call_sid}: the SDK does not know the call's webhook URL"
            )
        return urljoin(base, url)


# ---------------------------------------------------------------------- verbs


def _plain_text(element: ET.Element) -> str:
    # SSML elements are word boundaries: "is<say-as>1234</say-as>" says "is 1234".
    return " ".join(" ".join(element.itertext()).split())


def _number(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _loop_count(verb: ET.Element, uri: str = "") -> int:
    loop = verb.get("loop")
    if loop is None:
        return 1
    if not loop.isdigit():
        raise TwilioRestException(
            400, uri, f"<Say loop={loop!r}> is not a whole number", kaphila.CODE_BAD_REQUEST, "POST"
        )
    if int(loop) == 0:
        raise KaphilaNotSupportedError('<Say loop="0"> (repeat until the call ends)', uri=uri)
    return int(loop)


def _check_gather(verb: ET.Element, uri: str) -> None:
    for child in verb:
        if child.tag not in GATHER_CHILDREN:
            raise KaphilaNotSupportedError(f"<{child.tag}> inside <Gather>", uri=uri)
    kinds = (verb.get("input") or "dtmf").split()
    if "dtmf" not in kinds:
        raise KaphilaNotSupportedError('<Gather input="speech"> (speech recognition)', uri=uri)


def _gather_body(call_sid: str, verb: ET.Element) -> dict[str, Any]:
    prompt = " ".join(_plain_text(child) for child in verb if child.tag == "Say").strip()
    body: dict[str, Any] = {
        kaphila.F_CALL_ID: call_sid,
        kaphila.F_TIMEOUT_MS: round(_number(verb.get("timeout"), TWILIO_GATHER_TIMEOUT) * 1000),
    }
    if prompt:
        body[kaphila.F_TEXT] = prompt
    if verb.get("numDigits"):
        body[kaphila.F_NUM_DIGITS] = int(_number(verb.get("numDigits"), 1))
    finish = verb.get("finishOnKey", TWILIO_FINISH_ON_KEY)
    if finish:
        body[kaphila.F_FINISH_ON_KEY] = finish
    if verb.get("validDigits"):
        body[kaphila.F_VALID_DIGITS] = verb.get("validDigits")
    return body


def _dial_number(verb: ET.Element, uri: str = "") -> str:
    for child in verb:
        if child.tag != "Number":
            raise KaphilaNotSupportedError(f"<Dial><{child.tag}>", uri=uri)
    numbers = [(child.text or "").strip() for child in verb] or [(verb.text or "").strip()]
    number = numbers[0]
    digits = number[1:] if number.startswith("+") else number
    if not kaphila.NUMBER_RE.match(digits):
        raise TwilioRestException(
            400,
            uri,
            f"<Dial> needs a phone number of 10-15 digits, not {number!r}",
            kaphila.CODE_INVALID_TO,
            "POST",
        )
    return digits

"""Running TwiML without a gateway: the SDK's own interpreter, in-process.

Kaphila has no TwiML interpreter; it has API calls. Through a Kaphila gateway
the gateway runs every document and the SDK runs nothing. Talking to Kaphila
(or the sandbox) directly, the SDK runs documents itself, with the one
interpreter the gateway uses too (``twilio.twiml.program``): one worker thread
per call drives the call's program, verb by verb, as Kaphila API calls
(<Say> POST /voice, <Gather> POST /gather, <Dial> POST /forwardcall,
<Hangup>/<Reject> POST /hangup, <Pause> a wait, <Redirect> a fetch), and hangs up
after the last word when a document ends, as Twilio does.

Where documents come from
-------------------------

``calls.create(twiml=...)`` / ``calls.create(url=...)`` (a script, no handler)
    The call's worker polls ``GET /calls/{callId}`` until the call is answered
    (0.25 s, backing off to 1 s; it ends with the call, and gives up on a
    Kaphila that stays unreachable), then runs ``twiml``, or fetches ``url`` as
    Twilio would: a signed (``X-Twilio-Signature``, keyed with the auth token,
    which is the Kaphila key) form POST, or a GET with the parameters in the
    query (``method``), with CallSid, AccountSid, From, To, Caller, Called,
    CallStatus, Direction, ApiVersion and AnsweredBy; redirects are followed
    (301/302/303 become a GET with the parameters in the query, 307/308 keep the
    method). A <Gather>'s result is polled too (``lastGather`` of
    ``GET /calls/{callId}``) and posted to ``action`` (else the document's URL;
    an inline document falls through) with Digits and FinishedOnKey, which is
    inferred: a gather with ``numDigits`` that completed with fewer digits
    ended on its finish key;
    otherwise it is "" unless the process also receives the call's
    ``dtmf.received`` events through ``WebhookHelper``. A document that cannot
    run (a verb Kaphila lacks, a fetch that fails) tries ``fallback_url`` once
    (with ErrorCode and ErrorUrl), else is an application error: logged with
    the verb's name, kept in ``errors``, and the call is hung up.

    The worker is not a daemon thread: a script that exits right after
    ``create()`` still runs the document to its end (or the call's);
    ``Client.close()`` stops it (the call stays up). If ``url`` (also the
    call's Kaphila webhook URL) answers 415, it takes Kaphila's JSON events (a
    ``WebhookHelper`` handler, whose ``request.get_json()`` refuses a form post;
    400 and 422 are taken the same way): that handler drives the call, and the
    worker stands down quietly. ``status_callback`` keeps its meaning without a
    gateway: Kaphila's JSON events go to ``url`` (else to ``status_callback``);
    Twilio's status callbacks need a gateway.

``calls(sid).update(twiml=...)`` / ``update(url=..., method=...)``
    The new document replaces the one the call's worker runs (never two at
    once on one call). ``update()`` returns when the document first waits (a
    <Pause>, a <Gather>, the last words playing) or ends, so what went wrong
    until then (a call that ended, an app that failed) raises there; a verb
    Kaphila cannot do raises before anything is sent.

A ``WebhookHelper`` handler's rendered TwiML (``twilio.webhook``)
    The rendered document is handed to the call's worker, which runs it; a
    relative URL in it resolves against the call's webhook URL (asked of
    ``GET /calls/{callId}`` when this client does not know it). Requests it
    makes for that document (a <Gather action>, a <Redirect>) POST the Kaphila
    event as JSON, Twilio's parameters in the query string, so handlers that
    call ``process_webhook(request.get_json())`` work unchanged. A <Gather>
    without ``action`` gets its result from the handler's answer to the
    ``gather.*`` event Kaphila sends it (Twilio's "post to the document URL").
    At its end such a document waits ``key_wait_seconds`` (Twilio's <Gather>
    default, 5 s) for a key: Kaphila sends each key to the handler
    (``dtmf.received``, the SDK document's single-digit menus), whose answer is
    the next document; with no key, the call hangs up as on Twilio. An
    application error in it (a verb Kaphila lacks) is logged and kept in
    ``errors``, and the call stays up for the handler, as it always did.

    When the process that placed the call also takes its webhooks (the same
    ``Client``), its worker stays the only one running a document: the
    handler's events go to the worker, and its TwiML is used only where Twilio
    would fetch the URL the handler sits at.

What works where (also in docs/SDK-MODES.md):

    ===============================  ==========  ===============  =========
    feature                          in-process  WebhookHelper    gateway
    ===============================  ==========  ===============  =========
    Say, Pause, Hangup/Reject, Dial  yes         yes              yes
    Gather, Digits to action         yes (poll)  yes (events)     yes
    FinishedOnKey                    inferred    yes              yes
    Redirect (relative too)          yes         yes              yes
    hang-up at the document's end    yes         after 5 s quiet  yes
    method, fallback_url             yes         -                yes
    signed Twilio-style requests     yes         JSON + query     yes
    status_callback (Twilio's)       no          no               yes
    update(twiml=/url=)              yes         yes              yes
    ===============================  ==========  ===============  =========
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from twilio import kaphila
from twilio.base.exceptions import (
    TwilioConnectionError,
    TwilioException,
    TwilioRestException,
)
from twilio.base.values import unset
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator
from twilio.twiml.program import (
    ERROR_FETCH,
    DocumentError,
    Fetch,
    Forward,
    Hangup,
    Listen,
    Program,
    Speak,
    Step,
    Wait,
    compile_document,
    notes,
)

if TYPE_CHECKING:
    from twilio.http import HttpClient
    from twilio.rest import Client

log = logging.getLogger("twilio.kaphila.twiml")

Mode = Literal["twilio", "webhook"]  # how the document's requests are made
# (kind, program, generation, detail): "step" (a Step), "fail" (an error), "poll"
# ("gather" or "status"), "again" (look again)
_Action = tuple[str, "Program | None", int, Any]

POLL_FIRST = 0.25  # seconds: a new call's first look, then backing off
POLL_MAX = 1.0  # waiting for the answer, or through a long <Pause>
POLL_GATHER_MAX = 0.5  # waiting for a gather's result: the callee waits too
POLL_QUIET = 5.0  # a handler-driven document: only to notice an unheard hang-up
DEFAULT_RING_SECONDS = 60.0  # when create() set no ringTimeout (Kaphila's own is 30)
ANSWER_MARGIN_SECONDS = 60.0  # a call still ringing after its ringTimeout and this: gone
LIFETIME_SECONDS = 4 * 3600.0  # no worker outlives this, whatever the call does
UNREACHABLE_SECONDS = 20.0  # Kaphila silent this long: the worker gives up
REFUSED_SECONDS = 3.0  # ... or refusing connections (nothing listens there)
KEY_WAIT_SECONDS = 5.0  # Twilio's <Gather timeout> default
HANDLER_WAIT_SECONDS = 15.0  # a handler's answer to a gather result (Twilio's fetch timeout)
FIRST_DOCUMENT_WAIT_SECONDS = 30.0  # a handler's first document (a render context's life)
FETCH_TIMEOUT = 15.0  # Twilio's
MAX_REDIRECTS = 10
MAX_DOCUMENT_CHARS = 1024 * 1024
UPDATE_WAIT_SECONDS = 30.0
JOIN_SECONDS = 20.0
SEEN_LIMIT = 20_000  # webhook identities remembered for de-duplication
USER_AGENT = "TwilioProxy/1.1 (Kaphila SDK)"
UNKNOWN_URL = "kaphila:webhook-url"  # a handler's URL nobody needed to look up
DOCUMENT_ENDED = "the document ended"  # Program's Hangup.why at a document's end
NOTHING_MORE = "the app had nothing more to say"
GATHER_OUTCOMES = {"gather.complete": "complete", "gather.timeout": "timeout"}
ENDED_EVENTS = ("call.ended", "call.timeout")
LIVE_STATUSES = frozenset({"queued", "initiated", "ringing", "answered", "in-progress"})
# Answers to a form request from an endpoint that reads JSON: Flask's get_json()
# says 415, FastAPI's body models 422, hand-written checks often 400.
TAKES_JSON = frozenset({400, 415, 422})


@dataclass(frozen=True)
class Intent:
    """What ``calls.create`` asked to run once the call is answered."""

    twiml: str | None
    url: str | None
    method: str
    fallback_url: str | None
    fallback_method: str
    webhook_url: str | None  # where Kaphila sends the call's JSON events
    answer_wait: float  # seconds: a call not answered by then never will be


@dataclass
class _Document:
    program: Program
    mode: Mode
    label: str  # where it came from, for errors: "update(twiml=)", ...
    hand_back_url: str | None  # webhook mode: fetching this is asking the handler
    payload: dict[str, Any] | None  # webhook mode: the event it answers
    ack: Future[None] | None  # update() waits on it


class FetchError(Exception):
    """The app gave no document; ``code`` is Twilio's (11200)."""

    def __init__(self, message: str, status: int | None = None, url: str = "") -> None:
        super().__init__(message, status, url)
        self.message = message
        self.code = ERROR_FETCH
        self.status = status
        self.url = url

    def __str__(self) -> str:
        return self.message


class _TakesJson(Exception):
    """The URL refused a form request (415, or 400/422): it takes Kaphila's JSON
    events (a WebhookHelper handler)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class TwimlRunner:
    """The client's call workers, its webhook de-duplication and its TwiML errors."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._workers: dict[str, _Worker] = {}
        self._seen: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self._http: HttpClient | None = None
        self.key_wait_seconds = KEY_WAIT_SECONDS
        self.errors: deque[tuple[str, str]] = deque(maxlen=1000)

    # ------------------------------------------------------------------ sources

    def start(
        self,
        sid: str,
        *,
        twiml: str | None,
        url: str | None,
        method: str = "POST",
        fallback_url: str | None = None,
        fallback_method: str = "POST",
        webhook_url: str | None = None,
        ring_timeout: float | None = None,
    ) -> None:
        """``calls.create``: run ``twiml`` (else fetch ``url``) once the call is
        answered, which is waited for ``ring_timeout`` seconds and a margin."""
        if twiml is None and url is None:
            return
        ring = float(ring_timeout) if ring_timeout else DEFAULT_RING_SECONDS
        intent = Intent(
            twiml,
            url,
            method,
            fallback_url,
            fallback_method,
            webhook_url,
            ring + ANSWER_MARGIN_SECONDS,
        )
        with self._lock:
            if sid not in self._workers:
                self._launch(_Worker(self, sid, intent))

    def run(
        self, sid: str, *, twiml: str | None = None, url: str | None = None, method: str = "POST"
    ) -> None:
        """``update(twiml=|url=)``: replace the call's document; returns when it first
        waits or ends, raising what went wrong until then."""
        if twiml is not None:
            document = _Document(
                Program.inline(twiml), "twilio", "update(twiml=)", None, None, None
            )
        else:
            assert url is not None
            program = Program.from_url(url, method.upper(), {})
            document = _Document(program, "twilio", "update(url=)", None, None, None)
        document.ack = Future()
        self._deliver(sid, document)
        try:
            document.ack.result(timeout=UPDATE_WAIT_SECONDS)
        except TimeoutError:
            log.info("call %s: update() returns; its document goes on in the background", sid)

    def rendered(
        self,
        sid: str,
        xml: str,
        *,
        event: str,
        document_url: str | None,
        payload: dict[str, Any] | None,
    ) -> None:
        """A ``WebhookHelper`` handler rendered ``xml`` for ``event``: run it on the call.
        Raises TwilioException when its relative URLs need the call's webhook URL
        and Kaphila cannot say it now (the webhook then fails and comes again)."""
        label = f"TwiML rendered for {event}"
        try:
            program = Program(verbs=compile_document(xml))
            relative = _has_relative_urls(program.verbs)
        except DocumentError as exc:
            program, relative = Program.failed(exc), False
        url = document_url
        if url is None:
            url = self.webhook_url(sid) if relative else UNKNOWN_URL
        program.url = url
        self._deliver(sid, _Document(program, "webhook", label, url, payload, None))

    def on_webhook(self, sid: str, event: str, payload: dict[str, Any]) -> bool:
        """Hand a Kaphila event to the call's worker. True: Twilio would ask the
        handler's URL for TwiML now, so what the handler renders is the next document."""
        with self._lock:
            worker = self._workers.get(sid)
            if worker is None or worker.retired:
                return event in ("call.answered", "dtmf.received")
            return worker.on_event(event, payload)

    # ------------------------------------------------------------------ webhooks

    def claim(self, key: tuple[str, ...]) -> bool:
        """False for a webhook already handled or being handled (Kaphila delivers at
        least once); ``release`` gives it back when handling it failed."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            while len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
            return True

    def release(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._seen.pop(key, None)

    def webhook_url(self, sid: str) -> str:
        """Where Kaphila sends the call's events: what this client knows, else Kaphila's
        ``GET /calls/{callId}`` (raises TwilioException)."""
        known = (self.client.call_store.get(sid) or {}).get("webhook_url")
        if isinstance(known, str) and known:
            return known
        body = self.client.kaphila.get(kaphila.CALL.format(call_id=sid))
        url = body.get(kaphila.F_WEBHOOK_URL)
        if not isinstance(url, str) or not url:
            raise TwilioException(
                f"cannot resolve the relative URLs in the TwiML for call {sid}: "
                "Kaphila knows no webhook URL for it"
            )
        self.client.call_store.update(sid, webhook_url=url)
        return url

    # ------------------------------------------------------------------ lifecycle

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every call's document waits on the call (an answer, a gather, a
        key) or has ended; False if that took longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while any(w.busy for w in self._workers.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        """Stop every call's document (the calls stay up) and wait for the workers."""
        with self._lock:
            workers = list(self._workers.values())
            for worker in workers:
                worker.stop("the client was closed")
        for worker in workers:
            if worker.thread is not threading.current_thread():
                worker.thread.join(JOIN_SECONDS)
        http, self._http = self._http, None
        close = getattr(http, "close", None)
        if callable(close):
            close()

    def live_workers(self) -> list[str]:
        """The calls a worker is running a document for (for tests and diagnostics)."""
        with self._lock:
            return [sid for sid, w in self._workers.items() if not w.retired]

    # ------------------------------------------------------------------ internals

    def _deliver(self, sid: str, document: _Document) -> None:
        with self._lock:
            worker = self._workers.get(sid)
            if worker is None or not worker.accept(document):
                worker = _Worker(self, sid, None)
                worker.accept(document)
                self._launch(worker)

    def _launch(self, worker: _Worker) -> None:
        """Register and start ``worker`` (lock held)."""
        self._workers[worker.sid] = worker
        worker.thread.start()

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            worker.retired = True
            worker.settle()
            worker.set_busy(False)
            if self._workers.get(worker.sid) is worker:
                del self._workers[worker.sid]
            self._idle.notify_all()

    def record(self, sid: str, message: str) -> None:
        message = self.client.kaphila.redact(message)
        self.errors.append((sid, message))

    def app_http(self) -> HttpClient:
        """The HTTP client for the app's URLs: the client's, unless that is asynchronous."""
        if not self.client.kaphila.is_async:
            return self.client.http_client
        with self._lock:
            if self._http is None:
                from twilio.http.http_client import TwilioHttpClient

                self._http = TwilioHttpClient()
            return self._http


class _Worker:
    """One call's document, driven like the gateway drives it (``console.gateway.
    interpreter``): ask the program for a step, do it, tell the program what
    happened. Its state is guarded by the runner's lock (``cond``); requests are
    made without it, and a document replaced meanwhile (``generation``) ignores
    their results."""

    def __init__(self, runner: TwimlRunner, sid: str, intent: Intent | None) -> None:
        self.runner = runner
        self.sid = sid
        self.intent = intent
        self.cond = threading.Condition(runner._lock)
        self.program: Program | None = None
        self.mode: Mode = "twilio"
        self.label = "calls.create(twiml=)" if intent and intent.twiml else "calls.create(url=)"
        self.hand_back_url: str | None = None
        self.payload: dict[str, Any] | None = None
        self.ack: Future[None] | None = None
        self.generation = 0
        self.answered = intent is None
        self.ended = False
        self.stop_reason: str | None = None
        self.retired = False
        self.busy = True
        self.awaiting: tuple[float, bool] | None = None  # (deadline, hang up after)
        self.loaded_intent = False
        self.num_digits: int | None = None  # of the gather running
        self.consumed_gathers: set[str] = set()
        self.last_heard = time.monotonic()
        self.interval = POLL_FIRST
        self.next_poll = time.monotonic() + POLL_FIRST
        self.thread = threading.Thread(target=self._main, name=f"kaphila-twiml-{sid}", daemon=False)

    # ---------------------------------------------------------- with the lock held

    def accept(self, document: _Document) -> bool:
        """Take ``document`` instead of the current one; False once retiring (or the
        call ended: a new worker tries it, and Kaphila says why it cannot run)."""
        if self._over():
            return False
        self.settle()  # the document replaced: its update() returns
        self.program = document.program
        self.mode = document.mode
        self.label = document.label
        self.hand_back_url = document.hand_back_url
        self.payload = document.payload
        self.ack = document.ack
        self.generation += 1
        self.answered = True
        self.awaiting = None
        self.set_busy(True)
        self.cond.notify_all()
        for note in notes(document.program.verbs):
            log.info("call %s: %s", self.sid, note)
        return True

    def on_event(self, event: str, payload: dict[str, Any]) -> bool:
        program = self.program
        if event == "call.answered":
            self.answered = True
            self.cond.notify_all()
            intent = self.intent
            if (
                self.mode == "twilio"
                and intent is not None
                and intent.twiml is None
                and intent.url is not None
                and intent.url == intent.webhook_url
                and not self.loaded_intent
            ):
                # The url takes Kaphila's JSON events, and its handler is in this
                # process: what it renders is the document; the url is not fetched.
                log.debug("call %s: %s is a WebhookHelper handler here", self.sid, intent.url)
                self._hand_back(intent.url, FIRST_DOCUMENT_WAIT_SECONDS, hang_up=False)
                self.payload = payload
                return True
            return self.mode == "webhook" and program is None
        if event == "dtmf.received":
            if program is not None and program.waiting and program.waiting["for"] == "gather":
                program.on_digit(str(payload.get(kaphila.F_DIGITS) or "")[-1:])
                return False
            # Kaphila's single-digit events: the handler's answer is the next document.
            return self.mode == "webhook"
        if event in GATHER_OUTCOMES or event == "gather.failed":
            if program is None or not program.waiting or program.waiting["for"] != "gather":
                return False
            self.payload = payload
            gather_id = payload.get(kaphila.F_GATHER_ID)
            try:
                program.on_gather(
                    GATHER_OUTCOMES.get(event, "failed"),
                    str(payload.get(kaphila.F_DIGITS) or ""),
                    gather_id if isinstance(gather_id, str) and gather_id else None,
                )
            except DocumentError as exc:
                program.fail(exc)
            self.cond.notify_all()
            pending = program.pending
            if (
                self.mode == "webhook"
                and pending is not None
                and pending["url"] == (self.hand_back_url)
            ):
                # Twilio posts the result to the document's URL: that is the
                # handler, which Kaphila has just sent this event.
                self._hand_back(self.hand_back_url, HANDLER_WAIT_SECONDS, hang_up=True)
                return True
            return False
        if event in ENDED_EVENTS:
            self.ended = True
            if program is not None:
                program.on_ended()
            self.cond.notify_all()
        return False

    def _hand_back(self, url: str | None, seconds: float, hang_up: bool) -> None:
        """The current document is over; the handler at ``url`` gives the next."""
        self.settle()
        self.mode = "webhook"
        self.hand_back_url = url
        self.program = None
        self.generation += 1
        self.awaiting = (time.monotonic() + seconds, hang_up)
        self.cond.notify_all()

    def stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.cond.notify_all()

    def settle(self, error: BaseException | None = None) -> None:
        """``update()`` waiting on this document returns (or raises ``error``)."""
        ack, self.ack = self.ack, None
        if ack is not None and not ack.done():
            if error is None:
                ack.set_result(None)
            else:
                ack.set_exception(error)

    def set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.runner._idle.notify_all()

    def _quit(self) -> None:
        """Retire now (lock held): a document delivered from here on starts a new worker."""
        self.retired = True
        self.settle()
        self.set_busy(False)

    def _taken(self) -> bool:
        """A document (update(), a handler's) or a hand-back came: the intent yields."""
        return self.program is not None or self.awaiting is not None

    def _over(self) -> bool:
        return self.retired or self.stop_reason is not None or self.ended

    # ---------------------------------------------------------- the thread

    def _main(self) -> None:
        try:
            if self._await_answer():
                self._run()
        except Exception as exc:  # a bug: say so, and never leave update() hanging
            log.exception("the TwiML worker for call %s failed", self.sid)
            self.runner.record(self.sid, f"{self.label}: {type(exc).__name__}: {exc}")
            with self.cond:
                self.settle(TwilioException(f"running the TwiML failed: {exc}"))
        finally:
            self.runner._retire(self)

    def _await_answer(self) -> bool:
        """An intent waits for the answer: polled, or told by the webhook feed."""
        intent = self.intent
        if intent is None:
            return True
        interval = POLL_FIRST
        deadline = time.monotonic() + intent.answer_wait
        while True:
            with self.cond:
                if self._taken():
                    return True  # update() or a handler came first
                if self._over() or time.monotonic() > deadline:
                    self._quit()
                    return False
                if not self.answered:
                    self.set_busy(False)
                    self.cond.wait(interval)
                    if self.answered or self._taken() or self._over():
                        continue
            if not self.answered:
                body = self._poll()
                interval = min(POLL_MAX, interval * 1.5)
                status = kaphila.STATUS_TO_TWILIO.get(str((body or {}).get(kaphila.F_STATUS)))
                if status != "in-progress":
                    continue
            with self.cond:
                self.answered = True
                if self._taken():
                    return True
                if intent.twiml is not None:
                    self.program = _inline(intent.twiml)
                else:
                    assert intent.url is not None
                    self.program = Program.from_url(intent.url, intent.method, {})
                self.generation += 1
                self.set_busy(True)
                return True

    def _run(self) -> None:
        deadline = time.monotonic() + LIFETIME_SECONDS
        while True:
            with self.cond:
                action = self._decide(deadline)
            if action is None:
                return
            kind, program, generation, what = action
            if kind == "poll":
                body = self._poll()
                if body is not None and program is not None and what == "gather":
                    self._apply_last_gather(program, generation, body)
            elif kind == "fail":
                assert program is not None
                assert isinstance(what, Exception)
                self._application_error(program, generation, what)
            elif kind == "step":
                assert isinstance(what, Speak | Listen | Forward | Hangup | Wait | Fetch)
                self._step(program, generation, what)

    def _decide(self, deadline: float) -> _Action | None:
        """What to do next (lock held): None to retire, else an action, or
        ("again", ...) after waiting for a change, a timer or the next poll."""
        if self._over() or time.monotonic() > deadline:
            if not self._over():
                log.warning("call %s: the TwiML worker's time is up", self.sid)
            self._quit()
            return None
        program, generation = self.program, self.generation
        if program is None:
            return self._await_document()
        try:
            step = program.next_step(time.time())
        except DocumentError as exc:
            return ("fail", program, generation, exc)
        if step is None:
            if program.done:
                self._quit()
                return None
            self.settle()  # update() returns at the document's first wait
            waiting = program.waiting or {}
            if waiting.get("for") == "timer":
                until = time.monotonic() + float(waiting["until"]) - time.time()
                if time.monotonic() < until:
                    return self._wait(until, busy=True, every=POLL_MAX, what="status")
                step = program.on_wake(str(waiting["wake"]))
                if step is None:
                    return ("again", None, generation, None)
            elif self.mode == "webhook":  # the handler's events bring the result
                return self._wait(None, busy=False, every=POLL_QUIET, what="status")
            else:
                return self._wait(None, busy=False, every=POLL_GATHER_MAX, what="gather")
        if isinstance(step, Wait):
            return ("again", None, generation, None)  # the timer is program.waiting now
        if isinstance(step, Hangup) and step.why == DOCUMENT_ENDED and self.mode == "webhook":
            # Kaphila sends the handler each key the callee presses: wait for one.
            self._hand_back(self.hand_back_url, self.runner.key_wait_seconds, hang_up=True)
            return ("again", None, generation, None)
        self.set_busy(True)
        self.interval = POLL_FIRST  # something happened: look again soon
        self.next_poll = time.monotonic() + POLL_FIRST
        return ("step", program, generation, step)

    def _await_document(self) -> _Action | None:
        """No document (lock held): wait for the handler's next one, for a while."""
        if self.awaiting is None:
            self._quit()
            return None
        until, hang_up = self.awaiting
        remaining = until - time.monotonic()
        if remaining > 0:
            self.set_busy(False)
            self.cond.wait(remaining)
            return ("again", None, self.generation, None)
        self.awaiting = None
        if not hang_up:
            self._quit()
            return None
        self.set_busy(True)
        return ("step", None, self.generation, Hangup(NOTHING_MORE))

    def _wait(self, until: float | None, *, busy: bool, every: float, what: str) -> _Action:
        """Wait (lock held) until ``until``, a change or the next poll, whichever first."""
        self.set_busy(busy)
        now = time.monotonic()
        if now >= self.next_poll:
            self.interval = min(every, self.interval * 1.5)
            self.next_poll = now + self.interval
            return ("poll", self.program, self.generation, what)
        wake = self.next_poll if until is None else min(until, self.next_poll)
        self.cond.wait(wake - now)
        return ("again", None, self.generation, None)

    def _step(self, program: Program | None, generation: int, step: Step) -> None:
        try:
            self._do(program, generation, step)
        except _TakesJson as exc:
            with self.cond:
                if generation == self.generation and self.mode == "twilio":
                    log.log(
                        logging.DEBUG if exc.status == 415 else logging.INFO,
                        "call %s: the url answered a form request %d: it takes Kaphila's "
                        "JSON events, so its handler drives the call and the SDK's "
                        "worker stands down",
                        self.sid,
                        exc.status,
                    )
                    self._quit()
        except (FetchError, DocumentError) as exc:
            assert program is not None
            self._application_error(program, generation, exc)
        except TwilioException as exc:
            # The call ended under us, or Kaphila refused the verb: this document
            # cannot go on.
            with self.cond:
                if generation != self.generation:
                    return  # a newer document runs; this one's failure is moot
                self.settle(exc)
                ended = self.ended
                self._quit()
            if not ended:
                log.warning(
                    "call %s: %s: Kaphila refused %s: %s",
                    self.sid,
                    self.label,
                    _name(step),
                    exc.msg,
                )
                self.runner.record(self.sid, f"{self.label}: {exc.msg}")

    def _do(self, program: Program | None, generation: int, step: Step) -> None:
        api = self.runner.client.kaphila
        sid = self.sid
        if isinstance(step, Speak):
            body: dict[str, Any] = {
                kaphila.F_CALL_ID: sid,
                kaphila.F_TEXT: step.text,
                kaphila.F_PLAY_TO: kaphila.PLAY_TO_DEFAULT,
            }
            if step.voice:
                body[kaphila.F_VOICE_NAME] = step.voice
            answer = api.post(kaphila.VOICE, body)
            with self.cond:
                if program is not None and generation == self.generation:
                    program.spoke(time.time(), step.text, _ends_in(answer), _RATE)
        elif isinstance(step, Listen):
            answer = api.post(kaphila.GATHER, {kaphila.F_CALL_ID: sid, **step.body})
            with self.cond:
                if program is not None and generation == self.generation:
                    program.started_gather(_text(answer.get(kaphila.F_GATHER_ID)))
                    number = step.body.get(kaphila.F_NUM_DIGITS)
                    self.num_digits = number if isinstance(number, int) else None
                    if step.prompt:
                        program.spoke(time.time(), step.prompt, _ends_in(answer), _RATE)
        elif isinstance(step, Forward):
            api.post(
                kaphila.FORWARD_CALL,
                {kaphila.F_CALL_ID: sid, kaphila.F_FORWARD_NUMBER: step.number},
            )
        elif isinstance(step, Hangup):
            with self.cond:
                if generation != self.generation:
                    return  # a newer document came meanwhile: it decides
            api.post(kaphila.HANGUP, {kaphila.F_CALL_ID: sid})
            log.info("call %s: hung up (%s)", sid, step.why)
        elif isinstance(step, Fetch):
            assert program is not None
            self._fetch(program, generation, step)

    def _fetch(self, program: Program, generation: int, step: Fetch) -> None:
        with self.cond:
            intent = self.intent
            first = (
                intent is not None
                and self.mode == "twilio"
                and self.label == "calls.create(url=)"
                and not self.loaded_intent
                and step.url == intent.url
            )
            # Kaphila posts its JSON events to this very URL: if it refuses a form
            # request, its handler is the one that drives the call.
            may_stand_down = first and intent is not None and intent.url == intent.webhook_url
            body = self.payload if self.mode == "webhook" else None
            origin = _origin(step, first)
        params = {**self._twilio_params(), **step.params}
        try:
            text, final = self._request(step.url, step.method, params, body)
        except _TakesJson as exc:
            if may_stand_down:
                raise
            raise FetchError(
                f"{origin}: {step.method} {_shown(step.url)} answered HTTP {exc.status}",
                exc.status,
                step.url,
            ) from None
        except FetchError as exc:
            exc.message = f"{origin}: {exc.message}"
            raise
        with self.cond:
            if generation != self.generation:
                return
            program.load(text, final, step.method)
            self.loaded_intent = self.loaded_intent or first
        for note in notes(program.verbs):
            log.info("call %s: %s", self.sid, note)

    def _request(
        self, url: str, method: str, params: dict[str, str], body: dict[str, Any] | None
    ) -> tuple[str, str]:
        """One Twilio-style request for TwiML, redirects followed: (document, final URL).
        A JSON ``body`` (a handler-rendered document's requests) puts the parameters
        in the query string."""
        http = self.runner.app_http()
        validator = RequestValidator(self.runner.client.password or "")
        method = method.upper()
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept": "text/xml, application/xml, */*", "User-Agent": USER_AGENT}
            data: Any
            if method == "GET" or body is not None:
                target, signed = _with_query(url, params), {}
                data = json.dumps(body) if method == "POST" and body is not None else None
                if data is not None:
                    headers["Content-Type"] = "application/json"
            else:
                target, signed, data = url, params, params
            headers[SIGNATURE_HEADER] = validator.compute_signature(target, signed)
            try:
                response = http.request(
                    method,
                    target,
                    data=data,
                    headers=headers,
                    timeout=FETCH_TIMEOUT,
                    allow_redirects=False,
                )
            except TwilioException as exc:
                raise FetchError(f"{method} {_shown(url)} failed: {exc.msg}", None, url) from None
            status = response.status_code
            if status in (301, 302, 303, 307, 308):
                location = _header(response.headers, "Location")
                if not location:
                    raise FetchError(f"{_shown(url)} redirected without a Location", status, url)
                url = urljoin(url, location)
                if status in (301, 302, 303):
                    # Like a browser, the next request is a GET; Twilio's parameters go
                    # with it in the query, so the app still knows the call.
                    method, body = "GET", None
                continue
            if status in TAKES_JSON:
                raise _TakesJson(status)
            if status >= 400:
                raise FetchError(f"{method} {_shown(url)} answered HTTP {status}", status, url)
            text = response.text
            if len(text) > MAX_DOCUMENT_CHARS:
                raise FetchError(f"{_shown(url)} answered more than 1 MiB", status, url)
            if not text.strip():
                raise FetchError(f"{method} {_shown(url)} answered an empty document", status, url)
            return text, url
        raise FetchError(f"{_shown(url)} redirected more than {MAX_REDIRECTS} times", None, url)

    def _application_error(self, program: Program, generation: int, error: Exception) -> None:
        """Twilio's rule: the fallback URL once, else the call ends with the error,
        logged with the verb's name and kept in ``errors`` (a handler's document
        leaves the call up for the handler, as it always did)."""
        code = int(getattr(error, "code", 0) or 0)
        message = str(getattr(error, "message", error))
        with self.cond:
            if generation != self.generation:
                return
            intent = self.intent
            if (
                intent is not None
                and intent.fallback_url
                and self.mode == "twilio"
                and self.label.startswith("calls.create")
            ):
                params = {"ErrorCode": str(code), "ErrorUrl": program.url or intent.url or ""}
                if program.recover(intent.fallback_url, intent.fallback_method, params):
                    log.warning("call %s: %s; trying the fallback URL", self.sid, message)
                    return
            program.abandon()
            self.settle(_as_twilio_error(error, self.runner.client))
            label = self.label
            # A handler's document: the handler still gets the call's events and
            # may answer one with a document that works, so the call stays up.
            hang_up = self.mode == "twilio"
        log.error(
            "call %s: application error %s in %s: %s%s",
            self.sid,
            code,
            label,
            message,
            "; hanging up" if hang_up else "",
        )
        self.runner.record(self.sid, f"{label}: {message}")
        if not hang_up:
            return
        try:
            self.runner.client.kaphila.post(kaphila.HANGUP, {kaphila.F_CALL_ID: self.sid})
        except TwilioException as exc:
            log.info("call %s: the hang-up after the error failed: %s", self.sid, exc.msg)

    # ---------------------------------------------------------- polling

    def _poll(self) -> dict[str, Any] | None:
        """``GET /calls/{callId}``: the call's state, or None (and maybe the end)."""
        client = self.runner.client
        try:
            body = client.kaphila.get(kaphila.CALL.format(call_id=self.sid))
        except TwilioRestException as exc:
            if 400 <= (exc.status or 0) < 500 and exc.status != 429:
                log.warning("call %s: Kaphila does not know it (%s)", self.sid, exc.msg)
                with self.cond:
                    self.stop("Kaphila does not know the call")
            else:
                self._unheard(exc, UNREACHABLE_SECONDS)
            return None
        except TwilioConnectionError as exc:
            refused = exc.request_sent is False  # nothing listens there
            self._unheard(exc, REFUSED_SECONDS if refused else UNREACHABLE_SECONDS)
            return None
        except TwilioException as exc:
            self._unheard(exc, UNREACHABLE_SECONDS)
            return None
        self.last_heard = time.monotonic()
        from twilio.rest.calls import view_from_kaphila

        view = view_from_kaphila(body, client)
        if isinstance(body.get(kaphila.F_WEBHOOK_URL), str):
            view["webhook_url"] = body[kaphila.F_WEBHOOK_URL]
        client.call_store.update(self.sid, **view)
        if str(body.get(kaphila.F_STATUS)) not in LIVE_STATUSES:
            with self.cond:
                self.ended = True
                self.cond.notify_all()
        return body

    def _unheard(self, exc: TwilioException, patience: float) -> None:
        if time.monotonic() - self.last_heard > patience:
            log.error("call %s: Kaphila cannot be reached (%s); the TwiML stops", self.sid, exc.msg)
            with self.cond:
                self.stop("Kaphila cannot be reached")

    def _apply_last_gather(self, program: Program, generation: int, body: dict[str, Any]) -> None:
        last = body.get(kaphila.F_LAST_GATHER)
        if not isinstance(last, dict) or last.get("outcome") not in (
            "complete",
            "timeout",
            "failed",
        ):
            return
        gather_id = _text(last.get(kaphila.F_GATHER_ID))
        digits = str(last.get(kaphila.F_DIGITS) or "")
        with self.cond:
            waiting = program.waiting
            if generation != self.generation or not waiting or waiting["for"] != "gather":
                return
            expected = waiting.get("id")
            if (expected and gather_id != expected) or (
                not expected and gather_id in self.consumed_gathers
            ):
                return
            if gather_id:
                self.consumed_gathers.add(gather_id)
            key = str(waiting.get("finishOnKey") or "")
            if (
                last["outcome"] == "complete"
                and key
                and self.num_digits is not None
                and len(digits) < self.num_digits
            ):
                program.on_digit(key)  # only the finish key ends it early
            try:
                program.on_gather(str(last["outcome"]), digits, gather_id)
            except DocumentError as exc:
                program.fail(exc)
            self.cond.notify_all()

    def _twilio_params(self) -> dict[str, str]:
        """Twilio's parameters for a request about this call."""
        client = self.runner.client
        view = client.call_store.get(self.sid) or {}
        status = str(view.get("status") or "in-progress")
        to, from_ = str(view.get("to") or ""), str(view.get("from") or "")
        params = {
            "CallSid": self.sid,
            "AccountSid": client.account_sid,
            "From": from_,
            "To": to,
            "Caller": from_,
            "Called": to,
            "CallStatus": status if status in kaphila.TERMINAL_TWILIO_STATUSES else "in-progress",
            "Direction": str(view.get("direction") or "outbound-api"),
            "ApiVersion": kaphila.API_VERSION,
        }
        if view.get("answered_by"):
            params["AnsweredBy"] = str(view["answered_by"])
        return params


_RATE = kaphila.SPEECH_CHARS_PER_SECOND


def twilio_method(value: Any, name: str, client: Client) -> str:
    """Twilio's ``method``/``fallback_method``: GET or POST (the default), else a
    400 before anything is sent."""
    method = str(value).upper() if value is not None and value is not unset else "POST"
    if method not in ("GET", "POST"):
        raise TwilioRestException(
            400,
            client.kaphila.url(kaphila.MAKE_CALL),
            f"{name} must be GET or POST, not {value!r}",
            kaphila.CODE_BAD_REQUEST,
            "POST",
        )
    return method


def _inline(twiml: str) -> Program:
    try:
        return Program.inline(twiml)
    except DocumentError as exc:  # checked at create(); kept for a newer rule
        return Program.failed(exc)


def _has_relative_urls(verbs: list[dict[str, Any]]) -> bool:
    for verb in verbs:
        url = verb.get("url") if verb["verb"] == "redirect" else verb.get("action")
        if isinstance(url, str) and url and not url.startswith(("http://", "https://")):
            return True
    return False


def _origin(step: Fetch, first: bool) -> str:
    """The verb (or parameter) a request for TwiML comes from, for error messages."""
    if first:
        return "url"
    if "ErrorCode" in step.params:
        return "fallback_url"
    if "Digits" in step.params:
        return "<Gather>"
    return "<Redirect>"


def _as_twilio_error(error: Exception, client: Client) -> TwilioException:
    """An application error as ``update()`` raises it."""
    if isinstance(error, FetchError) and error.status is not None:
        return TwilioRestException(
            error.status, error.url, error.message, kaphila.CODE_BAD_REQUEST, "POST"
        )
    return TwilioException(client.kaphila.redact(str(getattr(error, "message", error))))


def _with_query(url: str, params: dict[str, str]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _shown(url: str) -> str:
    """A URL fit for a log line: no query (it may hold secrets)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


def _header(headers: Any, name: str) -> str:
    try:
        value = headers.get(name) if headers is not None else None
    except (AttributeError, TypeError):
        return ""
    return str(value) if value else ""


def _ends_in(answer: dict[str, Any]) -> float | None:
    value = answer.get(kaphila.F_ENDS_IN_MS)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 3.6e6:
        return float(value) / 1000
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _name(step: Step) -> str:
    return type(step).__name__

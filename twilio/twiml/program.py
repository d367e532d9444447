"""A TwiML document as a program Kaphila can run, one step at a time.

Pure: no I/O, no clock of its own, and a state that is plain JSON, so that the
same interpreter drives a call from the SDK's in-process runner (a thread, no
gateway) and from the gateway's JetStream consumers (any process, state in a
key-value bucket). The driver asks ``next_step(now)`` for what to do, does it,
and tells the program what happened (``spoke``, ``on_gather``, ``on_wake``,
``load``, ``on_ended``).

Twilio's rules, as Kaphila can keep them:

    <Say loop=N>          N times POST /voice (voice and language mapped to Kaphila's)
    <Pause length=S>      a wait of S seconds after the speech queued before it
    <Gather>              POST /gather, nested <Say>/<Pause> as its prompt (loops
                          spoken); digits -> Digits and FinishedOnKey posted to
                          ``action``, else to the current document's URL; an inline
                          document (``twiml=``) without ``action`` falls through; no
                          input falls through to the next verb
    <Dial>/<Number>       POST /forwardcall (the leg ends: nothing after it runs);
                          more than one <Number> is refused, not dropped
    <Hangup>/<Reject>     POST /hangup
    <Redirect>            fetch that URL's TwiML and run it instead
    end of the document   hang up, once the last speech has been played

A verb Kaphila cannot do (<Play>, <Record>, <Conference>, <Enqueue>, ...) makes the
whole document fail before any of it runs (``DocumentError``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin

from twilio import kaphila

SUPPORTED = frozenset({"Say", "Gather", "Dial", "Hangup", "Reject", "Pause", "Redirect"})
GATHER_CHILDREN = frozenset({"Say", "Pause"})
DIAL_NOT_HONOURED = frozenset(
    {"action", "callerId", "timeout", "timeLimit", "record", "hangupOnStar", "answerOnBridge"}
)
MAX_LOOP = 100  # <Say loop="0"> (Twilio: "until the call ends") is spoken this often
MAX_FETCHES_IN_A_ROW = 10  # redirects/actions with nothing said in between: a loop
GATHER_TIMEOUT = 5.0  # Twilio's defaults
FINISH_ON_KEY = "#"
SPEECH_SLACK = 0.001  # seconds: a wait shorter than this is no wait

# Twilio's error codes for application errors (reported in status callbacks).
ERROR_FETCH = 11200  # HTTP retrieval failure
ERROR_DOCUMENT = 12100  # document parse failure
ERROR_UNSUPPORTED = 13999  # a verb Kaphila cannot run (Kaphila's own code)
ERROR_LOOP = 11215  # too many redirects


class DocumentError(Exception):
    """A document that cannot run on Kaphila; ``code`` is Twilio's error code."""

    def __init__(self, message: str, code: int = ERROR_DOCUMENT, verb: str | None = None) -> None:
        super().__init__(message, code, verb)
        self.message = message
        self.code = code
        self.verb = verb

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Speak:
    text: str
    voice: str | None


@dataclass(frozen=True)
class Listen:
    """Start a Kaphila gather (its body fields, in Kaphila's names)."""

    body: dict[str, Any]
    prompt: str


@dataclass(frozen=True)
class Forward:
    number: str


@dataclass(frozen=True)
class Hangup:
    why: str


@dataclass(frozen=True)
class Wait:
    until: float  # epoch seconds
    wake: str  # pass it back to on_wake


@dataclass(frozen=True)
class Fetch:
    url: str
    method: str
    params: dict[str, str]


Step = Speak | Listen | Forward | Hangup | Wait | Fetch


# ---------------------------------------------------------------------- compiling


def compile_document(text: str) -> list[dict[str, Any]]:
    """The document's verbs as JSON-able dicts; raises DocumentError."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - expat refuses entity expansion bombs
    except ET.ParseError as exc:
        raise DocumentError(f"the TwiML is not well-formed XML: {exc}") from None
    if root.tag != "Response":
        raise DocumentError(f"TwiML must have <Response> at its root, not <{root.tag}>")
    verbs: list[dict[str, Any]] = []
    for element in root:
        verbs.extend(_compile_verb(element))
    return verbs


def _compile_verb(element: ET.Element) -> list[dict[str, Any]]:
    tag = element.tag
    if tag not in SUPPORTED:
        raise DocumentError(f"<{tag}> is not supported by Kaphila", ERROR_UNSUPPORTED, tag)
    if tag == "Say":
        text = plain_text(element)
        voice, note = kaphila.kaphila_voice(element.get("voice"), element.get("language"))
        say = {"verb": "say", "text": text, "voice": voice, "note": note}
        return [dict(say) for _ in range(loop_count(element))] if text else []
    if tag == "Pause":
        return [{"verb": "pause", "length": number(element.get("length"), 1.0)}]
    if tag == "Gather":
        return [_compile_gather(element)]
    if tag == "Dial":
        ignored = sorted(set(element.attrib) & DIAL_NOT_HONOURED)
        note = (
            f"<Dial {' '.join(ignored)}>: Kaphila's forward keeps the call's caller ID and "
            "ends this leg, so these are not honoured"
            if ignored
            else None
        )
        return [{"verb": "dial", "number": dial_number(element), "note": note}]
    if tag in ("Hangup", "Reject"):
        return [{"verb": "hangup", "why": f"<{tag}>"}]
    # Redirect
    url = (element.text or "").strip()
    if not url:
        raise DocumentError("<Redirect> needs a URL")
    return [{"verb": "redirect", "url": url, "method": method_of(element)}]


def _compile_gather(element: ET.Element) -> dict[str, Any]:
    kinds = (element.get("input") or "dtmf").split()
    if "dtmf" not in kinds:
        raise DocumentError(
            '<Gather input="speech"> (speech recognition) is not supported by Kaphila',
            ERROR_UNSUPPORTED,
            "Gather",
        )
    parts: list[str] = []
    notes: list[str] = []
    for child in element:
        if child.tag not in GATHER_CHILDREN:
            raise DocumentError(
                f"<{child.tag}> inside <Gather> is not supported by Kaphila",
                ERROR_UNSUPPORTED,
                child.tag,
            )
        if child.tag == "Say":
            text = plain_text(child)
            if text:
                parts.extend([text] * loop_count(child))
            _, note = kaphila.kaphila_voice(child.get("voice"), child.get("language"))
            if child.get("voice"):
                notes.append(
                    f"the prompt of a <Gather> is spoken in the call's voice, "
                    f"not {child.get('voice')!r}"
                )
            elif note:
                notes.append(note)
    num_digits = element.get("numDigits")
    timeout = number(element.get("timeout"), GATHER_TIMEOUT)
    body: dict[str, Any] = {kaphila.F_TIMEOUT_MS: round(timeout * 1000)}
    if num_digits:
        if not num_digits.isdigit() or int(num_digits) < 1:
            raise DocumentError(f"<Gather numDigits={num_digits!r}> is not a positive number")
        body[kaphila.F_NUM_DIGITS] = int(num_digits)
    finish = element.get("finishOnKey", FINISH_ON_KEY)
    if finish:
        body[kaphila.F_FINISH_ON_KEY] = finish
    if element.get("validDigits"):
        body[kaphila.F_VALID_DIGITS] = element.get("validDigits")
    prompt = " ".join(parts)
    if prompt:
        body[kaphila.F_TEXT] = prompt
    return {
        "verb": "gather",
        "body": body,
        "prompt": prompt,
        "action": element.get("action") or None,
        "method": method_of(element),
        "finishOnKey": finish or "",
        "onEmpty": (element.get("actionOnEmptyResult") or "").lower() == "true",
        "note": "; ".join(notes) or None,
    }


def plain_text(element: ET.Element) -> str:
    """SSML elements are word boundaries: "is<say-as>1234</say-as>" says "is 1234"."""
    return " ".join(" ".join(element.itertext()).split())


def number(value: str | None, default: float) -> float:
    try:
        result = float(value) if value is not None else default
    except ValueError:
        return default
    return result if 0 <= result < 86_400 else default


def method_of(element: ET.Element) -> str:
    method = (element.get("method") or "POST").upper()
    if method not in ("GET", "POST"):
        raise DocumentError(f"method={method!r} must be GET or POST")
    return method


def loop_count(element: ET.Element) -> int:
    loop = element.get("loop")
    if loop is None:
        return 1
    if not loop.isdigit():
        raise DocumentError(f"<Say loop={loop!r}> is not a whole number")
    return MAX_LOOP if int(loop) == 0 else min(int(loop), MAX_LOOP)


def dial_number(element: ET.Element) -> str:
    children = list(element)
    for child in children:
        if child.tag != "Number":
            raise DocumentError(
                f"<Dial><{child.tag}> is not supported by Kaphila", ERROR_UNSUPPORTED, child.tag
            )
    if len(children) > 1:
        raise DocumentError(
            f"<Dial> with {len(children)} <Number>s: Kaphila forwards a call to one "
            "number only (the others would never ring)",
            ERROR_UNSUPPORTED,
            "Number",
        )
    raw = ((children[0].text if children else element.text) or "").strip()
    digits = raw.removeprefix("+")
    if not kaphila.NUMBER_RE.match(digits):
        raise DocumentError(f"<Dial> needs a phone number of 10-15 digits, not {raw!r}")
    return digits


# ---------------------------------------------------------------------- running


@dataclass
class Program:
    """One call's document and where it stands (JSON via ``to_json``)."""

    verbs: list[dict[str, Any]] = field(default_factory=list)
    pc: int = 0
    url: str | None = None  # the document's URL; None for an inline document
    method: str = "POST"
    speech_until: float = 0.0
    waiting: dict[str, Any] | None = None
    fetches: int = 0
    waits: int = 0
    done: bool = False
    pending: dict[str, Any] | None = None  # a Fetch to make before anything else
    last_seq: int = 0  # the driver's: the newest event applied (redelivery guard)
    failure: dict[str, Any] | None = None  # an error the next step reports
    fallback_used: bool = False

    # -------------------------------------------------------------- building

    @classmethod
    def inline(cls, twiml: str) -> Program:
        return cls(verbs=compile_document(twiml))

    @classmethod
    def failed(cls, error: DocumentError) -> Program:
        """A program whose first step reports ``error`` (one error path for drivers)."""
        return cls(failure={"code": error.code, "message": error.message})

    def fail(self, error: DocumentError) -> None:
        self.failure = {"code": error.code, "message": error.message}

    def recover(self, url: str, method: str, params: dict[str, str]) -> bool:
        """Twilio's fallback: fetch ``url`` instead, once per call; False if used."""
        if self.fallback_used:
            return False
        self.fallback_used = True
        self.waiting = None
        self.done = False
        self.verbs, self.pc = [], 0
        self.pending = {"url": url, "method": method, "params": params}
        return True

    def abandon(self) -> None:
        """After an application error: nothing more runs but the hang-up."""
        self.verbs, self.pc = [], 0
        self.waiting = None
        self.pending = None
        self.speech_until = 0.0
        self.done = True

    @classmethod
    def from_url(cls, url: str, method: str, params: dict[str, str] | None = None) -> Program:
        program = cls()
        program.pending = {"url": url, "method": method, "params": dict(params or {})}
        return program

    def load(self, text: str, url: str, method: str) -> None:
        """The TwiML a Fetch returned becomes the document (raises DocumentError)."""
        self.verbs = compile_document(text)
        self.pc = 0
        self.url = url
        self.method = method
        self.pending = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Program:
        return cls(**data)

    # -------------------------------------------------------------- stepping

    def next_step(self, now: float) -> Step | None:
        """What to do now, or None while waiting or when the document is over."""
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise DocumentError(str(failure["message"]), int(failure["code"]))
        if self.done or self.waiting is not None:
            return None
        if self.pending is not None:
            pending = self.pending
            self.fetches += 1
            if self.fetches > MAX_FETCHES_IN_A_ROW:
                raise DocumentError(
                    f"more than {MAX_FETCHES_IN_A_ROW} documents fetched in a row with "
                    "nothing said in between (a <Redirect> loop?)",
                    ERROR_LOOP,
                )
            return Fetch(pending["url"], pending["method"], dict(pending["params"]))
        if self.pc >= len(self.verbs):
            if self.speech_until > now + SPEECH_SLACK:  # never cut off the last words
                return self._wait(self.speech_until, then="hangup")
            self.done = True
            return Hangup("the document ended")
        verb = self.verbs[self.pc]
        self.pc += 1
        kind = verb["verb"]
        if kind == "say":
            self.fetches = 0
            return Speak(verb["text"], verb["voice"])
        if kind == "pause":
            self.fetches = 0
            return self._wait(max(now, self.speech_until) + float(verb["length"]), then="next")
        if kind == "gather":
            self.fetches = 0
            self.waiting = {
                "for": "gather",
                "action": verb["action"],
                "method": verb["method"],
                "finishOnKey": verb["finishOnKey"],
                "onEmpty": verb["onEmpty"],
                "lastKey": "",
            }
            return Listen(dict(verb["body"]), verb["prompt"])
        if kind in ("dial", "hangup") and self.speech_until > now + SPEECH_SLACK:
            # Twilio says what it was saying before it dials or hangs up.
            self.pc -= 1
            return self._wait(self.speech_until, then="next")
        if kind == "dial":
            self.done = True
            return Forward(verb["number"])
        if kind == "hangup":
            self.done = True
            return Hangup(verb["why"])
        # redirect
        self.pending = {
            "url": self.resolve(verb["url"]),
            "method": verb["method"],
            "params": {},
        }
        return self.next_step(now)

    def _wait(self, until: float, then: Literal["next", "hangup"]) -> Wait:
        self.waits += 1
        wake = str(self.waits)
        self.waiting = {"for": "timer", "wake": wake, "then": then, "until": until}
        return Wait(until, wake)

    def resolve(self, url: str) -> str:
        if url.startswith(("http://", "https://")):
            return url
        if self.url is None:
            raise DocumentError(
                f"cannot resolve the relative URL {url!r}: an inline document (twiml=) "
                "has no URL of its own"
            )
        return urljoin(self.url, url)

    # -------------------------------------------------------------- what happened

    def spoke(self, now: float, text: str, ends_in: float | None, rate: float) -> None:
        """Speech was queued; ``ends_in`` is Kaphila's answer (seconds) if it gave one."""
        if ends_in is not None:
            self.speech_until = now + ends_in
        else:
            seconds = max(kaphila.MIN_SPEECH_SECONDS, len(text) / rate)
            self.speech_until = max(now, self.speech_until) + seconds

    def on_digit(self, digit: str) -> None:
        if self.waiting is not None and self.waiting["for"] == "gather":
            self.waiting["lastKey"] = digit

    def started_gather(self, gather_id: str | None) -> None:
        """Kaphila's id for the gather just started (results of others are ignored)."""
        if self.waiting is not None and self.waiting["for"] == "gather" and gather_id:
            self.waiting["id"] = gather_id

    def on_gather(self, outcome: str, digits: str, gather_id: str | None = None) -> None:
        """A gather ended: ``complete`` (with digits), ``timeout`` or ``failed``."""
        waiting = self.waiting
        if waiting is None or waiting["for"] != "gather":
            return
        if gather_id and waiting.get("id") and gather_id != waiting["id"]:
            return  # an older gather's late result
        self.waiting = None
        self.speech_until = 0.0  # the prompt was played before the gather ended
        if outcome != "complete" and not waiting["onEmpty"]:
            return  # no input: fall through to the next verb
        key = waiting["finishOnKey"]
        finished = key if key and waiting["lastKey"] == key else ""
        params = {"Digits": digits if outcome == "complete" else "", "FinishedOnKey": finished}
        if waiting["action"]:
            self.pending = {
                "url": self.resolve(waiting["action"]),
                "method": waiting["method"],
                "params": params,
            }
        elif self.url is not None:
            # Twilio posts to the current document's URL.
            self.pending = {"url": self.url, "method": waiting["method"], "params": params}
        # An inline document without an action falls through to the next verb.

    def on_wake(self, wake: str) -> Step | None:
        """A timer fired; a stale one (an older wait) changes nothing."""
        waiting = self.waiting
        if waiting is None or waiting["for"] != "timer" or waiting["wake"] != wake:
            return None
        self.waiting = None
        if waiting["then"] == "hangup":
            self.done = True
            return Hangup("the document ended")
        return None

    def on_ended(self) -> None:
        self.done = True
        self.waiting = None
        self.pending = None


def notes(verbs: list[dict[str, Any]]) -> list[str]:
    """What in a compiled document Kaphila does differently (voices approximated):
    for the runner's log, so nothing changes silently."""
    return sorted({str(v["note"]) for v in verbs if v.get("note")})

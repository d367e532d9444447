"""THE wire table: every Kaphila path, field name and status the SDK uses.

If the real Kaphila server differs from what we assumed, this is the one
file to change. ``ASSUMED`` marks what the API document does not show (the
sandbox serves it the same way).
"""

from __future__ import annotations

import re

DEFAULT_BASE_URL = "https://kaphila.com"
BASE_URL_ENV = "KAPHILA_BASE_URL"
API_VERSION = "2010-04-01"  # Twilio's; reported in CallInstance.api_version

# --------------------------------------------------------------------- paths
MAKE_CALL = "/makecall"
FORWARD_CALL = "/forwardcall"
VOICE = "/voice"
GATHER = "/gather"
HANGUP = "/hangup"  # assumed
CALL = "/calls/{call_id}"  # assumed: GET, the state of one call (webhookUrl, lastGather too)
ASSUMED = frozenset({HANGUP, CALL})
# Served by a Kaphila gateway only (``kaphila-gateway``), never by Kaphila.
GATEWAY_DISCOVERY = "/.well-known/kaphila-gateway"
GATEWAY_CALLS = "/calls"  # GET: the account's calls the gateway has seen
GATEWAY_DOCUMENT = "/calls/{call_id}/twiml"  # POST {"twiml"} | {"url", "method"}
F_GATEWAY_EXTENSION = "twilio"  # /makecall: the Twilio intents only a gateway reads

# --------------------------------------------------------------------- fields
# /makecall
F_NUMBER = "number"
F_CALLER_ID = "callerId"
F_WEBHOOK_URL = "webhookUrl"
F_USE_AMD = "useAmd"
F_VOICE_NAME = "voiceName"
F_RING_TIMEOUT = "ringTimeout"
F_RECORD = "record"  # assumed: the document shows no recording switch
# answers and webhooks
F_CALL_ID = "callId"
F_STATUS = "status"
F_EVENT = "event"
F_TIMESTAMP = "timestamp"
F_AMD = "amd"
F_DIGITS = "digits"
F_CREDITS = "credits"
F_DURATION = "duration"
# /forwardcall, /voice, /gather
F_FORWARD_NUMBER = "forwardNumber"
F_FORWARDED_CALL_ID = "forwardedCallId"
F_TEXT = "text"
F_PLAY_TO = "playTo"
F_NUM_DIGITS = "numDigits"
F_TIMEOUT_MS = "timeout"
F_FINISH_ON_KEY = "finishOnKey"
F_VALID_DIGITS = "validDigits"
F_GATHER_ID = "gatherId"  # in /gather's answer and the gather.* events
F_LAST_GATHER = "lastGather"  # assumed: GET /calls/{callId}: {gatherId, outcome, digits} | null
# errors
F_SUCCESS = "success"
F_ERROR = "error"

PLAY_TO_DEFAULT = "bridge"

# Numbers: 10-15 digits, no '+' (API document, "Make a Call").
NUMBER_RE = re.compile(r"^[0-9]{10,15}$")

# --------------------------------------------------------------------- statuses
# Kaphila call status -> Twilio CallStatus.
STATUS_TO_TWILIO = {
    "queued": "queued",
    "initiated": "initiated",
    "ringing": "ringing",
    "answered": "in-progress",
    "in-progress": "in-progress",
    "completed": "completed",
    "ended": "completed",
    "busy": "busy",
    "failed": "failed",
    "no-answer": "no-answer",
    "canceled": "canceled",
}
# When a webhook carries no (known) status, its event says enough.
EVENT_TO_TWILIO = {
    "call.initiated": "initiated",
    "call.answered": "in-progress",
    "call.ended": "completed",
    "call.timeout": "no-answer",
}
KNOWN_EVENT_PREFIXES = ("call.", "dtmf.", "gather.", "recording.")
KNOWN_EVENTS = frozenset(
    {
        "call.initiated",
        "call.answered",
        "call.ended",
        "call.timeout",
        "dtmf.received",
        "gather.started",
        "gather.progress",
        "gather.complete",
        "gather.timeout",
        "gather.failed",
        "recording.started",
        "recording.completed",
        "recording.failed",
    }
)
TERMINAL_TWILIO_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

# AMD: HUMAN / MACHINE / NOTSURE -> Twilio's AnsweredBy. NOTSURE is a choice
# (the SDK document counts it as human; Client(amd_not_sure_as="unknown")).
AMD_TO_TWILIO = {"HUMAN": "human", "MACHINE": "machine", "UNKNOWN": "unknown"}
AMD_NOT_SURE = "NOTSURE"
# machine_detection values that turn AMD on.
AMD_ON = frozenset({"enable", "detectmessageend"})

# --------------------------------------------------------------------- errors
# HTTP status -> Twilio error code.
CODE_BAD_REQUEST = 20001
CODE_AUTH = 20003
CODE_NOT_FOUND = 20404
CODE_TOO_MANY = 20429
CODE_SERVER = 20500
CODE_UNAVAILABLE = 20503
CODE_CALLER_ID_NOT_VERIFIED = 21210
CODE_INVALID_TO = 21211
CODE_INVALID_FROM = 21212


def error_code(status: int, message: str) -> int:
    """Twilio's code for a Kaphila error answer."""
    if status == 400:
        if message.startswith(f"{F_CALLER_ID} ") and "not verified" in message:
            return CODE_CALLER_ID_NOT_VERIFIED
        if message.startswith((f"{F_NUMBER} ", f"{F_FORWARD_NUMBER} ")):
            return CODE_INVALID_TO
        if message.startswith(f"{F_CALLER_ID} "):
            return CODE_INVALID_FROM
        return CODE_BAD_REQUEST
    if status in (401, 403):
        return CODE_AUTH
    if status == 404:
        return CODE_NOT_FOUND
    if status in (402, 429):
        return CODE_TOO_MANY
    if status in (502, 503, 504):
        return CODE_UNAVAILABLE
    if status >= 500:
        return CODE_SERVER
    return CODE_BAD_REQUEST


def valid_key(key: str) -> bool:
    """An API key that can travel in an ``Authorization: Bearer`` header: printable
    ASCII, no spaces, no line breaks."""
    return bool(key) and all("!" <= c <= "~" for c in key)


# --------------------------------------------------------------------- speech
# ASSUMED: /voice and /gather answer ``endsInMs``, the milliseconds until what
# was just queued has been played (speech already queued included). Without it
# the interpreter estimates ``len(text) / SPEECH_CHARS_PER_SECOND`` after the
# speech it queued before (configurable: the gateway's ``--speech-rate``).
F_ENDS_IN_MS = "endsInMs"
SPEECH_CHARS_PER_SECOND = 15.0
MIN_SPEECH_SECONDS = 0.3

# Twilio voice names -> Kaphila's (Google-style "<language>-Neural2-<X>"). Kaphila
# has no "alice" or Amazon Polly voices: the gender and language are kept.
DEFAULT_LANGUAGE = "en-US"
FEMALE_VOICE = "{language}-Neural2-F"
MALE_VOICE = "{language}-Neural2-D"
TWILIO_VOICES = {"alice": "F", "woman": "F", "man": "M"}
POLLY_VOICES = {
    # name: (gender, language)
    "Joanna": ("F", "en-US"),
    "Salli": ("F", "en-US"),
    "Kimberly": ("F", "en-US"),
    "Kendra": ("F", "en-US"),
    "Ivy": ("F", "en-US"),
    "Ruth": ("F", "en-US"),
    "Danielle": ("F", "en-US"),
    "Matthew": ("M", "en-US"),
    "Joey": ("M", "en-US"),
    "Justin": ("M", "en-US"),
    "Kevin": ("M", "en-US"),
    "Stephen": ("M", "en-US"),
    "Gregory": ("M", "en-US"),
    "Amy": ("F", "en-GB"),
    "Emma": ("F", "en-GB"),
    "Brian": ("M", "en-GB"),
    "Arthur": ("M", "en-GB"),
    "Olivia": ("F", "en-AU"),
    "Nicole": ("F", "en-AU"),
    "Russell": ("M", "en-AU"),
    "Raveena": ("F", "en-IN"),
    "Aditi": ("F", "en-IN"),
    "Celine": ("F", "fr-FR"),
    "Lea": ("F", "fr-FR"),
    "Mathieu": ("M", "fr-FR"),
    "Remi": ("M", "fr-FR"),
    "Chantal": ("F", "fr-CA"),
    "Gabrielle": ("F", "fr-CA"),
    "Marlene": ("F", "de-DE"),
    "Vicki": ("F", "de-DE"),
    "Hans": ("M", "de-DE"),
    "Daniel": ("M", "de-DE"),
    "Conchita": ("F", "es-ES"),
    "Lucia": ("F", "es-ES"),
    "Enrique": ("M", "es-ES"),
    "Sergio": ("M", "es-ES"),
    "Mia": ("F", "es-MX"),
    "Andres": ("M", "es-MX"),
    "Lupe": ("F", "es-US"),
    "Penelope": ("F", "es-US"),
    "Miguel": ("M", "es-US"),
    "Pedro": ("M", "es-US"),
    "Carla": ("F", "it-IT"),
    "Bianca": ("F", "it-IT"),
    "Giorgio": ("M", "it-IT"),
    "Adriano": ("M", "it-IT"),
    "Camila": ("F", "pt-BR"),
    "Vitoria": ("F", "pt-BR"),
    "Ricardo": ("M", "pt-BR"),
    "Thiago": ("M", "pt-BR"),
    "Ines": ("F", "pt-PT"),
    "Cristiano": ("M", "pt-PT"),
    "Mizuki": ("F", "ja-JP"),
    "Takumi": ("M", "ja-JP"),
    "Seoyeon": ("F", "ko-KR"),
    "Zhiyu": ("F", "cmn-CN"),
    "Lotte": ("F", "nl-NL"),
    "Ruben": ("M", "nl-NL"),
    "Laura": ("F", "nl-NL"),
}
_KAPHILA_VOICE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9]+-[A-Z]$")


def kaphila_voice(voice: str | None, language: str | None) -> tuple[str | None, str | None]:
    """Kaphila's voice for Twilio's ``voice``/``language`` attributes, and a note
    when it is an approximation (logged by the runner, never dropped silently).
    (None, None): Kaphila's default voice for the call."""
    lang = language or None
    if not voice:
        if lang:
            return FEMALE_VOICE.format(language=lang), None
        return None, None
    if voice.startswith("Google."):
        return voice.removeprefix("Google."), None
    if _KAPHILA_VOICE.match(voice):
        return voice, None
    if voice.lower() in TWILIO_VOICES:
        pattern = FEMALE_VOICE if TWILIO_VOICES[voice.lower()] == "F" else MALE_VOICE
        name = pattern.format(language=lang or DEFAULT_LANGUAGE)
        return name, f"Twilio voice {voice!r} is spoken by Kaphila's {name}"
    if voice.startswith("Polly."):
        base = voice.removeprefix("Polly.").split("-", 1)[0]
        gender, polly_language = POLLY_VOICES.get(base, ("F", DEFAULT_LANGUAGE))
        pattern = FEMALE_VOICE if gender == "F" else MALE_VOICE
        name = pattern.format(language=lang or polly_language)
        if base not in POLLY_VOICES:
            return name, f"unknown Amazon Polly voice {voice!r}: Kaphila's {name} speaks instead"
        return name, f"Amazon Polly voice {voice!r} is spoken by Kaphila's {name}"
    name = FEMALE_VOICE.format(language=lang or DEFAULT_LANGUAGE)
    return name, f"unknown voice {voice!r}: Kaphila's {name} speaks instead"

"""Scenario numbers: what the person on the other end does, chosen by the
last four digits of the number dialled.

The table is fixed so that the README, the tests and demos agree. Times are
simulated seconds (the sandbox's ``time_scale`` speeds them up).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(Enum):
    ANSWER = "answer"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Scenario:
    suffix: str | None
    title: str
    outcome: Outcome
    # Seconds from initiation to the outcome (answer, busy signal, failure).
    ring_seconds: float = 2.0
    amd_status: str = "HUMAN"
    amd_confidence: float = 0.92
    # The callee hangs up this long after answering (None: stays on the line).
    callee_hangup_after: float | None = None
    # The callee answers every gather with scripted digits.
    answers_gathers: bool = False


DEFAULT = Scenario(None, "a person answers after ~2 s", Outcome.ANSWER)

SCENARIOS: dict[str, Scenario] = {
    s.suffix: s
    for s in (
        Scenario(
            "0001",
            "answering machine",
            Outcome.ANSWER,
            amd_status="MACHINE",
            amd_confidence=0.95,
            callee_hangup_after=45.0,
        ),
        Scenario("0002", "AMD not sure", Outcome.ANSWER, amd_status="NOTSURE", amd_confidence=0.5),
        Scenario("0003", "busy", Outcome.BUSY, ring_seconds=1.0),
        Scenario("0004", "no answer: rings until ringTimeout", Outcome.NO_ANSWER),
        Scenario("0005", "failed / unreachable", Outcome.FAILED, ring_seconds=0.5),
        Scenario(
            "0006", "callee hangs up 4 s after answering", Outcome.ANSWER, callee_hangup_after=4.0
        ),
        Scenario(
            "0007",
            "callee answers every gather with scripted digits",
            Outcome.ANSWER,
            answers_gathers=True,
        ),
        Scenario(
            "0008",
            "slow answer: rings 10 s, then a person answers",
            Outcome.ANSWER,
            ring_seconds=10.0,
        ),
    )
    if s.suffix is not None
}

# Scripted callee (0007): presses these, one every SCRIPT_DIGIT_GAP seconds.
SCRIPT_DIGITS = "1234567890"
SCRIPT_DIGIT_GAP = 0.3
SCRIPT_DEFAULT_LENGTH = 4


def scenario_for(number: str) -> Scenario:
    """The scenario a destination number triggers."""
    return SCENARIOS.get(number[-4:], DEFAULT)


def scripted_digits(
    num_digits: int | None, finish_on_key: str | None, valid_digits: str | None
) -> str:
    """What the 0007 callee presses for one gather.

    It presses ``num_digits`` digits (4 when unset), counting up from 1 and,
    when ``valid_digits`` is given, cycling through those instead; with no
    ``num_digits`` it ends with ``finish_on_key`` when there is one.
    """
    pool = valid_digits or SCRIPT_DIGITS
    length = num_digits if num_digits is not None else SCRIPT_DEFAULT_LENGTH
    digits = "".join(pool[i % len(pool)] for i in range(length))
    if num_digits is None and finish_on_key:
        digits += finish_on_key
    return digits


def table_markdown() -> str:
    """The scenario table as Markdown, for the README and ``--scenarios``."""
    rows = ["| last four digits | what happens |", "|---|---|"]
    rows.append(f"| any other | {DEFAULT.title} (AMD `HUMAN`) |")
    for suffix, s in SCENARIOS.items():
        amd = f" (AMD `{s.amd_status}`)" if s.outcome is Outcome.ANSWER else ""
        rows.append(f"| `{suffix}` | {s.title}{amd} |")
    return "\n".join(rows)

"""Core keeps facts in its own terms: no Kaphila vocabulary, no sentences for
the operator (those are console.qt.wording's), no second owner of call state."""

from __future__ import annotations

import ast
from pathlib import Path

from console.core.calls import Call
from console.core.reducer import Level
from twilio import kaphila

CORE = Path(__file__).resolve().parents[2] / "console" / "core"
KAPHILA_WORDS = (
    {
        value
        for name, value in vars(kaphila).items()
        if name.startswith("F_") and isinstance(value, str)
    }
    | set(kaphila.KNOWN_EVENTS)
    | {"forwardedTo", "hangupBy", "forwardedFrom", "reason"}
)


def _strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


# Words Kaphila shares with our own names (a Call's fields, log levels) are ours there.
OURS = set(Call.__dataclass_fields__) | set(Level.__args__) | {"amd", "reason"}


def test_core_has_no_kaphila_field_or_event_name() -> None:
    found = {
        (path.name, text)
        for path in CORE.glob("*.py")
        for text in _strings(path)
        if text in KAPHILA_WORDS - OURS
    }
    assert found == set()


def test_the_check_would_see_a_kaphila_name() -> None:
    assert {"callId", "call.answered", "forwardedTo", "callerId"} <= KAPHILA_WORDS - OURS


def test_core_writes_no_sentence_for_the_operator() -> None:
    # A sentence (several words, a capital or a colon) in core means wording leaked in.
    leaks = {
        (path.name, text)
        for path in CORE.glob("*.py")
        for text in _strings(path)
        if len(text.split()) > 1 and (text[:1].isupper() or ": " in text)
    }
    assert leaks == set()

"""What the operator must be told about the desk itself (not a call), as facts:
history that cannot be saved, a key or keyring missing, a taken port.
``console.qt.wording`` turns each into words; services only produce them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class Storage(Enum):
    """Why the journal cannot store."""

    LOCKED = "locked"  # another program holds the file (a second console?)
    FULL = "full"  # the disk is full
    READ_ONLY = "read-only"
    DAMAGED = "damaged"
    NEWER = "newer"  # written by a newer console: left untouched
    UNOPENABLE = "unopenable"
    FAILED = "failed"  # any other database error


@dataclass(frozen=True, slots=True)
class StorageProblem:
    kind: Storage
    path: str
    detail: str = ""  # the database's own message, for support

    def __str__(self) -> str:  # for logs
        return f"history file {self.path}: {self.kind.value}" + (
            f" ({self.detail})" if self.detail else ""
        )


@dataclass(frozen=True, slots=True)
class SetAside:
    """A damaged history file was moved aside, untouched, and a new one started."""

    path: str
    moved_to: str
    cause: StorageProblem


@dataclass(frozen=True, slots=True)
class EventsSkipped:
    """Stored events that could not be read back at start."""

    count: int
    path: str


@dataclass(frozen=True, slots=True)
class NoKeyring:
    """Keys last for this session only."""

    why: Literal["none", "plaintext"]  # no backend at all / only one that writes plain files
    backend: str = ""


@dataclass(frozen=True, slots=True)
class KeyMissing:
    profile: str


@dataclass(frozen=True, slots=True)
class KeyUnusable:
    """A stored key that cannot travel in a header (a line break, a space...)."""

    profile: str


@dataclass(frozen=True, slots=True)
class PortTaken:
    port: int
    instead: int


@dataclass(frozen=True, slots=True)
class PlainHttp:
    url: str


@dataclass(frozen=True, slots=True)
class SettingsUnreadable:
    path: str
    kept_as: str
    detail: str


Notice = (
    StorageProblem
    | SetAside
    | EventsSkipped
    | NoKeyring
    | KeyMissing
    | KeyUnusable
    | PortTaken
    | PlainHttp
    | SettingsUnreadable
)

"""API keys: in the OS keyring, never on disk.

``open_secret_store()`` returns the keyring store when a real backend is
usable, and otherwise a session-only memory store with a message saying why.
A backend that would write the key to a plain file (``keyrings.alt``'s) is
refused like a missing one: a session-only key is better than a key on disk.

These calls block (D-Bus): the app runs them in an executor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import keyring
import keyring.backend
import keyring.errors

from console.core.notices import NoKeyring
from twilio import kaphila

log = logging.getLogger("kaphila.console.secrets")

SERVICE = "kaphila-console"
# Backends that are not a real keyring: nothing is stored, or stored in clear.
_NOT_SECURE_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")


def sendable(key: str) -> bool:
    """Can this key travel in an ``Authorization`` header (no line break, no space)?"""
    return kaphila.valid_key(key)


class SecretStoreError(Exception):
    """The key could not be read or written; the message is for the operator."""


class SecretStore(Protocol):
    persistent: bool
    description: str

    def get(self, profile: str) -> str | None: ...

    def set(self, profile: str, secret: str) -> None: ...

    def delete(self, profile: str) -> None: ...


class MemoryStore:
    """Session-only: forgotten when the console closes."""

    persistent = False

    def __init__(self, description: str = "this session only") -> None:
        self.description = description
        self._secrets: dict[str, str] = {}

    def get(self, profile: str) -> str | None:
        return self._secrets.get(profile)

    def set(self, profile: str, secret: str) -> None:
        self._secrets[profile] = secret

    def delete(self, profile: str) -> None:
        self._secrets.pop(profile, None)


class KeyringStore:
    """The OS keyring, one entry per profile under the service "kaphila-console"."""

    persistent = True

    def __init__(self, backend: keyring.backend.KeyringBackend) -> None:
        self._backend = backend
        self.description = human_name(backend)
        self.backend_name = _name(backend)  # for the self-check and support

    def get(self, profile: str) -> str | None:
        try:
            return self._backend.get_password(SERVICE, profile)
        except keyring.errors.KeyringLocked:
            raise SecretStoreError("the keyring is locked; unlock it and try again") from None
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(f"the keyring could not be read: {exc}") from None

    def set(self, profile: str, secret: str) -> None:
        try:
            self._backend.set_password(SERVICE, profile, secret)
        except keyring.errors.KeyringLocked:
            raise SecretStoreError("the keyring is locked; unlock it and try again") from None
        except keyring.errors.PasswordSetError as exc:
            raise SecretStoreError(f"the keyring refused the key: {exc}") from None
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(f"the keyring could not be written: {exc}") from None

    def delete(self, profile: str) -> None:
        try:
            self._backend.delete_password(SERVICE, profile)
        except keyring.errors.PasswordDeleteError:
            pass  # nothing stored: already deleted
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(f"the keyring could not be changed: {exc}") from None


@dataclass(frozen=True)
class OpenedStore:
    store: SecretStore
    warning: NoKeyring | None  # for the operator when keys will not survive a restart


def open_secret_store(backend: keyring.backend.KeyringBackend | None = None) -> OpenedStore:
    """The keyring when a real one is usable, else a session-only store and why."""
    chosen = backend if backend is not None else keyring.get_keyring()
    reason = _unusable(chosen)
    if reason is None:
        return OpenedStore(KeyringStore(chosen), None)
    log.warning("no usable keyring: %s", reason)
    return OpenedStore(MemoryStore("this session only (no OS keyring)"), reason)


def _unusable(backend: keyring.backend.KeyringBackend) -> NoKeyring | None:
    module = type(backend).__module__
    if module.startswith(_NOT_SECURE_MODULES):
        if module.startswith("keyrings.alt"):
            return NoKeyring("plaintext", _name(backend))
        return NoKeyring("none")
    backends = getattr(backend, "backends", None)  # a chainer: usable if one of its is
    if backends is not None and not any(_unusable(b) is None for b in backends):
        return NoKeyring("none")
    return None


_HUMAN_NAMES = {
    "SecretService": "the desktop keyring (Secret Service: GNOME Keyring or KWallet)",
    "kwallet": "KWallet",
    "macOS": "the macOS Keychain",
    "Windows": "Windows Credential Manager",
}


def human_name(backend: keyring.backend.KeyringBackend) -> str:
    """The keyring as the operator knows it, not its Python class."""
    module = type(backend).__module__.rsplit(".", 1)[-1]
    for key, name in _HUMAN_NAMES.items():
        if module.startswith(key) or type(backend).__module__.endswith(key):
            return name
    return f"the OS keyring ({getattr(backend, 'name', module)})"


def _name(backend: keyring.backend.KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"

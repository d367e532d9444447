"""API keys go to the keyring through keyring's API, or stay in memory; never to a file."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail, null

from console.core.notices import NoKeyring
from console.qt import wording
from console.services.secrets import (
    SERVICE,
    KeyringStore,
    MemoryStore,
    SecretStoreError,
    open_secret_store,
)


class DictKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring backend, installed through keyring's own API."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.entries[(service, username)]


class LockedKeyring(DictKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("locked")


@pytest.fixture
def dict_keyring() -> DictKeyring:
    backend = DictKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_a_real_backend_stores_keys_in_the_keyring(dict_keyring: DictKeyring) -> None:
    opened = open_secret_store()
    assert opened.warning is None
    assert isinstance(opened.store, KeyringStore)
    opened.store.set("Sandbox", "ak_secret_1")
    assert dict_keyring.entries == {(SERVICE, "Sandbox"): "ak_secret_1"}
    assert opened.store.get("Sandbox") == "ak_secret_1"
    opened.store.delete("Sandbox")
    opened.store.delete("Sandbox")  # deleting twice is fine
    assert opened.store.get("Sandbox") is None


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
def test_no_keyring_means_a_session_only_store_and_a_clear_message(
    backend: keyring.backend.KeyringBackend,
) -> None:
    opened = open_secret_store(backend)
    assert isinstance(opened.store, MemoryStore)
    assert opened.store.persistent is False
    assert opened.warning == NoKeyring("none")
    said = wording.notice(opened.warning)
    assert "kept for this session only" in said
    assert "never written to a file" in said


def test_a_plaintext_backend_is_refused_like_a_missing_one() -> None:
    plain = type("PlaintextKeyring", (DictKeyring,), {"__module__": "keyrings.alt.file"})()
    opened = open_secret_store(plain)
    assert isinstance(opened.store, MemoryStore)
    assert opened.warning is not None
    assert opened.warning.why == "plaintext"
    assert "plain file" in wording.notice(opened.warning)


def test_a_locked_keyring_says_so() -> None:
    store = KeyringStore(LockedKeyring())
    with pytest.raises(SecretStoreError, match="the keyring is locked; unlock it"):
        store.set("Live", "ak_x")
    with pytest.raises(SecretStoreError, match="locked"):
        store.get("Live")


def test_the_memory_store_forgets_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = MemoryStore()
    store.set("Sandbox", "ak_secret_2")
    assert store.get("Sandbox") == "ak_secret_2"
    store.delete("Sandbox")
    assert store.get("Sandbox") is None
    assert list(tmp_path.iterdir()) == []

"""The keyring of the demo's supervisor window: the token the demo hands it,
in memory, so the user's own OS keyring never holds a throwaway token.

The window is a plain ``python -m console`` whose environment names this
backend (``PYTHON_KEYRING_BACKEND``, keyring's own way to choose one) and a
file (``HANDED_FILE``, mode 0600, in the demo's temporary folder) holding
``{"<profile>": "<token>"}``. The backend reads the file once and deletes it:
from then on the token lives only in the console's memory, like a key typed
into a console that has no keyring. Nothing is ever written back.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import keyring.backend

from console.services.secrets import SERVICE

HANDED_FILE = "KAPHILA_DEMO_HANDED_TOKENS"
BACKEND = f"{__name__}.HandedKeyring"


def hand_over(path: Path, tokens: dict[str, str]) -> dict[str, str]:
    """Write ``tokens`` (profile -> token) for one console; its environment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(tokens, out)
    return {"PYTHON_KEYRING_BACKEND": BACKEND, HANDED_FILE: str(path)}


class HandedKeyring(keyring.backend.KeyringBackend):
    priority = 1  # only ever chosen by name (PYTHON_KEYRING_BACKEND)

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._secrets: dict[str, str] = {}
        path = os.environ.get(HANDED_FILE)
        if path:
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(Path(path).read_text(encoding="utf-8"))
                self._secrets = {str(k): str(v) for k, v in dict(data).items()}
            with contextlib.suppress(OSError):
                Path(path).unlink()

    def get_password(self, service: str, username: str) -> str | None:
        return self._secrets.get(username) if service == SERVICE else None

    def set_password(self, service: str, username: str, password: str) -> None:
        if service == SERVICE:
            self._secrets[username] = password

    def delete_password(self, service: str, username: str) -> None:
        if service == SERVICE:
            self._secrets.pop(username, None)

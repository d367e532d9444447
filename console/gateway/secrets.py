"""The gateway secret, and the two keys derived from it.

Every gateway process that serves the same calls must hold the same secret:
it signs the intake URLs Kaphila posts to (``wire.sign_token``) and seals the
Bearer keys and auth tokens kept in the key-value store. Where it comes from,
first match wins:

1. ``KAPHILA_GATEWAY_SECRET``: urlsafe base64 of at least 32 random bytes;
2. ``--secret-file FILE`` (a systemd credential, a mounted secret), same format;
3. ``DIR/gateway.secret`` with ``--data DIR``: made once (mode 0600) and read
   back by every later start — a warning says production should pass one;
4. else an ephemeral one, with a warning: intake URLs and sealed values made
   now are worthless after a restart.

The secret and the keys never appear in a log line, a repr or an exception.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger("kaphila.gateway.secrets")

ENV_VAR = "KAPHILA_GATEWAY_SECRET"
SECRET_FILE_NAME = "gateway.secret"  # noqa: S105 - a file name, not a secret
MIN_SECRET_BYTES = 32
_MAC_INFO = b"kaphila-gateway intake-url mac v1"
_SEAL_INFO = b"kaphila-gateway fernet v1"


class SecretError(ValueError):
    """The secret could not be had; the message says why, never what it is."""


class SealError(ValueError):
    """A sealed value could not be opened."""


def decode_secret(text: str, source: str) -> bytes:
    """The bytes of a urlsafe base64 secret (padding optional); ``source`` names
    where it came from for the error message, which never holds the value."""
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SecretError(f"{source} is not urlsafe base64") from None
    if len(raw) < MIN_SECRET_BYTES:
        raise SecretError(
            f"{source} holds {len(raw)} bytes; the gateway secret needs at least "
            f"{MIN_SECRET_BYTES} (make one: python -c "
            "'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return raw


def encode_secret(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


class Sealer:
    """Encrypts short strings (Bearer keys, auth tokens) for the shared store."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def __repr__(self) -> str:
        return "Sealer(<hidden>)"

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, UnicodeError):
            raise SealError(
                "a sealed value could not be opened: it was sealed under another "
                "gateway secret, or it is damaged (do all gateways share one secret?)"
            ) from None


@dataclass(frozen=True)
class GatewaySecret:
    raw: bytes = field(repr=False)
    source: str  # "environment", "file /path", "generated /path", "ephemeral"

    def __repr__(self) -> str:
        return f"GatewaySecret(<hidden>, source={self.source!r})"

    def mac_key(self) -> bytes:
        return _derive(self.raw, _MAC_INFO)

    def sealer(self) -> Sealer:
        return Sealer(_derive(self.raw, _SEAL_INFO))


def load_secret(
    *,
    secret_file: Path | None = None,
    data: Path | None = None,
    environ: dict[str, str] | None = None,
) -> GatewaySecret:
    """The gateway secret from the first source that has one (see the module doc)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR):
        return GatewaySecret(decode_secret(env[ENV_VAR], ENV_VAR), "environment")
    if secret_file is not None:
        raw = _read_secret_file(secret_file, f"secret file {secret_file}")
        return GatewaySecret(raw, f"file {secret_file}")
    if data is not None:
        return _data_secret(data / SECRET_FILE_NAME)
    log.warning(
        "no gateway secret given (%s, --secret-file or --data): using an ephemeral one; "
        "intake URLs of calls placed now stop working when this process stops",
        ENV_VAR,
    )
    return GatewaySecret(secrets.token_bytes(MIN_SECRET_BYTES), "ephemeral")


def _read_secret_file(path: Path, source: str) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
        mode = path.stat().st_mode
    except (OSError, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
        raise SecretError(f"cannot read the secret file {path}: {why}") from None
    if mode & 0o004:
        log.warning("the secret file %s is readable by every user; chmod o-r it", path)
    return decode_secret(text, source)


def _data_secret(path: Path) -> GatewaySecret:
    """The secret in ``path``, made first if there is none. Two gateways starting
    at once on one directory agree: the file appears whole (written aside, then
    linked into place, which fails if it is already there) and the loser reads
    the winner's."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(encode_secret(secrets.token_bytes(MIN_SECRET_BYTES)) + "\n")
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
            else:
                log.warning(
                    "generated the gateway secret in %s; in production pass it with %s "
                    "or --secret-file, and give every gateway process the same one",
                    path,
                    ENV_VAR,
                )
        finally:
            os.unlink(aside)
    return GatewaySecret(_read_secret_file(path, f"secret file {path}"), f"generated {path}")

"""What a gateway process is told at start: ``GatewayConfig``.

Built by ``__main__`` from the command line, or directly by tests and
``GatewayThread``. ``validated()`` turns every mistake into a ``ConfigError``
whose message is the one line the operator reads.
"""

from __future__ import annotations

import math
import zoneinfo
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8788
DEFAULT_SPEECH_RATE = 15.0  # characters a second Kaphila's TTS speaks, for <Say> timing
DEFAULT_MAX_BODY = 64 * 1024  # as the console's listener and the sandbox
DEFAULT_BODY_TIMEOUT = 10.0  # a body still arriving after this is refused (408)
DEFAULT_UPSTREAM_TIMEOUT = 30.0  # Kaphila's answer to one API request
DEFAULT_PUBLISH_TIMEOUT = 5.0  # JetStream's ack of one webhook before we answer 503
DEFAULT_ACK_WAIT = 30.0  # a worker holds a message this long before JetStream redelivers it
MAX_ACK_WAIT = 3600.0
DEFAULT_DRAIN_TIMEOUT = (
    20.0  # SIGTERM: the most a graceful stop takes (systemd's stop waits longer)
)
MAX_DRAIN_TIMEOUT = 3600.0
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A setting the gateway cannot run with; the message is for the operator."""


@dataclass(frozen=True)
class GatewayConfig:
    upstream: str  # Kaphila's base URL, without a trailing slash
    nats_url: str | None = None  # None: start our own nats-server
    data: Path | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: str | None = None  # None until bound: http://HOST:PORT
    allow_loopback: bool = False
    speech_rate: float = DEFAULT_SPEECH_RATE
    secret_file: Path | None = None
    log_level: str = "INFO"
    max_body: int = DEFAULT_MAX_BODY
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    publish_timeout: float = DEFAULT_PUBLISH_TIMEOUT
    ack_wait: float = DEFAULT_ACK_WAIT
    # Team mode (docs/TEAM.md): the account's Kaphila key, held by the gateway
    # alone; None passes each caller's key through. Never from the command line.
    upstream_key: str | None = field(default=None, repr=False)
    timezone: str = ""  # the team's day for /team/stats; "" = the host's
    log_format: str = "text"  # or "json": one object a line (logs.py)
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT

    @property
    def team(self) -> bool:
        return self.upstream_key is not None

    def validated(self) -> GatewayConfig:
        """This config with URLs normalised; raises ConfigError naming the flag."""
        upstream = _http_url(self.upstream, "--upstream")
        public = _http_url(self.public_url, "--public-url") if self.public_url else None
        if self.nats_url is not None:
            for one in nats_servers(self.nats_url) or [""]:
                try:
                    parts = urlsplit(one)
                    _ = parts.port
                except ValueError:
                    parts = urlsplit("")
                if parts.scheme not in ("nats", "tls") or not parts.hostname:
                    raise ConfigError(
                        "--nats must be a nats:// URL such as nats://127.0.0.1:4222, or a "
                        f"comma-separated list of them (a cluster), not {_shown(self.nats_url)}"
                    )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be between 0 and 65535, not {self.port}")
        if not (math.isfinite(self.speech_rate) and self.speech_rate > 0):
            raise ConfigError(
                f"--speech-rate must be a positive number of characters a second, "
                f"not {self.speech_rate:g}"
            )
        if not (math.isfinite(self.ack_wait) and 1 <= self.ack_wait <= MAX_ACK_WAIT):
            raise ConfigError(
                f"--ack-wait must be between 1 and {MAX_ACK_WAIT:g} seconds, not {self.ack_wait:g}"
            )
        if not (math.isfinite(self.drain_timeout) and 0 <= self.drain_timeout <= MAX_DRAIN_TIMEOUT):
            raise ConfigError(
                f"--drain-timeout must be between 0 and {MAX_DRAIN_TIMEOUT:g} seconds, "
                f"not {self.drain_timeout:g}"
            )
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(
                f"--log-format must be {' or '.join(LOG_FORMATS)}, not {self.log_format!r:.40}"
            )
        if self.upstream_key is not None and not _plausible_key(self.upstream_key):
            raise ConfigError(
                "the upstream key (KAPHILA_UPSTREAM_KEY or --upstream-key-file) is empty "
                "or holds spaces or control characters"
            )
        if self.timezone:
            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ConfigError(
                    f"--timezone {_shown(self.timezone)} is not a time zone name "
                    "such as Europe/Paris or UTC"
                ) from None
        return replace(self, upstream=upstream, public_url=public)

    def bound(self, host: str, port: int) -> GatewayConfig:
        """This config once listening: the real port, and the public URL defaulted."""
        shown = f"[{host}]" if ":" in host else host
        public = self.public_url or f"http://{shown}:{port}"
        return replace(self, host=host, port=port, public_url=public)

    @property
    def listen_url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"


def nats_servers(url: str) -> list[str]:
    """``--nats``: one URL, or a comma-separated list (the servers of a cluster)."""
    return [one.strip() for one in url.split(",") if one.strip()]


def _plausible_key(key: str) -> bool:
    return bool(key) and all(ch.isprintable() and not ch.isspace() for ch in key)


def _shown(url: str) -> str:
    return repr(url[:80] + ("…" if len(url) > 80 else ""))


def _http_url(url: str, flag: str) -> str:
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{flag} {_shown(url)} is not a valid URL") from None
    if parts.username or parts.password:
        raise ConfigError(f"{flag} must not carry a user name or password")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{flag} must be an http(s) URL such as https://kaphila.com, not {_shown(url)}"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{flag} must not have a query or fragment: {_shown(url)}")
    return url.rstrip("/")

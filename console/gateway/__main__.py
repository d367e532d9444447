"""``kaphila-gateway`` / ``python -m console.gateway``.

With no command it serves: ``kaphila-gateway --upstream https://kaphila.com``.
Commands come as subcommands (``kaphila-gateway serve ...`` is the explicit
form; issue 13 adds ``operators add|list|remove``). Serve flags may stand
before or after ``serve``: they are declared with SUPPRESS defaults on both
parsers and their defaults are filled in afterwards (``SERVE_DEFAULTS``), so
neither parser's default overwrites a value the other parsed.

``--config FILE`` reads serve settings from a TOML file (``config_file``): its
keys are the flags' long names (``port = 8788``, ``log-format = "json"``), and a
flag on the command line wins over the file. The account's key is never in it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from console.gateway import bus, logs, natsserver, operators
from console.gateway.config import (
    DEFAULT_ACK_WAIT,
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SPEECH_RATE,
    LOG_FORMATS,
    ConfigError,
    GatewayConfig,
)
from console.gateway.natsserver import NatsServer, NatsServerError
from console.gateway.secrets import ENV_VAR as SECRET_ENV
from console.gateway.server import Gateway, StartError

PROG = "kaphila-gateway"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SERVE_DEFAULTS: dict[str, Any] = {
    "upstream": None,
    "nats": None,
    "data": None,
    "host": DEFAULT_HOST,
    "port": DEFAULT_PORT,
    "public_url": None,
    "allow_loopback": False,
    "speech_rate": DEFAULT_SPEECH_RATE,
    "secret_file": None,
    "ack_wait": DEFAULT_ACK_WAIT,
    "log_level": "INFO",
    "log_format": "text",
    "drain_timeout": DEFAULT_DRAIN_TIMEOUT,
    "upstream_key_file": None,
    "timezone": "",
}
# What a --config file may set, and the type of each value (a path is a string).
FILE_TYPES: dict[str, type] = {
    "upstream": str,
    "nats": str,
    "data": Path,
    "host": str,
    "port": int,
    "public_url": str,
    "allow_loopback": bool,
    "speech_rate": float,
    "secret_file": Path,
    "ack_wait": float,
    "log_level": str,
    "log_format": str,
    "drain_timeout": float,
    "upstream_key_file": Path,
    "timezone": str,
}
# Keys a config file must not have, and what to use instead.
FILE_REFUSED = {
    "upstream_key": "the account's key is not accepted in a config file (other users of the "
    "host may read it): use upstream-key-file, the environment's KAPHILA_UPSTREAM_KEY or "
    "systemd's credential kaphila-upstream-key",
    "secret": "the gateway secret is not accepted in a config file: use secret-file or "
    "the environment's KAPHILA_GATEWAY_SECRET",
}
FILE_REFUSED["gateway_secret"] = FILE_REFUSED["secret"]
TYPE_NAMES = {
    str: "a string",
    Path: "a path (a string)",
    int: "an integer",
    float: "a number",
    bool: "true or false",
}
UPSTREAM_KEY_ENV = "KAPHILA_UPSTREAM_KEY"
UPSTREAM_KEY_CREDENTIAL = "kaphila-upstream-key"  # systemd LoadCredential= name


class RefuseKeyOnCommandLine(argparse.Action):
    """``--upstream-key VALUE``: refused without echoing VALUE."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.error(
            "the account key is never taken on the command line (other users of this host "
            f"can read it there): set {UPSTREAM_KEY_ENV}, or use --upstream-key-file FILE"
        )


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--upstream-key", nargs="?", action=RefuseKeyOnCommandLine, help=argparse.SUPPRESS)
    hide = argparse.SUPPRESS
    add(
        "--config",
        type=Path,
        metavar="FILE",
        default=hide,
        help="read these settings from a TOML file (keys: the flags' long names, "
        'e.g. port = 8788, log-format = "json"); flags given here win over it',
    )
    add("--upstream", metavar="URL", default=hide, help="Kaphila's base URL (required)")
    add(
        "--nats",
        metavar="URL",
        default=hide,
        help="use this NATS (nats://HOST:PORT, JetStream on); default: start our own",
    )
    add(
        "--data",
        type=Path,
        metavar="DIR",
        default=hide,
        help="keep our NATS store (DIR/nats) and the generated secret here; "
        "default: a temporary store and an ephemeral secret",
    )
    add("--host", default=hide, help=f"address to listen on (default {DEFAULT_HOST})")
    add("--port", type=int, default=hide, help=f"port (default {DEFAULT_PORT}; 0 = any free one)")
    add(
        "--public-url",
        metavar="URL",
        default=hide,
        help="the URL Kaphila posts webhooks to (default http://HOST:PORT)",
    )
    add(
        "--allow-loopback",
        action="store_true",
        default=hide,
        help="let apps, callbacks and relays be on loopback (tests, demos, a laptop)",
    )
    add(
        "--speech-rate",
        type=float,
        metavar="CHARS_PER_S",
        default=hide,
        help=f"how fast Kaphila speaks, for <Say> timing (default {DEFAULT_SPEECH_RATE:g})",
    )
    add(
        "--secret-file",
        type=Path,
        metavar="FILE",
        default=hide,
        help="the gateway secret (urlsafe base64, 32+ bytes); the environment's "
        "KAPHILA_GATEWAY_SECRET wins over it",
    )
    add(
        "--ack-wait",
        type=float,
        metavar="SECONDS",
        default=hide,
        help="the time before another gateway takes over an event a dead one was "
        f"handling: its calls stand still this long (default {DEFAULT_ACK_WAIT:g})",
    )
    add(
        "--upstream-key-file",
        type=Path,
        metavar="FILE",
        default=hide,
        help="team mode: the account's Kaphila key, read from FILE (or the environment's "
        f"{UPSTREAM_KEY_ENV}, or systemd's credential {UPSTREAM_KEY_CREDENTIAL}); desks "
        "and scripts then authenticate with operator tokens",
    )
    add(
        "--timezone",
        metavar="ZONE",
        default=hide,
        help="the team's day for its figures, e.g. Europe/Paris (default: the host's)",
    )
    add(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=hide,
        help="DEBUG, INFO (default), WARNING or ERROR",
    )
    add(
        "--log-format",
        choices=LOG_FORMATS,
        default=hide,
        help="text (default) or json: one JSON object a line, for a log collector",
    )
    add(
        "--drain-timeout",
        type=float,
        metavar="SECONDS",
        default=hide,
        help="on SIGTERM, the most a graceful stop takes: requests in flight finish, "
        f"messages in hand are finished or handed back (default {DEFAULT_DRAIN_TIMEOUT:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    # No abbreviations: "--upstream-key SECRET" would be taken for --upstream-key-file
    # and the key echoed back in the error.
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The Kaphila gateway: Kaphila's API for Twilio apps and teams, on NATS.",
        allow_abbrev=False,
    )
    add_serve_arguments(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve_parser = commands.add_parser(
        "serve", help="run the gateway (the default)", allow_abbrev=False
    )
    add_serve_arguments(serve_parser)
    ops = commands.add_parser("operators", help="add, list or remove the call center's operators")
    ops_commands = ops.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, helptext in (
        ("add", "add an operator; prints its token on the last line (shown once)"),
        ("list", "list the operators"),
        ("remove", "remove an operator"),
    ):
        sub = ops_commands.add_parser(action, help=helptext)
        if action != "list":
            sub.add_argument("name", metavar="NAME")
        if action == "add":
            sub.add_argument("--role", choices=("operator", "supervisor"), default="operator")
        store = sub.add_mutually_exclusive_group()
        store.add_argument("--nats", metavar="URL", help="the NATS the gateways use")
        store.add_argument(
            "--data", type=Path, metavar="DIR", help="a gateway's --data (its own NATS store)"
        )
    return parser


def serve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The serve settings: the defaults, under the --config file's, under the flags."""
    from_file = config_file(args.config) if getattr(args, "config", None) else {}
    return {
        name: getattr(args, name, from_file.get(name, default))
        for name, default in SERVE_DEFAULTS.items()
    }


def config_file(path: Path) -> dict[str, Any]:
    """The settings in a --config file (TOML); ConfigError naming the key that is
    unknown, refused or of the wrong type. Relative paths are the file's folder's."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
    settings: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name in FILE_REFUSED:
            raise ConfigError(f"{path}: {key}: {FILE_REFUSED[name]}")
        kind = FILE_TYPES.get(name)
        if kind is None:
            known = ", ".join(k.replace("_", "-") for k in FILE_TYPES)
            raise ConfigError(f"{path}: unknown key {key!r} (known: {known})")
        if name in settings:
            raise ConfigError(f"{path}: {key} is given twice (with - and with _)")
        settings[name] = _file_value(path, key, kind, value)
    return settings


def _file_value(path: Path, key: str, kind: type, value: Any) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = {
        bool: isinstance(value, bool),
        int: number and isinstance(value, int),
        float: number,
    }.get(kind, isinstance(value, str))
    if not ok:
        shown = repr(value) if isinstance(value, str | int | float | bool) else type(value).__name__
        raise ConfigError(f"{path}: {key} must be {TYPE_NAMES[kind]}, not {shown:.60}")
    name = key.replace("-", "_")
    if kind is float:
        return float(value)
    if kind is Path:
        return path.parent / Path(value).expanduser()  # an absolute value stays as it is
    if name == "log_level" and value.upper() not in LOG_LEVELS:
        levels = ", ".join(LOG_LEVELS)
        raise ConfigError(f"{path}: {key} must be one of {levels}, not {value!r:.40}")
    if name == "log_level":
        return value.upper()
    if name == "log_format" and value not in LOG_FORMATS:
        raise ConfigError(f"{path}: {key} must be {' or '.join(LOG_FORMATS)}, not {value!r:.40}")
    return value


def upstream_key(file: Path | None, environ: Mapping[str, str]) -> str | None:
    """The account key for team mode: ``--upstream-key-file``, else the environment,
    else systemd's credential; None when none is given (pass-through mode)."""
    if file is None and environ.get(UPSTREAM_KEY_ENV):
        return environ[UPSTREAM_KEY_ENV].strip()
    if file is None and environ.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(environ["CREDENTIALS_DIRECTORY"]) / UPSTREAM_KEY_CREDENTIAL
        file = candidate if candidate.is_file() else None
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        # Not the path: someone who typed the key where the path goes would see it here.
        raise ConfigError(f"cannot read the --upstream-key-file: {detail}") from None


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    settings = serve_settings(args)
    if not settings["upstream"]:
        raise ConfigError("--upstream URL is required (Kaphila's base URL)")
    key = upstream_key(settings["upstream_key_file"], os.environ if environ is None else environ)
    return GatewayConfig(
        upstream=settings["upstream"],
        nats_url=settings["nats"],
        data=settings["data"],
        host=settings["host"],
        port=settings["port"],
        public_url=settings["public_url"],
        allow_loopback=settings["allow_loopback"],
        speech_rate=settings["speech_rate"],
        secret_file=settings["secret_file"],
        ack_wait=settings["ack_wait"],
        log_level=settings["log_level"],
        upstream_key=key,
        timezone=settings["timezone"],
        log_format=settings["log_format"],
        drain_timeout=settings["drain_timeout"],
    ).validated()


async def serve(config: GatewayConfig) -> None:
    """Serve until SIGTERM or SIGINT, then drain (``Gateway.drain``); a second
    signal makes the drain hand back what the workers hold instead of waiting."""
    gateway = Gateway(config)
    await gateway.start()
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():  # a second one: do not wait for the workers
            logging.getLogger("kaphila.gateway").info("stopping now: no more waiting")
            gateway.hurry()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal)
    try:
        print(f"Kaphila gateway listening on {gateway.url}", flush=True)
        await stop.wait()
    finally:
        if stop.is_set():
            logging.getLogger("kaphila.gateway").info("stopping the gateway (draining)")
            await gateway.drain()
        else:
            await gateway.stop()


def run_serve(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    secrets = [config.upstream_key or "", os.environ.get(SECRET_ENV, "")]
    logs.configure(config.log_level, config.log_format, secrets)
    try:
        asyncio.run(serve(config))
    except StartError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the signal handlers were in place
        return 130
    return 0


async def manage_operators(args: argparse.Namespace) -> str:
    """Run one ``operators`` action against the gateways' NATS; what to print."""
    own: NatsServer | None = None
    if args.nats:
        url = args.nats
    elif args.data and (running := natsserver.running_url(args.data / "nats")):
        url = running  # the gateway on that store is up: its own nats-server
    elif args.data:
        own = NatsServer(args.data / "nats")
        await asyncio.to_thread(own.start)
        url = own.url
    else:
        raise operators.OperatorError(
            "operators live in the gateways' NATS: give --nats URL, or the --data DIR "
            "of a gateway that runs its own"
        )
    try:
        nc = await bus.connect(url, name="kaphila-gateway-operators")
        try:
            kv = await operators.bucket(nc.jetstream())
            if args.action == "add":
                token = await operators.add(kv, args.name, args.role)
                return (
                    f"added {args.name} ({args.role}); their token, shown this once, "
                    f"is on the next line\n{token}"
                )
            if args.action == "remove":
                await operators.remove(kv, args.name)
                return f"removed {args.name}"
            found = await operators.listing(kv)
            return "\n".join(f"{o.name}\t{o.role}" for o in found) or "(no operators)"
        finally:
            await nc.close()
    finally:
        if own is not None:
            await asyncio.to_thread(own.stop)


def run_operators(args: argparse.Namespace) -> int:
    try:
        print(asyncio.run(manage_operators(args)), flush=True)
    except (operators.OperatorError, bus.BusError, NatsServerError) as exc:
        print(f"{PROG} operators: {exc}", file=sys.stderr)
        return 1
    return 0


COMMANDS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    None: run_serve,
    "serve": run_serve,
    "operators": run_operators,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

"""``kaphila-gateway`` / ``python -m console.gateway``.

With no command it serves: ``kaphila-gateway --upstream https://kaphila.com``.
Commands come as subcommands (``kaphila-gateway serve ...`` is the explicit
form; issue 13 adds ``operators add|list|remove``). Serve flags may stand
before or after ``serve``: they are declared with SUPPRESS defaults on both
parsers and their defaults are filled in afterwards (``SERVE_DEFAULTS``), so
neither parser's default overwrites a value the other parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from console.gateway import bus, natsserver, operators
from console.gateway.config import (
    DEFAULT_ACK_WAIT,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SPEECH_RATE,
    ConfigError,
    GatewayConfig,
)
from console.gateway.natsserver import NatsServer, NatsServerError
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
    "upstream_key_file": None,
    "timezone": "",
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
    return {name: getattr(args, name, default) for name, default in SERVE_DEFAULTS.items()}


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
    ).validated()


async def serve(config: GatewayConfig) -> None:
    gateway = Gateway(config)
    await gateway.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        print(f"Kaphila gateway listening on {gateway.url}", flush=True)
        await stop.wait()
    finally:
        logging.getLogger("kaphila.gateway").info("stopping the gateway")
        await gateway.stop()


def run_serve(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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

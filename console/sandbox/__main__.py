"""``kaphila-sandbox`` / ``python -m console.sandbox``: run the sandbox in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from console.sandbox.config import ConfigError, SandboxConfig, load_toml, parse_account_flag
from console.sandbox.faults import ALL_FAULTS, FaultConfig
from console.sandbox.scenarios import table_markdown
from console.sandbox.server import Sandbox


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kaphila-sandbox",
        description="A local Kaphila API server with simulated calls, webhooks and faults.",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8787; 0 = any)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host header is NAME (besides "
        "localhost, 127.0.0.1, ::1 and --host); repeatable",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML file with [sandbox] settings, [[accounts]] and [faults]",
    )
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="SPEC",
        help="KEY:CALLERID[,CALLERID...][:CREDITS]; repeatable",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        metavar="X",
        help="simulated seconds per real second (default 1)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        metavar="N",
        help="requests per second per key (default 50; 0 = off)",
    )
    parser.add_argument(
        "--max-call-seconds",
        type=float,
        metavar="S",
        help="a call nobody hangs up ends after this long (default 600)",
    )
    parser.add_argument(
        "--max-finished-calls",
        type=int,
        metavar="N",
        help="finished calls kept for inspection (default 10000)",
    )
    parser.add_argument("--call-cost", type=int, metavar="N", help="credits per call (default 1)")
    parser.add_argument(
        "--max-body",
        type=int,
        metavar="BYTES",
        help="largest request body accepted (default 65536)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        metavar="S",
        help="close a connection idle, or slow to send its request, for this long (default 10)",
    )
    parser.add_argument(
        "--webhook-attempts",
        type=int,
        metavar="N",
        help="delivery attempts per webhook (default 5)",
    )
    parser.add_argument(
        "--webhook-timeout",
        type=float,
        metavar="S",
        help="seconds to wait for a webhook answer (default 5)",
    )
    parser.add_argument(
        "--webhook-backoff",
        type=float,
        metavar="S",
        help="first retry delay in seconds, doubling (default 0.5)",
    )
    parser.add_argument(
        "--allow-remote-webhooks",
        action="store_true",
        default=None,
        help="deliver webhooks to non-loopback hosts too (off by default)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=RATE[:COUNT]",
        help=f"inject a fault; NAME is one of {', '.join(ALL_FAULTS)}",
    )
    parser.add_argument("--delay-ms", type=int, help="how long the delay fault holds a webhook")
    parser.add_argument("--stall-ms", type=int, help="how long the stall fault holds a request")
    parser.add_argument("--seed", type=int, help="seed the simulation's randomness")
    parser.add_argument(
        "--scenarios", action="store_true", help="print the scenario-number table and exit"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    config = SandboxConfig()
    if args.config is not None:
        config = load_toml(args.config, config)
    accounts = [*config.accounts, *(parse_account_flag(spec) for spec in args.account)]
    changes = {
        name: value
        for name, value in (
            ("host", args.host),
            ("port", args.port),
            ("time_scale", args.time_scale),
            ("rate_limit", args.rate_limit),
            ("call_cost", args.call_cost),
            ("max_call_seconds", args.max_call_seconds),
            ("max_finished_calls", args.max_finished_calls),
            ("max_body_bytes", args.max_body),
            ("webhook_attempts", args.webhook_attempts),
            ("webhook_timeout", args.webhook_timeout),
            ("webhook_backoff", args.webhook_backoff),
            ("seed", args.seed),
            ("allow_remote_webhooks", args.allow_remote_webhooks),
            ("request_timeout", args.request_timeout),
        )
        if value is not None
    }
    faults = FaultConfig.from_mapping(config.faults.to_json())
    try:
        faults.update(_fault_flags(args.fault))
        timing = {
            k: v
            for k, v in (("delay_ms", args.delay_ms), ("stall_ms", args.stall_ms))
            if v is not None
        }
        faults.update(timing)
    except ValueError as exc:
        raise ConfigError(f"--fault: {exc}") from None
    if args.allow_host:
        changes["allowed_hosts"] = (*config.allowed_hosts, *args.allow_host)
    return replace(config, accounts=accounts, faults=faults, **changes)


def _fault_flags(specs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep:
            raise ValueError(f"{spec!r}: expected NAME=RATE[:COUNT]")
        rate_text, _, count_text = value.partition(":")
        try:
            rate = float(rate_text)
            count = int(count_text) if count_text else None
        except ValueError:
            raise ValueError(f"{spec!r}: RATE must be a number and COUNT a whole number") from None
        out[name] = {"rate": rate, "count": count}
    return out


def banner(sandbox: Sandbox) -> str:
    lines = [f"Kaphila sandbox listening on {sandbox.url}"]
    if not _is_loopback(sandbox.host):
        lines.append(
            "  WARNING: not bound to loopback; /sandbox/ control has no authentication "
            "and anyone who can reach this address can use it"
        )
    for account in sandbox.config.accounts:
        lines.append(f"  account {account.name}: API key {account.key}")
        lines.append(f"    verified caller IDs: {', '.join(account.caller_ids) or '(none)'}")
        lines.append(f"    credits: {account.credits}")
    if sandbox.config.time_scale != 1:
        lines.append(f"  time runs {sandbox.config.time_scale:g}x faster than real time")
    lines.append("  scenario numbers: dial any number; its last four digits choose what happens")
    lines.append("  (kaphila-sandbox --scenarios prints the table). Ctrl-C stops.")
    return "\n".join(lines)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def serve(config: SandboxConfig) -> None:
    sandbox = Sandbox(config)
    await sandbox.start()
    print(banner(sandbox), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        print("stopping the sandbox", flush=True)
        await sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.scenarios:
        print(table_markdown())
        return 0
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"kaphila-sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"kaphila-sandbox: port {config.port} on {config.host} is already in use; "
                "choose another with --port",
                file=sys.stderr,
            )
        else:
            print(
                f"kaphila-sandbox: cannot listen on {config.host}:{config.port}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

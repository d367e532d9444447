"""``python -m console.demo_team [--no-window] [--operators N] [--seconds S]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from console.demo_team.demo import Demo, Options
from console.demo_team.processes import StartFailed
from console.demo_team.rig import DEMO_OPERATORS


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make demo-team",
        description="A busy call center on this machine: the Kaphila sandbox, a gateway in "
        "team mode, simulated operator desks and a supervisor's console. Ctrl+C stops it.",
    )
    parser.add_argument(
        "--operators",
        type=int,
        default=6,
        choices=range(1, len(DEMO_OPERATORS) + 1),
        metavar=f"1-{len(DEMO_OPERATORS)}",
        help="simulated operator desks (default 6)",
    )
    parser.add_argument(
        "--no-window",
        action="store_true",
        help="no console window: a headless supervisor desk instead",
    )
    parser.add_argument(
        "--seconds", type=float, help="stop by itself after this long (default: at Ctrl+C)"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="run the sandbox and the operators this many times faster (default 1)",
    )
    parser.add_argument("--seed", type=int, help="the operators' choices, repeatable")
    parser.add_argument("--verbose", action="store_true", help="log what the desks do")
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be more than 0")
    return args


async def run(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    demo = Demo(
        Options(
            operators=args.operators,
            window=not args.no_window,
            time_scale=args.time_scale,
            seed=args.seed,
        ),
        out=lambda line: print(line, flush=True),
    )
    try:
        await demo.start()
    except StartFailed as exc:
        print(f"demo-team: {exc}", file=sys.stderr)
        return 1
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.seconds):
                await asyncio.wait(
                    [loop.create_task(stop.wait()), loop.create_task(demo.ended.wait())],
                    return_when=asyncio.FIRST_COMPLETED,
                )
    finally:
        print("stopping: the desks, the gateway (it drains), the sandbox ...", flush=True)
        await demo.stop()
    print("stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

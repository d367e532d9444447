"""Run every benchmark and print one table."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time

import tests.bench
from tests.bench.common import Row, print_table


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("only", nargs="*", help="run only these benchmark modules")
    args = parser.parse_args()
    rows: list[Row] = []
    names = sorted(
        m.name for m in pkgutil.iter_modules(tests.bench.__path__) if m.name.startswith("bench_")
    )
    for name in names:
        if args.only and name not in args.only and name.removeprefix("bench_") not in args.only:
            continue
        print(f"running {name} ...", flush=True, file=sys.stderr)
        started = time.monotonic()
        module = importlib.import_module(f"tests.bench.{name}")
        rows.extend(module.run())
        print(f"  {name} took {time.monotonic() - started:.1f} s", file=sys.stderr)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

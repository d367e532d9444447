"""``kaphila-console`` / ``python -m console``: the operator console."""

from __future__ import annotations

import os
import sys

NO_DISPLAY = (
    "kaphila-console: no display found. Run it in a desktop session, or under a virtual\n"
    "display (xvfb-run make run), or set QT_QPA_PLATFORM=offscreen for a headless check.\n"
    "To run only the local Kaphila sandbox: .venv/bin/kaphila-sandbox"
)


USAGE = """usage: kaphila-console [--self-check | --version | --help] [Qt options]

The operator console for the Kaphila voice API. With no settings it opens the
local sandbox profile, so calls can be placed at once without an account.

  --self-check  check the keyring, fonts, ICU, SQLite, Qt and a sandbox call, one
                line each; exit 0 only if all pass (uses a throw-away folder)
  --version     print the version and exit
  --help        print this and exit

Qt's own options (-platform offscreen, -style ...) are passed on to Qt."""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("kaphila-console")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv[1:]
    if "--help" in args or "-h" in args:
        print(USAGE)
        return 0
    if "--version" in args:
        print(f"kaphila-console {version()}")
        return 0
    if "--self-check" in args:
        from console.selfcheck import main as self_check

        return self_check()
    if (
        sys.platform.startswith("linux")
        and "-platform" not in args
        and not any(
            os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
        )
    ):
        # Without a display Qt aborts the whole process; say what to do instead.
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    from console.qt.desk import main as desk_main

    result: int = desk_main(argv)
    return result


if __name__ == "__main__":
    sys.exit(main())

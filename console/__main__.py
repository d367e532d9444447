"""``kaphila-console`` / ``python -m console``.

The operator window is not built yet (it is the next milestone); until it is,
this starts the Kaphila sandbox in the foreground so ``make run`` gives a new
user a working local Kaphila API to dial against at once.
"""

from __future__ import annotations

import sys

from console.sandbox.__main__ import main as sandbox_main


def main(argv: list[str] | None = None) -> int:
    print("Kaphila Console: the operator window is not built yet; "
          "starting the local Kaphila sandbox instead.", flush=True)
    return sandbox_main(argv)


if __name__ == "__main__":
    sys.exit(main())

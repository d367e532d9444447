"""``make package``: build the one-folder app and the one-file binary, then prove them.

    .venv/bin/python packaging/build.py [--onedir-only] [--skip-checks]

Writes ``dist/kaphila-console/`` (one folder) and ``dist/kaphila-console-onefile``
(one file), runs each build's ``--self-check``, times the start to an
interactive window (offscreen) and prints a table of sizes and times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "kaphila-console.spec"
DIST = ROOT / "dist"
TARGETS = {"onedir": 130.0, "onefile": 60.0}  # MB
START_TARGET = 1.5  # seconds


def pyinstaller(dist: Path, onefile: bool) -> Path:
    """Build into ``dist``; return the executable."""
    env = {**os.environ, "KAPHILA_ONEFILE": "1" if onefile else "0"}
    work = ROOT / "build" / ("onefile" if onefile else "onedir")
    distpath = dist / "onefile" if onefile else dist
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--workpath",
            str(work),
            "--distpath",
            str(distpath),
            str(SPEC),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    if not onefile:
        return dist / "kaphila-console" / "kaphila-console"
    binary = dist / "kaphila-console-onefile"
    (distpath / "kaphila-console").replace(binary)
    shutil.rmtree(distpath)
    return binary


def size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    # Symlinks (PyInstaller links Qt's libraries into the top folder) cost nothing.
    return (
        sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )


def private_env() -> dict[str, str]:
    """A throw-away home, so a check never touches the builder's own settings."""
    home = Path(tempfile.mkdtemp(prefix="kaphila-build-"))
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    env.pop("DISPLAY", None)
    return env


def self_check(binary: Path) -> bool:
    done = subprocess.run(
        [str(binary), "--self-check"],
        env=private_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    print(done.stdout, end="")
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
    return done.returncode == 0


def start_seconds(binary: Path, runs: int = 3) -> float:
    """Median time from exec to the window being shown (KAPHILA_STARTUP_PROBE)."""
    samples = []
    for _ in range(runs):
        env = {**private_env(), "KAPHILA_STARTUP_PROBE": "1"}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(binary)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "READY":
                samples.append(time.perf_counter() - started)
                break
        proc.wait(60)
    if not samples:
        raise SystemExit(f"{binary} never showed its window")
    return sorted(samples)[len(samples) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make package")
    parser.add_argument("--onedir-only", action="store_true")
    parser.add_argument("--skip-checks", action="store_true")
    parser.add_argument("--dist", type=Path, default=DIST, help="where the builds go")
    args = parser.parse_args(argv)
    print("building the one-folder app ...", flush=True)
    builds = {"onedir": pyinstaller(args.dist, onefile=False)}
    if not args.onedir_only:
        print("building the one-file binary ...", flush=True)
        builds["onefile"] = pyinstaller(args.dist, onefile=True)
    rows = []
    ok = True
    for kind, binary in builds.items():
        size = size_mb(binary.parent if kind == "onedir" else binary)
        line = (
            f"{kind}: {size:.1f} MB = {size * 1e6 / 2**20:.1f} MiB "
            f"(target <= {TARGETS[kind]:.0f} MB)"
        )
        if not args.skip_checks:
            print(f"self-check of the {kind} build:", flush=True)
            passed = self_check(binary)
            ok = ok and passed
            start = start_seconds(binary)
            line += (
                f", start to window {start:.2f} s (target <= {START_TARGET} s), "
                f"self-check {'passed' if passed else 'FAILED'}"
            )
        rows.append(line)
    print("\n".join(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The PyInstaller one-folder build: it builds from this tree and its
``--self-check`` passes, with no keyring and with a real Secret Service.

It takes ~30 s; ``KAPHILA_SKIP_PACKAGE=1 make test`` skips it locally. CI
runs it (``.ci/run`` is ``make test``)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_self_check import CHECKS, run_self_check

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.package,
    pytest.mark.skipif(
        os.environ.get("KAPHILA_SKIP_PACKAGE") == "1",
        reason="KAPHILA_SKIP_PACKAGE=1: the build test is skipped",
    ),
]


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "packaging" / "build.py"),
            "--onedir-only",
            "--skip-checks",
            "--dist",
            str(dist),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=900,
    )
    binary = dist / "kaphila-console" / "kaphila-console"
    assert binary.exists()
    yield binary
    shutil.rmtree(dist, ignore_errors=True)


@pytest.mark.timeout(900)
def test_the_one_folder_build_passes_its_self_check(frozen: Path, tmp_path: Path) -> None:
    done = run_self_check(
        [str(frozen)], tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[1].rstrip(":") for line in done.stdout.splitlines()] == list(CHECKS)


def test_the_build_carries_the_package_version(frozen: Path) -> None:
    done = subprocess.run(
        [str(frozen), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert done.stdout == f"kaphila-console {importlib.metadata.version('kaphila-console')}\n"


def test_the_build_leaves_out_what_the_console_does_not_use(frozen: Path) -> None:
    bundle = {p.name for p in frozen.parent.rglob("*")}
    for absent in (
        "libgtk-3.so.0",
        "libqgtk3.so",
        "translations",
        "libqeglfs.so",
        "geodata",
        "_codecs_jp.cpython-311-x86_64-linux-gnu.so",
    ):
        assert absent not in bundle, absent
    assert "libqxcb.so" in bundle
    assert "libqoffscreen.so" in bundle


def test_libraries_every_desktop_has_come_from_the_host(frozen: Path) -> None:
    bundle = {p.name for p in frozen.parent.rglob("*")}
    for host in (
        "libstdc++.so.6",
        "libglib-2.0.so.0",
        "libfontconfig.so.1",
        "libfreetype.so.6",
        "libX11.so.6",
        "libz.so.1",
    ):
        assert host not in bundle, host
    # ... and what only they needed goes with them (pcre2 came in for glib).
    assert "libpcre2-8.so.0" not in bundle
    assert "libQt6Core.so.6" in bundle


def test_icu_data_is_cut_to_what_qt_uses(frozen: Path) -> None:
    # The self-check's "icu" line proves what stays still works; this, that it shrank.
    (library,) = [p for p in frozen.parent.rglob("libicudata.so.*") if not p.is_symlink()]
    assert library.stat().st_size < 20_000_000  # the full data is 32 MB


def test_every_bundled_library_finds_what_it_links_against(frozen: Path) -> None:
    internal = frozen.parent / "_internal"
    env = {**os.environ, "LD_LIBRARY_PATH": str(internal)}  # as the bootloader sets it
    libraries = [p for p in internal.rglob("*.so*") if p.is_file()]
    assert len(libraries) > 50
    missing = {}
    for library in [frozen, *libraries]:
        done = subprocess.run(
            ["ldd", str(library)], env=env, capture_output=True, text=True, check=False
        )
        lost = [line.split()[0] for line in done.stdout.splitlines() if "not found" in line]
        if lost:
            missing[str(library.relative_to(frozen.parent))] = lost
    assert not missing
    links = [p for p in frozen.parent.rglob("*") if p.is_symlink()]
    assert links
    assert [p for p in links if not p.exists()] == []


@pytest.mark.skipif(
    not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
    reason="needs dbus-run-session and gnome-keyring (make test installs them)",
)
@pytest.mark.timeout(900)
def test_the_frozen_app_finds_a_real_secret_service(frozen: Path, tmp_path: Path) -> None:
    # Entry-point backends can go missing in a frozen app; this one must not.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "XDG_"))}
    env.update(
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        QT_QPA_PLATFORM="offscreen",
    )
    env.pop("DISPLAY", None)
    script = (
        "echo -n test-password | gnome-keyring-daemon --unlock --components=secrets "
        f">/dev/null && '{frozen}' --self-check"
    )
    done = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   keyring: the desktop keyring (Secret Service" in done.stdout
    assert "(keyring.backends.SecretService.Keyring)" in done.stdout

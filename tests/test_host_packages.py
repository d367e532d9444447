"""The README's list of what a build needs from the host is the list that
``packaging/clean-host.sh`` installs in a minimal Debian and proves; the two must
not drift apart."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def script_packages() -> set[str]:
    script = (ROOT / "packaging" / "clean-host.sh").read_text(encoding="utf-8")
    found = re.search(r"HOST_PACKAGES=\(([^)]*)\)", script)
    assert found, "HOST_PACKAGES=( ... ) not found in clean-host.sh"
    return set(found.group(1).split())


def readme_packages() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("**The host needs**")
    section = readme[start : readme.index("`sudo packaging/clean-host.sh`", start)]
    return {name for quoted in re.findall(r"`([^`]+)`", section) for name in quoted.split()}


def test_the_readme_lists_exactly_the_packages_the_clean_host_check_installs() -> None:
    assert len(script_packages()) >= 10
    assert readme_packages() == script_packages()


def test_the_readme_names_what_the_fresh_machine_check_starts_from() -> None:
    # "Both work on a fresh Debian machine with only `make` and `python3` added":
    # clean-host.sh fresh-test adds exactly those before make test.
    script = (ROOT / "packaging" / "clean-host.sh").read_text(encoding="utf-8")
    found = re.search(r"FRESH_PACKAGES=\(([^)]*)\)", script)
    assert found, "FRESH_PACKAGES=( ... ) not found in clean-host.sh"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    claim = re.search(r"fresh Debian machine with only (.*?) added", readme, re.DOTALL)
    assert claim, "the README's fresh-machine claim is gone"
    assert set(re.findall(r"`([^`]+)`", claim.group(1))) == set(found.group(1).split())
    assert "clean-host.sh fresh-test" in readme


# ---------------------------------------------------------------------------------
# packaging/sysdeps.sh installs what the interpreter in use needs: Debian's python3
# leaves the shared libpython3.X (PyInstaller bundles it) and ensurepip to packages
# of their own, which a Python built with a shared library hides (issue 11, A9).

SYSDEPS = ROOT / "packaging" / "sysdeps.sh"


def sysdeps(purpose: str, python: str) -> subprocess.CompletedProcess[str]:
    """``sysdeps.sh PURPOSE --list`` for ``$PYTHON=python``: what it would want."""
    return subprocess.run(
        ["bash", str(SYSDEPS), purpose, "--list"],
        env={**os.environ, "PYTHON": python},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def fake_python(tmp_path: Path, version: str, executable: str, shared: str) -> str:
    """An interpreter that answers sysdeps' probe as ``executable`` would."""
    fake = tmp_path / "python3"
    fake.write_text(f"#!/bin/sh\necho '{version} {executable} {shared}'\n")
    fake.chmod(0o755)
    return str(fake)


@pytest.mark.parametrize("version", ["3.11", "3.13"])
def test_debians_python_gets_its_shared_libpython_for_the_build_test(
    tmp_path: Path, version: str
) -> None:
    python = fake_python(tmp_path, version, f"/usr/bin/python{version}", "no")
    wanted = sysdeps("test", python).stdout.split()
    assert f"libpython{version}" in wanted
    assert f"python{version}-venv" in wanted
    assert "binutils" in wanted  # and the rest of the test mode's list
    # `make run` builds nothing, so it needs the venv module but not the library.
    wanted = sysdeps("run", python).stdout.split()
    assert f"python{version}-venv" in wanted
    assert f"libpython{version}" not in wanted


def test_a_python_without_a_shared_library_is_named_with_what_to_do(tmp_path: Path) -> None:
    python = fake_python(tmp_path, "3.12", "/opt/python/bin/python3.12", "no")
    done = sysdeps("test", python)
    assert not [name for name in done.stdout.split() if "python" in name]
    assert "/opt/python/bin/python3.12 (Python 3.12) has no shared libpython3.12" in done.stderr
    assert "--enable-shared" in done.stderr
    assert "KAPHILA_SKIP_PACKAGE=1 make test" in done.stderr
    assert "libpython" not in sysdeps("run", python).stderr


def test_a_python_with_a_shared_library_needs_no_package_for_it(tmp_path: Path) -> None:
    done = sysdeps("test", fake_python(tmp_path, "3.11", "/opt/python/bin/python3.11", "yes"))
    assert not [name for name in done.stdout.split() if "python" in name]
    assert done.stderr == ""


def test_no_python_yet_gets_debians_python3_with_its_venv_module(tmp_path: Path) -> None:
    wanted = sysdeps("test", str(tmp_path / "no-such-python")).stdout.split()
    assert "python3-venv" in wanted


def test_the_probe_finds_the_shared_library_where_pyinstaller_does() -> None:
    # The real interpreter of this test run, behind its venv: sysdeps' probe and
    # PyInstaller must agree on whether the build can find libpython.
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "from PyInstaller.depend import bindepend\n"
            "try:\n    print(bindepend.get_python_library_path())\n"
            "except bindepend.PythonLibraryNotFoundError:\n    print('')",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    version = "{}.{}".format(*sys.version_info[:2])
    done = sysdeps("test", sys.executable)
    if re.fullmatch(r"/usr/bin/python3\.\d+", base):
        assert f"libpython{version}" in done.stdout.split()
    else:
        assert ("has no shared libpython" in done.stderr) is (not found), (found, done.stderr)


@pytest.mark.skipif(
    not Path("/usr/bin/python3").exists() or not shutil.which("dpkg-query"),
    reason="needs Debian's /usr/bin/python3",
)
def test_debians_own_python3_gets_libpython() -> None:
    version = subprocess.run(
        ["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    wanted = sysdeps("test", "/usr/bin/python3").stdout.split()
    assert f"libpython{version}" in wanted
    assert f"python{version}-venv" in wanted

"""The README's list of what a build needs from the host is the list that
``packaging/clean-host.sh`` installs in a minimal Debian and proves; the two must
not drift apart."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def script_packages() -> set[str]:
    script = (ROOT / "packaging" / "clean-host.sh").read_text(encoding="utf-8")
    found = re.search(r"HOST_PACKAGES=\(([^)]*)\)", script)
    assert found, "HOST_PACKAGES=( ... ) not found in clean-host.sh"
    return set(found.group(1).split())


def readme_packages() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("**The host needs**")
    section = readme[start:readme.index("`sudo packaging/clean-host.sh`", start)]
    return {name for quoted in re.findall(r"`([^`]+)`", section) for name in quoted.split()}


def test_the_readme_lists_exactly_the_packages_the_clean_host_check_installs() -> None:
    assert len(script_packages()) >= 10
    assert readme_packages() == script_packages()

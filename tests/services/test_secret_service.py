"""One test against a real Secret Service: gnome-keyring on a private D-Bus.

`make test` installs gnome-keyring (packaging/sysdeps.sh); on a machine
without it and without root this test is skipped and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = r"""
import json, os, keyring
from console.services.secrets import open_secret_store, KeyringStore
opened = open_secret_store()
store = opened.store
result = {"warning": str(opened.warning) if opened.warning else None, "store": type(store).__name__,
          "backend": type(keyring.get_keyring()).__module__}
if isinstance(store, KeyringStore):
    store.set("Live", os.environ["SECRET"])
    result["read_back"] = store.get("Live") == os.environ["SECRET"]
    store.delete("Live")
    result["after_delete"] = store.get("Live")
print(json.dumps(result))
"""


@pytest.mark.skipif(
    not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
    reason="needs dbus-run-session and gnome-keyring (make test installs them when run as root)",
)
def test_the_key_round_trips_through_a_real_secret_service(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = home / ".config"
    config.mkdir(parents=True)
    secret = "ak_never_on_disk_0123456789"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "XDG_"))},
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(config),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "SECRET": secret,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    script = (
        "echo -n test-password | gnome-keyring-daemon --unlock --components=secrets "
        f'>/dev/null && {sys.executable} -c "$CHILD_CODE"'
    )
    env["CHILD_CODE"] = CHILD
    out = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["store"] == "KeyringStore", result
    assert result["backend"] == "keyring.backends.SecretService"
    assert result["warning"] is None
    assert result["read_back"] is True
    assert result["after_delete"] is None
    for path in config.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"the key landed in {path}"

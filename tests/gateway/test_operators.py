"""``kaphila-gateway operators add|list|remove``: tokens shown once, kept hashed,
in the NATS every gateway uses (issue 13's first piece; not yet enforced)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nats

from console.gateway import operators


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.gateway", "operators", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_add_list_and_remove_through_nats(nats_url: str) -> None:
    added = cli("add", "ana", "--role", "supervisor", "--nats", nats_url)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("kgo_")
    assert len(token) > 40
    assert cli("add", "bo", "--nats", nats_url).returncode == 0
    twice = cli("add", "ana", "--nats", nats_url)
    assert (twice.returncode, twice.stderr.strip()) == (
        1,
        "kaphila-gateway operators: an operator named ana exists; remove it first",
    )
    listed = cli("list", "--nats", nats_url)
    assert listed.stdout.split() == ["ana", "supervisor", "bo", "operator"]

    nc = await nats.connect(nats_url)
    try:
        kv = await operators.bucket(nc.jetstream())
        found = await operators.who(kv, token)
        assert found is not None
        assert (found.name, found.role) == ("ana", "supervisor")
        # The store keeps only the token's hash.
        for key in await kv.keys():
            value = (await kv.get(key)).value or b""
            assert token not in key
            assert token.encode() not in value
        assert cli("remove", "ana", "--nats", nats_url).returncode == 0
        assert await operators.who(kv, token) is None
    finally:
        await nc.close()
    assert cli("list", "--nats", nats_url).stdout.split() == ["bo", "operator"]
    gone = cli("remove", "ana", "--nats", nats_url)
    assert (gone.returncode, gone.stderr.strip()) == (
        1,
        "kaphila-gateway operators: there is no operator named ana",
    )


def test_a_gateways_own_store_under_data(tmp_path: Path) -> None:
    assert cli("add", "cy", "--data", str(tmp_path)).returncode == 0
    assert cli("list", "--data", str(tmp_path)).stdout.split() == ["cy", "operator"]


def test_bad_input_is_one_clear_line(nats_url: str) -> None:
    nowhere = cli("list")
    assert nowhere.returncode == 1
    assert "give --nats URL, or the --data DIR" in nowhere.stderr
    bad = cli("add", "no spaces", "--nats", nats_url)
    assert bad.returncode == 1
    assert "is not a usable name" in bad.stderr
    role = cli("add", "x", "--role", "boss", "--nats", nats_url)
    assert role.returncode == 2  # argparse: invalid choice

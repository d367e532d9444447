"""The gateway secret: where it comes from, what is derived from it, and that it
never shows (logs, reprs, errors)."""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from console.gateway.secrets import (
    ENV_VAR,
    SECRET_FILE_NAME,
    GatewaySecret,
    SealError,
    SecretError,
    encode_secret,
    load_secret,
)

RAW = bytes(range(32))
TEXT = encode_secret(RAW)


def test_a_sealed_value_does_not_contain_the_plain_text() -> None:
    sealer = load_secret(environ={ENV_VAR: TEXT}).sealer()
    sealed = sealer.seal("ak_live_key_123")
    assert "ak_live_key_123" not in sealed
    assert sealer.seal("ak_live_key_123") != sealed  # fresh each time
    assert sealer.open(sealed) == "ak_live_key_123"


def test_opening_under_another_secret_fails_clearly() -> None:
    sealed = load_secret(environ={ENV_VAR: TEXT}).sealer().seal("ak_live_key_123")
    other = load_secret(environ={ENV_VAR: encode_secret(b"\x01" * 32)}).sealer()
    with pytest.raises(SealError, match="sealed under another gateway secret") as caught:
        other.open(sealed)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    with pytest.raises(SealError):
        other.open("not even a token")


def test_the_mac_key_and_the_seal_key_differ_and_are_stable() -> None:
    first = load_secret(environ={ENV_VAR: TEXT})
    again = load_secret(environ={ENV_VAR: TEXT + "=="})  # padding is optional
    assert first.mac_key() == again.mac_key()
    assert len(first.mac_key()) == 32
    assert first.mac_key() != RAW
    sealed = first.sealer().seal("x")
    assert again.sealer().open(sealed) == "x"


def test_nothing_secret_shows_in_reprs() -> None:
    secret = load_secret(environ={ENV_VAR: TEXT})
    for shown in (repr(secret), str(secret), repr(secret.sealer())):
        assert TEXT not in shown
        assert repr(RAW) not in shown
        assert "hidden" in shown


def test_a_short_secret_is_refused_without_showing_it() -> None:
    short = encode_secret(b"s3cr3t-but-short")
    with pytest.raises(SecretError, match="needs at least 32") as caught:
        load_secret(environ={ENV_VAR: short})
    assert short not in str(caught.value)
    with pytest.raises(SecretError, match="not urlsafe base64"):
        load_secret(environ={ENV_VAR: "!!!not base64!!!"})


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "credential"
    path.write_text(encode_secret(b"\x02" * 40) + "\n")
    from_file = load_secret(secret_file=path, environ={})
    assert from_file.raw == b"\x02" * 40
    assert from_file.source == f"file {path}"
    assert load_secret(secret_file=path, environ={ENV_VAR: TEXT}).raw == RAW


def test_a_missing_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match=r"cannot read the secret file .*missing"):
        load_secret(secret_file=tmp_path / "missing", environ={})


def test_with_data_a_secret_is_made_once_private_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        first = load_secret(data=tmp_path, environ={})
    path = tmp_path / SECRET_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "in production pass it" in caplog.text
    assert path.read_text().strip() not in caplog.text
    caplog.clear()
    again = load_secret(data=tmp_path, environ={})
    assert again.raw == first.raw
    assert "generated" not in caplog.text
    assert os.listdir(tmp_path) == [SECRET_FILE_NAME]  # no leftovers


def test_gateways_starting_together_on_one_directory_agree(tmp_path: Path) -> None:
    found: list[GatewaySecret] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        found.append(load_secret(data=tmp_path, environ={}))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({secret.raw for secret in found}) == 1
    assert os.listdir(tmp_path) == [SECRET_FILE_NAME]


def test_without_any_source_the_secret_is_ephemeral_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        one = load_secret(environ={})
    assert one.source == "ephemeral"
    assert "ephemeral" in caplog.text
    assert load_secret(environ={}).raw != one.raw


def test_a_secret_file_every_user_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "credential"
    path.write_text(TEXT)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        load_secret(secret_file=path, environ={})
    assert "readable by every user" in caplog.text
    assert TEXT not in caplog.text

"""An auditor with only the old public key accepts batches signed by the new key when
given the rotation statement that the old key signed (keys/README.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cluetool import keys
from cluetool.api import verify
from cluetool.errors import InputError
from tests.batch_helpers import NOW, make_home, seal_spool, write_spool


def _rotated(tmp_path: Path) -> tuple[Path, Path, Path]:
    kh = make_home(tmp_path / "intake")
    old_pub = tmp_path / "old.pub"
    shutil.copy(kh.pub, old_pub)
    keys.rotate(kh.home, kh.name, now=NOW)
    write_spool(tmp_path / "spool", 2, seed=9401)
    [batch] = seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches
    carried = tmp_path / "carried"
    carried.mkdir()
    shutil.copy(kh.pub, carried / "main.pub")
    shutil.copy(kh.home.keys_dir / "main.rotation.minisig", carried / "main.rotation.minisig")
    return Path(batch.path), old_pub, carried / "main.rotation.minisig"


def test_verify_rotation_statement_admits_the_new_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUETOOL_HOME", raising=False)
    batch, old_pub, statement = _rotated(tmp_path)
    without = verify([batch], signer_files=[old_pub])
    assert [p.code for p in without.problems] == ["signature.untrusted"]
    report = verify([batch], signer_files=[old_pub], rotations=[statement])
    assert report.ok, report.problems


def test_verify_rotation_statement_from_an_untrusted_key_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUETOOL_HOME", raising=False)
    batch, _old_pub, statement = _rotated(tmp_path)
    stranger = make_home(tmp_path / "stranger")
    with pytest.raises(InputError, match="not signed by a key trusted"):
        verify([batch], signer_files=[stranger.pub], rotations=[statement])


def test_verify_rotation_statement_for_another_key_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUETOOL_HOME", raising=False)
    batch, old_pub, statement = _rotated(tmp_path)
    other = make_home(tmp_path / "other")
    shutil.copy(other.pub, statement.with_name("main.pub"))  # the statement names a different key
    with pytest.raises(InputError):
        verify([batch], signer_files=[old_pub], rotations=[statement])

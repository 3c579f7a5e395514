"""The keystore (keys/README.md): key files and their modes, loading and refusing keys,
passphrase-protected keys (low test-only cost), trust, rotation, and interop with the
real ``minisign`` and ``age`` CLIs."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from cluetool import keys
from cluetool.api import verify
from cluetool.config import Home, init_home
from cluetool.errors import ClueError, InputError, StateError
from cluetool.formats import age, minisign
from cluetool.model.batch import key_id_hex16
from tests.batch_helpers import LOW_COST, NOW, SOURCE, KeyHome, make_home, make_receiver, seal_spool, write_spool
from tests.conftest import require_tool

PASSPHRASE = b"correct horse battery staple"


@pytest.fixture
def kh(tmp_path: Path) -> KeyHome:
    return make_home(tmp_path / "home")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_no_secret(text: str, kh: KeyHome) -> None:
    assert "AGE-SECRET-KEY" not in text.upper()
    for secret in kh.secret_texts():
        assert secret not in text
        assert secret[10:40] not in text


def _run(args: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, timeout=30, stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)  # type: ignore[call-overload]


# --------------------------------------------------------------------------- generate


def test_keys_generate_writes_four_files_with_private_modes(kh: KeyHome) -> None:
    d = kh.home.keys_dir
    assert sorted(p.name for p in d.iterdir()) == ["main.age", "main.age.pub", "main.key", "main.pub"]
    assert _mode(d) == 0o700
    assert _mode(kh.key_file) == 0o600 and _mode(kh.age_file) == 0o600
    assert _mode(kh.pub) == 0o644 and _mode(kh.age_pub) == 0o644


def test_keys_generate_files_are_real_minisign_and_age(kh: KeyHome) -> None:
    pub = minisign.PublicKey.parse(kh.pub.read_text())
    sk = minisign.SecretKey.parse(kh.key_file.read_text(), None)
    assert sk.public_key.key_id == pub.key_id and sk.public_key.to_base64() == pub.to_base64()
    assert kh.info.key_id == key_id_hex16(pub.key_id) and re.fullmatch(r"[0-9A-F]{16}", kh.info.key_id)
    assert kh.info.minisign_public_key == kh.pub.read_text().splitlines()[1]
    age_text = kh.age_file.read_text()
    assert age_text.startswith("# created: 2026-11-24T02:00:00Z\n")
    (ident,) = age.parse_identities(age_text)
    assert str(ident.recipient) == kh.info.age_recipient == kh.age_pub.read_text().strip()
    assert kh.info.protected is False


def test_keys_generate_twice_raises_input_error_and_keeps_files(kh: KeyHome) -> None:
    before = {p.name: p.read_bytes() for p in kh.home.keys_dir.iterdir()}
    with pytest.raises(InputError, match="already exists") as err:
        keys.generate(kh.home, "main", now=NOW)
    assert err.value.hint and "rotate" in err.value.hint
    assert {p.name: p.read_bytes() for p in kh.home.keys_dir.iterdir()} == before


def test_keys_generate_partial_leftover_refused(kh: KeyHome) -> None:
    kh.home.keys_dir.joinpath("half.age.pub").write_text("age1x\n")
    with pytest.raises(InputError, match="already exists"):
        keys.generate(kh.home, "half", now=NOW)


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_keys_generate_invalid_name_raises_input_error(kh: KeyHome, name: str) -> None:
    with pytest.raises(InputError, match="invalid key name"):
        keys.generate(kh.home, name, now=NOW)


def test_keys_generate_without_home_raises_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="no cluetool home"):
        keys.generate(Home(tmp_path / "nohome"), "main", now=NOW)
    assert not (tmp_path / "nohome").exists()


def test_keys_list_show_export(kh: KeyHome) -> None:
    second = keys.generate(kh.home, "backup", now=NOW)
    listed = keys.list_keys(kh.home)
    assert [k.name for k in listed] == ["backup", "main"]
    assert listed[1] == keys.show(kh.home, "main") == kh.info
    assert listed[0] == second and second.key_id != kh.info.key_id
    assert keys.export_public(kh.home, "main", kind="age") == f"{kh.info.age_recipient}\n"
    assert keys.export_public(kh.home, "main", kind="minisign") == kh.pub.read_text()
    with pytest.raises(InputError, match="unknown export kind"):
        keys.export_public(kh.home, "main", kind="ssh")
    with pytest.raises(StateError, match="not found"):
        keys.show(kh.home, "nosuch")


def test_keys_list_empty_home(tmp_path: Path) -> None:
    assert keys.list_keys(init_home(tmp_path / "h")) == []


# --------------------------------------------------------------------------- refusing keys


@pytest.mark.parametrize("which", ["key", "age"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_keys_group_or_world_readable_secret_refused(kh: KeyHome, which: str, mode: int) -> None:
    path = kh.key_file if which == "key" else kh.age_file
    os.chmod(path, mode)
    with pytest.raises(StateError) as err:
        keys.load_signing_key(kh.home, "main") if which == "key" else keys.load_identity(kh.home, "main")
    assert str(path) in err.value.message and f"{mode:04o}" in err.value.message
    assert err.value.hint and "chmod 600" in err.value.hint
    assert_no_secret(err.value.message + err.value.hint, kh)


def test_keys_symlinked_secret_refused(kh: KeyHome, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.key"
    shutil.move(kh.key_file, target)
    kh.key_file.symlink_to(target)
    with pytest.raises(StateError, match="not a regular file"):
        keys.load_signing_key(kh.home, "main")


def test_keys_corrupted_secret_error_has_no_key_material(kh: KeyHome) -> None:
    secrets = kh.secret_texts()
    lines = kh.key_file.read_text().splitlines()
    lines[1] = lines[1][:-6] + ("AAAAAA" if not lines[1].endswith("AAAAAA") else "BBBBBB")
    kh.key_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(ClueError) as err:
        keys.load_signing_key(kh.home, "main")
    text = err.value.message + (err.value.hint or "")
    assert str(kh.key_file) in text and "\n" not in err.value.message
    assert "AGE-SECRET-KEY" not in text and all(s[10:40] not in text for s in secrets)
    kh.age_file.write_text(kh.age_file.read_text().replace("AGE-SECRET-KEY-1", "AGE-SECRET-KEY-1Q"))
    with pytest.raises(InputError) as err2:
        keys.load_identity(kh.home, "main")
    assert "AGE-SECRET-KEY" not in err2.value.message.upper() and all(s[10:40] not in err2.value.message for s in secrets)


def test_keys_missing_secret_raises_state_error(kh: KeyHome) -> None:
    kh.key_file.unlink()
    with pytest.raises(StateError, match="not found"):
        keys.load_signing_key(kh.home, "main")


# --------------------------------------------------------------------------- passphrases


def test_read_passphrase_file_env_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "pw"
    f.write_bytes(b"s3cret\n")
    f.chmod(0o600)
    assert keys.read_passphrase(f, None) == b"s3cret"
    f.write_bytes(b"s3cret\r\n")
    assert keys.read_passphrase(f, None) == b"s3cret"
    f.write_bytes(b"two\n\n")
    assert keys.read_passphrase(f, None) == b"two\n"  # only one trailing newline is dropped
    monkeypatch.setenv("CT_PW", "from-env")
    assert keys.read_passphrase(None, "CT_PW") == b"from-env"
    assert keys.read_passphrase(None, None) is None
    with pytest.raises(InputError, match="not both"):
        keys.read_passphrase(f, "CT_PW")
    monkeypatch.delenv("CT_PW")
    with pytest.raises(InputError, match="CT_PW is not set"):
        keys.read_passphrase(None, "CT_PW")
    f.write_bytes(b"\n")
    with pytest.raises(InputError, match="empty"):
        keys.read_passphrase(f, None)
    with pytest.raises(InputError, match="cannot read passphrase file"):
        keys.read_passphrase(tmp_path / "nope", None)


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> KeyHome:
    """The suite's one protected key, at a low test-only scrypt cost."""
    home = init_home(tmp_path_factory.mktemp("protected") / "home")
    info = keys.generate(home, "guarded", now=NOW, passphrase=PASSPHRASE, scrypt_cost=LOW_COST)
    return KeyHome(home=home, name="guarded", info=info)


def test_keys_protected_files_are_encrypted(protected: KeyHome) -> None:
    assert protected.info.protected is True and keys.show(protected.home, "guarded").protected is True
    with pytest.raises(minisign.PassphraseRequiredError):
        minisign.SecretKey.parse(protected.key_file.read_text(), None)
    text = protected.age_file.read_text()
    assert text.startswith("-----BEGIN AGE ENCRYPTED FILE-----") and "AGE-SECRET-KEY" not in text
    assert _mode(protected.key_file) == 0o600 and _mode(protected.age_file) == 0o600


def test_keys_protected_load_with_passphrase(protected: KeyHome) -> None:
    sk = keys.load_signing_key(protected.home, "guarded", PASSPHRASE)
    assert key_id_hex16(sk.public_key.key_id) == protected.info.key_id
    ident = keys.load_identity(protected.home, "guarded", PASSPHRASE)
    assert str(ident.recipient) == protected.info.age_recipient


def test_keys_protected_without_or_wrong_passphrase_refused(protected: KeyHome) -> None:
    with pytest.raises(InputError) as err:
        keys.load_signing_key(protected.home, "guarded")
    assert err.value.hint and "--passphrase-file" in err.value.hint and "--passphrase-env" in err.value.hint
    with pytest.raises(InputError, match="protected"):
        keys.load_identity(protected.home, "guarded")
    for loader in (keys.load_signing_key, keys.load_identity):
        with pytest.raises(InputError) as wrong:
            loader(protected.home, "guarded", b"not-the-one-xyz")
        assert "not-the-one-xyz" not in wrong.value.message and PASSPHRASE.decode() not in wrong.value.message
        assert str(protected.home.keys_dir) in wrong.value.message


def test_keys_protected_key_seals_and_decrypts(protected: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=301)
    report = seal_spool(protected, tmp_path / "spool", tmp_path / "out", passphrase=PASSPHRASE)
    path = Path(report.batches[0].path)
    result = verify([path], home=protected.home, signer_files=[protected.pub], decrypt=True, identity="guarded",
                    passphrase=PASSPHRASE)
    assert result.ok and result.batches[0].decrypted


def test_keys_protected_rotation_keeps_protection(protected: KeyHome, tmp_path: Path) -> None:
    home = Home(tmp_path / "copy")
    shutil.copytree(protected.root, home.root)
    keys.rotate(home, "guarded", now=NOW, passphrase=PASSPHRASE, new_passphrase=PASSPHRASE, scrypt_cost=LOW_COST)
    info = keys.show(home, "guarded")
    assert info.protected and info.key_id != protected.info.key_id
    assert keys.load_identity(home, "guarded", PASSPHRASE).recipient is not None


# --------------------------------------------------------------------------- rotation and trust


@pytest.fixture
def rotated(kh: KeyHome) -> tuple[KeyHome, keys.KeyInfo, Path]:
    """(the sender, its old key info, the retired old public key file) after one rotation."""
    old = kh.info
    keys.rotate(kh.home, "main", now=NOW)
    kh.info = keys.show(kh.home, "main")
    return kh, old, kh.home.keys_dir / "retired" / f"main-{old.key_id}.pub"


def test_keys_rotate_new_key_and_old_files_retired(kh: KeyHome) -> None:
    before = {p.name: p.read_bytes() for p in kh.home.keys_dir.iterdir() if p.is_file()}
    old = kh.info
    new = keys.rotate(kh.home, "main", now=NOW)
    assert new.new_key_id != old.key_id and new.new_age_recipient != old.age_recipient
    assert new.old_key_id == old.key_id and new.old_age_recipient == old.age_recipient
    retired = kh.home.keys_dir / "retired"
    assert _mode(retired) == 0o700
    for name, data in before.items():
        assert (retired / f"main-{old.key_id}{name[len('main'):]}").read_bytes() == data
    assert _mode(retired / f"main-{old.key_id}.key") == 0o600
    assert _mode(kh.key_file) == 0o600 and _mode(kh.age_file) == 0o600
    assert keys.show(kh.home, "main").key_id == new.new_key_id
    assert (kh.home.keys_dir / "main.rotation.minisig").is_file()


def test_keys_rotation_statement_verifies_with_old_key(rotated: tuple[KeyHome, keys.KeyInfo, Path]) -> None:
    kh, old, old_pub = rotated
    statement = (kh.home.keys_dir / "main.rotation.minisig").read_text()
    sig = minisign.verify(minisign.PublicKey.parse(old_pub.read_text()), kh.pub.read_bytes(), statement)
    assert sig.trusted_comment == f"cluetool-key-rotation/1 old={old.key_id} new={kh.info.key_id} at=2026-11-24T02:00:00Z"
    with pytest.raises(minisign.InvalidSignature):
        minisign.verify(kh.public_key(), kh.pub.read_bytes(), statement)


def test_keys_rotation_statement_verifies_with_minisign_cli(rotated: tuple[KeyHome, keys.KeyInfo, Path]) -> None:
    tool = require_tool("minisign")
    kh, old, old_pub = rotated
    d = kh.home.keys_dir
    r = _run([tool, "-V", "-p", str(old_pub), "-m", str(d / "main.pub"), "-x", str(d / "main.rotation.minisig")])
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert f"Trusted comment: cluetool-key-rotation/1 old={old.key_id} new={kh.info.key_id} at=" in out
    # the new key cannot vouch for itself
    r = _run([tool, "-V", "-p", str(d / "main.pub"), "-m", str(d / "main.pub"), "-x", str(d / "main.rotation.minisig")])
    assert r.returncode != 0


def test_keys_trust_rotation_accepted_and_new_batches_verify(rotated: tuple[KeyHome, keys.KeyInfo, Path], tmp_path: Path) -> None:
    kh, old, old_pub = rotated
    receiver = make_receiver(tmp_path / "receiver", SOURCE, old_pub)
    write_spool(tmp_path / "spool", 1, seed=302)
    (batch,) = seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches
    before = verify([Path(batch.path)], home=receiver)
    assert [p.code for p in before.problems] == ["signature.untrusted"]

    result = keys.trust(receiver, SOURCE, kh.pub, rotation=kh.home.keys_dir / "main.rotation.minisig")
    assert (result.key_id, result.rotation_from, result.already_trusted) == (kh.info.key_id, old.key_id, False)
    trusted = receiver.trusted_dir / SOURCE
    assert sorted(p.name for p in trusted.iterdir()) == sorted(
        [f"{old.key_id}.pub", f"{old.key_id}.json", f"{kh.info.key_id}.pub", f"{kh.info.key_id}.json",
         f"{kh.info.key_id}.rotation.minisig"])
    assert verify([Path(batch.path)], home=receiver).ok


def test_keys_batches_across_a_rotation_form_one_chain(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=303)
    (first,) = seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches
    receiver = make_receiver(tmp_path / "receiver", SOURCE, kh.pub)
    old_id = kh.info.key_id
    keys.rotate(kh.home, "main", now=NOW)
    kh.info = keys.show(kh.home, "main")
    # Within the grace period both keys are trusted, so the run verifies across the rotation.
    keys.trust(receiver, SOURCE, kh.pub, rotation=kh.home.keys_dir / "main.rotation.minisig", now=NOW,
               grace=timedelta(days=7))
    write_spool(tmp_path / "spool", 1, seed=304)
    (second,) = seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches
    assert second.sequence == 2
    with freeze_time(NOW + timedelta(days=6)):
        report = verify([Path(first.path), Path(second.path)], home=receiver, chain=True)
    assert report.ok, report.problems
    assert [c.signer for c in report.batches] == [old_id, kh.info.key_id] and old_id != kh.info.key_id


def test_keys_trust_rotation_signed_by_untrusted_key_rejected(rotated: tuple[KeyHome, keys.KeyInfo, Path], tmp_path: Path) -> None:
    kh, _old, _old_pub = rotated
    stranger = make_home(tmp_path / "stranger")
    receiver = make_receiver(tmp_path / "receiver", SOURCE, stranger.pub)  # trusts someone else only
    with pytest.raises(InputError, match="not signed by a trusted key"):
        keys.trust(receiver, SOURCE, kh.pub, rotation=kh.home.keys_dir / "main.rotation.minisig")
    assert not (receiver.trusted_dir / SOURCE / f"{kh.info.key_id}.pub").exists()


def test_keys_trust_rotation_forged_by_stranger_rejected(rotated: tuple[KeyHome, keys.KeyInfo, Path], tmp_path: Path) -> None:
    kh, old, old_pub = rotated
    receiver = make_receiver(tmp_path / "receiver", SOURCE, old_pub)
    stranger = make_home(tmp_path / "stranger")
    forged = tmp_path / "forged.minisig"
    forged.write_text(minisign.sign(
        stranger.secret_key(), stranger.pub.read_bytes(),
        trusted_comment=f"cluetool-key-rotation/1 old={old.key_id} new={stranger.info.key_id} at=2026-11-24T02:00:00Z",
    ))
    with pytest.raises(InputError, match="not signed by a trusted key"):
        keys.trust(receiver, SOURCE, stranger.pub, rotation=forged)


def test_keys_trust_rotation_naming_another_key_rejected(rotated: tuple[KeyHome, keys.KeyInfo, Path], tmp_path: Path) -> None:
    kh, old, old_pub = rotated
    receiver = make_receiver(tmp_path / "receiver", SOURCE, old_pub)
    old_sk = minisign.SecretKey.parse((kh.home.keys_dir / "retired" / f"main-{old.key_id}.key").read_text(), None)
    lie = tmp_path / "lie.minisig"
    lie.write_text(minisign.sign(
        old_sk, kh.pub.read_bytes(),
        trusted_comment=f"cluetool-key-rotation/1 old={old.key_id} new=0123456789ABCDEF at=2026-11-24T02:00:00Z",
    ))
    with pytest.raises(InputError, match="does not name this key"):
        keys.trust(receiver, SOURCE, kh.pub, rotation=lie)
    odd = tmp_path / "odd.minisig"
    odd.write_text(minisign.sign(old_sk, kh.pub.read_bytes(), trusted_comment="I hereby rotate"))
    with pytest.raises(InputError, match="unexpected trusted comment"):
        keys.trust(receiver, SOURCE, kh.pub, rotation=odd)


def test_keys_trust_rotation_for_other_public_key_rejected(rotated: tuple[KeyHome, keys.KeyInfo, Path], tmp_path: Path) -> None:
    kh, _old, old_pub = rotated
    receiver = make_receiver(tmp_path / "receiver", SOURCE, old_pub)
    stranger = make_home(tmp_path / "stranger")
    with pytest.raises(InputError):
        keys.trust(receiver, SOURCE, stranger.pub, rotation=kh.home.keys_dir / "main.rotation.minisig")


def test_keys_trust_rotation_with_nothing_trusted_rejected(rotated: tuple[KeyHome, keys.KeyInfo, Path], tmp_path: Path) -> None:
    kh, _old, _old_pub = rotated
    receiver = init_home(tmp_path / "receiver")
    with pytest.raises(InputError, match="no key is trusted"):
        keys.trust(receiver, SOURCE, kh.pub, rotation=kh.home.keys_dir / "main.rotation.minisig")
    with pytest.raises(InputError, match="cannot read rotation statement"):
        keys.trust(receiver, SOURCE, kh.pub, rotation=tmp_path / "missing.minisig")


def test_keys_trust_plain_idempotent_and_errors(kh: KeyHome, tmp_path: Path) -> None:
    receiver = init_home(tmp_path / "receiver")
    first = keys.trust(receiver, SOURCE, kh.pub)
    again = keys.trust(receiver, SOURCE, kh.pub)
    assert (first.already_trusted, again.already_trusted) == (False, True)
    assert Path(first.path) == receiver.trusted_dir / SOURCE / f"{kh.info.key_id}.pub"
    assert [key_id_hex16(k.key_id) for k in keys.trusted_keys(receiver, SOURCE)] == [kh.info.key_id]
    assert keys.trusted_keys(receiver, "intake-other") == []
    with pytest.raises(InputError, match="invalid source"):
        keys.trust(receiver, "Bad_Source", kh.pub)
    with pytest.raises(InputError, match="cannot read public key"):
        keys.trust(receiver, SOURCE, tmp_path / "missing.pub")
    with pytest.raises(InputError) as err:
        keys.trust(receiver, SOURCE, kh.key_file)  # a secret key is not a public key
    assert_no_secret(err.value.message, kh)


# --------------------------------------------------------------------------- interop with the real CLIs


def test_keys_secret_key_usable_by_minisign_cli(kh: KeyHome, tmp_path: Path) -> None:
    tool = require_tool("minisign")
    msg = tmp_path / "message.txt"
    msg.write_bytes(b"signed by minisign with a cluetool key\n")
    r = _run([tool, "-S", "-s", str(kh.key_file), "-m", str(msg), "-t", "interop"])
    assert r.returncode == 0, r.stderr
    sig_text = (tmp_path / "message.txt.minisig").read_text()
    assert minisign.verify(kh.public_key(), msg.read_bytes(), sig_text).trusted_comment == "interop"
    r = _run([tool, "-V", "-p", str(kh.pub), "-m", str(msg)])
    assert r.returncode == 0, r.stderr


def test_keys_identity_usable_by_age_cli(kh: KeyHome, tmp_path: Path) -> None:
    tool = require_tool("age")
    plain = b"for the platform only\n" * 100
    enc = tmp_path / "msg.age"
    r = _run([tool, "-e", "-R", str(kh.age_pub), "-o", str(enc)], stdin=None, input=plain)
    assert r.returncode == 0, r.stderr
    r = _run([tool, "-d", "-i", str(kh.age_file), str(enc)])
    assert r.returncode == 0 and r.stdout == plain, r.stderr
    import io

    out = io.BytesIO()
    age.decrypt(io.BytesIO(enc.read_bytes()), out, [kh.identity()])
    assert out.getvalue() == plain

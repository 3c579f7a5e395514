"""``cluetool init`` and ``cluetool keys …``: exit codes, parsed stdout, one-line errors
that never carry key material, and no prompt ever (CliRunner gives no input)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cluetool import keys
from cluetool.cli import app
from cluetool.config import init_home
from cluetool.formats import minisign
from cluetool.model.batch import key_id_hex16
from tests.batch_helpers import LOW_COST, NOW, SOURCE, KeyHome, make_home, make_receiver, write_spool

runner = CliRunner()  # this typer's runner keeps stdout and stderr apart (no mix_stderr option)


def invoke(args: list[str], home: Path | None, **env: str | None) -> Result:
    full_env: dict[str, str | None] = {"CLUETOOL_HOME": str(home) if home else None, "CLUETOOL_DEBUG": None}
    full_env.update(env)
    return runner.invoke(app, args, env=full_env, catch_exceptions=False)


def assert_error(result: Result, code: int, *needles: str) -> str:
    """Exit ``code``; stderr is ``cluetool: error: …`` (one line) plus at most a hint line."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("cluetool: error: "), result.stderr
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("cluetool: hint: ")), result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def assert_no_secret(text: str, *khs: KeyHome) -> None:
    assert "AGE-SECRET-KEY" not in text.upper()
    for kh in khs:
        for secret in kh.secret_texts():
            assert secret not in text and secret[10:40] not in text


@pytest.fixture
def kh(tmp_path: Path) -> KeyHome:
    return make_home(tmp_path / "home")


# --------------------------------------------------------------------------- init and generate


def test_cli_init_creates_private_home(tmp_path: Path) -> None:
    result = invoke(["init", "--home", str(tmp_path / "h")], None)
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr.startswith("cluetool: home ready at ")
    for d in ("", "keys", "trusted", "state"):
        assert stat.S_IMODE((tmp_path / "h" / d).stat().st_mode) == 0o700
    again = invoke(["init"], tmp_path / "h")
    assert again.exit_code == 0


def test_cli_keys_generate_json_and_files(tmp_path: Path) -> None:
    home = init_home(tmp_path / "h").root
    result = invoke(["keys", "generate", "main", "-f", "json"], home)
    assert result.exit_code == 0 and result.stderr == ""
    doc = json.loads(result.stdout)
    assert set(doc) == {"name", "key_id", "minisign_public_key", "age_recipient", "protected"}
    assert doc["name"] == "main" and doc["protected"] is False and doc["age_recipient"].startswith("age1")
    d = home / "keys"
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in d.iterdir()}
    assert modes == {"main.key": 0o600, "main.age": 0o600, "main.pub": 0o644, "main.age.pub": 0o644}
    assert key_id_hex16(minisign.PublicKey.parse((d / "main.pub").read_text()).key_id) == doc["key_id"]
    kh = KeyHome(home=init_home(home), name="main", info=keys.show(init_home(home), "main"))
    assert_no_secret(result.stdout, kh)


def test_cli_keys_generate_table_default(tmp_path: Path) -> None:
    home = init_home(tmp_path / "h").root
    result = invoke(["keys", "generate", "main"], home)
    assert result.exit_code == 0 and result.stderr == ""
    assert "main" in result.stdout and "key_id" in result.stdout.splitlines()[0]


def test_cli_keys_generate_twice_exits_2_with_hint(kh: KeyHome) -> None:
    result = invoke(["keys", "generate", "main"], kh.root)
    line = assert_error(result, 2, 'key "main" already exists')
    assert "cluetool keys rotate main" in result.stderr
    assert_no_secret(line + result.stderr, kh)


@pytest.mark.parametrize("name", ["../x", "a/b", ".k"])
def test_cli_keys_generate_bad_name_exits_2(kh: KeyHome, name: str) -> None:
    assert_error(invoke(["keys", "generate", name], kh.root), 2, "invalid key name")


def test_cli_keys_without_home_exits_3_with_hint(tmp_path: Path) -> None:
    result = invoke(["keys", "list"], None)
    assert_error(result, 3, "no cluetool home given")
    assert "CLUETOOL_HOME" in result.stderr
    assert_error(invoke(["keys", "list", "--home", str(tmp_path / "nope")], None), 3, "no cluetool home at")


# --------------------------------------------------------------------------- passphrase options (error paths only)


def test_cli_keys_generate_protect_without_passphrase_exits_2(kh: KeyHome) -> None:
    assert_error(invoke(["keys", "generate", "p", "--protect"], kh.root), 2, "--protect needs")
    assert not list(kh.home.keys_dir.glob("p.*"))


def test_cli_keys_generate_passphrase_without_protect_exits_2(kh: KeyHome, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("hunter2-passphrase\n")
    pw.chmod(0o600)
    result = invoke(["keys", "generate", "p", "--passphrase-file", str(pw)], kh.root)
    line = assert_error(result, 2, "without --protect")
    assert "hunter2" not in result.stderr + line
    result = invoke(["keys", "generate", "p", "--passphrase-env", "CT_PW"], kh.root, CT_PW="hunter2-passphrase")
    assert_error(result, 2, "without --protect")
    assert not list(kh.home.keys_dir.glob("p.*"))


def test_cli_keys_generate_passphrase_sources_errors_exit_2(kh: KeyHome, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("hunter2-passphrase\n")
    pw.chmod(0o600)
    assert_error(invoke(["keys", "generate", "p", "--protect", "--passphrase-env", "CT_UNSET"], kh.root, CT_UNSET=None),
                 2, "CT_UNSET is not set")
    assert_error(invoke(["keys", "generate", "p", "--protect", "--passphrase-file", str(pw), "--passphrase-env", "X"],
                        kh.root, X="y"), 2, "not both")
    assert_error(invoke(["keys", "generate", "p", "--protect", "--passphrase-file", str(tmp_path / "nope")], kh.root),
                 2, "cannot read passphrase file")
    assert not list(kh.home.keys_dir.glob("p.*"))


# --------------------------------------------------------------------------- list / show / export


def test_cli_keys_list_json_jsonl_table(kh: KeyHome) -> None:
    keys.generate(kh.home, "backup", now=NOW)
    doc = json.loads((r := invoke(["keys", "list", "-f", "json"], kh.root)).stdout)
    assert r.exit_code == 0 and r.stderr == ""
    assert doc["schema"] == "cluetool.keys/1" and [k["name"] for k in doc["keys"]] == ["backup", "main"]
    assert doc["keys"][1]["key_id"] == kh.info.key_id
    r = invoke(["-f", "jsonl", "keys", "list"], kh.root)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.exit_code == 0 and [row["name"] for row in rows] == ["backup", "main"]
    r = invoke(["keys", "list"], kh.root)
    assert r.exit_code == 0 and kh.info.key_id in r.stdout and kh.info.age_recipient in r.stdout
    assert_no_secret(r.stdout, kh)


def test_cli_keys_show_json(kh: KeyHome) -> None:
    r = invoke(["keys", "show", "main", "-f", "json"], kh.root)
    assert r.exit_code == 0 and r.stderr == ""
    assert json.loads(r.stdout) == {
        "name": "main", "key_id": kh.info.key_id, "minisign_public_key": kh.info.minisign_public_key,
        "age_recipient": kh.info.age_recipient, "protected": False,
    }
    assert_error(invoke(["keys", "show", "nosuch"], kh.root), 3, "not found")


def test_cli_keys_export_age_and_minisign(kh: KeyHome) -> None:
    r = invoke(["keys", "export", "main", "--age"], kh.root)
    assert r.exit_code == 0 and r.stdout == f"{kh.info.age_recipient}\n" and r.stderr == ""
    r = invoke(["keys", "export", "main", "--minisign"], kh.root)
    assert r.exit_code == 0 and r.stdout == kh.pub.read_text()
    assert invoke(["keys", "export", "main"], kh.root).stdout == kh.pub.read_text()
    assert_error(invoke(["keys", "export", "main", "--age", "--minisign"], kh.root), 2, "not both")


# --------------------------------------------------------------------------- refusing secrets


def test_cli_secret_key_readable_by_others_seal_exits_3_names_file(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=401)
    os.chmod(kh.key_file, 0o644)
    result = invoke(["seal", str(tmp_path / "spool"), "--source", SOURCE, "--to", kh.recipient,
                     "--out", str(tmp_path / "out")], kh.root)
    assert_error(result, 3, f'key file "{kh.key_file}"', "readable by group or others (mode 0644)")
    assert f'cluetool: hint: run: chmod 600 "{kh.key_file}"' in result.stderr
    assert_no_secret(result.stderr, kh)
    assert len(list((tmp_path / "spool").iterdir())) == 1 and not list((tmp_path / "out").glob("*.clue"))
    # every other use of the key is refused the same way
    assert_error(invoke(["keys", "rotate", "main"], kh.root), 3, str(kh.key_file))
    assert_error(invoke(["keys", "list"], kh.root), 3, str(kh.key_file))


def test_cli_identity_readable_by_others_verify_decrypt_exits_3(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=404)
    r = invoke(["seal", str(tmp_path / "spool"), "--source", SOURCE, "--to", kh.recipient,
                "--out", str(tmp_path / "out")], kh.root)
    assert r.exit_code == 0, r.stderr
    keys.trust(kh.home, SOURCE, kh.pub)
    os.chmod(kh.age_file, 0o604)
    result = invoke(["verify", "--decrypt", str(next((tmp_path / "out").glob("*.clue")))], kh.root)
    assert_error(result, 3, f'key file "{kh.age_file}"', "readable by group or others")
    assert "chmod 600" in result.stderr
    assert_no_secret(result.stderr + result.stdout, kh)


def test_cli_errors_never_show_key_material(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=402)
    original = kh.key_file.read_text()
    lines = original.splitlines()
    kh.key_file.write_text(lines[0] + "\n" + lines[1][:-8] + "AAAAAAAA\n")
    seal = ["seal", str(tmp_path / "spool"), "--source", SOURCE, "--to", kh.recipient, "--out", str(tmp_path / "out")]
    result = invoke(seal, kh.root)
    assert_error(result, 2, str(kh.key_file))
    kh.key_file.write_text(original)
    # an identity file given as a recipients file
    result = invoke(["seal", str(tmp_path / "spool"), "--source", SOURCE, "--to", str(kh.age_file),
                     "--out", str(tmp_path / "out")], kh.root)
    assert_error(result, 2, "invalid age recipient")
    # a secret key given as a signer's public key
    result = invoke(["keys", "trust", SOURCE, str(kh.key_file)], kh.root)
    assert_error(result, 2, f'"{kh.key_file}" is a minisign secret key, not a minisign public key')
    result2 = invoke(["verify", "--signer", str(kh.age_file), str(tmp_path / "x.clue")], kh.root)
    assert_error(result2, 2, f'"{kh.age_file}" is an age identity, not a minisign public key')
    for r in (result, result2):
        assert_no_secret(r.stderr + r.stdout, kh)


# --------------------------------------------------------------------------- protected keys: never a prompt


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> KeyHome:
    home = init_home(tmp_path_factory.mktemp("cli-protected") / "home")
    info = keys.generate(home, "guarded", now=NOW, passphrase=b"open sesame 42", scrypt_cost=LOW_COST)
    return KeyHome(home=home, name="guarded", info=info)


def test_cli_protected_key_without_passphrase_exits_2_no_prompt(protected: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=403)
    args = ["seal", str(tmp_path / "spool"), "--source", SOURCE, "--to", protected.recipient,
            "--out", str(tmp_path / "out"), "--key", "guarded"]
    result = invoke(args, protected.root)  # no input: a prompt would read EOF and exit 1
    assert_error(result, 2, "guarded.key")
    assert "cluetool: hint: a protected key needs --passphrase-file FILE or --passphrase-env VAR" in result.stderr
    assert result.stdout == ""

    ok = invoke([*args, "--passphrase-env", "CT_PW", "-f", "json"], protected.root, CT_PW="open sesame 42")
    assert ok.exit_code == 0 and ok.stderr == "", ok.stderr
    batch = json.loads(ok.stdout)["batches"][0]["path"]
    keys.trust(protected.home, SOURCE, protected.pub)
    dec = ["verify", "--decrypt", "--identity", "guarded", batch]
    assert_error(invoke(dec, protected.root), 2, "is protected")
    pw = tmp_path / "pw"
    pw.write_text("open sesame 42\n")
    pw.chmod(0o600)
    good = invoke([*dec, "--passphrase-file", str(pw), "-f", "json"], protected.root)
    assert good.exit_code == 0 and json.loads(good.stdout)["batches"][0]["decrypted"] is True
    pw.write_text("wrong one\n")
    pw.chmod(0o600)
    bad = invoke([*dec, "--passphrase-file", str(pw)], protected.root)
    assert_error(bad, 2)
    assert "wrong one" not in bad.stderr and "open sesame" not in bad.stderr


# --------------------------------------------------------------------------- trust and rotate


def test_cli_keys_trust_json(kh: KeyHome, tmp_path: Path) -> None:
    receiver = init_home(tmp_path / "receiver").root
    r = invoke(["keys", "trust", SOURCE, str(kh.pub), "-f", "json"], receiver)
    assert r.exit_code == 0 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert doc["key_id"] == kh.info.key_id and doc["source"] == SOURCE and doc["already_trusted"] is False
    assert doc["rotation_from"] is None
    assert Path(doc["path"]).read_text().splitlines()[1] == kh.info.minisign_public_key
    assert_error(invoke(["keys", "trust", "Bad_Source", str(kh.pub)], receiver), 2, "invalid source")
    assert_error(invoke(["keys", "trust", SOURCE, str(tmp_path / "none.pub")], receiver), 2, "cannot read public key")


def test_cli_keys_rotate_and_trust_rotation(kh: KeyHome, tmp_path: Path) -> None:
    old = kh.info
    receiver = make_receiver(tmp_path / "receiver", SOURCE, kh.pub)
    r = invoke(["keys", "rotate", "main", "-f", "json"], kh.root)
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    new = json.loads(r.stdout)
    assert new["new_key_id"] != old.key_id and new["old_key_id"] == old.key_id
    assert (kh.home.keys_dir / "retired" / f"main-{old.key_id}.key").is_file()
    statement = kh.home.keys_dir / "main.rotation.minisig"

    ok = invoke(["keys", "trust", SOURCE, str(kh.pub), "--rotation", str(statement), "-f", "json"], receiver.root)
    assert ok.exit_code == 0 and ok.stderr == ""
    assert json.loads(ok.stdout)["rotation_from"] == old.key_id

    # a receiver that never trusted the old key refuses the statement
    stranger = make_home(tmp_path / "stranger")
    other_receiver = make_receiver(tmp_path / "other", SOURCE, stranger.pub)
    assert_error(invoke(["keys", "trust", SOURCE, str(kh.pub), "--rotation", str(statement)], other_receiver.root),
                 2, "not signed by a trusted key")
    # a statement that names another key
    old_sk = minisign.SecretKey.parse((kh.home.keys_dir / "retired" / f"main-{old.key_id}.key").read_text(), None)
    lie = tmp_path / "lie.minisig"
    lie.write_text(minisign.sign(old_sk, kh.pub.read_bytes(),
                                 trusted_comment=f"cluetool-key-rotation/1 old={old.key_id} new=00000000DEADBEEF at=2026-11-24T02:00:00Z"))
    third = make_receiver(tmp_path / "third", SOURCE, tmp_path / "receiver" / "trusted" / SOURCE / f"{old.key_id}.pub")
    assert_error(invoke(["keys", "trust", SOURCE, str(kh.pub), "--rotation", str(lie)], third.root),
                 2, "does not name this key")
    assert not (third.trusted_dir / SOURCE / f"{new['new_key_id']}.pub").exists()


def test_cli_keys_rotate_missing_key_exits_3(kh: KeyHome) -> None:
    assert_error(invoke(["keys", "rotate", "nosuch"], kh.root), 3, "not found")

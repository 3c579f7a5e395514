"""Keys over time (issue 19): receiving-key rotation with batches in flight, retired
identities, the trust list (untrust, additional keys, grace), offline roots, auditors'
rotation chains, and the permission checks on the home's key directories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner, Result

from cluetool import keys
from cluetool.api import verify
from cluetool.cli import app
from cluetool.config import Home
from cluetool.errors import InputError, StateError
from cluetool.formats import minisign
from cluetool.model.batch import key_id_hex16
from tests.batch_helpers import LOW_COST, NOW, SOURCE, KeyHome, make_home, make_receiver, seal_spool, write_spool
from tests.conftest import require_tool
from tests.test_import import RECEIVER_KEY, audit_entries, make_pair

runner = CliRunner()


def invoke(args: list[object], home: Path | None) -> Result:
    env = {"CLUETOOL_HOME": str(home) if home else None, "CLUETOOL_DEBUG": None}
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def ok_json(result: Result) -> dict:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr == ""
    return json.loads(result.stdout)


def minisign_id(pub: Path) -> str:
    return key_id_hex16(keys.parse_public(pub.read_text(), pub).key_id)


def one_error_line(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("cluetool: error: "), result.stderr
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("cluetool: hint: ")), result.stderr
    return lines[0]


def audit(home_root: Path) -> list[dict]:
    return audit_entries(Home(home_root))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """The receiver's store: SQLite (None) or a PostgreSQL database (issue 22)."""
    return str(request.getfixturevalue("pg_url")) if request.param == "postgresql" else None


# --------------------------------------------------------------------------- receiving rotation


def test_receiving_rotation_batches_in_flight_import_with_retired_identity(tmp_path: Path, store_url: str | None) -> None:
    pair = make_pair(tmp_path, store_url)
    write_spool(tmp_path / "spool", 4, seed=1911)
    in_flight = pair.seal(tmp_path / "spool", max_reports=2)  # sealed to the old recipient
    old_id = pair.receiver.info.key_id
    result = ok_json(invoke(["keys", "rotate", RECEIVER_KEY, "-f", "json"], pair.receiver.root))
    assert result["old_key_id"] == old_id and result["old_age_recipient"] == pair.receiver.recipient
    assert result["new_age_recipient"] != pair.receiver.recipient

    checked = ok_json(invoke(["verify", "--decrypt", "--identity", RECEIVER_KEY, "-f", "json", in_flight[0]],
                             pair.receiver.root))
    assert checked["batches"][0]["decrypted_by"] == f"retired/{RECEIVER_KEY}-{old_id}"

    imported = ok_json(invoke(["import", "-q", "--identity", RECEIVER_KEY, "-f", "json", *in_flight], pair.receiver.root))
    assert [b["status"] for b in imported["batches"]] == ["imported", "imported"]
    assert {b["decrypted_by"] for b in imported["batches"]} == {f"retired/{RECEIVER_KEY}-{old_id}"}
    entries = [e for e in audit(pair.receiver.root) if e["action"] == "batch.decrypted_by_retired"]
    assert [e["details"]["identity"] for e in entries] == [f"retired/{RECEIVER_KEY}-{old_id}"] * 2
    assert len([e for e in audit(pair.receiver.root) if e["action"] == "batch.import"]) == 2

    # a batch sealed to the new recipient is decrypted by the current identity
    fresh = tmp_path / "fresh"
    write_spool(fresh, 1, seed=1912)
    pair.receiver.info = keys.show(pair.receiver.home, RECEIVER_KEY)
    (new_batch,) = pair.seal(fresh, tmp_path / "out2")
    again = ok_json(invoke(["import", "-q", "--identity", RECEIVER_KEY, "-f", "json", new_batch], pair.receiver.root))
    assert again["batches"][0]["decrypted_by"] == RECEIVER_KEY


def test_receiving_rotation_retired_identities_tried_newest_first(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "h")
    ids = [kh.info.key_id]
    for day in (1, 2):
        ids.append(keys.rotate(kh.home, "main", now=NOW + timedelta(days=day)).new_key_id)
    retired = keys.list_retired(kh.home)
    assert [k.key_id for k in retired] == [ids[1], ids[0]]
    assert [k.retired_at for k in retired] == ["2026-11-26T02:00:00Z", "2026-11-25T02:00:00Z"]
    labels = [n.label for n in keys.load_identities(kh.home, "main")]
    assert labels == ["main", f"retired/main-{ids[1]}", f"retired/main-{ids[0]}"]


def test_cli_keys_rotate_table_says_what_changed_and_what_to_send(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "h")
    r = invoke(["keys", "rotate", "main"], kh.root)
    assert r.exit_code == 0, r.stderr
    assert kh.info.key_id in r.stdout
    err = r.stderr
    assert f"signing key {kh.info.key_id} -> " in err and "age recipient changed too" in err
    assert "send to every receiver that trusts this key as a signer: main.pub and main.rotation.minisig" in err
    assert "send to every sender that seals to this home: the new age recipient age1" in err
    assert "send to auditors:" in err and "--new main.pub" in err
    assert "AGE-SECRET-KEY" not in (r.stdout + err).upper()


def test_cli_keys_list_retired_and_destroy_needs_yes_and_is_audited(tmp_path: Path, store_url: str | None) -> None:
    pair = make_pair(tmp_path, store_url)
    write_spool(tmp_path / "spool", 1, seed=1913)
    (in_flight,) = pair.seal(tmp_path / "spool")
    old_id = pair.receiver.info.key_id
    keys.rotate(pair.receiver.home, RECEIVER_KEY, now=NOW)
    listed = ok_json(invoke(["keys", "list", "--retired", "-f", "json"], pair.receiver.root))
    assert [(k["label"], k["has_identity"]) for k in listed["keys"]] == [(f"retired/{RECEIVER_KEY}-{old_id}", True)]

    line = one_error_line(invoke(["keys", "destroy", RECEIVER_KEY, "--id", old_id], pair.receiver.root), 2)
    assert "needs --yes" in line and "in flight" in line and "cannot know" in line
    assert (pair.receiver.home.keys_dir / "retired" / f"{RECEIVER_KEY}-{old_id}.age").exists()
    one_error_line(invoke(["keys", "destroy", RECEIVER_KEY, "--id", "0" * 16, "--yes"], pair.receiver.root), 2)

    done = ok_json(invoke(["keys", "destroy", RECEIVER_KEY, "--id", old_id.lower(), "--yes", "-f", "json"],
                          pair.receiver.root))
    assert done["key_id"] == old_id
    assert sorted(Path(f).name for f in done["removed"]) == sorted(
        f"{RECEIVER_KEY}-{old_id}{suffix}" for suffix in (".key", ".pub", ".age", ".age.pub", ".retired"))
    assert not list((pair.receiver.home.keys_dir / "retired").iterdir())
    assert [e["object"] for e in audit(pair.receiver.root) if e["action"] == "key.destroy"] == [f"{RECEIVER_KEY}/{old_id}"]
    # the batch in flight can no longer be decrypted, and the message names what was tried
    r = invoke(["import", "-q", "--identity", RECEIVER_KEY, "-f", "json", in_flight], pair.receiver.root)
    assert r.exit_code == 1
    problems = json.loads(r.stdout)["problems"]
    assert [p["code"] for p in problems] == ["payload.identity"]
    assert f"tried {RECEIVER_KEY} (age1" in problems[0]["message"]


# --------------------------------------------------------------------------- trust list


def _rotated_sender(tmp_path: Path, name: str = "intake") -> tuple[KeyHome, Path, Path]:
    """A sender after one rotation: (sender, old public key copy, statement)."""
    kh = make_home(tmp_path / name)
    old_pub = tmp_path / f"{name}-old.pub"
    shutil.copy(kh.pub, old_pub)
    keys.rotate(kh.home, "main", now=NOW)
    kh.info = keys.show(kh.home, "main")
    return kh, old_pub, kh.home.keys_dir / "main.rotation.minisig"


def test_trust_second_key_needs_additional(tmp_path: Path) -> None:
    a, b = make_home(tmp_path / "a"), make_home(tmp_path / "b")
    receiver = make_receiver(tmp_path / "r", SOURCE, a.pub)
    line = one_error_line(invoke(["keys", "trust", SOURCE, b.pub], receiver.root), 2)
    assert f"already trusts key {a.info.key_id}" in line and "--additional" in line
    again = ok_json(invoke(["keys", "trust", SOURCE, a.pub, "-f", "json"], receiver.root))
    assert again["already_trusted"] is True
    added = ok_json(invoke(["keys", "trust", SOURCE, b.pub, "--additional", "-f", "json"], receiver.root))
    assert added["key_id"] == b.info.key_id and added["how"] == "trust"
    listed = ok_json(invoke(["keys", "trusted", SOURCE, "-f", "json"], receiver.root))
    assert {(s["key_id"], s["status"], s["how"]) for s in listed["signers"]} == {
        (a.info.key_id, "active", "trust"), (b.info.key_id, "active", "trust")}


def test_trust_rotation_retires_old_key_after_grace_and_list_shows_it(tmp_path: Path) -> None:
    kh, old_pub, statement = _rotated_sender(tmp_path)
    old_id = minisign.PublicKey.parse(old_pub.read_text()).key_id
    receiver = make_receiver(tmp_path / "r", SOURCE, old_pub)
    with freeze_time(NOW):
        res = ok_json(invoke(["keys", "trust", SOURCE, kh.pub, "--rotation", statement, "--grace", "2d", "-f", "json"],
                             receiver.root))
    assert res["how"] == "rotation" and res["retire_at"] == "2026-11-26T02:00:00Z"
    old_hex = res["retired"]
    assert old_hex == res["rotation_from"]
    with freeze_time(NOW + timedelta(days=1)):
        rows = {s["key_id"]: s for s in ok_json(invoke(["keys", "trusted", "-f", "json"], receiver.root))["signers"]}
        assert rows[old_hex]["status"] == "retiring" and rows[kh.info.key_id]["status"] == "active"
        assert len(keys.trusted_keys(receiver, SOURCE)) == 2
    with freeze_time(NOW + timedelta(days=3)):
        rows = {s["key_id"]: s for s in ok_json(invoke(["keys", "trusted", "-f", "json"], receiver.root))["signers"]}
        assert rows[old_hex]["status"] == "retired" and rows[old_hex]["until"] == "2026-11-26T02:00:00Z"
        assert [key_id_hex16(k.key_id) for k in keys.trusted_keys(receiver, SOURCE)] == [kh.info.key_id]
        assert old_id not in [k.key_id for k in keys.trusted_keys(receiver, SOURCE)]
        table = invoke(["keys", "trusted", SOURCE], receiver.root)
        assert table.exit_code == 0 and "retired" in table.stdout and "rotation" in table.stdout


def test_trust_rotation_default_grace_retires_at_once(tmp_path: Path) -> None:
    kh, old_pub, statement = _rotated_sender(tmp_path)
    receiver = make_receiver(tmp_path / "r", SOURCE, old_pub)
    keys.trust(receiver, SOURCE, kh.pub, rotation=statement, now=NOW)
    rows = keys.trusted_list(receiver, SOURCE, now=NOW + timedelta(seconds=1)).signers
    assert {s.key_id: s.status for s in rows} == {
        minisign_id(old_pub): "retired", kh.info.key_id: "active"}


def test_untrust_revokes_and_is_audited(tmp_path: Path, store_url: str | None) -> None:
    pair = make_pair(tmp_path, store_url)
    sender_id = pair.sender.info.key_id
    line = one_error_line(invoke(["keys", "untrust", SOURCE, sender_id, "--reason", " "], pair.receiver.root), 2)
    assert "--reason" in line
    res = ok_json(invoke(["keys", "untrust", SOURCE, sender_id, "--reason", "laptop stolen", "-f", "json"],
                         pair.receiver.root))
    assert res["key_id"] == sender_id and res["reason"] == "laptop stolen"
    rows = ok_json(invoke(["keys", "trusted", SOURCE, "-f", "json"], pair.receiver.root))["signers"]
    assert [(r["status"], r["reason"]) for r in rows] == [("revoked", "laptop stolen")]
    entries = [e for e in audit(pair.receiver.root) if e["action"] == "key.untrust"]
    assert [e["object"] for e in entries] == [f"{SOURCE}/{sender_id}"]
    # batches signed by the revoked key are no longer trusted
    write_spool(tmp_path / "spool", 1, seed=1915)
    (batch,) = pair.seal(tmp_path / "spool")
    assert [p.code for p in verify([batch], home=pair.receiver.home).problems] == ["signature.untrusted"]
    # and the key cannot simply be trusted again
    line = one_error_line(invoke(["keys", "trust", SOURCE, pair.sender.pub], pair.receiver.root), 2)
    assert "was revoked" in line
    one_error_line(invoke(["keys", "untrust", SOURCE, sender_id, "--reason", "x"], pair.receiver.root), 2)
    one_error_line(invoke(["keys", "untrust", SOURCE, "NOTAKEYID", "--reason", "x"], pair.receiver.root), 2)


# --------------------------------------------------------------------------- offline root


def _root(tmp_path: Path) -> tuple[Path, Path, Path]:
    media = tmp_path / "usb"
    media.mkdir()
    pw = tmp_path / "root-pass"
    pw.write_text("root passphrase 7\n")
    pw.chmod(0o600)
    info = keys.generate_root(media, "intake", passphrase=b"root passphrase 7", now=NOW,
                              scrypt_cost={"opslimit": LOW_COST["opslimit"], "memlimit": LOW_COST["memlimit"]})
    return Path(info.secret_key_file), Path(info.public_key_file), pw


def test_root_pinned_source_refuses_old_key_rotation_and_accepts_root_signed(tmp_path: Path) -> None:
    root_key, root_pub, pw = _root(tmp_path)
    assert oct(root_key.stat().st_mode & 0o777) == "0o600"
    assert minisign.SecretKey.parse(root_key.read_text(), b"root passphrase 7")  # protected, real minisign
    with pytest.raises(minisign.PassphraseRequiredError):
        minisign.SecretKey.parse(root_key.read_text(), None)
    kh = make_home(tmp_path / "intake")
    receiver = make_receiver(tmp_path / "r", SOURCE)
    pinned = ok_json(invoke(["keys", "trust", SOURCE, kh.pub, "--root", root_pub, "-f", "json"], receiver.root))
    assert pinned["key_id"] == kh.info.key_id and pinned["root_key_id"]

    # A thief with the current key rotates to a key of their own: the statement is signed by the old key.
    thief = tmp_path / "thief"
    shutil.copytree(kh.root, thief)
    stolen = keys.rotate(Home(thief), "main", now=NOW)
    line = one_error_line(invoke(["keys", "trust", SOURCE, thief / "keys" / "main.pub", "--rotation",
                                  stolen.statement], receiver.root), 2)
    assert "pinned to root key" in line and "only a rotation statement signed by that root" in line
    # nor can a second key be slipped in with --additional
    line = one_error_line(invoke(["keys", "trust", SOURCE, thief / "keys" / "main.pub", "--additional"],
                                 receiver.root), 2)
    assert "pinned" in line

    # The owner rotates with the root key from the removable medium.
    r = invoke(["keys", "rotate", "main", "--root-key", root_key, "--root-passphrase-file", pw, "-f", "json"], kh.root)
    rot = ok_json(r)
    assert rot["statement_signed_by"] == pinned["root_key_id"]
    ok = ok_json(invoke(["keys", "trust", SOURCE, kh.pub, "--rotation", rot["statement"], "-f", "json"], receiver.root))
    assert ok["how"] == "root" and ok["rotation_from"] == rot["old_key_id"]

    # minisign -V checks both statements: the thief's with the old key, the owner's with the root.
    tool = require_tool("minisign")
    old_pub = kh.home.keys_dir / "retired" / f"main-{rot['old_key_id']}.pub"
    for pub, msg, sig in ((old_pub, thief / "keys" / "main.pub", stolen.statement),
                          (root_pub, kh.pub, rot["statement"])):
        res = subprocess.run([tool, "-V", "-p", str(pub), "-m", str(msg), "-x", str(sig)], capture_output=True, timeout=30)
        assert res.returncode == 0, res.stderr
        assert b"Trusted comment: cluetool-key-rotation/1 old=" in res.stdout


def test_root_generate_cli_needs_passphrase_and_writes_only_to_out(tmp_path: Path) -> None:
    media = tmp_path / "usb"
    media.mkdir()
    line = one_error_line(invoke(["keys", "root", "generate", "intake", "--out", media], None), 2)
    assert "always protected" in line
    one_error_line(invoke(["keys", "root", "generate", "intake", "--out", tmp_path / "absent",
                           "--passphrase-env", "ROOT_PW"], None), 2)


# --------------------------------------------------------------------------- auditors


def test_auditor_rotation_chain_any_names_and_length(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "intake")
    carried = tmp_path / "carried"
    carried.mkdir()
    shutil.copy(kh.pub, carried / "first-key.pub")
    links: list[list[object]] = []
    for i in range(3):
        keys.rotate(kh.home, "main", now=NOW + timedelta(days=i))
        shutil.copy(kh.home.keys_dir / "main.rotation.minisig", carried / f"statement-{i}.sig")
        shutil.copy(kh.pub, carried / f"key-{i}.pub")
        links.append(["--rotation", carried / f"statement-{i}.sig", "--new", carried / f"key-{i}.pub"])
    args: list[object] = ["verify", "--signer", carried / "first-key.pub", *[a for link in links for a in link]]
    kh.info = keys.show(kh.home, "main")
    write_spool(tmp_path / "spool", 1, seed=1916)
    (batch,) = seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches
    ok = invoke([*args, "-f", "json", batch.path], None)
    assert ok.exit_code == 0, (ok.stdout, ok.stderr)
    # a link missing from the chain: the statement after it rests on nothing trusted
    broken = ["verify", "--signer", carried / "first-key.pub", *links[0], *links[2]]
    line = one_error_line(invoke([*broken, batch.path], None), 2)
    assert "is not signed by a key trusted for" in line


def test_auditor_naming_trap_old_key_under_new_name_is_solved_by_new(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "intake")
    old = tmp_path / "intake-bj.pub"
    shutil.copy(kh.pub, old)
    keys.rotate(kh.home, "main", now=NOW)
    kh.info = keys.show(kh.home, "main")
    stmt = tmp_path / "intake-bj.rotation.minisig"
    shutil.copy(kh.home.keys_dir / "main.rotation.minisig", stmt)
    write_spool(tmp_path / "spool", 1, seed=1917)
    (batch,) = seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches
    trap = invoke(["verify", "--signer", old, "--rotation", stmt, batch.path], None)
    assert "--new NEW.pub" in trap.stderr
    assert invoke(["verify", "--signer", old, "--rotation", stmt, "--new", kh.pub, batch.path], None).exit_code == 0


# --------------------------------------------------------------------------- permissions


@pytest.mark.parametrize(("where", "mode", "needle"), [
    ("", 0o775, "home"), ("keys", 0o777, "keys directory"), ("keys", 0o750, "keys directory"),
    ("trusted", 0o775, "trusted-keys directory"), ("state", 0o757, "state directory"),
])
def test_permission_refusal_names_path_mode_and_fix(tmp_path: Path, where: str, mode: int, needle: str) -> None:
    kh = make_home(tmp_path / "h")
    path = kh.root / where if where else kh.root
    path.mkdir(exist_ok=True)
    os.chmod(path, mode)
    line = one_error_line(invoke(["keys", "list"], kh.root), 3)
    assert line == (f'cluetool: error: {needle} "{path}" has mode {mode:04o} '
                    f'(group or others can {"read" if mode & 0o022 == 0 else "write to"} it): run chmod 700 "{path}"')
    write_spool(tmp_path / "spool", 1, seed=1918)
    seal = invoke(["seal", tmp_path / "spool", "--source", SOURCE, "--to", kh.recipient, "--out", tmp_path / "o"], kh.root)
    assert one_error_line(seal, 3) == line


def test_permission_symlinked_keys_dir_refused(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "h")
    shared = tmp_path / "shared-keys"
    shutil.move(str(kh.home.keys_dir), shared)
    os.symlink(shared, kh.home.keys_dir)
    line = one_error_line(invoke(["keys", "list"], kh.root), 3)
    assert f'keys directory "{kh.home.keys_dir}" is a symbolic link' in line and str(shared) in line


def test_permission_passphrase_file_readable_by_others_refused(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "h")
    pw = tmp_path / "pw"
    pw.write_text("a passphrase\n")
    pw.chmod(0o644)
    line = one_error_line(invoke(["keys", "generate", "p", "--protect", "--passphrase-file", pw], kh.root), 3)
    assert line == f'cluetool: error: passphrase file "{pw}" has mode 0644 (group or others can read it): run chmod 600 "{pw}"'


def test_permission_not_owned_by_current_user_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a directory's owner needs root")
    kh = make_home(tmp_path / "h")
    os.chown(kh.home.trusted_dir, 4242, -1)
    line = one_error_line(invoke(["keys", "list"], kh.root), 3)
    assert f'trusted-keys directory "{kh.home.trusted_dir}" belongs to uid 4242, not to the current user' in line


def test_secret_key_given_as_public_named_as_such(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "h")
    with pytest.raises(InputError, match="is a minisign secret key, not a minisign public key"):
        keys.trust(kh.home, SOURCE, kh.key_file)
    with pytest.raises(StateError):
        os.chmod(kh.home.keys_dir, 0o777)
        keys.trust(kh.home, SOURCE, kh.pub)


def test_receiving_rotation_table_outputs_name_the_retired_identity(tmp_path: Path, store_url: str | None) -> None:
    pair = make_pair(tmp_path, store_url)
    write_spool(tmp_path / "spool", 1, seed=1919)
    (batch,) = pair.seal(tmp_path / "spool")
    old_id = pair.receiver.info.key_id
    keys.rotate(pair.receiver.home, RECEIVER_KEY, now=NOW)
    label = f"retired/{RECEIVER_KEY}-{old_id}"
    v = invoke(["verify", "--decrypt", "--identity", RECEIVER_KEY, batch], pair.receiver.root)
    assert v.exit_code == 0, v.stderr
    assert f"cluetool: {batch.name}: decrypted with identity {label}" in v.stderr.splitlines()
    i = invoke(["import", "-q", "--identity", RECEIVER_KEY, batch], pair.receiver.root)
    assert i.exit_code == 0, i.stderr
    assert "decrypted_by" in i.stdout and label in i.stdout


def test_trust_rotation_run_twice_is_a_no_op(tmp_path: Path) -> None:
    kh, old_pub, statement = _rotated_sender(tmp_path)
    receiver = make_receiver(tmp_path / "r", SOURCE, old_pub)
    first = keys.trust(receiver, SOURCE, kh.pub, rotation=statement, now=NOW)
    again = keys.trust(receiver, SOURCE, kh.pub, rotation=statement, now=NOW + timedelta(hours=1))
    assert (first.already_trusted, again.already_trusted, again.how) == (False, True, "rotation")

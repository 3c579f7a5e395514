"""``cluetool seal`` and ``cluetool verify``: the manual session of the issue, exit codes,
parsed json/jsonl output, empty stderr on json runs, one-line errors without traceback."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cluetool import keys
from cluetool.batch import sealstate
from cluetool.cli import app
from cluetool.config import init_home
from tests.batch_helpers import (
    NOW,
    SOURCE,
    KeyHome,
    copy_submissions,
    invalid_names,
    make_home,
    make_receiver,
    read_members,
    sample_spool,  # noqa: F401 - fixture
    valid_names,
    write_spool,
)

runner = CliRunner()  # this typer's runner keeps stdout and stderr apart (no mix_stderr option)


def invoke(args: list[str], home: Path | None) -> Result:
    env = {"CLUETOOL_HOME": str(home) if home else None, "CLUETOOL_DEBUG": None}
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def assert_error(result: Result, code: int, *needles: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("cluetool: error: "), result.stderr
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("cluetool: hint: ")), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def seal_args(kh: KeyHome, spool: Path, out: Path, *extra: object) -> list[str]:
    return ["seal", str(spool), "--source", SOURCE, "--to", kh.recipient, "--out", str(out), *map(str, extra)]


def json_ok(result: Result, code: int = 0) -> dict:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stderr == ""
    return json.loads(result.stdout)


@pytest.fixture
def kh(tmp_path: Path) -> KeyHome:
    return make_home(tmp_path / "home")


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[KeyHome, Path, list[Path]]:
    """A sender home whose key is trusted for SOURCE by a receiver home, and 3 batches."""
    root = tmp_path_factory.mktemp("cli-chain")
    kh = make_home(root / "sender")
    receiver = make_receiver(root / "receiver", SOURCE, kh.pub)
    write_spool(root / "spool", 3, seed=501)
    r = invoke(seal_args(kh, root / "spool", root / "out", "--max-reports", 1, "-f", "json"), kh.root)
    batches = [Path(b["path"]) for b in json_ok(r)["batches"]]
    assert len(batches) == 3
    return kh, receiver.root, batches


# --------------------------------------------------------------------------- the manual session


def test_cli_manual_session_sample_spool(tmp_path: Path, sample_spool: Path) -> None:
    home = tmp_path / "h"
    assert invoke(["init"], home).exit_code == 0
    assert invoke(["keys", "generate", "main"], home).exit_code == 0
    recipient = invoke(["keys", "export", "main", "--age"], home).stdout.strip()
    spool = tmp_path / "spool"
    shutil.copytree(sample_spool, spool, symlinks=True)

    sealed = invoke(["seal", spool, "--source", "intake-bj", "--to", recipient, "--out", tmp_path / "outbox",
                     "--max-reports", 40], home)
    assert sealed.exit_code == 1  # the invalid samples were quarantined
    assert "intake-bj-00000001.clue" in sealed.stdout and "intake-bj-00000002.clue" in sealed.stdout
    assert sorted(p.name for p in (tmp_path / "spool.quarantine").iterdir()) == invalid_names(sample_spool)

    assert invoke(["keys", "trust", "intake-bj", home / "keys" / "main.pub"], home).exit_code == 0
    batches = sorted((tmp_path / "outbox").glob("*.clue"))
    checked = invoke(["verify", *batches, "--chain"], home)
    assert checked.exit_code == 0 and checked.stdout == ""
    assert checked.stderr == "cluetool: 2 batch(es) verified\n"
    decrypted = invoke(["verify", "--decrypt", *batches, "-f", "json"], home)
    doc = json_ok(decrypted)
    assert doc["ok"] is True and all(b["decrypted"] for b in doc["batches"])
    assert sum(b["reports"] for b in doc["batches"]) == len(valid_names(sample_spool))


# --------------------------------------------------------------------------- seal output and exit codes


def test_cli_seal_json_report_fields(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 3, seed=502)
    doc = json_ok(invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out", "-f", "json", "--max-reports", 2), kh.root))
    assert doc["schema"] == "cluetool.seal/1" and doc["ok"] is True and doc["quarantined"] == []
    assert [(b["batch"], b["sequence"], b["reports"]) for b in doc["batches"]] == [
        (f"{SOURCE}-00000001.clue", 1, 2), (f"{SOURCE}-00000002.clue", 2, 1)]
    for b in doc["batches"]:
        members = read_members(Path(b["path"]))
        assert b["payload_sha256"] == hashlib.sha256(members["payload.age"]).hexdigest()
        assert b["manifest_sha256"] == hashlib.sha256(members["manifest.json"]).hexdigest()
        assert b["payload_size"] == len(members["payload.age"]) and b["source"] == SOURCE


def test_cli_seal_jsonl_one_line_per_batch(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 3, seed=503)
    r = invoke(["-f", "jsonl", *seal_args(kh, tmp_path / "spool", tmp_path / "out", "--max-reports", 1)], kh.root)
    assert r.exit_code == 0 and r.stderr == ""
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["sequence"] for row in rows] == [1, 2, 3]
    assert all({"batch", "payload_sha256", "reports", "attachments", "manifest_sha256"} <= set(row) for row in rows)


def test_cli_seal_table_shows_batch_sequence_counts_hash(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 2, seed=504)
    r = invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out"), kh.root)
    assert r.exit_code == 0 and r.stderr == ""
    header, _rule, row = r.stdout.splitlines()
    assert header.split() == ["batch", "sequence", "reports", "attachments", "payload_size", "payload_sha256"]
    cells = row.split()
    assert cells[0] == f"{SOURCE}-00000001.clue" and cells[1] == "1" and cells[2] == "2" and len(cells[5]) == 64


def test_cli_seal_quarantine_exits_1_with_options(kh: KeyHome, tmp_path: Path, sample_spool: Path) -> None:
    spool = tmp_path / "spool"
    copy_submissions(sample_spool, spool, valid_names(sample_spool)[:2] + ["invalid-region.unknown"])
    r = invoke(seal_args(kh, spool, tmp_path / "out", "--quarantine", tmp_path / "q", "--done", tmp_path / "d",
                         "-f", "json"), kh.root)
    assert r.exit_code == 1, r.stderr
    # the quarantined submission is named on stderr, one line, even with --format json
    [line] = r.stderr.splitlines()
    assert line.startswith('cluetool: warning: quarantined "invalid-region.unknown": ') and "region.unknown" in line
    doc = json.loads(r.stdout)
    assert doc["ok"] is False
    assert doc["quarantined"] == [{"submission": "invalid-region.unknown", "path": str((tmp_path / "q" / "invalid-region.unknown").resolve()),
                                   "codes": doc["quarantined"][0]["codes"], "record": "quarantined"}]
    assert "region.unknown" in doc["quarantined"][0]["codes"]
    reason = json.loads((tmp_path / "q" / "invalid-region.unknown" / "reason.json").read_text())
    assert "region.unknown" in {f["code"] for f in reason["findings"]}
    assert len(list((tmp_path / "d" / f"{SOURCE}-00000001").iterdir())) == 2


@pytest.mark.parametrize("fmt", ["table", "jsonl"])
def test_cli_seal_quarantined_named_in_table_and_jsonl_and_on_stderr(kh: KeyHome, tmp_path: Path, sample_spool: Path, fmt: str) -> None:
    spool = tmp_path / "spool"
    bad = ["invalid-region.unknown", "invalid-report.json_invalid"]
    copy_submissions(sample_spool, spool, valid_names(sample_spool)[:2] + bad)
    r = invoke(seal_args(kh, spool, tmp_path / "out", "-f", fmt), kh.root)
    assert r.exit_code == 1, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and all(ln.startswith("cluetool: warning: quarantined ") for ln in lines), r.stderr
    assert [name for name in bad if any(f'"{name}"' in ln for ln in lines)] == bad
    if fmt == "jsonl":
        rows = [json.loads(ln) for ln in r.stdout.splitlines()]
        assert [row["record"] for row in rows] == ["batch", "quarantined", "quarantined"]
        assert [row["submission"] for row in rows[1:]] == bad
        assert rows[0]["reports"] == 2
    else:
        assert all(name in r.stdout for name in bad)
        assert f"{SOURCE}-00000001.clue" in r.stdout


def test_cli_seal_second_run_continues_sequence(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=505)
    first = json_ok(invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out", "-f", "json"), kh.root))
    write_spool(tmp_path / "spool", 1, seed=506)
    second = json_ok(invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out", "-f", "json"), kh.root))
    assert second["batches"][0]["sequence"] == 2
    manifest = json.loads(read_members(Path(second["batches"][0]["path"]))["manifest.json"])
    assert manifest["previous"] == first["batches"][0]["manifest_sha256"]


def test_cli_seal_max_bytes_sizes(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 3, seed=507)
    doc = json_ok(invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out", "--max-bytes", "1K", "-f", "json"), kh.root))
    assert [b["reports"] for b in doc["batches"]] == [1, 1, 1]
    write_spool(tmp_path / "spool", 3, seed=508)
    doc = json_ok(invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out", "--max-bytes", "1MiB", "-f", "json"), kh.root))
    assert [b["reports"] for b in doc["batches"]] == [3]


@pytest.mark.parametrize("extra,needle", [
    (["--max-bytes", "lots"], "invalid size"),
    (["--max-bytes", "1.5M"], "invalid size"),
    (["--max-bytes", "0"], "positive"),
    (["--max-reports", "0"], "positive"),
    (["--source", "Not_A_Source"], "invalid source"),
])
def test_cli_seal_bad_options_exit_2(kh: KeyHome, tmp_path: Path, extra: list[str], needle: str) -> None:
    write_spool(tmp_path / "spool", 1, seed=509)
    assert_error(invoke([*seal_args(kh, tmp_path / "spool", tmp_path / "out"), *extra], kh.root), 2, needle)
    assert len(list((tmp_path / "spool").iterdir())) == 1


def test_cli_seal_without_recipient_exits_2(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=510)
    r = invoke(["seal", tmp_path / "spool", "--source", SOURCE, "--out", tmp_path / "out"], kh.root)
    assert r.exit_code == 2 and "--to" in r.stderr and "Traceback" not in r.output
    empty = tmp_path / "recipients.txt"
    empty.write_text("# nobody\n")
    assert_error(invoke(["seal", tmp_path / "spool", "--source", SOURCE, "--to", empty, "--out", tmp_path / "out"], kh.root),
                 2, "no recipients")
    assert_error(invoke(["seal", tmp_path / "spool", "--source", SOURCE, "--to", "age1bogus", "--out", tmp_path / "out"],
                        kh.root), 2, "invalid age recipient")
    assert_error(invoke(["seal", tmp_path / "spool", "--source", SOURCE, "--to", tmp_path / "missing.txt",
                         "--out", tmp_path / "out"], kh.root), 2, "cannot read recipients file")
    assert len(list((tmp_path / "spool").iterdir())) == 1


def test_cli_seal_recipients_file_and_second_recipient(kh: KeyHome, tmp_path: Path) -> None:
    other = make_home(tmp_path / "other")
    write_spool(tmp_path / "spool", 1, seed=511)
    doc = json_ok(invoke(["seal", tmp_path / "spool", "--source", SOURCE, "--to", kh.recipient, "--to", other.age_pub,
                          "--out", tmp_path / "out", "-f", "json"], kh.root))
    manifest = json.loads(read_members(Path(doc["batches"][0]["path"]))["manifest.json"])
    assert manifest["recipients"] == [kh.recipient, other.recipient]


def test_cli_seal_missing_spool_exits_2(kh: KeyHome, tmp_path: Path) -> None:
    assert_error(invoke(seal_args(kh, tmp_path / "nope", tmp_path / "out"), kh.root), 2, "cannot read spool")


def test_cli_seal_without_home_exits_3(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=512)
    assert_error(invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out"), None), 3, "no cluetool home")


def test_cli_seal_missing_key_exits_3(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=513)
    assert_error(invoke([*seal_args(kh, tmp_path / "spool", tmp_path / "out"), "--key", "other"], kh.root), 3, "not found")


def test_cli_seal_locked_source_exits_75(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=514)
    with sealstate.SourceLock(kh.home, SOURCE):
        assert_error(invoke([*seal_args(kh, tmp_path / "spool", tmp_path / "out"), "--wait", "0.2"], kh.root), 75, "another seal")


def test_cli_seal_batch_in_the_way_exits_3(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=515)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / f"{SOURCE}-00000001.clue").write_bytes(b"x")
    r = invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out"), kh.root)
    assert_error(r, 3, "already exists")
    assert "never reuse a sequence" in r.stderr


def test_cli_seal_duplicate_submission_id_exits_1(kh: KeyHome, tmp_path: Path) -> None:
    (name,) = write_spool(tmp_path / "spool", 1, seed=516)
    shutil.copytree(tmp_path / "spool" / name, tmp_path / "spool" / "zz-copy")
    r = invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out"), kh.root)
    assert r.exit_code == 1, r.stderr


def test_cli_seal_stray_file_exits_1(kh: KeyHome, tmp_path: Path) -> None:
    write_spool(tmp_path / "spool", 1, seed=517)
    (tmp_path / "spool" / "README").write_text("x")
    r = invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out"), kh.root)
    assert r.exit_code == 1, r.stderr


# --------------------------------------------------------------------------- verify


def test_cli_verify_chain_ok_json_and_table(chain: tuple[KeyHome, Path, list[Path]]) -> None:
    _kh, receiver, batches = chain
    doc = json_ok(invoke(["verify", "--chain", *batches, "-f", "json"], receiver))
    assert doc["schema"] == "cluetool.verify/1" and doc["ok"] is True and doc["problems"] == []
    assert [(b["sequence"], b["ok"], b["decrypted"]) for b in doc["batches"]] == [(1, True, False), (2, True, False), (3, True, False)]
    r = invoke(["verify", "--chain", *batches, "-f", "jsonl"], receiver)
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    r = invoke(["verify", "--chain", *batches], receiver)
    assert r.exit_code == 0 and r.stderr == "cluetool: 3 batch(es) verified\n"
    assert invoke(["-q", "verify", *batches], receiver).stderr == ""


def test_cli_verify_signer_file_without_any_home(chain: tuple[KeyHome, Path, list[Path]], tmp_path: Path) -> None:
    kh, _receiver, batches = chain
    signer = tmp_path / "signer.pub"
    shutil.copy(kh.pub, signer)
    doc = json_ok(invoke(["verify", "--chain", "--signer", signer, *batches, "-f", "json"], None))
    assert doc["ok"] is True
    stranger = make_home(tmp_path / "stranger")
    r = invoke(["verify", "--signer", stranger.pub, batches[0], "-f", "json"], None)
    doc = json_ok(r, code=1)
    assert [p["code"] for p in doc["problems"]] == ["signature.untrusted"]


def test_cli_verify_without_home_or_signer_exits_3(chain: tuple[KeyHome, Path, list[Path]]) -> None:
    _kh, _receiver, batches = chain
    assert_error(invoke(["verify", batches[0]], None), 3, "no cluetool home")


def test_cli_verify_untrusted_source_exits_1(chain: tuple[KeyHome, Path, list[Path]], tmp_path: Path) -> None:
    _kh, _receiver, batches = chain
    empty = init_home(tmp_path / "empty").root
    r = invoke(["verify", batches[0]], empty)
    assert r.exit_code == 1
    assert "signature.untrusted" in r.stdout and f"no trusted signer key for source {SOURCE}" in r.stdout


@pytest.mark.parametrize("pick,code", [
    ([0, 2], "chain.gap"), ([0, 1, 1], "chain.replay"), ([1, 0, 2], "chain.reorder"),
])
def test_cli_verify_chain_problems_exit_1(chain: tuple[KeyHome, Path, list[Path]], tmp_path: Path,
                                          pick: list[int], code: str) -> None:
    _kh, receiver, batches = chain
    paths = []
    for n, i in enumerate(pick):
        if batches[i] in paths:
            copy = tmp_path / f"copy{n}" / batches[i].name
            copy.parent.mkdir()
            shutil.copy(batches[i], copy)
            paths.append(copy)
        else:
            paths.append(batches[i])
    doc = json_ok(invoke(["verify", "--chain", *paths, "-f", "json"], receiver), code=1)
    assert doc["ok"] is False and code in [p["code"] for p in doc["problems"]]
    assert all("\n" not in p["message"] for p in doc["problems"])
    r = invoke(["verify", "--chain", *paths, "-f", "jsonl"], receiver)
    assert r.exit_code == 1 and r.stderr == ""
    assert code in [json.loads(line)["code"] for line in r.stdout.splitlines()]
    assert invoke(["verify", *paths], receiver).exit_code == 0  # each batch alone is fine


def test_cli_verify_fork_exit_1(chain: tuple[KeyHome, Path, list[Path]], tmp_path: Path) -> None:
    kh, receiver, batches = chain
    twin = tmp_path / "twin"
    shutil.copytree(kh.root, twin)
    (twin / "state" / "seal" / f"{SOURCE}.json").unlink()  # a restored backup that forgot the state
    write_spool(tmp_path / "spool", 1, seed=518)
    doc = json_ok(invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out", "-f", "json"), twin))
    fork = Path(doc["batches"][0]["path"])
    assert fork.name == batches[0].name
    doc = json_ok(invoke(["verify", "--chain", batches[0], fork, *batches[1:], "-f", "json"], receiver), code=1)
    assert [(p["batch"], p["code"]) for p in doc["problems"]] == [(fork.name, "chain.fork")]


def test_cli_verify_tampered_exits_1_one_line_table(chain: tuple[KeyHome, Path, list[Path]], tmp_path: Path) -> None:
    _kh, receiver, batches = chain
    bad = tmp_path / batches[0].name
    data = bytearray(batches[0].read_bytes())
    data[3000] ^= 0x01  # inside payload.age
    bad.write_bytes(bytes(data))
    doc = json_ok(invoke(["verify", bad, "-f", "json"], receiver), code=1)
    assert [p["code"] for p in doc["problems"]] == ["payload.sha256"]
    r = invoke(["verify", bad], receiver)
    assert r.exit_code == 1 and "payload.sha256" in r.stdout and r.stderr == ""


@pytest.mark.parametrize("what", ["missing", "directory", "not a tar", "empty"])
def test_cli_verify_unreadable_input_exits_2(chain: tuple[KeyHome, Path, list[Path]], tmp_path: Path, what: str) -> None:
    _kh, receiver, batches = chain
    target = {"missing": tmp_path / "gone.clue", "directory": tmp_path, "not a tar": tmp_path / "x.clue",
              "empty": tmp_path / "e.clue"}[what]
    if what == "not a tar":
        target.write_bytes(b"%PDF-1.4\n" + bytes(4096))
    if what == "empty":
        target.write_bytes(b"")
    r = invoke(["verify", batches[0], target, "-f", "json"], receiver)
    assert_error(r, 2, str(target))
    assert r.stdout == ""


def test_cli_verify_no_batches_exits_2(chain: tuple[KeyHome, Path, list[Path]]) -> None:
    _kh, receiver, _batches = chain
    r = invoke(["verify"], receiver)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_cli_verify_decrypt_ok_and_other_recipient_identity_problem(chain: tuple[KeyHome, Path, list[Path]], tmp_path: Path) -> None:
    kh, _receiver, batches = chain
    home = tmp_path / "platform"
    shutil.copytree(kh.root, home)
    keys.trust(init_home(home), SOURCE, kh.pub)
    doc = json_ok(invoke(["verify", "--decrypt", *batches, "-f", "json"], home))
    assert all(b["decrypted"] for b in doc["batches"])
    keys.generate(init_home(home), "other", now=NOW)
    doc = json_ok(invoke(["verify", "--decrypt", "--identity", "other", batches[0], "-f", "json"], home), code=1)
    assert [p["code"] for p in doc["problems"]] == ["payload.identity"]
    assert doc["batches"][0]["decrypted"] is False
    assert_error(invoke(["verify", "--decrypt", "--identity", "nosuch", batches[0]], home), 3, "not found")


def test_cli_verify_decrypt_with_signer_but_no_home_exits_3(chain: tuple[KeyHome, Path, list[Path]]) -> None:
    kh, _receiver, batches = chain
    assert_error(invoke(["verify", "--decrypt", "--signer", kh.pub, batches[0]], None), 3)


def test_cli_verify_truncated_batch_exits_1_layout(chain: tuple[KeyHome, Path, list[Path]], tmp_path: Path) -> None:
    _kh, receiver, batches = chain
    cut = tmp_path / batches[0].name
    cut.write_bytes(batches[0].read_bytes()[:4000])
    doc = json_ok(invoke(["verify", cut, "-f", "json"], receiver), code=1)
    assert [p["code"] for p in doc["problems"]] == ["batch.layout"]


def test_cli_seal_names_identifying_metadata_on_stderr_and_seals(kh: KeyHome, tmp_path: Path) -> None:
    import random

    from samples.make_samples import valid_submission, write_submission
    from tests.corpus import hostile

    report, _, _ = valid_submission(random.Random(78), 0, attachments=0)
    photo = hostile.jpeg_with_exif()
    report["attachments"] = [{"file": "photo.jpg", "type": "jpg", "size": len(photo),
                              "sha256": hashlib.sha256(photo).hexdigest(), "note": ""}]
    write_submission(tmp_path / "spool" / "sub", report, {"photo.jpg": photo})
    r = invoke(seal_args(kh, tmp_path / "spool", tmp_path / "out"), kh.root)
    assert r.exit_code == 0, r.stderr
    lines = r.stderr.splitlines()
    codes = {ln.split(": ")[3] for ln in lines}
    assert codes == {"metadata.gps", "metadata.device", "metadata.serial", "metadata.owner"}, r.stderr
    assert all(ln.startswith('cluetool: warning: "sub" attachments[0].file: ') for ln in lines)
    assert (tmp_path / "out" / f"{SOURCE}-00000001.clue").is_file()

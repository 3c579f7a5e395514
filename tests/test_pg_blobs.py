"""Attachment blobs in the PostgreSQL store's tables (``init --store postgresql://...
--blobs-in-db``, issue 22): written in the batch's transaction, content-addressed and
de-duplicated, streamed in chunks, read back, verified by ``store check``, and copied by
``store migrate-to --blobs-in-db``."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cluetool import api, keys
from cluetool.cli import app
from cluetool.config import Home
from cluetool.errors import InputError, StateError
from cluetool.home import open_store
from cluetool.store.blobtable import CHUNK, TableBlobs
from cluetool.store.pgstore import PgStore
from samples import media
from tests.batch_helpers import NOW, SOURCE, make_home, write_spool
from tests.pgfixture import PgTestConnection, tamper_pg
from tests.test_import import Pair, codes, seal_with_bad_attachment, submission, write_submission

RECEIVER_KEY = "internal"


def make_pair(root: Path, url: str | None, *, blobs_in_db: bool) -> Pair:
    sender = make_home(root / "intake")
    if url is not None:
        api.init(Home(root / "internal"), now=NOW, store=url, blobs_in_db=blobs_in_db)
    receiver = make_home(root / "internal", RECEIVER_KEY)
    keys.trust(receiver.home, SOURCE, sender.pub)
    return Pair(root=root, sender=sender, receiver=receiver)


def rows(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with PgTestConnection(url) as conn:
        return conn.execute(sql, params).fetchall()


def blob_files(home: Home) -> list[Path]:
    return sorted(p for p in home.blobs_dir.rglob("*") if p.is_file())


def spool_attachments(spool: Path) -> dict[str, bytes]:
    """sha256 -> bytes of every attachment file in a spool."""
    out = {}
    for report in spool.glob("*/report.json"):
        doc = json.loads(report.read_bytes())
        for a in doc["attachments"]:
            out[a["sha256"]] = (report.parent / a["file"]).read_bytes()
    return out


@pytest.fixture
def pair(tmp_path: Path, pg_url: str) -> Pair:
    return make_pair(tmp_path, pg_url, blobs_in_db=True)


def test_init_blobs_in_db_writes_config_and_the_blob_tables(pair: Pair, pg_url: str) -> None:
    config = tomllib.loads(pair.home.config_file.read_text(encoding="utf-8"))
    assert config["store"] == pg_url and config["blobs_in_db"] is True
    assert rows(pg_url, "SELECT value FROM cluetool_meta WHERE key = 'blobs'") == [("table",)]
    assert {r[0] for r in rows(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")} >= {
        "blobs", "blob_chunks"}
    api.init(pair.home, now=NOW, store=pg_url, blobs_in_db=True)  # idempotent
    with pytest.raises(StateError, match="already uses"):
        api.init(pair.home, now=NOW, store=pg_url)  # the home says otherwise


def test_blobs_in_db_needs_a_postgresql_store(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--blobs-in-db needs --store"):
        api.init(Home(tmp_path / "h"), now=NOW, blobs_in_db=True)
    result = CliRunner().invoke(app, ["init", "--home", str(tmp_path / "h2"), "--blobs-in-db"])
    assert result.exit_code == 2 and "--blobs-in-db needs --store" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_config_that_disagrees_with_the_store_is_refused(pair: Pair, pg_databases: Any, tmp_path: Path) -> None:
    text = pair.home.config_file.read_text(encoding="utf-8").replace("blobs_in_db = true\n", "")
    pair.home.config_file.write_text(text, encoding="utf-8")
    with pytest.raises(StateError, match="keeps its blobs in the database") as err:
        open_store(pair.home)
    assert "blobs_in_db = true" in (err.value.hint or "")
    # And the other way round: a store of files opened as if its blobs were in the database.
    files_url = pg_databases()
    PgStore.create_url(files_url, blobs_dir=tmp_path / "blobs", now=NOW).close()
    with pytest.raises(StateError, match="keeps its blobs as files"):
        PgStore.open_url(files_url, blobs_dir=tmp_path / "blobs", blobs_in_db=True)


def test_import_writes_blobs_in_the_database_reads_back_and_checks_clean(pair: Pair, pg_url: str) -> None:
    spool = pair.root / "spool"
    write_spool(spool, 6, seed=9101, attachments=2)
    expected = spool_attachments(spool)
    batches = pair.seal(spool, max_reports=3)
    result = pair.import_(batches)
    assert result.ok, result.problems
    assert blob_files(pair.home) == []  # nothing in blobs/
    stored = dict(rows(pg_url, "SELECT sha256, size FROM blobs"))
    assert stored == {sha: len(data) for sha, data in expected.items()}
    assert dict(rows(pg_url, "SELECT sha256, size FROM attachments")) == stored
    with open_store(pair.home, readonly=True) as store:
        assert isinstance(store.blobs, TableBlobs)
        for sha, data in expected.items():
            with store.blobs.open(sha) as f:
                assert f.read() == data
    report = api.store_check(pair.home)
    assert report.ok and report.problems == [], report.problems


def test_store_check_names_a_tampered_and_a_missing_blob_row(pair: Pair, pg_url: str) -> None:
    write_spool(pair.root / "spool", 3, seed=9201)
    assert pair.import_(pair.seal(pair.root / "spool")).ok
    shas = [r[0] for r in rows(pg_url, "SELECT sha256 FROM blobs ORDER BY sha256")]
    assert len(shas) == 3
    tamper_pg(pg_url, (("UPDATE blob_chunks SET data = data || '\\x00'::bytea WHERE sha256 = ? AND n = 0", (shas[0],)),
                       ("DELETE FROM blob_chunks WHERE sha256 = ?", (shas[1],)),
                       ("DELETE FROM blobs WHERE sha256 = ?", (shas[1],))))
    env = {"CLUETOOL_HOME": str(pair.home.root), "CLUETOOL_DEBUG": None}
    result = CliRunner().invoke(app, ["--format", "json", "store", "check"], env=env, catch_exceptions=False)
    assert result.exit_code == 1
    found = {(p["code"], p["object"]) for p in json.loads(result.stdout)["problems"]}
    assert found == {("blob.tampered", f"blobs:{shas[0]}"), ("blob.missing", f"blobs:{shas[1]}")}


def test_a_failed_batch_leaves_no_blob_rows(pair: Pair, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bad attachment's batch had its good attachments written as rows (in its
    transaction) before the bad one was found: all of them are gone with the rollback."""
    bad = media.jpeg_with_trailing_bytes(random.Random(9303))
    batch, _report = seal_with_bad_attachment(pair, monkeypatch, bad, seed=9301)
    written: list[str] = []
    real = TableBlobs.put

    def put(self: TableBlobs, src: Any, expected_sha256: str | None = None) -> tuple[str, int]:
        got = real(self, src, expected_sha256)
        # The row is there, in the batch's transaction (seen on its own connection).
        assert self.exists(got[0])
        written.append(got[0])
        return got

    monkeypatch.setattr(TableBlobs, "put", put)
    result = pair.import_([batch])
    assert not result.ok and result.batches[0].status == "rejected"
    assert "attachment.trailing_data" in codes(result)
    assert len(written) >= 3
    assert rows(pg_url, "SELECT count(*) FROM blobs")[0][0] == 0
    assert rows(pg_url, "SELECT count(*) FROM blob_chunks")[0][0] == 0
    assert rows(pg_url, "SELECT count(*) FROM reports")[0][0] == 0
    assert blob_files(pair.home) == []


def test_large_blobs_are_chunked_deduplicated_and_refused_on_mismatch(pair: Pair, pg_url: str) -> None:
    data = random.Random(9401).randbytes(2 * CHUNK + 12345)
    sha = hashlib.sha256(data).hexdigest()
    with open_store(pair.home) as store:
        with store.write():
            assert store.blobs.put(io.BytesIO(data), expected_sha256=sha) == (sha, len(data))
            assert store.blobs.put(io.BytesIO(data)) == (sha, len(data))  # again: kept once
            with pytest.raises(InputError, match="does not match"):
                store.blobs.put(io.BytesIO(data[:-1] + b"x"), expected_sha256=sha)
            empty = hashlib.sha256(b"").hexdigest()
            assert store.blobs.put(io.BytesIO(b""), expected_sha256=empty) == (empty, 0)
        assert rows(pg_url, "SELECT sha256, size, chunks FROM blobs ORDER BY size") == [(empty, 0, 1), (sha, len(data), 3)]
        assert [r[0] for r in rows(pg_url, "SELECT length(data) FROM blob_chunks WHERE sha256 = ? ORDER BY n", (sha,))] == [
            CHUNK, CHUNK, 12345]
        with store.blobs.open(sha) as f:
            assert f.read(10) == data[:10] and f.read() == data[10:]
        with store.write():
            bad = "0" * 64
            with pytest.raises(InputError):
                store.blobs.put(io.BytesIO(b"something else"), expected_sha256=bad)
        assert not store.blobs.exists(bad)
        # Both are orphans (no attachment names them): info, and --repair removes them.
    report = api.store_check(pair.home, repair=True)
    assert report.ok and sorted(report.removed) == sorted([f"blobs:{sha}", f"blobs:{empty}"])
    assert rows(pg_url, "SELECT count(*) FROM blob_chunks")[0][0] == 0


@pytest.mark.parametrize("statement", ["UPDATE blob_chunks SET data = '\\x00'::bytea", "UPDATE blobs SET size = 1",
                                       "TRUNCATE blob_chunks, blobs"])
def test_blob_rows_cannot_be_changed_by_the_application_role(pair: Pair, pg_url: str, statement: str) -> None:
    import psycopg

    with open_store(pair.home) as store, store.write():
        store.blobs.put(io.BytesIO(b"evidence"))
    with PgTestConnection(pg_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_migrate_to_with_blobs_in_db_copies_and_proves_the_blobs(tmp_path: Path, pg_url: str) -> None:
    sqlite_pair = make_pair(tmp_path, None, blobs_in_db=False)
    api.init(sqlite_pair.home, now=NOW)
    spool = tmp_path / "spool"
    write_spool(spool, 4, seed=9501, attachments=2)
    expected = spool_attachments(spool)
    assert sqlite_pair.import_(sqlite_pair.seal(spool)).ok
    files_before = {p: p.read_bytes() for p in blob_files(sqlite_pair.home)}
    env = {"CLUETOOL_HOME": str(sqlite_pair.home.root), "CLUETOOL_DEBUG": None}
    result = CliRunner().invoke(app, ["--format", "json", "store", "migrate-to", pg_url, "--blobs-in-db"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["blobs_in_db"] is True and doc["blobs"] == len(expected)
    assert doc["blob_bytes"] == sum(len(d) for d in expected.values())
    assert dict(rows(pg_url, "SELECT sha256, size FROM blobs")) == {s: len(d) for s, d in expected.items()}
    assert {p: p.read_bytes() for p in blob_files(sqlite_pair.home)} == files_before  # files untouched
    # The home switched to the copy (and its blobs in the database) checks clean.
    config = sqlite_pair.home.config_file
    config.write_text(f'store = "{pg_url}"\nblobs_in_db = true\n' + config.read_text(encoding="utf-8"), encoding="utf-8")
    for p in blob_files(sqlite_pair.home):
        p.unlink()
    report = api.store_check(sqlite_pair.home)
    assert report.ok and report.problems == [], report.problems
    with open_store(sqlite_pair.home, readonly=True) as store:
        for sha, data in expected.items():
            with store.blobs.open(sha) as f:
                assert f.read() == data


def test_migrate_to_with_a_tampered_blob_file_keeps_nothing(tmp_path: Path, pg_url: str) -> None:
    sqlite_pair = make_pair(tmp_path, None, blobs_in_db=False)
    api.init(sqlite_pair.home, now=NOW)
    write_spool(tmp_path / "spool", 2, seed=9601)
    assert sqlite_pair.import_(sqlite_pair.seal(tmp_path / "spool")).ok
    victim = blob_files(sqlite_pair.home)[0]
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(StateError, match=f"blob {victim.name} .* does not match its name; nothing was kept"):
        api.store_migrate_to(sqlite_pair.home, pg_url, blobs_in_db=True)
    assert rows(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")[0][0] == 0


def test_two_importers_at_once_share_attachments_written_once(tmp_path: Path, pg_url: str) -> None:
    """Two sources import at once (real processes), their reports carrying the same
    attachments: each blob is one row set (the second writer finds the first's, or waits
    for its commit), both imports succeed, store check is clean."""
    import os
    import subprocess

    from tests.batch_helpers import KeyHome, seal_spool
    from tests.test_pg_concurrency import ROOT, cli

    home = api.init(Home(tmp_path / "internal"), now=NOW, store=pg_url, blobs_in_db=True)
    recipient = KeyHome(home=home, name="internal", info=keys.generate(home, "internal", now=NOW)).recipient
    shared: list[tuple[dict[str, Any], dict[str, bytes]]] = [submission(9700 + i, i, attachments=2) for i in range(4)]
    batches: list[list[Path]] = []
    for k, source in enumerate(("src-a", "src-b")):
        sender = make_home(tmp_path / f"intake-{source}")
        keys.trust(home, source, sender.pub, additional=False)
        spool = tmp_path / f"spool-{source}"
        for i, (att_report, att_files) in enumerate(shared):
            report, files = submission(9800 + 10 * k + i, i)
            report["attachments"] = att_report["attachments"]
            files = {a["file"]: att_files[a["file"]] for a in att_report["attachments"]}
            write_submission(spool / report["submission_id"], report, files)
        sealed = seal_spool(sender, spool, tmp_path / f"out-{source}", source=source, recipients=[recipient],
                            max_reports=2)
        batches.append([Path(b.path) for b in sealed.batches])
    env = {k: v for k, v in os.environ.items() if k != "CLUETOOL_HOME"}
    procs = [subprocess.Popen(cli(home, "-q", "import", "--wait", "120", "--identity", "internal",
                                  "--at", "2026-11-01T14:00:00+08:00", *map(str, paths)),
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for paths in batches]
    for p in procs:
        _out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    attachments = {a["sha256"]: a["size"] for r, _f in shared for a in r["attachments"]}
    assert dict(rows(pg_url, "SELECT sha256, size FROM blobs")) == attachments
    assert rows(pg_url, "SELECT count(*) FROM reports")[0][0] == 8
    assert rows(pg_url, "SELECT count(*) FROM report_attachments")[0][0] == 16
    report = api.store_check(home)
    assert report.ok and report.problems == [], report.problems

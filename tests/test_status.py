"""``status CODE`` and ``code new`` (cluetool/model/querycode.py): the check symbol stops a mistyped code
before any lookup; an unknown code is "not found"; a known one gives the public stage
and nothing else."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from cluetool import api
from cluetool.errors import ExitCode, FindingsError, InputError, StateError
from cluetool.model import querycode
from cluetool.output import Format, emit
from tests.batch_helpers import copy_submissions, sample_spool, valid_names  # noqa: F401 - fixture
from tests.pgfixture import create_database, drop_database, url_of
from tests.test_import import Pair, make_pair

CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z*~$=U]$")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def imported(tmp_path_factory: pytest.TempPathFactory, sample_spool: Path,
             request: pytest.FixtureRequest) -> Iterator[tuple[Pair, dict[str, str]]]:
    """The sample spool sealed and imported; the plain codes of the imported reports.
    The store in SQLite and in PostgreSQL (issue 22)."""
    root = tmp_path_factory.mktemp("status")
    cluster = str(request.getfixturevalue("pg_cluster")) if request.param == "postgresql" else None
    name = create_database(cluster) if cluster else None
    try:
        pair = make_pair(root, url_of(cluster, name) if cluster and name else None)
        copy_submissions(sample_spool, root / "spool", valid_names(sample_spool))
        assert pair.import_(pair.seal(root / "spool", max_reports=30)).ok
        codes = json.loads((sample_spool.parent / "sample-codes.json").read_text(encoding="utf-8"))
        yield pair, {sid: codes[sid] for sid in valid_names(sample_spool)}
    finally:
        if cluster and name:
            drop_database(cluster, name)


def mistype(code: str) -> str:
    """The code with one data symbol changed (the check symbol catches it)."""
    i = 5  # second group, first symbol
    new = "0" if code[i] != "0" else "1"
    return code[:i] + new + code[i + 1:]


def test_code_new_format_and_sha256() -> None:
    made = {api.new_code().code for _ in range(50)}
    assert len(made) == 50
    for code in made:
        assert CODE_RE.match(code), code
        assert querycode.check(code) == code.replace("-", "")
    one = api.new_code()
    assert one.sha256 == hashlib.sha256(one.code.replace("-", "").encode("ascii")).hexdigest()
    assert one.sha256 == querycode.code_sha256(one.code)


def test_status_sample_code_public_stage_received(imported: tuple[Pair, dict[str, str]]) -> None:
    pair, codes = imported
    for sid, code in list(codes.items())[:5]:
        assert api.status(pair.home, code).stage == "received"
        # any spelling a reporter may type
        assert api.status(pair.home, code.lower().replace("-", " ")).stage == "received"


def test_status_json_holds_only_the_stage(imported: tuple[Pair, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    pair, codes = imported
    sid, code = next(iter(codes.items()))
    emit(api.status(pair.home, code), Format.json)
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"stage": "received", "schema": "cluetool.status/1"}
    text = json.dumps(doc, ensure_ascii=False)
    assert sid not in text and code not in text and querycode.code_sha256(code) not in text


def test_status_mistyped_code_input_error(imported: tuple[Pair, dict[str, str]]) -> None:
    pair, codes = imported
    code = next(iter(codes.values()))
    with pytest.raises(InputError) as err:
        api.status(pair.home, mistype(code))
    assert err.value.exit_code == ExitCode.USAGE and "\n" not in err.value.message


def test_status_mistyped_code_refused_before_store_access(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    code = api.new_code().code
    for suffix in ("", "-wal", "-shm"):
        Path(f"{pair.home.store_file}{suffix}").unlink(missing_ok=True)
    # the store is gone: a well-formed code reaches the lookup and fails on the store...
    with pytest.raises(StateError):
        api.status(pair.home, code)
    # ...a mistyped one never gets that far
    with pytest.raises(InputError):
        api.status(pair.home, mistype(code))
    assert not pair.home.store_file.exists()


def test_status_unknown_wellformed_code_not_found(imported: tuple[Pair, dict[str, str]]) -> None:
    pair, _ = imported
    with pytest.raises(FindingsError) as err:
        api.status(pair.home, api.new_code().code)
    assert err.value.exit_code == ExitCode.FINDINGS and "not found" in err.value.message


def test_status_struct_has_no_content_fields() -> None:
    fields = {f.name for f in msgspec.structs.fields(api.Status)}
    assert fields == {"stage", "schema"}

"""Tampering with sealed batches: every change is caught by ``verify`` with the right
problem family (docs/format.md), and the auditor's standard-tools recipe works.

The flip loops call ``check_batch`` directly on a small batch (3 submissions, one small
attachment each) so that thousands of variants stay fast.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import random
import shutil
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cluetool.batch import sealstate
from cluetool.batch.verify import InnerVisitor, check_batch, verify_batches
from cluetool.config import Home
from cluetool.errors import InputError
from cluetool.formats import age, canonical, minisign
from cluetool.model.batch import IndexEntry, key_id_hex16
from tests.batch_helpers import (
    MEMBERS,
    SOURCE,
    KeyHome,
    assemble,
    assemble_files,
    assert_one_line,
    copy_submissions,
    file_member,
    layout_of,
    lookup_for,
    make_home,
    read_members,
    sample_spool,  # noqa: F401 - fixture
    seal_spool,
    sha256_hex,
    special_member,
    valid_names,
    write_spool,
)
from tests.conftest import require_tool

MASKS = (0x01, 0x80)


@dataclass
class World:
    kh: KeyHome
    batch: Path  # one batch of 3 submissions
    data: bytes
    chain: list[Path]  # sequences 1..3 of another source, one submission each
    scratch: Path

    def check(self, data: bytes, name: str | None = None, *, decrypt: bool = False) -> list[str] | None:
        """Problem codes for a batch with these bytes; None when it is not a batch at all."""
        path = self.scratch / (name or self.batch.name)
        path.write_bytes(data)
        try:
            check, problems, _ = check_batch(
                path, lookup_for(self.kh.public_key()), identities=[self.kh.identity()] if decrypt else [],
            )
        except InputError as exc:
            assert_one_line(exc.message)
            return None
        for p in problems:
            assert_one_line(p.message)
        assert check.ok == (not problems)
        return [p.code for p in problems]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("tamper")
    kh = make_home(root / "home")
    write_spool(root / "spool", 3, seed=101, attachments=1)
    (sealed,) = seal_spool(kh, root / "spool", root / "out").batches
    write_spool(root / "spool2", 3, seed=102, attachments=1)
    chain = seal_spool(kh, root / "spool2", root / "out2", source="intake-sh", max_reports=1).batches
    scratch = root / "scratch"
    scratch.mkdir()
    path = Path(sealed.path)
    return World(kh=kh, batch=path, data=path.read_bytes(), chain=[Path(b.path) for b in chain], scratch=scratch)


def flipped(data: bytes, pos: int, mask: int) -> bytes:
    out = bytearray(data)
    out[pos] ^= mask
    return bytes(out)


def family(code: str) -> str:
    return code.split(".")[0]


def trusted_comment_of(manifest: bytes) -> str:
    """The trusted comment seal would write for this manifest (docs/format.md)."""
    doc = json.loads(manifest)
    return f"cluetool-batch/1 source={doc['source']} sequence={doc['sequence']} previous={doc['previous']}"


def resign(members: dict[str, bytes], manifest: bytes, sk: minisign.SecretKey, *,
           trusted_comment: str | None = None, prehash: bool = True) -> bytes:
    """A batch with ``manifest`` signed by ``sk`` (trusted comment from the manifest)."""
    sig = minisign.sign(sk, manifest, trusted_comment=trusted_comment or trusted_comment_of(manifest),
                        untrusted_comment=f"signature from cluetool key {key_id_hex16(sk.key_id)}", prehash=prehash)
    return assemble_files([("manifest.json", manifest), ("manifest.json.minisig", sig.encode()),
                           ("payload.age", members["payload.age"])])


def edited_manifest(world: World, **changes: object) -> tuple[dict[str, bytes], bytes]:
    members = read_members(world.batch)
    doc = json.loads(members["manifest.json"])
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            doc[outer][inner] = value
        else:
            doc[key] = value
    return members, canonical.dumps(doc)


# --------------------------------------------------------------------------- round trip


class _Capture(InnerVisitor):
    def __init__(self) -> None:
        self.entries: list[IndexEntry] = []
        self.reports: dict[str, bytes] = {}

    def index(self, entries: list[IndexEntry]) -> None:
        self.entries = entries

    def report(self, entry: IndexEntry, data: bytes) -> None:
        self.reports[entry.submission_id] = data


def test_verify_round_trip_sample_spool_reports_exact(tmp_path: Path, sample_spool: Path) -> None:
    kh = make_home(tmp_path / "home")
    spool = tmp_path / "spool"
    names = copy_submissions(sample_spool, spool, valid_names(sample_spool))
    originals = {n: (spool / n / "report.json").read_bytes() for n in names}
    report = seal_spool(kh, spool, tmp_path / "out", max_reports=25)
    assert report.ok and [b.reports for b in report.batches] == [25, 25, 10]
    paths = [Path(b.path) for b in report.batches]

    result = verify_batches(paths, lookup_for(kh.public_key()), chain=True, identities=[kh.identity()])
    assert result.ok, result.problems
    assert all(c.ok and c.decrypted for c in result.batches)
    got: dict[str, bytes] = {}
    for p in paths:
        cap = _Capture()
        check, problems, _ = check_batch(p, lookup_for(kh.public_key()), identities=[kh.identity()], visitor=cap)
        assert check.ok and not problems
        assert {e.submission_id for e in cap.entries} == set(cap.reports)
        got.update(cap.reports)
    assert got == originals


def test_verify_tarfile_reassembled_batch_still_verifies(world: World) -> None:
    """The baseline for the surgery below: a tarfile-written copy of the members is fine."""
    members = read_members(world.batch)
    assert world.check(assemble_files([(n, members[n]) for n in MEMBERS])) == []


# --------------------------------------------------------------------------- single-byte flips


def test_tamper_manifest_every_byte_flip_detected(world: World) -> None:
    offset, size = layout_of(world.data).data["manifest.json"]
    allowed = {"manifest", "signature"}
    for pos, mask in itertools.product(range(offset, offset + size), MASKS):
        codes = world.check(flipped(world.data, pos, mask))
        assert codes, (pos, mask)
        assert family(codes[0]) in allowed, (pos, mask, codes)
        # a changed file name, payload size or hash follows from a changed manifest field
        assert all(family(c) in allowed or c in {"batch.name", "payload.size", "payload.sha256"} for c in codes), codes


def _untrusted_comment_text(world: World) -> range:
    offset, _size = layout_of(world.data).data["manifest.json.minisig"]
    start = offset + len("untrusted comment: ")
    return range(start, world.data.index(b"\n", start))


def test_tamper_signature_every_byte_flip_detected(world: World) -> None:
    offset, size = layout_of(world.data).data["manifest.json.minisig"]
    # minisign does not authenticate the untrusted comment's text; cluetool checks it
    # against the comment it writes (tested separately below)
    skip = set(_untrusted_comment_text(world))
    checked = 0
    for pos, mask in itertools.product(range(offset, offset + size), MASKS):
        if pos in skip:
            continue
        codes = world.check(flipped(world.data, pos, mask))
        assert codes and all(family(c) == "signature" for c in codes), (pos, mask, codes)
        checked += 1
    assert checked >= 2 * (size - len(skip))


def test_tamper_signature_untrusted_comment_change_detected(world: World) -> None:
    undetected = [pos for pos in _untrusted_comment_text(world) if world.check(flipped(world.data, pos, 0x01)) == []]
    assert undetected == []


def test_tamper_payload_flips_detected(world: World) -> None:
    offset, size = layout_of(world.data).data["payload.age"]
    rng = random.Random(20261124)
    positions = set(range(64)) | set(range(size - 64, size)) | set(rng.sample(range(64, size - 64), 200))
    assert len(positions) >= 328
    for rel in sorted(positions):
        mask = MASKS[rel % 2]
        assert world.check(flipped(world.data, offset + rel, mask)) == ["payload.sha256"], rel


@pytest.mark.parametrize("where", ["age header", "middle", "last tag"])
def test_tamper_payload_flip_with_decrypt_not_decrypted(world: World, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Authenticate, then parse: a payload that does not match the signed hash is never
    # decrypted (issue 15), so the hash mismatch is the only problem.
    offset, size = layout_of(world.data).data["payload.age"]
    rel = {"age header": 30, "middle": size // 2, "last tag": size - 1}[where]
    opened: list[object] = []
    monkeypatch.setattr(age, "DecryptReader", lambda *a, **k: opened.append(a) or pytest.fail("decrypted"))
    codes = world.check(flipped(world.data, offset + rel, 0x01), decrypt=True)
    assert codes == ["payload.sha256"] and not opened


@pytest.mark.parametrize("member", MEMBERS)
def test_tamper_header_block_every_byte_flip_detected(world: World, member: str) -> None:
    start = layout_of(world.data).headers[member]
    for pos, mask in itertools.product(range(start, start + 512), MASKS):
        codes = world.check(flipped(world.data, pos, mask))
        if codes is None:
            # only a destroyed magic of the first header makes it "not a batch" (exit 2)
            assert member == "manifest.json" and 257 <= pos < 263, (pos, mask)
        else:
            assert codes == ["batch.layout"], (member, pos - start, mask, codes)


def test_tamper_padding_and_end_blocks_flips_detected(world: World) -> None:
    lay = layout_of(world.data)
    positions: list[int] = []
    for name in MEMBERS:
        off, size = lay.data[name]
        positions += range(off + size, off + size + (-size % 512))
    positions += range(lay.end, len(world.data))
    assert positions
    rng = random.Random(7)
    for pos in sorted(set(rng.sample(positions, min(300, len(positions)))) | {lay.end, len(world.data) - 1}):
        assert world.check(flipped(world.data, pos, 0x01)) == ["batch.layout"], pos


# --------------------------------------------------------------------------- truncation


def _cuts(world: World) -> dict[str, int]:
    lay = layout_of(world.data)
    po, ps = lay.data["payload.age"]
    return {
        "empty": 0, "inside first header": 100, "one byte short of a header": 511,
        "after first header": 512, "inside manifest": 700, "after manifest": 1024,
        "inside signature": lay.data["manifest.json.minisig"][0] + 10,
        "before payload header": lay.headers["payload.age"],
        "inside payload header": lay.headers["payload.age"] + 100,
        "payload padding": po + ps, "before end blocks": lay.end,
        "one end block": lay.end + 512, "one byte short": len(world.data) - 1,
    }


@pytest.mark.parametrize("cut", [
    "empty", "inside first header", "one byte short of a header", "after first header", "inside manifest",
    "after manifest", "inside signature", "before payload header", "inside payload header", "payload padding",
    "before end blocks", "one end block", "one byte short",
    "payload start",
    "payload middle",
    "payload last byte",
])
def test_tamper_truncated_batch_detected(world: World, cut: str) -> None:
    po, ps = layout_of(world.data).data["payload.age"]
    cuts = _cuts(world) | {"payload start": po, "payload middle": po + ps // 2, "payload last byte": po + ps - 1}
    codes = world.check(world.data[: cuts[cut]])
    if cuts[cut] < 512:
        assert codes is None
    else:
        assert codes == ["batch.layout"], codes


# --------------------------------------------------------------------------- re-assembled batches


def test_tamper_extra_member_appended_detected(world: World) -> None:
    members = read_members(world.batch)
    data = assemble_files([(n, members[n]) for n in MEMBERS] + [("notes.txt", b"hello\n")])
    assert world.check(data) == ["batch.layout"]


def test_tamper_extra_member_raw_before_end_blocks_detected(world: World) -> None:
    from cluetool.formats import ustar

    lay = layout_of(world.data)
    extra = ustar.member_header("payload.age.orig", 5) + b"hello" + bytes(507)
    data = world.data[: lay.end] + extra + bytes(1024)
    data += bytes(-len(data) % 10240)
    assert world.check(data) == ["batch.layout"]


@pytest.mark.parametrize("order", [p for p in itertools.permutations(MEMBERS) if p != MEMBERS],
                         ids=lambda p: ",".join(n.split(".")[-1] for n in p))
def test_tamper_reordered_members_detected(world: World, order: tuple[str, ...]) -> None:
    members = read_members(world.batch)
    assert world.check(assemble_files([(n, members[n]) for n in order])) == ["batch.layout"]


def test_tamper_missing_member_detected(world: World) -> None:
    members = read_members(world.batch)
    assert world.check(assemble_files([(n, members[n]) for n in MEMBERS[:2]])) == ["batch.layout"]


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "chardev", "blockdev", "fifo", "directory"])
@pytest.mark.parametrize("slot", MEMBERS)
def test_tamper_special_member_detected(world: World, kind: str, slot: str) -> None:
    members = read_members(world.batch)
    typeflag = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "chardev": tarfile.CHRTYPE,
                "blockdev": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE, "directory": tarfile.DIRTYPE}[kind]
    link = "/etc/passwd" if kind in ("symlink", "hardlink") else ""
    parts = [special_member(n, typeflag, linkname=link) if n == slot else file_member(n, members[n]) for n in MEMBERS]
    assert world.check(assemble(parts)) == ["batch.layout"]


def test_tamper_directory_member_inserted_detected(world: World) -> None:
    members = read_members(world.batch)
    parts = [special_member("reports", tarfile.DIRTYPE)] + [file_member(n, members[n]) for n in MEMBERS]
    assert world.check(assemble(parts)) == ["batch.layout"]


@pytest.mark.parametrize("name", ["/manifest.json", "../manifest.json", "./manifest.json", "x/../manifest.json",
                                  "manifest.json/", "manifest.json\\", "MANIFEST.JSON"])
def test_tamper_unsafe_or_wrong_member_name_detected(world: World, name: str) -> None:
    members = read_members(world.batch)
    parts = [file_member(name, members["manifest.json"])] + [file_member(n, members[n]) for n in MEMBERS[1:]]
    assert world.check(assemble(parts)) == ["batch.layout"]


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_tamper_other_tar_formats_refused(world: World, fmt: int) -> None:
    members = read_members(world.batch)
    parts = [file_member(n, members[n]) for n in MEMBERS]
    parts[0][0].pax_headers = {"comment": "x"}
    codes = world.check(assemble(parts, fmt=fmt))
    assert codes is None or codes == ["batch.layout"]
    assert codes != []


# --------------------------------------------------------------------------- re-signed manifests


@pytest.mark.parametrize("style", ["indented", "spaced", "unsorted", "trailing newline"])
def test_tamper_noncanonical_manifest_resigned_only_canonicality_fails(world: World, style: str) -> None:
    members = read_members(world.batch)
    doc = json.loads(members["manifest.json"])
    raw = {
        "indented": json.dumps(doc, indent=1, sort_keys=True),
        "spaced": json.dumps(doc, separators=(", ", ": "), sort_keys=True),
        "unsorted": json.dumps(dict(reversed(list(doc.items()))), separators=(",", ":")),
        "trailing newline": json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n",
    }[style].encode()
    assert json.loads(raw) == doc and raw != members["manifest.json"]
    data = resign(members, raw, world.kh.secret_key(), trusted_comment=trusted_comment_of(members["manifest.json"]))
    # the signature itself is good: only canonicality fails
    assert minisign.verify(world.kh.public_key(), raw, read_members_bytes(data)["manifest.json.minisig"].decode())
    assert world.check(data) == ["manifest.noncanonical"]


def read_members_bytes(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers()}  # type: ignore[union-attr]


def test_tamper_wrong_signer_untrusted(world: World, tmp_path: Path) -> None:
    intruder = make_home(tmp_path / "intruder")
    members, manifest = edited_manifest(world, signer=intruder.info.key_id)
    assert world.check(resign(members, manifest, intruder.secret_key())) == ["signature.untrusted"]
    # and with the manifest's signer field left pointing at the real key
    members, manifest = edited_manifest(world)
    assert world.check(resign(members, manifest, intruder.secret_key())) == ["signature.untrusted"]


def test_tamper_wrong_signer_rejected_by_receiver_home(world: World, tmp_path: Path) -> None:
    from cluetool.api import verify

    intruder = make_home(tmp_path / "intruder")
    receiver = make_home(tmp_path / "receiver")
    from cluetool import keys

    keys.trust(receiver.home, SOURCE, world.kh.pub)
    members, manifest = edited_manifest(world, signer=intruder.info.key_id)
    forged = tmp_path / world.batch.name
    forged.write_bytes(resign(members, manifest, intruder.secret_key()))
    assert verify([world.batch], home=receiver.home).ok
    report = verify([forged], home=receiver.home)
    assert [p.code for p in report.problems] == ["signature.untrusted"]
    assert intruder.info.key_id in report.problems[0].message
    # trusted for another source only: still untrusted for this one
    keys.trust(receiver.home, "intake-other", intruder.pub)
    assert [p.code for p in verify([forged], home=receiver.home).problems] == ["signature.untrusted"]


@pytest.mark.parametrize("field,value,code", [
    ("payload.size", 1, "payload.size"),
    ("payload.sha256", "0" * 64, "payload.sha256"),
    ("signer", "0123456789ABCDEF", "manifest.signer"),
    ("previous", "f" * 63, "manifest.invalid"),
    ("recipients", [], "manifest.invalid"),
    ("format", "cluetool-batch/2", "manifest.invalid"),
    ("created_at", 5, "manifest.invalid"),
])
def test_tamper_resigned_manifest_field_checks(world: World, field: str, value: object, code: str) -> None:
    members, manifest = edited_manifest(world, **{field: value})
    tc = "cluetool-batch/1 source=intake-bj sequence=1 previous=" + "0" * 64
    assert world.check(resign(members, manifest, world.kh.secret_key(), trusted_comment=tc)) == [code]


def test_tamper_resigned_manifest_unknown_field_invalid(world: World) -> None:
    members, manifest = edited_manifest(world, note="hello")
    tc = "cluetool-batch/1 source=intake-bj sequence=1 previous=" + "0" * 64
    assert world.check(resign(members, manifest, world.kh.secret_key(), trusted_comment=tc)) == ["manifest.invalid"]


def test_tamper_resigned_counts_caught_on_decrypt(world: World) -> None:
    members, manifest = edited_manifest(world, **{"counts.reports": 2})
    data = resign(members, manifest, world.kh.secret_key())
    assert world.check(data) == []  # the counts are only checkable inside the payload
    assert world.check(data, decrypt=True) == ["payload.counts"]


def test_tamper_trusted_comment_mismatch_detected(world: World) -> None:
    members = read_members(world.batch)
    data = resign(members, members["manifest.json"], world.kh.secret_key(),
                  trusted_comment="cluetool-batch/1 source=intake-bj sequence=9 previous=" + "0" * 64)
    assert world.check(data) == ["signature.comment"]


def test_tamper_legacy_non_prehashed_signature_refused(world: World) -> None:
    members = read_members(world.batch)
    data = resign(members, members["manifest.json"], world.kh.secret_key(), prehash=False)
    assert world.check(data) == ["signature.invalid"]


def test_tamper_renamed_batch_file_detected(world: World) -> None:
    assert world.check(world.data, name=f"{SOURCE}-00000002.clue") == ["batch.name"]


def test_tamper_payload_swapped_from_other_batch_detected(world: World) -> None:
    members = read_members(world.batch)
    other = read_members(world.chain[0])
    data = assemble_files([("manifest.json", members["manifest.json"]),
                           ("manifest.json.minisig", members["manifest.json.minisig"]),
                           ("payload.age", other["payload.age"])])
    assert set(world.check(data) or ["none"]) <= {"payload.size", "payload.sha256"}
    assert world.check(data)


def test_tamper_signature_from_other_batch_detected(world: World) -> None:
    members = read_members(world.batch)
    other = read_members(world.chain[0])
    data = assemble_files([("manifest.json", members["manifest.json"]),
                           ("manifest.json.minisig", other["manifest.json.minisig"]),
                           ("payload.age", members["payload.age"])])
    assert world.check(data) == ["signature.invalid"]


# --------------------------------------------------------------------------- chains


def _chain_codes(paths: Iterable[Path], world: World) -> list[tuple[str, str]]:
    report = verify_batches(list(paths), lookup_for(world.kh.public_key()), chain=True)
    for p in report.problems:
        assert_one_line(p.message)
    return [(p.batch, p.code) for p in report.problems]


def test_chain_unbroken_run_ok(world: World) -> None:
    assert _chain_codes(world.chain, world) == []


def test_chain_replayed_sequence_detected(world: World, tmp_path: Path) -> None:
    again = tmp_path / world.chain[1].name
    shutil.copy(world.chain[1], again)
    first, second, third = world.chain
    assert _chain_codes([first, second, again, third], world) == [(again.name, "chain.replay")]
    # replayed at the end it also comes out of order
    assert sorted(_chain_codes([*world.chain, again], world)) == [(again.name, "chain.reorder"), (again.name, "chain.replay")]


def test_chain_skipped_sequence_detected(world: World) -> None:
    first, _second, third = world.chain
    report = verify_batches([first, third], lookup_for(world.kh.public_key()), chain=True)
    assert [(p.batch, p.code) for p in report.problems] == [(third.name, "chain.gap")]
    assert "sequence 2 of intake-sh missing" in report.problems[0].message
    assert [c.ok for c in report.batches] == [True, False]


def test_chain_reorder_detected(world: World) -> None:
    first, second, third = world.chain
    codes = _chain_codes([second, first, third], world)
    assert (first.name, "chain.reorder") in codes


def test_chain_without_flag_ignores_gaps(world: World) -> None:
    report = verify_batches([world.chain[0], world.chain[2]], lookup_for(world.kh.public_key()))
    assert report.ok


def _fork_world(tmp_path: Path, world: World) -> tuple[Path, Path]:
    """A second home sharing the same key files seals a different spool: sequence 1 twice."""
    twin = tmp_path / "twin"
    shutil.copytree(world.kh.root, twin)
    shutil.rmtree(twin / "state", ignore_errors=True)
    twin_kh = KeyHome(home=Home(twin), name="main", info=world.kh.info)
    write_spool(tmp_path / "spool", 2, seed=103)
    (b1,) = seal_spool(twin_kh, tmp_path / "spool", tmp_path / "out", source="intake-sh", max_reports=2).batches
    write_spool(tmp_path / "spool", 1, seed=104)
    (b2,) = seal_spool(twin_kh, tmp_path / "spool", tmp_path / "out", source="intake-sh").batches
    return Path(b1.path), Path(b2.path)


def test_chain_fork_from_two_homes_sharing_a_key_detected(world: World, tmp_path: Path) -> None:
    fork1, _fork2 = _fork_world(tmp_path, world)
    assert fork1.name == world.chain[0].name
    assert sha256_hex(read_members(fork1)["manifest.json"]) != sha256_hex(read_members(world.chain[0])["manifest.json"])
    assert verify_batches([fork1], lookup_for(world.kh.public_key())).ok  # each alone is well signed
    first, second, third = world.chain
    assert _chain_codes([first, fork1, second, third], world) == [(fork1.name, "chain.fork")]


def test_chain_wrong_previous_detected(world: World, tmp_path: Path) -> None:
    _fork1, fork2 = _fork_world(tmp_path, world)
    codes = _chain_codes([world.chain[0], fork2], world)
    assert codes == [(fork2.name, "chain.previous")]


def test_chain_fork_after_seal_state_reset_detected(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "home")
    write_spool(tmp_path / "spool", 1, seed=105)
    (first,) = seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches
    (kh.home.state_dir / "seal" / f"{SOURCE}.json").unlink()
    assert sealstate.load_state(kh.home, SOURCE).sequence == 0
    write_spool(tmp_path / "spool", 1, seed=106)
    (again,) = seal_spool(kh, tmp_path / "spool", tmp_path / "out-elsewhere").batches
    assert again.sequence == first.sequence == 1
    report = verify_batches([Path(first.path), Path(again.path)], lookup_for(kh.public_key()), chain=True)
    assert [p.code for p in report.problems] == ["chain.fork"]


def test_chain_first_sequence_with_nonzero_previous_detected(world: World) -> None:
    members, manifest = edited_manifest(world, previous="a" * 64)
    data = resign(members, manifest, world.kh.secret_key())
    path = world.scratch / world.batch.name
    path.write_bytes(data)
    report = verify_batches([path], lookup_for(world.kh.public_key()), chain=True)
    assert [p.code for p in report.problems] == ["chain.previous"]


# --------------------------------------------------------------------------- unreadable input


def test_verify_unreadable_inputs_raise_input_error(world: World, tmp_path: Path) -> None:
    notatar = tmp_path / "notatar.clue"
    notatar.write_bytes(b"PK\x03\x04" + bytes(2000))
    for path in (tmp_path / "missing.clue", tmp_path, notatar):
        with pytest.raises(InputError) as err:
            verify_batches([path], lookup_for(world.kh.public_key()))
        assert_one_line(err.value.message)
    with pytest.raises(InputError, match="no batch files"):
        verify_batches([], lookup_for(world.kh.public_key()))


def test_verify_other_recipient_gives_payload_identity(world: World, tmp_path: Path) -> None:
    stranger = make_home(tmp_path / "stranger")
    report = verify_batches([world.batch], lookup_for(world.kh.public_key()), identities=[stranger.identity()])
    assert [p.code for p in report.problems] == ["payload.identity"]
    assert report.batches[0].decrypted is False


# --------------------------------------------------------------------------- standard tools (docs/format.md)


def test_standard_tools_recipe_verifies_batch(world: World, tmp_path: Path) -> None:
    tar = require_tool("tar")
    mini = require_tool("minisign")
    sha = require_tool("sha256sum")
    shutil.copy(world.batch, tmp_path / "B.clue")
    shutil.copy(world.kh.pub, tmp_path / "signer.pub")
    run = lambda *args: subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=30,  # noqa: E731
                                       stdin=subprocess.DEVNULL)
    r = run(tar, "-xf", "B.clue", "manifest.json", "manifest.json.minisig", "payload.age")
    assert r.returncode == 0, r.stderr
    r = run(mini, "-V", "-p", "signer.pub", "-m", "manifest.json")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_bytes())
    assert f"Trusted comment: cluetool-batch/1 source={SOURCE} sequence=1 previous={'0' * 64}" in r.stdout
    r = run(sha, "payload.age")
    assert r.returncode == 0 and r.stdout.split()[0] == manifest["payload"]["sha256"]
    # and a tampered manifest fails the same recipe
    (tmp_path / "manifest.json").write_bytes((tmp_path / "manifest.json").read_bytes().replace(b'"sequence":1', b'"sequence":2'))
    assert run(mini, "-V", "-p", "signer.pub", "-m", "manifest.json").returncode != 0


def test_standard_tools_age_decrypts_payload_and_tar_lists_it(world: World, tmp_path: Path) -> None:
    tar = require_tool("tar")
    age_cli = require_tool("age")
    (tmp_path / "payload.age").write_bytes(read_members(world.batch)["payload.age"])
    dec = subprocess.run([age_cli, "-d", "-i", str(world.kh.age_file), str(tmp_path / "payload.age")],
                         capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert dec.returncode == 0, dec.stderr
    listing = subprocess.run([tar, "-t"], input=dec.stdout, capture_output=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    names = listing.stdout.decode().split()
    assert names[0] == "index.json"
    index = json.loads(tarfile.open(fileobj=io.BytesIO(dec.stdout)).extractfile("index.json").read())  # type: ignore[union-attr]
    assert sorted(n for n in names if n.startswith("reports/")) == sorted(f"reports/{e['submission_id']}.json" for e in index)
    atts = sorted(n for n in names if n.startswith("attachments/"))
    assert atts == sorted({f"attachments/{h}" for e in index for h in e["attachments"]}) and len(atts) == 3
    with tarfile.open(fileobj=io.BytesIO(dec.stdout)) as tf:
        for name in atts:
            assert hashlib.sha256(tf.extractfile(name).read()).hexdigest() == name.split("/")[1]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- forged payloads (decrypt checks the index)


def _inner_members(world: World) -> list[tuple[str, bytes]]:
    from cluetool.formats import age

    plain = io.BytesIO()
    age.decrypt(io.BytesIO(read_members(world.batch)["payload.age"]), plain, [world.kh.identity()])
    with tarfile.open(fileobj=io.BytesIO(plain.getvalue())) as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers()]  # type: ignore[union-attr]


def _forge(world: World, inner: list[tuple[str, bytes]]) -> bytes:
    """A batch signed with the real key whose payload is ``inner``, encrypted to the real recipient.

    Only someone holding the signing key can make one; the index check is the last line.
    """
    from cluetool.formats import age

    plain = assemble_files(inner)
    enc = io.BytesIO()
    with age.EncryptWriter(enc, [world.kh.identity().recipient]) as w:
        w.write(plain)
    payload = enc.getvalue()
    index = [json.loads(d) for n, d in inner if n == "index.json"]
    entries = index[0] if index else []
    doc = json.loads(read_members(world.batch)["manifest.json"])
    doc["payload"] = {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    doc["counts"] = {"reports": len(entries), "attachments": len({h for e in entries for h in e["attachments"]})}
    return resign({"payload.age": payload}, canonical.dumps(doc), world.kh.secret_key())


def test_forged_payload_identical_inner_verifies(world: World) -> None:
    assert world.check(_forge(world, _inner_members(world)), decrypt=True) == []


@pytest.mark.parametrize("case,code", [
    ("report changed", "payload.report"),
    ("report missing", "payload.report"),
    ("report not indexed", "payload.report"),
    ("attachment changed", "payload.attachment"),
    ("attachment missing", "payload.attachment"),
    ("attachment not indexed", "payload.attachment"),
    ("stray member", "payload.member"),
    ("index not canonical", "payload.index"),
    ("index lists twice", "payload.index"),
    ("index not first", "payload.decrypt"),
])
def test_forged_payload_inner_problem_detected(world: World, case: str, code: str) -> None:
    inner = _inner_members(world)
    index = json.loads(inner[0][1])
    reports = [i for i, (n, _d) in enumerate(inner) if n.startswith("reports/")]
    atts = [i for i, (n, _d) in enumerate(inner) if n.startswith("attachments/")]
    if case == "report changed":
        name, data = inner[reports[0]]
        inner[reports[0]] = (name, data.replace(b"}", b" }", 1))
    elif case == "report missing":
        del inner[reports[0]]
    elif case == "report not indexed":
        inner.append(("reports/00000000-0000-4000-8000-000000000000.json", b"{}"))
    elif case == "attachment changed":
        name, data = inner[atts[0]]
        inner[atts[0]] = (name, data + b"\x00")
    elif case == "attachment missing":
        del inner[atts[0]]
    elif case == "attachment not indexed":
        extra = b"unlisted evidence"
        inner.append((f"attachments/{hashlib.sha256(extra).hexdigest()}", extra))
    elif case == "stray member":
        inner.append(("notes.txt", b"hello"))
    elif case == "index not canonical":
        inner[0] = ("index.json", json.dumps(index, indent=1).encode())
    elif case == "index lists twice":
        inner[0] = ("index.json", canonical.dumps(index + index[:1]))
    elif case == "index not first":
        inner.append(inner.pop(0))
    codes = world.check(_forge(world, inner), decrypt=True)
    assert codes is not None and code in codes, codes
    assert world.check(_forge(world, inner)) == []  # without --decrypt only the outside is checked

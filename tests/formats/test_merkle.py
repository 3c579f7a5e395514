"""RFC 9162 §2.1 Merkle tree: transparency-dev/merkle known answers (formats.md §3.4)
and an exhaustive comparison with a naive recursive reference for every size < 64."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import lru_cache

import pytest

from cluetool.formats.merkle import (
    EMPTY_ROOT,
    InvalidProof,
    MerkleTree,
    RootAccumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# --- Known answers: transparency-dev/merkle testonly/constants.go, proof/verify_test.go
# (values only, as listed in formats.md §3.4).

KAT_LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]
KAT_ROOTS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
H96 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
H5F = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
H6B = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
HBC = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
HCA = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
H0E = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
HB0 = "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"
KAT_INCLUSION = [  # (index, size, path)
    (0, 8, [H96, H5F, H6B]),
    (5, 8, [HBC, HCA, KAT_ROOTS[4]]),
    (2, 3, [KAT_ROOTS[2]]),
    (1, 5, [KAT_ROOTS[1], H5F, HBC]),
]
KAT_CONSISTENCY = [  # (size1, size2, proof)
    (1, 8, [H96, H5F, H6B]),
    (6, 8, [H0E, HCA, KAT_ROOTS[4]]),
    (2, 5, [H5F, HBC]),
    (6, 7, [H0E, HB0, KAT_ROOTS[4]]),
]


@pytest.fixture(scope="module")
def kat_tree() -> MerkleTree:
    return MerkleTree.from_leaf_hashes(leaf_hash(e) for e in KAT_LEAVES)


@pytest.mark.parametrize("size", sorted(KAT_ROOTS), ids=lambda s: f"size{s}")
def test_merkle_root_kat_matches(kat_tree: MerkleTree, size: int) -> None:
    hashes = [leaf_hash(e) for e in KAT_LEAVES[:size]]
    expected = bytes.fromhex(KAT_ROOTS[size])
    acc = RootAccumulator()
    acc.extend(hashes)
    assert kat_tree.root(size) == expected
    assert root_from_leaf_hashes(hashes) == expected
    assert acc.root() == expected and acc.size == size


@pytest.mark.parametrize(
    ("index", "size", "path"), KAT_INCLUSION, ids=[f"{i}in{n}" for i, n, _ in KAT_INCLUSION]
)
def test_merkle_inclusion_kat_matches_and_verifies(
    kat_tree: MerkleTree, index: int, size: int, path: list[str]
) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert kat_tree.inclusion_proof(index, size) == expected
    assert inclusion_proof(index, size, [leaf_hash(e) for e in KAT_LEAVES]) == expected
    root = bytes.fromhex(KAT_ROOTS[size])
    assert verify_inclusion(leaf_hash(KAT_LEAVES[index]), index, size, expected, root) is None


@pytest.mark.parametrize(
    ("size1", "size2", "path"),
    KAT_CONSISTENCY,
    ids=[f"{m}to{n}" for m, n, _ in KAT_CONSISTENCY],
)
def test_merkle_consistency_kat_matches_and_verifies(
    kat_tree: MerkleTree, size1: int, size2: int, path: list[str]
) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert kat_tree.consistency_proof(size1, size2) == expected
    assert consistency_proof(size1, size2, [leaf_hash(e) for e in KAT_LEAVES]) == expected
    root1, root2 = bytes.fromhex(KAT_ROOTS[size1]), bytes.fromhex(KAT_ROOTS[size2])
    assert verify_consistency(size1, size2, expected, root1, root2) is None


def test_merkle_hashes_use_domain_prefixes() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    a, b = b"a" * 32, b"b" * 32
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert EMPTY_ROOT == hashlib.sha256(b"").digest()


# --- Naive reference: RFC 9162 §2.1.1 MTH, §2.1.3.1 PATH, §2.1.4.1 PROOF, written
# directly from the definitions with their own hashing.

MAX = 64
ENTRIES = [f"entry {i}".encode() for i in range(MAX + 1)]
LEAVES = tuple(hashlib.sha256(b"\x00" + e).digest() for e in ENTRIES)


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@lru_cache(maxsize=None)
def ref_mth(start: int, end: int) -> bytes:
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return LEAVES[start]
    k = _k(n)
    return hashlib.sha256(b"\x01" + ref_mth(start, start + k) + ref_mth(start + k, end)).digest()


def ref_path(m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path(m, start, start + k) + [ref_mth(start + k, end)]
    return ref_path(m - k, start + k, end) + [ref_mth(start, start + k)]


def ref_subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if b else [ref_mth(start, end)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, start, start + k, b) + [ref_mth(start + k, end)]
    return ref_subproof(m - k, start + k, end, False) + [ref_mth(start, start + k)]


def ref_proof(m: int, n: int) -> list[bytes]:
    return ref_subproof(m, 0, n, True) if 0 < m < n else []


@pytest.fixture(scope="module")
def tree() -> MerkleTree:
    t = MerkleTree()
    for h in LEAVES[: MAX - 1]:
        t.append(h)
    return t


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


def _rejects(fn: Callable[..., None], *args: object) -> None:
    with pytest.raises(InvalidProof):
        fn(*args)


def _structural_mutations(proof: Sequence[bytes]) -> list[list[bytes]]:
    proof = list(proof)
    extra = hashlib.sha256(b"extra").digest()
    out = [proof + [extra], [extra] + proof]
    if proof:
        out += [proof + proof[-1:], proof[:-1], proof[1:]]
        out += [proof[:j] + [_flip(p, 8 * j + 3)] + proof[j + 1 :] for j, p in enumerate(proof)]
    out += [proof[:j] + [proof[j + 1], proof[j]] + proof[j + 2 :]
            for j in range(len(proof) - 1) if proof[j] != proof[j + 1]]
    return out


def test_merkle_tree_roots_every_size_match_reference(tree: MerkleTree) -> None:
    acc = RootAccumulator()
    assert acc.root() == EMPTY_ROOT
    for size in range(MAX):
        assert tree.root(size) == ref_mth(0, size)
        assert acc.root() == ref_mth(0, size)
        if size < tree.size:
            acc.append(tree.leaf_hash(size))


def test_merkle_tree_bulk_build_equals_incremental(tree: MerkleTree) -> None:
    for size in range(MAX):
        bulk = MerkleTree.from_leaf_hashes(LEAVES[:size])
        incremental = MerkleTree()
        incremental.extend(LEAVES[:size])
        assert bulk.levels == incremental.levels
        # levels[k] holds exactly the complete perfect subtrees of 2**k leaves.
        for k, level in enumerate(bulk.levels):
            width = 1 << k
            expected = b"".join(ref_mth(j * width, (j + 1) * width) for j in range(size // width))
            assert level == expected


@pytest.mark.parametrize("size", range(1, MAX), ids=lambda s: f"size{s}")
def test_merkle_inclusion_exhaustive_matches_reference_and_mutations_fail(
    tree: MerkleTree, size: int
) -> None:
    root = ref_mth(0, size)
    for index in range(size):
        proof = tree.inclusion_proof(index, size)
        assert proof == ref_path(index, 0, size)
        leaf = LEAVES[index]
        verify_inclusion(leaf, index, size, proof, root)
        _rejects(verify_inclusion, _flip(leaf, index), index, size, proof, root)
        _rejects(verify_inclusion, leaf, index, size, proof, _flip(root, index + 5))
        for mutated in _structural_mutations(proof):
            _rejects(verify_inclusion, leaf, index, size, mutated, root)
        for other in range(size + 2):
            if other != index:
                _rejects(verify_inclusion, leaf, other, size, proof, root)
        # A wrong size is checked against that size's own root: the size is bound to the
        # root by the signed checkpoint, not by the proof.
        for other_size in {size - 1, size + 1, 2 * size, size // 2} - {size}:
            if 1 <= other_size <= MAX:
                _rejects(verify_inclusion, leaf, index, other_size, proof, ref_mth(0, other_size))


@pytest.mark.parametrize("size2", range(MAX), ids=lambda s: f"size{s}")
def test_merkle_consistency_exhaustive_matches_reference_and_mutations_fail(
    tree: MerkleTree, size2: int
) -> None:
    root2 = ref_mth(0, size2)
    for size1 in range(size2 + 1):
        root1 = ref_mth(0, size1)
        proof = tree.consistency_proof(size1, size2)
        assert proof == ref_proof(size1, size2)
        verify_consistency(size1, size2, proof, root1, root2)
        _rejects(verify_consistency, size1, size2, proof, _flip(root1, size1), root2)
        if size1 > 0:  # every tree extends the empty tree, whatever its root
            _rejects(verify_consistency, size1, size2, proof, root1, _flip(root2, size2))
        for mutated in _structural_mutations(proof):
            _rejects(verify_consistency, size1, size2, mutated, root1, root2)
        if size1 < size2:
            _rejects(verify_consistency, size1, size2, proof, root2, root1)
        for m, n in {(size1 - 1, size2), (size1 + 1, size2), (size1, size2 - 1),
                     (size1, size2 + 1)} - {(size1, size2)}:
            if m < 0 or n < 0 or (m <= n and ref_proof(m, n) == proof):
                continue  # not a mutation: the same proof is also right for (m, n)
            _rejects(verify_consistency, m, n, proof, ref_mth(0, max(m, 0)), ref_mth(0, n))
        # The same roots claimed for a second size whose proofs have another length:
        # step 7's sn == 0 check rejects it (with equal lengths the left/right pattern
        # can coincide, as for inclusion: the size is bound by the signed checkpoint).
        if size1 > 0:
            for n in (size2 - 1, size2 + 1):
                if n >= size1 and len(ref_proof(size1, n)) != len(proof):
                    _rejects(verify_consistency, size1, n, proof, root1, root2)


def test_merkle_consistency_from_empty_tree_needs_empty_root() -> None:
    root = ref_mth(0, 5)
    verify_consistency(0, 5, [], EMPTY_ROOT, root)
    _rejects(verify_consistency, 0, 5, [], root, root)


@pytest.mark.parametrize(
    "args",
    [
        (LEAVES[0], 0, 1, [], b"short"),
        (LEAVES[0][:31], 0, 1, [], LEAVES[0]),
        (LEAVES[0], -1, 1, [], LEAVES[0]),
        (LEAVES[0], True, 2, [LEAVES[0]], LEAVES[0]),
        (LEAVES[0], 0, 0, [], LEAVES[0]),
        (LEAVES[0], 0, 2, [b"x" * 31], LEAVES[0]),
        (LEAVES[0], 0, 2, LEAVES[1], LEAVES[0]),
        (LEAVES[0], 0, 2, ["not bytes"], LEAVES[0]),
    ],
    ids=["short-root", "short-leaf", "negative-index", "bool-index", "empty-tree",
         "short-element", "bytes-as-proof", "str-element"],
)
def test_merkle_verify_inclusion_malformed_input_raises_invalid_proof(args: tuple) -> None:
    _rejects(verify_inclusion, *args)


@pytest.mark.parametrize(
    "args",
    [
        (3, 2, [], ref_mth(0, 3), ref_mth(0, 2)),
        (2, 2, [LEAVES[0]], ref_mth(0, 2), ref_mth(0, 2)),
        (2, 2, [], ref_mth(0, 2), ref_mth(0, 3)),
        (2, 3, [], ref_mth(0, 2), ref_mth(0, 3)),
        (-1, 3, [], EMPTY_ROOT, ref_mth(0, 3)),
        (1, 3, [b"x" * 33], ref_mth(0, 1), ref_mth(0, 3)),
    ],
    ids=["first-larger", "equal-nonempty-proof", "equal-different-roots", "empty-proof",
         "negative-size", "long-element"],
)
def test_merkle_verify_consistency_malformed_input_raises_invalid_proof(args: tuple) -> None:
    _rejects(verify_consistency, *args)


def test_merkle_tree_generation_out_of_range_raises_value_error(tree: MerkleTree) -> None:
    with pytest.raises(ValueError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(ValueError):
        tree.inclusion_proof(0, tree.size + 1)
    with pytest.raises(ValueError):
        tree.consistency_proof(6, 5)
    with pytest.raises(ValueError):
        tree.root(tree.size + 1)
    with pytest.raises(ValueError):
        inclusion_proof(0, 4, LEAVES[:3])
    with pytest.raises(ValueError):
        consistency_proof(1, 4, LEAVES[:3])
    with pytest.raises(IndexError):
        tree.leaf_hash(tree.size)


def test_merkle_tree_append_bad_hash_raises() -> None:
    t = MerkleTree()
    with pytest.raises(ValueError):
        t.append(b"\x00" * 31)
    with pytest.raises(TypeError):
        t.append("0" * 32)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MerkleTree.from_leaf_hashes([LEAVES[0], b"\x00" * 33])
    with pytest.raises(ValueError):
        RootAccumulator().append(b"")
    assert t.size == 0 and t.root() == EMPTY_ROOT


def test_merkle_tree_append_returns_index_and_grows_root() -> None:
    t = MerkleTree()
    for i, h in enumerate(LEAVES[:10]):
        assert t.append(h) == i
        assert len(t) == i + 1
        assert t.root() == ref_mth(0, i + 1)
        assert t.leaf_hash(i) == h


def test_merkle_tree_deeper_sizes_proofs_verify() -> None:
    # Past the exhaustive range: sizes around 2**10 exercise eleven levels.
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(1100)]
    tree = MerkleTree.from_leaf_hashes(hashes)
    incremental = MerkleTree()
    incremental.extend(hashes)
    assert incremental.root() == tree.root()
    acc = RootAccumulator()
    roots = [acc.root()]
    for h in hashes:
        acc.append(h)
        roots.append(acc.root())
    sizes = [1, 2, 511, 512, 513, 1023, 1024, 1025, 1099, 1100]
    for size in sizes:
        assert tree.root(size) == roots[size]
        for index in {0, size // 3, size // 2, size - 1}:
            proof = tree.inclusion_proof(index, size)
            verify_inclusion(hashes[index], index, size, proof, roots[size])
            if proof:
                _rejects(verify_inclusion, hashes[index], index, size, proof[:-1], roots[size])
        for size1 in sizes:
            if size1 <= size:
                proof = tree.consistency_proof(size1, size)
                verify_consistency(size1, size, proof, roots[size1], roots[size])
                if 0 < size1 < size:
                    _rejects(verify_consistency, size1, size, proof[1:], roots[size1], roots[size])

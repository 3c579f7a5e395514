"""Merkle tree hashing and proofs as specified by RFC 9162 §2.1 (CT v2; the hashing is
unchanged from RFC 6962 §2.1): SHA-256, leaf hash ``SHA-256(0x00 || entry)``, node hash
``SHA-256(0x01 || left || right)``, left-complete trees split at the largest power of two
strictly below the size, inclusion proofs (§2.1.3) and consistency proofs (§2.1.4).

``MerkleTree`` keeps every level of complete subtrees (32 bytes per node, about 64 bytes
per leaf in all), so roots at any earlier size and both kinds of proof cost O(log n)
lookups plus at most O(log n) hashes. ``RootAccumulator`` computes a root in O(log n)
memory while streaming leaves. Verification raises ``InvalidProof`` and never returns a
bool.

Use cluetool.seal/verify (and the audit module) unless you are implementing the format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from itertools import islice

HASH_SIZE = 32
# RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_NODE_HASHER = hashlib.sha256(_NODE_PREFIX)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "InvalidProof",
    "MerkleTree",
    "RootAccumulator",
    "combine",
    "consistency_proof",
    "consistency_ranges",
    "decompose",
    "inclusion_ranges",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "perfect_root",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]


class InvalidProof(Exception):
    """A Merkle inclusion or consistency proof does not verify (or is malformed)."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(_LEAF_PREFIX + bytes(entry)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node hash: ``SHA-256(0x01 || left || right)``."""
    h = _NODE_HASHER.copy()
    h.update(left)
    h.update(right)
    return h.digest()


def _split(n: int) -> int:
    # RFC 9162 §2.1.1: k is the largest power of two strictly smaller than n (n > 1).
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    value = bytes(value)
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, not {len(value)}")
    return value


def _check_count(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer")
    return value


class RootAccumulator:
    """Streaming root computation in O(log n) memory (a compact range starting at 0).

    ``_stack`` holds the roots of the perfect subtrees that make up the tree so far, one
    per set bit of the size, largest (leftmost) first.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf hash (32 bytes, already ``leaf_hash()``-ed)."""
        self.append_subtree(_check_hash(leaf_hash, "leaf hash"), 0)

    def append_subtree(self, h: bytes, height: int = 0) -> None:
        """Add the root ``h`` of the next perfect subtree of ``2**height`` leaves (it must
        start at a multiple of its size).

        Raises:
            ValueError: the subtree is not aligned.
        """
        n = self._size
        if n & ((1 << height) - 1):
            raise ValueError("subtree is not aligned")
        # Each trailing 1 bit of the old size (above the subtree's height) is a perfect
        # subtree of the same height as the one being completed; merge right to left.
        n >>= height
        stack = self._stack
        while n & 1:
            h = node_hash(stack.pop(), h)
            n >>= 1
        stack.append(h)
        self._size += 1 << height

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for h in leaf_hashes:
            self.append(h)

    def subtrees(self) -> list[tuple[int, bytes]]:
        """``(height, hash)`` of the perfect subtrees so far, largest (leftmost) first."""
        heights = [k for k in range(self._size.bit_length() - 1, -1, -1) if self._size >> k & 1]
        return list(zip(heights, self._stack))

    def copy(self) -> RootAccumulator:
        other = RootAccumulator()
        other._size, other._stack = self._size, list(self._stack)
        return other

    def root(self) -> bytes:
        """The RFC 9162 §2.1.1 tree head of the leaves appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        # MTH splits at the largest power of two, so the perfect subtrees combine from
        # the right: MTH = H(s0, H(s1, H(s2, ...))).
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH of the given leaf hashes, in O(log n) memory.

    Raises:
        TypeError, ValueError: an element is not a 32-byte hash.
    """
    acc = RootAccumulator()
    acc.extend(hashes)
    return acc.root()


class MerkleTree:
    """An append-only RFC 9162 tree that keeps every level of complete subtrees.

    ``levels[0]`` holds the leaf hashes; ``levels[k]`` holds, 32 bytes each, the hashes
    of the complete perfect subtrees of 2**k leaves, node j covering leaves
    ``[j * 2**k, (j + 1) * 2**k)``. Roots at any size up to the current one and proofs
    are computed from these without rebuilding anything.
    """

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> MerkleTree:
        """Build a tree in one pass per level (faster than repeated ``append``).

        Raises:
            TypeError, ValueError: an element is not a 32-byte hash.
        """
        tree = cls()
        base = bytearray()
        for h in leaf_hashes:
            if not isinstance(h, (bytes, bytearray, memoryview)) or len(h) != HASH_SIZE:
                _check_hash(h, "leaf hash")
            base += h
        tree._levels = [base]
        level = base
        while len(level) >= 2 * HASH_SIZE:
            pairs = len(level) // (2 * HASH_SIZE)
            view = memoryview(level)
            copy = _NODE_HASHER.copy
            upper = bytearray()
            for i in range(0, pairs * 2 * HASH_SIZE, 2 * HASH_SIZE):
                h = copy()
                h.update(view[i : i + 2 * HASH_SIZE])
                upper += h.digest()
            view.release()
            tree._levels.append(upper)
            level = upper
        return tree

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    @property
    def levels(self) -> tuple[bytes, ...]:
        """A read-only copy of each level (for inspection and tests)."""
        return tuple(bytes(level) for level in self._levels)

    def append(self, leaf_hash: bytes) -> int:
        """Add the next leaf hash; return its index.

        Raises:
            TypeError, ValueError: ``leaf_hash`` is not a 32-byte hash.
        """
        h = _check_hash(leaf_hash, "leaf hash")
        index = self.size
        self._levels[0] += h
        # A node at level k completes a parent whenever it is a right child (odd index).
        k, j = 0, index
        while j & 1:
            level = self._levels[k]
            h = node_hash(level[-2 * HASH_SIZE : -HASH_SIZE], h)
            k += 1
            j >>= 1
            if k == len(self._levels):
                self._levels.append(bytearray())
            self._levels[k] += h
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for h in leaf_hashes:
            self.append(h)

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at ``index``.

        Raises:
            IndexError: ``index`` is outside the tree.
        """
        if not isinstance(index, int) or not 0 <= index < self.size:
            raise IndexError("leaf index out of range")
        return self._node(0, index)

    def _node(self, level: int, j: int) -> bytes:
        return bytes(self._levels[level][j * HASH_SIZE : (j + 1) * HASH_SIZE])

    def _range_hash(self, start: int, end: int) -> bytes:
        # MTH(D[start:end]) for 0 <= start < end <= size where start is a multiple of the
        # largest power of two <= end - start. Every subtree named by RFC 9162 MTH, PATH
        # and PROOF has this shape, so D[start:end] is a run of perfect, aligned subtrees
        # of decreasing size (one per set bit of end - start), all stored in the levels.
        parts: list[bytes] = []
        pos = start
        while pos < end:
            height = (end - pos).bit_length() - 1
            parts.append(self._node(height, pos >> height))
            pos += 1 << height
        h = parts[-1]
        for left in reversed(parts[:-1]):
            h = node_hash(left, h)
        return h

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        size = _check_count(size, "tree size")
        if size > self.size:
            raise ValueError(f"tree size {size} exceeds the {self.size} leaves present")
        return size

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 §2.1.1 MTH of the first ``size`` leaves (default: all).

        Raises:
            ValueError: ``size`` is negative or larger than the tree.
        """
        size = self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[size]), leaf's sibling first.

        Raises:
            ValueError: not ``0 <= index < size <= self.size``.
        """
        size = self._check_size(size)
        index = _check_count(index, "leaf index")
        if index >= size:
            raise ValueError(f"leaf index {index} is not below tree size {size}")
        # Walk PATH top-down: each step emits the sibling subtree MTH and descends into
        # the half holding the leaf; PATH lists the deepest sibling first.
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            mid = start + _split(end - start)
            if index < mid:
                proof.append(self._range_hash(mid, end))
                end = mid
            else:
                proof.append(self._range_hash(start, mid))
                start = mid
        proof.reverse()
        return proof

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(size1, D[size2]); empty when size1 is 0 or size2.

        Raises:
            ValueError: not ``0 <= size1 <= size2 <= self.size``.
        """
        size2 = self._check_size(size2)
        size1 = _check_count(size1, "first tree size")
        if size1 > size2:
            raise ValueError(f"first tree size {size1} exceeds second tree size {size2}")
        if size1 == 0 or size1 == size2:
            # RFC 9162 defines PROOF only for 0 < m < n; an empty proof is the
            # transparency-dev convention for the trivial cases.
            return []
        # Walk SUBPROOF top-down with absolute offsets: D[start:end] is the current list,
        # size1 the absolute end of the old tree and `whole` the SUBPROOF flag b.
        proof: list[bytes] = []
        start, end, whole = 0, size2, True
        while size1 != end:
            mid = start + _split(end - start)
            if size1 <= mid:
                proof.append(self._range_hash(mid, end))
                end = mid
            else:
                proof.append(self._range_hash(start, mid))
                start = mid
                whole = False
        if not whole:
            # SUBPROOF(m, D[m], false) = {MTH(D[m])}.
            proof.append(self._range_hash(start, end))
        proof.reverse()
        return proof


def inclusion_proof(index: int, size: int, leaf_hashes: Iterable[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof for leaf ``index`` in the first ``size`` leaves.

    Builds a tree once; keep a ``MerkleTree`` instead when making several proofs.

    Raises:
        ValueError: not ``0 <= index < size <= len(leaf_hashes)``, or a bad hash.
    """
    size = _check_count(size, "tree size")
    tree = MerkleTree.from_leaf_hashes(islice(leaf_hashes, size))
    if tree.size < size:
        raise ValueError(f"tree size {size} exceeds the {tree.size} leaves given")
    return tree.inclusion_proof(index, size)


def consistency_proof(size1: int, size2: int, leaf_hashes: Iterable[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof between the first ``size1`` and ``size2`` leaves.

    Builds a tree once; keep a ``MerkleTree`` instead when making several proofs.

    Raises:
        ValueError: not ``0 <= size1 <= size2 <= len(leaf_hashes)``, or a bad hash.
    """
    size2 = _check_count(size2, "tree size")
    tree = MerkleTree.from_leaf_hashes(islice(leaf_hashes, size2))
    if tree.size < size2:
        raise ValueError(f"tree size {size2} exceeds the {tree.size} leaves given")
    return tree.consistency_proof(size1, size2)


# --------------------------------------------------------------------------- ranges
# Every hash a root or a proof needs is the MTH of a range that splits into perfect,
# aligned subtrees (RFC 9162 §2.1: PATH and PROOF only name such ranges). These helpers
# name those ranges, so a store-backed tree (``cluetool.audit.tree``) can serve them
# from cached subtree hashes.


def perfect_root(hashes: bytes) -> bytes:
    """MTH of a power-of-two run of subtree hashes given concatenated (level by level)."""
    level = hashes
    copy = _NODE_HASHER.copy  # each node: one copy, one update, one digest (no concatenation)
    while len(level) > HASH_SIZE:
        out = []
        append = out.append
        for i in range(0, len(level), 2 * HASH_SIZE):
            h = copy()
            h.update(level[i : i + 2 * HASH_SIZE])
            append(h.digest())
        level = b"".join(out)
    return level


def combine(parts: list[bytes]) -> bytes:
    """MTH of a range given its perfect subtrees, largest (leftmost) first."""
    h = parts[-1]
    for left in reversed(parts[:-1]):
        h = node_hash(left, h)
    return h


def decompose(start: int, end: int) -> list[tuple[int, int]]:
    """``(height, index)`` of the perfect aligned subtrees that make up ``[start, end)``
    (``start`` a multiple of the largest power of two <= ``end - start``)."""
    parts = []
    pos = start
    while pos < end:
        height = (end - pos).bit_length() - 1
        parts.append((height, pos >> height))
        pos += 1 << height
    return parts


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form RFC 9162 §2.1.3.1 PATH(index, D[size]), sibling first."""
    out = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            out.append((mid, end))
            end = mid
        else:
            out.append((start, mid))
            start = mid
    out.reverse()
    return out


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form RFC 9162 §2.1.4.1 PROOF(size1, D[size2]) (empty for the
    trivial cases size1 == 0 or size1 == size2, as transparency-dev does)."""
    if size1 == 0 or size1 == size2:
        return []
    out = []
    start, end, whole = 0, size2, True
    while size1 != end:
        mid = start + _split(end - start)
        if size1 <= mid:
            out.append((mid, end))
            end = mid
        else:
            out.append((start, mid))
            start = mid
            whole = False
    if not whole:
        out.append((start, end))
    out.reverse()
    return out


def _proof_hash(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)) or len(value) != HASH_SIZE:
        raise InvalidProof(f"{what} is not a {HASH_SIZE}-byte hash")
    return bytes(value)


def _proof_hashes(proof: Sequence[bytes]) -> list[bytes]:
    if isinstance(proof, (bytes, bytearray, memoryview, str)):
        raise InvalidProof("proof must be a sequence of hashes")
    return [_proof_hash(p, "proof element") for p in proof]


def _proof_count(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidProof(f"{what} is not a non-negative integer")
    return value


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof (RFC 9162 §2.1.3.2) of ``leaf_hash`` at ``index``.

    ``root`` must be the tree head at ``size`` that the caller already trusts.

    Raises:
        InvalidProof: the proof does not lead from the leaf to ``root``, or any input is
            malformed (index not below size, wrong proof length, hash not 32 bytes).
    """
    r = _proof_hash(leaf_hash, "leaf hash")
    root = _proof_hash(root, "root hash")
    index = _proof_count(index, "leaf index")
    size = _proof_count(size, "tree size")
    path = _proof_hashes(proof)
    # Step 1.
    if index >= size:
        raise InvalidProof("leaf index is not below the tree size")
    # Step 2.
    fn, sn = index, size - 1
    # Step 3.
    for p in path:
        if sn == 0:
            raise InvalidProof("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 4: sn == 0 rejects proofs that are too short.
    if sn != 0:
        raise InvalidProof("inclusion proof is too short")
    if r != root:
        raise InvalidProof("inclusion proof does not match the root hash")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree with head ``root1`` at ``size1`` is a prefix of the tree with
    head ``root2`` at ``size2`` (RFC 9162 §2.1.4.2).

    Conventions outside RFC 9162's ``0 < size1 < size2`` (as in transparency-dev/merkle):
    equal sizes need an empty proof and equal roots; size1 == 0 needs an empty proof and
    ``root1`` equal to the empty-tree hash (the only head a size-0 tree can have).

    Raises:
        InvalidProof: the proof does not link the two heads, or any input is malformed.
    """
    root1 = _proof_hash(root1, "first root hash")
    root2 = _proof_hash(root2, "second root hash")
    size1 = _proof_count(size1, "first tree size")
    size2 = _proof_count(size2, "second tree size")
    path = _proof_hashes(proof)
    if size1 > size2:
        raise InvalidProof("first tree size exceeds second tree size")
    if size1 == size2:
        if path:
            raise InvalidProof("consistency proof between equal sizes must be empty")
        if root1 != root2:
            raise InvalidProof("root hashes differ for the same tree size")
        return
    if size1 == 0:
        if path:
            raise InvalidProof("consistency proof from the empty tree must be empty")
        if root1 != EMPTY_ROOT:
            raise InvalidProof("first root hash is not the empty-tree hash")
        return
    # Step 1.
    if not path:
        raise InvalidProof("consistency proof is empty")
    # Step 2: when size1 is a power of two the old root is itself a node of the new tree
    # and PROOF omits it.
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # Steps 3 and 4.
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise InvalidProof("consistency proof is too short")
    if fr != root1:
        raise InvalidProof("consistency proof does not match the first root hash")
    if sr != root2:
        raise InvalidProof("consistency proof does not match the second root hash")

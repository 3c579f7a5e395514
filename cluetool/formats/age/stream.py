"""age v1 encryption and decryption (C2SP age "Payload": STREAM with ChaCha20-Poly1305
in 64 KiB chunks), streaming with constant memory, armored or binary."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .armor import _ARMOR_LINE_BYTES, _ArmorDecoder, _ArmorEncoder
from .errors import (
    AgeError,
    HeaderError,
    MacError,
    NoIdentityMatchError,
    PayloadError,
    UnsupportedRecipientError,
)
from .header import (
    _FILE_KEY_SIZE,
    _TAG_SIZE,
    _VERSION_PREFIX,
    _encode_header,
    _header_mac,
    _hkdf,
    _read_header,
    _validate_stanzas,
)
from .recipients import (
    _UNSUPPORTED_TYPES,
    Identity,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
)
from .hybrid import HYBRID_TYPE, HybridIdentity, HybridRecipient, _validate_hybrid
from .source import _Input

CHUNK_SIZE: Final = 64 * 1024  # "Payload": plaintext chunks of 64 KiB
_ENC_CHUNK_SIZE: Final = CHUNK_SIZE + _TAG_SIZE
_NONCE_SIZE: Final = 16


def _chunk_nonce(counter: int, last: bool) -> bytes:
    # Spec "Payload": 11-byte big-endian chunk counter, then 0x01 for the final chunk.
    return ((counter << 8) | last).to_bytes(12, "big")


class EncryptWriter:
    """Write-only file object that encrypts to ``recipients`` into ``dst``.

    The header is written at construction. ``close()`` writes the final chunk
    (and the armor END line) but does not close ``dst``. Leaving a ``with`` block
    by an exception does *not* finalize: the output stays truncated and will not
    decrypt, so a failed producer cannot pass for a complete one. Memory use is
    one 64 KiB chunk (plus one armor line batch). ``dst`` must consume the bytes
    handed to ``write`` before returning (true of files, BytesIO, hashing wrappers).

    Raises:
        ValueError: no recipients, an scrypt recipient together with others, or hybrid
            (post-quantum) recipients together with classical ones.
    """

    def __init__(self, dst: BinaryIO, recipients: Sequence[Recipient], *, armor: bool = False) -> None:
        recipients = list(recipients)
        if not recipients:
            raise ValueError("no recipients")
        if len(recipients) > 1 and any(isinstance(r, ScryptRecipient) for r in recipients):
            raise ValueError("an scrypt recipient must be the only recipient")
        if any(isinstance(r, HybridRecipient) for r in recipients) and not all(
            isinstance(r, HybridRecipient) for r in recipients
        ):
            # As age 1.3: one classical recipient would defeat the post-quantum ones.
            raise ValueError(
                "a post-quantum (mlkem768x25519) recipient can only be combined with other post-quantum recipients"
            )
        for r in recipients:
            if not isinstance(r, (X25519Recipient, HybridRecipient, ScryptRecipient)):
                raise TypeError(f"unsupported recipient object: {type(r).__name__}")
        file_key = os.urandom(_FILE_KEY_SIZE)
        header = _encode_header([r._wrap(file_key) for r in recipients], file_key)
        nonce = os.urandom(_NONCE_SIZE)
        self._dst = dst
        self._armor = _ArmorEncoder(dst) if armor else None
        self._write = self._armor.write if self._armor is not None else dst.write
        self._write(header + nonce)
        # Spec "Payload": payload key = HKDF-SHA-256(file key, salt = nonce, "payload").
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._buf = bytearray(CHUNK_SIZE)
        self._bufmv = memoryview(self._buf)
        self._fill = 0
        self._enc = memoryview(bytearray(_ENC_CHUNK_SIZE))
        self._counter = 0
        self._closed = False

    def _seal(self, data: memoryview, last: bool) -> None:
        n = self._aead.encrypt_into(_chunk_nonce(self._counter, last), data, None,
                                    self._enc[: len(data) + _TAG_SIZE])
        self._write(self._enc[:n])
        self._counter += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt and write ``data``; returns ``len(data)`` in bytes."""
        if self._closed:
            raise ValueError("write to closed EncryptWriter")
        mv = memoryview(data).cast("B")
        total = len(mv)
        pos = 0
        while pos < total:
            if self._fill == CHUNK_SIZE:
                # More data follows, so the buffered full chunk is not the last one.
                self._seal(self._bufmv, last=False)
                self._fill = 0
            if self._fill == 0 and total - pos > CHUNK_SIZE:
                # A full chunk with more data after it: encrypt in place, no copy.
                self._seal(mv[pos : pos + CHUNK_SIZE], last=False)
                pos += CHUNK_SIZE
                continue
            k = min(CHUNK_SIZE - self._fill, total - pos)
            self._buf[self._fill : self._fill + k] = mv[pos : pos + k]
            self._fill += k
            pos += k
        return total

    def close(self) -> None:
        """Write the final chunk (full-size when the plaintext is a multiple of
        64 KiB, empty only for an empty plaintext) and the armor footer."""
        if self._closed:
            return
        self._closed = True
        self._seal(self._bufmv[: self._fill], last=True)
        self._fill = 0
        if self._armor is not None:
            self._armor.close()
        flush = getattr(self._dst, "flush", None)
        if flush is not None:
            flush()

    def abort(self) -> None:
        """Stop without writing the final chunk; the output will not decrypt."""
        self._closed = True
        self._fill = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def writable(self) -> bool:
        return not self._closed

    def flush(self) -> None:
        """Nothing to do: a chunk is only written once it is known not to be the last."""

    def __enter__(self) -> EncryptWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _Counter:
    __slots__ = ("count", "_write")

    def __init__(self, dst: BinaryIO) -> None:
        self._write = dst.write
        self.count = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._write(data)
        n = len(data)
        self.count += n
        return n

    def flush(self) -> None:
        pass


def encrypt(src: BinaryIO, dst: BinaryIO, recipients: Sequence[Recipient], *,
            armor: bool = False) -> int:
    """Encrypt all of ``src`` to ``dst``; return the number of bytes written to ``dst``.

    Raises:
        ValueError: bad recipient list (see EncryptWriter).
    """
    counter = _Counter(dst)
    buf = bytearray(16 * CHUNK_SIZE)
    mv = memoryview(buf)
    readinto = getattr(src, "readinto", None)
    with EncryptWriter(counter, recipients, armor=armor) as writer:  # type: ignore[arg-type]
        while True:
            if readinto is not None:
                n = readinto(mv)
                if n is None:
                    raise AgeError("non-blocking sources are not supported")
                if n == 0:
                    break
                writer.write(mv[:n])
            else:
                data = src.read(len(buf))
                if not data:
                    break
                writer.write(data)
    flush = getattr(dst, "flush", None)
    if flush is not None:
        flush()
    return counter.count


class DecryptReader(io.RawIOBase):
    """Read-only file object yielding the plaintext of the age file ``src``.

    The header is parsed, the file key unwrapped and the header MAC checked at
    construction. Plaintext is released chunk by chunk, each only after its tag
    verified. The end of the plaintext (``b""``) is reported only after a valid
    final chunk and a clean EOF; truncation and trailing data raise PayloadError
    instead. Armor is detected automatically (``armor=None``), or required
    (``True``) or refused (``False``). ``close()`` does not close ``src``.

    Raises:
        HeaderError, MacError, UnsupportedRecipientError, NoIdentityMatchError,
        ArmorError: at construction; PayloadError, ArmorError: while reading.
        ValueError: no identities.
    """

    def __init__(self, src: BinaryIO, identities: Sequence[Identity], *,
                 armor: bool | None = None) -> None:
        super().__init__()
        identities = list(identities)
        if not identities:
            raise ValueError("no identities")
        for identity in identities:
            if not isinstance(identity, (X25519Identity, HybridIdentity, ScryptIdentity)):
                raise TypeError(f"unsupported identity object: {type(identity).__name__}")
        raw = _Input(src, 4096)
        if armor is None:
            start = raw.peek(len(_VERSION_PREFIX))
            # A binary age file starts with the version line; anything else is
            # taken as armor (whose parser then says precisely what is wrong).
            armor = not _VERSION_PREFIX.startswith(start)
        if armor:
            # Read the armor one line (48 bytes) at a time while in the header, as
            # the reference implementation does, so errors surface in the same order.
            self._inp = _Input(_ArmorDecoder(raw), _ARMOR_LINE_BYTES)
        else:
            self._inp = raw
        header = _read_header(self._inp)
        _validate_stanzas(header.stanzas)
        for stanza in header.stanzas:
            if stanza.type == HYBRID_TYPE:
                _validate_hybrid(stanza)
        file_key = None
        #: Position in ``identities`` of the identity that unwrapped the file key.
        self.identity_index: int | None = None
        for index, identity in enumerate(identities):
            file_key = identity._unwrap(header.stanzas)
            if file_key is not None:
                self.identity_index = index
                break
        if file_key is None:
            for stanza in header.stanzas:
                kind = stanza.type.decode("ascii")
                if kind in _UNSUPPORTED_TYPES:
                    raise UnsupportedRecipientError(f"unsupported recipient type: {kind}")
            raise NoIdentityMatchError("no identity matched any of the file's recipients")
        try:
            _header_mac(file_key, header.mac_input).verify(header.mac)
        except InvalidSignature:
            raise MacError("header MAC mismatch") from None
        nonce = bytearray(_NONCE_SIZE)
        # The CCTV vectors class a missing or short nonce as a header failure.
        if self._inp.readinto_full(memoryview(nonce)) != _NONCE_SIZE:
            raise HeaderError("payload nonce missing or truncated")
        self._aead = ChaCha20Poly1305(_hkdf(file_key, bytes(nonce), b"payload"))
        self._in = memoryview(bytearray(_ENC_CHUNK_SIZE))
        self._plain = memoryview(bytearray(CHUNK_SIZE))
        self._one = memoryview(bytearray(1))
        self._counter = 0
        self._avail = self._plain[:0]  # authenticated plaintext not yet returned
        self._done = False
        self._error: str | None = None

    def _next_chunk(self) -> memoryview | None:
        """Decrypt the next chunk; its plaintext view is valid until the next call."""
        if self._error is not None:
            raise PayloadError(self._error)
        if self._done:
            return None
        try:
            return self._open_chunk()
        except PayloadError as exc:
            self._error = str(exc)
            raise

    def _open_chunk(self) -> memoryview:
        n = self._inp.readinto_full(self._in)
        # Follows the reference reader (internal/stream/stream.go) so that the
        # plaintext released before an error matches the CCTV vectors.
        if n == 0:
            raise PayloadError("truncated payload: no final chunk")
        if n < _ENC_CHUNK_SIZE:
            if n < _TAG_SIZE:
                raise PayloadError("truncated payload chunk")
            if n == _TAG_SIZE and self._counter > 0:
                raise PayloadError("empty final chunk after a non-empty one")
            last = True
            out = self._plain[: n - _TAG_SIZE]
            try:
                self._aead.decrypt_into(_chunk_nonce(self._counter, True), self._in[:n], None, out)
            except InvalidTag:
                raise PayloadError("payload chunk authentication failed") from None
        else:
            out = self._plain
            try:
                self._aead.decrypt_into(_chunk_nonce(self._counter, False), self._in, None, out)
                last = False
            except InvalidTag:
                # A full-size chunk may be the final one (plaintext a multiple of 64 KiB).
                try:
                    self._aead.decrypt_into(_chunk_nonce(self._counter, True), self._in, None, out)
                except InvalidTag:
                    raise PayloadError("payload chunk authentication failed") from None
                last = True
        self._counter += 1
        if last:
            self._done = True
            # Spec: trailing data after the final chunk is an error. The final
            # chunk is authentic and is released; the next read raises.
            if self._inp.readinto_full(self._one) != 0:
                self._error = "trailing data after the final chunk"
        return out

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        """Copy authenticated plaintext into ``b``; 0 only at the verified end."""
        if self.closed:
            raise ValueError("read from closed DecryptReader")
        dst = memoryview(b).cast("B")
        if not dst:
            return 0
        if not self._avail:
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._avail = chunk
        n = min(len(dst), len(self._avail))
        dst[:n] = self._avail[:n]
        self._avail = self._avail[n:]
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of plaintext (all of it if negative); ``b""`` only at the verified end."""
        if self.closed:
            raise ValueError("read from closed DecryptReader")
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        if not self._avail:
            chunk = self._next_chunk()
            if chunk is None:
                return b""
            self._avail = chunk
        out = bytes(self._avail[:size])
        self._avail = self._avail[len(out):]
        return out

    def readall(self) -> bytes:
        parts = [bytes(self._avail)]
        self._avail = self._plain[:0]
        while (chunk := self._next_chunk()) is not None:
            parts.append(bytes(chunk))
        return b"".join(parts)

    def __enter__(self) -> DecryptReader:
        return self


def decrypt(src: BinaryIO, dst: BinaryIO, identities: Sequence[Identity], *,
            armor: bool | None = None) -> int:
    """Decrypt all of ``src`` into ``dst``; return the number of plaintext bytes written.

    Plaintext is written chunk by chunk as each chunk authenticates; on error the
    exception is raised after the chunks already written, so treat ``dst`` as
    garbage unless this returns (decrypt to a temporary place, then commit).

    Raises:
        AgeError: any subclass, as for DecryptReader.
    """
    reader = DecryptReader(src, identities, armor=armor)
    total = 0
    write = dst.write
    while (chunk := reader._next_chunk()) is not None:
        write(chunk)
        total += len(chunk)
    flush = getattr(dst, "flush", None)
    if flush is not None:
        flush()
    return total

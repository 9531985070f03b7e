"""Streamed authenticated encryption of a backup file (AES-256-GCM in chunks).

Layout: a header (magic, random salt, chunk size, key check), then frames of
`flag (1 byte) | length (4 bytes) | ciphertext+tag`. Each chunk's nonce is its index and
its final flag, so chunks cannot be reordered, dropped, or the stream cut after a chunk
without the reader noticing: the last frame must carry the final flag, and nothing may
follow it. The key is derived per file (HKDF with the salt), so nonces never repeat under
one key. Memory use is one chunk, whatever the size of the database.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"FPMSEAL1"
SALT_BYTES = 16
CHECK_BYTES = 16
TAG_BYTES = 16
CHUNK = 1024 * 1024
MIN_KEY_BYTES = 32
_SIZES = struct.Struct(">I")
_FRAME = struct.Struct(">BI")
HEADER_BYTES = len(MAGIC) + SALT_BYTES + _SIZES.size + CHECK_BYTES
INFO = b"formula-pm backup v1"


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class SealError(Exception):
    """The sealed file cannot be opened: wrong key, altered, truncated or not one of ours."""


def read_key_file(path: Path) -> bytes:
    """The key material of a key file (surrounding whitespace ignored)."""
    try:
        material = path.read_bytes().strip()
    except OSError as exc:
        raise SealError(f"cannot read the key file {path}: {exc.strerror}") from None
    if len(material) < MIN_KEY_BYTES:
        raise SealError(f"the key file {path} holds {len(material)} bytes; at least "
                        f"{MIN_KEY_BYTES} are needed (e.g. `openssl rand -base64 48 > {path}`)")
    return material


def _derive(material: bytes, salt: bytes) -> tuple[bytes, bytes]:
    keys = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=INFO).derive(material)
    return keys[:32], keys[32:]


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _check(check_key: bytes, prefix: bytes) -> bytes:
    return hmac.new(check_key, prefix, hashlib.sha256).digest()[:CHECK_BYTES]


class SealWriter:
    """A file-like sink: bytes written are encrypted chunk by chunk into `out`."""

    def __init__(self, out: Sink, material: bytes, salt: bytes, chunk: int = CHUNK) -> None:
        self.out = out
        self.chunk = chunk
        key, check_key = _derive(material, salt)
        self.aead = AESGCM(key)
        self.prefix = MAGIC + salt + _SIZES.pack(chunk)
        out.write(self.prefix + _check(check_key, self.prefix))
        self.buffer = bytearray()
        self.index = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) > self.chunk:  # keep at least one byte for the final frame
            self._frame(bytes(self.buffer[: self.chunk]), final=False)
            del self.buffer[: self.chunk]

    def close(self) -> None:
        """Write the final frame (possibly empty): the mark that the stream is complete."""
        if not self.closed:
            self._frame(bytes(self.buffer), final=True)
            self.buffer.clear()
            self.closed = True

    def _frame(self, plain: bytes, final: bool) -> None:
        sealed = self.aead.encrypt(_nonce(self.index, final), plain, self.prefix)
        self.out.write(_FRAME.pack(int(final), len(sealed)) + sealed)
        self.index += 1


def _read_exactly(inp: BinaryIO, size: int) -> bytes:
    data = inp.read(size)
    while len(data) < size:
        more = inp.read(size - len(data))
        if not more:
            break
        data += more
    return data


def open_sealed(inp: BinaryIO, material: bytes) -> tuple[AESGCM, bytes, int]:
    """Read and check the header: the cipher, the associated data and the chunk size."""
    header = _read_exactly(inp, HEADER_BYTES)
    if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
        raise SealError("not an encrypted Formula PM backup (no FPMSEAL1 header)")
    prefix, check = header[:-CHECK_BYTES], header[-CHECK_BYTES:]
    salt = prefix[len(MAGIC): len(MAGIC) + SALT_BYTES]
    (chunk,) = _SIZES.unpack(prefix[-_SIZES.size:])
    key, check_key = _derive(material, salt)
    if not hmac.compare_digest(_check(check_key, prefix), check):
        raise SealError("wrong key: this backup was encrypted with another key file")
    if not 0 < chunk <= 64 * CHUNK:
        raise SealError("the encrypted backup's header is damaged (chunk size)")
    return AESGCM(key), prefix, chunk


def unseal(inp: BinaryIO, material: bytes) -> Iterator[bytes]:
    """The plaintext, chunk by chunk; raises SealError on any alteration or truncation
    (the plaintext yielded before the error must be thrown away by the caller)."""
    aead, prefix, chunk = open_sealed(inp, material)
    index = 0
    while True:
        head = _read_exactly(inp, _FRAME.size)
        if len(head) < _FRAME.size:
            raise SealError(f"truncated: the file ends after {index} chunks, before the "
                            "final one")
        flag, length = _FRAME.unpack(head)
        if flag > 1 or length > chunk + TAG_BYTES:
            raise SealError(f"altered: chunk {index} has a damaged frame header")
        sealed = _read_exactly(inp, length)
        if len(sealed) < length:
            raise SealError(f"truncated: chunk {index} is cut short")
        try:
            plain = aead.decrypt(_nonce(index, bool(flag)), sealed, prefix)
        except InvalidTag:
            raise SealError(f"altered: chunk {index} fails authentication") from None
        yield plain
        if flag:
            if inp.read(1):
                raise SealError("altered: data follows the final chunk")
            return
        index += 1

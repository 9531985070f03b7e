"""The streamed cipher of backups: round trip, and every way of cutting or altering a file
is refused with a message saying which."""

from __future__ import annotations

import io
import os
import struct

import pytest

from cli.backup.sealed import HEADER_BYTES, SealError, SealWriter, unseal

KEY = b"k" * 40
CHUNK = 1000


def _seal(data: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    writer = SealWriter(out, key, os.urandom(16), chunk=CHUNK)
    for start in range(0, len(data), 333):
        writer.write(data[start:start + 333])
    writer.close()
    return out.getvalue()


def _open(blob: bytes, key: bytes = KEY) -> bytes:
    return b"".join(unseal(io.BytesIO(blob), key))


def _frames(blob: bytes) -> list[bytes]:
    frames, at = [], HEADER_BYTES
    while at < len(blob):
        (_, length) = struct.unpack(">BI", blob[at:at + 5])
        frames.append(blob[at:at + 5 + length])
        at += 5 + length
    return frames


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 5 * CHUNK + 17])
def test_round_trip_in_chunks(size: int) -> None:
    data = os.urandom(size)
    blob = _seal(data)
    assert _open(blob) == data
    assert len(_frames(blob)) == max(1, -(-size // CHUNK))


def test_a_wrong_key_is_named_before_anything_is_decrypted() -> None:
    with pytest.raises(SealError, match="wrong key"):
        _open(_seal(b"data" * 1000), b"z" * 40)


def test_a_file_cut_at_a_chunk_boundary_is_truncated() -> None:
    blob = _seal(os.urandom(3 * CHUNK + 5))
    without_final = blob[: len(blob) - len(_frames(blob)[-1])]
    with pytest.raises(SealError, match="truncated"):
        _open(without_final)
    with pytest.raises(SealError, match="truncated"):
        _open(blob[:-7])  # inside the final chunk


def test_altered_reordered_or_extended_files_are_refused() -> None:
    blob = _seal(os.urandom(3 * CHUNK + 5))
    flipped = bytearray(blob)
    flipped[HEADER_BYTES + 50] ^= 1
    with pytest.raises(SealError, match="chunk 0 fails authentication"):
        _open(bytes(flipped))
    frames = _frames(blob)
    swapped = blob[:HEADER_BYTES] + frames[1] + frames[0] + b"".join(frames[2:])
    with pytest.raises(SealError, match="altered"):
        _open(swapped)
    with pytest.raises(SealError, match="follows the final chunk"):
        _open(blob + b"x")
    # A non-final chunk relabelled as final (a cut that pretends to be complete).
    forged = bytearray(blob)
    forged[HEADER_BYTES] = 1
    with pytest.raises(SealError, match="altered"):
        _open(bytes(forged))


def test_a_plain_file_is_not_taken_for_a_sealed_one() -> None:
    with pytest.raises(SealError, match="not an encrypted"):
        _open(b"PGDMP" + b"\0" * 100)

"""Vectorised ``img_sha1`` conversion: MediaWiki's base-36 SHA-1 → 40 hex digits, for a whole
Arrow array at once (numpy), exactly as :func:`wikivis.datasets.base36_to_hex` does per value.

MediaWiki stores ``img_sha1`` as ``wfBaseConvert(sha1, 16, 36, 31)``: 31 lower-case base-36
digits, zero-padded.  Such a value is below 2**160, so it fits five 32-bit limbs.  The fast
path takes every row that is exactly 31 ASCII base-36 digits: it gathers the digits into an
``(n, 31)`` array, runs Horner's rule (``acc = acc * 36**6 + six digits``) on six 32-bit limbs
held in ``uint64`` (so the carry never overflows), and writes the five low limbs as 40 hex digits.

Everything else — nulls, ``""``, other lengths, characters that are not base-36 digits,
values of 2**160 or more (a 31-digit base-36 number can reach 36**31 ≈ 1.18 · 2**160, which
the exact twin prints with 41 digits) — goes to the exact twin one value at a time.  Real
dumps have none or a handful of such rows, so the per-row path costs nothing at scale, and
the result is the twin's for every input (``tests/unit/dumps/test_base36.py`` fuzzes both).
A value the twin cannot read (``int(v, 36)`` raises) raises :class:`ValueError` here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wikivis.datasets import base36_to_hex

if TYPE_CHECKING:
    import pyarrow as pa

DIGITS = 31
_GROUP = 6  # (31 - 1) digits = 5 groups of 6
_HEX_PAIRS = b"".join(b"%02x" % i for i in range(256))  # byte → its two hex digits


def _lookup() -> bytes:
    table = bytearray([255] * 256)
    for i, c in enumerate(b"0123456789abcdefghijklmnopqrstuvwxyz"):
        table[c] = i
        table[bytes([c]).upper()[0]] = i
    return bytes(table)


_LUT = _lookup()


def base36_to_hex_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``base36_to_hex`` of every value of a string array (nulls become ``""``, as the twin's
    ``not b36`` test makes them)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if values.type != pa.string():
        values = values.cast(pa.string())
    n = len(values)
    if n == 0:
        return pa.array([], pa.string())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1, offset=values.offset * 4)
    data_buffer = values.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    regular = lengths == DIGITS
    if values.null_count:
        regular &= np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    rows = np.flatnonzero(regular)
    # digits[i] = the i-th digit of every regular row (one row per digit: fast numpy loops)
    if len(rows) == n:  # the usual case: every value is 31 bytes, back to back
        raw = data[offsets[0]:offsets[0] + DIGITS * n].reshape(n, DIGITS).T
    else:
        raw = data[np.arange(DIGITS, dtype=np.int32)[:, None] + offsets[:-1][regular]]
    digits = np.frombuffer(_LUT, dtype=np.uint8)[raw]
    bad = (digits == 255).any(axis=0)
    digits[:, bad] = 0
    limbs = np.zeros((6, len(rows)), dtype=np.uint64)
    mask, shift, base = np.uint64(0xFFFFFFFF), np.uint64(32), np.uint64(36)
    # Horner's rule six digits at a time: 36**6 < 2**32, so limb * 36**6 + carry < 2**64
    limbs[0] = digits[0]
    for start in range(1, DIGITS, _GROUP):
        carry = np.zeros(len(rows), dtype=np.uint64)
        for digit in digits[start:start + _GROUP]:
            carry = carry * base + digit
        for limb in range(6):
            t = limbs[limb] * np.uint64(36**_GROUP) + carry
            limbs[limb] = t & mask
            carry = t >> shift
    bad |= limbs[5] != 0  # 2**160 or more: the twin prints 41 digits
    # 40 hex digits: the five low limbs as big-endian 32-bit words, each byte → two hex digits
    words = np.ascontiguousarray(limbs[4::-1].T).astype(">u4").view(np.uint8)  # (m, 20)
    text = np.frombuffer(_HEX_PAIRS, dtype=np.uint16)[words].view(np.uint8)  # (m, 40)

    out = np.zeros((n, 40), dtype=np.uint8)
    out[rows] = text
    result = pa.StringArray.from_buffers(
        n, pa.py_buffer(np.arange(0, 40 * (n + 1), 40, dtype=np.int32)), pa.py_buffer(out.tobytes())
    )
    irregular = ~regular
    irregular[rows[bad]] = True
    if irregular.any():
        slow = values.filter(pa.array(irregular)).to_pylist()
        result = pc.replace_with_mask(result, pa.array(irregular), pa.array([base36_to_hex(v) for v in slow], pa.string()))
    return result

"""The vectorised base-36 → hex SHA-1 conversion equals its exact twin on every input."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from wikivis.datasets import base36_to_hex, hex_to_base36
from wikivis.dumps._base36 import base36_to_hex_array

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _value(rng: random.Random) -> str | None:
    kind = rng.random()
    if kind < 0.6:  # a real SHA-1: 31 digits below 2**160
        return hex_to_base36(f"{rng.getrandbits(160):040x}")
    if kind < 0.65:
        return None
    if kind < 0.7:
        return ""
    if kind < 0.8:  # any 31 digits, up to 36**31 > 2**160 (the twin then prints 41 hex digits)
        return "".join(rng.choice(DIGITS) for _ in range(31))
    if kind < 0.88:  # other lengths
        return "".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 45)))
    if kind < 0.94:  # upper case (int() accepts it)
        return "".join(rng.choice(DIGITS.upper()) for _ in range(31))
    return rng.choice(["z" * 31, "0" * 31, "1" + "0" * 30, " " + "a" * 30, "a_" + "b" * 29, "+" + "c" * 30])


@pytest.mark.parametrize("seed", range(5))
def test_equals_the_exact_twin(seed):
    rng = random.Random(seed)
    values = [_value(rng) for _ in range(3000)]
    got = base36_to_hex_array(pa.array(values, pa.string())).to_pylist()
    assert got == [base36_to_hex(v) for v in values]  # type: ignore[arg-type]


def test_slices_chunks_and_edges():
    rng = random.Random(7)
    values = [hex_to_base36(f"{rng.getrandbits(160):040x}") for _ in range(100)]
    array = pa.array(values)
    assert base36_to_hex_array(array.slice(13, 50)).to_pylist() == [base36_to_hex(v) for v in values[13:63]]
    chunked = pa.chunked_array([array.slice(0, 40), array.slice(40)])
    assert base36_to_hex_array(chunked).to_pylist() == [base36_to_hex(v) for v in values]
    assert base36_to_hex_array(pa.array([], pa.string())).to_pylist() == []
    assert base36_to_hex_array(pa.array([None, ""], pa.string())).to_pylist() == ["", ""]
    assert base36_to_hex_array(pa.array(["0" * 31])).to_pylist() == ["0" * 40]
    big = hex_to_base36("f" * 40)
    assert base36_to_hex_array(pa.array([big])).to_pylist() == ["f" * 40]


def test_a_value_that_is_not_base_36_raises_like_the_twin():
    values = [hex_to_base36("ab" * 20), "not-base-36!" + "a" * 19]
    with pytest.raises(ValueError):
        base36_to_hex(values[1])
    with pytest.raises(ValueError):
        base36_to_hex_array(pa.array(values))

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wikivis.embed.store import load_embeddings, model_embeddings_dir, shard_paths, write_embeddings
from wikivis.errors import ConfigError, InputError, NotFoundError


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def _sha1s(start: int, n: int) -> list[str]:
    return [f"{i:040x}" for i in range(start, start + n)]


def test_round_trip_with_the_documented_schema(settings):
    vectors = _vectors(10)
    written = write_embeddings(settings, "toy", "v1", _sha1s(0, 10), vectors, shard_rows=4)
    assert [p.name for p in written] == ["shard-000000.parquet", "shard-000001.parquet", "shard-000002.parquet"]
    schema = pq.read_schema(written[0])
    assert schema.field("vector").type == pa.list_(pa.float32(), 8)
    assert schema.names == ["sha1", "model_id", "model_version", "vector"]
    sha1s, loaded = load_embeddings(settings, "toy")
    assert sha1s == _sha1s(0, 10)
    assert loaded.dtype == np.float32
    assert np.array_equal(loaded, vectors)


def test_existing_sha1s_are_not_written_twice(settings):
    write_embeddings(settings, "toy", "v1", _sha1s(0, 5), _vectors(5))
    new = write_embeddings(settings, "toy", "v1", _sha1s(3, 5), _vectors(5, seed=1))
    sha1s, vectors = load_embeddings(settings, "toy")
    assert len(new) == 1
    assert sha1s == _sha1s(0, 8)
    assert np.array_equal(vectors[3], _vectors(5)[3])  # the first vector wins


def test_vectors_of_other_weights_are_refused(settings):
    write_embeddings(settings, "toy", "v1", _sha1s(0, 2), _vectors(2))
    with pytest.raises(ConfigError, match="must not be mixed"):
        write_embeddings(settings, "toy", "v2", _sha1s(2, 2), _vectors(2))


def test_no_embeddings_is_not_found(settings):
    with pytest.raises(NotFoundError, match="embed run"):
        load_embeddings(settings, "toy")


def test_temporary_files_are_never_read_and_get_cleaned(settings):
    write_embeddings(settings, "toy", "v1", _sha1s(0, 2), _vectors(2))
    directory = model_embeddings_dir(settings, "toy")
    stale = directory / ".shard-000001.deadbeef.tmp"
    stale.write_bytes(b"half a parquet file")
    assert len(shard_paths(directory)) == 1
    assert len(load_embeddings(settings, "toy")[0]) == 2
    write_embeddings(settings, "toy", "v1", _sha1s(2, 2), _vectors(2))
    assert not stale.exists()


def test_a_corrupt_shard_names_the_file(settings):
    write_embeddings(settings, "toy", "v1", _sha1s(0, 2), _vectors(2))
    shard = shard_paths(model_embeddings_dir(settings, "toy"))[0]
    shard.write_bytes(b"garbage")
    with pytest.raises(InputError, match=shard.name):
        load_embeddings(settings, "toy")

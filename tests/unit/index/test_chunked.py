"""Chunked and on-disk IVF-PQ builds over a vector file, and the store read that feeds them."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from wikivis.index import core
from wikivis.index.build import spool_embeddings
from wikivis.index.plan import plan_for_key

from .conftest import MODEL, clustered, sha1s


def _vector_file(tmp_path, n: int, dim: int = 32):
    vectors = core.normalize(clustered(n, dim, seed=3))
    path = tmp_path / "vectors.npy"
    core.write_vector_file(path, n, dim, (vectors[i : i + 700] for i in range(0, n, 700)))
    return vectors, path


def test_vector_file_round_trips_slices_and_rows(tmp_path):
    vectors, path = _vector_file(tmp_path, 2_000)
    assert np.array_equal(np.load(path), vectors)
    file = core.VectorFile(path)
    assert len(file) == 2_000
    assert np.array_equal(file[100:250], vectors[100:250])
    rows = np.array([0, 7, 1999])
    assert np.array_equal(file[rows], vectors[rows])


def test_on_disk_ivf_pq_finds_what_an_in_ram_build_finds(tmp_path, monkeypatch):
    import wikivis.index.plan as plan_module

    monkeypatch.setattr(plan_module, "ADD_CHUNK_BYTES", 32 * 4 * 500)  # 500-vector chunks: several blocks
    monkeypatch.setattr(core, "BLOCK_CHUNKS", 2)
    vectors, path = _vector_file(tmp_path, 5_000)
    plan = plan_for_key("IVF32,PQ8x8", 5_000, 32)
    on_disk = plan.__class__(**{**plan.to_dict(), "on_disk": True})
    in_ram = core.build_in_chunks(plan, core.VectorFile(path))
    disk = core.build_in_chunks(on_disk, core.VectorFile(path), workdir=tmp_path / "lists")
    assert sorted(p.name for p in (tmp_path / "lists").iterdir()) == ["lists.ivfdata"]
    assert disk.ntotal == in_ram.ntotal == 5_000
    queries = vectors[:50]
    for index in (in_ram, disk):
        core.set_params(index, {"nprobe": 8})
    _, a = core.search(in_ram, queries, 10, rerank=10, vectors=vectors)
    _, b = core.search(disk, queries, 10, rerank=10, vectors=vectors)
    assert np.array_equal(a, b)  # same training, same codes: same answers, from disk
    assert (a[:, 0] == np.arange(50)).mean() > 0.95  # positions are the file's row numbers


def test_spooling_the_store_reads_it_shard_by_shard(index_settings, tmp_path):
    from wikivis.embed import write_embeddings

    vectors = clustered(2_500, 32, seed=5)
    write_embeddings(index_settings, MODEL, "v1", sha1s(0, 2_500), vectors, shard_rows=600)
    spooled = spool_embeddings(index_settings, MODEL, tmp_path / "spool")
    assert (spooled.n, spooled.dim) == (2_500, 32)
    assert np.allclose(np.load(spooled.vectors_path), core.normalize(vectors), atol=1e-6)
    assert pq.read_table(spooled.ids_path).column("sha1").to_pylist() == sha1s(0, 2_500)


def test_build_index_with_an_on_disk_plan_streams_and_loads(index_settings, add_vectors, monkeypatch):
    """An on-disk plan (chosen by the budget at Commons scale; forced here) builds from the
    spooled store, passes the gate, and the version loads from its renamed directory."""
    import dataclasses

    import wikivis.index.build as build_module
    from wikivis.index import IndexTuning, add_to_index, build_index, load_index
    from wikivis.index.plan import plan_for_key

    def on_disk_plan(settings, n, dim, index_key, rerank, hnsw_max_n):
        return dataclasses.replace(plan_for_key("IVF16,PQ8x8", n, dim), on_disk=True)

    monkeypatch.setattr(build_module, "_plan", on_disk_plan)
    vectors = add_vectors(0, 3_000)
    result = build_index(index_settings, tuning=IndexTuning(n_queries=200))
    assert result.recall >= 0.9 and result.n == 3_000
    loaded = load_index(index_settings)
    assert (loaded.path / "lists.ivfdata").is_file()
    assert not list(loaded.path.glob("*.faiss.tmp")) and not (loaded.path / "trained.faiss").exists()
    _, ids = loaded.search(vectors[:5], 3)
    assert list(ids[:, 0]) == sha1s(0, 5)
    add_vectors(3_000, 500)
    again = add_to_index(index_settings, tuning=IndexTuning(n_queries=200))
    assert (again.rebuilt, again.n) == (True, 3_500)
    assert "on-disk" in again.reason

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pyarrow.parquet as pq
import pytest

from wikivis.errors import GateFailed, NotFoundError
from wikivis.index import IndexTuning, add_to_index, build_index, index_info, load_index
from wikivis.index import core as index_core
from wikivis.index.store import CURRENT_FILE, Staging, list_versions, model_index_dir

from .conftest import MODEL, sha1s

FAST = IndexTuning(n_queries=200)


def _normalised(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_flat_build_writes_a_complete_version_and_swaps_it_in(index_settings, add_vectors):
    vectors = add_vectors(0, 600)
    result = build_index(index_settings, tuning=FAST)
    assert (result.kind, result.swapped, result.recall) == ("flat", True, 1.0)
    version_dir = model_index_dir(index_settings, MODEL) / f"v-{result.version}"
    assert {p.name for p in version_dir.iterdir()} == {"index.faiss", "ids.parquet", "vectors.npy", "meta.json"}
    meta = json.loads((version_dir / "meta.json").read_text())
    for key in ("kind", "key", "params", "n", "dim", "recall_at_k", "built_at", "model_version"):
        assert key in meta
    assert (meta["n"], meta["dim"], meta["model_version"]) == (600, 32, "v1")
    assert pq.read_table(version_dir / "ids.parquet").column("sha1").to_pylist() == sha1s(0, 600)
    assert np.allclose(np.load(version_dir / "vectors.npy"), _normalised(vectors), atol=1e-6)
    pointer = json.loads((model_index_dir(index_settings, MODEL) / CURRENT_FILE).read_text())
    assert pointer["version"] == result.version


def test_hnsw_is_chosen_by_budget_and_passes_the_recall_gate(index_settings, add_vectors):
    vectors = add_vectors(0, 3000)
    result = build_index(index_settings.replace(index_latency_budget_ms=0.01), tuning=FAST)
    assert result.key == "HNSW32,Flat"
    assert "efSearch" in result.params
    assert result.recall >= 0.9
    loaded = load_index(index_settings)
    scores, ids = loaded.search(vectors[:5], 3)
    assert ids.shape == (5, 3)
    assert list(ids[:, 0]) == sha1s(0, 5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_ivf_with_hnsw_quantizer_and_pq_with_rerank(index_settings, add_vectors):
    add_vectors(0, 3000)
    ivf = build_index(index_settings.replace(index_latency_budget_ms=0.01), tuning=replace(FAST, hnsw_max_n=1000))
    assert ivf.key == "IVF64_HNSW32,Flat"
    assert "nprobe" in ivf.params
    assert ivf.recall >= 0.9
    tight = index_settings.replace(index_latency_budget_ms=0.01, index_memory_budget_mb=0.08)  # → PQ8
    pq_result = build_index(tight, tuning=replace(FAST, hnsw_max_n=1000))
    assert pq_result.key == "IVF64_HNSW32,PQ8x8"
    assert pq_result.rerank == 10
    assert pq_result.recall >= 0.9


def test_recall_gate_refuses_a_bad_index_and_keeps_the_current_one(index_settings, add_vectors):
    add_vectors(0, 2000)
    good = build_index(index_settings, tuning=FAST)
    model_dir = model_index_dir(index_settings, MODEL)
    with pytest.raises(GateFailed) as info:
        build_index(index_settings, index_key="IVF16,PQ2x4", rerank=0, tuning=FAST)  # 1 byte per 32-d vector
    assert info.value.gate == "index_recall"
    assert "recall@10" in str(info.value)
    assert json.loads((model_dir / CURRENT_FILE).read_text())["version"] == good.version
    assert list_versions(model_dir) == [good.version]
    assert not list(model_dir.glob(".staging-*"))
    assert load_index(index_settings).version == good.version


def test_a_deliberately_broken_index_never_goes_live(index_settings, add_vectors, monkeypatch):
    vectors = add_vectors(0, 1500)
    good = build_index(index_settings, tuning=FAST)

    def add_shuffled(index, vecs, *, seed=0):  # ids no longer match the vectors
        index_core.add_in_chunks(index, np.ascontiguousarray(vecs[::-1]))

    monkeypatch.setattr(index_core, "train_and_add", add_shuffled)
    with pytest.raises(GateFailed):
        build_index(index_settings, tuning=FAST)
    assert load_index(index_settings).version == good.version
    assert load_index(index_settings).search(vectors[:1], 1)[1][0, 0] == sha1s(0, 1)[0]


def test_incremental_add_keeps_ids_aligned(index_settings, add_vectors):
    add_vectors(0, 2000)
    first = build_index(index_settings.replace(index_latency_budget_ms=0.01), tuning=FAST)
    new = add_vectors(5000, 300)
    result = add_to_index(index_settings.replace(index_latency_budget_ms=0.01), tuning=FAST)
    assert (result.added, result.rebuilt, result.swapped, result.n) == (300, False, True, 2300)
    loaded = load_index(index_settings)
    assert loaded.ids[:2000] == sha1s(0, 2000)
    assert loaded.ids[2000:] == sha1s(5000, 300)
    assert (loaded.meta["adds_since_rebuild"], loaded.meta["base_version"]) == (1, first.version)
    assert np.allclose(loaded.vector_for(sha1s(5000, 1)[0]), _normalised(new[:1])[0], atol=1e-6)
    _, ids = loaded.search(new[:20], 1)
    assert list(ids[:, 0]) == sha1s(5000, 20)


def test_add_with_nothing_new_is_a_no_op(index_settings, add_vectors):
    add_vectors(0, 500)
    first = build_index(index_settings, tuning=FAST)
    again = add_to_index(index_settings, tuning=FAST)
    assert (again.added, again.swapped, again.version) == (0, False, first.version)


def test_add_rebuilds_after_n_adds_and_when_the_type_changes(index_settings, add_vectors):
    fast_settings = index_settings.replace(index_latency_budget_ms=0.001)
    add_vectors(0, 900)
    assert build_index(fast_settings, tuning=FAST).kind == "flat"  # n ≤ 1000 is always exact
    add_vectors(1000, 600)
    changed = add_to_index(fast_settings, tuning=FAST)
    assert changed.rebuilt
    assert changed.kind == "hnsw"
    assert "HNSW32" in changed.reason
    add_vectors(2000, 50)
    assert not add_to_index(fast_settings, rebuild_after=1, tuning=FAST).rebuilt
    add_vectors(3000, 50)
    due = add_to_index(fast_settings, rebuild_after=1, tuning=FAST)
    assert due.rebuilt
    assert "incremental adds" in due.reason
    assert load_index(index_settings).meta["adds_since_rebuild"] == 0


def test_a_crash_while_committing_keeps_the_old_current(index_settings, add_vectors, monkeypatch):
    add_vectors(0, 500)
    good = build_index(index_settings, tuning=FAST)

    def crash(self, version, meta):
        raise OSError("disk full")

    monkeypatch.setattr(Staging, "commit", crash)
    add_vectors(1000, 10)
    with pytest.raises(OSError, match="disk full"):
        add_to_index(index_settings, tuning=FAST)
    model_dir = model_index_dir(index_settings, MODEL)
    assert load_index(index_settings).version == good.version
    assert not list(model_dir.glob(".staging-*"))
    assert not list(model_dir.glob(".*.tmp"))


def test_old_versions_are_pruned_but_current_kept(index_settings, add_vectors):
    add_vectors(0, 300)
    versions = [build_index(index_settings, tuning=replace(FAST, keep_versions=2)).version for _ in range(4)]
    assert list_versions(model_index_dir(index_settings, MODEL)) == versions[-2:]
    info = index_info(index_settings)
    assert info["current"]["version"] == versions[-1]
    assert info["meta"]["n"] == 300


def test_loaded_index_edges(index_settings, add_vectors):
    with pytest.raises(NotFoundError, match="index build"):
        load_index(index_settings)
    vectors = add_vectors(0, 5)
    build_index(index_settings, tuning=FAST)
    loaded = load_index(index_settings)
    _scores, ids = loaded.search(vectors[0], 10)  # 1-d query, k > n
    assert ids.shape == (1, 5)
    assert ids[0, 0] == sha1s(0, 1)[0]
    with pytest.raises(NotFoundError):
        loaded.vector_for("f" * 40)


def test_recall_helpers():
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    found = np.array([[1, 2, 9], [6, 5, 4]])
    assert index_core.recall_at_k(found, truth, 3) == pytest.approx(5 / 6)
    assert index_core.drop_self(np.array([[7, 1, 2, 3]]), np.array([7]), 3).tolist() == [[1, 2, 3]]

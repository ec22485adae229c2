"""Embedding checks (dimension, finite, norm, collapse) and index checks (size, recall@k)."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from wikivis.gates.vectors import check_embeddings, check_index


def unit_vectors(n: int = 500, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def by_name(results):
    return {r.name: r for r in results}


def ids_for(n: int) -> list[str]:
    return [f"{i:040x}" for i in range(n)]


def test_clean_embeddings_pass():
    results = by_name(check_embeddings(unit_vectors(), ids=ids_for(500), expected_dim=32, normalized=True))
    assert {r.outcome for r in results.values()} == {"pass"}, [r.describe() for r in results.values()]
    assert results["collapse"].metrics["near_duplicate_fraction"] == 0.0


def test_wrong_dimension():
    result = by_name(check_embeddings(unit_vectors(dim=16), expected_dim=32))["dimension"]
    assert result.outcome == "fail"
    assert "16 dimensions, the model gives 32" in result.describe()
    assert result.example_row is not None


def test_ids_misaligned_or_repeated():
    vectors = unit_vectors(10)
    assert by_name(check_embeddings(vectors, ids=ids_for(9)))["dimension"].outcome == "fail"
    repeated = ids_for(10)
    repeated[3] = repeated[2]
    assert "1 repeated id" in by_name(check_embeddings(vectors, ids=repeated))["dimension"].message


def test_nan_embeddings():
    vectors = unit_vectors(100)
    vectors[42, 5] = np.nan
    vectors[77, 0] = np.inf
    ids = ids_for(100)
    results = by_name(check_embeddings(vectors, ids=ids, normalized=True))
    result = results["finite"]
    assert result.outcome == "fail"
    text = result.describe()
    assert text.startswith("embeddings: check 'finite' failed: 2 of 100")
    assert ids[42] in text
    assert results["collapse"].outcome == "pass"  # NaN rows are left out of the sample


def test_zero_and_non_unit_norms():
    vectors = unit_vectors(50)
    vectors[7] = 0
    result = by_name(check_embeddings(vectors))["norm"]
    assert result.outcome == "fail"
    assert "zero vector" in result.message
    assert result.example_row["row"] == 7

    scaled = unit_vectors(50) * 3
    assert by_name(check_embeddings(scaled, normalized=True))["norm"].outcome == "fail"
    assert by_name(check_embeddings(scaled, normalized=False))["norm"].outcome == "pass"


def test_collapsed_embeddings():
    rng = np.random.default_rng(1)
    base = unit_vectors(1, 64)[0]
    collapsed = base + rng.normal(scale=1e-4, size=(300, 64)).astype(np.float32)
    result = by_name(check_embeddings(collapsed, ids=ids_for(300)))["collapse"]
    assert result.outcome == "fail"
    assert "collapsed" in result.describe()
    assert result.example_row["cosine"] > 0.999
    assert result.metrics["mean_random_pair_cosine"] > 0.99


def test_a_few_exact_duplicates_stay_within_bounds():
    vectors = unit_vectors(400)
    vectors[1] = vectors[0]  # one pair of identical images: 2 of 400 = 0.5%
    result = by_name(check_embeddings(vectors, max_duplicate_fraction=0.05))["collapse"]
    assert result.outcome == "pass"
    assert result.metrics["near_duplicate_fraction"] == pytest.approx(2 / 400)


# ------------------------------------------------------------------------- index
def flat_search(vectors: np.ndarray):
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index.search, index.ntotal


def test_exact_index_has_full_recall():
    vectors = unit_vectors(800)
    search, ntotal = flat_search(vectors)
    results = by_name(check_index(search, vectors, index_size=ntotal, sample_size=200))
    assert results["recall"].metrics["recall_at_10"] == pytest.approx(1.0)
    assert {r.outcome for r in results.values()} == {"pass"}


def test_low_recall_index_fails():
    vectors = unit_vectors(800)
    rng = np.random.default_rng(3)

    def random_search(queries: np.ndarray, k: int) -> np.ndarray:
        return rng.integers(0, len(vectors), size=(len(queries), k))

    result = by_name(check_index(random_search, vectors, sample_size=100, recall_threshold=0.9))["recall"]
    assert result.outcome == "fail"
    text = result.describe()
    assert text.startswith("index: check 'recall' failed: recall@10 is 0.0")
    assert "query_row" in text


def test_ivf_index_with_one_probe_is_caught():
    vectors = unit_vectors(4000, 32)
    quantizer = faiss.IndexFlatIP(32)
    ivf = faiss.IndexIVFFlat(quantizer, 32, 64, faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.add(vectors)
    ivf.nprobe = 1
    low = by_name(check_index(ivf.search, vectors, sample_size=200, recall_threshold=0.9))["recall"]
    assert low.outcome == "fail"
    ivf.nprobe = 64
    assert by_name(check_index(ivf.search, vectors, sample_size=200, recall_threshold=0.9))["recall"].outcome == "pass"


def test_labels_in_id_space_and_ties():
    vectors = unit_vectors(300)
    vectors[10] = vectors[11]  # a tie: either twin is a correct neighbour
    ids = ids_for(300)
    search, _ = flat_search(vectors)

    def search_ids(queries, k):
        _, labels = search(queries, k)
        return np.array([[ids[j] for j in row] for row in labels], dtype=object)

    result = by_name(check_index(search_ids, vectors, ids=ids, sample_size=300))["recall"]
    assert result.metrics["recall_at_10"] == pytest.approx(1.0)


def test_size_mismatch_and_l2_metric():
    vectors = unit_vectors(200)
    index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(vectors[:150])
    results = by_name(check_index(index.search, vectors, index_size=index.ntotal, metric="l2", sample_size=50))
    size = results["index_size"]
    assert size.outcome == "fail"
    assert "holds 150 vectors, the embeddings 200" in size.describe()


def test_default_metric_is_cosine_like_an_index_that_normalises():
    rng = np.random.default_rng(5)
    raw = unit_vectors(500) * rng.uniform(0.1, 10, size=(500, 1)).astype(np.float32)  # unnormalised, as stored
    ids = ids_for(500)
    normalised = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(raw.shape[1])
    index.add(normalised)

    def search(queries, k):  # like wikivis.index: normalises queries, returns (scores, ids or None)
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        scores, positions = index.search(np.ascontiguousarray(q, dtype=np.float32), k)
        labels = np.full(positions.shape, None, dtype=object)
        labels[positions >= 0] = np.array(ids, dtype=object)[positions[positions >= 0]]
        return scores, labels

    assert by_name(check_index(search, raw, ids=ids, sample_size=100))["recall"].metrics["recall_at_10"] == 1.0
    raw_ip = by_name(check_index(search, raw, ids=ids, sample_size=100, metric="ip"))["recall"]
    assert raw_ip.metrics["recall_at_10"] < 0.9  # inner product on raw vectors ranks by length too

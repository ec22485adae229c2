from __future__ import annotations

import numpy as np
import pytest

from wikivis.errors import NotFoundError
from wikivis.recommend.search import ExactSearch, VectorSearch, neighbours, vector_or_none


def test_exact_search_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    ids = [f"s{i}" for i in range(50)]
    search = ExactSearch(ids, vectors)
    assert isinstance(search, VectorSearch)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores, found = search.search(vectors[:3], 5)
    truth = np.argsort(-(unit[:3] @ unit.T), axis=1)[:, :5]
    assert [[ids[j] for j in row] for row in truth] == found.tolist()
    np.testing.assert_allclose(scores[:, 0], 1.0, rtol=1e-5)
    assert found.shape == (3, 5)
    _, all_ids = search.search(vectors[:1], 500)  # k larger than the index
    assert all_ids.shape == (1, 50)
    np.testing.assert_allclose(search.vector_for("s3"), unit[3], rtol=1e-5)
    with pytest.raises(NotFoundError):
        search.vector_for("nope")
    assert vector_or_none(search, "nope") is None


class FakeL2Index:
    """Returns squared L2 distances, empty slots and duplicates, like a padded faiss result."""

    metric = "l2"

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array([[0.0, 0.5, 0.5, 9.0]]), np.array([["a", "b", "b", None]], dtype=object)

    def vector_for(self, sha1: str) -> np.ndarray:
        raise KeyError(sha1)


def test_neighbours_converts_l2_skips_empty_and_dedupes() -> None:
    rows = neighbours(FakeL2Index(), np.zeros(3), 4)
    assert rows == [[("a", 1.0), ("b", 0.75)]]
    assert vector_or_none(FakeL2Index(), "a") is None

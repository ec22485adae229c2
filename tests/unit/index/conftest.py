"""Embedding-like vectors written as shards of a toy model, for index tests."""

from __future__ import annotations

import numpy as np
import pytest

MODEL = "toy"


def clustered(n: int, dim: int = 32, *, seed: int = 0, clusters: int = 40, latent: int = 8) -> np.ndarray:
    structure = np.random.default_rng(99)
    centres = structure.standard_normal((clusters, latent))
    projection = structure.standard_normal((latent, dim))
    rng = np.random.default_rng(seed)
    points = centres[rng.integers(0, clusters, n)] + 0.5 * rng.standard_normal((n, latent))
    return (points @ projection + 0.05 * rng.standard_normal((n, dim))).astype(np.float32)


def sha1s(start: int, n: int) -> list[str]:
    return [f"{i:040x}" for i in range(start, start + n)]


@pytest.fixture
def index_settings(settings):
    return settings.replace(model=MODEL, recall_threshold=0.9)


@pytest.fixture
def add_vectors(index_settings):
    """``add_vectors(start, n)`` stores n new vectors (seeded by start) and returns them."""
    from wikivis.embed import write_embeddings

    def add(start: int, n: int, dim: int = 32) -> np.ndarray:
        vectors = clustered(n, dim, seed=start)
        write_embeddings(index_settings, MODEL, "v1", sha1s(start, n), vectors)
        return vectors

    return add

"""VisRank: content-based scores from visual similarity to a profile of seed images.

As in the VisualRecSys tutorial (``models/visrank.py``), a candidate image ``i`` gets a
score from its cosine similarities ``sim(i, j)`` to the seed images ``j ∈ P``:

* ``max``       — ``max_j sim(i, j)``
* ``mean``      — ``Σ_j sim(i, j) / |P|``
* ``topk_mean`` — mean of the ``min(top, |P|)`` largest ``sim(i, j)``

The tutorial materialises a dense N×N similarity matrix in pandas (4–9 GB at 33k items).
Here there is no N×N matrix:

* :func:`visrank_knn` (serving) asks the vector index for each seed's nearest neighbours,
  takes their union as the candidate pool, and scores only that pool exactly
  (``|pool| × |P|`` dot products).  A candidate that is not among any seed's neighbours
  cannot be in the top list under ``max``; under ``mean`` it could in principle, so
  ``per_seed`` should be a few times ``k``.
* :func:`visrank_scores` (evaluation) scores every item against the profile, ``N × |P|``,
  in row chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from wikivis.recommend.data import l2_normalise
from wikivis.recommend.search import VectorSearch, neighbours, vector_or_none

Aggregation = Literal["max", "mean", "topk_mean"]
AGGREGATIONS: tuple[str, ...] = ("max", "mean", "topk_mean")
#: default for serving and evaluation: on topic-structured data it edges out ``max``
#: (one odd profile image matters less) and ``mean`` (a mixed-topic profile is not averaged away)
DEFAULT_AGGREGATION: Aggregation = "topk_mean"
DEFAULT_TOP = 3
_CHUNK_ROWS = 65_536


def aggregate(
    similarities: np.ndarray, method: Aggregation = DEFAULT_AGGREGATION, top: int = DEFAULT_TOP
) -> np.ndarray:
    """Collapse ``(n_candidates, n_seeds)`` similarities into one score per candidate."""
    sims = np.asarray(similarities, dtype=np.float32)
    if sims.ndim != 2 or sims.shape[1] == 0:
        raise ValueError(f"need a (candidates, seeds) matrix with at least one seed, got {sims.shape}")
    values: np.ndarray
    if method == "max":
        values = sims.max(axis=1)
        return values
    if method == "mean":
        values = sims.mean(axis=1)
        return values
    if method == "topk_mean":
        if top < 1:
            raise ValueError("top must be >= 1")
        t = min(top, sims.shape[1])
        values = np.sort(sims, axis=1)[:, -t:].mean(axis=1)
        return values
    raise ValueError(f"unknown aggregation {method!r}; use one of {AGGREGATIONS}")


def visrank_scores(
    unit_items: np.ndarray, unit_seeds: np.ndarray, method: Aggregation = DEFAULT_AGGREGATION, top: int = DEFAULT_TOP
) -> np.ndarray:
    """VisRank score of every item (rows of ``unit_items``) for one profile, exactly."""
    out = np.empty(len(unit_items), dtype=np.float32)
    seeds_t = np.ascontiguousarray(np.atleast_2d(unit_seeds).T)
    for start in range(0, len(unit_items), _CHUNK_ROWS):
        block = unit_items[start : start + _CHUNK_ROWS]
        out[start : start + len(block)] = aggregate(block @ seeds_t, method, top)
    return out


@dataclass(frozen=True)
class Ranked:
    """A scored candidate and the seeds (sha1) most similar to it, best first."""

    sha1: str
    score: float
    seeds: tuple[str, ...]


def visrank_knn(
    search: VectorSearch,
    seeds: Sequence[str],
    k: int,
    *,
    method: Aggregation = DEFAULT_AGGREGATION,
    top: int = DEFAULT_TOP,
    per_seed: int | None = None,
    exclude: Iterable[str] = (),
    allowed: Callable[[str], bool] = lambda _sha1: True,
    explain: int = 3,
) -> list[Ranked]:
    """Top-``k`` VisRank candidates for the seed images ``seeds`` (sha1s) via kNN.

    ``exclude`` (e.g. images the article already shows) and images for which ``allowed``
    is false never appear; seeds without a vector in the index are ignored.
    """
    pool, _ = candidate_pool(search, seeds, per_seed or max(50, 3 * k), exclude=exclude, allowed=allowed)
    seed_ids, seed_vecs = vectors_of(search, seeds)
    if not pool or not seed_ids:
        return []
    cand_ids, cand_vecs = vectors_of(search, pool)
    sims = cand_vecs @ seed_vecs.T
    scores = aggregate(sims, method, top)
    order = np.lexsort((np.arange(len(cand_ids)), -scores))[:k]
    best_seeds = np.argsort(-sims, axis=1, kind="stable")[:, :explain]
    return [Ranked(cand_ids[i], float(scores[i]), tuple(seed_ids[j] for j in best_seeds[i])) for i in order]


def candidate_pool(
    search: VectorSearch,
    seeds: Sequence[str],
    per_seed: int,
    *,
    exclude: Iterable[str] = (),
    allowed: Callable[[str], bool] = lambda _sha1: True,
) -> tuple[list[str], list[str]]:
    """Union of each seed's ``per_seed`` nearest neighbours, minus excluded/filtered images.

    Returns ``(pool, seeds_used)``; the pool keeps first-seen order (deterministic).
    """
    seed_ids, seed_vecs = vectors_of(search, seeds)
    if not seed_ids:
        return [], []
    skip = set(exclude)
    pool: dict[str, None] = {}
    for row in neighbours(search, seed_vecs, per_seed + len(skip) + 1):
        for sha1, _score in row:
            if sha1 not in skip and sha1 not in pool and allowed(sha1):
                pool[sha1] = None
    return list(pool), seed_ids


def vectors_of(search: VectorSearch, sha1s: Iterable[str]) -> tuple[list[str], np.ndarray]:
    """Unit vectors of the distinct ``sha1s`` the index holds: ``(ids kept, (n, d) matrix)``."""
    ids: list[str] = []
    vecs: list[np.ndarray] = []
    for sha1 in dict.fromkeys(sha1s):
        v = vector_or_none(search, sha1)
        if v is not None:
            ids.append(sha1)
            vecs.append(v)
    if not vecs:
        return [], np.empty((0, 0), dtype=np.float32)
    return ids, l2_normalise(np.stack(vecs))

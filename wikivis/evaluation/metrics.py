"""Standard offline ranking metrics, one user (article) at a time.

Every metric here takes the **0-based ranks of the relevant items** in one ranked list of
candidates (``ranks``; the best-ranked candidate has rank 0), which is the same input the
VisualRecSys tutorial uses (``ground_truth_indexes``).  :func:`ranks_from_scores` turns a
score vector plus a relevance mask into those ranks.

Definitions (``R`` = set of relevant items, ``|R| = n``, ``N`` = number of candidates,
``r_i`` = rank of the i-th relevant item):

* ``precision@k = |{i : r_i < k}| / k``
* ``recall@k    = |{i : r_i < k}| / n``
* ``DCG@k       = Σ_{i : r_i < k} 1 / log2(r_i + 2)``  (binary relevance)
* ``nDCG@k      = DCG@k / IDCG@k`` with ``IDCG@k = Σ_{j=0}^{min(n, k)-1} 1 / log2(j + 2)``,
  the DCG of a perfect list that puts all relevant items first.
* ``RR          = 1 / (min_i r_i + 1)``
* ``AUC         = P(a relevant item is ranked above a non-relevant one)`` over all
  ``n·(N−n)`` (relevant, non-relevant) pairs, computed exactly from the ranks.

**Why not the tutorial's nDCG.**  The tutorial (``utils/metrics.py``) divides by
``IDEAL_DCG[number of hits]``: the ideal list for the items that were *found*, not for the
items that *exist*.  One hit at rank 1 among 5 relevant items then scores 1.0, whereas the
standard value is 1 / (1 + 1/log2 3 + 1/2 + 1/log2 5 + 1/log2 6) ≈ 0.339.  Published
nDCG figures from the tutorial are therefore inflated and not comparable with ours.

**Ties.**  :func:`ranks_from_scores` breaks score ties either *pessimistically* (a
relevant item goes after every non-relevant item with the same score: a lower bound) or
*randomly* with a seeded generator (the expected value of the metric over tie orders, as
in Mann–Whitney AUC where a tie counts ½).  Never by the order of a sort routine, which
would reward or punish a model for the catalogue order.  The evaluation uses seeded
random ties, so a constant-score model lands at AUC ≈ 0.5 rather than 0.

Averages over users are plain means of the per-user values (macro average); a value that
is undefined for a user (AUC when every candidate is relevant) is ``nan`` and is left out
of the mean by :func:`mean_metrics`, which reports how many users each mean covers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np

__all__ = [
    "auc",
    "dcg_at_k",
    "ideal_dcg_at_k",
    "mean_metrics",
    "ndcg_at_k",
    "precision_at_k",
    "ranks_from_scores",
    "recall_at_k",
    "reciprocal_rank",
]


def _as_ranks(ranks: Iterable[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(list(ranks) if not isinstance(ranks, np.ndarray) else ranks, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"ranks must be one-dimensional, got shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise ValueError("ranks are 0-based and cannot be negative")
    if np.unique(arr).size != arr.size:
        raise ValueError("two relevant items cannot share a rank")
    return np.sort(arr)


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def ranks_from_scores(
    scores: np.ndarray,
    relevant: np.ndarray,
    *,
    ties: Literal["pessimistic", "random"] = "pessimistic",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """0-based ranks of the relevant items when candidates are sorted by descending score.

    ``scores`` and ``relevant`` (bool mask) have one entry per candidate; ``nan`` scores
    rank last.  Equal scores are ordered by ``ties`` (see module doc): ``"random"`` uses
    ``rng`` (default: a generator seeded with 0).  Returns the ranks sorted ascending.
    """
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and relevant {relevant.shape} must be equal 1-d shapes")
    keyed = np.where(np.isnan(scores), -np.inf, scores)
    tie_key: np.ndarray
    if ties == "pessimistic":
        tie_key = relevant.astype(np.int64)
    elif ties == "random":
        tie_key = (rng or np.random.default_rng(0)).permutation(scores.size)
    else:
        raise ValueError(f"ties must be 'pessimistic' or 'random', got {ties!r}")
    # lexsort: the last key is the primary one
    order = np.lexsort((np.arange(scores.size), tie_key, -keyed))
    positions = np.empty(scores.size, dtype=np.int64)
    positions[order] = np.arange(scores.size)
    return np.sort(positions[relevant])


def precision_at_k(ranks: Iterable[int] | np.ndarray, k: int) -> float:
    """Share of the first ``k`` positions that hold a relevant item."""
    _check_k(k)
    r = _as_ranks(ranks)
    return float((r < k).sum()) / k


def recall_at_k(ranks: Iterable[int] | np.ndarray, k: int) -> float:
    """Share of the relevant items found in the first ``k`` positions (``nan`` if none exist)."""
    _check_k(k)
    r = _as_ranks(ranks)
    if r.size == 0:
        return math.nan
    return float((r < k).sum()) / r.size


def dcg_at_k(ranks: Iterable[int] | np.ndarray, k: int) -> float:
    """Binary-relevance DCG of the first ``k`` positions: Σ 1/log2(rank + 2) over the hits."""
    _check_k(k)
    r = _as_ranks(ranks)
    hits = r[r < k]
    return float(np.sum(1.0 / np.log2(hits + 2.0)))


def ideal_dcg_at_k(n_relevant: int, k: int) -> float:
    """DCG of a perfect ranking: ``min(n_relevant, k)`` hits in the first positions."""
    _check_k(k)
    m = min(max(n_relevant, 0), k)
    return float(np.sum(1.0 / np.log2(np.arange(m) + 2.0)))


def ndcg_at_k(ranks: Iterable[int] | np.ndarray, k: int) -> float:
    """Standard nDCG@k: ``DCG@k / IDCG@k`` with the ideal over ``min(|relevant|, k)`` items.

    ``nan`` when there is no relevant item (the ideal DCG is 0).
    """
    r = _as_ranks(ranks)
    ideal = ideal_dcg_at_k(r.size, k)
    if ideal == 0.0:
        return math.nan
    return dcg_at_k(r, k) / ideal


def reciprocal_rank(ranks: Iterable[int] | np.ndarray) -> float:
    """``1 / (best rank + 1)``; 0 when there is no relevant item in the list."""
    r = _as_ranks(ranks)
    if r.size == 0:
        return 0.0
    return 1.0 / (int(r[0]) + 1)


def auc(ranks: Iterable[int] | np.ndarray, n_candidates: int) -> float:
    """Exact AUC of one ranked list of ``n_candidates`` items with relevant items at ``ranks``.

    Counts, for every relevant item, the non-relevant items ranked *below* it: with the
    relevant ranks sorted ascending ``r_1 < … < r_n`` (0-based), item i has
    ``(N − 1 − r_i) − (n − i)`` non-relevant items below it.  The sum over i divided by
    ``n · (N − n)`` is the fraction of correctly ordered (relevant, non-relevant) pairs:
    1.0 for a perfect list, 0.0 for a reversed one, 0.5 in expectation for a random one.
    ``nan`` when it is undefined (no relevant or no non-relevant candidate).
    """
    r = _as_ranks(ranks)
    n = r.size
    if r.size and r[-1] >= n_candidates:
        raise ValueError(f"rank {int(r[-1])} is outside a list of {n_candidates} candidates")
    negatives = n_candidates - n
    if n == 0 or negatives <= 0:
        return math.nan
    i = np.arange(1, n + 1)
    below = (n_candidates - 1 - r) - (n - i)
    return float(below.sum()) / (n * negatives)


def mean_metrics(per_user: Iterable[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, int]]:
    """Macro-average per-user metric dicts, skipping ``nan`` values.

    Returns ``(means, counts)``: the mean of every metric and how many users it averages.
    A metric that is ``nan`` for every user has mean ``nan``.
    """
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    names: list[str] = []
    for row in per_user:
        for name, value in row.items():
            if name not in sums:
                sums[name] = 0.0
                counts[name] = 0
                names.append(name)
            if value is not None and not math.isnan(value):
                sums[name] += float(value)
                counts[name] += 1
    means = {name: (sums[name] / counts[name] if counts[name] else math.nan) for name in names}
    return means, counts

"""Metrics: hand-computed cases, the tutorial's nDCG bug, and properties over random rankings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wikivis.evaluation.metrics import (
    auc,
    dcg_at_k,
    ideal_dcg_at_k,
    mean_metrics,
    ndcg_at_k,
    precision_at_k,
    ranks_from_scores,
    recall_at_k,
    reciprocal_rank,
)


def tutorial_ndcg(ranks: list[int], k: int) -> float:
    """VisualRecSys-Tutorial utils/metrics.py: normalises by the ideal DCG of the *hits*."""
    ideal = [0.0]
    for i in range(1, 1000):
        ideal.append(ideal[-1] + 1 / math.log2(i + 1))
    r = np.asarray(ranks, dtype=float)
    dcg = np.where(r < k, 1 / np.log2(r + 2), 0.0).sum()
    return dcg / ideal[int((r < k).sum())] if dcg > 0 else 0.0


def test_hand_computed_two_relevant_of_five() -> None:
    ranks = [0, 2]  # list: R . R . .
    assert precision_at_k(ranks, 2) == 0.5
    assert recall_at_k(ranks, 2) == 0.5
    assert recall_at_k(ranks, 3) == 1.0
    assert dcg_at_k(ranks, 3) == pytest.approx(1 + 1 / math.log2(4))
    assert ideal_dcg_at_k(2, 3) == pytest.approx(1 + 1 / math.log2(3))
    assert ndcg_at_k(ranks, 3) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))  # 0.9197
    assert reciprocal_rank(ranks) == 1.0
    # pairs (relevant above non-relevant): rank 0 beats 3 negatives, rank 2 beats 2 → 5 / 6
    assert auc(ranks, 5) == pytest.approx(5 / 6)


def test_hand_computed_single_relevant() -> None:
    assert reciprocal_rank([3]) == 0.25
    assert ndcg_at_k([3], 10) == pytest.approx(1 / math.log2(5))
    assert ndcg_at_k([3], 3) == 0.0
    assert auc([3], 11) == pytest.approx(0.7)  # 7 of 10 negatives below
    assert precision_at_k([3], 5) == 0.2


@pytest.mark.parametrize("k", [5, 10, 20])
def test_ideal_dcg_uses_min_relevant_k_not_hits(k: int) -> None:
    """One hit at rank 1 among 5 relevant: standard ≈ 0.339, the tutorial's formula says 1.0."""
    ranks = [0, 100, 200, 300, 400]
    expected = 1 / sum(1 / math.log2(i + 2) for i in range(5))
    assert ndcg_at_k(ranks, k) == pytest.approx(expected)
    assert ndcg_at_k(ranks, k) == pytest.approx(0.3392, abs=1e-4)
    assert tutorial_ndcg(ranks, k) == pytest.approx(1.0)


def test_ideal_dcg_is_capped_at_k() -> None:
    # 30 relevant items, perfect top-10: nDCG@10 is 1 (ideal over min(30, 10) items)
    assert ndcg_at_k(list(range(30)), 10) == pytest.approx(1.0)


def test_undefined_values() -> None:
    assert math.isnan(recall_at_k([], 10))
    assert math.isnan(ndcg_at_k([], 10))
    assert reciprocal_rank([]) == 0.0
    assert math.isnan(auc([0, 1], 2))  # no negative
    assert math.isnan(auc([], 5))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: precision_at_k([0], 0), "k must be"),
        (lambda: recall_at_k([1, 1], 5), "share a rank"),
        (lambda: ndcg_at_k([-1], 5), "negative"),
        (lambda: auc([5], 5), "outside"),
    ],
)
def test_bad_input_raises(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def brute_force_auc(ranks: np.ndarray, n: int) -> float:
    relevant = set(ranks.tolist())
    negatives = [i for i in range(n) if i not in relevant]
    wins = sum(1 for r in relevant for q in negatives if r < q)
    return wins / (len(relevant) * len(negatives))


@pytest.mark.parametrize("seed", range(25))
def test_properties_on_random_rankings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    n_rel = int(rng.integers(1, n))
    ranks = np.sort(rng.choice(n, size=n_rel, replace=False))
    k = int(rng.integers(1, n + 3))
    values = {
        "precision": precision_at_k(ranks, k),
        "recall": recall_at_k(ranks, k),
        "ndcg": ndcg_at_k(ranks, k),
        "rr": reciprocal_rank(ranks),
        "auc": auc(ranks, n),
    }
    for name, value in values.items():
        assert 0.0 <= value <= 1.0 + 1e-12, name
    assert values["auc"] == pytest.approx(brute_force_auc(ranks, n))
    # recall never decreases with k; recall@n is 1
    assert recall_at_k(ranks, k) <= recall_at_k(ranks, k + 1)
    assert recall_at_k(ranks, n) == 1.0
    # monotonicity: moving one relevant item up (swap with the non-relevant item just above) never hurts
    rel = set(ranks.tolist())
    movable = [r for r in ranks if r > 0 and r - 1 not in rel]
    if movable:
        better = np.sort(np.array([r - 1 if r == movable[0] else r for r in ranks]))
        assert auc(better, n) > values["auc"]
        assert ndcg_at_k(better, k) >= values["ndcg"] - 1e-12
        assert recall_at_k(better, k) >= values["recall"]
        assert precision_at_k(better, k) >= values["precision"]
        assert reciprocal_rank(better) >= values["rr"]


@pytest.mark.parametrize("n_rel", [1, 3, 7])
def test_perfect_and_reversed_rankings(n_rel: int) -> None:
    n = 20
    perfect = list(range(n_rel))
    reversed_ = list(range(n - n_rel, n))
    for k in (1, 5, 10, 20):
        assert ndcg_at_k(perfect, k) == pytest.approx(1.0)
        assert recall_at_k(perfect, k) == pytest.approx(min(n_rel, k) / n_rel)
        assert precision_at_k(perfect, k) == pytest.approx(min(n_rel, k) / k)
    assert auc(perfect, n) == 1.0
    assert reciprocal_rank(perfect) == 1.0
    assert auc(reversed_, n) == 0.0


def test_ranks_from_scores_orders_by_score_and_breaks_ties() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.5, np.nan])
    relevant = np.array([False, False, True, False, True])
    # pessimistic: the relevant 0.5 goes after the non-relevant 0.5; nan is last
    assert ranks_from_scores(scores, relevant).tolist() == [2, 4]
    # random ties: either order, reproducible with the same seed
    a = ranks_from_scores(scores, relevant, ties="random", rng=np.random.default_rng(1))
    b = ranks_from_scores(scores, relevant, ties="random", rng=np.random.default_rng(1))
    assert a.tolist() == b.tolist()
    assert a[0] in (1, 2)
    with pytest.raises(ValueError, match="ties"):
        ranks_from_scores(scores, relevant, ties="first")  # type: ignore[arg-type]


def test_constant_scores_give_auc_half_with_random_ties() -> None:
    rng = np.random.default_rng(0)
    n = 200
    relevant = np.zeros(n, dtype=bool)
    relevant[:20] = True
    values = [auc(ranks_from_scores(np.zeros(n), relevant, ties="random", rng=rng), n) for _ in range(200)]
    assert np.mean(values) == pytest.approx(0.5, abs=0.03)
    assert auc(ranks_from_scores(np.zeros(n), relevant), n) == 0.0  # pessimistic lower bound


def test_mean_metrics_skips_nan_and_counts() -> None:
    means, counts = mean_metrics([{"auc": 1.0, "mrr": 0.5}, {"auc": math.nan, "mrr": 0.0}])
    assert means == {"auc": 1.0, "mrr": 0.25}
    assert counts == {"auc": 1, "mrr": 2}
    means, _ = mean_metrics([{"auc": math.nan}])
    assert math.isnan(means["auc"])

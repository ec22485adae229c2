from __future__ import annotations

import numpy as np
import pytest

from wikivis.recommend.search import ExactSearch
from wikivis.recommend.visrank import aggregate, candidate_pool, visrank_knn, visrank_scores


def test_aggregations_by_hand() -> None:
    sims = np.array([[0.9, 0.1, 0.5], [0.4, 0.4, 0.4]])
    np.testing.assert_allclose(aggregate(sims, "max"), [0.9, 0.4])
    np.testing.assert_allclose(aggregate(sims, "mean"), [0.5, 0.4])
    np.testing.assert_allclose(aggregate(sims, "topk_mean", top=2), [0.7, 0.4])
    np.testing.assert_allclose(aggregate(sims, "topk_mean", top=10), [0.5, 0.4])  # top > |P| = mean
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate(sims, "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one seed"):
        aggregate(np.zeros((3, 0)))


@pytest.mark.parametrize("method", ["max", "mean", "topk_mean"])
def test_knn_path_equals_exact_scoring(synth, method: str) -> None:
    """With a pool covering the catalogue, the kNN path ranks exactly like the N×|P| path."""
    data = synth.data
    search = ExactSearch(data.item_ids, data.vectors)
    seeds = data.page_items[next(p for p, items in data.page_items.items() if len(items) >= 3)][:3]
    exclude = set(seeds)
    found = visrank_knn(search, seeds, 10, method=method, per_seed=len(data.item_ids), exclude=exclude)
    exact = visrank_scores(data.unit_vectors, data.unit_vectors[[data.row_of[s] for s in seeds]], method)
    order = [data.item_ids[i] for i in np.argsort(-exact, kind="stable") if data.item_ids[i] not in exclude][:10]
    assert [r.sha1 for r in found] == order
    np.testing.assert_allclose([r.score for r in found], [exact[data.row_of[s]] for s in order], rtol=1e-5)
    assert all(set(r.seeds) <= set(seeds) and r.seeds for r in found)


def test_max_needs_only_each_seeds_neighbours(synth) -> None:
    data = synth.data
    search = ExactSearch(data.item_ids, data.vectors)
    seeds = data.page_items[next(p for p, items in data.page_items.items() if len(items) >= 2)][:2]
    small = visrank_knn(search, seeds, 5, method="max", per_seed=20, exclude=seeds)
    full = visrank_knn(search, seeds, 5, method="max", per_seed=len(data.item_ids), exclude=seeds)
    assert [r.sha1 for r in small] == [r.sha1 for r in full]


def test_exclusions_filters_and_unknown_seeds(synth) -> None:
    data = synth.data
    search = ExactSearch(data.item_ids, data.vectors)
    seed = data.item_ids[0]
    banned = {r.sha1 for r in visrank_knn(search, [seed], 3)}
    found = visrank_knn(search, [seed, "unknown"], 10, exclude=[seed], allowed=lambda s: s not in banned)
    assert len(found) == 10
    assert not ({r.sha1 for r in found} & (banned | {seed}))
    assert visrank_knn(search, ["unknown"], 5) == []
    pool, used = candidate_pool(search, [seed, "unknown"], 5)
    assert used == [seed]
    assert len(pool) == len(set(pool))


def test_candidates_are_mostly_from_the_seed_topic(synth) -> None:
    data = synth.data
    search = ExactSearch(data.item_ids, data.vectors)
    page = next(p for p, items in data.page_items.items() if len(items) >= 3)
    topic = synth.topic_of_page[page]
    found = visrank_knn(search, data.page_items[page], 10, exclude=data.page_items[page])
    assert sum(synth.topic_of_sha1[r.sha1] == topic for r in found) >= 8

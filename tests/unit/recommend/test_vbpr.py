"""VBPR: sampling, the score formula, cold starts, determinism, learning on topic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wikivis.errors import InputError
from wikivis.recommend.synthetic import synthetic_wiki
from wikivis.recommend.vbpr import VBPR, VBPRConfig, sample_triples, train_vbpr

FAST = VBPRConfig(epochs=8, latent=8, visual=8)


def test_negatives_are_never_the_users_own_items() -> None:
    pairs = np.array([(0, i) for i in range(9)] + [(1, 3), (1, 4)], dtype=np.int64)  # user 0 uses 9 of 10
    users, positives, negatives = sample_triples(pairs, 10, 5, np.random.default_rng(0))
    assert sorted(zip(users.tolist(), positives.tolist(), strict=True)) == sorted(map(tuple, pairs.tolist()))
    own = {0: set(range(9)), 1: {3, 4}}
    for user, row in zip(users.tolist(), negatives.tolist(), strict=True):
        assert not set(row) & own[user]


def test_score_is_the_papers_formula() -> None:
    torch.manual_seed(0)
    net = VBPR(n_users=2, n_items=3, feature_dim=4, latent=2, visual=3)
    for p in net.parameters():
        torch.nn.init.normal_(p)
    features = torch.randn(3, 4)
    u, i = 1, 2
    expected = (net.item_beta.weight[i, 0] + net.user_gamma.weight[u] @ net.item_gamma.weight[i]
                + net.user_theta.weight[u] @ (net.projection.weight @ features[i])
                + net.visual_bias.weight[0] @ features[i])
    got = net.scores(torch.tensor([u]), torch.tensor([[i]]), features)
    assert got.shape == (1, 1)
    assert float(got[0, 0].detach()) == pytest.approx(float(expected.detach()), rel=1e-5)


def test_learns_topics_and_is_deterministic_on_cpu() -> None:
    data = synthetic_wiki(seed=1, dim=32, n_articles=120, n_images=200).data
    profiles = {p: [data.row_of[s] for s in items] for p, items in data.page_items.items()}
    first = train_vbpr(data.vectors, profiles, FAST, device="cpu")
    second = train_vbpr(data.vectors, profiles, FAST, device="cpu")
    assert first.meta["epoch_losses"] == second.meta["epoch_losses"]
    losses = first.meta["epoch_losses"]
    assert losses[-1] < losses[0] < 0.7  # BPR starts at log 2 ≈ 0.693
    page_id, rows = next((p, r) for p, r in sorted(profiles.items()) if len(r) >= 2)
    scores = first.score_all(page_id)
    assert scores.shape == (len(data.item_ids),)
    others = np.setdiff1d(np.arange(len(scores)), rows)
    assert scores[rows].mean() > scores[others].mean()  # its own images rank above the rest


def test_unseen_article_gets_the_item_terms_only() -> None:
    data = synthetic_wiki(seed=1, dim=16, n_articles=40, n_images=60).data
    profiles = {p: [data.row_of[s] for s in items] for p, items in data.page_items.items()}
    model = train_vbpr(data.vectors, profiles, FAST, device="cpu")
    unseen = max(profiles) + 1
    base = model.score_all(unseen)
    assert np.allclose(base, model._item_part)
    assert not np.allclose(base, model.score_all(min(profiles)))


def test_bad_inputs_are_named() -> None:
    with pytest.raises(InputError, match="feature matrix"):
        train_vbpr(np.zeros((1, 4), np.float32), {1: [0]})
    with pytest.raises(InputError, match="no training pair"):
        train_vbpr(np.zeros((5, 4), np.float32), {1: []})

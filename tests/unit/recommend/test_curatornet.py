from __future__ import annotations

import numpy as np
import pytest
import torch

from wikivis.errors import InputError, NotFoundError
from wikivis.recommend.curatornet import (
    CuratorNet,
    CuratorNetConfig,
    checkpoint_path,
    load_checkpoint,
    resolve_device,
    sample_triplets,
    save_checkpoint,
    train_curatornet,
)
from wikivis.recommend.training import article_profiles

FAST = CuratorNetConfig(epochs=3, hidden=32, profile_hidden=48, batch_size=128)


def test_triplets_respect_the_articles() -> None:
    profiles = [[0, 1, 2], [3], [4, 5]]
    config = CuratorNetConfig(max_profile=2, negatives_per_positive=3)
    idx, mask, pos, neg = sample_triplets(profiles, 10, config, np.random.default_rng(0))
    assert idx.shape == mask.shape == (5, 2)  # 3 + 2 positives; the 1-image article gives none
    assert neg.shape == (5, 3)
    owner = {0: {0, 1, 2}, 1: {0, 1, 2}, 2: {0, 1, 2}, 4: {4, 5}, 5: {4, 5}}
    for row in range(5):
        items = owner[int(pos[row])]
        profile = set(idx[row][mask[row]].tolist())
        assert profile
        assert profile <= items - {int(pos[row])}
        assert not set(neg[row].tolist()) & items


def test_padding_does_not_change_the_profile_code() -> None:
    torch.manual_seed(0)
    net = CuratorNet(8, 16, 24)
    x = torch.randn(1, 3, 8)
    padded = torch.cat((x, torch.randn(1, 2, 8) * 100), dim=1)
    short = net.encode_profile(x, torch.ones(1, 3, dtype=torch.bool))
    long = net.encode_profile(padded, torch.tensor([[True, True, True, False, False]]))
    torch.testing.assert_close(short, long)


def test_training_is_deterministic_on_cpu_and_learns(synth) -> None:
    data = synth.data
    profiles = list(article_profiles(data).values())
    a = train_curatornet(data.vectors, profiles, FAST, device="cpu")
    b = train_curatornet(data.vectors, profiles, FAST, device="cpu")
    for (name, pa_), (_, pb) in zip(a.net.state_dict().items(), b.net.state_dict().items(), strict=True):
        torch.testing.assert_close(pa_, pb, rtol=0, atol=0, msg=name)
    losses = a.meta["epoch_losses"]
    assert losses[-1] < losses[0]
    assert a.meta["device"] == "cpu"
    # a topic profile scores its own topic above the others
    page = next(p for p, items in data.page_items.items() if len(items) >= 3)
    topic = synth.topic_of_page[page]
    scores = a.score(data.vectors[[data.row_of[s] for s in data.page_items[page]]], data.vectors)
    same = [scores[i] for i, s in enumerate(data.item_ids) if synth.topic_of_sha1[s] == topic]
    other = [scores[i] for i, s in enumerate(data.item_ids) if synth.topic_of_sha1[s] not in (topic, -1)]
    assert np.mean(same) > np.mean(other)


def test_checkpoint_roundtrip_is_atomic(synth, tmp_path) -> None:
    data = synth.data
    model = train_curatornet(data.vectors, list(article_profiles(data).values()), FAST, device="cpu")
    path = checkpoint_path(tmp_path, "samplewiki", "open_clip/ViT-B-32")
    assert path == tmp_path / "models" / "curatornet" / "samplewiki--open_clip_ViT-B-32.pt"
    save_checkpoint(model, path, wiki="samplewiki")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    loaded = load_checkpoint(path, device="cpu")
    assert loaded.config == FAST
    assert loaded.meta["wiki"] == "samplewiki"
    profile = data.vectors[:3]
    np.testing.assert_allclose(loaded.score(profile, data.vectors), model.score(profile, data.vectors), rtol=1e-6)


def test_checkpoint_errors(tmp_path) -> None:
    with pytest.raises(NotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"bad\.pt"):
        load_checkpoint(bad)
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a wikivis-curatornet"):
        load_checkpoint(tmp_path / "other.pt")


def test_no_triplets_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no training triplet"):
        train_curatornet(np.eye(4, dtype=np.float32), [[0], [1]], FAST, device="cpu")


def test_resolve_device() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")

"""DVBPR (pixels, end to end) and ACF (attention over embeddings) on synthetic topic data."""

from __future__ import annotations

import numpy as np
import pytest

from wikivis.errors import InputError
from wikivis.evaluation.run import evaluate_data
from wikivis.recommend.acf import ACFConfig, train_acf
from wikivis.recommend.dvbpr import DVBPRConfig, load_thumbnails, train_dvbpr
from wikivis.recommend.synthetic import synthetic_thumbnails, synthetic_wiki


@pytest.fixture(scope="module")
def synth():
    return synthetic_wiki(seed=0, dim=32, n_articles=150, n_images=200, n_topics=5)


def _profiles(synth):
    row = synth.data.row_of
    profiles: dict[int, list[int]] = {}
    links = synth.data.interactions.to_pydict()
    for pid, name in zip(links["page_id"], links["file_name"], strict=True):
        sha1 = synth.data.file_sha1.get(name)
        if sha1 in row:
            profiles.setdefault(pid, []).append(row[sha1])
    return profiles


def _same_topic_share(synth, scores_of, profiles, k=10) -> float:
    topic = [synth.topic_of_sha1[s] for s in synth.data.item_ids]
    hits = []
    for pid, rows in list(profiles.items())[:60]:
        top = np.argsort(-scores_of(pid, rows))[:k]
        own = {topic[r] for r in rows}
        hits.append(np.mean([topic[i] in own for i in top]))
    return float(np.mean(hits))


def test_dvbpr_learns_topics_from_pixels(synth) -> None:
    pixels = synthetic_thumbnails(synth, size=32)
    profiles = _profiles(synth)
    model = train_dvbpr(pixels, profiles, DVBPRConfig(epochs=6, channels=8), device="cpu")
    losses = model.meta["epoch_losses"]
    assert losses[-1] < losses[0]
    assert model.meta["precision"] == "float32"
    assert model.item_codes.shape == (len(pixels), 32)
    share = _same_topic_share(synth, lambda pid, rows: model.score_all(pid), profiles)
    assert share > 0.5  # chance is about 1/5 per topic of the profile
    assert not model.score_all(-1).any()  # unseen article: no factors
    with pytest.raises(InputError, match="thumbnails"):
        train_dvbpr(pixels[:, :1], profiles)


def test_dvbpr_is_repeatable_on_cpu(synth) -> None:
    pixels = synthetic_thumbnails(synth, size=16)
    profiles = dict(list(_profiles(synth).items())[:40])
    cfg = DVBPRConfig(epochs=1, channels=4, image_size=16)
    a = train_dvbpr(pixels, profiles, cfg, device="cpu")
    b = train_dvbpr(pixels, profiles, cfg, device="cpu")
    np.testing.assert_array_equal(a.item_codes, b.item_codes)


def test_acf_attends_over_profile(synth) -> None:
    profiles = _profiles(synth)
    model = train_acf(synth.data.vectors, profiles, ACFConfig(epochs=10), device="cpu")
    losses = model.meta["epoch_losses"]
    assert losses[-1] < losses[0]
    share = _same_topic_share(synth, model.score_all, profiles)
    assert share > 0.6
    cold = model.score_all(-5, profiles[next(iter(profiles))])  # unseen article, known images
    assert cold.shape == (len(synth.data.item_ids),) and np.isfinite(cold).all()
    assert np.isfinite(model.score_all(-5, [])).all()  # nothing known at all


def test_load_thumbnails_from_the_media_store(tmp_path) -> None:
    import io

    from PIL import Image

    from wikivis.media.store import MediaStore

    store = MediaStore(tmp_path)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (250, 0, 0)).save(buf, "PNG")
    store.put("a" * 40, "png", buf.getvalue())
    store.put("b" * 40, "jpg", b"not an image")
    pixels, present = load_thumbnails(tmp_path, ["a" * 40, "b" * 40, "c" * 40], size=8)
    assert present.tolist() == [True, False, False]
    assert pixels.shape == (3, 3, 8, 8)
    assert pixels[0, 0].min() > 200 and not pixels[1:].any()


def test_eval_runs_dvbpr_with_pixels_and_skips_without(synth) -> None:
    thumbs = synthetic_thumbnails(synth, size=32)
    row = synth.data.row_of

    def pixels(sha1s):
        idx = [row[s] for s in sha1s]
        return thumbs[idx], np.ones(len(idx), dtype=bool)

    r = evaluate_data(synth.data, models=("random", "dvbpr", "acf"), device="cpu", pixels=pixels)
    assert list(r.metrics) == ["random", "dvbpr", "acf"]
    assert r.metrics["dvbpr"]["auc"] > r.metrics["random"]["auc"] + 0.1
    assert r.metrics["acf"]["auc"] > r.metrics["random"]["auc"] + 0.1
    assert "dvbpr" in r.training and "acf" in r.training
    none = evaluate_data(synth.data, models=("random", "dvbpr"), device="cpu")
    assert list(none.metrics) == ["random"]
    assert "no image source" in none.skipped["dvbpr"]

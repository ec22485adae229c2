from __future__ import annotations

import numpy as np
import pytest
import torch

from wikivis.embed import embed_images, load_embeddings
from wikivis.embed.models import load_model
from wikivis.embed.pipeline import forward, pad_batch, plan_items
from wikivis.embed.runtime import pick_runtime
from wikivis.embed.store import model_embeddings_dir, shard_paths

from .conftest import make_image


def test_embeds_every_image_and_counts_bad_ones_without_raising(embed_settings, image_items, tmp_path):
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8 not really a jpeg")
    items = [*image_items, ("b" * 40, str(garbage)), ("c" * 40, str(tmp_path / "gone.jpg")), ("d" * 40, "")]
    result = embed_images(embed_settings, items)
    assert result.embedded == len(image_items)
    assert result.failed == {"not_an_image": 1, "missing_file": 1, "missing_path": 1}
    sha1s, vectors = load_embeddings(embed_settings)
    assert sorted(sha1s) == sorted(s for s, _ in image_items)
    assert vectors.shape == (len(image_items), 1280)
    assert np.isfinite(vectors).all()
    assert len(result.shards) == 1
    assert result.model_version == load_model(embed_settings).version


def test_rerun_with_nothing_new_does_no_work(embed_settings, image_items):
    embed_images(embed_settings, image_items)
    before = shard_paths(model_embeddings_dir(embed_settings))
    again = embed_images(embed_settings, image_items)
    assert (again.embedded, again.skipped_existing, again.shards) == (0, len(image_items), [])
    assert shard_paths(model_embeddings_dir(embed_settings)) == before


def test_only_new_images_are_embedded(embed_settings, image_items):
    first = embed_images(embed_settings, image_items[:3])
    second = embed_images(embed_settings, image_items)
    assert (first.embedded, second.embedded, second.skipped_existing) == (3, 2, 3)
    assert len(load_embeddings(embed_settings)[0]) == 5


def test_cpu_embeddings_are_deterministic_across_runs_and_batch_neighbours(embed_settings, image_items, tmp_path):
    embed_images(embed_settings, image_items)
    other = embed_settings.replace(home=tmp_path / "other", embed_batch_size=4)
    embed_images(other, list(reversed(image_items)))  # other batch neighbours
    a_ids, a = load_embeddings(embed_settings)
    b_ids, b = load_embeddings(other)
    order = [b_ids.index(s) for s in a_ids]
    assert np.array_equal(a, b[order])


def test_duplicates_and_blank_sha1s_are_counted(image_items):
    sha1, path = image_items[0]
    pending, skipped, dups, invalid = plan_items([(sha1, path), (sha1, path), ("", path), ("e" * 40, path)], {"e" * 40})
    assert (len(pending), skipped, dups, invalid) == (1, 1, 1, {"missing_sha1": 1})


def test_padding_keeps_the_batch_shape():
    pixels = torch.ones(3, 4, 4, 3, dtype=torch.uint8)
    padded = pad_batch(pixels, 5)
    assert padded.shape == (5, 4, 4, 3)
    assert padded[3:].sum() == 0
    assert pad_batch(pixels, 2) is pixels


def test_resnet50_random_gives_2048_d_features(embed_settings):
    model = load_model(embed_settings, "resnet50-random")
    out = forward(model, pick_runtime("cpu"), torch.zeros(2, 224, 224, 3, dtype=torch.uint8))
    assert out.shape == (2, 2048)
    assert out.dtype == torch.float32


def test_non_ascii_paths_survive_the_worker_item_arrays(embed_settings, tmp_path):
    path = make_image(tmp_path / "Fichier_Ünïcödé_日本.jpg", 330, 250, seed=7)
    result = embed_images(embed_settings, [("a" * 40, str(path))])
    assert result.embedded == 1
    assert result.failed == {}


def test_an_interrupted_run_keeps_finished_vectors_and_resumes(embed_settings, image_items):
    class Stop(Exception):
        pass

    def stop_after_first_batch(done: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        embed_images(embed_settings, image_items, on_progress=stop_after_first_batch, shard_rows=2)
    kept, _ = load_embeddings(embed_settings)
    assert kept == [s for s, _ in image_items[:4]]  # the first batch of 4
    resumed = embed_images(embed_settings, image_items)
    assert (resumed.embedded, resumed.skipped_existing) == (1, 4)

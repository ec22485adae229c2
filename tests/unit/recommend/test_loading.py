"""Loading from what the pipeline publishes: the real lake and embedding store, no mirror."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from wikivis.errors import InputError, NotFoundError
from wikivis.recommend.curatornet import CuratorNetConfig, checkpoint_path
from wikivis.recommend.loading import embedding_matrix, load_rec_data, load_service
from wikivis.recommend.synthetic import publish_synthetic
from wikivis.recommend.training import train_and_save

SMALL = {"dim": 16, "n_articles": 80, "n_images": 120, "n_topics": 4}


def test_embedding_matrix_adapters() -> None:
    ids, vectors = embedding_matrix((["a", "b"], np.eye(2)))
    assert ids == ["a", "b"]
    assert vectors.dtype == np.float32
    table = pa.table({"sha1": ["a", "b"], "vector": pa.array([[1.0, 0.0], [0.0, 1.0]], pa.list_(pa.float32(), 2))})
    ids, vectors = embedding_matrix(table)
    np.testing.assert_array_equal(vectors, np.eye(2))

    class Store:
        ids = ["a"]
        matrix = np.ones((1, 3))

    assert embedding_matrix(Store())[1].shape == (1, 3)
    with pytest.raises(InputError):
        embedding_matrix(object())
    with pytest.raises(InputError, match="sha1"):
        embedding_matrix(pa.table({"x": [1]}))


def test_nothing_published_is_not_found(settings) -> None:
    with pytest.raises(NotFoundError, match="article_images"):
        load_rec_data(settings)


def test_service_from_published_data(settings) -> None:
    synth = publish_synthetic(settings, **SMALL)
    service = load_service(settings)
    health = service.health()
    assert health["images"] == len(synth.data.item_ids)
    assert health["articles"] == SMALL["n_articles"]
    assert health["curatornet"] is False
    assert health["wiki"] == settings.wikis[0]
    assert service.data.non_free == synth.data.non_free
    page = synth.unillustrated[0]
    result = service.suggest(synth.data.titles[page], 3)
    assert result.suggestions
    assert result.suggestions[0].source == "category_seed"

    path = train_and_save(settings, config=CuratorNetConfig(epochs=2, hidden=16, profile_hidden=16))
    assert path == checkpoint_path(settings.home, settings.wikis[0], settings.model)
    reloaded = load_service(settings)
    assert reloaded.curatornet is not None
    assert reloaded.suggest(synth.data.titles[page], 3).model == "curatornet"


def test_published_index_is_used_when_present(settings) -> None:
    from wikivis.index import build_index

    publish_synthetic(settings, **SMALL)
    build_index(settings)
    service = load_service(settings)
    assert service.index_kind.startswith("published")
    assert len(service.similar(service.data.display_name(service.data.item_ids[0]), 5)) == 5


def test_local_files_are_visible_and_shadow_commons(settings, lake) -> None:
    from wikivis.recommend.synthetic import lake_table

    synth = publish_synthetic(settings, **SMALL)
    wiki = settings.wikis[0]
    shadowed = synth.data.display_name(synth.data.item_ids[0])
    other_sha1 = synth.data.item_ids[1]
    local = {
        "wiki": [wiki, wiki],
        "file_name": ["Local_upload.jpg", shadowed],
        "size": [1, 1],
        "width": [1, 1],
        "height": [1, 1],
        "mime": ["image/jpeg"] * 2,
        "sha1": [other_sha1, other_sha1],
        "timestamp": ["20250101000000"] * 2,
    }
    lake.write("files", wiki, "20260101", lake_table("files", local))
    lake.publish("files", wiki, "20260101")
    data = load_rec_data(settings)
    assert data.file_sha1["Local_upload.jpg"] == other_sha1
    assert data.file_sha1[shadowed] == other_sha1

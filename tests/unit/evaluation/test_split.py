from __future__ import annotations

import numpy as np
import pyarrow as pa

from wikivis.evaluation.split import holdout_split
from wikivis.recommend.data import RecData
from wikivis.recommend.filters import ImageFilter
from wikivis.recommend.synthetic import synthetic_wiki


def test_one_held_out_image_per_article_deterministic() -> None:
    data = synthetic_wiki(seed=1, dim=8, n_articles=120, n_images=150).data
    f = ImageFilter.for_data(data)
    a = holdout_split(data, image_filter=f, seed=0)
    b = holdout_split(data, image_filter=f, seed=0)
    c = holdout_split(data, image_filter=f, seed=1)
    assert a.test == b.test
    assert a.train == b.train
    assert a.test != c.test
    assert a.method == "random"
    for page_id, held in a.test.items():
        usable = [data.row_of[s] for s in data.page_items[page_id] if f.allowed(s)]
        assert len(held) == 1
        assert len(usable) >= 2
        assert sorted(a.train[page_id] + held) == sorted(usable)
        assert a.catalogue[held[0]]
    # articles with a single usable image stay in training only
    assert all(len(rows) < 2 for p, rows in a.train.items() if p not in a.test)
    # filtered images are neither candidates nor held out
    assert not a.catalogue[[data.row_of[s] for s in data.item_ids if not f.allowed(s)]].any()


def test_temporal_split_holds_out_the_latest_link() -> None:
    table = pa.table(
        {
            "page_id": [1, 1, 1, 2],
            "page_title": ["A", "A", "A", "B"],
            "file_name": ["x.jpg", "y.jpg", "z.jpg", "x.jpg"],
            "is_lead": [True, False, False, True],
            "timestamp": ["20240101", "20250301", "20230101", "20240101"],
        }
    )
    data = RecData(
        interactions=table,
        file_sha1={"x.jpg": "sx", "y.jpg": "sy", "z.jpg": "sz"},
        item_ids=["sx", "sy", "sz"],
        vectors=np.eye(3, dtype=np.float32),
    )
    split = holdout_split(data, seed=123)
    assert split.method == "temporal"
    assert split.test == {1: [data.row_of["sy"]]}
    assert sorted(split.train[1]) == sorted([data.row_of["sx"], data.row_of["sz"]])
    assert split.train[2] == [data.row_of["sx"]]

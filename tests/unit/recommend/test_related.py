from __future__ import annotations

import numpy as np
import pyarrow as pa

from wikivis.recommend.data import RecData
from wikivis.recommend.related import related_articles


def make(categories: dict[int, list[str]], links: dict[int, list[int]] | None = None) -> RecData:
    pages = sorted(categories)
    with_images = [p for p in pages if p != 1]
    return RecData(
        interactions=pa.table(
            {
                "page_id": pa.array(with_images, pa.int64()),
                "page_title": [f"P{p}" for p in with_images],
                "file_name": [f"f{p}.jpg" for p in with_images],
                "is_lead": [True] * len(with_images),
            }
        ),
        file_sha1={f"f{p}.jpg": f"s{p}" for p in with_images},
        item_ids=[f"s{p}" for p in with_images],
        vectors=np.eye(len(with_images), dtype=np.float32),
        categories=categories,
        pages={p: f"P{p}" for p in pages},
        links=links,
    )


def test_small_shared_categories_weigh_more() -> None:
    big = ["Big"]
    cats = {1: ["Small", "Big"], 2: ["Small"], 3: big, 4: big, 5: big, 6: big}
    found = related_articles(make(cats), 1)
    assert [r.page_id for r in found][:1] == [2]
    assert found[0].via == ("category:Small",)
    assert found[0].weight > found[1].weight
    assert [r.page_id for r in found[1:]] == [3, 4, 5, 6]  # ties by page_id


def test_oversized_categories_are_ignored_and_links_count() -> None:
    cats = {1: ["Tracking"], 2: ["Tracking"], 3: [], 4: ["Tracking"]}
    data = make(cats, links={3: [1]})  # 3 links to 1: reverse direction counts too
    found = related_articles(data, 1, max_category_size=2)
    assert [(r.page_id, r.via) for r in found] == [(3, ("link",))]


def test_articles_without_usable_images_are_skipped() -> None:
    cats = {1: ["C"], 2: ["C"], 3: ["C"]}
    found = related_articles(make(cats), 1, has_images=lambda pid: pid == 3)
    assert [r.page_id for r in found] == [3]
    assert related_articles(make(cats), 99) == []

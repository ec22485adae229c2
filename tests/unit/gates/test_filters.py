"""Wikimedia's icon/placeholder filters (ImageMatching): over-use threshold and name blacklist."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from tests.unit.gates.conftest import article_images_table
from wikivis.gates.filters import (
    BLACKLISTED,
    OVERUSED,
    article_link_counts,
    blacklist_match,
    icon_threshold,
    quarantined_file_names,
    wikimedia_filters,
)


@pytest.mark.parametrize(
    ("n_articles", "expected"),
    [
        (50_000, 15.0),  # the base
        (500_000, 30.0),  # ×(1 + log10(10))
        (6_900_000, (math.log10(138) + 1) * 15),  # English Wikipedia ≈ 47
        (25_000, 7.5),  # scaled down linearly below the base
        (300, 3.75),  # never under 15 / 4
        (0, 3.75),
    ],
)
def test_icon_threshold_grows_with_the_log_of_wiki_size(n_articles, expected):
    assert icon_threshold(n_articles) == pytest.approx(expected)


def test_threshold_is_monotonic():
    sizes = [0, 10, 1_000, 13_333, 20_000, 50_000, 50_001, 1_000_000, 10_000_000]
    values = [icon_threshold(n) for n in sizes]
    assert values == sorted(values)


@pytest.mark.parametrize(
    ("name", "hit"),
    [
        ("Flag_of_France.svg", ".svg"),
        ("Flag_of_France.png", "flag"),
        ("Europe_MAP_1900.jpg", "map"),
        ("Replace_this_image_male.png", "replace_this_image"),
        ("Noimage.png", "noimage"),
        ("Wikipedia-logo-v2.png", "logo"),
        ("Commons-icon.png", "icon"),
        ("Disambig_gray.png", "disambig"),
        ("Eiffel_Tower_at_night.jpg", None),
    ],
)
def test_blacklist_is_case_insensitive_substrings(name, hit):
    assert blacklist_match(name) == hit


def test_wikimedia_filters_sets_aside_icons_and_placeholders():
    images = article_images_table(n_pages=40)  # Shared_banner.jpg on all 40 pages
    extra = pa.Table.from_pylist(
        [{"wiki": "samplewiki", "page_id": 1, "page_namespace": 0, "page_title": "Article_1",
          "file_name": "Flag_of_Nowhere.png", "is_lead": False}],
        schema=images.schema,
    )
    kept, quarantine = wikimedia_filters(pa.concat_tables([images, extra]), n_articles=40)
    kept = kept.to_pylist()
    assert "Shared_banner.jpg" not in kept
    assert "Flag_of_Nowhere.png" not in kept
    assert "Photo_1_a.jpg" in kept
    assert len(kept) == 80
    rows = {r["row_key"]: r for r in quarantine.to_pylist()}
    assert rows["Shared_banner.jpg"]["check"] == OVERUSED
    assert "linked from 40 articles" in rows["Shared_banner.jpg"]["reason"]
    assert rows["Flag_of_Nowhere.png"]["check"] == BLACKLISTED
    assert "'flag'" in rows["Flag_of_Nowhere.png"]["reason"]
    assert {r["dataset"] for r in rows.values()} == {"article_images"}
    assert quarantined_file_names(quarantine) == {"Shared_banner.jpg", "Flag_of_Nowhere.png"}


def test_over_use_is_strictly_above_the_threshold():
    # 300 articles → threshold 3.75: 4 links is an icon, 3 is not
    rows = [{"page_id": p, "page_namespace": 0, "file_name": "Four.jpg"} for p in range(4)]
    rows += [{"page_id": p, "page_namespace": 0, "file_name": "Three.jpg"} for p in range(3)]
    kept, quarantine = wikimedia_filters(pa.Table.from_pylist(rows), n_articles=300)
    assert kept.to_pylist() == ["Three.jpg"]
    assert quarantine.column("row_key").to_pylist() == ["Four.jpg"]


def test_only_article_links_count_towards_over_use():
    rows = [{"page_id": p, "page_namespace": 0 if p < 2 else 2, "file_name": "Userpage_pic.jpg"} for p in range(10)]
    counts = article_link_counts(pa.Table.from_pylist(rows))
    assert counts.to_pylist() == [{"file_name": "Userpage_pic.jpg", "articles": 2}]
    kept, _ = wikimedia_filters(pa.Table.from_pylist(rows), n_articles=300)
    assert kept.to_pylist() == ["Userpage_pic.jpg"]

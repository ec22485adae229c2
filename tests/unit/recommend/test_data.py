from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from wikivis.errors import InputError
from wikivis.recommend.data import RecData, l2_normalise, normalise_file_name, normalise_title


def interactions(rows: list[tuple[int, str, str, bool]]) -> pa.Table:
    page_id, title, file_name, lead = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.table(
        {
            "page_id": pa.array(page_id, pa.int64()),
            "page_title": pa.array(title, pa.string()),
            "file_name": pa.array(file_name, pa.string()),
            "is_lead": pa.array(lead, pa.bool_()),
        }
    )


def test_normalise_names() -> None:
    assert normalise_title("  mona  lisa ") == "Mona_lisa"
    assert normalise_title("Mona_Lisa") == "Mona_Lisa"
    assert normalise_file_name("File:Some photo.jpg") == "Some_photo.jpg"
    assert normalise_file_name("image:x.png") == "X.png"


def test_l2_normalise_keeps_zero_rows() -> None:
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_page_items_lead_first_deduplicated_by_sha1() -> None:
    data = RecData(
        interactions=interactions(
            [(1, "A", "b.jpg", False), (1, "A", "a.jpg", False), (1, "A", "c.jpg", True), (1, "A", "b_copy.jpg", False)]
        ),
        file_sha1={"a.jpg": "s1", "b.jpg": "s2", "b_copy.jpg": "s2", "c.jpg": "s3"},
        item_ids=["s1", "s2", "s3"],
        vectors=np.eye(3, dtype=np.float64),
    )
    assert data.page_files[1] == ["c.jpg", "a.jpg", "b.jpg", "b_copy.jpg"]
    assert data.page_items[1] == ["s3", "s1", "s2"]
    assert data.vectors.dtype == np.float32
    assert data.item_usage == {"s1": 1, "s2": 1, "s3": 1}
    assert data.files_of_sha1["s2"] == ["b.jpg", "b_copy.jpg"]
    assert data.resolve_file("File:b copy.jpg") is None  # first letter is upper-cased, as MediaWiki does
    assert data.resolve_file("s1") == "s1"
    assert data.resolve_title("a") == 1


def test_invalid_inputs_raise_input_error() -> None:
    with pytest.raises(InputError, match="lack column"):
        RecData(interactions=pa.table({"page_id": [1]}), file_sha1={}, item_ids=[], vectors=np.zeros((0, 2)))
    with pytest.raises(InputError, match="shape"):
        RecData(interactions=interactions([]), file_sha1={}, item_ids=["a"], vectors=np.zeros((2, 2)))
    with pytest.raises(InputError, match="unique"):
        RecData(interactions=interactions([]), file_sha1={}, item_ids=["a", "a"], vectors=np.zeros((2, 2)))


def test_from_tables_keeps_articles_only() -> None:
    article_images = interactions([(1, "A", "a.jpg", True), (2, "User_page", "a.jpg", True)]).append_column(
        "page_namespace", pa.array([0, 2], pa.int32())
    )
    files = pa.table({"file_name": ["a.jpg", "nf.jpg"], "sha1": ["s1", "s2"]})
    pages = pa.table(
        {
            "page_id": [1, 3, 4],
            "page_title": ["A", "Redirect", "B"],
            "page_namespace": [0, 0, 0],
            "is_redirect": [False, True, False],
        }
    )
    cats = pa.table({"page_id": [1, 4], "category": ["C", "C"]})
    meta = pa.table({"file_name": ["a.jpg", "nf.jpg"], "non_free": [False, True]})
    data = RecData.from_tables(
        article_images, files, ["s1", "s2"], np.eye(2), article_categories=cats, pages=pages, file_metadata=meta
    )
    assert set(data.page_items) == {1}
    assert data.titles == {1: "A", 4: "B"}
    assert data.categories == {1: ["C"], 4: ["C"]}
    assert data.non_free == frozenset({"nf.jpg"})
    assert data.wiki_size == 2

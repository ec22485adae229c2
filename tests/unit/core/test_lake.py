import json
import os

import pyarrow as pa
import pytest

from wikivis.errors import InputError, NotFoundError
from wikivis.lake import Lake


def images(rows):
    return pa.table(
        {
            "wiki": ["samplewiki"] * len(rows),
            "page_id": [r[0] for r in rows],
            "page_namespace": [0] * len(rows),
            "page_title": [f"P{r[0]}" for r in rows],
            "file_name": [r[1] for r in rows],
            "is_lead": [False] * len(rows),
        }
    )


def test_write_read_publish_roundtrip(lake: Lake):
    m = lake.write("article_images", "samplewiki", "20261101", images([(2, "b.jpg"), (1, "a.jpg")]), run_id="r1")
    assert m.rows == 2 and m.run_id == "r1" and len(m.files) == 1
    assert lake.current("article_images", "samplewiki") is None
    with pytest.raises(NotFoundError):
        lake.read("article_images", "samplewiki")
    lake.publish("article_images", "samplewiki", "20261101")
    t = lake.read("article_images", "samplewiki")
    assert t.column("page_id").to_pylist() == [1, 2]  # canonical sort order
    assert lake.verify("article_images", "samplewiki", "20261101") == []


def test_rerun_is_idempotent_and_byte_stable(lake: Lake):
    data = images([(1, "a.jpg"), (2, "b.jpg")])
    m1 = lake.write("article_images", "samplewiki", "20261101", data)
    m2 = lake.write("article_images", "samplewiki", "20261101", data.take([1, 0]))
    assert m1.content_hash == m2.content_hash
    assert lake.snapshots("article_images", "samplewiki") == ["20261101"]
    assert lake.read("article_images", "samplewiki", "20261101").num_rows == 2


def test_failure_mid_write_keeps_previous_snapshot(lake: Lake, monkeypatch):
    lake.write("article_images", "samplewiki", "20261101", images([(1, "a.jpg")]))
    lake.publish("article_images", "samplewiki", "20261101")

    import pyarrow.parquet as pq

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        lake.write("article_images", "samplewiki", "20261101", images([(9, "z.jpg")]))
    with pytest.raises(OSError, match="disk full"):
        lake.write("article_images", "samplewiki", "20261102", images([(9, "z.jpg")]))
    monkeypatch.undo()
    # old data intact, no partial partition, no staging left behind
    assert lake.read("article_images", "samplewiki").column("file_name").to_pylist() == ["a.jpg"]
    assert lake.snapshots("article_images", "samplewiki") == ["20261101"]
    assert not [p for p in os.listdir(lake.wiki_dir("article_images", "samplewiki")) if p.startswith(".staging")]


def test_crash_leftovers_are_invisible_and_cleaned(lake: Lake):
    lake.write("article_images", "samplewiki", "20261101", images([(1, "a.jpg")]))
    wiki_dir = lake.wiki_dir("article_images", "samplewiki")
    (wiki_dir / ".staging-dead").mkdir()
    (wiki_dir / "snapshot=20261102").mkdir()  # a directory without manifest is not a snapshot
    assert lake.snapshots("article_images", "samplewiki") == ["20261101"]
    lake.write("article_images", "samplewiki", "20261103", images([(1, "a.jpg")]))
    assert not (wiki_dir / ".staging-dead").exists()


def test_rewrite_with_new_content_replaces(lake: Lake):
    lake.write("article_images", "samplewiki", "20261101", images([(1, "a.jpg")]))
    lake.write("article_images", "samplewiki", "20261101", images([(1, "a.jpg"), (3, "c.jpg")]))
    assert lake.read("article_images", "samplewiki", "20261101").num_rows == 2


def test_bad_input_names_dataset_and_column(lake: Lake):
    bad = images([(1, "a.jpg")]).drop(["file_name"])
    with pytest.raises(InputError, match=r"article_images.*file_name"):
        lake.write("article_images", "samplewiki", "20261101", bad)
    nulls = images([(1, "a.jpg")]).set_column(4, "file_name", pa.array([None], pa.string()))
    with pytest.raises(InputError, match="nulls"):
        lake.write("article_images", "samplewiki", "20261101", nulls)


def test_retention_never_deletes_current(lake: Lake):
    for day in range(1, 6):
        lake.write("article_images", "samplewiki", f"2026110{day}", images([(day, "a.jpg")]))
    lake.publish("article_images", "samplewiki", "20261101")
    removed = lake.apply_retention("article_images", "samplewiki", keep=2)
    assert removed == ["20261102", "20261103"]
    assert lake.snapshots("article_images", "samplewiki") == ["20261101", "20261104", "20261105"]


def test_publish_pointer_records_previous(lake: Lake):
    for snap in ("20261101", "20261102"):
        lake.write("article_images", "samplewiki", snap, images([(1, "a.jpg")]))
        lake.publish("article_images", "samplewiki", snap, run_id=f"run-{snap}")
    pointer = json.loads((lake.wiki_dir("article_images", "samplewiki") / "_current.json").read_text())
    assert pointer["snapshot"] == "20261102" and pointer["previous"] == "20261101"


@pytest.mark.parametrize("snapshot", ["2026-11-01", "../x", "latest"])
def test_snapshot_ids_are_checked(lake: Lake, snapshot):
    with pytest.raises(Exception, match="snapshot"):
        lake.write("article_images", "samplewiki", snapshot, images([(1, "a.jpg")]))

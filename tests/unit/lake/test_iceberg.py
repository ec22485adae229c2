"""The Iceberg lake's guarantees, one test each (see the wikivis.lake.iceberg docstring)."""

from datetime import timedelta

import pyarrow as pa
import pytest

from wikivis.errors import ConfigError, InputError, NotFoundError
from wikivis.lake import Lake

from .conftest import WIKI, images


def test_write_is_invisible_until_published(lake: Lake):
    m = lake.write("article_images", WIKI, "20261101", images([(2, "b.jpg"), (1, "a.jpg")]), run_id="r1")
    assert m.rows == 2 and m.run_id == "r1" and len(m.files) == 1 and m.branch == "run-r1"
    assert lake.current("article_images", WIKI) is None
    with pytest.raises(NotFoundError, match="nothing published"):
        lake.read("article_images", WIKI)
    # the gates read the branch by label
    assert lake.read("article_images", WIKI, "20261101").column("page_id").to_pylist() == [1, 2]
    lake.publish("article_images", WIKI, "20261101", run_id="r1")
    assert lake.read("article_images", WIKI).column("page_id").to_pylist() == [1, 2]  # canonical order
    assert lake.verify("article_images", WIKI, "20261101") == []


def test_rerun_with_equal_content_commits_nothing(lake: Lake):
    data = images([(1, "a.jpg"), (2, "b.jpg")])
    m1 = lake.write("article_images", WIKI, "20261101", data, run_id="r1")
    m2 = lake.write("article_images", WIKI, "20261101", data.take([1, 0]), run_id="r1")
    assert m1.content_hash == m2.content_hash and m1.snapshot_id == m2.snapshot_id
    assert lake.snapshots("article_images", WIKI) == ["20261101"]


def test_rerun_of_a_published_label_with_shrunken_data_changes_nothing_readers_see(lake: Lake):
    """Issue #14's first failure: re-running a published snapshot id replaced it in place."""
    full = images([(i, f"{i}.jpg") for i in range(1, 41)])
    lake.write("article_images", WIKI, "20261106", full, run_id="nightly-1")
    lake.publish_run(WIKI, {"article_images": "20261106"}, run_id="nightly-1")
    lake.write("article_images", WIKI, "20261106", full.slice(0, 8), run_id="replica-rerun")
    assert lake.read("article_images", WIKI).num_rows == 40  # readers: unchanged
    # the rerun's gates see its own 8 rows, and the published 40 to compare against
    assert lake.read("article_images", WIKI, "20261106", run_id="replica-rerun").num_rows == 8
    assert lake.current("article_images", WIKI) == "20261106"
    # publishing it makes a new publication; the old one stays readable by time travel
    lake.publish_run(WIKI, {"article_images": "20261106"}, run_id="replica-rerun")
    assert lake.read("article_images", WIKI).num_rows == 8
    assert lake.read("article_images", WIKI, as_of="nightly-1").num_rows == 40


def test_publication_is_all_datasets_or_none(lake: Lake):
    pages = pa.table({"wiki": [WIKI], "page_id": [1], "page_namespace": [0], "page_title": ["P1"],
                      "is_redirect": [False]})
    lake.write("pages", WIKI, "20261101", pages, run_id="r1")
    lake.write("article_images", WIKI, "20261101", images([(1, "a.jpg")]), run_id="r1")
    pub = lake.publish_run(WIKI, {"pages": "20261101", "article_images": "20261101"}, run_id="r1")
    assert pub.label("pages") == pub.label("article_images") == "20261101"
    # a second run publishes only article_images: pages is carried forward, not lost
    lake.write("article_images", WIKI, "20261102", images([(1, "a.jpg"), (2, "b.jpg")]), run_id="r2")
    pub2 = lake.publish_run(WIKI, {"article_images": "20261102"}, run_id="r2")
    assert pub2.label("pages") == "20261101" and pub2.label("article_images") == "20261102"
    assert [p.run_id for p in lake.history(WIKI)] == ["r2", "r1"]


def test_publish_of_unknown_label_records_nothing(lake: Lake):
    lake.write("article_images", WIKI, "20261101", images([(1, "a.jpg")]), run_id="r1")
    with pytest.raises(NotFoundError):
        lake.publish_run(WIKI, {"article_images": "20261101", "pages": "20261101"}, run_id="r1")
    assert lake.publication(WIKI) is None


def test_time_travel_by_run_date_and_rollback(lake: Lake):
    for day, run in (("20261101", "a"), ("20261102", "b"), ("20261103", "c")):
        lake.write("article_images", WIKI, day, images([(int(day[-1]), "x.jpg")]), run_id=run)
        lake.publish_run(WIKI, {"article_images": day}, run_id=run)
    assert lake.read("article_images", WIKI, as_of="20261102").column("page_id").to_pylist() == [2]
    assert lake.read("article_images", WIKI, as_of="2026-11-01").column("page_id").to_pylist() == [1]
    assert lake.read("article_images", WIKI, as_of="b").column("page_id").to_pylist() == [2]
    with pytest.raises(NotFoundError):
        lake.read("article_images", WIKI, as_of="20261001")
    pub = lake.rollback(WIKI, "a", run_id="rollback-1")
    assert pub.kind == "rollback" and lake.read("article_images", WIKI).column("page_id").to_pylist() == [1]
    assert lake.current("article_images", WIKI) == "20261101"


def test_an_older_snapshot_published_after_a_newer_one_is_superseded(lake: Lake):
    """A backfill of an older date finishing after the nightly of a newer one: readers stay on
    the newer data, as when the older had published first."""
    for day, run in (("20261103", "nightly"), ("20261102", "backfill")):
        lake.write("article_images", WIKI, day, images([(int(day[-1]), "x.jpg")]), run_id=run)
        pub = lake.publish_run(WIKI, {"article_images": day}, run_id=run)
    assert pub.kind == "superseded" and pub.run_id == "backfill" and pub.label("article_images") == "20261103"
    assert lake.current("article_images", WIKI) == "20261103"
    assert [p.kind for p in lake.history(WIKI)] == ["superseded", "publish"]
    assert lake.read("article_images", WIKI, "20261102").column("page_id").to_pylist() == [2]  # still written


def test_main_ref_follows_publications_for_other_engines(lake: Lake):
    lake.write("article_images", WIKI, "20261101", images([(1, "a.jpg")]), run_id="r1")
    lake.write("article_images", "otherwiki", "20261101", images([(7, "o.jpg")], "otherwiki"), run_id="r9")
    lake.publish_run(WIKI, {"article_images": "20261101"}, run_id="r1")
    table = lake._require("article_images")
    main_rows = table.scan().to_arrow()
    assert main_rows.column("page_id").to_pylist() == [1]  # otherwiki's unpublished write is not on main
    assert any(name.startswith("pub-1-") for name in table.refs())


def test_bad_input_names_dataset_and_column(lake: Lake):
    bad = images([(1, "a.jpg")]).drop(["file_name"])
    with pytest.raises(InputError, match=r"article_images.*file_name"):
        lake.write("article_images", WIKI, "20261101", bad)
    nulls = images([(1, "a.jpg")]).set_column(4, "file_name", pa.array([None], pa.string()))
    with pytest.raises(InputError, match="nulls"):
        lake.write("article_images", WIKI, "20261101", nulls)
    assert lake.snapshots("article_images", WIKI) == []


@pytest.mark.parametrize("snapshot", ["2026-11-01", "../x", "latest", "１２３４５６７８", "20261101\n"])
def test_snapshot_ids_are_ascii_and_checked(lake: Lake, snapshot):
    with pytest.raises(ConfigError, match="snapshot"):
        lake.write("article_images", WIKI, snapshot, images([(1, "a.jpg")]))


def test_streamed_presorted_batches_equal_the_table_path(lake: Lake):
    rows = [(i, f"{i:06d}.jpg") for i in range(200_000)]
    table = images(rows)
    a = lake.write("article_images", WIKI, "20261101", table, run_id="t")
    b = lake.write("article_images", WIKI, "20261102", iter(table.to_batches(max_chunksize=7_777)), run_id="s",
                   presorted=True)
    assert a.content_hash == b.content_hash and a.rows == b.rows == 200_000
    streamed = pa.Table.from_batches(list(lake.iter_batches("article_images", WIKI, "20261102", run_id="s")))
    assert streamed.equals(lake.read("article_images", WIKI, "20261101"))


def test_retention_keeps_recent_publications_and_expires_the_rest(lake: Lake):
    for day in range(1, 6):
        lake.write("article_images", WIKI, f"2026110{day}", images([(day, "a.jpg")]), run_id=f"r{day}")
        lake.publish_run(WIKI, {"article_images": f"2026110{day}"}, run_id=f"r{day}")
    removed = lake.apply_retention("article_images", WIKI, keep=2, min_age=timedelta(0), branch_ttl=timedelta(0))
    assert removed == ["20261101", "20261102", "20261103"]
    assert lake.snapshots("article_images", WIKI) == ["20261104", "20261105"]
    assert lake.read("article_images", WIKI).column("page_id").to_pylist() == [5]
    assert lake.read("article_images", WIKI, as_of="r4").column("page_id").to_pylist() == [4]
    # expired files are swept as orphans, referenced ones stay
    swept = lake.remove_orphan_files(older_than=timedelta(0))
    assert any("20261101-" in p for p in swept)
    assert lake.read("article_images", WIKI).column("page_id").to_pylist() == [5]


def test_orphan_sweep_spares_young_files(lake: Lake):
    lake.write("article_images", WIKI, "20261101", images([(1, "a.jpg")]), run_id="r1")
    table = lake._require("article_images")
    young = f"{table.location()}/data/_wiki={WIKI}/in-flight-writer.parquet"
    with table.io.new_output(young).create() as fh:
        fh.write(b"not yet committed")
    assert lake.remove_orphan_files() == []  # default safe age: days
    assert table.io.new_input(young).exists()


def test_failed_run_branch_is_inspectable(lake: Lake):
    lake.write("article_images", WIKI, "20261101", images([(1, "a.jpg")]), run_id="bad-run")
    shown = lake.branches("bad-run")
    assert [m.snapshot for m in shown["article_images"]] == ["20261101"]


def test_delta_writes_only_the_changed_rows_and_reads_back_equal(lake: Lake):
    import wikivis.lake.iceberg as iceberg

    rows = [(i, f"{i:06d}.jpg") for i in range(1, 4001)]
    old_limits = iceberg.ROWS_PER_FILE, iceberg.ROW_GROUP_ROWS
    iceberg.ROWS_PER_FILE = iceberg.ROW_GROUP_ROWS = 500  # many files, so a small delta can skip most of them
    try:
        base = lake.write("article_images", WIKI, "20261101", images(rows), run_id="r")
        changed = [(i, f"{i:06d}.jpg") for i in range(1, 4001) if i not in (5, 6)] + [(5, "new.jpg"), (9999, "x.jpg")]
        full = images(changed)
        delta = lake.write("article_images", WIKI, "20261101T120000Z", full, run_id="r", base="20261101")
        plain = lake.write("article_images", WIKI, "20261102", full, run_id="r")
    finally:
        iceberg.ROWS_PER_FILE, iceberg.ROW_GROUP_ROWS = old_limits
    assert delta.rows == plain.rows == 4000 and delta.content_hash == plain.content_hash
    assert lake.read("article_images", WIKI, "20261101T120000Z").equals(lake.read("article_images", WIKI, "20261102"))
    base_files = {f.name for f in base.files}
    reused = [f for f in delta.files if f.name in base_files]
    assert len(reused) == len(base_files)  # merge-on-read: every base file is kept as it is
    new = [f for f in delta.files if f.name not in base_files]
    assert sorted(f.content for f in new) == ["data", "deletes"]  # pages 5 and 6 deleted from one file
    new_bytes = sum(f.bytes for f in new)
    assert new_bytes < 0.5 * sum(f.bytes for f in plain.files)

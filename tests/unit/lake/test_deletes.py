"""Merge-on-read deltas (issue #14): position delete files, written by wikivis.lake.deletes.

These also pin the PyIceberg internals that module relies on: the delete manifest, the
snapshot summary, PyIceberg's own scan applying the deletes, the path bounds it indexes by."""

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import wikivis.lake.iceberg as iceberg
from wikivis.lake import Lake
from wikivis.lake.deletes import FILE_PATH_ID, POS_ID

from .conftest import WIKI, images

ROWS = [(i, f"{i:06d}.jpg") for i in range(1, 2001)]
#: pages 5 and 6 change, 700 and 1500 vanish, 9999 is new: four of the four 500-row files are touched
CHANGED = [(i, f"{i:06d}.jpg") for i in range(1, 2001) if i not in (5, 6, 700, 1500)] + [(5, "new.jpg"), (9999, "x.jpg")]


@pytest.fixture(autouse=True)
def small_files(monkeypatch):
    monkeypatch.setattr(iceberg, "ROWS_PER_FILE", 500)
    monkeypatch.setattr(iceberg, "ROW_GROUP_ROWS", 500)


def expected(rows) -> list[dict]:
    return images(sorted(rows)).to_pylist()


def _delta(lake: Lake, run_id: str = "r") -> tuple:
    base = lake.write("article_images", WIKI, "20261101", images(ROWS), run_id=run_id)
    delta = lake.write("article_images", WIKI, "20261101T120000Z", images(CHANGED), run_id=run_id, base="20261101")
    return base, delta


def test_delta_is_position_deletes_plus_one_small_data_file(lake: Lake):
    from pyiceberg.manifest import DataFileContent, ManifestContent

    base, delta = _delta(lake)
    plain = lake.write("article_images", WIKI, "20261102", images(CHANGED), run_id="r")
    assert delta.rows == plain.rows == len(CHANGED) and delta.content_hash == plain.content_hash
    assert lake.read("article_images", WIKI, "20261101T120000Z").to_pylist() == expected(CHANGED)
    base_names = {f.name for f in base.files}
    assert base_names <= {f.name for f in delta.files}  # every base file is kept as it is
    new = [f for f in delta.files if f.name not in base_names]
    assert sorted(f.content for f in new) == ["data", "deletes", "deletes", "deletes"]
    assert sum(f.rows for f in new if f.content == "deletes") == 4  # 5, 6, 700, 1500
    assert sum(f.bytes for f in new) < 0.5 * sum(f.bytes for f in plain.files)

    table = lake._require("article_images")
    snap = table.snapshot_by_id(delta.snapshot_id)
    assert snap.summary.operation.value == "overwrite"
    summary = snap.summary.additional_properties
    assert summary["added-position-deletes"] == "4" and summary["total-position-deletes"] == "4"
    assert summary["wikivis.label"] == "20261101T120000Z" and summary["wikivis.content_hash"] == delta.content_hash
    manifests = snap.manifests(table.io)
    assert {m.content for m in manifests} == {ManifestContent.DATA, ManifestContent.DELETES}
    # each delete file: the spec's field ids, sorted (file_path, pos), bounds naming its one data file
    for task in table.scan(snapshot_id=delta.snapshot_id).plan_files():
        for d in task.delete_files:
            assert d.content == DataFileContent.POSITION_DELETES
            assert d.lower_bounds[FILE_PATH_ID] == d.upper_bounds[FILE_PATH_ID] == task.file.file_path.encode()
            assert POS_ID in d.lower_bounds and d.file_size_in_bytes == len(table.io.new_input(d.file_path))
            with table.io.new_input(d.file_path).open() as fh:
                rows = pq.read_table(fh)
            ids = [f.metadata[b"PARQUET:field_id"] for f in rows.schema]
            assert ids == [str(FILE_PATH_ID).encode(), str(POS_ID).encode()] and rows.num_rows == d.record_count
            assert rows.sort_by([("file_path", "ascending"), ("pos", "ascending")]).equals(rows)
    # PyIceberg's own scan applies them
    scanned = table.scan(snapshot_id=delta.snapshot_id).to_arrow().drop(["_wiki"])
    assert scanned.sort_by([("page_id", "ascending")]).to_pylist() == expected(CHANGED)


def test_streaming_reads_apply_the_deletes(lake: Lake):
    _delta(lake)
    streamed = pa.Table.from_batches(list(lake.iter_batches("article_images", WIKI, "20261101T120000Z", run_id="r")))
    assert streamed.sort_by([("page_id", "ascending")]).to_pylist() == expected(CHANGED)
    assert lake.verify("article_images", WIKI, "20261101T120000Z") == []


def test_a_delta_on_a_delta_merges_deletes_one_file_per_data_file(lake: Lake):
    _delta(lake)
    again = [r for r in CHANGED if r[0] not in (7, 9999)] + [(8, "eight.jpg")]
    m = lake.write("article_images", WIKI, "20261101T130000Z", images(again), run_id="r", base="20261101T120000Z")
    assert lake.read("article_images", WIKI, "20261101T130000Z").to_pylist() == expected(again)
    table = lake._require("article_images")
    tasks = list(table.scan(snapshot_id=m.snapshot_id).plan_files())
    assert all(len(t.delete_files) <= 1 for t in tasks)
    first = next(t for t in tasks if t.file.record_count == 500 and t.delete_files)
    assert next(iter(first.delete_files)).record_count >= 2  # pages 5, 6 (earlier) with 7, 8 (now)


def test_a_file_losing_most_of_its_rows_is_rewritten(lake: Lake):
    base = lake.write("article_images", WIKI, "20261101", images(ROWS), run_id="r")
    kept = [r for r in ROWS if not 1 <= r[0] <= 400]  # 400 of the first file's 500 rows vanish
    delta = lake.write("article_images", WIKI, "20261101T120000Z", images(kept), run_id="r", base="20261101")
    names = {f.name for f in base.files}
    assert len([f for f in delta.files if f.name in names]) == 3 and not [f for f in delta.files if f.content == "deletes"]
    assert lake.read("article_images", WIKI, "20261101T120000Z").to_pylist() == expected(kept)


def test_publish_rollback_time_travel_and_main_across_a_delta(lake: Lake):
    _delta(lake)
    lake.publish_run(WIKI, {"article_images": "20261101"}, run_id="r")
    lake.publish_run(WIKI, {"article_images": "20261101T120000Z"}, run_id="r")
    assert lake.read("article_images", WIKI).to_pylist() == expected(CHANGED)
    main = lake._require("article_images").scan().to_arrow().drop(["_wiki"]).sort_by([("page_id", "ascending")])
    assert main.to_pylist() == expected(CHANGED)  # main carries the delete files too
    assert lake.read("article_images", WIKI, as_of="1").to_pylist() == expected(ROWS)  # publication 1
    lake.rollback(WIKI, "1", run_id="undo")
    assert lake.read("article_images", WIKI).to_pylist() == expected(ROWS)
    main = lake._require("article_images").scan().to_arrow().drop(["_wiki"]).sort_by([("page_id", "ascending")])
    assert main.to_pylist() == expected(ROWS)  # and drops them again


def test_compaction_rewrites_worn_files_and_preserves_rows(lake: Lake):
    lake.write("article_images", WIKI, "20261101", images(ROWS), run_id="r")
    rows, label = ROWS, "20261101"
    for hour in range(10, 13):  # three deltas, each deleting 60 rows of the first file (> 20 % in all)
        rows = [r for r in rows if not (hour - 10) * 60 < r[0] <= (hour - 9) * 60] + [(5000 + hour, "n.jpg")]
        nxt = f"20261101T{hour}0000Z"
        lake.write("article_images", WIKI, nxt, images(rows), run_id="r", base=label)
        label = nxt
    lake.publish_run(WIKI, {"article_images": label}, run_id="r")
    before = lake.manifest("article_images", WIKI, label)
    pub = lake.compact("article_images", WIKI, max_small_files=2)
    assert pub is not None and pub.kind == "compact" and pub.label("article_images") == label
    after = lake.manifest("article_images", WIKI, label)
    assert after.content_hash == before.content_hash and after.rows == before.rows == len(rows)
    assert not [f for f in after.files if f.content == "deletes"]
    assert len(after.files) < len([f for f in before.files if f.content == "data"])
    assert lake.read("article_images", WIKI).to_pylist() == expected(rows)
    assert lake.compact("article_images", WIKI) is None  # nothing left to do
    # retention then orphan sweep: the compacted state stays readable, expired delete files go
    lake.apply_retention("article_images", WIKI, keep=1, min_age=timedelta(0), branch_ttl=timedelta(0))
    swept = lake.remove_orphan_files(older_than=timedelta(0))
    assert any("-deletes-" in p for p in swept)
    assert lake.read("article_images", WIKI).to_pylist() == expected(rows)


def test_orphan_sweep_keeps_live_delete_files(lake: Lake):
    _delta(lake)
    lake.publish_run(WIKI, {"article_images": "20261101T120000Z"}, run_id="r")
    swept = lake.remove_orphan_files(older_than=timedelta(0))
    assert not [p for p in swept if "-deletes-" in p]
    assert lake.read("article_images", WIKI).to_pylist() == expected(CHANGED)


def test_a_lost_commit_race_is_replanned_and_retried(lake: Lake, monkeypatch):
    from wikivis.lake import deletes

    lake.write("article_images", WIKI, "20261101", images(ROWS), run_id="r")
    real = deletes.ReplacePartition.producer
    raced: list[int] = []

    def producer(tx, io, branch, props, **kw):
        if not raced and props.get("wikivis.label") == "20261101T120000Z":
            raced.append(1)  # another writer commits to the same branch first
            Lake(lake.root).write("article_images", "otherwiki", "20261101", images([(1, "o.jpg")], "otherwiki"),
                                  run_id="r")
        return real(tx, io, branch, props, **kw)

    monkeypatch.setattr(deletes.ReplacePartition, "producer", staticmethod(producer))
    lake.write("article_images", WIKI, "20261101T120000Z", images(CHANGED), run_id="r", base="20261101")
    assert raced == [1]
    assert lake.read("article_images", WIKI, "20261101T120000Z").to_pylist() == expected(CHANGED)
    assert lake.read("article_images", "otherwiki", "20261101").column("page_id").to_pylist() == [1]


CHILD = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, os.environ["TESTS_DIR"])
    from wikivis.lake import Lake, iceberg
    from unit.lake.test_deletes import CHANGED, WIKI, images
    iceberg.ROWS_PER_FILE = iceberg.ROW_GROUP_ROWS = 500
    def die(*a, **k):
        os._exit(9)  # like SIGKILL: no finally, no cleanup
    iceberg.Lake._commit_partition = die  # the delete files are written, the commit never happens
    Lake(sys.argv[1]).write("article_images", WIKI, "20261101T120000Z", images(CHANGED), run_id="r2",
                            base="20261101")
""")


def test_kill_between_delete_files_and_commit_changes_nothing_and_rerun_succeeds(tmp_path):
    root = tmp_path / "lake"
    lake = Lake(root)
    lake.write("article_images", WIKI, "20261101", images(ROWS), run_id="r1")
    lake.publish_run(WIKI, {"article_images": "20261101"}, run_id="r1")
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(repo), "TESTS_DIR": str(repo / "tests")}
    child = subprocess.run([sys.executable, "-c", CHILD, str(root)], env=env, timeout=120)
    assert child.returncode == 9
    table = lake._require("article_images")
    leftovers = list(Path(table.location().removeprefix("file://"), "data").rglob("*-deletes-*"))
    assert leftovers  # the killed writer got as far as its delete files
    assert lake.read("article_images", WIKI).to_pylist() == expected(ROWS)
    assert "20261101T120000Z" not in lake.snapshots("article_images", WIKI)
    lake.write("article_images", WIKI, "20261101T120000Z", images(CHANGED), run_id="r2", base="20261101")
    lake.publish_run(WIKI, {"article_images": "20261101T120000Z"}, run_id="r2")
    assert lake.read("article_images", WIKI).to_pylist() == expected(CHANGED)
    swept = lake.remove_orphan_files(older_than=timedelta(0))
    assert {Path(p).name for p in swept} >= {p.name for p in leftovers}
    assert lake.read("article_images", WIKI).to_pylist() == expected(CHANGED)


def test_retention_compacts_worn_files_first(lake: Lake):
    lake.write("article_images", WIKI, "20261101", images(ROWS), run_id="r")
    rows = [r for r in ROWS if not 1 <= r[0] <= 150]  # 30 % of the first file: a delete file, not a rewrite
    m = lake.write("article_images", WIKI, "20261101T120000Z", images(rows), run_id="r", base="20261101")
    assert [f for f in m.files if f.content == "deletes"]
    lake.publish_run(WIKI, {"article_images": "20261101T120000Z"}, run_id="r")
    lake.apply_retention("article_images", WIKI, keep=5)
    assert lake.publication(WIKI).kind == "compact"
    assert not [f for f in lake.manifest("article_images", WIKI, "20261101T120000Z").files if f.content == "deletes"]
    assert lake.read("article_images", WIKI).to_pylist() == expected(rows)
    assert lake.read("article_images", WIKI, as_of="r").to_pylist() == expected(rows)  # the run's own publication


def test_lake_compact_command_publishes_the_compacted_state(tmp_path):
    import json
    import subprocess
    import sys

    from wikivis.config import load_settings

    home = tmp_path / "home"
    lake = Lake.from_settings(load_settings(env={}, home=str(home)))
    _delta(lake)
    lake.publish_run(WIKI, {"article_images": "20261101T120000Z"}, run_id="r")
    code = "import sys; from wikivis.cli import main; sys.argv = ['wikivis', *sys.argv[1:]]; main()"
    done = subprocess.run([sys.executable, "-c", code, "--json", "--home", str(home), "lake", "compact",
                           "--wiki", WIKI, "article_images", "--min-delete-ratio", "0"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout)["compacted"]) == ["article_images"]
    assert lake.publication(WIKI).kind == "compact"
    assert lake.read("article_images", WIKI).to_pylist() == expected(CHANGED)

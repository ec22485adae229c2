"""``wikivis lake migrate``: a pre-Iceberg Parquet lake comes in whole, once."""

import json

import pyarrow.parquet as pq

from wikivis.lake import Lake
from wikivis.lake.migrate import migrate_parquet_lake

from .conftest import WIKI, images


def _old_lake(root, snapshots, current):
    for label, rows in snapshots.items():
        part = root / "article_images" / f"wiki={WIKI}" / f"snapshot={label}"
        part.mkdir(parents=True)
        pq.write_table(images(rows), part / "part-00000.parquet")
        manifest = {"dataset": "article_images", "wiki": WIKI, "snapshot": label, "rows": len(rows),
                    "content_hash": f"old-{label}", "files": [{"name": "part-00000.parquet", "rows": len(rows),
                                                               "bytes": 1, "sha256": "x"}], "run_id": f"old-{label}"}
        (part / "_manifest.json").write_text(json.dumps(manifest))
    (root / "article_images" / f"wiki={WIKI}" / ".staging-dead").mkdir()  # leftovers are ignored
    (root / "article_images" / f"wiki={WIKI}" / "_current.json").write_text(json.dumps({"snapshot": current}))


def test_migrate_imports_every_snapshot_and_the_pointer_idempotently(tmp_path):
    old = tmp_path / "old"
    _old_lake(old, {"20261101": [(1, "a.jpg")], "20261102": [(1, "a.jpg"), (2, "b.jpg")],
                    "20261103": [(3, "c.jpg")]}, current="20261102")
    lake = Lake(tmp_path / "new")
    assert migrate_parquet_lake(old, lake) == {"imported": 3, "skipped": 0, "published": 1}
    assert lake.snapshots("article_images", WIKI) == ["20261101", "20261102", "20261103"]
    assert lake.current("article_images", WIKI) == "20261102"
    assert lake.read("article_images", WIKI).column("page_id").to_pylist() == [1, 2]
    assert lake.history(WIKI)[0].kind == "migrate"
    assert migrate_parquet_lake(old, lake) == {"imported": 0, "skipped": 3, "published": 0}
    assert len(lake.history(WIKI)) == 1

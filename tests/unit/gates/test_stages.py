"""The lake/catalog-facing gates: outcomes, GateFailed, warn-only, quarantine, recording."""

from __future__ import annotations

import re

import faiss
import numpy as np
import pyarrow as pa
import pytest

from tests.unit.gates.conftest import (
    NOW,
    PREVIOUS,
    SNAPSHOT,
    WIKI,
    all_file_names,
    article_images_table,
    clean_media,
    files_table,
    jpeg_bytes,
    pages_table,
    write_media,
)
from wikivis.catalog import Catalog
from wikivis.errors import GateFailed, NotFoundError
from wikivis.gates.results import CheckResult
from wikivis.gates.stages import gate_embeddings, gate_index, gate_media, gate_tables, run_gate


@pytest.fixture
def catalog(settings):
    cat = Catalog(settings.resolved_catalog_url)
    yield cat
    cat.dispose()


def fill_lake(lake, images: pa.Table | None = None) -> None:
    images = images if images is not None else article_images_table()
    for snap in (PREVIOUS, SNAPSHOT):
        lake.write("pages", WIKI, snap, pages_table())
        lake.write("article_images", WIKI, snap, images if snap == SNAPSHOT else article_images_table())
    lake.write("files", "commonswiki", PREVIOUS, files_table(all_file_names(article_images_table())))


def quarantine_of(lake) -> dict[str, str]:
    table = lake.read("quarantine", WIKI, SNAPSHOT)
    return {f"{r['dataset']}:{r['row_key']}": r["check"] for r in table.to_pylist()}


def test_clean_lake_passes_and_sets_icons_aside(settings, lake, catalog):
    fill_lake(lake)
    run_id = catalog.start_run("pipeline", WIKI)
    report = gate_tables(settings, lake, WIKI, SNAPSHOT, catalog=catalog, run_id=run_id, now=NOW)
    assert report.ok
    assert report.outcome == "pass", report.summary()
    assert {r.dataset for r in report.results} == {"pages", "article_images", "files"}
    assert report.result("file_exists").metrics["missing_rows"] == 0
    assert report.result("row_count_drift", "article_images").metrics["previous_snapshot"] == PREVIOUS
    # 36 articles (4 of the 40 pages are redirects): threshold 3.75, the banner is on 40 pages
    filters = report.result("wikimedia_filters")
    assert filters.metrics["n_articles"] == 36
    assert quarantine_of(lake) == {"article_images:Shared_banner.jpg": "overused_image"}
    recorded = catalog.gate_results(run_id)
    assert len(recorded) == len(report.results)
    assert {g["stage"] for g in recorded} == {"tables"}
    assert all(g["metrics"]["wiki"] == WIKI for g in recorded)


def test_failure_raises_gatefailed_naming_dataset_check_and_row(settings, lake, catalog):
    images = article_images_table()
    fill_lake(lake, pa.concat_tables([images, images.slice(3, 1)]))  # one duplicated row
    with pytest.raises(GateFailed) as caught:
        gate_tables(settings, lake, WIKI, SNAPSHOT, catalog=catalog, now=NOW)
    err = caught.value
    assert err.gate == "unique"
    assert err.dataset == "article_images"
    assert err.exit_code == 6
    text = str(err)
    assert "gate 'tables' (samplewiki, snapshot 20240301) failed" in text
    assert "article_images: check 'unique' failed" in text
    assert images.slice(3, 1).column("file_name")[0].as_py() in text
    # the gate started its own run (no run_id given) and marked it failed
    run = catalog.runs(limit=1)[0]
    assert run["kind"] == "gate-tables"
    assert run["status"] == "failed"
    assert any(g["outcome"] == "fail" and g["gate"] == "unique" for g in catalog.gate_results(run["id"]))


def test_warn_only_turns_a_failure_into_a_warning(settings, lake):
    images = article_images_table()
    fill_lake(lake, pa.concat_tables([images, images.slice(3, 1)]))
    relaxed = settings.replace(gate_warn_only=("article_images.unique",))
    report = gate_tables(relaxed, lake, WIKI, SNAPSHOT, now=NOW)
    result = report.result("unique", "article_images")
    assert result.outcome == "warn"
    assert "downgraded to warn" in result.message
    assert report.ok


def test_stale_snapshot_fails_the_gate(settings, lake):
    fill_lake(lake)
    with pytest.raises(GateFailed, match="check 'freshness' failed"):
        gate_tables(settings, lake, WIKI, SNAPSHOT)  # measured from today: long stale


def test_missing_dataset_is_not_found(settings, lake):
    with pytest.raises(NotFoundError, match="no article_images for samplewiki"):
        gate_tables(settings, lake, WIKI, SNAPSHOT, now=NOW)
    fill_lake(lake)
    with pytest.raises(NotFoundError, match="no such dataset"):
        gate_tables(settings, lake, WIKI, SNAPSHOT, datasets=("media",), now=NOW)


def test_run_gate_rerun_replaces_only_its_own_quarantine_rows(settings, lake):
    fill_lake(lake)
    gate_tables(settings, lake, WIKI, SNAPSHOT, now=NOW)
    extra = pa.table({"dataset": ["media"], "check": ["min_size"], "row_key": ["ab" * 20], "reason": ["tiny"]})
    run_gate("media", [CheckResult("min_size", "media", "warn", message="tiny")], settings=settings, lake=lake,
             wiki=WIKI, snapshot=SNAPSHOT, quarantine=extra)
    gate_tables(settings, lake, WIKI, SNAPSHOT, now=NOW)  # rerun: idempotent, keeps the media rows
    assert quarantine_of(lake) == {"article_images:Shared_banner.jpg": "overused_image", f"media:{'ab' * 20}": "min_size"}


def test_warn_does_not_raise(settings):
    report = run_gate("x", [CheckResult("c", "d", "warn", message="meh")], settings=settings)
    assert report.outcome == "warn"
    with pytest.raises(GateFailed, match=re.escape('d: check \'c\' failed: bad; example row: {"k": 1}')):
        run_gate("x", [CheckResult("c", "d", "fail", message="bad", example_row={"k": 1})], settings=settings)


def test_gate_media_checks_tables_and_thumbnails(settings, lake, catalog):
    fill_lake(lake)
    media = pa.concat_tables([
        clean_media(settings.media_root, n=4),
        write_media(settings.media_root, [("Shared_banner.jpg", jpeg_bytes(120, 90, 7), 120, 90)]),
    ])
    lake.write("media", WIKI, SNAPSHOT, media)
    report = gate_media(settings, lake, WIKI, SNAPSHOT, catalog=catalog, now=NOW)
    assert report.outcome == "pass", report.summary()
    assert report.result("schema", "media").outcome == "pass"
    assert report.result("wikimedia_filters", "media").metrics["overused"] == 1
    assert "media:" + media.column("sha1")[4].as_py() in quarantine_of(lake)

    bad = pa.concat_tables([media, write_media(settings.media_root, [("Cut.jpg", jpeg_bytes(120, 90, 8)[:300], 120, 90)])])
    lake.write("media", WIKI, SNAPSHOT, bad)
    with pytest.raises(GateFailed, match=r"media: check 'decodable' failed.*Cut\.jpg"):
        gate_media(settings, lake, WIKI, SNAPSHOT, now=NOW)


def test_gate_embeddings_and_index(settings, catalog):
    vectors = np.random.default_rng(0).normal(size=(600, 16)).astype(np.float32)
    faiss.normalize_L2(vectors)
    run_id = catalog.start_run("embed", WIKI)
    report = gate_embeddings(settings, vectors, expected_dim=16, normalized=True, model_id="toy",
                             catalog=catalog, run_id=run_id)
    assert report.outcome == "pass"
    assert {g["dataset"] for g in catalog.gate_results(run_id)} == {"embeddings/toy"}

    index = faiss.IndexFlatIP(16)
    index.add(vectors)
    assert gate_index(settings, index.search, vectors, index_size=index.ntotal).ok

    broken = vectors.copy()
    broken[5, 3] = np.nan
    with pytest.raises(GateFailed, match="embeddings: check 'finite' failed") as caught:
        gate_embeddings(settings, broken)
    assert caught.value.dataset == "embeddings"

    # vectors in another order than the index's positions (misaligned ids): recall collapses
    with pytest.raises(GateFailed, match="index: check 'recall' failed: recall@10 is"):
        gate_index(settings, index.search, vectors[::-1].copy(), index_size=index.ntotal)

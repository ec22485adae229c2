"""Dump ingest against the local mirror: the lake datasets must equal what the sample wiki's
tables say, for the latest and an explicit run, under transfer faults, and never half-written."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pytest

from wikivis.datasets import base36_to_hex
from wikivis.dumps.ingest import build_article_categories, build_article_images, build_pages
from wikivis.dumps.parser import DumpParser
from wikivis.errors import ChecksumError, NotFoundError
from wikivis.lake import Lake
from wikivis.mirror.dumpwriter import LEGACY_TABLES, TABLES, to_legacy, write_dump
from wikivis.sources.dumps import DumpsClient

pytestmark = pytest.mark.integration


def expected(sample, day: int) -> dict[str, list[dict]]:
    tables = sample.state(day).tables
    wiki = sample.wiki
    pages = {p["page_id"]: p for p in tables["page"] if p["page_namespace"] == 0}
    titles = {t["lt_id"]: t for t in tables["linktarget"]}
    leads = {(p["pp_page"], p["pp_value"]) for p in tables["page_props"]
             if p["pp_propname"] in ("page_image", "page_image_free")}
    images = []
    for link in tables["imagelinks"]:
        target = titles[link["il_target_id"]]
        page = pages.get(link["il_from"])
        if page is None or link["il_from_namespace"] != 0 or target["lt_namespace"] != 6:
            continue
        images.append({"wiki": wiki, "page_id": page["page_id"], "page_namespace": 0, "page_title": page["page_title"],
                       "file_name": target["lt_title"], "is_lead": (page["page_id"], target["lt_title"]) in leads})
    categories = [
        {"wiki": wiki, "page_id": c["cl_from"], "category": titles[c["cl_target_id"]]["lt_title"]}
        for c in tables["categorylinks"]
        if c["cl_from"] in pages and titles[c["cl_target_id"]]["lt_namespace"] == 14
    ]
    files = [
        {"wiki": sample.commons_wiki, "file_name": i["img_name"], "size": i["img_size"], "width": i["img_width"],
         "height": i["img_height"], "media_type": i["img_media_type"],
         "mime": f"{i['img_major_mime']}/{i['img_minor_mime']}", "sha1": base36_to_hex(i["img_sha1"]),
         "timestamp": i["img_timestamp"]}
        for i in tables["image"]
    ]
    page_rows = [{"wiki": wiki, "page_id": p["page_id"], "page_namespace": 0, "page_title": p["page_title"],
                  "is_redirect": bool(p["page_is_redirect"])} for p in pages.values()]

    items = [{"wiki": wiki, "page_id": p["pp_page"], "item": p["pp_value"]} for p in tables["page_props"]
             if p["pp_propname"] == "wikibase_item" and p["pp_page"] in pages
             and not pages[p["pp_page"]]["page_is_redirect"]]

    def by(rows, *keys):
        return sorted(rows, key=lambda r: tuple(r[k] for k in keys))

    return {
        "pages": by(page_rows, "page_id"),
        "article_images": by(images, "page_id", "file_name"),
        "article_categories": by(categories, "page_id", "category"),
        "files": by(files, "file_name"),
        "article_items": by(items, "page_id"),
    }


def assert_lake_matches(lake: Lake, sample, result, day: int) -> None:
    want = expected(sample, day)
    for dataset in ("pages", "article_images", "article_categories", "article_items"):
        got = lake.read(dataset, sample.wiki, result.snapshot).to_pylist()
        assert got == want[dataset], dataset
    assert lake.read("files", sample.commons_wiki, result.commons_snapshot).to_pylist() == want["files"]
    assert lake.current("pages", sample.wiki) is None  # written, not published


def test_ingest_latest_matches_the_sample(mirror, sample_wiki, tmp_path):
    from wikivis.dumps.ingest import ingest

    settings = mirror.settings(home=tmp_path / "home")
    lake = Lake.from_settings(settings)
    mirror.reset_stats()
    result = ingest(settings, sample_wiki.wiki, run_id="run-1", lake=lake)
    # the newest run is still in progress: the newest *complete* one is used
    assert result.snapshot == sample_wiki.dates[-1]
    assert result.commons_snapshot == sample_wiki.dates[-1]
    assert_lake_matches(lake, sample_wiki, result, sample_wiki.n_days)
    assert result.rows["article_images"] > 0
    assert any(r["is_lead"] for r in lake.read("article_images", sample_wiki.wiki, result.snapshot).to_pylist())
    manifest = lake.manifest("article_images", sample_wiki.wiki, result.snapshot)
    assert manifest.run_id == "run-1"
    assert any("imagelinks" in i for i in manifest.inputs)
    stats = mirror.stats["dumps"]
    assert stats["peak_concurrency"] <= 2
    assert stats["bad_user_agent"] == 0
    raw = settings.raw_root / "dumps" / sample_wiki.wiki / result.snapshot
    assert (raw / "_manifest.json").exists()

    # a rerun downloads nothing and writes identical partitions
    mirror.reset_stats()
    again = ingest(settings, sample_wiki.wiki, lake=lake)
    assert again.rows == result.rows
    assert mirror.stats["dumps"]["bytes_sent"] < 20_000  # index pages and dumpstatus only
    assert lake.manifest("pages", sample_wiki.wiki, result.snapshot).content_hash == \
        again.manifests["pages"].content_hash


def test_ingest_an_explicit_date(mirror, sample_wiki, tmp_path):
    from wikivis.dumps.ingest import ingest

    settings = mirror.settings(home=tmp_path / "home")
    lake = Lake.from_settings(settings)
    result = ingest(settings, sample_wiki.wiki, sample_wiki.dates[2], lake=lake)
    assert result.snapshot == sample_wiki.dates[2]
    assert result.commons_snapshot == sample_wiki.dates[2]  # Commons: newest complete run at or before
    assert_lake_matches(lake, sample_wiki, result, 2)


def test_a_run_whose_imagelinks_job_failed_is_refused(mirror, sample_wiki, tmp_path):
    from wikivis.dumps.ingest import ingest

    settings = mirror.settings(home=tmp_path / "home")
    old = DumpsClient(settings).list_runs(sample_wiki.wiki)[0]
    assert old < sample_wiki.dates[0]
    with pytest.raises(NotFoundError, match="imagelinks"):
        ingest(settings, sample_wiki.wiki, old)
    assert not settings.lake_root.exists() or not any(settings.lake_root.rglob("*.parquet"))


@pytest.mark.parametrize("faults", ["flaky", "truncated", "corrupt", "drops", "throttle"])
def test_ingest_survives_transfer_faults(mirror_factory, sample_wiki, tmp_path, faults):
    from wikivis.dumps.ingest import ingest
    from wikivis.sources.http import RetryPolicy

    running = mirror_factory(faults={"dumps": faults})
    settings = running.settings(home=tmp_path / "home")
    client = DumpsClient(settings, policy=RetryPolicy(max_attempts=6, backoff_initial_s=0.01, backoff_max_s=0.05))
    result = ingest(settings, sample_wiki.wiki, sample_wiki.dates[1], client=client)
    assert_lake_matches(Lake.from_settings(settings), sample_wiki, result, 1)
    assert running.stats["dumps"]["peak_concurrency"] <= 2


def test_published_checksum_mismatch_writes_nothing(mirror_factory, sample_wiki, tmp_path):
    from wikivis.dumps.ingest import ingest

    running = mirror_factory(faults={"dumps": "checksum"})
    settings = running.settings(home=tmp_path / "home")
    with pytest.raises(ChecksumError, match="imagelinks"):
        ingest(settings, sample_wiki.wiki, sample_wiki.dates[0])
    assert not settings.lake_root.exists() or not any(settings.lake_root.rglob("*.parquet"))
    raw = settings.raw_root / "dumps" / sample_wiki.wiki / sample_wiki.dates[0]
    assert not list(raw.glob("*imagelinks*"))


def test_list_runs_and_completeness(mirror, sample_wiki, tmp_path):
    client = DumpsClient(mirror.settings(home=tmp_path / "home"))
    runs = {r.date: r for r in client.runs(sample_wiki.wiki)}
    assert set(sample_wiki.dates) <= set(runs)
    newest = max(runs)
    assert not runs[newest].complete  # the run in progress
    assert runs[sample_wiki.dates[-1]].complete
    assert not runs[min(runs)].ready(["imagelinks"])  # the old run's imagelinks job failed


def test_legacy_link_schema_gives_the_same_datasets(sample_wiki, tmp_path):
    """Dumps from before the il_to / cl_to removal (detected from the DDL) join to the same rows."""
    tables = sample_wiki.state(1).tables
    parsed: dict[str, dict[str, pa.Table]] = {"current": {}, "legacy": {}}
    for schema in parsed:
        for name in ("page", "linktarget", "imagelinks", "page_props", "categorylinks"):
            definition, rows = TABLES[name], tables[name]
            if schema == "legacy" and name in LEGACY_TABLES:
                definition, rows = LEGACY_TABLES[name], to_legacy(name, rows, tables["linktarget"])
            path = tmp_path / f"{schema}-{name}.sql.gz"
            path.write_bytes(gzip.compress(write_dump(definition, rows, style="mysqldump" if schema == "legacy" else "mariadb")))
            parsed[schema][name] = pa.Table.from_batches(list(DumpParser(path)))
    assert "il_to" in parsed["legacy"]["imagelinks"].column_names
    out = {}
    for schema, t in parsed.items():
        pages = build_pages("samplewiki", t["page"])
        props = t["page_props"].filter(pa.compute.is_in(t["page_props"]["pp_propname"],
                                                        pa.array(["page_image", "page_image_free"])))
        linktarget = t["linktarget"] if schema == "current" else None
        out[schema] = (
            build_article_images("samplewiki", pages, t["imagelinks"], linktarget, props, "x").sort_by(
                [("page_id", "ascending"), ("file_name", "ascending")]),
            build_article_categories("samplewiki", pages, t["categorylinks"], linktarget, "x").sort_by(
                [("page_id", "ascending"), ("category", "ascending")]),
        )
    assert out["legacy"][0].equals(out["current"][0])
    assert out["legacy"][1].equals(out["current"][1])
    want = expected(sample_wiki, 1)
    assert out["current"][0].to_pylist() == want["article_images"]


def test_cli_list_and_ingest(mirror, sample_wiki, tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, WIKIVIS_HOME=str(tmp_path / "home"), WIKIVIS_DUMPS_URL=mirror.urls["dumps"],
               WIKIVIS_CONTACT="wikivis tests <tests@example.org>")
    code = "import sys; from wikivis.cli import main; sys.argv = ['wikivis', *sys.argv[1:]]; main()"

    def wikivis(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)

    listed = wikivis("--json", "dumps", "list", "--wiki", sample_wiki.wiki)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [r["date"] for r in runs] == sorted((r["date"] for r in runs), reverse=True)
    assert {r["date"]: r["ingestable"] for r in runs}[sample_wiki.dates[-1]] is True

    done = wikivis("dumps", "ingest", "--wiki", sample_wiki.wiki, "--date", sample_wiki.dates[0])
    assert done.returncode == 0, done.stderr
    assert f"snapshot {sample_wiki.dates[0]}" in done.stdout
    missing = wikivis("dumps", "ingest", "--wiki", sample_wiki.wiki, "--date", "20200101")
    assert missing.returncode == 5

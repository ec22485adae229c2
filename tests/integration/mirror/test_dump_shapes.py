"""Shapes the real artefacts show that the mirror serves too (issue 15): the runs of the 20th
list the full-history jobs as ``skipped``; categorylinks mid-migration carries ``cl_to`` and a
nullable ``cl_target_id`` (``?schema=transitional``)."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pytest

from wikivis.dumps.ingest import _choose_columns, build_article_categories, build_pages
from wikivis.dumps.parser import DumpParser
from wikivis.sources.dumps import DumpsClient

pytestmark = pytest.mark.integration


def test_the_run_of_the_20th_skips_the_history_jobs_and_still_counts_as_finished(mirror, sample_wiki, http):
    old = mirror.dumps.old_date
    assert old.endswith("20")
    status = http.get(f"{mirror.urls['dumps']}/{sample_wiki.commons_wiki}/{old}/dumpstatus.json").json()
    assert {name: job for name, job in status["jobs"].items() if job["status"] == "skipped"} == {
        name: {"status": "skipped", "updated": status["jobs"][name]["updated"]}
        for name in ("metahistorybz2dump", "metahistory7zdump")
    }
    run = DumpsClient(mirror.settings()).run_status(sample_wiki.commons_wiki, old)
    assert run.complete and run.ready(["image"])


def _table(tmp_path, http, url: str, name: str, **options) -> pa.Table:
    path = tmp_path / name
    path.write_bytes(gzip.decompress(http.get(url).content))
    parser = DumpParser(path, **options)
    return pa.Table.from_batches(list(parser), schema=parser.schema)


def test_transitional_categorylinks_give_the_same_categories_as_the_current_schema(mirror, sample_wiki, http, tmp_path):
    wiki, date = sample_wiki.wiki, sample_wiki.dates[1]
    base = f"{mirror.urls['dumps']}/{wiki}/{date}/{wiki}-{date}"
    pages = build_pages(wiki, _table(tmp_path, http, f"{base}-page.sql.gz", "page.sql"))
    linktarget = _table(tmp_path, http, f"{base}-linktarget.sql.gz", "linktarget.sql")
    current = _table(tmp_path, http, f"{base}-categorylinks.sql.gz", "current.sql")
    transitional_path = tmp_path / "transitional.sql"
    transitional_path.write_bytes(gzip.decompress(http.get(f"{base}-categorylinks.sql.gz?schema=transitional").content))
    columns = _choose_columns(transitional_path, "categorylinks")
    assert columns == ["cl_from", "cl_to"]
    parser = DumpParser(transitional_path)
    transitional = pa.Table.from_batches(list(parser), schema=parser.schema)
    assert transitional["cl_target_id"].null_count > 0  # rows not migrated yet
    expected = build_article_categories(wiki, pages, current, linktarget, "current")
    got = build_article_categories(wiki, pages, transitional.select(columns), None, "transitional")
    key = ["page_id", "category"]
    assert got.select(key).sort_by([(k, "ascending") for k in key]).equals(
        expected.select(key).sort_by([(k, "ascending") for k in key]))

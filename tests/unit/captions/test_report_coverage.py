"""Caption coverage in the quality report, and the caption gate recorded in the catalog."""

from __future__ import annotations

import pyarrow as pa

from wikivis.captions.build import ExtractStats, collect
from wikivis.captions.coverage import coverage
from wikivis.catalog import Catalog
from wikivis.datasets import schema
from wikivis.gates.captions import gate_captions
from wikivis.gates.report import write_report

WIKI, SNAPSHOT = "xwiki", "20260101"


def test_report_shows_caption_coverage(settings, lake):
    images = pa.Table.from_pylist(
        [{"wiki": WIKI, "page_id": p, "page_namespace": 0, "page_title": f"P{p}", "file_name": f, "is_lead": False}
         for p, f in [(1, "A.jpg"), (1, "B.jpg"), (2, "C.jpg"), (3, "D.jpg")]],
        schema=schema("article_images"),
    )
    lake.write("article_images", WIKI, SNAPSHOT, images)
    texts = [(1, "[[File:A.jpg|thumb|alt=A red car|A car]] [[File:B.jpg|thumb|alt=B.jpg]]"), (2, "[[File:C.jpg|thumb|Sea]]")]
    lake.write("article_image_captions", WIKI, SNAPSHOT, collect(WIKI, texts, ExtractStats()))
    catalog = Catalog(settings.resolved_catalog_url)
    run_id = catalog.start_run("pipeline", WIKI)
    report = gate_captions(settings, lake, WIKI, SNAPSHOT, catalog=catalog, run_id=run_id)
    assert report.ok and {r.name: r.outcome for r in report.results} == {"caption_markup": "pass", "bad_alt": "warn"}
    catalog.finish_run(run_id, "success")
    cov = coverage(settings, WIKI)
    assert (cov["images"], cov["captioned"], cov["with_alt"], cov["bad_alt"]) == (4, 2, 2, 1)
    _, md_path = write_report(settings, catalog, run_id)
    catalog.dispose()
    md = md_path.read_text()
    assert "## Caption coverage" in md
    assert "| with a caption | 2 | 50.0% | 43% |" in md
    assert "| with alt text | 2 | 50.0% | 10% |" in md
    assert "| article_image_captions | bad_alt | 1 |" in md


def test_coverage_status_for_the_monitoring_page(settings, lake):
    from wikivis.captions.coverage import coverage_status

    assert coverage_status(settings, lake=lake) == []
    lake.write("article_image_captions", WIKI, SNAPSHOT, collect(WIKI, [(1, "[[File:A.jpg|thumb|x]]")], ExtractStats()))
    (row,) = coverage_status(settings, lake=lake)
    assert row["wiki"] == WIKI and "no article_images" in row["error"]

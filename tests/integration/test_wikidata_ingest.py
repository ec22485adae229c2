"""article_items (dumps) → item_images and crosswiki_leads (Wikidata + sample2wiki's API)
against the mirror, their gates, and a gate failure on a bad row."""

from __future__ import annotations

import pyarrow as pa
import pytest

from wikivis.errors import GateFailed
from wikivis.lake import Lake
from wikivis.sample.wikidata import SECOND_WIKI, wikidata_state

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ingested(mirror, sample_wiki, tmp_path_factory):
    from wikivis.dumps.ingest import ingest
    from wikivis.wikidata_ingest import ingest_wikidata

    settings = mirror.settings(home=tmp_path_factory.mktemp("wd-home"))
    lake = Lake.from_settings(settings)
    dumps = ingest(settings, sample_wiki.wiki, lake=lake)
    result = ingest_wikidata(settings, sample_wiki.wiki, dumps.snapshot, lake=lake)
    return settings, lake, dumps.snapshot, result


def test_item_images_and_crosswiki_leads_match_the_sample(ingested, sample_wiki) -> None:
    _, lake, snapshot, result = ingested
    items = wikidata_state(sample_wiki, sample_wiki.dates.index(snapshot)).items
    article_items = set(lake.read("article_items", sample_wiki.wiki, snapshot).column("item").to_pylist())
    images = lake.read("item_images", sample_wiki.wiki, snapshot).to_pylist()
    want = {(q, f, "P18") for q in article_items for f in items[q].images}
    want |= {(q, "", "P373") for q in article_items if items[q].commons_category}
    assert {(r["item"], r["file_name"], r["property"]) for r in images} == want
    leads = lake.read("crosswiki_leads", sample_wiki.wiki, snapshot).to_pylist()
    assert leads and {r["wiki"] for r in leads} == {SECOND_WIKI}
    assert all(SECOND_WIKI in items[r["item"]].sitelinks for r in leads)
    assert result.counters["unknown_items"] == 0
    assert result.counters["wikidata_requests"] == -(-len(article_items) // 50)


def test_gates_pass_and_catch_a_bad_item(ingested, sample_wiki) -> None:
    from wikivis.gates.stages import gate_tables, gate_wikidata

    settings, lake, snapshot, _ = ingested
    assert gate_tables(settings, lake, sample_wiki.wiki, snapshot).ok
    report = gate_wikidata(settings, lake, sample_wiki.wiki, snapshot)
    assert report.ok, report.summary()
    bad = lake.read("item_images", sample_wiki.wiki, snapshot).to_pylist()
    bad[0] = {**bad[0], "item": "Q1' OR 1=1"}
    lake.write("item_images", sample_wiki.wiki, "29991231", pa.Table.from_pylist(bad), run_id="bad")
    lake.write("crosswiki_leads", sample_wiki.wiki, "29991231",
               lake.read("crosswiki_leads", sample_wiki.wiki, snapshot), run_id="bad")
    with pytest.raises(GateFailed, match="item_images"):
        gate_wikidata(settings, lake, sample_wiki.wiki, "29991231")

"""Captions end to end against the mirror: revisions content, MediaInfo labels, multilingual
descriptions, the pages-articles dump, the stage and the CLI."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from wikivis.captions.stage import run_captions
from wikivis.cli import _common
from wikivis.cli.captions import app
from wikivis.datasets import schema
from wikivis.dumps.articles import read_pages
from wikivis.lake import Lake
from wikivis.sample.captions import article_wikitext, file_descriptions, file_labels
from wikivis.sources.commons import ActionApiClient
from wikivis.sources.content import file_captions, mediainfo_labels, page_contents
from wikivis.sources.dumps import DumpsClient

pytestmark = pytest.mark.integration


def _articles(sample, day=None):
    rows = sample.state(sample.n_days if day is None else day).tables["page"]
    return [r["page_id"] for r in rows if r["page_namespace"] == 0 and not r["page_is_redirect"]]


def _article_images(sample, wiki: str) -> pa.Table:
    state = sample.state(sample.n_days).tables
    lt = {r["lt_id"]: r["lt_title"] for r in state["linktarget"]}
    pages = {r["page_id"]: r for r in state["page"] if r["page_namespace"] == 0 and not r["page_is_redirect"]}
    rows = sorted({(r["il_from"], lt[r["il_target_id"]]) for r in state["imagelinks"] if r["il_from"] in pages})
    return pa.Table.from_pylist(
        [{"wiki": wiki, "page_id": p, "page_namespace": 0, "page_title": pages[p]["page_title"], "file_name": f,
          "is_lead": False} for p, f in rows],
        schema=schema("article_images"),
    )


def test_page_contents_in_batches_with_continuation(mirror_factory, sample_wiki):
    mirror = mirror_factory()
    client = ActionApiClient.from_settings(mirror.settings(), sample_wiki.wiki)
    ids = _articles(sample_wiki)[:120]
    mirror.api.max_result_chars = 3000  # a few pages per round: rvcontinue
    got = list(page_contents(client, page_ids=[*ids, 99_999_999]))
    assert [p.requested for p in got] == [*ids, 99_999_999]
    assert got[-1].problem == "missing"
    for page in got[:-1]:
        assert page.problem is None and page.namespace == 0 and page.content_model == "wikitext"
        assert page.content == article_wikitext(sample_wiki, page.page_id)
    assert client.counters.requests > 3  # 3 batches of ≤ 50, each in several rounds
    titles = list(page_contents(client, titles=[got[0].title, "No such page"]))
    assert titles[0].content == got[0].content and titles[1].problem == "missing"


def test_file_captions_labels_and_multilingual_descriptions(mirror, sample_wiki):
    client = ActionApiClient.from_settings(mirror.settings())
    names = [*sorted(n for n, i in sample_wiki.file_info.items() if i["topic"] != "icons")[:70], "No_such_file.jpg"]
    got = {c.file_name: c for c in file_captions(client, names)}
    assert got["No_such_file.jpg"].problem == "missing"
    for name in names[:-1]:
        assert got[name].labels == file_labels(sample_wiki, name)
        assert got[name].descriptions == file_descriptions(sample_wiki, name)
    assert any(len(c.labels) >= 3 for c in got.values()) and any("de" in c.descriptions for c in got.values())
    assert mediainfo_labels(client, [1, 2]) == {}  # not file pages: missing entities


def test_pages_articles_dump_is_listed_verified_and_streams(mirror, sample_wiki, settings):
    s = mirror.settings(home=settings.home)
    run = DumpsClient(s).find_run(sample_wiki.wiki, ("pages-articles",))
    assert run.date == sample_wiki.dates[-1]  # the newer run is still in progress
    files = DumpsClient(s).fetch(sample_wiki.wiki, tables=("pages-articles",))
    path = files.path("pages-articles")
    assert path.name.endswith("-pages-articles.xml.bz2")
    pages = list(read_pages(path))
    assert sorted(p.page_id for p in pages) == sorted(_articles(sample_wiki))


def test_stage_full_rebuild_then_api_refresh(mirror, sample_wiki, settings):
    s = mirror.settings(home=settings.home)
    lake = Lake.from_settings(s)
    wiki = sample_wiki.wiki
    images = _article_images(sample_wiki, wiki)
    lake.write("article_images", wiki, sample_wiki.dates[-1], images)
    summary = run_captions(s, wiki, sample_wiki.dates[-1], lake=lake)
    assert summary["source"] == "dump" and summary["rows"] > 500
    cov = summary["coverage"]
    assert 0.3 < cov["caption_share"] < 0.6 and 0.08 < cov["alt_share"] < 0.25 and cov["bad_alt"] > 0
    assert summary["gate"]["article_image_captions.caption_markup"] == "pass"
    assert summary["gate"]["article_image_captions.bad_alt"] == "warn"
    quarantine = lake.read("quarantine", wiki, sample_wiki.dates[-1])
    assert "bad_alt" in set(quarantine.column("check").to_pylist())
    files = lake.read("file_captions", wiki, sample_wiki.dates[-1])
    assert {"mediainfo", "imagedescription"} == set(files.column("source").to_pylist())
    assert {"en", "de", "fr", "es"} <= set(files.column("language").to_pylist())
    full = lake.read("article_image_captions", wiki, sample_wiki.dates[-1])

    # an event snapshot: refresh some pages through the API; the result equals the full build
    later = sample_wiki.dates[-1] + "T120000Z"
    lake.write("article_images", wiki, later, images)
    some = _articles(sample_wiki)[:60]
    again = run_captions(s, wiki, later, lake=lake, page_ids=some)
    uncaptioned = set(images.column("file_name").to_pylist()) - set(files.column("file_name").to_pylist())
    assert again["source"] == "api" and again["file_captions"]["fetched_files"] == len(uncaptioned)
    on_commons = {r["img_name"] for r in sample_wiki.state(sample_wiki.n_days).tables["image"]}
    assert uncaptioned and not uncaptioned & on_commons  # red links and deleted files only
    assert lake.read("article_image_captions", wiki, later).equals(full)

    # without page ids, an event snapshot refreshes the pages whose rows changed
    latest = sample_wiki.dates[-1] + "T180000Z"
    lake.write("article_images", wiki, latest, images.slice(1))  # the first page lost an image
    third = run_captions(s, wiki, latest, lake=lake, with_file_captions=False)
    assert third["source"] == "api" and third["extract"]["pages"] == 1
    assert lake.read("article_image_captions", wiki, latest).equals(full)


def test_cli_extract_and_coverage(mirror, sample_wiki, settings, monkeypatch):
    s = mirror.settings(home=settings.home)
    monkeypatch.setattr(_common.STATE, "_settings", s)
    monkeypatch.setattr(_common.STATE, "as_json", False)
    wiki = sample_wiki.wiki
    Lake.from_settings(s).write("article_images", wiki, sample_wiki.dates[-1], _article_images(sample_wiki, wiki))
    result = CliRunner().invoke(app, ["extract", "--wiki", wiki, "--from-dump", "--no-file-captions"])
    assert result.exit_code == 0, result.output
    assert "captioned" in result.output
    result = CliRunner().invoke(app, ["coverage", "--wiki", wiki, "--json"])
    assert result.exit_code == 0, result.output
    cov = json.loads(result.output)
    assert cov["snapshot"] == sample_wiki.dates[-1] and cov["reference"]["caption_share"] == 0.43
    human = CliRunner().invoke(app, ["coverage", "--wiki", wiki])
    assert "tutorial: 43.0 %" in human.output
    bad = CliRunner().invoke(app, ["extract", "--wiki", wiki, "--from-dump", "--from-api"])
    assert bad.exit_code == 2 and "choose one of" in bad.output and "Traceback" not in bad.output
    missing = CliRunner().invoke(app, ["extract", "--wiki", wiki, "--dump-file", "/nonexistent.xml.bz2"])
    assert missing.exit_code == 2


def test_pipeline_stage_records_itself(mirror, sample_wiki, tmp_path):
    from wikivis.catalog import Catalog
    from wikivis.stages.annotate import captions
    from wikivis.stages.run import RunContext

    s = mirror.settings(home=tmp_path / "home")
    wiki, snapshot = sample_wiki.wiki, sample_wiki.dates[-1]
    Lake.from_settings(s).write("article_images", wiki, snapshot, _article_images(sample_wiki, wiki))
    out = captions(RunContext.open(s, "test__captions"), wiki, snapshot)
    assert out["source"] == "dump" and out["rows"] > 500
    catalog = Catalog(s.resolved_catalog_url)
    try:
        child = catalog.get_run("test__captions.captions")
        assert child["status"] == "success"
        assert 0.3 < child["metrics"]["coverage"]["caption_share"] < 0.6
        gates = catalog.gate_results("test__captions", limit=100)
        assert {g["gate"] for g in gates if g["stage"] == "captions"} >= {"caption_markup", "bad_alt"}
    finally:
        catalog.dispose()


def test_mirror_protocol_details(mirror, sample_wiki):
    from wikivis.sources.http import polite_session

    http = polite_session("wikivis-tests/1.0 (tests@example.org)")
    base = {"format": "json", "formatversion": "2"}
    api = mirror.urls["api"]
    page_id = _articles(sample_wiki)[0]
    legacy = http.get(f"{api}/{sample_wiki.wiki}/w/api.php", params={
        **base, "action": "query", "prop": "revisions", "rvprop": "content", "pageids": page_id}).json()
    assert "rvslots" in legacy["warnings"]["revisions"]["warnings"]
    assert legacy["query"]["pages"][0]["revisions"][0]["content"] == article_wikitext(sample_wiki, page_id)
    many = "|".join(f"M{i}" for i in range(1, 52))
    too_many = http.get(f"{api}/w/api.php", params={**base, "action": "wbgetentities", "ids": many}).json()
    assert too_many["error"]["code"] == "toomanyvalues"
    bad = http.get(f"{api}/w/api.php", params={**base, "action": "wbgetentities", "ids": "Q42"}).json()
    assert bad["error"]["code"] == "no-such-entity"
    name = next(n for n in sorted(sample_wiki.file_info) if len(file_labels(sample_wiki, n)) >= 2)
    commons_id = next(r["page_id"] for r in sample_wiki.state(sample_wiki.n_days).tables_for(sample_wiki.commons_wiki)["page"]
                      if r["page_title"] == name)
    entity = http.get(f"{api}/w/api.php", params={**base, "action": "wbgetentities", "ids": f"M{commons_id}",
                                                  "languages": "de|en"}).json()["entities"][f"M{commons_id}"]
    assert entity["type"] == "mediainfo" and set(entity["labels"]) <= {"de", "en"} and entity["labels"]
    multi = http.get(f"{api}/w/api.php", params={
        **base, "action": "query", "prop": "imageinfo", "iiprop": "extmetadata", "iiextmetadatamultilang": "1",
        "titles": f"File:{name}"}).json()
    value = multi["query"]["pages"][0]["imageinfo"][0]["extmetadata"]["ImageDescription"]["value"]
    assert value["_type"] == "lang" and "en" in value


def test_demo_shows_caption_coverage(mirror, sample_wiki, tmp_path):
    from wikivis.demo import demo_captions

    s = mirror.settings(home=tmp_path / "home")
    lake = Lake.from_settings(s)
    wiki, snapshot = sample_wiki.wiki, sample_wiki.dates[-1]
    lake.write("article_images", wiki, snapshot, _article_images(sample_wiki, wiki))
    lake.publish("article_images", wiki, snapshot)
    cov = demo_captions(s, "demo__run")
    assert cov["snapshot"] == snapshot and 0.3 < cov["caption_share"] < 0.6 and cov["reference"]["alt_share"] == 0.1

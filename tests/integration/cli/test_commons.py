"""``wikivis commons fetch`` and ``page_images`` against the mirror."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wikivis.cli import _common
from wikivis.cli.commons import app
from wikivis.lake import Lake
from wikivis.sources.commons import page_images

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_settings(mirror_factory, tmp_path, monkeypatch):
    mirror = mirror_factory()
    settings = mirror.settings(home=tmp_path / "home")
    monkeypatch.setattr(_common.STATE, "_settings", settings)
    monkeypatch.setattr(_common.STATE, "as_json", True)
    return mirror, settings


def test_fetch_titles_file_prints_a_summary(cli_settings, sample_wiki, tmp_path):
    mirror, settings = cli_settings
    names = sorted(r["img_name"] for r in sample_wiki.state(sample_wiki.n_days).tables["image"])[:12]
    titles = tmp_path / "titles.txt"
    titles.write_text("\n".join(["File:" + names[0].replace("_", " "), *names[1:], "Does_not_exist.jpg"]) + "\n")
    result = CliRunner().invoke(app, ["fetch", "--titles-file", str(titles), "--max-images", "8"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["fetched"] + summary["skipped"] + summary["failed_total"] == summary["total"]
    assert summary["fetched"] <= 8
    lake = Lake.from_settings(settings)
    assert lake.exists("media", settings.commons_wiki, summary["snapshot"])
    assert mirror.stats["upload"]["peak_concurrency"] <= 2


def test_fetch_by_category(cli_settings, sample_wiki):
    _mirror, _settings = cli_settings
    commons = sample_wiki.state(sample_wiki.n_days).tables_for(sample_wiki.commons_wiki)
    category = next(r["lt_title"] for r in commons["linktarget"] if r["lt_namespace"] == 14)
    result = CliRunner().invoke(app, ["fetch", "--category", category, "--depth", "1", "--max-images", "5"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] <= 5


def test_page_images_from_the_article_api(mirror, sample_wiki):
    settings = mirror.settings()
    tables = sample_wiki.state(sample_wiki.n_days).tables_for(sample_wiki.wiki)
    targets = {r["lt_id"]: r["lt_title"] for r in tables["linktarget"] if r["lt_namespace"] == 6}
    expected: dict[int, set[str]] = {}
    for row in tables["imagelinks"]:
        if row["il_from_namespace"] == 0:
            expected.setdefault(row["il_from"], set()).add(targets[row["il_target_id"]])
    ids = sorted(expected)[:60]
    result = {p.page_id: p for p in page_images(settings, sample_wiki.wiki, page_ids=ids)}
    assert set(result) == set(ids)
    for pid in ids:
        assert set(result[pid].files) == expected[pid]


def test_fetch_json_names_every_title_without_metadata(cli_settings, sample_wiki, tmp_path):
    _mirror, settings = cli_settings
    names = sorted(r["img_name"] for r in sample_wiki.state(sample_wiki.n_days).tables["image"])[:3]
    titles = tmp_path / "titles.txt"
    titles.write_text("\n".join([*names, "Does_not_exist.jpg", "File:Bad[title].jpg"]) + "\n")
    result = CliRunner().invoke(app, ["fetch", "--titles-file", str(titles), "--include-non-free"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    reasons = {r["file_name"]: r["reason"] for r in summary["metadata_failures"]}
    assert reasons == {"Does_not_exist.jpg": "missing", "Bad[title].jpg": "invalid"}
    lake = Lake.from_settings(settings)
    stored = lake.read("metadata_failures", settings.commons_wiki, summary["snapshot"]).to_pylist()
    assert sorted(r["file_name"] for r in stored) == sorted(reasons)
    assert all(r["detail"] for r in stored)

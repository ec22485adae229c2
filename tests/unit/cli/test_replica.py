"""``pull`` and ``wikivis replica …`` on SQLite replicas."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from tests.unit.replica_tables import COMMONS, WIKI, reference
from wikivis.cli import _common
from wikivis.cli.replica import app
from wikivis.errors import ConfigError
from wikivis.lake import Lake
from wikivis.stages.ingest import pull_replica as pull


def test_pull_writes_the_four_datasets(replica_settings, tiny):
    lake = Lake.from_settings(replica_settings)
    result = pull(replica_settings, WIKI, "20260102")
    expected = reference(tiny)
    assert result.rows == {name: len(rows) for name, rows in expected.items()}
    for dataset in ("pages", "article_images", "article_categories"):
        assert lake.read(dataset, WIKI, "20260102").to_pylist() == expected[dataset]
    assert lake.read("files", COMMONS, "20260102").to_pylist() == expected["files"]
    assert result.files_wiki == COMMONS
    assert result.counters["retries"] == 0


def test_pull_can_restrict_files_to_the_used_ones(replica_settings, tiny):
    lake = Lake.from_settings(replica_settings)
    result = pull(replica_settings, WIKI, "20260102", files="used")
    used = {r["file_name"] for r in reference(tiny)["article_images"]}
    assert [r["file_name"] for r in lake.read("files", COMMONS, "20260102").to_pylist()] == sorted(used)
    assert "Unused.jpg" not in used
    assert "files" not in pull(replica_settings, WIKI, "20260103", files="none").manifests
    assert result.rows["files"] == len(used)


def test_pull_is_idempotent_and_defaults_to_today(replica_settings):
    first = pull(replica_settings, WIKI)
    second = pull(replica_settings, WIKI)
    assert first.snapshot == datetime.now(UTC).strftime("%Y%m%d")
    assert {k: m.content_hash for k, m in first.manifests.items()} == {
        k: m.content_hash for k, m in second.manifests.items()
    }


def test_pull_accepts_an_injected_engine_factory(replica_settings, tmp_path):
    import sqlalchemy as sa

    made = []

    def factory(wiki: str) -> sa.Engine:
        made.append(wiki)
        return sa.create_engine(replica_settings.replica_url(wiki))

    result = pull(replica_settings, WIKI, "20260103", lake=Lake(tmp_path / "lake"), engine_factory=factory)
    assert made == [WIKI, COMMONS]
    assert result.rows["article_images"] == 27


@pytest.fixture
def cli(replica_settings, monkeypatch):
    for key in ("WIKIVIS_REPLICA_URL_TEMPLATE", "WIKIVIS_HOME", "WIKIVIS_CONFIG", "WIKIVIS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(_common, "STATE", _common.State())
    monkeypatch.setattr(_common.STATE, "_settings", replica_settings)
    monkeypatch.setattr(_common.STATE, "as_json", True)
    return CliRunner()


def test_cli_pull_and_detect(cli, replica_settings):
    result = cli.invoke(app, ["pull", "--wiki", WIKI, "--snapshot", "20260104"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows"]["article_images"] == 27
    assert summary["snapshot"] == "20260104"
    assert Lake.from_settings(replica_settings).exists("files", COMMONS, "20260104")
    result = cli.invoke(app, ["detect", "--wiki", WIKI])
    assert result.exit_code == 0
    assert json.loads(result.output)["schema"]["imagelinks"] == "target_id"


def test_cli_rejects_hostile_wiki_names(cli):
    result = cli.invoke(app, ["pull", "--wiki", "x; DROP TABLE page"])
    assert isinstance(result.exception, ConfigError)


def test_cli_images_is_the_quarry_query(cli):
    result = cli.invoke(app, ["images", "--wiki", WIKI, "--title", "Alpha"])
    assert result.exit_code == 0, result.output
    assert [r["file_name"] for r in json.loads(result.output)] == ["A.jpg", "B.png", "Ž.svg"]
    missing = cli.invoke(app, ["images", "--wiki", WIKI, "--title", "Nope"])
    assert missing.exit_code != 0

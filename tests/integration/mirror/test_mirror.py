"""The Mirror object and the ``wikivis mirror`` CLI group."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wikivis.cli.mirror import app
from wikivis.errors import ConfigError
from wikivis.mirror import Mirror

pytestmark = pytest.mark.integration


def test_settings_point_at_the_mirror(mirror, tmp_path) -> None:
    settings = mirror.settings(home=tmp_path, thumb_width=500)
    assert settings.dumps_url == mirror.urls["dumps"]
    assert settings.commons_api_url == mirror.urls["api"] + "/w/api.php"
    assert settings.wiki_api_url("samplewiki") == mirror.urls["api"] + "/samplewiki/w/api.php"
    assert settings.upload_url == mirror.urls["upload"]
    assert settings.eventstreams_url == mirror.urls["streams"]
    assert settings.thumb_width == 500
    assert "tests@example.org" in settings.user_agent


def test_day_switch_changes_api_and_upload(mirror_factory, sample_wiki, http) -> None:
    running = mirror_factory(day=0)
    overwritten = next(c.file_name for c in sample_wiki.changes if c.kind == "overwrite")
    from wikivis.mirror.upload import original_path

    url = running.urls["upload"] + original_path(overwritten)
    assert http.get(url).content == sample_wiki.file_bytes(overwritten, day=0)
    running.day = sample_wiki.n_days
    assert http.get(url).content == sample_wiki.file_bytes(overwritten)


def test_unknown_fault_profile(sample_wiki) -> None:
    with pytest.raises(ConfigError, match="unknown fault profile"):
        Mirror(sample_wiki, faults="gremlins")


def test_cli_lists_faults_and_sample(tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["faults"])
    assert result.exit_code == 0
    assert "throttle" in result.output
    result = runner.invoke(app, ["sample", "--articles", "40", "--files", "60", "--days", "2", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "samplewiki" in result.output

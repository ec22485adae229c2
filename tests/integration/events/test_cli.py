"""``wikivis events pull`` / ``wikivis events checkpoint`` against the mirror."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wikivis.cli import _common
from wikivis.cli.events import app
from wikivis.errors import StaleCheckpointError

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(harness, monkeypatch):
    h = harness()
    h.mirror.day = 1
    monkeypatch.setattr(_common, "STATE", _common.State())
    monkeypatch.setattr(_common.STATE, "_settings", h.settings)
    monkeypatch.setattr(_common.STATE, "as_json", True)
    return CliRunner(), h


def test_pull_then_show_the_checkpoint(cli, sample_wiki) -> None:
    runner, h = cli
    result = runner.invoke(app, ["pull", "--wiki", "samplewiki", "--until", "2026-11-02T00:00:00Z", "--base", "20261101"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["snapshot"] == "20261102T000000Z"
    assert summary["start_from"] == "base"
    assert h.differences(summary["snapshot"], 1) == {}

    shown = runner.invoke(app, ["checkpoint", "--wiki", "samplewiki"])
    assert shown.exit_code == 0, shown.output
    state = json.loads(shown.output)
    assert state["checkpoint"]["snapshot"] == "20261102T000000Z"
    assert state["stale"] is None


def test_pull_with_an_old_since_is_stale(cli) -> None:
    runner, _ = cli
    result = runner.invoke(app, ["pull", "--wiki", "samplewiki", "--until", "2026-11-02", "--since", "2026-10-01T00:00:00Z",
                                 "--base", "20261101"])
    assert isinstance(result.exception, StaleCheckpointError)
    assert result.exception.exit_code == 7


def test_bad_times_are_usage_errors(cli) -> None:
    runner, _ = cli
    result = runner.invoke(app, ["pull", "--wiki", "samplewiki", "--until", "tomorrow"])
    assert result.exit_code == 2
    assert "ISO-8601" in result.output

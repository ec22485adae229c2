from __future__ import annotations

from typer.testing import CliRunner

from wikivis.cli.commons import _describe, app
from wikivis.errors import InputError
from wikivis.media.fetch import FetchSummary


def test_fetch_needs_exactly_one_source():
    result = CliRunner().invoke(app, ["fetch", "--category", "Cats", "--search", "cat"])
    assert isinstance(result.exception, InputError)
    assert "exactly one" in str(result.exception)
    result = CliRunner().invoke(app, ["fetch"])
    assert isinstance(result.exception, InputError)


def test_summary_text_names_reasons():
    summary = FetchSummary(total=5, fetched=2, already_present=1, skipped=1, skipped_reasons={"not_free": 1},
                           failed={"http_404": 1}, bytes=2_000_000, requests=3, elapsed_s=1.5, shards=1)
    text = _describe(summary.as_dict())
    assert "fetched: 2" in text
    assert "not_free: 1" in text
    assert "http_404: 1" in text
    assert "failed: 1" in text


def test_summary_text_lists_titles_without_metadata():
    failures = [{"file_name": f"Gone_{i:02d}.jpg", "reason": "missing", "detail": "no such file on Commons"}
                for i in range(25)]
    summary = FetchSummary(total=0, metadata_problems={"missing": 25}, metadata_failures=failures)
    text = _describe(summary.as_dict())
    assert "Gone_00.jpg: missing (no such file on Commons)" in text
    assert "Gone_24.jpg" not in text
    assert "and 5 more" in text
    assert summary.as_dict()["metadata_failures"] == failures  # --json carries them all

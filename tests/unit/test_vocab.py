"""Strict, ASCII-only id checks (issue 15, item 15)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wikivis.config import load_settings
from wikivis.errors import ConfigError, NotFoundError, PolicyError
from wikivis.vocab import check_dump_date, check_run_id, check_snapshot, has_contact, is_dump_date, is_snapshot

FULL_WIDTH = "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"  # １２３４５６７８


@pytest.mark.parametrize("value", [FULL_WIDTH, "20261101\n", "2026110", "20261101T000000", "٢٠٢٦١١٠١", "", " 20261101"])
def test_bad_snapshots_and_dates_are_refused(value):
    assert not is_snapshot(value) and not is_dump_date(value)
    with pytest.raises(ConfigError):
        check_snapshot(value)
    with pytest.raises(ConfigError):
        check_dump_date(value, latest=True)


def test_good_ids():
    assert check_snapshot("20261101") == "20261101"
    assert check_snapshot("20261102T000000Z") == "20261102T000000Z"
    assert check_dump_date("latest", latest=True) == "latest"
    assert check_run_id("wikivis_nightly__samplewiki__20261101T000000Z")
    for bad in ("", "\n", "a\nb", "x" * 300, "../etc", FULL_WIDTH):
        with pytest.raises(ConfigError):
            check_run_id(bad)


def test_the_dumps_client_refuses_a_date_with_a_trailing_newline(settings):
    from wikivis.sources.dumps import DumpsClient

    client = DumpsClient(settings.replace(dumps_url="http://127.0.0.1:9"))
    for bad in ("20261101\n", FULL_WIDTH):
        with pytest.raises(NotFoundError, match="not a dump date"):
            client.run_status("samplewiki", bad)  # refused before any request


@pytest.mark.parametrize(
    ("contact", "ok"),
    [("x", False), ("me", False), ("https://example.org/bot", True), ("bot maintainer <me@example.org>", True),
     ("see https://x", False), ("http://127.0.0.1:8080/", True), ("wikivis tests <tests@example.org>", True)],
)
def test_a_live_contact_needs_a_url_or_an_email(contact, ok):
    assert has_contact(contact) is ok
    settings = load_settings(env={"WIKIVIS_PROFILE": "live", "WIKIVIS_CONTACT": contact})
    if ok:
        assert contact in settings.user_agent
    else:
        with pytest.raises(PolicyError, match="neither a URL nor an e-mail"):
            _ = settings.user_agent


def wikivis(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    code = "import sys; from wikivis.cli import main; sys.argv = ['wikivis', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize(
    "args",
    [["gates", "check", "--dataset", "pages", "--wiki", "samplewiki", "--snapshot", FULL_WIDTH], ["report", ""],
     ["dumps", "ingest", "--wiki", "samplewiki", "--date", "20261101\n"]],
    ids=["full-width-snapshot", "empty-run-id", "date-with-newline"],
)
def test_the_cli_refuses_bad_ids_in_one_line(args, tmp_path):
    done = wikivis("--home", str(tmp_path / "home"), *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr


def test_write_report_refuses_an_empty_run_id(settings):
    from wikivis.catalog import Catalog
    from wikivis.gates.report import write_report

    catalog = Catalog(settings.resolved_catalog_url)
    catalog.record_gate("some_run", "ingest", "pages", "row_count", "pass")
    with pytest.raises(ConfigError, match="not a run id"):
        write_report(settings, catalog, "")
    catalog.dispose()

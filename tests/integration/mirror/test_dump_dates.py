"""Dump runs dated relative to today (issue 15, item 11): unpausing the nightly on the mirror.

``wikivis mirror serve`` dates the dump runs so that the last complete one is yesterday: the
first interval of a freshly unpaused ``wikivis_nightly`` (yesterday) finds its dump, and the
freshness gate and the EventStreams replay window (default settings) see a recent snapshot.
The dump files stay byte-identical to the fixed-date mirror's: only dates move.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def test_the_runs_are_dated_up_to_yesterday_and_the_files_do_not_change(mirror, mirror_factory, sample_wiki, http):
    rolling = mirror_factory(dump_dates="today")
    today = datetime.now(UTC).date()
    wiki = sample_wiki.wiki
    served = [rolling.dumps.served(d) for d in sample_wiki.dates]
    assert served[-1] == _ymd(today - timedelta(days=1))
    assert [datetime.strptime(d, "%Y%m%d") - datetime.strptime(s, "%Y%m%d") for d, s in zip(served, sample_wiki.dates, strict=True)] \
        == [datetime.strptime(served[-1], "%Y%m%d") - datetime.strptime(sample_wiki.dates[-1], "%Y%m%d")] * len(served)
    listing = http.get(f"{rolling.urls['dumps']}/{wiki}/").text
    assert f'href="{_ymd(today)}/"' in listing  # the run in progress
    assert sample_wiki.dates[-1] not in listing

    status = http.get(f"{rolling.urls['dumps']}/{wiki}/{served[-1]}/dumpstatus.json").json()
    fixed = http.get(f"{mirror.urls['dumps']}/{wiki}/{sample_wiki.dates[-1]}/dumpstatus.json").json()
    for job, entry in status["jobs"].items():
        [(name, info)] = entry["files"].items()
        [(fixed_name, fixed_info)] = fixed["jobs"][job]["files"].items()
        assert name == fixed_name.replace(sample_wiki.dates[-1], served[-1])
        assert info["url"] == f"/{wiki}/{served[-1]}/{name}"
        assert entry["updated"].startswith(f"{served[-1][:4]}-{served[-1][4:6]}-{served[-1][6:]}")
        data = http.get(rolling.urls["dumps"] + info["url"]).content
        assert (info["sha1"], info["md5"], info["size"]) == (fixed_info["sha1"], fixed_info["md5"], fixed_info["size"])
        assert hashlib.sha1(data).hexdigest() == fixed_info["sha1"]  # byte-identical content
    sums = http.get(f"{rolling.urls['dumps']}/{wiki}/{served[-1]}/{wiki}-{served[-1]}-sha1sums.txt").text
    assert all(f"-{served[-1]}-" in line for line in sums.splitlines())
    assert http.get(f"{rolling.urls['dumps']}/{wiki}/{sample_wiki.dates[-1]}/dumpstatus.json").status_code == 404


def test_the_first_interval_of_a_freshly_unpaused_nightly_passes_on_the_mirror(mirror_factory, tmp_path):
    """The nightly's first tasks for yesterday's interval, with the default freshness limit and
    replay window (the fixed-date mirror fails them: its newest dump is weeks old)."""
    from wikivis import orchestration
    from wikivis.config import Settings
    from wikivis.stages.ingest import events_catchup, gate_events, gate_tables, ingest, wait_for_dump
    from wikivis.stages.run import RunContext

    rolling = mirror_factory(dump_dates="today")
    defaults = Settings()
    settings = rolling.settings(home=tmp_path / "home", gate_max_snapshot_age_days=defaults.gate_max_snapshot_age_days,
                                events_replay_days=defaults.events_replay_days)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    [item] = orchestration.interval_items("wikivis_nightly", today - timedelta(days=1), today, [settings.wikis[0]])
    ctx = RunContext.open(settings, item["run_id"])
    assert wait_for_dump(settings, item["wiki"], item["dump_date"])
    snapshot = ingest(ctx, item["wiki"], item["dump_date"])["snapshot"]
    assert snapshot == item["dump_date"]  # the dump dated exactly the interval's day
    assert gate_tables(ctx, item["wiki"], snapshot)["outcome"] != "fail"
    caught_up = events_catchup(ctx, item["wiki"], snapshot, until=item["until"])
    assert gate_events(ctx, item["wiki"], caught_up["snapshot"])["outcome"] != "fail"

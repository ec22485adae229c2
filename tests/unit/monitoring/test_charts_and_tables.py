"""wikivis.monitoring without Airflow: chart data, SVG rendering, pagination and filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from wikivis.monitoring import svg
from wikivis.monitoring.page import View, durations_data, gates_data, paginate, short_run, throughput_data
from wikivis.monitoring.status import http_counters, stage_name


def test_nice_ticks_cover_the_top_with_round_steps():
    assert svg.nice_ticks(37) == [0, 10, 20, 30, 40]
    assert svg.nice_ticks(0.93) == [0, 0.25, 0.5, 0.75, 1.0]
    assert svg.nice_ticks(0) == [0.0, 1.0]


def test_charts_escape_text_and_say_when_there_is_nothing():
    chart = svg.stacked_bars("c", "t", ["<run>"], {"a&b": [2.0]}, unit="s")
    assert "<run>" not in chart and "&lt;run&gt;" in chart and "a&amp;b" in chart
    assert chart.count('class="mark"') == 1
    assert 'class="empty"' in svg.lines("c", "t", [], {"x": []})
    assert 'class="empty"' in svg.timeline("c", "t", [], datetime.now(UTC))


def test_lines_draw_the_ceiling_and_skip_missing_points():
    chart = svg.lines("t", "throughput", ["r1", "r2", "r3"], {"all": [5.0, None, 20.0]}, unit="Mbit/s",
                      ceiling=25.0, ceiling_label="policy ceiling")
    assert len(re.findall(r'<circle class="mark"', chart)) == 2
    assert 'class="ceiling"' in chart and "policy ceiling: 25 Mbit/s" in chart


def test_stage_names_fold_shards_and_http_counters_accept_both_shapes():
    assert stage_name("stage:media_12") == "media" and stage_name("wikivis_nightly") == "wikivis_nightly"
    assert http_counters({"http": {"requests": 3}})["all"]["requests"] == 3
    nested = http_counters({"http": {"dumps": {"requests": 11, "retries": 2}, "upload": {"bytes": 5}}})
    assert nested["dumps"]["retries"] == 2 and nested["upload"]["bytes"] == 5 and nested["upload"]["requests"] == 0


def test_durations_sum_shards_per_run_oldest_first():
    rows = [
        {"run": "r2", "stage": "media", "started_at": "2026-11-02T00:00:01", "seconds": 3.0},
        {"run": "r1", "stage": "ingest", "started_at": "2026-11-01T00:00:00", "seconds": 1.0},
        {"run": "r1", "stage": "media", "started_at": "2026-11-01T00:00:02", "seconds": 2.0},
        {"run": "r1", "stage": "media", "started_at": "2026-11-01T00:00:03", "seconds": 2.5},
    ]
    runs, series = durations_data(rows)
    assert runs == ["r1", "r2"]
    assert series == {"ingest": [1.0, 0.0], "media": [4.5, 3.0]}


def test_gate_outcomes_are_counted_per_run():
    gates = [{"run_id": "r1", "outcome": "pass", "created_at": "1"}, {"run_id": "r1", "outcome": "fail", "created_at": "2"},
             {"run_id": "r2", "outcome": "warn", "created_at": "3"}]
    runs, series = gates_data(gates)
    assert runs == ["r1", "r2"] and series == {"pass": [1, 0], "warn": [0, 1], "fail": [1, 0]}


def test_throughput_is_all_shards_bytes_over_their_wall_span():
    http = [
        {"run": "r1", "stage": "media", "client": "upload", "bytes": 25_000_000, "seconds": 20.0,
         "started_at": "2026-11-01T00:00:00+00:00", "ended_at": "2026-11-01T00:00:20+00:00"},
        {"run": "r1", "stage": "media", "client": "upload", "bytes": 25_000_000, "seconds": 20.0,
         "started_at": "2026-11-01T00:00:00+00:00", "ended_at": "2026-11-01T00:00:20+00:00"},
        {"run": "r1", "stage": "metadata", "client": "action_api", "bytes": 10**9, "seconds": 1.0,
         "started_at": "2026-11-01T00:00:00+00:00", "ended_at": "2026-11-01T00:00:01+00:00"},
    ]
    assert throughput_data(http) == (["r1"], [20.0])  # 50 MB in 20 s = 20 Mbit/s; API bytes excluded


def test_pagination_clamps_and_the_view_keeps_filters_in_links():
    rows, page, pages = paginate(list(range(45)), 9, size=20)
    assert (rows, page, pages) == (list(range(40, 45)), 3, 3)
    assert paginate([], 1) == ([], 1, 1)
    view = View.from_query({"run": "20261107", "stage": "media", "gates_page": "2", "http_page": "x"})
    assert view.page("gates") == 2 and view.page("http") == 1
    assert view.href("/wikivis", gates_page=3) == "/wikivis/?run=20261107&stage=media&gates_page=3"
    assert view.keeps("wikivis_nightly__samplewiki__20261107T000000Z", "media")
    assert not view.keeps("wikivis_nightly__samplewiki__20261107T000000Z", "ingest")
    assert short_run("wikivis_nightly__samplewiki__20261101T000000Z") == "samplewiki 11-01 00:00"

"""The monitoring page as one self-contained HTML document (charts are inline SVG).

Charts show the newest ``CHART_RUNS`` runs, oldest left.  Tables show the newest rows first,
``PAGE_SIZE`` per page, and follow the page's filter: ``?run=`` (a substring of the run id)
and ``?stage=`` (a stage name, shards folded); each table pages on its own query parameter
(``gates_page``, ``stages_page``, ``http_page``, ``runs_page``), so the page stays a few
screens long however many runs the catalog holds.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from wikivis.monitoring import svg
from wikivis.monitoring.status import HTTP_COUNTERS, MEDIA_STAGES, health, parse_time
from wikivis.vocab import snapshot_time

PAGE_SIZE = 20
CHART_RUNS = 20


@dataclass(frozen=True)
class View:
    """The page's query: filters and one page number per table."""

    run: str = ""
    stage: str = ""
    pages: Mapping[str, int] | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> View:
        pages = {}
        for key, value in query.items():
            if key.endswith("_page"):
                try:
                    pages[key.removesuffix("_page")] = max(1, int(value))
                except ValueError:
                    continue
        return cls(run=str(query.get("run", "")).strip()[:200], stage=str(query.get("stage", "")).strip()[:64],
                   pages=pages)

    def page(self, table: str) -> int:
        return (self.pages or {}).get(table, 1)

    def href(self, prefix: str, **changes: Any) -> str:
        params: dict[str, Any] = {"run": self.run, "stage": self.stage}
        params.update({f"{k}_page": v for k, v in (self.pages or {}).items()})
        params.update(changes)
        query = urlencode({k: v for k, v in params.items() if v not in ("", None, 1)})
        return f"{prefix}/?{query}" if query else f"{prefix}/"

    def keeps(self, run_id: Any, stage: Any) -> bool:
        if self.run and self.run not in str(run_id or ""):
            return False
        return not (self.stage and stage is not None and str(stage) != self.stage)


def paginate(rows: Sequence[Any], page: int, size: int = PAGE_SIZE) -> tuple[list[Any], int, int]:
    """``(rows of the page, the page (clamped), number of pages)``."""
    pages = max(1, -(-len(rows) // size))
    page = min(max(1, page), pages)
    return list(rows[(page - 1) * size: page * size]), page, pages


def short_run(run_id: str) -> str:
    """``wikivis_nightly__samplewiki__20261101T000000Z`` → ``samplewiki 2026-11-01 00:00``."""
    parts = str(run_id).split("__")
    tail = parts[1:] if len(parts) > 1 else parts
    stamp = snapshot_time(tail[-1]) if tail else None
    if stamp is not None:
        tail = [*tail[:-1], stamp.strftime("%m-%d %H:%M")]
    return " ".join(tail)[:32]


def short_version(version: str) -> str:
    """Index version ``20261204T030149Z-062374`` → ``12-04 03:01 062374``."""
    stamp, _, suffix = version.partition("-")
    when = snapshot_time(stamp)
    return f"{when:%m-%d %H:%M} {suffix}".strip() if when else version[:24]


# --------------------------------------------------------------------------- chart data
def _runs_in_order(rows: Iterable[Mapping[str, Any]], run_key: str, time_key: str) -> list[str]:
    first: dict[str, str] = {}
    for row in rows:
        run = str(row.get(run_key) or "")
        at = str(row.get(time_key) or "")
        if run and (run not in first or at < first[run]):
            first[run] = at
    return sorted(first, key=lambda r: (first[r], r))


def durations_data(stage_runs: Sequence[Mapping[str, Any]], n: int = CHART_RUNS) -> tuple[list[str], dict[str, list[float]]]:
    """Per parent run (oldest first, newest ``n``): seconds per stage, shards summed."""
    runs = _runs_in_order(stage_runs, "run", "started_at")[-n:]
    index = {r: i for i, r in enumerate(runs)}
    series: dict[str, list[float]] = {}
    for row in sorted(stage_runs, key=lambda r: str(r.get("started_at") or "")):
        i = index.get(str(row.get("run")))
        if i is None or row.get("seconds") is None:
            continue
        series.setdefault(str(row["stage"]), [0.0] * len(runs))[i] += float(row["seconds"])
    return runs, series


def gates_data(gates: Sequence[Mapping[str, Any]], n: int = CHART_RUNS) -> tuple[list[str], dict[str, list[float]]]:
    """Per run (oldest first, newest ``n``): how many checks passed, warned, failed."""
    runs = _runs_in_order(gates, "run_id", "created_at")[-n:]
    index = {r: i for i, r in enumerate(runs)}
    series: dict[str, list[float]] = {k: [0.0] * len(runs) for k in ("pass", "warn", "fail")}
    for gate in gates:
        i = index.get(str(gate.get("run_id")))
        outcome = str(gate.get("outcome"))
        if i is not None and outcome in series:
            series[outcome][i] += 1
    return runs, series


def throughput_data(http: Sequence[Mapping[str, Any]], n: int = CHART_RUNS) -> tuple[list[str], list[float | None]]:
    """Per run: thumbnail bytes of its media stages over their wall span, in Mbit/s (all shards)."""
    per_run: dict[str, dict[str, Any]] = {}
    for row in http:
        if row.get("stage") not in MEDIA_STAGES or row.get("client") not in ("upload", "all"):
            continue
        start, end = parse_time(row.get("started_at")), parse_time(row.get("ended_at"))
        if start is None or end is None:
            continue
        entry = per_run.setdefault(str(row["run"]), {"bytes": 0, "start": start, "end": end, "seconds": 0.0})
        entry["bytes"] += row.get("bytes") or 0
        entry["start"], entry["end"] = min(entry["start"], start), max(entry["end"], end)
        entry["seconds"] = max(entry["seconds"], float(row.get("seconds") or 0))
    runs = sorted(per_run, key=lambda r: per_run[r]["start"])[-n:]
    values: list[float | None] = []
    for run in runs:
        entry = per_run[run]
        span = max((entry["end"] - entry["start"]).total_seconds(), entry["seconds"], 1e-3)
        values.append(round(entry["bytes"] * 8 / 1e6 / span, 3) if entry["bytes"] else None)
    return runs, values


def freshness_rows(freshness: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, datetime | None]]]:
    return [
        (f"{f['dataset']} · {f['wiki']}",
         {"dump": snapshot_time(f.get("dump")), "events": parse_time(f.get("events_until")),
          "latest": snapshot_time(f.get("latest")), "published": snapshot_time(f.get("current"))})
        for f in freshness
    ]


# --------------------------------------------------------------------------- html pieces
def _cell(value: Any) -> str:
    if value is None:
        return '<td class="none">–</td>'
    if isinstance(value, float):
        value = f"{value:,.2f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:,}"
    return f"<td>{html.escape(str(value))}</td>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, raw_columns: Sequence[int] = (),
           row_class: Callable[[Sequence[Any]], str] | None = None, empty: str = "nothing yet",
           table_id: str = "") -> str:
    body = []
    for row in rows:
        cells = "".join(str(v) if i in raw_columns else _cell(v) for i, v in enumerate(row))
        cls = f' class="{html.escape(row_class(row))}"' if row_class else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    if not body:
        return f'<p class="empty">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pager(view: View, prefix: str, table: str, page: int, pages: int, total: int) -> str:
    if total == 0:
        return ""
    links = [f'<span class="pager" data-table="{table}">page {page} of {pages} · {total:,} rows']
    if page > 1:
        links.append(f' · <a rel="prev" href="{html.escape(view.href(prefix, **{f"{table}_page": page - 1}))}">newer</a>')
    if page < pages:
        links.append(f' · <a rel="next" href="{html.escape(view.href(prefix, **{f"{table}_page": page + 1}))}">older</a>')
    links.append("</span>")
    return "".join(links)


def _reason(value: Any) -> str:
    return f'<td class="reason">{html.escape(str(value or ""))}</td>'


def _filter_form(view: View, prefix: str, stages: Sequence[str]) -> str:
    options = ['<option value="">all stages</option>'] + [
        f'<option value="{html.escape(s)}"{" selected" if s == view.stage else ""}>{html.escape(s)}</option>'
        for s in stages
    ]
    reset = f' <a href="{html.escape(prefix)}/">clear</a>' if view.run or view.stage else ""
    return (f'<form class="filter" method="get" action="{html.escape(prefix)}/">'
            f'<label>run <input name="run" value="{html.escape(view.run)}" placeholder="part of a run id" size="34"></label> '
            f'<label>stage <select name="stage">{"".join(options)}</select></label> '
            f'<button type="submit">filter</button>{reset}</form>')


_CSS = """
:root{color-scheme:light}
body{font-family:system-ui,sans-serif;margin:1.2rem 1.5rem;color:#1d2327;background:#fff}
h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.4rem 0 .4rem}
nav.toc a{margin-right:.8rem;font-size:.85rem}
table{border-collapse:collapse;font-size:.8rem;margin:.2rem 0}th,td{border:1px solid #dcdcde;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#f0f0f1;position:sticky;top:0}.none{color:#999}.empty{color:#777;font-size:.85rem}
tr.fail td{background:#fcf0f1}tr.warn td{background:#fcf9e8}tr.failed td{background:#fcf0f1}
.badge{padding:.1rem .45rem;border-radius:.25rem;color:#fff;font-size:.9rem}.ok{background:#00a32a}.degraded{background:#d63638}
.reason{font-family:ui-monospace,monospace;white-space:pre-wrap;max-width:48rem}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:.6rem 1.2rem}
figure.chart-box{margin:0;border:1px solid #dcdcde;border-radius:.3rem;padding:.4rem .6rem;background:#fff}
figcaption{font-weight:600;font-size:.85rem;margin-bottom:.2rem}
svg.chart{max-width:100%;height:auto;font-size:11px}
svg .grid{stroke:#e8e8ea}svg .axis{stroke:#8c8f94}svg .tick,svg .legend,svg .unit{fill:#50575e;font-size:11px}
.pager{font-size:.8rem;color:#50575e;display:block;margin:.2rem 0 .6rem}
form.filter{margin:.6rem 0;font-size:.85rem;padding:.4rem .6rem;background:#f6f7f7;border-radius:.3rem;display:inline-block}
.muted{color:#646970;font-size:.8rem}
"""


def _charts(status: Mapping[str, Any]) -> str:
    policy = status.get("policy") or {}
    runs, series = durations_data(status.get("stage_runs", []))
    parts = [svg.stacked_bars("chart-durations", f"Stage durations, last {CHART_RUNS} runs",
                              [short_run(r) for r in runs], series, unit="s", hints=runs)]
    runs, series = gates_data(status.get("gates", []))
    counts = [sum(series[k][i] for k in series) for i in range(len(runs))]
    shares = {k: [round(100 * v / counts[i], 1) if counts[i] else 0.0 for i, v in enumerate(vs)]
              for k, vs in series.items()}
    hints = [f"{r}; " + ", ".join(f"{int(series[k][i])} {k}" for k in series) for i, r in enumerate(runs)]
    parts.append(svg.stacked_bars("chart-gates", "Gate checks per run: pass / warn / fail (share of checks)",
                                  [short_run(r) for r in runs], shares, unit="%",
                                  colours=svg.OUTCOME_COLOURS, hints=hints))
    now = parse_time(status.get("generated_at")) or datetime.now(UTC)
    parts.append(svg.timeline("chart-freshness", "Freshness: published data against the dump and EventStreams positions",
                              freshness_rows(status.get("freshness", [])), now))
    runs, mbps = throughput_data(status.get("http", []))
    parts.append(svg.lines("chart-throughput", "Thumbnail fetch throughput against the policy ceiling",
                           [short_run(r) for r in runs], {"all shards": mbps}, unit="Mbit/s",
                           ceiling=policy.get("upload_max_mbps"), ceiling_label="policy ceiling"))
    history = status.get("index_history", [])
    labels = [short_version(str(v.get("version"))) for v in history]
    models = sorted({str(v.get("model")) for v in history})
    recall = {m: [v.get("recall") if v.get("model") == m else None for v in history] for m in models}
    size = {m: [v.get("n") if v.get("model") == m else None for v in history] for m in models}
    threshold = policy.get("recall_threshold")
    low = min([float(x) for s in recall.values() for x in s if x is not None] + [float(threshold or 1)], default=0.0)
    parts.append(svg.lines("chart-index-recall", "Index recall@10 across versions", labels, recall,
                           ceiling=threshold, ceiling_label="recall gate", y_min=max(0.0, round(low - 0.05, 1))))
    parts.append(svg.lines("chart-index-size", "Index size (vectors) across versions", labels, size, unit="vectors"))
    return '<div class="charts">' + "".join(parts) + "</div>"


def render_page(status: Mapping[str, Any], prefix: str = "", view: View | None = None) -> str:
    """The monitoring page as one self-contained HTML document."""
    view = view or View()
    state = health(status)
    pipeline = [str(s) for s in status.get("pipeline", [])]
    seen = ({str(s["stage"]) for s in status.get("stage_runs", [])}
            | {str(g.get("stage")) for g in status.get("gates", []) if g.get("stage")})
    stage_names = [s for s in pipeline if s in seen] + sorted(seen - set(pipeline))
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>wikivis monitor</title>"
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head><body>',
        f'<h1>wikivis monitor <span class="badge {state}" id="health">{state}</span></h1>',
        f'<p class="muted">generated {html.escape(str(status.get("generated_at")))} · '
        f'<a href="{html.escape(prefix)}/api/status">JSON</a></p>',
        '<nav class="toc"><a href="#charts">charts</a><a href="#failing-gates">failing gates</a>'
        '<a href="#stages">stages</a><a href="#gates">gate results</a><a href="#stage-runs">stage runs</a>'
        '<a href="#politeness">politeness</a><a href="#runs">runs</a><a href="#freshness">freshness</a>'
        '<a href="#index">index</a></nav>',
    ]
    if status.get("catalog_error"):
        parts.append(f'<p class="reason">catalog unreadable: {html.escape(str(status["catalog_error"]))}</p>')

    parts.append('<h2 id="charts">Charts</h2>')
    parts.append(_charts(status))

    failing = status.get("failing_gates", [])
    parts.append('<h2 id="failing-gates">Failing gates</h2>')
    parts.append(_table(
        ["run", "stage", "dataset", "gate", "reason"],
        ([g.get("run_id"), g.get("stage"), g.get("dataset"), g.get("gate"), _reason(g.get("message"))]
         for g in failing[:10]),
        raw_columns=(4,), row_class=lambda _: "fail", empty="no failing gate",
    ))
    if len(failing) > 10:
        parts.append(f'<p class="muted">{len(failing) - 10} older failures: see the gate results below.</p>')

    parts.append('<h2 id="stages">Stages</h2>')
    if pipeline:
        parts.append('<p class="muted" id="pipeline">pipeline: ' + " → ".join(html.escape(s) for s in pipeline) + "</p>")
    parts.append(_table(
        ["stage or run kind", "last status", "last started", "last success", "its duration (s)", "mean duration (s)"],
        ([s["stage"], s["last_status"], s["last_started"], s["last_success"], s["last_success_duration_s"],
          s["mean_duration_s"]] for s in status.get("stages", [])),
    ))

    parts.append(_filter_form(view, prefix, stage_names))

    gates = [g for g in status.get("gates", []) if view.keeps(g.get("run_id"), g.get("stage"))]
    rows, page, pages = paginate(gates, view.page("gates"))
    parts.append('<h2 id="gates">Gate results</h2>')
    parts.append(_table(
        ["run", "stage", "dataset", "gate", "outcome", "message", "at"],
        ([g.get("run_id"), g.get("stage"), g.get("dataset"), g.get("gate"), g.get("outcome"),
          _reason(g.get("message")), g.get("created_at")] for g in rows),
        raw_columns=(5,), row_class=lambda row: str(row[4]), table_id="gates-table",
    ))
    parts.append(_pager(view, prefix, "gates", page, pages, len(gates)))

    stage_runs = [s for s in status.get("stage_runs", []) if view.keeps(s.get("run"), s.get("stage"))]
    rows, page, pages = paginate(stage_runs, view.page("stages"))
    parts.append('<h2 id="stage-runs">Stage runs</h2>')
    parts.append(_table(
        ["run", "task", "wiki", "status", "started", "seconds", "message"],
        ([s["run"], s["task"], s["wiki"], s["status"], s["started_at"], s["seconds"], s.get("message")] for s in rows),
        row_class=lambda row: str(row[3]), table_id="stage-runs-table",
    ))
    parts.append(_pager(view, prefix, "stages", page, pages, len(stage_runs)))

    parts.append('<h2 id="politeness">Politeness (HTTP counters)</h2>')
    parts.append('<p class="muted">Per Wikimedia client, over the runs shown: requests, retries, '
                 "429/maxlag throttles, 5xx answers, bytes and seconds waited (Retry-After, backoff).</p>")
    parts.append(_table(
        ["client", "stage runs", *HTTP_COUNTERS],
        ([t["client"], t["stage_runs"], *(t.get(k) for k in HTTP_COUNTERS)] for t in status.get("http_totals", [])),
        empty="no HTTP counters recorded", table_id="politeness-totals",
    ))
    http = [h for h in status.get("http", []) if view.keeps(h.get("run"), h.get("stage"))]
    rows, page, pages = paginate(http, view.page("http"))
    parts.append(_table(
        ["run", "stage", "client", *HTTP_COUNTERS],
        ([h["run"], h["stage"], h["client"], *(h.get(k) for k in HTTP_COUNTERS)] for h in rows),
        empty="no HTTP counters recorded", table_id="politeness-table",
    ))
    parts.append(_pager(view, prefix, "http", page, pages, len(http)))

    runs = [r for r in status.get("runs", []) if view.keeps(r.get("id"), None)]
    rows, page, pages = paginate(runs, view.page("runs"))
    parts.append('<h2 id="runs">Runs and quality reports</h2>')
    parts.append(_table(
        ["run", "stage", "wiki", "status", "started", "duration (s)", "report", "message", "lake branch (unpublished)"],
        ([r["id"], r["kind"], r["wiki"], r["status"], r["started_at"], r["duration_s"],
          (f'<td><a href="{html.escape(prefix)}/reports/{quote(str(r["id"]), safe="")}/report.html">report</a></td>'
           if r["report"] else _cell(None)), r.get("message"),
          "; ".join(f"{d}@{','.join(labels)}" for d, labels in r["branch"].items()) if r.get("branch") else None]
         for r in rows),
        raw_columns=(6,), row_class=lambda row: str(row[3]), table_id="runs-table",
    ))
    parts.append(_pager(view, prefix, "runs", page, pages, len(runs)))

    parts.append('<h2 id="freshness">Snapshot freshness</h2>')
    parts.append(_table(
        ["dataset", "wiki", "published (current)", "newest", "published age (days)", "newest dump", "events up to"],
        ([f["dataset"], f["wiki"], f["current"], f["latest"], f["current_age_days"], f.get("dump"),
          f.get("events_until")] for f in status.get("freshness", [])),
    ))

    parts.append('<h2 id="event-gaps">EventStreams gaps (events that could not be replayed)</h2>')
    parts.append(_table(
        ["wiki", "lost from", "lost until", "reconciled by", "reason"],
        ([g.get("wiki"), g.get("since"), g.get("lost_until"), g.get("reconciled_by") or "not yet (stale)",
          g.get("reason")] for g in status.get("event_gaps", [])),
        row_class=lambda row: "fail" if row[3] == "not yet (stale)" else "warn", empty="no gap",
    ))

    parts.append('<h2 id="captions">Caption coverage</h2>')
    parts.append(_table(
        ["wiki", "snapshot", "article images", "with caption", "with alt text", "bad alt text", "tutorial (enwiki)"],
        ([c.get("wiki"), c.get("snapshot"), c.get("images"),
          f"{c['caption_share']:.1%}" if "caption_share" in c else c.get("error"),
          f"{c['alt_share']:.1%}" if "alt_share" in c else None, c.get("bad_alt"),
          "43% / 10%"] for c in status.get("captions", [])),
        empty="no captions extracted yet",
    ))

    parts.append('<h2 id="index">Index</h2>')
    parts.append(_table(
        ["model", "version", "recall", "details"],
        ([p.get("model"), p.get("version"),
          next((v for k, v in p.items() if "recall" in k and isinstance(v, (int, float))), None),
          json.dumps({k: v for k, v in p.items() if k not in ("model", "version")}, sort_keys=True, default=str)[:300]]
         for p in status.get("index", [])),
    ))
    history = list(reversed(status.get("index_history", [])))[:PAGE_SIZE]
    parts.append(_table(
        ["model", "version", "recall@10", "gate", "vectors", "built"],
        ([v.get("model"), v.get("version"), v.get("recall"), v.get("threshold"), v.get("n"), v.get("built_at")]
         for v in history),
        empty="no index version recorded", table_id="index-history",
    ))
    parts.append("</body></html>")
    return "\n".join(parts)

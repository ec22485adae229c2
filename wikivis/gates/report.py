"""The quality report of one run, as HTML and Markdown.

``<reports_root>/<run_id>/report.html`` is self-contained: plots are inline SVG.
``report.md`` is meant to be printed or read in a repository viewer: its plots are the same SVG
files written beside it (``plots/*.svg``) and linked relatively.

Sections:

* **Gate results** — every check the run recorded (stage, dataset, check, outcome, message).
* **Failure reasons** — warn/fail counts per check, and rows set aside into ``quarantine``
  per (dataset, check), with a plot.
* **Row counts across snapshots** — from the lake's manifests for the run's wiki (and the
  Commons wiki for ``files``/``file_metadata``), with a plot.
* **Drift** — the row-count and distribution-drift checks of the run.
* **Licence mix** — ``licence_short_name`` shares from the newest ``file_metadata``.
* **Caption coverage** — share of article images with a caption and with alt text
  (:func:`wikivis.captions.coverage.coverage`, newest captions at or before the run's
  snapshot), next to the tutorial's 43 % and 10 %.

Everything is read back from the catalog and the lake, so a report can be written (again)
any time after the run.
"""

from __future__ import annotations

import html
import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pyarrow.compute as pc

from wikivis.config import Settings
from wikivis.datasets import DATASETS
from wikivis.errors import NotFoundError
from wikivis.lake import Lake, atomic_write_text
from wikivis.logsafe import mask_url
from wikivis.vocab import check_run_id

_OUTCOME_COLOURS = {"pass": "#2e7d32", "warn": "#ef6c00", "fail": "#c62828"}


# --------------------------------------------------------------------------- gathering
def _run_wiki(run: dict[str, Any] | None, gates: list[dict[str, Any]], settings: Settings) -> str:
    if run and run.get("wiki"):
        return str(run["wiki"])
    for g in gates:
        wiki = (g.get("metrics") or {}).get("wiki")
        if wiki:
            return str(wiki)
    return settings.wikis[0]


def _run_snapshot(gates: list[dict[str, Any]]) -> str | None:
    snaps = [(g.get("metrics") or {}).get("snapshot") for g in gates]
    found = [s for s in snaps if s]
    return max(found) if found else None


def row_counts(lake: Lake, wikis: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
    """``dataset@wiki`` → [(snapshot, rows)] from the manifests."""
    out: dict[str, list[tuple[str, int]]] = {}
    for dataset in DATASETS:
        for wiki in dict.fromkeys(wikis):
            snaps = lake.snapshots(dataset, wiki)
            if snaps:
                out[f"{dataset}@{wiki}"] = [(s, lake.manifest(dataset, wiki, s).rows) for s in snaps]
    return out


def quarantine_counts(lake: Lake, wiki: str, snapshot: str | None) -> Counter[tuple[str, str]]:
    at = snapshot if snapshot and lake.exists("quarantine", wiki, snapshot) else lake.latest("quarantine", wiki)
    if at is None:
        return Counter()
    table = lake.read("quarantine", wiki, at, columns=["dataset", "check"])
    return Counter(zip(table.column("dataset").to_pylist(), table.column("check").to_pylist(), strict=True))


def licence_mix(lake: Lake, wikis: Sequence[str], snapshot: str | None) -> dict[str, int]:
    for wiki in dict.fromkeys(wikis):
        snaps = [s for s in lake.snapshots("file_metadata", wiki) if snapshot is None or s <= snapshot]
        if snaps:
            column = lake.read("file_metadata", wiki, snaps[-1], columns=["licence_short_name"]).column(0)
            counted = pc.value_counts(column)
            values = counted.field("values").to_pylist()
            counts = counted.field("counts").to_pylist()
            mix = {("(none)" if v is None else str(v)): int(c) for v, c in zip(values, counts, strict=True)}
            return dict(sorted(mix.items(), key=lambda kv: -kv[1]))
    return {}


def caption_coverage_rows(settings: Settings, lake: Lake, wiki: str, snapshot: str | None) -> list[list[Any]]:
    """Rows of the caption coverage table (empty without captions in the lake)."""
    from wikivis.captions.coverage import coverage

    snaps = [s for s in lake.snapshots("article_image_captions", wiki) if snapshot is None or s <= snapshot]
    if not snaps:
        return []
    try:
        cov = coverage(settings, wiki, snaps[-1], lake=lake)
    except NotFoundError:
        return []
    ref = cov["reference"]
    return [
        ["article images", cov["images"], "", ""],
        ["with a caption", cov["captioned"], f"{cov['caption_share']:.1%}", f"{ref['caption_share']:.0%}"],
        ["with alt text", cov["with_alt"], f"{cov['alt_share']:.1%}", f"{ref['alt_share']:.0%}"],
        ["with bad alt text", cov["bad_alt"], "", ""],
    ]


# --------------------------------------------------------------------------- plots
def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog so it can be inlined


def plot_row_counts(counts: dict[str, list[tuple[str, int]]]) -> str | None:
    if not counts:
        return None
    snapshots = sorted({s for series in counts.values() for s, _ in series})
    position = {s: i for i, s in enumerate(snapshots)}
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for label, series in sorted(counts.items()):
        ax.plot([position[s] for s, _ in series], [n for _, n in series], marker="o", label=label)
    ax.set_xticks(range(len(snapshots)), snapshots, rotation=30, ha="right")
    ax.set_ylabel("rows")
    ax.set_xlabel("snapshot")
    ax.set_title("Row counts across snapshots")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    return _svg(fig)


def plot_bars(values: dict[str, int], title: str, xlabel: str, colours: list[str] | None = None) -> str | None:
    if not values:
        return None
    labels = list(values)[:20]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(labels) + 1.2))
    ax.barh(labels[::-1], [values[k] for k in labels][::-1], color=(colours[:20][::-1] if colours else "#1565c0"))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


# --------------------------------------------------------------------------- rendering
def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[Any]], outcome_col: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            style = f' style="color:{_OUTCOME_COLOURS[v]};font-weight:bold"' if i == outcome_col and v in _OUTCOME_COLOURS else ""
            cells.append(f"<td{style}>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _drift_rows(gates: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for g in gates:
        m = g.get("metrics") or {}
        if g["gate"] == "row_count_drift" and m.get("previous_rows") is not None:
            rows.append([g["dataset"], "rows", m.get("previous_rows"), m.get("rows"), f"{m.get('change', 0):+.1%}", g["outcome"]])
        elif g["gate"] == "distribution_drift":
            for name, stat in (m.get("statistics") or {}).items():
                rows.append([g["dataset"], name, _short(stat.get("previous")), _short(stat.get("current")),
                             f"{stat.get('distance', 0):.3f}", g["outcome"]])
    return rows


def _detail(gate: dict[str, Any]) -> str:
    """The stored message without its "<dataset>: check '<name>' <verb>: " prefix."""
    message = gate.get("message") or ""
    head = f"{gate['dataset']}: check {gate['gate']!r} "
    if message.startswith(head) and ": " in message[len(head):]:
        return message[len(head):].split(": ", 1)[1]
    return message


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.0%}" for k, v in list(value.items())[:3])
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_report(settings: Settings, catalog: Any, run_id: str) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` for ``run_id``; returns their paths."""
    check_run_id(run_id)  # an empty id would select every run's gates
    run = catalog.get_run(run_id)
    gates = list(reversed(catalog.gate_results(run_id, limit=100_000)))
    if run is None and not gates:
        raise NotFoundError(f"no run {run_id!r} in the catalog {mask_url(settings.resolved_catalog_url)}")
    lake = Lake.from_settings(settings)
    wiki = _run_wiki(run, gates, settings)
    snapshot = _run_snapshot(gates)
    wikis = [wiki, settings.commons_wiki]

    out_dir = settings.reports_root / run_id
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)

    counts = row_counts(lake, wikis)
    outcome_counts = Counter(g["outcome"] for g in gates)
    problem_counts = Counter(f"{g['dataset']}.{g['gate']} ({g['outcome']})" for g in gates if g["outcome"] != "pass")
    quarantined = quarantine_counts(lake, wiki, snapshot)
    quarantined_named = {f"{d}.{c}": n for (d, c), n in quarantined.most_common()}
    licences = licence_mix(lake, wikis, snapshot)
    captions = caption_coverage_rows(settings, lake, wiki, snapshot)

    plots = {
        "row_counts": plot_row_counts(counts),
        "failure_reasons": plot_bars(
            {**dict(problem_counts.most_common()), **{f"quarantine: {k}": v for k, v in quarantined_named.items()}},
            "Failure reasons and rows set aside", "count"),
        "licence_mix": plot_bars(licences, "Licence mix (file_metadata)", "files"),
    }
    for name, svg in plots.items():
        if svg is not None:
            atomic_write_text(plots_dir / f"{name}.svg", svg)

    status = (run or {}).get("status", "unknown")
    title = f"wikivis quality report — run {run_id}"
    facts = [
        ("run", run_id), ("kind", (run or {}).get("kind", "")), ("status", status), ("wiki", wiki),
        ("snapshot", snapshot or ""), ("started", (run or {}).get("started_at", "")), ("ended", (run or {}).get("ended_at", "")),
        ("checks", f"{outcome_counts['pass']} pass, {outcome_counts['warn']} warn, {outcome_counts['fail']} fail"),
    ]
    gate_rows = [[g["stage"], g["dataset"], g["gate"], g["outcome"], _detail(g)] for g in gates]
    problem_rows = [row for row in gate_rows if row[3] != "pass"]
    count_rows = [[label, s, n] for label, series in sorted(counts.items()) for s, n in series]
    quarantine_rows = [[d, c, n] for (d, c), n in quarantined.most_common()]
    drift_rows = _drift_rows(gates)
    licence_rows = [[k, v, f"{v / max(sum(licences.values()), 1):.1%}"] for k, v in licences.items()]

    sections: list[tuple[str, list[tuple[Sequence[str], list[list[Any]], int | None]], str | None, str]] = [
        ("Gate results", [(("stage", "dataset", "check", "outcome", "message"), gate_rows, 3)], None, "no checks recorded"),
        ("Failure reasons", [(("stage", "dataset", "check", "outcome", "message"), problem_rows, 3),
                             (("dataset", "quarantine check", "rows"), quarantine_rows, None)],
         "failure_reasons", "no warnings, failures or quarantined rows"),
        ("Row counts across snapshots", [(("dataset@wiki", "snapshot", "rows"), count_rows, None)], "row_counts", "the lake is empty"),
        ("Drift", [(("dataset", "statistic", "previous", "current", "change", "outcome"), drift_rows, 5)], None,
         "no previous snapshot to compare with"),
        ("Licence mix", [(("licence", "files", "share"), licence_rows, None)], "licence_mix", "no file_metadata in the lake"),
        ("Caption coverage", [(("measure", "images", "share", "tutorial (enwiki)"), captions, None)], None,
         "no article_image_captions in the lake"),
    ]

    md = [f"# {title}", "", _md_table(("", ""), facts), ""]
    body = [f"<h1>{html.escape(title)}</h1>", _html_table(("", ""), facts)]
    for heading, tables, plot, empty in sections:
        md += [f"## {heading}", ""]
        body.append(f"<h2>{html.escape(heading)}</h2>")
        shown = False
        for header, rows, outcome_col in tables:
            if rows:
                shown = True
                md += [_md_table(header, rows), ""]
                body.append(_html_table(header, rows, outcome_col))
        if plot and plots.get(plot):
            md += [f"![{heading}](plots/{plot}.svg)", ""]
            body.append(f'<figure>{plots[plot]}</figure>')
        elif not shown:
            md += [f"_{empty}_", ""]
            body.append(f"<p><em>{html.escape(empty)}</em></p>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
        "text-align:left;vertical-align:top;font-size:.9em}th{background:#f3f3f3}figure svg{max-width:100%;height:auto}"
        "</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )
    html_path, md_path = out_dir / "report.html", out_dir / "report.md"
    atomic_write_text(html_path, page)
    atomic_write_text(md_path, "\n".join(md).rstrip() + "\n")
    return html_path, md_path

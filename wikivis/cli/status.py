"""``wikivis status``: what is published, the last runs and their gate results."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wikivis.cli._common import STATE, echo_result, settings_from_ctx

if TYPE_CHECKING:
    from wikivis.stages.graph import Graph

app = typer.Typer()


def collect_status(settings: Any, runs: int = 10, graph: Graph | None = None) -> dict[str, Any]:
    """Everything `wikivis status` shows, as plain data: the run statuses and health of
    :mod:`wikivis.runs` (the monitoring page reads the same), what is published, and the
    stages of the latest run in the order of ``graph`` (default the nightly graph)."""
    from wikivis.catalog import Catalog
    from wikivis.lake import Lake

    lake = Lake.from_settings(settings)
    published = []
    for dataset in lake.datasets():
        for wiki in lake.wikis(dataset):
            published.append(
                {
                    "dataset": dataset,
                    "wiki": wiki,
                    "current": lake.current(dataset, wiki),
                    "latest": lake.latest(dataset, wiki),
                    "snapshots": len(lake.snapshots(dataset, wiki)),
                }
            )
    indexes = []
    if settings.index_root.is_dir():
        for pointer in sorted(settings.index_root.glob("*/current.json")):
            try:
                indexes.append({"model": pointer.parent.name, **json.loads(pointer.read_text())})
            except (OSError, ValueError):
                indexes.append({"model": pointer.parent.name, "error": "unreadable current.json"})
    from wikivis.runs import health, newest_intervals
    from wikivis.stages.graph import NIGHTLY
    from wikivis.stages.run import STAGE_KIND_PREFIX, is_stage_kind, stage_of_kind

    pipeline = (graph or NIGHTLY).stage_names()
    rank = {name: n for n, name in enumerate(pipeline)}

    catalog = Catalog(settings.resolved_catalog_url)
    all_recent = catalog.runs(limit=max(500, runs * 20))
    intervals = newest_intervals(all_recent)
    recent = [r for r in all_recent if not is_stage_kind(r["kind"])][:runs]
    gates = catalog.gate_results(recent[0]["id"], limit=1000) if recent else []
    if recent:
        stages = [r for r in catalog.runs(limit=200, kind=None) if (r.get("params") or {}).get("parent") == recent[0]["id"]]
        ordered = sorted(reversed(stages), key=lambda r: rank.get(stage_of_kind(r["kind"]), len(rank)))
        recent[0]["stages"] = [{"stage": r["kind"].removeprefix(STAGE_KIND_PREFIX), "status": r["status"],
                                "duration_s": r["duration_s"]} for r in ordered]
    catalog.dispose()
    return {"home": str(settings.home), "health": health(all_recent), "intervals": intervals, "pipeline": pipeline,
            "published": published, "indexes": indexes, "runs": recent, "gates": gates}


@app.command("status")
def status(runs: Annotated[int, typer.Option(help="how many recent runs to show")] = 10) -> None:
    """Show the health (newest interval per run kind and wiki), what is published, the last
    runs, and the gate results of the latest run."""
    data = collect_status(settings_from_ctx(), runs)
    if STATE.as_json:
        echo_result(data)
        return
    lines = [f"home: {data['home']}", f"health: {data['health']} (newest interval of each run kind and wiki)"]
    for i in data["intervals"]:
        lines.append(f"  {i['status']:<8} {i['kind']:<16} {i['wiki'] or '-':<12} {i['interval']}  {i['run_id']}"
                     + (f"  — {i['message']}" if i.get("message") and i["status"] == "failed" else ""))
    lines += ["", "published datasets:"]
    if not data["published"]:
        lines.append("  (nothing yet — run `wikivis demo` or `wikivis run`)")
    for p in data["published"]:
        lines.append(f"  {p['dataset']:<20} {p['wiki']:<14} current={p['current'] or '-':<18} "
                     f"latest={p['latest'] or '-':<18} snapshots={p['snapshots']}")
    lines.append("indexes:")
    for ix in data["indexes"] or [{"model": "(none)"}]:
        extra = f" version={ix.get('version')} kind={ix.get('kind')} n={ix.get('n')} recall@10={ix.get('recall_at_k')}" if "version" in ix else ""
        lines.append(f"  {ix['model']}{extra}")
    lines.append("recent runs:")
    for r in data["runs"]:
        lines.append(f"  {r['started_at']}  {r['status']:<8} {r['kind']:<16} {r['wiki'] or '-':<12} {r['id']}"
                     + (f"  — {r['message']}" if r.get("message") else ""))
    if data["runs"] and data["runs"][0].get("stages"):
        lines.append("stages of the latest run:")
        for st in data["runs"][0]["stages"]:
            lines.append(f"  {st['status']:<8} {st['stage']:<18} {st['duration_s'] or 0:8.1f} s")
    if data["gates"]:
        lines.append(f"gates of {data['runs'][0]['id']}:")
        for g in data["gates"]:
            lines.append(f"  {g['outcome']:<5} {g['stage']:<12} {g['dataset']:<18} {g['gate']}"
                         + (f"  — {g['message']}" if g.get("message") and g["outcome"] != "pass" else ""))
    echo_result(data, human="\n".join(lines))

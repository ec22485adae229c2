"""``wikivis run`` (every stage, no Airflow) and ``wikivis demo`` (the README's main job)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wikivis.cli._common import STATE, echo_result, settings_from_ctx

app = typer.Typer()


@app.command("run")
def run(
    wiki: Annotated[list[str] | None, typer.Option(help="wiki(s) to process (default: configured)")] = None,
    date: Annotated[str, typer.Option(help="dump date YYYYMMDD or 'latest'")] = "latest",
    until: Annotated[str | None, typer.Option(help="EventStreams window end (ISO); default: dump date + 1 day")] = None,
    events: Annotated[bool, typer.Option(help="apply EventStreams changes after the dump")] = True,
) -> None:
    """Run every stage in order (ingest → gates → events → Commons → embed → index → publish)."""
    from wikivis.stages.graph import run_all

    summary = run_all(settings_from_ctx(), wikis=wiki or None, date=date, until=until, events=events)
    echo_result(summary)


@app.command("demo")
def demo(
    home: Annotated[Path, typer.Option(help="data root of the demo")] = Path("var/demo"),
    airflow: Annotated[bool, typer.Option(help="run through Airflow's dag.test() (else the plain pipeline)")] = True,
    max_images: Annotated[int, typer.Option(help="cap thumbnails per run (0 = all)")] = 0,
) -> None:
    """The whole pipeline end to end on the bundled sample wiki, offline."""
    from wikivis.demo import run_demo

    if "home" in STATE.overrides:
        home = Path(STATE.overrides["home"])
    summary = run_demo(home, airflow=airflow, max_images=max_images)
    lines = [
        f"run {summary['run_id']}: {summary['run_status']}",
        f"published index: {summary['index']}",
        f"gates: {summary['gates']}",
        *[f"  warn: {w}" for w in summary["gate_warnings"]],
        "offline evaluation (held-out article-image links):",
        *[f"  {model:<11} " + "  ".join(f"{m}={v:.3f}" for m, v in sorted(vals.items()) if m in ("auc", "recall_at_10", "ndcg_at_10"))
          for model, vals in summary["eval"].items()],
        "recommendations:",
    ]
    for rec in summary["recommendations"]:
        lines.append(f"  {rec['article']} [{rec['model']}]")
        lines.extend(f"    - {s}" for s in rec["suggestions"] or ["(none)"])
    lines.append(f"gallery: {summary['gallery']}")
    cov = summary.get("caption_coverage") or {}
    if cov:
        ref = cov["reference"]
        lines.append(f"caption coverage ({cov['images']} article images): caption {cov['caption_share']:.1%} "
                     f"(tutorial {ref['caption_share']:.0%}), alt text {cov['alt_share']:.1%} "
                     f"(tutorial {ref['alt_share']:.0%}), bad alt {cov['bad_alt']}")
    captions = summary.get("captions") or {}
    if "metrics" in captions:
        lines.append(f"caption matching ({captions['held_out_images']} held-out images, "
                     f"{captions['candidates']} candidate captions each):")
        lines += [f"  {model:<15} " + "  ".join(f"{m}={v:.3f}" for m, v in vals.items())
                  for model, vals in captions["metrics"].items()]
    elif captions:
        lines.append(f"caption matching: {captions['note']}")
    echo_result(summary, human="\n".join(lines))

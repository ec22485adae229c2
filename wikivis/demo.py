"""The demo (``make demo`` / ``wikivis demo``): the whole pipeline, offline, on the sample wiki.

1. generate the deterministic sample wiki and serve it from the local mirror on 127.0.0.1
   (dumps, Action API, upload server, EventStreams — the real protocols);
2. run ``wikivis_nightly`` end to end with ``dag.test()`` on a private SQLite Airflow home
   (``--no-airflow`` runs the same stages through :func:`wikivis.stages.graph.run_all`);
3. print the published index version, the gate summary and a few recommendations, and
   write an HTML gallery of suggested images per article.

The demo's data root defaults to ``var/demo`` and is reused: a second run finds every
thumbnail and vector already there and does (almost) no work — that is the point of the
content-addressed store and the incremental embedding stage.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wikivis.config import Settings, settings_toml
from wikivis.errors import WikivisError
from wikivis.stages import publish
from wikivis.stages.annotate import captions as captions_stage
from wikivis.stages.graph import run_all
from wikivis.stages.run import RunContext, run_id_for
from wikivis.vocab import atomic_write_text


def write_config(settings: Settings) -> Path:
    """The demo's settings as a TOML file under its home (what its Airflow tasks read)."""
    path = settings.home / "wikivis.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, settings_toml(settings))
    return path


def run_nightly_dag(settings: Settings, date: str) -> str:
    """Run ``wikivis_nightly`` with ``dag.test()`` for the data interval of ``date``; its tasks
    read the demo's settings from the file Airflow's configuration names (like a deployment)."""
    from wikivis import airflow_home

    airflow_home.configure(settings.home / "airflow", unit_test_mode=False, log_level="ERROR",
                           wikivis_config=write_config(settings))
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    airflow_home.migrate()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(airflow_home.DAGS_FOLDER))
    if bag.import_errors:
        raise WikivisError(f"DAG import errors: {bag.import_errors}")
    start = datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC)
    run = airflow_home.run_dag_test(bag.dags["wikivis_nightly"], logical_date=start + timedelta(days=1))
    state = str(run.state)
    if not state.endswith("success"):
        failed = [ti.task_id for ti in run.get_task_instances() if str(ti.state).endswith("failed")]
        raise WikivisError(f"wikivis_nightly ended {state}; failed tasks: {failed}")
    return state


def gallery(settings: Any, suggestions: list[dict[str, Any]], path: Path) -> Path:
    """An HTML page: per article, its current images and the suggested ones with provenance."""
    from wikivis.lake import Lake

    lake = Lake.from_settings(settings)
    media = {r["sha1"]: r["path"] for r in lake.read("media", settings.wikis[0]).to_pylist() if r["status"] == "ok"}
    files = {r["file_name"]: r["sha1"] for r in lake.read("file_metadata", settings.wikis[0]).to_pylist()}

    def img(file_name: str, sha1: str | None, caption: str) -> str:
        stored = media.get(sha1 or files.get(file_name, ""))
        if not stored:
            return (f'<figure class="missing"><figcaption>{html.escape(caption)} — not fetched (non-free, '
                    f"filtered or missing)</figcaption></figure>")
        src = os.path.relpath(settings.media_root / stored if not Path(stored).is_absolute() else Path(stored), path.parent)
        return (f'<figure><img src="{html.escape(src)}" loading="lazy" alt="{html.escape(file_name)}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    blocks = []
    for item in suggestions:
        current = "".join(img(f, None, f) for f in item.get("current", [])) or "<p><em>unillustrated</em></p>"
        suggested = "".join(
            img(s["file_name"], s["sha1"], f"#{s['rank']} {s['file_name']} · {s['source']} · {s['score']:.3f}"
                + (f" · via {', '.join(s['seed_articles'][:2])}" if s.get("seed_articles") else ""))
            for s in item["suggestions"]
        ) or f"<p><em>{html.escape(item.get('note') or 'no suggestion')}</em></p>"
        blocks.append(
            f"<section><h2>{html.escape(item['article'])}</h2><h3>current</h3><div class=row>{current}</div>"
            f"<h3>suggested ({html.escape(item['model'])})</h3><div class=row>{suggested}</div></section>"
        )
    page = (
        "<!doctype html><meta charset=utf-8><title>wikivis — suggested images</title>"
        "<style>body{font:14px system-ui;margin:2em}figure{display:inline-block;width:170px;margin:4px;"
        "vertical-align:top}img{width:160px;height:160px;object-fit:cover;border:1px solid #ccc}"
        "figcaption{font-size:11px;word-break:break-all}.missing{height:160px;background:#eee}"
        "section{border-bottom:1px solid #ddd;padding-bottom:1em}</style>"
        "<h1>wikivis — images for articles</h1>" + "".join(blocks)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def recommendations(settings: Any, n_articles: int = 6, k: int = 6) -> list[dict[str, Any]]:
    """Suggestions for a few illustrated and unillustrated articles of the first wiki."""
    from wikivis.lake import Lake
    from wikivis.recommend.loading import load_service

    wiki = settings.wikis[0]
    service = load_service(settings, wiki=wiki)
    lake = Lake.from_settings(settings)
    images = lake.read("article_images", wiki).to_pylist()
    pages = [p for p in lake.read("pages", wiki).to_pylist() if not p["is_redirect"]]
    used: dict[int, list[str]] = {}
    for row in images:
        used.setdefault(row["page_id"], []).append(row["file_name"])
    illustrated = [p for p in pages if len(used.get(p["page_id"], [])) >= 2][: n_articles // 2]
    unillustrated = [p for p in pages if p["page_id"] not in used][: n_articles - len(illustrated)]
    out = []
    for page in illustrated + unillustrated:
        result = service.suggest(page["page_title"], k=k).to_dict()
        result["current"] = used.get(page["page_id"], [])
        out.append(result)
    return out


def caption_matching(settings: Any) -> dict[str, Any]:
    """The caption-matching table (``wikivis eval captions``) on the published captions, or why not."""
    from wikivis.errors import InputError, NotFoundError
    from wikivis.evaluation.captions import captions_from_lake, evaluate_captions

    try:
        result = evaluate_captions(captions_from_lake(settings), device=settings.device)
    except (NotFoundError, InputError) as exc:
        return {"note": str(exc)}
    return {"metrics": result.metrics, "held_out_images": result.n_test_images, "candidates": result.n_candidates}


def run_demo(home: Path, *, airflow: bool = True, max_images: int = 0) -> dict[str, Any]:
    """Run the demo; returns the summary it prints."""
    from wikivis.catalog import Catalog
    from wikivis.mirror import Mirror
    from wikivis.sample import generate

    sample = generate()
    with Mirror(sample, day=sample.n_days) as mirror:
        settings = mirror.settings(home=home.resolve(), max_images=max_images)
        started = datetime.now(UTC).replace(microsecond=0).isoformat()
        date = sample.dates[0]
        if airflow:
            run_nightly_dag(settings, date)
        else:
            until = (datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=1)).isoformat()
            interval = datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC).isoformat()
            run_all(settings, date=date, until=until,
                    run_id=run_id_for("wikivis_nightly", interval, settings.wikis[0]))
        catalog = Catalog(settings.resolved_catalog_url)
        # the runs this demo made: one per wiki (ingest … publish), one for the shared index stages
        interval = datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC).isoformat()
        run_ids = [run_id_for("wikivis_nightly", interval, w) for w in (settings.wikis[0], None)]
        run = catalog.get_run(run_ids[0])
        if run is None:
            raise WikivisError(f"the demo run {run_ids[0]} is not in the catalog")
        gates = [g for rid in run_ids for g in catalog.gate_results(rid, limit=1000) if g["created_at"] >= started]
        from wikivis.index import index_info

        index = index_info(settings)
        if not any(r["kind"] == "stage:evaluate" and r["params"].get("parent") == run["id"]
                   for r in catalog.runs(limit=200)):
            ctx = RunContext.open(settings, run["id"])
            publish.train_recommender(ctx, settings.wikis[0])
            publish.evaluate(ctx, settings.wikis[0])
        scores = next(r["metrics"]["eval"] for r in catalog.runs(limit=200)
                      if r["kind"] == "stage:evaluate" and r["params"].get("parent") == run["id"])
        recs = recommendations(settings)
        page = gallery(settings, recs, settings.home / "gallery.html")
        caption_coverage = demo_captions(settings, run["id"])
        captions = caption_matching(settings)
    outcomes: dict[str, int] = {}
    for g in gates:
        outcomes[g["outcome"]] = outcomes.get(g["outcome"], 0) + 1
    return {
        "run_id": run["id"],
        "run_status": run["status"],
        "index": {k: (index.get("current") or {}).get(k) for k in ("version", "model_id", "kind", "n", "recall_at_k")},
        "gates": outcomes,
        "eval": scores,
        "gate_warnings": [f"{g['stage']}/{g['dataset']}/{g['gate']}: {g['message']}" for g in gates if g["outcome"] == "warn"],
        "recommendations": [
            {"article": r["article"], "model": r["model"],
             "suggestions": [f"{s['file_name']} ({s['source']}, {s['score']:.3f})" for s in r["suggestions"][:3]]}
            for r in recs
        ],
        "gallery": str(page),
        "captions": captions,
        "caption_coverage": caption_coverage,
    }


def demo_captions(settings: Any, run_id: str) -> dict[str, Any]:
    """Caption coverage of the published snapshot (the nightly's captions stage wrote it; an
    older lake without it gets the stage run and published here)."""
    from wikivis.captions.coverage import coverage
    from wikivis.lake import Lake

    lake = Lake.from_settings(settings)
    wiki = settings.wikis[0]
    snapshot = lake.current("article_images", wiki)
    if snapshot is None:
        return {}
    if not lake.exists("article_image_captions", wiki, snapshot):
        captions_stage(RunContext.open(settings, run_id), wiki, snapshot)
        # the captions were audited by their gate inside the stage: publish them with the run
        lake.publish_run(wiki, {d: snapshot for d in ("article_image_captions", "file_captions")
                                if lake.exists(d, wiki, snapshot)}, run_id=run_id)
    cov = coverage(settings, wiki, snapshot, lake=lake)
    return {k: cov[k] for k in ("snapshot", "images", "captioned", "with_alt", "bad_alt", "caption_share", "alt_share",
                                "reference")}

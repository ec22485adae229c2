"""Vector stages: embed the fetched thumbnails, gate the embeddings, build and gate the index.

``embed`` runs per wiki (on the GPU queue under Airflow); the other three span every wiki
of the run (the index holds them all).  The model is the run context's ``model_id``.
"""

from __future__ import annotations

from typing import Any

from wikivis.errors import GateFailed
from wikivis.stages.run import RunContext, stage, summary


def embed(ctx: RunContext, wiki: str, snapshot: str) -> dict[str, Any]:
    """Embed every fetched thumbnail of the snapshot that has no vector yet (GPU queue)."""
    from wikivis.embed import embed_images, media_items

    with stage(ctx, "embed", wiki, snapshot=snapshot) as metrics:
        items = media_items(ctx.settings, wiki, snapshot)
        result = embed_images(ctx.settings, items, model_id=ctx.model_id)
        metrics.update(summary(result.as_dict()))
        return {"wiki": wiki, "snapshot": snapshot, "model_id": result.model_id, "embedded": result.embedded}


def gate_embeddings(ctx: RunContext) -> dict[str, Any]:
    from wikivis.embed import load_embeddings
    from wikivis.gates.stages import gate_embeddings as run

    model_id = ctx.model_id
    with stage(ctx, "gate_embeddings", None, model_id=model_id) as metrics:
        ids, vectors = load_embeddings(ctx.settings, model_id)
        if len(ids) == 0:
            raise GateFailed(f"no embeddings stored for model {model_id}", gate="embeddings.present",
                             dataset=f"embeddings/{model_id}")
        report = run(ctx.settings, vectors, ids=ids, model_id=model_id, catalog=ctx.catalog, run_id=ctx.run_id)
        metrics.update(outcome=report.outcome, vectors=len(ids))
        return {"model_id": model_id, "vectors": len(ids), "outcome": report.outcome}


def build_index(ctx: RunContext) -> dict[str, Any]:
    """Build a new index version; it is swapped in only if its recall gate passes."""
    from wikivis.index import add_to_index, index_info
    from wikivis.index import build_index as build

    model_id = ctx.model_id
    with stage(ctx, "build_index", None) as metrics:
        # nightly: add the new vectors to the live index (it rebuilds itself when due)
        incremental = bool(index_info(ctx.settings, model_id).get("current"))
        metrics["incremental"] = incremental
        try:
            result = add_to_index(ctx.settings, model_id) if incremental else build(ctx.settings, model_id)
        except GateFailed as exc:
            ctx.catalog.record_gate(ctx.run_id, "index", f"index/{model_id}", "index.recall", "fail", {}, str(exc))
            raise
        info = result.to_dict()  # wikivis.index's result protocol
        metrics.update(summary(info))
        recall = info.get("recall_at_10", info.get("recall"))
        ctx.catalog.record_gate(ctx.run_id, "index", f"index/{info.get('model_id')}", "index.recall", "pass",
                                {"recall_at_10": recall}, None)
        return {"version": info.get("version"), "model_id": info.get("model_id"), "recall_at_10": recall}


def gate_index(ctx: RunContext, version: str) -> dict[str, Any]:
    """Re-check the swapped-in index on a fresh query sample (recall + size vs embeddings)."""
    from wikivis.embed import load_embeddings
    from wikivis.gates.stages import gate_index as run
    from wikivis.index import load_index

    model_id = ctx.model_id
    with stage(ctx, "gate_index", None, version=version) as metrics:
        index = load_index(ctx.settings, model_id)
        ids, vectors = load_embeddings(ctx.settings, model_id)
        report = run(ctx.settings, index.search, vectors, ids=ids, index_size=index.size, model_id=model_id,
                     catalog=ctx.catalog, run_id=ctx.run_id)
        metrics["outcome"] = report.outcome
    # the index stages are the last ones of an interval-level run (the per-wiki runs end at publish)
    if (ctx.catalog.get_run(ctx.run_id) or {}).get("status") == "running":
        ctx.catalog.finish_run(ctx.run_id, "success", None, {"index_version": version})
    return {"version": version, "outcome": report.outcome}

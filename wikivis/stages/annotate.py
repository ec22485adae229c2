"""Annotation stages: captions/alt text and Wikidata signals of a wiki's snapshot.

Both read ``article_images`` (so they run after ``ingest``/``events_catchup``), run their
gate inside the stage, and write datasets that ``publish`` moves with the rest of the run.
"""

from __future__ import annotations

from typing import Any

from wikivis.stages.run import RunContext, stage


def captions(ctx: RunContext, wiki: str, snapshot: str, *, source: str = "auto",
             page_ids: list[int] | None = None) -> dict[str, Any]:
    """Captions and alt text (``article_image_captions``) and file captions (``file_captions``)
    at ``snapshot``, then the caption gate; see :mod:`wikivis.captions.stage`."""
    from wikivis.captions.stage import run_captions

    with stage(ctx, "captions", wiki, snapshot=snapshot, source=source) as metrics:
        result = run_captions(ctx.settings, wiki, snapshot, lake=ctx.lake, catalog=ctx.catalog, run_id=ctx.run_id,
                              source=source, page_ids=page_ids)
        metrics.update({k: result[k] for k in ("source", "rows") if k in result})
        if "coverage" in result:
            cov = result["coverage"]
            metrics["coverage"] = {k: cov[k] for k in ("images", "caption_share", "alt_share", "bad_alt")}
        return {"wiki": wiki, "snapshot": snapshot, "rows": result["rows"], "source": result["source"]}


def wikidata(ctx: RunContext, wiki: str, snapshot: str) -> dict[str, Any]:
    """Wikidata signals of ``wiki`` at ``snapshot``: ``item_images`` (P18, P373) and
    ``crosswiki_leads`` for the items of ``article_items``, then their gate.  A snapshot
    without ``article_items`` (a wiki not connected to Wikidata) is skipped."""
    from wikivis.gates.stages import gate_wikidata
    from wikivis.wikidata_ingest import ingest_wikidata

    with stage(ctx, "wikidata", wiki, snapshot=snapshot) as metrics:
        if not ctx.lake.exists("article_items", wiki, snapshot):
            metrics["skipped"] = "no article_items at this snapshot"
            return {"wiki": wiki, "snapshot": snapshot, "skipped": True}
        result = ingest_wikidata(ctx.settings, wiki, snapshot, lake=ctx.lake, run_id=ctx.run_id)
        metrics.update(rows=result.rows, counters=result.counters)
        report = gate_wikidata(ctx.settings, ctx.lake, wiki, snapshot, catalog=ctx.catalog, run_id=ctx.run_id)
        metrics["outcome"] = report.outcome
        return {"wiki": wiki, "snapshot": snapshot, "rows": result.rows, "outcome": report.outcome}

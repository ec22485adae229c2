"""Publish and report stages, and the recommender stages that read what was published.

:func:`publish` is the only stage that moves ``current`` pointers: every dataset the run
wrote for the wiki at its snapshot, in one publication.  A gate that failed earlier stops the
run before it.  :func:`write_report` writes the run's quality report (gates, stages).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from wikivis.errors import NotFoundError
from wikivis.stages.run import RunContext, stage

if TYPE_CHECKING:
    from wikivis.lake import Lake


def _newest_at_or_before(lake: Lake, dataset: str, wiki: str, snapshot: str) -> str | None:
    older = [s for s in lake.snapshots(dataset, wiki) if s <= snapshot]
    return older[-1] if older else None


def publish(ctx: RunContext, wiki: str, snapshot: str, *, index_version: str | None = None) -> dict[str, Any]:
    """Move every ``current`` pointer of the run at once (all gates have passed)."""
    from wikivis.datasets import DATASETS

    settings, lake = ctx.settings, ctx.lake
    with stage(ctx, "publish", wiki, snapshot=snapshot, index_version=index_version) as metrics:
        # every dataset of the wiki the run wrote at this snapshot: one publication, all or none
        labels = {d: snapshot for d in DATASETS if d != "files" and lake.exists(d, wiki, snapshot)}
        if "article_images" not in labels:
            raise NotFoundError(f"nothing to publish for {wiki} at {snapshot}")
        publication = lake.publish_run(wiki, labels, run_id=ctx.run_id)
        published = dict(labels)
        files_snap = _newest_at_or_before(lake, "files", settings.commons_wiki, snapshot)
        if files_snap:
            lake.publish_run(settings.commons_wiki, {"files": files_snap}, run_id=ctx.run_id)
            published["files"] = files_snap
        for dataset, label in published.items():
            ctx.catalog.mark_published(dataset, settings.commons_wiki if dataset == "files" else wiki, label)
        for dataset in labels:
            lake.apply_retention(dataset, wiki, settings.retention_snapshots)
        metrics["publication"] = publication.id
        metrics["published"] = published
    ctx.catalog.finish_run(ctx.run_id, "success", None, {"published": published, "index_version": index_version})
    return {"wiki": wiki, "snapshot": snapshot, "published": published, "index_version": index_version}


def write_report(ctx: RunContext) -> dict[str, Any]:
    """The run's quality report (HTML and Markdown) under ``reports_root``."""
    from wikivis.gates.report import write_report as write

    html, md = write(ctx.settings, ctx.catalog, ctx.run_id)
    return {"run_id": ctx.run_id, "html": str(html), "markdown": str(md)}


def train_recommender(ctx: RunContext, wiki: str) -> dict[str, Any]:
    """Train CuratorNet on the published article → image links (GPU when present)."""
    from wikivis.recommend.training import train_and_save

    with stage(ctx, "train", wiki) as metrics:
        path = train_and_save(ctx.settings, wiki=wiki, model_id=ctx.model_id)
        metrics["checkpoint"] = str(path)
        return {"wiki": wiki, "checkpoint": str(path)}


def evaluate(ctx: RunContext, wiki: str) -> dict[str, Any]:
    """Offline evaluation of every recommender on held-out links of the published data."""
    from wikivis.evaluation.run import evaluate as run

    with stage(ctx, "evaluate", wiki) as metrics:
        scores = run(ctx.settings, wiki=wiki, model_id=ctx.model_id)
        metrics["eval"] = scores
        return {"wiki": wiki, "metrics": scores}


def train_candidate(ctx: RunContext, wiki: str) -> dict[str, Any]:
    """Weekly: a versioned CuratorNet candidate and its held-out metrics (serving untouched)."""
    from wikivis.recommend.release import train_candidate as train

    with stage(ctx, "train_candidate", wiki) as metrics:
        result = train(ctx.settings, wiki=wiki, model_id=ctx.model_id)
        metrics.update(version=result["version"], eval=result["metrics"])
        return result


def promote_candidate(ctx: RunContext, wiki: str, version: str) -> dict[str, Any]:
    """Weekly: the evaluation gate; serving picks the candidate up only if it passes."""
    from wikivis.recommend.release import promote

    with stage(ctx, "promote", wiki) as metrics:
        verdict = asdict(promote(ctx.settings, version, wiki=wiki, model_id=ctx.model_id))
        metrics["gate"] = verdict
        return verdict

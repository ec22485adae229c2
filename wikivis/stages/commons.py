"""The Commons stage: file metadata and thumbnails, in shards, then merged and gated.

The steps live in :mod:`wikivis.media.stage`; each function here records one of them as a
stage run.  Under Airflow they are separate tasks — :func:`plan_commons` → mapped
:func:`fetch_metadata_shard` (pool ``commons_api``) → mapped :func:`fetch_media_shard` (pool
``commons_upload``) → :func:`merge_commons` → :func:`gate_media`; :func:`commons` runs the
same steps in one process (CLI, ``run_all``).  Either way unchanged metadata is reused by
sha1 and the lake ends up with the same datasets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wikivis.stages.run import Item, RunContext, shard_stage, stage, summary

if TYPE_CHECKING:
    from wikivis.media.fetch import FetchSummary


def _upload_counters(result: FetchSummary) -> dict[str, Any]:
    return {"upload": {"requests": result.requests, "retries": result.retries, "throttled": result.throttled,
                       "bytes": result.bytes, "waited_s": result.waited_s}}


def plan_commons(ctx: RunContext, wiki: str, snapshot: str, *, max_images: int = 0) -> list[Item]:
    """The shards of the snapshot's files, one item each (what the mapped tasks receive)."""
    from wikivis.media.stage import plan_shards

    with stage(ctx, "plan_media", wiki, snapshot=snapshot) as metrics:
        files, n_shards = plan_shards(ctx.settings, ctx.lake, wiki, snapshot, max_images=max_images)
        metrics.update(files=files, shards=n_shards)
        return [{"wiki": wiki, "snapshot": snapshot, "shard": i, "n_shards": n_shards, "max_images": max_images,
                 "run_id": ctx.run_id} for i in range(n_shards)]


def fetch_metadata_shard(ctx: RunContext, wiki: str, snapshot: str, shard: int, n_shards: int, *,
                         max_images: int = 0, reuse_metadata: bool = True) -> Item:
    """Commons imageinfo for one shard (≤3 concurrent API requests: pool ``commons_api``)."""
    from wikivis.media.stage import metadata_shard
    from wikivis.sources.commons import ActionApiClient

    with stage(ctx, shard_stage("metadata", shard), wiki, snapshot=snapshot) as metrics:
        client = ActionApiClient.from_settings(ctx.settings)
        meta = metadata_shard(ctx.settings, ctx.lake, wiki, snapshot, shard, n_shards, max_images=max_images,
                              client=client, run_id=ctx.run_id, reuse_metadata=reuse_metadata)
        metrics.update(rows=meta.table.num_rows, requested=meta.requested, reused=meta.reused,
                       problems=dict(meta.problems),
                       failures=meta.failures.num_rows if meta.failures is not None else 0,
                       http={"action_api": client.counters.as_dict()})
        return {"wiki": wiki, "snapshot": snapshot, "shard": shard, "n_shards": n_shards}


def fetch_media_shard(ctx: RunContext, wiki: str, snapshot: str, shard: int, n_shards: int) -> Item:
    """Thumbnails for one shard (≤2 connections, ≤25 Mbps: pool ``commons_upload``)."""
    from wikivis.media.stage import media_shard

    with stage(ctx, shard_stage("media", shard), wiki, snapshot=snapshot) as metrics:
        result = media_shard(ctx.settings, wiki, snapshot, shard, n_shards)
        metrics.update(summary(result.as_dict()))
        metrics["http"] = _upload_counters(result)
        return {"wiki": wiki, "snapshot": snapshot, "shard": shard, "fetched": result.fetched}


def merge_commons(ctx: RunContext, wiki: str, snapshot: str) -> Item:
    """The shards' parts → the ``file_metadata``, ``metadata_failures`` and ``media`` snapshots."""
    from wikivis.media.stage import merge_parts

    with stage(ctx, "merge_commons", wiki, snapshot=snapshot) as metrics:
        written = merge_parts(ctx.settings, ctx.lake, wiki, snapshot, catalog=ctx.catalog, run_id=ctx.run_id)
        metrics["rows"] = {dataset: manifest.rows for dataset, manifest in written.items()}
        return {"wiki": wiki, "snapshot": snapshot, "rows": metrics["rows"]}


def commons(ctx: RunContext, wiki: str, snapshot: str, *, max_images: int = 0) -> Item:
    """Every Commons step in this process, each recorded like its Airflow task."""
    shards = plan_commons(ctx, wiki, snapshot, max_images=max_images)
    fetched = 0
    for shard in shards:
        fetch_metadata_shard(ctx, wiki, snapshot, shard["shard"], shard["n_shards"], max_images=max_images)
        fetched += fetch_media_shard(ctx, wiki, snapshot, shard["shard"], shard["n_shards"])["fetched"]
    merged = merge_commons(ctx, wiki, snapshot)
    return {**merged, "fetched": fetched}


def gate_media(ctx: RunContext, wiki: str, snapshot: str) -> Item:
    """The media gate on the merged datasets."""
    from wikivis.gates.stages import gate_media as run

    with stage(ctx, "gate_media", wiki, snapshot=snapshot) as metrics:
        report = run(ctx.settings, ctx.lake, wiki, snapshot, catalog=ctx.catalog, run_id=ctx.run_id)
        metrics["outcome"] = report.outcome
        return {"wiki": wiki, "snapshot": snapshot, "outcome": report.outcome}

"""The stage functions that the CLI and the Airflow DAGs call — one call per task.

Every function takes primitives (wiki names, snapshot ids, run ids) and returns a small
JSON-able dict of ids and paths: that is what travels through XCom, never data.  Each stage

* records itself in the catalog as a child run ``<run_id>.<stage>`` (duration, status,
  metrics — the monitoring page reads these), and keeps the parent run ``<run_id>`` up to
  date (a failure marks the parent failed with the reason);
* is idempotent: snapshots are keyed on the data (the dump date, the event window end),
  lake writes are atomic and content-addressed, so a retried task redoes the same work;
* raises :class:`~wikivis.errors.GateFailed` from a gate: nothing downstream runs and no
  ``current`` pointer moves, because only :func:`publish` moves them.

Order of a nightly run (``run_all`` does the same without Airflow)::

    ingest → gate_tables → events_catchup → gate_events → captions, wikidata (gates inside)
      → commons (metadata + media, in shards)
      → gate_media → embed → gate_embeddings → build_index (recall gate inside) → gate_index
      → publish → write_report
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wikivis.config import Settings, get_settings
from wikivis.errors import GateFailed, NotFoundError, WikivisError

log = logging.getLogger(__name__)

#: datasets of an article wiki that a run writes at its snapshot and publishes together
WIKI_DATASETS = ("pages", "article_images", "article_categories", "file_metadata", "media", "quarantine",
                 "metadata_failures", "events_applied", "article_items", "item_images", "crosswiki_leads")
MEDIA_SHARD_FILES = 2000


@dataclass
class Context:
    settings: Settings
    lake: Any
    catalog: Any


_override: Settings | None = None


def use_settings(settings: Settings | None) -> None:
    """Make every stage use ``settings`` (tests and the demo; ``None`` restores the default)."""
    global _override
    _override = settings


def settings() -> Settings:
    return _override or get_settings()


def context(s: Settings | None = None) -> Context:
    from wikivis.catalog import Catalog
    from wikivis.lake import Lake

    s = s or settings()
    return Context(s, Lake.from_settings(s), Catalog(s.resolved_catalog_url))


def configured_wikis() -> list[str]:
    return list(settings().wikis)


def run_id_for(dag_id: str, logical_date_iso: str, wiki: str | None = None) -> str:
    """A run id keyed on the data interval, so retries and backfills reuse it."""
    stamp = datetime.fromisoformat(logical_date_iso.replace("Z", "+00:00")).astimezone(UTC)
    return "__".join(p for p in (dag_id, wiki, stamp.strftime("%Y%m%dT%H%M%SZ")) if p)


@contextmanager
def stage(ctx: Context, run_id: str, name: str, wiki: str | None, **params: Any) -> Iterator[dict[str, Any]]:
    """Record a stage execution as child run ``<run_id>.<name>``; yields a metrics dict.

    A failing stage marks its child run failed and re-raises; the *parent* run stays
    ``running``: under Airflow the task may be retried, and only the end of the DAG run
    decides the parent's status (:func:`finish_runs`).  Outside Airflow, :func:`run_all` fails
    the parent itself (nothing retries it).  A parent left ``failed`` by an earlier attempt of
    the same interval (a cleared DAG run) is reopened."""
    catalog = ctx.catalog
    parent = catalog.get_run(run_id)
    if parent is None or parent.get("status") == "failed":
        catalog.start_run(run_id.split("__", 1)[0] or "run", wiki, {"wiki": wiki}, run_id=run_id)
    child = catalog.start_run(f"stage:{name}", wiki, {"parent": run_id, **params}, run_id=f"{run_id}.{name}")
    metrics: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        yield metrics
    except Exception as exc:
        catalog.finish_run(child, "failed", failure_message(name, exc), metrics)
        raise
    metrics.setdefault("elapsed_s", round(time.perf_counter() - started, 3))
    catalog.finish_run(child, "success", None, metrics)


def failure_message(name: str, exc: BaseException) -> str:
    """``<stage>: <reason>`` for the catalog (URL passwords masked)."""
    from wikivis.logsafe import mask_secrets

    if isinstance(exc, WikivisError):
        return mask_secrets(f"{name}: {exc}")
    return mask_secrets(f"{name}: unexpected {exc.__class__.__name__}: {exc}")


def finish_runs(run_ids: list[str], *, failed: bool, reason: str | None = None,
                s: Settings | None = None, only_running: bool = False) -> dict[str, str]:
    """End the parent runs of one orchestrator run (a DAG run, or :func:`run_all`).

    ``failed``: the orchestrator run failed — every run still ``running`` becomes ``failed``
    with the message of its newest failed stage, else ``reason``.  Otherwise every run still
    ``running`` becomes ``success`` (published or not).  Runs that never started are left out;
    runs already ended keep their status unless ``failed`` (a run that published and then
    failed, e.g. in evaluation, is failed; ``only_running`` keeps them).  Returns ``{run_id: status}``."""
    from wikivis.catalog import Catalog

    settings_ = s or settings()
    catalog = Catalog(settings_.resolved_catalog_url)
    out: dict[str, str] = {}
    try:
        for run_id in dict.fromkeys(run_ids):
            run = catalog.get_run(run_id)
            if run is None:
                continue
            if run["status"] == "running" or (failed and not only_running and run["status"] != "failed"):
                status = "failed" if failed else "success"
                message = (_failed_stage_message(catalog, run_id) or reason or "the run failed") if failed else None
                catalog.finish_run(run_id, status, message)
                out[run_id] = status
            else:
                out[run_id] = str(run["status"])
    finally:
        catalog.dispose()
    return out


def _failed_stage_message(catalog: Any, run_id: str) -> str | None:
    for run in catalog.runs(limit=1000):
        if run["status"] == "failed" and (run.get("params") or {}).get("parent") == run_id:
            return str(run.get("message") or "") or None
    return None


# --------------------------------------------------------------------------- ingest
def wait_for_dump(wiki: str, date: str) -> bool:
    """Cheap poke: is there a complete dump run of ``wiki`` dated ``date`` or earlier?

    Dumps start on the 1st and the 20th and take days; a nightly run uses the newest complete
    one and lets EventStreams bring it up to date, so it never waits half a month."""
    from wikivis.dumps.ingest import WIKI_TABLES
    from wikivis.sources.dumps import DumpsClient

    try:
        if date == "latest":
            DumpsClient(settings()).find_run(wiki, WIKI_TABLES, "latest")
        else:
            DumpsClient(settings()).find_run(wiki, WIKI_TABLES, "latest", at_or_before=date)
    except NotFoundError:
        return False
    return True


def wait_for_dump_exact(wiki: str, date: str) -> bool:
    """Is the dump run dated exactly ``date`` complete?"""
    from wikivis.dumps.ingest import WIKI_TABLES
    from wikivis.sources.dumps import DumpsClient

    try:
        DumpsClient(settings()).find_run(wiki, WIKI_TABLES, date)
    except NotFoundError:
        return False
    return True


def resolve_ingest_source(s: Settings, wiki: str, *, replica_available: bool) -> str:
    """``dumps`` or ``replica`` for ``wiki``: its :meth:`Settings.ingest_source`, with ``auto``
    meaning the replica when a replica connection is available."""
    source = s.ingest_source(wiki)
    if source == "auto":
        return "replica" if replica_available else "dumps"
    return source


def ingest(wiki: str, date: str, *, run_id: str, source: str | None = None, force: bool = False,
           dry_run: bool = False, engine_factory: Any = None) -> dict[str, Any]:
    """Build the lake snapshot of ``wiki`` from a dump run (or the replicas).

    ``source`` None: the wiki's setting (``auto`` → the replica when ``engine_factory``, an
    ``engine_factory(wiki) -> Engine`` such as the Airflow hook's ``get_conn``, is given)."""
    ctx = context()
    if source is None:
        source = resolve_ingest_source(ctx.settings, wiki, replica_available=engine_factory is not None)
    with stage(ctx, run_id, "ingest", wiki, date=date, source=source) as metrics:
        if dry_run:
            metrics["dry_run"] = True
            return {"wiki": wiki, "snapshot": date, "run_id": run_id, "dry_run": True}
        result: Any
        if source == "dumps":
            from wikivis.dumps.ingest import ingest as ingest_dumps
            from wikivis.sources.dumps import DumpsClient

            client = DumpsClient(ctx.settings)
            exact = date == "latest" or wait_for_dump_exact(wiki, date)
            try:
                result = (ingest_dumps(ctx.settings, wiki, date, lake=ctx.lake, run_id=run_id, client=client) if exact
                          else ingest_dumps(ctx.settings, wiki, "latest", lake=ctx.lake, run_id=run_id,
                                            at_or_before=date, client=client))
            finally:
                metrics["http"] = {"dumps": client.counters.as_dict()}
            metrics["dump_date"] = result.snapshot
            for manifest in result.manifests.values():
                ctx.catalog.record_snapshot(manifest.dataset, manifest.wiki, manifest.snapshot, manifest.rows,
                                            manifest.content_hash, run_id)
        elif source == "replica":
            from wikivis.sources.replicas import pull

            snapshot = date if date != "latest" else datetime.now(UTC).strftime("%Y%m%d")
            result = pull(ctx.settings, wiki, snapshot, lake=ctx.lake, engine_factory=engine_factory, run_id=run_id)
            # SQL, not HTTP, but the same politeness question: how much did we ask, how often retried
            metrics["http"] = {"replicas": {"requests": result.counters.get("queries", 0),
                                            "retries": result.counters.get("retries", 0)}}
        else:
            raise WikivisError(f"unknown ingest source {source!r} (use dumps or replica)")
        snapshot = result.snapshot
        metrics.update(_summary(result))
        from wikivis.events import reconcile

        gap = reconcile(ctx.catalog, wiki, snapshot, source=source)  # a stale EventStreams checkpoint restarts here
        if gap:
            metrics["events_gap"] = gap
        return {"wiki": wiki, "snapshot": snapshot, "run_id": run_id, "source": source}


def _summary(result: Any) -> dict[str, Any]:
    """A small JSON-able view of a stage result object."""
    for attr in ("as_dict", "to_dict"):
        if hasattr(result, attr):
            data = getattr(result, attr)()
            break
    else:
        data = dict(getattr(result, "__dict__", {}))
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, (str, int, float, bool)) or value is None or (isinstance(value, dict) and all(isinstance(v, (str, int, float, bool)) for v in value.values())):
            out[key] = value
    return out


def _gate_lake_tables(stage_name: str, wiki: str, snapshot: str, run_id: str) -> dict[str, Any]:
    """The tables gate, against the published snapshot for drift."""
    from wikivis.gates.stages import gate_tables as run

    ctx = context()
    with stage(ctx, run_id, stage_name, wiki, snapshot=snapshot) as metrics:
        report = run(ctx.settings, ctx.lake, wiki, snapshot,
                     catalog=ctx.catalog, run_id=run_id)
        metrics["outcome"] = report.outcome
        return {"wiki": wiki, "snapshot": snapshot, "outcome": report.outcome}


def gate_tables(wiki: str, snapshot: str, *, run_id: str) -> dict[str, Any]:
    """Gate the ingested tables."""
    return _gate_lake_tables("gate_tables", wiki, snapshot, run_id)


# --------------------------------------------------------------------------- events
def events_catchup(wiki: str, snapshot: str, *, until: str, run_id: str) -> dict[str, Any]:
    """Apply EventStreams changes up to ``until`` on top of ``snapshot``; returns the new snapshot."""
    from wikivis.events import catch_up, snapshot_time

    ctx = context()
    until_dt = datetime.fromisoformat(until.replace("Z", "+00:00")).astimezone(UTC)
    # an older dump than the published event-derived state: continue from the published state
    # (its checkpoint belongs to it), as long as that state lies inside this window
    published = ctx.lake.current("article_images", wiki)
    if published and snapshot_time(snapshot) < snapshot_time(published) < until_dt:
        snapshot = published
    with stage(ctx, run_id, "events", wiki, base=snapshot, until=until) as metrics:
        result = catch_up(ctx.settings, wiki, base_snapshot=snapshot, until=until_dt, lake=ctx.lake,
                          catalog=ctx.catalog, run_id=run_id)
        metrics.update(_summary(result))
        metrics["http"] = result.http
        return {"wiki": wiki, "snapshot": result.snapshot, "base_snapshot": snapshot, "run_id": run_id}


def gate_events(wiki: str, snapshot: str, *, run_id: str) -> dict[str, Any]:
    """Gate the tables after the EventStreams delta."""
    return _gate_lake_tables("gate_events", wiki, snapshot, run_id)


# --------------------------------------------------------------------------- commons
def _parts_dir(s: Settings, wiki: str, snapshot: str) -> Path:
    return s.raw_root / "commons" / wiki / snapshot


def _shard_names(ctx: Context, wiki: str, snapshot: str, shard: int, n_shards: int, max_images: int) -> list[str]:
    from wikivis.media.lists import by_article

    names = by_article(ctx.lake, wiki, snapshot)
    limit = max_images or ctx.settings.max_images
    if limit:
        names = names[:limit]
    return sorted(names)[shard::n_shards]


def plan_media_shards(wiki: str, snapshot: str, *, run_id: str, max_images: int = 0) -> list[dict[str, Any]]:
    """Split the files used by ``wiki`` at ``snapshot`` into shards for mapped fetch tasks."""
    from wikivis.media.lists import by_article

    ctx = context()
    with stage(ctx, run_id, "plan_media", wiki, snapshot=snapshot) as metrics:
        n = len(by_article(ctx.lake, wiki, snapshot))
        limit = max_images or ctx.settings.max_images
        if limit:
            n = min(n, limit)
        n_shards = max(1, -(-n // MEDIA_SHARD_FILES))
        metrics.update(files=n, shards=n_shards)
        return [{"wiki": wiki, "snapshot": snapshot, "shard": i, "n_shards": n_shards, "max_images": limit}
                for i in range(n_shards)]


def _write_part(path: Path, table: Any) -> None:
    import os
    import uuid

    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def fetch_metadata_shard(wiki: str, snapshot: str, shard: int, n_shards: int, *, run_id: str,
                         max_images: int = 0) -> dict[str, Any]:
    """Commons imageinfo for one shard (≤3 concurrent API requests: pool ``commons_api``)."""
    from wikivis.media.fetch import fetch_metadata

    ctx = context()
    with stage(ctx, run_id, f"metadata_{shard}", wiki, snapshot=snapshot) as metrics:
        names = _shard_names(ctx, wiki, snapshot, shard, n_shards, max_images)
        from wikivis.sources.commons import ActionApiClient

        client = ActionApiClient.from_settings(ctx.settings)
        result = fetch_metadata(ctx.settings, names, wiki=wiki, run_id=run_id, client=client)
        path = _parts_dir(ctx.settings, wiki, snapshot) / f"file_metadata-{shard:04d}-of-{n_shards:04d}.parquet"
        _write_part(path, result.table)
        if result.failures is not None:  # titles without usable metadata, merged by gate_media
            _write_part(path.with_name(f"metadata_failures-{shard:04d}-of-{n_shards:04d}.parquet"), result.failures)
        metrics.update(files=len(names), rows=result.table.num_rows, problems=dict(result.problems),
                       failures=result.failures.num_rows if result.failures is not None else 0)
        counters = getattr(client, "counters", None)
        if counters is not None:
            metrics["http"] = {"action_api": counters.as_dict()}
        return {"wiki": wiki, "snapshot": snapshot, "shard": shard, "n_shards": n_shards, "path": str(path)}


def fetch_media_shard(wiki: str, snapshot: str, shard: int, n_shards: int, *, run_id: str,
                      max_images: int = 0) -> dict[str, Any]:
    """Thumbnails for one shard (≤2 connections, ≤25 Mbps: pool ``commons_upload``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from wikivis.datasets import schema
    from wikivis.media.fetch import fetch_media

    ctx = context()
    parts = _parts_dir(ctx.settings, wiki, snapshot)
    meta_path = parts / f"file_metadata-{shard:04d}-of-{n_shards:04d}.parquet"
    with stage(ctx, run_id, f"media_{shard}", wiki, snapshot=snapshot) as metrics:
        if not meta_path.is_file():
            raise NotFoundError(f"{meta_path} is missing: run fetch_metadata_shard for shard {shard} first")
        summary = fetch_media(ctx.settings, pq.read_table(meta_path))
        path = parts / f"media-{shard:04d}-of-{n_shards:04d}.parquet"
        _write_part(path, pa.Table.from_pylist(summary.records, schema=schema("media")))
        metrics.update(_summary(summary))
        metrics["http"] = {"upload": {"requests": summary.requests, "retries": summary.retries,
                                      "throttled": summary.throttled, "bytes": summary.bytes,
                                      "waited_s": summary.waited_s}}
        return {"wiki": wiki, "snapshot": snapshot, "shard": shard, "path": str(path), "fetched": summary.fetched}


def _merge_media_parts(ctx: Context, wiki: str, snapshot: str, run_id: str) -> bool:
    """Write the ``file_metadata``, ``metadata_failures`` and ``media`` snapshots from the shard parts (if any)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = _parts_dir(ctx.settings, wiki, snapshot)
    merged = False
    for dataset in ("file_metadata", "media", "metadata_failures"):
        files = sorted(parts.glob(f"{dataset}-*.parquet"))
        if not files:
            continue
        table = pa.concat_tables([pq.read_table(f) for f in files])
        manifest = ctx.lake.write(dataset, wiki, snapshot, table, run_id=run_id, inputs=[str(f) for f in files])
        ctx.catalog.record_snapshot(dataset, wiki, snapshot, manifest.rows, manifest.content_hash, run_id)
        merged = True
    return merged


def commons(wiki: str, snapshot: str, *, run_id: str) -> dict[str, Any]:
    """The whole Commons stage in one call (CLI / run_all): metadata, thumbnails, lake datasets."""
    from wikivis.media.stage import commons_stage

    ctx = context()
    with stage(ctx, run_id, "commons", wiki, snapshot=snapshot) as metrics:
        summary = commons_stage(ctx.settings, wiki, snapshot, lake=ctx.lake, catalog=ctx.catalog, run_id=run_id)
        metrics.update(_summary(summary))
        metrics["http"] = {"upload": {"requests": summary.requests, "retries": summary.retries,
                                      "throttled": summary.throttled, "bytes": summary.bytes,
                                      "waited_s": summary.waited_s}}
        return {"wiki": wiki, "snapshot": snapshot, "fetched": summary.fetched, "failed": summary.failed_total}


def gate_media(wiki: str, snapshot: str, *, run_id: str) -> dict[str, Any]:
    from wikivis.gates.stages import gate_media as run

    ctx = context()
    with stage(ctx, run_id, "gate_media", wiki, snapshot=snapshot) as metrics:
        metrics["merged_shards"] = _merge_media_parts(ctx, wiki, snapshot, run_id)
        report = run(ctx.settings, ctx.lake, wiki, snapshot, catalog=ctx.catalog, run_id=run_id)
        metrics["outcome"] = report.outcome
        return {"wiki": wiki, "snapshot": snapshot, "outcome": report.outcome}


# --------------------------------------------------------------------------- embeddings + index
def embed(wiki: str, snapshot: str, *, run_id: str) -> dict[str, Any]:
    """Embed every fetched thumbnail of the snapshot that has no vector yet (GPU queue)."""
    from wikivis.embed import embed_images, media_items

    ctx = context()
    with stage(ctx, run_id, "embed", wiki, snapshot=snapshot) as metrics:
        items = media_items(ctx.settings, wiki, snapshot)
        result = embed_images(ctx.settings, items)
        metrics.update(_summary(result))
        return {"wiki": wiki, "snapshot": snapshot, "model_id": result.model_id, "embedded": result.embedded}


def gate_embeddings(*, run_id: str, model_id: str | None = None) -> dict[str, Any]:
    from wikivis.embed import load_embeddings
    from wikivis.gates.stages import gate_embeddings as run

    ctx = context()
    model_id = model_id or ctx.settings.model
    with stage(ctx, run_id, "gate_embeddings", None, model_id=model_id) as metrics:
        ids, vectors = load_embeddings(ctx.settings, model_id)
        if len(ids) == 0:
            raise GateFailed(f"no embeddings stored for model {model_id}", gate="embeddings.present",
                             dataset=f"embeddings/{model_id}")
        report = run(ctx.settings, vectors, ids=ids, model_id=model_id, catalog=ctx.catalog, run_id=run_id)
        metrics.update(outcome=report.outcome, vectors=len(ids))
        return {"model_id": model_id, "vectors": len(ids), "outcome": report.outcome}


def build_index(*, run_id: str, model_id: str | None = None) -> dict[str, Any]:
    """Build a new index version; it is swapped in only if its recall gate passes."""
    from wikivis.index import add_to_index, index_info
    from wikivis.index import build_index as build

    ctx = context()
    with stage(ctx, run_id, "build_index", None) as metrics:
        # nightly: add the new vectors to the live index (it rebuilds itself when due)
        incremental = bool(index_info(ctx.settings, model_id).get("current"))
        metrics["incremental"] = incremental
        try:
            result = add_to_index(ctx.settings, model_id) if incremental else build(ctx.settings, model_id)
        except GateFailed as exc:
            ctx.catalog.record_gate(run_id, "index", f"index/{model_id or ctx.settings.model}", "index.recall",
                                    "fail", {}, str(exc))
            raise
        info = result.to_dict()
        metrics.update(_summary(result))
        ctx.catalog.record_gate(run_id, "index", f"index/{info.get('model_id')}", "index.recall", "pass",
                                {"recall_at_10": info.get("recall_at_10", info.get("recall"))}, None)
        return {"version": info.get("version"), "model_id": info.get("model_id"),
                "recall_at_10": info.get("recall_at_10", info.get("recall"))}


def gate_index(version: str, *, run_id: str, model_id: str | None = None) -> dict[str, Any]:
    """Re-check the swapped-in index on a fresh query sample (recall + size vs embeddings)."""
    from wikivis.embed import load_embeddings
    from wikivis.gates.stages import gate_index as run
    from wikivis.index import load_index

    ctx = context()
    model_id = model_id or ctx.settings.model
    with stage(ctx, run_id, "gate_index", None, version=version) as metrics:
        index = load_index(ctx.settings, model_id)
        ids, vectors = load_embeddings(ctx.settings, model_id)
        report = run(ctx.settings, index.search, vectors, ids=ids, index_size=index.size, model_id=model_id,
                     catalog=ctx.catalog, run_id=run_id)
        metrics["outcome"] = report.outcome
    # the index stages are the last ones of an interval-level run (the per-wiki runs end at publish)
    if (ctx.catalog.get_run(run_id) or {}).get("status") == "running":
        ctx.catalog.finish_run(run_id, "success", None, {"index_version": version})
    return {"version": version, "outcome": report.outcome}


# --------------------------------------------------------------------------- publish + report
def publish(wiki: str, snapshot: str, *, index_version: str | None = None, run_id: str) -> dict[str, Any]:
    """Move every ``current`` pointer of the run at once (all gates have passed)."""
    ctx = context()
    with stage(ctx, run_id, "publish", wiki, snapshot=snapshot, index_version=index_version) as metrics:
        from wikivis.datasets import DATASETS

        # every dataset of the wiki the run wrote at this snapshot: one publication, all or none
        labels = {d: snapshot for d in DATASETS if d != "files" and ctx.lake.exists(d, wiki, snapshot)}
        if "article_images" not in labels:
            raise NotFoundError(f"nothing to publish for {wiki} at {snapshot}")
        publication = ctx.lake.publish_run(wiki, labels, run_id=run_id)
        published = dict(labels)
        files_snap = _newest_at_or_before(ctx.lake, "files", ctx.settings.commons_wiki, snapshot)
        if files_snap:
            ctx.lake.publish_run(ctx.settings.commons_wiki, {"files": files_snap}, run_id=run_id)
            published["files"] = files_snap
        for dataset, label in published.items():
            ctx.catalog.mark_published(dataset, ctx.settings.commons_wiki if dataset == "files" else wiki, label)
        for dataset in labels:
            ctx.lake.apply_retention(dataset, wiki, ctx.settings.retention_snapshots)
        metrics["publication"] = publication.id
        metrics["published"] = published
    ctx.catalog.finish_run(run_id, "success", None, {"published": published, "index_version": index_version})
    return {"wiki": wiki, "snapshot": snapshot, "published": published, "index_version": index_version}


def train_recommender(wiki: str, *, run_id: str) -> dict[str, Any]:
    """Train CuratorNet on the published article → image links (GPU when present)."""
    from wikivis.recommend.training import train_and_save

    ctx = context()
    with stage(ctx, run_id, "train", wiki) as metrics:
        path = train_and_save(ctx.settings, wiki=wiki)
        metrics["checkpoint"] = str(path)
        return {"wiki": wiki, "checkpoint": str(path)}


def evaluate(wiki: str, *, run_id: str) -> dict[str, Any]:
    """Offline evaluation of every recommender on held-out links of the published data."""
    from wikivis.evaluation.run import evaluate as run

    ctx = context()
    with stage(ctx, run_id, "evaluate", wiki) as metrics:
        scores = run(ctx.settings, wiki=wiki)
        metrics["eval"] = scores
        return {"wiki": wiki, "metrics": scores}


def _newest_at_or_before(lake: Any, dataset: str, wiki: str, snapshot: str) -> str | None:
    older = [s for s in lake.snapshots(dataset, wiki) if s <= snapshot]
    return older[-1] if older else None


def write_report(run_id: str) -> dict[str, Any]:
    from wikivis.gates.report import write_report as write

    ctx = context()
    html, md = write(ctx.settings, ctx.catalog, run_id)
    return {"run_id": run_id, "html": str(html), "markdown": str(md)}


# --------------------------------------------------------------------------- whole run
def run_all(*, wikis: list[str] | None = None, date: str = "latest", until: str | None = None,
            run_id: str | None = None, events: bool = True) -> dict[str, Any]:
    """The main job without Airflow: every stage, in order, for every configured wiki."""
    s = settings()
    wikis = wikis or list(s.wikis)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    summary: dict[str, Any] = {"wikis": {}}
    index: dict[str, Any] = {}
    for wiki in wikis:
        rid = run_id or f"run__{wiki}__{stamp}"
        try:
            summary["wikis"][wiki], index = _run_wiki(s, wiki, rid, date=date, until=until, events=events)
        except BaseException as exc:
            # nothing retries a stage here: the run failed (KeyboardInterrupt included)
            finish_runs([rid], failed=True, reason=None if isinstance(exc, Exception) else "interrupted", s=s)
            raise
    summary["index"] = index
    return summary


def _run_wiki(s: Settings, wiki: str, rid: str, *, date: str, until: str | None,
              events: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    out = ingest(wiki, date, run_id=rid)
    snapshot = out["snapshot"]
    gate_tables(wiki, snapshot, run_id=rid)
    if events:
        end = until or (datetime.strptime(snapshot[:8], "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=1)).isoformat()
        snapshot = events_catchup(wiki, snapshot, until=end, run_id=rid)["snapshot"]
        gate_events(wiki, snapshot, run_id=rid)
    captions(wiki, snapshot, run_id=rid)
    wikidata(wiki, snapshot, run_id=rid)
    commons(wiki, snapshot, run_id=rid)
    gate_media(wiki, snapshot, run_id=rid)
    embed(wiki, snapshot, run_id=rid)
    gate_embeddings(run_id=rid)
    index = build_index(run_id=rid)
    gate_index(index["version"], run_id=rid)
    publish(wiki, snapshot, index_version=index["version"], run_id=rid)
    train_recommender(wiki, run_id=rid)
    scores = evaluate(wiki, run_id=rid)["metrics"]
    report = write_report(rid)
    return {"run_id": rid, "snapshot": snapshot, "report": report["html"], "eval": scores}, index


def dumps_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str)


# --------------------------------------------------------------------------- wikidata
def wikidata(wiki: str, snapshot: str, *, run_id: str) -> dict[str, Any]:
    """Wikidata signals of ``wiki`` at ``snapshot``: ``item_images`` (P18, P373) and
    ``crosswiki_leads`` for the items of ``article_items``, then their gate.  Place it after
    ``ingest``/``events_catchup`` and before ``publish``; a snapshot without ``article_items``
    (a wiki not connected to Wikidata) is skipped."""
    from wikivis.gates.stages import gate_wikidata
    from wikivis.wikidata_ingest import ingest_wikidata

    ctx = context()
    with stage(ctx, run_id, "wikidata", wiki, snapshot=snapshot) as metrics:
        if not ctx.lake.exists("article_items", wiki, snapshot):
            metrics["skipped"] = "no article_items at this snapshot"
            return {"wiki": wiki, "snapshot": snapshot, "skipped": True}
        result = ingest_wikidata(ctx.settings, wiki, snapshot, lake=ctx.lake, run_id=run_id)
        metrics.update(rows=result.rows, counters=result.counters)
        report = gate_wikidata(ctx.settings, ctx.lake, wiki, snapshot, catalog=ctx.catalog, run_id=run_id)
        metrics["outcome"] = report.outcome
        return {"wiki": wiki, "snapshot": snapshot, "rows": result.rows, "outcome": report.outcome}


# --------------------------------------------------------------------------- captions
def captions(wiki: str, snapshot: str, *, run_id: str, source: str = "auto",
             page_ids: list[int] | None = None) -> dict[str, Any]:
    """Captions and alt text (``article_image_captions``) and file captions (``file_captions``)
    at ``snapshot``, then the caption gate; see :mod:`wikivis.captions.stage`.  Place it after
    ``ingest``/``events_catchup`` (it reads ``article_images``) and before ``publish``."""
    from wikivis.captions.stage import run_captions

    ctx = context()
    with stage(ctx, run_id, "captions", wiki, snapshot=snapshot, source=source) as metrics:
        summary = run_captions(ctx.settings, wiki, snapshot, lake=ctx.lake, catalog=ctx.catalog, run_id=run_id,
                               source=source, page_ids=page_ids)
        metrics.update({k: summary[k] for k in ("source", "rows") if k in summary})
        if "coverage" in summary:
            cov = summary["coverage"]
            metrics["coverage"] = {k: cov[k] for k in ("images", "caption_share", "alt_share", "bad_alt")}
        return {"wiki": wiki, "snapshot": snapshot, "rows": summary["rows"], "source": summary["source"]}
def train_candidate(wiki: str, *, run_id: str) -> dict[str, Any]:
    """Weekly: a versioned CuratorNet candidate and its held-out metrics (serving untouched)."""
    from wikivis.recommend.release import train_candidate as train

    ctx = context()
    with stage(ctx, run_id, "train_candidate", wiki) as metrics:
        result = train(ctx.settings, wiki=wiki)
        metrics.update(version=result["version"], eval=result["metrics"])
        return result


def promote_candidate(wiki: str, version: str, *, run_id: str) -> dict[str, Any]:
    """Weekly: the evaluation gate; serving picks the candidate up only if it passes."""
    from dataclasses import asdict

    from wikivis.recommend.release import promote

    ctx = context()
    with stage(ctx, run_id, "promote", wiki) as metrics:
        verdict = asdict(promote(ctx.settings, version, wiki=wiki))
        metrics["gate"] = verdict
        return verdict

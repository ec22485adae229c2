"""Ingest and EventStreams stages: build a wiki's lake snapshot, bring it up to date, gate it.

* :func:`ingest` — from a dump run (:mod:`wikivis.dumps.ingest`) or from the Wiki Replicas
  (:func:`pull_replica`, here because it writes the lake: :mod:`wikivis.sources.replicas`
  only talks to the database).  Both branches record every written snapshot in the catalog.
* :func:`gate_tables` — the tables gate, against the published snapshot for drift.
* :func:`events_catchup` → :func:`gate_events` — EventStreams changes up to the interval end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from wikivis.errors import NotFoundError, WikivisError
from wikivis.stages.run import RunContext, stage, summary

if TYPE_CHECKING:
    from wikivis.config import Settings
    from wikivis.lake import Lake, Manifest
    from wikivis.sources.replicas import EngineFactory, ReplicaSchema


# --------------------------------------------------------------------------- dump readiness
def wait_for_dump(settings: Settings, wiki: str, date: str) -> bool:
    """Cheap poke: is there a complete dump run of ``wiki`` dated ``date`` or earlier?

    Dumps start on the 1st and the 20th and take days; a nightly run uses the newest complete
    one and lets EventStreams bring it up to date, so it never waits half a month."""
    from wikivis.dumps.ingest import WIKI_TABLES
    from wikivis.sources.dumps import DumpsClient

    try:
        if date == "latest":
            DumpsClient(settings).find_run(wiki, WIKI_TABLES, "latest")
        else:
            DumpsClient(settings).find_run(wiki, WIKI_TABLES, "latest", at_or_before=date)
    except NotFoundError:
        return False
    return True


def wait_for_dump_exact(settings: Settings, wiki: str, date: str) -> bool:
    """Is the dump run dated exactly ``date`` complete?"""
    from wikivis.dumps.ingest import WIKI_TABLES
    from wikivis.sources.dumps import DumpsClient

    try:
        DumpsClient(settings).find_run(wiki, WIKI_TABLES, date)
    except NotFoundError:
        return False
    return True


def resolve_ingest_source(settings: Settings, wiki: str, *, replica_available: bool) -> str:
    """``dumps`` or ``replica`` for ``wiki``: its :meth:`Settings.ingest_source`, with ``auto``
    meaning the replica when a replica connection is available."""
    source = settings.ingest_source(wiki)
    if source == "auto":
        return "replica" if replica_available else "dumps"
    return source


# --------------------------------------------------------------------------- replicas → lake
@dataclass(frozen=True)
class PullResult:
    wiki: str
    files_wiki: str
    snapshot: str
    schema: ReplicaSchema
    manifests: dict[str, Manifest]
    rows: dict[str, int]
    counters: dict[str, Any]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"wiki": self.wiki, "files_wiki": self.files_wiki, "snapshot": self.snapshot, "rows": self.rows,
                "seconds": round(self.seconds, 3)}


def today_snapshot() -> str:
    return datetime.now(UTC).strftime("%Y%m%d")


def pull_replica(
    settings: Settings,
    wiki: str,
    snapshot: str | None = None,
    *,
    lake: Lake | None = None,
    engine_factory: EngineFactory | None = None,
    run_id: str | None = None,
    files: Literal["all", "used", "none"] = "all",
) -> PullResult:
    """Write the pages / article_images / article_categories / article_items / files datasets of ``wiki``
    from the replicas — the same datasets, row for row, as the dump path.

    ``files`` comes from ``settings.commons_wiki``'s ``image`` table (another section, so
    the join with the wiki's imagelinks happens here): ``all`` rows, like the dump path;
    ``used`` only the names the wiki's articles use (far fewer queries on the live Commons
    replica); ``none`` skips it.  Every dataset is written under ``snapshot``.
    """
    from wikivis.config import check_wiki_name
    from wikivis.lake import Lake
    from wikivis.sources.replicas import ReplicaSource

    check_wiki_name(wiki)
    snapshot = snapshot or today_snapshot()
    lake = lake or Lake.from_settings(settings)
    started = time.perf_counter()
    files_wiki = settings.commons_wiki
    with ReplicaSource(settings, engine_factory=engine_factory) as source:
        client = source.client(wiki)
        schema = client.detect_schema()
        inputs = (f"replica:{client.where}",)
        manifests: dict[str, Manifest] = {}
        manifests["pages"] = lake.write("pages", wiki, snapshot, client.pages(), run_id=run_id, inputs=inputs)
        manifests["article_images"] = lake.write(
            "article_images", wiki, snapshot, client.article_images(), run_id=run_id, inputs=inputs
        )
        manifests["article_categories"] = lake.write(
            "article_categories", wiki, snapshot, client.article_categories(), run_id=run_id, inputs=inputs
        )
        manifests["article_items"] = lake.write(
            "article_items", wiki, snapshot, client.article_items(), run_id=run_id, inputs=inputs
        )
        if files != "none":
            files_client = source.client(files_wiki)
            if files == "used":
                used = lake.read("article_images", wiki, snapshot, columns=["file_name"]).column("file_name")
                file_batches = files_client.files_by_name(used.unique().to_pylist())
            else:
                file_batches = files_client.files()
            manifests["files"] = lake.write(
                "files", files_wiki, snapshot, file_batches, run_id=run_id, inputs=(f"replica:{files_client.where}",)
            )
        counters = source.counters.as_dict()
    return PullResult(
        wiki=wiki,
        files_wiki=files_wiki,
        snapshot=snapshot,
        schema=schema,
        manifests=manifests,
        rows={name: m.rows for name, m in manifests.items()},
        counters=counters,
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- ingest
def ingest(ctx: RunContext, wiki: str, date: str, *, source: str | None = None, force: bool = False,
           dry_run: bool = False, engine_factory: EngineFactory | None = None) -> dict[str, Any]:
    """Build the lake snapshot of ``wiki`` from a dump run (or the replicas).

    ``source`` None: the wiki's setting (``auto`` → the replica when ``engine_factory``, an
    ``engine_factory(wiki) -> Engine`` such as the Airflow hook's ``get_conn``, is given)."""
    settings, run_id = ctx.settings, ctx.run_id
    if source is None:
        source = resolve_ingest_source(settings, wiki, replica_available=engine_factory is not None)
    with stage(ctx, "ingest", wiki, date=date, source=source) as metrics:
        if dry_run:
            metrics["dry_run"] = True
            return {"wiki": wiki, "snapshot": date, "run_id": run_id, "dry_run": True}
        manifests: dict[str, Manifest]
        if source == "dumps":
            from wikivis.dumps.ingest import ingest as ingest_dumps
            from wikivis.sources.dumps import DumpsClient

            client = DumpsClient(settings)
            exact = date == "latest" or wait_for_dump_exact(settings, wiki, date)
            try:
                result = (ingest_dumps(settings, wiki, date, lake=ctx.lake, run_id=run_id, client=client) if exact
                          else ingest_dumps(settings, wiki, "latest", lake=ctx.lake, run_id=run_id,
                                            at_or_before=date, client=client))
            finally:
                metrics["http"] = {"dumps": client.counters.as_dict()}
            metrics["dump_date"] = result.snapshot
            snapshot, manifests, details = result.snapshot, dict(result.manifests), result.as_dict()
        elif source == "replica":
            snapshot = date if date != "latest" else today_snapshot()
            pulled = pull_replica(settings, wiki, snapshot, lake=ctx.lake, engine_factory=engine_factory, run_id=run_id)
            # SQL, not HTTP, but the same politeness question: how much did we ask, how often retried
            metrics["http"] = {"replicas": {"requests": pulled.counters.get("queries", 0),
                                            "retries": pulled.counters.get("retries", 0)}}
            snapshot, manifests, details = pulled.snapshot, pulled.manifests, pulled.as_dict()
        else:
            raise WikivisError(f"unknown ingest source {source!r} (use dumps or replica)")
        for manifest in manifests.values():  # both branches: the catalog knows every snapshot written
            ctx.catalog.record_snapshot(manifest.dataset, manifest.wiki, manifest.snapshot, manifest.rows,
                                        manifest.content_hash, run_id)
        metrics.update(summary(details))
        from wikivis.events import reconcile

        gap = reconcile(ctx.catalog, wiki, snapshot, source=source)  # a stale EventStreams checkpoint restarts here
        if gap:
            metrics["events_gap"] = gap
        return {"wiki": wiki, "snapshot": snapshot, "run_id": run_id, "source": source}


def _gate_lake_tables(ctx: RunContext, stage_name: str, wiki: str, snapshot: str) -> dict[str, Any]:
    """The tables gate, against the published snapshot for drift."""
    from wikivis.gates.stages import gate_tables as run

    with stage(ctx, stage_name, wiki, snapshot=snapshot) as metrics:
        report = run(ctx.settings, ctx.lake, wiki, snapshot, catalog=ctx.catalog, run_id=ctx.run_id)
        metrics["outcome"] = report.outcome
        return {"wiki": wiki, "snapshot": snapshot, "outcome": report.outcome}


def gate_tables(ctx: RunContext, wiki: str, snapshot: str) -> dict[str, Any]:
    """Gate the ingested tables."""
    return _gate_lake_tables(ctx, "gate_tables", wiki, snapshot)


# --------------------------------------------------------------------------- events
def events_catchup(ctx: RunContext, wiki: str, snapshot: str, *, until: str) -> dict[str, Any]:
    """Apply EventStreams changes up to ``until`` on top of ``snapshot``; returns the new snapshot."""
    from wikivis.events import catch_up, snapshot_time

    until_dt = datetime.fromisoformat(until.replace("Z", "+00:00")).astimezone(UTC)
    # an older dump than the published event-derived state: continue from the published state
    # (its checkpoint belongs to it), as long as that state lies inside this window
    published = ctx.lake.current("article_images", wiki)
    if published and snapshot_time(snapshot) < snapshot_time(published) < until_dt:
        snapshot = published
    with stage(ctx, "events", wiki, base=snapshot, until=until) as metrics:
        result = catch_up(ctx.settings, wiki, base_snapshot=snapshot, until=until_dt, lake=ctx.lake,
                          catalog=ctx.catalog, run_id=ctx.run_id)
        metrics.update(summary(result.as_dict()))
        metrics["http"] = result.http
        return {"wiki": wiki, "snapshot": result.snapshot, "base_snapshot": snapshot, "run_id": ctx.run_id}


def gate_events(ctx: RunContext, wiki: str, snapshot: str) -> dict[str, Any]:
    """Gate the tables after the EventStreams delta."""
    return _gate_lake_tables(ctx, "gate_events", wiki, snapshot)

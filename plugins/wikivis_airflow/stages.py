"""The pipeline's tasks, shared by ``wikivis_nightly`` and ``wikivis_backfill``.

Each task body is one call into :mod:`wikivis.pipeline` (imported inside the task, so DAG
parsing never loads pyarrow or torch).  Tasks pass *items* through XCom — small dicts of ids:
``{"wiki", "run_id", "dump_date", "until", "snapshot", ...}`` — never data.

A backfill item may also carry the form's choices (``stages``, ``force``, ``dry_run``,
``max_images``); :func:`wikivis.orchestration.stage_selected` turns a stage that was not
chosen into a pass-through, so the graph is the same for both DAGs.  The cross-wiki tasks
(embedding gate, index) receive ``run``: ``{"run_id", ...}`` with the same optional keys.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import XComArg, task, teardown

from wikivis_airflow.defaults import (
    COMMONS_API_POOL,
    COMMONS_UPLOAD_POOL,
    DUMP_READY,
    EMBEDDINGS,
    GPU_QUEUE,
    INDEX,
    LAKE_SNAPSHOT,
)

Item = dict[str, Any]


@task(inlets=[DUMP_READY], outlets=[LAKE_SNAPSHOT])
def ingest(item: Item) -> Item:
    from wikivis import orchestration, pipeline

    if not orchestration.stage_selected(item, "ingest"):
        return {"snapshot": item["dump_date"], **item}
    ingested = pipeline.ingest(item["wiki"], item["dump_date"], run_id=item["run_id"],
                               force=item.get("force", False), dry_run=item.get("dry_run", False),
                               engine_factory=replica_engine_factory())
    return {**item, "snapshot": ingested["snapshot"]}


def replica_engine_factory() -> Any:
    """The ``wikivis_replicas`` connection's ``get_conn`` (wiki → engine), or None when the
    connection does not exist: the wiki's ingest source setting decides what is used."""
    from airflow.exceptions import AirflowNotFoundException

    from wikivis_airflow.hooks import REPLICAS_CONN_ID, WikiReplicasHook

    hook = WikiReplicasHook()
    try:
        hook.get_connection(REPLICAS_CONN_ID)
    except AirflowNotFoundException:
        return None
    return hook.get_conn


@task
def gate_tables(item: Item) -> Item:
    from wikivis import orchestration, pipeline

    if orchestration.stage_selected(item, "ingest", gate=True):
        pipeline.gate_tables(item["wiki"], item["snapshot"], run_id=item["run_id"])
    return item


@task(outlets=[LAKE_SNAPSHOT], max_active_tis_per_dagrun=1)  # one EventStreams consumer per run
def events_catchup(item: Item) -> Item:
    from wikivis import orchestration, pipeline

    if not orchestration.stage_selected(item, "events"):
        return item
    caught_up = pipeline.events_catchup(item["wiki"], item["snapshot"], until=item["until"], run_id=item["run_id"])
    return {**item, "snapshot": caught_up["snapshot"]}


@task
def gate_events(item: Item) -> Item:
    from wikivis import orchestration, pipeline

    if orchestration.stage_selected(item, "events", gate=True):
        pipeline.gate_events(item["wiki"], item["snapshot"], run_id=item["run_id"])
    return item


@task
def plan_media_shards(item: Item) -> list[Item]:
    from wikivis import orchestration, pipeline

    if not orchestration.stage_selected(item, "media"):
        return []
    shards = pipeline.plan_media_shards(item["wiki"], item["snapshot"], run_id=item["run_id"],
                                        max_images=item.get("max_images", 0))
    return [{**shard, "run_id": item["run_id"]} for shard in shards]


@task
def flatten(shard_lists: list[list[Item]]) -> list[Item]:
    # a slice reads the mapped results in one request; iterating probes one index past the end,
    # which the task SDK logs as an error ("XCom not found")
    return [shard for shards in shard_lists[:] for shard in shards]


@task(pool=COMMONS_API_POOL)
def fetch_metadata(shard: Item) -> Item:
    from wikivis import pipeline

    pipeline.fetch_metadata_shard(**shard)
    return shard


@task(pool=COMMONS_UPLOAD_POOL)
def fetch_media(shard: Item) -> Item:
    from wikivis import pipeline

    pipeline.fetch_media_shard(**shard)
    return shard


@task
def captions(item: Item) -> Item:
    from wikivis import orchestration, pipeline

    if orchestration.stage_selected(item, "captions"):
        pipeline.captions(item["wiki"], item["snapshot"], run_id=item["run_id"])  # its gate runs inside
    return item


@task
def wikidata(item: Item) -> Item:
    from wikivis import orchestration, pipeline

    if orchestration.stage_selected(item, "wikidata"):
        pipeline.wikidata(item["wiki"], item["snapshot"], run_id=item["run_id"])  # its gate runs inside
    return item


@task(trigger_rule="none_failed_min_one_success")  # runs when a wiki has no media shard
def gate_media(item: Item) -> Item:
    from wikivis import orchestration, pipeline

    if orchestration.stage_selected(item, "media", gate=True):
        pipeline.gate_media(item["wiki"], item["snapshot"], run_id=item["run_id"])
    return item


@task(queue=GPU_QUEUE, inlets=[LAKE_SNAPSHOT], outlets=[EMBEDDINGS])
def embed(item: Item) -> Item:
    from wikivis import orchestration, pipeline

    if orchestration.stage_selected(item, "embed"):
        pipeline.embed(item["wiki"], item["snapshot"], run_id=item["run_id"])
    return item


@task
def gate_embeddings(run: Item) -> Item:
    from wikivis import orchestration, pipeline

    if orchestration.stage_selected(run, "embed", gate=True):
        pipeline.gate_embeddings(run_id=run["run_id"])
    return run


@task(inlets=[EMBEDDINGS], outlets=[INDEX])
def build_index(run: Item) -> str | None:
    from wikivis import orchestration, pipeline

    if not orchestration.stage_selected(run, "index"):
        return None
    return str(pipeline.build_index(run_id=run["run_id"])["version"])


@task
def gate_index(version: str | None, run: Item) -> str | None:
    from wikivis import pipeline

    if version is not None:
        pipeline.gate_index(version, run_id=run["run_id"])
    return version


@task
def newest_per_wiki(items: list[Item]) -> list[Item]:
    from wikivis import orchestration

    return orchestration.newest_per_wiki(list(items[:]))  # one request, see flatten()


@task
def publish(item: Item, index_version: str | None) -> None:
    from wikivis import orchestration, pipeline

    if orchestration.stage_selected(item, "publish"):
        pipeline.publish(item["wiki"], item["snapshot"], index_version=index_version, run_id=item["run_id"])


def write_reports(items: list[Item] | None, run: Item | None, ti: Any = None) -> list[str]:
    """Made a teardown by :func:`wire`: it runs once everything before it is done, whatever
    the outcome (a failed gate is what a report is for), and does not decide the run's state.

    It first ends the catalog runs of this DAG run (``failed`` when a task failed for good —
    a try that Airflow retries never fails a run — else ``success``, published or not), then
    writes their reports.  ``items``/``run`` are ``None`` when the task producing them failed
    (a backfill whose ``validate_request`` refused the form): nothing started, nothing to do."""
    from wikivis import orchestration

    run_ids = orchestration.run_ids_of(items, run)
    if run_ids and ti is not None:
        orchestration.end_dag_run(run_ids, _task_states(ti), ignore=str(ti.task_id))
    return orchestration.write_reports(run_ids)


def _task_states(ti: Any) -> dict[str, Any]:
    """States of every task instance of this DAG run (through the Task SDK, no DB access)."""
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id])
    return dict(states.get(ti.run_id, {}))


def wire(items: XComArg, run: XComArg, *, after: Any = None) -> XComArg:
    """Add the stages for the work ``items`` (a task's list of items); ``run`` is the
    cross-wiki ``{"run_id", ...}``; ``after`` (a task or mapped task) must finish before
    ``ingest`` starts.  Returns the ``write_reports`` node."""
    ingested = ingest.expand(item=items)
    if after is not None:
        after >> ingested
    events_gated = gate_events.expand(item=events_catchup.expand(item=gate_tables.expand(item=ingested)))
    media_fetched = fetch_media.expand(shard=fetch_metadata.expand(shard=flatten(plan_media_shards.expand(item=events_gated))))
    media_gated = gate_media.expand(item=events_gated)
    media_fetched >> media_gated
    embedded = embed.expand(item=media_gated)
    embeddings_gated = gate_embeddings(run)
    embedded >> embeddings_gated
    index_version = gate_index(build_index(embeddings_gated), run)
    captioned = captions.expand(item=events_gated)
    signals = wikidata.expand(item=events_gated)
    published = publish.partial(index_version=index_version).expand(item=newest_per_wiki(media_gated))
    [captioned, signals] >> published
    # a fresh decorator per DAG: calling a teardown decorator stores its trigger rule on the
    # decorator itself, so one module-level instance cannot be used by a second DAG
    reported = teardown(task(retries=0)(write_reports))(items, run)
    published >> reported
    return reported

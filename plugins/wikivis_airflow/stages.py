"""The pipeline's Airflow tasks, generated from a stage graph (:mod:`wikivis.stages.graph`).

:func:`wire` turns each :class:`~wikivis.stages.graph.StageSpec` into one task (task id =
the spec's name) with the spec's pool, queue, assets and trigger rule, mapped the way its
scope says: ``wiki`` steps over the work items, ``plan`` steps over the items and then
flattened into shards, ``shard`` steps over the shards, ``run`` steps once on the cross-wiki
``run``.  ``wikivis_nightly`` and ``wikivis_backfill`` wire :data:`~wikivis.stages.graph.NIGHTLY`,
``wikivis_events`` wires ``EVENTS`` and ``wikivis_training`` ``TRAINING``; a test wires a
graph with a toy stage the same way.

Each task body builds the settings once (:func:`wikivis_airflow.hooks.task_settings`: the
deployment's TOML and variables, the connections, the task's pool share), opens the run
context and calls the spec's step, imported inside the task so DAG parsing never loads
pyarrow or torch.  Tasks pass *items* through XCom — small dicts of ids:
``{"wiki", "run_id", "dump_date", "until", "snapshot", ...}`` — never data.  A backfill item
may also carry the form's choices (``stages``, ``force``, ``dry_run``, ``max_images``); a
step that was not chosen passes its input through, so the graph is the same for both DAGs.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import XComArg, task, teardown

from wikivis.stages.graph import NIGHTLY, Graph, StageSpec

Item = dict[str, Any]


def replica_engine_factory() -> Any:
    """The ``wikivis_replicas`` connection's ``get_conn`` (wiki → engine), or None when the
    connection does not exist: the wiki's ingest source setting decides what is used."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    from wikivis_airflow.hooks import REPLICAS_CONN_ID, WikiReplicasHook

    hook = WikiReplicasHook()
    try:
        hook.get_connection(REPLICAS_CONN_ID)
    except AirflowNotFoundException:
        return None
    return hook.get_conn


def run_step(spec: StageSpec, item: Item, run: Item | None = None) -> Any:
    """One task's work: settings from the hooks, the run context, the spec's step."""
    from wikivis.stages.run import RunContext
    from wikivis_airflow.hooks import task_settings

    value = {**run, **item} if run is not None else item
    settings = task_settings(spec.pool)
    engines = replica_engine_factory() if spec.name == "ingest" else None
    ctx = RunContext.open(settings, str(value["run_id"]), replica_engine=engines)
    return spec.execute(ctx, value)


def _task_kwargs(spec: StageSpec) -> dict[str, Any]:
    from wikivis_airflow.defaults import ASSETS

    kwargs: dict[str, Any] = {"task_id": spec.name}
    if spec.pool:
        kwargs["pool"] = spec.pool
    if spec.queue:
        kwargs["queue"] = spec.queue
    if spec.trigger_rule:
        kwargs["trigger_rule"] = spec.trigger_rule
    if spec.inlets:
        kwargs["inlets"] = [ASSETS[uri] for uri in spec.inlets]
    if spec.outlets:
        kwargs["outlets"] = [ASSETS[uri] for uri in spec.outlets]
    if spec.one_at_a_time:
        kwargs["max_active_tis_per_dagrun"] = 1
    return kwargs


def make_task(spec: StageSpec) -> Any:
    """The ``@task`` of one spec (a fresh decorator per DAG)."""
    if spec.scope == "shard":
        def shard_step(shard: Item) -> Any:
            return run_step(spec, shard)

        return task(**_task_kwargs(spec))(shard_step)
    if spec.scope == "run":
        def run_scope_step(run: Item) -> Any:
            return run_step(spec, run)

        return task(**_task_kwargs(spec))(run_scope_step)

    def wiki_step(item: Item, run: Item | None = None) -> Any:
        return run_step(spec, item, run)

    return task(**_task_kwargs(spec))(wiki_step)


@task
def flatten(shard_lists: list[list[Item]]) -> list[Item]:
    # a slice reads the mapped results in one request; iterating probes one index past the end,
    # which the task SDK logs as an error ("XCom not found")
    return [shard for shards in shard_lists[:] for shard in shards]


@task
def newest_per_wiki(items: list[Item]) -> list[Item]:
    from wikivis import orchestration

    return orchestration.newest_per_wiki(list(items[:]))  # one request, see flatten()


def write_reports(items: list[Item] | None, run: Item | None, ti: Any = None) -> list[str]:
    """Made a teardown by :func:`wire`: it runs once everything before it is done, whatever
    the outcome (a failed gate is what a report is for), and does not decide the run's state.

    It first ends the catalog runs of this DAG run (``failed`` when a task failed for good —
    a try that Airflow retries never fails a run — else ``success``, published or not), then
    writes their reports.  ``items``/``run`` are ``None`` when the task producing them failed
    (a backfill whose ``validate_request`` refused the form): nothing started, nothing to do."""
    from wikivis import orchestration
    from wikivis_airflow.hooks import task_settings

    settings = task_settings()
    run_ids = orchestration.run_ids_of(items, run)
    if run_ids and ti is not None:
        orchestration.end_dag_run(settings, run_ids, _task_states(ti), ignore=str(ti.task_id))
    return orchestration.write_reports(settings, run_ids)


def _task_states(ti: Any) -> dict[str, Any]:
    """States of every task instance of this DAG run (through the Task SDK, no DB access)."""
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id])
    return dict(states.get(ti.run_id, {}))


def wire(items: XComArg, run: XComArg | None, *, after: Any = None, graph: Graph = NIGHTLY,
         report: bool = True) -> dict[str, Any]:
    """Add the tasks of ``graph`` for the work ``items`` (a task's list of items); ``run`` is
    the cross-wiki ``{"run_id", ...}``; ``after`` (a task or mapped task) must finish before
    the first steps start; ``report`` adds the ``write_reports`` teardown after the leaves.
    Returns every node by task id."""
    scopes = {spec.name: spec.scope for spec in graph}
    outputs: dict[str, Any] = {}  # name → what the next step receives
    nodes: dict[str, Any] = {}  # name → the task node, for ordering
    for spec in graph:
        wanted = {"wiki": ("wiki",), "plan": ("wiki",), "shard": ("plan", "shard"), "run": ("run",)}[spec.scope]
        source = next((a for a in spec.after if scopes.get(a) in wanted), None)
        made = make_task(spec)
        if spec.scope == "run":
            node = out = made(outputs[source] if source else run)
        elif spec.scope == "shard":
            if source is None:
                raise ValueError(f"shard step {spec.name} must come after a plan or shard step")
            node = out = made.expand(shard=outputs[source])
        else:
            upstream: Any = outputs[source] if source else items
            if spec.newest_only:
                upstream = newest_per_wiki(upstream)
            run_dep = next((a for a in reversed(spec.after) if scopes.get(a) == "run"), None)
            node = (made.partial(run=outputs[run_dep]) if run_dep else made).expand(item=upstream)
            out = node
            if spec.scope == "plan":
                out = flatten(node)
        if not spec.after and after is not None:
            after >> node
        for dep in spec.after:
            if dep == source or (spec.scope != "run" and scopes.get(dep) == "run"):
                continue  # the input, or the run item given through ``partial``
            nodes[dep] >> node
        outputs[spec.name], nodes[spec.name] = out, node
    if report:
        leaves = [nodes[s.name] for s in graph if not any(s.name in o.after for o in graph)]
        # a fresh decorator per DAG: calling a teardown decorator stores its trigger rule on the
        # decorator itself, so one module-level instance cannot be used by a second DAG
        reported = teardown(task(retries=0)(write_reports))(items, run)
        leaves >> reported
        nodes["write_reports"] = reported
    return nodes

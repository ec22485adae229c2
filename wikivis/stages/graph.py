"""The stage graph: the only place the order of the stages is written.

A :class:`Graph` is a tuple of :class:`StageSpec` in execution order.  Each spec names its
step (``step(ctx, item) -> item``, one call into a stage module), what it runs after, how it
fans out, and what an orchestrator must know about it (pool, queue, assets, trigger rule).
Everything that needs the order is generated from a graph:

* :func:`run_all` — every stage in this process (CLI ``wikivis run``, the demo without Airflow);
* ``plugins/wikivis_airflow/stages.wire`` — the Airflow tasks of ``wikivis_nightly``,
  ``wikivis_backfill``, ``wikivis_events`` and ``wikivis_training``;
* :data:`wikivis.orchestration.STAGES` — the stages a backfill can select (``select``);
* the CLI's ``status`` and the monitoring page — the stage list, in order (:meth:`Graph.stage_names`).

Scopes.  ``wiki`` steps run once per work item (one wiki at one interval) and pass the item
on; ``plan`` steps return a list of shard items; ``shard`` steps run once per shard; ``run``
steps run once per orchestrator run across wikis (the index holds every wiki) and receive the
cross-wiki run item.  A step's *input* is the output of its first ``after`` of a compatible
scope; the others only order it.  A ``wiki`` step after a ``run`` step also gets the run
item's values (``index_version``) merged under its own.

Adding a stage: one module in ``wikivis/stages/`` and one :class:`StageSpec` line here (or,
at test time, :meth:`Graph.with_stage` — a new graph, nothing global changes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from wikivis.stages import annotate, commons, ingest, publish, vectors
from wikivis.stages.run import Item, RunContext, finish_runs

if TYPE_CHECKING:
    from wikivis.config import Settings

Scope = Literal["wiki", "plan", "shard", "run"]
Step = Callable[[RunContext, Item], Any]

#: asset URIs (the Airflow adapter turns them into ``Asset`` objects)
DUMP_READY = "wikivis://dumps/ready"
LAKE_SNAPSHOT = "wikivis://lake/article_images"
EMBEDDINGS = "wikivis://embeddings"
INDEX = "wikivis://index"
#: dumps.wikimedia.org allows 2 connections per IP: every ingest task (nightly, backfill, any
#: wiki) shares them, each slot with its share of ``dumps_max_connections``
DUMPS_POOL = "dumps"
COMMONS_API_POOL = "commons_api"
COMMONS_UPLOAD_POOL = "commons_upload"
GPU_QUEUE = "gpu"


def selected(item: Mapping[str, Any], select: str, *, gate: bool = False) -> bool:
    """Whether a step of backfill stage ``select`` (its work, or with ``gate`` its gate) runs
    for ``item``: scheduled items carry no choices (every stage runs); a ``dry_run`` item runs
    only the (dry) ingest itself."""
    if item.get("dry_run") and (gate or select != "ingest"):
        return False
    chosen = item.get("stages")
    return chosen is None or select in chosen


def _keep(item: Item) -> Item:
    return item


@dataclass(frozen=True)
class StageSpec:
    """One step of the graph."""

    #: task id under Airflow
    name: str
    step: Step
    after: tuple[str, ...] = ()
    scope: Scope = "wiki"
    #: the backfill stage (``orchestration.STAGES``) that selects this step; "" = always runs
    select: str = ""
    #: a gate: skipped on a dry run
    gate: bool = False
    #: backfill pick-list label, on the first step of a ``select`` group
    label: str = ""
    #: the name of its catalog stage run, when it differs from ``name``
    record: str = ""
    #: what the step returns when it is not selected
    skip: Callable[[Item], Any] = _keep
    #: take only the newest snapshot of each wiki (what a run publishes)
    newest_only: bool = False
    pool: str | None = None
    queue: str | None = None
    trigger_rule: str | None = None
    inlets: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    #: at most one mapped instance at a time per run (one EventStreams consumer)
    one_at_a_time: bool = False

    @property
    def stage_name(self) -> str:
        return self.record or self.name

    def execute(self, ctx: RunContext, item: Item) -> Any:
        if self.select and not selected(item, self.select, gate=self.gate):
            return self.skip(item)
        return self.step(ctx, item)


@dataclass(frozen=True)
class Graph:
    specs: tuple[StageSpec, ...]
    #: steps a plain run adds after the graph (under Airflow: the training DAG's job)
    tail: tuple[StageSpec, ...] = field(default=())

    def __iter__(self) -> Iterator[StageSpec]:
        return iter(self.specs)

    def __getitem__(self, name: str) -> StageSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def stage_names(self) -> list[str]:
        """Catalog stage names in order (what ``status`` and the monitoring page list)."""
        return list(dict.fromkeys(s.stage_name for s in (*self.specs, *self.tail)))

    def selectable(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.select for s in self.specs if s.select))

    def labels(self) -> dict[str, str]:
        return {s.select: s.label for s in self.specs if s.select and s.label}

    def with_stage(self, spec: StageSpec, *, feeds: tuple[str, ...] = ()) -> Graph:
        """A new graph with ``spec`` inserted after its last ``after`` and made a dependency of ``feeds``."""
        names = self.names()
        at = max((names.index(a) for a in spec.after), default=-1) + 1
        specs = [replace(s, after=(*s.after, spec.name)) if s.name in feeds else s for s in self.specs]
        return replace(self, specs=(*specs[:at], spec, *specs[at:]))

    def only(self, *names: str, after: Mapping[str, tuple[str, ...]] | None = None, **changes: Any) -> Graph:
        """The sub-graph of ``names`` (dependencies outside it dropped, or replaced by ``after``)."""
        keep = set(names)
        out = []
        for s in self.specs:
            if s.name in keep:
                deps = (after or {}).get(s.name, tuple(a for a in s.after if a in keep))
                out.append(replace(s, after=deps, **changes.get(s.name, {})))
        return Graph(tuple(out))


def default_until(snapshot: str) -> str:
    """EventStreams window end of a plain run: the day after the dump."""
    return (datetime.strptime(snapshot[:8], "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=1)).isoformat()


# --------------------------------------------------------------------------- steps: item in, item out
def _ingest(ctx: RunContext, item: Item) -> Item:
    out = ingest.ingest(ctx, item["wiki"], item["dump_date"], force=item.get("force", False),
                        dry_run=item.get("dry_run", False), engine_factory=ctx.replica_engine)
    return {**item, "snapshot": out["snapshot"]}


def _gate_tables(ctx: RunContext, item: Item) -> Item:
    ingest.gate_tables(ctx, item["wiki"], item["snapshot"])
    return item


def _events(ctx: RunContext, item: Item) -> Item:
    until = item.get("until") or default_until(item["snapshot"])
    return {**item, "snapshot": ingest.events_catchup(ctx, item["wiki"], item["snapshot"], until=until)["snapshot"]}


def _gate_events(ctx: RunContext, item: Item) -> Item:
    ingest.gate_events(ctx, item["wiki"], item["snapshot"])
    return item


def _captions(ctx: RunContext, item: Item) -> Item:
    annotate.captions(ctx, item["wiki"], item["snapshot"])  # its gate runs inside
    return item


def _wikidata(ctx: RunContext, item: Item) -> Item:
    annotate.wikidata(ctx, item["wiki"], item["snapshot"])  # its gate runs inside
    return item


def _plan_media(ctx: RunContext, item: Item) -> list[Item]:
    return commons.plan_commons(ctx, item["wiki"], item["snapshot"], max_images=item.get("max_images", 0))


def _fetch_metadata(ctx: RunContext, shard: Item) -> Item:
    commons.fetch_metadata_shard(ctx, shard["wiki"], shard["snapshot"], shard["shard"], shard["n_shards"],
                                 max_images=shard.get("max_images", 0))
    return shard


def _fetch_media(ctx: RunContext, shard: Item) -> Item:
    commons.fetch_media_shard(ctx, shard["wiki"], shard["snapshot"], shard["shard"], shard["n_shards"])
    return shard


def _merge_commons(ctx: RunContext, item: Item) -> Item:
    commons.merge_commons(ctx, item["wiki"], item["snapshot"])
    return item


def _gate_media(ctx: RunContext, item: Item) -> Item:
    commons.gate_media(ctx, item["wiki"], item["snapshot"])
    return item


def _embed(ctx: RunContext, item: Item) -> Item:
    return {**item, "model_id": vectors.embed(ctx, item["wiki"], item["snapshot"])["model_id"]}


def _gate_embeddings(ctx: RunContext, run: Item) -> Item:
    vectors.gate_embeddings(ctx)
    return run


def _build_index(ctx: RunContext, run: Item) -> Item:
    return {**run, "index_version": str(vectors.build_index(ctx)["version"])}


def _gate_index(ctx: RunContext, run: Item) -> Item:
    if run.get("index_version"):
        vectors.gate_index(ctx, run["index_version"])
    return run


def _publish(ctx: RunContext, item: Item) -> Item:
    publish.publish(ctx, item["wiki"], item["snapshot"], index_version=item.get("index_version"))
    return item


def _train(ctx: RunContext, item: Item) -> Item:
    publish.train_recommender(ctx, item["wiki"])
    return item


def _evaluate(ctx: RunContext, item: Item) -> Item:
    return {**item, "eval": publish.evaluate(ctx, item["wiki"])["metrics"]}


def _train_candidate(ctx: RunContext, item: Item) -> Item:
    return {**item, "version": publish.train_candidate(ctx, item["wiki"])["version"]}


def _promote(ctx: RunContext, item: Item) -> Item:
    publish.promote_candidate(ctx, item["wiki"], item["version"])
    return item


def _no_shards(_item: Item) -> list[Item]:
    return []


def _dump_snapshot(item: Item) -> Item:
    return {"snapshot": item["dump_date"], **item}


# --------------------------------------------------------------------------- the graphs
NIGHTLY = Graph(
    (
        StageSpec("ingest", _ingest, select="ingest", label="ingest: dump → lake tables", skip=_dump_snapshot,
                  inlets=(DUMP_READY,), outlets=(LAKE_SNAPSHOT,), pool=DUMPS_POOL),
        StageSpec("gate_tables", _gate_tables, ("ingest",), select="ingest", gate=True),
        StageSpec("events_catchup", _events, ("gate_tables",), select="events", record="events",
                  label="events: EventStreams catch-up", outlets=(LAKE_SNAPSHOT,), one_at_a_time=True),
        StageSpec("gate_events", _gate_events, ("events_catchup",), select="events", gate=True),
        StageSpec("captions", _captions, ("gate_events",), select="captions",
                  label="captions: captions and alt text from wikitext, file captions"),
        StageSpec("wikidata", _wikidata, ("gate_events",), select="wikidata",
                  label="wikidata: P18, P373 and cross-wiki lead images of the articles' items"),
        StageSpec("plan_media_shards", _plan_media, ("gate_events",), scope="plan", select="media",
                  record="plan_media", label="media: Commons metadata + thumbnails", skip=_no_shards),
        StageSpec("fetch_metadata", _fetch_metadata, ("plan_media_shards",), scope="shard", select="media",
                  record="metadata", pool=COMMONS_API_POOL),
        StageSpec("fetch_media", _fetch_media, ("fetch_metadata",), scope="shard", select="media", record="media",
                  pool=COMMONS_UPLOAD_POOL),
        StageSpec("merge_commons", _merge_commons, ("gate_events", "fetch_media"), select="media",
                  trigger_rule="none_failed_min_one_success"),  # runs when a wiki has no shard to fetch
        StageSpec("gate_media", _gate_media, ("merge_commons",), select="media", gate=True),
        StageSpec("embed", _embed, ("gate_media",), select="embed", label="embed: image vectors (GPU queue)",
                  queue=GPU_QUEUE, inlets=(LAKE_SNAPSHOT,), outlets=(EMBEDDINGS,)),
        StageSpec("gate_embeddings", _gate_embeddings, ("embed",), scope="run", select="embed", gate=True),
        StageSpec("build_index", _build_index, ("gate_embeddings",), scope="run", select="index",
                  label="index: build + recall gate", inlets=(EMBEDDINGS,), outlets=(INDEX,)),
        StageSpec("gate_index", _gate_index, ("build_index",), scope="run"),
        StageSpec("publish", _publish, ("gate_media", "captions", "wikidata", "gate_index"), select="publish",
                  label="publish: move the current pointers", newest_only=True),
    ),
    tail=(
        StageSpec("train", _train, ("publish",)),
        StageSpec("evaluate", _evaluate, ("train",)),
    ),
)

#: every 30 minutes: EventStreams onto the published snapshot, gated, published (no index)
EVENTS = NIGHTLY.only("events_catchup", "gate_events", "publish", after={"publish": ("gate_events",)},
                      publish={"newest_only": False})

#: weekly: a CuratorNet candidate behind the evaluation gate
TRAINING = Graph(
    (
        StageSpec("train_candidate", _train_candidate, queue=GPU_QUEUE, record="train_candidate"),
        StageSpec("promote", _promote, ("train_candidate",)),
    )
)


# --------------------------------------------------------------------------- a plain run
def _input(graph: Graph, spec: StageSpec, outputs: dict[str, Any], start: Item, run: Item) -> Any:
    scopes = {s.name: s.scope for s in (*graph.specs, *graph.tail)}
    want = {"wiki": ("wiki",), "plan": ("wiki",), "shard": ("plan", "shard"), "run": ("run",)}[spec.scope]
    source = next((a for a in spec.after if scopes.get(a) in want and a in outputs), None)
    value = outputs[source] if source else (run if spec.scope == "run" else start)
    if spec.scope == "wiki":
        run_dep = next((a for a in reversed(spec.after) if scopes.get(a) == "run" and a in outputs), None)
        if run_dep:
            value = {**outputs[run_dep], **value}
    return value


def run_graph(ctx: RunContext, graph: Graph, item: Item, run: Item | None = None) -> dict[str, Any]:
    """Every step of ``graph`` (then its tail) for one work ``item``, in order; returns each
    step's output by name.  Shards run one after the other."""
    outputs: dict[str, Any] = {}
    run = run if run is not None else {"run_id": ctx.run_id}
    for spec in (*graph.specs, *graph.tail):
        value = _input(graph, spec, outputs, item, run)
        if spec.scope == "shard":
            outputs[spec.name] = [spec.execute(ctx, shard) for shard in value]
        else:
            outputs[spec.name] = out = spec.execute(ctx, value)
            if spec.scope == "wiki" and isinstance(out, dict) and out.get("snapshot"):
                ctx = ctx.with_snapshot(str(out["snapshot"]))  # the run's snapshot, once known
    return outputs


def run_all(settings: Settings, *, wikis: list[str] | None = None, date: str = "latest", until: str | None = None,
            run_id: str | None = None, events: bool = True, graph: Graph = NIGHTLY) -> dict[str, Any]:
    """The main job without Airflow: every stage of ``graph``, in order, for each wiki."""
    from wikivis.stages.publish import write_report

    wikis = wikis or list(settings.wikis)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result: dict[str, Any] = {"wikis": {}}
    index: dict[str, Any] = {}
    choices: Item = {} if events else {"stages": [s for s in graph.selectable() if s != "events"]}
    for wiki in wikis:
        rid = run_id or f"run__{wiki}__{stamp}"
        ctx = RunContext.open(settings, rid)
        item = {"wiki": wiki, "run_id": rid, "dump_date": date, "until": until, **choices}
        try:
            outputs = run_graph(ctx, graph, item, {"run_id": rid, **choices})
            report = write_report(ctx)
        except BaseException as exc:
            # nothing retries a stage here: the run failed (KeyboardInterrupt included)
            finish_runs(settings, [rid], failed=True, reason=None if isinstance(exc, Exception) else "interrupted")
            raise
        last = outputs.get("publish") or {}
        index = {"version": (outputs.get("gate_index") or {}).get("index_version")}
        result["wikis"][wiki] = {"run_id": rid, "snapshot": last.get("snapshot"), "report": report["html"],
                                 "eval": (outputs.get("evaluate") or {}).get("eval")}
    result["index"] = index
    return result

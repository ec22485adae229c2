"""``catch_up``: a base lake snapshot + the EventStreams events up to ``until`` → a new snapshot.

What one run does (the pipeline's ``events_catchup`` stage, or ``wikivis events pull``):

1. **Where to start.**  The catalog checkpoint ``("eventstreams", wiki)`` holds the positions
   (``Last-Event-ID``) reached by the run that *wrote* a snapshot, with that snapshot's id and
   window end.  It is used only when it belongs to ``base_snapshot``; otherwise (first run,
   the base is a fresh dump, or the last delta was never published because a gate failed)
   the run replays from the base snapshot's time with ``since`` — replaying is always safe,
   because applying means re-reading the current state of the named pages (idempotent).
   An explicit ``since`` overrides both.
2. **Gaps are errors, never skipped.**  A start older than ``Settings.events_replay_days``
   before ``until`` cannot be replayed (the server's retention counts from *its* now, which is
   at least ``until``; pass ``now`` to count from the wall clock too).  The wiki is then marked
   stale in the catalog and :class:`~wikivis.errors.StaleCheckpointError` says how to
   reconcile (a dump or the replicas).  The same happens when the server starts later than
   asked — its first message is more than ``Settings.events_gap_slack_s`` after the start —
   because a position beyond its retention silently starts at its oldest message.
3. **Read the window** (:class:`~wikivis.sources.eventstreams.StreamReader`): one composite
   connection; canaries and other wikis dropped (most of them before JSON decoding: data
   that names neither wiki is only scanned for its topic); ``meta.dt >= until`` deferred to
   the next run (the topic's checkpoint stays before it); duplicates (two datacentres,
   reconnects) dropped on ``meta.id``; the rest builds the dirty set
   (:mod:`wikivis.events.dirty`).
4. **Re-read and apply** (:mod:`wikivis.events.refresh`, :mod:`wikivis.events.apply`) onto the
   base snapshot's pages / article_images / article_categories (article wiki) and files (file
   wiki, newest snapshot at or before the base; scope "all" like the dump ingest and the
   replica pull's default, or "used" — ``CatchUpOptions.files_scope``).
5. **Write, then checkpoint.**  The four datasets are written (``Lake.write``: atomic,
   idempotent) as snapshot ``YYYYMMDDTHHMMSSZ`` of ``until`` — always this form, midnight
   too, so an event snapshot never takes the id of a dump snapshot (``20261102`` sorts before
   ``20261102T000000Z``: the dump of a day, then the events-derived state of the same
   instant).  Only then does the checkpoint move.  A crash in between leaves the old
   checkpoint: the rerun replays the same events and rewrites byte-identical files.  Publishing
   (the ``current`` pointers) is the pipeline's job, after its gates.

6. **De-duplicate across runs.**  Resuming is at-least-once: the next run sees again the
   events a deferred boundary pinned (a late event read after the first deferred one of its
   topic), the other datacentre's copy of an event applied just before the end, and whatever
   the server replays after a reconnect.  The checkpoint therefore carries the meta ids
   applied in the tail of the window (Kafka time from the earliest pin, or ``until``, minus
   the lateness; at most ``Settings.events_replay_ids_max``), and the next run that resumes
   from it does not apply them again (``CatchUpResult.replayed``).  Every applied id is also
   written to the ``events_applied`` dataset of the snapshot (one row per event: id, wiki,
   stream, topic, partition, Kafka time, ``meta.dt``) so an operator can audit a run; it is
   published and pruned with the snapshot (``Settings.retention_snapshots``).
7. **Stale checkpoints** (:class:`~wikivis.errors.StaleCheckpointError`) are not retried by
   Airflow (a retry reads the same checkpoint).  The stale mark records the window of lost
   events; the next dump or replica ingest calls :func:`reconcile`, which resets the
   checkpoint to that snapshot's time, clears the mark and appends the gap to the
   ``eventstreams.gaps`` list that the monitoring page shows (:func:`event_gaps`).

Airflow: :func:`checkpoint_value` is the string to mirror into the asset state store.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests

from wikivis import vocab
from wikivis.config import Settings, check_wiki_name
from wikivis.errors import InputError, NotFoundError, StaleCheckpointError
from wikivis.events.apply import (
    FILES_SCOPES,
    OPTIONAL_PAGE_DATASETS,
    PAGE_DATASETS,
    apply_files,
    apply_pages,
    files_to_fetch,
    used_names,
)
from wikivis.events.dirty import DirtySet
from wikivis.events.refresh import PageReader, read_files
from wikivis.sources.commons import ActionApiClient
from wikivis.sources.eventstreams import (
    DEFAULT_STREAMS,
    EventFilter,
    Received,
    StreamReader,
    Window,
    aware,
    iso,
    parse_dt,
    parse_event_id,
    to_ms,
)
from wikivis.sources.http import RetryPolicy, policy_from_settings, polite_session

if TYPE_CHECKING:
    from wikivis.catalog import Catalog
    from wikivis.lake import Lake

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "eventstreams"
#: catalog mark of a wiki whose events cannot be replayed (value: JSON reason, "" when fine)
STALE_MARK = "eventstreams.stale"
#: catalog list (JSON) of the windows of lost events, reconciled by a dump or replica snapshot
GAPS_NAME = "eventstreams.gaps"
#: how many reconciled gaps are kept per wiki
MAX_GAPS = 50
#: the audit dataset: the meta.ids each run applied
AUDIT_DATASET = "events_applied"


# --------------------------------------------------------------------------- snapshot ids
def snapshot_time(snapshot: str) -> datetime:
    """``20261101`` → 2026-11-01T00:00Z (a dump holds the state at 00:00 UTC of its date);
    ``20261101T120000Z`` → that instant."""
    instant = vocab.snapshot_time(snapshot)
    if instant is not None:
        return instant
    raise InputError(f"not a snapshot id: {snapshot!r} (expected YYYYMMDD or YYYYMMDDTHHMMSSZ)")


def snapshot_id(until: datetime) -> str:
    """The id of the snapshot an event window ending at ``until`` produces."""
    return aware(until).strftime("%Y%m%dT%H%M%SZ")


# --------------------------------------------------------------------------- checkpoint
@dataclass(frozen=True)
class Checkpoint:
    """What the catalog stores: the positions, the window end they complete, the snapshot."""

    last_event_id: str | None
    until: datetime
    snapshot: str | None
    #: meta.ids applied in the window's tail: the next run's replay of them is not applied
    replay_ids: tuple[str, ...] = ()

    def to_value(self) -> str:
        value: dict[str, Any] = {"last_event_id": self.last_event_id, "until": iso(self.until), "snapshot": self.snapshot}
        if self.replay_ids:
            value["replay_ids"] = sorted(self.replay_ids)
        return json.dumps(value, sort_keys=True)

    @classmethod
    def from_value(cls, value: str) -> Checkpoint:
        """Parse a stored value: the JSON envelope, or a bare ``Last-Event-ID`` array (then the
        window end is taken as its newest timestamp and it belongs to any base)."""
        source = f"catalog checkpoint {CHECKPOINT_NAME}"
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise InputError(f"unreadable checkpoint {value[:120]!r}", source=source) from exc
        if isinstance(data, list):
            entries = parse_event_id(value, source=source)
            stamps = [int(e["timestamp"]) for e in entries.values() if e.get("timestamp") is not None]
            if not stamps:
                raise InputError("a bare Last-Event-ID checkpoint needs timestamps", source=source)
            return cls(value, datetime.fromtimestamp(max(stamps) / 1000, UTC), None)
        if not isinstance(data, dict) or parse_dt(data.get("until")) is None:
            raise InputError(f"unreadable checkpoint {value[:120]!r}", source=source)
        raw = data.get("last_event_id")
        if raw is not None:
            parse_event_id(raw, source=source)
        until = parse_dt(data["until"])
        assert until is not None
        replay = data.get("replay_ids") or []
        if not isinstance(replay, list) or not all(isinstance(i, str) for i in replay):
            raise InputError(f"replay_ids is not a list of event ids: {str(replay)[:120]!r}", source=source)
        return cls(raw, until, data.get("snapshot"), tuple(replay))


def checkpoint_value(catalog: Catalog, wiki: str) -> str | None:
    """The stored checkpoint (JSON), e.g. to mirror into Airflow's asset state store."""
    return catalog.get_checkpoint(CHECKPOINT_NAME, wiki)


def stale_reason(catalog: Catalog, wiki: str) -> str | None:
    """Why ``wiki`` is marked stale, or None."""
    value = catalog.get_checkpoint(STALE_MARK, wiki)
    return value or None


# --------------------------------------------------------------------------- result
@dataclass
class CatchUpResult:
    wiki: str
    base_snapshot: str
    snapshot: str
    events_read: int = 0  # messages received (all streams, all wikis, duplicates included)
    events_applied: int = 0  # relevant, in the window, first time seen
    duplicates: int = 0
    dirty_pages: int = 0
    dirty_files: int = 0
    reconnects: int = 0
    replayed: int = 0  # events the previous run applied (its checkpoint's replay ids), not applied again
    connections: int = 0
    resent: int = 0  # messages the server sent again in this run (at or behind their position)
    checkpoint: str | None = None
    start: str = ""  # where the window started (ISO)
    start_from: str = ""  # checkpoint | base | since
    until: str = ""
    deferred: int = 0  # events of meta.dt >= until, left for the next run
    dropped: int = 0  # canaries + other wikis
    malformed: int = 0
    stop_reason: str = ""
    files_wiki: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    api_requests: int = 0
    seconds: float = 0.0
    #: politeness counters per client: ``eventstreams`` (the SSE reader), ``action_api`` (re-reads)
    http: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CatchUpOptions:
    """Tunables of the reader (defaults from :class:`~wikivis.config.Settings`)."""

    lateness_s: float
    skew_s: float
    gap_slack_s: float
    idle_timeout_s: float
    read_timeout_s: float
    #: "all": files is the file wiki's whole image table (the dump ingest); "used": only the
    #: files the articles use (the replica pull)
    files_scope: str = "all"
    max_connections: int = 500
    max_run_s: float = 3 * 3600.0
    replay_ids_max: int = 1500

    def __post_init__(self) -> None:
        if self.files_scope not in FILES_SCOPES:
            raise ValueError(f"files_scope must be one of {FILES_SCOPES}, not {self.files_scope!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> CatchUpOptions:
        return cls(
            lateness_s=settings.events_lateness_s,
            skew_s=settings.events_skew_s,
            gap_slack_s=settings.events_gap_slack_s,
            idle_timeout_s=settings.events_idle_timeout_s,
            read_timeout_s=settings.events_read_timeout_s,
            max_connections=settings.events_max_connections,
            max_run_s=settings.events_max_run_s,
            replay_ids_max=settings.events_replay_ids_max,
        )


# --------------------------------------------------------------------------- the run
def _mark_stale(catalog: Catalog, wiki: str, message: str, start: datetime, lost_until: datetime) -> StaleCheckpointError:
    """Record the window of lost events ``[start, lost_until)`` and build the error."""
    catalog.set_checkpoint(STALE_MARK, wiki, json.dumps(
        {"since": iso(start), "lost_until": iso(lost_until), "reason": message}, sort_keys=True))
    return StaleCheckpointError(
        f"{wiki}: {message}. The events in between cannot be replayed (not retried): the next dump or "
        f"replica ingest reconciles the wiki (`wikivis dumps ingest --wiki {wiki}` or `wikivis replica pull "
        f"--wiki {wiki}`; the nightly run does it), then catch up from that snapshot."
    )


def _files_base(lake: Lake, files_wiki: str, base_snapshot: str) -> str:
    older = [s for s in lake.snapshots("files", files_wiki) if s <= base_snapshot]
    if not older:
        raise NotFoundError(f"no files snapshot of {files_wiki} at or before {base_snapshot} in {lake.root}")
    return older[-1]


def catch_up(
    settings: Settings,
    wiki: str,
    *,
    base_snapshot: str,
    until: datetime,
    lake: Lake,
    catalog: Catalog,
    run_id: str | None = None,
    session: requests.Session | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    streams: tuple[str, ...] = DEFAULT_STREAMS,
    policy: RetryPolicy | None = None,
    options: CatchUpOptions | None = None,
) -> CatchUpResult:
    """Apply the events of ``(start, until)`` onto ``base_snapshot``; write snapshot
    ``snapshot_id(until)``; then move the checkpoint.  See the module docstring."""
    started = time.perf_counter()
    check_wiki_name(wiki)
    until = aware(until)
    options = options or CatchUpOptions.from_settings(settings)
    files_wiki = settings.commons_wiki
    snapshot = snapshot_id(until)
    base_time = snapshot_time(base_snapshot)
    result = CatchUpResult(wiki=wiki, base_snapshot=base_snapshot, snapshot=snapshot, until=iso(until), files_wiki=files_wiki)

    # 1. where to start
    stored = catalog.get_checkpoint(CHECKPOINT_NAME, wiki)
    checkpoint = Checkpoint.from_value(stored) if stored else None
    last_event_id: str | None = None
    if since is not None:
        start, result.start_from = aware(since), "since"
    elif checkpoint is not None and checkpoint.snapshot in (None, base_snapshot):
        start, result.start_from, last_event_id = checkpoint.until, "checkpoint", checkpoint.last_event_id
    else:
        start, result.start_from = base_time, "base"
    result.start = iso(start)
    if until <= start:
        raise InputError(f"{wiki}: until={iso(until)} is not after the start of the window ({iso(start)}, {result.start_from})")

    # 2. retention
    reference = max(until, aware(now)) if now is not None else until
    oldest = reference - timedelta(days=settings.events_replay_days)
    if start < oldest:
        raise _mark_stale(
            catalog, wiki,
            f"the events start at {iso(start)} ({result.start_from}), older than the "
            f"{settings.events_replay_days:g}-day replay window of EventStreams (oldest {iso(oldest)})",
            start, oldest,
        )

    own_run = run_id is None
    if own_run:
        run_id = catalog.start_run("events", wiki, {"base_snapshot": base_snapshot, "until": iso(until)})
    http = session or polite_session(settings)
    try:
        policy = policy or policy_from_settings(settings)

        # 3. read the window
        reader = StreamReader(
            settings.eventstreams_url,
            streams,
            session=http,
            window=Window(until, timedelta(seconds=options.lateness_s), timedelta(seconds=options.skew_s)),
            last_event_id=last_event_id,
            since=start if last_event_id is None else None,
            policy=policy,
            read_timeout_s=options.read_timeout_s,
            idle_timeout_s=options.idle_timeout_s,
            prefilter=(wiki, files_wiki),
            start=start,
            max_connections=options.max_connections,
            max_run_s=options.max_run_s,
        )
        filt = EventFilter(frozenset({wiki, files_wiki}))
        dirty = DirtySet(wiki, files_wiki)
        carried = frozenset(checkpoint.replay_ids) if checkpoint is not None and result.start_from == "checkpoint" else frozenset()
        applied: list[tuple[str, Received]] = []
        recent: dict[Any, deque[str]] = {}
        deferred_ids: set[str] = set()
        for message in reader:
            event = message.event
            if not filt.relevant(event):
                continue
            meta = event.get("meta") or {}
            event_id = meta.get("id")
            dt = parse_dt(meta.get("dt"))
            if dt is not None and dt >= until:
                reader.defer(message)
                if event_id is None or event_id not in deferred_ids:  # a replayed copy is not deferred twice
                    result.deferred += 1
                    if event_id is not None:
                        deferred_ids.add(event_id)
                continue
            if isinstance(event_id, str):  # the newest handled ids of each topic-partition
                recent.setdefault(message.key, deque(maxlen=REPLAY_PER_PARTITION)).append(event_id)
            if event_id in carried:  # the previous run applied it: the at-least-once replay
                result.replayed += 1
                continue
            if filt.first_time(event):
                dirty.add(event)
                if isinstance(event_id, str):
                    applied.append((event_id, message))
        stats = reader.stats
        result.events_read = stats.messages
        result.reconnects = stats.reconnects
        result.connections = stats.connections
        result.resent = stats.replayed
        result.malformed = stats.malformed
        result.stop_reason = stats.stop_reason
        result.duplicates = filt.stats.duplicates
        result.events_applied = filt.stats.accepted
        result.dropped = filt.stats.canaries + filt.stats.other_wikis + stats.prefiltered
        if stats.first_kafka_ms is not None and stats.first_kafka_ms - to_ms(start) > options.gap_slack_s * 1000:
            first = datetime.fromtimestamp(stats.first_kafka_ms / 1000, UTC)
            raise _mark_stale(
                catalog, wiki,
                f"EventStreams started at {iso(first)}, {(stats.first_kafka_ms - to_ms(start)) / 3600_000:.1f} h after "
                f"the requested start {iso(start)} ({result.start_from}): the server no longer holds the events in between",
                start, first,
            )

        # 4. re-read and apply
        base = {name: lake.read(name, wiki, base_snapshot) for name in PAGE_DATASETS}
        base |= {name: lake.read(name, wiki, base_snapshot) for name in OPTIONAL_PAGE_DATASETS
                 if lake.exists(name, wiki, base_snapshot)}
        base_files_snapshot = _files_base(lake, files_wiki, base_snapshot)
        base_files = lake.read("files", files_wiki, base_files_snapshot)
        known_redirects = dict(
            zip(base["pages"].column("page_id").to_pylist(), base["pages"].column("is_redirect").to_pylist(), strict=True)
        )
        page_ids = set(dirty.pages)
        if dirty.titles:  # titles of pages the base knows → their ids, so deletions are seen
            by_title = dict(zip(base["pages"].column("page_title").to_pylist(), base["pages"].column("page_id").to_pylist(), strict=True))
            page_ids |= {by_title[t] for t in dirty.titles if t in by_title}

        def redirect_fallback(page_id: int) -> bool:
            hint = dirty.redirect_hint(page_id)
            return hint if hint is not None else bool(known_redirects.get(page_id, False))

        wiki_client = ActionApiClient.from_settings(settings, wiki, session=http, policy=policy)
        fetch = PageReader(wiki_client, redirect_fallback=redirect_fallback).read(page_ids, dirty.titles)
        states = dict(fetch.states)
        for page_id in page_ids:
            states.setdefault(page_id, None)
        tables = apply_pages(base, states, wiki)
        used = used_names(tables["article_images"]) if options.files_scope == "used" else None
        wanted = files_to_fetch(base_files, states, dirty.files, used)
        files_client = ActionApiClient.from_settings(settings, files_wiki, session=http, policy=policy)
        fetched = read_files(files_client, wanted) if wanted else {}
        tables["files"] = apply_files(base_files, fetched, files_wiki, used)
        result.dirty_pages = len(states)
        result.dirty_files = len(dirty.files)
        result.api_requests = int(wiki_client.counters.requests + files_client.counters.requests)
        api = wiki_client.counters.as_dict()
        for key, value in files_client.counters.as_dict().items():
            api[key] = api.get(key, 0) + value
        result.http = {"eventstreams": reader.counters.as_dict(), "action_api": api}

        # 5. write, then checkpoint
        source = f"eventstreams:{settings.eventstreams_url}?since={iso(start)}&until={iso(until)}"
        extra = {"base_snapshot": base_snapshot, "events_applied": result.events_applied, "start": iso(start), "until": iso(until)}
        for dataset, table in tables.items():
            owner, base_id = (files_wiki, base_files_snapshot) if dataset == "files" else (wiki, base_snapshot)
            # row-level changes on top of the base snapshot, not a rewrite of the wiki's partition
            manifest = lake.write(dataset, owner, snapshot, table, run_id=run_id, base=base_id,
                                  inputs=(f"lake:{dataset}/{owner}/{base_id}", source), extra=extra)
            catalog.record_snapshot(dataset, owner, snapshot, manifest.rows, manifest.content_hash, run_id)
            result.rows[dataset] = manifest.rows
        audit = _audit_table(applied)
        manifest = lake.write(AUDIT_DATASET, wiki, snapshot, audit, run_id=run_id, inputs=(source,), extra=extra)
        catalog.record_snapshot(AUDIT_DATASET, wiki, snapshot, manifest.rows, manifest.content_hash, run_id)
        result.rows[AUDIT_DATASET] = manifest.rows
        replay_ids = _replay_ids(applied, recent, carried, reader, until, options)
        result.checkpoint = Checkpoint(reader.checkpoint(), until, snapshot, replay_ids).to_value()
        _commit_checkpoint(catalog, wiki, result.checkpoint)
        if stale_reason(catalog, wiki):
            catalog.set_checkpoint(STALE_MARK, wiki, "")
        result.seconds = time.perf_counter() - started
        log.info(
            "%s: %d events read, %d applied (%d duplicates, %d deferred), %d pages and %d files re-read → %s (%s)",
            wiki, result.events_read, result.events_applied, result.duplicates, result.deferred,
            result.dirty_pages, result.dirty_files, snapshot, result.stop_reason,
        )
    except BaseException as exc:
        if own_run and run_id is not None:
            catalog.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if session is None:
            http.close()
    if own_run and run_id is not None:
        catalog.finish_run(run_id, "success", None, {k: v for k, v in result.as_dict().items() if not isinstance(v, dict)})
    return result


#: the newest events read from each topic-partition are kept for the next run when they were
#: applied (now or before): a resumed connection may re-send the messages right before the
#: position it was given — on a quiet topic, at the start of every run
REPLAY_PER_PARTITION = 3


def _replay_ids(applied: list[tuple[str, Received]], recent: dict[Any, deque[str]], carried: frozenset[str],
                reader: StreamReader, until: datetime, options: CatchUpOptions) -> tuple[str, ...]:
    """The applied ids the next run may see again: Kafka time at or after the earliest pin
    (or ``until``) minus the lateness, or within the lateness before their own topic's
    checkpoint position, or among the last :data:`REPLAY_PER_PARTITION` ids read from a
    topic (also other datacentres' copies, also ids carried from the previous run); the
    newest ``options.replay_ids_max`` of them."""
    lateness = int(options.lateness_s * 1000)
    pins = [int(e["timestamp"]) - 1 for e in reader.pinned.values() if e.get("timestamp") is not None]
    threshold = min([to_ms(until), *pins]) - lateness
    final = parse_event_id(reader.checkpoint() or "[]")
    tail: list[tuple[int, str]] = []
    for event_id, message in applied:
        when = message.kafka_ms
        if when is None:
            dt = parse_dt((message.event.get("meta") or {}).get("dt"))
            when = to_ms(dt) if dt is not None else threshold
        position = (final.get(message.key) or {}).get("timestamp")
        if when >= threshold or (position is not None and when >= int(position) - lateness):
            tail.append((when, event_id))
    kept = {event_id for _, event_id in tail}
    done = {event_id for event_id, _ in applied} | carried
    for ids in recent.values():
        tail += [(threshold, event_id) for event_id in ids if event_id in done and event_id not in kept]
    if len(tail) > options.replay_ids_max:
        log.warning("%d events applied in the window's tail; only the newest %d are kept for the next run's "
                    "de-duplication (events_replay_ids_max)", len(tail), options.replay_ids_max)
        tail.sort()
        tail = tail[len(tail) - options.replay_ids_max:] if options.replay_ids_max > 0 else []
    return tuple(sorted({event_id for _, event_id in tail}))


def _audit_table(applied: list[tuple[str, Received]]) -> Any:
    """The ``events_applied`` rows of a run (sorted by id, one per id)."""
    import pyarrow as pa

    from wikivis.datasets import schema

    rows: dict[str, dict[str, Any]] = {}
    for event_id, message in applied:
        meta = message.event.get("meta") or {}
        rows.setdefault(event_id, {
            "meta_id": event_id,
            "wiki": EventFilter.wiki_of(message.event) or "",
            "stream": str(meta.get("stream") or ""),
            "topic": message.key[0],
            "partition": message.key[1],
            "kafka_ms": message.kafka_ms,
            "dt": meta.get("dt") if isinstance(meta.get("dt"), str) else None,
        })
    return pa.Table.from_pylist([rows[k] for k in sorted(rows)], schema=schema(AUDIT_DATASET))


# --------------------------------------------------------------------------- reconcile
def reconcile(catalog: Catalog, wiki: str, snapshot: str, *, source: str = "dump") -> dict[str, Any] | None:
    """After a dump or replica snapshot of ``wiki`` was ingested: a stale wiki (or a checkpoint
    older than the snapshot) restarts from the snapshot's time — the checkpoint is reset to it,
    the stale mark is cleared and its window of lost events is appended to the gaps list.
    Returns the gap recorded, or None.  A newer checkpoint (events ahead of the dump) stays."""
    check_wiki_name(wiki)
    at = snapshot_time(snapshot)
    stale = stale_reason(catalog, wiki)
    stored = catalog.get_checkpoint(CHECKPOINT_NAME, wiki)
    try:
        current = Checkpoint.from_value(stored) if stored else None
    except InputError:
        current = None  # unreadable: the snapshot replaces it
    if not stale and current is not None and current.until >= at:
        return None
    catalog.set_checkpoint(CHECKPOINT_NAME, wiki, Checkpoint(None, at, snapshot).to_value())
    if not stale:
        return None
    mark = json.loads(stale)
    gap = {"wiki": wiki, "since": mark.get("since"), "lost_until": mark.get("lost_until"), "reason": mark.get("reason"),
           "reconciled_by": snapshot, "source": source, "reconciled_at": iso(datetime.now(UTC))}
    gaps = _gaps(catalog, wiki)
    gaps.append(gap)
    catalog.set_checkpoint(GAPS_NAME, wiki, json.dumps(gaps[-MAX_GAPS:], sort_keys=True))
    catalog.set_checkpoint(STALE_MARK, wiki, "")
    log.warning("%s: EventStreams gap %s → %s reconciled by %s snapshot %s", wiki, gap["since"], gap["lost_until"], source, snapshot)
    return gap


def reconcile_after_ingest(settings: Settings, wiki: str, snapshot: str, *, source: str = "dump") -> dict[str, Any] | None:
    """:func:`reconcile` with the settings' catalog (for the CLI's ingest commands)."""
    from wikivis.catalog import Catalog

    catalog = Catalog.from_settings(settings)
    try:
        return reconcile(catalog, wiki, snapshot, source=source)
    finally:
        catalog.dispose()


def _gaps(catalog: Catalog, wiki: str) -> list[dict[str, Any]]:
    value = catalog.get_checkpoint(GAPS_NAME, wiki)
    try:
        gaps = json.loads(value) if value else []
    except ValueError:
        gaps = []
    return gaps if isinstance(gaps, list) else []


def event_gaps(catalog: Catalog) -> list[dict[str, Any]]:
    """Every wiki's windows of lost events: open ones (stale, ``reconciled_by`` None) first,
    then the reconciled ones, newest first (for the monitoring page)."""
    open_gaps: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    for row in catalog.checkpoints():
        if row["name"] == STALE_MARK and row["value"]:
            try:
                mark = json.loads(row["value"])
            except ValueError:
                continue
            open_gaps.append({"wiki": row["wiki"], "since": mark.get("since"), "lost_until": mark.get("lost_until"),
                              "reason": mark.get("reason"), "reconciled_by": None})
        elif row["name"] == GAPS_NAME:
            closed.extend(reversed(_gaps(catalog, row["wiki"])))
    return open_gaps + closed


def _commit_checkpoint(catalog: Catalog, wiki: str, value: str) -> None:
    """Move the checkpoint forward, never back: a backfill of older dates ending after the
    nightly of a newer date leaves the newer checkpoint, as running them one after the other,
    oldest first, would.  (A separate function so tests can inject a crash right before it.)"""
    stored = catalog.get_checkpoint(CHECKPOINT_NAME, wiki)
    try:
        current = Checkpoint.from_value(stored) if stored else None
    except InputError:
        current = None  # unreadable: the new one replaces it
    if current is not None and current.until > Checkpoint.from_value(value).until:
        log.info("%s: checkpoint stays at %s (newer than this window's end)", wiki, iso(current.until))
        return
    catalog.set_checkpoint(CHECKPOINT_NAME, wiki, value)

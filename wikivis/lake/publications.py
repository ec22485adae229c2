"""Publications: what readers see, one row per publication, committed atomically.

Iceberg commits one table at a time, but a run publishes several datasets of a wiki together
(pages, article_images, file_metadata, …).  Readers must see all of them from one
publication or none, so the *publication* is a single row in ``wikivis_publications``, in
the same SQL database as the Iceberg catalog: ``{dataset: {label, snapshot_id}}`` for every
dataset of the wiki, the previous publication's entries carried forward.  Inserting that
row is the commit point; a process killed before it leaves readers on the previous complete
publication, whatever happened to the tables' ``main`` refs (which are re-synced on the next
publication, see :meth:`wikivis.lake.Lake.publish_run`).

Publishers race: the nightly, a backfill and the events DAG may publish the same wiki at once,
each merging its datasets over the latest publication.  Under PostgreSQL's read committed two
such merges would both start from the same row, and the later insert would drop the other's
datasets.  So every row names the publication it was merged over (``parent_id``; 0 for a
wiki's first), and ``(wiki, parent_id)`` is unique: of two publishers that read the same
parent, one insert fails, and that one re-reads and merges again.  The same check lets a
caller publish only if nothing else was published in between (``expect``, used by compaction).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

METADATA = sa.MetaData()

PUBLICATIONS = sa.Table(
    "wikivis_publications",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("wiki", sa.String(64), nullable=False, index=True),
    sa.Column("run_id", sa.String(200), nullable=True, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # publish | superseded | rollback | migrate
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("datasets", sa.Text, nullable=False),  # JSON {dataset: {"label": …, "snapshot_id": …}}
    # the publication this one was merged over (0: the wiki's first); one child per parent
    sa.Column("parent_id", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("wiki", "parent_id", name="uq_wikivis_publications_parent"),
)


def _instant(label: str) -> str:
    """A snapshot label as a comparable instant: ``20261101`` is ``20261101T000000Z``."""
    return label if "T" in label else f"{label}T000000Z"


def _stale(datasets: dict[str, dict[str, Any]], published: dict[str, dict[str, Any]]) -> bool:
    """Whether any of ``datasets`` is older than what is published of it."""
    return any(d in published and _instant(str(e["label"])) < _instant(str(published[d]["label"]))
               for d, e in datasets.items())


#: how often a publisher re-reads and merges again after losing the race for a parent
RECORD_ATTEMPTS = 20


class PublicationConflict(Exception):
    """Something else was published over the state the caller expected."""


@dataclass(frozen=True)
class Publication:
    """One published state of a wiki: every dataset's label and Iceberg snapshot id."""

    id: int
    wiki: str
    run_id: str | None
    kind: str
    created_at: str
    datasets: dict[str, dict[str, Any]]

    def label(self, dataset: str) -> str | None:
        entry = self.datasets.get(dataset)
        return None if entry is None else str(entry["label"])

    def snapshot_id(self, dataset: str) -> int | None:
        entry = self.datasets.get(dataset)
        return None if entry is None else int(entry["snapshot_id"])

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "wiki": self.wiki, "run_id": self.run_id, "kind": self.kind,
                "created_at": self.created_at, "datasets": self.datasets}


def _row(row: Any) -> Publication:
    return Publication(id=row.id, wiki=row.wiki, run_id=row.run_id, kind=row.kind, created_at=row.created_at,
                       datasets=json.loads(row.datasets))


SCHEMA_ATTEMPTS = 5
T = TypeVar("T")


def create_tolerating_peers(create: Callable[[], T]) -> T:
    """Run a check-then-create of catalog tables, retrying when a peer process won the race.

    ``create_all(checkfirst=True)`` (and PyIceberg's ``SqlCatalog`` constructor) check and then
    create, so two processes opening a fresh catalog together can both see no table and one of
    them fails with "already exists" (SQLite ``OperationalError``, PostgreSQL ``UniqueViolation``
    on ``pg_type``).  The loser retries: its next check sees the winner's table.
    """
    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            return create()
        except sa.exc.DBAPIError:
            if attempt == SCHEMA_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _link_parents(engine: sa.Engine) -> None:
    """Upgrade a table written before ``parent_id``: link each row to the wiki's previous one."""
    if "parent_id" in {c["name"] for c in sa.inspect(engine).get_columns(PUBLICATIONS.name)}:
        return
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {PUBLICATIONS.name} ADD COLUMN parent_id INTEGER NOT NULL DEFAULT 0"))
        conn.execute(sa.text(
            f"UPDATE {PUBLICATIONS.name} SET parent_id = COALESCE((SELECT MAX(p.id) FROM {PUBLICATIONS.name} p"
            f" WHERE p.wiki = {PUBLICATIONS.name}.wiki AND p.id < {PUBLICATIONS.name}.id), 0)"))
        conn.execute(sa.text(
            f"CREATE UNIQUE INDEX uq_wikivis_publications_parent ON {PUBLICATIONS.name} (wiki, parent_id)"))


class PublicationLog:
    """The ``wikivis_publications`` table."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_tolerating_peers(lambda: METADATA.create_all(engine, checkfirst=True))
        create_tolerating_peers(lambda: _link_parents(engine))

    def record(self, wiki: str, datasets: dict[str, dict[str, Any]], *, run_id: str | None, kind: str,
               expect: dict[str, int] | None = None) -> Publication:
        """Insert a publication: ``datasets`` merged over the latest one.

        ``expect`` ({dataset: snapshot id}) publishes only if the latest publication still
        names those snapshots, else raises :class:`PublicationConflict`.  Losing the race for
        the latest row to another publisher re-reads it and merges again.

        A ``publish`` never takes a dataset back to an older label: one that would (a backfill
        of older dates ending after the nightly of a newer date) is recorded as kind
        ``superseded`` with what readers saw before it, unchanged.  Readers then end on the
        newest data whatever order the runs finish in, as when they run one after the other,
        oldest first.  Going back on purpose is a ``rollback``.
        """
        requested = kind
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            previous = self.latest(wiki)
            if expect is not None:
                changed = {d for d, sid in expect.items() if previous is None or previous.snapshot_id(d) != sid}
                if changed:
                    raise PublicationConflict(f"{wiki}: {', '.join(sorted(changed))} published since")
            merged = dict(previous.datasets) if previous is not None else {}
            stale = requested == "publish" and _stale(datasets, merged)
            kind = "superseded" if stale else requested
            merged.update({} if stale else datasets)
            created = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                with self.engine.begin() as conn:
                    result = conn.execute(PUBLICATIONS.insert().values(
                        wiki=wiki, run_id=run_id, kind=kind, created_at=created,
                        datasets=json.dumps(merged, sort_keys=True),
                        parent_id=previous.id if previous is not None else 0))
                    (new_id,) = result.inserted_primary_key or (None,)
            except sa.exc.IntegrityError:
                if attempt == RECORD_ATTEMPTS:
                    raise
                time.sleep(0.01 * attempt)
                continue
            return Publication(id=int(new_id or 0), wiki=wiki, run_id=run_id, kind=kind, created_at=created,
                               datasets=merged)
        raise AssertionError("unreachable")

    def latest(self, wiki: str) -> Publication | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(PUBLICATIONS).where(PUBLICATIONS.c.wiki == wiki).order_by(PUBLICATIONS.c.id.desc()).limit(1)
            ).first()
        return None if row is None else _row(row)

    def history(self, wiki: str) -> list[Publication]:
        """Every publication of ``wiki``, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(PUBLICATIONS).where(PUBLICATIONS.c.wiki == wiki).order_by(PUBLICATIONS.c.id.desc())
            ).all()
        return [_row(r) for r in rows]

    def wikis(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(sa.select(PUBLICATIONS.c.wiki).distinct()))

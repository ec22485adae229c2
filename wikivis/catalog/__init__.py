"""The catalog: runs, snapshots, checkpoints/watermarks and gate results.

SQLite by default (``<home>/catalog.sqlite``); any SQLAlchemy 2 URL works (CI also runs the
catalog tests against PostgreSQL on loopback).  The schema is owned by alembic migrations
(``wikivis/catalog/migrations``), applied by :meth:`Catalog.migrate` — called automatically
on first use, idempotent, and safe to run concurrently with readers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from wikivis.catalog.models import Checkpoint, GateResult, Run, Snapshot

MIGRATIONS = Path(__file__).with_name("migrations")


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(ts: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes: they were stored as UTC."""
    if ts is not None and ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts


def new_run_id(kind: str) -> str:
    return f"{kind}-{_now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


class Catalog:
    """Facade over the catalog database."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    @classmethod
    def from_settings(cls, settings: Any) -> Catalog:
        return cls(settings.resolved_catalog_url)

    # ------------------------------------------------------------ migrations
    def _alembic_config(self) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def migrate(self, revision: str = "head") -> None:
        from alembic import command

        cfg = self._alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    # ------------------------------------------------------------------ runs
    def start_run(self, kind: str, wiki: str | None = None, params: dict[str, Any] | None = None,
                  run_id: str | None = None) -> str:
        run_id = run_id or new_run_id(kind)
        with self.session() as s:
            existing = s.get(Run, run_id)
            if existing is not None:  # a retried task reuses its run id
                existing.status, existing.started_at, existing.ended_at = "running", _now(), None
                existing.message = None
            else:
                s.add(Run(id=run_id, kind=kind, wiki=wiki, status="running", params=params or {},
                          started_at=_now(), metrics={}))
        return run_id

    def finish_run(self, run_id: str, status: str, message: str | None = None,
                   metrics: dict[str, Any] | None = None) -> None:
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise KeyError(f"unknown run {run_id}")
            run.status, run.message, run.ended_at = status, message, _now()
            run.duration_s = (run.ended_at - (_aware(run.started_at) or run.ended_at)).total_seconds()
            if metrics:
                run.metrics = {**(run.metrics or {}), **metrics}

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self.session() as s:
            run = s.get(Run, run_id)
            return _row(run) if run else None

    def runs(self, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
        with self.session() as s:
            q = sa.select(Run).order_by(Run.started_at.desc()).limit(limit)
            if kind:
                q = q.where(Run.kind == kind)
            return [_row(r) for r in s.scalars(q)]

    # ------------------------------------------------------------- snapshots
    def record_snapshot(self, dataset: str, wiki: str, snapshot: str, rows: int, content_hash: str,
                        run_id: str | None, status: str = "staged") -> None:
        with self.session() as s:
            row = s.scalars(sa.select(Snapshot).filter_by(dataset=dataset, wiki=wiki, snapshot=snapshot)).first()
            if row is None:
                row = Snapshot(dataset=dataset, wiki=wiki, snapshot=snapshot, created_at=_now())
                s.add(row)
            row.rows, row.content_hash, row.run_id, row.status = rows, content_hash, run_id, status
            if status == "published":
                row.published_at = _now()

    def mark_published(self, dataset: str, wiki: str, snapshot: str) -> None:
        with self.session() as s:
            row = s.scalars(sa.select(Snapshot).filter_by(dataset=dataset, wiki=wiki, snapshot=snapshot)).first()
            if row is not None:
                row.status, row.published_at = "published", _now()

    def snapshots(self, dataset: str | None = None, wiki: str | None = None) -> list[dict[str, Any]]:
        with self.session() as s:
            q = sa.select(Snapshot).order_by(Snapshot.dataset, Snapshot.wiki, Snapshot.snapshot)
            if dataset:
                q = q.where(Snapshot.dataset == dataset)
            if wiki:
                q = q.where(Snapshot.wiki == wiki)
            return [_row(r) for r in s.scalars(q)]

    # ----------------------------------------------------------- checkpoints
    def get_checkpoint(self, name: str, wiki: str) -> str | None:
        with self.session() as s:
            row = s.scalars(sa.select(Checkpoint).filter_by(name=name, wiki=wiki)).first()
            return row.value if row else None

    def set_checkpoint(self, name: str, wiki: str, value: str) -> None:
        with self.session() as s:
            row = s.scalars(sa.select(Checkpoint).filter_by(name=name, wiki=wiki)).first()
            if row is None:
                s.add(Checkpoint(name=name, wiki=wiki, value=value, updated_at=_now()))
            else:
                row.value, row.updated_at = value, _now()

    def checkpoints(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [_row(r) for r in s.scalars(sa.select(Checkpoint).order_by(Checkpoint.name, Checkpoint.wiki))]

    # ----------------------------------------------------------------- gates
    def record_gate(self, run_id: str, stage: str, dataset: str, gate: str, outcome: str,
                    metrics: dict[str, Any] | None = None, message: str | None = None) -> None:
        if outcome not in ("pass", "warn", "fail"):
            raise ValueError(f"gate outcome must be pass, warn or fail, not {outcome!r}")
        with self.session() as s:
            s.add(GateResult(run_id=run_id, stage=stage, dataset=dataset, gate=gate, outcome=outcome,
                             metrics=_jsonable(metrics or {}), message=message, created_at=_now()))

    def gate_results(self, run_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        with self.session() as s:
            q = sa.select(GateResult).order_by(GateResult.id.desc()).limit(limit)
            if run_id:
                q = q.where(GateResult.run_id == run_id)
            return [_row(r) for r in s.scalars(q)]

    def dispose(self) -> None:
        self.engine.dispose()


def _jsonable(value: Any) -> Any:
    """Make numpy scalars and other odd values JSON-safe for the JSON column."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _row(obj: Any) -> dict[str, Any]:
    out = {c.key: getattr(obj, c.key) for c in sa.inspect(obj).mapper.column_attrs}
    for key, value in out.items():
        if isinstance(value, datetime):
            out[key] = _aware(value).isoformat(timespec="seconds")  # type: ignore[union-attr]
    return out

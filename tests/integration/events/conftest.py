"""A lake holding the dump of every sample day (ingested once per session through the mirror),
copied into a fresh home per test; helpers to run and check catch-ups against it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from wikivis.catalog import Catalog
from wikivis.events import CatchUpResult, catch_up
from wikivis.lake import Lake
from wikivis.sources.http import RetryPolicy

DATASETS = ("pages", "article_images", "article_categories", "files", "article_items")
#: tests don't wait for real backoff
FAST = RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.05)


@pytest.fixture(scope="session")
def dump_lake(mirror, sample_wiki, tmp_path_factory) -> Path:
    """A home whose lake holds pages/article_images/article_categories/files of every dump date.

    The lake's Iceberg catalog lives in the home's catalog database, so a test copies both;
    the copied table metadata still points at this home's warehouse, which stays read-mostly
    (every write adds uniquely named files)."""
    from wikivis.dumps.ingest import ingest

    home = tmp_path_factory.mktemp("events-dumps")
    settings = mirror.settings(home=home)
    lake = Lake.from_settings(settings)
    for date in sample_wiki.dates:
        ingest(settings, sample_wiki.wiki, date, lake=lake)
    return home


def midnight(date: str) -> datetime:
    return datetime(int(date[:4]), int(date[4:6]), int(date[6:]), tzinfo=UTC)


class Harness:
    """One test's home (a copy of the dump lake + its own catalog) against one mirror."""

    def __init__(self, mirror: Any, sample: Any, home: Path, dump_lake: Path, **settings: Any) -> None:
        shutil.copytree(dump_lake / "lake", home / "lake")
        shutil.copy(dump_lake / "catalog.sqlite", home / "catalog.sqlite")
        self.mirror, self.sample = mirror, sample
        self.settings = mirror.settings(home=home, **settings)
        self.lake = Lake.from_settings(self.settings)
        self.catalog = Catalog(self.settings.resolved_catalog_url)

    def run(self, day: int, base: str, **kwargs: Any) -> CatchUpResult:
        """Catch up from ``base`` to the dump date of ``day`` with the API showing that day."""
        self.mirror.day = day
        kwargs.setdefault("policy", FAST)
        return catch_up(self.settings, self.sample.wiki, base_snapshot=base, until=midnight(self.sample.dates[day]),
                        lake=self.lake, catalog=self.catalog, **kwargs)

    def differences(self, snapshot: str, day: int) -> dict[str, str]:
        """Datasets of ``snapshot`` that differ from the dump of ``day`` (empty: equal)."""
        out = {}
        for dataset in DATASETS:
            owner = self.sample.commons_wiki if dataset == "files" else self.sample.wiki
            got, want = self.lake.read(dataset, owner, snapshot), self.lake.read(dataset, owner, self.sample.dates[day])
            if not got.equals(want):
                a, b = {tuple(r.values()) for r in got.to_pylist()}, {tuple(r.values()) for r in want.to_pylist()}
                out[dataset] = f"{len(a - b)} extra, {len(b - a)} missing; e.g. {sorted(a - b)[:2]} / {sorted(b - a)[:2]}"
        return out

    def chain(self, first: int = 1, last: int | None = None, base: str | None = None,
              each: Callable[[int, CatchUpResult], None] | None = None, **kwargs: Any) -> list[CatchUpResult]:
        """dump(first - 1) + events, one window per day, each checked against that day's dump."""
        last = self.sample.n_days if last is None else last
        base = base or self.sample.dates[first - 1]
        results = []
        for day in range(first, last + 1):
            result = self.run(day, base, **kwargs)
            assert self.differences(result.snapshot, day) == {}, f"day {day}"
            if each:
                each(day, result)
            results.append(result)
            base = result.snapshot
        return results

    def close(self) -> None:
        self.catalog.dispose()


@pytest.fixture
def harness(mirror_factory, sample_wiki, dump_lake, tmp_path) -> Callable[..., Harness]:
    """``harness(faults="none", mirror_options={...}, **settings)`` → a Harness on a fresh mirror."""
    made: list[Harness] = []

    def make(faults: Any = "none", mirror_options: dict[str, Any] | None = None, **settings: Any) -> Harness:
        running = mirror_factory(faults=faults, **(mirror_options or {}))
        made.append(Harness(running, sample_wiki, tmp_path / f"home{len(made)}", dump_lake, **settings))
        return made[-1]

    yield make
    for h in made:
        h.close()

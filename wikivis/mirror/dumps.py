"""The dumps server: dumps.wikimedia.org's layout for the sample wiki's tables.

Runs (per wiki, one per sample day, plus two realistic extras):

* ``dates[d]`` — complete runs holding ``state(d)``, current schema, ``mariadb-dump`` style.
* an **older run** 12 days before ``dates[0]`` (``20261020`` by default): samplewiki's
  ``imagelinkstable`` job **failed** (no file); its other files use the *legacy* schema
  (``il_to``, ``cl_to``/``cl_collation``) and the classic one-line ``mysqldump`` style.
  Like every run of the 20th on Wikimedia, it also lists the full-history jobs
  ``metahistorybz2dump``/``metahistory7zdump`` as ``skipped`` (no files).
* a **newer run** the day after the last date: still **in progress** (``pagetable`` and
  ``linktargettable`` done, ``imagelinkstable``/``imagetable`` ``in-progress``, the rest
  ``waiting``), content ``state(n_days)``.

``sample2wiki`` (the second-language wiki of :mod:`wikivis.sample.wikidata`) has one
complete run per sample day and no extras.

**Dates.**  By default the runs carry the sample's fixed dates (``dates[0]`` = 20261101), which
tests rely on.  ``anchor="today"`` (what ``wikivis mirror serve`` uses) serves every run shifted
by whole days so that the last complete run is dated *yesterday* (UTC, recomputed on every
request) and the in-progress one *today*: a freshly unpaused ``wikivis_nightly`` finds the dump
of its first interval, and the freshness gate and the EventStreams replay window judge a
recent snapshot.  Only dates move — paths, file names, ``dumpstatus.json``, checksum lists,
indexes, ``Last-Modified``; the dump files are byte-identical whatever the shift (they are
rendered from the sample dates, footer included), so their checksums never change.

``latest/`` works as on Wikimedia, where ``symlinks.py`` updates each link when *its* job
finishes: ``<wiki>-latest-<table>.sql.gz`` is the newest run in which that job is done, so
during a run ``latest/`` mixes dates (read the real date from a dated ``dumpstatus.json``).

The article wiki's runs also hold job ``articlesdump``: ``<wiki>-<date>-pages-articles.xml.bz2``
(:mod:`wikivis.mirror.articles`; ``waiting`` in the run in progress).

Files: ``/<wiki>/<date>/<wiki>-<date>-<table>.sql.gz`` (gzip, mtime 0, like ``| gzip``),
``dumpstatus.json`` (version 0.8), ``<wiki>-<date>-md5sums.txt`` / ``-sha1sums.txt``,
per-run and per-wiki HTML indexes, ``latest/…`` plus ``…-rss.xml``.  Query flags for
tests: ``?schema=legacy``, ``?schema=transitional`` (categorylinks with both ``cl_to`` and a
nullable ``cl_target_id``, as during the migration) and ``?style=mysqldump`` re-render a file
in that form (its checksum then differs from dumpstatus).  Range requests give 206/416.  At most
``max_per_client`` (2) requests in flight per client IP; more get **503**, as nginx's
``limit_conn`` answers on dumps.wikimedia.org.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import html
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from wikivis.mirror.articles import JOB as ARTICLES_JOB
from wikivis.mirror.articles import articles_dump, articles_file_name
from wikivis.mirror.base import Request, Response, Service, byte_range
from wikivis.mirror.dumpwriter import (
    LEGACY_TABLES,
    TABLES,
    TRANSITIONAL_TABLES,
    Style,
    to_legacy,
    to_transitional,
    write_dump,
)
from wikivis.mirror.faults import FaultProfile
from wikivis.sample import SampleWiki
from wikivis.sample.model import COMMONS_TABLES, WIKI_TABLES
from wikivis.sample.wikidata import SECOND_WIKI, second_wiki_tables
from wikivis.vocab import is_dump_date

DB_HOST = "db1206.eqiad.wmnet"
SERVER_VERSION = "10.11.19-MariaDB-log"


def job_name(table: str) -> str:
    """``page_props`` → ``pagepropstable`` (operations-dumps ``normalize_tablejob_name``)."""
    return table.replace("_", "") + "table"


def file_name(wiki: str, date: str, table: str) -> str:
    return f"{wiki}-{date}-{table}.sql.gz"


Anchor = Literal["fixed", "today"]
#: jobs that the runs of the 20th list as ``skipped`` (enwiki dumpstatus.json, 2024)
SKIPPED_ON_THE_20TH = ("metahistorybz2dump", "metahistory7zdump")
_UPDATED_FORMAT = "%Y-%m-%d %H:%M:%S"


def _utc_today() -> _dt.date:
    return datetime.now(UTC).date()


@dataclass
class DumpFile:
    name: str
    data: bytes
    md5: str
    sha1: str


@dataclass
class Job:
    table: str
    status: str  # waiting | in-progress | done | failed | skipped
    updated: str
    file: DumpFile | None = None


@dataclass
class Run:
    wiki: str
    date: str
    day: int
    legacy: bool = False
    style: Style = "mariadb"
    statuses: dict[str, str] = field(default_factory=dict)  # table -> status (default done)
    jobs: dict[str, Job] | None = None

    @property
    def complete(self) -> bool:
        return all(j.status == "done" for j in (self.jobs or {}).values())


class DumpsService(Service):
    name = "dumps"
    max_per_client = 2
    over_limit_status = 503
    #: class defaults, for subclasses that build their runs themselves (``scaledumps``)
    anchor: Anchor = "fixed"
    old_date = ""

    def __init__(self, sample: SampleWiki, faults: FaultProfile, *, extra_runs: bool = True,
                 anchor: Anchor = "fixed", today: Callable[[], _dt.date] = _utc_today) -> None:
        super().__init__(faults)
        if anchor not in ("fixed", "today"):
            raise ValueError(f"anchor must be 'fixed' or 'today', not {anchor!r}")
        self.sample = sample
        self.anchor: Anchor = anchor
        self.today = today
        self.runs: dict[tuple[str, str], Run] = {}
        self._build_lock = threading.Lock()
        first = datetime.strptime(sample.dates[0], "%Y%m%d")
        last = datetime.strptime(sample.dates[-1], "%Y%m%d")
        self.old_date = (first - timedelta(days=12)).strftime("%Y%m%d")
        self.new_date = (last + timedelta(days=1)).strftime("%Y%m%d")
        for day, date in enumerate(sample.dates):  # the second-language wiki: plain daily runs
            self.runs[(SECOND_WIKI, date)] = Run(SECOND_WIKI, date, day)
        for wiki in (sample.wiki, sample.commons_wiki):
            for day, date in enumerate(sample.dates):
                self.runs[(wiki, date)] = Run(wiki, date, day)
            if extra_runs:
                old = Run(wiki, self.old_date, 0, legacy=True, style="mysqldump")
                if wiki == sample.wiki:
                    old.statuses["imagelinks"] = "failed"
                self.runs[(wiki, self.old_date)] = old
                new = Run(wiki, self.new_date, sample.n_days)
                for table in self.tables(wiki):
                    new.statuses[table] = "waiting"
                new.statuses.update({"page": "done", "linktarget": "done", "imagelinks": "in-progress", "image": "in-progress"})
                if wiki == sample.wiki:
                    new.statuses["articles"] = "waiting"
                self.runs[(wiki, self.new_date)] = new

    # ------------------------------------------------------------------ dates
    def shift(self) -> timedelta:
        """How far served dates lie from the sample's (0 unless ``anchor="today"``)."""
        if self.anchor == "fixed":
            return timedelta(0)
        last = datetime.strptime(self.sample.dates[-1], "%Y%m%d").date()
        return (self.today() - timedelta(days=1)) - last

    def served(self, sample_date: str, shift: timedelta | None = None) -> str:
        """The date a run of ``sample_date`` is served under."""
        shift = self.shift() if shift is None else shift
        if not shift:
            return sample_date
        return (datetime.strptime(sample_date, "%Y%m%d") + shift).strftime("%Y%m%d")

    def sample_date(self, served_date: str) -> str | None:
        """The sample date behind a served date (``None``: not a date)."""
        if not is_dump_date(served_date):
            return None
        shift = self.shift()
        if not shift:
            return served_date
        try:
            return (datetime.strptime(served_date, "%Y%m%d") - shift).strftime("%Y%m%d")
        except ValueError:
            return None

    def _served_name(self, run: Run, name: str) -> str:
        return name.replace(f"-{run.date}-", f"-{self.served(run.date)}-", 1)

    def _served_updated(self, updated: str) -> str:
        shift = self.shift()
        return (datetime.strptime(updated, _UPDATED_FORMAT) + shift).strftime(_UPDATED_FORMAT) if shift else updated

    # ------------------------------------------------------------------ content
    def tables(self, wiki: str) -> tuple[str, ...]:
        return COMMONS_TABLES if wiki == self.sample.commons_wiki else WIKI_TABLES

    def dates(self, wiki: str) -> list[str]:
        return sorted(d for w, d in self.runs if w == wiki)

    def render(self, run: Run, table: str, *, legacy: bool | None = None, style: Style | None = None,
               transitional: bool = False) -> bytes:
        """The gzipped dump file of ``table`` in ``run`` (optionally in another schema/style)."""
        legacy = run.legacy if legacy is None else legacy
        if run.wiki == SECOND_WIKI:
            tables = second_wiki_tables(self.sample, run.day)
        else:
            tables = self.sample.state(run.day).tables_for(run.wiki)
        rows = tables[table]
        definition = TABLES[table]
        if transitional and table in TRANSITIONAL_TABLES:
            rows = to_transitional(table, rows, tables["linktarget"])
            definition = TRANSITIONAL_TABLES[table]
        elif legacy and table in LEGACY_TABLES:
            rows = to_legacy(table, rows, tables["linktarget"])
            definition = LEGACY_TABLES[table]
        completed = datetime.strptime(run.date, "%Y%m%d").replace(tzinfo=UTC) + timedelta(hours=3, minutes=len(table))
        sql = write_dump(
            definition, rows, style=style or run.style, database=run.wiki, host=DB_HOST,
            server_version=SERVER_VERSION, completed=completed,
        )
        return gzip.compress(sql, compresslevel=6, mtime=0)

    def build(self, run: Run) -> dict[str, Job]:
        with self._build_lock:
            if run.jobs is not None:
                return run.jobs
            jobs: dict[str, Job] = {}
            base = datetime.strptime(run.date, "%Y%m%d")
            for i, table in enumerate(self.tables(run.wiki)):
                status = run.statuses.get(table, "done")
                updated = (base + timedelta(hours=2, minutes=7 * i)).strftime("%Y-%m-%d %H:%M:%S")
                dump = None
                if status == "done":
                    data = self.render(run, table)
                    md5, sha1 = hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest()
                    if self.faults.checksum_mismatch and table == "imagelinks":
                        md5, sha1 = md5[::-1], sha1[::-1]
                    dump = DumpFile(file_name(run.wiki, run.date, table), data, md5, sha1)
                jobs[job_name(table)] = Job(table, status, updated, dump)
            if run.wiki == self.sample.wiki:  # the pages-articles XML dump (article wiki only)
                status = run.statuses.get("articles", "done")
                updated = (base + timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S")
                dump = None
                if status == "done":
                    data = articles_dump(self.sample, run.wiki, run.day)
                    dump = DumpFile(articles_file_name(run.wiki, run.date), data,
                                    hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest())
                jobs[ARTICLES_JOB] = Job("articles", status, updated, dump)
            run.jobs = jobs
            return jobs

    def dumpstatus(self, run: Run) -> dict[str, Any]:
        jobs = {}
        served = self.served(run.date)
        for name, job in self.build(run).items():
            files = {}
            if job.file is not None:
                f = job.file
                served_name = self._served_name(run, f.name)
                files[served_name] = {"size": len(f.data), "url": f"/{run.wiki}/{served}/{served_name}", "md5": f.md5,
                                      "sha1": f.sha1}
            jobs[name] = {"status": job.status, "updated": self._served_updated(job.updated), "files": files}
        if run.date == self.old_date and run.date.endswith("20"):
            # the 20th's runs skip the full-history jobs; a skipped job carries no "files" key
            updated = self._served_updated((datetime.strptime(run.date, "%Y%m%d") + timedelta(days=2)).strftime(_UPDATED_FORMAT))
            for name in SKIPPED_ON_THE_20TH:
                jobs[name] = {"status": "skipped", "updated": updated}
        return {"jobs": jobs, "version": "0.8"}

    def latest_run(self, wiki: str, table: str) -> Run | None:
        for date in reversed(self.dates(wiki)):
            run = self.runs[(wiki, date)]
            job = self.build(run)[job_name(table)]
            if job.status == "done":
                return run
        return None

    # ------------------------------------------------------------------ HTTP
    def handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts == ["backup-index.html"]:
            return self._backup_index()
        wiki = parts[0]
        if wiki not in (self.sample.wiki, self.sample.commons_wiki, SECOND_WIKI):
            return Response.text("Not Found\n", 404)
        if len(parts) == 1:
            served = [self.served(d) for d in self.dates(wiki)]
            return self._html(f"{wiki} dumps", [(f"{d}/", d) for d in served] + [("latest/", "latest")])
        if parts[1] == "latest":
            return self._latest(request, wiki, parts[2:])
        date = parts[1]  # the served date; runs are keyed on the sample's
        run = self.runs.get((wiki, self.sample_date(date) or ""))
        if run is None:
            return Response.text("Not Found\n", 404)
        rest = parts[2:]
        if not rest or rest == ["index.html"]:
            return self._run_index(run)
        name = rest[0]
        if name == "dumpstatus.json":
            return Response.json(self.dumpstatus(run), headers={"Cache-Control": "no-cache"})
        if name in (f"{wiki}-{date}-md5sums.txt", f"{wiki}-{date}-sha1sums.txt"):
            algo = "md5" if "md5sums" in name else "sha1"
            lines = [f"{getattr(j.file, algo)}  {self._served_name(run, j.file.name)}\n"
                     for j in self.build(run).values() if j.file]
            return Response.text("".join(lines))
        for job in self.build(run).values():
            if job.file is not None and self._served_name(run, job.file.name) == name:
                return self._file(request, run, job)
        return Response.text("Not Found\n", 404)

    def _file(self, request: Request, run: Run, job: Job) -> Response:
        assert job.file is not None
        data = job.file.data
        legacy = request.query.get("schema")
        style = request.query.get("style")
        if legacy in ("legacy", "current", "transitional") or style in ("mariadb", "mysqldump"):
            data = self.render(
                run, job.table, legacy=(legacy == "legacy") if legacy in ("legacy", "current") else None,
                style=style if style in ("mariadb", "mysqldump") else None,  # type: ignore[arg-type]
                transitional=legacy == "transitional",
            )
        modified = datetime.strptime(self._served_updated(job.updated), _UPDATED_FORMAT).replace(tzinfo=UTC)
        response = Response(
            200, data, "application/octet-stream", payload=True,
            headers={"Last-Modified": modified.strftime("%a, %d %b %Y %H:%M:%S GMT"), "ETag": f'"{job.file.md5[:16]}"'},
        )
        return byte_range(request, data, response)

    def _latest(self, request: Request, wiki: str, rest: list[str]) -> Response:
        tables = self.tables(wiki)
        if not rest:
            links = [(f"{wiki}-latest-{t}.sql.gz", f"{wiki}-latest-{t}.sql.gz") for t in tables]
            return self._html(f"{wiki} latest", links)
        name = rest[0]
        for table in tables:
            base = f"{wiki}-latest-{table}.sql.gz"
            if name in (base, f"{base}-rss.xml"):
                run = self.latest_run(wiki, table)
                if run is None:
                    return Response.text("Not Found\n", 404)
                job = self.build(run)[job_name(table)]
                if name.endswith("-rss.xml"):
                    return self._rss(run, job)
                return self._file(request, run, job)
        return Response.text("Not Found\n", 404)

    def _rss(self, run: Run, job: Job) -> Response:
        assert job.file is not None
        link = f"https://dumps.wikimedia.org/{run.wiki}/{self.served(run.date)}"
        name = self._served_name(run, job.file.name)
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
            f"<title>{run.wiki}</title>\n<link>https://dumps.wikimedia.org/{run.wiki}/latest/</link>\n"
            f"<description>Wikimedia dump updates for {run.wiki}</description>\n"
            f"<item>\n<title>{name}</title>\n<link>{link}</link>\n"
            f"<description>&lt;a href=&quot;{link}/{name}&quot;&gt;{name}&lt;/a&gt;</description>\n"
            f"<pubDate>{datetime.strptime(self._served_updated(job.updated), _UPDATED_FORMAT):%a, %d %b %Y %H:%M:%S GMT}</pubDate>\n"
            "</item>\n</channel>\n</rss>\n"
        )
        return Response(200, xml.encode(), "application/rss+xml; charset=utf-8")

    def _run_index(self, run: Run) -> Response:
        jobs = self.build(run)
        if run.complete:
            state = "Dump complete"
        elif any(j.status == "failed" for j in jobs.values()):
            state = "Dump complete, 1 item failed"
        else:
            state = "Dump in progress"
        served = self.served(run.date)
        items = [(self._served_name(run, j.file.name) if j.file else "", f"{name}: {j.status}") for name, j in jobs.items()]
        items += [("dumpstatus.json", "dumpstatus.json"), (f"{run.wiki}-{served}-md5sums.txt", "md5sums"),
                  (f"{run.wiki}-{served}-sha1sums.txt", "sha1sums")]
        return self._html(f"{run.wiki} dump progress on {served}: {state}", items)

    def _backup_index(self) -> Response:
        items = []
        for wiki in (self.sample.wiki, self.sample.commons_wiki):
            date = self.dates(wiki)[-1]
            run = self.runs[(wiki, date)]
            self.build(run)
            items.append((f"{wiki}/{self.served(date)}", f"{wiki}: {'Dump complete' if run.complete else 'Dump in progress'}"))
        return self._html("Wikimedia Downloads (mirror)", items)

    @staticmethod
    def _html(title: str, links: list[tuple[str, str]]) -> Response:
        rows = "\n".join(
            f'<li><a href="{html.escape(href)}">{html.escape(text)}</a></li>' if href else f"<li>{html.escape(text)}</li>"
            for href, text in links
        )
        body = f"<!DOCTYPE html>\n<html><head><title>{html.escape(title)}</title></head>\n<body><h1>{html.escape(title)}</h1>\n<ul>\n{rows}\n</ul></body></html>\n"
        return Response(200, body.encode(), "text/html; charset=utf-8")

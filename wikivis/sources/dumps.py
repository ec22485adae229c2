"""Client for dumps.wikimedia.org (and its mirrors): run status, run choice, verified downloads.

Facts this follows (``docs``/research notes §1):

* A run is ``/<wiki>/<YYYYMMDD>/``; its ``dumpstatus.json`` (version 0.8) lists jobs keyed
  ``<table without underscores>table`` (``page_props`` → ``pagepropstable``) with
  ``status`` (waiting, in-progress, done, failed, skipped) and ``files{name: {size, url,
  md5, sha1}}``.  **A table is ready only when its job is ``done`` and its file carries a
  checksum** — files of running jobs exist but are incomplete.
* ``latest/`` links carry no date, so runs are listed from the wiki's index page
  (``/<wiki>/`` links ``YYYYMMDD/``) and the newest run holding every requested table ready
  is taken.  The 20th-of-month runs are partial, which the per-table check handles.
* The server caps connections at 2 per IP (mirrors do not): one
  :class:`~wikivis.sources.http.ConcurrencyLimiter` of ``Settings.dumps_max_connections`` is
  shared by everything this client does, and a download holds its slot for the whole body.
* Since mid-2026 automated downloads need a policy User-Agent (``Settings.user_agent``).

Downloads go to ``<raw_root>/dumps/<wiki>/<date>/<file>.part``, resume with ``Range`` after a
dropped connection, are verified (size, sha1 and md5 from dumpstatus.json, sha1 also from
``<wiki>-<date>-sha1sums.txt``) and only then renamed into place and recorded in the run
directory's ``_manifest.json``.  A download that does not verify is fetched again from the
start (``MAX_VERIFY_ATTEMPTS`` in all), then :class:`~wikivis.errors.ChecksumError`; a
``sha1sums.txt`` that disagrees with dumpstatus.json stops the file before any download.  A
file already recorded in the manifest with the expected sha1 and size is never fetched again.  Mirrors (``Settings.dump_mirrors``) are tried in order after
``dumps_url`` when a request fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from wikivis.config import Settings, check_wiki_name
from wikivis.errors import ChecksumError, NotFoundError, SourceError
from wikivis.sources.http import (
    ConcurrencyLimiter,
    HttpCounters,
    RetryPolicy,
    policy_from_settings,
    polite_session,
    request,
)
from wikivis.vocab import DUMP_DATE_RE, is_dump_date

MANIFEST = "_manifest.json"
STATUSES = ("waiting", "in-progress", "done", "failed", "skipped")
_RUN_LINK_RE = re.compile(rf"""href=["']?(?:\./)?({DUMP_DATE_RE.pattern})/?["'>]""", re.ASCII)
_DOWNLOAD_CHUNK = 1 << 20
#: full downloads of one file that may fail verification before the client gives up
MAX_VERIFY_ATTEMPTS = 4


#: dumps that are not SQL tables: name used by :meth:`DumpsClient.fetch` → dumpstatus job
NON_TABLE_JOBS = {"pages-articles": "articlesdump", "pages-articles-multistream": "articlesmultistreamdump"}


def job_name(table: str) -> str:
    """``page_props`` → ``pagepropstable`` (operations-dumps ``normalize_tablejob_name``);
    ``pages-articles`` → ``articlesdump`` (the XML dump of current page texts)."""
    return NON_TABLE_JOBS.get(table) or table.replace("_", "") + "table"


def dump_file_name(wiki: str, date: str, table: str) -> str:
    return f"{wiki}-{date}-{table}.sql.gz"


@dataclass(frozen=True)
class DumpFileInfo:
    """One file of a job as dumpstatus.json describes it."""

    name: str
    size: int | None
    url: str
    md5: str | None
    sha1: str | None


@dataclass(frozen=True)
class JobStatus:
    name: str
    status: str
    updated: str
    files: tuple[DumpFileInfo, ...]

    @property
    def ready(self) -> bool:
        """Done, with files that carry a checksum (the only state whose files are complete)."""
        return self.status == "done" and bool(self.files) and all(f.sha1 or f.md5 for f in self.files)


@dataclass(frozen=True)
class RunStatus:
    """A dump run (one wiki, one date) and the state of its jobs."""

    wiki: str
    date: str
    jobs: dict[str, JobStatus]
    version: str = ""

    def job(self, table: str) -> JobStatus | None:
        return self.jobs.get(job_name(table))

    def ready(self, tables: Iterable[str]) -> bool:
        return all((j := self.job(t)) is not None and j.ready for t in tables)

    def missing(self, tables: Iterable[str]) -> dict[str, str]:
        """Tables not ready → why (``failed``, ``in-progress``, ``no checksum``, ``absent``)."""
        out = {}
        for t in tables:
            j = self.job(t)
            if j is None:
                out[t] = "absent"
            elif not j.ready:
                out[t] = j.status if j.status != "done" else "no checksum"
        return out

    @property
    def complete(self) -> bool:
        """Every job finished: ``done``, or ``skipped`` by design (the runs of the 20th skip the
        full-history jobs ``metahistorybz2dump``/``metahistory7zdump`` — real dumpstatus.json)."""
        statuses = [j.status for j in self.jobs.values()]
        return "done" in statuses and all(s in ("done", "skipped") for s in statuses)

    def summary(self) -> dict[str, Any]:
        return {
            "wiki": self.wiki,
            "date": self.date,
            "complete": self.complete,
            "jobs": {name: j.status for name, j in sorted(self.jobs.items())},
        }


@dataclass(frozen=True)
class FetchedFile:
    """A verified local copy of one dump file (also the manifest entry)."""

    name: str
    size: int
    sha1: str
    md5: str
    url: str
    fetched_at: str
    path: Path = field(compare=False)
    reused: bool = field(default=False, compare=False)

    def manifest_entry(self) -> dict[str, Any]:
        entry = asdict(self)
        entry.pop("path")
        entry.pop("reused")
        return entry


@dataclass
class RunFiles:
    """The files of one run fetched for a set of tables."""

    wiki: str
    date: str
    directory: Path
    files: dict[str, FetchedFile]  # table -> file

    def path(self, table: str) -> Path:
        return self.files[table].path


def parse_dumpstatus(wiki: str, date: str, data: dict[str, Any], *, url: str = "") -> RunStatus:
    """Read a dumpstatus.json object; a malformed one is a :class:`SourceError` naming the URL."""
    try:
        jobs = {}
        for name, job in (data.get("jobs") or {}).items():
            files = tuple(
                DumpFileInfo(
                    name=fname,
                    size=int(f["size"]) if f.get("size") is not None else None,
                    url=str(f.get("url") or f"/{wiki}/{date}/{fname}"),
                    md5=(f.get("md5") or None),
                    sha1=(f.get("sha1") or None),
                )
                for fname, f in (job.get("files") or {}).items()
            )
            jobs[name] = JobStatus(name, str(job.get("status", "")), str(job.get("updated", "")), files)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise SourceError(f"malformed dumpstatus.json: {exc}", url=url) from exc
    return RunStatus(wiki, date, jobs, str(data.get("version", "")))


def parse_checksums(text: str) -> dict[str, str]:
    """``<hex>  <file>`` lines (md5sum/sha1sum output) → {file: hex}."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) == 2:
            out[parts[1].lstrip("*")] = parts[0].lower()
    return out


def _hash_file(path: Path) -> tuple[str, str, int]:
    sha1, md5, size = hashlib.sha1(), hashlib.md5(), 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_DOWNLOAD_CHUNK), b""):
            sha1.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return sha1.hexdigest(), md5.hexdigest(), size


def _atomic_write_json(path: Path, data: Any) -> None:
    from wikivis.lake import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True))


class DumpsClient:
    """dumps.wikimedia.org (or the local mirror) for one :class:`Settings`.

    :param session: injectable ``requests.Session`` (default: :func:`polite_session`).
    :param policy: retry policy (default from settings: 429/5xx/connection errors, backoff).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.session = session or polite_session(settings, pool_size=max(2, settings.dumps_max_connections))
        self.policy = policy or policy_from_settings(settings)
        self.limiter = ConcurrencyLimiter(max(1, settings.dumps_max_connections))
        self.counters = HttpCounters()
        self.sleep = sleep
        self.bases = [b.rstrip("/") for b in (settings.dumps_url, *settings.dump_mirrors) if b]
        if not self.bases:
            raise SourceError("no dumps_url configured")
        self._manifest_lock = threading.Lock()

    # ------------------------------------------------------------------ requests
    def _get(self, path: str, *, ok_statuses: tuple[int, ...] = (200,)) -> requests.Response:
        """GET ``path`` from the first base URL that answers (mirrors in order)."""
        last: Exception | None = None
        for base in self.bases:
            url = base + path
            try:
                return request(
                    self.session, "GET", url, policy=self.policy, counters=self.counters, limiter=self.limiter,
                    sleep=self.sleep, ok_statuses=ok_statuses, timeout=self.settings.http_timeout_s,
                )
            except SourceError as exc:
                last = exc
        assert last is not None
        raise last

    def list_runs(self, wiki: str) -> list[str]:
        """Run dates (``YYYYMMDD``) linked from the wiki's index page, oldest first."""
        check_wiki_name(wiki)
        try:
            response = self._get(f"/{wiki}/")
        except SourceError as exc:
            if exc.status == 404:
                raise NotFoundError(f"no dumps for wiki {wiki!r} at {exc.url}") from None
            raise
        return sorted(set(_RUN_LINK_RE.findall(response.text)))

    def run_status(self, wiki: str, date: str) -> RunStatus:
        """The run's dumpstatus.json.  A run without one is :class:`NotFoundError`."""
        check_wiki_name(wiki)
        if not is_dump_date(date):  # ASCII digits, and no trailing newline (``$`` would allow one)
            raise NotFoundError(f"not a dump date: {date!r} (expected YYYYMMDD)")
        path = f"/{wiki}/{date}/dumpstatus.json"
        try:
            response = self._get(path)
        except SourceError as exc:
            if exc.status == 404:
                raise NotFoundError(f"no dump run {wiki}/{date} ({exc.url} answered 404)") from None
            raise
        try:
            data = response.json()
        except ValueError as exc:
            raise SourceError("dumpstatus.json is not JSON", url=response.url) from exc
        return parse_dumpstatus(wiki, date, data, url=response.url)

    def runs(self, wiki: str) -> list[RunStatus]:
        """Every listed run with its status, newest first (runs without dumpstatus skipped)."""
        out = []
        for date in reversed(self.list_runs(wiki)):
            try:
                out.append(self.run_status(wiki, date))
            except NotFoundError:
                continue
        return out

    def find_run(
        self, wiki: str, tables: Sequence[str], date: str = "latest", *, at_or_before: str | None = None
    ) -> RunStatus:
        """The run to use: ``date`` itself (it must hold every table ready), or for
        ``"latest"`` the newest run (at or before ``at_or_before``) that does."""
        if date != "latest":
            run = self.run_status(wiki, date)
            missing = run.missing(tables)
            if missing:
                raise NotFoundError(f"dump run {wiki}/{date} is not ready for {missing}")
            return run
        seen: list[str] = []
        for candidate in reversed(self.list_runs(wiki)):
            if at_or_before is not None and candidate > at_or_before:
                continue
            try:
                run = self.run_status(wiki, candidate)
            except NotFoundError:
                continue
            if run.ready(tables):
                return run
            seen.append(f"{candidate}: {run.missing(tables)}")
        bound = f" at or before {at_or_before}" if at_or_before else ""
        raise NotFoundError(
            f"no complete dump run of {wiki}{bound} holds {list(tables)}"
            + (f" (checked {'; '.join(seen[:5])})" if seen else "")
        )

    def checksums(self, wiki: str, date: str, algo: str = "sha1") -> dict[str, str]:
        """``<wiki>-<date>-<algo>sums.txt`` as {file: hex}; empty when the run has none."""
        try:
            response = self._get(f"/{wiki}/{date}/{wiki}-{date}-{algo}sums.txt")
        except SourceError as exc:
            if exc.status == 404:
                return {}
            raise
        return parse_checksums(response.text)

    # ------------------------------------------------------------------ downloads
    def run_dir(self, wiki: str, date: str) -> Path:
        return self.settings.raw_root / "dumps" / check_wiki_name(wiki) / date

    def read_manifest(self, wiki: str, date: str) -> dict[str, Any]:
        path = self.run_dir(wiki, date) / MANIFEST
        if not path.exists():
            return {"wiki": wiki, "date": date, "files": {}}
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def _record(self, wiki: str, date: str, fetched: FetchedFile) -> None:
        with self._manifest_lock:
            manifest = self.read_manifest(wiki, date)
            manifest["files"][fetched.name] = fetched.manifest_entry()
            _atomic_write_json(self.run_dir(wiki, date) / MANIFEST, manifest)

    def fetch(
        self,
        wiki: str,
        date: str = "latest",
        tables: Sequence[str] = ("page", "linktarget", "imagelinks", "page_props", "categorylinks"),
        *,
        optional: Sequence[str] = (),
        at_or_before: str | None = None,
    ) -> RunFiles:
        """Download (or reuse) the files of ``tables`` from the chosen run, verified.

        ``optional`` tables are fetched too when the chosen run has them ready, but do not
        take part in choosing the run.
        """
        run = self.find_run(wiki, tables, date, at_or_before=at_or_before)
        sums = self.checksums(wiki, run.date, "sha1")
        directory = self.run_dir(wiki, run.date)
        directory.mkdir(parents=True, exist_ok=True)
        manifest = self.read_manifest(wiki, run.date)
        work: list[tuple[str, DumpFileInfo]] = []
        wanted = list(tables) + [t for t in optional if t not in tables and run.ready([t])]
        for table in wanted:
            job = run.job(table)
            assert job is not None
            for info in job.files:
                listed = sums.get(info.name)
                if listed and info.sha1 and listed != info.sha1.lower():
                    raise ChecksumError(
                        f"dumpstatus.json says sha1 {info.sha1} but {wiki}-{run.date}-sha1sums.txt says {listed}",
                        source=info.name,
                    )
                work.append((table, info if info.sha1 or not listed else _with_sha1(info, listed)))

        def one(item: tuple[str, DumpFileInfo]) -> tuple[str, FetchedFile]:
            table, info = item
            return table, self._fetch_file(wiki, run.date, info, manifest["files"].get(info.name))

        files: dict[str, FetchedFile] = {}
        workers = max(1, min(self.limiter.limit, len(work)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dumps") as pool:
            for table, fetched in pool.map(one, work):
                files[table] = fetched
        return RunFiles(wiki, run.date, directory, files)

    def _fetch_file(self, wiki: str, date: str, info: DumpFileInfo, recorded: dict[str, Any] | None) -> FetchedFile:
        final = self.run_dir(wiki, date) / info.name
        if recorded and final.exists() and self._matches(recorded, info) and final.stat().st_size == recorded["size"]:
            return FetchedFile(path=final, reused=True, **recorded)
        part = final.with_name(final.name + ".part")
        url_path = info.url if info.url.startswith("/") else f"/{wiki}/{date}/{info.name}"
        failures = 0
        while True:
            url = self._download(url_path, part, info)
            sha1, md5, size = _hash_file(part)
            problems = []
            if info.size is not None and size != info.size:
                problems.append(f"size {size} != {info.size}")
            if info.sha1 and sha1 != info.sha1.lower():
                problems.append(f"sha1 {sha1} != {info.sha1}")
            if info.md5 and md5 != info.md5.lower():
                problems.append(f"md5 {md5} != {info.md5}")
            if not problems:
                break
            part.unlink(missing_ok=True)
            failures += 1
            if failures >= MAX_VERIFY_ATTEMPTS:  # then it is the published checksum (or file) that is wrong
                raise ChecksumError(f"{url}: downloaded file does not verify: {'; '.join(problems)}", source=info.name)
        os.replace(part, final)
        fetched = FetchedFile(
            name=info.name, size=size, sha1=sha1, md5=md5, url=url,
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"), path=final,
        )
        self._record(wiki, date, fetched)
        return fetched

    @staticmethod
    def _matches(recorded: dict[str, Any], info: DumpFileInfo) -> bool:
        if info.sha1:
            return bool(recorded.get("sha1") == info.sha1.lower())
        return bool(info.md5 and recorded.get("md5") == info.md5.lower())

    def _download(self, url_path: str, part: Path, info: DumpFileInfo) -> str:
        """Bring ``part`` to the full file, resuming with Range; returns the URL used."""
        attempt = 0
        base_index = 0
        retried: tuple[type[BaseException], ...] = (SourceError, *self.policy.exceptions)
        while True:
            url = self.bases[base_index] + url_path
            have = part.stat().st_size if part.exists() else 0
            if info.size is not None and have == info.size:
                return url
            if info.size is not None and have > info.size:
                part.unlink()
                have = 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with self.limiter.slot():
                    response = request(
                        self.session, "GET", url, policy=self.policy, counters=self.counters, sleep=self.sleep,
                        ok_statuses=(200, 206, 416), headers=headers, stream=True,
                        timeout=self.settings.http_timeout_s,
                    )
                    try:
                        if response.status_code == 416:
                            part.unlink(missing_ok=True)  # our part is not a prefix of theirs
                            raise requests.ConnectionError("416 Range Not Satisfiable; restarting")
                        mode = "ab" if response.status_code == 206 and have else "wb"
                        with part.open(mode) as fh:
                            for chunk in response.iter_content(_DOWNLOAD_CHUNK):
                                fh.write(chunk)
                                self.counters.add(bytes=len(chunk))
                            fh.flush()
                            os.fsync(fh.fileno())
                    finally:
                        response.close()
                if info.size is None or part.stat().st_size >= info.size:
                    return url
                raise requests.ConnectionError(f"body ended at {part.stat().st_size} of {info.size} bytes")
            except retried as exc:
                attempt += 1
                if isinstance(exc, SourceError) and base_index + 1 < len(self.bases):
                    base_index += 1  # this server gave up: try the next mirror
                    attempt = 0
                    continue
                if attempt >= self.policy.max_attempts:
                    if isinstance(exc, SourceError):
                        raise
                    raise SourceError(f"download failed after {attempt} attempts: {exc}", url=url) from exc
                self.counters.add(retries=1)
                self.sleep(self.policy.backoff(attempt))


def _with_sha1(info: DumpFileInfo, sha1: str) -> DumpFileInfo:
    return DumpFileInfo(info.name, info.size, info.url, info.md5, sha1)

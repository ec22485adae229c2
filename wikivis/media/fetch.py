"""Fetch Commons metadata and thumbnails, politely, resumably, content-addressed.

**Metadata** (:func:`fetch_metadata`) comes from ``prop=imageinfo`` through
:class:`~wikivis.sources.commons.ActionApiClient` and becomes the ``file_metadata`` dataset.

**Thumbnails** (:func:`fetch_media`) follow upload.wikimedia.org's Robot policy: "a total
concurrency of at most 2, and … 25 Mbps (as measured over 10 second intervals)".

* *Sizes.*  Only standard widths (:data:`~wikivis.config.STANDARD_THUMB_WIDTHS`), and only
  the API's ``thumburl``: a URL is never built here.  A URL whose ``NNNpx-`` is not a
  standard width is refused before any request (reason ``non_standard_width``).  A file
  narrower than the width has no thumbnail (MediaWiki does not upscale bitmaps): the API
  then returns the original's URL as ``thumburl``, which is fetched as is.
  :func:`default_thumb_width` picks the smallest standard width that covers a model's
  input after the usual resize-then-centre-crop (256 → 224): 330 px for 224-px models.
* *Politeness.*  One keep-alive session whose pool is hard-capped at the connection limit
  (``pool_block``), a :class:`~wikivis.sources.http.ConcurrencyLimiter` held for the whole
  request *and body*, and a :class:`~wikivis.sources.http.TokenBucket` charged per 64 KiB
  chunk while streaming.  The bucket is sized so that *every* 10-second window (sliding,
  hence fixed ones too) stays under the cap: a bucket of rate ``r`` and burst ``b·r`` lets
  ``r·(W+b)`` through any window W, so the rate is ``0.97·cap·W/(W+b)`` (b = 0.25 s → 95 % of
  the cap; the 3 % covers bytes a server has written but we have not read yet).  Limiter,
  bucket and cooldown are process-wide per host (:func:`host_politeness`).  429/503 are
  retried after ``max(Retry-After, backoff)``, and a Retry-After pauses *every* worker
  (:class:`~wikivis.sources.http.Cooldown`): it addresses the client.  A 403 (User-Agent
  refused) or a 429 that outlasts the retries stops the run: continuing would hammer a
  server that asked us to stop.
* *Never sleep holding a slot.*  A connection slot is one of the policy's two: it is held
  for one attempt (request and body) only, and every wait (backoff, Retry-After, cooldown)
  happens after it is released; only the bandwidth bucket paces the body while it streams.  A thumbnail **500/502/504** ("Error generating
  thumbnail": Thumbor failed on that file, often for good) is not retried in line at all:
  the item goes to the end of its shard and is tried again there, at most
  :data:`DEFERRED_RETRIES` times, then recorded as failed (``http_500``…; the server's
  message is logged).  Retrying it six times in line, with backoff, held a slot for ~17 s
  per bad file and halved the throughput of the other slot's worth of work.
* *Saturation.*  More worker threads than connections: a worker releases its connection slot
  as soon as the body is read, then decodes and stores the image while another worker uses
  the slot, so both connections stay busy.
* *Checks.*  Every image is decoded with Pillow (``verify()`` then ``load()``).  Decompression
  bombs are caught by an explicit pixel limit checked from the header before decoding
  (``max_pixels``; Pillow's own ``Image.MAX_IMAGE_PIXELS`` guard is process-global, so it is
  left alone and its ``DecompressionBombError`` is mapped to the same reason).  Failures are
  values with a reason: ``http_404``, ``http_400``, ``truncated``, ``corrupt``,
  ``decompression_bomb``, ``too_large``, ``non_standard_width``, ``checksum_mismatch`` (an
  original whose bytes do not hash to the file's sha1)…; skips likewise:
  ``not_free``, ``licence_unknown``, ``opt_out``, ``not_an_image``, ``no_thumbnail``.
* *Resume.*  The work list (sorted by sha1) is cut into shards; a finished shard leaves
  ``<media_root>/_shards/<listhash>-<n>.done`` holding its rows, so a rerun skips it
  entirely, and within unfinished shards an image already in the store is never requested
  again.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import requests
from PIL import Image, UnidentifiedImageError

from wikivis.config import STANDARD_THUMB_WIDTHS
from wikivis.datasets import schema
from wikivis.errors import RetriesExceeded, SourceError
from wikivis.lake import Lake, Manifest, atomic_write_text
from wikivis.media.licences import is_non_free, licence_problem, robots_opt_out, truthy
from wikivis.media.store import FORMAT_EXTENSIONS, MediaStore
from wikivis.sources.commons import ActionApiClient, FileInfo, check_thumb_width, file_name
from wikivis.sources.http import (
    ConcurrencyLimiter,
    Cooldown,
    HttpCounters,
    RetryPolicy,
    TokenBucket,
    check_user_agent,
    mbps_to_bytes_per_s,
    parse_retry_after,
    policy_from_settings,
    polite_session,
)

if TYPE_CHECKING:
    from wikivis.config import Settings

log = logging.getLogger(__name__)

#: bytes read per streaming step (and charged to the bandwidth bucket)
CHUNK_BYTES = 64 * 1024
#: an image whose header announces more pixels than this is refused unread
DEFAULT_MAX_PIXELS = 40_000_000
#: a "thumbnail" larger than this is refused (narrow originals can be big files)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_SHARD_SIZE = 256
#: window of the upload policy and burst allowance of the bucket (see module docstring)
POLICY_WINDOW_S = 10.0
BUCKET_BURST_S = 0.25
#: aim this far below the cap: a server counts bytes when it *writes* them, ahead of our reads
#: by what sits in socket buffers (two thumbnails at most)
BANDWIDTH_SAFETY = 0.97
#: media types that have an image thumbnail worth embedding
IMAGE_MEDIA_TYPES = frozenset({"BITMAP", "DRAWING"})
TRUNCATION_RETRIES = 2
#: a thumbnail 5xx (other than 503) is tried again at the end of its shard at most this often
DEFERRED_RETRIES = 2
#: statuses that mean "this file could not be rendered now": retried later, not in line
DEFERRED_STATUSES = frozenset({500, 502, 504})
MARKER_VERSION = 1


# --------------------------------------------------------------------------- sizes


def default_thumb_width(model_input_px: int = 224, *, resize_ratio: float = 256 / 224) -> int:
    """Smallest standard width ≥ the model input after resize-then-crop (224 → 256 → 330)."""
    need = math.ceil(model_input_px * resize_ratio)
    for width in STANDARD_THUMB_WIDTHS:
        if width >= need:
            return width
    return STANDARD_THUMB_WIDTHS[-1]


_PX_RE = re.compile(r"(?:^|-)(\d+)px-")


def thumb_url_width(url: str) -> int | None:
    """The width a thumbnail URL asks for, or None when the URL is not a thumbnail (an
    original file, as the API returns for files narrower than the requested width).

    Thumbnail URLs read ``…/thumb/<h>/<hh>/<Name>/<W>px-<Name>`` (with prefixes such as
    ``lossy-page1-`` and suffixes such as ``.png`` for SVG).
    """
    parts = unquote(urlsplit(url).path).split("/")
    if len(parts) < 2:
        return None
    last, parent = parts[-1], parts[-2]
    match = _PX_RE.search(last)
    if match is None or not ("thumb" in parts[:-2] or (parent and parent in last)):
        return None
    return int(match.group(1))


def upload_bucket(settings: Settings) -> TokenBucket:
    """A bucket that keeps every 10-s window under ``upload_max_mbps`` (see module doc)."""
    cap = mbps_to_bytes_per_s(settings.upload_max_mbps) * BANDWIDTH_SAFETY
    return TokenBucket(cap * POLICY_WINDOW_S / (POLICY_WINDOW_S + BUCKET_BURST_S), window_s=BUCKET_BURST_S)


@dataclass(frozen=True)
class HostPoliteness:
    """The limits of one upload host, shared by every fetcher of this process."""

    limiter: ConcurrencyLimiter
    bucket: TokenBucket
    cooldown: Cooldown


_HOSTS: dict[tuple[str, int, float], HostPoliteness] = {}
_HOSTS_LOCK = threading.Lock()


def host_politeness(settings: Settings) -> HostPoliteness:
    """Process-wide limiter, bandwidth bucket and Retry-After cooldown for the upload host.

    The policy limits the *client*, so two fetchers (two stages, two reruns) in one process
    share them: a fresh bucket per call would grant a fresh burst each time.  Separate
    processes cannot see each other: run one fetch task per host at a time (an Airflow pool
    of one slot).
    """
    key = (urlsplit(settings.upload_url).netloc, settings.upload_max_concurrency, float(settings.upload_max_mbps))
    with _HOSTS_LOCK:
        if key not in _HOSTS:
            _HOSTS[key] = HostPoliteness(
                ConcurrencyLimiter(settings.upload_max_concurrency), upload_bucket(settings), Cooldown()
            )
        return _HOSTS[key]


# --------------------------------------------------------------------------- metadata


@dataclass
class MetadataResult:
    table: pa.Table
    requested: int
    problems: dict[str, int]
    manifest: Manifest | None = None
    #: ``metadata_failures`` rows: every requested title that yields no usable metadata
    failures: pa.Table | None = None
    failures_manifest: Manifest | None = None
    #: of ``requested``, titles whose metadata was reused (not asked again)
    reused: int = 0

    def failure_rows(self) -> list[dict[str, Any]]:
        return self.failures.to_pylist() if self.failures is not None else []


#: why a requested title has no usable metadata (``metadata_failures.reason``)
FAILURE_DETAILS = {
    "missing": "no such file on Commons",
    "invalid": "not a valid file title",
    "no_imageinfo": "the file page has no file revision (deleted or never uploaded)",
    "no_sha1": "the API gave no sha1 for the file",
    "non_free": "non-free file (fair use): no image is fetched",
}


def failure_row(requested: str, reason: str, detail: str | None = None) -> dict[str, Any]:
    """One ``metadata_failures`` row; ``file_name`` is the title as asked (as a DB key)."""
    return {"file_name": file_name(requested) or requested, "reason": reason,
            "detail": detail or FAILURE_DETAILS.get(reason)}


def metadata_row(info: FileInfo) -> dict[str, Any]:
    """One ``file_metadata`` row from an imageinfo result."""
    ext = info.extmetadata

    def text(key: str) -> str | None:
        value = ext.get(key)
        return value if value else None

    attribution = ext.get("AttributionRequired")
    return {
        "file_name": info.name,
        "sha1": info.sha1,
        "size": info.size,
        "width": info.width,
        "height": info.height,
        "mime": info.mime,
        "media_type": info.media_type,
        "thumb_url": info.thumb_url,
        "thumb_width": info.thumb_width,
        "thumb_height": info.thumb_height,
        "licence_short_name": text("LicenseShortName"),
        "licence": text("License"),
        "artist": text("Artist"),
        "credit": text("Credit"),
        "description": (text("ImageDescription") or "")[:4000] or None,
        "attribution_required": truthy(attribution) if attribution else None,
        "non_free": is_non_free(ext),
        "restrictions": text("Restrictions"),
    }


def fetch_metadata(
    settings: Settings,
    titles: Iterable[str],
    lake: Lake | None = None,
    snapshot: str | None = None,
    *,
    wiki: str | None = None,
    client: ActionApiClient | None = None,
    thumb_width: int | None = None,
    run_id: str | None = None,
    reuse: Sequence[dict[str, Any]] = (),
    on_file: Callable[[FileInfo], None] | None = None,
) -> MetadataResult:
    """Image info for ``titles`` → ``file_metadata`` rows (written to the lake when ``lake``
    and ``snapshot`` are given, under ``wiki``, default the Commons wiki).

    ``reuse`` rows (e.g. last snapshot's metadata for files whose sha1 did not change) are
    kept as they are and not asked again.  Missing/invalid titles are counted in
    ``problems``, never raised, and every requested title without usable metadata is a
    ``metadata_failures`` row with its reason (``missing``, ``invalid``, ``no_imageinfo``,
    ``no_sha1``, and ``non_free`` when only free files are wanted: its metadata is in
    ``file_metadata``, flagged, but it yields no image); that dataset is written beside
    ``file_metadata``.
    """
    width = check_thumb_width(thumb_width or settings.thumb_width)
    client = client or ActionApiClient.from_settings(settings)
    reused = {r["file_name"]: r for r in reuse}
    wanted = [t for t in dict.fromkeys(titles) if file_name(t) not in reused]
    rows: dict[str, dict[str, Any]] = dict(reused)
    problems: Counter[str] = Counter()
    failures: dict[str, dict[str, Any]] = {}
    for info in client.imageinfo(wanted, thumb_width=width):
        if on_file is not None:
            on_file(info)
        if info.problem is not None or not info.sha1:
            problems[info.problem or "no_sha1"] += 1
            failure = failure_row(info.requested, info.problem or "no_sha1", info.problem_detail)
            failures.setdefault(failure["file_name"], failure)
            continue
        rows.setdefault(info.name, metadata_row(info))
    if settings.free_licences_only:
        for row in rows.values():
            if row.get("non_free") and row["file_name"] not in failures:
                licence = row.get("licence_short_name")
                failures[row["file_name"]] = failure_row(
                    row["file_name"], "non_free", f"non-free file ({licence}): no image is fetched" if licence else None
                )
    table = pa.Table.from_pylist(list(rows.values()), schema=schema("file_metadata"))
    failed = pa.Table.from_pylist([failures[k] for k in sorted(failures)], schema=schema("metadata_failures"))
    manifest = failures_manifest = None
    if lake is not None and snapshot is not None:
        owner = wiki or settings.commons_wiki
        manifest = lake.write("file_metadata", owner, snapshot, table, run_id=run_id)
        failures_manifest = lake.write("metadata_failures", owner, snapshot, failed, run_id=run_id)
    return MetadataResult(table, len(wanted) + len(reused), dict(problems), manifest, failed, failures_manifest,
                          reused=len(reused))


# --------------------------------------------------------------------------- images


class ImageProblem(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def verify_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str, int, int]:
    """Decode ``data`` fully; return (Pillow format, width, height) or raise ImageProblem."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format or "", img.size
            if width * height > max_pixels:
                raise ImageProblem("decompression_bomb", f"{width}x{height} > {max_pixels} pixels")
            if fmt not in FORMAT_EXTENSIONS:
                raise ImageProblem("unsupported_format", fmt)
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem("decompression_bomb", str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageProblem("corrupt", "not a recognisable image") from exc
    except OSError as exc:
        raise ImageProblem("truncated" if "truncated" in str(exc).lower() else "corrupt", str(exc)) from exc
    except Exception as exc:  # decoders raise SyntaxError, ValueError, struct.error, EOFError...
        raise ImageProblem("corrupt", f"{exc.__class__.__name__}: {exc}") from exc
    return fmt, width, height


# --------------------------------------------------------------------------- work plan


@dataclass(frozen=True)
class WorkItem:
    sha1: str
    file_name: str
    url: str


@dataclass
class FetchSummary:
    """What one :func:`fetch_media` run did.  ``failed``/``skipped_reasons`` count by reason."""

    total: int = 0
    fetched: int = 0
    already_present: int = 0
    skipped: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    waited_s: float = 0.0
    elapsed_s: float = 0.0
    shards: int = 0
    shards_resumed: int = 0
    #: items put back to the end of their shard after a thumbnail 500/502/504
    deferred: int = 0
    metadata_problems: dict[str, int] = field(default_factory=dict)
    #: ``metadata_failures`` rows (file_name, reason, detail): titles that got no usable metadata
    metadata_failures: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    manifest: Manifest | None = field(default=None, repr=False)

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("records")
        out.pop("manifest")
        out["failed_total"] = self.failed_total
        return out


def _row(item: WorkItem | dict[str, Any], status: str, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    sha1 = item.sha1 if isinstance(item, WorkItem) else item["sha1"]
    name = item.file_name if isinstance(item, WorkItem) else item["file_name"]
    return {
        "sha1": sha1,
        "file_name": name,
        "path": extra.get("path"),
        "width": extra.get("width"),
        "height": extra.get("height"),
        "bytes": extra.get("bytes"),
        "status": status,
        "reason": reason,
    }


def plan_work(
    rows: Iterable[dict[str, Any]], *, free_licences_only: bool = True, max_images: int = 0
) -> tuple[list[WorkItem], list[dict[str, Any]]]:
    """Split metadata rows into fetchable items (sorted by sha1, one per sha1) and skip/fail
    rows decided without any request."""
    by_sha1: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["file_name"]):
        sha1 = (row.get("sha1") or "").lower()
        if len(sha1) == 40:
            by_sha1.setdefault(sha1, {**row, "sha1": sha1})
    items: list[WorkItem] = []
    decided: list[dict[str, Any]] = []
    for sha1 in sorted(by_sha1):
        row = by_sha1[sha1]
        problem = licence_problem(row.get("licence_short_name"), row.get("non_free")) if free_licences_only else None
        url = row.get("thumb_url")
        if problem:
            decided.append(_row(row, "skipped", problem))
        elif (row.get("media_type") or "BITMAP") not in IMAGE_MEDIA_TYPES:
            decided.append(_row(row, "skipped", "not_an_image"))
        elif not url:
            decided.append(_row(row, "skipped", "no_thumbnail"))
        else:
            width = thumb_url_width(url)
            if width is not None and width not in STANDARD_THUMB_WIDTHS:
                decided.append(_row(row, "failed", "non_standard_width"))
            else:
                items.append(WorkItem(sha1, row["file_name"], url))
    if max_images and len(items) > max_images:
        items = items[:max_images]
    return items, decided


def list_hash(items: Sequence[WorkItem]) -> str:
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item.sha1}\t{item.url}\n".encode())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- fetcher


class _Truncated(Exception):
    pass


class _Deferred(Exception):
    """A thumbnail 500/502/504: try the item again at the end of its shard."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class _OptOut(Exception):
    def __init__(self, directive: str) -> None:
        super().__init__(directive)
        self.directive = directive


class ThumbnailFetcher:
    """Downloads, checks and stores one image at a time; shared by the worker threads."""

    def __init__(
        self,
        settings: Settings,
        store: MediaStore,
        *,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        limiter: ConcurrencyLimiter | None = None,
        bucket: TokenBucket | None = None,
        counters: HttpCounters | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        limit = settings.upload_max_concurrency
        self.session = session or polite_session(settings, pool_size=limit, pool_block=True)
        check_user_agent(str(self.session.headers.get("User-Agent", "")))
        self.store = store
        self.policy = policy or policy_from_settings(settings)
        shared = host_politeness(settings)
        self.limiter = limiter or shared.limiter
        self.bucket = bucket or shared.bucket
        self.counters = counters or HttpCounters()
        self.timeout_s = settings.http_timeout_s
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.sleep = sleep
        # an injected sleep (tests) gets its own cooldown, so that fake time never blocks real fetchers
        self.cooldown = shared.cooldown if sleep is time.sleep else Cooldown(sleep=sleep)
        #: set by the first structural failure (403, persistent 429): no worker sends another request
        self.abort: SourceError | None = None

    def present_row(self, item: WorkItem, path: Path) -> dict[str, Any]:
        try:
            with Image.open(path) as img:
                width, height = img.size
        except Exception:  # a damaged stored file is fetched again by the caller
            return {}
        rel = path.relative_to(self.store.root).as_posix()
        return _row(item, "ok", None, path=rel, width=width, height=height, bytes=path.stat().st_size) | {
            "_present": True
        }

    def fetch(self, item: WorkItem) -> dict[str, Any]:
        """Fetch one item → a ``media`` row (plus ``_fetched``/``_present`` flags)."""
        try:
            return self._fetch(item)
        except SourceError as exc:
            self.abort = self.abort or exc
            raise

    def _fetch(self, item: WorkItem) -> dict[str, Any]:
        if self.abort is not None:
            raise self.abort
        existing = self.store.find(item.sha1)
        if existing is not None:
            row = self.present_row(item, existing)
            if row:
                return row
            existing.unlink(missing_ok=True)
        width = thumb_url_width(item.url)
        if width is not None and width not in STANDARD_THUMB_WIDTHS:
            return _row(item, "failed", "non_standard_width")
        data = b""
        for attempt in range(TRUNCATION_RETRIES + 1):
            try:
                data = self._download(item.url)
                break
            except _OptOut as exc:
                return _row(item, "skipped", "opt_out") | {"_detail": exc.directive}
            except _Deferred as exc:
                log.info("%s (%s): HTTP %d %s", item.file_name, item.url, exc.status, exc.detail)
                return _row(item, "failed", f"http_{exc.status}") | {"_retry_later": True, "_detail": exc.detail}
            except ImageProblem as exc:
                return _row(item, "failed", exc.reason) | {"_fetched": True}
            except _Truncated:
                if attempt == TRUNCATION_RETRIES:
                    return _row(item, "failed", "truncated") | {"_fetched": True}
            except RetriesExceeded as exc:
                if exc.status == 429:
                    raise
                return _row(item, "failed", f"http_{exc.status}" if exc.status else "connection_error")
            except SourceError as exc:
                if exc.status == 403:
                    raise SourceError(
                        "upload host refused the request (HTTP 403: User-Agent policy or block); stopping",
                        url=item.url,
                        status=403,
                    ) from exc
                return _row(item, "failed", f"http_{exc.status}" if exc.status else "http_error")
        if width is None and hashlib.sha1(data).hexdigest() != item.sha1:
            # an original (file narrower than the thumbnail width): its bytes must hash to the file sha1
            return _row(item, "failed", "checksum_mismatch", bytes=len(data)) | {"_fetched": True}
        try:
            fmt, img_w, img_h = verify_image(data, max_pixels=self.max_pixels)
        except ImageProblem as exc:
            log.info("%s (%s): %s", item.file_name, item.url, exc)
            return _row(item, "failed", exc.reason, bytes=len(data)) | {"_fetched": True}
        path = self.store.put(item.sha1, FORMAT_EXTENSIONS[fmt], data)
        rel = path.relative_to(self.store.root).as_posix()
        return _row(item, "ok", None, path=rel, width=img_w, height=img_h, bytes=len(data)) | {"_fetched": True}

    def _download(self, url: str) -> bytes:
        """One image's bytes.  Each attempt holds a connection slot for the request and body
        only; backoff and Retry-After waits happen with the slot released (module doc)."""
        policy = self.policy
        # what Session.request does before sending, done here without a slot (CPU is scarce
        # on a busy worker: only the exchange itself should hold a connection)
        prepared = self.session.prepare_request(requests.Request("GET", url))
        send_kwargs: dict[str, Any] = {"timeout": self.timeout_s, "allow_redirects": True}
        send_kwargs.update(self.session.merge_environment_settings(prepared.url, {}, True, None, None))
        for attempt in range(1, policy.max_attempts + 1):
            if attempt == 1:  # a retry has already waited ≥ its Retry-After
                paused = self.cooldown.wait()
                if paused:
                    self.counters.add(waited_s=paused)
            status, retry_after, detail = self._attempt(url, prepared, send_kwargs)
            if status == 200:
                return detail  # type: ignore[return-value]
            if status in DEFERRED_STATUSES:
                self.counters.add(server_errors=1)
                raise _Deferred(status, str(detail))
            if status == 429:
                self.counters.add(throttled=1)
            elif status >= 500:
                self.counters.add(server_errors=1)
            if retry_after is not None and policy.honour_retry_after:
                if retry_after > policy.max_wait_s:
                    raise RetriesExceeded(
                        f"server asked to wait {retry_after:.0f}s (Retry-After), more than "
                        f"max_wait_s={policy.max_wait_s:.0f}",
                        url=url,
                        status=status or None,
                    )
                self.cooldown.block(retry_after)
            if attempt == policy.max_attempts:
                what = f"HTTP {status}" if status else str(detail)
                raise RetriesExceeded(f"gave up after {attempt} attempts ({what})", url=url, status=status or None)
            delay = policy.backoff(attempt)
            if retry_after is not None and policy.honour_retry_after:
                delay = max(delay, retry_after)
            self.counters.add(retries=1, waited_s=delay)
            self.sleep(delay)  # no slot held here
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, url: str, prepared: requests.PreparedRequest, send_kwargs: dict[str, Any]
    ) -> tuple[int, float | None, bytes | str]:
        """One request under a connection slot → (200, None, body) or (status, Retry-After,
        message) for a status the policy retries (status 0: a connection error).  Other
        statuses raise :class:`SourceError`."""
        with self.limiter.slot():
            if self.abort is not None:  # another worker was told to stop while this one waited
                raise self.abort
            self.counters.add(requests=1)
            try:
                response = self.session.send(prepared, **send_kwargs)
            except self.policy.exceptions as exc:
                return 0, None, f"{exc.__class__.__name__}: {exc}"
            try:
                status = response.status_code
                if status != 200:
                    try:
                        message = " ".join(response.text[:300].split())
                    except Exception:
                        message = ""
                    if status in self.policy.statuses:
                        return status, parse_retry_after(response.headers.get("Retry-After")), message
                    raise SourceError(f"unexpected response: {message}", url=url, status=status)
                directive = robots_opt_out(_header_values(response, "X-Robots-Tag"))
                if directive:
                    raise _OptOut(directive)
                chunks: list[bytes] = []
                received = 0
                try:
                    for chunk in response.iter_content(CHUNK_BYTES):
                        received += len(chunk)
                        self.counters.add(bytes=len(chunk))
                        if received > self.max_bytes:
                            raise ImageProblem("too_large", f"more than {self.max_bytes} bytes")
                        chunks.append(chunk)
                        self.bucket.consume(len(chunk))
                except requests.RequestException as exc:
                    raise _Truncated(str(exc)) from exc
            finally:
                response.close()
        expected = response.headers.get("Content-Length")
        if expected and not response.headers.get("Content-Encoding") and expected.isdigit() and int(expected) != received:
            raise _Truncated(f"{received} of {expected} bytes")
        return 200, None, b"".join(chunks)


def _header_values(response: requests.Response, name: str) -> list[str]:
    raw_headers = getattr(response.raw, "headers", None)
    getlist = getattr(raw_headers, "getlist", None)
    if callable(getlist):
        return list(getlist(name))
    value = response.headers.get(name)
    return [value] if value else []


# --------------------------------------------------------------------------- driver


def _marker_path(store: MediaStore, lhash: str, shard: int) -> Path:
    return store.shards_dir / f"{lhash}-{shard:05d}.done"


def _load_marker(path: Path, shard_items: Sequence[WorkItem], store: MediaStore) -> list[dict[str, Any]] | None:
    """Rows of a finished shard, or None when the marker is absent, stale or its files vanished."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    rows = data.get("rows") if isinstance(data, dict) else None
    if data.get("version") != MARKER_VERSION or not isinstance(rows, list):
        return None
    if sorted(r.get("sha1") for r in rows) != sorted(i.sha1 for i in shard_items):
        return None
    for r in rows:
        if r.get("status") == "ok" and not (store.root / str(r.get("path"))).is_file():
            return None
    return rows


def _as_rows(rows: pa.Table | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return rows.to_pylist() if isinstance(rows, pa.Table) else list(rows)


def fetch_media(
    settings: Settings,
    rows: pa.Table | Iterable[dict[str, Any]],
    *,
    store: MediaStore | None = None,
    fetcher: ThumbnailFetcher | None = None,
    lake: Lake | None = None,
    wiki: str | None = None,
    snapshot: str | None = None,
    run_id: str | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    workers: int | None = None,
    max_images: int | None = None,
    on_item: Callable[[dict[str, Any]], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> FetchSummary:
    """Fetch the thumbnails of ``file_metadata`` rows into the media store.

    Writes the ``media`` dataset when ``lake`` and ``snapshot`` are given (under ``wiki``,
    default the Commons wiki).  ``on_plan(n)`` is told how many items will be processed,
    ``on_item(row)`` is called once per processed item (progress bars).
    """
    started = time.perf_counter()
    if fetcher is not None:
        store = fetcher.store
    store = store or MediaStore(settings.media_root)
    store.clean_temporaries()
    fetcher = fetcher or ThumbnailFetcher(settings, store)
    items, decided = plan_work(
        _as_rows(rows),
        free_licences_only=settings.free_licences_only,
        max_images=settings.max_images if max_images is None else max_images,
    )
    lhash = list_hash(items)
    shards = [items[i : i + shard_size] for i in range(0, len(items), shard_size)]
    results: dict[int, list[dict[str, Any]]] = {}
    for n, shard_items in enumerate(shards):
        loaded = _load_marker(_marker_path(store, lhash, n), shard_items, store)
        if loaded is not None:
            results[n] = loaded
    resumed = len(results)
    if on_plan is not None:
        on_plan(len(decided) + len(items))
    for row in decided:
        if on_item is not None:
            on_item(row)
    for n in results:
        for row in results[n]:
            if on_item is not None:
                on_item(row)

    pending = [(n, item) for n, shard_items in enumerate(shards) if n not in results for item in shard_items]
    remaining = {n: len(shards[n]) for n in range(len(shards)) if n not in results}
    partial: dict[int, list[dict[str, Any]]] = {n: [] for n in remaining}
    # thumbnail 500s: put back to the end of their shard (see module doc), at most DEFERRED_RETRIES times
    first_pass = dict(remaining)  # items of the shard whose first attempt has not come back yet
    later: dict[int, list[WorkItem]] = {n: [] for n in remaining}
    retry_ready: deque[tuple[int, WorkItem]] = deque()
    retries: Counter[str] = Counter()
    n_workers = workers or settings.upload_max_concurrency + 2
    fetched_rows: list[dict[str, Any]] = []
    queue = iter(pending)
    pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="thumb")
    in_flight: dict[Future[dict[str, Any]], tuple[int, WorkItem, bool]] = {}
    try:
        exhausted = False
        while True:
            while len(in_flight) < 2 * n_workers:
                if retry_ready:
                    n, item = retry_ready.popleft()
                    in_flight[pool.submit(fetcher.fetch, item)] = (n, item, False)
                    continue
                if exhausted:
                    break
                nxt = next(queue, None)
                if nxt is None:
                    exhausted = True
                    continue
                in_flight[pool.submit(fetcher.fetch, nxt[1])] = (nxt[0], nxt[1], True)
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for fut in done:
                n, item, first = in_flight.pop(fut)
                row = fut.result()
                if first:
                    first_pass[n] -= 1
                if row.get("_retry_later") and retries[item.sha1] < DEFERRED_RETRIES:
                    retries[item.sha1] += 1
                    later[n].append(item)
                else:
                    fetched_rows.append(row)
                    partial[n].append({k: v for k, v in row.items() if not k.startswith("_")})
                    remaining[n] -= 1
                    if on_item is not None:
                        on_item(row)
                if first_pass[n] == 0 and later[n]:  # the end of the shard: its deferred items again
                    retry_ready.extend((n, i) for i in later[n])
                    later[n] = []
                if remaining[n] == 0 and n in partial:
                    payload = {"version": MARKER_VERSION, "list_hash": lhash, "shard": n, "rows": partial[n]}
                    atomic_write_text(_marker_path(store, lhash, n), json.dumps(payload, sort_keys=True))
                    results[n] = partial.pop(n)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)

    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in decided]
    for n in sorted(results):
        clean.extend(results[n])
    counters = fetcher.counters
    fetched = sum(1 for r in fetched_rows if r.get("_fetched") and r["status"] == "ok")
    summary = FetchSummary(
        total=len(clean),
        fetched=fetched,
        already_present=sum(1 for r in clean if r["status"] == "ok") - fetched,
        skipped=sum(1 for r in clean if r["status"] == "skipped"),
        skipped_reasons=dict(Counter(r["reason"] for r in clean if r["status"] == "skipped")),
        failed=dict(Counter(r["reason"] for r in clean if r["status"] == "failed")),
        bytes=int(counters.bytes),
        requests=int(counters.requests),
        retries=int(counters.retries),
        throttled=int(counters.throttled),
        waited_s=float(counters.waited_s),
        elapsed_s=time.perf_counter() - started,
        shards=len(shards),
        shards_resumed=resumed,
        deferred=sum(retries.values()),
        records=clean,
    )
    if lake is not None and snapshot is not None:
        table = pa.Table.from_pylist(clean, schema=schema("media"))
        summary.manifest = lake.write("media", wiki or settings.commons_wiki, snapshot, table, run_id=run_id)
    return summary


def iter_ok_paths(store: MediaStore, records: Iterable[dict[str, Any]]) -> Iterator[tuple[str, Path]]:
    """(sha1, absolute path) of every stored image among ``media`` rows."""
    for r in records:
        if r.get("status") == "ok" and r.get("path"):
            yield r["sha1"], store.root / r["path"]

"""Image checks on the ``media`` dataset and the thumbnails it points to.

Per thumbnail (rows with ``status == "ok"``), read once from disk:

``decodable``     the file exists, Pillow's ``verify()`` accepts its structure, a full decode
                  succeeds, the file is not cut short, and the decoded size matches the row's
                  ``width``/``height``.  Truncation gets its own byte-level test because
                  ``verify()`` does not read JPEG scan data, and a process that set
                  ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` (as some research code does for
                  Wikimedia files) makes a full decode accept cut-off files silently.
``min_size``      shorter side ≥ ``Settings.gate_min_image_px``
``aspect_ratio``  long side / short side ≤ ``Settings.gate_max_aspect_ratio``

A bad thumbnail is a per-item failure: it is set aside (a ``quarantine`` row, keyed by sha1,
with the reason) and counted; the check warns while the bad share stays within
``Settings.gate_max_bad_image_fraction`` and fails above it.

``fetch_status`` reports the rows the media stage could not fetch (warn; fail only when
nothing was fetched).  ``wikimedia_filters`` sets aside thumbnails whose file is over-used or
has a blacklisted name (:mod:`wikivis.gates.filters`) — never a failure.

JPEG decoding uses Pillow's draft mode (DCT scaling to ~1/8), which still walks the whole
entropy-coded stream, so truncation and corruption are found at a fraction of the cost of a
full-size decode.  Files are inspected on a thread pool: Pillow releases the GIL while decoding.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image, UnidentifiedImageError

from wikivis.config import Settings
from wikivis.datasets import schema as dataset_schema
from wikivis.gates.filters import BLACKLISTED, OVERUSED, blacklist_match, blacklisted_mask, wikimedia_filters
from wikivis.gates.results import FAIL, PASS, WARN, CheckResult, graded

DATASET = "media"


@dataclass(frozen=True)
class ImageInfo:
    """What inspecting one file found: decoded size and format, or why it is unusable."""

    width: int | None = None
    height: int | None = None
    format: str | None = None
    bytes: int = 0
    error: str | None = None


def _cut_short(data: bytes, fmt: str | None) -> bool:
    """Whether the file lacks the end marker its format requires."""
    if fmt in ("JPEG", "MPO"):
        return not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")
    if fmt == "PNG":
        return not data.endswith(b"IEND\xaeB`\x82")
    if fmt == "GIF":
        return not data.rstrip(b"\x00").endswith(b";")
    if fmt == "WEBP":
        return len(data) < 12 or int.from_bytes(data[4:8], "little") + 8 > len(data)
    return False


def inspect_image(path: Path) -> ImageInfo:
    """Open, verify and fully decode one image file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ImageInfo(error="file not found")
    except OSError as exc:
        return ImageInfo(error=f"unreadable: {exc.strerror or exc}")
    size = len(data)
    if not data:
        return ImageInfo(bytes=0, error="empty file")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if fmt in ("JPEG", "MPO"):
                img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            img.load()
    except UnidentifiedImageError:
        return ImageInfo(bytes=size, error="not an image Pillow can identify")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return ImageInfo(bytes=size, error=f"does not decode: {exc}")
    if _cut_short(data, fmt):
        return ImageInfo(width, height, fmt, size, error=f"truncated {fmt} (no end marker)")
    return ImageInfo(width, height, fmt, size)


def resolve_path(settings: Settings, path: str) -> Path:
    """``media.path`` is relative to the media store root (absolute paths are kept)."""
    p = Path(path)
    return p if p.is_absolute() else settings.media_root / p


def inspect_all(paths: Sequence[Path | None], workers: int | None = None) -> list[ImageInfo]:
    workers = workers or min(8, os.cpu_count() or 1)
    missing = ImageInfo(error="no path recorded")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(inspect_image, [p for p in paths if p is not None]))
    it = iter(found)
    return [next(it) if p is not None else missing for p in paths]


def _quarantine_rows(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "dataset": pa.array([DATASET] * len(rows), pa.string()),
            "check": pa.array([r[0] for r in rows], pa.string()),
            "row_key": pa.array([r[1] for r in rows], pa.string()),
            "reason": pa.array([r[2] for r in rows], pa.string()),
        },
        schema=dataset_schema("quarantine"),
    )


def _per_image_result(
    name: str, bad: list[tuple[int, str]], checked: int, rows: list[dict[str, Any]], tolerated: float, what: str,
) -> CheckResult:
    fraction = len(bad) / checked if checked else 0.0
    outcome = graded(fraction, tolerated, any_bad=bool(bad))
    metrics = {"checked": checked, "bad": len(bad), "bad_fraction": round(fraction, 6), "tolerated_fraction": tolerated}
    if outcome == PASS:
        return CheckResult(name, DATASET, PASS, metrics, f"all {checked} thumbnail(s) {what}")
    index, reason = bad[0]
    return CheckResult(
        name, DATASET, outcome, metrics,
        f"{len(bad)} of {checked} thumbnail(s) ({fraction:.2%}) set aside: not {what} (first: {reason}); "
        f"tolerated {tolerated:.2%}",
        rows[index],
    )


def check_media(
    media: pa.Table,
    *,
    settings: Settings,
    article_images: pa.Table | None = None,
    n_articles: int | None = None,
    workers: int | None = None,
) -> tuple[list[CheckResult], pa.Table]:
    """Image checks on ``media`` (+ files on disk); returns results and quarantine rows.

    ``article_images`` (with ``n_articles``) enables the over-use filter; the file-name filter
    always runs.
    """
    rows = media.select([c for c in ("sha1", "file_name", "path", "width", "height", "bytes", "status", "reason")
                         if c in media.column_names]).to_pylist()
    results: list[CheckResult] = []
    quarantine: list[tuple[str, str, str]] = []

    failed = [i for i, r in enumerate(rows) if r.get("status") != "ok"]
    ok = [i for i, r in enumerate(rows) if r.get("status") == "ok"]
    fetch_metrics = {"rows": len(rows), "ok": len(ok), "not_ok": len(failed)}
    if not failed:
        results.append(CheckResult("fetch_status", DATASET, PASS, fetch_metrics, f"all {len(rows)} thumbnail(s) fetched"))
    else:
        outcome = FAIL if not ok else WARN
        first = rows[failed[0]]
        results.append(CheckResult(
            "fetch_status", DATASET, outcome, fetch_metrics,
            f"{len(failed)} of {len(rows)} thumbnail(s) not fetched (first: {first.get('status')}: {first.get('reason')})",
            first,
        ))

    paths = [resolve_path(settings, rows[i]["path"]) if rows[i].get("path") else None for i in ok]
    infos = inspect_all(paths, workers)
    undecodable: list[tuple[int, str]] = []
    tiny: list[tuple[int, str]] = []
    elongated: list[tuple[int, str]] = []
    min_px, max_ratio = settings.gate_min_image_px, settings.gate_max_aspect_ratio
    for i, info in zip(ok, infos, strict=True):
        row = rows[i]
        error = info.error
        if error is None and (row.get("width"), row.get("height")) != (None, None) and (row.get("width"), row.get("height")) != (info.width, info.height):
            error = f"decoded size {info.width}×{info.height} differs from the recorded {row.get('width')}×{row.get('height')}"
        if error is not None:
            undecodable.append((i, f"{row.get('path')}: {error}"))
            quarantine.append(("decodable", row["sha1"], error))
            continue
        short, long = sorted((info.width or 0, info.height or 0))
        if short < min_px:
            reason = f"{info.width}×{info.height} px: shorter side below {min_px} px"
            tiny.append((i, reason))
            quarantine.append(("min_size", row["sha1"], reason))
        elif long / short > max_ratio:
            reason = f"{info.width}×{info.height} px: aspect ratio {long / short:.1f} above {max_ratio:g}"
            elongated.append((i, reason))
            quarantine.append(("aspect_ratio", row["sha1"], reason))

    tolerated = settings.gate_max_bad_image_fraction
    checked = len(ok)
    results.append(_per_image_result("decodable", undecodable, checked, rows, tolerated, "decodable"))
    decoded = checked - len(undecodable)
    results.append(_per_image_result("min_size", tiny, decoded, rows, tolerated, f"at least {min_px} px on the shorter side"))
    results.append(_per_image_result("aspect_ratio", elongated, decoded - len(tiny), rows, tolerated,
                                     f"within aspect ratio {max_ratio:g}"))
    results.append(_filter_result(media, article_images, n_articles, quarantine))
    return results, _quarantine_rows(quarantine)


def _filter_result(
    media: pa.Table, article_images: pa.Table | None, n_articles: int | None, quarantine: list[tuple[str, str, str]],
) -> CheckResult:
    """Set aside thumbnails of over-used or blacklisted files (never a failure).

    The name filter runs on every media file; over-use needs the wiki's links."""
    names = media.column("file_name").to_pylist()
    sha1s = media.column("sha1").to_pylist()
    reasons: dict[str, list[tuple[str, str]]] = {}
    over_use = article_images is not None and bool(n_articles)
    if over_use:
        _, flagged = wikimedia_filters(article_images, int(n_articles or 0), dataset=DATASET)
        for check, name, reason in zip(*(flagged.column(c).to_pylist() for c in ("check", "row_key", "reason")), strict=True):
            if check == OVERUSED:
                reasons.setdefault(name, []).append((check, reason))
    for name in pc.filter(media.column("file_name"), blacklisted_mask(media.column("file_name"))).to_pylist():
        reasons.setdefault(name, []).append(
            (BLACKLISTED, f"file name contains {blacklist_match(name)!r} (Wikimedia placeholder/icon name filter)"))
    counts = {OVERUSED: 0, BLACKLISTED: 0}
    flagged_rows = 0
    for name, sha1 in zip(names, sha1s, strict=True):
        found = reasons.get(name, [])
        flagged_rows += bool(found)
        for check, reason in found:
            quarantine.append((check, sha1, f"{name}: {reason}"))
            counts[check] += 1
    metrics = {"overused": counts[OVERUSED], "blacklisted": counts[BLACKLISTED], "over_use_checked": over_use}
    return CheckResult(
        "wikimedia_filters", DATASET, PASS, metrics,
        f"{flagged_rows} thumbnail(s) set aside as icons/placeholders "
        f"({counts[OVERUSED]} over-used, {counts[BLACKLISTED]} blacklisted name)"
        + ("" if over_use else "; over-use not checked (no article_images)"),
    )

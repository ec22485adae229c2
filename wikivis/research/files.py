"""Readers for Wikimedia's research releases, so users can skip fetching what is published.

These read files a user downloaded (they used to live in ``wikivis.sources``, which only talks
to the network); the importers that write the lake and the stores are
:mod:`wikivis.research.embeddings` and :mod:`wikivis.research.wit`.

**Caption-competition files** (WMF Research + Kaggle "Wikipedia – Image/Caption Matching",
2021; https://analytics.wikimedia.org/published/datasets/one-off/caption_competition/):

* ``image_pixels/*_image_pixels_part-*.csv[.gz]`` — despite ``.csv``, *tab*-separated and
  without a header: ``image_url \\t b64_bytes \\t metadata_url``, where ``b64_bytes`` is the
  base64 of the image file at 300 px and ``metadata_url`` the Commons file page
  (``https://commons.wikimedia.org/wiki/File:Hovden.jpg``).
* ``resnet_embeddings/*_resnet_embeddings_part-*.csv[.gz]`` — ``image_url \\t embedding``,
  the embedding being 2048 comma-separated floats (ResNet-50).
* Images containing people were excluded from the release.  300 px is *not* one of the
  standard thumbnail widths: imported images are stored as they are (their width is in the
  ``media`` row) and the embedder resizes anyway.

**WIT** (google-research-datasets/wit): gzipped TSV *with* a header of 17 columns
(:data:`WIT_COLUMNS`); captions may contain quoted tabs/newlines, so it is read with
:mod:`csv`.

Every ``image_url`` is mapped to a Commons file name (:func:`file_name_from_url`) and, when
a ``file_name → sha1`` map is given (from ``files``/``file_metadata``), to the sha1 that keys
the media store.  A malformed row raises :class:`~wikivis.errors.InputError` naming the file
and line; it is never skipped silently.
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pyarrow as pa

from wikivis.datasets import schema
from wikivis.errors import InputError
from wikivis.lake import Lake, Manifest
from wikivis.media.fetch import ImageProblem, verify_image
from wikivis.media.store import FORMAT_EXTENSIONS, MediaStore
from wikivis.sources.commons import file_name as title_to_name

RESNET_DIM = 2048

WIT_COLUMNS: tuple[str, ...] = (
    "language",
    "page_url",
    "image_url",
    "page_title",
    "section_title",
    "hierarchical_section_title",
    "caption_reference_description",
    "caption_attribution_description",
    "caption_alt_text_description",
    "mime_type",
    "original_height",
    "original_width",
    "is_main_image",
    "attribution_passes_lang_id",
    "page_changed_recently",
    "context_page_description",
    "context_section_description",
)
_WIT_INT = {"original_height", "original_width"}
_WIT_BOOL = {"is_main_image", "attribution_passes_lang_id", "page_changed_recently"}


# --------------------------------------------------------------------------- names


def file_name_from_url(url: str) -> str | None:
    """Commons file name (DB key) of an upload URL, a thumbnail URL or a file-page URL.

    * ``https://upload.wikimedia.org/wikipedia/commons/a/ab/Name.jpg`` → ``Name.jpg``
    * ``…/commons/thumb/a/ab/Name.jpg/300px-Name.jpg`` → ``Name.jpg``
    * ``https://commons.wikimedia.org/wiki/File:Name.jpg`` → ``Name.jpg``
    """
    parts = urlsplit(url.strip())
    path = unquote(parts.path)
    if "/wiki/" in path:
        title = path.split("/wiki/", 1)[1]
        # File:Name.jpg, or a localised file namespace (Datei:, Fichier:...)
        return title_to_name(title, namespaced=True) if ":" in title else None
    segments = [s for s in path.split("/") if s]
    if "thumb" in segments:
        i = segments.index("thumb")
        # thumb/<h>/<hh>/<Name>/<W>px-<Name>
        if len(segments) >= i + 4:
            return segments[i + 3].replace(" ", "_")
        return None
    if len(segments) >= 3 and len(segments[-2]) == 2 and len(segments[-3]) == 1:
        return segments[-1].replace(" ", "_")
    return None


#: the datasets that map a file name to its sha1, in precedence order (later wins)
NAME_DATASETS = ("files", "file_metadata")


def name_sources(lake: Lake, wikis: Iterable[str], snapshot: str | None = None) -> list[tuple[str, str, str]]:
    """``(dataset, wiki, label)`` of the ``files``/``file_metadata`` labels that map names to
    sha1, in precedence order (later wins): each read at ``snapshot``, default its latest."""
    out: list[tuple[str, str, str]] = []
    for wiki in dict.fromkeys(wikis):
        for dataset in NAME_DATASETS:
            label = snapshot or lake.latest(dataset, wiki)
            if label and lake.exists(dataset, wiki, label):
                out.append((dataset, wiki, label))
    return out


def lake_name_batches(lake: Lake, sources: Iterable[tuple[str, str, str]]) -> Iterator[pa.RecordBatch]:
    """``(file_name, sha1)`` batches of ``sources`` (see :func:`name_sources`), streamed."""
    for dataset, wiki, label in sources:
        yield from lake.iter_batches(dataset, wiki, label, columns=["file_name", "sha1"])


def sha1_by_name(lake: Lake, wikis: Iterable[str], snapshot: str | None = None, *,
                 only: Collection[str] | None = None) -> dict[str, str]:
    """``file_name → sha1`` from the ``files`` and ``file_metadata`` datasets of ``wikis``.

    Each dataset is read at ``snapshot`` (default: its latest); later wikis win on conflict.
    The two columns are streamed batch by batch; with ``only`` (the names a caller will look
    up, e.g. the rows of a research file) just those are kept, so memory follows the caller's
    input, not the size of Commons' ``files`` table (110M rows).
    """
    import pyarrow.compute as pc

    wanted = None if only is None else pa.array(sorted(set(only)), pa.string())
    out: dict[str, str] = {}
    for batch in lake_name_batches(lake, name_sources(lake, wikis, snapshot)):
        if wanted is not None:
            batch = batch.filter(pc.is_in(batch.column(0), value_set=wanted))
        out.update(zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True))
    return out


def pixel_file_names(paths: Iterable[str | Path]) -> set[str]:
    """The Commons file names of ``image_pixels`` files' rows, without decoding the images
    (the first pass of an import: which sha1s to look up)."""
    names: set[str] = set()
    for path in paths:
        p = Path(path)
        for number, (image_url, _b64, metadata_url) in _tsv_rows(p, 3):
            name = file_name_from_url(metadata_url) or file_name_from_url(image_url)
            if not name:
                raise InputError(f"cannot map {image_url!r} to a Commons file name", source=str(p), line=number)
            names.add(name)
    return names


# --------------------------------------------------------------------------- low-level


def _open_text(path: Path) -> IO[str]:
    """Text handle; gzip detected by magic bytes (the ``.csv`` names lie about it)."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def _tsv_rows(path: Path, expected: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a headerless TSV whose fields hold no tabs or newlines."""
    try:
        with _open_text(path) as fh:
            for number, line in enumerate(fh, start=1):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                fields = line.split("\t")
                if len(fields) != expected:
                    raise InputError(f"expected {expected} tab-separated columns, found {len(fields)}", source=str(path), line=number)
                yield number, fields
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read: {exc.__class__.__name__}: {exc}", source=str(path)) from exc


# --------------------------------------------------------------------------- pixels


@dataclass(frozen=True)
class PixelRow:
    image_url: str
    image_bytes: bytes
    metadata_url: str
    file_name: str
    line: int


def read_pixels(path: str | Path) -> Iterator[PixelRow]:
    """Rows of one caption-competition ``image_pixels`` file."""
    p = Path(path)
    for number, (image_url, b64, metadata_url) in _tsv_rows(p, 3):
        try:
            data = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError(f"b64_bytes is not base64: {exc}", source=str(p), line=number) from exc
        name = file_name_from_url(metadata_url) or file_name_from_url(image_url)
        if not name:
            raise InputError(f"cannot map {image_url!r} to a Commons file name", source=str(p), line=number)
        yield PixelRow(image_url, data, metadata_url, name, number)


@dataclass
class ImportSummary:
    imported: int = 0
    already_present: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    manifest: Manifest | None = field(default=None, repr=False)


def import_pixels(
    paths: Iterable[str | Path],
    store: MediaStore,
    sha1_by_name: Mapping[str, str],
    *,
    lake: Lake | None = None,
    wiki: str | None = None,
    snapshot: str | None = None,
    run_id: str | None = None,
) -> ImportSummary:
    """Put the released 300-px images into the media store, keyed by the file's sha1.

    Rows whose file has no known sha1 (not in ``sha1_by_name``) are skipped with reason
    ``sha1_unknown``: without it the image cannot be content-addressed.  Undecodable images
    are failures with their reason.  Writes ``media`` rows when ``lake``/``wiki``/``snapshot``
    are given.
    """
    summary = ImportSummary()
    skipped: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    rows: dict[str, dict[str, Any]] = {}
    for path in paths:
        for pix in read_pixels(path):
            sha1 = sha1_by_name.get(pix.file_name)
            if not sha1:
                skipped["sha1_unknown"] += 1
                continue
            if sha1 in rows:
                continue
            base = {"sha1": sha1, "file_name": pix.file_name}
            existing = store.find(sha1)
            if existing is not None:
                summary.already_present += 1
                rows[sha1] = base | _stored(store, existing)
                continue
            try:
                fmt, width, height = verify_image(pix.image_bytes)
            except ImageProblem as exc:
                failed[exc.reason] += 1
                rows[sha1] = base | {"path": None, "width": None, "height": None, "bytes": len(pix.image_bytes),
                                     "status": "failed", "reason": exc.reason}
                continue
            stored = store.put(sha1, FORMAT_EXTENSIONS[fmt], pix.image_bytes)
            summary.imported += 1
            rows[sha1] = base | {"path": stored.relative_to(store.root).as_posix(), "width": width, "height": height,
                                 "bytes": len(pix.image_bytes), "status": "ok", "reason": None}
    summary.skipped, summary.failed = dict(skipped), dict(failed)
    summary.records = [rows[k] for k in sorted(rows)]
    if lake is not None and wiki and snapshot:
        table = pa.Table.from_pylist(summary.records, schema=schema("media"))
        summary.manifest = lake.write("media", wiki, snapshot, table, run_id=run_id)
    return summary


def _stored(store: MediaStore, path: Path) -> dict[str, Any]:
    from PIL import Image

    with Image.open(path) as img:
        width, height = img.size
    return {"path": path.relative_to(store.root).as_posix(), "width": width, "height": height, "bytes": path.stat().st_size,
            "status": "ok", "reason": None}


# --------------------------------------------------------------------------- embeddings


def parse_embedding(text: str, dim: int = RESNET_DIM) -> np.ndarray:
    """One row's comma-separated floats as a float32 vector; ValueError says what is wrong."""
    try:
        vector = np.array(text.split(","), dtype=np.float32)
    except ValueError as exc:
        raise ValueError(f"embedding is not comma-separated numbers: {exc}") from exc
    if vector.shape != (dim,):
        raise ValueError(f"embedding has {vector.size} values, expected {dim}")
    if not np.isfinite(vector).all():
        raise ValueError("embedding holds NaN or infinity")
    return vector


def read_embeddings(path: str | Path, *, dim: int = RESNET_DIM) -> Iterator[tuple[str, np.ndarray]]:
    """(image_url, float32 vector) rows of one ``resnet_embeddings`` file."""
    p = Path(path)
    for number, (image_url, text) in _tsv_rows(p, 2):
        try:
            vector = parse_embedding(text, dim)
        except ValueError as exc:
            raise InputError(str(exc), source=str(p), line=number) from exc
        yield image_url, vector


def import_embeddings(
    paths: Iterable[str | Path], *, dim: int = RESNET_DIM
) -> Iterator[tuple[str, np.ndarray]]:
    """(file name, vector) for every row of the embedding files (first occurrence wins)."""
    seen: set[str] = set()
    for path in paths:
        for line_url, vector in read_embeddings(path, dim=dim):
            name = file_name_from_url(line_url)
            if name is None:
                raise InputError(f"cannot map {line_url!r} to a Commons file name", source=str(path))
            if name not in seen:
                seen.add(name)
                yield name, vector


# --------------------------------------------------------------------------- WIT


def read_wit(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a WIT TSV (gzipped or not) with typed ints/bools and a ``file_name`` key."""
    p = Path(path)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with _open_text(p) as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = next(reader, None)
            if header is None:
                raise InputError("empty file (expected a WIT header)", source=str(p), line=1)
            missing = [c for c in WIT_COLUMNS if c not in header]
            if missing:
                raise InputError(f"not a WIT header: missing columns {missing}", source=str(p), line=1)
            for fields in reader:
                number = reader.line_num
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise InputError(f"expected {len(header)} columns, found {len(fields)}", source=str(p), line=number)
                row: dict[str, Any] = dict(zip(header, fields, strict=True))
                try:
                    for col in _WIT_INT:
                        row[col] = int(row[col]) if row[col] != "" else None
                except ValueError as exc:
                    raise InputError(f"bad integer: {exc}", source=str(p), line=number) from exc
                for col in _WIT_BOOL:
                    row[col] = _wit_bool(row[col], p, number)
                row["file_name"] = file_name_from_url(row["image_url"])
                yield row
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read: {exc.__class__.__name__}: {exc}", source=str(p)) from exc


def _wit_bool(value: str, path: Path, line: int) -> bool | None:
    v = value.strip().lower()
    if v in {"true", "1"}:
        return True
    if v in {"false", "0"}:
        return False
    if v == "":
        return None
    raise InputError(f"bad boolean {value!r}", source=str(path), line=line)

"""Import the caption competition's ResNet-50 embeddings into the embedding store.

The files (``resnet_embeddings/*_resnet_embeddings_part-*.csv[.gz]``, see
:mod:`wikivis.research.files`) hold ``image_url \\t 2048 comma-separated floats`` per line,
no header, gzip or not whatever the name says.  Each row is mapped image URL → Commons file
name → sha1 (from the lake's ``files``/``file_metadata``) and stored under the model id
:data:`MODEL_ID`, so that ``index build --model resnet50-wmf-cc``, ``similar``, ``suggest`` and
``eval run`` work with no image downloaded.

Memory: rows are parsed in batches of ``batch_rows`` lines (Arrow's vectorised string split
and float cast, 2-3x faster than NumPy row by row; a batch Arrow refuses is re-parsed row by
row) and handed to a
:class:`~wikivis.embed.store.ShardWriter` that writes a shard every ``shard_rows`` vectors, so
vector memory is bounded by ``batch_rows + shard_rows`` rows (8 KiB each) whatever the file
size.  What grows with the input is the key set: the ``name → sha1`` map of the lake and the
20-byte digests of the sha1s already stored (about 100 bytes per file).

Idempotent: a sha1 already in the store (an earlier run, or an earlier row of this run) is
counted as ``already_present`` and not written again, so a rerun writes no shard.

A malformed batch (wrong column or float count, a non-number, NaN) is re-read row by row to
raise :class:`~wikivis.errors.InputError` naming the file and line; rows are never skipped
silently.  Rows whose URL maps to no file name, or whose file has no known sha1, are counted
(``unmapped_url`` / ``sha1_unknown``) and reported.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wikivis.embed.models import model_dir_name
from wikivis.embed.store import ShardWriter, check_version, stored_keys
from wikivis.errors import InputError, NotFoundError
from wikivis.research.files import RESNET_DIM, _open_text, file_name_from_url, parse_embedding

if TYPE_CHECKING:
    from wikivis.config import Settings

#: the model id the published vectors are stored under
MODEL_ID = "resnet50-wmf-cc"
#: their "weights version": the 2021 release (vectors of another release must not be mixed in)
MODEL_VERSION = "wmf-caption-competition-2021"
METADATA = {
    "source": "https://analytics.wikimedia.org/published/datasets/one-off/caption_competition/",
    "preprocessing": "ResNet-50 pooled features of the 300 px image, as published (not re-computed)",
}


@dataclass
class EmbeddingImport:
    files: int = 0
    rows: int = 0
    imported: int = 0
    already_present: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)
    model_id: str = MODEL_ID

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "files": self.files,
            "rows": self.rows,
            "imported": self.imported,
            "already_present": self.already_present,
            "skipped": dict(self.skipped),
            "shards": len(self.shards),
        }


def embedding_files(inputs: Iterable[str | Path]) -> list[Path]:
    """The embedding files of ``inputs``: files as given, folders searched recursively for
    ``*embedding*.csv[.gz]`` / ``.tsv[.gz]`` (sorted)."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and _looks_like_data(f.name)))
        elif p.is_file():
            out.append(p)
        else:
            raise NotFoundError(f"no such file or folder: {p}")
    if not out:
        raise NotFoundError(f"no embedding file (*embedding*.csv[.gz] or .tsv[.gz]) under {', '.join(map(str, inputs))}")
    return out


def _looks_like_data(name: str) -> bool:
    """In a folder, only the embedding files (the release puts ``image_pixels`` next to them)."""
    return not name.startswith(".") and "embedding" in name and (".csv" in name or name.endswith((".tsv", ".tsv.gz")))


def read_embedding_batches(
    path: str | Path, *, dim: int = RESNET_DIM, batch_rows: int = 1024
) -> Iterator[tuple[list[str], np.ndarray]]:
    """``(image URLs, float32 (n, dim))`` batches of one embedding file, streamed."""
    p = Path(path)
    lines: list[str] = []
    first_line = 1
    number = 0
    try:
        with _open_text(p) as fh:
            for number, line in enumerate(fh, start=1):
                if not lines:
                    first_line = number
                lines.append(line)
                if len(lines) >= batch_rows:
                    yield _parse_batch(p, lines, first_line, dim)
                    lines = []
            if lines:
                yield _parse_batch(p, lines, first_line, dim)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"cannot read after line {number}: {exc.__class__.__name__}: {exc}", source=str(p)) from exc


def _parse_batch(path: Path, lines: list[str], first_line: int, dim: int) -> tuple[list[str], np.ndarray]:
    """Vectorised parse of one batch; any anomaly → the row-by-row parse, which names the line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array([ln.rstrip("\r\n") for ln in lines], pa.string())
        arr = arr.filter(pc.not_equal(arr, ""))
        if len(arr) == 0:
            return [], np.zeros((0, dim), np.float32)
        parts = pc.split_pattern(arr, "\t")
        if pc.any(pc.not_equal(pc.list_value_length(parts), 2)).as_py():
            raise ValueError("column count")
        values = pc.split_pattern(pc.list_element(parts, 1), ",")
        if pc.any(pc.not_equal(pc.list_value_length(values), dim)).as_py():
            raise ValueError("float count")
        flat = pc.cast(values.flatten(), pa.float32()).to_numpy(zero_copy_only=False)
        vectors = np.asarray(flat, dtype=np.float32).reshape(-1, dim)
        if not np.isfinite(vectors).all():
            raise ValueError("not finite")
        return pc.list_element(parts, 0).to_pylist(), vectors
    except (ValueError, pa.ArrowInvalid):
        return _parse_rows(path, lines, first_line, dim)


def _parse_rows(path: Path, lines: list[str], first_line: int, dim: int) -> tuple[list[str], np.ndarray]:
    """Row-by-row parse (lenient where NumPy is, e.g. spaces around numbers); raises on the first bad line."""
    urls: list[str] = []
    vectors: list[np.ndarray] = []
    for number, line in enumerate(lines, start=first_line):
        line = line.rstrip("\r\n")
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise InputError(f"expected 2 tab-separated columns, found {len(fields)}", source=str(path), line=number)
        try:
            vectors.append(parse_embedding(fields[1], dim))
        except ValueError as exc:
            raise InputError(str(exc), source=str(path), line=number) from None
        urls.append(fields[0])
    return urls, np.stack(vectors) if vectors else np.zeros((0, dim), np.float32)


def import_embedding_files(
    settings: Settings,
    inputs: Iterable[str | Path],
    sha1_by_name: Mapping[str, str],
    *,
    model_id: str = MODEL_ID,
    model_version: str = MODEL_VERSION,
    dim: int = RESNET_DIM,
    batch_rows: int = 1024,
    shard_rows: int = 8192,
) -> EmbeddingImport:
    """Stream the embedding files into the store of ``model_id`` (see module doc)."""
    paths = embedding_files(inputs)
    directory = settings.embeddings_root / model_dir_name(model_id)
    present, versions = stored_keys(directory)
    check_version(directory, model_id, model_version, versions)
    seen = {bytes.fromhex(s) for s in present}
    del present
    summary = EmbeddingImport(files=len(paths), model_id=model_id)
    skipped: Counter[str] = Counter()
    writer: ShardWriter | None = None
    for path in paths:
        for urls, vectors in read_embedding_batches(path, dim=dim, batch_rows=batch_rows):
            summary.rows += len(urls)
            keep_rows: list[int] = []
            keep_sha1: list[str] = []
            for i, url in enumerate(urls):
                name = file_name_from_url(url)
                if name is None:
                    skipped["unmapped_url"] += 1
                    continue
                sha1 = sha1_by_name.get(name)
                if not sha1:
                    skipped["sha1_unknown"] += 1
                    continue
                digest = bytes.fromhex(sha1)
                if digest in seen:
                    summary.already_present += 1
                    continue
                seen.add(digest)
                keep_rows.append(i)
                keep_sha1.append(sha1)
            if not keep_rows:
                continue
            if writer is None:
                writer = ShardWriter(directory, model_id, model_version, dim, shard_rows=shard_rows, metadata=METADATA)
            writer.add(keep_sha1, vectors[keep_rows])
            summary.imported += len(keep_rows)
    if writer is not None:
        writer.close()
        summary.shards = [str(p) for p in writer.written]
    summary.skipped = dict(skipped)
    return summary

"""Embedding shards: ``<embeddings_root>/<model dir>/shard-<n>.parquet``.

Columns: ``sha1`` (string), ``model_id``, ``model_version`` (strings, dictionary-encoded by
Parquet so they cost nothing), ``vector`` (``fixed_size_list<float32>[dim]``).  The raw model
output is stored (not L2-normalised): the index normalises, other consumers may not want to.
The schema metadata repeats model id, version, dim and preprocessing for readers that only
look at one file.

Shards are append-only and immutable.  Each is written to a hidden temporary file in the same
directory, fsynced, then renamed, so a reader (or a crashed run's rerun) sees whole shards
only; a rerun skips every sha1 already present, so a crash loses at most the unflushed tail.
One directory holds a single model version: writing vectors of another version into it is
refused (vectors of different weights must never meet in one index).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from wikivis.config import chosen_model_id
from wikivis.embed.models import model_dir_name
from wikivis.errors import ConfigError, InputError, NotFoundError
from wikivis.vocab import STAGED_GLOB, staged_path

if TYPE_CHECKING:
    from wikivis.config import Settings

log = logging.getLogger(__name__)

_SHARD_RE = re.compile(r"^shard-(\d+)\.parquet$")


def embedding_schema(dim: int, metadata: dict[str, Any] | None = None) -> pa.Schema:
    fields = [
        pa.field("sha1", pa.string(), nullable=False),
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
    ]
    meta = {k: json.dumps(v) for k, v in (metadata or {}).items()}
    return pa.schema(fields, metadata={f"wikivis.{k}": v for k, v in meta.items()})


def stored_model_id(settings: Settings, model_id: str | None = None) -> str:
    """The model id whose vectors to read: ``model_id`` or ``Settings.model``.

    Not checked against the registry: vectors imported with :func:`write_embeddings` (e.g.
    Wikimedia's published ResNet-50 embeddings) may come from a model wikivis cannot run.
    """
    return chosen_model_id(settings, model_id)


def model_embeddings_dir(settings: Settings, model_id: str | None = None) -> Path:
    return settings.embeddings_root / model_dir_name(stored_model_id(settings, model_id))


def shard_paths(directory: Path) -> list[Path]:
    """Committed shards in write order (temporary files are never listed)."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _SHARD_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def stored_keys(directory: Path) -> tuple[set[str], set[str]]:
    """(sha1s with a vector, model versions present) — reads only the two small columns."""
    sha1s: set[str] = set()
    versions: set[str] = set()
    for path in shard_paths(directory):
        table = _read(path, ["sha1", "model_version"])
        sha1s.update(table.column("sha1").to_pylist())
        versions.update(pc.unique(table.column("model_version")).to_pylist())
    return sha1s, versions


def _read(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"unreadable embedding shard: {exc}", source=str(path)) from exc


def check_version(directory: Path, model_id: str, version: str, present: set[str]) -> None:
    other = sorted(present - {version})
    if other:
        raise ConfigError(
            f"{directory} holds vectors of {model_id} version(s) {other}, but the loaded weights are "
            f"version {version}; vectors of different weights must not be mixed — move that "
            "directory away to re-embed everything"
        )


class ShardWriter:
    """Buffers vectors and writes a shard every ``shard_rows`` rows (and on :meth:`close`)."""

    def __init__(
        self,
        directory: Path,
        model_id: str,
        model_version: str,
        dim: int,
        *,
        shard_rows: int = 20_000,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.directory = directory
        self.model_id = model_id
        self.model_version = model_version
        self.dim = dim
        self.shard_rows = max(1, shard_rows)
        self.schema = embedding_schema(
            dim, {"model_id": model_id, "model_version": model_version, "dim": dim, **(metadata or {})}
        )
        self.written: list[Path] = []
        self._sha1s: list[str] = []
        self._vectors: list[np.ndarray] = []
        self._buffered = 0
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(STAGED_GLOB):  # left by a crashed run
            stale.unlink(missing_ok=True)
        existing = shard_paths(directory)
        self._next = int(_SHARD_RE.match(existing[-1].name).group(1)) + 1 if existing else 0  # type: ignore[union-attr]

    def add(self, sha1s: Sequence[str], vectors: np.ndarray) -> None:
        if vectors.shape != (len(sha1s), self.dim):
            raise ValueError(f"vectors shape {vectors.shape} does not match {len(sha1s)} × {self.dim}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        start = 0
        while start < len(sha1s):
            take = min(self.shard_rows - self._buffered, len(sha1s) - start)
            self._sha1s.extend(sha1s[start : start + take])
            self._vectors.append(vectors[start : start + take])
            self._buffered += take
            start += take
            if self._buffered >= self.shard_rows:
                self.flush()

    def flush(self) -> None:
        if not self._buffered:
            return
        vectors = np.concatenate(self._vectors)
        n = len(self._sha1s)
        table = pa.Table.from_arrays(
            [
                pa.array(self._sha1s, pa.string()),
                pa.array([self.model_id] * n, pa.string()),
                pa.array([self.model_version] * n, pa.string()),
                pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), self.dim),
            ],
            schema=self.schema,
        )
        final = self.directory / f"shard-{self._next:06d}.parquet"
        with staged_path(final) as tmp:  # ".shard-*.tmp": swept above if a run crashes
            pq.write_table(
                table, tmp, compression="zstd", compression_level=1, use_dictionary=["model_id", "model_version"]
            )
        self.written.append(final)
        self._next += 1
        self._sha1s, self._vectors, self._buffered = [], [], 0

    def close(self) -> None:
        self.flush()


def write_embeddings(
    settings: Settings,
    model_id: str,
    model_version: str,
    sha1s: Sequence[str],
    vectors: np.ndarray,
    *,
    shard_rows: int = 20_000,
) -> list[Path]:
    """Append vectors for ``sha1s`` (skipping sha1s already stored); returns the new shards.

    The entry point for vectors made elsewhere (Wikimedia's published ResNet-50 embeddings,
    a GPU box, tests).
    """
    directory = settings.embeddings_root / model_dir_name(model_id)
    existing, versions = stored_keys(directory)
    check_version(directory, model_id, model_version, versions)
    keep = [i for i, s in enumerate(sha1s) if s not in existing]
    if len(set(sha1s)) != len(sha1s):
        seen: set[str] = set()
        keep = [i for i in keep if not (sha1s[i] in seen or seen.add(sha1s[i]))]  # type: ignore[func-returns-value]
    writer = ShardWriter(directory, model_id, model_version, int(vectors.shape[1]), shard_rows=shard_rows)
    writer.add([sha1s[i] for i in keep], np.asarray(vectors, dtype=np.float32)[keep])
    writer.close()
    return writer.written


def iter_embeddings(settings: Settings, model_id: str | None = None) -> Iterator[tuple[pa.Array, np.ndarray]]:
    """The stored vectors of a model one shard at a time, in shard order: ``(sha1s, float32
    (rows, dim))`` — only one shard is in memory, whatever the store's size (index builds over
    Commons-scale stores read this way; :func:`load_embeddings` collects it).

    Raises :class:`NotFoundError` when nothing has been embedded with that model, and an
    :class:`InputError` naming the shard for a wrong vector type, a dimension that changes or
    mixed model versions.  Duplicates are not removed here (see :func:`load_embeddings`).
    """
    mid = stored_model_id(settings, model_id)
    directory = model_embeddings_dir(settings, mid)
    paths = shard_paths(directory)
    if not paths:
        raise NotFoundError(f"no embeddings for model {mid} under {directory}; run `wikivis embed run --model {mid}`")
    versions: set[str] = set()
    dim: int | None = None
    for path in paths:
        table = _read(path)
        vtype = table.schema.field("vector").type
        if not pa.types.is_fixed_size_list(vtype):
            raise InputError(f"column 'vector' is {vtype}, expected fixed_size_list<float32>", source=str(path))
        if dim is None:
            dim = vtype.list_size
        elif vtype.list_size != dim:
            raise InputError(f"vector dim {vtype.list_size} differs from earlier shards ({dim})", source=str(path))
        versions.update(pc.unique(table.column("model_version")).to_pylist())
        if len(versions) > 1:
            raise InputError(f"mixes model versions {sorted(versions)} with earlier shards", source=str(path))
        flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        sha1s = table.column("sha1").combine_chunks()
        del table
        yield sha1s, flat.astype(np.float32, copy=False).reshape(-1, dim)


def stored_shape(settings: Settings, model_id: str | None = None) -> tuple[int, int]:
    """(vectors stored, their dimension) from the shards' Parquet footers, reading no vector;
    ``(0, 0)`` when nothing is stored."""
    paths = shard_paths(model_embeddings_dir(settings, model_id))
    if not paths:
        return 0, 0
    try:
        n = sum(pq.read_metadata(p).num_rows for p in paths)
        vtype = pq.read_schema(paths[0]).field("vector").type
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise InputError(f"unreadable embedding shard: {exc}", source=str(paths[0])) from exc
    return n, int(getattr(vtype, "list_size", 0))


def load_embeddings(settings: Settings, model_id: str | None = None) -> tuple[list[str], np.ndarray]:
    """All stored vectors of a model: (sha1 list, float32 array of shape (n, dim)) in shard order.

    Raises :class:`NotFoundError` when nothing has been embedded with that model.  A sha1 stored
    twice (two concurrent runs) keeps its first vector and is logged.  Holds the whole
    collection: big builds read :func:`iter_embeddings` instead.
    """
    directory = model_embeddings_dir(settings, model_id)
    sha1s: list[str] = []
    blocks: list[np.ndarray] = []
    for shard_sha1s, vectors in iter_embeddings(settings, model_id):
        sha1s.extend(shard_sha1s.to_pylist())
        blocks.append(vectors)
    vectors = np.concatenate(blocks)
    if len(set(sha1s)) != len(sha1s):
        first: dict[str, int] = {}
        for i, s in enumerate(sha1s):
            first.setdefault(s, i)
        log.warning("%s: %d duplicate sha1s, keeping the first vector of each", directory, len(sha1s) - len(first))
        keep = sorted(first.values())
        sha1s = [sha1s[i] for i in keep]
        vectors = vectors[keep]
    return sha1s, vectors


def embeddings_version(settings: Settings, model_id: str | None = None) -> str | None:
    """The model version of the stored vectors (None when there are none)."""
    directory = model_embeddings_dir(settings, model_id)
    _, versions = stored_keys(directory)
    return next(iter(versions)) if len(versions) == 1 else None

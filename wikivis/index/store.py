"""Index versions on disk, the ``current`` pointer, and the loaded index used for search.

Layout::

    <index_root>/<model dir>/v-<version>/index.faiss    # the faiss index (positions 0..n-1)
                                        /ids.parquet    # sha1 per position, index order
                                        /vectors.npy    # L2-normalised float32, same order
                                        /lists.ivfdata  # on-disk inverted lists (on_disk plans)
                                        /meta.json      # type, params, n, dim, recall, built_at ...
    <index_root>/<model dir>/current.json               # {"version": ...}: the live index

A version is assembled in ``.staging-<uuid>/`` and renamed to ``v-<version>/`` only after it
has passed the recall gate; ``current.json`` is then replaced atomically (temp file +
``os.replace``), so a reader sees the old index or the new one, never a mix.  An index that
fails the gate never reaches disk as a version and the old pointer stays.

``vectors.npy`` is opened memory-mapped: it backs :meth:`LoadedIndex.vector_for`, the exact
re-rank of PQ indexes and incremental adds, without holding the collection in RAM.

One builder per model at a time (the DAG's pool guarantees it); concurrent builders would
each produce a valid version and the last swap would win.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from wikivis.embed.models import model_dir_name
from wikivis.embed.store import stored_model_id
from wikivis.errors import InputError, NotFoundError
from wikivis.index import core
from wikivis.lake import atomic_write_text

if TYPE_CHECKING:
    from wikivis.config import Settings

INDEX_FILE = "index.faiss"
IDS_FILE = "ids.parquet"
VECTORS_FILE = "vectors.npy"
#: on-disk inverted lists of an IVF-PQ index whose plan says ``on_disk``
LISTS_FILE = "lists.ivfdata"
META_FILE = "meta.json"
CURRENT_FILE = "current.json"
_VERSION_RE = re.compile(r"^v-(\d{8}T\d{6}Z-\d{6})$")


def model_index_dir(settings: Settings, model_id: str | None = None) -> Path:
    return settings.index_root / model_dir_name(stored_model_id(settings, model_id))


def new_version_id(model_dir: Path | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-<microseconds>``: sorts by build time, unique within the directory."""
    while True:
        now = datetime.now(UTC)
        version = f"{now:%Y%m%dT%H%M%SZ}-{now.microsecond:06d}"
        if model_dir is None or not version_dir(model_dir, version).exists():
            return version


def read_current(model_dir: Path) -> dict[str, Any] | None:
    pointer = model_dir / CURRENT_FILE
    if not pointer.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(pointer.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"corrupt index pointer: {exc}", source=str(pointer)) from exc
    return data


def list_versions(model_dir: Path) -> list[str]:
    """Committed versions, oldest first (version ids sort by build time)."""
    if not model_dir.is_dir():
        return []
    return sorted(m.group(1) for p in model_dir.iterdir() if p.is_dir() and (m := _VERSION_RE.match(p.name)))


def version_dir(model_dir: Path, version: str) -> Path:
    return model_dir / f"v-{version}"


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


class Staging:
    """A half-built version directory; :meth:`commit` renames it into place."""

    def __init__(self, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        for stale in model_dir.glob(".staging-*"):  # a crashed build; one builder at a time
            shutil.rmtree(stale, ignore_errors=True)
        self.model_dir = model_dir
        self.path = model_dir / f".staging-{uuid.uuid4().hex}"
        self.path.mkdir()

    def write_index(self, index: faiss.Index) -> None:
        faiss.write_index(index, str(self.path / INDEX_FILE))

    def write_ids(self, ids: list[str]) -> None:
        pq.write_table(pa.table({"sha1": pa.array(ids, pa.string())}), self.path / IDS_FILE)

    def vectors_writer(self, n: int, dim: int) -> np.memmap:
        return np.lib.format.open_memmap(self.path / VECTORS_FILE, mode="w+", dtype=np.float32, shape=(n, dim))

    def commit(self, version: str, meta: dict[str, Any]) -> Path:
        atomic_write_text(self.path / META_FILE, json.dumps(meta, indent=2, sort_keys=True))
        for name in (INDEX_FILE, IDS_FILE, VECTORS_FILE, LISTS_FILE):
            if name != LISTS_FILE or (self.path / name).exists():
                _fsync(self.path / name)
        final = version_dir(self.model_dir, version)
        os.replace(self.path, final)
        return final

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def swap_current(model_dir: Path, version: str, meta: dict[str, Any]) -> None:
    """Point ``current.json`` at ``version`` atomically."""
    pointer = {
        "version": version,
        "path": f"v-{version}",
        "model_id": meta.get("model_id"),
        "kind": meta.get("kind"),
        "n": meta.get("n"),
        "recall_at_k": meta.get("recall_at_k"),
        "swapped_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(model_dir / CURRENT_FILE, json.dumps(pointer, indent=2, sort_keys=True))


def prune_versions(model_dir: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` versions; never the current one."""
    current = (read_current(model_dir) or {}).get("version")
    versions = list_versions(model_dir)
    doomed = [v for v in versions[: max(0, len(versions) - max(1, keep))] if v != current]
    for v in doomed:
        shutil.rmtree(version_dir(model_dir, v), ignore_errors=True)
    return doomed


@dataclass
class LoadedIndex:
    """A committed index version, ready to search."""

    model_id: str
    version: str
    path: Path
    meta: dict[str, Any]
    index: faiss.Index
    ids: list[str]
    vectors: np.ndarray  # memory-mapped, normalised, index order
    _positions: dict[str, int] | None = field(default=None, repr=False)
    _id_array: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def size(self) -> int:
        """Vectors in the index (``index.ntotal``; same as :attr:`n`)."""
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])

    @property
    def recall(self) -> float:
        return float(self.meta["recall_at_k"])

    @property
    def rerank(self) -> int:
        return int(self.meta.get("rerank", 0))

    def search_positions(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) of the top ``k`` per query (queries are normalised here)."""
        q = core.normalize(np.asarray(queries, dtype=np.float32))
        k = max(1, min(k, self.n))
        return core.search(self.index, q, k, rerank=self.rerank, vectors=self.vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores ``float32 (q, k)``, sha1s ``object (q, k)``; ``None`` where fewer than k)."""
        scores, positions = self.search_positions(queries, k)
        if self._id_array is None:
            self._id_array = np.array(self.ids, dtype=object)
        out = np.full(positions.shape, None, dtype=object)
        hit = positions >= 0
        out[hit] = self._id_array[positions[hit]]
        return scores, out

    def position_of(self, sha1: str) -> int | None:
        if self._positions is None:
            self._positions = {s: i for i, s in enumerate(self.ids)}
        return self._positions.get(sha1)

    def vector_for(self, sha1: str) -> np.ndarray:
        """The stored (normalised) vector of ``sha1``; :class:`NotFoundError` when not indexed."""
        pos = self.position_of(sha1)
        if pos is None:
            raise NotFoundError(f"{sha1} is not in index {self.model_id} v-{self.version}")
        return np.array(self.vectors[pos], dtype=np.float32)

    def search_fn(self) -> core.SearchFn:
        """``(queries, k) -> (scores, positions)``: what the recall gate calls."""
        return self.search_positions


def open_version(directory: Path, model_id: str = "") -> LoadedIndex:
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise NotFoundError(f"no index version at {directory}")
    meta = json.loads(meta_path.read_text("utf-8"))
    try:
        # on-disk inverted lists (lists.ivfdata) live beside index.faiss: faiss records their
        # path as absolute, and the version directory was renamed from its staging name
        index = faiss.read_index(str(directory / INDEX_FILE), faiss.IO_FLAG_ONDISK_SAME_DIR)
        ids = pq.read_table(directory / IDS_FILE).column("sha1").to_pylist()
        vectors = np.load(directory / VECTORS_FILE, mmap_mode="r")
    except (RuntimeError, OSError, ValueError, pa.ArrowInvalid) as exc:
        raise InputError(f"unreadable index version: {exc}", source=str(directory)) from exc
    if not (index.ntotal == len(ids) == len(vectors) == meta["n"]):
        raise InputError(
            f"index ({index.ntotal}), ids ({len(ids)}), vectors ({len(vectors)}) and meta ({meta['n']}) disagree",
            source=str(directory),
        )
    core.set_params(index, meta.get("params", {}))
    version = directory.name.removeprefix("v-")
    return LoadedIndex(model_id or meta.get("model_id", ""), version, directory, meta, index, ids, vectors)


def load_index(settings: Settings, model_id: str | None = None) -> LoadedIndex:
    """The current index of ``model_id`` (default ``Settings.model``)."""
    mid = stored_model_id(settings, model_id)
    model_dir = model_index_dir(settings, mid)
    pointer = read_current(model_dir)
    if pointer is None:
        raise NotFoundError(f"no current index for model {mid} under {model_dir}; run `wikivis index build`")
    return open_version(version_dir(model_dir, pointer["version"]), mid)

"""Full builds and incremental adds, both behind the recall gate and an atomic swap.

``build_index``: embedding shards → normalise → plan (:mod:`.plan`) → train + add → tune
search parameters → gate recall@k on a held-out query sample (≥ ``Settings.recall_threshold``)
→ write the version → swap ``current.json`` → prune old versions.

``add_to_index``: the current version plus every vector embedded since (sha1s not yet in its
``ids.parquet``) → a new version with ids appended in the same order as the faiss positions.
It falls back to a full rebuild when the planned index type changes with the new size, when
the vectors come from other weights, or after ``Settings.index_rebuild_after_adds`` adds (an
IVF quantizer trained on old data, or an HNSW graph grown piecemeal, drifts from optimal).

A failed gate raises :class:`~wikivis.errors.GateFailed` before anything is written: the
previous ``current`` stays live.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from wikivis.embed.store import embeddings_version, load_embeddings, stored_model_id, stored_shape
from wikivis.errors import GateFailed
from wikivis.index import core
from wikivis.index.plan import HNSW_MAX_N, IndexPlan, plan_for_key, plan_index
from wikivis.index.store import (
    META_FILE,
    VECTORS_FILE,
    Staging,
    list_versions,
    model_index_dir,
    new_version_id,
    open_version,
    prune_versions,
    read_current,
    swap_current,
    version_dir,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from wikivis.config import Settings

log = logging.getLogger(__name__)

RECALL_K = 10
#: tune to this much above the threshold so the held-out gate sample passes reliably
TUNE_MARGIN = 0.02
LATENCY_QUERIES = 100
KEEP_VERSIONS = 3


@dataclass
class IndexBuildResult:
    model_id: str
    version: str
    path: str
    kind: str
    key: str
    n: int
    dim: int
    recall: float
    threshold: float
    params: dict[str, int] = field(default_factory=dict)
    rerank: int = 0
    build_s: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    added: int = 0
    rebuilt: bool = True
    swapped: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IndexTuning:
    """How a build is tuned, gated and kept (the same for full builds and incremental adds)."""

    #: queries sampled for tuning (half) and for the recall gate (half)
    n_queries: int = 1000
    k: int = RECALL_K
    seed: int = 0
    #: index versions kept on disk after a swap
    keep_versions: int = KEEP_VERSIONS
    #: above this many vectors HNSW is not considered (its build time grows too fast)
    hnsw_max_n: int = HNSW_MAX_N


@dataclass(frozen=True)
class SpooledVectors:
    """A model's stored vectors, L2-normalised, in one ``.npy`` file (read it with
    :class:`wikivis.index.core.VectorFile` or memory-mapped) and their sha1s in a Parquet file,
    both in shard order."""

    vectors_path: Path
    ids_path: Path
    n: int
    dim: int


def spool_embeddings(settings: Settings, model_id: str | None, directory: Path) -> SpooledVectors:
    """Read the embedding store shard by shard (:func:`wikivis.embed.store.iter_embeddings`)
    into ``directory/vectors.npy`` and ``directory/ids.parquet``: memory holds one shard, so a
    build's read is flat in the store's size (bench/index.py ``--store-read``).  Duplicates
    are kept (positions stay row numbers); :func:`load_embeddings` is the de-duplicating read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from wikivis.embed.store import iter_embeddings, model_embeddings_dir, shard_paths

    paths = shard_paths(model_embeddings_dir(settings, model_id))
    n = sum(pq.read_metadata(p).num_rows for p in paths)
    directory.mkdir(parents=True, exist_ok=True)
    ids_path = directory / "ids.parquet"
    dims: list[int] = []
    writer: pq.ParquetWriter | None = None

    def blocks() -> Iterator[np.ndarray]:
        nonlocal writer
        for sha1s, block in iter_embeddings(settings, model_id):
            if writer is None:
                writer = pq.ParquetWriter(ids_path, pa.schema([pa.field("sha1", pa.string())]))
            writer.write_table(pa.table({"sha1": sha1s}))
            dims.append(block.shape[1])
            yield core.normalize(block, copy=not block.flags.writeable)

    first = next(iter_embeddings(settings, model_id))[1].shape[1] if n else 0
    try:
        core.write_vector_file(directory / "vectors.npy", n, first, blocks())
    finally:
        if writer is not None:
            writer.close()
    return SpooledVectors(directory / "vectors.npy", ids_path, n, first)


def build_index(
    settings: Settings,
    model_id: str | None = None,
    *,
    index_key: str | None = None,
    rerank: int | None = None,
    tuning: IndexTuning | None = None,
) -> IndexBuildResult:
    """Build a new index version from all stored embeddings of ``model_id`` and swap it in.

    :param index_key: a faiss factory string instead of the budget-based choice.
    :param rerank: exact re-rank factor override (candidates = rerank · k).
    :param tuning: sampling, recall k, seed, versions kept (:class:`IndexTuning` defaults).
    :raises GateFailed: recall@k below ``Settings.recall_threshold``; nothing is swapped.
    """
    tuning = tuning or IndexTuning()
    mid = stored_model_id(settings, model_id)
    if not index_key:
        n, dim = stored_shape(settings, mid)
        planned = _plan(settings, n, dim, None, rerank, tuning.hnsw_max_n) if n else None
        if planned is not None and planned.on_disk:
            return _build_on_disk(settings, mid, planned, tuning)
    sha1s, raw = load_embeddings(settings, mid)
    vectors = core.normalize(raw, copy=False)
    del raw
    plan = _plan(settings, len(sha1s), vectors.shape[1], index_key, rerank, tuning.hnsw_max_n)
    started = time.perf_counter()
    index = core.make_index(plan)
    core.train_and_add(index, vectors, seed=tuning.seed)
    log.info("built %s over %d × %d in %.1f s", plan.key, plan.n, plan.dim, time.perf_counter() - started)
    meta = {"adds_since_rebuild": 0, "base_version": None, "requested_key": index_key, "reason": plan.reason}
    return _gate_write_swap(settings, mid, plan, index, sha1s, vectors, None, started, tuning, meta)


def _build_on_disk(settings: Settings, model_id: str, plan: IndexPlan, tuning: IndexTuning) -> IndexBuildResult:
    """A collection whose plan puts the inverted lists on disk: the store is spooled shard by
    shard straight into the staging version (``vectors.npy``, ``ids.parquet``), the index is
    built in chunks beside them (``lists.ivfdata``), and the recall sample's exact top-k is
    streamed — nothing holds the collection.  Duplicated sha1s are kept (see
    :func:`spool_embeddings`)."""
    started = time.perf_counter()
    staging = Staging(model_index_dir(settings, model_id))
    try:
        spooled = spool_embeddings(settings, model_id, staging.path)
        index = core.build_in_chunks(plan, core.VectorFile(spooled.vectors_path), workdir=staging.path,
                                     seed=tuning.seed)
        log.info("built %s (on-disk lists) over %d × %d in %.1f s", plan.key, plan.n, plan.dim,
                 time.perf_counter() - started)
        meta = {"adds_since_rebuild": 0, "base_version": None, "requested_key": None, "reason": plan.reason}
        vectors = np.load(spooled.vectors_path, mmap_mode="r")
        return _gate_write_swap(settings, model_id, plan, index, [], vectors, None, started, tuning, meta,
                                staging=staging)
    except BaseException:
        staging.discard()
        raise


def add_to_index(
    settings: Settings,
    model_id: str | None = None,
    *,
    rebuild_after: int | None = None,
    tuning: IndexTuning | None = None,
) -> IndexBuildResult:
    """Add vectors embedded since the current version; rebuild fully when due (see module doc).

    With nothing new it returns the current version with ``added == 0`` and ``swapped == False``.
    """
    tuning = tuning or IndexTuning()
    mid = stored_model_id(settings, model_id)
    model_dir = model_index_dir(settings, mid)
    pointer = read_current(model_dir)
    if pointer is None:
        result = build_index(settings, mid, tuning=tuning)
        result.reason = "no current index: full build"
        result.added = result.n
        return result
    current = open_version(version_dir(model_dir, pointer["version"]), mid)
    meta = current.meta
    all_sha1s, raw = load_embeddings(settings, mid)
    known = set(current.ids)
    new_rows = [i for i, s in enumerate(all_sha1s) if s not in known]
    if not new_rows:
        return _result_from_meta(
            mid, current.version, current.path, meta, added=0, rebuilt=False, swapped=False, reason="nothing new"
        )

    limit = settings.index_rebuild_after_adds if rebuild_after is None else rebuild_after
    n_total = current.n + len(new_rows)
    requested = meta.get("requested_key")
    planned = _plan(settings, n_total, current.dim, requested, meta.get("rerank") if requested else None,
                    tuning.hnsw_max_n)
    why_rebuild = None
    if embeddings_version(settings, mid) != meta.get("model_version"):
        why_rebuild = "embeddings come from other weights"
    elif meta.get("on_disk") or planned.on_disk:
        why_rebuild = "on-disk inverted lists are rebuilt, not appended to"
    elif planned.key != meta["key"]:
        why_rebuild = f"index type for n={n_total} is {planned.key}, current is {meta['key']}"
    elif int(meta.get("adds_since_rebuild", 0)) + 1 > limit:
        why_rebuild = f"{limit} incremental adds since the last full build"
    if why_rebuild:
        log.info("full rebuild of %s: %s", mid, why_rebuild)
        result = build_index(
            settings,
            mid,
            index_key=requested,
            rerank=meta.get("rerank") if requested else None,
            tuning=tuning,
        )
        result.reason = why_rebuild
        result.added = len(new_rows)
        return result

    started = time.perf_counter()
    new_vectors = core.normalize(raw[new_rows], copy=True)
    del raw
    index = faiss.read_index(str(current.path / "index.faiss"))
    core.add_in_chunks(index, new_vectors)
    sha1s = current.ids + [all_sha1s[i] for i in new_rows]
    plan = IndexPlan(
        meta["kind"],
        meta["key"],
        n_total,
        current.dim,
        float(meta.get("memory_mb", 0.0)),
        nlist=int(meta.get("nlist", 0)),
        pq_m=int(meta.get("pq_m", 0)),
        rerank=int(meta.get("rerank", 0)),
        reason=meta.get("reason", ""),
    )
    extra = {
        "adds_since_rebuild": int(meta.get("adds_since_rebuild", 0)) + 1,
        "base_version": current.version,
        "requested_key": requested,
        "reason": f"incremental add of {len(new_rows)}",
    }
    result = _gate_write_swap(settings, mid, plan, index, sha1s, current.vectors, new_vectors, started, tuning, extra)
    result.added = len(new_rows)
    result.rebuilt = False
    return result


def _plan(
    settings: Settings, n: int, dim: int, index_key: str | None, rerank: int | None, hnsw_max_n: int
) -> IndexPlan:
    if index_key:
        return plan_for_key(index_key, n, dim, rerank)
    plan = plan_index(
        n,
        dim,
        memory_budget_mb=settings.index_memory_budget_mb,
        latency_budget_ms=settings.index_latency_budget_ms,
        hnsw_max_n=hnsw_max_n,
    )
    if rerank is not None:
        plan = IndexPlan(**{**plan.to_dict(), "rerank": rerank})
    return plan


def _gate_write_swap(
    settings: Settings,
    model_id: str,
    plan: IndexPlan,
    index: faiss.Index,
    sha1s: list[str],
    old_vectors: np.ndarray,
    new_vectors: np.ndarray | None,
    started: float,
    opts: IndexTuning,
    extra: dict[str, Any],
    *,
    staging: Staging | None = None,
) -> IndexBuildResult:
    """Tune, gate, write the version and swap it in.  With ``staging`` the vectors and ids are
    already in it (an on-disk build) and ``old_vectors`` is their memory map: the recall
    sample is then streamed."""
    threshold = settings.recall_threshold
    rng = np.random.default_rng(opts.seed)
    if staging is None:
        # the whole collection in RAM once: exact ground truth needs it anyway
        vectors = old_vectors if new_vectors is None else np.concatenate([old_vectors, new_vectors])
        sample = core.RecallSample.from_collection(vectors, opts.n_queries, opts.k, rng)
    else:
        vectors = old_vectors
        sample = core.RecallSample.from_file(core.VectorFile(staging.path / VECTORS_FILE), opts.n_queries, opts.k, rng)
    tune_sample, gate_sample = sample.split()
    tuning = core.tune(index, plan, vectors, tune_sample, min(0.999, threshold + TUNE_MARGIN))

    def search_fn(q: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
        return core.search(index, q, kk, rerank=plan.rerank, vectors=vectors)

    recall = gate_sample.recall(search_fn, index.ntotal)
    p50, p95 = core.latency_ms(search_fn, gate_sample.queries[:LATENCY_QUERIES], opts.k)
    build_s = time.perf_counter() - started
    model_dir = model_index_dir(settings, model_id)
    if recall < threshold:
        raise GateFailed(
            f"index {plan.key} for {model_id}: recall@{opts.k} = {recall:.3f} < {threshold} "
            f"(best search params {tuning.params}); the current index stays",
            gate="index_recall",
            dataset=f"index/{model_id}",
        )
    if p50 > settings.index_latency_budget_ms:
        log.warning("index %s: p50 %.2f ms exceeds the %.2f ms budget", plan.key, p50, settings.index_latency_budget_ms)

    version = new_version_id(model_dir)
    meta = {
        **plan.to_dict(),
        **extra,
        "model_id": model_id,
        "model_version": embeddings_version(settings, model_id),
        "version": version,
        "n": len(vectors),
        "params": tuning.params,
        "tuning": [[p, round(r, 4)] for p, r in tuning.tried],
        "metric": "inner_product",
        "normalized": True,
        "recall_at_k": round(recall, 4),
        "recall_k": opts.k,
        "recall_queries": len(gate_sample),
        "recall_threshold": threshold,
        "latency_p50_ms": round(p50, 3),
        "latency_p95_ms": round(p95, 3),
        "latency_budget_ms": settings.index_latency_budget_ms,
        "memory_budget_mb": settings.index_memory_budget_mb,
        "build_s": round(build_s, 2),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "faiss_version": faiss.__version__,
    }
    spooled = staging is not None
    staging = staging if staging is not None else Staging(model_dir)
    try:
        staging.write_index(index)
        if not spooled:
            staging.write_ids(sha1s)
            out = staging.vectors_writer(len(sha1s), plan.dim)
            _copy_rows(out, vectors, 0)
            out.flush()
            del out
        final = staging.commit(version, meta)
    except BaseException:
        staging.discard()
        raise
    swap_current(model_dir, version, meta)
    prune_versions(model_dir, opts.keep_versions)
    log.info(
        "index %s v-%s: %s n=%d recall@%d=%.3f p50=%.2f ms",
        model_id,
        version,
        plan.key,
        len(vectors),
        opts.k,
        recall,
        p50,
    )
    return _result_from_meta(
        model_id, version, final, meta, added=0, rebuilt=True, swapped=True, reason=str(extra.get("reason", ""))
    )


def _copy_rows(out: np.ndarray, src: np.ndarray, offset: int, chunk: int = 65_536) -> None:
    for start in range(0, len(src), chunk):
        block = src[start : start + chunk]
        out[offset + start : offset + start + len(block)] = block


def _result_from_meta(
    model_id: str,
    version: str,
    path: Path,
    meta: dict[str, Any],
    *,
    added: int,
    rebuilt: bool,
    swapped: bool,
    reason: str,
) -> IndexBuildResult:
    return IndexBuildResult(
        model_id=model_id,
        version=version,
        path=str(path),
        kind=meta["kind"],
        key=meta["key"],
        n=int(meta["n"]),
        dim=int(meta["dim"]),
        recall=float(meta["recall_at_k"]),
        threshold=float(meta.get("recall_threshold", 0.0)),
        params=dict(meta.get("params", {})),
        rerank=int(meta.get("rerank", 0)),
        build_s=float(meta.get("build_s", 0.0)),
        latency_p50_ms=float(meta.get("latency_p50_ms", 0.0)),
        latency_p95_ms=float(meta.get("latency_p95_ms", 0.0)),
        added=added,
        rebuilt=rebuilt,
        swapped=swapped,
        reason=reason,
    )


def index_info(settings: Settings, model_id: str | None = None) -> dict[str, Any]:
    """The current pointer, its meta and the list of versions (for ``wikivis index info``)."""
    mid = stored_model_id(settings, model_id)
    model_dir = model_index_dir(settings, mid)
    pointer = read_current(model_dir)
    meta = None
    if pointer is not None:
        meta_path = version_dir(model_dir, pointer["version"]) / META_FILE
        meta = json.loads(meta_path.read_text("utf-8")) if meta_path.is_file() else None
    return {
        "model_id": mid,
        "directory": str(model_dir),
        "current": pointer,
        "meta": meta,
        "versions": list_versions(model_dir),
    }

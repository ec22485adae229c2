"""``embed_images``: incremental, resumable image embedding into Parquet shards.

Work plan: every ``(sha1, path)`` whose sha1 already has a vector for the model is skipped
before anything is loaded, so a rerun with nothing new loads neither the model nor a worker
and reports ``embedded == 0``.  Images that fail to decode are counted per reason and retried
by the next run (the media store may have re-fetched them); they never stop a run.

Throughput: decode runs in DataLoader workers (see :mod:`wikivis.embed.data`); on CUDA the
loop keeps one batch in flight — the features of batch *i* are copied back asynchronously
while batch *i+1* is already queued, so the GPU is not idle while the host writes vectors.

Every batch is padded to the full batch shape before the forward pass, so a vector does not
depend on which other images shared its batch (oneDNN and cuDNN pick kernels by shape), and
cuDNN's autotuner sees a single shape.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from wikivis.embed.data import make_loader
from wikivis.embed.models import MODELS, EmbeddingModel, load_model, model_dir_name, resolve_model_id, weights_version
from wikivis.embed.runtime import Runtime, inference, pick_runtime
from wikivis.embed.store import ShardWriter, check_version, stored_keys
from wikivis.errors import NotFoundError

if TYPE_CHECKING:
    from wikivis.config import Settings

log = logging.getLogger(__name__)

#: decode workers yield to the model's threads when both share the CPU (see make_loader)
CPU_WORKER_NICENESS = 10


@dataclass
class EmbedResult:
    """Counts of one :func:`embed_images` run (``failed`` maps reason → count)."""

    model_id: str
    model_version: str
    embedded: int = 0
    skipped_existing: int = 0
    duplicates: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: time the model loop sat waiting for the decode workers (≈0 when they keep it fed)
    input_wait_s: float = 0.0
    runtime: str = ""

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    @property
    def images_per_s(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed_total": self.failed_total, "images_per_s": round(self.images_per_s, 2)}


def plan_items(
    items: Iterable[tuple[str, str]], existing: set[str]
) -> tuple[list[tuple[str, str]], int, int, dict[str, int]]:
    """Split items into (to embed, already embedded count, duplicate count, invalid reasons)."""
    pending: list[tuple[str, str]] = []
    seen: set[str] = set()
    skipped = duplicates = 0
    invalid: dict[str, int] = {}
    for sha1, path in items:
        if not sha1:
            invalid["missing_sha1"] = invalid.get("missing_sha1", 0) + 1
        elif sha1 in existing:
            skipped += 1
        elif sha1 in seen:
            duplicates += 1
        elif not path:
            invalid["missing_path"] = invalid.get("missing_path", 0) + 1
        else:
            seen.add(sha1)
            pending.append((str(sha1), str(path)))
    return pending, skipped, duplicates, invalid


def forward(model: EmbeddingModel, runtime: Runtime, pixels: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, H, W, 3)`` already on the device → float32 features ``(B, dim)`` on the device."""
    x = model.preprocessing.normalize(pixels)
    x = x.contiguous(memory_format=torch.channels_last if runtime.channels_last else torch.contiguous_format)
    with inference(runtime):
        return model.features(x).float()


def pad_batch(pixels: torch.Tensor, batch_size: int) -> torch.Tensor:
    missing = batch_size - pixels.shape[0]
    if missing <= 0:
        return pixels
    return torch.cat([pixels, pixels.new_zeros((missing, *pixels.shape[1:]))])


def _expected_version(settings: Settings, model_id: str) -> str | None:
    """The version of the configured weights without loading the model (None if unknown)."""
    info = MODELS.get(model_id)
    if info is None:
        return None
    if model_id == "resnet50-random":
        return "random-seed0"
    path = info.weights(settings)
    return weights_version(path) if path and path.is_file() else None


def embed_images(
    settings: Settings,
    items: Iterable[tuple[str, str]],
    model_id: str | None = None,
    *,
    runtime: Runtime | None = None,
    shard_rows: int = 20_000,
    on_progress: Callable[[int], None] | None = None,
) -> EmbedResult:
    """Embed every image of ``items`` (``(sha1, path)`` pairs) that has no vector yet.

    :param model_id: registry id; default ``Settings.model``.
    :param runtime: device/precision override (default from ``Settings.device``/``embed_amp``).
    :param shard_rows: vectors per Parquet shard (a crash loses at most this many).
    :param on_progress: called with the number of items finished after each batch.
    """
    mid = resolve_model_id(settings, model_id)
    directory = settings.embeddings_root / model_dir_name(mid)
    existing, versions = stored_keys(directory)
    pending, skipped, duplicates, invalid = plan_items(items, existing)
    if not pending:
        expected = _expected_version(settings, mid)
        if expected:
            check_version(directory, mid, expected, versions)
        version = expected or (next(iter(versions)) if versions else "")
        return EmbedResult(mid, version, 0, skipped, duplicates, invalid)

    started = time.perf_counter()
    model = load_model(settings, mid)
    check_version(directory, mid, model.version, versions)
    runtime = runtime or pick_runtime(settings.device, settings.embed_amp)
    runtime.prepare(model.module)
    batch_size = max(1, settings.embed_batch_size)
    loader = make_loader(
        pending,
        model.preprocessing,
        batch_size=batch_size,
        workers=settings.embed_workers,
        pin_memory=runtime.pin_memory,
        worker_niceness=0 if runtime.is_cuda else CPU_WORKER_NICENESS,
    )
    writer = ShardWriter(
        directory,
        mid,
        model.version,
        model.dim,
        shard_rows=shard_rows,
        metadata={"preprocessing": model.preprocessing.to_dict()},
    )
    result = EmbedResult(mid, model.version, 0, skipped, duplicates, dict(invalid), runtime=runtime.describe())
    in_flight: tuple[list[str], torch.Tensor, Any] | None = None

    def finish(done: tuple[list[str], torch.Tensor, Any]) -> None:
        sha1s, host, event = done
        if event is not None:
            event.synchronize()
        vectors = host[: len(sha1s)].numpy()
        if not np.isfinite(vectors).all():
            bad = ~np.isfinite(vectors).all(axis=1)
            result.failed["non_finite_vector"] = result.failed.get("non_finite_vector", 0) + int(bad.sum())
            sha1s = [s for s, b in zip(sha1s, bad, strict=True) if not b]
            vectors = vectors[~bad]
        writer.add(sha1s, vectors)
        result.embedded += len(sha1s)

    try:
        batches = iter(loader)
        while True:
            waited = time.perf_counter()
            batch = next(batches, None)
            result.input_wait_s += time.perf_counter() - waited
            if batch is None:
                break
            for _, reason in batch.failures:
                result.failed[reason] = result.failed.get(reason, 0) + 1
            if batch.sha1s:
                # pad on the device: a host-side torch.cat would drop the pinned memory
                pixels = pad_batch(runtime.to_device(batch.pixels), batch_size)
                feats = forward(model, runtime, pixels)
                if runtime.is_cuda:
                    # copy back asynchronously; collect it after the next batch is queued
                    host = feats.to("cpu", non_blocking=True)
                    event = torch.cuda.Event()
                    event.record()
                    if in_flight is not None:
                        finish(in_flight)
                    in_flight = (batch.sha1s, host, event)
                else:
                    finish((batch.sha1s, feats, None))
            if on_progress is not None:
                on_progress(len(batch.sha1s) + len(batch.failures))
        if in_flight is not None:
            done, in_flight = in_flight, None
            finish(done)
    except BaseException:
        if in_flight is not None:
            # keep the batch already computed; a second failure must not hide the first
            with contextlib.suppress(Exception):
                finish(in_flight)
        raise
    finally:
        writer.close()  # keep every finished vector even when interrupted
        result.shards = [str(p) for p in writer.written]
        result.seconds = time.perf_counter() - started
    log.info(
        "embedded %d with %s@%s on %s in %.1f s (%d existing, %d duplicates, failed %s)",
        result.embedded,
        mid,
        model.version,
        result.runtime,
        result.seconds,
        skipped,
        duplicates,
        result.failed,
    )
    return result


def media_items(settings: Settings, wiki: str | None = None, snapshot: str | None = None) -> list[tuple[str, str]]:
    """``(sha1, path)`` of every fetched thumbnail (``status == 'ok'``) in the lake ``media``
    dataset of ``wiki`` (default the Commons wiki), newest snapshot unless one is given.

    Relative paths are relative to ``Settings.media_root``.
    """
    import pyarrow.compute as pc

    from wikivis.lake import Lake

    lake = Lake.from_settings(settings)
    wiki = wiki or settings.commons_wiki
    snap = snapshot or lake.latest("media", wiki)
    if snap is None:
        raise NotFoundError(f"no media snapshot for {wiki} in {settings.lake_root}; fetch media first")
    table = lake.read("media", wiki, snap, columns=["sha1", "path", "status"])
    table = table.filter(pc.equal(table.column("status"), "ok"))
    root = Path(settings.media_root)
    out = []
    for sha1, path in zip(table.column("sha1").to_pylist(), table.column("path").to_pylist(), strict=True):
        if path and not Path(path).is_absolute():
            path = str(root / path)
        out.append((sha1, path or ""))
    return out

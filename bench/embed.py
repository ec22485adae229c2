"""Embedding benchmark: the whole input pipeline vs the bare model forward, same run.

Usage::

    python bench/embed.py [--n 256] [--batch-size 32] [--workers 2] [--model efficientnet-lite0]
                          [--device auto|cpu|cuda] [--amp auto|fp32|bf16] [--rounds 2]
    # GPU check (on a machine with CUDA):
    python bench/embed.py --model resnet50-random --device cuda --amp bf16 --n 4096 --batch-size 256 --workers 14

* **pipeline**: :func:`wikivis.embed.embed_images` on ``n`` JPEGs on disk, into a fresh
  embeddings directory each round: DataLoader decode workers (Pillow, JPEG draft mode),
  batching, host→device copy, forward, device→host copy, Parquet shard write.  Worker start-up
  is included; the model is loaded once before timing (it is cached per process).
* **bare forward**: the same images decoded beforehand (untimed) into the same padded
  batches, already on the device; only the forward passes are timed.

``ratio = pipeline_img_per_s / bare_forward_img_per_s`` says how well the decode workers keep
the model fed (1.0 = the pipeline costs nothing beyond the model).  Rounds alternate bare and
pipeline; ``ratio`` uses the best round of each, ``ratio_median_paired`` the median of the
per-round ratios.  ``input_wait_fraction`` is the share of the pipeline's wall time its model
loop spent blocked on the decode workers (measured inside ``embed_images``; independent of
machine load).  On a shared machine the load average is printed: absolute img/s then vary
2–3× between rounds.

Test images: ``n`` photo-like JPEGs (smooth colour fields + sensor-like noise, quality 85) at
Wikimedia thumbnail sizes — 330 px wide (``Settings.thumb_width``) mostly, some 500 px, aspect
ratios 2:3 … 3:2 — generated once into the bench cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import cache_dir, emit, peak_rss_mb, say, timer

WIDTHS = (330, 330, 330, 500)
ASPECTS = (2 / 3, 3 / 4, 1.0, 4 / 3, 3 / 2)


def make_jpegs(n: int) -> list[tuple[str, str]]:
    """``n`` cached photo-like JPEGs as (sha1-like key, path)."""
    from PIL import Image

    directory = cache_dir("embed-jpegs")
    items = []
    for i in range(n):
        path = directory / f"img-{i:05d}.jpg"
        if not path.exists():
            rng = np.random.default_rng(i)
            w = WIDTHS[i % len(WIDTHS)]
            h = int(w * ASPECTS[(i // len(WIDTHS)) % len(ASPECTS)])
            coarse = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
            field = np.asarray(coarse.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
            pixels = np.clip(field + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)
            tmp = path.with_suffix(".tmp")
            Image.fromarray(pixels).save(tmp, "JPEG", quality=85)
            tmp.replace(path)
        items.append((f"{i:040x}", str(path)))
    return items


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="efficientnet-lite0")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", default="auto", help="auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16")
    ap.add_argument("--n", type=int, default=256, help="images")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2, help="decode worker processes")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    import torch

    from wikivis.config import load_settings
    from wikivis.embed import embed_images
    from wikivis.embed.data import decode_image
    from wikivis.embed.models import load_model
    from wikivis.embed.pipeline import forward, pad_batch
    from wikivis.embed.runtime import pick_runtime, usable_cores

    with timer() as t:
        items = make_jpegs(args.n)
    total_bytes = sum(Path(p).stat().st_size for _, p in items)
    say(f"{args.n} JPEGs ready in {t['s']:.1f} s ({total_bytes / args.n / 1024:.0f} KiB average)")

    base = load_settings(
        env={},
        home=tempfile.mkdtemp(prefix="wikivis-bench-embed-"),
        device=args.device,
        embed_amp=args.amp,
        embed_batch_size=args.batch_size,
        embed_workers=args.workers,
    )
    runtime = pick_runtime(base.device, base.embed_amp)
    model = load_model(base, args.model)
    runtime.prepare(model.module)
    say(
        f"model {model.id}@{model.version} dim {model.dim}; runtime {runtime.describe()}; {usable_cores()} cores; "
        f"torch {torch.__version__}"
    )

    with timer() as t:
        decoded = [torch.from_numpy(decode_image(p, model.preprocessing).copy()) for _, p in items]
    decode_rate = len(decoded) / t["s"]
    say(f"decode + resize + crop, one thread: {decode_rate:.0f} img/s")
    batches = [
        runtime.to_device(pad_batch(torch.stack(decoded[i : i + args.batch_size]), args.batch_size))
        for i in range(0, len(decoded), args.batch_size)
    ]

    def sync() -> None:
        if runtime.is_cuda:
            torch.cuda.synchronize()

    def bare_round() -> float:
        sync()
        start = time.perf_counter()
        for px in batches:
            forward(model, runtime, px)
        sync()
        return args.n / (time.perf_counter() - start)

    waits: list[float] = []

    def pipeline_round(r: int) -> float:
        settings = base.replace(home=Path(base.home) / f"round-{r}")
        result = embed_images(settings, items, args.model, runtime=runtime)
        assert result.embedded == args.n, result
        waits.append(result.input_wait_s / result.seconds)
        return result.embedded / result.seconds

    forward(model, runtime, batches[0])  # warm-up (allocator, cuDNN autotuning, oneDNN primitives)
    embed_images(base.replace(home=Path(base.home) / "warm-up"), items[: args.batch_size], args.model, runtime=runtime)
    bare: list[float] = []
    pipe: list[float] = []
    load_before = os.getloadavg()[0]
    for r in range(args.rounds):
        bare.append(bare_round())
        pipe.append(pipeline_round(r))
        say(
            f"round {r + 1}: bare forward {bare[-1]:.1f} img/s, pipeline {pipe[-1]:.1f} img/s "
            f"(waiting for input {waits[-1]:.1%} of the time)"
        )
    best_bare, best_pipe = max(bare), max(pipe)
    paired = [p / b for p, b in zip(pipe, bare, strict=True)]
    say(
        f"best: pipeline {best_pipe:.1f} img/s vs bare forward {best_bare:.1f} img/s → ratio {best_pipe / best_bare:.3f}"
    )
    emit(
        {
            "bench": "embed",
            "device": runtime.device.type,
            "runtime": runtime.describe(),
            "model": model.id,
            "n": args.n,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "pipeline_img_per_s": round(best_pipe, 2),
            "bare_forward_img_per_s": round(best_bare, 2),
            "ratio": round(best_pipe / best_bare, 3),
            "ratio_median_paired": round(float(np.median(paired)), 3),
            "input_wait_fraction": round(float(np.median(waits)), 4),
            "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "decode_img_per_s_one_thread": round(decode_rate, 1),
            "rounds": {"bare": [round(x, 2) for x in bare], "pipeline": [round(x, 2) for x in pipe]},
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    )


if __name__ == "__main__":
    main()

"""Input pipeline: decode + resize + crop in DataLoader workers, uint8 batches to the model.

Decoding (Pillow) runs in ``Settings.embed_workers`` worker processes and hands the main
process ready ``(B, crop, crop, 3)`` uint8 batches; normalisation to float happens on the
model's device (4× less data through the worker queue and over PCIe than float32).

Speed:

* JPEG ``Image.draft()`` lets libjpeg decode at 1/2, 1/4 or 1/8 scale straight away; we ask for
  the smallest scale that is still at least the resize target, so quality equals a full decode
  followed by a downscale (measured 2.7× faster than a full decode + resize here).
* Resize and centre crop are one ``Image.resize(box=...)`` call; ``reducing_gap`` uses the
  cheap ``reduce()`` first for big non-JPEG images.

Safety: images above :data:`MAX_PIXELS` are refused from their header, before any pixel is
decoded (Pillow's own decompression-bomb check only warns below twice its limit); truncated
or unreadable files, and missing files, become per-item failures with a reason — counted by
the caller, never raised.

Worker memory: the item list is held as two fixed-width NumPy byte arrays rather than a
Python list of tuples, because forked workers touching Python objects' refcounts slowly copy
the whole list into every worker (pytorch/pytorch#13246).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from wikivis.embed.models import Preprocessing

#: refuse images above this many pixels (≈ 8000 × 8000) without decoding them
MAX_PIXELS = 64_000_000
#: bytes of decoded batches the workers may keep queued (they live in /dev/shm)
SHARED_MEMORY_BUDGET = 1 << 30

_EXIF_ORIENTATION = 0x0112
_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


class DecodeFailure(Exception):
    """One image could not be used; ``reason`` is the counted failure key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB, compositing any transparency onto white (transparent pixels are often black)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        return background.convert("RGB")
    return img.convert("RGB")


def decode_image(path: str, prep: Preprocessing, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Open ``path`` and return the ``(crop, crop, 3)`` uint8 centre crop, or raise DecodeFailure."""
    try:
        with warnings.catch_warnings():
            # we check the size ourselves, from the header, with a hard limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w < 1 or h < 1:
                    raise DecodeFailure("empty_image")
                if w * h > max_pixels:
                    raise DecodeFailure("too_many_pixels")
                scale = prep.resize / min(w, h)
                if scale < 1:
                    img.draft("RGB", (max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))))
                # exif_transpose copies the whole image even when there is nothing to do
                if img.getexif().get(_EXIF_ORIENTATION, 1) != 1:
                    return _resize_crop(_to_rgb(ImageOps.exif_transpose(img)), prep)
                return _resize_crop(_to_rgb(img), prep)
    except DecodeFailure:
        raise
    except FileNotFoundError as exc:
        raise DecodeFailure("missing_file") from exc
    except UnidentifiedImageError as exc:
        raise DecodeFailure("not_an_image") from exc
    except Image.DecompressionBombError as exc:
        raise DecodeFailure("too_many_pixels") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # truncated data, corrupt headers, unsupported modes ...
        raise DecodeFailure("decode_error") from exc


def _resize_crop(img: Image.Image, prep: Preprocessing) -> np.ndarray:
    w, h = img.size
    side = min(w, h) * prep.crop / prep.resize  # source pixels that map onto the crop
    left, top = (w - side) / 2, (h - side) / 2
    out = img.resize(
        (prep.crop, prep.crop),
        _RESAMPLE.get(prep.interpolation, Image.Resampling.BILINEAR),
        box=(left, top, left + side, top + side),
        reducing_gap=3.0 if side > 3 * prep.crop else None,
    )
    return np.asarray(out, dtype=np.uint8)


class Batch(NamedTuple):
    """What a worker hands over: decoded images, their keys, and the items that failed."""

    sha1s: list[str]
    pixels: torch.Tensor  # (B, crop, crop, 3) uint8
    failures: list[tuple[str, str]]  # (sha1, reason)


class ImageItems(Dataset[tuple[str, np.ndarray | None, str]]):
    """Map-style dataset over ``(sha1, path)`` pairs; item = (sha1, pixels or None, reason)."""

    def __init__(self, items: Sequence[tuple[str, str]], prep: Preprocessing, max_pixels: int = MAX_PIXELS) -> None:
        self._sha1s = np.array([s.encode() for s, _ in items], dtype=np.bytes_)
        self._paths = np.array([p.encode() for _, p in items], dtype=np.bytes_)
        self.prep = prep
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self._sha1s)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray | None, str]:
        sha1 = self._sha1s[i].decode()
        try:
            return sha1, decode_image(self._paths[i].decode(), self.prep, self.max_pixels), ""
        except DecodeFailure as exc:
            return sha1, None, exc.reason


def make_collate(prep: Preprocessing) -> Callable[[list[tuple[str, np.ndarray | None, str]]], Batch]:
    shape = (prep.crop, prep.crop, 3)

    def collate(samples: list[tuple[str, np.ndarray | None, str]]) -> Batch:
        ok = [(s, px) for s, px, _ in samples if px is not None]
        failures = [(s, reason) for s, px, reason in samples if px is None]
        pixels = torch.from_numpy(np.stack([px for _, px in ok])) if ok else torch.empty((0, *shape), dtype=torch.uint8)
        return Batch([s for s, _ in ok], pixels, failures)

    return collate


def _lower_priority(niceness: int, worker_id: int) -> None:
    os.nice(niceness)


def make_loader(
    items: Sequence[tuple[str, str]],
    prep: Preprocessing,
    *,
    batch_size: int,
    workers: int,
    pin_memory: bool = False,
    prefetch_batches: int = 4,
    worker_niceness: int = 0,
) -> DataLoader[Batch]:
    """A DataLoader that yields :class:`Batch` objects in item order.

    ``worker_niceness`` > 0 runs the decode workers at lower CPU priority.  When the model
    itself runs on the CPU, the workers and the model's threads compete for the same cores;
    decoding is ~25× cheaper than the forward pass, so niced workers still keep the prefetch
    queue full with the cycles the model leaves, instead of preempting it.
    """
    dataset = ImageItems(items, prep)
    kwargs: dict[str, object] = {}
    if workers > 0:
        # prefetched batches sit in shared memory (/dev/shm, often small in containers)
        batch_bytes = max(1, batch_size) * prep.crop * prep.crop * 3
        fitting = SHARED_MEMORY_BUDGET // (batch_bytes * workers)
        kwargs = {"persistent_workers": True, "prefetch_factor": max(2, min(prefetch_batches, fitting))}
        if worker_niceness > 0:
            kwargs["worker_init_fn"] = functools.partial(_lower_priority, worker_niceness)
    return DataLoader(
        dataset,  # type: ignore[arg-type]  # collate_fn turns items into Batch objects
        batch_size=max(1, batch_size),
        shuffle=False,
        num_workers=max(0, workers),
        collate_fn=make_collate(prep),
        pin_memory=pin_memory,
        **kwargs,  # type: ignore[arg-type]
    )

"""Tiny on-disk images for the embedding tests (generated, deterministic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def make_image(path: Path, width: int, height: int, seed: int, fmt: str = "JPEG", mode: str = "RGB") -> Path:
    """A smooth, seeded colour image (gradients + a blob) so JPEG and resizing behave like photos."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8, 2) * (width, height)
    blob = np.exp(-(((xx - cx) / (0.2 * width)) ** 2 + ((yy - cy) / (0.2 * height)) ** 2))
    channels = [
        255 * (a * xx / width + b * yy / height + c * blob) / (a + b + c) for a, b, c in rng.uniform(0.1, 1.0, (3, 3))
    ]
    img = Image.fromarray(np.stack(channels, axis=-1).clip(0, 255).astype(np.uint8), "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return path


@pytest.fixture
def image_items(tmp_path: Path) -> list[tuple[str, str]]:
    """Five good images (JPEG and PNG, various sizes) as (sha1, path)."""
    specs = [(330, 248, "JPEG"), (500, 375, "JPEG"), (330, 440, "JPEG"), (120, 90, "PNG"), (640, 480, "JPEG")]
    items = []
    for i, (w, h, fmt) in enumerate(specs):
        path = make_image(tmp_path / "media" / f"img{i}.{fmt.lower()}", w, h, seed=i, fmt=fmt)
        items.append((f"{i:040x}", str(path)))
    return items


@pytest.fixture
def embed_settings(settings):
    """Small batches, decoding in the main process (worker processes are tested separately)."""
    return settings.replace(embed_workers=0, embed_batch_size=4, device="cpu")

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from wikivis.embed.data import DecodeFailure, decode_image, make_collate
from wikivis.embed.models import EFFICIENTNET_PREPROCESSING, RESNET_PREPROCESSING, Preprocessing

from .conftest import make_image

PREP = EFFICIENTNET_PREPROCESSING


@pytest.mark.parametrize(
    ("size", "fmt", "mode"),
    [((330, 248), "JPEG", "RGB"), ((500, 900), "JPEG", "L"), ((120, 90), "PNG", "RGB"), ((300, 300), "PNG", "P")],
)
def test_decode_gives_a_uint8_centre_crop_of_the_model_size(tmp_path, size, fmt, mode):
    path = make_image(tmp_path / f"x.{fmt.lower()}", *size, seed=1, fmt=fmt, mode=mode)
    out = decode_image(str(path), PREP)
    assert out.shape == (224, 224, 3)
    assert out.dtype == np.uint8


def test_jpeg_draft_decode_matches_a_full_decode(tmp_path):
    """draft() decodes at a reduced DCT scale; the result must stay close to the slow path."""
    path = make_image(tmp_path / "big.jpg", 1600, 1200, seed=3)
    fast = decode_image(str(path), PREP).astype(np.float32)
    with Image.open(path) as img:
        full = img.convert("RGB")
    w, h = full.size
    scale = PREP.resize / min(w, h)
    resized = full.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
    left, top = (resized.width - PREP.crop) // 2, (resized.height - PREP.crop) // 2
    slow = np.asarray(resized.crop((left, top, left + PREP.crop, top + PREP.crop)), dtype=np.float32)
    assert np.abs(fast - slow).mean() < 3.0


def test_transparency_is_composited_on_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(path)
    assert (decode_image(str(path), PREP) == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((400, 400, 3), np.uint8)
    stored[:200] = (255, 0, 0)  # top half red, bottom half blue as stored
    stored[200:] = (0, 0, 255)
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rotated.jpg"
    img.save(path, quality=95, exif=exif)
    out = decode_image(str(path), PREP).astype(int)
    # displayed upright, the red half is on the right
    assert out[:, -20:, 0].mean() > 200
    assert out[:, :20, 2].mean() > 200


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "missing_file"), (b"definitely not an image", "not_an_image")],
)
def test_unreadable_files_are_reported_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DecodeFailure) as info:
        decode_image(str(path), PREP)
    assert info.value.reason == reason


def test_truncated_jpeg_is_a_decode_error(tmp_path):
    path = make_image(tmp_path / "t.jpg", 400, 300, seed=2)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DecodeFailure) as info:
        decode_image(str(path), PREP)
    assert info.value.reason == "decode_error"


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    path = make_image(tmp_path / "big.png", 200, 200, seed=0, fmt="PNG")
    with pytest.raises(DecodeFailure) as info:
        decode_image(str(path), PREP, max_pixels=10_000)
    assert info.value.reason == "too_many_pixels"


def test_normalize_applies_mean_std_and_returns_nchw():
    pixels = torch.full((2, 224, 224, 3), 127, dtype=torch.uint8)
    x = PREP.normalize(pixels)
    assert x.shape == (2, 3, 224, 224)
    assert x.dtype == torch.float32
    assert torch.allclose(x, torch.zeros_like(x))
    y = RESNET_PREPROCESSING.normalize(torch.full((1, 4, 4, 3), 255, dtype=torch.uint8))
    assert torch.allclose(y[0, :, 0, 0], torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]))


def test_collate_separates_failures_from_pixels():
    prep = Preprocessing(8, 4, (0.0,) * 3, (1.0,) * 3)
    good = np.ones((4, 4, 3), np.uint8)
    batch = make_collate(prep)([("a", good, ""), ("b", None, "not_an_image"), ("c", good, "")])
    assert batch.sha1s == ["a", "c"]
    assert batch.pixels.shape == (2, 4, 4, 3)
    assert batch.failures == [("b", "not_an_image")]
    empty = make_collate(prep)([("b", None, "missing_file")])
    assert empty.pixels.shape == (0, 4, 4, 3)

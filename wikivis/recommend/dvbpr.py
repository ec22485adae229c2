"""DVBPR (Kang et al., ICDM 2017, "Visually-aware fashion recommendation and design with
generative image models"; VisualRecSys tutorial ``models/dvbpr.py``) as an evaluation baseline.

Unlike VBPR, the image features are not frozen: a CNN ``Φ`` is trained **end to end on
pixels** with the article factors, ``x_ui = θ_u · Φ(X_i)``, by BPR on (article, used image,
unused image) triples with L2 on the article factors.

Sizes, on purpose small: the paper's CNN-F on 224 px is far beyond a CPU CI budget, so
``Φ`` here is four stride-2 3×3 conv blocks (BatchNorm, ReLU) + global average pooling + a
linear layer to ``latent`` dims, on ``image_size`` px thumbnails (32 px by default: the
sample wiki trains in seconds on CPU).  On CUDA (``device="auto"`` picks it when present)
the forward and backward passes run under bf16 autocast — the weights and the optimiser
stay float32 — and the thumbnail size can be raised with the config.

Pixels come from a caller-given array ``(N, 3, H, W) uint8`` aligned with the catalogue
(:func:`load_thumbnails` reads them from the media store); an item without an image has an
all-zero thumbnail and a ``False`` in ``present``, so it can only be ranked by Φ(0), which
is the honest cold-start for a pixel model.

Like VBPR, ``θ_u`` exists only for articles seen in training: an unseen article gets zero
scores (ties, broken at random by the evaluation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wikivis.errors import InputError
from wikivis.recommend.curatornet import resolve_device, seeded_training
from wikivis.recommend.vbpr import run_bpr_epochs, training_pairs


@dataclass(frozen=True)
class DVBPRConfig:
    latent: int = 32
    channels: int = 16
    image_size: int = 32
    epochs: int = 8
    batch_size: int = 128
    lr: float = 2e-3
    reg: float = 1e-4
    negatives_per_positive: int = 1
    seed: int = 0


class ImageCNN(nn.Module):
    """Φ: (B, 3, H, W) float in [0, 1] → (B, latent)."""

    def __init__(self, latent: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in (channels, channels * 2, channels * 4, channels * 4):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(c_in, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x).mean(dim=(2, 3)))  # type: ignore[no-any-return]


_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _to_input(pixels: np.ndarray, dev: torch.device) -> torch.Tensor:
    x = torch.from_numpy(pixels).to(dev).float().div_(255.0)
    return (x - _MEAN.to(dev)) / _STD.to(dev)


@dataclass
class DVBPRModel:
    cnn: ImageCNN
    user_theta: np.ndarray
    user_row: dict[int, int]
    config: DVBPRConfig
    item_codes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    meta: dict[str, Any] = field(default_factory=dict)

    def score_all(self, page_id: int) -> np.ndarray:
        row = self.user_row.get(page_id)
        if row is None:
            return np.zeros(len(self.item_codes), dtype=np.float32)
        return self.item_codes @ self.user_theta[row]  # type: ignore[no-any-return]


def encode_images(cnn: ImageCNN, pixels: np.ndarray, dev: torch.device, batch: int = 256) -> np.ndarray:
    cnn.eval()
    out = []
    with torch.no_grad(), _autocast(dev):
        for start in range(0, len(pixels), batch):
            out.append(cnn(_to_input(pixels[start : start + batch], dev)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, cnn.out.out_features), np.float32)


def _autocast(dev: torch.device) -> Any:
    """bf16 autocast on CUDA (tensor cores; weights stay float32), nothing on CPU."""
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def train_dvbpr(
    pixels: np.ndarray,
    profiles: Mapping[int, Sequence[int]],
    config: DVBPRConfig | None = None,
    *,
    device: str = "auto",
) -> DVBPRModel:
    """Train on ``profiles`` (page_id → rows of ``pixels`` the article uses)."""
    config = config or DVBPRConfig()
    if pixels.ndim != 4 or pixels.shape[1] != 3 or len(pixels) < 2:
        raise InputError(f"need (N ≥ 2, 3, H, W) uint8 thumbnails, got {pixels.shape}", source="media")
    user_row, pairs = training_pairs(profiles)
    dev = resolve_device(device)
    rng = np.random.default_rng(config.seed)
    with seeded_training(dev, config.seed):
        cnn = ImageCNN(config.latent, config.channels).to(dev)
        theta = nn.Embedding(len(user_row), config.latent).to(dev)
        nn.init.normal_(theta.weight, std=0.1)
        optimiser = torch.optim.Adam([*cnn.parameters(), *theta.parameters()], lr=config.lr)

        def batch_loss(u: torch.Tensor, items: np.ndarray, _rows: slice, _state: Any) -> tuple[torch.Tensor, torch.Tensor]:
            uniq, inverse = np.unique(items, return_inverse=True)  # each image through the CNN once
            with _autocast(dev):
                codes = cnn(_to_input(pixels[uniq], dev)).float()
            x = codes[torch.from_numpy(inverse.reshape(items.shape)).to(dev)]  # (B, 1 + M, K)
            t = theta(u)
            scores = torch.einsum("bk,bmk->bm", t, x)
            loss = -F.logsigmoid(scores[:, :1] - scores[:, 1:]).mean()
            return loss, loss + config.reg * t.square().sum() / len(u)

        trained = run_bpr_epochs(cnn, optimiser, pairs, len(pixels), config, rng, dev, batch_loss)
    codes = encode_images(cnn, pixels, dev)
    meta = {
        **trained,
        "precision": "bf16-autocast" if dev.type == "cuda" else "float32",
        "image_size": int(pixels.shape[-1]),
    }
    return DVBPRModel(cnn.cpu(), theta.weight.detach().float().cpu().numpy(), user_row, config, codes, meta)


def load_thumbnails(media_root: str | Path, sha1s: Sequence[str], size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3, size, size) uint8`` thumbnails from the media store, and which were found.

    Missing or undecodable images give zeros (and ``False``); the count is the caller's to
    report.
    """
    from PIL import Image, UnidentifiedImageError

    from wikivis.media.store import MediaStore

    store = MediaStore(media_root)
    out = np.zeros((len(sha1s), 3, size, size), dtype=np.uint8)
    present = np.zeros(len(sha1s), dtype=bool)
    for i, sha1 in enumerate(sha1s):
        path = store.find(sha1)
        if path is None:
            continue
        try:
            with Image.open(path) as img:
                small = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        except (OSError, UnidentifiedImageError, ValueError):
            continue
        out[i] = np.asarray(small, dtype=np.uint8).transpose(2, 0, 1)
        present[i] = True
    return out, present

"""CuratorNet (Cartagena et al., arXiv 2009.04426; VisualRecSys tutorial ``models/curatornet.py``).

Frozen visual features go through a shared SELU item tower; a *profile* (the images an
article already shows) is encoded item by item, pooled by **max and mean**, and passed
through a SELU profile tower.  The score is the dot product of the profile code and the
candidate's item code.  Because nothing is learned per user or per item, the model scores
new articles and new images without retraining — which is why wikivis serves it rather
than VBPR (whose per-item latent factors need retraining for every new image; VBPR is
kept as an evaluation baseline in ``vbpr.py``).

Training uses (profile, positive, negative) triplets built from ``article → image``
links: for an article with images ``I``, every ``p ∈ I`` is a positive for the profile
``I \\ {p}`` (at most ``max_profile`` images), against random images the article does not
use.  Loss: BPR ``−log σ(x_up − x_un)`` (default) or a triplet hinge.

Differences from the tutorial, on purpose: variable-length profiles are padded and
*masked* (the tutorial's ``AdaptiveMaxPool2d`` pools padding too); features are
L2-normalised first; sampling is seeded with NumPy so a CPU run is bit-for-bit
repeatable.  ``device="auto"`` uses CUDA when present.

Checkpoints (``<home>/models/curatornet/<wiki>--<model_id>.pt``) hold the config, the
input dimension, the weights and training metadata; they are written atomically and
read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wikivis.errors import InputError, NotFoundError
from wikivis.recommend.data import l2_normalise
from wikivis.vocab import staged_path

CHECKPOINT_FORMAT = "wikivis-curatornet/1"


@dataclass(frozen=True)
class CuratorNetConfig:
    """Model size and training knobs; defaults train the sample wiki in seconds on CPU."""

    hidden: int = 200
    profile_hidden: int = 300
    max_profile: int = 10
    epochs: int = 12
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-5
    negatives_per_positive: int = 4
    loss: Literal["bpr", "triplet"] = "bpr"
    margin: float = 0.5
    seed: int = 0


class CuratorNet(nn.Module):
    """The network: shared item tower, max+mean pooled profile tower, dot-product score."""

    def __init__(self, input_dim: int, hidden: int = 200, profile_hidden: int = 300) -> None:
        super().__init__()
        self.item1 = nn.Linear(input_dim, hidden)
        self.item2 = nn.Linear(hidden, hidden)
        self.prof1 = nn.Linear(2 * hidden, profile_hidden)
        self.prof2 = nn.Linear(profile_hidden, profile_hidden)
        self.prof3 = nn.Linear(profile_hidden, hidden)
        for layer in (self.item1, self.item2, self.prof1, self.prof2, self.prof3):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def encode_items(self, x: torch.Tensor) -> torch.Tensor:
        return F.selu(self.item2(F.selu(self.item1(x))))

    def encode_profile(self, profile: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``profile`` (B, L, d) features, ``mask`` (B, L) true for real items → (B, hidden)."""
        return self.pool_profile(self.encode_items(profile), mask)

    def pool_profile(self, item_codes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Profile tower over already-encoded items (B, L, hidden): masked max ‖ masked mean."""
        m = mask.unsqueeze(-1)
        maxed = item_codes.masked_fill(~m, float("-inf")).max(dim=1).values
        mean = (item_codes * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)
        pooled = torch.cat((maxed, mean), dim=-1)
        return F.selu(self.prof3(F.selu(self.prof2(F.selu(self.prof1(pooled))))))

    def forward(
        self,
        features: torch.Tensor,
        profile: torch.Tensor,
        mask: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
    ) -> torch.Tensor:
        """``x_up − x_un`` for index tensors into ``features``: profile (B, L), positive (B,), negative (B, M).

        Every distinct image of the batch goes through the item tower once.
        """
        used, inverse = torch.unique(torch.cat((profile.flatten(), positive, negative.flatten())), return_inverse=True)
        codes = self.encode_items(features[used])
        b, length = profile.shape
        n_prof = b * length
        u = self.pool_profile(codes[inverse[:n_prof]].view(b, length, -1), mask)
        pos = codes[inverse[n_prof : n_prof + b]]
        neg = codes[inverse[n_prof + b :]].view(b, negative.shape[1], -1)
        x_up = (u * pos).sum(-1, keepdim=True)
        x_un = torch.einsum("bh,bmh->bm", u, neg)
        return x_up - x_un


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class CuratorNetModel:
    """A trained network plus what is needed to use and reproduce it."""

    net: CuratorNet
    config: CuratorNetConfig
    device: torch.device
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def input_dim(self) -> int:
        return int(self.net.item1.in_features)

    @torch.inference_mode()
    def encode_items(self, vectors: np.ndarray, batch: int = 65_536) -> np.ndarray:
        """Item codes (N, hidden) of raw feature rows; cache them for repeated scoring."""
        self.net.eval()
        out = []
        for start in range(0, len(vectors), batch):
            x = torch.from_numpy(l2_normalise(vectors[start : start + batch])).to(self.device)
            out.append(self.net.encode_items(x).float().cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, self.config.hidden), dtype=np.float32)

    @torch.inference_mode()
    def encode_profile(self, vectors: np.ndarray) -> np.ndarray:
        """Profile code (hidden,) of the profile images' raw features (L, d), L ≥ 1."""
        if len(vectors) == 0:
            raise ValueError("a CuratorNet profile needs at least one image")
        self.net.eval()
        x = torch.from_numpy(l2_normalise(vectors[-self.config.max_profile :])).to(self.device)
        mask = torch.ones((1, len(x)), dtype=torch.bool, device=self.device)
        return self.net.encode_profile(x.unsqueeze(0), mask)[0].float().cpu().numpy()

    def score(self, profile_vectors: np.ndarray, item_vectors: np.ndarray) -> np.ndarray:
        """Scores of candidates (rows of ``item_vectors``) for a profile."""
        values: np.ndarray = self.encode_items(item_vectors) @ self.encode_profile(profile_vectors)
        return values


# ---------------------------------------------------------------------------- training
def sample_triplets(
    profiles: Sequence[Sequence[int]],
    n_items: int,
    config: CuratorNetConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One epoch of training examples, shuffled.

    Returns ``profile_idx (T, L)``, ``mask (T, L)``, ``positive (T,)`` and
    ``negatives (T, M)`` with ``M = negatives_per_positive``: each row stands for M
    (profile, positive, negative) triplets sharing one profile.  Articles with fewer than
    two images give no example (no profile is left once the positive is taken out).
    Negatives are drawn uniformly among the images the article does not use.
    """
    length, m = config.max_profile, config.negatives_per_positive
    prof_rows: list[np.ndarray] = []
    pos: list[int] = []
    neg: list[list[int]] = []
    for items in profiles:
        owned_set = set(items)
        owned = np.asarray(sorted(owned_set), dtype=np.int64)
        if len(owned) < 2 or len(owned) >= n_items:
            continue
        for p in owned:
            rest = owned[owned != p]
            if len(rest) > length:
                rest = rng.choice(rest, size=length, replace=False)
            negatives: list[int] = []
            while len(negatives) < m:  # the article uses < n_items images, so this ends
                n = int(rng.integers(n_items))
                if n not in owned_set:
                    negatives.append(n)
            prof_rows.append(rest)
            pos.append(int(p))
            neg.append(negatives)
    t = len(pos)
    idx = np.zeros((t, length), dtype=np.int64)
    mask = np.zeros((t, length), dtype=bool)
    for row, rest in enumerate(prof_rows):
        idx[row, : len(rest)] = rest
        mask[row, : len(rest)] = True
    order = rng.permutation(t)
    negatives_arr = np.asarray(neg, dtype=np.int64).reshape(t, m)
    return idx[order], mask[order], np.asarray(pos, dtype=np.int64)[order], negatives_arr[order]


def train_curatornet(
    features: np.ndarray,
    profiles: Sequence[Sequence[int]],
    config: CuratorNetConfig | None = None,
    *,
    device: str = "auto",
) -> CuratorNetModel:
    """Train on ``profiles`` (per article, rows of ``features`` it uses).

    ``features`` is the (N, d) embedding matrix; only its rows are used, never trained.
    Deterministic on CPU for a given ``config.seed`` and thread count.
    """
    config = config or CuratorNetConfig()
    if features.ndim != 2 or len(features) < 2:
        raise InputError(f"need an (N ≥ 2, d) feature matrix, got {features.shape}", source="embeddings")
    dev = resolve_device(device)
    with seeded_training(dev, config.seed):
        return _train(features, profiles, config, dev)


@contextmanager
def seeded_training(dev: torch.device, seed: int) -> Iterator[None]:
    """Seed torch for one training run, bit-for-bit repeatable on CPU, caller's RNG untouched.

    Index backwards (scatter-add) sum in thread order unless deterministic kernels are
    forced, so they are, on CPU, for the duration."""
    previous = torch.are_deterministic_algorithms_enabled()
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(seed)
            yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _train(
    features: np.ndarray, profiles: Sequence[Sequence[int]], config: CuratorNetConfig, dev: torch.device
) -> CuratorNetModel:
    rng = np.random.default_rng(config.seed)
    net = CuratorNet(features.shape[1], config.hidden, config.profile_hidden).to(dev)
    x = torch.from_numpy(l2_normalise(features)).to(dev)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    losses: list[float] = []
    n_triplets = 0
    started = time.perf_counter()
    for _epoch in range(config.epochs):
        idx, mask, pos, neg = sample_triplets(profiles, len(features), config, rng)
        if len(pos) == 0:
            raise InputError("no training triplet: no article uses two or more images", source="article_images")
        net.train()
        total = 0.0
        for start in range(0, len(pos), config.batch_size):
            sl = slice(start, start + config.batch_size)
            diff = net(
                x,
                torch.from_numpy(idx[sl]).to(dev),
                torch.from_numpy(mask[sl]).to(dev),
                torch.from_numpy(pos[sl]).to(dev),
                torch.from_numpy(neg[sl]).to(dev),
            )
            loss = -F.logsigmoid(diff).mean() if config.loss == "bpr" else F.relu(config.margin - diff).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * diff.numel()
        n_triplets += neg.size
        losses.append(total / neg.size)
    meta = {
        "epoch_losses": losses,
        "triplets_seen": n_triplets,
        "train_seconds": round(time.perf_counter() - started, 3),
        "device": str(dev),
        "n_items": len(features),
        "n_profiles": sum(1 for p in profiles if len(set(p)) >= 2),
    }
    net.eval()
    return CuratorNetModel(net=net, config=config, device=dev, meta=meta)


# --------------------------------------------------------------------------- checkpoints
def checkpoint_path(home: Path, wiki: str, model_id: str) -> Path:
    """``<home>/models/curatornet/<wiki>--<model_id>.pt`` (features depend on the embedding model)."""
    return Path(home) / "models" / "curatornet" / f"{wiki}--{model_id.replace('/', '_')}.pt"


def save_checkpoint(model: CuratorNetModel, path: Path, **extra_meta: Any) -> Path:
    """Write atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": asdict(model.config),
        "input_dim": model.input_dim,
        "state_dict": {k: v.detach().cpu() for k, v in model.net.state_dict().items()},
        "meta": {**model.meta, **extra_meta},
    }
    with staged_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: Path, *, device: str = "auto") -> CuratorNetModel:
    """Read a checkpoint written by :func:`save_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"no CuratorNet checkpoint at {path}")
    dev = resolve_device(device)
    try:
        payload = torch.load(path, map_location=dev, weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot read checkpoint: {exc}", source=str(path)) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"not a {CHECKPOINT_FORMAT} checkpoint", source=str(path))
    config = CuratorNetConfig(**payload["config"])
    net = CuratorNet(int(payload["input_dim"]), config.hidden, config.profile_hidden).to(dev)
    net.load_state_dict(payload["state_dict"])
    net.eval()
    return CuratorNetModel(net=net, config=config, device=dev, meta=dict(payload.get("meta", {})))

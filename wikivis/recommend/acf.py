"""ACF — Attentive Collaborative Filtering (Chen et al., SIGIR 2017; VisualRecSys tutorial) as a
baseline over frozen image embeddings.

An article (user) is represented by its own factor plus an *attention-weighted* sum of the
images it already shows::

    a(u, l)  = w · ReLU(W_u γ_u + W_p p_l + W_x f_l + b)         (item-level attention)
    α(u, l)  = softmax over l ∈ profile(u) of a(u, l)
    û        = γ_u + Σ_l α(u, l) p_l
    x_ui     = û · q_i + β_i,       q_i = γ_i + E f_i,  p_l = π_l + E f_l

``f`` are the (L2-normalised) image embeddings.  The paper also has *component-level*
attention over the regions of each image (a CNN feature map); wikivis stores one pooled
vector per image, so that level collapses to the identity and only item-level attention
remains — said here so the numbers are not read as the full model's.  The ``E f`` terms give
images never linked in training a content-based code (cold start), as in VBPR.

Training: BPR on (article, used image, unused image) triples; the profile of a triple is
the article's *other* training images (at most ``max_profile``, padded and masked), so the
positive never explains itself.  L2 on the factors a triple touches.  Scoring an article uses
all its training images as the profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wikivis.errors import InputError
from wikivis.recommend.curatornet import resolve_device, seeded_training
from wikivis.recommend.data import l2_normalise
from wikivis.recommend.vbpr import run_bpr_epochs, training_pairs


@dataclass(frozen=True)
class ACFConfig:
    latent: int = 32
    attention: int = 32
    max_profile: int = 10
    epochs: int = 30
    batch_size: int = 256
    lr: float = 5e-3
    reg: float = 1e-4
    negatives_per_positive: int = 4
    seed: int = 0


class ACF(nn.Module):
    def __init__(self, n_users: int, n_items: int, feature_dim: int, latent: int, attention: int) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, latent)
        self.item = nn.Embedding(n_items, latent)  # γ_i (target side)
        self.aux = nn.Embedding(n_items, latent)  # π_l (profile side)
        self.bias = nn.Embedding(n_items, 1)
        self.project = nn.Linear(feature_dim, latent, bias=False)  # E
        self.att_user = nn.Linear(latent, attention)
        self.att_item = nn.Linear(latent, attention, bias=False)
        self.att_feat = nn.Linear(feature_dim, attention, bias=False)
        self.att_out = nn.Linear(attention, 1, bias=False)
        for e in (self.user, self.item, self.aux):
            nn.init.normal_(e.weight, std=0.01)
        nn.init.zeros_(self.bias.weight)

    def user_vector(self, g: torch.Tensor, profile: torch.Tensor, mask: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """û for user factors g (B, k), profile item ids (B, L) with mask (B, L) → (B, k)."""
        fl = f[profile]  # (B, L, d)
        p = self.aux(profile) + self.project(fl)  # (B, L, k)
        a = self.att_out(F.relu(self.att_user(g)[:, None, :] + self.att_item(p) + self.att_feat(fl))).squeeze(-1)
        a = a.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(a, dim=1)
        alpha = torch.nan_to_num(alpha, nan=0.0)  # a user with an empty profile
        return g + torch.einsum("bl,blk->bk", alpha, p)

    def item_vector(self, items: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.item(items) + self.project(f[items])
        return out


@dataclass
class ACFModel:
    net: ACF
    user_row: dict[int, int]
    config: ACFConfig
    features: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)
    _items: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    _bias: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def precompute(self) -> ACFModel:
        self.net = self.net.cpu().eval()
        self.features = self.features.cpu()
        with torch.no_grad():
            ids = torch.arange(len(self.features))
            self._items = self.net.item_vector(ids, self.features).numpy()
            self._bias = self.net.bias.weight.squeeze(-1).numpy()
        return self

    def score_all(self, page_id: int, profile: Sequence[int]) -> np.ndarray:
        """Scores of every item; an article unseen in training gets a zero γ_u."""
        rows = list(profile)[-self.config.max_profile :] or [0]
        mask = torch.tensor([[bool(profile)] * len(rows)])
        with torch.no_grad():
            row = self.user_row.get(page_id)
            g = self.net.user.weight[row : row + 1] if row is not None else torch.zeros(1, self.config.latent)
            u = self.net.user_vector(g, torch.tensor([rows]), mask, self.features)
        return self._items @ u[0].numpy() + self._bias  # type: ignore[no-any-return]


def _profiles_for(
    users: np.ndarray, positives: np.ndarray, train_items: list[np.ndarray], max_profile: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(B, L) profile ids and mask: each user's training items minus the positive, sampled to L."""
    out = np.zeros((len(users), max_profile), dtype=np.int64)
    mask = np.zeros((len(users), max_profile), dtype=bool)
    for b, (u, pos) in enumerate(zip(users, positives, strict=True)):
        own = train_items[u]
        own = own[own != pos]
        if len(own) > max_profile:
            own = rng.choice(own, size=max_profile, replace=False)
        out[b, : len(own)] = own
        mask[b, : len(own)] = True
    return out, mask


def train_acf(
    features: np.ndarray,
    profiles: Mapping[int, Sequence[int]],
    config: ACFConfig | None = None,
    *,
    device: str = "auto",
) -> ACFModel:
    """Train on ``profiles`` (page_id → rows of ``features`` the article uses)."""
    config = config or ACFConfig()
    if features.ndim != 2 or len(features) < 2:
        raise InputError(f"need an (N ≥ 2, d) feature matrix, got {features.shape}", source="embeddings")
    user_row, pairs = training_pairs(profiles)
    train_items = [np.unique(np.asarray(profiles[p], dtype=np.int64)) for p in sorted(user_row, key=user_row.get)]  # type: ignore[arg-type]
    dev = resolve_device(device)
    rng = np.random.default_rng(config.seed)
    n_items = len(features)
    with seeded_training(dev, config.seed):
        net = ACF(len(user_row), n_items, features.shape[1], config.latent, config.attention).to(dev)
        f = torch.from_numpy(l2_normalise(features)).to(dev)
        optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)

        def profiles_of(users: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return _profiles_for(users, positives, train_items, config.max_profile, rng)

        def batch_loss(u: torch.Tensor, items_np: np.ndarray, rows: slice,
                       state: tuple[np.ndarray, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
            prof, mask = state
            items = torch.from_numpy(items_np).to(dev)
            uvec = net.user_vector(net.user(u), torch.from_numpy(prof[rows]).to(dev),
                                   torch.from_numpy(mask[rows]).to(dev), f)
            q = net.item_vector(items, f)  # (B, 1 + M, k)
            scores = torch.einsum("bk,bmk->bm", uvec, q) + net.bias(items).squeeze(-1)
            loss = -F.logsigmoid(scores[:, :1] - scores[:, 1:]).mean()
            touched = net.user(u).square().sum() + net.item(items).square().sum() + net.bias(items).square().sum()
            return loss, loss + config.reg * touched / len(u)

        trained = run_bpr_epochs(net, optimiser, pairs, n_items, config, rng, dev, batch_loss,
                                 epoch_state=profiles_of)
    meta = {
        **trained,
        "attention": "item-level (one pooled vector per image: no component level)",
    }
    return ACFModel(net, user_row, config, f, meta).precompute()

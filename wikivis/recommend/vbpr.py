"""VBPR (He & McAuley, AAAI 2016; VisualRecSys tutorial ``models/vbpr.py``) as a baseline.

Score of item ``i`` for user ``u`` (here: an article and the images it uses)::

    x_ui = β_i + γ_u·γ_i + θ_u·(E f_i) + β'·f_i

``γ`` are latent factors (one per article, one per image), ``θ_u`` the article's taste in
the visual space that ``E`` projects the frozen image features ``f`` into, ``β_i`` an item
bias and ``β'`` a global visual bias.  Trained with BPR on (article, used image, unused
image) triples and L2 regularisation of the parameters each triple touches, as in the
paper.

Why it is an evaluation baseline and not served: ``γ_u``/``θ_u`` exist only for articles
seen in training and ``γ_i``/``β_i`` only for images linked in training, so every new
article or image needs retraining; CuratorNet (``curatornet.py``) encodes both from
features instead.  An article unseen in training gets the item-only part of the score
(``β_i + β'·f_i``), and an image never linked in training keeps its (regularised, near
zero) initial ``γ_i``/``β_i`` and is ranked by its visual terms — VBPR's cold-start case.

Deterministic on CPU for a given seed: sampling uses NumPy's seeded generator, weights
torch's seeded generator (the caller's RNG state is left alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wikivis.errors import InputError
from wikivis.recommend.curatornet import resolve_device, seeded_training
from wikivis.recommend.data import l2_normalise


@dataclass(frozen=True)
class VBPRConfig:
    """Factor sizes and training knobs; defaults train the sample wiki in about a second on CPU."""

    latent: int = 20
    visual: int = 20
    epochs: int = 40
    batch_size: int = 256
    lr: float = 5e-3
    #: L2 weight on the factors and biases a triple touches (λ_Θ in the paper)
    reg: float = 1e-4
    #: L2 weight on the projection E and the visual bias β' (λ_E)
    reg_visual: float = 1e-5
    negatives_per_positive: int = 4
    seed: int = 0


class VBPR(nn.Module):
    def __init__(self, n_users: int, n_items: int, feature_dim: int, latent: int, visual: int) -> None:
        super().__init__()
        self.user_gamma = nn.Embedding(n_users, latent)
        self.item_gamma = nn.Embedding(n_items, latent)
        self.user_theta = nn.Embedding(n_users, visual)
        self.item_beta = nn.Embedding(n_items, 1)
        self.projection = nn.Linear(feature_dim, visual, bias=False)  # E
        self.visual_bias = nn.Linear(feature_dim, 1, bias=False)  # β'
        for embedding in (self.user_gamma, self.item_gamma, self.user_theta):
            nn.init.normal_(embedding.weight, std=0.01)
        nn.init.zeros_(self.item_beta.weight)
        nn.init.xavier_uniform_(self.projection.weight)
        nn.init.zeros_(self.visual_bias.weight)

    def scores(self, users: torch.Tensor, items: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``x_ui`` for index tensors ``users`` (B,) and ``items`` (B, M) → (B, M)."""
        f = features[items]
        latent = torch.einsum("bk,bmk->bm", self.user_gamma(users), self.item_gamma(items))
        visual = torch.einsum("bv,bmv->bm", self.user_theta(users), self.projection(f))
        out: torch.Tensor = self.item_beta(items).squeeze(-1) + latent + visual + self.visual_bias(f).squeeze(-1)
        return out


@dataclass
class VBPRModel:
    """A trained VBPR; scores the whole catalogue for one training article at a time."""

    net: VBPR
    user_row: dict[int, int]
    config: VBPRConfig
    meta: dict[str, Any] = field(default_factory=dict)
    _item_part: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    _item_gamma: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    _item_visual: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    _user_gamma: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    _user_theta: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def precompute(self, features: np.ndarray) -> VBPRModel:
        """Cache the per-item terms (``β_i + β'·f_i``, ``γ_i``, ``E f_i``) and the user factors."""
        net = self.net.cpu().eval()
        with torch.no_grad():
            f = torch.from_numpy(l2_normalise(features))
            self._item_part = (net.item_beta.weight.squeeze(-1) + net.visual_bias(f).squeeze(-1)).numpy()
            self._item_visual = net.projection(f).numpy()
            self._item_gamma = net.item_gamma.weight.numpy()
            self._user_gamma = net.user_gamma.weight.numpy()
            self._user_theta = net.user_theta.weight.numpy()
        return self

    def score_all(self, page_id: int) -> np.ndarray:
        """Scores of every item for ``page_id``; item terms only for an article unseen in training."""
        row = self.user_row.get(page_id)
        if row is None:
            return self._item_part.copy()
        values: np.ndarray = self._item_part + self._item_gamma @ self._user_gamma[row] + self._item_visual @ self._user_theta[row]
        return values


def sample_triples(
    pairs: np.ndarray, n_items: int, negatives: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled (user, positive, negatives (P, M)) with negatives the user does not use.

    Sampled negatives that the user does use are redrawn for a few vectorised rounds; the
    rare ones left (users who use most of the catalogue) are drawn from the user's
    complement directly.  A user who uses every item keeps its clashing draws: there is no
    negative to give."""
    order = rng.permutation(len(pairs))
    users, items = pairs[order, 0], pairs[order, 1]
    used = np.unique(pairs[:, 0].astype(np.int64) * n_items + pairs[:, 1])
    neg = rng.integers(0, n_items, size=(len(users), negatives))
    for _round in range(4):
        clash = np.isin(users[:, None].astype(np.int64) * n_items + neg, used)
        if not clash.any():
            return users, items, neg
        neg[clash] = rng.integers(0, n_items, size=int(clash.sum()))
    clash = np.isin(users[:, None].astype(np.int64) * n_items + neg, used)
    for row, col in zip(*np.nonzero(clash), strict=True):
        user = int(users[row])
        own = used[(used >= user * n_items) & (used < (user + 1) * n_items)] - user * n_items
        free = np.setdiff1d(np.arange(n_items), own)
        if free.size:
            neg[row, col] = free[rng.integers(free.size)]
    return users, items, neg


def training_pairs(profiles: Mapping[int, Sequence[int]]) -> tuple[dict[int, int], np.ndarray]:
    """``page_id → user row`` for the articles that use an image, and the sorted, unique
    ``(user row, item row)`` pairs; an :class:`InputError` when there is no pair at all."""
    user_row = {p: k for k, p in enumerate(sorted(p for p, rows in profiles.items() if rows))}
    pairs = np.array(
        sorted({(user_row[p], int(r)) for p, rows in profiles.items() if p in user_row for r in rows}), dtype=np.int64
    ).reshape(-1, 2)
    if not len(pairs):
        raise InputError("no training pair: no article uses an image", source="article_images")
    return user_row, pairs


class BPRTraining(Protocol):
    """The training knobs every BPR-trained recommender's (frozen) config has."""

    @property
    def epochs(self) -> int: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def negatives_per_positive(self) -> int: ...


#: ``(users (B,) on the device, items (B, 1 + M) positive first, the batch's rows of the epoch's
#: triples, the epoch's state) → (BPR loss, objective to minimise)``
BatchLoss = Callable[[torch.Tensor, np.ndarray, slice, Any], tuple[torch.Tensor, torch.Tensor]]


def run_bpr_epochs(
    module: nn.Module,
    optimiser: torch.optim.Optimizer,
    pairs: np.ndarray,
    n_items: int,
    config: BPRTraining,
    rng: np.random.Generator,
    dev: torch.device,
    batch_loss: BatchLoss,
    *,
    epoch_state: Callable[[np.ndarray, np.ndarray], Any] | None = None,
) -> dict[str, Any]:
    """The loop VBPR, DVBPR and ACF share: each epoch draws shuffled (user, positive,
    negatives) triples, each batch takes one optimiser step on ``batch_loss``'s objective.
    ``epoch_state`` builds per-epoch inputs from the epoch's users and positives (ACF's
    profiles).  Returns the training metadata (mean loss per epoch, triples, time, device)."""
    losses: list[float] = []
    seen = 0
    started = time.perf_counter()
    for _epoch in range(config.epochs):
        users, positives, negatives = sample_triples(pairs, n_items, config.negatives_per_positive, rng)
        state = epoch_state(users, positives) if epoch_state is not None else None
        module.train()
        total = 0.0
        for start in range(0, len(users), config.batch_size):
            rows = slice(start, start + config.batch_size)
            u = torch.from_numpy(users[rows]).to(dev)
            items = np.concatenate((positives[rows, None], negatives[rows]), axis=1)
            loss, objective = batch_loss(u, items, rows, state)
            optimiser.zero_grad(set_to_none=True)
            objective.backward()
            optimiser.step()
            total += float(loss.detach()) * len(u)
        losses.append(total / len(users))
        seen += int(negatives.size)
    return {"epoch_losses": losses, "triples_seen": seen,
            "train_seconds": round(time.perf_counter() - started, 3), "device": str(dev)}


def train_vbpr(
    features: np.ndarray,
    profiles: Mapping[int, Sequence[int]],
    config: VBPRConfig | None = None,
    *,
    device: str = "auto",
) -> VBPRModel:
    """Train on ``profiles`` (page_id → rows of ``features`` the article uses)."""
    config = config or VBPRConfig()
    if features.ndim != 2 or len(features) < 2:
        raise InputError(f"need an (N ≥ 2, d) feature matrix, got {features.shape}", source="embeddings")
    user_row, pairs = training_pairs(profiles)
    dev = resolve_device(device)
    with seeded_training(dev, config.seed):
        net, meta = _train(features, pairs, len(user_row), config, dev)
    return VBPRModel(net=net, user_row=user_row, config=config, meta=meta).precompute(features)


def _train(
    features: np.ndarray, pairs: np.ndarray, n_users: int, config: VBPRConfig, dev: torch.device
) -> tuple[VBPR, dict[str, Any]]:
    rng = np.random.default_rng(config.seed)
    n_items = len(features)
    net = VBPR(n_users, n_items, features.shape[1], config.latent, config.visual).to(dev)
    x = torch.from_numpy(l2_normalise(features)).to(dev)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)

    def batch_loss(u: torch.Tensor, items_np: np.ndarray, _rows: slice, _state: Any) -> tuple[torch.Tensor, torch.Tensor]:
        items = torch.from_numpy(items_np).to(dev)
        x_u = net.scores(u, items, x)
        loss = -F.logsigmoid(x_u[:, :1] - x_u[:, 1:]).mean()
        touched = (net.user_gamma(u).square().sum() + net.user_theta(u).square().sum()
                   + net.item_gamma(items).square().sum() + net.item_beta(items).square().sum())
        visual = net.projection.weight.square().sum() + net.visual_bias.weight.square().sum()
        return loss, loss + (config.reg * touched) / len(u) + config.reg_visual * visual

    meta = {
        **run_bpr_epochs(net, optimiser, pairs, n_items, config, rng, dev, batch_loss),
        "n_items": n_items,
        "n_users": n_users,
    }
    return net, meta

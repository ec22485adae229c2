"""The models an evaluation compares, behind one small interface.

Each scorer is fitted on the training half of a :class:`~wikivis.evaluation.split.Split`
and then gives a score to **every** catalogue item for one article's profile (the
evaluation ranks all items, minus the profile, as the tutorial does with
``PREDICT_ALL=False``).

* ``random`` — uniform scores from a seeded generator (the floor: AUC ≈ 0.5);
* ``popularity`` — number of training articles that use the image;
* ``visrank`` — VisRank (the serving default aggregation) over the profile, exact;
* ``vbpr`` — VBPR trained on the training profiles (an article's held-out image is
  scored with that article's learned factors, as in the tutorial's evaluation);
* ``curatornet`` — CuratorNet trained on the training profiles only;
* ``dvbpr`` — DVBPR, a small CNN trained end to end on the images' pixels (needs thumbnails:
  without them it is skipped with the reason, see :class:`ModelUnavailable`);
* ``acf`` — attentive collaborative filtering over the image embeddings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from wikivis.evaluation.split import Split
from wikivis.recommend.acf import ACFConfig, train_acf
from wikivis.recommend.curatornet import CuratorNetConfig, train_curatornet
from wikivis.recommend.data import RecData
from wikivis.recommend.dvbpr import DVBPRConfig, train_dvbpr
from wikivis.recommend.vbpr import VBPRConfig, train_vbpr
from wikivis.recommend.visrank import DEFAULT_AGGREGATION, DEFAULT_TOP, Aggregation, visrank_scores

#: sha1s → ((N, 3, H, W) uint8 thumbnails, (N,) bool found)
PixelSource = Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]]


class ModelUnavailable(Exception):
    """A model cannot run on this data (e.g. DVBPR without images); the report says why."""


class Scorer(Protocol):
    name: str

    def fit(self, data: RecData, split: Split) -> None: ...

    def score(self, page_id: int, profile: list[int]) -> np.ndarray: ...


class RandomScorer:
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self._n = 0

    def fit(self, data: RecData, split: Split) -> None:
        self._n = len(data.item_ids)

    def score(self, page_id: int, profile: list[int]) -> np.ndarray:
        return self._rng.random(self._n)


class PopularityScorer:
    name = "popularity"

    def __init__(self) -> None:
        self._counts = np.zeros(0)

    def fit(self, data: RecData, split: Split) -> None:
        counts = np.zeros(len(data.item_ids), dtype=np.float64)
        for rows in split.train.values():
            counts[np.unique(np.asarray(rows, dtype=np.int64))] += 1
        self._counts = counts

    def score(self, page_id: int, profile: list[int]) -> np.ndarray:
        return self._counts


class VisRankScorer:
    name = "visrank"

    def __init__(self, method: Aggregation = DEFAULT_AGGREGATION, top: int = DEFAULT_TOP) -> None:
        self.method: Aggregation = method
        self.top = top
        self._unit = np.zeros((0, 0), dtype=np.float32)

    def fit(self, data: RecData, split: Split) -> None:
        self._unit = data.unit_vectors

    def score(self, page_id: int, profile: list[int]) -> np.ndarray:
        return visrank_scores(self._unit, self._unit[profile], self.method, self.top)


class TrainedScorer:
    """A scorer with a model trained in :meth:`fit`; its training metadata goes in the report."""

    model: Any = None

    def __init__(self, device: str = "auto") -> None:
        self.device = device

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.model.meta) if self.model else {}


class CuratorNetScorer(TrainedScorer):
    name = "curatornet"

    def __init__(self, config: CuratorNetConfig | None = None, device: str = "auto") -> None:
        super().__init__(device)
        self.config = config or CuratorNetConfig()
        self._codes = np.zeros((0, 0), dtype=np.float32)
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def fit(self, data: RecData, split: Split) -> None:
        self.model = train_curatornet(data.vectors, list(split.train.values()), self.config, device=self.device)
        self._vectors = data.vectors
        self._codes = self.model.encode_items(data.vectors)

    def score(self, page_id: int, profile: list[int]) -> np.ndarray:
        assert self.model is not None, "fit() first"
        return self._codes @ self.model.encode_profile(self._vectors[profile])  # type: ignore[no-any-return]


class VBPRScorer(TrainedScorer):
    name = "vbpr"

    def __init__(self, config: VBPRConfig | None = None, device: str = "auto") -> None:
        super().__init__(device)
        self.config = config or VBPRConfig()

    def fit(self, data: RecData, split: Split) -> None:
        self.model = train_vbpr(data.vectors, split.train, self.config, device=self.device)

    def score(self, page_id: int, profile: list[int]) -> np.ndarray:
        assert self.model is not None, "fit() first"
        return self.model.score_all(page_id)  # type: ignore[no-any-return]


class DVBPRScorer(TrainedScorer):
    name = "dvbpr"

    #: below this share of catalogue images with pixels, DVBPR is skipped rather than
    #: trained on mostly blank thumbnails
    MIN_PRESENT = 0.5

    def __init__(self, config: DVBPRConfig | None = None, device: str = "auto", pixels: PixelSource | None = None) -> None:
        super().__init__(device)
        self.config = config or DVBPRConfig()
        self.pixels = pixels

    def fit(self, data: RecData, split: Split) -> None:
        if self.pixels is None:
            raise ModelUnavailable("no image source (DVBPR trains on pixels)")
        thumbs, present = self.pixels(list(data.item_ids))
        if present.mean() < self.MIN_PRESENT:
            raise ModelUnavailable(f"only {int(present.sum())} of {len(present)} images have pixels in the media store")
        self.model = train_dvbpr(thumbs, split.train, self.config, device=self.device)
        self.model.meta["images_missing"] = int((~present).sum())

    def score(self, page_id: int, profile: list[int]) -> np.ndarray:
        assert self.model is not None, "fit() first"
        return self.model.score_all(page_id)  # type: ignore[no-any-return]


class ACFScorer(TrainedScorer):
    name = "acf"

    def __init__(self, config: ACFConfig | None = None, device: str = "auto") -> None:
        super().__init__(device)
        self.config = config or ACFConfig()

    def fit(self, data: RecData, split: Split) -> None:
        self.model = train_acf(data.vectors, split.train, self.config, device=self.device)

    def score(self, page_id: int, profile: list[int]) -> np.ndarray:
        assert self.model is not None, "fit() first"
        return self.model.score_all(page_id, profile)  # type: ignore[no-any-return]


MODEL_NAMES: tuple[str, ...] = ("random", "popularity", "visrank", "vbpr", "dvbpr", "curatornet", "acf")


def make_scorer(
    name: str,
    *,
    seed: int = 0,
    config: CuratorNetConfig | None = None,
    device: str = "auto",
    pixels: PixelSource | None = None,
) -> Scorer:
    factories: dict[str, Callable[[], Scorer]] = {
        "random": lambda: RandomScorer(seed),
        "popularity": PopularityScorer,
        "visrank": VisRankScorer,
        "vbpr": lambda: VBPRScorer(VBPRConfig(seed=seed), device),
        "dvbpr": lambda: DVBPRScorer(DVBPRConfig(seed=seed), device, pixels),
        "curatornet": lambda: CuratorNetScorer(config, device),
        "acf": lambda: ACFScorer(ACFConfig(seed=seed), device),
    }
    try:
        return factories[name]()
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}") from None

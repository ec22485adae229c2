"""Caption matching, the Wikipedia Image/Caption Matching competition's task, offline.

Given an image, rank candidate ``caption_title_and_reference_description`` strings (the
article title and the caption under the image, joined by ``" [SEP] "`` as in the
competition's files) and score where the true one lands: recall@k and MRR, macro-averaged
over held-out images (:mod:`wikivis.evaluation.metrics`, ties in seeded random order).

Everything works on one generic table, :class:`CaptionTable` — (image id, image embedding,
caption text) rows — so the same code runs on the lake's ``article_image_captions`` (with
``pages`` titles) and ``file_captions`` (:func:`captions_from_lake`), on WIT rows
(:func:`captions_from_wit`), or on synthetic data (:func:`synthetic_captions`).

Split: images (not rows) are held out, a seeded ``test_share`` of them, so no caption of a
test image is seen in training.  Candidates for a test image: every caption of every test
image (the competition ranks a pool of candidates); relevant: that image's own captions.

Models:

* ``random`` — seeded uniform scores (the floor: MRR ≈ H(n)/n);
* ``frequent_words`` — the mean log training frequency of a caption's words: image-blind,
  it measures how much "captions that look typical" alone buys;
* ``contrastive`` — a two-tower model trained with torch: text → hashed character
  n-grams (3–5, inside word boundaries) and words, averaged by an ``EmbeddingBag`` and
  projected; image embedding (L2-normalised) → a linear projection; both into one
  ``dim``-space, unit-normalised, trained with the symmetric in-batch InfoNCE loss (CLIP's)
  and a learned temperature.  Hashing needs no vocabulary and no text encoder download, and
  character n-grams carry across inflections and scripts (RTL included).
"""

from __future__ import annotations

import math
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from wikivis.errors import InputError, NotFoundError
from wikivis.evaluation.metrics import mean_metrics, ranks_from_scores, recall_at_k, reciprocal_rank

if TYPE_CHECKING:
    from wikivis.config import Settings

SEP = " [SEP] "
CAPTION_MODELS: tuple[str, ...] = ("random", "frequent_words", "contrastive")
DEFAULT_KS: tuple[int, ...] = (1, 5, 10)


@dataclass(frozen=True)
class CaptionTable:
    """(image id, caption) rows plus one embedding per distinct image."""

    image_ids: list[str]  # per row
    captions: list[str]  # per row
    vectors: Mapping[str, np.ndarray]  # image id → embedding

    def __post_init__(self) -> None:
        if len(self.image_ids) != len(self.captions):
            raise ValueError("image_ids and captions differ in length")

    def __len__(self) -> int:
        return len(self.captions)


def title_and_reference(title: str | None, reference: str | None) -> str:
    """``caption_title_and_reference_description`` as the competition writes it."""
    t = (title or "").replace("_", " ").strip()
    r = (reference or "").strip()
    return f"{t}{SEP}{r}" if t and r else t or r


# --------------------------------------------------------------------------- text features


def _tokens(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if w]


def text_features(text: str, buckets: int, ngrams: tuple[int, int] = (3, 5)) -> list[int]:
    """Hashed ids of the text's words and character n-grams (``<word>`` padded)."""
    ids: list[int] = []
    for word in _tokens(text):
        ids.append(zlib.crc32(b"w:" + word.encode()) % buckets)
        padded = f"<{word}>"
        for n in range(ngrams[0], ngrams[1] + 1):
            for i in range(max(0, len(padded) - n + 1)):
                ids.append(zlib.crc32(padded[i : i + n].encode()) % buckets)
    return ids or [0]


# --------------------------------------------------------------------------- models


class CaptionScorer(Protocol):
    name: str

    def fit(self, table: CaptionTable, rows: Sequence[int]) -> None: ...

    def score(self, image_vector: np.ndarray, captions: Sequence[str]) -> np.ndarray: ...


class RandomCaptions:
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)

    def fit(self, table: CaptionTable, rows: Sequence[int]) -> None:
        pass

    def score(self, image_vector: np.ndarray, captions: Sequence[str]) -> np.ndarray:
        return self._rng.random(len(captions))


class FrequentWords:
    name = "frequent_words"

    def __init__(self) -> None:
        self._logf: dict[str, float] = {}
        self._cache: dict[str, float] = {}

    def fit(self, table: CaptionTable, rows: Sequence[int]) -> None:
        counts = Counter(w for r in rows for w in _tokens(table.captions[r]))
        self._logf = {w: math.log1p(c) for w, c in counts.items()}
        self._cache = {}

    def score(self, image_vector: np.ndarray, captions: Sequence[str]) -> np.ndarray:
        out = np.empty(len(captions))
        for i, c in enumerate(captions):
            if c not in self._cache:
                words = _tokens(c)
                self._cache[c] = sum(self._logf.get(w, 0.0) for w in words) / max(1, len(words))
            out[i] = self._cache[c]
        return out


@dataclass(frozen=True)
class ContrastiveConfig:
    dim: int = 48
    buckets: int = 1 << 13
    epochs: int = 20
    batch_size: int = 128
    lr: float = 5e-3
    weight_decay: float = 1e-5
    seed: int = 0


class ContrastiveCaptions:
    """Two towers + in-batch InfoNCE (see module doc)."""

    name = "contrastive"

    def __init__(self, config: ContrastiveConfig | None = None, device: str = "auto") -> None:
        self.config = config or ContrastiveConfig()
        self.device = device
        self.meta: dict[str, Any] = {}
        self._net: Any = None
        self._text_cache: dict[str, np.ndarray] = {}

    def fit(self, table: CaptionTable, rows: Sequence[int]) -> None:
        import torch
        import torch.nn.functional as F
        from torch import nn

        from wikivis.recommend.curatornet import resolve_device

        cfg = self.config
        if not rows:
            raise InputError("no training caption", source="captions")
        dev = resolve_device(self.device)
        img = np.stack([_unit(table.vectors[table.image_ids[r]]) for r in rows]).astype(np.float32)
        feats = [text_features(table.captions[r], cfg.buckets) for r in rows]
        # an image with several captions: in-batch "negatives" that are its own captions would
        # be false negatives, so labels follow image identity
        image_key = np.array([hash(table.image_ids[r]) for r in rows])

        class Towers(nn.Module):
            def __init__(self, in_dim: int) -> None:
                super().__init__()
                self.text = nn.EmbeddingBag(cfg.buckets, cfg.dim, mode="mean")
                self.text_out = nn.Linear(cfg.dim, cfg.dim)
                self.image = nn.Sequential(nn.Linear(in_dim, cfg.dim * 2), nn.ReLU(), nn.Linear(cfg.dim * 2, cfg.dim))
                self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
                nn.init.normal_(self.text.weight, std=0.1)

            def encode_text(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
                return F.normalize(self.text_out(self.text(ids, offsets)), dim=-1)

            def encode_image(self, x: torch.Tensor) -> torch.Tensor:
                return F.normalize(self.image(x), dim=-1)

        rng = np.random.default_rng(cfg.seed)
        losses: list[float] = []
        started = time.perf_counter()
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(cfg.seed)
            net = Towers(img.shape[1]).to(dev)
            opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
            x_all = torch.from_numpy(img).to(dev)
            for _epoch in range(cfg.epochs):
                order = rng.permutation(len(rows))
                total, batches = 0.0, 0
                for start in range(0, len(order), cfg.batch_size):
                    idx = order[start : start + cfg.batch_size]
                    if len(idx) < 2:
                        continue
                    ids, offsets = _bag([feats[i] for i in idx], dev)
                    t = net.encode_text(ids, offsets)
                    v = net.encode_image(x_all[torch.from_numpy(idx).to(dev)])
                    logits = net.logit_scale.exp().clamp(max=100) * v @ t.T
                    keys = torch.from_numpy(image_key[idx]).to(dev)
                    same = keys[:, None] == keys[None, :]
                    target = same.float() / same.float().sum(1, keepdim=True)
                    loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target.T))
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach())
                    batches += 1
                losses.append(total / max(1, batches))
        self._net = net.eval()
        self._dev = dev
        self._text_cache = {}
        self.meta = {"epoch_losses": losses, "device": str(dev), "pairs": len(rows),
                     "train_seconds": round(time.perf_counter() - started, 3)}

    def _encode_texts(self, captions: Sequence[str]) -> np.ndarray:
        import torch

        missing = [c for c in dict.fromkeys(captions) if c not in self._text_cache]
        if missing:
            with torch.no_grad():
                ids, offsets = _bag([text_features(c, self.config.buckets) for c in missing], self._dev)
                encoded = self._net.encode_text(ids, offsets).float().cpu().numpy()
            self._text_cache.update(zip(missing, encoded, strict=True))
        return np.stack([self._text_cache[c] for c in captions])

    def score(self, image_vector: np.ndarray, captions: Sequence[str]) -> np.ndarray:
        import torch

        assert self._net is not None, "fit() first"
        with torch.no_grad():
            x = torch.from_numpy(_unit(image_vector)[None, :].astype(np.float32)).to(self._dev)
            v = self._net.encode_image(x).float().cpu().numpy()[0]
        return self._encode_texts(captions) @ v  # type: ignore[no-any-return]


def _bag(features: list[list[int]], dev: Any) -> tuple[Any, Any]:
    import torch

    offsets = np.cumsum([0] + [len(f) for f in features[:-1]])
    ids = torch.from_numpy(np.concatenate([np.asarray(f, np.int64) for f in features])).to(dev)
    return ids, torch.from_numpy(offsets.astype(np.int64)).to(dev)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def make_caption_scorer(name: str, *, seed: int = 0, device: str = "auto",
                        config: ContrastiveConfig | None = None) -> CaptionScorer:
    if name == "random":
        return RandomCaptions(seed)
    if name == "frequent_words":
        return FrequentWords()
    if name == "contrastive":
        return ContrastiveCaptions(config or ContrastiveConfig(seed=seed), device)
    raise ValueError(f"unknown caption model {name!r}; known: {', '.join(CAPTION_MODELS)}")


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class CaptionEval:
    metrics: dict[str, dict[str, float]]
    n_test_images: int
    n_candidates: int
    n_train_rows: int
    seed: int
    training: dict[str, Any] = field(default_factory=dict)


def split_images(table: CaptionTable, test_share: float = 0.2, seed: int = 0) -> tuple[list[int], list[int]]:
    """(train rows, test rows): a seeded share of the *images* is held out with all their captions."""
    images = sorted(set(table.image_ids))
    if len(images) < 4:
        raise InputError(f"need at least 4 captioned images with embeddings, found {len(images)}", source="captions")
    rng = np.random.default_rng(seed)
    n_test = max(2, round(len(images) * test_share))
    test = set(rng.choice(len(images), size=n_test, replace=False).tolist())
    held = {images[i] for i in test}
    train_rows = [r for r, i in enumerate(table.image_ids) if i not in held]
    test_rows = [r for r, i in enumerate(table.image_ids) if i in held]
    return train_rows, test_rows


def evaluate_captions(
    table: CaptionTable,
    *,
    models: Sequence[str] = CAPTION_MODELS,
    ks: Sequence[int] = DEFAULT_KS,
    test_share: float = 0.2,
    seed: int = 0,
    device: str = "auto",
    config: ContrastiveConfig | None = None,
) -> CaptionEval:
    train_rows, test_rows = split_images(table, test_share, seed)
    candidates = list(dict.fromkeys(table.captions[r] for r in test_rows))
    position = {c: i for i, c in enumerate(candidates)}
    truth: dict[str, set[int]] = {}
    for r in test_rows:
        truth.setdefault(table.image_ids[r], set()).add(position[table.captions[r]])
    metrics: dict[str, dict[str, float]] = {}
    training: dict[str, Any] = {}
    for name in models:
        scorer = make_caption_scorer(name, seed=seed, device=device, config=config)
        scorer.fit(table, train_rows)
        rng = np.random.default_rng(seed)
        per_image = []
        for image_id in sorted(truth):
            scores = np.asarray(scorer.score(table.vectors[image_id], candidates), dtype=np.float64)
            relevant = np.zeros(len(candidates), dtype=bool)
            relevant[list(truth[image_id])] = True
            ranks = ranks_from_scores(scores, relevant, ties="random", rng=rng)
            row = {f"recall_at_{k}": recall_at_k(ranks, k) for k in ks}
            row["mrr"] = reciprocal_rank(ranks)
            per_image.append(row)
        metrics[name] = {m: float(v) for m, v in mean_metrics(per_image)[0].items()}
        if isinstance(scorer, ContrastiveCaptions):
            training[name] = scorer.meta
    return CaptionEval(metrics, len(truth), len(candidates), len(train_rows), seed, training)


def render_captions_markdown(result: CaptionEval, title: str = "") -> str:
    names = list(next(iter(result.metrics.values())).keys()) if result.metrics else []
    lines = [
        f"# Caption matching{f' — {title}' if title else ''}",
        "",
        f"- held-out images: {result.n_test_images}, each ranking {result.n_candidates} candidate "
        f"captions (title{SEP.strip()} reference description); {result.n_train_rows} training pairs; seed {result.seed}",
        "",
        "| model | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for model, values in result.metrics.items():
        lines.append(f"| {model} | " + " | ".join(f"{values[n]:.4f}" for n in names) + " |")
    for model, meta in result.training.items():
        losses = meta.get("epoch_losses", [])
        if losses:
            lines += ["", f"{model}: {meta['pairs']} pairs, {len(losses)} epochs on {meta['device']}, "
                      f"InfoNCE {losses[0]:.3f} → {losses[-1]:.3f}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- sources of pairs


def captions_from_lake(settings: Settings, *, wiki: str | None = None, model_id: str | None = None) -> CaptionTable:
    """Caption pairs of ``wiki``: ``article_image_captions`` (+ ``pages`` titles) and ``file_captions``.

    Images are keyed by sha1 (``files``/``file_metadata``) and need a stored embedding of
    ``model_id``; rows without one are left out.
    """
    from wikivis.embed.store import load_embeddings
    from wikivis.lake import Lake
    from wikivis.research.files import sha1_by_name

    wiki = wiki or settings.wikis[0]
    lake = Lake.from_settings(settings)
    ids, vectors = load_embeddings(settings, model_id)
    vec = dict(zip(ids, vectors, strict=True))
    pairs: list[tuple[str, str]] = []
    if lake.current("article_image_captions", wiki) is not None:
        titles: dict[int, str] = {}
        if lake.current("pages", wiki) is not None:
            pages = lake.read("pages", wiki, columns=["page_id", "page_title"])
            titles = dict(zip(pages.column("page_id").to_pylist(), pages.column("page_title").to_pylist(), strict=True))
        for r in lake.read("article_image_captions", wiki, columns=["page_id", "file_name", "caption"]).to_pylist():
            if r["caption"]:
                pairs.append((r["file_name"], title_and_reference(titles.get(r["page_id"]), r["caption"])))
    for owner in (settings.commons_wiki, wiki):
        if lake.current("file_captions", owner) is not None:
            for r in lake.read("file_captions", owner, columns=["file_name", "text"]).to_pylist():
                if r["text"]:
                    pairs.append((r["file_name"], r["text"]))
    if not pairs:
        raise NotFoundError(f"no published article_image_captions or file_captions for {wiki}")
    # only the captioned files' sha1s: Commons' whole name → sha1 map would not fit
    sha1_map = sha1_by_name(lake, (settings.commons_wiki, wiki), only={name for name, _ in pairs})
    return _table(pairs, sha1_map, vec)


def captions_from_wit(rows: Iterable[Mapping[str, Any]], sha1_map: Mapping[str, str],
                      vectors: Mapping[str, np.ndarray]) -> CaptionTable:
    """Caption pairs of WIT rows (:func:`wikivis.research.files.read_wit`)."""
    pairs = [
        (r["file_name"], title_and_reference(r.get("page_title"), r.get("caption_reference_description")))
        for r in rows
        if r.get("file_name") and (r.get("caption_reference_description") or "").strip()
    ]
    return _table(pairs, sha1_map, vectors)


def _table(pairs: Iterable[tuple[str, str]], sha1_map: Mapping[str, str], vectors: Mapping[str, np.ndarray]) -> CaptionTable:
    image_ids: list[str] = []
    captions: list[str] = []
    used: dict[str, np.ndarray] = {}
    for name, text in dict.fromkeys(pairs):
        sha1 = sha1_map.get(name)
        if sha1 is None or sha1 not in vectors:
            continue
        image_ids.append(sha1)
        captions.append(text)
        used[sha1] = vectors[sha1]
    return CaptionTable(image_ids, captions, used)


# --------------------------------------------------------------------------- synthetic


#: topic vocabularies in three languages (Latin, Cyrillic and Arabic script): the words a
#: caption uses depend on what the image shows, the language does not
_TOPIC_WORDS = {
    "en": ["river", "bridge", "castle", "forest", "mountain", "harbour", "church", "meadow", "station", "glacier",
           "market", "lighthouse"],
    "ru": ["река", "мост", "замок", "лес", "гора", "гавань", "церковь", "луг", "вокзал", "ледник", "рынок", "маяк"],
    "ar": ["نهر", "جسر", "قلعة", "غابة", "جبل", "ميناء", "كنيسة", "مرج", "محطة", "نهر_جليدي", "سوق", "منارة"],
}
_FILLER = {"en": ["the", "view", "of", "old", "in", "summer"], "ru": ["вид", "на", "старый", "летом"],
           "ar": ["منظر", "في", "قديم", "الصيف"]}


def synthetic_captions(
    *, seed: int = 0, n_images: int = 300, dim: int = 64, n_topics: int = 12, noise: float = 0.8,
    captions_per_image: int = 2,
) -> CaptionTable:
    """Images whose embedding encodes a topic, captioned in en/ru/ar with that topic's words."""
    n_topics = min(n_topics, len(_TOPIC_WORDS["en"]))
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_topics, dim))
    langs = sorted(_TOPIC_WORDS)
    image_ids: list[str] = []
    captions: list[str] = []
    vectors: dict[str, np.ndarray] = {}
    for i in range(n_images):
        topic = int(rng.integers(n_topics))
        sha1 = f"{i:040x}"
        vectors[sha1] = (centres[topic] + noise * rng.normal(size=dim)).astype(np.float32)
        place = f"Place{int(rng.integers(10_000)):04d}"
        for _ in range(captions_per_image):
            lang = langs[int(rng.integers(len(langs)))]
            words = [_TOPIC_WORDS[lang][topic], *rng.choice(_FILLER[lang], size=2).tolist()]
            rng.shuffle(words)
            captions.append(title_and_reference(f"{place} {_TOPIC_WORDS[lang][topic]}", " ".join(words)))
            image_ids.append(sha1)
    return CaptionTable(image_ids, captions, vectors)

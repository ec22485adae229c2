"""Image suggestions from Wikimedia's own signals, plus visual ranking, with provenance.

Candidates for an article (Wikimedia's image-suggestion sources, then wikivis's):

* ``p18`` — the image (P18) of the article's Wikidata item;
* ``p373`` — files in the item's Commons category (P373);
* ``crosswiki:<wiki>`` — the PageImages lead image of the item's article on another wiki;
* ``related`` — images of related articles (shared categories, Adamic–Adar weighted: the
  recommender's existing seed source for unillustrated articles);
* ``visrank`` — visual neighbours of all of the above: every file with a vector, scored by
  VisRank (mean of its top-3 cosine similarities) against the signal files as seeds.

Every candidate goes through Wikimedia's filters before it is scored: a file used on more
than ``max_usage`` articles (Wikimedia: "> 99", capped here by the ImageMatching icon
threshold for small wikis), names on the placeholder/icon blacklist, non-free files.

Three rankers share these candidates (:data:`METHODS`):

* ``rules`` — Wikimedia-style: P18 first, then P373 category files, then cross-wiki leads;
  the confidence of a suggestion is calibrated on its rule level alone;
* ``visrank`` — related articles' images as seeds, VisRank over every file (what
  ``wikivis suggest`` did for unillustrated articles); calibrated on the VisRank score;
* ``combined`` — every candidate, scored from all signal features by a calibrated logistic
  model (:mod:`wikivis.recommend.confidence`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np

from wikivis.gates.filters import blacklist_match, icon_threshold
from wikivis.recommend.confidence import Band, Calibrator, band

if TYPE_CHECKING:
    from wikivis.config import Settings

Method = Literal["rules", "visrank", "combined"]
METHODS: tuple[Method, ...] = ("rules", "visrank", "combined")
FEATURES: dict[Method, tuple[str, ...]] = {
    "rules": ("rule_level",),
    "visrank": ("visrank",),
    "combined": ("p18", "p373", "p373_share", "crosswiki", "related", "visrank", "visrank_rank", "n_sources"),
}
VISRANK_TOP = 3
VISRANK_POOL = 30
RELATED_MAX_CATEGORY = 1000


@dataclass(frozen=True)
class Signals:
    """What one wiki knows, keyed by file name (DB key) and page id."""

    titles: Mapping[int, str]
    page_files: Mapping[int, list[str]]
    categories: Mapping[int, list[str]]
    item_of_page: Mapping[int, str]
    p18: Mapping[str, tuple[str, ...]]
    p373: Mapping[str, str]
    category_files: Mapping[str, tuple[str, ...]]
    crosswiki: Mapping[str, Mapping[str, str]]
    non_free: frozenset[str] = frozenset()
    vectors: Mapping[str, np.ndarray] = field(default_factory=dict)
    max_usage: int = 99

    @cached_property
    def usage(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for files in self.page_files.values():
            for f in set(files):
                counts[f] += 1
        return dict(counts)

    @cached_property
    def category_members(self) -> dict[str, list[int]]:
        members: dict[str, list[int]] = defaultdict(list)
        for page, cats in self.categories.items():
            for c in cats:
                members[c].append(page)
        return dict(members)

    @cached_property
    def threshold(self) -> float:
        return min(float(self.max_usage), icon_threshold(len(self.titles)))

    @cached_property
    def matrix(self) -> tuple[list[str], np.ndarray]:
        names = sorted(self.vectors)
        if not names:
            return [], np.zeros((0, 1), np.float32)
        m = np.stack([np.asarray(self.vectors[n], np.float32) for n in names])
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
        return names, m

    def allowed(self, name: str, *, hidden_page: int | None = None) -> bool:
        """Wikimedia's filters: over-used files, blacklisted names, non-free files."""
        used = self.usage.get(name, 0)
        if hidden_page is not None and name in self.page_files.get(hidden_page, ()):
            used -= 1
        return used <= self.threshold and not blacklist_match(name) and name not in self.non_free


@dataclass
class Candidate:
    file_name: str
    features: dict[str, float] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScoredSuggestion:
    """One suggestion: the file, its calibrated confidence and band, and why."""

    file_name: str
    confidence: float
    band: Band
    rank: int
    sources: tuple[str, ...]
    features: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return {"file_name": self.file_name, "confidence": round(self.confidence, 4), "band": self.band,
                "rank": self.rank, "sources": list(self.sources),
                "features": {k: round(v, 4) for k, v in self.features.items()}}


def related_files(signals: Signals, page_id: int, *, limit_articles: int = 10) -> dict[str, tuple[float, list[str]]]:
    """Images of related articles: file → (summed Adamic–Adar weight, titles it came from)."""
    weight: dict[int, float] = defaultdict(float)
    for cat in signals.categories.get(page_id, ()):
        members = signals.category_members.get(cat, [])
        if len(members) > RELATED_MAX_CATEGORY or len(members) < 2:
            continue
        w = 1.0 / math.log2(1 + len(members))
        for other in members:
            if other != page_id and signals.page_files.get(other):
                weight[other] += w
    ranked = sorted(weight, key=lambda p: (-weight[p], p))[:limit_articles]
    out: dict[str, tuple[float, list[str]]] = {}
    for p in ranked:
        for f in signals.page_files.get(p, ()):
            w, titles = out.get(f, (0.0, []))
            out[f] = (w + weight[p], [*titles, signals.titles.get(p, str(p))])
    return out


def _visrank(signals: Signals, seeds: Iterable[str], exclude: set[str]) -> dict[str, tuple[float, int]]:
    """Top :data:`VISRANK_POOL` files by VisRank (top-3 mean cosine) against ``seeds``."""
    names, m = signals.matrix
    if not names:
        return {}
    row = {n: i for i, n in enumerate(names)}
    seed_rows = [row[s] for s in dict.fromkeys(seeds) if s in row]
    if not seed_rows:
        return {}
    sims = m @ m[seed_rows].T
    t = min(VISRANK_TOP, len(seed_rows))
    scores = np.sort(sims, axis=1)[:, -t:].mean(axis=1)
    order = np.argsort(-scores, kind="stable")
    out: dict[str, tuple[float, int]] = {}
    for i in order:
        name = names[i]
        if name in exclude:
            continue
        out[name] = (float(scores[i]), len(out) + 1)
        if len(out) >= VISRANK_POOL:
            break
    return out


def candidates(signals: Signals, page_id: int, method: Method, *, hidden: bool = False) -> list[Candidate]:
    """Every filtered candidate of ``page_id`` for ``method`` with its features and sources.

    ``hidden=True`` treats the article as unillustrated (evaluation: its images are hidden
    and do not count towards the over-use filter)."""
    own = set() if hidden else set(signals.page_files.get(page_id, ()))
    hidden_page = page_id if hidden else None
    found: dict[str, Candidate] = {}

    def add(name: str, feature: str, value: float, source: str) -> None:
        if name in own or not signals.allowed(name, hidden_page=hidden_page):
            return
        c = found.setdefault(name, Candidate(name))
        c.features[feature] = max(c.features.get(feature, 0.0), value) if feature != "crosswiki" else \
            c.features.get(feature, 0.0) + value
        if source not in c.sources:
            c.sources.append(source)

    item = signals.item_of_page.get(page_id)
    if method in ("rules", "combined") and item:
        for name in signals.p18.get(item, ()):
            add(name, "p18", 1.0, f"p18:{item}")
        category = signals.p373.get(item)
        if category:
            files = signals.category_files.get(category, ())
            for name in files:
                add(name, "p373", 1.0, f"p373:Category:{category}")
                if name in found:
                    found[name].features["p373_share"] = 1.0 / len(files)
        for wiki, name in sorted(signals.crosswiki.get(item, {}).items()):
            add(name, "crosswiki", 1.0, f"crosswiki:{wiki}")
    related: dict[str, tuple[float, list[str]]] = {}
    if method in ("visrank", "combined"):
        related = related_files(signals, page_id)
        top = max((w for w, _ in related.values()), default=1.0) or 1.0
        if method == "combined":
            for name, (w, titles) in related.items():
                add(name, "related", w / top, "related:" + ",".join(titles[:3]))
    if method in ("visrank", "combined"):
        if method == "visrank":
            seeds = sorted(related, key=lambda f: (-related[f][0], f))[:12]
        else:
            strong = [c.file_name for c in found.values() if c.features.get("p18") or c.features.get("crosswiki")]
            rel = sorted((f for f in related if f in found), key=lambda f: (-related[f][0], f))[:6]
            seeds = strong + rel
        for name, (score, rank) in _visrank(signals, seeds, own).items():
            add(name, "visrank", score, "visrank")
            if name in found:
                found[name].features["visrank_rank"] = 1.0 / rank
    for c in found.values():
        c.features["n_sources"] = float(len({s.split(":", 1)[0] for s in c.sources}))
        if method == "rules":
            c.features["rule_level"] = 3.0 if c.features.get("p18") else 2.0 if c.features.get("p373") else 1.0
    return list(found.values())


def feature_matrix(cands: list[Candidate], method: Method) -> np.ndarray:
    names = FEATURES[method]
    return np.array([[c.features.get(n, 0.0) for n in names] for c in cands], dtype=np.float64).reshape(len(cands), len(names))


def rank(signals: Signals, page_id: int, method: Method, calibrator: Calibrator | None, *, k: int = 10,
         hidden: bool = False) -> list[ScoredSuggestion]:
    """Up to ``k`` suggestions, most confident first (ties: the first feature, then name);
    ``rules`` keep the rule order P18 > P373 > cross-wiki whatever the confidence says."""
    cands = candidates(signals, page_id, method, hidden=hidden)
    if not cands:
        return []
    x = feature_matrix(cands, method)
    if calibrator is not None:
        conf = calibrator.confidence(x)
    else:  # uncalibrated: the raw primary feature, squashed
        conf = np.clip(x[:, 0] / max(1.0, float(x[:, 0].max())), 0, 1)
    tie = x[:, 0]
    if method == "rules":  # the rule order is the ranking; the confidence only describes it
        order = sorted(range(len(cands)), key=lambda i: (-tie[i], -conf[i], cands[i].file_name))[:k]
    else:
        order = sorted(range(len(cands)), key=lambda i: (-conf[i], -tie[i], cands[i].file_name))[:k]
    return [
        ScoredSuggestion(cands[i].file_name, float(conf[i]), band(float(conf[i])), r, tuple(cands[i].sources),
                         dict(cands[i].features))
        for r, i in enumerate(order, start=1)
    ]


def signals_from_lake(
    lake: object,
    wiki: str,
    snapshot: str,
    *,
    category_files: Mapping[str, tuple[str, ...]],
    vectors: Mapping[str, np.ndarray] | None = None,
    non_free: Iterable[str] = (),
    max_usage: int = 99,
) -> Signals:
    """:class:`Signals` from one snapshot's lake datasets (``pages``, ``article_images``,
    ``article_categories``, ``article_items``, ``item_images``, ``crosswiki_leads``) plus
    the Commons category members of the items' P373 categories and the file vectors."""
    read = lake.read  # type: ignore[attr-defined]
    pages = read("pages", wiki, snapshot, columns=["page_id", "page_title", "is_redirect"]).to_pylist()
    titles = {r["page_id"]: r["page_title"] for r in pages if not r["is_redirect"]}
    page_files: dict[int, list[str]] = defaultdict(list)
    for r in read("article_images", wiki, snapshot, columns=["page_id", "file_name", "is_lead"]).to_pylist():
        if r["page_id"] in titles:
            page_files[r["page_id"]].append(r["file_name"])
    categories: dict[int, list[str]] = defaultdict(list)
    for r in read("article_categories", wiki, snapshot, columns=["page_id", "category"]).to_pylist():
        categories[r["page_id"]].append(r["category"])
    items = {r["page_id"]: r["item"] for r in read("article_items", wiki, snapshot).to_pylist()}
    p18: dict[str, tuple[str, ...]] = defaultdict(tuple)
    p373: dict[str, str] = {}
    for r in read("item_images", wiki, snapshot).to_pylist():
        if r["property"] == "P18" and r["file_name"]:
            p18[r["item"]] = (*p18[r["item"]], r["file_name"])
        if r["commons_category"]:
            p373[r["item"]] = r["commons_category"].replace(" ", "_")
    crosswiki: dict[str, dict[str, str]] = defaultdict(dict)
    for r in read("crosswiki_leads", wiki, snapshot).to_pylist():
        crosswiki[r["item"]][r["wiki"]] = r["file_name"]
    return Signals(titles, dict(page_files), dict(categories), items, dict(p18), p373, dict(category_files),
                   dict(crosswiki), frozenset(non_free), dict(vectors or {}), max_usage)


def load_signals(settings: Settings, wiki: str, snapshot: str | None = None) -> tuple[Signals, str, list[str]]:
    """:class:`Signals` of ``wiki`` from the lake (the newest snapshot with ``item_images``
    unless given), the Commons API (P373 category members) and the stored embeddings.

    Returns the signals, the snapshot and notes about what was missing (no embeddings: no
    VisRank candidates)."""
    from wikivis.errors import NotFoundError
    from wikivis.lake import Lake
    from wikivis.sources.commons import ActionApiClient, file_name

    lake = Lake.from_settings(settings)
    snapshot = snapshot or lake.latest("item_images", wiki)
    if snapshot is None:
        raise NotFoundError(f"no item_images for {wiki} in {lake.root}: run `wikivis wikidata ingest --wiki {wiki}` first")
    notes: list[str] = []
    categories = {r["commons_category"] for r in lake.read("item_images", wiki, snapshot, columns=["commons_category"]).to_pylist()
                  if r["commons_category"]}
    commons = ActionApiClient.from_settings(settings)
    category_files = {c.replace(" ", "_"): tuple(file_name(t) for t in commons.category_members(c)) for c in sorted(categories)}
    vectors: dict[str, np.ndarray] = {}
    try:
        from wikivis.embed.store import load_embeddings

        sha1s, matrix = load_embeddings(settings)
        files_at = next((s for s in reversed(lake.snapshots("files", settings.commons_wiki)) if s <= snapshot), None)
        if files_at:
            row = {s: i for i, s in enumerate(sha1s)}
            for r in lake.read("files", settings.commons_wiki, files_at, columns=["file_name", "sha1"]).to_pylist():
                if r["sha1"] in row:
                    vectors[r["file_name"]] = matrix[row[r["sha1"]]]
    except NotFoundError as exc:
        notes.append(f"no visual candidates: {exc}")
    non_free: set[str] = set()
    meta_at = lake.latest("file_metadata", settings.commons_wiki)
    if meta_at:
        meta = lake.read("file_metadata", settings.commons_wiki, meta_at, columns=["file_name", "non_free"]).to_pylist()
        non_free = {r["file_name"] for r in meta if r["non_free"]}
    signals = signals_from_lake(lake, wiki, snapshot, category_files=category_files, vectors=vectors,
                                non_free=non_free, max_usage=settings.suggest_max_file_usage)
    return signals, snapshot, notes


def truth_of(signals: Signals, page_id: int) -> set[str]:
    """The images ``page_id`` really shows that a suggestion may name (the held-out truth)."""
    return {f for f in signals.page_files.get(page_id, ()) if signals.allowed(f, hidden_page=page_id)}


def labelled(signals: Signals, pages: Iterable[int], method: Method) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, page ids) of every candidate of ``pages`` (images hidden)."""
    xs, ys, gs = [], [], []
    for p in pages:
        cands = candidates(signals, p, method, hidden=True)
        if not cands:
            continue
        truth = truth_of(signals, p)
        xs.append(feature_matrix(cands, method))
        ys.append(np.array([c.file_name in truth for c in cands], dtype=np.float64))
        gs.append(np.full(len(cands), p))
    if not xs:
        return np.zeros((0, len(FEATURES[method]))), np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.vstack(xs), np.concatenate(ys), np.concatenate(gs)


def explain(signals: Signals, title: str, *, k: int = 10, calibration_articles: int = 300,
            seed: int = 0) -> tuple[int, list[ScoredSuggestion]]:
    """Suggestions for one article by the calibrated combination, the calibrator fitted on
    up to ``calibration_articles`` other illustrated articles of the wiki (images hidden)."""
    import random

    from wikivis.errors import NotFoundError

    wanted = title.strip().replace(" ", "_")
    page_id = next((p for p, t in signals.titles.items() if t == wanted or t == wanted[:1].upper() + wanted[1:]), None)
    if page_id is None:
        raise NotFoundError(f"unknown article {title!r}")
    pool = sorted(p for p in signals.page_files if p != page_id and truth_of(signals, p))
    random.Random(seed).shuffle(pool)
    x, y, groups = labelled(signals, pool[:calibration_articles], "combined")
    calibrator = Calibrator.fit(x, y, FEATURES["combined"], groups=groups) if len(y) and 0 < y.sum() < len(y) else None
    return page_id, rank(signals, page_id, "combined", calibrator, k=k)

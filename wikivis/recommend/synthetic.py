"""A small synthetic wiki with topic structure, for tests, benchmarks and demos.

Images of the same topic have similar embeddings (topic centre + noise); articles of a
topic use images of their topic, with a Zipf-like popularity inside the topic, so that a
content-based model should beat popularity while popularity still beats random.  It
also contains what the filters must remove: a flag and a logo used everywhere, an
over-used panorama with an innocent name, a non-free poster, and a re-upload of one image
under a second file name (same sha1).  Some articles are unillustrated but categorised.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from wikivis.config import chosen_model_id
from wikivis.recommend.data import RecData

if TYPE_CHECKING:
    from wikivis.config import Settings

ICON_FILES = ("Flag_of_Samplia.svg", "Commons-logo.svg")
OVERUSED_FILE = "Wide_panorama.jpg"
NON_FREE_FILE = "Topic00_poster_nonfree.jpg"
MAINTENANCE_CATEGORY = "Articles_with_short_description"


def fake_sha1(file_name: str) -> str:
    return hashlib.sha1(file_name.encode()).hexdigest()


@dataclass(frozen=True)
class SyntheticWiki:
    data: RecData
    topic_of_page: dict[int, int]
    topic_of_sha1: dict[str, int]
    unillustrated: tuple[int, ...]


def synthetic_wiki(
    *,
    seed: int = 0,
    n_topics: int = 10,
    n_articles: int = 300,
    n_images: int = 500,
    dim: int = 64,
    noise: float = 1.0,
    unillustrated_share: float = 0.1,
    max_images_per_article: int = 6,
    with_links: bool = True,
) -> SyntheticWiki:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_topics, dim))
    file_sha1: dict[str, str] = {}
    ids: list[str] = []
    vecs: list[np.ndarray] = []
    topic_of_sha1: dict[str, int] = {}
    topic_files: list[list[str]] = [[] for _ in range(n_topics)]
    for i in range(n_images):
        t = i % n_topics
        name = f"Topic{t:02d}_photo_{i:04d}.jpg"
        sha1 = fake_sha1(name)
        file_sha1[name] = sha1
        ids.append(sha1)
        vecs.append(centres[t] + noise * rng.normal(size=dim))
        topic_of_sha1[sha1] = t
        topic_files[t].append(name)
    # a re-upload: second name, same bytes
    file_sha1["Topic01_photo_copy.jpg"] = file_sha1[topic_files[1][0]]
    # non-free poster in topic 0, icons and an over-used panorama anywhere
    extras = [(NON_FREE_FILE, 0), *((f, -1) for f in ICON_FILES), (OVERUSED_FILE, -1)]
    for name, t in extras:
        sha1 = fake_sha1(name)
        file_sha1[name] = sha1
        ids.append(sha1)
        vecs.append((centres[t] if t >= 0 else 0) + noise * rng.normal(size=dim))
        topic_of_sha1[sha1] = t
    topic_files[0].append(NON_FREE_FILE)

    rows: dict[str, list[Any]] = {"page_id": [], "page_title": [], "file_name": [], "is_lead": []}
    categories: dict[int, list[str]] = {}
    pages: dict[int, str] = {}
    topic_of_page: dict[int, int] = {}
    unillustrated: list[int] = []
    links: dict[int, list[int]] = {}
    by_topic: list[list[int]] = [[] for _ in range(n_topics)]
    for a in range(n_articles):
        page_id = 1000 + a
        t = a % n_topics
        title = f"Topic{t:02d}_article_{a:03d}"
        pages[page_id] = title
        topic_of_page[page_id] = t
        by_topic[t].append(page_id)
        categories[page_id] = [f"Topic_{t:02d}", f"Topic_{t:02d}_part_{a % 3}", MAINTENANCE_CATEGORY]
        if rng.random() < unillustrated_share:
            unillustrated.append(page_id)
            continue
        names = topic_files[t]
        weights = 1.0 / (np.arange(len(names)) + 1.0) ** 0.8
        count = int(rng.integers(1, max_images_per_article + 1))
        chosen = rng.choice(len(names), size=min(count, len(names)), replace=False, p=weights / weights.sum())
        used = [names[c] for c in chosen]
        if rng.random() < 0.5:
            used.append(ICON_FILES[int(rng.integers(len(ICON_FILES)))])
        if rng.random() < 0.3:
            used.append(OVERUSED_FILE)
        for j, name in enumerate(used):
            rows["page_id"].append(page_id)
            rows["page_title"].append(title)
            rows["file_name"].append(name)
            rows["is_lead"].append(j == 0)
    if with_links:
        for members in by_topic:
            for page_id in members:
                others = [m for m in members if m != page_id]
                links[page_id] = [int(x) for x in rng.choice(others, size=min(2, len(others)), replace=False)]
    data = RecData(
        interactions=pa.table(
            {
                "page_id": pa.array(rows["page_id"], pa.int64()),
                "page_title": pa.array(rows["page_title"], pa.string()),
                "file_name": pa.array(rows["file_name"], pa.string()),
                "is_lead": pa.array(rows["is_lead"], pa.bool_()),
            }
        ),
        file_sha1=file_sha1,
        item_ids=ids,
        vectors=np.asarray(vecs, dtype=np.float32),
        categories=categories,
        pages=pages,
        non_free=frozenset({NON_FREE_FILE}),
        links=links if with_links else None,
    )
    return SyntheticWiki(data, topic_of_page, topic_of_sha1, tuple(unillustrated))


def lake_table(dataset: str, columns: dict[str, list[Any]]) -> pa.Table:
    """``columns`` as a table of the lake ``dataset`` schema; absent columns are null."""
    from wikivis.datasets import schema

    s = schema(dataset)
    n = len(next(iter(columns.values())))
    return pa.table({f.name: pa.array(columns.get(f.name, [None] * n), f.type) for f in s}, schema=s)


def publish_synthetic(
    settings: Settings, *, wiki: str | None = None, snapshot: str = "20260101", **options: Any
) -> SyntheticWiki:
    """Write a :func:`synthetic_wiki` through the real lake and embedding store.

    Publishes ``pages``, ``article_images``, ``article_categories`` (under ``wiki``),
    ``files`` and ``file_metadata`` (under the Commons wiki) and stores the vectors as
    embeddings of ``settings.model`` — the inputs :func:`wikivis.recommend.loading.load_service`
    reads.  For tests, benchmarks and demos without the mirror.
    """
    from wikivis.embed.store import write_embeddings
    from wikivis.lake import Lake

    wiki = wiki or settings.wikis[0]
    commons = settings.commons_wiki
    synth = synthetic_wiki(**options)
    data = synth.data
    lake = Lake.from_settings(settings)
    pages = sorted(data.pages.items())
    links = data.interactions.to_pydict()
    cats = [(pid, c) for pid, cs in sorted(data.categories.items()) for c in cs]
    files = sorted(data.file_sha1.items())
    tables = {
        ("pages", wiki): {
            "wiki": [wiki] * len(pages),
            "page_id": [p for p, _ in pages],
            "page_namespace": [0] * len(pages),
            "page_title": [t for _, t in pages],
            "is_redirect": [False] * len(pages),
        },
        ("article_images", wiki): {
            "wiki": [wiki] * len(links["page_id"]),
            "page_namespace": [0] * len(links["page_id"]),
            **links,
        },
        ("article_categories", wiki): {
            "wiki": [wiki] * len(cats),
            "page_id": [p for p, _ in cats],
            "category": [c for _, c in cats],
        },
        ("files", commons): {
            "wiki": [commons] * len(files),
            "file_name": [f for f, _ in files],
            "size": [1000] * len(files),
            "width": [640] * len(files),
            "height": [480] * len(files),
            "media_type": ["BITMAP"] * len(files),
            "mime": ["image/jpeg"] * len(files),
            "sha1": [s for _, s in files],
            "timestamp": ["20250101000000"] * len(files),
        },
        ("file_metadata", commons): {
            "file_name": [f for f, _ in files],
            "sha1": [s for _, s in files],
            "non_free": [f in data.non_free for f, _ in files],
        },
    }
    for (dataset, target), columns in tables.items():
        lake.write(dataset, target, snapshot, lake_table(dataset, columns))
        lake.publish(dataset, target, snapshot)
    write_embeddings(settings, chosen_model_id(settings), "synthetic-1", list(data.item_ids), data.vectors)
    return synth


def synthetic_thumbnails(synth: SyntheticWiki, size: int = 32, seed: int = 0) -> np.ndarray:
    """``(N, 3, size, size) uint8`` pixels for :func:`synthetic_wiki`'s images, aligned with
    ``data.item_ids``: each topic has its own colour and stripe direction, plus per-image noise,
    so a pixel model (DVBPR) can learn the topics the embeddings encode."""
    rng = np.random.default_rng(seed)
    n_topics = max(synth.topic_of_sha1.values()) + 1
    colours = rng.integers(30, 226, size=(n_topics, 3))
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((len(synth.data.item_ids), 3, size, size), dtype=np.uint8)
    for i, sha1 in enumerate(synth.data.item_ids):
        t = synth.topic_of_sha1[sha1]
        stripes = np.sin((xx * np.cos(t) + yy * np.sin(t)) * (0.5 + 0.1 * t)) * 40
        img = colours[t][:, None, None] + stripes[None] + rng.normal(0, 20, size=(3, size, size))
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out

"""Generate the sample wiki: articles, Commons files, and a few days of history.

See :mod:`wikivis.sample` for the overview.  Every random choice comes from a
``random.Random`` seeded from ``(seed, purpose)``, so the output depends on the seed and the
size parameters only; Python's ``hash()`` is never used (it is salted per process).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wikivis.errors import NotFoundError
from wikivis.sample import images
from wikivis.sample.events import STREAMS, EventFactory, iso, mw_timestamp
from wikivis.sample.model import (
    EXTENSION,
    MIME,
    FileRec,
    Model,
    PageRec,
)
from wikivis.vocab import NS_CATEGORY, NS_FILE, NS_MAIN, NS_PROJECT, NS_USER, atomic_write_bytes

WIKI = "samplewiki"
COMMONS_WIKI = "commonswiki"
NOISE_WIKI = "otherwiki"
FIRST_DUMP_DATE = "20261101"

#: topic → (category, depicts Q-ids, nouns)
TOPICS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "birds": ("Birds", ("Q5113",), ("Swift", "Heron", "Finch", "Owl", "Kestrel", "Warbler", "Gull", "Ibis", "Wren")),
    "mountains": ("Mountains", ("Q8502",), ("Peak", "Massif", "Ridge", "Summit", "Volcano", "Pass", "Glacier", "Col")),
    "architecture": (
        "Buildings",
        ("Q41176",),
        ("Tower", "Hall", "Palace", "Cathedral", "Library", "Station", "Arcade", "Villa"),
    ),
    "ships": ("Ships", ("Q11446",), ("Schooner", "Frigate", "Ketch", "Liner", "Tugboat", "Clipper", "Ferry", "Sloop")),
    "flowers": ("Flowers", ("Q506",), ("Rose", "Orchid", "Tulip", "Daisy", "Poppy", "Iris", "Lily", "Aster", "Peony")),
    "insects": ("Insects", ("Q1390",), ("Beetle", "Moth", "Mantis", "Cicada", "Weevil", "Hornet", "Lacewing", "Aphid")),
    "paintings": (
        "Paintings",
        ("Q3305213",),
        ("Portrait", "Landscape", "Still_life", "Fresco", "Triptych", "Nocturne", "Study"),
    ),
    "bridges": (
        "Bridges",
        ("Q12280",),
        ("Viaduct", "Aqueduct", "Footbridge", "Causeway", "Span", "Crossing", "Trestle"),
    ),
    "cars": ("Automobiles", ("Q1420",), ("Roadster", "Coupe", "Sedan", "Wagon", "Cabriolet", "Hatchback", "Tourer")),
    "maps": ("Maps", ("Q4006",), ("Atlas", "Chart", "Survey", "Plan", "Map", "Gazetteer", "Itinerary")),
}
ADJECTIVES = (
    "Alpine",
    "Common",
    "Northern",
    "Great",
    "Little",
    "Royal",
    "Western",
    "Eastern",
    "Lesser",
    "Golden",
    "Black",
    "Red",
    "Old",
    "New",
    "Grand",
    "Silver",
    "Hidden",
    "Upper",
    "Lower",
    "Crested",
)
#: titles that exercise SQL escaping and UTF-8 handling (quote, double quote, backslash, non-ASCII)
SPECIAL_WORDS = ("O'Brien", "Zürich", "Ærø", 'The_"Grand"', "Back\\slash", "Café", "Łódź", "São_Paulo", "Ōsaka")
MISC_CATEGORIES = (
    "Articles_with_short_description",
    "All_stub_articles",
    "Featured_articles",
    "Good_articles",
    "Pages_using_infobox",
    "Articles_needing_additional_references",
    "Ørsted_Prize_winners",
    "Editors'_picks",
)
FLAGS = ("France", "Japan", "Brazil", "Kenya", "Norway", "Peru", "India", "Canada")
SHARED_ICONS = (
    *(f"Flag_of_{c}.svg" for c in FLAGS),
    "Map_icon.png",
    "Noimage.png",
    "Commons-logo.svg",
    "Wiki_letter_w.svg",
    "Question_book-new.svg",
    "Edit-clear.svg",
    "Symbol_support_vote.svg",
)
FREE_LICENCES = (
    ("CC BY-SA 4.0", "cc-by-sa-4.0", "https://creativecommons.org/licenses/by-sa/4.0", True),
    ("CC BY-SA 3.0", "cc-by-sa-3.0", "https://creativecommons.org/licenses/by-sa/3.0", True),
    ("CC BY 4.0", "cc-by-4.0", "https://creativecommons.org/licenses/by/4.0", True),
    ("CC0", "cc0", "https://creativecommons.org/publicdomain/zero/1.0/", False),
    ("Public domain", "pd", "", False),
)
NON_FREE_LICENCE = ("Fair use", "fair-use", "", True)
RENDER_THREADS = 2


def _rng(seed: int, *purpose: object) -> random.Random:
    digest = hashlib.sha256(json.dumps([seed, *purpose], default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _epoch(date: str) -> int:
    return int(datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class WikiState:
    """The MediaWiki tables after day ``day`` (what the ``dates[day]`` dumps contain).

    ``tables`` holds the article wiki's tables (page, linktarget, imagelinks, page_props,
    categorylinks) plus Commons' ``image``; :meth:`tables_for` gives each wiki's full set
    (Commons also has its file pages, link targets and file categories).
    """

    day: int
    date: str
    tables: dict[str, list[dict[str, Any]]]
    wiki_tables: dict[str, dict[str, list[dict[str, Any]]]]

    def tables_for(self, wiki: str) -> dict[str, list[dict[str, Any]]]:
        try:
            return self.wiki_tables[wiki]
        except KeyError:
            raise NotFoundError(f"the sample has no wiki {wiki!r}; known: {', '.join(self.wiki_tables)}") from None


@dataclass(frozen=True)
class Change:
    """One page-level change of the history (the ground truth the events describe)."""

    day: int
    dt: str
    wiki: str
    kind: str  # edit|create|delete|undelete|move|props|upload|overwrite|file_delete
    page_id: int | None = None
    file_name: str | None = None


@dataclass
class SampleWiki:
    """A generated wiki; see :func:`generate`."""

    seed: int
    params: dict[str, int]
    dates: list[str]
    events: list[dict[str, Any]]
    changes: list[Change]
    file_info: dict[str, dict[str, Any]]
    page_topics: dict[int, str]
    file_topics: dict[str, str]
    wiki: str = WIKI
    commons_wiki: str = COMMONS_WIKI
    noise_wiki: str = NOISE_WIKI
    _models: list[Model] = field(default_factory=list, repr=False)
    _blobs: dict[str, bytes] = field(default_factory=dict, repr=False)  # sha1 hex -> bytes
    _specs: dict[str, images.RenderSpec] = field(default_factory=dict, repr=False)  # sha1 -> spec
    _versions: dict[str, list[tuple[int, str]]] = field(default_factory=dict, repr=False)  # name -> [(day, sha1)]
    _state_cache: dict[int, WikiState] = field(default_factory=dict, repr=False)
    _state_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ tables
    @property
    def n_days(self) -> int:
        return len(self.dates) - 1

    @property
    def topics(self) -> dict[int | str, str]:
        """page_id → topic and file name → topic (for evaluation sanity)."""
        merged: dict[int | str, str] = {k: v for k, v in self.page_topics.items()}  # widens the key type
        merged.update(self.file_topics)
        return merged

    @property
    def shared_icons(self) -> tuple[str, ...]:
        return SHARED_ICONS

    def state(self, day: int) -> WikiState:
        """The full tables after ``day`` (0 = initial, ``n_days`` = last)."""
        if not 0 <= day <= self.n_days:
            raise NotFoundError(f"day {day} is outside 0..{self.n_days}")
        return _state(self, day)

    def state_for_date(self, date: str) -> WikiState:
        if date not in self.dates:
            raise NotFoundError(f"no sample dump for date {date!r}; dates: {', '.join(self.dates)}")
        return self.state(self.dates.index(date))

    def free_files(self) -> dict[str, bool]:
        return {name: not info["non_free"] for name, info in self.file_info.items()}

    # ------------------------------------------------------------------ files
    def file_sha1(self, name: str, day: int | None = None) -> str:
        """Hex SHA-1 of the file's version current after ``day`` (default: last day)."""
        day = self.n_days if day is None else day
        versions = self._versions.get(name)
        if not versions:
            raise NotFoundError(f"no file {name!r} in the sample wiki")
        live = [sha1 for d, sha1 in versions if d <= day]
        if not live:
            raise NotFoundError(f"file {name!r} does not exist yet on day {day}")
        return live[-1]

    def file_versions(self, name: str) -> list[tuple[int, str]]:
        """(day uploaded, hex sha1) per version, oldest first."""
        return list(self._versions.get(name, ()))

    def file_bytes(self, name: str, day: int | None = None) -> bytes:
        """The original file (JPEG/PNG bytes or SVG text) as of ``day``."""
        return self.blob(self.file_sha1(name, day))

    def blob(self, sha1: str) -> bytes:
        try:
            return self._blobs[sha1]
        except KeyError:
            raise NotFoundError(f"no file version with sha1 {sha1}") from None

    def file_image(self, name: str, day: int | None = None) -> Any:
        """A Pillow RGB image of the file (SVGs rasterised), for thumbnailing."""
        return images.rasterize(self._specs[self.file_sha1(name, day)])

    def mime(self, name: str) -> str:
        major, minor, _ = MIME[self.file_info[name]["format"]]
        return f"{major}/{minor}"

    # ------------------------------------------------------------------ checks
    def digest(self) -> str:
        """SHA-256 over a canonical serialisation of every state, event and file byte."""
        h = hashlib.sha256()
        for day in range(self.n_days + 1):
            h.update(json.dumps(self.state(day).wiki_tables, sort_keys=True, ensure_ascii=False).encode())
        h.update(json.dumps([self.dates, self.events, self.file_info], sort_keys=True, ensure_ascii=False).encode())
        for sha1 in sorted(self._blobs):
            h.update(sha1.encode())
            h.update(self._blobs[sha1])
        return h.hexdigest()


def _state(sample: SampleWiki, day: int) -> WikiState:
    with sample._state_lock:  # the mirror's server threads ask concurrently
        return _state_locked(sample, day)


def _state_locked(sample: SampleWiki, day: int) -> WikiState:
    hit = sample._state_cache.get(day)
    if hit is None:
        model = sample._models[day]
        free = sample.free_files()
        icons = set(SHARED_ICONS)
        descriptions = {n: i["description"] for n, i in sample.file_info.items()}
        wiki = model.wiki_tables(free, icons)
        commons = model.commons_tables(descriptions)
        hit = WikiState(
            day=day,
            date=sample.dates[day],
            tables={**wiki, "image": commons["image"]},
            wiki_tables={WIKI: wiki, COMMONS_WIKI: commons},
        )
        sample._state_cache[day] = hit
    return hit


_GENERATED: dict[tuple[int, int, int, int], SampleWiki] = {}


def default_cache_dir() -> Path:
    return Path(os.environ.get("WIKIVIS_SAMPLE_CACHE", "var/cache/sample"))


def generate(
    seed: int = 0,
    n_articles: int = 300,
    n_files: int = 500,
    n_days: int = 5,
    cache_dir: str | Path | None = None,
) -> SampleWiki:
    """Generate (or reuse) the sample wiki for these parameters.

    Rendered image bytes are cached under ``cache_dir`` (default ``$WIKIVIS_SAMPLE_CACHE``
    or ``var/cache/sample``), one file per image version keyed by the render spec, so a
    second process only re-reads them.  Within one process the result is memoised.
    """
    key = (seed, n_articles, n_files, n_days)
    if key in _GENERATED:
        return _GENERATED[key]
    if n_articles < 20 or n_files < 40 or n_days < 1:
        raise ValueError("the sample needs n_articles >= 20, n_files >= 40 and n_days >= 1")
    builder = _Builder(seed, n_articles, n_files, n_days, Path(cache_dir) if cache_dir else default_cache_dir())
    sample = builder.build()
    _GENERATED[key] = sample
    return sample


class _Builder:
    def __init__(self, seed: int, n_articles: int, n_files: int, n_days: int, cache_dir: Path) -> None:
        self.seed = seed
        self.n_articles, self.n_files, self.n_days = n_articles, n_files, n_days
        self.cache_dir = cache_dir
        self.model = Model()
        self.file_info: dict[str, dict[str, Any]] = {}
        self.specs: dict[str, images.RenderSpec] = {}  # "name@version" -> spec
        self.blobs: dict[str, bytes] = {}
        self.sha1_specs: dict[str, images.RenderSpec] = {}
        self.versions: dict[str, list[tuple[int, str]]] = {}
        self.changes: list[Change] = []
        self.dates = [
            (datetime.strptime(FIRST_DUMP_DATE, "%Y%m%d") + timedelta(days=d)).strftime("%Y%m%d")
            for d in range(n_days + 1)
        ]
        rng = _rng(seed, "users")
        self.users = [
            {"id": 1000 + i, "name": name, "bot": name.endswith("Bot"), "edits": rng.randint(50, 90000)}
            for i, name in enumerate(
                (
                    "Alice",
                    "Bjørn",
                    "Chen_Wei",
                    "Dana",
                    "Eve",
                    "FileBot",
                    "Gómez",
                    "Hana",
                    "Ivo",
                    "LinkBot",
                    "Mara",
                    "Noor",
                )
            )
        ]
        self.rev_id = 2_000_000
        self.commons_rev_id = 7_000_000
        self.next_page_id = 1
        self.next_commons_page_id = 10_000
        self.next_description_id = 1
        self.file_counter: dict[str, int] = {}
        self.titles: set[str] = set()

    # ------------------------------------------------------------------ helpers
    def user(self, rng: random.Random, *, bot: bool | None = None) -> dict[str, Any]:
        pool = [u for u in self.users if bot is None or u["bot"] == bot]
        return rng.choice(pool)

    def new_rev(self) -> int:
        self.rev_id += rng_step(self.rev_id)
        return self.rev_id

    def new_file(
        self, rng: random.Random, topic: str, ts: int, *, day: int, name: str | None = None, fmt: str | None = None
    ) -> FileRec:
        if name is None:
            noun = rng.choice(TOPICS[topic][2])
            adj = rng.choice(ADJECTIVES + SPECIAL_WORDS[:5] if rng.random() < 0.06 else ADJECTIVES)
            n = self.file_counter[topic] = self.file_counter.get(topic, 0) + 1
            fmt = fmt or rng.choices(("jpeg", "png", "svg"), weights=(70, 25, 5))[0]
            name = f"{noun}_{adj}_{n:03d}.{EXTENSION[fmt]}"
            name = name[0].upper() + name[1:]
        assert fmt is not None
        if topic == "icons":
            width, height = (rng.choice((450, 600)), 300) if name.startswith("Flag_") else (128, 128)
        elif fmt == "svg":
            width, height = rng.choice(((512, 512), (600, 400), (480, 360)))
        else:
            width = rng.randrange(400, 720, 8)
            height = int(width * rng.choice((0.75, 0.66, 1.0, 1.33)))
        commons_page_id = self.next_commons_page_id
        self.next_commons_page_id += rng.randint(1, 4)
        spec = images.RenderSpec(name, topic, fmt, width, height, _rng(self.seed, "render", name, 1).getrandbits(31))
        f = FileRec(
            name=name,
            topic=topic,
            fmt=fmt,
            width=width,
            height=height,
            size=0,
            sha1="",
            timestamp=mw_timestamp(ts),
            render_seed=spec.seed,
            actor=self.user(rng)["id"],
            description_id=self.next_description_id,
            commons_page_id=commons_page_id,
        )
        self.next_description_id += 1
        self.specs[f"{name}@1"] = spec
        self._file_metadata(rng, f)
        f.categories = list(self.file_info[name]["categories"])
        f.cat_added = {c: _cl_ts(f.timestamp) for c in f.categories}
        for c in f.categories:
            self.model.target_id(NS_CATEGORY, c, commons=True)
        self.versions[name] = [(day, "")]
        self.model.files[name] = f
        return f

    def _file_metadata(self, rng: random.Random, f: FileRec) -> None:
        non_free = f.topic != "icons" and rng.random() < 0.03
        short, code, url, attribution = NON_FREE_LICENCE if non_free else rng.choice(FREE_LICENCES)
        if f.topic == "icons":
            short, code, url, attribution = FREE_LICENCES[4]
        category, qids, _ = TOPICS.get(f.topic, ("Icons", ("Q138754",), ()))
        if f.name.startswith("Flag_"):
            category, qids = "Flags", ("Q14660",)
        depicts = list(qids) if rng.random() < 0.7 else []
        if depicts and rng.random() < 0.2:
            depicts.append(rng.choice(("Q23397", "Q7777019", "Q2095")))
        artist = rng.choice(self.users)["name"]
        label = f.name.rsplit(".", 1)[0].replace("_", " ")
        cats = [category] + (["Quality_images"] if rng.random() < 0.1 else [])
        self.file_info[f.name] = {
            "topic": f.topic,
            "format": f.fmt,
            "licence_short_name": short,
            "licence": code,
            "licence_url": url,
            "usage_terms": "Fair use of copyrighted material" if non_free else short,
            "attribution_required": attribution,
            "non_free": non_free,
            "restrictions": "",
            "artist": artist,
            "credit": "Own work" if not non_free else "Scanned from the publisher's material",
            "description": f"{label}: a {f.topic.rstrip('s')} picture in the sample wiki",
            "date_time_original": f"{2000 + rng.randint(0, 25)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "depicts": depicts,
            "categories": cats,
        }

    def new_page(
        self, rng: random.Random, namespace: int, title: str, topic: str | None, ts: int, *, initial: bool
    ) -> PageRec:
        page = PageRec(
            page_id=self.next_page_id,
            namespace=namespace,
            title=title,
            rev_id=(self.next_page_id * 97 + rng.randint(0, 90)) if initial else self.new_rev(),
            touched=mw_timestamp(ts),
            length=rng.randint(800, 40000),
            random=round(rng.random(), 12),
            topic=topic,
            rev_count=rng.randint(1, 300) if initial else 1,
        )
        self.next_page_id += rng.randint(1, 3)
        self.titles.add(f"{namespace}:{title}")
        self.model.pages[page.page_id] = page
        return page

    def unique_title(self, rng: random.Random, topic: str) -> str:
        for _ in range(1000):
            adj = rng.choice(ADJECTIVES if rng.random() > 0.05 else SPECIAL_WORDS)
            title = f"{adj}_{rng.choice(TOPICS[topic][2]).lower()}"
            if rng.random() < 0.3:
                title += f"_({rng.choice(ADJECTIVES).lower()})"
            title = title[0].upper() + title[1:]
            if f"0:{title}" not in self.titles:
                return title
        raise RuntimeError("title space exhausted")  # pragma: no cover

    def pick_images(self, rng: random.Random, topic: str, k: int) -> list[str]:
        own = [f for f in self.model.files.values() if f.topic == topic]
        other = [f for f in self.model.files.values() if f.topic not in (topic, "icons")]
        chosen: list[str] = []
        for _ in range(k):
            pool = own if rng.random() < 0.9 or not other else other
            name = rng.choice(pool).name
            if name not in chosen:
                chosen.append(name)
        return chosen

    def decorate(self, rng: random.Random, page: PageRec) -> None:
        """Shared icons (flags first, like infoboxes; maintenance icons last)."""
        if rng.random() < 0.3:
            page.images.insert(0, f"Flag_of_{rng.choice(FLAGS)}.svg")
        if page.topic == "maps" or rng.random() < 0.08:
            page.images.append("Map_icon.png")
        if not page.images and rng.random() < 0.3:
            page.images.append("Noimage.png")
        if rng.random() < 0.1:
            page.images.append(rng.choice(("Question_book-new.svg", "Edit-clear.svg", "Wiki_letter_w.svg")))
        if rng.random() < 0.02:
            page.images.append(f"Nonexistent_photo_{page.page_id}.jpg")  # red link: not on Commons

    def add_category(self, page: PageRec, category: str, ts: int) -> None:
        if category not in page.categories:
            page.categories.append(category)
            page.cat_added[category] = _cl_ts(mw_timestamp(ts))
            self.model.target_id(NS_CATEGORY, category)

    def link_images(self, page: PageRec) -> None:
        for f in page.images:
            self.model.target_id(NS_FILE, f)

    def props(self, page: PageRec) -> dict[str, str]:
        free = {n: not i["non_free"] for n, i in self.file_info.items()}
        return self.model.page_props(page, free, set(SHARED_ICONS))

    # ------------------------------------------------------------------ initial state
    def build_initial(self) -> None:
        rng = _rng(self.seed, "initial")
        t0 = _epoch(FIRST_DUMP_DATE)
        span = 600 * 86400

        def past() -> int:
            return t0 - rng.randint(3600, span)

        for icon in SHARED_ICONS:
            fmt = {"svg": "svg", "png": "png"}[icon.rsplit(".", 1)[1]]
            self.new_file(rng, "icons", past(), day=0, name=icon, fmt=fmt)
        topics = list(TOPICS)
        for i in range(self.n_files - len(SHARED_ICONS)):
            self.new_file(rng, topics[i % len(topics)], past(), day=0)

        order = [topics[i % len(topics)] for i in range(self.n_articles)]
        rng.shuffle(order)
        for topic in order:
            ts = past()
            page = self.new_page(rng, NS_MAIN, self.unique_title(rng, topic), topic, ts, initial=True)
            k = rng.choices(range(7), weights=(15, 20, 20, 15, 12, 10, 8))[0]
            page.images = self.pick_images(rng, topic, k)
            self.decorate(rng, page)
            self.link_images(page)
            self.add_category(page, TOPICS[topic][0], ts)
            for c in rng.sample(MISC_CATEGORIES, rng.randint(0, 2)):
                self.add_category(page, c, ts)
            if rng.random() < 0.9:
                page.wikibase_item = f"Q{1_000_000 + page.page_id * 7}"
            if rng.random() < 0.6:
                page.shortdesc = f"{topic.rstrip('s').capitalize()} in the sample wiki"
        articles = [p for p in self.model.pages.values() if p.namespace == NS_MAIN]
        for _ in range(max(2, self.n_articles // 30)):  # redirects: no images, no lead image
            target = rng.choice(articles)
            title = f"{target.title}_(disambiguation)" if rng.random() < 0.3 else f"{target.title}s"
            if f"0:{title}" in self.titles:
                continue
            page = self.new_page(rng, NS_MAIN, title, target.topic, past(), initial=True)
            page.is_redirect, page.length = True, len(title) + 12
        for user in self.users[:3]:  # non-article pages using images (il_from_namespace 2/4)
            page = self.new_page(rng, NS_USER, f"{user['name']}/Gallery", None, past(), initial=True)
            page.images = self.pick_images(rng, rng.choice(topics), 5)
            self.link_images(page)
        for topic in topics[:2]:
            page = self.new_page(rng, NS_PROJECT, f"Picture_of_the_day/{TOPICS[topic][0]}", None, past(), initial=True)
            page.images = self.pick_images(rng, topic, 3)
            self.link_images(page)
        for topic in topics:  # category description pages
            self.new_page(rng, NS_CATEGORY, TOPICS[topic][0], None, past(), initial=True)

    # ------------------------------------------------------------------ history
    def build_day(self, day: int, ev: EventFactory) -> None:
        rng = _rng(self.seed, "day", day)
        start = _epoch(self.dates[day - 1])
        scale = max(1, self.n_articles // 30)
        plan = (
            ["add_image"] * (2 * scale)
            + ["remove_image"] * scale
            + ["reorder"] * max(1, scale // 2)
            + ["plain_edit"] * (scale + 2)
            + ["category_edit"] * max(1, scale // 2)
            + ["create"] * 2
            + ["upload"] * max(2, self.n_files // 50)
            + ["overwrite"] * max(1, self.n_files // 100)
            + ["delete"] * 2
            + ["move"] * 2
            + (["undelete"] if day >= 2 else [])
            + (["file_delete"] if day % 2 == 0 else [])
        )
        rng.shuffle(plan)
        times = sorted(rng.sample(range(60, 86400 - 120), len(plan)))
        for op, offset in zip(plan, times, strict=True):
            getattr(self, f"op_{op}")(rng, day, start + offset, ev)
        for stream in STREAMS:  # canaries every 6 hours on every stream
            for hour in (0, 6, 12, 18):
                ev.canary(stream, start + hour * 3600 + 7)
        for _ in range(10 + scale):  # another wiki's edits: consumers must filter on database/wiki
            noise = PageRec(
                page_id=rng.randint(1, 10**6),
                namespace=0,
                title=f"Noise_{rng.randint(1, 10**6)}",
                rev_id=rng.randint(10**7, 10**8),
                touched="",
                length=rng.randint(100, 9000),
                random=0.0,
            )
            ev.revision(
                NOISE_WIKI,
                start + rng.randint(0, 86399),
                noise,
                self.user(rng),
                "noise edit",
                parent_rev=noise.rev_id - 1,
            )

    def articles(self, *, with_images: bool | None = None) -> list[PageRec]:
        pages = [p for p in self.model.pages.values() if p.namespace == NS_MAIN and not p.is_redirect]
        if with_images is not None:
            pages = [p for p in pages if bool([f for f in p.images if f not in SHARED_ICONS]) == with_images]
        return sorted(pages, key=lambda p: p.page_id)

    def edit(
        self,
        rng: random.Random,
        day: int,
        ts: int,
        ev: EventFactory,
        page: PageRec,
        mutate: Any,
        comment: str,
        kind: str = "edit",
    ) -> None:
        """One edit: mutate the page, bump revision, emit revision-create (+ props change)."""
        before = self.props(page)
        mutate(page)
        self.link_images(page)
        parent = page.rev_id
        page.rev_id = self.new_rev()
        page.rev_count += 1
        page.touched = mw_timestamp(ts)
        page.length = max(100, page.length + rng.randint(-400, 900))
        user = self.user(rng)
        ev.revision(WIKI, ts, page, user, comment, parent_rev=parent)
        ev.properties_change(WIKI, ts, page, user, before, self.props(page))
        self.changes.append(Change(day, iso(ts), WIKI, kind, page_id=page.page_id))

    def op_add_image(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        page = rng.choice(self.articles())
        new = self.pick_images(rng, page.topic or "birds", 1)
        recent = [
            f.name for f in self.model.files.values() if f.topic == page.topic and self.versions[f.name][0][0] == day
        ]
        if recent and rng.random() < 0.5:
            new = [rng.choice(recent)]  # a file uploaded today gets used today
        position = 0 if rng.random() < 0.3 else len(page.images)

        def mutate(p: PageRec) -> None:
            for name in new:
                if name not in p.images:
                    p.images.insert(position, name)

        self.edit(rng, day, ts, ev, page, mutate, f"add image [[File:{new[0]}]]")

    def op_remove_image(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        pages = self.articles(with_images=True)
        page = rng.choice(pages)
        victim = rng.choice(page.images)
        self.edit(rng, day, ts, ev, page, lambda p: p.images.remove(victim), f"remove [[File:{victim}]]")

    def op_reorder(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        """Lead-image change: move the last content image to the top."""
        pages = [p for p in self.articles(with_images=True) if len([f for f in p.images if f not in SHARED_ICONS]) >= 2]
        if not pages:
            return self.op_plain_edit(rng, day, ts, ev)
        page = rng.choice(pages)
        content = [f for f in page.images if f not in SHARED_ICONS]

        def mutate(p: PageRec) -> None:
            p.images.remove(content[-1])
            p.images.insert(0, content[-1])

        self.edit(rng, day, ts, ev, page, mutate, "new lead image")
        return None

    def op_plain_edit(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        page = rng.choice(self.articles())
        self.edit(rng, day, ts, ev, page, lambda p: None, "copyedit")

    def op_category_edit(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        page = rng.choice(self.articles())
        category = rng.choice(MISC_CATEGORIES)

        def mutate(p: PageRec) -> None:
            if category in p.categories and category != TOPICS[p.topic or "birds"][0]:
                p.categories.remove(category)
                del p.cat_added[category]
            else:
                self.add_category(p, category, ts)

        self.edit(rng, day, ts, ev, page, mutate, f"[[Category:{category}]]")

    def op_create(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        topic = rng.choice(list(TOPICS))
        page = self.new_page(rng, NS_MAIN, self.unique_title(rng, topic), topic, ts, initial=False)
        page.images = self.pick_images(rng, topic, rng.randint(0, 4))
        self.decorate(rng, page)
        self.link_images(page)
        self.add_category(page, TOPICS[topic][0], ts)
        page.wikibase_item = f"Q{1_000_000 + page.page_id * 7}"
        user = self.user(rng, bot=False)
        ev.revision(WIKI, ts, page, user, "new article", parent_rev=None, created=True)
        ev.properties_change(WIKI, ts, page, user, {}, self.props(page))
        self.changes.append(Change(day, iso(ts), WIKI, "create", page_id=page.page_id))

    def op_delete(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        page = rng.choice(self.articles())
        del self.model.pages[page.page_id]
        self.model.archive[page.page_id] = page
        self.titles.discard(f"{page.namespace}:{page.title}")
        ev.delete(WIKI, ts, page, self.user(rng, bot=False), "[[WP:CSD#A7|A7]]: no indication of importance")
        self.changes.append(Change(day, iso(ts), WIKI, "delete", page_id=page.page_id))

    def op_undelete(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        candidates = [p for p in self.model.archive.values() if f"{p.namespace}:{p.title}" not in self.titles]
        if not candidates:
            return self.op_plain_edit(rng, day, ts, ev)
        page = rng.choice(sorted(candidates, key=lambda p: p.page_id))
        del self.model.archive[page.page_id]
        self.model.pages[page.page_id] = page
        self.titles.add(f"{page.namespace}:{page.title}")
        page.touched = mw_timestamp(ts)
        ev.undelete(WIKI, ts, page, self.user(rng, bot=False), "restored after review")
        self.changes.append(Change(day, iso(ts), WIKI, "undelete", page_id=page.page_id))
        return None

    def op_move(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        page = rng.choice(self.articles())
        old_title, old_rev = page.title, page.rev_id
        new_title = self.unique_title(rng, page.topic or "birds")
        self.titles.discard(f"0:{old_title}")
        self.titles.add(f"0:{new_title}")
        page.title = new_title
        page.rev_id = self.new_rev()  # the null revision recording the move
        page.rev_count += 1
        page.touched = mw_timestamp(ts)
        user = self.user(rng, bot=False)
        redirect = None
        if rng.random() < 0.8:
            redirect = self.new_page(rng, NS_MAIN, old_title, page.topic, ts, initial=False)
            redirect.is_redirect, redirect.length = True, len(new_title) + 12
        ev.move(WIKI, ts, page, old_title, old_rev, redirect, user, "better title")
        ev.revision(WIKI, ts, page, user, f"moved [[{old_title}]] to [[{new_title}]]", parent_rev=old_rev)
        if redirect is not None:
            ev.revision(
                WIKI, ts, redirect, user, f"moved [[{old_title}]] to [[{new_title}]]", parent_rev=None, created=True
            )
            self.changes.append(Change(day, iso(ts), WIKI, "create", page_id=redirect.page_id))
        self.changes.append(Change(day, iso(ts), WIKI, "move", page_id=page.page_id))

    def op_upload(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        topic = rng.choice(list(TOPICS))
        f = self.new_file(rng, topic, ts, day=day)
        user = self.user(rng)
        self._commons_revision(rng, ts, ev, f, user, "Uploaded own work", created=True)
        self.upload_events.append((ev.upload(COMMONS_WIKI, ts, f, "upload", user, "Uploaded own work"), f.name, 1))
        self.changes.append(Change(day, iso(ts), COMMONS_WIKI, "upload", file_name=f.name))

    def op_overwrite(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        names = sorted(
            n
            for n, f in self.model.files.items()
            if f.topic != "icons" and f.version == 1 and self.versions[n][0][0] < day
        )
        f = self.model.files[rng.choice(names)]
        f.version += 1
        f.timestamp = mw_timestamp(ts)
        spec = self.specs[f"{f.name}@1"]
        new_spec = images.RenderSpec(
            f.name,
            f.topic,
            f.fmt,
            spec.width,
            spec.height,
            _rng(self.seed, "render", f.name, f.version).getrandbits(31),
        )
        self.specs[f"{f.name}@{f.version}"] = new_spec
        f.render_seed = new_spec.seed
        self.versions[f.name].append((day, ""))
        user = self.user(rng)
        self._commons_revision(rng, ts, ev, f, user, "Colour correction", created=False)
        event = ev.upload(COMMONS_WIKI, ts, f, "overwrite", user, "Colour correction")
        self.upload_events.append((event, f.name, f.version))
        self.changes.append(Change(day, iso(ts), COMMONS_WIKI, "overwrite", file_name=f.name))

    def op_file_delete(self, rng: random.Random, day: int, ts: int, ev: EventFactory) -> None:
        """A Commons deletion: usages stay (red links) and lead images move on, via refreshLinks."""
        names = sorted(n for n, f in self.model.files.items() if f.topic != "icons")
        name = rng.choice(names)
        users_of = [p for p in self.model.pages.values() if name in p.images]
        before = {p.page_id: self.props(p) for p in users_of}
        f = self.model.files.pop(name)
        self.model.file_archive[name] = f
        user = self.user(rng, bot=False)
        page = PageRec(
            page_id=f.commons_page_id,
            namespace=NS_FILE,
            title=name,
            rev_id=self.commons_rev_id,
            touched="",
            length=400,
            random=0.0,
        )
        ev.delete(COMMONS_WIKI, ts, page, user, "Copyright violation")
        self.changes.append(Change(day, iso(ts), COMMONS_WIKI, "file_delete", file_name=name))
        for p in sorted(users_of, key=lambda p: p.page_id):
            if ev.properties_change(WIKI, ts + 30, p, self.user(rng, bot=True), before[p.page_id], self.props(p)):
                self.changes.append(Change(day, iso(ts + 30), WIKI, "props", page_id=p.page_id))

    def _commons_revision(
        self,
        rng: random.Random,
        ts: int,
        ev: EventFactory,
        f: FileRec,
        user: dict[str, Any],
        comment: str,
        *,
        created: bool,
    ) -> None:
        parent = None if created else self.commons_rev_id
        self.commons_rev_id += rng.randint(1, 50)
        page = PageRec(
            page_id=f.commons_page_id,
            namespace=NS_FILE,
            title=f.name,
            rev_id=self.commons_rev_id,
            touched="",
            length=400,
            random=0.0,
        )
        ev.revision(COMMONS_WIKI, ts, page, user, comment, parent_rev=parent, created=created)

    # ------------------------------------------------------------------ rendering
    def render_all(self) -> None:
        """Render every file version (cached on disk) and fill sizes and SHA-1s."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        jobs = sorted(self.specs.items())

        def load(item: tuple[str, images.RenderSpec]) -> tuple[str, bytes]:
            key, spec = item
            path = self.cache_dir / f"{spec.cache_key()}.{EXTENSION[spec.fmt]}"
            if path.is_file():
                return key, path.read_bytes()
            data = images.render(spec)
            atomic_write_bytes(path, data)
            return key, data

        with ThreadPoolExecutor(RENDER_THREADS) as pool:
            rendered = dict(pool.map(load, jobs))
        for key, data in rendered.items():
            name, version = key.rsplit("@", 1)
            sha1 = hashlib.sha1(data).hexdigest()
            self.blobs[sha1] = data
            self.sha1_specs[sha1] = self.specs[key]
            day, _ = self.versions[name][int(version) - 1]
            self.versions[name][int(version) - 1] = (day, sha1)

    def sync_files(self, model: Model) -> None:
        """Fill size/sha1 of every file in a (copied) model from the rendered versions."""
        for f in (*model.files.values(), *model.file_archive.values()):
            _, sha1 = self.versions[f.name][f.version - 1]
            f.sha1, f.size = sha1, len(self.blobs[sha1])

    def build(self) -> SampleWiki:
        self.upload_events: list[tuple[dict[str, Any], str, int]] = []
        self.build_initial()
        ev = EventFactory(_rng(self.seed, "events"))
        models = [copy.deepcopy(self.model)]
        for day in range(1, self.n_days + 1):
            self.build_day(day, ev)
            models.append(copy.deepcopy(self.model))
        self.render_all()
        for m in models:
            self.sync_files(m)
        self._fix_upload_events(ev)
        page_topics = {
            p.page_id: p.topic for m in models for p in m.pages.values() if p.topic and p.namespace == NS_MAIN
        }
        return SampleWiki(
            seed=self.seed,
            params={"n_articles": self.n_articles, "n_files": self.n_files, "n_days": self.n_days},
            dates=self.dates,
            events=ev.finish(),
            changes=self.changes,
            file_info=self.file_info,
            page_topics=dict(sorted(page_topics.items())),
            file_topics={n: i["topic"] for n, i in sorted(self.file_info.items())},
            _models=models,
            _blobs=self.blobs,
            _specs=self.sha1_specs,
            _versions=self.versions,
        )

    def _fix_upload_events(self, ev: EventFactory) -> None:
        """Upload events were emitted before rendering: fill in each version's real img_sha1."""
        from wikivis.datasets import hex_to_base36

        for event, name, version in self.upload_events:
            event["log_params"]["img_sha1"] = hex_to_base36(self.versions[name][version - 1][1])


def rng_step(current: int) -> int:
    """Revision ids grow with gaps (other pages' edits in between), deterministically."""
    return 1 + (current * 2654435761) % 37


def _cl_ts(mw_ts: str) -> str:
    """14-digit MediaWiki timestamp → categorylinks' SQL TIMESTAMP text."""
    return f"{mw_ts[0:4]}-{mw_ts[4:6]}-{mw_ts[6:8]} {mw_ts[8:10]}:{mw_ts[10:12]}:{mw_ts[12:14]}"

"""The plain data every recommender reads, and the lookups derived from it once.

Inputs are deliberately plain (an Arrow table, dicts, a float32 matrix) so that the
recommenders do not depend on how the lake, the embedding store or the index are built:

* ``interactions`` — the ``article_images`` dataset (``page_id, page_title, file_name,
  is_lead``; an optional ``timestamp`` column enables a temporal evaluation split);
* ``file_sha1`` — ``file_name → sha1`` (hex) from the ``files`` dataset.  Several file
  names can point at the same bytes (re-uploads under another name); images are
  identified by **sha1** everywhere, file names are only labels;
* ``item_ids`` / ``vectors`` — the embedding matrix, one row per sha1, ``np.float32``;
* ``categories`` (``page_id → categories``), ``pages`` (``page_id → title`` of every
  article, illustrated or not), ``non_free`` (file names whose licence is non-free) and
  optional ``links`` (``page_id → linked page_ids``).

File names and titles use MediaWiki's database form (underscores, no ``File:`` prefix);
:func:`normalise_title` and :func:`normalise_file_name` turn user input into that form.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa

from wikivis.errors import InputError
from wikivis.vocab import NS_MAIN

REQUIRED_INTERACTION_COLUMNS = ("page_id", "page_title", "file_name", "is_lead")
_FILE_PREFIXES = ("file:", "image:")


def normalise_title(title: str) -> str:
    """User input → database title: trim, spaces → underscores, first letter upper-case.

    MediaWiki capitalises the first letter of titles on (almost) every wiki, so
    ``"mona lisa"`` and ``"Mona_lisa"`` name the same page.
    """
    t = "_".join(title.strip().replace("_", " ").split())
    return t[:1].upper() + t[1:]


def normalise_file_name(name: str) -> str:
    """Like :func:`normalise_title`, and drops a ``File:``/``Image:`` namespace prefix."""
    n = name.strip()
    if n.lower().startswith(_FILE_PREFIXES):
        n = n.split(":", 1)[1]
    return normalise_title(n)


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.where(norms == 0, 1.0, norms)).astype(np.float32, copy=False)


@dataclass(frozen=True)
class RecData:
    """Everything a recommender or an evaluation needs, as plain data (see module doc)."""

    interactions: pa.Table
    file_sha1: Mapping[str, str]
    item_ids: Sequence[str]
    vectors: np.ndarray
    categories: Mapping[int, Sequence[str]] = field(default_factory=dict)
    pages: Mapping[int, str] = field(default_factory=dict)
    non_free: frozenset[str] = frozenset()
    links: Mapping[int, Sequence[int]] | None = None
    #: articles in the wiki (for the icon threshold); default: all articles known here
    n_articles: int | None = None

    def __post_init__(self) -> None:
        missing = [c for c in REQUIRED_INTERACTION_COLUMNS if c not in self.interactions.column_names]
        if missing:
            raise InputError(f"interactions lack column(s) {missing}", source="article_images")
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.item_ids):
            raise InputError(
                f"embedding matrix has shape {self.vectors.shape} for {len(self.item_ids)} ids",
                source="embeddings",
            )
        if self.vectors.dtype != np.float32:
            object.__setattr__(self, "vectors", np.asarray(self.vectors, dtype=np.float32))
        if len(set(self.item_ids)) != len(self.item_ids):
            raise InputError("embedding ids are not unique sha1s", source="embeddings")

    # ------------------------------------------------------------------ items
    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @cached_property
    def row_of(self) -> dict[str, int]:
        """sha1 → row of :attr:`vectors`."""
        return {sha1: i for i, sha1 in enumerate(self.item_ids)}

    @cached_property
    def unit_vectors(self) -> np.ndarray:
        """:attr:`vectors` scaled to unit length: inner product = cosine similarity."""
        return l2_normalise(self.vectors)

    @cached_property
    def files_of_sha1(self) -> dict[str, list[str]]:
        """sha1 → its file names, sorted (the first is the display name)."""
        out: dict[str, list[str]] = defaultdict(list)
        for name, sha1 in self.file_sha1.items():
            out[sha1].append(name)
        return {k: sorted(v) for k, v in out.items()}

    # --------------------------------------------------------------- articles
    @cached_property
    def _interaction_rows(self) -> list[tuple[int, str, str, bool]]:
        cols = self.interactions.select(list(REQUIRED_INTERACTION_COLUMNS)).to_pydict()
        return list(zip(cols["page_id"], cols["page_title"], cols["file_name"], cols["is_lead"], strict=True))

    @cached_property
    def page_files(self) -> dict[int, list[str]]:
        """page_id → file names the article uses, lead image first, then by name."""
        files: dict[int, dict[str, bool]] = defaultdict(dict)
        for page_id, _title, file_name, is_lead in self._interaction_rows:
            files[page_id][file_name] = files[page_id].get(file_name, False) or bool(is_lead)
        return {p: sorted(f, key=lambda n, lead=f: (not lead[n], n)) for p, f in files.items()}  # type: ignore[misc]

    @cached_property
    def page_items(self) -> dict[int, list[str]]:
        """page_id → distinct sha1s the article uses that have an embedding, lead first."""
        out: dict[int, list[str]] = {}
        for page_id, names in self.page_files.items():
            seen: list[str] = []
            for name in names:
                sha1 = self.file_sha1.get(name)
                if sha1 is not None and sha1 in self.row_of and sha1 not in seen:
                    seen.append(sha1)
            out[page_id] = seen
        return out

    @cached_property
    def titles(self) -> dict[int, str]:
        """page_id → title for every article known (pages dataset, then interactions)."""
        out = {pid: title for pid, title, _f, _l in self._interaction_rows}
        out.update(self.pages)
        return out

    @cached_property
    def page_of_title(self) -> dict[str, int]:
        return {title: pid for pid, title in self.titles.items()}

    @cached_property
    def wiki_size(self) -> int:
        """Number of articles used for the icon threshold."""
        if self.n_articles is not None:
            return self.n_articles
        return len(set(self.titles) | set(self.categories))

    @cached_property
    def item_usage(self) -> dict[str, int]:
        """sha1 → number of distinct articles linking any of its file names (``imagelinks``)."""
        users: dict[str, set[int]] = defaultdict(set)
        for page_id, _t, file_name, _l in self._interaction_rows:
            sha1 = self.file_sha1.get(file_name)
            if sha1 is not None:
                users[sha1].add(page_id)
        return {sha1: len(pages) for sha1, pages in users.items()}

    @cached_property
    def category_members(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for page_id, cats in self.categories.items():
            for cat in cats:
                out[cat].append(page_id)
        return dict(out)

    @cached_property
    def neighbours_by_link(self) -> dict[int, set[int]]:
        """page_id → pages it links to or is linked from (empty without ``links``)."""
        out: dict[int, set[int]] = defaultdict(set)
        for src, targets in (self.links or {}).items():
            for dst in targets:
                if dst != src:
                    out[src].add(dst)
                    out[dst].add(src)
        return dict(out)

    def display_name(self, sha1: str) -> str:
        names = self.files_of_sha1.get(sha1)
        return names[0] if names else ""

    def resolve_file(self, name: str) -> str | None:
        """A file name (any spelling) or a sha1 → the sha1, if known."""
        if name in self.row_of:
            return name
        return self.file_sha1.get(normalise_file_name(name))

    def resolve_title(self, title: str) -> int | None:
        """A title as typed (any spacing; first letter case-insensitive) → page_id, if known."""
        exact = "_".join(title.strip().replace("_", " ").split())
        found = self.page_of_title.get(exact)
        return found if found is not None else self.page_of_title.get(normalise_title(title))

    @classmethod
    def from_tables(
        cls,
        article_images: pa.Table,
        files: pa.Table,
        item_ids: Sequence[str],
        vectors: np.ndarray,
        *,
        article_categories: pa.Table | None = None,
        pages: pa.Table | None = None,
        file_metadata: pa.Table | None = None,
        links: Mapping[int, Sequence[int]] | None = None,
    ) -> RecData:
        """Build from lake tables (``files`` needs ``file_name, sha1``)."""
        import pyarrow.compute as pc

        if "page_namespace" in article_images.column_names:  # articles only, as ImageMatching does
            article_images = article_images.filter(pc.equal(article_images["page_namespace"], 0))
        f = files.select(["file_name", "sha1"]).to_pydict()
        file_sha1 = dict(zip(f["file_name"], f["sha1"], strict=True))
        categories: dict[int, list[str]] = defaultdict(list)
        if article_categories is not None:
            c = article_categories.select(["page_id", "category"]).to_pydict()
            for pid, cat in zip(c["page_id"], c["category"], strict=True):
                categories[pid].append(cat)
        page_titles: dict[int, str] = {}
        if pages is not None:
            p = pages.to_pydict()
            n = len(p["page_id"])
            namespaces = p.get("page_namespace") or [0] * n
            redirects = p.get("is_redirect") or [False] * n
            page_titles = {
                pid: t
                for pid, t, ns, redirect in zip(p["page_id"], p["page_title"], namespaces, redirects, strict=True)
                if ns == NS_MAIN and not redirect
            }
        non_free: frozenset[str] = frozenset()
        if file_metadata is not None and "non_free" in file_metadata.column_names:
            m = file_metadata.select(["file_name", "non_free"]).to_pydict()
            non_free = frozenset(n for n, nf in zip(m["file_name"], m["non_free"], strict=True) if nf)
        return cls(
            interactions=article_images,
            file_sha1=file_sha1,
            item_ids=list(item_ids),
            vectors=np.asarray(vectors, dtype=np.float32),
            categories=dict(categories),
            pages=page_titles,
            non_free=non_free,
            links=links,
            n_articles=len(page_titles) or None,
        )

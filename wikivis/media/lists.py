"""Build the list of files to fetch: by category, by depicts statement, by search query, by
article (the lake's ``article_images``), or from a text file.

Every builder returns file names as DB keys (``Foo_bar.jpg``: underscores, no ``File:``
prefix), de-duplicated in first-seen order, which is the form of ``article_images.file_name``
and ``file_metadata.file_name``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow.compute as pc

from wikivis.errors import InputError
from wikivis.lake import Lake
from wikivis.sources.commons import ActionApiClient, depicts_query, file_name


def _names(titles: Iterable[str], limit: int | None) -> list[str]:
    out: dict[str, None] = {}
    for title in titles:
        out.setdefault(file_name(title), None)
        if limit and len(out) >= limit:
            break
    return list(out)


def by_category(client: ActionApiClient, category: str, *, depth: int = 0, limit: int | None = None) -> list[str]:
    """Files in ``category`` and, down to ``depth`` levels, its subcategories."""
    return _names(client.category_members(category, depth=depth, member_type="file"), limit)


def by_depicts(client: ActionApiClient, qid: str, *, prop: str = "P180", limit: int | None = None) -> list[str]:
    """Files whose structured data says ``prop`` (default depicts, P180) = ``qid``."""
    return _names(client.search_files(depicts_query(qid, prop), limit=limit), limit)


def by_search(client: ActionApiClient, query: str, *, limit: int | None = None) -> list[str]:
    """Files matching a CirrusSearch query in the File namespace."""
    return _names(client.search_files(query, limit=limit), limit)


def by_article(
    lake: Lake, wiki: str, snapshot: str | None = None, *, lead_only: bool = False, limit: int | None = None
) -> list[str]:
    """Files used by the wiki's articles (``article_images``; default the published snapshot),
    sorted by name."""
    table = lake.read("article_images", wiki, snapshot, columns=["file_name", "is_lead"])
    if lead_only:
        table = table.filter(pc.field("is_lead"))
    names = sorted(set(table.column("file_name").to_pylist()))
    return names[:limit] if limit else names


def from_file(path: str | Path, *, limit: int | None = None) -> list[str]:
    """One file name or ``File:`` title per line; blank lines and ``#`` comments ignored."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read titles: {exc}", source=str(p)) from exc
    titles = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "|" in line or "\t" in line:
            raise InputError("a title cannot contain '|' or a tab", source=str(p), line=number)
        titles.append(line)
    return _names(titles, limit)

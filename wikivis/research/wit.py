"""WIT (Wikipedia-based Image Text) rows ↔ the lake's datasets.

**Import** (:func:`import_wit`): each WIT row is one image shown on one article of one
language edition.  It becomes, for wiki ``<language>wiki`` (``zh-TW`` → ``zh_twwiki``):

* ``pages`` / ``article_images`` — the article and its image (``is_lead`` = ``is_main_image``);
* ``article_image_captions`` — ``caption`` = ``caption_reference_description`` (the caption
  under the image in the article), ``alt`` = ``caption_alt_text_description``, source ``wit``,
  ``position`` = the row's order among the page's rows in the file;
* ``file_captions`` (Commons-wide, under the Commons wiki) — ``text`` =
  ``caption_attribution_description`` (the file's Commons description in that language),
  source ``wit``.

WIT has no page ids, only page URLs.  Imported pages get a *negative* id derived from the
title (:func:`wit_page_id`): stable across reruns, never equal to a real (positive) MediaWiki
id, so WIT-derived rows cannot be confused with dump- or replica-derived ones.  ``files`` is
not written: WIT lacks the sha1, size and timestamp its schema requires.

The datasets are written as a snapshot and **not published** unless asked: a WIT import only
covers illustrated pages, and publishing its ``pages`` would hide the wiki's other articles.

**Export** (:func:`export_wit`): the wiki's published data in WIT's 17 columns, so WIT users
can take fresh data from wikivis.  Fields wikivis does not know (section titles, context
descriptions, the language-id flag) are empty, as WIT itself leaves them when unknown.

Memory: the import keeps the output rows (not WIT's long context columns) until it writes;
split a 2.5 GB shard's worth of rows accordingly.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from wikivis.errors import NotFoundError
from wikivis.research.files import WIT_COLUMNS, read_wit
from wikivis.vocab import staged_path

if TYPE_CHECKING:
    import pyarrow as pa

    from wikivis.lake import Lake

_LANG_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$", re.IGNORECASE)


def wiki_of_language(language: str) -> str:
    """WIT's language code → wikivis's wiki id (``en`` → ``enwiki``, ``zh-TW`` → ``zh_twwiki``)."""
    if not _LANG_RE.match(language):
        raise ValueError(f"not a language code: {language!r}")
    return language.lower().replace("-", "_") + "wiki"


def language_of_wiki(wiki: str) -> str:
    return wiki.removesuffix("wiki").replace("_", "-")


def wit_page_id(wiki: str, title: str) -> int:
    """A stable negative page id for a WIT page (WIT has titles, not ids)."""
    digest = hashlib.sha1(f"{wiki}\x00{title}".encode()).digest()
    return -(int.from_bytes(digest[:7], "big") + 1)


def title_from_page_url(url: str) -> str | None:
    path = unquote(urlsplit(url).path)
    if "/wiki/" not in path:
        return None
    return path.split("/wiki/", 1)[1].replace("_", " ") or None


@dataclass
class WitImport:
    rows: int = 0
    wikis: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    snapshot: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "wikis": self.wikis, "written": self.written, "skipped": self.skipped,
                "snapshot": self.snapshot}


def import_wit(
    lake: Lake, path: str | Path, snapshot: str, *, commons_wiki: str = "commonswiki", publish: bool = False,
    run_id: str | None = None,
) -> WitImport:
    """Map one WIT file onto the lake (see module doc); returns counts per wiki and dataset."""
    summary = WitImport(snapshot=snapshot)
    pages: dict[str, dict[int, str]] = defaultdict(dict)
    images: dict[str, dict[tuple[int, str], bool]] = defaultdict(dict)
    captions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    file_caps: dict[tuple[str, str], str] = {}
    positions: dict[tuple[str, int], int] = defaultdict(int)
    skipped: dict[str, int] = defaultdict(int)
    for row in read_wit(path):
        summary.rows += 1
        try:
            wiki = wiki_of_language(row["language"])
        except ValueError:
            skipped["bad_language"] += 1
            continue
        title = title_from_page_url(row["page_url"]) or (row["page_title"] or "").strip()
        name = row["file_name"]
        if not title or not name:
            skipped["unmapped_url"] += 1
            continue
        db_title = title.replace(" ", "_")
        page_id = wit_page_id(wiki, db_title)
        summary.wikis[wiki] = summary.wikis.get(wiki, 0) + 1
        pages[wiki][page_id] = db_title
        images[wiki][(page_id, name)] = images[wiki].get((page_id, name), False) or bool(row["is_main_image"])
        caption = (row["caption_reference_description"] or "").strip() or None
        alt = (row["caption_alt_text_description"] or "").strip() or None
        if caption or alt:
            pos = positions[(wiki, page_id)]
            positions[(wiki, page_id)] = pos + 1
            captions[wiki].append({"wiki": wiki, "page_id": page_id, "position": pos, "file_name": name,
                                   "caption": caption, "alt": alt, "source": "wit"})
        attribution = (row["caption_attribution_description"] or "").strip()
        if attribution:
            file_caps.setdefault((name, row["language"].lower()), attribution)
    tables: list[tuple[str, str, pa.Table]] = []
    for wiki in sorted(summary.wikis):
        plist = sorted(pages[wiki].items())
        tables.append(("pages", wiki, lake_table("pages", {
            "wiki": [wiki] * len(plist), "page_id": [p for p, _ in plist], "page_namespace": [0] * len(plist),
            "page_title": [t for _, t in plist], "is_redirect": [False] * len(plist)})))
        ilist = sorted(images[wiki].items())
        tables.append(("article_images", wiki, lake_table("article_images", {
            "wiki": [wiki] * len(ilist), "page_id": [p for (p, _), _ in ilist], "page_namespace": [0] * len(ilist),
            "page_title": [pages[wiki][p] for (p, _), _ in ilist], "file_name": [n for (_, n), _ in ilist],
            "is_lead": [lead for _, lead in ilist]})))
        if captions[wiki]:
            rows = sorted(captions[wiki], key=lambda r: (r["page_id"], r["position"]))
            tables.append(("article_image_captions", wiki, lake_table(
                "article_image_captions", {k: [r[k] for r in rows] for k in rows[0]})))
    if file_caps:
        flist = sorted(file_caps.items())
        tables.append(("file_captions", commons_wiki, lake_table("file_captions", {
            "file_name": [n for (n, _), _ in flist], "language": [lang for (_, lang), _ in flist],
            "text": [t for _, t in flist], "source": ["wit"] * len(flist)})))
    for dataset, wiki, table in tables:
        lake.write(dataset, wiki, snapshot, table, run_id=run_id)
        if publish:
            lake.publish(dataset, wiki, snapshot)
        summary.written[f"{dataset}/{wiki}"] = table.num_rows
    summary.skipped = dict(skipped)
    return summary


def lake_table(dataset: str, columns: dict[str, list[Any]]) -> pa.Table:
    """``columns`` as a table of the lake ``dataset`` schema; absent columns are null."""
    import pyarrow as pa

    from wikivis.datasets import schema

    s = schema(dataset)
    n = len(next(iter(columns.values())))
    return pa.table({f.name: pa.array(columns.get(f.name, [None] * n), f.type) for f in s}, schema=s)


# --------------------------------------------------------------------------- export


def upload_url(file_name: str) -> str:
    """The Commons upload URL of a file (``/<h>/<hh>/<name>``, ``h`` = md5 of the DB key)."""
    h = hashlib.md5(file_name.encode()).hexdigest()
    return f"https://upload.wikimedia.org/wikipedia/commons/{h[0]}/{h[:2]}/{quote(file_name)}"


def _read_optional(lake: Lake, dataset: str, wiki: str, columns: list[str] | None = None) -> pa.Table | None:
    if lake.current(dataset, wiki) is None:
        return None
    return lake.read(dataset, wiki, columns=columns)


def wit_rows(lake: Lake, wiki: str, *, commons_wiki: str = "commonswiki") -> Iterator[dict[str, Any]]:
    """The published data of ``wiki`` as WIT rows (dicts keyed by :data:`WIT_COLUMNS`)."""
    images = _read_optional(lake, "article_images", wiki)
    if images is None:
        raise NotFoundError(f"no published article_images for {wiki}: nothing to export")
    language = language_of_wiki(wiki)
    caps: dict[tuple[int, str], tuple[str | None, str | None]] = {}
    table = _read_optional(lake, "article_image_captions", wiki)
    if table is not None:
        for r in table.to_pylist():
            caps.setdefault((r["page_id"], r["file_name"]), (r["caption"], r["alt"]))
    attribution: dict[str, str] = {}
    for owner in (commons_wiki, wiki):
        fc = _read_optional(lake, "file_captions", owner)
        if fc is not None:
            for r in fc.to_pylist():
                if r["language"] == language:
                    attribution.setdefault(r["file_name"], r["text"])
    files: dict[str, dict[str, Any]] = {}
    for owner in (commons_wiki, wiki):
        ft = _read_optional(lake, "files", owner, ["file_name", "mime", "width", "height"])
        if ft is not None:
            for r in ft.to_pylist():
                files.setdefault(r["file_name"], r)
    for r in sorted(images.to_pylist(), key=lambda r: (r["page_id"], r["file_name"])):
        title = r["page_title"]
        cap, alt = caps.get((r["page_id"], r["file_name"]), (None, None))
        f = files.get(r["file_name"], {})
        yield {
            "language": language,
            "page_url": f"https://{language}.wikipedia.org/wiki/{quote(title)}",
            "image_url": upload_url(r["file_name"]),
            "page_title": title.replace("_", " "),
            "section_title": "",
            "hierarchical_section_title": title.replace("_", " "),
            "caption_reference_description": cap or "",
            "caption_attribution_description": attribution.get(r["file_name"], ""),
            "caption_alt_text_description": alt or "",
            "mime_type": f.get("mime") or "",
            "original_height": "" if f.get("height") is None else f["height"],
            "original_width": "" if f.get("width") is None else f["width"],
            "is_main_image": "true" if r["is_lead"] else "false",
            "attribution_passes_lang_id": "",
            "page_changed_recently": "",
            "context_page_description": "",
            "context_section_description": "",
        }


def _open_out(path: Path, *, gz: bool) -> IO[str]:
    if gz:
        return io.TextIOWrapper(gzip.GzipFile(path, "wb"), encoding="utf-8", newline="")
    return path.open("w", encoding="utf-8", newline="")


def export_wit(lake: Lake, wiki: str, out: str | Path, *, commons_wiki: str = "commonswiki") -> int:
    """Write ``wiki``'s rows as a WIT TSV (gzipped when ``out`` ends in ``.gz``); returns rows."""
    target = Path(out)
    n = 0
    with staged_path(target) as tmp, _open_out(tmp, gz=target.name.endswith(".gz")) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(WIT_COLUMNS), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        for row in wit_rows(lake, wiki, commons_wiki=commons_wiki):
            writer.writerow(row)
            n += 1
    return n


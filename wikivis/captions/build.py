"""Build the caption datasets: ``article_image_captions`` (from wikitext) and ``file_captions``.

Two ways to the article texts, the same rows either way:

* **full rebuild** (:func:`from_dump`) — the wiki's ``pages-articles`` XML dump (dumpstatus
  job ``articlesdump``), downloaded and verified by :class:`~wikivis.sources.dumps.DumpsClient`
  and read streaming (:mod:`wikivis.dumps.articles`): namespace 0, no redirects.
* **incremental** (:func:`from_api`) — the current texts of the pages that changed
  (``prop=revisions``, 50 per request, :func:`wikivis.sources.content.page_contents`); their
  rows replace theirs in the previous snapshot (:func:`merge`), deleted pages drop out.

Rows are made in batches of pages, so memory is one batch of pages' rows plus the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wikivis.captions.extract import extract
from wikivis.datasets import SORT_KEYS
from wikivis.datasets import schema as dataset_schema
from wikivis.vocab import NS_MAIN

if TYPE_CHECKING:
    import pyarrow as pa

    from wikivis.config import Settings

BATCH_PAGES = 2000


@dataclass
class ExtractStats:
    pages: int = 0
    pages_with_images: int = 0
    images: int = 0
    captions: int = 0
    alts: int = 0
    failed_pages: int = 0
    failures: list[str] = field(default_factory=list)
    source: str = ""
    dump: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "failures"} | {"failures": self.failures[:20]}


def _table(rows: dict[str, list[Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.table(rows, schema=dataset_schema("article_image_captions"))


def _empty_rows() -> dict[str, list[Any]]:
    return {name: [] for name in dataset_schema("article_image_captions").names}


def _extract_chunk(wiki: str, chunk: list[tuple[int, str]]) -> list[tuple[int, list[Any] | str]]:
    """Worker side: ``(page_id, [ImageCaption…])`` or ``(page_id, "error text")`` per page."""
    out: list[tuple[int, list[Any] | str]] = []
    for page_id, text in chunk:
        try:
            out.append((page_id, extract(text, wiki=wiki)))
        except Exception as exc:  # mwparserfromhell bugs on pathological input: count, go on
            out.append((page_id, f"{exc.__class__.__name__}: {exc}"))
    return out


def _extracted(wiki: str, pages: Iterable[tuple[int, str]], workers: int,
               chunk_pages: int = 200) -> Iterator[tuple[int, list[Any] | str]]:
    """Extraction results in page order; ``workers`` > 1 parses in that many processes with
    at most ``2 * workers`` chunks in flight (memory stays bounded on a 100 GB dump)."""
    if workers <= 1:
        for page_id, text in pages:
            yield from _extract_chunk(wiki, [(int(page_id), text)])
        return
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from itertools import islice

    source = iter((int(p), t) for p, t in pages)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[Any] = deque()
        while True:
            while len(pending) < 2 * workers:
                chunk = list(islice(source, chunk_pages))
                if not chunk:
                    break
                pending.append(pool.submit(_extract_chunk, wiki, chunk))
            if not pending:
                return
            yield from pending.popleft().result()


def caption_batches(wiki: str, pages: Iterable[tuple[int, str]], stats: ExtractStats,
                    *, batch_pages: int = BATCH_PAGES, workers: int = 1) -> Iterator[pa.Table]:
    """``(page_id, wikitext)`` → tables of ``article_image_captions`` rows, batch by batch.

    A page whose text cannot be parsed is counted (``failed_pages``) and skipped, never fatal."""
    rows = _empty_rows()
    in_batch = 0
    for page_id, result in _extracted(wiki, pages, workers):
        stats.pages += 1
        in_batch += 1
        if isinstance(result, str):
            stats.failed_pages += 1
            stats.failures.append(f"page {page_id}: {result}")
            found = []
        else:
            found = result
        if found:
            stats.pages_with_images += 1
        for item in found:
            rows["wiki"].append(wiki)
            rows["page_id"].append(int(page_id))
            rows["position"].append(item.position)
            rows["file_name"].append(item.file_name)
            rows["caption"].append(item.caption)
            rows["alt"].append(item.alt)
            rows["source"].append(item.source)
            stats.images += 1
            stats.captions += item.caption is not None
            stats.alts += item.alt is not None
        if in_batch >= batch_pages:
            yield _table(rows)
            rows, in_batch = _empty_rows(), 0
    if rows["page_id"]:
        yield _table(rows)


def collect(wiki: str, pages: Iterable[tuple[int, str]], stats: ExtractStats, *, workers: int = 1) -> pa.Table:
    """All rows of ``pages``, sorted by the dataset's key."""
    import pyarrow as pa

    batches = list(caption_batches(wiki, pages, stats, workers=workers))
    table = pa.concat_tables(batches) if batches else _table(_empty_rows())
    return table.sort_by([(k, "ascending") for k in SORT_KEYS["article_image_captions"]])


def from_dump(settings: Settings, wiki: str, date: str = "latest", *, path: Path | None = None,
              stats: ExtractStats | None = None) -> pa.Table:
    """Every article's images from the pages-articles dump (downloaded unless ``path`` is given)."""
    from wikivis.dumps.articles import ReadStats, read_pages

    stats = stats or ExtractStats()
    stats.source = "dump"
    if path is None:
        from wikivis.sources.dumps import DumpsClient

        fetched = DumpsClient(settings).fetch(wiki, date, tables=("pages-articles",))
        path = fetched.path("pages-articles")
        stats.dump = f"{wiki}/{fetched.date}"
    read = ReadStats()
    return collect(wiki, ((p.page_id, p.text) for p in read_pages(path, stats=read)), stats,
                   workers=settings.caption_workers)


def from_api(settings: Settings, wiki: str, page_ids: Iterable[int], *, stats: ExtractStats | None = None,
             client: Any = None) -> tuple[pa.Table, set[int]]:
    """Rows of the given pages from their current text; also the ids that are gone (deleted,
    or no longer articles), whose old rows must drop out."""
    from wikivis.sources.commons import ActionApiClient
    from wikivis.sources.content import page_contents

    stats = stats or ExtractStats()
    stats.source = "api"
    client = client or ActionApiClient.from_settings(settings, wiki)
    gone: set[int] = set()
    texts: list[tuple[int, str]] = []
    for page in page_contents(client, page_ids=page_ids):
        if page.problem or page.content is None or page.namespace not in (NS_MAIN, None) or page.content_model not in (None, "wikitext"):
            gone.add(int(page.requested))
            continue
        texts.append((int(page.page_id or page.requested), page.content))
    return collect(wiki, texts, stats), gone


def merge(previous: pa.Table | None, fresh: pa.Table, refreshed: Iterable[int]) -> pa.Table:
    """``previous`` without the refreshed pages' rows, plus ``fresh``; sorted."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if previous is None or previous.num_rows == 0:
        merged = fresh
    else:
        drop = pa.array(sorted(set(refreshed)), type=pa.int64())
        kept = previous.filter(pc.invert(pc.is_in(previous.column("page_id"), value_set=drop)))
        merged = pa.concat_tables([kept.cast(fresh.schema), fresh])
    return merged.sort_by([(k, "ascending") for k in SORT_KEYS["article_image_captions"]])


# --------------------------------------------------------------------------- file captions
def file_caption_rows(settings: Settings, names: Sequence[str], *, client: Any = None) -> pa.Table:
    """``file_captions``: MediaInfo labels and ImageDescription of every file, each language."""
    import pyarrow as pa

    from wikivis.sources.commons import ActionApiClient
    from wikivis.sources.content import file_captions

    client = client or ActionApiClient.from_settings(settings)
    rows: dict[str, list[str]] = {"file_name": [], "language": [], "text": [], "source": []}
    for item in file_captions(client, names):
        for source, texts in (("mediainfo", item.labels), ("imagedescription", item.descriptions)):
            for lang, text in sorted(texts.items()):
                rows["file_name"].append(item.file_name)
                rows["language"].append(lang)
                rows["text"].append(text)
                rows["source"].append(source)
    table = pa.table(rows, schema=dataset_schema("file_captions"))
    return table.sort_by([(k, "ascending") for k in SORT_KEYS["file_captions"]])

"""Streaming reader of ``pages-articles`` XML dumps (``.xml``, ``.xml.bz2``, ``.xml.gz``).

The export format (0.10/0.11) is ``<mediawiki><siteinfo/><page><title/><ns/><id/>
[<redirect title=…/>]<revision><id/>…<text xml:space="preserve">…</text></revision></page>…``.
English Wikipedia's file is ~25 GB of bz2, so the reader never holds more than one page:
:func:`xml.etree.ElementTree.iterparse` on the decompressing stream, each ``<page>``
element cleared once it has been read, and the root's children dropped as they complete
(``iterparse`` otherwise keeps every finished element attached to the root, and memory
grows with the file).  The namespace URI of the export schema changes with its version,
so tags are matched by local name.

A truncated or corrupt file raises :class:`~wikivis.errors.InputError` naming the file
and the page count so far; pages of other namespaces, redirects and non-wikitext models
(Lua, JSON) are skipped by default (counted in :class:`ReadStats`).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import xml.etree.ElementTree as ET
from collections.abc import Container, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from wikivis.errors import InputError


@dataclass(frozen=True)
class DumpPage:
    page_id: int
    namespace: int
    title: str
    rev_id: int | None
    timestamp: str | None
    text: str
    is_redirect: bool = False
    model: str | None = None


@dataclass
class ReadStats:
    pages: int = 0
    yielded: int = 0
    skipped_namespace: int = 0
    skipped_redirect: int = 0
    skipped_model: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def _open(path: Path) -> IO[bytes]:
    name = path.name.lower()
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    if name.endswith((".xz", ".7z")):
        return lzma.open(path, "rb")
    return path.open("rb")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for child in elem:
        if _local(child.tag) == name:
            return child
    return None


def _text(elem: ET.Element | None) -> str | None:
    return None if elem is None else (elem.text or "")


def read_pages(
    path: str | Path,
    *,
    namespaces: Container[int] | None = (0,),
    skip_redirects: bool = True,
    stats: ReadStats | None = None,
) -> Iterator[DumpPage]:
    """Each page of the dump (namespace 0, not redirects, wikitext by default), in file order."""
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    with ExitStack() as stack:
        try:
            stream = stack.enter_context(_open(path))
        except OSError as exc:
            raise InputError(f"cannot open the XML dump: {exc}", source=str(path)) from exc
        root: ET.Element | None = None
        try:
            for event, elem in ET.iterparse(stream, events=("start", "end")):
                if event == "start":
                    if root is None:
                        root = elem
                    continue
                if _local(elem.tag) != "page":
                    continue
                stats.pages += 1
                page = _page(elem, path, stats.pages)
                elem.clear()
                if root is not None:
                    root.clear()  # drop finished pages (and siteinfo) from the tree
                if namespaces is not None and page.namespace not in namespaces:
                    stats.skipped_namespace += 1
                    continue
                if skip_redirects and page.is_redirect:
                    stats.skipped_redirect += 1
                    continue
                if page.model not in (None, "wikitext"):
                    stats.skipped_model += 1
                    continue
                stats.yielded += 1
                yield page
        except ET.ParseError as exc:
            raise InputError(f"malformed XML after {stats.pages} page(s): {exc}", source=str(path)) from exc
        except (OSError, EOFError, lzma.LZMAError) as exc:  # truncated/corrupt compression
            raise InputError(f"corrupt or truncated dump after {stats.pages} page(s): {exc}", source=str(path)) from exc


def _page(elem: ET.Element, path: Path, number: int) -> DumpPage:
    try:
        page_id = int(_text(_child(elem, "id")) or "")
        namespace = int(_text(_child(elem, "ns")) or "0")
    except ValueError:
        raise InputError(f"page #{number} has no numeric <id>/<ns>", source=str(path)) from None
    title = _text(_child(elem, "title")) or ""
    revision = _child(elem, "revision")
    rev_id = timestamp = model = None
    text = ""
    if revision is not None:
        rid = _text(_child(revision, "id"))
        rev_id = int(rid) if rid and rid.isdigit() else None
        timestamp = _text(_child(revision, "timestamp"))
        model = _text(_child(revision, "model"))
        text_elem = _child(revision, "text")
        text = (text_elem.text or "") if text_elem is not None else ""
    return DumpPage(page_id, namespace, title, rev_id, timestamp, text, _child(elem, "redirect") is not None, model)

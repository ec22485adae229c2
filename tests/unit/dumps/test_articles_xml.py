"""The streaming pages-articles XML reader: formats, filtering, corrupt files, flat memory."""

from __future__ import annotations

import bz2
import gzip
import tracemalloc
from pathlib import Path

import pytest

from wikivis.dumps.articles import ReadStats, read_pages
from wikivis.errors import InputError

HEAD = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">\n'
        "<siteinfo><sitename>X</sitename><namespaces><namespace key=\"0\" /></namespaces></siteinfo>\n")


def page(page_id: int, title: str, text: str, *, ns: int = 0, redirect: bool = False, model: str = "wikitext") -> str:
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f"<page><title>{title}</title><ns>{ns}</ns><id>{page_id}</id>"
            + ('<redirect title="T" />' if redirect else "")
            + f"<revision><id>{page_id * 10}</id><timestamp>2026-01-01T00:00:00Z</timestamp>"
            f"<model>{model}</model><format>text/x-wiki</format>"
            f'<text bytes="{len(text)}" xml:space="preserve">{esc}</text></revision></page>\n')


def write(path: Path, body: str) -> Path:
    data = (HEAD + body + "</mediawiki>\n").encode()
    if path.suffix == ".bz2":
        path.write_bytes(bz2.compress(data))
    elif path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("suffix", [".xml", ".xml.bz2", ".xml.gz"])
def test_reads_articles_and_skips_the_rest(tmp_path, suffix):
    body = (page(1, "A", "[[File:A.jpg|thumb|<b>a</b> & co]]") + page(2, "User:B", "x", ns=2)
            + page(3, "C", "#REDIRECT [[A]]", redirect=True) + page(4, "Module:D", "return {}", ns=0, model="Scribunto")
            + page(5, "É", "[[Datei:É.jpg]]"))
    stats = ReadStats()
    pages = list(read_pages(write(tmp_path / f"d{suffix}", body), stats=stats))
    assert [(p.page_id, p.title, p.rev_id) for p in pages] == [(1, "A", 10), (5, "É", 50)]
    assert pages[0].text == "[[File:A.jpg|thumb|<b>a</b> & co]]"
    assert (stats.pages, stats.skipped_namespace, stats.skipped_redirect, stats.skipped_model) == (5, 1, 1, 1)
    every = list(read_pages(tmp_path / f"d{suffix}", namespaces=None, skip_redirects=False))
    assert len(every) == 4  # the Scribunto page is not wikitext


def test_truncated_and_malformed_files_are_input_errors(tmp_path):
    good = write(tmp_path / "g.xml.bz2", page(1, "A", "x") * 3)
    cut = tmp_path / "cut.xml.bz2"
    cut.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(InputError, match=r"cut\.xml\.bz2"):
        list(read_pages(cut))
    bad = tmp_path / "bad.xml"
    bad.write_text(HEAD + "<page><title>A</title><ns>0</ns><id>1</id><revision><text>x</revision></page>")
    with pytest.raises(InputError, match="malformed XML"):
        list(read_pages(bad))
    noid = tmp_path / "noid.xml"
    noid.write_text(HEAD + "<page><title>A</title><ns>0</ns><revision><text>x</text></revision></page></mediawiki>")
    with pytest.raises(InputError, match="numeric"):
        list(read_pages(noid))
    with pytest.raises(InputError, match="cannot open"):
        list(read_pages(tmp_path / "missing.xml"))


def test_memory_stays_flat_over_many_pages(tmp_path):
    text = "[[File:A.jpg|thumb|caption]] " + "lorem ipsum " * 200  # ~2.4 kB a page
    path = tmp_path / "big.xml.bz2"
    with bz2.open(path, "wt", encoding="utf-8") as out:
        out.write(HEAD)
        for i in range(1, 6001):
            out.write(page(i, f"P{i}", text))
        out.write("</mediawiki>\n")
    tracemalloc.start()
    count = 0
    for p in read_pages(path):
        count += 1
        assert p.text.startswith("[[File:")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 6000
    assert peak < 4 * 1024 * 1024, peak  # the file holds ~15 MB of text

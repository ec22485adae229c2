"""The ``pages-articles`` XML dump of a sample wiki (export format 0.11), as the dumps
server lists it: job ``articlesdump``, file ``<wiki>-<date>-pages-articles.xml.bz2``.

One ``<page>`` per page of the day's state (every namespace, redirects with
``<redirect title=…/>``), each with its current ``<revision>``: ids, timestamp,
contributor, ``<model>``/``<format>``, ``<text bytes=… xml:space="preserve">`` (the
generated wikitext of :func:`wikivis.sample.captions.article_wikitext`) and the text's
base-36 ``<sha1>``, as ``dumpBackup.php`` writes them.
"""

from __future__ import annotations

import bz2
import hashlib
from xml.sax.saxutils import escape

from wikivis.datasets import hex_to_base36
from wikivis.sample import SampleWiki
from wikivis.sample.captions import article_wikitext
from wikivis.sample.events import NAMESPACE_PREFIX

EXPORT_NS = "http://www.mediawiki.org/xml/export-0.11/"
JOB = "articlesdump"


def articles_file_name(wiki: str, date: str) -> str:
    return f"{wiki}-{date}-pages-articles.xml.bz2"


def _iso(ts: str) -> str:
    return f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"


def articles_xml(sample: SampleWiki, wiki: str, day: int) -> bytes:
    """The uncompressed XML of the wiki's pages on ``day``."""
    rows = sample.state(day).tables_for(wiki)["page"]
    namespaces = "".join(
        f'      <namespace key="{k}" case="first-letter">{escape(v.rstrip(":"))}</namespace>\n'
        for k, v in sorted(NAMESPACE_PREFIX.items()) if v
    )
    parts = [
        f'<mediawiki xmlns="{EXPORT_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{EXPORT_NS} http://www.mediawiki.org/xml/export-0.11.xsd" version="0.11" xml:lang="en">\n'
        "  <siteinfo>\n    <sitename>Sample Wiki</sitename>\n"
        f"    <dbname>{escape(wiki)}</dbname>\n    <base>https://sample.wikipedia.org/wiki/Main_Page</base>\n"
        "    <generator>MediaWiki 1.45.0-wmf.1</generator>\n    <case>first-letter</case>\n"
        f'    <namespaces>\n      <namespace key="0" case="first-letter" />\n{namespaces}    </namespaces>\n  </siteinfo>\n'
    ]
    for row in rows:
        text = article_wikitext(sample, row["page_id"], day) or ""
        title = NAMESPACE_PREFIX.get(row["page_namespace"], "") + row["page_title"].replace("_", " ")
        redirect = '    <redirect title="Main Page" />\n' if row["page_is_redirect"] else ""
        sha1 = hex_to_base36(hashlib.sha1(text.encode()).hexdigest())
        parts.append(
            f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{row['page_namespace']}</ns>\n"
            f"    <id>{row['page_id']}</id>\n{redirect}    <revision>\n      <id>{row['page_latest']}</id>\n"
            f"      <parentid>{max(0, row['page_latest'] - 1)}</parentid>\n"
            f"      <timestamp>{_iso(row['page_touched'])}</timestamp>\n"
            "      <contributor>\n        <username>Alice</username>\n        <id>1000</id>\n      </contributor>\n"
            "      <comment>sample edit</comment>\n      <origin>" + str(row["page_latest"]) + "</origin>\n"
            "      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
            f'      <text bytes="{len(text.encode())}" sha1="{sha1}" xml:space="preserve">{escape(text)}</text>\n'
            f"      <sha1>{sha1}</sha1>\n    </revision>\n  </page>\n"
        )
    parts.append("</mediawiki>\n")
    return "".join(parts).encode()


def articles_dump(sample: SampleWiki, wiki: str, day: int) -> bytes:
    """The bz2-compressed dump file."""
    return bz2.compress(articles_xml(sample, wiki, day), 9)


__all__ = ["JOB", "articles_dump", "articles_file_name", "articles_xml"]

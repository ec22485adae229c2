"""Build the lake datasets of one dump snapshot: ``pages``, ``article_images``,
``article_categories`` (article wiki) and ``files`` (Commons ``image`` table).

Steps: choose and download the runs (:class:`~wikivis.sources.dumps.DumpsClient`), stream
each table to Parquet with only the columns needed (``<raw>/dumps/<wiki>/<date>/parsed/``,
reused when the source file's sha1 is unchanged), then join them out of core with DuckDB
(:mod:`wikivis.dumps.outofcore`, ``sql/ingest/*.sql``) within ``Settings.memory_limit``
and stream each dataset, already sorted, into the lake batch by batch:

* ``pages`` — ``page`` rows in namespace 0 (redirects included, flagged).
* ``article_images`` — ``imagelinks`` from namespace-0 pages → ``linktarget`` (namespace 6:
  the file name is ``lt_title``) → ``page``; ``is_lead`` when the pair is the page's
  PageImages ``page_image`` or ``page_image_free`` property.  Dumps from before the
  ``il_to`` removal (MediaWiki 1.46) are read through ``il_to`` instead — the schema is
  detected from each file's own ``CREATE TABLE``.
* ``article_categories`` — ``categorylinks`` → ``linktarget`` namespace 14 (or legacy
  ``cl_to``), for namespace-0 pages.
* ``article_items`` — the ``wikibase_item`` page prop of each non-redirect article: the
  Wikidata item it describes (values that are not a Q-id are dropped).
* ``files`` — Commons' ``image`` table from the newest complete commonswiki run *at or before*
  the article run's date; ``img_sha1`` (base 36) becomes hex, the MIME type is
  ``major/minor``.

Snapshot ids are the dump dates (``YYYYMMDD``).  Every input is parsed, and the values a
join could still trip on are checked (:meth:`~wikivis.dumps.outofcore.JoinEngine.check`),
before the first write, so a bad file (an ``InputError`` naming it) leaves the lake
untouched; writes use :meth:`wikivis.lake.Lake.write` (staged) and are not published
(publishing happens after gates).

``build_pages``, ``build_article_images``, ``build_article_categories`` and ``build_files``
are the in-memory builders the ingest used before it ran out of core.  They are kept,
unchanged in meaning, as the exact oracle the out-of-core path is tested against (and for
callers holding small Arrow tables); ``ingest`` does not use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from wikivis.config import Settings, check_wiki_name
from wikivis.datasets import base36_to_hex
from wikivis.datasets import schema as dataset_schema
from wikivis.dumps.outofcore import JoinEngine, ParsedTable, trim_heap
from wikivis.dumps.parser import DumpParser, ParseStats, parse_to_parquet, parsed_meta
from wikivis.errors import InputError
from wikivis.sources.dumps import DumpsClient, FetchedFile, RunFiles
from wikivis.vocab import NS_CATEGORY, NS_FILE, NS_MAIN

WIKI_TABLES = ("page", "imagelinks", "page_props", "categorylinks")
LEAD_PROPS = ("page_image", "page_image_free")
#: page_props kept from the dump: the PageImages leads and the Wikidata item
KEPT_PROPS = (*LEAD_PROPS, "wikibase_item")
#: a Wikidata item id as page_props.wikibase_item holds it (anything else is dropped)
ITEM_PATTERN = r"^Q[1-9][0-9]*$"

#: columns kept from each table (the first alternative present in the file's DDL is used)
COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "page": (("page_id",), ("page_namespace",), ("page_title",), ("page_is_redirect",)),
    "linktarget": (("lt_id",), ("lt_namespace",), ("lt_title",)),
    # while a link table migrates, its dumps carry both columns: the old *_to (NOT NULL, still
    # authoritative) and a nullable *_target_id; read *_to whenever it is there
    "imagelinks": (("il_from",), ("il_from_namespace",), ("il_to", "il_target_id")),
    "page_props": (("pp_page",), ("pp_propname",), ("pp_value",)),
    "categorylinks": (("cl_from",), ("cl_to", "cl_target_id")),
    "image": (
        ("img_name",), ("img_size",), ("img_width",), ("img_height",), ("img_media_type",),
        ("img_major_mime",), ("img_minor_mime",), ("img_sha1",), ("img_timestamp",),
    ),
}


@dataclass
class IngestResult:
    """What one ingest wrote (nothing is published)."""

    wiki: str
    snapshot: str
    commons_wiki: str
    commons_snapshot: str
    rows: dict[str, int]
    manifests: dict[str, Any]  # dataset -> lake Manifest
    inputs: dict[str, str]  # file name -> sha1
    parse_stats: dict[str, ParseStats] = field(default_factory=dict)
    run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "wiki": self.wiki,
            "snapshot": self.snapshot,
            "commons_wiki": self.commons_wiki,
            "commons_snapshot": self.commons_snapshot,
            "rows": dict(self.rows),
            "inputs": dict(self.inputs),
            "run_id": self.run_id,
        }


def _choose_columns(path: Path, table: str) -> list[str]:
    with DumpParser(path, table=table) as parser:
        present = set(parser.spec.column_names)
    chosen = []
    for alternatives in COLUMNS[table]:
        found = next((c for c in alternatives if c in present), None)
        if found is None:
            raise InputError(
                f"table `{table}` has none of the columns {list(alternatives)} (it has {sorted(present)})",
                source=str(path),
            )
        chosen.append(found)
    return chosen


def _kept_props_only(batch: pa.RecordBatch) -> pa.RecordBatch:
    return batch.filter(pc.is_in(batch.column("pp_propname"), pa.array(KEPT_PROPS)))


def parse_table(
    fetched: FetchedFile,
    table: str,
    *,
    batch_filter: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None,
    cache_tag: str = "",
) -> tuple[ParsedTable, ParseStats]:
    """Parse one downloaded table to Parquet parts beside it (reused when already parsed from
    the same sha1 with the same ``cache_tag``, which names what ``batch_filter`` keeps); nothing
    is read back here (see :mod:`wikivis.dumps.outofcore`)."""
    out_dir = fetched.path.parent / "parsed" / f"{table}-{fetched.sha1[:12]}{cache_tag}"
    if not (out_dir / "_dump.json").exists() or parsed_meta(out_dir).get("source_sha1") != fetched.sha1:
        parse_to_parquet(
            fetched.path, out_dir, table=table, columns=_choose_columns(fetched.path, table),
            batch_filter=batch_filter, meta={"source_sha1": fetched.sha1},
        )
    meta = parsed_meta(out_dir)
    stats = ParseStats(**meta["stats"])
    return ParsedTable.from_dir(table, out_dir, meta, str(fetched.path)), stats


def _constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def build_pages(wiki: str, page: pa.Table) -> pa.Table:
    articles = page.filter(pc.equal(page["page_namespace"], NS_MAIN))
    return pa.table(
        {
            "wiki": _constant(wiki, articles.num_rows),
            "page_id": articles["page_id"].cast(pa.int64()),
            "page_namespace": articles["page_namespace"].cast(pa.int32()),
            "page_title": articles["page_title"],
            "is_redirect": pc.not_equal(articles["page_is_redirect"], 0),
        },
        schema=dataset_schema("pages"),
    )


def _link_targets(
    links: pa.Table, prefix: str, linktarget: pa.Table | None, namespace: int, name: str, source: str
) -> pa.Table:
    """``(page_id int64, <name>)`` of a link table, in either schema.

    Legacy rows carry the target title inline (``<prefix>_to``); current rows point at
    ``linktarget`` (``<prefix>_target_id``), joined here to its titles in ``namespace``.
    """
    if f"{prefix}_to" in links.column_names:
        pairs = links.select([f"{prefix}_from", f"{prefix}_to"])
    else:
        if linktarget is None:
            raise InputError("the run has no linktarget file, needed for the current link-table schema", source=source)
        titles = linktarget.filter(pc.equal(linktarget["lt_namespace"], namespace)).select(["lt_id", "lt_title"])
        pairs = links.join(titles, keys=f"{prefix}_target_id", right_keys="lt_id", join_type="inner")
        pairs = pairs.select([f"{prefix}_from", "lt_title"])
    pairs = pairs.rename_columns(["page_id", name])
    return pairs.set_column(0, "page_id", pairs["page_id"].cast(pa.int64()))


def build_article_images(
    wiki: str, pages: pa.Table, imagelinks: pa.Table, linktarget: pa.Table | None, page_props: pa.Table, source: str
) -> pa.Table:
    links = imagelinks.filter(pc.equal(imagelinks["il_from_namespace"], NS_MAIN))
    links = _link_targets(links, "il", linktarget, NS_FILE, "file_name", source)
    articles = pages.select(["page_id", "page_namespace", "page_title"])
    joined = links.join(articles, keys="page_id", join_type="inner")

    props = page_props.filter(pc.is_in(page_props["pp_propname"].cast(pa.binary()), pa.array(LEAD_PROPS, pa.binary())))
    props = props.select(["pp_page", "pp_value"])
    try:
        lead_names = props["pp_value"].cast(pa.string())
    except pa.ArrowInvalid as exc:
        raise InputError(f"a {'/'.join(LEAD_PROPS)} page_props value is not UTF-8", source=source) from exc
    leads = (
        pa.table({"page_id": props["pp_page"].cast(pa.int64()), "file_name": lead_names})
        .group_by(["page_id", "file_name"])
        .aggregate([])
    )
    leads = leads.append_column("lead", pa.array([True] * leads.num_rows, pa.bool_()))
    joined = joined.join(leads, keys=["page_id", "file_name"], join_type="left outer")
    return pa.table(
        {
            "wiki": _constant(wiki, joined.num_rows),
            "page_id": joined["page_id"],
            "page_namespace": joined["page_namespace"],
            "page_title": joined["page_title"],
            "file_name": joined["file_name"],
            "is_lead": pc.fill_null(joined["lead"], False),
        },
        schema=dataset_schema("article_images"),
    )


def build_article_items(wiki: str, pages: pa.Table, page_props: pa.Table) -> pa.Table:
    """``article_items``: the ``wikibase_item`` page prop of each article (namespace 0).

    Values that are not a Q-id (vandalism, a broken import) are dropped here, identically in
    the replica path; the gate checks the pattern again on what is written."""
    mask = pc.equal(page_props["pp_propname"].cast(pa.binary()), pa.scalar(b"wikibase_item", pa.binary()))
    props = page_props.filter(mask)
    values = props["pp_value"].cast(pa.binary())
    items = pa.table({"page_id": props["pp_page"].cast(pa.int64()), "item": values})
    items = items.filter(pc.match_substring_regex(values, ITEM_PATTERN))
    items = pa.table({"page_id": items["page_id"], "item": items["item"].cast(pa.string())})
    items = items.join(pages.filter(pc.invert(pages["is_redirect"])).select(["page_id"]), keys="page_id",
                       join_type="left semi")
    items = items.sort_by([("page_id", "ascending")])
    return pa.table(
        {"wiki": _constant(wiki, items.num_rows), "page_id": items["page_id"], "item": items["item"]},
        schema=dataset_schema("article_items"),
    )


def build_article_categories(
    wiki: str, pages: pa.Table, categorylinks: pa.Table, linktarget: pa.Table | None, source: str
) -> pa.Table:
    cats = _link_targets(categorylinks, "cl", linktarget, NS_CATEGORY, "category", source)
    cats = cats.join(pages.select(["page_id"]), keys="page_id", join_type="left semi")
    return pa.table(
        {"wiki": _constant(wiki, cats.num_rows), "page_id": cats["page_id"], "category": cats["category"]},
        schema=dataset_schema("article_categories"),
    )


def build_files(commons_wiki: str, image: pa.Table, source: str) -> pa.Table:
    try:
        sha1 = pa.array([base36_to_hex(v) for v in image["img_sha1"].to_pylist()], pa.string())
    except ValueError as exc:
        raise InputError(f"img_sha1 is not base 36: {exc}", source=source) from exc
    mime = pc.binary_join_element_wise(image["img_major_mime"], image["img_minor_mime"], "/")
    try:
        size = image["img_size"].cast(pa.int64())
    except pa.ArrowInvalid as exc:
        raise InputError(f"img_size out of range: {exc}", source=source) from exc
    return pa.table(
        {
            "wiki": _constant(commons_wiki, image.num_rows),
            "file_name": image["img_name"],
            "size": size,
            "width": image["img_width"].cast(pa.int32()),
            "height": image["img_height"].cast(pa.int32()),
            "media_type": image["img_media_type"],
            "mime": mime,
            "sha1": sha1,
            "timestamp": image["img_timestamp"],
        },
        schema=dataset_schema("files"),
    )


def _inputs(files: RunFiles) -> dict[str, str]:
    return {f.name: f.sha1 for f in files.files.values()}


def ingest(
    settings: Settings,
    wiki: str,
    date: str = "latest",
    *,
    lake: Any = None,
    run_id: str | None = None,
    client: DumpsClient | None = None,
    at_or_before: str | None = None,
) -> IngestResult:
    """Download, parse and join one dump snapshot of ``wiki`` (plus Commons' ``image``) into
    the lake.  Returns what was written; nothing is published.

    ``date="latest"`` with ``at_or_before=D`` takes the newest complete run dated D or earlier
    (what a nightly run wants: dumps come twice a month, EventStreams fills the days between).
    """
    from wikivis.lake import Lake

    check_wiki_name(wiki)
    lake = lake if lake is not None else Lake.from_settings(settings)
    client = client or DumpsClient(settings)
    run = client.fetch(wiki, date, WIKI_TABLES, optional=("linktarget",), at_or_before=at_or_before)
    commons = client.fetch(settings.commons_wiki, "latest", ("image",), at_or_before=run.date)

    parsed: dict[str, ParsedTable] = {}
    stats: dict[str, ParseStats] = {}
    for table, fetched in (*run.files.items(), ("image", commons.files["image"])):
        parsed[table], stats[table] = parse_table(
            fetched, table, batch_filter=_kept_props_only if table == "page_props" else None,
            cache_tag="-items" if table == "page_props" else "",
        )
    trim_heap()
    targets = {
        "pages": (wiki, run.date, _inputs(run)),
        "article_images": (wiki, run.date, _inputs(run)),
        "article_categories": (wiki, run.date, _inputs(run)),
        "article_items": (wiki, run.date, _inputs(run)),
        "files": (settings.commons_wiki, commons.date, _inputs(commons)),
    }
    manifests = {}
    scratch = run.files["page"].path.parent
    with JoinEngine(parsed, memory_limit=settings.memory_limit_bytes, temp_dir=scratch) as engine:
        engine.check()  # bad values fail here, before the first write
        for dataset, (target_wiki, snapshot, inputs) in targets.items():
            manifests[dataset] = lake.write(
                dataset, target_wiki, snapshot, engine.build(dataset, target_wiki), run_id=run_id,
                inputs=[f"{name} sha1:{sha1}" for name, sha1 in sorted(inputs.items())], presorted=True,
            )
    return IngestResult(
        wiki=wiki,
        snapshot=run.date,
        commons_wiki=settings.commons_wiki,
        commons_snapshot=commons.date,
        rows={d: m.rows for d, m in manifests.items()},
        manifests=manifests,
        inputs={**_inputs(run), **_inputs(commons)},
        parse_stats=stats,
        run_id=run_id,
    )

"""Synthetic dump sets shaped like English Wikipedia + Commons, at any scale, and a dumps
server for them — what ``bench/ingest_scale.py`` and the out-of-core ingest tests use.

:data:`FULL_ROWS` are the row counts of a full enwiki + Commons run (issue 19: 630 M rows,
110 M of them Commons' ``image``); :func:`generate_tables` draws ``scale`` of each with
enwiki-like shapes: namespaces (27 % of pages are articles, a third of those redirects),
link targets in the File (6) and Category (14) namespaces, imagelinks from every namespace
to mostly existing files, several categories per page, PageImages lead properties drawn from
the page's own image links, titles with apostrophes and non-ASCII letters (so escaping and
UTF-8 are exercised), 31-digit base-36 ``img_sha1``.  Keys are unique and each table is in
primary-key order, as ``mysqldump`` writes it.

:func:`write_dump_file` writes a table in the ``mariadb-dump`` layout of
:mod:`wikivis.mirror.dumpwriter` (same header, DDL and trailer), but builds the ``INSERT``
statements column-wise with Arrow compute, so a 10 M-row table takes seconds, not minutes.
Everything is vectorised numpy/Arrow and deterministic for a ``seed``.

:class:`ScaleDumpsService` serves one complete run per wiki from those files with the
dumps.wikimedia.org layout of :class:`~wikivis.mirror.dumps.DumpsService` (indexes,
``dumpstatus.json``, checksums, ``latest/``, ranges, the 2-connection limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wikivis.mirror.dumpwriter import TABLES, write_dump
from wikivis.vocab import NS_CATEGORY, NS_FILE, NS_MAIN, staged_path

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from wikivis.mirror.dumps import Run

#: rows of a full English Wikipedia + Commons run, per table (issue 19: 630 M in all)
FULL_ROWS: dict[str, int] = {
    "page": 63_000_000,
    "linktarget": 50_000_000,
    "imagelinks": 90_000_000,
    "categorylinks": 250_000_000,
    "page_props": 67_000_000,
    "image": 110_000_000,
}
WIKI_TABLES = ("page", "linktarget", "imagelinks", "page_props", "categorylinks")
COMMONS_TABLES = ("image",)
_B36 = b"0123456789abcdefghijklmnopqrstuvwxyz"
_TRAILER_START = b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n"


def _strings(prefix: str, numbers: np.ndarray, suffix: str = "") -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(pa.scalar(prefix), pa.array(numbers).cast(pa.string()), pa.scalar(suffix), "")


def _pick(rng: np.random.Generator, choices: list[Any], weights: list[float], n: int) -> np.ndarray:
    import numpy as np

    p = np.asarray(weights, dtype=float)
    return rng.choice(np.asarray(choices), size=n, p=p / p.sum())


def _titles(rng: np.random.Generator, stem: str, ids: np.ndarray) -> pa.Array:
    """Unique titles (one per id) with some apostrophes and non-ASCII letters."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(ids)
    flavour = _pick(rng, ["", "O'", "Café_", "Łódź_"], [0.9, 0.03, 0.04, 0.03], n)
    return pc.binary_join_element_wise(pa.array(flavour), _strings(f"{stem}_", ids), "")


def _unique_pairs(rng: np.random.Generator, left: np.ndarray, right: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """About ``n`` distinct (left, right) pairs drawn from the two pools, sorted (PK order)."""
    import numpy as np

    a = left[rng.integers(0, len(left), n)].astype(np.uint64)
    b = right[rng.integers(0, len(right), n)].astype(np.uint64)
    keys = np.unique((a << np.uint64(32)) | b)
    return (keys >> np.uint64(32)).astype(np.int64), (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _base36_sha1(rng: np.random.Generator, n: int) -> pa.Array:
    import numpy as np
    import pyarrow as pa

    digits = rng.integers(0, 36, (n, 31), dtype=np.uint8)
    digits[:, 0] = rng.integers(0, 29, n, dtype=np.uint8)  # below 2**160, like a real SHA-1
    chars = np.frombuffer(_B36, dtype=np.uint8)[digits]
    offsets = np.arange(0, 31 * (n + 1), 31, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def generate_tables(scale: float, seed: int = 0) -> dict[str, pa.Table]:
    """Every table of an enwiki + Commons run at ``scale`` (1/100 → 6.3 M rows in all)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    n = {t: max(20, int(rows * scale)) for t, rows in FULL_ROWS.items()}

    # Commons' image table, in img_name (PK) order
    n_img = n["image"]
    raw_names = _strings("Photo_", np.arange(1, n_img + 1), ".jpg")
    order = pc.sort_indices(raw_names)
    img_names = pc.take(raw_names, order)
    svg = rng.random(n_img) < 0.1
    image = pa.table({
        "img_name": img_names,
        "img_size": rng.integers(1_000, 20_000_000, n_img),
        "img_width": rng.integers(50, 8_000, n_img).astype(np.int32),
        "img_height": rng.integers(50, 8_000, n_img).astype(np.int32),
        "img_metadata": _strings('{"data":[],"blobs":{"data":"tt:', rng.integers(1, 900_000_000, n_img), '"}}'),
        "img_bits": np.full(n_img, 8, np.int32),
        "img_media_type": pa.array(np.where(svg, "DRAWING", "BITMAP")),
        "img_major_mime": pa.array(np.full(n_img, "image")),
        "img_minor_mime": pa.array(np.where(svg, "svg+xml", "jpeg")),
        "img_description_id": rng.integers(1, 2_000_000_000, n_img),
        "img_actor": rng.integers(1, 50_000_000, n_img),
        "img_timestamp": _strings("20", rng.integers(100_101_000_000, 251_231_235_959, n_img)),
        "img_sha1": _base36_sha1(rng, n_img),
    })

    # page: ids with gaps, enwiki's namespace mix, redirects among articles
    n_page = n["page"]
    page_id = np.cumsum(rng.integers(1, 3, n_page)).astype(np.int64)
    namespace = _pick(rng, [0, 1, 2, 3, 4, 6, 10, 14, 118], [27, 10, 5, 30, 2, 10, 3, 10, 3], n_page).astype(np.int32)
    redirect = ((namespace == NS_MAIN) & (rng.random(n_page) < 0.35)).astype(np.int32)
    page = pa.table({
        "page_id": page_id,
        "page_namespace": namespace,
        "page_title": _titles(rng, "Page", page_id),
        "page_is_redirect": redirect,
        "page_is_new": np.zeros(n_page, np.int32),
        "page_random": np.round(rng.uniform(0.001, 1.0, n_page), 12),
        "page_touched": _strings("2025", rng.integers(10**9, 10**10 - 1, n_page)),
        "page_links_updated": _strings("2025", rng.integers(10**9, 10**10 - 1, n_page)),
        "page_latest": rng.integers(1, 1_300_000_000, n_page),
        "page_len": rng.integers(0, 300_000, n_page),
        "page_content_model": pa.array(np.full(n_page, "wikitext")),
        "page_lang": pa.nulls(n_page, pa.string()),
    })

    # linktarget: File titles (mostly existing Commons files), categories, the rest
    n_lt = n["linktarget"]
    lt_id = np.arange(1, n_lt + 1, dtype=np.int64)
    lt_ns = _pick(rng, [6, 14, 0, 10, 2], [25, 15, 30, 20, 10], n_lt).astype(np.int32)
    titles = _titles(rng, "Target", lt_id)
    files = np.flatnonzero(lt_ns == NS_FILE)
    existing = files[: min(len(files), int(0.9 * len(files)), n_img)]
    picked = rng.choice(n_img, size=len(existing), replace=False)
    titles = pc.replace_with_mask(
        titles, pa.array(np.isin(np.arange(n_lt), existing)), pc.take(img_names, pa.array(picked))
    )
    linktarget = pa.table({"lt_id": lt_id, "lt_namespace": lt_ns, "lt_title": titles})

    # imagelinks: from every namespace, 90 % to File targets
    file_targets = lt_id[lt_ns == NS_FILE]
    il_from, il_target = _unique_pairs(rng, page_id, file_targets, n["imagelinks"])
    other = rng.random(len(il_target)) < 0.1
    il_target[other] = rng.integers(1, n_lt + 1, int(other.sum()))
    keys = np.unique((il_from.astype(np.uint64) << np.uint64(32)) | il_target.astype(np.uint64))
    il_from = (keys >> np.uint64(32)).astype(np.int64)
    il_target = (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
    ns_of = np.searchsorted(page_id, il_from)
    imagelinks = pa.table({
        "il_from": il_from, "il_from_namespace": namespace[ns_of], "il_target_id": il_target,
    })

    # categorylinks: several categories per page
    cl_from, cl_target = _unique_pairs(rng, page_id, lt_id[lt_ns == NS_CATEGORY], n["categorylinks"])
    n_cl = len(cl_from)
    categorylinks = pa.table({
        "cl_from": cl_from,
        "cl_sortkey": _strings("SORTKEY ", cl_from),
        "cl_timestamp": pa.array(np.full(n_cl, "2024-05-06 07:08:09")),
        "cl_sortkey_prefix": pa.array(np.full(n_cl, "")),
        "cl_type": pa.array(np.full(n_cl, "page")),
        "cl_collation_id": np.ones(n_cl, np.int32),
        "cl_target_id": cl_target,
    })

    # page_props: lead images taken from the page's own image links (so is_lead is set),
    # plus wikibase_item, short descriptions and sort keys
    lt_title_of = linktarget.column("lt_title").combine_chunks()
    n_pp = n["page_props"]
    lead_rows = rng.choice(len(il_from), size=min(len(il_from), n_pp // 4), replace=False)
    lead_pages, first = np.unique(il_from[lead_rows], return_index=True)
    lead_targets = il_target[lead_rows][first]
    lead_values = pc.take(lt_title_of, pa.array(lead_targets - 1))
    props = [("page_image_free", lead_pages, pc.cast(lead_values, pa.binary()))]
    for name, share in (("wikibase_item", 0.45), ("wikibase-shortdesc", 0.25), ("defaultsort", 0.05)):
        k = min(n_page, int(n_pp * share))
        pages_k = np.sort(rng.choice(page_id, size=k, replace=False))
        props.append((name, pages_k, pc.cast(_strings("Q" if name == "wikibase_item" else "Text ", pages_k), pa.binary())))
    pp_page = np.concatenate([p for _, p, _ in props])
    pp_name = np.concatenate([np.full(len(p), name) for name, p, _ in props])
    pp_value = pa.concat_arrays([v for _, _, v in props])
    order = np.lexsort((pp_name, pp_page))
    page_props = pa.table({
        "pp_page": pp_page[order],
        "pp_propname": pa.array(pp_name[order]),
        "pp_value": pc.take(pp_value, pa.array(order)),
        "pp_sortkey": pa.nulls(len(order), pa.float64()),
    })
    return {
        "page": page, "linktarget": linktarget, "imagelinks": imagelinks,
        "page_props": page_props, "categorylinks": categorylinks, "image": image,
    }


def _literals(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One SQL literal per value, as mysqldump writes it (numbers bare, strings quoted and
    escaped, NULL bare)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        text = column.cast(pa.string())
    else:
        if pa.types.is_binary(column.type):
            column = column.cast(pa.string())  # generated values are UTF-8
        escaped = pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), "'", "\\'")
        text = pc.binary_join_element_wise(pa.scalar("'"), escaped, pa.scalar("'"), "")
    return pc.fill_null(text, "NULL")


def write_dump_file(path: Path, table: str, data: pa.Table, *, rows_per_insert: int = 0, compresslevel: int = 1) -> int:
    """Write ``data`` as a gzipped ``mariadb-dump`` file of ``table``; returns its size."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from isal import igzip

    definition = TABLES[table]
    empty = write_dump(definition, [], database="wiki", host="db1206.eqiad.wmnet")
    head, _, tail = empty.partition(_TRAILER_START)
    name = definition.name
    with staged_path(path) as tmp, igzip.open(tmp, "wb", compresslevel=compresslevel) as out:
        out.write(head)
        if data.num_rows:
            out.write(f"--\n-- Dumping data for table `{name}`\n--\n\n/*!40000 ALTER TABLE `{name}` DISABLE KEYS */;\n".encode())
            step = 200_000
            for start in range(0, data.num_rows, step):
                part = data.slice(start, step)
                cols = [_literals(part.column(c)) for c in definition.column_names]
                rows = pc.binary_join_element_wise(pa.scalar("("), pc.binary_join_element_wise(*cols, ","), pa.scalar(")"), "")
                per = rows_per_insert or max(1, 1_000_000 // max(1, (rows.buffers()[2].size if rows.buffers()[2] else 1) // len(rows)))
                offsets = pa.array([*range(0, len(rows), per), len(rows)], pa.int32())
                for statement in pc.binary_join(pa.ListArray.from_arrays(offsets, rows), ",\n").to_pylist():
                    out.write(f"INSERT INTO `{name}` VALUES\n".encode() + statement.encode() + b";\n")
            out.write(f"/*!40000 ALTER TABLE `{name}` ENABLE KEYS */;\n".encode())
        out.write(_TRAILER_START + tail)
    return path.stat().st_size


@dataclass(frozen=True)
class ScaleSet:
    """A generated dump set on disk: ``<dir>/<wiki>-<date>-<table>.sql.gz``."""

    directory: Path
    wiki: str
    commons_wiki: str
    date: str
    rows: dict[str, int]

    def path(self, wiki: str, table: str) -> Path:
        return self.directory / f"{wiki}-{self.date}-{table}.sql.gz"

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def write_scale_set(
    directory: Path, scale: float, *, seed: int = 0, wiki: str = "enwiki", commons_wiki: str = "commonswiki",
    date: str = "20260101",
) -> ScaleSet:
    """Generate the tables at ``scale`` and write them as dump files under ``directory``
    (reused when ``_rows.json`` says they are complete)."""
    import json

    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / "_rows.json"
    if marker.is_file():
        rows = json.loads(marker.read_text("utf-8"))
        return ScaleSet(directory, wiki, commons_wiki, date, rows)
    tables = generate_tables(scale, seed)
    result = ScaleSet(directory, wiki, commons_wiki, date, {t: tables[t].num_rows for t in tables})
    for table, data in tables.items():
        write_dump_file(result.path(commons_wiki if table in COMMONS_TABLES else wiki, table), table, data)
    marker.write_text(json.dumps(result.rows), "utf-8")
    return result


@dataclass(frozen=True)
class _Names:
    wiki: str
    commons_wiki: str


def scale_dumps_service(scale_set: ScaleSet) -> Any:
    """A :class:`~wikivis.mirror.dumps.DumpsService` serving ``scale_set`` as one complete run
    per wiki (start it with :class:`wikivis.mirror.base.RunningServer`)."""
    from wikivis.mirror.dumps import DumpsService, Run
    from wikivis.mirror.faults import get_profile

    class ScaleDumpsService(DumpsService):
        def __init__(self) -> None:  # no sample wiki: the runs come from the files
            super(DumpsService, self).__init__(get_profile("none"))
            import threading

            self.sample = _Names(scale_set.wiki, scale_set.commons_wiki)  # type: ignore[assignment]
            # no pages-articles XML at scale (the sample wiki's generator would build it): the
            # job is "skipped", which a complete run may have
            self.runs = {(w, scale_set.date): Run(w, scale_set.date, 0, statuses={"articles": "skipped"})
                         for w in (scale_set.wiki, scale_set.commons_wiki)}
            self._build_lock = threading.Lock()

        def tables(self, wiki: str) -> tuple[str, ...]:
            return COMMONS_TABLES if wiki == scale_set.commons_wiki else WIKI_TABLES

        def render(self, run: Run, table: str, *, legacy: bool | None = None, style: Any = None,
                   transitional: bool = False) -> bytes:
            return scale_set.path(run.wiki, table).read_bytes()

    return ScaleDumpsService()

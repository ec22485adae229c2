"""The out-of-core join engine (DuckDB over parsed Parquet parts) against the in-memory
builders it replaced, on generated enwiki + Commons shaped sets several times larger than
its memory limit, in the current and the legacy link schema; bad values fail before any
batch; the lake's presorted streaming write equals its in-memory write."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from wikivis.datasets import SORT_KEYS
from wikivis.datasets import schema as dataset_schema
from wikivis.dumps.ingest import (
    COLUMNS,
    LEAD_PROPS,
    build_article_categories,
    build_article_images,
    build_files,
    build_pages,
)
from wikivis.dumps.outofcore import JoinEngine, ParsedTable
from wikivis.errors import InputError
from wikivis.lake import Lake, conform
from wikivis.mirror.scaledumps import generate_tables

WIKI, COMMONS = "enwiki", "commonswiki"
DATASETS = ("pages", "article_images", "article_categories", "files")
#: long titles make the set big in bytes while generating it stays fast
PAD = "_" + "x" * 1400
#: the parser's Arrow types for the columns it keeps
PARSER_TYPES = {"lt_id": pa.uint64(), "il_target_id": pa.uint64(), "cl_target_id": pa.uint64(), "img_size": pa.uint64()}


def _padded(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Append the same suffix to every title-like value: every equality the joins use holds."""
    columns = {"page": "page_title", "linktarget": "lt_title", "image": "img_name", "page_props": "pp_value"}
    out = dict(tables)
    for table, column in columns.items():
        t = out[table]
        values = t.column(column)
        padded = pc.binary_join_element_wise(values.cast(pa.string()), pa.scalar(PAD), "")
        out[table] = t.set_column(t.schema.get_field_index(column), column, padded.cast(values.type))
    return out


def _legacy(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """imagelinks / categorylinks with the title inline (il_to, cl_to), no linktarget."""
    titles = tables["linktarget"].column("lt_title")
    out = {k: v for k, v in tables.items() if k != "linktarget"}
    il = tables["imagelinks"]
    out["imagelinks"] = pa.table({
        "il_from": il["il_from"], "il_from_namespace": il["il_from_namespace"],
        "il_to": pc.take(titles, pc.subtract(il["il_target_id"], 1)),
    })
    cl = tables["categorylinks"]
    out["categorylinks"] = pa.table({"cl_from": cl["cl_from"], "cl_to": pc.take(titles, pc.subtract(cl["cl_target_id"], 1))})
    return out


def _write_parsed(directory: Path, tables: dict[str, pa.Table]) -> dict[str, ParsedTable]:
    """What parse_to_parquet leaves: the chosen columns, in two parts per table."""
    parsed = {}
    for name, table in tables.items():
        present = set(table.column_names)
        columns = [next(c for c in alternatives if c in present) for alternatives in COLUMNS[name]]
        table = table.select(columns)
        for column, type_ in PARSER_TYPES.items():
            if column in table.column_names:
                table = table.set_column(table.schema.get_field_index(column), column, table[column].cast(type_))
        if name == "page_props":
            table = table.filter(pc.is_in(table["pp_propname"], pa.array(LEAD_PROPS)))
        out = directory / name
        out.mkdir(parents=True)
        half = table.num_rows // 2
        files = []
        for i, part in enumerate((table.slice(0, half), table.slice(half))):
            files.append(out / f"part-{i:05d}.parquet")
            pq.write_table(part, files[-1], row_group_size=20_000)
        parsed[name] = ParsedTable(name, tuple(files), tuple(columns), f"/dumps/{name}.sql.gz")
    return parsed


def _oracle(parsed: dict[str, ParsedTable]) -> dict[str, pa.Table]:
    """The in-memory builders (the ingest before it went out of core), sorted like the lake."""
    t = {name: pa.concat_tables([pq.read_table(f) for f in p.files]) for name, p in parsed.items()}
    pages = build_pages(WIKI, t["page"])
    linktarget = t.get("linktarget")
    built = {
        "pages": pages,
        "article_images": build_article_images(WIKI, pages, t["imagelinks"], linktarget, t["page_props"], "x"),
        "article_categories": build_article_categories(WIKI, pages, t["categorylinks"], linktarget, "x"),
        "files": build_files(COMMONS, t["image"], "x"),
    }
    return {d: _sorted(d, table) for d, table in built.items()}


def _sorted(dataset: str, table: pa.Table) -> pa.Table:
    table = conform(table, dataset_schema(dataset), source=dataset)
    return table.sort_by([(k, "ascending") for k in SORT_KEYS[dataset]])


def _engine_output(engine: JoinEngine, dataset: str) -> pa.Table:
    wiki = COMMONS if dataset == "files" else WIKI
    batches = list(engine.build(dataset, wiki))
    table = pa.Table.from_batches(batches) if batches else dataset_schema(dataset).empty_table()
    return conform(table, dataset_schema(dataset), source=dataset)


@pytest.fixture(scope="module")
def generated() -> dict[str, pa.Table]:
    return _padded(generate_tables(1 / 2000, seed=11))


@pytest.mark.parametrize("schema", ["current", "legacy"])
def test_equals_the_in_memory_path_under_a_memory_limit_several_times_smaller(generated, tmp_path, schema):
    tables = generated if schema == "current" else _legacy(generated)
    parsed = _write_parsed(tmp_path / "parsed", tables)
    want = _oracle(parsed)
    in_bytes = sum(pq.read_table(f).nbytes for p in parsed.values() for f in p.files)
    with JoinEngine(parsed, memory_limit=64 << 20, temp_dir=tmp_path / "scratch", threads=1, batch_rows=4096) as engine:
        assert in_bytes > 3 * engine.duckdb_limit  # the joins cannot all be held in memory
        # so they run in page_id buckets, each well within the limit
        assert len(engine.page_buckets("imagelinks", "page", "page_props")) > 3
        engine.check()
        for dataset in DATASETS:
            got = _engine_output(engine, dataset)
            assert got.num_rows == want[dataset].num_rows, dataset
            assert got.equals(want[dataset]), dataset
    assert not (tmp_path / "scratch").exists() or not any((tmp_path / "scratch").iterdir())
    assert want["article_images"].num_rows and pc.any(want["article_images"]["is_lead"]).as_py()


def test_unsorted_inputs_are_sorted_and_sorted_ones_stream_in_file_order(tmp_path):
    tables = generate_tables(1 / 200_000, seed=5)
    shuffled = {name: t.take(pa.array(list(range(t.num_rows))[::-1])) for name, t in tables.items()}
    for label, data in (("sorted", tables), ("shuffled", shuffled)):
        parsed = _write_parsed(tmp_path / label, data)
        want = _oracle(parsed)
        with JoinEngine(parsed, memory_limit=64 << 20, temp_dir=tmp_path / "scratch", threads=1) as engine:
            assert engine.in_key_order("image", "img_name") is (label == "sorted")
            assert engine.in_key_order("page", "page_id") is (label == "sorted")
            for dataset in DATASETS:
                assert _engine_output(engine, dataset).equals(want[dataset]), (label, dataset)


def _bad(tables: dict[str, pa.Table], table: str, column: str, row: int, value: object, type_: pa.DataType) -> dict[str, pa.Table]:
    t = tables[table]
    values = t.column(column).cast(type_).to_pylist()
    values[row] = value
    out = dict(tables)
    out[table] = t.set_column(t.schema.get_field_index(column), column, pa.array(values, type_))
    return out


@pytest.mark.parametrize(
    ("table", "column", "value", "type_", "message"),
    [
        ("page_props", "pp_value", b"\xff\xfe not utf-8", pa.binary(), "check_page_props"),
        ("image", "img_size", 2**63 + 5, pa.uint64(), "img_size out of range"),
        ("image", "img_sha1", "not base 36!" + "a" * 19, pa.string(), "not base 36"),
    ],
)
def test_bad_values_fail_before_any_batch_naming_the_file(tmp_path, table, column, value, type_, message):
    tables = generate_tables(1 / 200_000, seed=5)
    row = 0
    if table == "page_props":  # a lead-image row (the others are dropped by the parse filter)
        row = tables[table].column("pp_propname").to_pylist().index("page_image_free")
    parsed = _write_parsed(tmp_path / "parsed", _bad(tables, table, column, row, value, type_))
    with JoinEngine(parsed, memory_limit=64 << 20, temp_dir=tmp_path / "scratch") as engine, \
            pytest.raises(InputError, match=message) as caught:
        engine.check()
    assert f"/dumps/{table}.sql.gz" in str(caught.value)


def test_a_current_schema_run_without_linktarget_is_refused(tmp_path):
    tables = {k: v for k, v in generate_tables(1 / 200_000, seed=5).items() if k != "linktarget"}
    parsed = _write_parsed(tmp_path / "parsed", tables)
    with JoinEngine(parsed, memory_limit=64 << 20, temp_dir=tmp_path / "scratch") as engine, \
            pytest.raises(InputError, match="no linktarget"):
        engine.build("article_images", WIKI)


def test_presorted_streaming_write_equals_the_in_memory_write(tmp_path, monkeypatch):
    import wikivis.lake.iceberg as lake_module

    monkeypatch.setattr(lake_module, "ROWS_PER_FILE", 1000)
    monkeypatch.setattr(lake_module, "BATCH_ROWS", 300)
    table = _padded(generate_tables(1 / 5_000, seed=2))["page"]
    pages = _sorted("pages", build_pages(WIKI, table))
    assert pages.num_rows > 2000
    lake = Lake(tmp_path / "lake")
    whole = lake.write("pages", WIKI, "20260101", pages)
    streamed = [
        Lake(tmp_path / f"lake{size}").write("pages", WIKI, "20260101", iter(pages.to_batches(size)), presorted=True)
        for size in (7, 1000, 100_000)
    ]
    # files roll over at the first 300-row batch boundary past 1000 rows
    assert [len(m.files) for m in streamed] == [-(-pages.num_rows // 1200)] * 3
    assert len({m.content_hash for m in streamed}) == 1  # the same bytes whatever the batch sizes
    assert whole.content_hash == streamed[0].content_hash
    for size, manifest in zip((7, 1000, 100_000), streamed, strict=True):
        assert manifest.rows == whole.rows
        assert Lake(tmp_path / f"lake{size}").read("pages", WIKI, "20260101").equals(lake.read("pages", WIKI, "20260101"))
    empty = Lake(tmp_path / "empty").write("pages", WIKI, "20260101", iter([]), presorted=True)
    assert empty.rows == 0 and Lake(tmp_path / "empty").read("pages", WIKI, "20260101").num_rows == 0

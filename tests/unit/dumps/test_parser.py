"""The streaming dump parser on hand-made hostile inputs, both layouts, fast and exact paths."""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path

import pyarrow as pa
import pytest

from wikivis.dumps.parser import DumpParser, iter_batches, parse_to_parquet, read_parsed
from wikivis.errors import InputError
from wikivis.mirror.dumpwriter import TABLES, TableDef
from wikivis.mirror.dumpwriter import write_dump as render_dump

HOSTILE = TableDef(
    "hostile",
    (
        ("id", "bigint(20) unsigned NOT NULL"),
        ("small", "int(11) DEFAULT NULL"),
        ("blob", "varbinary(255) DEFAULT NULL"),
        ("title", "varbinary(255) DEFAULT NULL"),
        ("score", "double DEFAULT NULL"),
        ("kind", "enum('page','subcat','file') NOT NULL DEFAULT 'page'"),
    ),
    ("PRIMARY KEY (`id`)",),
)
NAMES = list(HOSTILE.column_names)
#: mysqldump's last line; a file without it is refused as truncated (see the truncation tests)
FOOTER = b"\n-- Dump completed on 2026-11-01 10:00:00\n"
TEXT = {"hostile": ["title"]}


def write_dump(path: Path, table: TableDef, rows, *, style: str = "mysqldump", max_statement_bytes: int = 1_000_000):
    """Render ``rows`` (tuples in column order) with the mirror's mysqldump emulation."""
    dicts = [dict(zip(table.column_names, r, strict=True)) for r in rows]
    data = render_dump(table, dicts, style=style, max_statement_bytes=max_statement_bytes)  # type: ignore[arg-type]
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path

HOSTILE_ROWS = [
    (0, 0, b"", "", 0.0, "page"),
    (1, -1, b"it's", "O'Brien", 1.5, "file"),
    (2, 2**31 - 1, b"back\\slash\\", "Back\\slash", -2.25e-300, "subcat"),
    (3, -(2**31), b"),(", "a),(b", 1e300, "page"),
    (4, None, b"x);\ny", "semi;colon);", None, "page"),
    (5, 7, b"\x00\x1a\n\r\t\b", "tab\tnew\nline", 0.1, "file"),
    (2**63, 8, bytes(range(256)), "Caf\u00e9_\u65e5\u672c_\U0001f600", 3.0, "page"),
    (2**64 - 1, 9, b"\xff\xfe invalid utf-8 \xc3", "NULL", 4.0, "page"),
    (10, 10, None, None, 5.0, "page"),
    (11, 11, b"\\'\\\\'", "'", 6.0, "page"),
    (12, 12, b"'", "\\", 7.0, "page"),
    (13, 13, b"''", '"double" quotes', 8.0, "page"),
    (14, 14, b"NULL", ",", 9.0, "page"),
]


def expected_table(rows: list[tuple]) -> list[dict]:
    return [dict(zip(NAMES, r, strict=True)) for r in rows]


def parse_all(path: Path, **kw) -> tuple[pa.Table, DumpParser]:
    parser = DumpParser(path, text_columns=kw.pop("text_columns", TEXT), **kw)
    batches = list(parser)
    return pa.Table.from_batches(batches, schema=parser.schema), parser


@pytest.fixture(params=["mysqldump", "mariadb"])
def style(request):
    return request.param


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("chunk_size", [1024, 1 << 20])
@pytest.mark.parametrize("statement_bytes", [1, 200, 1_000_000])
def test_hostile_values_round_trip(tmp_path, style, fast, chunk_size, statement_bytes):
    path = write_dump(tmp_path / "h.sql", HOSTILE, HOSTILE_ROWS, style=style, max_statement_bytes=statement_bytes)
    table, parser = parse_all(path, fast=fast, chunk_size=chunk_size)
    assert table.to_pylist() == expected_table(HOSTILE_ROWS)
    assert parser.stats.rows == len(HOSTILE_ROWS)
    assert parser.stats.completed
    assert parser.stats.statements == path.read_bytes().count(b"INSERT INTO")
    assert (parser.stats.statements == len(HOSTILE_ROWS)) == (statement_bytes == 1)
    if fast:
        assert parser.stats.regions_slow == 0  # mysqldump output never needs the exact path


def test_schema_maps_types_by_name(tmp_path):
    path = write_dump(tmp_path / "h.sql", HOSTILE, HOSTILE_ROWS[:1])
    schema = DumpParser(path, text_columns=TEXT).schema
    assert [(f.name, f.type) for f in schema] == [
        ("id", pa.uint64()), ("small", pa.int32()), ("blob", pa.binary()), ("title", pa.string()),
        ("score", pa.float64()), ("kind", pa.string()),
    ]
    assert schema.field("id").metadata[b"mysql_type"] == b"bigint(20) unsigned"
    assert schema.metadata[b"mysql_table"] == b"hostile"


def test_gzip_and_plain_give_the_same_rows(tmp_path, style):
    plain = write_dump(tmp_path / "h.sql", HOSTILE, HOSTILE_ROWS, style=style)
    gz = write_dump(tmp_path / "h.sql.gz", HOSTILE, HOSTILE_ROWS, style=style)
    assert parse_all(plain)[0].equals(parse_all(gz)[0])


def test_mysql_escapes_follow_the_server(tmp_path):
    """\\% and \\_ keep the backslash (MariaDB: HEX('\\%') = 5C25); unknown \\x gives x."""
    ddl = "CREATE TABLE `e` (`v` varbinary(50) NOT NULL) DEFAULT CHARSET=binary"
    body = rb"('\0\n\r\Z\b\t'),('\%\_'),('\q\w\"\'\\'),('\\n'),('\\\'')"
    path = tmp_path / "e.sql"
    path.write_bytes(ddl.encode() + b";\nINSERT INTO `e` VALUES " + body + b";\n" + FOOTER)
    for fast in (True, False):
        values = [r["v"] for r in parse_all(path, fast=fast)[0].to_pylist()]
        assert values == [b"\0\n\r\x1a\b\t", b"\\%\\_", b"qw\"'\\", b"\\n", b"\\'"]


def test_raw_newline_and_statement_end_inside_a_string(tmp_path):
    """Valid SQL that mysqldump never writes: a raw ');\\n' inside a string (exact path)."""
    ddl = "CREATE TABLE `r` (`id` int NOT NULL, `v` varbinary(50) NOT NULL)"
    path = tmp_path / "r.sql"
    path.write_bytes(ddl.encode() + b";\nINSERT INTO `r` VALUES (1,'a);\n(2,'),(2,'b');\n" + FOOTER)
    table, _ = parse_all(path)
    assert table.to_pylist() == [{"id": 1, "v": b"a);\n(2,"}, {"id": 2, "v": b"b"}]


def test_rows_larger_than_the_chunk(tmp_path, style):
    big = bytes(random.Random(3).randrange(256) for _ in range(50_000))
    rows = [(i, i, big[: 1000 * i], "t", 1.0, "page") for i in range(1, 40)]
    path = write_dump(tmp_path / "big.sql", HOSTILE, rows, style=style, max_statement_bytes=100_000)
    table, parser = parse_all(path, chunk_size=4096)
    assert table.column("blob").to_pylist() == [r[2] for r in rows]
    assert parser.stats.regions_slow == 0


@pytest.mark.parametrize("fast", [True, False])
def test_one_long_statement_streams_in_small_regions(tmp_path, style, fast):
    rows = [(i, -i, b"b'%d" % i, f"t\\{i}", i / 3, "file") for i in range(3000)]
    path = write_dump(tmp_path / "long.sql", HOSTILE, rows, style=style, max_statement_bytes=10**9)
    table, parser = parse_all(path, fast=fast, chunk_size=1024)
    assert table.to_pylist() == expected_table(rows)
    assert parser.stats.statements == 1
    assert parser.stats.regions_fast + parser.stats.regions_slow > 50


def _random_value(rng: random.Random, kind: str):
    if rng.random() < 0.1:
        return None
    if kind == "u64":
        return rng.choice([0, 1, 2**63 - 1, 2**63, 2**64 - 1, rng.randrange(2**64)])
    if kind == "i32":
        return rng.randrange(-(2**31), 2**31)
    if kind == "bytes":
        alphabet = b"\\'\"\0\n\r\x1a),(;NUL x\xff\xc3"
        return bytes(rng.choice(alphabet) if rng.random() < 0.5 else rng.randrange(256)
                     for _ in range(rng.randrange(12)))
    if kind == "text":
        return "".join(rng.choice("ab'\\\",();\n\u00e9\u65e5\U0001f600N") for _ in range(rng.randrange(10)))
    if kind == "float":
        return rng.choice([0.0, -0.0, 1e-300, 123.456, -1.5e300, rng.random()])
    return rng.choice(["page", "subcat", "file"])


@pytest.mark.parametrize("seed", range(6))
def test_random_rows_match_fast_and_exact_paths(tmp_path, seed):
    rng = random.Random(seed)
    kinds = ["u64", "i32", "bytes", "text", "float", "enum"]
    rows = []
    for i in range(300):
        row = [_random_value(rng, k) for k in kinds]
        row[0] = i if row[0] is None else row[0]
        row[5] = row[5] or "page"
        rows.append(tuple(row))
    path = write_dump(tmp_path / "r.sql", HOSTILE, rows, style=rng.choice(["mysqldump", "mariadb"]),
                      max_statement_bytes=rng.choice([1, 700, 1_000_000]))
    chunk = rng.choice([1024, 1500, 1 << 16])
    fast, parser = parse_all(path, chunk_size=chunk)
    exact, _ = parse_all(path, chunk_size=chunk, fast=False)
    expected = expected_table(rows)
    assert fast.to_pylist() == expected
    assert exact.to_pylist() == expected
    assert parser.stats.regions_slow == 0


def _outcome(path: Path, fast: bool, chunk: int):
    try:
        return "ok", parse_all(path, fast=fast, chunk_size=chunk)[0].to_pylist()
    except InputError:
        return "error", None


@pytest.mark.parametrize("seed", range(3))
def test_mutated_dumps_fast_path_agrees_with_exact_path(tmp_path, seed):
    """Corrupt a few bytes of the VALUES: the vectorised path must accept exactly what the
    exact path accepts, with the same values (or decline to it)."""
    rng = random.Random(1000 + seed)
    kinds = ["u64", "i32", "bytes", "text", "float", "enum"]
    outcomes = set()
    for i in range(60):
        rows = [tuple(_random_value(rng, k) or (j if k == "u64" else "page" if k == "enum" else None)
                      for k in kinds) for j in range(rng.randrange(1, 25))]
        path = write_dump(tmp_path / f"m{i}.sql", HOSTILE, rows, style=rng.choice(["mysqldump", "mariadb"]),
                          max_statement_bytes=rng.choice([1, 300, 1_000_000]))
        data = bytearray(path.read_bytes())
        start = data.index(b"INSERT")
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(start, len(data) - 40)
            byte = rng.choice(b"'\\(),;\n NUL0x9\xff")
            action = rng.random()
            if action < 0.4:
                data[pos] = byte
            elif action < 0.7:
                data.insert(pos, byte)
            else:
                del data[pos]
        path.write_bytes(bytes(data))
        chunk = rng.choice([1024, 1 << 16])
        fast, exact = _outcome(path, True, chunk), _outcome(path, False, chunk)
        assert fast == exact, (i, bytes(data[start:]))
        outcomes.add(fast[0])
    assert outcomes == {"ok", "error"}


def _int_rows(rng: random.Random, n: int) -> list[tuple]:
    return [(rng.randrange(2**32), rng.choice([0, 0, 2, -1, 14]), rng.choice([1, 2**63, 2**64 - 1, rng.randrange(2**40)]))
            for _ in range(n)]


@pytest.mark.parametrize("fast", [True, False])
def test_integer_table_over_many_statements(tmp_path, style, fast):
    rows = _int_rows(random.Random(7), 2000)
    path = write_dump(tmp_path / "il.sql", TABLES["imagelinks"], rows, style=style, max_statement_bytes=500)
    data = path.read_bytes()
    # one statement in the middle is written differently: it must not be merged blindly
    second = data.index(b"INSERT INTO", data.index(b"INSERT INTO") + 1)
    path.write_bytes(data[:second] + b"INSERT  IGNORE INTO" + data[second + len(b"INSERT INTO"):])
    parser = DumpParser(path, fast=fast, chunk_size=4096)
    table = pa.Table.from_batches(list(parser), schema=parser.schema)
    assert [tuple(r.values()) for r in table.to_pylist()] == rows
    assert parser.stats.statements == data.count(b"INSERT INTO")
    if fast:
        assert parser.stats.regions_slow == 0
        assert parser.stats.regions_fast < parser.stats.statements  # consecutive INSERTs were merged


@pytest.mark.parametrize("seed", range(3))
def test_mutated_integer_dumps_fast_path_agrees_with_exact_path(tmp_path, seed):
    rng = random.Random(2000 + seed)
    outcomes = set()
    for i in range(60):
        path = write_dump(tmp_path / f"m{i}.sql", TABLES["imagelinks"], _int_rows(rng, rng.randrange(1, 80)),
                          style=rng.choice(["mysqldump", "mariadb"]), max_statement_bytes=rng.choice([1, 300, 10**6]))
        data = bytearray(path.read_bytes())
        start = data.index(b"INSERT")
        for _ in range(rng.randrange(1, 3)):
            pos = rng.randrange(start, len(data) - 40)
            byte = rng.choice(b"'\\(),;\n NUL0x9-\r")
            if rng.random() < 0.5:
                data[pos] = byte
            else:
                data.insert(pos, byte)
        path.write_bytes(bytes(data))
        try:
            fast = ("ok", pa.Table.from_batches(list(DumpParser(path, chunk_size=1024))).to_pylist())
        except InputError:
            fast = ("error", None)
        try:
            exact = ("ok", pa.Table.from_batches(list(DumpParser(path, chunk_size=1024, fast=False))).to_pylist())
        except InputError:
            exact = ("error", None)
        assert fast == exact, (i, bytes(data[start:]))
        outcomes.add(fast[0])
    assert outcomes == {"ok", "error"}


def test_column_selection_and_order(tmp_path):
    path = write_dump(tmp_path / "h.sql", HOSTILE, HOSTILE_ROWS)
    table, _ = parse_all(path, columns=["title", "id"])
    assert table.column_names == ["title", "id"]
    assert table.column("id").to_pylist() == [r[0] for r in HOSTILE_ROWS]
    with pytest.raises(InputError, match="no column"):
        parse_all(path, columns=["nope"])


def test_binary_columns_stay_bytes_without_the_text_map(tmp_path):
    path = write_dump(tmp_path / "h.sql", HOSTILE, HOSTILE_ROWS[:3])
    table, _ = parse_all(path, text_columns={})
    assert table.schema.field("title").type == pa.binary()
    assert table.column("title").to_pylist()[1] == b"O'Brien"
    table, _ = parse_all(path, decode_text=False)
    assert table.schema.field("title").type == pa.binary()


def test_default_text_columns_for_mediawiki_tables(tmp_path):
    path = write_dump(tmp_path / "lt.sql", TABLES["linktarget"], [(1, 6, "Foo.jpg")])
    table = pa.Table.from_batches(list(iter_batches(path)))
    assert table.schema.field("lt_title").type == pa.string()
    assert table.to_pylist() == [{"lt_id": 1, "lt_namespace": 6, "lt_title": "Foo.jpg"}]


def test_invalid_utf8_in_a_text_column(tmp_path):
    rows = [(1, 1, b"", "ok", 1.0, "page"), (2, 2, b"", b"bad \xff title", 1.0, "page")]
    path = write_dump(tmp_path / "u.sql", HOSTILE, rows)
    for fast in (True, False):
        with pytest.raises(InputError, match="invalid UTF-8 in text column `title`") as err:
            parse_all(path, fast=fast)
        data = path.read_bytes()
        assert err.value.offset == data.index(b"'bad ")
        assert err.value.line == data[: err.value.offset].count(b"\n") + 1
        assert str(path) in str(err.value)
    table, parser = parse_all(path, invalid_utf8="replace")
    assert table.column("title").to_pylist() == ["ok", "bad \ufffd title"]
    assert parser.stats.invalid_utf8_replaced == 1


def test_insert_variants(tmp_path):
    ddl = "CREATE TABLE `v` (`a` int NOT NULL, `b` varbinary(9))"
    path = tmp_path / "v.sql"
    path.write_bytes(
        ddl.encode()
        + b";\nINSERT  IGNORE INTO `v` VALUES (1,'x');\nREPLACE INTO `v` VALUES (2,'y');\n"
        + b"INSERT INTO `v` (`b`, `a`) VALUES ('z',3),('w',4);\ninsert into v values (5,NULL);\n"
        + FOOTER
    )
    table, _ = parse_all(path)
    assert table.to_pylist() == [
        {"a": 1, "b": b"x"}, {"a": 2, "b": b"y"}, {"a": 3, "b": b"z"}, {"a": 4, "b": b"w"}, {"a": 5, "b": None},
    ]


def test_multi_table_file_needs_a_table_choice(tmp_path):
    path = tmp_path / "m.sql"
    with path.open("wb") as out:
        for name in ("one", "two"):
            out.write(f"CREATE TABLE `{name}` (`id` int NOT NULL);\n".encode())
            out.write(f"INSERT INTO `{name}` VALUES (1),(2);\n".encode())
        out.write(FOOTER)
    with pytest.raises(InputError, match="several tables"):
        parse_all(path)
    table, _ = parse_all(path, table="two")
    assert table.column("id").to_pylist() == [1, 2]


def test_empty_table_has_schema_and_no_rows(tmp_path):
    path = write_dump(tmp_path / "e.sql", HOSTILE, [])
    table, parser = parse_all(path)
    assert table.num_rows == 0
    assert table.schema.names[0] == "id"
    assert parser.stats.completed


def test_decimal_year_temporal_types(tmp_path):
    ddl = """CREATE TABLE `t` (`d` decimal(10,2) DEFAULT NULL, `y` year(4), `ts` timestamp NOT NULL
      DEFAULT current_timestamp() ON UPDATE current_timestamp(), `s` set('a','b'), `c` varchar(10)
      CHARACTER SET utf8mb4 COMMENT 'a, (comment)')"""
    path = tmp_path / "t.sql"
    path.write_bytes(ddl.encode() + b";\nINSERT INTO `t` VALUES (12.50,2024,'2024-01-02 03:04:05','a,b','\xc3\xa9');\n" + FOOTER)
    table, _ = parse_all(path)
    row = table.to_pylist()[0]
    assert (str(row["d"]), row["y"], row["ts"]) == ("12.50", 2024, "2024-01-02 03:04:05")
    assert (row["s"], row["c"]) == ("a,b", "\u00e9")


# --------------------------------------------------------------------------- bad input
def _dump(tmp_path: Path, body: bytes, ddl: bytes = b"CREATE TABLE `t` (`a` int NOT NULL, `b` varbinary(9));\n") -> Path:
    path = tmp_path / "bad.sql"
    path.write_bytes(ddl + body)
    return path


BAD_INPUTS = {
    "too few fields": (b"INSERT INTO `t` VALUES (1,'x'),(2);\n", b"(2)", "row has 1 fields"),
    "too many fields": (b"INSERT INTO `t` VALUES (1,'x',3),(2,'y');\n", b"(1,'x',3)", "more than 2 fields"),
    "too many fields row-per-line": (b"INSERT INTO `t` VALUES\n(1,'x'),\n(2,'y',9);\n", b"(2,'y',9)",
                                     "more than 2 fields"),
    "missing paren": (b"INSERT INTO `t` VALUES (1,'x'),2,'y');\n", b"2,'y'", "expected '('"),
    "garbage number": (b"INSERT INTO `t` VALUES (1,'x'),(1a,'y');\n", b"1a", "invalid int value"),
    "hex literal": (b"INSERT INTO `t` VALUES (0x1F,'x');\n", b"0x1F", "invalid int value"),
    "space in row": (b"INSERT INTO `t` VALUES (1, 'x');\n", b" 'x'", "unquoted value b' '"),
    "space in number": (b"INSERT INTO `t` VALUES (1 ,'x');\n", b"1 ,", "invalid int value"),
    "quoted number": (b"INSERT INTO `t` VALUES ('1','x');\n", b"'1'", "quoted value in numeric column `a`"),
    "bare string": (b"INSERT INTO `t` VALUES (1,x);\n", b"x)", "unquoted value"),
    "unterminated string": (b"INSERT INTO `t` VALUES (1,'x);\n", b"'x);", "file ends inside an INSERT"),
    "truncated insert": (b"INSERT INTO `t` VALUES (1,'x'),(2,", b"(2,", "file ends inside an INSERT"),
    "no separator": (b"INSERT INTO `t` VALUES (1,'x')(2,'y');\n", b"(2,'y')", "expected ',' or ';'"),
    "overflow": (b"INSERT INTO `t` VALUES (2147483648,'x');\n", b"2147483648", "invalid int value"),
    "lowercase null": (b"INSERT INTO `t` VALUES (null,'x');\n", b"null", "invalid int value"),
    "malformed insert": (b"INSERT INTO `t` VALUE (1,'x');\n", b"INSERT INTO", "malformed INSERT"),
    "unknown statement": (b"FROBNICATE `t`;\n", b"FROBNICATE", "unexpected statement"),
    "insert before ddl": (b"INSERT INTO `u` VALUES (1);\n", b"INSERT INTO `u`", "before its CREATE TABLE"),
    "delimiter": (b"DELIMITER ;;\n", b"DELIMITER", "DELIMITER"),
}


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_names_file_and_offset(tmp_path, case, fast):
    body, marker, message = BAD_INPUTS[case]
    path = _dump(tmp_path, body)
    with pytest.raises(InputError, match=re.escape(message)) as err:
        parse_all(path, fast=fast)
    data = path.read_bytes()
    assert err.value.source == str(path)
    assert err.value.offset == data.index(marker), (case, err.value)
    assert err.value.line == data[: data.index(marker)].count(b"\n") + 1
    assert f"byte {err.value.offset}" in str(err.value)


def test_unknown_column_type(tmp_path):
    path = _dump(tmp_path, b"INSERT INTO `t` VALUES (1);\n", ddl=b"-- x\nCREATE TABLE `t` (`g` geometry NOT NULL);\n")
    with pytest.raises(InputError, match=r"unknown column type 'geometry'") as err:
        parse_all(path)
    assert (err.value.offset, err.value.line) == (5, 2)


def test_no_create_table(tmp_path):
    path = tmp_path / "n.sql"
    path.write_bytes(b"-- nothing here\n")
    with pytest.raises(InputError, match="no CREATE TABLE"):
        parse_all(path)


def test_truncated_and_corrupt_gzip(tmp_path):
    rows = [(i, i, b"x" * 50, "t", 1.0, "page") for i in range(5000)]
    good = write_dump(tmp_path / "g.sql.gz", HOSTILE, rows)
    data = good.read_bytes()
    truncated = tmp_path / "trunc.sql.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated gzip") as err:
        parse_all(truncated)
    assert err.value.source == str(truncated)
    assert err.value.offset is not None
    corrupt = tmp_path / "corrupt.sql.gz"
    corrupt.write_bytes(data[:2000] + bytes(b ^ 0x55 for b in data[2000:2100]) + data[2100:])
    with pytest.raises(InputError, match="gzip"):
        parse_all(corrupt)


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "noext"
    path.write_bytes(gzip.compress(b"CREATE TABLE `t` (`a` int);\nINSERT INTO `t` VALUES (1);\n" + FOOTER))
    assert parse_all(path)[0].to_pylist() == [{"a": 1}]


# --------------------------------------------------------------------------- parquet output
def test_parse_to_parquet_writes_atomically(tmp_path):
    rows = [(i, i, b"b", "t", 1.0, "page") for i in range(25)]
    path = write_dump(tmp_path / "h.sql", HOSTILE, rows, max_statement_bytes=200)
    out = tmp_path / "out"
    result = parse_to_parquet(path, out, rows_per_file=10, text_columns=TEXT)
    assert (result.rows, result.table) == (25, "hostile")
    assert sorted(p.name for p in out.iterdir()) == ["_dump.json", "part-00000.parquet", "part-00001.parquet",
                                                     "part-00002.parquet"]
    table = read_parsed(out)
    assert table.column("id").to_pylist() == list(range(25))
    assert table.schema.field("title").type == pa.string()

    bad = _dump(tmp_path, b"INSERT INTO `t` VALUES (1,'x'),(2);\n")
    with pytest.raises(InputError):
        parse_to_parquet(bad, out)
    assert read_parsed(out).num_rows == 25  # the previous dataset is untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []



# --------------------------------------------------------------------------- truncation (issue 15, item 16)
def test_a_dump_cut_at_a_statement_boundary_is_an_error_naming_file_and_line(tmp_path):
    whole = render_dump(HOSTILE, [dict(zip(NAMES, r, strict=True)) for r in HOSTILE_ROWS[:3]], style="mysqldump")
    assert b"-- Dump completed" in whole
    cut = whole[: whole.index(b";\n", whole.index(b"INSERT INTO")) + 2]  # right after the first INSERT
    path = tmp_path / "cut.sql"
    path.write_bytes(cut)
    for fast in (True, False):
        with pytest.raises(InputError, match=r"cut\.sql, line \d+, byte \d+: table `hostile`: truncated"):
            list(DumpParser(path, fast=fast))
    table, parser = parse_all(path, allow_partial=True)
    assert table.num_rows == 3 and not parser.stats.completed


def test_the_ingest_path_refuses_a_dump_without_its_footer(tmp_path):
    import hashlib

    from wikivis.dumps.ingest import parse_table
    from wikivis.sources.dumps import FetchedFile

    data = (b"CREATE TABLE `page` (`page_id` int NOT NULL, `page_namespace` int NOT NULL, "
            b"`page_title` varbinary(255) NOT NULL, `page_is_redirect` tinyint NOT NULL);\n"
            b"INSERT INTO `page` VALUES (1,0,'A',0);\n")
    path = tmp_path / "samplewiki-20261101-page.sql"
    path.write_bytes(data)
    sha1 = hashlib.sha1(data).hexdigest()
    fetched = FetchedFile(name=path.name, size=len(data), sha1=sha1, md5="", url="http://127.0.0.1/x",
                          fetched_at="", path=path)
    with pytest.raises(InputError, match="truncated"):
        parse_table(fetched, "page")

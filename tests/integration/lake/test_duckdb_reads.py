"""Other engines read the lake: DuckDB's Iceberg extension, loaded from its wheel, no network."""

import pyarrow as pa

from wikivis.lake import Lake
from wikivis.lake.engines import duckdb_connection, duckdb_published_sql


def test_duckdb_reads_the_published_rows_wikivis_reads(tmp_path):
    lake = Lake(tmp_path / "lake")
    rows = pa.table({"wiki": ["samplewiki"] * 3, "page_id": [3, 1, 2], "page_namespace": [0] * 3,
                     "page_title": ["C", "A", "B"], "file_name": ["c.jpg", "a.jpg", "b.jpg"],
                     "is_lead": [True, False, False]})
    lake.write("article_images", "samplewiki", "20261101", rows, run_id="r1")
    lake.publish_run("samplewiki", {"article_images": "20261101"}, run_id="r1")
    # an unpublished rerun and another wiki's write must not leak into what DuckDB reads
    lake.write("article_images", "samplewiki", "20261102", rows.slice(0, 1), run_id="r2")
    lake.write("article_images", "otherwiki", "20261101", rows.slice(0, 1), run_id="r3")

    con = duckdb_connection()
    got = con.execute(duckdb_published_sql(lake, "article_images", "samplewiki") + " ORDER BY page_id").arrow()
    got = got.read_all() if hasattr(got, "read_all") else got
    ours = lake.read("article_images", "samplewiki")
    assert got.to_pylist() == ours.to_pylist()
    # the table's main ref is the published state too
    location = lake.metadata_location("article_images")
    on_main = con.execute(f"SELECT page_id FROM iceberg_scan('{location}') ORDER BY page_id").fetchall()
    assert [r[0] for r in on_main] == [1, 2, 3]


def test_duckdb_applies_the_position_deletes_of_a_merge_on_read_delta(tmp_path, monkeypatch):
    """DuckDB's Iceberg extension reads a delta's position delete files: exactly wikivis's rows."""
    import wikivis.lake.iceberg as iceberg

    monkeypatch.setattr(iceberg, "ROWS_PER_FILE", 300)
    monkeypatch.setattr(iceberg, "ROW_GROUP_ROWS", 300)
    lake = Lake(tmp_path / "lake")

    def table(rows: list[tuple[int, str]]) -> pa.Table:
        return pa.table({"wiki": ["samplewiki"] * len(rows), "page_id": [r[0] for r in rows],
                         "page_namespace": [0] * len(rows), "page_title": [f"P{r[0]}" for r in rows],
                         "file_name": [r[1] for r in rows], "is_lead": [False] * len(rows)})

    base = [(i, f"{i}.jpg") for i in range(1, 1201)]
    changed = [r for r in base if r[0] not in (3, 333, 900)] + [(3, "new.jpg"), (5000, "x.jpg")]
    lake.write("article_images", "samplewiki", "20261101", table(base), run_id="r1")
    m = lake.write("article_images", "samplewiki", "20261101T120000Z", table(changed), run_id="r1", base="20261101")
    assert [f for f in m.files if f.content == "deletes"]  # the delta is merge-on-read
    lake.publish_run("samplewiki", {"article_images": "20261101T120000Z"}, run_id="r1")

    con = duckdb_connection()
    sql = duckdb_published_sql(lake, "article_images", "samplewiki") + " ORDER BY page_id, file_name"
    got = con.execute(sql).arrow()
    got = got.read_all() if hasattr(got, "read_all") else got
    ours = lake.read("article_images", "samplewiki")
    assert ours.num_rows == len(changed) and got.to_pylist() == ours.to_pylist()
    location = lake.metadata_location("article_images")
    on_main = con.execute(f"SELECT count(*) FROM iceberg_scan('{location}')").fetchone()
    assert on_main == (len(changed),)

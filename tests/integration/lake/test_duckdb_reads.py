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

"""Pulling article_images from a (loopback) Wiki Replica: throughput and peak memory.

Builds a synthetic replica in the loopback MariaDB — ``imagelinks`` of N and 4N rows with
their ``linktarget`` (ns 6), ``page`` (ns 0) and PageImages ``page_props`` — generated
server-side from MariaDB's SEQUENCE engine (``seq_1_to_N``), so loading costs no Python
round trips.  Each size is its own database (``wvbench_<n>_benchwiki_p``), cached across runs
by a marker table.

Then, each in a fresh subprocess (so ``ru_maxrss`` is that reader's own peak):

* **stream** — :meth:`ReplicaClient.article_images`: keyset batches, server-side cursor,
  rows decoded column-wise from the wire (:mod:`wikivis.sources.mysql_wire`), lead-image
  lookups; the complete ``article_images`` dataset.
* **rows** — the same, with ``replica_wire_decode = false``: PyMySQL's own per-row parser
  (what the client did before the wire decoder).
* **scan** — the keyset scan alone, raw columns only (no lead lookups, no dataset
  shaping): the price of bounded batches.
* **naive** — ``pandas.read_sql`` of the same named query in one go (one buffered result,
  no lead flag): what a quick script would do.

Goal: stream memory flat in table size (1× ≈ 4×) and throughput ≥ naive.

    python bench/replica_pull.py [--rows 1000000] [--url mysql+pymysql://root@127.0.0.1:3306/test]

The last line is JSON: rows_per_s, ratio_vs_naive, peak_rss_mb_1x, peak_rss_mb_4x (stream),
and the naive figures beside them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import emit, peak_rss_mb, say, timer

WIKI = "benchwiki"
LINKS_PER_PAGE = 8
MARKER = "_wikivis_bench_marker"
DATA_VERSION = 2
MODES = ("stream", "rows", "scan", "naive")


def database_name(rows: int) -> str:
    return f"wvbench_{rows}_{WIKI}_p"


def ensure_replica(server_url: str, rows: int) -> str:
    """Create and fill the synthetic replica for ``rows`` imagelinks rows unless cached."""
    import sqlalchemy as sa

    from wikivis.mirror.replica_loader import load_replica

    database = database_name(rows)
    url = sa.make_url(server_url).set(database=database)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            marker = conn.exec_driver_sql(f"SELECT rows_, version FROM {MARKER}").first()
            if marker is not None and tuple(marker) == (rows, DATA_VERSION):
                say(f"cached replica {database} ({rows:,} imagelinks rows)")
                return url.render_as_string(hide_password=False)
    except sa.exc.DBAPIError:
        pass  # missing database or marker: build it
    finally:
        engine.dispose()

    pages, files = max(1, rows // LINKS_PER_PAGE), max(16, rows // 4)
    say(f"building {database}: {rows:,} imagelinks, {pages:,} pages, {files:,} files ...")
    prefix = database.removesuffix(f"{WIKI}_p")
    with timer() as t:
        load_replica({}, server_url, WIKI, db_prefix=prefix)  # schema from sql/schema/mediawiki.sql
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("SET SESSION unique_checks = 0")  # this session's bulk load only
            conn.exec_driver_sql(
                f"INSERT INTO page (page_id, page_namespace, page_title, page_is_redirect, page_is_new, page_random, "
                f"page_touched, page_links_updated, page_latest, page_len, page_content_model) "
                f"SELECT seq, 0, CONCAT('Article_number_', seq), 0, 0, RAND(seq), '20260101000000', NULL, seq, "
                f"1000 + seq MOD 5000, 'wikitext' FROM seq_1_to_{pages}"
            )
            conn.exec_driver_sql(
                f"INSERT INTO linktarget (lt_id, lt_namespace, lt_title) "
                f"SELECT seq, 6, CONCAT('Photograph_of_subject_', LPAD(seq, 9, '0'), '.jpg') FROM seq_1_to_{files}"
            )
            conn.exec_driver_sql(
                f"INSERT IGNORE INTO imagelinks (il_from, il_from_namespace, il_target_id) "
                f"SELECT (seq - 1) DIV {LINKS_PER_PAGE} + 1, 0, "
                f"(((seq - 1) DIV {LINKS_PER_PAGE} + 1) * 7919 + ((seq - 1) MOD {LINKS_PER_PAGE}) * 104729) "
                f"MOD {files} + 1 FROM seq_1_to_{rows}"
            )
            # the lead image of page p is its first link (j = 0), computed rather than joined
            conn.exec_driver_sql(
                f"INSERT INTO page_props (pp_page, pp_propname, pp_value, pp_sortkey) "
                f"SELECT seq, 'page_image_free', CONCAT('Photograph_of_subject_', "
                f"LPAD((seq * 7919) MOD {files} + 1, 9, '0'), '.jpg'), NULL FROM seq_1_to_{pages}"
            )
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {MARKER}")
            conn.exec_driver_sql(f"CREATE TABLE {MARKER} (rows_ BIGINT, version INT)")
            conn.exec_driver_sql(f"INSERT INTO {MARKER} VALUES ({int(rows)}, {DATA_VERSION})")
            actual = conn.exec_driver_sql("SELECT COUNT(*) FROM imagelinks").scalar()
        engine.dispose()
    say(f"  built in {t['s']:.1f} s ({actual:,} imagelinks rows after de-duplication)")
    return url.render_as_string(hide_password=False)


# ---------------------------------------------------------------------------- children
def child(mode: str, url: str) -> None:
    """Read article_images once and print {rows, seconds, peak_rss_mb} as JSON."""
    if mode in ("stream", "rows", "scan"):
        from wikivis.config import load_settings
        from wikivis.sources.replicas import Keyset, ReplicaSource

        database = database_from(url)  # wvbench_<n>_benchwiki_p = <prefix>{db}
        settings = load_settings(env={}, replica_url_template=url.replace(database, database.replace(f"{WIKI}_p", "{db}")),
                                 replica_wire_decode=mode != "rows")
        rows = 0
        with timer() as t, ReplicaSource(settings) as source:
            client = source.client(WIKI)
            keyset = Keyset(("page_id", "target_key"), ("after_page", "after_target"), (0, 0))
            batches = client.scan("article_images", keyset) if mode == "scan" else client.article_images()
            for batch in batches:
                rows += batch.num_rows
    else:
        import pandas as pd
        import sqlalchemy as sa

        from wikivis.sqlq import load_query

        engine = sa.create_engine(url)
        with timer() as t, engine.connect() as conn:
            frame = pd.read_sql(load_query("article_images"), conn,
                                params={"after_page": 0, "after_target": 0, "limit": 1 << 62})
            rows = len(frame)
        engine.dispose()
    print(json.dumps({"rows": rows, "seconds": t["s"], "peak_rss_mb": peak_rss_mb()}))


def database_from(url: str) -> str:
    import sqlalchemy as sa

    return str(sa.make_url(url).database)


def run_child(mode: str, url: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url], check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    say(f"  {mode:6s} {result['rows']:>10,} rows in {result['seconds']:6.1f} s = "
        f"{result['rows'] / result['seconds']:>9,.0f} rows/s, peak RSS {result['peak_rss_mb']:7.1f} MiB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="imagelinks rows at 1× (4× is also run)")
    parser.add_argument("--url", default=None, help="MariaDB server URL (default: WIKIVIS_TEST_MYSQL_URL)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url)
        return

    from wikivis.testing import mysql_url

    server = args.url or mysql_url()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for label, rows in (("1x", args.rows), ("4x", 4 * args.rows)):
        url = ensure_replica(server, rows)
        say(f"{label}: {rows:,} imagelinks rows")
        # one untimed pass first: otherwise whichever mode runs first pays for loading the
        # database into InnoDB's buffer pool (128 MB by default, smaller than the 4x tables)
        say("  (warm-up pass, not counted)")
        run_child("scan", url)
        results[label] = {mode: run_child(mode, url) for mode in MODES}

    def rate(label: str, mode: str) -> float:
        r = results[label][mode]
        return r["rows"] / r["seconds"]

    emit(
        {
            "bench": "replica_pull",
            "rows_1x": results["1x"]["stream"]["rows"],
            "rows_4x": results["4x"]["stream"]["rows"],
            "rows_per_s": round(rate("4x", "stream")),
            "naive_rows_per_s": round(rate("4x", "naive")),
            "ratio_vs_naive": round(rate("4x", "stream") / rate("4x", "naive"), 3),
            "ratio_vs_naive_1x": round(rate("1x", "stream") / rate("1x", "naive"), 3),
            "scan_ratio_vs_naive": round(rate("4x", "scan") / rate("4x", "naive"), 3),
            "pymysql_rows_ratio_vs_naive": round(rate("4x", "rows") / rate("4x", "naive"), 3),
            "peak_rss_mb_1x": round(results["1x"]["stream"]["peak_rss_mb"], 1),
            "peak_rss_mb_4x": round(results["4x"]["stream"]["peak_rss_mb"], 1),
            "naive_peak_rss_mb_1x": round(results["1x"]["naive"]["peak_rss_mb"], 1),
            "naive_peak_rss_mb_4x": round(results["4x"]["naive"]["peak_rss_mb"], 1),
        }
    )


if __name__ == "__main__":
    main()

"""Other engines on the lake: DuckDB reads the Iceberg tables directly.

DuckDB's ``iceberg`` and ``avro`` extensions come from the ``duckdb-extension-iceberg`` and
``duckdb-extension-avro`` wheels (each ships the ``.duckdb_extension`` file), so loading them
needs no network: ``INSTALL iceberg`` would try to download.  ``iceberg_scan`` reads a
table's metadata file; by default it sees the table's ``main`` ref (the published state of
every wiki), and ``snapshot_from_id`` reads any snapshot (a run's branch, an old publication).
It applies the Iceberg v2 position delete files that merge-on-read deltas write
(:mod:`wikivis.lake.deletes`), so it returns exactly the rows :meth:`Lake.read` returns
(``tests/integration/lake/test_duckdb_reads.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from wikivis.errors import ConfigError

if TYPE_CHECKING:
    import duckdb

    from wikivis.lake.iceberg import Lake


def duckdb_connection(**config: Any) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the Iceberg extension loaded from its wheel."""
    import duckdb

    try:
        import duckdb_extension_avro
        import duckdb_extension_iceberg
    except ImportError as exc:
        raise ConfigError(f"{exc.name} is not installed: pip install duckdb-extension-iceberg duckdb-extension-avro") from exc

    con = duckdb.connect(config=config)
    for module in (duckdb_extension_avro, duckdb_extension_iceberg):
        found = sorted(Path(module.__file__ or ".").parent.glob("extensions/*/*.duckdb_extension"))
        if not found:
            raise ConfigError(f"{module.__name__} ships no extension file")
        con.execute(f"LOAD '{found[-1]}'")
    return con


def duckdb_published_sql(lake: Lake, dataset: str, wiki: str) -> str:
    """SQL that selects the published rows of ``dataset`` for ``wiki`` in DuckDB."""
    from wikivis.vocab import check_dataset, check_wiki

    check_dataset(dataset), check_wiki(wiki)
    publication = lake.publication(wiki)
    snapshot_id = publication.snapshot_id(dataset) if publication else None
    location = lake.metadata_location(dataset).replace("'", "''")
    where = f"WHERE _wiki = '{wiki}'"
    if snapshot_id is None:
        return f"SELECT * EXCLUDE (_wiki) FROM iceberg_scan('{location}') {where}"
    return f"SELECT * EXCLUDE (_wiki) FROM iceberg_scan('{location}', snapshot_from_id={snapshot_id}) {where}"

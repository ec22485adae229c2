"""The lake: every dataset is an Apache Iceberg table, written with write-audit-publish.

See :mod:`wikivis.lake.iceberg` for the guarantees and :mod:`wikivis.lake.publications` for
what readers see.  ``docs/lake.md`` shows how other engines (DuckDB, Spark, Trino) read it.
"""

from __future__ import annotations

from wikivis.lake.iceberg import FileEntry, Lake, Manifest, conform, schema_fingerprint
from wikivis.lake.publications import Publication
from wikivis.vocab import atomic_write_text

__all__ = ["FileEntry", "Lake", "Manifest", "Publication", "atomic_write_text", "conform", "schema_fingerprint"]

"""MySQL/MariaDB table dumps → Arrow/Parquet → lake datasets.

* :mod:`wikivis.dumps.parser` — streaming parser (``DumpParser``, ``iter_batches``,
  ``parse_to_parquet``, ``read_parsed``, ``open_dump``).
* :mod:`wikivis.dumps.ddl` — ``CREATE TABLE`` → Arrow schema; MediaWiki's text columns.
* :mod:`wikivis.dumps._values` — the ``VALUES`` tokenisers (vectorised and exact).
* :mod:`wikivis.dumps.ingest` — ``ingest(settings, wiki, date)``: one dump snapshot into the
  lake (``pages``, ``article_images``, ``article_categories``, ``files``).

Nothing is imported here, so ``import wikivis.dumps`` stays cheap.
"""

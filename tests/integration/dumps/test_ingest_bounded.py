"""The out-of-core ingest on the sample wiki, under a small memory limit, writes the very
bytes the in-memory path (the builders it replaced, then ``Lake.write`` of whole tables)
writes for the same parsed input."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wikivis.dumps.ingest import (
    build_article_categories,
    build_article_images,
    build_article_items,
    build_files,
    build_pages,
)
from wikivis.lake import Lake

pytestmark = pytest.mark.integration


def test_bounded_ingest_writes_what_the_in_memory_path_wrote(mirror, sample_wiki, tmp_path):
    from wikivis.dumps.ingest import ingest

    settings = mirror.settings(home=tmp_path / "home", memory_limit="48MiB")
    assert settings.memory_limit_bytes == 48 << 20
    result = ingest(settings, sample_wiki.wiki, lake=Lake.from_settings(settings))

    raw = settings.raw_root / "dumps"
    tables = {}
    for wiki, snapshot in ((sample_wiki.wiki, result.snapshot), (sample_wiki.commons_wiki, result.commons_snapshot)):
        for parsed in sorted((raw / wiki / snapshot / "parsed").iterdir()):
            name = re.match(r"(.+?)-[0-9a-f]{12}", parsed.name).group(1)  # type: ignore[union-attr]
            tables[name] = pa.concat_tables([pq.read_table(p) for p in sorted(parsed.glob("part-*.parquet"))])
    pages = build_pages(sample_wiki.wiki, tables["page"])
    old = {
        "pages": pages,
        "article_images": build_article_images(sample_wiki.wiki, pages, tables["imagelinks"], tables["linktarget"],
                                               tables["page_props"], "x"),
        "article_categories": build_article_categories(sample_wiki.wiki, pages, tables["categorylinks"],
                                                       tables["linktarget"], "x"),
        "article_items": build_article_items(sample_wiki.wiki, pages, tables["page_props"]),
        "files": build_files(sample_wiki.commons_wiki, tables["image"], "x"),
    }
    reference = Lake(tmp_path / "in-memory")
    for dataset, table in old.items():
        wiki = sample_wiki.commons_wiki if dataset == "files" else sample_wiki.wiki
        snapshot = result.commons_snapshot if dataset == "files" else result.snapshot
        want = reference.write(dataset, wiki, snapshot, table)
        assert result.manifests[dataset].rows == want.rows > 0, dataset
        assert result.manifests[dataset].content_hash == want.content_hash, dataset  # byte for byte
    assert not list(raw.rglob("duckdb-*"))  # the scratch directory is gone

"""The Commons stage's work: metadata and thumbnails for the files a wiki's articles use.

One implementation, in steps, so that an orchestrator can spread it over tasks and a plain
call can run it in one go (:func:`commons_stage`, used by the CLI and ``run_all``; the
Airflow DAG runs the same steps as mapped tasks through :mod:`wikivis.stages.commons`):

1. :func:`plan_shards` — the distinct files used by ``article_images`` at the snapshot
   (capped by ``max_images``), split into shards of :data:`SHARD_FILES`;
2. :func:`metadata_shard` — Commons imageinfo for one shard, written as a *part* file under
   ``<raw>/commons/<wiki>/<snapshot>/`` (``file_metadata`` and ``metadata_failures``);
3. :func:`media_shard` — the shard's thumbnails into the shared media store, and its
   ``media`` part;
4. :func:`merge_parts` — the parts become the ``file_metadata``, ``metadata_failures`` and
   ``media`` snapshots under the *same* wiki and snapshot id (so gates and the embedder
   find them by the ingest snapshot).

Nightly reruns are cheap, on every path: the metadata of a file whose sha1 has not changed
since the previous ``file_metadata`` snapshot (sha1 taken from this snapshot's ``files``
dataset, i.e. the ``image`` table) is reused without an API call, and thumbnails already in
the store are never requested again.  A licence change without a new upload is therefore
picked up only by ``reuse_metadata=False`` (e.g. a weekly full refresh).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from wikivis.datasets import schema
from wikivis.errors import NotFoundError
from wikivis.lake import Lake
from wikivis.media.fetch import FetchSummary, MetadataResult, ThumbnailFetcher, fetch_media, fetch_metadata
from wikivis.media.store import MediaStore
from wikivis.sources.commons import ActionApiClient
from wikivis.vocab import atomic_write_bytes

if TYPE_CHECKING:
    from wikivis.catalog import Catalog
    from wikivis.config import Settings
    from wikivis.lake import Manifest

#: files per shard (one mapped metadata task and one thumbnail task each under Airflow)
SHARD_FILES = 2000
#: the datasets the stage writes, from the parts of the same name
PART_DATASETS = ("file_metadata", "metadata_failures", "media")


def parts_dir(settings: Settings, wiki: str, snapshot: str) -> Path:
    return settings.raw_root / "commons" / wiki / snapshot


def part_path(settings: Settings, dataset: str, wiki: str, snapshot: str, shard: int, n_shards: int) -> Path:
    return parts_dir(settings, wiki, snapshot) / f"{dataset}-{shard:04d}-of-{n_shards:04d}.parquet"


def _write_part(path: Path, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _names(settings: Settings, lake: Lake, wiki: str, snapshot: str, max_images: int) -> pa.Array:
    """The files the wiki's articles use, distinct and sorted (the first ``max_images``), as
    one Arrow array: each shard task takes its slice without a Python string per file of the
    wiki (millions on enwiki)."""
    if not lake.exists("article_images", wiki, snapshot):
        raise NotFoundError(f"no article_images snapshot {snapshot} for {wiki}: ingest it first")
    column = lake.read("article_images", wiki, snapshot, columns=["file_name"]).column("file_name")
    names = pc.unique(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    names = names.take(pc.array_sort_indices(names))  # UTF-8 byte order = code point order = sorted()
    limit = max_images or settings.max_images
    return names.slice(0, limit) if limit else names


def shard_names(settings: Settings, lake: Lake, wiki: str, snapshot: str, shard: int, n_shards: int,
                max_images: int = 0) -> list[str]:
    """Shard ``shard`` of ``n_shards``: every ``n_shards``-th name of :func:`_names`."""
    names = _names(settings, lake, wiki, snapshot, max_images)
    selected: list[str] = names.take(pa.array(range(shard, len(names), n_shards), pa.int64())).to_pylist()
    return selected


def plan_shards(settings: Settings, lake: Lake, wiki: str, snapshot: str, *, max_images: int = 0) -> tuple[int, int]:
    """``(files, shards)`` of the snapshot; clears parts an earlier plan left behind."""
    n = len(_names(settings, lake, wiki, snapshot, max_images))
    shutil.rmtree(parts_dir(settings, wiki, snapshot), ignore_errors=True)
    return n, max(1, -(-n // SHARD_FILES))


def _matching(lake: Lake, dataset: str, wiki: str, label: str, wanted: pa.Array,
              columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a lake label whose ``file_name`` is in ``wanted``, streamed batch by batch:
    a shard looks up its own 2,000 names, never a whole wiki's ``files`` or ``file_metadata``."""
    for batch in lake.iter_batches(dataset, wiki, label, columns=columns):
        yield from batch.filter(pc.is_in(batch.column("file_name"), value_set=wanted)).to_pylist()


def _files_sha1(settings: Settings, lake: Lake, wiki: str, snapshot: str, wanted: pa.Array) -> dict[str, str]:
    """file_name → sha1 of ``wanted`` from the ``files`` dataset of this wiki (or of Commons), if any."""
    for owner in (wiki, settings.commons_wiki):
        snaps = [s for s in lake.snapshots("files", owner) if s <= snapshot]
        if snaps:
            return {r["file_name"]: r["sha1"]
                    for r in _matching(lake, "files", owner, snaps[-1], wanted, ["file_name", "sha1"])}
    return {}


def reusable_metadata(settings: Settings, lake: Lake, wiki: str, snapshot: str,
                      names: list[str]) -> list[dict[str, Any]]:
    """Rows of the previous ``file_metadata`` snapshot for ``names`` whose sha1 is unchanged."""
    earlier = [s for s in lake.snapshots("file_metadata", wiki) if s < snapshot]
    if not earlier or not names:
        return []
    wanted = pa.array(sorted(set(names)), pa.string())
    sha1_by_name = _files_sha1(settings, lake, wiki, snapshot, wanted)
    if not sha1_by_name:
        return []
    return [r for r in _matching(lake, "file_metadata", wiki, earlier[-1], wanted)
            if sha1_by_name.get(r["file_name"]) == r["sha1"]]


def metadata_shard(settings: Settings, lake: Lake, wiki: str, snapshot: str, shard: int, n_shards: int, *,
                   max_images: int = 0, client: ActionApiClient | None = None, run_id: str | None = None,
                   reuse_metadata: bool = True) -> MetadataResult:
    """Commons imageinfo for one shard (unchanged files reused), written as its parts."""
    names = shard_names(settings, lake, wiki, snapshot, shard, n_shards, max_images)
    reuse = reusable_metadata(settings, lake, wiki, snapshot, names) if reuse_metadata else []
    meta = fetch_metadata(settings, names, wiki=wiki, client=client, run_id=run_id, reuse=reuse)
    _write_part(part_path(settings, "file_metadata", wiki, snapshot, shard, n_shards), meta.table)
    failures = meta.failures if meta.failures is not None else pa.Table.from_pylist([], schema=schema("metadata_failures"))
    _write_part(part_path(settings, "metadata_failures", wiki, snapshot, shard, n_shards), failures)
    return meta


def media_shard(settings: Settings, wiki: str, snapshot: str, shard: int, n_shards: int, *,
                store: MediaStore | None = None, fetcher: ThumbnailFetcher | None = None,
                on_plan: Callable[[int], None] | None = None,
                on_item: Callable[[dict[str, Any]], None] | None = None) -> FetchSummary:
    """Thumbnails for the files of one shard's metadata part, and its ``media`` part."""
    meta_path = part_path(settings, "file_metadata", wiki, snapshot, shard, n_shards)
    if not meta_path.is_file():
        raise NotFoundError(f"{meta_path} is missing: fetch the metadata of shard {shard} first")
    summary = fetch_media(settings, pq.read_table(meta_path), store=store, fetcher=fetcher, on_plan=on_plan,
                          on_item=on_item)
    _write_part(part_path(settings, "media", wiki, snapshot, shard, n_shards),
                pa.Table.from_pylist(summary.records, schema=schema("media")))
    return summary


def merge_parts(settings: Settings, lake: Lake, wiki: str, snapshot: str, *, catalog: Catalog | None = None,
                run_id: str | None = None) -> dict[str, Manifest]:
    """Write the stage's datasets from the shard parts and record them in the catalog."""
    parts = parts_dir(settings, wiki, snapshot)
    written: dict[str, Manifest] = {}
    for dataset in PART_DATASETS:
        files = sorted(parts.glob(f"{dataset}-*.parquet"))
        if not files:
            continue
        table = pa.concat_tables([pq.read_table(f) for f in files])
        manifest = lake.write(dataset, wiki, snapshot, table, run_id=run_id, inputs=[str(f) for f in files])
        if catalog is not None:
            catalog.record_snapshot(dataset, wiki, snapshot, manifest.rows, manifest.content_hash, run_id)
        written[dataset] = manifest
    if "file_metadata" not in written:
        raise NotFoundError(f"no Commons metadata parts under {parts}: run the metadata shards first")
    return written


def combine(summaries: list[FetchSummary]) -> FetchSummary:
    """One summary of several shards' (counts added up, reasons merged, rows concatenated)."""
    if len(summaries) == 1:
        return summaries[0]
    out = FetchSummary()
    for f in fields(FetchSummary):
        values = [getattr(s, f.name) for s in summaries]
        if f.name == "manifest":
            continue
        if isinstance(values[0], dict):
            total: Counter[str] = Counter()
            for v in values:
                total.update(v)
            setattr(out, f.name, dict(total))
        elif isinstance(values[0], list):
            setattr(out, f.name, [x for v in values for x in v])
        else:
            setattr(out, f.name, sum(values))
    return out


def commons_stage(
    settings: Settings,
    wiki: str,
    snapshot: str,
    *,
    lake: Lake,
    catalog: Catalog | None = None,
    run_id: str | None = None,
    client: ActionApiClient | None = None,
    store: MediaStore | None = None,
    fetcher: ThumbnailFetcher | None = None,
    reuse_metadata: bool = True,
    max_images: int = 0,
    on_plan: Callable[[int], None] | None = None,
    on_item: Callable[[dict[str, Any]], None] | None = None,
) -> FetchSummary:
    """Every step in one call: plan, each shard's metadata and thumbnails, merge."""
    _, n_shards = plan_shards(settings, lake, wiki, snapshot, max_images=max_images)
    summaries, problems, failures = [], Counter[str](), []
    planned = 0

    def plan_total(n: int) -> None:  # one progress total over every shard
        nonlocal planned
        planned += n
        if on_plan is not None:
            on_plan(planned)

    for shard in range(n_shards):
        meta = metadata_shard(settings, lake, wiki, snapshot, shard, n_shards, max_images=max_images, client=client,
                              run_id=run_id, reuse_metadata=reuse_metadata)
        problems.update(meta.problems)
        failures += meta.failure_rows()
        summaries.append(media_shard(settings, wiki, snapshot, shard, n_shards, store=store, fetcher=fetcher,
                                     on_plan=plan_total, on_item=on_item))
    written = merge_parts(settings, lake, wiki, snapshot, catalog=catalog, run_id=run_id)
    summary = combine(summaries)
    summary.metadata_problems = dict(problems)
    summary.metadata_failures = failures
    summary.manifest = written.get("media")
    return summary

"""The pipeline's Commons stage: metadata and thumbnails for the files a wiki's articles use.

:func:`commons_stage` reads the ``article_images`` snapshot, asks the Commons API about each
distinct file, writes ``file_metadata``, ``metadata_failures`` (every title that got no
usable metadata, with its reason) and ``media`` under the *same* wiki and snapshot id
(so gates and the embedder find them by the ingest snapshot), and fills the shared media
store.

Nightly reruns are cheap: the metadata of a file whose sha1 has not changed since the
previous ``file_metadata`` snapshot (sha1 taken from this snapshot's ``files`` dataset, i.e.
the ``image`` table) is reused without an API call, and thumbnails already in the store are
never requested again.  A licence change without a new upload is therefore picked up only
by ``reuse_metadata=False`` (e.g. a weekly full refresh).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wikivis.errors import NotFoundError
from wikivis.lake import Lake
from wikivis.media.fetch import FetchSummary, ThumbnailFetcher, fetch_media, fetch_metadata
from wikivis.media.lists import by_article
from wikivis.media.store import MediaStore
from wikivis.sources.commons import ActionApiClient

if TYPE_CHECKING:
    from wikivis.catalog import Catalog
    from wikivis.config import Settings


def _files_sha1(settings: Settings, lake: Lake, wiki: str, snapshot: str) -> dict[str, str]:
    """file_name → sha1 from the ``files`` dataset of this wiki (or of Commons), if any."""
    for owner in (wiki, settings.commons_wiki):
        snaps = [s for s in lake.snapshots("files", owner) if s <= snapshot]
        if snaps:
            table = lake.read("files", owner, snaps[-1], columns=["file_name", "sha1"])
            return dict(zip(table.column("file_name").to_pylist(), table.column("sha1").to_pylist(), strict=True))
    return {}


def _reusable_metadata(lake: Lake, wiki: str, snapshot: str, sha1_by_name: dict[str, str]) -> list[dict[str, Any]]:
    earlier = [s for s in lake.snapshots("file_metadata", wiki) if s < snapshot]
    if not earlier or not sha1_by_name:
        return []
    previous = lake.read("file_metadata", wiki, earlier[-1]).to_pylist()
    return [r for r in previous if sha1_by_name.get(r["file_name"]) == r["sha1"]]


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
    on_plan: Callable[[int], None] | None = None,
    on_item: Callable[[dict[str, Any]], None] | None = None,
) -> FetchSummary:
    """Metadata + thumbnails for the files used in ``wiki``'s articles at ``snapshot``."""
    if not lake.exists("article_images", wiki, snapshot):
        raise NotFoundError(f"no article_images snapshot {snapshot} for {wiki}: ingest it first")
    names = by_article(lake, wiki, snapshot)
    if settings.max_images:
        names = names[: settings.max_images]
    sha1_by_name = _files_sha1(settings, lake, wiki, snapshot)
    reuse = _reusable_metadata(lake, wiki, snapshot, sha1_by_name) if reuse_metadata else []
    wanted = set(names)
    reuse = [r for r in reuse if r["file_name"] in wanted]
    meta = fetch_metadata(settings, names, lake, snapshot, wiki=wiki, client=client, run_id=run_id, reuse=reuse)
    summary = fetch_media(
        settings,
        meta.table,
        store=store,
        fetcher=fetcher,
        lake=lake,
        wiki=wiki,
        snapshot=snapshot,
        run_id=run_id,
        on_plan=on_plan,
        on_item=on_item,
    )
    summary.metadata_problems = dict(meta.problems)
    summary.metadata_failures = meta.failure_rows()
    if catalog is not None:
        for manifest in (meta.manifest, meta.failures_manifest, summary.manifest):
            if manifest is not None:
                catalog.record_snapshot(
                    manifest.dataset, manifest.wiki, manifest.snapshot, manifest.rows, manifest.content_hash, run_id
                )
    return summary

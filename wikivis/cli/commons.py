"""``wikivis commons …``: Commons metadata and thumbnails.

``fetch`` takes exactly one source of file names: ``--wiki`` (the files used by that wiki's
articles, from the lake — the pipeline's stage), ``--titles-file``, ``--category`` (with
``--depth``), ``--depicts`` (a Wikidata item, via structured data) or ``--search``.  Ad-hoc
lists (every source but ``--wiki``) are written under the Commons wiki with a timestamp
snapshot id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from wikivis.cli._common import echo_result, progress, settings_from_ctx, snapshot_option
from wikivis.errors import InputError, NotFoundError

app = typer.Typer(help="Commons metadata and thumbnails.", no_args_is_help=True)
#: titles without metadata listed in the human output (``--json`` lists them all)
MAX_LISTED_FAILURES = 20


def _describe(summary: dict[str, Any]) -> str:
    def reasons(d: dict[str, int]) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(d.items())) or "-"

    lines = [
        f"items: {summary['total']}  fetched: {summary['fetched']}  already present: {summary['already_present']}",
        f"skipped: {summary['skipped']} ({reasons(summary['skipped_reasons'])})",
        f"failed: {summary['failed_total']} ({reasons(summary['failed'])})",
        f"downloaded: {summary['bytes'] / 1e6:.1f} MB in {summary['requests']} requests "
        f"({summary['retries']} retries, {summary['throttled']} throttled) in {summary['elapsed_s']:.1f} s",
        f"shards: {summary['shards']} ({summary['shards_resumed']} resumed)",
    ]
    if summary.get("metadata_problems"):
        lines.append(f"files without metadata: {reasons(summary['metadata_problems'])}")
    failures = summary.get("metadata_failures") or []
    for row in failures[:MAX_LISTED_FAILURES]:
        lines.append(f"  {row['file_name']}: {row['reason']}" + (f" ({row['detail']})" if row.get("detail") else ""))
    if len(failures) > MAX_LISTED_FAILURES:
        lines.append(f"  … and {len(failures) - MAX_LISTED_FAILURES} more (all in --json and the metadata_failures dataset)")
    return "\n".join(lines)


@app.command("fetch")
def fetch(
    wiki: Annotated[str | None, typer.Option(help="files used by this wiki's articles (lake article_images)")] = None,
    snapshot: Annotated[str | None, typer.Option(callback=snapshot_option, help="article_images snapshot (default: published, else latest)")] = None,
    titles_file: Annotated[Path | None, typer.Option(help="file names or File: titles, one per line")] = None,
    category: Annotated[str | None, typer.Option(help="a Commons category")] = None,
    depth: Annotated[int, typer.Option(min=0, help="subcategory levels to descend with --category")] = 0,
    depicts: Annotated[str | None, typer.Option(help="Wikidata item the files depict (P180), e.g. Q146")] = None,
    search: Annotated[str | None, typer.Option(help="CirrusSearch query in the File namespace")] = None,
    max_images: Annotated[int | None, typer.Option(min=0, help="fetch at most N images (0 = all)")] = None,
    width: Annotated[int | None, typer.Option(help="thumbnail width (a standard width)")] = None,
    include_non_free: Annotated[bool, typer.Option(help="also fetch non-free / unknown-licence files")] = False,
) -> None:
    """Fetch metadata and thumbnails into the media store; print what was fetched, skipped, failed."""
    from wikivis.lake import Lake
    from wikivis.media import lists
    from wikivis.media.fetch import fetch_media, fetch_metadata
    from wikivis.media.stage import commons_stage
    from wikivis.sources.commons import ActionApiClient, check_thumb_width

    sources = {"--wiki": wiki, "--titles-file": titles_file, "--category": category, "--depicts": depicts, "--search": search}
    given = [k for k, v in sources.items() if v is not None]
    if len(given) != 1:
        raise InputError(f"give exactly one of {', '.join(sources)} (got {', '.join(given) or 'none'})")
    overrides: dict[str, Any] = {}
    if max_images is not None:
        overrides["max_images"] = max_images
    if width is not None:
        overrides["thumb_width"] = check_thumb_width(width)
    if include_non_free:
        overrides["free_licences_only"] = False
    settings = settings_from_ctx(None, **overrides)
    lake = Lake.from_settings(settings)

    with progress(None, "thumbnails", unit="img") as bar:

        def on_plan(n: int) -> None:
            bar.total = n
            bar.refresh()

        def on_item(_row: dict[str, Any]) -> None:
            bar.update(1)

        if wiki is not None:
            snap = snapshot or lake.current("article_images", wiki) or lake.latest("article_images", wiki)
            if snap is None:
                raise NotFoundError(f"no article_images snapshot for {wiki}: ingest it first")
            summary = commons_stage(settings, wiki, snap, lake=lake, on_plan=on_plan, on_item=on_item)
        else:
            client = ActionApiClient.from_settings(settings)
            limit = settings.max_images or None
            if titles_file is not None:
                names = lists.from_file(titles_file, limit=limit)
            elif category is not None:
                names = lists.by_category(client, category, depth=depth, limit=limit)
            elif depicts is not None:
                names = lists.by_depicts(client, depicts, limit=limit)
            else:
                names = lists.by_search(client, str(search), limit=limit)
            snap = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            meta = fetch_metadata(settings, names, lake, snap, client=client)
            summary = fetch_media(settings, meta.table, lake=lake, snapshot=snap, on_plan=on_plan, on_item=on_item)
            summary.metadata_problems = dict(meta.problems)
            summary.metadata_failures = meta.failure_rows()
    result = summary.as_dict() | {"snapshot": snap}
    echo_result(result, human=_describe(result) + f"\nsnapshot: {snap}")


@app.command("import-pixels")
def import_pixels_cmd(
    files: Annotated[list[Path], typer.Argument(help="caption-competition image_pixels files (.csv or .csv.gz)")],
    wiki: Annotated[str, typer.Option(help="wiki whose files/file_metadata give the sha1 of each file")],
    snapshot: Annotated[str | None, typer.Option(callback=snapshot_option, help="snapshot of files/file_metadata (default: latest)")] = None,
) -> None:
    """Import released 300-px images into the media store (skips fetching them)."""
    from wikivis.lake import Lake
    from wikivis.media.store import MediaStore
    from wikivis.research.files import import_pixels, name_sources, pixel_file_names, sha1_by_name

    settings = settings_from_ctx(None)
    lake = Lake.from_settings(settings)
    if not name_sources(lake, (settings.commons_wiki, wiki), snapshot):
        raise NotFoundError(f"no files/file_metadata snapshot for {wiki}: the sha1 of each file is needed")
    # two passes: the files' names first, so only their sha1s are held, not all of Commons'
    sha1_map = sha1_by_name(lake, (settings.commons_wiki, wiki), snapshot, only=pixel_file_names(files))
    summary = import_pixels(files, MediaStore(settings.media_root), sha1_map)
    out = {"imported": summary.imported, "already_present": summary.already_present, "skipped": summary.skipped,
           "failed": summary.failed}
    echo_result(out)

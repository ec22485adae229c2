"""``wikivis research …``: Wikimedia's published research files as sources.

``import-embeddings`` stores the caption competition's ResNet-50 vectors under the model id
``resnet50-wmf-cc`` (then ``index build --model resnet50-wmf-cc``, ``similar --model-id …``,
``eval run --model-id …`` work with no image downloaded); ``import-wit`` maps WIT rows onto
the lake's datasets.  See :mod:`wikivis.research`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from wikivis.cli._common import echo_result, settings_from_ctx

app = typer.Typer(help="Import Wikimedia's published research files (WIT, caption competition).", no_args_is_help=True)


@app.command("import-embeddings")
def import_embeddings_cmd(
    inputs: Annotated[list[Path], typer.Argument(help="resnet_embeddings files or folders (.csv, .csv.gz)")],
    wiki: Annotated[str | None, typer.Option(help="wiki whose files/file_metadata map names to sha1 (with Commons)")] = None,
    snapshot: Annotated[str | None, typer.Option(help="snapshot of files/file_metadata (default: latest)")] = None,
    model_id: Annotated[str | None, typer.Option(help="store under this model id (default resnet50-wmf-cc)")] = None,
) -> None:
    """Load ResNet-50 embedding files into the embedding store, keyed by file sha1."""
    from wikivis.errors import NotFoundError
    from wikivis.lake import Lake
    from wikivis.research.embeddings import MODEL_ID, import_embedding_files
    from wikivis.research.files import lake_name_batches, name_sources

    settings = settings_from_ctx(None)
    wiki = wiki or settings.wikis[0]
    lake = Lake.from_settings(settings)
    sources = name_sources(lake, (settings.commons_wiki, wiki), snapshot)
    if not sources:
        raise NotFoundError(f"no files/file_metadata for {settings.commons_wiki} or {wiki}: the sha1 of each file is needed")
    summary = import_embedding_files(
        settings, inputs, lake_name_batches(lake, sources), model_id=model_id or MODEL_ID
    ).as_dict()
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(summary["skipped"].items())) or "none"
    human = (f"{summary['model_id']}: {summary['imported']} imported, {summary['already_present']} already present, "
             f"skipped {skipped} ({summary['rows']} rows in {summary['files']} files, {summary['shards']} new shards)")
    echo_result(summary, human=human)


@app.command("import-wit")
def import_wit_cmd(
    file: Annotated[Path, typer.Argument(help="a WIT TSV (gzipped or not, with WIT's header)")],
    snapshot: Annotated[str | None, typer.Option(help="snapshot to write (default: today, UTC)")] = None,
    publish: Annotated[bool, typer.Option(help="publish the snapshots (replaces the wikis' current pages!)")] = False,
) -> None:
    """Map WIT rows onto pages, article_images, article_image_captions and file_captions."""
    from wikivis.errors import NotFoundError
    from wikivis.lake import Lake
    from wikivis.research.wit import import_wit

    if not file.is_file():
        raise NotFoundError(f"no such file: {file}")
    settings = settings_from_ctx(None)
    snap = snapshot or datetime.now(UTC).strftime("%Y%m%d")
    summary = import_wit(Lake.from_settings(settings), file, snap, commons_wiki=settings.commons_wiki, publish=publish)
    out = summary.as_dict()
    human = f"{out['rows']} WIT rows → snapshot {snap}: " + ", ".join(f"{k} {v}" for k, v in out["written"].items())
    echo_result(out, human=human)

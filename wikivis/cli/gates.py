"""``wikivis gates check``: run the gate that covers one dataset of one wiki snapshot.

Tables (pages, article_images, article_categories, files) run the ``tables`` gate; media and
file_metadata run the ``media`` gate (thumbnails on disk included).  Results are recorded in
the catalog under a new run (its id is printed; ``wikivis report RUN_ID`` renders it), rows
set aside go to the lake's ``quarantine`` dataset, and a failing check exits with code 6.
"""

from __future__ import annotations

from typing import Annotated

import typer

from wikivis.cli._common import STATE, echo_result, settings_from_ctx, snapshot_option
from wikivis.gates import MEDIA_DATASETS, TABLE_DATASETS

app = typer.Typer(no_args_is_help=True)


@app.command("check")
def check(
    dataset: Annotated[str, typer.Option(help=f"one of {', '.join(TABLE_DATASETS + MEDIA_DATASETS)}")],
    wiki: Annotated[str, typer.Option(help="wiki database name, e.g. enwiki")],
    snapshot: Annotated[str | None, typer.Option(callback=snapshot_option, help="snapshot id (default: the newest in the lake)")] = None,
    previous: Annotated[str | None, typer.Option(callback=snapshot_option, help="snapshot to measure drift against (default: the one before)")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="check what was published then (run id, publication id or date)")] = None,
) -> None:
    """Check DATASET of WIKI at SNAPSHOT; exit 6 when a check fails."""
    from wikivis.catalog import Catalog
    from wikivis.config import check_wiki_name
    from wikivis.errors import ConfigError, GateFailed, NotFoundError
    from wikivis.gates.stages import gate_media, gate_tables, locate
    from wikivis.lake import Lake

    settings = settings_from_ctx()
    check_wiki_name(wiki)
    if dataset not in TABLE_DATASETS + MEDIA_DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; choose from {', '.join(TABLE_DATASETS + MEDIA_DATASETS)}")
    lake = Lake.from_settings(settings)
    if as_of is not None:
        where = settings.commons_wiki if dataset == "files" else wiki
        publication = lake.publication(where, as_of=as_of)
        snapshot = publication.label(dataset) if publication else None
        if snapshot is None:
            raise NotFoundError(f"no publication of {dataset} for {where} as of {as_of}")
    if snapshot is None:
        candidates = [lake.latest(dataset, w) for w in (wiki, settings.commons_wiki)]
        snapshot = next((s for s in candidates if s), None)
        if snapshot is None:
            raise NotFoundError(f"no snapshot of {dataset} for {wiki} in {lake.root}")
    elif locate(lake, settings, dataset, wiki, snapshot) is None:
        raise NotFoundError(f"no snapshot {snapshot} of {dataset} for {wiki} in {lake.root}")
    gate = gate_tables if dataset in TABLE_DATASETS else gate_media
    catalog = Catalog(settings.resolved_catalog_url)
    try:
        report = gate(settings, lake, wiki, snapshot, previous=previous, catalog=catalog,
                      datasets=(dataset,), raise_on_fail=False)
    finally:
        catalog.dispose()
    echo_result(report.to_dict(), human=f"run {report.run_id}\n{report.summary()}")
    if not report.ok:
        first = report.failures[0]
        if STATE.as_json:
            raise typer.Exit(GateFailed.exit_code)
        raise GateFailed(report.failure_message(), gate=first.name, dataset=first.dataset)

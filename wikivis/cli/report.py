"""``wikivis report RUN_ID``: the quality report of one run (Markdown on stdout; ``--html``
prints the path of the self-contained HTML version instead).  Both files are (re)written
under ``<home>/reports/<run_id>/`` from the catalog and the lake."""

from __future__ import annotations

from typing import Annotated

import typer

from wikivis.cli._common import STATE, echo_result, run_id_argument, settings_from_ctx

app = typer.Typer()


@app.command("report")
def report(
    run_id: Annotated[str, typer.Argument(callback=run_id_argument, help="the run id (see `wikivis status`)")],
    html: Annotated[bool, typer.Option("--html", help="print the path of the HTML report instead")] = False,
) -> None:
    """Write the quality report of RUN_ID (HTML + Markdown) and print it."""
    from wikivis.catalog import Catalog
    from wikivis.gates.report import write_report

    settings = settings_from_ctx()
    catalog = Catalog(settings.resolved_catalog_url)
    try:
        html_path, md_path = write_report(settings, catalog, run_id)
    finally:
        catalog.dispose()
    if STATE.as_json:
        echo_result({"run_id": run_id, "html": html_path, "markdown": md_path})
    elif html:
        typer.echo(str(html_path))
    else:
        typer.echo(md_path.read_text("utf-8"), nl=False)

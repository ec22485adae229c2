"""``wikivis dumps …``: SQL table dumps.

* ``parse FILE --out DIR`` — stream one ``.sql``/``.sql.gz`` table dump into a Parquet
  dataset (any MySQL/MariaDB dump; columns mapped from the file's ``CREATE TABLE``).
* ``ingest --wiki W [--date YYYYMMDD|latest]`` — download the run's tables (verified,
  resumable) and write the ``pages``/``article_images``/``article_categories``/``files``
  snapshots to the lake (unpublished: the pipeline publishes after its gates).
* ``list --wiki W`` — the wiki's runs and whether each is complete.

Errors are typed (bad file → exit 3 naming file and byte offset; source failure → 4; no
such run → 5); heavy libraries are imported inside the commands.  ``parse`` refuses a file
without mysqldump's ``-- Dump completed`` footer (truncated) unless ``--allow-partial``, and
an ``--out`` directory holding anything it did not write (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wikivis.cli._common import dump_date_option, echo_result, settings_from_ctx

app = typer.Typer(help="SQL dumps: list, parse, ingest.", no_args_is_help=True)


@app.command("parse")
def parse(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".sql or .sql.gz table dump")],
    out: Annotated[Path, typer.Option(
        "--out", help="output directory: new, empty, or an earlier output of this command (replaced atomically)")],
    table: Annotated[str | None, typer.Option(help="table to read (default: the file's first)")] = None,
    columns: Annotated[str | None, typer.Option(help="comma-separated columns to keep")] = None,
    binary: Annotated[bool, typer.Option("--binary", help="keep every VARBINARY/BLOB column as bytes")] = False,
    replace_invalid_utf8: Annotated[
        bool, typer.Option("--replace-invalid-utf8", help="replace (and count) invalid UTF-8 in text columns")
    ] = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="accept a file without the '-- Dump completed' footer")
    ] = False,
) -> None:
    """Parse FILE into a Parquet dataset at --out; prints the table and row count."""
    from wikivis.dumps.parser import parse_to_parquet

    result = parse_to_parquet(
        file,
        out,
        table=table,
        columns=[c.strip() for c in columns.split(",") if c.strip()] if columns else None,
        decode_text=not binary,
        invalid_utf8="replace" if replace_invalid_utf8 else "error",
        allow_partial=allow_partial,
    )
    stats = result.stats
    echo_result(
        result.as_dict(),
        human=(
            f"{result.table}: {result.rows} rows → {result.out_dir} ({len(result.files)} file(s); "
            f"{stats.statements} INSERTs, {stats.bytes / 1e6:.1f} MB SQL"
            + (f", {stats.invalid_utf8_replaced} invalid UTF-8 values replaced" if stats.invalid_utf8_replaced else "")
            + ("" if stats.completed else "; no '-- Dump completed' footer")
            + ")"
        ),
    )


@app.command("ingest")
def ingest_cmd(
    wiki: Annotated[str, typer.Option("--wiki", help="article wiki, e.g. enwiki")],
    date: Annotated[str, typer.Option("--date", callback=dump_date_option, help="dump date YYYYMMDD or 'latest'")] = "latest",
) -> None:
    """Download and ingest one dump snapshot of WIKI into the lake (not published)."""
    from wikivis.dumps.ingest import ingest
    from wikivis.events import reconcile_after_ingest

    settings = settings_from_ctx()
    result = ingest(settings, wiki, date)
    reconcile_after_ingest(settings, wiki, result.snapshot, source="dumps")  # a stale event checkpoint restarts here
    rows = ", ".join(f"{d} {n}" for d, n in result.rows.items())
    echo_result(
        result.as_dict(),
        human=f"{wiki} snapshot {result.snapshot} (commons {result.commons_snapshot}): {rows}",
    )


@app.command("list")
def list_runs(
    wiki: Annotated[str, typer.Option("--wiki", help="wiki database name, e.g. enwiki")],
) -> None:
    """List WIKI's dump runs, newest first, with their completeness."""
    from wikivis.dumps.ingest import WIKI_TABLES
    from wikivis.sources.dumps import DumpsClient

    settings = settings_from_ctx()
    wanted = ("image",) if wiki == settings.commons_wiki else WIKI_TABLES
    runs = DumpsClient(settings).runs(wiki)
    summary = [r.summary() | {"ingestable": r.ready(wanted), "not_ready": r.missing(wanted)} for r in runs]
    lines = [f"{wiki}: {len(runs)} run(s)"]
    for r, s in zip(runs, summary, strict=True):
        state = "complete" if r.complete else "incomplete"
        extra = "" if s["ingestable"] else f"  not ready: {s['not_ready']}"
        lines.append(f"  {r.date}  {state:10s}  ingestable={'yes' if s['ingestable'] else 'no'}{extra}")
    echo_result(summary, human="\n".join(lines))

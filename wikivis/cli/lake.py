"""``wikivis lake``: the Iceberg lake's publications, run branches, time travel and upkeep.

* ``history DATASET --wiki W``: publications holding DATASET, newest first, with their run,
  label (dump date or events window) and row count.
* ``show --run RUN_ID``: what a run wrote on its branch (a failed run's branch stays for
  inspection until ``expire`` removes it).
* ``rollback --wiki W --to RUN_ID|DATE|PUBLICATION``: republish an older publication,
  recorded as a new one.
* ``expire --wiki W``: retention (keep the newest publications), old run branches, then the
  orphan files no snapshot references and older than a safe age.
* ``compact --wiki W [DATASET …]``: rewrite the published files that merge-on-read deltas
  have worn down (``expire`` does this first too), published as a ``compact`` publication.
* ``migrate OLD_ROOT``: import a pre-Iceberg Parquet lake, idempotently.
* ``sql DATASET --wiki W``: the DuckDB query that reads the published rows.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wikivis.cli._common import echo_result, settings_from_ctx

if TYPE_CHECKING:
    from wikivis.lake import Lake

app = typer.Typer(no_args_is_help=True)


def _lake() -> Lake:
    from wikivis.lake import Lake

    return Lake.from_settings(settings_from_ctx())


@app.command("history")
def history(
    dataset: Annotated[str, typer.Argument(help="dataset, e.g. article_images")],
    wiki: Annotated[str, typer.Option(help="wiki database name")],
) -> None:
    """List the publications of DATASET for WIKI, newest first."""
    from wikivis.vocab import check_dataset, check_wiki

    check_dataset(dataset), check_wiki(wiki)
    rows = [{"publication": p.id, "run_id": p.run_id, "kind": p.kind, "published_at": p.created_at,
             "label": p.datasets[dataset]["label"], "rows": p.datasets[dataset].get("rows"),
             "snapshot_id": p.datasets[dataset]["snapshot_id"]}
            for p in _lake().history(wiki, dataset)]
    lines = [f"{r['publication']:>4}  {r['published_at']}  {r['label']:<17} {r['rows']!s:>9} rows  "
             f"{r['kind']:<8} {r['run_id']}" for r in rows]
    echo_result(rows, human="\n".join(lines) or f"no publication of {dataset} for {wiki}")


@app.command("show")
def show(run: Annotated[str, typer.Option("--run", help="run id")]) -> None:
    """Show what RUN wrote on its branch of each table."""
    found = _lake().branches(run)
    out = {d: [{"label": m.snapshot, "wiki": m.wiki, "rows": m.rows, "snapshot_id": m.snapshot_id,
                "content_hash": m.content_hash} for m in ms] for d, ms in found.items()}
    lines = [f"{d}: " + ", ".join(f"{m['wiki']}@{m['label']} ({m['rows']} rows)" for m in ms) for d, ms in out.items()]
    echo_result(out, human="\n".join(lines) or f"run {run} has no branch in the lake")


@app.command("rollback")
def rollback(
    wiki: Annotated[str, typer.Option(help="wiki database name")],
    to: Annotated[str, typer.Option("--to", help="run id, publication id or date to go back to")],
) -> None:
    """Republish an older publication of WIKI; recorded as a run of its own."""
    from datetime import UTC, datetime

    from wikivis.catalog import Catalog

    settings = settings_from_ctx()
    run_id = f"rollback__{wiki}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    catalog = Catalog(settings.resolved_catalog_url)
    try:
        catalog.start_run("rollback", wiki, {"to": to}, run_id=run_id)
        publication = _lake().rollback(wiki, to, run_id=run_id)
        catalog.finish_run(run_id, "success", None, {"publication": publication.id})
    finally:
        catalog.dispose()
    echo_result(publication.as_dict(), human=f"publication {publication.id} of {wiki} = {to} (run {run_id})")


@app.command("expire")
def expire(
    wiki: Annotated[str, typer.Option(help="wiki database name")],
    keep: Annotated[int | None, typer.Option(help="publications to keep (default: retention_snapshots)")] = None,
    branch_days: Annotated[float, typer.Option(help="remove run branches older than this")] = 7.0,
    orphan_days: Annotated[float, typer.Option(help="remove unreferenced files older than this")] = 3.0,
    dry_run: Annotated[bool, typer.Option(help="only list orphan files")] = False,
) -> None:
    """Retention, old run branches and orphan files, by Iceberg's own rules."""
    settings = settings_from_ctx()
    lake = _lake()
    expired: dict[str, list[str]] = {}
    if not dry_run:
        for dataset in lake.datasets():
            gone = lake.apply_retention(dataset, wiki, keep or settings.retention_snapshots,
                                        branch_ttl=timedelta(days=branch_days))
            if gone:
                expired[dataset] = gone
    orphans = lake.remove_orphan_files(older_than=timedelta(days=orphan_days), dry_run=dry_run)
    echo_result({"expired": expired, "orphans": orphans},
                human=f"expired labels: {expired or 'none'}; orphan files {'found' if dry_run else 'removed'}: {len(orphans)}")


@app.command("compact")
def compact(
    wiki: Annotated[str, typer.Option(help="wiki database name")],
    datasets: Annotated[list[str] | None, typer.Argument(help="datasets (default: every dataset)")] = None,
    min_delete_ratio: Annotated[float | None, typer.Option(help="rewrite files with more rows deleted than this")] = None,
) -> None:
    """Compact WIKI's published files worn down by events deltas."""
    from wikivis.lake.iceberg import COMPACT_DELETE_RATIO
    from wikivis.vocab import check_dataset, check_wiki

    check_wiki(wiki)
    lake = _lake()
    chosen = datasets or lake.datasets()
    for dataset in chosen:
        check_dataset(dataset)
    ratio = COMPACT_DELETE_RATIO if min_delete_ratio is None else min_delete_ratio
    done = {d: p.id for d in chosen if (p := lake.compact(d, wiki, min_delete_ratio=ratio)) is not None}
    echo_result({"compacted": done},
                human="\n".join(f"{d}: publication {pid}" for d, pid in done.items()) or "nothing to compact")


@app.command("migrate")
def migrate(old_root: Annotated[Path, typer.Argument(help="the old Parquet lake (…/lake)")]) -> None:
    """Import a pre-Iceberg Parquet lake: every snapshot in order, then its published pointer."""
    from wikivis.lake.migrate import migrate_parquet_lake

    summary = migrate_parquet_lake(old_root, _lake())
    echo_result(summary, human=f"imported {summary['imported']} snapshots, skipped {summary['skipped']} "
                               f"already present, published {summary['published']}")


@app.command("sql")
def sql(
    dataset: Annotated[str, typer.Argument(help="dataset")],
    wiki: Annotated[str, typer.Option(help="wiki database name")],
) -> None:
    """Print the DuckDB query that reads the published rows of DATASET for WIKI."""
    from wikivis.lake.engines import duckdb_published_sql

    echo_result({"sql": duckdb_published_sql(_lake(), dataset, wiki)}, human=duckdb_published_sql(_lake(), dataset, wiki))

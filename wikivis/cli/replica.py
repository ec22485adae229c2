"""``wikivis replica …``: read the Wiki Replicas (or a local stand-in) into the lake.

* ``pull --wiki W [--snapshot S]`` writes pages / article_images / article_categories /
  files — the same datasets as ``wikivis dumps ingest``.  The snapshot id defaults to
  today's date (UTC, ``YYYYMMDD``).
* ``detect --wiki W`` reports the replica's link-table schema (current ``*_target_id`` or
  legacy ``il_to``/``cl_to``) and fails when its ``linktarget`` view hides image targets.
* ``images --wiki W --title T`` is the tutorial's Quarry query: the files one article uses
  (``sql/queries/images_of_article.sql``), with its PageImages lead flags.
* ``load-sample`` fills local replicas with the sample wiki: SQLite files under home by
  default (what ``replica_url(wiki)`` points at), or ``<wiki>_p`` databases on ``--server``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from wikivis.cli._common import echo_result, settings_from_ctx, snapshot_option

app = typer.Typer(help="Wiki Replicas over MariaDB (or SQLite).", no_args_is_help=True)


@app.command("pull")
def pull_command(
    wiki: Annotated[str, typer.Option(help="wiki database name, e.g. enwiki")],
    snapshot: Annotated[str | None, typer.Option(callback=snapshot_option, help="snapshot id YYYYMMDD (default: today, UTC)")] = None,
    files: Annotated[str, typer.Option(help="Commons image rows: all (like the dumps), used, or none")] = "all",
) -> None:
    """Pull one wiki's datasets from its replica into the lake."""
    from wikivis.errors import InputError
    from wikivis.stages.ingest import pull_replica as pull

    if files not in ("all", "used", "none"):
        raise InputError(f"--files must be all, used or none, not {files!r}")
    settings = settings_from_ctx(None)
    result = pull(settings, wiki, snapshot, files=files)  # type: ignore[arg-type]
    from wikivis.events import reconcile_after_ingest

    reconcile_after_ingest(settings, result.wiki, result.snapshot, source="replica")  # a stale event checkpoint restarts here
    summary = {
        "wiki": result.wiki,
        "files_wiki": result.files_wiki,
        "snapshot": result.snapshot,
        "rows": result.rows,
        "schema": result.schema,
        "queries": result.counters["queries"],
        "retries": result.counters["retries"],
        "seconds": round(result.seconds, 2),
    }
    rows = ", ".join(f"{name} {count}" for name, count in result.rows.items())
    echo_result(summary, human=f"{result.wiki} snapshot {result.snapshot}: {rows} "
                                f"({result.counters['retries']} retries, {result.seconds:.1f} s)")


@app.command("detect")
def detect_command(wiki: Annotated[str, typer.Option(help="wiki database name")]) -> None:
    """Show the replica's schema variant; fail when the linktarget view hides image targets."""
    from wikivis.sources.replicas import ReplicaSource

    settings = settings_from_ctx(None)
    with ReplicaSource(settings) as source:
        client = source.client(wiki)
        schema = client.detect_schema()
        echo_result({"wiki": wiki, "replica": client.where, "schema": schema},
                    human=f"{wiki} ({client.where}): imagelinks={schema.imagelinks} "
                          f"categorylinks={schema.categorylinks} linktarget_is_view={schema.linktarget_is_view}")


@app.command("load-sample")
def load_sample_command(
    day: Annotated[int | None, typer.Option(help="sample day to load (default: the last)")] = None,
    server: Annotated[str | None, typer.Option(help="MariaDB server URL; <wiki>_p databases are created there")] = None,
    legacy: Annotated[bool, typer.Option(help="use the legacy il_to/cl_to schema")] = False,
    hide_linktargets: Annotated[bool, typer.Option(help="reproduce the 2024 linktarget view")] = False,
) -> None:
    """Load the sample wiki into local replicas (SQLite under home, or MariaDB)."""
    from wikivis.mirror.replica_loader import load_replica
    from wikivis.sample import generate

    settings = settings_from_ctx(None)
    sample = generate()
    state = sample.state(sample.n_days if day is None else day)
    from wikivis.sample.wikidata import SECOND_WIKI, second_wiki_tables

    loaded = {}
    wikis = {**state.wiki_tables, SECOND_WIKI: second_wiki_tables(sample, state.day)}
    for wiki, tables in wikis.items():
        target = server or settings.replica_url(wiki)
        result = load_replica(tables, target, wiki, legacy=legacy, hide_imagelinks_only_linktargets=hide_linktargets)
        loaded[wiki] = {"database": result.database or target, "rows": result.rows}
    echo_result({"day": state.day, "date": state.date, "replicas": loaded})


@app.command("images")
def images_command(
    wiki: Annotated[str, typer.Option(help="wiki database name, e.g. enwiki")],
    title: Annotated[str, typer.Option(help="article title (spaces or underscores)")],
) -> None:
    """The tutorial's Quarry query: the files one article uses, with its lead-image flags."""
    from wikivis.errors import NotFoundError
    from wikivis.sources.replicas import ReplicaSource

    settings = settings_from_ctx(None)
    with ReplicaSource(settings) as source:
        client = source.client(wiki)
        rows = client.images_of_article(title)
    if not rows:
        raise NotFoundError(f"{wiki}: no article {title!r} using files (replica {client.where})")
    lines = [f"{r['file_name']}{'  [lead]' if r['is_lead'] else ''}{'  [lead, free]' if r['is_lead_free'] else ''}"
             for r in rows]
    echo_result(rows, human="\n".join(lines))

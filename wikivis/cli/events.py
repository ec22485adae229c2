"""``wikivis events …``: EventStreams catch-up.

* ``pull --wiki W --until ISO [--since ISO] [--base SNAPSHOT]`` applies the events up to
  ``until`` onto the base snapshot (default: the published ``article_images`` snapshot, else
  the newest) and writes snapshot ``YYYYMMDDTHHMMSSZ`` of ``until`` (not published).  It
  resumes from the catalog checkpoint when that belongs to the base; ``--since`` forces a
  start.  A checkpoint beyond the replay window exits with code 7 and says how to reconcile.
* ``checkpoint --wiki W`` shows the stored checkpoint and whether the wiki is marked stale.

The ids a run applied are in the ``events_applied`` dataset of its snapshot (audit).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from wikivis.cli._common import echo_result, settings_from_ctx

app = typer.Typer(help="EventStreams catch-up.", no_args_is_help=True)


def _parse_time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO-8601 time (e.g. 2026-11-02T00:00:00Z)", param_hint=option) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@app.command("pull")
def pull_command(
    wiki: Annotated[str, typer.Option(help="wiki database name, e.g. enwiki")],
    until: Annotated[str, typer.Option(help="end of the window (ISO-8601, UTC when no offset)")],
    since: Annotated[str | None, typer.Option(help="start of the window (default: the checkpoint or the base snapshot)")] = None,
    base: Annotated[str | None, typer.Option(help="base snapshot id (default: published, else newest)")] = None,
) -> None:
    """Apply the EventStreams changes up to --until onto a lake snapshot."""
    from wikivis.catalog import Catalog
    from wikivis.errors import NotFoundError
    from wikivis.events import catch_up
    from wikivis.lake import Lake

    settings = settings_from_ctx(None)
    until_dt = _parse_time(until, "--until")
    since_dt = _parse_time(since, "--since") if since else None
    lake = Lake.from_settings(settings)
    base = base or lake.current("article_images", wiki) or lake.latest("article_images", wiki)
    if base is None:
        raise NotFoundError(f"no article_images snapshot of {wiki} in {lake.root}: run `wikivis dumps ingest --wiki {wiki}` first")
    catalog = Catalog.from_settings(settings)
    try:
        result = catch_up(settings, wiki, base_snapshot=base, until=until_dt, lake=lake, catalog=catalog, since=since_dt)
    finally:
        catalog.dispose()
    echo_result(
        result.as_dict(),
        human=(
            f"{wiki}: {result.base_snapshot} + events {result.start} → {result.until} ({result.start_from}) = snapshot "
            f"{result.snapshot}\n  {result.events_read} events read, {result.events_applied} applied, "
            f"{result.duplicates} duplicates, {result.replayed} already applied by the previous run, "
            f"{result.deferred} deferred, {result.reconnects} reconnects "
            f"(stopped: {result.stop_reason})\n  re-read {result.dirty_pages} pages, {result.dirty_files} files; rows: "
            + ", ".join(f"{k} {v}" for k, v in result.rows.items())
        ),
    )


@app.command("checkpoint")
def checkpoint_command(wiki: Annotated[str, typer.Option(help="wiki database name")]) -> None:
    """Show the stored EventStreams checkpoint and any stale mark."""
    from wikivis.catalog import Catalog
    from wikivis.events import checkpoint_value, stale_reason

    catalog = Catalog.from_settings(settings_from_ctx(None))
    try:
        value, stale = checkpoint_value(catalog, wiki), stale_reason(catalog, wiki)
    finally:
        catalog.dispose()
    parsed = json.loads(value) if value else None
    echo_result(
        {"wiki": wiki, "checkpoint": parsed, "stale": json.loads(stale) if stale else None},
        human=(f"{wiki}: " + (f"until {parsed.get('until')} (snapshot {parsed.get('snapshot')})" if isinstance(parsed, dict)
                              else "no checkpoint" if parsed is None else "raw Last-Event-ID")
               + (f"\n  STALE: {json.loads(stale)['reason']}" if stale else "")),
    )

"""``wikivis wikidata …``: look at Wikidata items and run SPARQL on the Query Service.

* ``item Q42 [Q43 …] [--wiki W]`` — label, P31, P18 images, P373 Commons category and
  sitelinks per wiki (``wbgetentities``, 50 ids per request).  An unknown item is exit code
  5, and so is an item without an article on ``--wiki``.
* ``sparql FILE.rq [--json]`` — run the query (GET, or POST when long) and print a table,
  or the SPARQL JSON results with ``--json``.  A malformed query is exit code 3 with the
  server's message; a query that hits the 60-second limit is exit code 4.
* ``ingest --wiki W [--snapshot S]`` — item_images and crosswiki_leads of a snapshot's
  article_items (:mod:`wikivis.wikidata_ingest`), then their gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wikivis.cli._common import STATE, echo_result, settings_from_ctx

app = typer.Typer(help="Wikidata items (wbgetentities) and SPARQL (the Query Service).", no_args_is_help=True)


@app.command("item")
def item_command(
    ids: Annotated[list[str], typer.Argument(help="item ids, e.g. Q42")],
    wiki: Annotated[str | None, typer.Option(help="require an article on this wiki (exit 5 when an item has none)")] = None,
) -> None:
    """Show items: label, instance of, P18 images, P373 category, sitelinks."""
    from wikivis.errors import UnknownItem
    from wikivis.sources.wikidata import WikidataClient, check_item_id

    wanted = [check_item_id(i) for i in ids]
    client = WikidataClient.from_settings(settings_from_ctx(None))
    entities = list(client.entities(wanted))
    missing = [e.requested for e in entities if e.missing]
    if missing:
        raise UnknownItem(f"Wikidata has no item {', '.join(missing)} ({client.api.api_url})")
    if wiki:
        for e in entities:
            e.sitelink(wiki)  # NoSitelinks names the item and where it does have articles
    lines = []
    for e in entities:
        lines.append(f"{e.id}  {e.label}")
        lines.append(f"  instance of (P31): {', '.join(e.instance_of) or '-'}")
        lines.append(f"  image (P18): {', '.join(e.images) or '-'}")
        lines.append(f"  Commons category (P373): {e.commons_category or '-'}")
        links = ", ".join(f"{w}: {t}" for w, t in sorted(e.sitelinks.items()))
        lines.append(f"  sitelinks: {links or '(none)'}")
    echo_result([e.__dict__ for e in entities], human="\n".join(lines))


@app.command("sparql")
def sparql_command(
    file: Annotated[Path, typer.Argument(help="a .rq file holding one SELECT query")],
    json_output: Annotated[bool, typer.Option("--json", help="print the SPARQL JSON results")] = False,
) -> None:
    """Run a SPARQL query on the Wikidata Query Service and print the results."""
    import json

    from wikivis.errors import InputError
    from wikivis.sources.wikidata import SparqlClient

    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the query: {exc}", source=str(file)) from None
    result = SparqlClient.from_settings(settings_from_ctx(None)).query(text)
    if json_output or STATE.as_json:
        body = {"head": {"vars": list(result.vars)}, "results": {"bindings": list(result.bindings)}}
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    rows = list(result.rows())
    lines = ["\t".join(result.vars)]
    lines += ["\t".join(r[v] or "" for v in result.vars) for r in rows]
    lines.append(f"({len(rows)} results)")
    typer.echo("\n".join(lines))


@app.command("ingest")
def ingest_command(
    wiki: Annotated[str, typer.Option(help="article wiki whose article_items to look up")],
    snapshot: Annotated[str | None, typer.Option(help="snapshot (default: the newest with article_items)")] = None,
) -> None:
    """Write item_images (P18, P373) and crosswiki_leads for a snapshot, then gate them."""
    from wikivis.errors import NotFoundError
    from wikivis.gates.stages import gate_wikidata
    from wikivis.lake import Lake
    from wikivis.wikidata_ingest import ingest_wikidata

    settings = settings_from_ctx(None)
    lake = Lake.from_settings(settings)
    snapshot = snapshot or lake.latest("article_items", wiki)
    if snapshot is None:
        raise NotFoundError(f"no article_items for {wiki} in {lake.root}: ingest a dump or a replica first")
    result = ingest_wikidata(settings, wiki, snapshot, lake=lake)
    report = gate_wikidata(settings, lake, wiki, snapshot)
    rows = ", ".join(f"{k} {v}" for k, v in result.rows.items())
    echo_result({**result.as_dict(), "gate": report.outcome},
                human=f"{wiki} snapshot {snapshot}: {rows}; gate {report.outcome}")

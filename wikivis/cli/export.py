"""``wikivis export …``: wikivis's data in other projects' layouts (WIT's 17 columns)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wikivis.cli._common import echo_result, settings_from_ctx

app = typer.Typer(help="Export wikivis data in other layouts.", no_args_is_help=True)


@app.command("wit")
def wit(
    wiki: Annotated[str | None, typer.Option(help="wiki (default: the first configured)")] = None,
    out: Annotated[Path | None, typer.Option(help="output file (.tsv or .tsv.gz; default wit-<wiki>.tsv.gz)")] = None,
) -> None:
    """Write the wiki's published images and captions in WIT's column layout."""
    from wikivis.lake import Lake
    from wikivis.research.wit import export_wit

    settings = settings_from_ctx(None)
    wiki = wiki or settings.wikis[0]
    target = out or Path(f"wit-{wiki}.tsv.gz")
    n = export_wit(Lake.from_settings(settings), wiki, target, commons_wiki=settings.commons_wiki)
    echo_result({"wiki": wiki, "rows": n, "file": str(target)}, human=f"{n} rows → {target}")

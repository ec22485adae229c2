"""``wikivis similar``, ``wikivis suggest``, ``wikivis serve`` (merged at the top level).

``similar`` and ``suggest`` load the published data of one wiki (lake + embeddings +
index + any CuratorNet checkpoint) and print the results with their provenance; ``--json``
prints the same objects the HTTP API returns.  ``serve`` runs the HTTP API; it binds to
127.0.0.1 unless told otherwise and refuses a non-loopback address without
``WIKIVIS_SERVE_TOKEN``.  Heavy imports happen inside the commands (the CLI starts fast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from wikivis.cli._common import echo_result, settings_from_ctx

if TYPE_CHECKING:
    from wikivis.recommend.service import RecommenderService

app = typer.Typer(help="Similar images, image suggestions and the HTTP API.", no_args_is_help=True)

MAX_K = 100  # same bound as the HTTP API (wikivis.serve.app.MAX_K)


AS_OF_HELP = "read an older publication: a run id, a publication id or a date (YYYYMMDD)"
ModelIdOption = Annotated[
    str | None, typer.Option("--model-id", help="embedding model id (default settings.model; e.g. resnet50-wmf-cc)")
]


def _service(wiki: str | None, model_id: str | None = None, as_of: str | None = None) -> RecommenderService:
    from wikivis.recommend.loading import load_service

    return load_service(settings_from_ctx(None), wiki=wiki, model_id=model_id, as_of=as_of)


def _line(s: dict[str, Any]) -> str:
    seeds = ", ".join(s["seed_images"][:3])
    via = f" via {', '.join(s['seed_articles'][:3])}" if s["seed_articles"] else ""
    return f"{s['rank']:>3}. {s['file_name'] or s['sha1']}  score {s['score']:.4f}  [{s['source']}: {seeds}{via}]"


@app.command("similar")
def similar(
    file: Annotated[str, typer.Argument(help="file name (with or without File:) or sha1")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=MAX_K, help="number of results")] = 10,
    wiki: Annotated[str | None, typer.Option(help="wiki (default: the first configured)")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    model_id: ModelIdOption = None,
) -> None:
    """The k images most similar to FILE."""
    results = [r.to_dict() for r in _service(wiki, model_id, as_of).similar(file, k)]
    echo_result({"file": file, "k": k, "results": results}, human="\n".join(map(_line, results)) or "no similar image")


@app.command("suggest")
def suggest(
    article: Annotated[str, typer.Argument(help="article title")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=MAX_K, help="number of suggestions")] = 10,
    model: Annotated[str, typer.Option(help="auto | visrank | curatornet")] = "auto",
    wiki: Annotated[str | None, typer.Option(help="wiki (default: the first configured)")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Wikidata/cross-wiki signals + VisRank, each "
                                          "candidate's sources and calibrated confidence")] = False,
    model_id: ModelIdOption = None,
) -> None:
    """Up to k images for ARTICLE, with where each suggestion came from."""
    from wikivis.errors import InputError
    from wikivis.recommend.service import MODEL_CHOICES

    if explain:
        _explain(article, k, wiki)
        return
    if model not in MODEL_CHOICES:
        raise InputError(f"--model must be one of {', '.join(MODEL_CHOICES)}, got {model!r}")
    result = _service(wiki, model_id, as_of).suggest(article, k, model=model).to_dict()  # type: ignore[arg-type]
    head = f"{result['article']} ({'illustrated' if result['illustrated'] else 'unillustrated'}, {result['model']})"
    body = [_line(s) for s in result["suggestions"]] or [f"no suggestion: {result['note']}"]
    echo_result(result, human="\n".join([head, *body]))


def _explain(article: str, k: int, wiki: str | None) -> None:
    from wikivis.recommend.signals import explain, load_signals

    settings = settings_from_ctx(None)
    target = wiki or settings.wikis[0]
    signals, snapshot, notes = load_signals(settings, target)
    page_id, ranked = explain(signals, article, k=k)
    rows = [s.to_dict() for s in ranked]
    head = f"{signals.titles[page_id]} ({target}, snapshot {snapshot}, item {signals.item_of_page.get(page_id, '-')})"
    lines = [head, *(f"note: {n}" for n in notes)]
    lines += [f"{s.rank:>3}. {s.file_name}  confidence {s.confidence:.2f} ({s.band})  "
              f"sources: {', '.join(s.sources)}" for s in ranked] or ["no candidate from any source"]
    echo_result({"article": signals.titles[page_id], "page_id": page_id, "snapshot": snapshot, "notes": notes,
                 "suggestions": rows}, human="\n".join(lines))


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default Settings.serve_host, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="port (default Settings.serve_port)")] = None,
) -> None:
    """Run the HTTP API (GET /similar, /suggest, /healthz)."""
    from wikivis.serve.runner import serve as run_server

    run_server(settings_from_ctx(None), host, port)

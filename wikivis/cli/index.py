"""``wikivis index``: build, incrementally extend and inspect the nearest-neighbour index.

A build or add whose recall@10 misses ``recall_threshold`` exits with code 6 (gate failed)
and leaves the current index in place.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wikivis.cli._common import echo_result, settings_from_ctx

app = typer.Typer(no_args_is_help=True)

ModelOption = Annotated[str | None, typer.Option("--model", help="model id (default: settings.model)")]


def _summary(result: Any) -> str:
    verb = "swapped in" if result.swapped else "unchanged"
    return (
        f"{result.model_id} v-{result.version} {verb}: {result.key} n={result.n} dim={result.dim} "
        f"recall@10={result.recall:.3f} (≥ {result.threshold}) params={result.params} "
        f"p50={result.latency_p50_ms:.2f} ms build={result.build_s:.1f} s"
        + (f"; added {result.added}" if result.added else "")
        + (f"; {result.reason}" if result.reason else "")
    )


@app.command("build")
def build(
    model: ModelOption = None,
    key: Annotated[str | None, typer.Option(help="faiss factory string instead of the budget-based choice")] = None,
    memory_budget_mb: Annotated[int | None, typer.Option(help="override index_memory_budget_mb")] = None,
    latency_budget_ms: Annotated[float | None, typer.Option(help="override index_latency_budget_ms")] = None,
) -> None:
    """Full build from all embeddings, recall gate, atomic swap."""
    from wikivis.index import build_index

    overrides: dict[str, Any] = {
        "index_memory_budget_mb": memory_budget_mb,
        "index_latency_budget_ms": latency_budget_ms,
    }
    settings = settings_from_ctx(**{k: v for k, v in overrides.items() if v is not None})
    result = build_index(settings, model, index_key=key)
    echo_result(result, human=_summary(result))


@app.command("add")
def add(
    model: ModelOption = None,
    rebuild_after: Annotated[int | None, typer.Option(help="full rebuild after this many adds")] = None,
) -> None:
    """Add vectors embedded since the current index (full rebuild when due)."""
    from wikivis.index import add_to_index

    result = add_to_index(settings_from_ctx(), model, rebuild_after=rebuild_after)
    echo_result(result, human=_summary(result))


@app.command("info")
def info(model: ModelOption = None) -> None:
    """Show the current index version, its metadata and the stored versions."""
    from wikivis.index import index_info

    data = index_info(settings_from_ctx(), model)
    meta = data["meta"] or {}
    if data["current"] is None:
        human = f"{data['model_id']}: no index yet ({data['directory']}); run `wikivis index build`"
    else:
        human = "\n".join(
            [
                f"{data['model_id']}: current v-{data['current']['version']} ({data['directory']})",
                f"  {meta.get('key')} n={meta.get('n')} dim={meta.get('dim')} params={meta.get('params')} rerank={meta.get('rerank')}",
                f"  recall@{meta.get('recall_k')}={meta.get('recall_at_k')} (threshold {meta.get('recall_threshold')}) "
                f"p50={meta.get('latency_p50_ms')} ms p95={meta.get('latency_p95_ms')} ms built {meta.get('built_at')}",
                f"  adds since rebuild: {meta.get('adds_since_rebuild')}; versions: {', '.join(data['versions'])}",
            ]
        )
    echo_result(data, human=human)

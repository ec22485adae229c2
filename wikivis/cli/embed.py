"""``wikivis embed``: embed fetched thumbnails, list the models.

Heavy imports (torch, Pillow, pyarrow) happen inside the commands so ``wikivis --help``
stays fast.  Per-image failures are reported as counts (exit 0); a missing model or weights
file is a configuration error (exit 2).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wikivis.cli._common import echo_result, progress, settings_from_ctx, snapshot_option

app = typer.Typer(no_args_is_help=True)


def _overrides(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@app.command("run")
def run(
    model: Annotated[
        str | None, typer.Option(help="model id (default: settings.model); see `wikivis embed models`")
    ] = None,
    wiki: Annotated[str | None, typer.Option(help="media dataset partition (default: the Commons wiki)")] = None,
    snapshot: Annotated[str | None, typer.Option(callback=snapshot_option, help="media snapshot (default: the newest)")] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda")] = None,
    batch_size: Annotated[int | None, typer.Option(help="images per forward pass")] = None,
    workers: Annotated[int | None, typer.Option(help="decode worker processes")] = None,
) -> None:
    """Embed every fetched image (media status 'ok') that has no vector for the model yet."""
    from wikivis.embed import embed_images, media_items
    from wikivis.embed.models import resolve_model_id

    settings = settings_from_ctx(**_overrides(device=device, embed_batch_size=batch_size, embed_workers=workers))
    model = resolve_model_id(settings, model)  # a typo fails before any work
    items = media_items(settings, wiki, snapshot)
    with progress(len(items), "embed", "img") as bar:
        result = embed_images(settings, items, model, on_progress=bar.update)
    failed = ", ".join(f"{reason}={count}" for reason, count in sorted(result.failed.items())) or "none"
    human = (
        f"{result.model_id}@{result.model_version}: embedded {result.embedded}, "
        f"already had {result.skipped_existing}, duplicates {result.duplicates}, failed {failed}; "
        f"{len(result.shards)} new shard(s) in {result.seconds:.1f} s"
        + (f" ({result.images_per_s:.1f} img/s on {result.runtime})" if result.embedded else "")
    )
    echo_result(result, human=human)


@app.command("models")
def models() -> None:
    """List the registered models and whether their weights are available."""
    from wikivis.embed import describe_models

    rows = describe_models(settings_from_ctx())
    lines = [
        f"{'yes' if r['available'] else 'no ':<4} {r['id']:<32} dim={r['dim'] or '-':<5} {r['description']} [{r['weights']}]"
        for r in rows
    ]
    echo_result(rows, human="\n".join(["ok   model" + " " * 29 + "details", *lines]))

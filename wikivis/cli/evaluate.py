"""``wikivis eval …``: offline evaluation and CuratorNet training.

``run`` holds out one image per article, ranks every usable image with ``random``,
``popularity``, ``visrank``, ``vbpr``, ``dvbpr`` (pixels from the media store; skipped
without them), ``curatornet`` and ``acf``, prints a Markdown report (``--json``: one
object ``{model: {metric: value}}``) and stores both under ``<reports>/eval-<wiki>-<time>/``.
``suggestions`` evaluates image suggestions for articles whose images are hidden: the
Wikimedia-style rules, VisRank and the calibrated combination, per confidence band
(:mod:`wikivis.evaluation.suggestions`).
``train`` trains CuratorNet on every link and saves the checkpoint that ``suggest`` and the
API use.  ``captions`` is the caption-matching task (:mod:`wikivis.evaluation.captions`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from wikivis.cli._common import echo_result, settings_from_ctx

app = typer.Typer(help="Offline evaluation of the recommenders.", no_args_is_help=True)

DEFAULT_MODELS = "random,popularity,visrank,vbpr,dvbpr,curatornet,acf"


@app.command("run")
def run(
    wiki: Annotated[str | None, typer.Option(help="wiki (default: the first configured)")] = None,
    models: Annotated[str, typer.Option(help="comma-separated model names")] = DEFAULT_MODELS,
    seed: Annotated[int, typer.Option(help="split / sampling seed")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print {model: {metric: value}} only")] = False,
    write: Annotated[bool, typer.Option(help="store report.md and metrics.json under the reports folder")] = True,
    as_of: Annotated[str | None, typer.Option("--as-of", help="evaluate an older publication (run id or date)")] = None,
    model_id: Annotated[
        str | None, typer.Option("--model-id", help="embedding model id (default settings.model; e.g. resnet50-wmf-cc)")
    ] = None,
) -> None:
    """Evaluate the recommenders on held-out article-image links."""
    from wikivis.evaluation.run import render_markdown, run_evaluation

    names = [m.strip() for m in models.split(",") if m.strip()]
    result, folder = run_evaluation(
        settings_from_ctx(None), wiki=wiki, model_id=model_id, models=names, seed=seed, write=write, as_of=as_of
    )
    human = render_markdown(result) + (f"\nreport: {folder / 'report.md'}\n" if folder else "")
    echo_result(result.metrics, True if json_output else None, human=human)  # None: the global --json


@app.command("train")
def train(
    wiki: Annotated[str | None, typer.Option(help="wiki (default: the first configured)")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="training epochs")] = None,
    seed: Annotated[int, typer.Option(help="initialisation / sampling seed")] = 0,
) -> None:
    """Train CuratorNet on every article-image link and save the checkpoint."""
    from dataclasses import replace

    from wikivis.recommend.curatornet import CuratorNetConfig
    from wikivis.recommend.training import train_and_save

    config = CuratorNetConfig(seed=seed)
    if epochs is not None:
        config = replace(config, epochs=epochs)
    path = train_and_save(settings_from_ctx(None), wiki=wiki, config=config)
    echo_result({"checkpoint": str(path)}, human=f"checkpoint: {path}")


@app.command("suggestions")
def suggestions(
    wiki: Annotated[str | None, typer.Option(help="wiki (default: the first configured)")] = None,
    snapshot: Annotated[str | None, typer.Option(help="snapshot (default: the newest with item_images)")] = None,
    seed: Annotated[int, typer.Option(help="split seed")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print the metrics as JSON")] = False,
) -> None:
    """Hide held-out articles' images; compare rules (P18 > P373 > cross-wiki), VisRank and
    their calibrated combination per confidence band."""
    from wikivis.evaluation.suggestions import evaluate_suggestions, render_markdown
    from wikivis.recommend.signals import load_signals

    settings = settings_from_ctx(None)
    target = wiki or settings.wikis[0]
    signals, snap, notes = load_signals(settings, target, snapshot)
    result = evaluate_suggestions(signals, seed=seed)
    human = f"{target} snapshot {snap}\n" + "".join(f"note: {n}\n" for n in notes) + render_markdown(result)
    echo_result({"wiki": target, "snapshot": snap, "notes": notes, **result.to_dict()},
                True if json_output else None, human=human)
@app.command("captions")
def captions(
    wiki: Annotated[str | None, typer.Option(help="wiki (default: the first configured)")] = None,
    models: Annotated[str, typer.Option(help="comma-separated: random, frequent_words, contrastive")] = (
        "random,frequent_words,contrastive"
    ),
    model_id: Annotated[
        str | None, typer.Option("--model-id", help="image embedding model id (default settings.model)")
    ] = None,
    test_share: Annotated[float, typer.Option(min=0.05, max=0.9, help="share of images held out")] = 0.2,
    seed: Annotated[int, typer.Option(help="split / training seed")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print {model: {metric: value}} only")] = False,
) -> None:
    """Caption matching: rank candidate captions (title [SEP] reference description) per image."""
    from wikivis.evaluation.captions import captions_from_lake, evaluate_captions, render_captions_markdown

    settings = settings_from_ctx(None)
    wiki = wiki or settings.wikis[0]
    names = [m.strip() for m in models.split(",") if m.strip()]
    table = captions_from_lake(settings, wiki=wiki, model_id=model_id)
    result = evaluate_captions(table, models=names, test_share=test_share, seed=seed, device=settings.device)
    echo_result(result.metrics, True if json_output else None, human=render_captions_markdown(result, wiki))

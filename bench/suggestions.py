"""Image suggestions on the sample wiki: Wikimedia-style rules, VisRank and their calibrated
combination (``wikivis eval suggestions``'s protocol), end to end through the mirror.

Steps: start the mirror; dumps ingest of samplewiki (pages, article_images, categories,
article_items); Wikidata ingest (item_images via wbgetentities, crosswiki_leads via
sample2wiki's API); Commons category members of the P373 categories via the Commons API;
file vectors; then :func:`wikivis.evaluation.suggestions.evaluate_suggestions`.

Vectors: ``--vectors colour`` (default) is a cheap colour/layout descriptor of each sample
image (8×8 RGB thumbnail + 4×4×4 colour histogram), a stand-in for the CNN embeddings that
keeps this run to seconds on a shared CPU; the sample renders same-topic images alike, so
it carries the visual signal VisRank needs.

    PYTHONPATH=$PWD python bench/suggestions.py [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, timer


def colour_vector(data: bytes, fallback: object) -> np.ndarray:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (64, 64))
        image = image.convert("RGB")
    except Exception:
        image = fallback.convert("RGB")  # type: ignore[attr-defined]
    small = np.asarray(image.resize((8, 8)), dtype=np.float32).reshape(-1) / 255.0
    quant = (np.asarray(image.resize((32, 32)), dtype=np.int32) // 64).reshape(-1, 3)
    hist = np.bincount(quant[:, 0] * 16 + quant[:, 1] * 4 + quant[:, 2], minlength=64).astype(np.float32)
    hist /= max(1.0, hist.sum())
    vec = np.concatenate([small - small.mean(), 4 * hist])
    return vec / max(1e-12, float(np.linalg.norm(vec)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from wikivis.dumps.ingest import ingest
    from wikivis.evaluation.suggestions import evaluate_suggestions, render_markdown
    from wikivis.lake import Lake
    from wikivis.mirror import Mirror
    from wikivis.recommend.signals import signals_from_lake
    from wikivis.sample import generate
    from wikivis.sources.commons import ActionApiClient, file_name
    from wikivis.wikidata_ingest import ingest_wikidata

    sample = generate()
    with tempfile.TemporaryDirectory() as home, Mirror(sample) as mirror, timer() as total:
        settings = mirror.settings(home=Path(home))
        lake = Lake.from_settings(settings)
        snapshot = ingest(settings, sample.wiki, lake=lake).snapshot
        ingest_wikidata(settings, sample.wiki, snapshot, lake=lake)
        commons = ActionApiClient.from_settings(settings)
        rows = lake.read("item_images", sample.wiki, snapshot).to_pylist()
        categories = {r["commons_category"] for r in rows if r["commons_category"]}
        category_files = {
            c.replace(" ", "_"): tuple(file_name(t) for t in commons.category_members(c)) for c in sorted(categories)
        }
        day = sample.dates.index(snapshot)
        live = {r["img_name"] for r in sample.state(day).tables["image"]}
        with timer() as vt:
            vectors = {n: colour_vector(sample.file_bytes(n, day), sample.file_image(n, day)) for n in sorted(live)}
        non_free = {n for n, i in sample.file_info.items() if i["non_free"]}
        signals = signals_from_lake(lake, sample.wiki, snapshot, category_files=category_files, vectors=vectors,
                                    non_free=non_free, max_usage=settings.suggest_max_file_usage)
        with timer() as et:
            result = evaluate_suggestions(signals, seed=args.seed)
    print(render_markdown(result))
    print(f"vectors {vt['s']:.1f}s, evaluation {et['s']:.1f}s, total {total['s']:.1f}s")
    emit({"bench": "suggestions", **result.to_dict()})


if __name__ == "__main__":
    main()

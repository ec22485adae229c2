"""The sample wiki as Wikimedia's published research files, for tests and demos of
``wikivis research …`` and ``wikivis commons import-pixels``.

:func:`write_research_files` writes, in the published formats (see
:mod:`wikivis.research.files`):

* ``image_data_train/image_pixels/train_image_pixels_part-00000.csv.gz`` — gzipped despite
  the name, tab-separated, no header: upload URL, base64 of the file at 300 px wide (JPEG),
  Commons file-page URL;
* ``image_data_train/resnet_embeddings/train_resnet_embeddings_part-00000.csv.gz`` — upload
  URL, 2,048 comma-separated floats.  Not a real ResNet-50 (no weights offline): a
  non-negative vector whose active block is the file's topic plus seeded noise, so
  ``similar`` on the imported vectors finds same-topic images, as the real ones tend to;
* ``wit_v1.train.sample.tsv.gz`` — WIT's 17 columns with a header: one row per (article,
  image) link of the article wiki at ``day``, the Commons description as
  ``caption_attribution_description`` and ``"<title>, <topic>"`` as the reference caption.

Everything is deterministic (seeded from the file name).  Icons (shared SVGs) are left out,
as the competition left out files it could not render.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from wikivis.errors import NotFoundError
from wikivis.research.files import RESNET_DIM, WIT_COLUMNS
from wikivis.research.wit import upload_url
from wikivis.vocab import NS_FILE, NS_MAIN

PIXELS = "image_data_train/image_pixels/train_image_pixels_part-00000.csv.gz"
EMBEDDINGS = "image_data_train/resnet_embeddings/train_resnet_embeddings_part-00000.csv.gz"
WIT = "wit_v1.train.sample.tsv.gz"


def fake_resnet_vector(name: str, topic: str, topics: list[str]) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    vector = np.abs(rng.normal(0, 0.05, RESNET_DIM)).astype(np.float32)
    block = RESNET_DIM // max(1, len(topics))
    t = topics.index(topic) if topic in topics else 0
    vector[t * block : (t + 1) * block] += np.abs(rng.normal(0.6, 0.2, block)).astype(np.float32)
    return vector


def write_research_files(sample: Any, folder: str | Path, *, day: int = 0, limit: int | None = None) -> dict[str, Path]:
    """Write the three files under ``folder``; returns their paths by kind."""
    root = Path(folder)
    paths = {"pixels": root / PIXELS, "embeddings": root / EMBEDDINGS, "wit": root / WIT}
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    icons = set(sample.shared_icons)
    names = [n for n in sorted(sample.file_topics) if n not in icons and _live(sample, n, day)][:limit]
    topics = sorted(set(sample.file_topics.values()))
    with gzip.open(paths["pixels"], "wt", encoding="utf-8") as pix, gzip.open(paths["embeddings"], "wt", encoding="utf-8") as emb:
        for name in names:
            url = upload_url(name)
            img = sample.file_image(name, day).convert("RGB")
            img.thumbnail((300, 300 * img.height // max(1, img.width) or 1))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=80)
            page = f"https://commons.wikimedia.org/wiki/File:{quote(name)}"
            pix.write(f"{url}\t{base64.b64encode(buf.getvalue()).decode()}\t{page}\n")
            vector = fake_resnet_vector(name, sample.file_topics[name], topics)
            emb.write(url + "\t" + ",".join(f"{x:.5f}" for x in vector) + "\n")
    _write_wit(sample, paths["wit"], day)
    return paths


def _live(sample: Any, name: str, day: int) -> bool:
    try:
        sample.file_sha1(name, day)
    except NotFoundError:  # not uploaded yet, or deleted, at ``day``
        return False
    return True


def _write_wit(sample: Any, path: Path, day: int) -> None:
    tables = sample.state(day).tables
    pages = {p["page_id"]: p for p in tables["page"] if p["page_namespace"] == NS_MAIN and not p["page_is_redirect"]}
    targets = {t["lt_id"]: t["lt_title"] for t in tables["linktarget"] if t["lt_namespace"] == NS_FILE}
    described = sample.file_info
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(WIT_COLUMNS), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        for link in sorted(tables["imagelinks"], key=lambda r: (r["il_from"], r["il_target_id"])):
            page = pages.get(link["il_from"])
            name = targets.get(link["il_target_id"])
            if page is None or name is None or name not in described:
                continue
            title = page["page_title"].replace("_", " ")
            writer.writerow(
                dict.fromkeys(WIT_COLUMNS, "")
                | {
                    "language": "en",
                    "page_url": f"https://en.wikipedia.org/wiki/{quote(page['page_title'])}",
                    "image_url": upload_url(name),
                    "page_title": title,
                    "hierarchical_section_title": title,
                    "caption_reference_description": f"{title}, {sample.file_topics.get(name, '')}".strip(", "),
                    "caption_attribution_description": described[name].get("description") or "",
                    "mime_type": sample.mime(name),
                    "is_main_image": "false",
                }
            )

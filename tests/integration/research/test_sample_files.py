"""The sample wiki written as the published research files, read back and imported."""

from __future__ import annotations

import numpy as np

from wikivis.embed.store import load_embeddings
from wikivis.research.embeddings import MODEL_ID, import_embedding_files
from wikivis.research.files import RESNET_DIM, read_embeddings, read_pixels, read_wit
from wikivis.research.wit import import_wit
from wikivis.sample.research import write_research_files


def test_sample_research_files_round_trip(sample_wiki, settings, lake, tmp_path) -> None:
    paths = write_research_files(sample_wiki, tmp_path, limit=40)
    pixels = list(read_pixels(paths["pixels"]))
    assert len(pixels) == 40
    assert all(p.image_bytes[:2] == b"\xff\xd8" for p in pixels)  # JPEG, base64-decoded
    names = [p.file_name for p in pixels]
    assert set(names) <= set(sample_wiki.file_topics)
    vectors = list(read_embeddings(paths["embeddings"]))
    assert len(vectors) == 40 and vectors[0][1].shape == (RESNET_DIM,)
    wit = list(read_wit(paths["wit"]))
    assert wit and all(r["language"] == "en" and r["file_name"] for r in wit)

    sha1_map = {n: sample_wiki.file_sha1(n, 0) for n in names}
    summary = import_embedding_files(settings, [tmp_path], sha1_map)
    assert summary.imported == 40
    ids, stored = load_embeddings(settings, MODEL_ID)
    unit = stored / np.linalg.norm(stored, axis=1, keepdims=True)
    topic = {sha1_map[n]: sample_wiki.file_topics[n] for n in names}
    nearest = np.argsort(-(unit @ unit.T), axis=1)[:, 1]
    same = np.mean([topic[ids[i]] == topic[ids[j]] for i, j in enumerate(nearest)])
    assert same > 0.9  # the stand-in vectors cluster by topic

    result = import_wit(lake, paths["wit"], "20261101", publish=True)
    assert result.written["article_images/enwiki"] > 0
    assert lake.read("file_captions", settings.commons_wiki).num_rows > 0

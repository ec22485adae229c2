"""``wikivis research import-embeddings`` and then index / similar / suggest / eval on its model id."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from wikivis.cli import _common
from wikivis.cli import app as wikivis_app
from wikivis.embed.store import load_embeddings, model_embeddings_dir, shard_paths
from wikivis.errors import InputError, NotFoundError
from wikivis.recommend.synthetic import publish_synthetic
from wikivis.research.embeddings import MODEL_ID, import_embedding_files, read_embedding_batches
from wikivis.research.files import RESNET_DIM
from wikivis.research.wit import upload_url

UP = "https://upload.wikimedia.org/wikipedia/commons"


def _line(url: str, vector: np.ndarray) -> str:
    return url + "\t" + ",".join(f"{x:.6g}" for x in vector) + "\n"


def write_embedding_file(path: Path, rows: list[tuple[str, np.ndarray]], *, gz: bool = True) -> Path:
    text = "".join(_line(u, v) for u, v in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:  # ".csv" name, gzip content, tabs
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def run(*args: str):
    return CliRunner().invoke(wikivis_app, list(args), catch_exceptions=False)


@pytest.fixture
def published(settings, monkeypatch):
    synth = publish_synthetic(settings, dim=RESNET_DIM, n_articles=60, n_images=90, n_topics=4)
    monkeypatch.setattr(_common.STATE, "_settings", settings)
    monkeypatch.setattr(_common.STATE, "as_json", False)
    return synth


@pytest.fixture
def research_dir(tmp_path, published) -> Path:
    """The synthetic wiki's vectors as two published-format files (one gzipped, one not)."""
    data = published.data
    names = {sha1: name for name, sha1 in sorted(data.file_sha1.items(), reverse=True)}
    rows = []
    for i, sha1 in enumerate(data.item_ids):
        name = names[sha1]
        url = upload_url(name) if i % 2 else f"{UP}/thumb/a/ab/{name}/300px-{name}"
        rows.append((url, data.vectors[i]))
    rows.append((f"{UP}/a/ab/Not_in_the_lake.jpg", data.vectors[0]))  # sha1_unknown
    rows.append(("https://example.org/x.jpg", data.vectors[0]))  # unmapped_url
    folder = tmp_path / "resnet_embeddings"
    folder.mkdir()
    half = len(rows) // 2
    write_embedding_file(folder / "train_resnet_embeddings_part-00000.csv.gz", rows[:half])
    write_embedding_file(folder / "train_resnet_embeddings_part-00001.csv", rows[half:], gz=False)
    return folder


def test_import_is_complete_and_idempotent(settings, published, research_dir) -> None:
    sha1_map = dict(published.data.file_sha1)
    first = import_embedding_files(settings, [research_dir], sha1_map, batch_rows=16, shard_rows=40)
    n = len(published.data.item_ids)
    assert first.imported == n
    assert first.skipped == {"sha1_unknown": 1, "unmapped_url": 1}
    assert first.rows == n + 2
    sha1s, vectors = load_embeddings(settings, MODEL_ID)
    got = dict(zip(sha1s, vectors, strict=True))
    for i, sha1 in enumerate(published.data.item_ids):
        np.testing.assert_allclose(got[sha1], published.data.vectors[i], rtol=1e-5)
    shards = shard_paths(model_embeddings_dir(settings, MODEL_ID))
    assert len(shards) == -(-n // 40)
    again = import_embedding_files(settings, [research_dir], sha1_map)
    assert (again.imported, again.already_present, again.shards) == (0, n, [])
    assert shard_paths(model_embeddings_dir(settings, MODEL_ID)) == shards


def test_index_similar_suggest_eval_on_imported_vectors(settings, published, research_dir) -> None:
    result = run("--json", "research", "import-embeddings", str(research_dir))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"] == len(published.data.item_ids)
    assert run("index", "build", "--model", MODEL_ID).exit_code == 0
    name = published.data.display_name(published.data.item_ids[0])
    result = run("--json", "similar", name, "--k", "3", "--model-id", MODEL_ID)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["results"]) == 3
    title = published.data.titles[published.unillustrated[0]]
    result = run("--json", "suggest", title, "-k", "2", "--model-id", MODEL_ID)
    assert result.exit_code == 0, result.output
    result = run("--json", "eval", "run", "--models", "popularity,visrank", "--model-id", MODEL_ID, "--no-write")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["visrank"]["recall_at_10"] > metrics["popularity"]["recall_at_10"]


def test_no_sha1_map_is_a_clear_error(settings, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(_common.STATE, "_settings", settings)
    with pytest.raises(NotFoundError, match="sha1"):
        run("research", "import-embeddings", str(tmp_path))


# --------------------------------------------------------------------------- hostile input


def _two_rows(tmp_path: Path, second: str, *, gz: bool = False) -> Path:
    good = _line(f"{UP}/a/ab/A.jpg", np.ones(RESNET_DIM, np.float32))
    path = tmp_path / ("bad.csv.gz" if gz else "bad.csv")
    text = good + "\n" + second  # a blank line in between: line numbers still count it
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("second", "match"),
    [
        (f"{UP}/a/ab/B.jpg\t" + ",".join(["0.5"] * 2047) + "\n", "2047 values, expected 2048"),
        (f"{UP}/a/ab/B.jpg\t" + ",".join(["0.5"] * 2049) + "\n", "2049 values, expected 2048"),
        (f"{UP}/a/ab/B.jpg\t" + ",".join(["0.5"] * 2047 + ["x"]) + "\n", "not comma-separated numbers"),
        (f"{UP}/a/ab/B.jpg\t" + ",".join(["0.5"] * 2047 + ["nan"]) + "\n", "NaN"),
        (f"{UP}/a/ab/B.jpg\n", "expected 2 tab-separated columns, found 1"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, second, match) -> None:
    path = _two_rows(tmp_path, second)
    with pytest.raises(InputError, match=match) as info:
        for _ in read_embedding_batches(path, batch_rows=8):
            pass
    assert info.value.line == 3
    assert str(path) in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path) -> None:
    rows = [(f"{UP}/a/ab/F{i}.jpg", np.full(RESNET_DIM, i, np.float32)) for i in range(50)]
    path = write_embedding_file(tmp_path / "part.csv.gz", rows)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match="cannot read") as info:
        for _ in read_embedding_batches(path, batch_rows=8):
            pass
    assert str(path) in str(info.value)


def test_missing_input(settings, tmp_path) -> None:
    with pytest.raises(NotFoundError):
        import_embedding_files(settings, [tmp_path / "nope"], {})
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="no embedding file"):
        import_embedding_files(settings, [tmp_path / "empty"], {})


def test_spaces_around_numbers_fall_back_to_the_row_parser(tmp_path) -> None:
    vector = np.arange(RESNET_DIM, dtype=np.float32) / 1000
    path = tmp_path / "spaced.csv"
    path.write_text(f"{UP}/a/ab/A.jpg\t" + ", ".join(f"{x:.3f}" for x in vector) + "\n", encoding="utf-8")
    ((urls, vectors),) = list(read_embedding_batches(path))
    assert urls == [f"{UP}/a/ab/A.jpg"]
    np.testing.assert_allclose(vectors[0], vector, atol=1e-6)

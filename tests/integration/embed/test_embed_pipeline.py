"""The embed stage end to end: lake ``media`` → DataLoader with worker processes → shards →
index → CLI.  Local files only; worker processes are real (fork)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from tests.unit.embed.conftest import make_image
from wikivis.embed import embed_images, load_embeddings, media_items
from wikivis.lake import Lake

pytestmark = pytest.mark.integration


@pytest.fixture
def media_lake(settings):
    """Six thumbnails in the media store + a media snapshot with one failed fetch and one
    'ok' row whose file is corrupt."""
    rows = []
    for i in range(6):
        sha1 = f"{i:040x}"
        rel = f"{sha1[:2]}/{sha1}.jpg"
        make_image(settings.media_root / rel, 330, 220 + 40 * i, seed=i)
        rows.append(
            {
                "sha1": sha1,
                "file_name": f"F{i}.jpg",
                "path": rel,
                "width": 330,
                "height": 220 + 40 * i,
                "bytes": 1,
                "status": "ok",
                "reason": None,
            }
        )
    (settings.media_root / "ff").mkdir(parents=True)
    (settings.media_root / "ff" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    rows.append(
        {
            "sha1": "f" * 40,
            "file_name": "Corrupt.jpg",
            "path": "ff/corrupt.jpg",
            "width": 1,
            "height": 1,
            "bytes": 1,
            "status": "ok",
            "reason": None,
        }
    )
    rows.append(
        {
            "sha1": "e" * 40,
            "file_name": "Gone.jpg",
            "path": None,
            "width": None,
            "height": None,
            "bytes": None,
            "status": "failed",
            "reason": "http_404",
        }
    )
    Lake.from_settings(settings).write("media", settings.commons_wiki, "20260101", pa.Table.from_pylist(rows))
    return settings


def test_media_items_come_from_the_newest_snapshot_with_paths_resolved(media_lake):
    items = media_items(media_lake)
    assert len(items) == 7  # the failed fetch is not an item
    assert all(path.startswith(str(media_lake.media_root)) for _, path in items)


def test_worker_processes_give_the_same_vectors_as_in_process_decoding(media_lake, tmp_path):
    items = media_items(media_lake)
    with_workers = media_lake.replace(embed_workers=2, embed_batch_size=4, device="cpu")
    result = embed_images(with_workers, items)
    assert (result.embedded, result.failed) == (6, {"decode_error": 1})
    in_process = with_workers.replace(home=tmp_path / "other", embed_workers=0)
    embed_images(in_process, items)
    a_ids, a = load_embeddings(with_workers)
    b_ids, b = load_embeddings(in_process)
    assert a_ids == b_ids
    assert np.array_equal(a, b)


def test_cli_embed_then_index(media_lake, monkeypatch):
    from wikivis.cli import app
    from wikivis.cli._common import STATE

    monkeypatch.setenv("WIKIVIS_EMBED_WORKERS", "0")
    monkeypatch.setenv("WIKIVIS_EMBED_BATCH_SIZE", "4")
    monkeypatch.setattr(STATE, "_settings", None)
    monkeypatch.setattr(STATE, "overrides", {})
    runner = CliRunner()
    home = ["--home", str(media_lake.home)]
    out = runner.invoke(app, [*home, "embed", "run"])
    assert out.exit_code == 0, out.output
    assert "embedded 6" in out.output
    again = runner.invoke(app, [*home, "--json", "embed", "run"])
    assert json.loads(again.output)["embedded"] == 0
    models = runner.invoke(app, [*home, "embed", "models"])
    assert "efficientnet-lite0" in models.output
    built = runner.invoke(app, [*home, "index", "build"])
    assert built.exit_code == 0, built.output
    assert "Flat n=6" in built.output
    info = runner.invoke(app, [*home, "--json", "index", "info"])
    assert json.loads(info.output)["meta"]["n"] == 6
    added = runner.invoke(app, [*home, "index", "add"])
    assert added.exit_code == 0
    assert "unchanged" in added.output

"""The out-of-core import (DuckDB staging, two reads) against the old in-memory one, row for row."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from wikivis.datasets import schema as dataset_schema
from wikivis.embed.store import load_embeddings, model_embeddings_dir, shard_paths, write_embeddings
from wikivis.research.embeddings import (
    MODEL_ID,
    MODEL_VERSION,
    EmbeddingImport,
    import_embedding_files,
    read_embedding_batches,
)
from wikivis.research.files import file_name_from_url, lake_name_batches, name_sources

UP = "https://upload.wikimedia.org/wikipedia/commons"
DIM = 8


def _name(i: int) -> str:
    return f"Flat_{i:06d}.jpg"


def _sha1(i: int) -> str:
    return hashlib.sha1(_name(i).encode()).hexdigest()


def _url(name: str, thumb: bool = False) -> str:
    h = hashlib.md5(name.encode()).hexdigest()
    return f"{UP}/thumb/{h[0]}/{h[:2]}/{name}/300px-{name}" if thumb else f"{UP}/{h[0]}/{h[:2]}/{name}"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _hostile_input(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """Two files with every case the import classifies: known names (upload and thumb URLs),
    a name given twice, two names sharing one sha1, unknown names, unmappable URLs, blank lines."""
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    for i in range(n):
        kind = i % 10
        if kind == 7:
            url = f"{UP}/a/ab/Unknown_{i}.jpg"
        elif kind == 8:
            url = f"https://example.org/{i}.jpg"
        elif kind == 9:
            url = _url(_name(i - 5))  # the same name again, later
        else:
            url = _url(_name(i), thumb=bool(i % 2))
        vector = rng.normal(size=DIM).astype(np.float32)
        lines.append(url + "\t" + ",".join(f"{x:.6g}" for x in vector) + "\n")
        if i % 97 == 0:
            lines.append("\n")
    folder.mkdir(parents=True, exist_ok=True)
    half = len(lines) // 2
    return [_write(folder / "a_embeddings_part-0.csv", lines[:half]),
            _write(folder / "b_embeddings_part-1.csv", lines[half:])]


def _names(n: int) -> dict[str, str]:
    names = {_name(i): _sha1(i) for i in range(n) if i % 10 not in (7, 8, 9)}
    names[_name(3)] = _sha1(1)  # two names, one sha1 (duplicate uploads)
    names[_name(11)] = ""  # a file with no sha1 yet
    return names


def _in_memory_import(settings, paths: list[Path], sha1_by_name: dict[str, str]) -> EmbeddingImport:
    """The import as it was before the out-of-core one (the oracle)."""
    present, _ = _stored(settings)
    seen = set(present)
    summary = EmbeddingImport(files=len(paths))
    skipped: Counter[str] = Counter()
    sha1s: list[str] = []
    blocks: list[np.ndarray] = []
    for path in paths:
        for urls, vectors in read_embedding_batches(path, dim=DIM, batch_rows=7):
            summary.rows += len(urls)
            for i, url in enumerate(urls):
                name = file_name_from_url(url)
                if name is None:
                    skipped["unmapped_url"] += 1
                    continue
                sha1 = sha1_by_name.get(name)
                if not sha1:
                    skipped["sha1_unknown"] += 1
                    continue
                if sha1 in seen:
                    summary.already_present += 1
                    continue
                seen.add(sha1)
                sha1s.append(sha1)
                blocks.append(vectors[i])
    summary.imported = len(sha1s)
    summary.skipped = dict(skipped)
    if sha1s:
        write_embeddings(settings, MODEL_ID, MODEL_VERSION, sha1s, np.stack(blocks))
    return summary


def _stored(settings) -> tuple[list[str], np.ndarray]:
    if not shard_paths(model_embeddings_dir(settings, MODEL_ID)):
        return [], np.zeros((0, DIM), np.float32)
    return load_embeddings(settings, MODEL_ID)


def _other_home(settings, tmp_path: Path, name: str):
    from wikivis.config import load_settings

    return load_settings(env={}, home=tmp_path / name, contact=settings.contact)


def _seed_store(settings) -> None:
    """Some sha1s already stored, as an earlier run would have left them."""
    sha1s = [_sha1(i) for i in (0, 2, 4, 40)]
    write_embeddings(settings, MODEL_ID, MODEL_VERSION, sha1s, np.ones((len(sha1s), DIM), np.float32))


def test_out_of_core_equals_in_memory_row_for_row(settings, tmp_path) -> None:
    n = 600
    paths = _hostile_input(tmp_path / "in", n)
    names = _names(n)
    oracle_settings = _other_home(settings, tmp_path, "oracle")
    _seed_store(settings), _seed_store(oracle_settings)

    expected = _in_memory_import(oracle_settings, paths, names)
    got = import_embedding_files(settings, paths, names, dim=DIM, batch_rows=7, shard_rows=50)

    assert (got.rows, got.imported, got.already_present, got.skipped) == (
        expected.rows, expected.imported, expected.already_present, expected.skipped)
    assert set(got.skipped) == {"unmapped_url", "sha1_unknown"} and got.already_present > 0
    want_ids, want_vectors = _stored(oracle_settings)
    got_ids, got_vectors = _stored(settings)
    assert got_ids == want_ids  # same rows, same order
    np.testing.assert_array_equal(got_vectors, want_vectors)


def test_small_memory_limit_spills_and_agrees(settings, lake, tmp_path, monkeypatch) -> None:
    """300k lake rows of names (~20 MB staged) under a 64 MiB limit: the names are resolved in
    several hash buckets, and the result is the old import's."""
    from wikivis.research import embeddings

    buckets: list[int] = []
    original = embeddings._Resolver.buckets
    monkeypatch.setattr(embeddings._Resolver, "buckets",
                        lambda self, *files: buckets.append(original(self, *files)) or buckets[-1])
    n_lake = 300_000
    n_rows = 400
    names = {_name(i): _sha1(i) for i in range(n_lake)}
    files = dataset_schema("files")
    ids = np.arange(n_lake)

    def batches():
        for start in range(0, n_lake, 50_000):
            chunk = ids[start : start + 50_000]
            columns = {"file_name": [_name(int(i)) for i in chunk], "sha1": [_sha1(int(i)) for i in chunk],
                       "wiki": [settings.commons_wiki] * len(chunk)}
            yield pa.RecordBatch.from_arrays(
                [pa.array(columns.get(f.name, [0 if pa.types.is_integer(f.type) else "x"] * len(chunk)), f.type)
                 for f in files], schema=files)

    lake.write("files", settings.commons_wiki, "20260101", batches(), presorted=True)
    paths = _hostile_input(tmp_path / "in", n_rows)
    sources = name_sources(lake, [settings.commons_wiki, settings.wikis[0]])
    assert sources == [("files", settings.commons_wiki, "20260101")]
    got = import_embedding_files(settings, paths, lake_name_batches(lake, sources), dim=DIM,
                                 memory_limit=64 << 20)  # DuckDB gets 48 MiB
    oracle_settings = _other_home(settings, tmp_path, "oracle")
    expected = _in_memory_import(oracle_settings, paths, names)
    assert (got.rows, got.imported, got.already_present, got.skipped) == (
        expected.rows, expected.imported, expected.already_present, expected.skipped)
    assert _stored(settings)[0] == _stored(oracle_settings)[0]
    assert buckets[0] > 1  # names → sha1 did not fit one bucket of DuckDB's 48 MiB


def test_rerun_and_killed_run_are_idempotent(settings, tmp_path) -> None:
    n = 300
    paths = _hostile_input(tmp_path / "in", n)
    names = _names(n)
    first = import_embedding_files(settings, paths, names, dim=DIM, shard_rows=40)
    directory = model_embeddings_dir(settings, MODEL_ID)
    shards = shard_paths(directory)
    assert first.imported > 0 and len(shards) == -(-first.imported // 40)

    again = import_embedding_files(settings, paths, names, dim=DIM, shard_rows=40)
    assert (again.imported, again.already_present, again.shards) == (0, first.imported + first.already_present, [])
    assert again.skipped == first.skipped
    assert shard_paths(directory) == shards

    # a killed run: its last shards gone but a half-written temporary file and its staging folder left behind
    for shard in shards[len(shards) // 2 :]:
        shard.unlink()
    (directory / ".shard-000099.dead.tmp").write_bytes(b"PAR1 half")
    stale = settings.embeddings_root / ".staging" / "import-999999999-deadbeef0000"
    (stale / "spill").mkdir(parents=True)
    resumed = import_embedding_files(settings, paths, names, dim=DIM, shard_rows=40)
    assert resumed.imported + resumed.already_present == first.imported + first.already_present
    assert not stale.exists() and not list(directory.glob(".shard-*.tmp"))
    assert sorted(_stored(settings)[0]) == sorted(set(_stored(settings)[0]))  # no sha1 twice
    assert len(_stored(settings)[0]) == first.imported
    assert not list((settings.embeddings_root / ".staging").iterdir())  # our own staging is gone too


def test_unknown_names_are_counted_not_written(settings, tmp_path) -> None:
    lines = [f"{_url('Nobody_knows.jpg')}\t" + ",".join(["1"] * DIM) + "\n",
             "not a url\t" + ",".join(["1"] * DIM) + "\n",
             f"{_url(_name(1))}\t" + ",".join(["2"] * DIM) + "\n"]
    path = _write(tmp_path / "x_embeddings.csv", lines)
    got = import_embedding_files(settings, [path], {_name(1): _sha1(1)}, dim=DIM)
    assert (got.rows, got.imported, got.skipped) == (3, 1, {"sha1_unknown": 1, "unmapped_url": 1})
    assert _stored(settings)[0] == [_sha1(1)]
    nothing = import_embedding_files(_other_home(settings, tmp_path, "empty"), [path], {}, dim=DIM)
    assert (nothing.imported, nothing.skipped, nothing.shards) == (0, {"sha1_unknown": 2, "unmapped_url": 1}, [])


@pytest.mark.parametrize("bad", ["\xff", "ok"])
def test_bad_utf8_names_the_line(settings, tmp_path, bad) -> None:
    from wikivis.errors import InputError

    good = f"{_url(_name(1))}\t" + ",".join(["2"] * DIM) + "\n"
    path = tmp_path / "u_embeddings.csv"
    path.write_bytes(good.encode() + (b"\xff\xfe" if bad == "\xff" else b"x") + b"\t1\n")
    with pytest.raises(InputError) as info:
        import_embedding_files(settings, [path], {_name(1): _sha1(1)}, dim=DIM)
    assert info.value.line == 2 and str(path) in str(info.value)


def test_a_bad_line_is_reported_even_when_nothing_is_written(settings, tmp_path) -> None:
    from wikivis.errors import InputError

    path = _write(tmp_path / "z_embeddings.csv", [f"{_url('Nobody.jpg')}\t" + ",".join(["1"] * DIM) + "\n",
                                                   f"{_url('Nobody2.jpg')}\t1,2\n"])
    with pytest.raises(InputError, match="2 values") as info:
        import_embedding_files(settings, [path], {}, dim=DIM)
    assert info.value.line == 2


def test_a_bucket_out_of_memory_retries_with_twice_the_buckets(settings, tmp_path, monkeypatch) -> None:
    """The bucket count is an estimate; a step that still runs out of memory (hash skew,
    DuckDB's per-thread buffers) starts over with more buckets and gives the same result."""
    from wikivis.research import embeddings

    n = 300
    paths = _hostile_input(tmp_path / "in", n)
    names = _names(n)
    tried: list[int] = []
    original = embeddings._Resolver._run

    def cramped(self, sql, params, source):
        if "% $p = $b" in sql:
            tried.append(params["p"])
            if params["p"] < 4:
                raise embeddings._OutOfMemory("DuckDB ran out of its memory (simulated)")
        return original(self, sql, params, source)

    monkeypatch.setattr(embeddings._Resolver, "_run", cramped)
    got = import_embedding_files(settings, paths, names, dim=DIM, shard_rows=50)
    oracle_settings = _other_home(settings, tmp_path, "oracle")
    expected = _in_memory_import(oracle_settings, paths, names)
    assert (got.imported, got.already_present, got.skipped) == (
        expected.imported, expected.already_present, expected.skipped)
    assert _stored(settings)[0] == _stored(oracle_settings)[0]
    assert tried[:3] == [1, 2, 4] and max(tried) == 4

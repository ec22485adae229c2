"""One Commons stage: the Airflow path (plan → metadata shards → media shards → merge, as
separate calls, several shards) and the in-process path (CLI, ``run_all``) write the same
datasets on the sample wiki, and the sharded path reuses unchanged metadata by sha1."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

DATASETS = ("file_metadata", "metadata_failures", "media")


def _rows(lake, dataset, wiki, snapshot):
    rows = lake.read(dataset, wiki, snapshot).to_pylist()
    return sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)


def _metadata(ctx, snapshot: str, key: str) -> int:
    """``key`` of the metadata shards' stage metrics at ``snapshot``, added up."""
    return sum((r.get("metrics") or {}).get(key, 0) for r in ctx.catalog.runs(limit=500)
               if r["kind"].startswith("stage:metadata") and (r.get("params") or {}).get("snapshot") == snapshot)


def test_the_sharded_and_the_single_call_paths_write_the_same_datasets(mirror, sample_wiki, tmp_path, monkeypatch):
    from wikivis.media import stage as media_stage
    from wikivis.stages import commons, ingest
    from wikivis.stages.run import RunContext

    wiki, first, second = sample_wiki.wiki, sample_wiki.dates[0], sample_wiki.dates[1]
    single = RunContext.open(mirror.settings(home=tmp_path / "single", max_images=60), "single__run")
    sharded = RunContext.open(mirror.settings(home=tmp_path / "sharded", max_images=60), "sharded__run")
    for ctx in (single, sharded):
        ingest.ingest(ctx, wiki, first)

    commons.commons(single, wiki, first)
    monkeypatch.setattr(media_stage, "SHARD_FILES", 25)  # several mapped tasks under Airflow
    shards = commons.plan_commons(sharded, wiki, first)
    assert len(shards) > 1
    for shard in shards:  # each call is one mapped task
        commons.fetch_metadata_shard(sharded, wiki, first, shard["shard"], shard["n_shards"])
    for shard in shards:
        commons.fetch_media_shard(sharded, wiki, first, shard["shard"], shard["n_shards"])
    commons.merge_commons(sharded, wiki, first)
    for dataset in DATASETS:
        assert _rows(single.lake, dataset, wiki, first) == _rows(sharded.lake, dataset, wiki, first), dataset
        assert sharded.catalog.snapshots(dataset, wiki), dataset  # recorded by the merge

    # the next night on the sharded path asks the API only about files whose sha1 changed
    night2 = sharded.with_run("sharded__run2")
    ingest.ingest(night2, wiki, second)
    for shard in commons.plan_commons(night2, wiki, second):
        commons.fetch_metadata_shard(night2, wiki, second, shard["shard"], shard["n_shards"])
    assert _metadata(sharded, first, "reused") == 0
    asked_first = _metadata(sharded, first, "requested")
    assert _metadata(sharded, second, "reused") > 0
    assert _metadata(sharded, second, "requested") - _metadata(sharded, second, "reused") < asked_first

"""Import a pre-Iceberg Parquet lake (``<root>/<dataset>/wiki=<w>/snapshot=<s>/`` with
``_manifest.json`` per snapshot and ``_current.json`` per wiki) into the Iceberg lake.

Every snapshot is written in label order on the branch ``run-migrate`` with its original run
id and content hash in the snapshot's extras, so a second run finds them and skips them
(idempotent); then each wiki's published pointers become one publication of kind
``migrate``.  The old directory is only read, never changed: remove it once satisfied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from wikivis.errors import InputError, NotFoundError
from wikivis.lake.iceberg import Lake, _props
from wikivis.vocab import DATASET_RE, SNAPSHOT_RE, WIKI_RE

RUN_ID = "migrate"


def _old_snapshots(wiki_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for part in sorted(wiki_dir.glob("snapshot=*")):
        label = part.name.removeprefix("snapshot=")
        manifest = part / "_manifest.json"
        if SNAPSHOT_RE.fullmatch(label) and manifest.is_file():
            try:
                out.append((label, json.loads(manifest.read_text("utf-8"))))
            except json.JSONDecodeError as exc:
                raise InputError(f"unreadable manifest: {exc}", source=str(manifest)) from exc
    return out


def _already(lake: Lake, dataset: str, wiki: str, old_hash: str) -> bool:
    table = lake._table(dataset)
    if table is None:
        return False
    for snap in table.snapshots():
        props = _props(snap)
        if props.get("wiki") == wiki and json.loads(props.get("extra", "{}")).get("migrated_from") == old_hash:
            return True
    return False


def migrate_parquet_lake(old_root: Path, lake: Lake) -> dict[str, Any]:
    """Import every snapshot under ``old_root``; returns counts of imported, skipped and published."""
    old_root = Path(old_root)
    if not old_root.is_dir():
        raise NotFoundError(f"no Parquet lake at {old_root}")
    imported = skipped = 0
    current: dict[str, dict[str, str]] = {}
    for dataset_dir in sorted(p for p in old_root.iterdir() if p.is_dir() and DATASET_RE.fullmatch(p.name)):
        dataset = dataset_dir.name
        for wiki_dir in sorted(dataset_dir.glob("wiki=*")):
            wiki = wiki_dir.name.removeprefix("wiki=")
            if not WIKI_RE.fullmatch(wiki):
                continue
            for label, manifest in _old_snapshots(wiki_dir):
                old_hash = str(manifest.get("content_hash", ""))
                if _already(lake, dataset, wiki, old_hash):
                    skipped += 1
                    continue
                part = wiki_dir / f"snapshot={label}"
                tables = [pq.read_table(part / f["name"]) for f in manifest.get("files", [])]
                data = pa.concat_tables(tables) if tables else None
                if data is None:
                    from wikivis.datasets import schema

                    data = schema(dataset).empty_table()
                lake.write(dataset, wiki, label, data, run_id=RUN_ID, inputs=[str(part)],
                           extra={"migrated_from": old_hash, "original_run_id": manifest.get("run_id")})
                imported += 1
            pointer = wiki_dir / "_current.json"
            if pointer.is_file():
                current.setdefault(wiki, {})[dataset] = str(json.loads(pointer.read_text("utf-8"))["snapshot"])
    published = 0
    for wiki, labels in sorted(current.items()):
        latest = lake.publication(wiki)
        if latest is not None and all(latest.label(d) == s for d, s in labels.items()):
            continue
        lake.publish_run(wiki, labels, run_id=RUN_ID, kind="migrate")
        published += 1
    return {"imported": imported, "skipped": skipped, "published": published}

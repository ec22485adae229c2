"""The captions stage: article texts → ``article_image_captions``; Commons → ``file_captions``;
then the caption gate and the coverage figures.

Which way the texts come (``source``):

* ``dump`` — full rebuild from the ``pages-articles`` dump of the snapshot's date (or the
  newest one before it);
* ``api`` — refresh the pages that changed since the previous captions snapshot through
  ``prop=revisions``: ``page_ids`` when the caller knows them (the event catch-up's dirty
  set), otherwise the pages whose ``pages``/``article_images`` rows differ between the two
  snapshots (an edit that only changes a caption is then seen at the next full rebuild);
* ``auto`` — ``dump`` for a dump snapshot (``YYYYMMDD``) or when there is no previous
  captions snapshot; ``api`` for an event snapshot (``YYYYMMDDTHHMMSSZ``) on top of one,
  or when ``page_ids`` are given.

``file_captions`` is fetched for files used by the wiki's articles that the previous
``file_captions`` snapshot does not have yet (all of them on the first run).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wikivis.errors import InputError, NotFoundError
from wikivis.vocab import is_dump_date

if TYPE_CHECKING:
    import pyarrow as pa

    from wikivis.config import Settings

SOURCES = ("auto", "dump", "api")


def _before(lake: Any, dataset: str, wiki: str, snapshot: str, *, strict: bool) -> str | None:
    snaps = [s for s in lake.snapshots(dataset, wiki) if (s < snapshot if strict else s <= snapshot)]
    return snaps[-1] if snaps else None


def changed_pages(lake: Any, wiki: str, old: str, new: str) -> set[int]:
    """Pages whose ``pages`` or ``article_images`` rows differ between two snapshots."""
    changed: set[int] = set()
    for dataset, cols in (("pages", ["page_id", "page_title", "is_redirect"]), ("article_images", ["page_id", "file_name"])):
        a_snap, b_snap = _before(lake, dataset, wiki, old, strict=False), _before(lake, dataset, wiki, new, strict=False)
        if a_snap is None or b_snap is None:
            continue
        a = set(zip(*[lake.read(dataset, wiki, a_snap, columns=cols).column(c).to_pylist() for c in cols], strict=True))
        b = set(zip(*[lake.read(dataset, wiki, b_snap, columns=cols).column(c).to_pylist() for c in cols], strict=True))
        changed |= {row[0] for row in a ^ b}
    return changed


def run_captions(
    settings: Settings,
    wiki: str,
    snapshot: str,
    *,
    lake: Any,
    catalog: Any = None,
    run_id: str | None = None,
    source: str = "auto",
    page_ids: Iterable[int] | None = None,
    dump_path: Path | None = None,
    with_file_captions: bool = True,
    gate: bool = True,
) -> dict[str, Any]:
    from wikivis.captions.build import ExtractStats, file_caption_rows, from_api, from_dump, merge
    from wikivis.captions.coverage import compute_coverage

    if source not in SOURCES:
        raise InputError(f"unknown captions source {source!r}; choose one of {', '.join(SOURCES)}")
    previous = _before(lake, "article_image_captions", wiki, snapshot, strict=True)
    if source == "auto":
        event_snapshot = "T" in snapshot
        source = "api" if page_ids is not None or (previous is not None and event_snapshot) else "dump"
    if dump_path is not None:
        source = "dump"
    stats = ExtractStats()
    if source == "dump":
        date = snapshot if is_dump_date(snapshot) else "latest"
        try:
            table = from_dump(settings, wiki, date, path=dump_path, stats=stats)
        except NotFoundError:
            if date == "latest":
                raise
            from wikivis.sources.dumps import DumpsClient

            fetched = DumpsClient(settings).fetch(wiki, "latest", tables=("pages-articles",), at_or_before=date)
            table = from_dump(settings, wiki, path=fetched.path("pages-articles"), stats=stats)
            stats.dump = f"{wiki}/{fetched.date}"
    else:
        base = lake.read("article_image_captions", wiki, previous) if previous is not None else None
        ids = set(page_ids) if page_ids is not None else (changed_pages(lake, wiki, previous, snapshot) if previous else set())
        fresh, gone = from_api(settings, wiki, sorted(ids), stats=stats)
        table = merge(base, fresh, ids | gone)
        stats.pages = len(ids)
    lake.write("article_image_captions", wiki, snapshot, table, run_id=run_id)
    summary: dict[str, Any] = {"wiki": wiki, "snapshot": snapshot, "source": source, "rows": table.num_rows,
                               "extract": stats.as_dict()}

    images_snap = _before(lake, "article_images", wiki, snapshot, strict=False)
    images: pa.Table | None = lake.read("article_images", wiki, images_snap, columns=["page_id", "file_name"]) if images_snap else None
    if with_file_captions:
        names = sorted(set(images.column("file_name").to_pylist())) if images is not None else \
            sorted(set(table.column("file_name").to_pylist()))
        prev_files = _before(lake, "file_captions", wiki, snapshot, strict=True)
        old = lake.read("file_captions", wiki, prev_files) if prev_files else None
        known = set(old.column("file_name").to_pylist()) if old is not None else set()
        todo = [n for n in names if n not in known]
        fresh_files = file_caption_rows(settings, todo)
        if old is not None:
            import pyarrow as pa
            import pyarrow.compute as pc

            from wikivis.datasets import SORT_KEYS

            keep = old.filter(pc.is_in(old.column("file_name"), value_set=pa.array(names, pa.string())))
            fresh_files = pa.concat_tables([keep.cast(fresh_files.schema), fresh_files]).sort_by(
                [(k, "ascending") for k in SORT_KEYS["file_captions"]])
        lake.write("file_captions", wiki, snapshot, fresh_files, run_id=run_id)
        summary["file_captions"] = {"rows": fresh_files.num_rows, "fetched_files": len(todo),
                                    "files": len(set(fresh_files.column("file_name").to_pylist()))}
    if images is not None:
        summary["coverage"] = compute_coverage(images, table)
    if gate:
        from wikivis.gates.captions import gate_captions

        gate_report = gate_captions(settings, lake, wiki, snapshot, catalog=catalog, run_id=run_id)
        summary["gate"] = {f"{r.dataset}.{r.name}": r.outcome for r in gate_report.results}
    return summary

"""EventStreams consumer throughput on one core.

1. **Consume**: the sample wiki's events replayed ``--copies`` times (fresh ``meta.id`` per copy,
   one day later each time) and framed exactly as the mirror / stream.wikimedia.org frames them
   (``event``/``id`` with 14 topic positions/``data``, every 20th event again in the other
   datacentre), fed in 16 KiB chunks through the real :class:`StreamReader` (behind an in-memory
   session) + :class:`EventFilter` + :class:`DirtySet` — SSE parsing, JSON decoding, position
   tracking, canary/other-wiki filtering, de-duplication, dirty-set building.
   Baseline in the same run: ``json.loads`` of the same data lines, pre-split (the floor any
   consumer pays).
2. **Apply**: an in-memory snapshot of ``--pages`` articles (≈5 images and 3 categories each)
   and ``--dirty`` re-read pages → :func:`apply_pages` + :func:`apply_files` (scope "all").
   Baseline: sorting the result by the canonical keys, which ``Lake.write`` does anyway.

   Also: the same stream with every message decoded (no prefilter), and a stream where 90 % of
   the events belong to other wikis (the real composite stream carries every wiki; the
   prefilter sets those aside undecoded).

Last line: JSON with ``events_per_s`` (consume), ``baseline_json_per_s``, ``ratio_vs_json``,
``events_per_s_decode_all``, ``events_per_s_foreign90``, ``apply_dirty_pages_per_s``,
``apply_rows``, ``peak_rss_mb``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa
import requests

from bench._common import emit, peak_rss_mb, say, timer
from wikivis.datasets import SORT_KEYS
from wikivis.datasets import schema as dataset_schema
from wikivis.events.apply import FileRow, PageState, apply_files, apply_pages
from wikivis.events.dirty import DirtySet
from wikivis.sample.events import STREAMS
from wikivis.sources.eventstreams import EventFilter, StreamReader, Window, parse_dt
from wikivis.testing import streamed_response

CHUNK = 16 * 1024
TOPICS = [f"{dc}.{s}" for s in STREAMS for dc in ("eqiad", "codfw")]


def frames(events: list[dict[str, Any]], copies: int, foreign_share: float = 0.0) -> tuple[bytes, list[bytes]]:
    """The SSE byte stream and, for the baseline, its data lines.  ``foreign_share`` of the
    copies are relabelled to other wikis (on the real composite stream one wiki is a sliver)."""
    positions = dict.fromkeys(TOPICS, 0)
    out: list[bytes] = [b":ok\n\n"]
    data_lines: list[bytes] = []
    ts = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
    for copy in range(copies):
        shift = timedelta(days=copy)
        foreign = copy % 10 < foreign_share * 10
        for i, event in enumerate(events):
            if foreign:
                event = {**event, **{k: f"other{copy % 7}wiki" for k in ("database", "wiki") if k in event}}
            ts += 7
            meta = dict(event["meta"])
            meta["id"] = f"{copy:05d}-{meta['id']}"
            meta["dt"] = (datetime.fromisoformat(meta["dt"].replace("Z", "+00:00")) + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
            targets = [meta["topic"]] + ([meta["topic"].replace("eqiad.", "codfw.")] if i % 20 == 19 else [])
            for topic in targets:
                positions[topic] = ts + 1
                data = json.dumps({**event, "meta": {**meta, "topic": topic}}, separators=(",", ":")).encode()
                ident = json.dumps([{"topic": t, "partition": 0, "timestamp": p} for t, p in positions.items()],
                                   separators=(",", ":")).encode()
                out.append(b"event: message\nid: " + ident + b"\ndata: " + data + b"\n\n")
                data_lines.append(data)
    return b"".join(out), data_lines


class BufferSession(requests.Session):
    """Serves ``buffer`` once (then an empty stream, so the reader stops with "end")."""

    def __init__(self, buffer: bytes) -> None:
        super().__init__()
        self.headers["User-Agent"] = "wikivis-bench/1.0 (bench@example.org) python-requests/2"
        self.buffer = buffer

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body, self.buffer = self.buffer, b":ok\n\n"
        return streamed_response(url, (body[i : i + CHUNK] for i in range(0, len(body), CHUNK)))


def consume(buffer: bytes, *, prefilter: bool = True) -> dict[str, int]:
    until = datetime(2100, 1, 1, tzinfo=UTC)
    reader = StreamReader("http://bench.invalid", STREAMS, session=BufferSession(buffer), window=Window(until),
                          since=datetime(2026, 11, 1, tzinfo=UTC), sleep=lambda s: None,
                          prefilter=("samplewiki", "commonswiki") if prefilter else ())
    filt = EventFilter(frozenset({"samplewiki", "commonswiki"}))
    dirty = DirtySet("samplewiki", "commonswiki")
    for message in reader:
        event = message.event
        if not filt.relevant(event):
            continue
        dt = parse_dt(event["meta"].get("dt"))
        if dt is not None and dt >= until:
            reader.defer(message)
        elif filt.first_time(event):
            dirty.add(event)
    return {"messages": reader.stats.messages, "prefiltered": reader.stats.prefiltered, "accepted": filt.stats.accepted,
            "duplicates": filt.stats.duplicates, "dirty_pages": len(dirty.pages), "dirty_files": len(dirty.files)}


def snapshot(n_pages: int, rng: random.Random) -> tuple[dict[str, pa.Table], pa.Table]:
    names = [f"File_{i:07d}.jpg" for i in range(n_pages * 2)]
    pages = {"wiki": [], "page_id": [], "page_namespace": [], "page_title": [], "is_redirect": []}
    images: dict[str, list] = {k: [] for k in ("wiki", "page_id", "page_namespace", "page_title", "file_name", "is_lead")}
    cats: dict[str, list] = {"wiki": [], "page_id": [], "category": []}
    for page_id in range(1, n_pages + 1):
        title = f"Article_{page_id}"
        for k, v in (("wiki", "benchwiki"), ("page_id", page_id), ("page_namespace", 0), ("page_title", title), ("is_redirect", False)):
            pages[k].append(v)
        for j, name in enumerate(rng.sample(names, 5)):
            for k, v in (("wiki", "benchwiki"), ("page_id", page_id), ("page_namespace", 0), ("page_title", title),
                         ("file_name", name), ("is_lead", j == 0)):
                images[k].append(v)
        for c in range(3):
            cats["wiki"].append("benchwiki")
            cats["page_id"].append(page_id)
            cats["category"].append(f"Category_{(page_id * 7 + c) % 5000}")
    files = pa.table({
        "wiki": ["commonswiki"] * len(names), "file_name": names, "size": [1000] * len(names), "width": [640] * len(names),
        "height": [480] * len(names), "media_type": ["BITMAP"] * len(names), "mime": ["image/jpeg"] * len(names),
        "sha1": ["0" * 40] * len(names), "timestamp": ["20261101000000"] * len(names),
    }, schema=dataset_schema("files"))
    base = {
        "pages": pa.table(pages, schema=dataset_schema("pages")),
        "article_images": pa.table(images, schema=dataset_schema("article_images")),
        "article_categories": pa.table(cats, schema=dataset_schema("article_categories")),
    }
    return base, files


def best_of(repeats: int, fn: Any) -> tuple[float, Any]:
    """The fastest of ``repeats`` runs (this machine is shared and noisy) and its result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        with timer() as t:
            out = fn()
        best = min(best, t["s"])
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=40, help="replays of the sample's events (≈1450 messages each)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the fastest counts")
    parser.add_argument("--pages", type=int, default=200_000, help="articles in the in-memory snapshot")
    parser.add_argument("--dirty", type=int, default=20_000, help="re-read pages applied onto it")
    args = parser.parse_args()

    from wikivis.sample import generate

    sample = generate(cache_dir=Path(__file__).resolve().parent.parent / "var" / "cache" / "sample")
    buffer, data_lines = frames(sample.events, args.copies)
    say(f"stream: {len(data_lines):,} messages, {len(buffer) / 2**20:.1f} MiB")

    def decode_all() -> None:
        for line in data_lines:
            json.loads(line)

    base_s, _ = best_of(args.repeats, decode_all)
    baseline = len(data_lines) / base_s
    say(f"baseline json.loads of the data lines: {baseline:,.0f} events/s")

    consume_s, counts = best_of(args.repeats, lambda: consume(buffer))
    assert counts["messages"] == len(data_lines), counts
    rate = counts["messages"] / consume_s
    say(f"consume (SSE + JSON + positions + filter + de-dup + dirty set): {rate:,.0f} events/s "
        f"({rate / baseline:.2f}× json.loads); {counts}")
    all_s, _ = best_of(args.repeats, lambda: consume(buffer, prefilter=False))
    rate_all = counts["messages"] / all_s
    say(f"  same, decoding every message (no prefilter): {rate_all:,.0f} events/s ({rate_all / baseline:.2f}×)")

    mixed, _ = frames(sample.events, args.copies, foreign_share=0.9)
    mix_s, mixed_counts = best_of(args.repeats, lambda: consume(mixed))
    rate_mix = mixed_counts["messages"] / mix_s
    say(f"  90 % other wikis (like the real composite stream), prefilter on: {rate_mix:,.0f} events/s "
        f"({rate_mix / baseline:.2f}×); {mixed_counts['prefiltered']:,} set aside undecoded")

    rng = random.Random(0)
    base, files = snapshot(args.pages, rng)
    rows = sum(t.num_rows for t in base.values()) + files.num_rows
    dirty_ids = rng.sample(range(1, args.pages + 1), args.dirty)
    names = files.column("file_name").to_pylist()
    states: dict[int, PageState | None] = {
        pid: (None if i % 10 == 0 else PageState(pid, 0, f"Article_{pid}_v2", False, tuple(rng.sample(names, 5)),
                                                  (f"Category_{pid % 5000}",), frozenset()))
        for i, pid in enumerate(dirty_ids)
    }
    fetched: dict[str, FileRow | None] = {n: FileRow(n, 2000, 800, 600, "BITMAP", "image/jpeg", "1" * 40, "20261102000000")
                                          for n in rng.sample(names, args.dirty // 10)}
    with timer() as a:
        out = apply_pages(base, states, "benchwiki")
        out["files"] = apply_files(files, fetched, "commonswiki")
    with timer() as s:
        for name, table in out.items():
            table.sort_by([(k, "ascending") for k in SORT_KEYS[name]])
    apply_rate = args.dirty / a["s"]
    say(f"apply {args.dirty:,} re-read pages + {len(fetched):,} files onto {rows:,} rows: {a['s']:.3f} s "
        f"({apply_rate:,.0f} dirty pages/s); baseline sort of the result: {s['s']:.3f} s ({a['s'] / s['s']:.2f}×)")

    emit({
        "bench": "events",
        "events": counts["messages"],
        "events_per_s": round(rate),
        "baseline_json_per_s": round(baseline),
        "ratio_vs_json": round(rate / baseline, 3),
        "events_per_s_decode_all": round(rate_all),
        "events_per_s_foreign90": round(rate_mix),
        "ratio_foreign90_vs_json": round(rate_mix / baseline, 3),
        "apply_rows": rows,
        "apply_dirty_pages": args.dirty,
        "apply_s": round(a["s"], 4),
        "apply_dirty_pages_per_s": round(apply_rate),
        "apply_vs_sort": round(a["s"] / s["s"], 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    })


if __name__ == "__main__":
    main()

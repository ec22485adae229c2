"""Benchmark: caption extraction from a pages-articles XML dump (full rebuild path).

Generates (once, cached under ``var/bench-cache/captions``) a ``.xml.bz2`` dump of
``--pages`` pages whose texts cycle through the sample wiki's generated articles, then
measures, in this process and in the same run:

* ``read``: streaming the dump with :func:`wikivis.dumps.articles.read_pages` only (the
  baseline: bz2 + XML, what any rebuild pays);
* ``extract_1``: read + :func:`wikivis.captions.build.collect` in process;
* ``extract_2``: the same with ``workers=2`` (processes);

as pages/s and MB/s of uncompressed wikitext, with ratios to ``read``, and the peak RSS
(flat: one page in memory while reading, one batch of chunks in flight while parsing).
The machine is shared and noisy: compare ratios, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import bz2
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import cache_dir, emit, peak_rss_mb, say, timer


def build(path: Path, pages: int) -> int:
    from xml.sax.saxutils import escape

    from wikivis.sample import generate
    from wikivis.sample.captions import article_wikitext

    sample = generate()
    ids = [r["page_id"] for r in sample.state(sample.n_days).tables["page"] if r["page_namespace"] == 0]
    texts = [t for t in (article_wikitext(sample, i) for i in ids) if t and not t.startswith("#REDIRECT")]
    size = 0
    with bz2.open(path, "wt", encoding="utf-8") as out:
        out.write('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">\n')
        for n in range(1, pages + 1):
            text = texts[n % len(texts)]
            size += len(text.encode())
            out.write(f"<page><title>P{n}</title><ns>0</ns><id>{n}</id><revision><id>{n}</id>"
                      f'<model>wikitext</model><text xml:space="preserve">{escape(text)}</text></revision></page>\n')
        out.write("</mediawiki>\n")
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20_000)
    args = parser.parse_args()
    from wikivis.captions.build import ExtractStats, collect
    from wikivis.dumps.articles import read_pages

    path = cache_dir("captions") / f"pages-articles-{args.pages}.xml.bz2"
    size_file = path.with_suffix(".size")
    if not path.exists() or not size_file.exists():
        size_file.write_text(str(build(path, args.pages)))
    mb = int(size_file.read_text()) / 1e6
    say(f"{args.pages} pages, {mb:.1f} MB of wikitext, {path.stat().st_size / 1e6:.1f} MB bz2")

    with timer() as t_read:
        n = sum(1 for _ in read_pages(path))
    results = {"pages": n, "wikitext_mb": round(mb, 2), "read_s": round(t_read["s"], 2)}
    for workers in (1, 2):
        stats = ExtractStats()
        with timer() as t:
            table = collect("benchwiki", ((p.page_id, p.text) for p in read_pages(path)), stats, workers=workers)
        results[f"extract_{workers}_s"] = round(t["s"], 2)
        results[f"extract_{workers}_pages_per_s"] = round(n / t["s"])
        results[f"extract_{workers}_mb_per_s"] = round(mb / t["s"], 2)
        results[f"extract_{workers}_ratio_vs_read"] = round(t["s"] / t_read["s"], 1)
        results["rows"] = table.num_rows
        say(f"workers={workers}: {t['s']:.1f} s, {n / t['s']:.0f} pages/s, {mb / t['s']:.2f} MB/s, "
            f"{table.num_rows} rows, {t['s'] / t_read['s']:.1f}x the read alone ({t_read['s']:.1f} s)")
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    emit(results)


if __name__ == "__main__":
    main()

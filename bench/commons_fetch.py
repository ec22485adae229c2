"""Thumbnail fetching under upload.wikimedia.org's policy: wikivis vs img2dataset.

Against the local mirror (real HTTP/1.1 on 127.0.0.1) with ``--latency`` (default 100 ms)
added to every upload request and the policy enforced by the mirror: at most 2 requests in
flight per client (more get 429), User-Agent policy (403), standard widths only (400).

* **ceiling** = min(2 connections ÷ request time, 25 Mbps ÷ mean thumbnail size), in
  thumbnails per second; the run's fraction is fetched/s ÷ ceiling.  The mirror's thumbnail
  cache is warmed first, so the request time is the added latency.
* **violations** = what the mirror counted (requests refused over 2 in flight, peak in-flight
  above 2, 403 User-Agent, requests inside a Retry-After, non-standard widths) plus the
  number of sends at which the trailing 10-s window carried more than 25 Mbps (measured at
  the server).
* **refetched_on_rerun**: a first run fetches all but the last ``--holdback`` items; a rerun
  on the full list (new shard list: the store is checked) must request exactly those; a third
  identical run (finished shard markers) must request nothing.
* **img2dataset** (1.47, installed) on the same URL list and server, in a subprocess:
  ``processes_count=1, thread_count=--i2d-threads`` (default 2: its default 256 would be
  refused over the cap), ``resize_mode="no"``, ``retries=0``.  It sends a browser User-Agent
  (``Mozilla/5.0 … Firefox/72.0 (compatible; <token>; +https://github.com/rom1504/img2dataset)``)
  that the policy answers with 403, and opens a new connection per image (urllib, no
  keep-alive).  Its throughput is taken from its own shard stats (download phase only, not
  its ~10 s start-up).  A second img2dataset run with the mirror's User-Agent check switched
  off shows what it would do if accepted (``img2dataset_ua_off_*``).
* **thumb500 phase** (``--thumb500-rate``, default 0.01; 0 turns it off): the latency-bound
  run again on a fresh store, with that fraction of the files answering every thumbnail
  request with HTTP 500 "Error generating thumbnail" (the mirror's ``thumb500`` fault).  Goal
  ≥ 0.90 of the ceiling: a 500 must not stall a connection slot (it is retried at the end of
  its shard, twice, without any backoff sleep while a slot is held).
* **bandwidth phase** (``--bandwidth-phase``, on by default): no added latency, 500-px
  thumbnails, so the 25 Mbps cap binds; fraction of 25 Mbps and the worst 10-s window.

    python bench/commons_fetch.py [--latency 0.1] [--holdback 25] [--i2d-threads 2] [--no-img2dataset]
                                  [--thumb500-rate 0.01] [--no-bandwidth-phase]

Last line JSON: fraction_of_ceiling, violations, img2dataset_fraction_of_ceiling,
img2dataset_violations, refetched_on_rerun, plus details.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import cache_dir, emit, say
from wikivis.media.fetch import fetch_media, fetch_metadata, plan_work
from wikivis.mirror import Mirror
from wikivis.mirror import base as mirror_base
from wikivis.sample import generate
from wikivis.sources.http import mbps_to_bytes_per_s

WINDOW_S = 10.0
POLICY_CONNECTIONS = 2


class SendLog:
    """Server-side (time, bytes) of every body write, and the User-Agents seen."""

    def __init__(self, mirror: Mirror) -> None:
        self.events: list[tuple[float, int]] = []
        self.agents: set[str] = set()
        self._lock = threading.Lock()
        upload = mirror.upload
        original_sent = upload.sent

        def sent(n: int) -> None:
            with self._lock:
                self.events.append((time.monotonic(), n))
            original_sent(n)

        upload.sent = sent  # type: ignore[method-assign]
        original_ok = mirror_base.user_agent_ok

        def agent_ok(agent: str | None) -> bool:
            with self._lock:
                self.agents.add(str(agent))
            return original_ok(agent)

        mirror_base.user_agent_ok = agent_ok

    def reset(self) -> None:
        with self._lock:
            self.events.clear()
            self.agents.clear()

    def windows_over(self, cap_bytes_per_s: float) -> tuple[int, float]:
        """(sends at which the trailing 10-s window exceeded the cap, worst window in Mbps)."""
        with self._lock:
            events = sorted(self.events)
        times = [t for t, _ in events]
        prefix = [0]
        for _, n in events:
            prefix.append(prefix[-1] + n)
        over, worst = 0, 0
        for i, t in enumerate(times):
            j = bisect_left(times, t - WINDOW_S)
            window = prefix[i + 1] - prefix[j]
            worst = max(worst, window)
            over += window > cap_bytes_per_s * WINDOW_S
        return over, worst * 8 / WINDOW_S / 1e6


def mirror_violations(stats: dict[str, Any]) -> dict[str, int]:
    return {
        "refused_over_limit": stats["refused_over_limit"],
        "peak_concurrency_over_2": max(0, stats["peak_concurrency"] - POLICY_CONNECTIONS),
        "bad_user_agent": stats["bad_user_agent"],
        "ignored_retry_after": stats["ignored_retry_after"],
        "nonstandard_widths": stats["nonstandard_widths"],
    }


def ceiling(latency_s: float, mean_bytes: float, cap_bytes_per_s: float) -> dict[str, float]:
    by_connections = POLICY_CONNECTIONS / latency_s if latency_s > 0 else float("inf")
    by_bandwidth = cap_bytes_per_s / mean_bytes if mean_bytes else float("inf")
    return {"items_per_s": min(by_connections, by_bandwidth), "by_connections": by_connections,
            "by_bandwidth": by_bandwidth}


def run_img2dataset(urls: list[str], workdir: Path, threads: int) -> dict[str, Any]:
    """img2dataset in a subprocess; its shard stats give the download-phase duration."""
    url_file = workdir / "urls.txt"
    url_file.write_text("".join(u + "\n" for u in urls), encoding="utf-8")
    out = workdir / "out"
    code = (
        "import img2dataset\n"
        f"img2dataset.download(url_list={str(url_file)!r}, input_format='txt', output_format='files', "
        f"output_folder={str(out)!r}, processes_count=1, thread_count={threads}, resize_mode='no', "
        "timeout=10, retries=0, user_agent_token='wikivis-bench', compute_hash=None)\n"
    )
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900,
                          env={"NO_ALBUMENTATIONS_UPDATE": "1", "PATH": "/usr/bin:/bin", "HOME": str(workdir)})
    wall = time.perf_counter() - started
    stats_files = sorted(out.glob("*_stats.json"))
    if proc.returncode != 0 or not stats_files:
        return {"ran": False, "error": (proc.stderr or proc.stdout)[-800:], "wall_s": wall}
    stats = [json.loads(p.read_text()) for p in stats_files]
    successes = sum(s["successes"] for s in stats)
    duration = max(s["end_time"] for s in stats) - min(s["start_time"] for s in stats)
    errors: dict[str, int] = {}
    for s in stats:
        for k, v in s.get("status_dict", {}).items():
            errors[k] = errors.get(k, 0) + v
    return {"ran": True, "successes": successes, "count": sum(s["count"] for s in stats), "duration_s": duration,
            "wall_s": wall, "status": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every upload request")
    parser.add_argument("--holdback", type=int, default=25, help="items left for the rerun to fetch")
    parser.add_argument("--i2d-threads", type=int, default=2)
    parser.add_argument("--no-img2dataset", action="store_true")
    parser.add_argument("--no-bandwidth-phase", action="store_true")
    parser.add_argument("--thumb500-rate", type=float, default=0.01,
                        help="fraction of files whose thumbnails answer 500 in the thumb500 phase (0 = skip it)")
    parser.add_argument("--bandwidth-passes", type=int, default=5, help="fetches of the 500-px set (~15 MB each)")
    parser.add_argument("--mirror-nagle", action="store_true", help="leave Nagle on in the mirror (see below)")
    args = parser.parse_args()

    if args.mirror_nagle:
        # the stdlib default: every keep-alive answer stalls ~40 ms behind the delayed ACK
        mirror_base._Handler.disable_nagle_algorithm = False
        say("mirror: Nagle left on (--mirror-nagle); keep-alive clients pay ~40 ms per answer")
    sample = generate(seed=0, n_articles=300, n_files=500, n_days=5, cache_dir=Path("var/cache/sample"))
    names = sorted(r["img_name"] for r in sample.state(sample.n_days).tables["image"])
    work = Path(tempfile.mkdtemp(prefix="wikivis-bench-commons-", dir=cache_dir("commons_fetch")))
    result: dict[str, Any] = {}
    try:
        with Mirror(sample, home=work / "mirror") as mirror:
            mirror.upload.cache_size = 100_000
            log = SendLog(mirror)
            settings = mirror.settings(home=work / "home")
            cap = mbps_to_bytes_per_s(settings.upload_max_mbps)
            meta = fetch_metadata(settings, names, None).table
            items, _ = plan_work(meta.to_pylist())
            say(f"{len(names)} files, {len(items)} free thumbnails at {settings.thumb_width}px; UA {settings.user_agent!r}")

            warm = fetch_media(settings.replace(home=work / "warm"), meta)  # fills the mirror's thumbnail cache
            say(f"warm-up (no latency): {warm.fetched} thumbnails in {warm.elapsed_s:.1f}s")

            # ---------------------------------------------------------------- wikivis, latency-bound
            mirror.upload.latency_s = args.latency
            mirror.reset_stats()
            log.reset()
            first = fetch_media(settings, meta, max_images=len(items) - args.holdback)
            stats1 = mirror.stats["upload"]
            mean_bytes = first.bytes / max(1, first.fetched)
            ceil = ceiling(args.latency, mean_bytes, cap)
            rate = first.fetched / first.elapsed_s
            over, worst_mbps = log.windows_over(cap)
            violations = mirror_violations(stats1)
            violations["bandwidth_windows_over_25mbps"] = over
            fraction = rate / ceil["items_per_s"]
            say(f"wikivis: {first.fetched} in {first.elapsed_s:.2f}s = {rate:.2f}/s; ceiling {ceil['items_per_s']:.2f}/s "
                f"(2/{args.latency}s = {ceil['by_connections']:.1f}/s, 25 Mbps / {mean_bytes / 1e3:.1f} kB = "
                f"{ceil['by_bandwidth']:.1f}/s) → {fraction:.3f} of ceiling; peak in flight {stats1['peak_concurrency']}, "
                f"worst 10-s window {worst_mbps:.2f} Mbps; violations {violations}")

            # ---------------------------------------------------------------- reruns
            before = mirror.stats["upload"]["requests"]
            second = fetch_media(settings, meta)
            requested_second = mirror.stats["upload"]["requests"] - before
            before = mirror.stats["upload"]["requests"]
            third = fetch_media(settings, meta)
            requested_third = mirror.stats["upload"]["requests"] - before
            refetched = (requested_second - args.holdback) + requested_third
            say(f"rerun on the full list: {requested_second} requests for {args.holdback} new items "
                f"(fetched {second.fetched}); identical rerun: {requested_third} requests "
                f"({third.shards_resumed}/{third.shards} shards resumed) → refetched_on_rerun {refetched}")
            result.update(
                fraction_of_ceiling=round(fraction, 4),
                violations=sum(violations.values()),
                violation_details=violations,
                refetched_on_rerun=refetched,
                wikivis_items_per_s=round(rate, 3),
                ceiling_items_per_s=round(ceil["items_per_s"], 3),
                latency_s=args.latency,
                mean_thumbnail_bytes=round(mean_bytes),
                wikivis_peak_concurrency=stats1["peak_concurrency"],
                wikivis_failed=first.failed,
                wikivis_user_agents=sorted(log.agents),
            )

            # ---------------------------------------------------------------- thumbnail 500s
            if args.thumb500_rate > 0:
                from wikivis.mirror.upload import thumb_broken

                broken = sum(1 for i in items if "/thumb/" in i.url and thumb_broken(i.file_name, args.thumb500_rate))
                mirror.upload.thumb_error_rate = args.thumb500_rate
                mirror.reset_stats()
                log.reset()
                t500 = fetch_media(settings.replace(home=work / "thumb500"), meta)
                stats500 = mirror.stats["upload"]
                rate500 = t500.fetched / t500.elapsed_s
                fraction500 = rate500 / ceil["items_per_s"]
                v500 = mirror_violations(stats500)
                v500["bandwidth_windows_over_25mbps"] = log.windows_over(cap)[0]
                say(f"thumb500 ({args.thumb500_rate:.1%} of files answer 500, {broken} of {len(items)} here): "
                    f"{t500.fetched} in {t500.elapsed_s:.2f}s = {rate500:.2f}/s → {fraction500:.3f} of ceiling; "
                    f"failed {t500.failed}, deferred retries {t500.deferred}, server statuses {stats500['status']}, "
                    f"retries {t500.retries}, peak in flight {stats500['peak_concurrency']}; violations {v500}")
                mirror.upload.thumb_error_rate = 0.0
                result.update(
                    thumb500_fraction_of_ceiling=round(fraction500, 4),
                    thumb500_broken_files=broken,
                    thumb500_failed=t500.failed,
                    thumb500_deferred=t500.deferred,
                    thumb500_violations=sum(v500.values()),
                )

            # ---------------------------------------------------------------- img2dataset
            urls = [i.url for i in items[: len(items) - args.holdback]]
            if args.no_img2dataset:
                result.update(img2dataset_fraction_of_ceiling=None, img2dataset_violations=None)
            else:
                for label, ua_check in (("", True), ("_ua_off", False)):
                    mirror.upload.check_user_agent = ua_check
                    mirror.reset_stats()
                    log.reset()
                    i2d_dir = work / f"i2d{label}"
                    i2d_dir.mkdir()
                    i2d = run_img2dataset(urls, i2d_dir, args.i2d_threads)
                    stats = mirror.stats["upload"]
                    v = mirror_violations(stats)
                    v["bandwidth_windows_over_25mbps"] = log.windows_over(cap)[0]
                    if i2d["ran"]:
                        i2d_rate = i2d["successes"] / i2d["duration_s"] if i2d["duration_s"] > 0 else 0.0
                        i2d_fraction = i2d_rate / ceil["items_per_s"]
                        say(f"img2dataset{label}: {i2d['successes']}/{i2d['count']} ok in {i2d['duration_s']:.2f}s "
                            f"(wall {i2d['wall_s']:.1f}s incl. start-up) = {i2d_rate:.2f}/s → {i2d_fraction:.3f} of "
                            f"ceiling; status {i2d['status']}; server saw {stats['requests']} requests, peak in "
                            f"flight {stats['peak_concurrency']}; agents {sorted(log.agents)}; violations {v}")
                    else:
                        i2d_fraction = None
                        say(f"img2dataset{label} did not run: {i2d['error']}")
                    result[f"img2dataset{label}_fraction_of_ceiling"] = (
                        round(i2d_fraction, 4) if i2d_fraction is not None else None)
                    result[f"img2dataset{label}_violations"] = sum(v.values())
                    result[f"img2dataset{label}_violation_details"] = v
                mirror.upload.check_user_agent = True
                result["img2dataset_threads"] = args.i2d_threads

            # ---------------------------------------------------------------- bandwidth-bound
            if not args.no_bandwidth_phase:
                mirror.upload.latency_s = 0.0
                wide = settings.replace(thumb_width=500)
                meta500 = fetch_metadata(wide, names, None, thumb_width=500).table
                fetch_media(wide.replace(home=work / "warm500"), meta500)
                mirror.reset_stats()
                log.reset()
                fetched = total_bytes = 0
                started = time.perf_counter()
                for n in range(args.bandwidth_passes):  # fresh stores: > 10 s of traffic, several windows
                    bw = fetch_media(wide.replace(home=work / f"bw{n}"), meta500)
                    fetched, total_bytes = fetched + bw.fetched, total_bytes + bw.bytes
                elapsed = time.perf_counter() - started
                over, worst_mbps = log.windows_over(cap)
                achieved_mbps = total_bytes * 8 / elapsed / 1e6
                say(f"bandwidth phase (500 px, no latency, {args.bandwidth_passes} passes): {fetched} thumbnails, "
                    f"{total_bytes / 1e6:.1f} MB in {elapsed:.1f}s = {achieved_mbps:.2f} Mbps "
                    f"({achieved_mbps / settings.upload_max_mbps:.3f} of 25 Mbps); worst 10-s window at the server "
                    f"{worst_mbps:.2f} Mbps; sends over the cap {over}; "
                    f"peak in flight {mirror.stats['upload']['peak_concurrency']}")
                bw_violations = mirror_violations(mirror.stats["upload"])
                bw_violations["bandwidth_windows_over_25mbps"] = over
                result["violation_details"].update({f"bandwidth_phase_{k}": v for k, v in bw_violations.items()})
                result["violations"] += sum(bw_violations.values())
                result.update(
                    bandwidth_fraction_of_cap=round(achieved_mbps / settings.upload_max_mbps, 4),
                    bandwidth_worst_10s_mbps=round(worst_mbps, 3),
                    bandwidth_windows_over_cap=over,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit(result)


if __name__ == "__main__":
    main()

"""``wikivis mirror …``: the local Wikimedia mirror serving the sample wiki.

``serve`` binds the default ports (:data:`wikivis.config.LOCAL_PORTS`, which the ``local``
profile's endpoints point at), prints the endpoints and runs until Ctrl-C.  ``sample``
prints what the sample wiki holds; ``faults`` lists the fault profiles.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wikivis.cli._common import echo_result
from wikivis.config import LOCAL_PORTS

if TYPE_CHECKING:
    from wikivis.sample import SampleWiki

app = typer.Typer(help="The local Wikimedia mirror (sample wiki).", no_args_is_help=True)

SeedOpt = Annotated[int, typer.Option(help="sample wiki seed")]
ArticlesOpt = Annotated[int, typer.Option(min=20, help="articles in the sample wiki")]
FilesOpt = Annotated[int, typer.Option(min=40, help="Commons files in the sample wiki")]
DaysOpt = Annotated[int, typer.Option(min=1, help="days of history (dump dates)")]
CacheOpt = Annotated[Path | None, typer.Option(help="image cache dir (default $WIKIVIS_SAMPLE_CACHE or var/cache/sample)")]


def _sample(seed: int, articles: int, files: int, days: int, cache_dir: Path | None) -> SampleWiki:
    from wikivis.sample import generate

    return generate(seed=seed, n_articles=articles, n_files=files, n_days=days, cache_dir=cache_dir)


@app.command("serve")
def serve(
    faults: Annotated[str, typer.Option(help="fault profile for every server (see `wikivis mirror faults`)")] = "none",
    host: Annotated[str, typer.Option(help="address to bind (keep it on loopback)")] = "127.0.0.1",
    dumps_port: Annotated[int, typer.Option(help="dumps server port")] = LOCAL_PORTS["dumps"],
    api_port: Annotated[int, typer.Option(help="Action API port")] = LOCAL_PORTS["api"],
    upload_port: Annotated[int, typer.Option(help="upload (media) server port")] = LOCAL_PORTS["upload"],
    streams_port: Annotated[int, typer.Option(help="EventStreams port")] = LOCAL_PORTS["streams"],
    stream_end_after: Annotated[float, typer.Option(help="seconds a stream stays open (with :ok keep-alives) after its last event")] = 3600.0,
    dump_dates: Annotated[str, typer.Option(
        help="'today': date the dump runs so that the last complete one is yesterday (UTC; what a freshly "
             "unpaused wikivis_nightly needs); 'fixed': the sample's own dates (20261101…)")] = "today",
    seed: SeedOpt = 0,
    articles: ArticlesOpt = 300,
    files: FilesOpt = 500,
    days: DaysOpt = 5,
    cache_dir: CacheOpt = None,
) -> None:
    """Serve dumps, the Action API, upload.wikimedia.org and EventStreams for the sample wiki."""
    from wikivis.mirror import Mirror

    if dump_dates not in ("today", "fixed"):
        raise typer.BadParameter(f"--dump-dates must be 'today' or 'fixed', not {dump_dates!r}")
    sample = _sample(seed, articles, files, days, cache_dir)
    ports = {"dumps": dumps_port, "api": api_port, "upload": upload_port, "streams": streams_port}
    with Mirror(sample, faults=faults, host=host, ports=ports, stream_end_after_s=stream_end_after,
                dump_dates=dump_dates) as mirror:  # type: ignore[arg-type]
        urls = mirror.urls
        d = sample.dates[0]
        dump_runs = [mirror.dumps.served(date) for date in sample.dates]
        echo_result(
            {"faults": faults, "dates": sample.dates, "dump_dates": dump_runs, **urls},
            human="\n".join(
                [
                    f"wikivis mirror (faults: {faults}) — sample dates {sample.dates[0]}..{sample.dates[-1]}, "
                    f"dump runs dated {dump_runs[0]}..{dump_runs[-1]} ({dump_dates})",
                    f"  dumps    {urls['dumps']}/{sample.wiki}/{dump_runs[-1]}/dumpstatus.json",
                    f"  api      {urls['api']}/w/api.php  (Commons)   {urls['api']}/{sample.wiki}/w/api.php",
                    f"  upload   {urls['upload']}/wikipedia/commons/…",
                    f"  streams  {urls['streams']}/v2/stream/recentchange,revision-create?since={d[:4]}-{d[4:6]}-{d[6:]}T00:00:00Z",
                    "Ctrl-C to stop.",
                ]
            ),
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            typer.echo("stopping", err=True)


@app.command("sample")
def sample_info(seed: SeedOpt = 0, articles: ArticlesOpt = 300, files: FilesOpt = 500, days: DaysOpt = 5, cache_dir: CacheOpt = None) -> None:
    """Summarise the sample wiki: dates, table sizes per day, events per stream."""
    from collections import Counter

    sample = _sample(seed, articles, files, days, cache_dir)
    per_day = {
        sample.dates[d]: {name: len(rows) for name, rows in sample.state(d).tables.items()} for d in range(sample.n_days + 1)
    }
    streams = dict(sorted(Counter(e["meta"]["stream"] for e in sample.events).items()))
    changes = dict(sorted(Counter(c.kind for c in sample.changes).items()))
    echo_result({"wiki": sample.wiki, "commons_wiki": sample.commons_wiki, "tables": per_day, "events": streams, "changes": changes})


@app.command("faults")
def faults_list() -> None:
    """List the fault profiles a server can take."""
    from dataclasses import asdict

    from wikivis.mirror.faults import PROFILES

    echo_result({name: {k: v for k, v in asdict(p).items() if v and k != "name"} for name, p in PROFILES.items()})

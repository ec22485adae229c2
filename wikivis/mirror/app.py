"""The :class:`Mirror`: all four servers for one sample wiki, in one process."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from wikivis.config import Settings, load_settings
from wikivis.errors import ConfigError
from wikivis.mirror.api import ApiService
from wikivis.mirror.base import RunningServer, Service
from wikivis.mirror.dumps import Anchor, DumpsService
from wikivis.mirror.faults import FaultProfile, get_profile
from wikivis.mirror.streams import StreamsService
from wikivis.mirror.upload import UploadService
from wikivis.sample import SampleWiki

SERVER_NAMES = ("dumps", "api", "upload", "streams")
TEST_CONTACT = "wikivis tests <tests@example.org>"


class Mirror:
    """Local Wikimedia look-alike: dumps, Action API, upload (media) and EventStreams.

    ``faults`` is one profile name for every server or a dict ``{server: name}``;
    ``ports=None`` binds free ports (tests), else ``{"dumps": 8781, …}``.  ``day`` is the
    sample day the API and upload servers show (default: the last).  Streams close
    ``stream_end_after_s`` after their last event.  Tunables are plain attributes of the
    services: ``mirror.api.lag_s``, ``mirror.api.maxlag_retry_after``,
    ``mirror.api.transform_limit``, ``mirror.upload.bandwidth_bytes_per_s``,
    ``mirror.upload.latency_s``, ``mirror.streams.retention_s``, ``…drop_after_events``.
    ``dump_dates="today"`` serves the dump runs dated relative to today (the last complete one
    yesterday) instead of the sample's fixed dates (see :mod:`wikivis.mirror.dumps`).
    """

    def __init__(
        self,
        sample: SampleWiki,
        faults: str | FaultProfile | dict[str, str | FaultProfile] = "none",
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        *,
        day: int | None = None,
        home: str | Path | None = None,
        stream_end_after_s: float = 0.0,
        stream_keepalive_s: float = 15.0,
        upload_bandwidth_bytes_per_s: float = 0.0,
        upload_latency_s: float = 0.0,
        extra_dump_runs: bool = True,
        dump_dates: Anchor = "fixed",
    ) -> None:
        self.sample = sample
        self.host = host
        self._ports = dict(ports or {})
        self._home = Path(home) if home is not None else None
        self._own_home: str | None = None

        def profile(name: str) -> FaultProfile:
            if isinstance(faults, dict):
                return get_profile(faults.get(name, "none"))
            return get_profile(faults)

        self.dumps = DumpsService(sample, profile("dumps"), extra_runs=extra_dump_runs, anchor=dump_dates)
        self.upload = UploadService(sample, profile("upload"), day=day)
        self.upload.bandwidth_bytes_per_s = upload_bandwidth_bytes_per_s
        self.upload.latency_s = upload_latency_s
        self.streams = StreamsService(sample, profile("streams"), end_after_s=stream_end_after_s, keepalive_s=stream_keepalive_s)
        self._servers: dict[str, RunningServer] = {}
        self._started = False
        try:
            self._bind("dumps", self.dumps)
            self._bind("upload", self.upload)
            self.api = ApiService(sample, profile("api"), upload_url=self._servers["upload"].url, day=day)
            self._bind("api", self.api)
            self._bind("streams", self.streams)
        except BaseException:
            self.close()
            raise

    def _bind(self, name: str, service: Service) -> None:
        port = self._ports.get(name, 0)
        try:
            self._servers[name] = RunningServer(service, self.host, port)
        except OSError as exc:
            raise ConfigError(f"mirror {name} server: cannot listen on {self.host}:{port}: {exc.strerror or exc}") from exc

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Mirror:
        if not self._started:
            for server in self._servers.values():
                server.start()
            self._started = True
        return self

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._started = False
        if self._own_home:
            shutil.rmtree(self._own_home, ignore_errors=True)
            self._own_home = None

    def __enter__(self) -> Mirror:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ endpoints
    @property
    def services(self) -> dict[str, Service]:
        return {"dumps": self.dumps, "api": self.api, "upload": self.upload, "streams": self.streams}

    @property
    def urls(self) -> dict[str, str]:
        """Base URLs: ``dumps``, ``api`` (Commons at ``/w/api.php``, wikis at ``/<wiki>/w/api.php``), ``upload``, ``streams``."""
        return {name: server.url for name, server in self._servers.items()}

    @property
    def day(self) -> int:
        return self.api.day

    @day.setter
    def day(self, value: int) -> None:
        """Show another sample day on the API and upload servers (dumps keep every date)."""
        if not 0 <= value <= self.sample.n_days:
            raise ValueError(f"day {value} is outside 0..{self.sample.n_days}")
        self.api.day = self.upload.day = value

    def settings(self, **extra: Any) -> Settings:
        """Settings pointing every endpoint at this mirror (``home`` defaults to a temp dir)."""
        home = extra.pop("home", None) or self._home
        if home is None:
            if self._own_home is None:
                self._own_home = tempfile.mkdtemp(prefix="wikivis-mirror-")
            home = Path(self._own_home)
        api = self.urls["api"]
        values: dict[str, Any] = {
            "home": home,
            "dumps_url": self.urls["dumps"],
            "commons_api_url": f"{api}/w/api.php",
            "wiki_api_url_template": f"{api}/{{wiki}}/w/api.php",
            "upload_url": self.urls["upload"],
            "eventstreams_url": self.urls["streams"],
            "wikidata_api_url": f"{api}/wikidatawiki/w/api.php",
            "wdqs_url": f"{api}/sparql",
            "contact": TEST_CONTACT,
            "wikis": (self.sample.wiki,),
            "commons_wiki": self.sample.commons_wiki,
            # the sample wiki's dump dates are fixed (20261101…), so wall-clock freshness
            # would fail a sandbox run some weeks later: the freshness check is off here
            "gate_max_snapshot_age_days": 0,
        }
        values.update(extra)
        return load_settings(env={}, **values)

    # ------------------------------------------------------------------ politeness
    @property
    def stats(self) -> dict[str, dict[str, Any]]:
        """Per server: peak_concurrency, refused_over_limit, throttled_429, bad_user_agent,
        ignored_retry_after, nonstandard_widths, bytes_sent, requests, dropped, status."""
        return {name: service.stats.as_dict() for name, service in self.services.items()}

    def reset_stats(self) -> None:
        for service in self.services.values():
            service.reset_stats()

"""Typed, frozen settings, read in exactly one place.

Precedence (last wins): embedded defaults < profile defaults < TOML file < ``WIKIVIS_*``
environment variables < explicit overrides passed to :func:`load_settings`.

* The TOML file is ``$WIKIVIS_CONFIG`` or ``./wikivis.toml`` when present; keys are the
  field names below (top-level table).
* Every field maps to ``WIKIVIS_<FIELD>`` (upper case).  Tuples are comma-separated,
  booleans accept 1/0/true/false/yes/no.

Profiles: ``local`` (the default) points every endpoint at the bundled mirror on
127.0.0.1; ``live`` points at Wikimedia and refuses to run without a ``contact``, because
Wikimedia's User-Agent policy answers generic agents with HTTP 403.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wikivis import __version__
from wikivis.errors import ConfigError, PolicyError

Profile = Literal["local", "live"]

#: Wikimedia's standard thumbnail widths ($wgThumbnailSteps); any other width gets HTTP 400.
STANDARD_THUMB_WIDTHS: tuple[int, ...] = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)

#: where a wiki's nightly ingest reads (Settings.ingest_sources)
INGEST_SOURCES = ("dumps", "replica", "auto")

#: Default local mirror ports (``wikivis mirror serve``); tests use free ports instead.
LOCAL_PORTS = {"dumps": 8781, "api": 8782, "upload": 8783, "streams": 8784}

_LIVE_ENDPOINTS = {
    "dumps_url": "https://dumps.wikimedia.org",
    "commons_api_url": "https://commons.wikimedia.org/w/api.php",
    "wiki_api_url_template": "https://{domain}/w/api.php",
    "upload_url": "https://upload.wikimedia.org",
    "eventstreams_url": "https://stream.wikimedia.org",
    "wikidata_api_url": "https://www.wikidata.org/w/api.php",
    "wdqs_url": "https://query.wikidata.org/sparql",
}


def _local_endpoints(host: str = "127.0.0.1") -> dict[str, str]:
    p = LOCAL_PORTS
    return {
        "dumps_url": f"http://{host}:{p['dumps']}",
        "commons_api_url": f"http://{host}:{p['api']}/w/api.php",
        "wiki_api_url_template": f"http://{host}:{p['api']}/{{wiki}}/w/api.php",
        "upload_url": f"http://{host}:{p['upload']}",
        "eventstreams_url": f"http://{host}:{p['streams']}",
        "wikidata_api_url": f"http://{host}:{p['api']}/wikidatawiki/w/api.php",
        "wdqs_url": f"http://{host}:{p['api']}/sparql",
    }


#: the image embedding model when neither the caller nor the settings name one
DEFAULT_MODEL = "efficientnet-lite0"


def chosen_model_id(settings: Settings, model_id: str | None = None) -> str:
    """The one fallback for the embedding model id: the caller's, else ``Settings.model``, else
    :data:`DEFAULT_MODEL`. A run works it out once (``RunContext.model_id``) and passes it down."""
    return model_id or settings.model or DEFAULT_MODEL


@dataclass(frozen=True)
class Settings:
    """Every knob of wikivis.  Construct with :func:`load_settings`, never by hand in code."""

    profile: Profile = "local"
    #: data root: lake, raw files, media, embeddings, index, reports, catalog
    home: Path = Path("var")
    #: SQLAlchemy URL of the catalog; empty means ``sqlite:///<home>/catalog.sqlite``
    catalog_url: str = ""
    #: where the lake's Iceberg tables keep their files: any URI pyarrow's file systems accept
    #: (``s3://bucket/wikivis``, ``gs://…``, ``hdfs://…``); empty means ``<home>/lake/warehouse``.
    #: The Iceberg SQL catalog itself lives in the catalog database above.
    lake_warehouse: str = ""
    #: article wikis to process
    wikis: tuple[str, ...] = ("samplewiki",)
    #: the wiki holding the files (its ``image`` table and API)
    commons_wiki: str = "commonswiki"
    #: contact for the User-Agent (URL or e-mail); mandatory for the live profile
    contact: str = ""
    # endpoints (filled from the profile when empty)
    dumps_url: str = ""
    commons_api_url: str = ""
    wiki_api_url_template: str = ""
    upload_url: str = ""
    eventstreams_url: str = ""
    #: extra dump mirrors tried in order after ``dumps_url``
    dump_mirrors: tuple[str, ...] = ()
    #: Wiki Replica URL template; ``{wiki}`` is replaced.  Empty: SQLite files under home.
    replica_url_template: str = ""
    #: path of a ``replica.my.cnf`` with [client] user/password (Toolforge)
    replica_cnf: str = ""
    replica_max_connections: int = 4
    replica_batch_rows: int = 10_000
    replica_statement_timeout_s: float = 3600.0
    #: decode result rows columnar from PyMySQL's socket (wikivis.sources.mysql_wire);
    #: off: PyMySQL's own per-row parser (5-10x slower, for comparison and debugging)
    replica_wire_decode: bool = True
    # politeness (Wikimedia policy ceilings; lower is allowed, higher is refused)
    api_max_concurrency: int = 3
    upload_max_concurrency: int = 2
    upload_max_mbps: float = 25.0
    dumps_max_connections: int = 2
    maxlag: int = 5
    http_timeout_s: float = 60.0
    http_max_attempts: int = 6
    # media
    thumb_width: int = 330
    free_licences_only: bool = True
    max_images: int = 0  # 0 = no limit
    # embedding / index
    model: str = DEFAULT_MODEL
    device: str = "auto"
    embed_batch_size: int = 32
    embed_workers: int = 2
    resnet50_weights: str = ""
    index_memory_budget_mb: int = 4096
    index_latency_budget_ms: float = 1.0
    recall_threshold: float = 0.9
    #: auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16
    embed_amp: str = "auto"
    #: incremental index adds before a full rebuild
    index_rebuild_after_adds: int = 10
    # lake
    retention_snapshots: int = 5
    # events
    events_replay_days: float = 7.0
    #: how long after a window's end (Kafka time) an event of the window may still arrive
    events_lateness_s: float = 300.0
    #: cross-topic skew: quiet topics count as past the window once another is this far beyond
    events_skew_s: float = 600.0
    #: the server starting this much later than asked means lost events (stale)
    events_gap_slack_s: float = 21600.0
    #: stop reading when no event arrived for this long (only keep-alives)
    events_idle_timeout_s: float = 120.0
    #: socket read timeout of the stream (keep-alives come every ~15 s)
    events_read_timeout_s: float = 60.0
    #: a run opens at most this many stream connections (first + reconnects), then fails
    events_max_connections: int = 500
    #: a run reads the stream for at most this many seconds, then fails
    events_max_run_s: float = 3 * 3600.0
    #: at most this many applied meta.ids of a window's tail are kept with the checkpoint
    #: (the next run's at-least-once replay is de-duplicated against them); ~40 bytes each in
    #: the catalog's checkpoint value (a MariaDB TEXT holds 64 KB: keep it under ~1,500 there)
    events_replay_ids_max: int = 1500
    # orchestration
    #: first retry delay of the Airflow tasks, seconds (doubled each retry, capped at 1 h);
    #: read when the DAG files are parsed.  A worker lost mid-task is retried after it too.
    task_retry_delay_s: float = 120.0
    # gates
    drift_max_ratio: float = 0.5
    gate_warn_only: tuple[str, ...] = ()
    #: a snapshot older than this (days, by its id) fails the freshness check; 0 disables it
    gate_max_snapshot_age_days: float = 45.0
    #: tolerated share of article_images rows whose file (or page) is missing: above → fail
    gate_max_dangling_fraction: float = 0.05
    #: distribution drift bound: total-variation distance of categorical columns, relative
    #: change of numeric summaries (e.g. images per page), versus the previous snapshot
    gate_max_distribution_drift: float = 0.25
    #: tolerated share of undecodable / too small / too elongated thumbnails: above → fail
    gate_max_bad_image_fraction: float = 0.02
    #: thumbnails whose shorter side is below this many pixels are set aside (icons)
    gate_min_image_px: int = 50
    #: thumbnails longer than this ratio (long side / short side) are set aside
    gate_max_aspect_ratio: float = 6.0
    #: collapse check: fail when more than this share of sampled vectors have a near-duplicate
    #: neighbour (cosine > 0.999)
    gate_max_duplicate_fraction: float = 0.05
    #: rows sampled by the embedding collapse check and the index recall check
    gate_sample_size: int = 2000
    # captions
    #: processes parsing wikitext in a full caption rebuild (mwparserfromhell parses
    #: ~0.4 MB of wikitext per second and core); 1 = in process
    caption_workers: int = 1
    # serving
    serve_host: str = "127.0.0.1"
    serve_port: int = 8790
    serve_token: str = ""
    # Wikidata (the Wikibase API and the Wikidata Query Service)
    wikidata_api_url: str = ""
    #: SPARQL endpoint; WDQS stops every query after 60 s and allows 5 parallel queries per IP
    wdqs_url: str = ""
    #: client-side cap on parallel SPARQL queries (WDQS allows 5 per IP; we stay at 3 like the API)
    wdqs_max_concurrency: int = 3
    #: queries longer than this (URL-encoded characters) go out as POST (URLs over ~8 KB fail)
    wdqs_post_threshold: int = 2000
    #: wikis whose lead images count as cross-wiki signals; empty: every sitelinked Wikipedia
    crosswiki_wikis: tuple[str, ...] = ()
    #: Wikimedia's image-suggestion filter: a file used on more pages than this is not suggested
    suggest_max_file_usage: int = 99
    #: where each wiki's nightly ingest reads, as ``wiki=source`` entries (source: ``dumps``,
    #: ``replica``, or ``auto`` = the replica when a replica connection exists); unlisted
    #: wikis use ``dumps``.  E.g. WIKIVIS_INGEST_SOURCES="enwiki=auto,samplewiki=replica"
    ingest_sources: tuple[str, ...] = ()
    # weekly training
    #: a candidate CuratorNet is promoted only if no gated metric (recall@10, nDCG@10) is more
    #: than this below the current model's (absolute)
    release_max_regression: float = 0.01
    # ingest
    #: memory bound of the dump ingest process ("512MiB", "2GiB", "1.5G", bytes); empty: a
    #: quarter of the machine's RAM, at most 4 GiB (see :attr:`memory_limit_bytes`)
    memory_limit: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- derived
    @property
    def resolved_catalog_url(self) -> str:
        return self.catalog_url or f"sqlite:///{(self.home / 'catalog.sqlite').resolve()}"

    @property
    def lake_root(self) -> Path:
        return self.home / "lake"

    @property
    def raw_root(self) -> Path:
        return self.home / "raw"

    @property
    def media_root(self) -> Path:
        return self.home / "media"

    @property
    def embeddings_root(self) -> Path:
        return self.home / "embeddings"

    @property
    def index_root(self) -> Path:
        return self.home / "index"

    @property
    def reports_root(self) -> Path:
        return self.home / "reports"

    @property
    def user_agent(self) -> str:
        """Policy-shaped User-Agent: ``name/version (contact) library/version``."""
        import requests

        # the local sandbox identifies itself like any polite client (the mirror enforces the policy too)
        contact = self.contact or "local sandbox; https://wikivis.invalid/local"
        if self.profile == "live" and not self.contact:
            raise PolicyError(
                "the live profile needs a contact for the User-Agent (Wikimedia answers generic "
                "agents with HTTP 403): set WIKIVIS_CONTACT='https://your.site/; you@example.org'"
            )
        if self.profile == "live":
            from wikivis.vocab import has_contact

            if not has_contact(self.contact):
                raise PolicyError(
                    f"the live contact {self.contact!r} has neither a URL nor an e-mail address: Wikimedia must "
                    "be able to reach you; set WIKIVIS_CONTACT='https://your.site/; you@example.org'"
                )
        return f"wikivis/{__version__} ({contact}) python-requests/{requests.__version__}"

    def wiki_api_url(self, wiki: str) -> str:
        if wiki == self.commons_wiki:
            return self.commons_api_url
        return self.wiki_api_url_template.format(wiki=wiki, domain=wiki_domain(wiki))

    def replica_url(self, wiki: str) -> str:
        check_wiki_name(wiki)
        if self.replica_url_template:
            return self.replica_url_template.format(wiki=wiki, db=f"{wiki}_p")
        return f"sqlite:///{(self.home / 'replica' / f'{wiki}_p.sqlite').resolve()}"

    def ingest_source(self, wiki: str) -> str:
        """``dumps``, ``replica`` or ``auto`` for ``wiki`` (see :attr:`ingest_sources`)."""
        for entry in self.ingest_sources:
            name, _, source = entry.partition("=")
            if name.strip() == wiki:
                return source.strip()
        return "dumps"
    @property
    def memory_limit_bytes(self) -> int:
        """:attr:`memory_limit` in bytes (the default when empty)."""
        return parse_size(self.memory_limit) if self.memory_limit else default_memory_limit()

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def require_live_ready(self) -> None:
        """Raise :class:`PolicyError` when a live run lacks what Wikimedia's policies demand."""
        _ = self.user_agent


def check_wiki_name(wiki: str) -> str:
    """Allow-list check for wiki database names (they end up in hostnames, paths, SQL)."""
    from wikivis.vocab import check_wiki

    return check_wiki(wiki)


def wiki_domain(wiki: str) -> str:
    """Map a database name to its domain: enwiki → en.wikipedia.org, commonswiki → commons…"""
    special = {
        "commonswiki": "commons.wikimedia.org",
        "wikidatawiki": "www.wikidata.org",
        "metawiki": "meta.wikimedia.org",
        "mediawikiwiki": "www.mediawiki.org",
        "specieswiki": "species.wikimedia.org",
    }
    if wiki in special:
        return special[wiki]
    for suffix, project in (
        ("wiktionary", "wiktionary"),
        ("wikibooks", "wikibooks"),
        ("wikinews", "wikinews"),
        ("wikiquote", "wikiquote"),
        ("wikisource", "wikisource"),
        ("wikiversity", "wikiversity"),
        ("wikivoyage", "wikivoyage"),
        ("wiki", "wikipedia"),
    ):
        if wiki.endswith(suffix):
            return f"{wiki[: -len(suffix)].replace('_', '-')}.{project}.org"
    raise ConfigError(f"cannot map wiki {wiki!r} to a domain")


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.I)
_DEFAULT_MEMORY_CAP = 4 << 30


def parse_size(text: str) -> int:
    """``"512MiB"`` / ``"2GiB"`` / ``"1.5G"`` / ``"300MB"`` / ``"1048576"`` → bytes.  Binary
    (``Ki``/``Mi``…) and bare letters mean powers of 1024; ``kB``/``MB``/``GB`` powers of 1000."""
    match = _SIZE_RE.fullmatch(str(text))
    if not match:
        raise ConfigError(f"cannot read {text!r} as a size (use e.g. 512MiB, 2GiB or a number of bytes)")
    number, unit, binary = match.groups()
    power = "kmgt".index(unit.lower()) + 1 if unit else 0
    decimal = bool(unit) and not binary and str(text).strip().lower().endswith("b")
    value = int(float(number) * (1000 if decimal else 1024) ** power)
    if value <= 0:
        raise ConfigError(f"size {text!r} must be positive")
    return value


def default_memory_limit() -> int:
    """A quarter of the machine's RAM, at most 4 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return _DEFAULT_MEMORY_CAP
    return max(256 << 20, min(_DEFAULT_MEMORY_CAP, total // 4))


def _coerce(name: str, raw: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    try:
        if hint is Path:
            return Path(raw)
        if hint is bool:
            if isinstance(raw, bool):
                return raw
            s = str(raw).strip().lower()
            if s in {"1", "true", "yes", "on"}:
                return True
            if s in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
        if origin is tuple:
            if isinstance(raw, (list, tuple)):
                return tuple(str(x) for x in raw)
            return tuple(x.strip() for x in str(raw).split(",") if x.strip())
        if origin is Literal:
            if raw not in typing.get_args(hint):
                raise ValueError(raw)
            return raw
        if origin is dict:
            return dict(raw)
        if hint is str or isinstance(hint, types.UnionType):
            return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}: cannot read {raw!r} as {hint}") from exc
    return raw


def load_settings(
    env: typing.Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings.  ``env`` defaults to ``os.environ``; tests pass their own."""
    env = os.environ if env is None else env
    hints = typing.get_type_hints(Settings)
    values: dict[str, Any] = {}

    path = config_file or env.get("WIKIVIS_CONFIG") or ("wikivis.toml" if Path("wikivis.toml").exists() else None)
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        try:
            data = tomllib.loads(p.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
        for key, raw in data.items():
            if key not in hints:
                raise ConfigError(f"{p}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, hints[key])

    for f in dataclasses.fields(Settings):
        env_key = f"WIKIVIS_{f.name.upper()}"
        if env_key in env and f.name != "extra":
            values[f.name] = _coerce(f.name, env[env_key], hints[f.name])
    if "WIKIVIS_HOME" not in env and "home" not in values:
        values["home"] = Path("var")
    for key, raw in overrides.items():
        if key not in hints:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(key, raw, hints[key]) if raw is not None else raw

    profile = values.get("profile", "local")
    if profile not in ("local", "live"):
        raise ConfigError(f"unknown profile {profile!r} (use 'local' or 'live')")
    defaults = _LIVE_ENDPOINTS if profile == "live" else _local_endpoints()
    for key, default in defaults.items():
        if not values.get(key):
            values[key] = default

    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.thumb_width not in STANDARD_THUMB_WIDTHS:
        raise PolicyError(
            f"thumb_width={s.thumb_width} is not a standard Wikimedia thumbnail width "
            f"{STANDARD_THUMB_WIDTHS}; other widths get HTTP 400"
        )
    if s.profile == "live":
        if s.api_max_concurrency > 3:
            raise PolicyError("api_max_concurrency > 3 breaks the Action API etiquette")
        if s.upload_max_concurrency > 2 or s.upload_max_mbps > 25:
            raise PolicyError("upload.wikimedia.org allows at most 2 connections and 25 Mbps")
        if s.dumps_max_connections > 2:
            raise PolicyError("dumps.wikimedia.org allows at most 2 connections per IP")
    if s.memory_limit:
        parse_size(s.memory_limit)
    for w in s.wikis:
        check_wiki_name(w)
    for entry in s.ingest_sources:
        name, sep, source = entry.partition("=")
        if not sep or source.strip() not in INGEST_SOURCES:
            raise ConfigError(f"ingest_sources entry {entry!r}: expected wiki=dumps|replica|auto")
        check_wiki_name(name.strip())
    check_wiki_name(s.commons_wiki)


def settings_toml(settings: Settings) -> str:
    """``settings`` as a TOML config file that :func:`load_settings` reads back to the same
    value: how an entry point hands its settings to processes it starts (Airflow tasks name
    the file in their configuration; see ``wikivis_airflow.hooks.deployment_settings``)."""
    import json

    lines = []
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        if f.name == "extra" or value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)
        elif isinstance(value, (tuple, list)):
            text = json.dumps([str(v) for v in value])
        else:
            text = json.dumps(str(value))
        lines.append(f"{f.name} = {text}")
    return "\n".join(lines) + "\n"

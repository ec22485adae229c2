"""Airflow connections → wikivis settings and clients.

Three connection ids (defaults of the hooks below; see ``docs/airflow.md``):

``wikivis_replicas`` (conn type ``mysql``)
    The Wiki Replicas (MariaDB).  ``host`` and ``schema`` may contain the placeholders
    ``{wiki}`` and ``{db}`` (``{db}`` = ``<wiki>_p``), because every wiki has its own
    replica host and database on Toolforge, e.g. host
    ``{wiki}.analytics.db.svc.wikimedia.cloud``, schema ``{db}``.  ``login``/``password`` come
    from ``replica.my.cnf``.  Extras: ``driver`` (default ``pymysql``), ``charset``
    (default ``utf8mb4``) and any other key is passed as a URL query parameter.
``wikivis_commons_api`` (conn type ``http``)
    The Commons Action API.  ``host`` (with scheme) is the site, e.g.
    ``https://commons.wikimedia.org``; the API path ``/w/api.php`` is appended unless the
    host already ends in ``api.php``.  ``extra.contact`` is the contact (URL or e-mail) put in
    the User-Agent, which Wikimedia requires.
``wikivis_eventstreams`` (conn type ``http``)
    EventStreams, e.g. ``https://stream.wikimedia.org``; ``extra.contact`` as above.

Hooks import their drivers inside :meth:`get_conn`, and neither their ``repr`` nor their log
lines ever contain a password (URLs are rendered with the password masked).

:func:`connection_settings_overrides` collects the :class:`wikivis.config.Settings` fields
that the connections which exist define; :func:`task_settings` builds, inside each task, the
settings value the task passes to its stage: the deployment's settings (a TOML file and
``WIKIVIS_*`` variables), then the connections, then the task's share of its pool.  Nothing
is written to the environment or to a module-level cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

if TYPE_CHECKING:
    import requests
    import sqlalchemy

    from wikivis.config import Settings

REPLICAS_CONN_ID = "wikivis_replicas"
COMMONS_API_CONN_ID = "wikivis_commons_api"
EVENTSTREAMS_CONN_ID = "wikivis_eventstreams"


class WikiReplicasHook(BaseHook):
    """Wiki Replicas connection → SQLAlchemy URL template / engine for ``wikivis.sources.replicas``."""

    conn_name_attr = "wikivis_replicas_conn_id"
    default_conn_name = REPLICAS_CONN_ID
    conn_type = "mysql"
    hook_name = "Wiki Replicas (wikivis)"

    def __init__(self, wikivis_replicas_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wikivis_replicas_conn_id = wikivis_replicas_conn_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.wikivis_replicas_conn_id!r})"

    def url_template(self) -> str:
        """``mysql+pymysql://user:***@{wiki}.host:3306/{db}?charset=utf8mb4`` with the real password.

        The result is a secret: it goes to settings, never to a log.  Placeholders ``{wiki}``
        and ``{db}`` in host and schema survive; credentials and query values are
        percent-encoded, which also keeps their braces away from ``str.format``.
        """
        conn = self.get_connection(self.wikivis_replicas_conn_id)
        extra = dict(conn.extra_dejson)
        driver = str(extra.pop("driver", "pymysql"))
        extra.setdefault("charset", "utf8mb4")
        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="")
            if conn.password:
                auth += ":" + quote(conn.password, safe="")
            auth += "@"
        host = conn.host or "127.0.0.1"
        port = f":{conn.port}" if conn.port else ""
        database = conn.schema or "{db}"
        query = urlencode({k: str(v) for k, v in sorted(extra.items())})
        return f"mysql+{driver}://{auth}{host}{port}/{database}" + (f"?{query}" if query else "")

    def sqlalchemy_url(self, wiki: str) -> sqlalchemy.URL:
        """The URL for one wiki (``render_as_string(hide_password=True)`` is safe to log)."""
        from sqlalchemy.engine import make_url

        from wikivis.config import check_wiki_name

        check_wiki_name(wiki)
        return make_url(self.url_template().format(wiki=wiki, db=f"{wiki}_p"))

    def get_conn(self, wiki: str) -> sqlalchemy.Engine:  # type: ignore[override]
        """A SQLAlchemy engine on ``wiki``'s replica (driver imported here, not at parse time)."""
        import sqlalchemy as sa

        url = self.sqlalchemy_url(wiki)
        self.log.info("connecting to %s", url.render_as_string(hide_password=True))
        return sa.create_engine(url, pool_pre_ping=True)

    def settings_overrides(self) -> dict[str, Any]:
        return {"replica_url_template": self.url_template()}


class _WikimediaHttpHook(BaseHook):
    """Shared shape of the two HTTP hooks: host → endpoint URL, ``extra.contact`` → User-Agent."""

    conn_type = "http"
    default_conn_name = ""
    settings_field = ""

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    @staticmethod
    def _base_url(host: str, port: int | None) -> str:
        base = host.rstrip("/")
        if "://" not in base:
            base = f"https://{base}"
        if port and base.count(":") == 1:  # scheme only, no port in the host yet
            base = f"{base}:{port}"
        return base

    def endpoint_url(self) -> str:
        conn = self.get_connection(self.conn_id)
        if not conn.host:
            raise ValueError(f"connection {self.conn_id!r} has no host")
        return self._base_url(conn.host, conn.port)

    def settings_overrides(self) -> dict[str, Any]:
        conn = self.get_connection(self.conn_id)
        overrides: dict[str, Any] = {self.settings_field: self.endpoint_url()}
        contact = conn.extra_dejson.get("contact")
        if contact:
            overrides["contact"] = str(contact)
        return overrides

    def settings(self, base: Settings | None = None) -> Settings:
        """``base`` (default: the deployment's settings) with this connection's endpoint and contact."""
        return (base or deployment_settings()).replace(**self.settings_overrides())

    def get_conn(self) -> requests.Session:
        """A polite ``requests`` session carrying the policy User-Agent built from the contact."""
        from wikivis.sources.http import polite_session

        return polite_session(self.settings())


class CommonsApiHook(_WikimediaHttpHook):
    """Commons Action API connection (``host`` → ``<host>/w/api.php``)."""

    conn_name_attr = "conn_id"
    default_conn_name = COMMONS_API_CONN_ID
    hook_name = "Wikimedia Commons API (wikivis)"
    settings_field = "commons_api_url"

    def endpoint_url(self) -> str:
        base = super().endpoint_url()
        return base if base.endswith("api.php") else f"{base}/w/api.php"


class EventStreamsHook(_WikimediaHttpHook):
    """Wikimedia EventStreams connection (``host`` → the SSE service root)."""

    conn_name_attr = "conn_id"
    default_conn_name = EVENTSTREAMS_CONN_ID
    hook_name = "Wikimedia EventStreams (wikivis)"
    settings_field = "eventstreams_url"


HOOKS: tuple[type[WikiReplicasHook] | type[_WikimediaHttpHook], ...] = (
    WikiReplicasHook,
    CommonsApiHook,
    EventStreamsHook,
)


def connection_settings_overrides() -> dict[str, Any]:
    """Settings fields defined by whichever wikivis connections exist (missing ones are skipped)."""
    overrides: dict[str, Any] = {}
    for hook_cls in HOOKS:
        try:
            overrides.update(hook_cls().settings_overrides())
        except AirflowNotFoundException:
            continue
    return overrides


def url_passwords(*urls: str) -> list[str]:
    """The passwords of the database URLs among ``urls`` (empty or unparsable ones skipped)."""
    from urllib.parse import unquote, urlsplit

    found = []
    for url in urls:
        try:
            password = urlsplit(url.replace("{", "%7B").replace("}", "%7D")).password if "://" in url else None
        except ValueError:
            continue
        if password:
            found.append(unquote(password))
    return found


def mask_wikivis_secrets(context: Any = None) -> int:
    """``on_execute_callback``: register the passwords in the wikivis settings' URLs (catalog,
    replicas) with Airflow's secrets masker, so that Airflow's own task log lines (tracebacks
    included) show ``***`` too.  wikivis masks every URL password in its messages and log
    records itself (:mod:`wikivis.logsafe`); this covers text Airflow renders.  Returns how many."""
    from airflow.sdk.log import mask_secret

    from wikivis.errors import WikivisError

    try:
        settings = task_settings()
    except WikivisError:
        return 0  # bad settings fail the task itself, with their own (masked) message
    passwords = url_passwords(settings.catalog_url, settings.replica_url_template)
    for password in passwords:
        mask_secret(password)
    return len(passwords)


def settings_with_connections(base: Settings) -> Settings:
    """``base`` with the settings of whichever wikivis connections exist (credentials live
    only in the returned value, in this task's process)."""
    overrides = connection_settings_overrides()
    return base.replace(**overrides) if overrides else base


def deployment_settings() -> Settings:
    """The deployment's settings, without connections: the TOML file named by Airflow's
    ``[wikivis] config_file`` option (``AIRFLOW__WIKIVIS__CONFIG_FILE``), else ``WIKIVIS_CONFIG``
    / ``wikivis.toml``, with ``WIKIVIS_*`` variables over it.  Cheap; usable in the triggerer."""
    from airflow.configuration import conf

    from wikivis.config import load_settings

    return load_settings(config_file=conf.get("wikivis", "config_file", fallback="") or None)


def task_settings(pool: str | None = None) -> Settings:
    """What a wikivis task passes to its stage: :func:`deployment_settings`, then the
    connections (:func:`settings_with_connections`), then the task's share of its pool's
    politeness limits (``defaults.share_pool_limits``).  Built once per task call."""
    from wikivis_airflow.defaults import share_pool_limits

    return share_pool_limits(settings_with_connections(deployment_settings()), pool)

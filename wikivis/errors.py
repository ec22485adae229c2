"""Typed errors.

Per-item failures (one thumbnail that would not decode, one event for another wiki) are
*values*: they are counted and recorded with a reason.  Structural failures (a corrupt dump,
a gate that fails, a live request without a contact) raise one of these.  Every error
carries the exit code the CLI returns for it, and a message that names the file, row or URL
(with any URL password masked: :func:`wikivis.logsafe.mask_secrets`).
"""

from __future__ import annotations

from wikivis.logsafe import mask_secrets


class WikivisError(Exception):
    """Base class of every error wikivis raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        message = mask_secrets(message)  # a URL's password never reaches a message or a log
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(WikivisError):
    """Bad or missing settings (unknown profile, live run without a contact, ...)."""

    exit_code = 2


class PolicyError(ConfigError):
    """A request would break a Wikimedia policy (User-Agent, thumbnail widths, ...)."""


class InputError(WikivisError):
    """Bad input data.  The message names the file/URL and the byte offset or line."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        offset: int | None = None,
        line: int | None = None,
    ) -> None:
        where = []
        if source:
            where.append(source)
        if line is not None:
            where.append(f"line {line}")
        if offset is not None:
            where.append(f"byte {offset}")
        full = f"{': '.join([', '.join(where), message]) if where else message}"
        super().__init__(full)
        self.source = source
        self.offset = offset
        self.line = line


class ChecksumError(InputError):
    """A downloaded or stored file does not match its published checksum."""


class SourceError(WikivisError):
    """An external source failed structurally (retries exhausted, protocol violation)."""

    exit_code = 4

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        parts = [p for p in (url, f"HTTP {status}" if status else None) if p]
        super().__init__(f"{' '.join(parts)}: {message}" if parts else message)
        self.url = url
        self.status = status


class RetriesExceeded(SourceError):
    """The declared retry policy gave up."""


class NotFoundError(WikivisError):
    """A requested object (wiki, snapshot, title, run) does not exist."""

    exit_code = 5


class GateFailed(WikivisError):
    """A validation gate failed: the run stops and no `current` pointer moves."""

    exit_code = 6

    def __init__(self, message: str, *, gate: str | None = None, dataset: str | None = None) -> None:
        super().__init__(message)
        self.gate = gate
        self.dataset = dataset


class StaleCheckpointError(WikivisError):
    """An EventStreams checkpoint is older than the replay window: reconcile from a dump."""

    exit_code = 7


class StreamLimitReached(RetriesExceeded):
    """An EventStreams run used up its connection or wall-time budget before its window was
    complete (``Settings.events_max_connections`` / ``events_max_run_s``)."""
class UnknownItem(NotFoundError):
    """A Wikidata item id that does not exist (``"missing"`` in ``wbgetentities``)."""


class NoSitelinks(NotFoundError):
    """A Wikidata item exists but has no article on the asked wiki (or on any wiki)."""


class MalformedQuery(InputError):
    """The Wikidata Query Service refused a SPARQL query (HTTP 400, ``MalformedQueryException``)."""


class QueryTimeout(SourceError):
    """A SPARQL query ran into the Query Service's 60-second limit; retrying will not help."""

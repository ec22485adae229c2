"""Keep credentials out of messages and logs.

Database URLs carry their password (``postgresql+psycopg://airflow:secret@postgres/wikivis``)
and end up in error messages ("no run … in the catalog <url>"), in the catalog's run
messages and in task logs.  One rule masks them everywhere: the password part of any
``scheme://user:password@host`` becomes ``***``.

* :func:`mask_secrets` — the rule, for any text (error messages use it on construction,
  see :class:`wikivis.errors.WikivisError`);
* :func:`install` — wraps the :mod:`logging` record factory so that *every* record, from any
  logger and whatever handlers are attached later (Airflow's task log, pytest's capture), is
  masked when it is created: its message is rendered and masked, and an attached
  exception's traceback text is rendered and masked too.  Idempotent; called on import of
  :mod:`wikivis`, so the CLI, ``run_all`` and every Airflow task process have it.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

MASK = "***"

#: ``scheme://user:password@`` (the user may be empty: ``redis://:pw@host``)
_URL_PASSWORD_RE = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#'\"]*:)(?P<password>[^\s@/'\"]+)(?P<at>@)",
    re.ASCII,
)


def mask_secrets(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    if "://" not in text:
        return text
    return _URL_PASSWORD_RE.sub(lambda m: m.group("head") + MASK + m.group("at"), text)


def mask_url(url: Any) -> str:
    """A URL (string or SQLAlchemy ``URL``) as text, password masked."""
    render = getattr(url, "render_as_string", None)
    if callable(render):
        return mask_secrets(str(render(hide_password=True)))
    return mask_secrets(str(url))


_installed = False


def _masked_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to the handler to report
        return record
    masked = mask_secrets(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if mask_secrets(text) != text:
            # handlers use a pre-rendered ``exc_text``; drop the exception object itself so
            # that structured renderers (structlog) cannot render the secret again
            record.exc_text = mask_secrets(text)
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
    return record


def install() -> None:
    """Mask every log record created from now on in this process (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _masked_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True

"""URL passwords never reach a message or a log (issue 15, item 13)."""

from __future__ import annotations

import logging

import pytest

from wikivis.errors import NotFoundError, SourceError
from wikivis.logsafe import mask_secrets, mask_url

SECRET = "PgSecret"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql+psycopg://airflow:PgSecret@postgres/wikivis", "postgresql+psycopg://airflow:***@postgres/wikivis"),
        ("catalog 'mysql+pymysql://u:PgSecret@h:3306/db?charset=utf8mb4'.", "catalog 'mysql+pymysql://u:***@h:3306/db?charset=utf8mb4'."),
        ("redis://:PgSecret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("two a://x:PgSecret@h b://y:PgSecret%40x@h", "two a://x:***@h b://y:***@h"),
        ("http://127.0.0.1:8080/path@x and sqlite:////tmp/c.sqlite", "http://127.0.0.1:8080/path@x and sqlite:////tmp/c.sqlite"),
        ("no url here: user:pw@host", "no url here: user:pw@host"),
    ],
)
def test_mask_secrets(text, masked):
    assert mask_secrets(text) == masked


def test_mask_url_of_a_sqlalchemy_url():
    import sqlalchemy as sa

    assert mask_url(sa.make_url("postgresql+psycopg://airflow:PgSecret@postgres/wikivis")) == \
        "postgresql+psycopg://airflow:***@postgres/wikivis"


def test_errors_mask_their_message():
    exc = NotFoundError("no run 'x' in the catalog postgresql+psycopg://airflow:PgSecret@postgres/wikivis")
    assert SECRET not in str(exc) and SECRET not in exc.message and SECRET not in repr(exc.args)
    assert SECRET not in str(SourceError("refused", url="http://u:PgSecret@127.0.0.1:1/"))


def test_every_log_record_is_masked_whatever_the_logger_or_handler(caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("some.library").warning("connecting to %s", "postgresql://a:PgSecret@db/x")
    try:
        raise RuntimeError("engine postgresql://a:PgSecret@db/x refused")
    except RuntimeError:
        logging.getLogger("wikivis.test").exception("failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "postgresql://a:***@db/x" in text
    assert SECRET not in text

from __future__ import annotations

import pytest
import sqlalchemy as sa

from wikivis.errors import ConfigError, NotFoundError
from wikivis.sqlq import check_identifier, load_query, named_query, query_names

PROBE_IDS = {"table": "imagelinks", "column": "il_target_id", "from_column": "il_from"}


def identifiers_for(name: str) -> dict[str, str]:
    """The first allowed value of every placeholder of a query."""
    return {key: allowed[0] for key, allowed in named_query(name).identifiers.items()}


def test_every_named_query_loads_with_its_declared_parameters():
    names = query_names()
    assert {"pages", "article_images", "article_categories", "lead_images", "images_of_pages", "files"} <= set(names)
    for name in names:
        query = named_query(name)
        clause = load_query(name, **identifiers_for(name))
        assert isinstance(clause, sa.TextClause)
        assert set(clause._bindparams) == set(query.params), name  # header documents every parameter
        for param in query.expanding:
            assert clause._bindparams[param].expanding


def test_queries_are_cached():
    assert load_query("pages") is load_query("pages")
    assert load_query("link_target_sample", **PROBE_IDS) is load_query("link_target_sample", **PROBE_IDS)


@pytest.mark.parametrize("name", ["nope", "../schema/mediawiki", "pages; DROP TABLE page", "", "Pages"])
def test_unknown_or_invalid_query_names_fail_clearly(name):
    with pytest.raises(NotFoundError) as err:
        load_query(name)
    assert repr(name) in str(err.value)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(NotFoundError, match="article_images"):
        load_query("article_image")


@pytest.mark.parametrize("value", ["page; DROP TABLE page", "imagelinks ", "`imagelinks`", "page", "", "il_to--"])
def test_check_identifier_rejects_anything_outside_the_allow_list(value):
    with pytest.raises(ConfigError):
        check_identifier(value, ("imagelinks", "categorylinks"))


def test_check_identifier_accepts_allowed_names():
    assert check_identifier("categorylinks", ("imagelinks", "categorylinks")) == "categorylinks"


def test_identifier_placeholders_are_checked_and_required():
    sql = str(load_query("link_target_sample", table="categorylinks", column="cl_target_id", from_column="cl_from"))
    assert "FROM categorylinks" in sql
    assert "{" not in sql
    with pytest.raises(ConfigError):
        load_query("link_target_sample", table="page", column="il_target_id", from_column="il_from")
    with pytest.raises(ConfigError, match="needs identifiers"):
        load_query("link_target_sample", table="imagelinks")
    with pytest.raises(ConfigError, match="no identifier placeholders"):
        load_query("pages", table="imagelinks")


def test_queries_use_only_portable_sql():
    for name in query_names():
        sql = named_query(name).sql.upper()
        for construct in ("`", "STRAIGHT_JOIN", "OFFSET", "SQL_CALC_FOUND_ROWS", "FORCE INDEX", "USE INDEX", "ILIKE"):
            assert construct not in sql, (name, construct)

from __future__ import annotations

import sqlalchemy as sa

from wikivis.sources.replica_schema import CURRENT, LEGACY, render_ddl, schema_file, split_statements


def test_checked_in_ddl_matches_the_table_definitions():
    for dialect in ("mysql", "sqlite"):
        for legacy in (False, True):
            path = schema_file(dialect, legacy=legacy)
            assert path.read_text(encoding="utf-8") == render_ddl(dialect, legacy=legacy), (
                f"{path} is stale: run `python -m wikivis.sources.replica_schema`"
            )


def test_current_schema_has_linktarget_columns_only():
    il, cl = CURRENT.tables["imagelinks"], CURRENT.tables["categorylinks"]
    assert list(il.columns.keys()) == ["il_from", "il_from_namespace", "il_target_id"]
    assert [c.name for c in il.primary_key] == ["il_from", "il_target_id"]
    assert "cl_to" not in cl.columns
    assert list(cl.columns.keys())[-1] == "cl_target_id"
    assert "il_to" in LEGACY.tables["imagelinks"].columns
    assert "cl_to" in LEGACY.tables["categorylinks"].columns


def test_mariadb_ddl_keeps_mediawiki_types():
    ddl = render_ddl("mysql")
    for fragment in ("il_target_id BIGINT UNSIGNED NOT NULL", "lt_title VARBINARY(255) NOT NULL",
                     "CHARSET=binary", "img_sha1 VARBINARY(32)", "ON image (img_sha1(10))"):
        assert fragment in ddl


def test_sqlite_ddl_executes():
    engine = sa.create_engine("sqlite://")
    for legacy in (False, True):
        with engine.begin() as conn:
            for name in list(sa.inspect(conn).get_table_names()):
                conn.exec_driver_sql(f"DROP TABLE {name}")
            for statement in split_statements(schema_file("sqlite", legacy=legacy).read_text("utf-8")):
                conn.exec_driver_sql(statement)
            tables = set(sa.inspect(conn).get_table_names())
        assert {"page", "linktarget", "imagelinks", "page_props", "categorylinks", "image"} <= tables

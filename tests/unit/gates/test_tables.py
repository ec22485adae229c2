"""Table checks: each injected corruption is caught by the right check, named in the message
together with the dataset and an example row; clean tables pass everything."""

from __future__ import annotations

import pandera.pandas as pa_pd
import pyarrow as pa
import pytest

from tests.unit.gates.conftest import (
    NOW,
    PREVIOUS,
    SNAPSHOT,
    WIKI,
    all_file_names,
    article_images_table,
    files_table,
    pages_table,
    replace_column,
)
from wikivis.datasets import schema
from wikivis.gates import rules
from wikivis.gates.tables import check_freshness, check_table, count_distinct


def run(dataset: str, table: pa.Table, settings, **kw):
    kw.setdefault("wiki", "commonswiki" if dataset == "files" else WIKI)
    kw.setdefault("snapshot", SNAPSHOT)
    kw.setdefault("now", NOW)
    results, _ = check_table(dataset, table, settings=settings, **kw)
    return {r.name: r for r in results}


def assert_caught(result, dataset: str, check: str, example_value) -> None:
    assert result.outcome == "fail", result.describe()
    text = result.describe()
    assert text.startswith(f"{dataset}: check {check!r} failed"), text
    assert result.example_row is not None
    assert str(example_value) in text, text


@pytest.fixture
def images():
    return article_images_table()


@pytest.fixture
def refs(images):
    return {"files": files_table(all_file_names(images)), "pages": pages_table()}


def test_clean_tables_pass_every_check(settings, images, refs):
    for dataset, table, kw in (
        ("pages", refs["pages"], {}),
        ("article_images", images, {"references": refs}),
        ("files", refs["files"], {}),
    ):
        results = run(dataset, table, settings, previous_table=table, previous=PREVIOUS, **kw)
        assert {r.outcome for r in results.values()} == {"pass"}, [r.describe() for r in results.values()]
    assert {"schema", "not_null", "unique", "values", "file_exists", "page_exists", "row_count_drift",
            "distribution_drift", "freshness"} <= set(run("article_images", images, settings, references=refs))


def test_nulls_in_a_non_nullable_column(settings, images):
    values = images.column("page_title").to_pylist()
    values[7] = None
    broken = replace_column(images, "page_title", values)
    result = run("article_images", broken, settings)["not_null"]
    assert_caught(result, "article_images", "not_null", "page_title")
    assert result.example_row["page_title"] is None
    assert result.example_row["page_id"] == images.column("page_id")[7].as_py()


@pytest.mark.parametrize("shuffle", [False, True], ids=["sorted", "unsorted"])
def test_duplicate_keys(settings, images, shuffle):
    dup = images.slice(5, 1)
    broken = pa.concat_tables([images.slice(0, 6), dup, images.slice(6)])
    if shuffle:
        broken = broken.take(pa.array(list(range(broken.num_rows))[::-1]))
    result = run("article_images", broken, settings)["unique"]
    assert_caught(result, "article_images", "unique", dup.column("file_name")[0].as_py())
    assert result.metrics["duplicates"] == 1
    assert result.metrics["sorted"] is (not shuffle)


def test_wrong_type_names_the_row_that_does_not_convert(settings, images):
    ids = [str(v) for v in images.column("page_id").to_pylist()]
    ids[11] = "twelve"
    broken = replace_column(images, "page_id", ids, pa.string())
    result = run("article_images", broken, settings)["schema"]
    assert_caught(result, "article_images", "schema", "twelve")
    assert "page_id is string, expected int64" in result.message


def test_castable_wrong_type_still_fails_schema_but_values_are_checked(settings, images):
    broken = replace_column(images, "page_id", images.column("page_id").to_pylist(), pa.int32())
    results = run("article_images", broken, settings)
    assert results["schema"].outcome == "fail"
    assert results["values"].outcome == "pass"
    assert results["unique"].outcome == "pass"


def test_missing_column(settings, images):
    broken = images.drop_columns(["is_lead"])
    result = run("article_images", broken, settings)["schema"]
    assert result.outcome == "fail"
    assert "missing column(s) is_lead" in result.message


def test_out_of_range_value(settings, images):
    ids = images.column("page_id").to_pylist()
    ids[0] = -3
    broken = replace_column(images, "page_id", ids)
    result = run("article_images", broken, settings)["values"]
    assert_caught(result, "article_images", "values", -3)
    assert "greater_than_or_equal_to" in result.message


@pytest.mark.parametrize(
    ("dataset", "column", "bad"),
    [
        ("files", "sha1", "not-a-sha1"),
        ("files", "mime", "JPEG IMAGE"),
        ("files", "media_type", "PICTURE"),
        ("pages", "page_namespace", 14),
        ("pages", "page_title", "Bad|title"),
    ],
)
def test_value_rules(settings, refs, dataset, column, bad):
    table = refs[dataset]
    values = table.column(column).to_pylist()
    values[2] = bad
    result = run(dataset, replace_column(table, column, values), settings)["values"]
    assert_caught(result, dataset, "values", bad)
    assert column in result.message


def test_wiki_column_must_match_the_partition(settings, images):
    broken = replace_column(images, "wiki", ["otherwiki"] * images.num_rows)
    result = run("article_images", broken, settings)["values"]
    assert_caught(result, "article_images", "values", "otherwiki")


def test_dangling_file_names_warn_within_tolerance_and_fail_above(settings, images, refs):
    names = all_file_names(images)
    few_missing = files_table([n for n in names if n != "Photo_3_a.jpg"])  # 1 of 120 rows
    result = run("article_images", images, settings, references={**refs, "files": few_missing})["file_exists"]
    assert result.outcome == "warn"
    assert "Photo_3_a.jpg" in result.describe()
    assert result.metrics["missing_rows"] == 1

    many_missing = files_table(names[: len(names) // 2])
    result = run("article_images", images, settings, references={**refs, "files": many_missing})["file_exists"]
    assert_caught(result, "article_images", "file_exists", "file_name")
    assert result.metrics["missing_fraction"] > settings.gate_max_dangling_fraction


def test_dangling_page_ids(settings, images, refs):
    pages = refs["pages"].slice(0, 10)
    result = run("article_images", images, settings, references={**refs, "pages": pages})["page_exists"]
    assert_caught(result, "article_images", "page_exists", 11)


def test_missing_reference_table_warns(settings, images, refs):
    result = run("article_images", images, settings, references={**refs, "files": None})["file_exists"]
    assert result.outcome == "warn"


def test_row_count_drift(settings, images):
    small = images.slice(0, 40)
    result = run("article_images", small, settings, previous_table=images, previous=PREVIOUS)["row_count_drift"]
    assert_caught(result, "article_images", "row_count_drift", PREVIOUS)
    assert result.metrics["change"] == pytest.approx(-2 / 3, abs=1e-6)
    within = run("article_images", images.slice(0, 100), settings, previous_table=images, previous=PREVIOUS)
    assert within["row_count_drift"].outcome == "pass"


def test_distribution_drift(settings, images):
    no_leads = replace_column(images, "is_lead", [True] * images.num_rows)
    result = run("article_images", no_leads, settings, previous_table=images, previous=PREVIOUS)["distribution_drift"]
    assert_caught(result, "article_images", "distribution_drift", "lead_share")
    assert result.metrics["statistics"]["lead_share"]["distance"] == pytest.approx(2 / 3, abs=1e-6)


def test_categorical_drift_on_files(settings, refs):
    files = refs["files"]
    pngs = replace_column(files, "mime", ["image/png"] * files.num_rows)
    result = run("files", pngs, settings, previous_table=files, previous=PREVIOUS)["distribution_drift"]
    assert_caught(result, "files", "distribution_drift", "mime_mix")


def test_stale_snapshot(settings, images):
    result = run("article_images", images, settings, snapshot="20230101")["freshness"]
    assert_caught(result, "article_images", "freshness", "20230101")
    assert check_freshness("x", "20240310T120000Z", max_age_days=1, now=NOW).outcome == "pass"
    assert check_freshness("x", "20230101", max_age_days=0, now=NOW).outcome == "pass"


def test_empty_required_dataset_fails(settings, images):
    result = run("article_images", images.slice(0, 0), settings)["not_empty"]
    assert result.outcome == "fail"
    assert run("article_categories", schema("article_categories").empty_table(), settings)["not_empty"].outcome == "warn"


def test_custom_pandera_check_runs_on_a_sample(settings, images, monkeypatch):
    custom = pa_pd.Check(lambda s: ~s.str.endswith("_b.jpg"), element_wise=False, name="no_b_images")
    monkeypatch.setitem(rules.COLUMN_RULES, "article_images", {"file_name": [custom]})
    result = run("article_images", images, settings)["values"]
    assert_caught(result, "article_images", "values", "_b.jpg")
    assert result.metrics["sampled"] is True
    assert result.metrics["violations"]["file_name: no_b_images()"] == 40


def test_pandera_schema_declares_the_dataset_contract(images):
    frame = rules.to_pandas(images)
    rules.pandera_schema("article_images").validate(frame)
    broken = rules.to_pandas(replace_column(images, "page_id", [0] * images.num_rows))
    with pytest.raises(pa_pd.errors.SchemaErrors):
        rules.pandera_schema("article_images").validate(broken, lazy=True)


def test_count_distinct_sorted_and_unsorted():
    assert count_distinct(pa.chunked_array([[1, 1, 2, 5, 5, 5]])) == 3
    assert count_distinct(pa.chunked_array([[5, 1, 5, 2]])) == 3
    assert count_distinct(pa.chunked_array([["a", "b", "a"]])) == 2

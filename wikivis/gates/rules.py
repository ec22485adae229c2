"""Declarative rules per lake dataset, written as pandera schemas.

Types and nullability come from :func:`wikivis.datasets.schema` (the single contract); this
module adds the value rules (ranges, allowed values, patterns), the uniqueness key
(:data:`wikivis.datasets.SORT_KEYS`) and the drift profile of each dataset.

Why pandera only *declares* here: validating pandas frames with pandera runs at about
0.1–0.3M rows/s on this machine (``bench/gates.py`` measures it next to the vectorised path),
while the table gate must do ≥1M rows/s on ``article_images``.  So
:mod:`wikivis.gates.tables` reads these schemas and evaluates pandera's built-in checks
(``ge``, ``in_range``, ``isin``, ``str_matches``, ``str_length``, …) with ``pyarrow.compute``
over whole columns, using each check's ``statistics``.  A custom check that has no Arrow
translation still works: it is validated by pandera itself on a sample of the rows
(:func:`pandas_sample`).

Patterns are written in the common subset of Python ``re`` and RE2 (what Arrow uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import pandas as pd
import pandera.pandas as pa_pd
import pyarrow as pa
from pandera.pandas import Check

from wikivis.datasets import SORT_KEYS
from wikivis.datasets import schema as dataset_schema
from wikivis.vocab import is_wiki

#: MediaWiki titles: at most 255 bytes, never one of these characters (Title::legalChars)
_TITLE_RULES = [Check.str_length(min_value=1, max_value=255), Check.str_matches(r"^[^#<>\[\]|{}\n]+$")]
_SHA1_HEX = r"^[0-9a-f]{40}$"
_ITEM_ID = r"^Q[1-9][0-9]*$"
#: MediaWiki's media types (img_media_type enum)
MEDIA_TYPES = ["UNKNOWN", "BITMAP", "DRAWING", "AUDIO", "VIDEO", "MULTIMEDIA", "OFFICE", "TEXT", "EXECUTABLE", "ARCHIVE", "3D"]

#: value rules per dataset and column (types/nullability are added from the Arrow schema)
COLUMN_RULES: dict[str, dict[str, list[Check]]] = {
    "pages": {
        "page_id": [Check.ge(1)],
        "page_namespace": [Check.isin([0])],  # the dataset holds articles only
        "page_title": _TITLE_RULES,
    },
    "article_images": {
        "page_id": [Check.ge(1)],
        "page_namespace": [Check.ge(0)],  # real namespaces are ≥ 0 (−1/−2 are virtual)
        "page_title": _TITLE_RULES,
        "file_name": _TITLE_RULES,
    },
    "article_categories": {
        "page_id": [Check.ge(1)],
        "category": _TITLE_RULES,
    },
    "files": {
        "file_name": _TITLE_RULES,
        "size": [Check.ge(0)],
        "width": [Check.ge(0)],  # audio and documents have 0
        "height": [Check.ge(0)],
        "media_type": [Check.isin(MEDIA_TYPES)],
        "mime": [Check.str_matches(r"^[a-z0-9.+-]+/[A-Za-z0-9.+_-]+$")],
        # very old files have an empty img_sha1
        "sha1": [Check.str_matches(r"^([0-9a-f]{40})?$")],
        # MediaWiki's 14-digit form, or ISO 8601
        "timestamp": [Check.str_matches(r"^(\d{14}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:?\d\d)?)$")],
    },
    "file_metadata": {
        "file_name": _TITLE_RULES,
        "sha1": [Check.str_matches(_SHA1_HEX)],
        "size": [Check.ge(0)],
        "width": [Check.ge(0)],
        "height": [Check.ge(0)],
        "thumb_width": [Check.ge(1)],
        "thumb_height": [Check.ge(1)],
    },
    "media": {
        "sha1": [Check.str_matches(_SHA1_HEX)],
        "file_name": _TITLE_RULES,
        "width": [Check.ge(1)],
        "height": [Check.ge(1)],
        "bytes": [Check.ge(0)],
        "status": [Check.isin(["ok", "failed", "skipped"])],
    },
    "quarantine": {
        "dataset": [Check.str_length(min_value=1)],
        "check": [Check.str_length(min_value=1)],
        "row_key": [Check.str_length(min_value=1)],
        "reason": [Check.str_length(min_value=1)],
    },
    "article_items": {
        "page_id": [Check.ge(1)],
        "item": [Check.str_matches(_ITEM_ID)],
    },
    "item_images": {
        "item": [Check.str_matches(_ITEM_ID)],
        "file_name": [Check.str_matches(r"^([^#<>\[\]|{}\n]{1,255})?$")],  # "" on the P373 row
        "property": [Check.isin(["P18", "P373"])],
        "commons_category": _TITLE_RULES,
    },
    "crosswiki_leads": {
        "item": [Check.str_matches(_ITEM_ID)],
        "wiki": [Check(is_wiki, element_wise=True, name="wiki_name")],
        "page_id": [Check.ge(1)],
        "file_name": _TITLE_RULES,
    },
}

#: datasets that must never be empty (an empty one is a failed extraction, not a quiet wiki)
REQUIRED_NON_EMPTY = frozenset({"pages", "article_images", "files", "media"})

#: (dataset, column) → (referenced dataset, column): values must exist there
REFERENCES: dict[str, list[tuple[str, str, str]]] = {
    "article_images": [("file_name", "files", "file_name"), ("page_id", "pages", "page_id")],
    "article_categories": [("page_id", "pages", "page_id")],
    "article_items": [("page_id", "pages", "page_id")],
    "item_images": [("item", "article_items", "item")],
    "crosswiki_leads": [("item", "article_items", "item")],
}

#: the name of the check that tests each reference (one name per referenced dataset)
REFERENCE_CHECK = {"files": "file_exists", "pages": "page_exists", "article_items": "item_exists"}

DriftKind = Literal["share", "ratio", "median", "categorical"]


@dataclass(frozen=True)
class DriftStat:
    """One summary statistic compared between a snapshot and the previous one.

    * ``share`` — mean of a boolean column; compared by absolute difference;
    * ``ratio`` — rows per distinct value of ``column`` (e.g. images per page); relative change;
    * ``median`` — approximate median of a numeric column; relative change;
    * ``categorical`` — value shares of a column; total-variation distance.
    """

    name: str
    kind: DriftKind
    column: str


DRIFT_PROFILES: dict[str, list[DriftStat]] = {
    "pages": [DriftStat("redirect_share", "share", "is_redirect")],
    "article_images": [
        DriftStat("images_per_page", "ratio", "page_id"),
        DriftStat("lead_share", "share", "is_lead"),
    ],
    "article_categories": [DriftStat("categories_per_page", "ratio", "page_id")],
    "files": [
        DriftStat("mime_mix", "categorical", "mime"),
        DriftStat("median_width", "median", "width"),
    ],
    "file_metadata": [
        DriftStat("licence_mix", "categorical", "licence_short_name"),
        DriftStat("non_free_share", "share", "non_free"),
    ],
    "media": [DriftStat("status_mix", "categorical", "status")],
    "article_items": [DriftStat("items_per_page", "ratio", "page_id")],
    "item_images": [DriftStat("property_mix", "categorical", "property")],
    "crosswiki_leads": [DriftStat("wiki_mix", "categorical", "wiki")],
}


def unique_key(dataset: str) -> tuple[str, ...]:
    return SORT_KEYS.get(dataset, ())


_PANDAS_DTYPES: dict[pa.DataType, object] = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.float64(): pd.Float64Dtype(),
}


def pandas_dtype(arrow_type: pa.DataType) -> object:
    """The pandas (nullable extension) dtype a column of ``arrow_type`` becomes."""
    return _PANDAS_DTYPES.get(arrow_type, arrow_type.to_pandas_dtype())


@cache
def pandera_schema(dataset: str) -> pa_pd.DataFrameSchema:
    """The full pandera schema of ``dataset``: Arrow types and nullability + value rules + key.

    Frames validated against it must come from :func:`to_pandas` (nullable dtypes).
    """
    arrow = dataset_schema(dataset)
    rules = COLUMN_RULES.get(dataset, {})
    columns = {
        f.name: pa_pd.Column(pandas_dtype(f.type), checks=rules.get(f.name, []), nullable=f.nullable)
        for f in arrow
    }
    key = list(unique_key(dataset))
    return pa_pd.DataFrameSchema(columns, unique=key or None, strict=False, name=dataset)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with nullable dtypes, so that nulls do not turn ints into floats."""
    return table.to_pandas(types_mapper=_PANDAS_DTYPES.get)


def pandas_sample(table: pa.Table, n: int) -> pd.DataFrame:
    """The first ``n`` rows as pandas (for pandera checks that have no Arrow translation)."""
    return to_pandas(table.slice(0, n))

"""Arrow schemas of every lake dataset: the contract between sources, gates and ML.

The dump path, the replica path and the event path must all produce *identical* datasets
for the same wiki state, so each dataset has one schema and one canonical sort order
(:data:`SORT_KEYS`); writers sort by it before writing, which makes reruns byte-stable and
lets tests compare paths with plain equality.

pyarrow is imported lazily so that importing :mod:`wikivis` stays cheap.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

DATASETS = (
    "pages",
    "article_images",
    "article_categories",
    "files",
    "file_metadata",
    "media",
    "quarantine",
)

#: canonical sort order per dataset (also the uniqueness key)
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "pages": ("page_id",),
    "article_images": ("page_id", "file_name"),
    "article_categories": ("page_id", "category"),
    "files": ("file_name",),
    "file_metadata": ("file_name",),
    "media": ("sha1",),
    "quarantine": ("dataset", "check", "row_key"),
}


@cache
def schema(name: str) -> pa.Schema:
    """The Arrow schema of dataset ``name``."""
    import pyarrow as pa

    s = pa.string()
    schemas = {
        # every article (namespace 0) of the wiki, illustrated or not
        "pages": pa.schema(
            [
                pa.field("wiki", s, nullable=False),
                pa.field("page_id", pa.int64(), nullable=False),
                pa.field("page_namespace", pa.int32(), nullable=False),
                pa.field("page_title", s, nullable=False),
                pa.field("is_redirect", pa.bool_(), nullable=False),
            ]
        ),
        # imagelinks ⋈ linktarget(ns 6) ⋈ page, with the PageImages lead flag
        "article_images": pa.schema(
            [
                pa.field("wiki", s, nullable=False),
                pa.field("page_id", pa.int64(), nullable=False),
                pa.field("page_namespace", pa.int32(), nullable=False),
                pa.field("page_title", s, nullable=False),
                pa.field("file_name", s, nullable=False),
                pa.field("is_lead", pa.bool_(), nullable=False),
            ]
        ),
        # categorylinks ⋈ linktarget(ns 14) (or legacy cl_to)
        "article_categories": pa.schema(
            [
                pa.field("wiki", s, nullable=False),
                pa.field("page_id", pa.int64(), nullable=False),
                pa.field("category", s, nullable=False),
            ]
        ),
        # the commons `image` table; sha1 is hex (img_sha1 is base-36 in the DB)
        "files": pa.schema(
            [
                pa.field("wiki", s, nullable=False),
                pa.field("file_name", s, nullable=False),
                pa.field("size", pa.int64(), nullable=False),
                pa.field("width", pa.int32(), nullable=False),
                pa.field("height", pa.int32(), nullable=False),
                pa.field("media_type", s),
                pa.field("mime", s, nullable=False),
                pa.field("sha1", s, nullable=False),
                pa.field("timestamp", s, nullable=False),
            ]
        ),
        # Commons API imageinfo + extmetadata
        "file_metadata": pa.schema(
            [
                pa.field("file_name", s, nullable=False),
                pa.field("sha1", s, nullable=False),
                pa.field("size", pa.int64()),
                pa.field("width", pa.int32()),
                pa.field("height", pa.int32()),
                pa.field("mime", s),
                pa.field("media_type", s),
                pa.field("thumb_url", s),
                pa.field("thumb_width", pa.int32()),
                pa.field("thumb_height", pa.int32()),
                pa.field("licence_short_name", s),
                pa.field("licence", s),
                pa.field("artist", s),
                pa.field("credit", s),
                pa.field("description", s),
                pa.field("attribution_required", pa.bool_()),
                pa.field("non_free", pa.bool_(), nullable=False),
                pa.field("restrictions", s),
            ]
        ),
        # one row per fetched (or failed) thumbnail
        "media": pa.schema(
            [
                pa.field("sha1", s, nullable=False),
                pa.field("file_name", s, nullable=False),
                pa.field("path", s),
                pa.field("width", pa.int32()),
                pa.field("height", pa.int32()),
                pa.field("bytes", pa.int64()),
                pa.field("status", s, nullable=False),  # ok | failed | skipped
                pa.field("reason", s),
            ]
        ),
        # rows a gate set aside, with why
        "quarantine": pa.schema(
            [
                pa.field("dataset", s, nullable=False),
                pa.field("check", s, nullable=False),
                pa.field("row_key", s, nullable=False),
                pa.field("reason", s, nullable=False),
            ]
        ),
    }
    try:
        return schemas[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def base36_to_hex(b36: str) -> str:
    """MediaWiki stores img_sha1 as 31-char base-36; the API and the media store use hex."""
    if not b36:
        return ""
    return format(int(b36, 36), "040x")


def hex_to_base36(hex_sha1: str) -> str:
    n = int(hex_sha1, 16)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(digits[r])
    return "".join(reversed(out)).rjust(31, "0")

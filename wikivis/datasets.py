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
    "metadata_failures",
    "article_items",
    "item_images",
    "crosswiki_leads",
    "article_image_captions",
    "file_captions",
    "events_applied",
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
    "metadata_failures": ("file_name",),
    "article_items": ("page_id",),
    "item_images": ("item", "file_name"),
    "crosswiki_leads": ("item", "wiki"),
    "article_image_captions": ("page_id", "position"),
    "file_captions": ("file_name", "language", "source"),
    "events_applied": ("meta_id",),
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
        # every requested Commons title that got no usable metadata, with why
        # (missing | invalid | no_imageinfo | non_free | error)
        "metadata_failures": pa.schema(
            [
                pa.field("file_name", s, nullable=False),
                pa.field("reason", s, nullable=False),
                pa.field("detail", s),
            ]
        ),
        # page_props.wikibase_item of each article: the Wikidata item (Q-id) it describes
        "article_items": pa.schema(
            [
                pa.field("wiki", s, nullable=False),
                pa.field("page_id", pa.int64(), nullable=False),
                pa.field("item", s, nullable=False),
            ]
        ),
        # Wikidata: an item's P18 images (property P18) and its Commons category (P373)
        "item_images": pa.schema(
            [
                pa.field("item", s, nullable=False),
                pa.field("file_name", s, nullable=False),  # "" when the item only has P373
                pa.field("property", s, nullable=False),  # P18 | P373
                pa.field("commons_category", s),
            ]
        ),
        # the lead image that each wiki's article about an item uses (PageImages)
        "crosswiki_leads": pa.schema(
            [
                pa.field("item", s, nullable=False),
                pa.field("wiki", s, nullable=False),
                pa.field("page_id", pa.int64(), nullable=False),
                pa.field("file_name", s, nullable=False),
            ]
        ),
        # captions and alt text of the images an article shows, in article order
        "article_image_captions": pa.schema(
            [
                pa.field("wiki", s, nullable=False),
                pa.field("page_id", pa.int64(), nullable=False),
                pa.field("position", pa.int32(), nullable=False),
                pa.field("file_name", s, nullable=False),
                pa.field("caption", s),
                pa.field("alt", s),
                pa.field("source", s, nullable=False),  # link | gallery | infobox
            ]
        ),
        # multilingual file captions: MediaInfo labels and ImageDescription per language
        "file_captions": pa.schema(
            [
                pa.field("file_name", s, nullable=False),
                pa.field("language", s, nullable=False),
                pa.field("text", s, nullable=False),
                pa.field("source", s, nullable=False),  # mediainfo | imagedescription | wit
            ]
        ),
        # audit: the EventStreams events an event snapshot applied (meta.id, where it was read)
        "events_applied": pa.schema(
            [
                pa.field("meta_id", s, nullable=False),
                pa.field("wiki", s, nullable=False),
                pa.field("stream", s, nullable=False),
                pa.field("topic", s, nullable=False),
                pa.field("partition", pa.int32(), nullable=False),
                pa.field("kafka_ms", pa.int64()),
                pa.field("dt", s),
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

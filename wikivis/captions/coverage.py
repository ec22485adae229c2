"""Caption and alt-text coverage of a wiki's article images (the tutorial's figures: about
43 % of English Wikipedia's images have a caption, 10 % alt text).

The denominator is ``article_images`` — every (article, file) pair of the imagelinks
table, including images that come from templates (navbox icons, flags) and so never have a
caption in the article's own wikitext, as in the tutorial's count.  A pair counts as
captioned (has alt text) when any of its occurrences in ``article_image_captions`` has one;
bad alt text (:func:`wikivis.gates.captions.bad_alt_reason`) is reported separately and
does not count as alt text in ``good_alt_share``.

:func:`coverage` reads the lake (the monitoring page, ``wikivis captions coverage`` and the
quality report call it); :func:`compute_coverage` works on tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from wikivis.config import Settings

#: the tutorial's reference shares for English Wikipedia
REFERENCE = {"caption_share": 0.43, "alt_share": 0.10}


def compute_coverage(article_images: pa.Table, captions: pa.Table) -> dict[str, Any]:
    """Shares of article images with a caption / with alt text."""
    from wikivis.gates.captions import bad_alt_reason

    pairs = set(zip(article_images.column("page_id").to_pylist(), article_images.column("file_name").to_pylist(), strict=True))
    captioned: set[tuple[int, str]] = set()
    with_alt: set[tuple[int, str]] = set()
    good_alt: set[tuple[int, str]] = set()
    bad_alt = 0
    sources: dict[str, int] = {}
    cols = [captions.column(c).to_pylist() for c in ("page_id", "file_name", "caption", "alt", "source")]
    for page_id, name, caption, alt, source in zip(*cols, strict=True):
        sources[source] = sources.get(source, 0) + 1
        key = (page_id, name)
        if key not in pairs:
            continue
        if caption:
            captioned.add(key)
        if alt:
            with_alt.add(key)
            if bad_alt_reason(alt, name) is None:
                good_alt.add(key)
            else:
                bad_alt += 1
    n = len(pairs)

    def share(k: int) -> float:
        return round(k / n, 4) if n else 0.0

    return {
        "images": n,
        "captioned": len(captioned),
        "with_alt": len(with_alt),
        "with_good_alt": len(good_alt),
        "bad_alt": bad_alt,
        "caption_share": share(len(captioned)),
        "alt_share": share(len(with_alt)),
        "good_alt_share": share(len(good_alt)),
        "occurrences": captions.num_rows,
        "occurrences_by_source": dict(sorted(sources.items())),
        "reference": dict(REFERENCE),
    }


def coverage(settings: Settings, wiki: str, snapshot: str | None = None, *, lake: Any = None) -> dict[str, Any]:
    """Coverage of ``wiki`` from the lake: the captions snapshot ``snapshot`` (default the
    newest) against the newest ``article_images`` at or before it.  Raises
    :class:`~wikivis.errors.NotFoundError` when either dataset is missing."""
    from wikivis.errors import NotFoundError

    if lake is None:
        from wikivis.lake import Lake

        lake = Lake.from_settings(settings)
    snap = snapshot or lake.latest("article_image_captions", wiki)
    if snap is None or not lake.exists("article_image_captions", wiki, snap):
        raise NotFoundError(f"no article_image_captions for {wiki}" + (f" at {snapshot}" if snapshot else "")
                            + "; run `wikivis captions extract --wiki " + wiki + "` first")
    images_snaps = [s for s in lake.snapshots("article_images", wiki) if s <= snap]
    if not images_snaps:
        raise NotFoundError(f"no article_images for {wiki} at or before {snap}")
    images = lake.read("article_images", wiki, images_snaps[-1], columns=["page_id", "file_name"])
    captions = lake.read("article_image_captions", wiki, snap,
                         columns=["page_id", "file_name", "caption", "alt", "source"])
    return {"wiki": wiki, "snapshot": snap, "article_images_snapshot": images_snaps[-1], **compute_coverage(images, captions)}


def coverage_status(settings: Settings, *, lake: Any = None) -> list[dict[str, Any]]:
    """One coverage row per wiki that has captions in the lake (the monitoring page's table:
    wiki, snapshot, images, caption/alt shares, bad alt, the tutorial's reference); a wiki
    whose datasets cannot be read gets a row with ``error`` instead of failing the page."""
    if lake is None:
        from wikivis.lake import Lake

        lake = Lake.from_settings(settings)
    rows: list[dict[str, Any]] = []
    for wiki in sorted(lake.wikis("article_image_captions")):
        try:
            cov = coverage(settings, wiki, lake=lake)
        except Exception as exc:  # a page must show what it can
            rows.append({"wiki": wiki, "error": f"{exc.__class__.__name__}: {exc}"})
            continue
        rows.append({k: cov[k] for k in ("wiki", "snapshot", "images", "captioned", "with_alt", "bad_alt",
                                         "caption_share", "alt_share", "reference")})
    return rows

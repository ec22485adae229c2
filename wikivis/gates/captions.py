"""Gates on the caption datasets: captions are text, and alt text says something.

``caption_markup``  a caption or alt text still holding wikitext or HTML (``[[``, ``]]``,
                    ``{{``, ``}}``, ``''``, ``<ref``, any tag, ``{|``, ``__NOTOC__``) means the
                    extractor let markup through: rows quarantined; within
                    :data:`MARKUP_TOLERANCE` of the rows it warns, above it fails.
``bad_alt``         alt text that is only the file name (with or without extension, ``_`` or
                    spaces) or a generic word ("image", "photograph", "thumbnail", "picture",
                    their usual translations …) — the tutorial's *bad alt text*.  Never
                    fails: it warns, counts, and quarantines the rows (their alt is not
                    used as a description downstream).
``caption_markup`` is also run on ``file_captions.text`` (dataset ``file_captions``).

Check functions return :class:`~wikivis.gates.results.CheckResult` plus the quarantine rows
(the lake's ``quarantine`` schema); :func:`gate_captions` settles them with
:func:`wikivis.gates.stages.run_gate`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

from wikivis.gates.results import FAIL, PASS, WARN, CheckResult, graded

if TYPE_CHECKING:
    import pyarrow as pa

    from wikivis.config import Settings
    from wikivis.gates.results import GateReport

MARKUP_TOLERANCE = 0.01
LEFTOVER_MARKUP_RE = re.compile(r"\[\[|\]\]|\{\{|\}\}|''|<ref|</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>|\{\||__[A-Z]{4,}__")
#: alt texts that describe nothing (casefolded, punctuation stripped)
GENERIC_ALT = frozenset({
    "image", "images", "photo", "photograph", "photography", "picture", "pic", "img", "thumbnail", "thumb",
    "graphic", "icon", "file", "alt", "alt text", "alttext", "untitled", "screenshot", "drawing", "logo",
    "an image", "a photo", "a photograph", "a picture", "the image", "image of", "photo of", "picture of",
    "bild", "foto", "fotografie", "grafik", "datei", "imagen", "fotografía", "fotografia", "immagine",
    "afbeelding", "zdjęcie", "grafika", "изображение", "фото", "фотография", "картинка", "画像", "写真",
    "图片", "圖片", "图像", "照片", "صورة", "תמונה", "image sans titre", "sans titre",
})
_FILE_EXT_RE = re.compile(r"\.(jpe?g|png|gif|svg|tiff?|webp|bmp|pdf|djvu|ogv|webm)$", re.IGNORECASE)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("_", " ")
    text = "".join(c if c.isalnum() or c.isspace() or c == "." else " " for c in text)
    return " ".join(text.split())


def has_markup(text: str | None) -> bool:
    return bool(text) and LEFTOVER_MARKUP_RE.search(text or "") is not None


def bad_alt_reason(alt: str | None, file_name: str) -> str | None:
    """Why ``alt`` is bad alt text for ``file_name`` (None when it is fine or absent)."""
    if alt is None or not alt.strip():
        return None
    a = _norm(alt)
    stem = _FILE_EXT_RE.sub("", file_name)
    if a in {_norm(file_name), _norm(stem), _norm("File:" + file_name), _norm("File:" + stem)}:
        return "alt text is the file name"
    if _FILE_EXT_RE.search(alt.strip()) and " " not in alt.strip():
        return "alt text is a file name"
    if a.rstrip(".") in GENERIC_ALT:
        return f"alt text is a generic word ({alt.strip()!r})"
    return None


def _quarantine(rows: list[dict[str, str]]) -> pa.Table:
    import pyarrow as pa

    from wikivis.datasets import schema

    return pa.Table.from_pylist(rows, schema=schema("quarantine"))


def check_caption_markup(table: pa.Table, dataset: str = "article_image_captions",
                         columns: tuple[str, ...] = ("caption", "alt")) -> tuple[CheckResult, list[dict[str, str]]]:
    n = table.num_rows
    quarantined: list[dict[str, str]] = []
    example: dict[str, Any] | None = None
    data = {c: table.column(c).to_pylist() for c in columns}
    keys = _row_keys(table, dataset)
    for i in range(n):
        for column in columns:
            value = data[column][i]
            if has_markup(value):
                match = LEFTOVER_MARKUP_RE.search(value)
                quarantined.append({"dataset": dataset, "check": "caption_markup", "row_key": keys[i],
                                    "reason": f"{column} keeps markup {match.group(0) if match else ''!r}"})
                if example is None:
                    example = table.slice(i, 1).to_pylist()[0]
                break
    bad = len(quarantined)
    metrics = {"rows": n, "with_markup": bad, "tolerance": MARKUP_TOLERANCE}
    if not bad:
        return CheckResult("caption_markup", dataset, PASS, metrics, f"{n} row(s) are plain text"), []
    outcome = graded(bad / max(n, 1), MARKUP_TOLERANCE, any_bad=True)
    message = f"{bad} of {n} row(s) keep wikitext/HTML markup (tolerated share {MARKUP_TOLERANCE:.0%})"
    return CheckResult("caption_markup", dataset, outcome, metrics, message, example), quarantined


def check_bad_alt(table: pa.Table) -> tuple[CheckResult, list[dict[str, str]]]:
    dataset = "article_image_captions"
    n = table.num_rows
    alts = table.column("alt").to_pylist()
    names = table.column("file_name").to_pylist()
    keys = _row_keys(table, dataset)
    quarantined: list[dict[str, str]] = []
    example: dict[str, Any] | None = None
    with_alt = 0
    for i, (alt, name) in enumerate(zip(alts, names, strict=True)):
        if alt is None:
            continue
        with_alt += 1
        reason = bad_alt_reason(alt, name)
        if reason is not None:
            quarantined.append({"dataset": dataset, "check": "bad_alt", "row_key": keys[i], "reason": reason})
            if example is None:
                example = table.slice(i, 1).to_pylist()[0]
    bad = len(quarantined)
    metrics = {"rows": n, "with_alt": with_alt, "bad_alt": bad, "bad_alt_share": round(bad / with_alt, 4) if with_alt else 0.0}
    if not bad:
        return CheckResult("bad_alt", dataset, PASS, metrics, f"{with_alt} alt text(s), none bad"), []
    message = f"{bad} of {with_alt} alt text(s) are only a file name or a generic word"
    return CheckResult("bad_alt", dataset, WARN, metrics, message, example), quarantined


def _row_keys(table: pa.Table, dataset: str) -> list[str]:
    if dataset == "file_captions":
        cols = [table.column(c).to_pylist() for c in ("file_name", "language", "source")]
    else:
        cols = [table.column(c).to_pylist() for c in ("page_id", "position")]
    return [":".join(str(v) for v in values) for values in zip(*cols, strict=True)]


def caption_checks(captions: pa.Table | None, file_captions: pa.Table | None = None) -> tuple[list[CheckResult], pa.Table]:
    """Every caption check; the results and the quarantine rows."""
    results: list[CheckResult] = []
    rows: list[dict[str, str]] = []
    if captions is not None:
        for result, quarantined in (check_caption_markup(captions), check_bad_alt(captions)):
            results.append(result)
            rows += quarantined
    if file_captions is not None:
        result, quarantined = check_caption_markup(file_captions, "file_captions", ("text",))
        results.append(result)
        rows += quarantined
    return results, _quarantine(rows)


def gate_captions(settings: Settings, lake: Any, wiki: str, snapshot: str, *, catalog: Any = None,
                  run_id: str | None = None, raise_on_fail: bool = True) -> GateReport:
    """Read the snapshot's caption datasets, check them, record and quarantine."""
    from wikivis.gates.stages import run_gate

    captions = lake.read("article_image_captions", wiki, snapshot) if lake.exists("article_image_captions", wiki, snapshot) else None
    files = lake.read("file_captions", wiki, snapshot) if lake.exists("file_captions", wiki, snapshot) else None
    results, quarantine = caption_checks(captions, files)
    if not results:
        results = [CheckResult("not_empty", "article_image_captions", FAIL, {}, f"no caption datasets for {wiki}@{snapshot}")]
    return run_gate("captions", results, settings=settings, lake=lake, wiki=wiki, snapshot=snapshot,
                    quarantine=quarantine, catalog=catalog, run_id=run_id, raise_on_fail=raise_on_fail)

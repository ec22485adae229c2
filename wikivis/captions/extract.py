"""Captions and alt text of the images an article shows, from its wikitext.

Three places put an image with a caption into an article, all handled here in article
order (one :class:`ImageCaption` per occurrence, ``position`` counting from 0):

* **image links** — ``[[File:X.jpg|thumb|upright=1.2|alt=…|Caption]]``: the options are
  the ``img_*`` magic words of :mod:`wikivis.captions.aliases` (every localized form, plus
  ``200px``/``100x80px`` widths); ``alt=`` is the alt text; the caption is the *last*
  parameter that is not an option (``Parser::makeImage`` does the same, so ``foo=bar``
  with an unknown key is a caption).  ``[[:File:X]]`` and ``[[Media:X]]`` are links, not
  images, and are skipped.
* **galleries** — each line of ``<gallery>`` is ``File:X.jpg|caption|alt=…`` (the prefix
  may be omitted);
* **infoboxes** — any template with an image parameter (``image``, ``Bild``, ``image2`` of
  ``{{Multiple image}}`` …) whose value is a bare file name, with its ``caption``/``alt``
  parameters (same number suffix).  A value that is itself ``[[File:…]]`` is found as a link.

Parsing is mwparserfromhell's (never a regex over the whole text), so nested templates and
links inside a caption stay whole: the parameters of a link are split only on the ``|`` of
its *own* text, and an ``alt=`` inside ``[[Foo|alt=bar]]`` in a caption is link text, not the
image's alt.  Unclosed ``[[`` is what MediaWiki renders as text: no image.

Captions and alt texts become plain text (:func:`plain_text`): links → their label,
templates removed except a few that only display their argument (``{{lang|fr|…}}``,
``{{nowrap|…}}`` …), bold/italic and HTML tags unwrapped, ``<ref>``/comments/``<math>``
removed, entities decoded, whitespace collapsed.  File names are normalised like the rest
of the lake (:func:`normalise_file_name`: no namespace, underscores, first letter upper).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import mwparserfromhell
from mwparserfromhell.nodes import Comment, ExternalLink, Heading, HTMLEntity, Tag, Template, Text, Wikilink
from mwparserfromhell.nodes.extras import Parameter
from mwparserfromhell.wikicode import Wikicode

from wikivis.captions.aliases import (
    INFOBOX_ALT_PARAMS,
    INFOBOX_CAPTION_PARAMS,
    INFOBOX_IMAGE_PARAMS,
    INFOBOX_OWN_CAPTION_IMAGES,
    WIDTH_UNITS,
    Aliases,
    aliases_for,
)

SOURCES = ("link", "gallery", "infobox")
#: extensions a bare infobox value must end with to be taken as a file
FILE_EXTENSIONS = (
    "jpg", "jpeg", "png", "gif", "svg", "tif", "tiff", "webp", "xcf", "bmp", "pdf", "djvu",
    "ogv", "webm", "ogg", "oga", "mp3", "wav", "flac", "opus", "mid", "stl",
)
_EXT_RE = re.compile(r"\.(" + "|".join(FILE_EXTENSIONS) + r")$", re.IGNORECASE)
#: a page whose text holds no file extension shows no image: not worth parsing (most stubs)
_ANY_FILE_RE = re.compile(r"\.(?:" + "|".join(FILE_EXTENSIONS) + r")\b", re.IGNORECASE)
_WIDTH_RE = re.compile(r"^(?:\d+|\d*x\d+)\s*(?:" + "|".join(map(re.escape, WIDTH_UNITS)) + r")$", re.IGNORECASE)
_NUMBERED_RE = re.compile(r"^(.*?)[ _]?(\d+)$")
_NUMBER_RE = re.compile(r"^\d+(?:[.,]\d+)?$")
_WS_RE = re.compile(r"\s+")
#: what no caption may keep (the gate checks the same list)
_LEFTOVER_RE = re.compile(r"\[\[|\]\]|\{\{|\}\}|'''?|\{\||\|\}")
#: templates that only display (some of) their arguments: name → which positional argument
#: (0 = the last one); everything else is removed
DISPLAY_TEMPLATES: dict[str, int] = {
    "lang": 0, "nowrap": 1, "nobr": 1, "small": 1, "smaller": 1, "big": 1, "larger": 1,
    "center": 1, "centre": 1, "transl": 0, "transliteration": 0, "ill": 1, "interlanguage link": 1,
    "not a typo": 1, "sic": 0, "abbr": 1, "nihongo": 1, "lang-rtl": 0, "rtl-lang": 0, "script": 0,
    "font color": 0, "color": 0, "colour": 0, "nastaliq": 1, "korean": 1, "zh": 0, "bdi": 0,
    "noitalic": 1, "ns": 1, "no italic": 1, "val": 1, "w": 0,
}
#: templates that stand for a character
CHAR_TEMPLATES: dict[str, str] = {
    "nbsp": " ", "snd": " – ", "spaced ndash": " – ", "ndash": "–", "mdash": "—", "'": "'",
    "''": "", "!": "|", "=": "=", "·": " · ", "dot": " · ", "•": " • ", "bull": " • ", "-": "",
    "'s": "'s", "shy": "",
}
#: tags whose content is not caption text
_DROP_TAGS = frozenset({"ref", "references", "math", "chem", "score", "gallery", "templatestyles", "syntaxhighlight",
                        "graph", "mapframe", "maplink", "timeline", "imagemap", "hiero", "ce", "section", "indicator"})


@dataclass(frozen=True)
class ImageCaption:
    """One image occurrence in an article."""

    position: int
    file_name: str
    caption: str | None
    alt: str | None
    source: str  # link | gallery | infobox


# --------------------------------------------------------------------------- names
def normalise_file_name(title: str, aliases: Aliases | None = None) -> str | None:
    """``File:foo bar.jpg`` / ``foo_bar.jpg`` / ``Datei:Foo%20bar.jpg`` → ``Foo_bar.jpg``.

    The namespace prefix (any alias) is dropped, ``%xx`` and HTML entities decoded, spaces
    and runs of underscores become one underscore and the first letter is upper-cased
    (MediaWiki's ``$wgCapitalLinks``, on for every Wikimedia file namespace).  None when
    nothing is left or the name holds characters a title cannot.
    """
    aliases = aliases or aliases_for(None)
    text = html.unescape(title)
    if "%" in text:
        text = unquote(text)
    text = text.split("#", 1)[0].strip()
    prefix, sep, rest = text.partition(":")
    if sep and _fold(prefix) in aliases.file_namespaces:
        text = rest
    text = _WS_RE.sub(" ", text.replace("_", " ")).strip()
    if not text or any(c in text for c in "[]{}|<>"):
        return None
    text = text.replace(" ", "_")
    return text[0].upper() + text[1:]


def _fold(word: str) -> str:
    return word.replace("_", " ").strip().casefold()


def is_file_title(title: str, aliases: Aliases) -> bool:
    """Whether a link target is an image (``File:X``, localized), not ``:File:X``."""
    text = title.strip()
    if text.startswith(":"):
        return False
    prefix, sep, _ = text.partition(":")
    return bool(sep) and _fold(prefix) in aliases.file_namespaces


# --------------------------------------------------------------------------- plain text
def plain_text(code: Wikicode | str | None, aliases: Aliases | None = None) -> str:
    """Wikitext → display text (see the module docstring); never raises on odd input."""
    if code is None:
        return ""
    if isinstance(code, str):
        code = mwparserfromhell.parse(code)
    aliases = aliases or aliases_for(None)
    out: list[str] = []
    _plain(code, aliases, out)
    text = "".join(out)
    text = _LEFTOVER_RE.sub("", text)  # unpaired markup MediaWiki would print as is
    return _WS_RE.sub(" ", text).strip()


def _plain(code: Wikicode, aliases: Aliases, out: list[str]) -> None:
    for node in code.nodes:
        if isinstance(node, Text):
            out.append(str(node.value))
        elif isinstance(node, Wikilink):
            title = str(node.title).strip()
            if is_file_title(title, aliases) or _fold(title.partition(":")[0]) in {"category", "kategorie", "catégorie", "categoría", "categoria", "categorie", "kategoria", "категория"}:
                continue  # an image or a category link shows no text here
            if node.text is not None:
                _plain(node.text, aliases, out)
            else:
                out.append(title.lstrip(":").split("#", 1)[0] or title.lstrip(":"))
        elif isinstance(node, Template):
            _template_text(node, aliases, out)
        elif isinstance(node, Tag):
            tag = str(node.tag).strip().lower()
            if tag in _DROP_TAGS:
                continue
            if tag in {"br", "hr"}:
                out.append(" ")
            elif tag == "nowiki":
                out.append(str(node.contents) if node.contents is not None else "")
            elif node.contents is not None:
                _plain(node.contents, aliases, out)
        elif isinstance(node, HTMLEntity):
            out.append(node.normalize())
        elif isinstance(node, ExternalLink):
            if node.title is not None:
                _plain(node.title, aliases, out)
        elif isinstance(node, Heading):
            _plain(node.title, aliases, out)
        elif isinstance(node, Comment):
            continue
        else:  # Argument ({{{1|default}}}) and anything new: its default text, if any
            default = getattr(node, "default", None)
            if isinstance(default, Wikicode):
                _plain(default, aliases, out)


def _template_text(node: Template, aliases: Aliases, out: list[str]) -> None:
    name = _WS_RE.sub(" ", str(node.name).strip().replace("_", " ")).lower()
    if name.startswith("template:"):
        name = name[len("template:"):]
    if name in CHAR_TEMPLATES:
        out.append(CHAR_TEMPLATES[name])
        return
    which = DISPLAY_TEMPLATES.get(name)
    if which is None and name.startswith("lang-"):
        which = 1
    if which is None:
        return
    positional = [p for p in node.params if not p.showkey]
    if not positional:
        return
    chosen = positional[-1] if which == 0 else (positional[which - 1] if len(positional) >= which else None)
    if chosen is not None:
        _plain(chosen.value, aliases, out)


# --------------------------------------------------------------------------- image options
def split_params(code: Wikicode) -> list[Wikicode]:
    """Split a link's text on its own top-level ``|`` (nested links/templates stay whole)."""
    parts: list[list[Any]] = [[]]
    for node in code.nodes:
        if isinstance(node, ExternalLink) and not node.brackets and "|" in str(node):
            node = Text(str(node))  # mwparserfromhell lets a free URL run over the "|"
        if isinstance(node, Text) and "|" in node.value:
            pieces = str(node.value).split("|")
            if pieces[0]:
                parts[-1].append(Text(pieces[0]))
            for piece in pieces[1:]:
                parts.append([Text(piece)] if piece else [])
        else:
            parts[-1].append(node)
    return [Wikicode(nodes) for nodes in parts]


def classify(param: Wikicode, aliases: Aliases) -> tuple[str, Wikicode | None]:
    """``("alt", value)``, ``("option", None)`` or ``("caption", param)`` for one parameter."""
    nodes = [n for n in param.nodes if not isinstance(n, Comment)]
    text = "".join(str(n) for n in nodes).strip()
    folded = _fold(text)
    if not folded:
        return "option", None
    param = Wikicode(nodes)
    if folded in aliases.flags or _WIDTH_RE.match(text.replace(" ", "")):
        return "option", None
    word, _, number = folded.partition(" ")
    if number and _NUMBER_RE.match(number) and word in aliases.option_keys:
        return "option", None  # "page 3", "upright 1.2": the "word $1" forms
    first = param.nodes[0] if param.nodes else None
    if isinstance(first, Text) and "=" in first.value:
        key, _, rest = str(first.value).partition("=")
        fkey = _fold(key)
        if fkey in aliases.alt_keys:
            return "alt", Wikicode([Text(rest), *param.nodes[1:]])
        if fkey in aliases.option_keys:
            return "option", None
    return "caption", param


def _image_params(params: list[Wikicode], aliases: Aliases) -> tuple[Wikicode | None, Wikicode | None]:
    caption: Wikicode | None = None
    alt: Wikicode | None = None
    for param in params:
        kind, value = classify(param, aliases)
        if kind == "alt":
            alt = value
        elif kind == "caption":
            caption = value  # the last one wins, as in Parser::makeImage
    return caption, alt


def _text_or_none(code: Wikicode | None, aliases: Aliases) -> str | None:
    text = plain_text(code, aliases) if code is not None else ""
    return text or None


# --------------------------------------------------------------------------- extraction
def extract(wikitext: str, *, wiki: str | None = None) -> list[ImageCaption]:
    """Every image of an article's wikitext with its caption and alt text, in article order."""
    if not wikitext or not _ANY_FILE_RE.search(wikitext):
        return []  # every file title has an extension: no extension, no image
    aliases = aliases_for(wiki)
    code = mwparserfromhell.parse(wikitext, skip_style_tags=False)
    found: list[tuple[str, str | None, str | None, str]] = []
    _walk(code, aliases, found)
    return [ImageCaption(i, name, caption, alt, source) for i, (name, caption, alt, source) in enumerate(found)]


def iter_extract(pages: Any, *, wiki: str | None = None) -> Iterator[tuple[int, ImageCaption]]:
    """``(page_id, wikitext)`` pairs → ``(page_id, ImageCaption)`` rows."""
    for page_id, text in pages:
        for item in extract(text, wiki=wiki):
            yield int(page_id), item


def _walk(code: Wikicode, aliases: Aliases, found: list[tuple[str, str | None, str | None, str]]) -> None:
    for node in code.nodes:
        if isinstance(node, Wikilink):
            title = str(node.title)
            if is_file_title(title, aliases):
                name = normalise_file_name(title, aliases)
                params = split_params(node.text) if node.text is not None else []
                caption, alt = _image_params(params, aliases)
                if name is not None:
                    found.append((name, _text_or_none(caption, aliases), _text_or_none(alt, aliases), "link"))
                for param in params:  # an image inside a caption is an image too
                    _walk(param, aliases, found)
            elif node.text is not None:
                _walk(node.text, aliases, found)
        elif isinstance(node, Template):
            _infobox(node, aliases, found)
        elif isinstance(node, Tag):
            tag = str(node.tag).strip().lower()
            if tag == "gallery":
                _gallery(str(node.contents or ""), aliases, found)
            elif tag not in {"nowiki", "pre", "syntaxhighlight", "source", "math"} and node.contents is not None:
                _walk(node.contents, aliases, found)
        elif isinstance(node, Heading):
            _walk(node.title, aliases, found)


def _gallery(contents: str, aliases: Aliases, found: list[tuple[str, str | None, str | None, str]]) -> None:
    for line in contents.splitlines():
        line = line.strip()
        if not line or line.startswith("<!--"):
            continue
        params = split_params(mwparserfromhell.parse(line))
        title = str(params[0]).strip()
        if not title or title.startswith(":"):
            continue
        prefix, sep, _ = title.partition(":")
        if sep and _fold(prefix) not in aliases.file_namespaces:
            continue  # another namespace: MediaWiki skips the line
        name = normalise_file_name(title, aliases)
        if name is None:
            continue
        caption, alt = _image_params(params[1:], aliases)
        found.append((name, _text_or_none(caption, aliases), _text_or_none(alt, aliases), "gallery"))


def _param_key(param: Parameter) -> tuple[str, str]:
    """``"image_caption2"`` → ``("image_caption", "2")``; ``"Bild"`` → ``("bild", "")``."""
    key = _WS_RE.sub(" ", str(param.name).strip().replace("_", " ")).casefold()
    m = _NUMBERED_RE.match(key)
    if m and m.group(1):
        return m.group(1).strip(), m.group(2)
    return key, ""


def _fold_set(words: frozenset[str]) -> frozenset[str]:
    return frozenset(_fold(w) for w in words)


_IMAGE_KEYS = _fold_set(INFOBOX_IMAGE_PARAMS)
_CAPTION_KEYS = _fold_set(INFOBOX_CAPTION_PARAMS)
_ALT_KEYS = _fold_set(INFOBOX_ALT_PARAMS)
_OWN_CAPTION = {_fold(k): (_fold(c), _fold(a)) for k, (c, a) in INFOBOX_OWN_CAPTION_IMAGES.items()}


def _infobox(node: Template, aliases: Aliases, found: list[tuple[str, str | None, str | None, str]]) -> None:
    """A template's images, in parameter order: bare-name image parameters become infobox
    rows; every other parameter is walked (a ``[[File:…]]`` value becomes a link row that
    takes the infobox caption/alt when it has none of its own)."""
    name = _WS_RE.sub(" ", str(node.name).strip().replace("_", " ")).casefold()
    if name in POSITIONAL_IMAGE_TEMPLATES:
        _positional_template(node, name, aliases, found)
        return
    captions: dict[str, Wikicode] = {}
    alts: dict[str, Wikicode] = {}
    named: dict[str, Wikicode] = {}
    for param in node.params:
        if param.showkey:
            named.setdefault(_fold(_WS_RE.sub(" ", str(param.name))), param.value)
            base, number = _param_key(param)
            if base in _CAPTION_KEYS:
                captions.setdefault(number, param.value)
            elif base in _ALT_KEYS:
                alts.setdefault(number, param.value)

    def texts(number: str, base: str = "") -> tuple[str | None, str | None]:
        if base in _OWN_CAPTION:
            caption_key, alt_key = _OWN_CAPTION[base]
            return _text_or_none(named.get(caption_key), aliases), _text_or_none(named.get(alt_key), aliases)
        other = "1" if number == "" else "" if number == "1" else None
        caption = captions.get(number) or (captions.get(other) if other is not None else None)
        alt = alts.get(number) or (alts.get(other) if other is not None else None)
        return _text_or_none(caption, aliases), _text_or_none(alt, aliases)

    for param in node.params:
        base, number = _param_key(param) if param.showkey else ("", "")
        is_image = base in _IMAGE_KEYS or base in _OWN_CAPTION
        value = param.value
        if is_image and not any(isinstance(n, (Wikilink, Template, Tag)) for n in value.nodes):
            text = "".join(str(n) for n in value.nodes if not isinstance(n, Comment)).strip()
            file = normalise_file_name(text, aliases) if text and _EXT_RE.search(text) else None
            if file is not None:
                found.append((file, *texts(number, base), "infobox"))
            continue
        before = len(found)
        _walk(value, aliases, found)
        if is_image and len(found) > before:
            file, caption, alt, source = found[before]
            own_caption, own_alt = texts(number, base)
            found[before] = (file, caption or own_caption, alt or own_alt, source)


#: templates that take files as positional parameters: name → (file, caption) positions
#: (1-based; ``{{Gallery}}`` repeats file/caption pairs)
POSITIONAL_IMAGE_TEMPLATES: dict[str, tuple[int, int]] = {
    "wide image": (1, 3), "panorama": (1, 3), "tall image": (1, 3), "gallery": (1, 2), "image frame": (0, 0),
}


def _positional_template(node: Template, name: str, aliases: Aliases,
                         found: list[tuple[str, str | None, str | None, str]]) -> None:
    positional = [p.value for p in node.params if not p.showkey]
    named = {_param_key(p)[0]: p.value for p in node.params if p.showkey}
    if name == "gallery":
        for i in range(0, len(positional), 2):
            title = str(positional[i]).strip()
            file = normalise_file_name(title, aliases) if _EXT_RE.search(title) else None
            if file is not None:
                caption = positional[i + 1] if i + 1 < len(positional) else None
                found.append((file, _text_or_none(caption, aliases), None, "gallery"))
        return
    if name == "image frame":
        content = named.get("content")
        if content is not None:
            before = len(found)
            _walk(content, aliases, found)
            if len(found) > before and found[before][1] is None:
                file, _, alt, source = found[before]
                found[before] = (file, _text_or_none(named.get("caption"), aliases), alt, source)
        return
    file_pos, caption_pos = POSITIONAL_IMAGE_TEMPLATES[name]
    if len(positional) < file_pos:
        return
    title = str(positional[file_pos - 1]).strip()
    file = normalise_file_name(title, aliases) if _EXT_RE.search(title) else None
    if file is None:
        return
    caption = positional[caption_pos - 1] if len(positional) >= caption_pos else named.get("caption")
    found.append((file, _text_or_none(caption, aliases), _text_or_none(named.get("alt"), aliases), "infobox"))

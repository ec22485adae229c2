"""Article wikitext, image captions and multilingual file captions of the sample wiki.

Additive to the generator: nothing here changes the tables, events, files or metadata the
generator makes (its digest and every existing dataset stay byte-identical).  Everything is a
pure function of the sample (its seed, the page's state on a day, the file's rendered
version), drawn from its own random streams ``(seed, "captions", …)``.

* :func:`article_wikitext` — the wikitext of an article on a day: an infobox with the first
  content image (half the illustrated articles), ``[[File:…|thumb|…]]`` links, a
  ``<gallery>`` for some images, flag icons as ``[[File:Flag_of_X.svg|20px|border]]``,
  maintenance icons only through templates (``{{Unreferenced}}``: their imagelinks come
  from template expansion, invisible in the wikitext — as on Wikipedia), red links.
  About 55 % of content images get a caption, ≈18 % alt text, and a fifth of the alt texts
  are bad (the file name, "image", "photograph", "thumbnail").
* Captions **say what the image shows**: they are built from
  :func:`wikivis.sample.images.visual_facts` (how many objects, their main colour, light or
  dark background) and the topic, with links, italics and ``{{lang}}`` templates mixed in.
* :func:`file_labels` — Commons structured-data captions (MediaInfo labels) of a file in
  en/de/fr/es (≈65 % of files; some in only one language), and :func:`file_descriptions` —
  ``ImageDescription`` per language (English always, German/French for some files).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from typing import TYPE_CHECKING

from wikivis.sample.images import VisualFacts, visual_facts

if TYPE_CHECKING:
    from wikivis.sample.generator import SampleWiki

LANGUAGES = ("en", "de", "fr", "es")
CAPTION_RATE = 0.55
ALT_RATE = 0.18
BAD_ALT_RATE = 0.2
GALLERY_RATE = 0.2
INFOBOX_RATE = 0.5
LABEL_RATE = 0.65
BAD_ALTS = ("image", "photograph", "thumbnail", "picture", "Image")

#: topic → noun (singular, plural) per language
NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "birds": {"en": ("bird", "birds"), "de": ("Vogel", "Vögel"), "fr": ("oiseau", "oiseaux"), "es": ("ave", "aves")},
    "mountains": {"en": ("peak", "peaks"), "de": ("Gipfel", "Gipfel"), "fr": ("sommet", "sommets"), "es": ("pico", "picos")},
    "architecture": {"en": ("building", "buildings"), "de": ("Gebäude", "Gebäude"), "fr": ("bâtiment", "bâtiments"),
                     "es": ("edificio", "edificios")},
    "ships": {"en": ("ship", "ships"), "de": ("Schiff", "Schiffe"), "fr": ("navire", "navires"), "es": ("barco", "barcos")},
    "flowers": {"en": ("flower", "flowers"), "de": ("Blume", "Blumen"), "fr": ("fleur", "fleurs"), "es": ("flor", "flores")},
    "insects": {"en": ("insect", "insects"), "de": ("Insekt", "Insekten"), "fr": ("insecte", "insectes"),
                "es": ("insecto", "insectos")},
    "paintings": {"en": ("brush stroke", "brush strokes"), "de": ("Pinselstrich", "Pinselstriche"),
                  "fr": ("coup de pinceau", "coups de pinceau"), "es": ("pincelada", "pinceladas")},
    "bridges": {"en": ("arch", "arches"), "de": ("Bogen", "Bögen"), "fr": ("arche", "arches"), "es": ("arco", "arcos")},
    "cars": {"en": ("car", "cars"), "de": ("Auto", "Autos"), "fr": ("voiture", "voitures"), "es": ("coche", "coches")},
    "maps": {"en": ("region", "regions"), "de": ("Gebiet", "Gebiete"), "fr": ("région", "régions"), "es": ("región", "regiones")},
    "icons": {"en": ("symbol", "symbols"), "de": ("Symbol", "Symbole"), "fr": ("symbole", "symboles"), "es": ("símbolo", "símbolos")},
}
COLOURS: dict[str, dict[str, str]] = {
    "red": {"de": "rot", "fr": "rouge", "es": "rojo"}, "orange": {"de": "orange", "fr": "orange", "es": "naranja"},
    "yellow": {"de": "gelb", "fr": "jaune", "es": "amarillo"}, "green": {"de": "grün", "fr": "vert", "es": "verde"},
    "blue": {"de": "blau", "fr": "bleu", "es": "azul"}, "pink": {"de": "rosa", "fr": "rose", "es": "rosa"},
    "brown": {"de": "braun", "fr": "brun", "es": "marrón"}, "grey": {"de": "grau", "fr": "gris", "es": "gris"},
    "black": {"de": "schwarz", "fr": "noir", "es": "negro"}, "white": {"de": "weiß", "fr": "blanc", "es": "blanco"},
}
NUMBERS = {"en": ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
           "de": ("ein", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
           "fr": ("un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
           "es": ("un", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")}
MANY = {"en": "many", "de": "viele", "fr": "de nombreux", "es": "muchos"}
TONES = {"en": {"light": "on a light background", "dark": "on a dark background"},
         "de": {"light": "vor hellem Hintergrund", "dark": "vor dunklem Hintergrund"},
         "fr": {"light": "sur fond clair", "dark": "sur fond sombre"},
         "es": {"light": "sobre fondo claro", "dark": "sobre fondo oscuro"}}
MAINTENANCE_TEMPLATES = {"Question_book-new.svg": "{{Unreferenced}}", "Edit-clear.svg": "{{Cleanup}}",
                         "Wiki_letter_w.svg": "{{Expand}}"}

_FACTS: dict[tuple[int, str], VisualFacts] = {}
_FACTS_LOCK = threading.Lock()


def _rng(seed: int, *purpose: object) -> random.Random:
    digest = hashlib.sha256(json.dumps([seed, "captions", *purpose], default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def facts(sample: SampleWiki, name: str, day: int | None = None) -> VisualFacts | None:
    """What the file's version on ``day`` shows; None for a file the sample does not have."""
    try:
        sha1 = sample.file_sha1(name, day)
    except Exception:
        return None
    key = (id(sample), sha1)
    with _FACTS_LOCK:
        hit = _FACTS.get(key)
    if hit is None:
        hit = visual_facts(sample._specs[sha1])
        with _FACTS_LOCK:
            _FACTS[key] = hit
    return hit


def describe(f: VisualFacts, lang: str = "en", *, tone: bool = True) -> str:
    """``two orange birds on a light background`` (``zwei orange Vögel …``)."""
    singular, plural = NOUNS.get(f.topic, NOUNS["icons"])[lang]
    colour = f.colour if lang == "en" else COLOURS[f.colour][lang]
    if f.count == 1:
        words = [NUMBERS[lang][0] if lang != "en" else "a", colour, singular]
        if lang == "en" and colour[0] in "aeiou":
            words[0] = "an"
    else:
        count = NUMBERS[lang][f.count - 1] if f.count <= 9 else MANY[lang]
        words = [count, colour, plural]
    if lang in ("fr", "es"):  # the adjective follows the noun
        words = [words[0], words[2], words[1]]
    text = " ".join(words)
    return f"{text} {TONES[lang][f.tone]}" if tone else text


def _caption_wikitext(rng: random.Random, f: VisualFacts, page_title: str) -> str:
    text = describe(f)
    text = text[0].upper() + text[1:]
    style = rng.random()
    if style < 0.25:
        return f"{text}, in [[{page_title.replace('_', ' ')}]]"
    if style < 0.4:
        noun = NOUNS.get(f.topic, NOUNS["icons"])["fr"][1 if f.count > 1 else 0]
        return f"{text} ({{{{lang|fr|''{noun}''}}}})"
    if style < 0.5:
        return f"''{text}''<ref>{{{{cite web|title=Sample|url=https://example.org}}}}</ref>"
    if style < 0.55:
        return f"'''{text}''' — [[{f.topic.capitalize()}|{f.topic}]] {{{{nowrap|{{{{lang|de|{describe(f, 'de', tone=False)}}}}}}}}}"
    return text


def _alt(rng: random.Random, f: VisualFacts, name: str) -> str | None:
    if rng.random() >= ALT_RATE:
        return None
    if rng.random() < BAD_ALT_RATE:
        return rng.choice((name, name.replace("_", " "), *BAD_ALTS))
    return f"Photo of {describe(f)}" if rng.random() < 0.5 else _upper_first(describe(f))


def article_wikitext(sample: SampleWiki, page_id: int, day: int | None = None) -> str | None:
    """The article's wikitext on ``day`` (default: the last day); None when it has no page."""
    from wikivis.sample.generator import SHARED_ICONS

    day = sample.n_days if day is None else day
    page = sample._models[day].pages.get(page_id)
    if page is None:
        return None
    title = page.title.replace("_", " ")
    if page.is_redirect:
        return "#REDIRECT [[Main Page]]"
    rng = _rng(sample.seed, "page", page_id)
    lines: list[str] = []
    icons = set(SHARED_ICONS)
    content = [n for n in page.images if n not in icons]
    templates = [MAINTENANCE_TEMPLATES[n] for n in page.images if n in MAINTENANCE_TEMPLATES]
    lines += templates
    infobox_image = content[0] if content and rng.random() < INFOBOX_RATE else None
    in_gallery = {n for n in content[1:] if _rng(sample.seed, "gallery", page_id, n).random() < GALLERY_RATE}
    flags = [n for n in page.images if n.startswith("Flag_of_")]
    if infobox_image is not None or flags:
        params = [f"{{{{Infobox {page.topic or 'thing'}", f"| name = {title}"]
        if infobox_image is not None:
            caption, alt = _image_texts(sample, infobox_image, page_id, title, day)
            params.append(f"| image = {infobox_image.replace('_', ' ')}")
            if caption is not None:
                params.append(f"| image_caption = {caption}")
            if alt is not None:
                params.append(f"| alt = {alt}")
        for flag in flags:
            params.append(f"| country = [[File:{flag}|20px|border|link=]] {flag[8:-4].replace('_', ' ')}")
        lines.append("\n".join(params) + "\n}}")
    lines.append(f"'''{title}''' is an article of the sample wiki about [[{(page.topic or 'things').capitalize()}]].")
    gallery: list[str] = []
    for name in page.images:
        if (name in icons and (name in MAINTENANCE_TEMPLATES or name.startswith("Flag_of_"))) or name == infobox_image:
            continue
        caption, alt = _image_texts(sample, name, page_id, title, day)
        if name in in_gallery:
            gallery.append(name + (f"|{caption}" if caption else "") + (f"|alt={alt}" if alt else ""))
            continue
        if name in icons:
            lines.append(f"[[File:{name}|16px|link=]] See also the map.")
            continue
        r = _rng(sample.seed, "layout", page_id, name)
        options = ["thumb"]
        if r.random() < 0.3:
            options.append(r.choice(("left", "right", "upright=1.2", "200px", "center", "frameless|upright")))
        if r.random() < 0.1:
            options.append("class=skin-invert")
        if alt is not None:
            options.insert(r.randint(0, len(options)), f"alt={alt}")
        link = f"[[File:{name.replace('_', ' ') if r.random() < 0.5 else name}|{'|'.join(options)}"
        lines.append(link + (f"|{caption}]]" if caption else "]]"))
        lines.append(f"The {title} section {len(lines)} text.")
    if gallery:
        lines.append("== Gallery ==\n<gallery>\n" + "\n".join(f"File:{g}" for g in gallery) + "\n</gallery>")
    for category in page.categories:
        lines.append(f"[[Category:{category.replace('_', ' ')}]]")
    return "\n\n".join(lines) + "\n"


def _image_texts(sample: SampleWiki, name: str, page_id: int, title: str, day: int) -> tuple[str | None, str | None]:
    rng = _rng(sample.seed, "image", page_id, name)
    f = facts(sample, name, day)
    if f is None:  # a red link: nothing to see, sometimes still a caption
        return ("Missing photo" if rng.random() < 0.5 else None), None
    caption = _caption_wikitext(rng, f, title) if rng.random() < CAPTION_RATE else None
    return caption, _alt(rng, f, name)


def file_labels(sample: SampleWiki, name: str) -> dict[str, str]:
    """MediaInfo labels (Commons "captions") of the file's current version, by language."""
    f = facts(sample, name)
    if f is None or f.topic == "icons":
        return {}
    rng = _rng(sample.seed, "labels", name)
    if rng.random() >= LABEL_RATE:
        return {}
    langs = ["en"] + [lang for lang in LANGUAGES[1:] if rng.random() < 0.6]
    if rng.random() < 0.1:
        langs = [rng.choice(LANGUAGES[1:])]  # captioned in one other language only
    out = {}
    for lang in langs:
        text = describe(f, lang)
        out[lang] = text[0].upper() + text[1:]
    return out


def file_descriptions(sample: SampleWiki, name: str) -> dict[str, str]:
    """``ImageDescription`` by language: the English one the mirror always had, and German
    and French ones (the same facts) for some files."""
    info = sample.file_info.get(name)
    if info is None:
        return {}
    out = {"en": str(info["description"])}
    f = facts(sample, name)
    if f is None or f.topic == "icons":
        return out
    rng = _rng(sample.seed, "descriptions", name)
    for lang in ("de", "fr"):
        if rng.random() < 0.4:
            out[lang] = _upper_first(describe(f, lang))
    return out


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]

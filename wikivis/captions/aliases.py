"""Every localized name of the File namespace and of the image-syntax magic words, in one place.

Where this comes from: MediaWiki core's ``languages/messages/Messages<Xx>.php`` —
``$namespaceNames[NS_FILE]`` and ``$namespaceAliases`` (the File namespace's local name and
its old ``Image`` names), and ``$magicWords`` for the ``img_*`` words that
``Parser::makeImage`` recognises inside ``[[File:…|…]]`` and gallery lines (``img_thumbnail``,
``img_manualthumb``, ``img_framed``, ``img_frameless``, ``img_border``, ``img_upright``,
the alignments, ``img_width``, ``img_link``, ``img_alt``, ``img_class``, ``img_lang``,
``img_page``) plus TimedMediaHandler's ``img_thumbtime``/``img_starttime``/``img_endtime``.
Transcribed by hand for en, de, fr, es, it, nl, pl, ru, ja, zh, ar, he, pt, sv and af (the
``$1`` of a parameter word is the ``=value`` part; the ``word $1`` forms, e.g. ``page 3`` or
``hochkant 1.2``, are matched as a parameter word followed by a number).  The German,
French and Russian words were checked against copies of ``MessagesDe.php``,
``MessagesFr.php`` and ``MessagesRu.php``; the others are from memory of those files — compare with them when touching a language.  Two MediaWiki rules matter here:

* The **English (canonical) forms work on every wiki** (``File:``, ``Image:``, ``thumb``,
  ``alt=`` …): a wiki's words are its own language's plus English's.  An unknown wiki
  (``samplewiki``) accepts every language's words.
* The image words are **case-sensitive** in MediaWiki (``Thumb`` is a caption); namespace
  names are case-insensitive.  Matching here lower-cases both, the usual tolerant choice of
  wikitext tools (a caption that is exactly ``Thumb`` is not worth keeping).

Infobox parameter names are not magic words: they are each template's own (``image``,
``image_caption``, ``Bild``, ``légende``, ``pie de imagen`` …); :data:`INFOBOX_IMAGE_PARAMS`,
:data:`INFOBOX_CAPTION_PARAMS` and :data:`INFOBOX_ALT_PARAMS` list the common ones of the big
Wikipedias' infoboxes and of ``{{Multiple image}}`` (numbered: ``image2``/``caption2``/``alt2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

#: language → local names (and aliases) of namespace 6; "File" and "Image" are canonical
FILE_NAMESPACE: dict[str, tuple[str, ...]] = {
    "en": ("File", "Image"),
    "de": ("Datei", "Bild"),
    "fr": ("Fichier", "Image"),
    "es": ("Archivo", "Imagen"),
    "it": ("File", "Immagine"),
    "nl": ("Bestand", "Afbeelding"),
    "pl": ("Plik", "Grafika"),
    "ru": ("Файл", "Изображение"),
    "ja": ("ファイル", "画像"),
    "zh": ("File", "文件", "档案", "檔案", "图像", "圖像", "图片", "圖片"),
    "ar": ("ملف", "صورة"),
    "he": ("קובץ", "תמונה"),
    "pt": ("Ficheiro", "Arquivo", "Imagem"),
    "sv": ("Fil", "Bild"),
    "af": ("Lêer", "Beeld"),
}

#: language → image option words without a value (thumb, frame, frameless, border,
#: upright, alignments and vertical alignments)
IMAGE_FLAGS: dict[str, tuple[str, ...]] = {
    "en": (
        "thumb", "thumbnail", "frame", "framed", "enframed", "frameless", "border", "upright",
        "right", "left", "none", "center", "centre",
        "baseline", "sub", "super", "sup", "top", "text-top", "middle", "bottom", "text-bottom",
    ),
    "de": (
        "mini", "miniatur", "gerahmt", "rahmenlos", "rand", "hochkant", "rechts", "links", "ohne",
        "zentriert", "grundlinie", "tiefgestellt", "tief", "hochgestellt", "hoch", "oben", "text-oben", "mitte",
        "unten", "text-unten",
    ),
    "fr": (
        "vignette", "cadre", "encadré", "encadre", "sans_cadre", "non_encadré", "non_encadre",
        "bordure", "redresse", "droite", "gauche", "néant", "neant", "centré", "ligne de base", "base",
        "indice", "ind", "exposant", "exp", "haut", "haut-texte", "haut-txt", "milieu", "bas", "bas-texte", "bas-txt",
    ),
    "es": (
        "miniaturadeimagen", "miniatura", "mini", "marco", "enmarcado", "encuadro", "sinmarco",
        "sin_enmarcar", "sinenmarcar", "borde", "vertical", "derecha", "der", "izquierda", "izda",
        "izq", "no", "ninguna", "nada", "ninguno", "centro", "centrado", "arriba", "medio", "abajo",
    ),
    "it": (
        "miniatura", "mini", "riquadrato", "incorniciato", "senza_cornice", "bordo", "verticale",
        "destra", "sinistra", "nessuno", "centro", "alto", "basso",
    ),
    "nl": (
        "miniatuur", "kader", "omkaderd", "kaderloos", "rand", "rechtop", "rechts", "links", "geen",
        "gecentreerd", "midden", "boven", "beneden",
    ),
    "pl": ("mały", "miniatura", "ramka", "bezramki", "obramowanie", "pionowo", "prawo", "lewo", "brak", "centruj"),
    "ru": (
        "мини", "миниатюра", "обрамить", "безрамки", "граница", "сверхусправа", "справа", "слева", "без",
        "центр", "основание", "под", "над", "сверху", "текст-сверху", "посередине", "снизу", "текст-снизу",
    ),
    "ja": ("サムネイル", "サムネ", "縮小", "フレーム", "フレームなし", "境界", "右上", "右", "左", "なし", "無し", "中央"),
    "zh": ("缩略图", "縮圖", "有框", "无框", "無框", "边框", "邊框", "右", "左", "无", "無", "居中", "置中"),
    "ar": ("تصغير", "مصغر", "إطار", "بإطار", "إطار_ناقص", "لاإطار", "حدود", "معدول", "يمين", "يسار", "بدون", "بلا", "مركز", "وسط"),
    "he": ("ממוזער", "ממוסגר", "מסגרת", "ללא מסגרת", "לא ממוסגר", "גבולות", "גבול", "זקוף", "ימין", "שמאל", "ללא", "מרכז"),
    "pt": ("miniaturadaimagem", "miniatura", "moldura", "semmoldura", "borda", "superior", "direita", "esquerda", "nenhum", "centro"),
    "sv": ("miniatyr", "ram", "ramlös", "kantlinje", "höger", "vänster", "ingen", "centrerad"),
    "af": ("duimnael", "raam", "raamloos", "grens", "regop", "regs", "links", "geen", "gesentreer"),
}

#: language → ``key=`` forms of ``img_alt``
ALT_KEYS: dict[str, tuple[str, ...]] = {
    "en": ("alt",),
    "de": ("alternativtext", "alt"),
    "fr": ("alt",),
    "es": ("alt",),
    "it": ("alt",),
    "nl": ("alt",),
    "pl": ("alt",),
    "ru": ("альт",),
    "ja": ("代替文", "代替テキスト", "代替"),
    "zh": ("替代", "替代文本", "替換文字"),
    "ar": ("بديل",),
    "he": ("טקסט",),
    "pt": ("alt",),
    "sv": ("alt",),
    "af": ("alt",),
}

#: language → ``key=`` forms of the other valued options (link, upright=, thumb=, class,
#: lang, page, thumbtime/start/end); their values are never the caption
OPTION_KEYS: dict[str, tuple[str, ...]] = {
    "en": (
        "link", "upright", "thumb", "thumbnail", "class", "lang", "page", "thumbtime", "start", "end",
        "lossy", "loop", "muted",
    ),
    "de": ("verweis", "hochkant", "mini", "miniatur", "klasse", "sprache", "seite"),
    "fr": ("lien", "redresse", "vignette", "classe", "langue"),
    "es": ("vínculo", "vinculo", "enlace", "vertical", "miniatura", "mini", "clase", "idioma", "página", "pagina"),
    "it": ("collegamento", "verticale", "miniatura", "mini", "classe", "lingua", "pagina"),
    "nl": ("koppeling", "verwijzing", "rechtop", "miniatuur", "klasse", "taal", "pagina"),
    "pl": ("link", "pionowo", "mały", "miniatura", "klasa", "strona"),
    "ru": ("ссылка", "сверхусправа", "мини", "миниатюра", "страница"),
    "ja": ("リンク", "右上", "サムネイル", "サムネ", "縮小", "クラス", "言語", "ページ"),
    "zh": ("链接", "鏈接", "連結", "缩略图", "縮圖", "类", "類", "语言", "語言", "页", "頁"),
    "ar": ("وصلة", "رابط", "معدول", "تصغير", "مصغر", "فئة", "لغة", "صفحة"),
    "he": ("קישור", "זקוף", "ממוזער", "מחלקה", "שפה", "דף"),
    "pt": ("ligação", "ligacao", "superior", "miniatura", "classe", "língua", "página"),
    "sv": ("länk", "miniatyr", "klass", "språk", "sida"),
    "af": ("skakel", "regop", "duimnael", "klas", "taal", "bladsy"),
}

#: the unit of ``img_width`` (``$1px``) per language, after a number or ``WxH``
WIDTH_UNITS: tuple[str, ...] = ("px", "пкс", "ピクセル", "像素", "بك", "بكسل", "פיקסלים", "piksel")

#: infobox / {{Multiple image}} parameters holding a file (numbered variants are also accepted)
INFOBOX_IMAGE_PARAMS: frozenset[str] = frozenset({
    "image", "image_name", "imagename", "img", "photo", "picture", "image_file",
    "bild", "bilddatei", "image_fichier", "imagen", "immagine", "imagem", "afbeelding", "zdjęcie",
    "grafika", "изображение", "фото", "画像", "图像", "圖像", "صورة", "الصورة", "תמונה", "bildfil",
})
#: other image parameters, each with its own caption/alt parameters (default ``<name>_caption``
#: and ``<name>_alt``): the generic caption of the infobox is not theirs
INFOBOX_OWN_CAPTION_IMAGES: dict[str, tuple[str, str]] = {
    "logo": ("logo_caption", "logo_alt"),
    "cover": ("cover_caption", "cover_alt"),
    "static_image_name": ("static_image_caption", "static_image_alt"),
    "static_image": ("static_image_caption", "static_image_alt"),
    "image_skyline": ("imagecaption_skyline", "image_alt_skyline"),
    "image_map": ("map_caption", "map_alt"),
    "map_image": ("map_caption", "map_alt"),
    "image_flag": ("flag_caption", "flag_alt"),
    "image_seal": ("seal_caption", "seal_alt"),
}
#: parameters holding the caption of that image
INFOBOX_CAPTION_PARAMS: frozenset[str] = frozenset({
    "caption", "image_caption", "imagecaption", "image caption", "legend", "footnote",
    "bildbeschreibung", "bildunterschrift", "légende", "legende", "pie de imagen", "pie_de_imagen",
    "pie", "didascalia", "legenda", "onderschrift", "bijschrift", "opis", "podpis", "подпись",
    "описание изображения", "キャプション", "画像説明", "图像说明", "圖像說明", "说明", "說明",
    "تعليق", "التعليق", "تعليق الصورة", "כיתוב", "bildtext",
})
#: parameters holding its alt text
INFOBOX_ALT_PARAMS: frozenset[str] = frozenset({
    "alt", "image_alt", "imagealt", "image alt", "alt_text", "alttext", "alternativtext",
    "texte alternatif", "alternative", "texto alternativo", "testo alternativo", "alt-tekst",
    "альт", "代替文", "替代文本", "نص بديل", "טקסט חלופי",
})


def _fold(word: str) -> str:
    return word.replace("_", " ").strip().casefold()


@dataclass(frozen=True)
class Aliases:
    """The words one wiki accepts (casefolded, ``_`` read as a space)."""

    file_namespaces: frozenset[str]
    flags: frozenset[str]
    alt_keys: frozenset[str]
    option_keys: frozenset[str]

    @classmethod
    def for_languages(cls, languages: tuple[str, ...]) -> Aliases:
        def pick(table: dict[str, tuple[str, ...]]) -> frozenset[str]:
            return frozenset(_fold(w) for lang in languages for w in table.get(lang, ()))

        return cls(pick(FILE_NAMESPACE), pick(IMAGE_FLAGS), pick(ALT_KEYS), pick(OPTION_KEYS))


def wiki_language(wiki: str) -> str | None:
    """``dewiki`` → ``de``; ``zh_min_nanwiki`` → ``zh-min-nan``; None for non-Wikipedia names."""
    if not wiki.endswith("wiki") or wiki in {"commonswiki", "wikidatawiki", "metawiki", "specieswiki"}:
        return None
    return wiki[: -len("wiki")].replace("_", "-") or None


@cache
def aliases_for(wiki: str | None = None) -> Aliases:
    """English plus the wiki's language; every known language when the wiki's is not in the
    table (the sample wiki, an unknown or multilingual wiki)."""
    lang = wiki_language(wiki) if wiki else None
    if lang in FILE_NAMESPACE:
        return Aliases.for_languages(("en", lang)) if lang != "en" else Aliases.for_languages(("en",))
    return Aliases.for_languages(tuple(FILE_NAMESPACE))

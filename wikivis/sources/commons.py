"""MediaWiki Action API client for Commons (and any wiki's ``api.php``): imageinfo,
page images, category members and file search.

No Airflow, no global state: the client takes an injectable :class:`requests.Session`, a
:class:`~wikivis.sources.http.RetryPolicy` and a shared
:class:`~wikivis.sources.http.ConcurrencyLimiter` (≤ 3 concurrent Action API requests, the
2026 rate-limit etiquette).  Every request goes through :func:`wikivis.sources.http.request`,
which retries 429/5xx and the API's ``maxlag`` error (an HTTP 200!) and honours
``Retry-After``.

API quirks this module deals with:

* **formatversion=2.**  ``query.pages`` is a list, booleans are real booleans
  (``"missing": true``), and ``extmetadata`` values are ``{"value": ..., "source": ...}``.
* **Continuation.**  The response's ``continue`` object is sent back *unchanged* (every key:
  ``continue=||``, ``iicontinue=…``, ``imcontinue=…``, ``cmcontinue=…``, ``sroffset=…``) until
  no ``continue`` comes back.  For ``prop`` modules every round lists *all* the batch's pages
  but only some carry the property, so rounds are merged per page before a page is yielded.
* **Old versions.**  When *one* title is queried and the file has older versions, MediaWiki
  answers with ``continue.iistart=<timestamp of the next older version>`` (``iilimit``
  defaults to 1; with several titles it never does).  Following it walks the file's
  history, one request per old version, each rendering a thumbnail when ``iiurlwidth`` is
  set.  Only the current version matters here: ``iistart`` is dropped from the
  continuation, and a round whose continuation is only ``iistart`` ends the query.
* **Transform cap.**  ``prop=imageinfo`` renders at most 50 thumbnails per request
  (``ApiQueryImageInfo::TRANSFORM_LIMIT``); with ``iiurlwidth`` set, a batch of 50 titles
  may stop early with ``iicontinue``.  Batches are 50 titles (the ``titles`` limit for
  non-bots).
* **Titles.**  The API normalises titles (``File:a b.jpg`` → ``File:A b.jpg``) and reports
  the mapping under ``query.normalized``; results are mapped back to the title the caller
  asked for.  Missing and invalid titles are *values* (:attr:`FileInfo.problem`), not errors.
* **Thumbnail widths.**  Since 2025/26 Wikimedia serves only the standard widths
  (:data:`wikivis.config.STANDARD_THUMB_WIDTHS`); other widths get HTTP 400.  ``iiurlwidth``
  is validated before any request is sent, and the thumbnail URL is always the API's
  ``thumburl``, never constructed.  When the file is *narrower* than the requested width,
  MediaWiki does not upscale bitmaps: ``thumburl`` is then the original file's URL and
  ``thumbwidth`` its width (SVG and other "must render" formats are rendered at any width).
* **extmetadata** values are HTML (``<a href=…>``, ``<span class="licensetpl">``…); they are
  reduced to text here.
* **Errors.**  A top-level ``error`` object (``badvalue``, ``toomanyvalues``,
  ``internal_api_error_*``…) raises :class:`~wikivis.errors.SourceError` naming the URL and
  the code; ``maxlag``/``ratelimited`` are retried first by the HTTP layer.
* **Search.**  ``list=search`` (CirrusSearch) pages with ``sroffset`` and stops at offset
  10,000; ``haswbstatement:P180=Q146`` finds files whose structured data says "depicts: house
  cat".
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from wikivis.config import STANDARD_THUMB_WIDTHS
from wikivis.errors import PolicyError, SourceError
from wikivis.sources.http import (
    ConcurrencyLimiter,
    Cooldown,
    HttpCounters,
    RetryPolicy,
    check_user_agent,
    policy_from_settings,
    polite_session,
    request,
)
from wikivis.vocab import NS_FILE

if TYPE_CHECKING:
    from wikivis.config import Settings

log = logging.getLogger(__name__)

#: ``titles=`` / ``pageids=`` accept 50 values per request without ``apihighlimits``
TITLES_PER_REQUEST = 50
#: ``ApiQueryImageInfo::TRANSFORM_LIMIT``: thumbnails rendered per request
TRANSFORM_LIMIT = 50
#: CirrusSearch refuses ``sroffset`` beyond this
SEARCH_MAX_OFFSET = 10_000

IIPROP = "url|sha1|size|mime|mediatype|extmetadata"
EXTMETADATA_FIELDS = (
    "LicenseShortName",
    "License",
    "Artist",
    "Credit",
    "ImageDescription",
    "AttributionRequired",
    "NonFree",
    "Restrictions",
)

FILE_NS = "File:"
CATEGORY_NS = "Category:"
_QID_RE = re.compile(r"^Q[1-9]\d*$")
_PID_RE = re.compile(r"^P[1-9]\d*$")


# --------------------------------------------------------------------------- titles


def file_title(name: str) -> str:
    """``Foo_bar.jpg`` / ``File:Foo bar.jpg`` → ``File:Foo bar.jpg`` (the API's form)."""
    name = name.strip()
    if name[:5].lower() == "file:":
        name = name[5:]
    elif name[:6].lower() == "image:":
        name = name[6:]
    return FILE_NS + name.replace("_", " ")


_FILE_PREFIX_RE = re.compile(r"^\s*(?:file|image|media):\s*", re.IGNORECASE)


def file_name(title: str, *, namespaced: bool = False) -> str:
    """``File:Foo bar.jpg`` → ``Foo_bar.jpg`` (the DB key used in the lake datasets).

    Only ``File:``/``Image:``/``Media:`` are stripped (file names may contain colons);
    ``namespaced=True`` strips any prefix, for titles the API reports in namespace 6 with a
    localised name (``Datei:``).
    """
    if namespaced and ":" in title:
        return title.split(":", 1)[1].strip().replace(" ", "_")
    return _FILE_PREFIX_RE.sub("", title, count=1).strip().replace(" ", "_")


def category_title(name: str) -> str:
    name = name.strip()
    if name[:9].lower() == "category:":
        name = name[9:]
    return CATEGORY_NS + name.replace("_", " ")


def check_thumb_width(width: int) -> int:
    """Refuse a non-standard thumbnail width before it reaches Wikimedia (HTTP 400 there)."""
    if width not in STANDARD_THUMB_WIDTHS:
        raise PolicyError(
            f"thumbnail width {width} is not one of Wikimedia's standard widths {STANDARD_THUMB_WIDTHS}; "
            "other widths get HTTP 400 (https://w.wiki/GHai)"
        )
    return width


def depicts_query(qid: str, prop: str = "P180") -> str:
    """CirrusSearch keyword for structured data: files whose ``prop`` (depicts) is ``qid``."""
    qid, prop = qid.strip().upper(), prop.strip().upper()
    if not _QID_RE.fullmatch(qid):
        raise PolicyError(f"not a Wikidata item id: {qid!r} (expected e.g. Q146)")
    if not _PID_RE.fullmatch(prop):
        raise PolicyError(f"not a Wikidata property id: {prop!r} (expected e.g. P180)")
    return f"haswbstatement:{prop}={qid}"


# --------------------------------------------------------------------------- HTML


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "p", "div", "li"}:
            self.parts.append(" ")


def strip_html(value: Any) -> str:
    """Text of an extmetadata HTML value, entities decoded and whitespace collapsed."""
    if value is None:
        return ""
    text = str(value)
    if "<" in text:
        parser = _TextExtractor()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = html.unescape(text)
    return " ".join(text.split())


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FileInfo:
    """``prop=imageinfo`` for one requested title.

    ``problem`` is ``None`` for a file with image info, otherwise ``"missing"`` (no such
    file), ``"invalid"`` (not a valid title) or ``"no_imageinfo"`` (the page exists but has
    no file revision, e.g. a deleted file); ``problem_detail`` says more when the API does
    (``invalidreason``).
    """

    requested: str
    title: str
    problem: str | None = None
    sha1: str = ""
    size: int | None = None
    width: int | None = None
    height: int | None = None
    mime: str | None = None
    media_type: str | None = None
    url: str | None = None
    description_url: str | None = None
    thumb_url: str | None = None
    thumb_width: int | None = None
    thumb_height: int | None = None
    extmetadata: dict[str, str] = field(default_factory=dict)
    problem_detail: str | None = None

    @property
    def name(self) -> str:
        """The file name as a DB key (underscores, no namespace)."""
        return file_name(self.title, namespaced=True)


@dataclass(frozen=True)
class PageImages:
    """Files used on one article (``prop=images``) and its PageImages lead image."""

    requested: str | int
    page_id: int | None
    title: str
    files: tuple[str, ...] = ()
    lead_image: str | None = None
    lead_image_free: str | None = None
    problem: str | None = None


# --------------------------------------------------------------------------- client

_LIMITERS: dict[tuple[str, int], ConcurrencyLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def api_limiter(api_url: str, limit: int) -> ConcurrencyLimiter:
    """The process-wide concurrency limiter of one API host (≤ 3 requests in flight)."""
    key = (urlsplit(api_url).netloc, limit)
    with _LIMITERS_LOCK:
        return _LIMITERS.setdefault(key, ConcurrencyLimiter(limit))



class ActionApiClient:
    """A polite client for one ``api.php`` endpoint."""

    def __init__(
        self,
        api_url: str,
        *,
        session: requests.Session,
        policy: RetryPolicy | None = None,
        limiter: ConcurrencyLimiter | None = None,
        counters: HttpCounters | None = None,
        maxlag: int | None = 5,
        timeout_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_user_agent(str(session.headers.get("User-Agent", "")))
        self.api_url = api_url
        self.session = session
        self.policy = policy or RetryPolicy()
        self.limiter = limiter or ConcurrencyLimiter(3)
        self.counters = counters or HttpCounters()
        self.maxlag = maxlag
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.cooldown = Cooldown(sleep=sleep)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        wiki: str | None = None,
        *,
        session: requests.Session | None = None,
        limiter: ConcurrencyLimiter | None = None,
        **kwargs: Any,
    ) -> ActionApiClient:
        """A client for Commons (``wiki`` None or the commons wiki) or an article wiki."""
        url = settings.commons_api_url if wiki is None else settings.wiki_api_url(wiki)
        return cls(
            url,
            session=session or polite_session(settings, pool_size=settings.api_max_concurrency),
            policy=kwargs.pop("policy", None) or policy_from_settings(settings),
            limiter=limiter or api_limiter(url, settings.api_max_concurrency),
            maxlag=settings.maxlag,
            timeout_s=settings.http_timeout_s,
            **kwargs,
        )

    # ------------------------------------------------------------ raw protocol
    def call(self, params: dict[str, Any]) -> dict[str, Any]:
        """One API request (GET) → the decoded JSON body; API errors raise SourceError."""
        full = {"format": "json", "formatversion": "2", **params}
        if self.maxlag is not None:
            full.setdefault("maxlag", str(self.maxlag))
        response = request(
            self.session,
            "GET",
            self.api_url,
            policy=self.policy,
            counters=self.counters,
            limiter=self.limiter,
            sleep=self.sleep,
            cooldown=self.cooldown,
            params=full,
            timeout=self.timeout_s,
        )
        url = response.url or self.api_url
        try:
            body = response.json()
        except ValueError as exc:
            raise SourceError(f"response is not JSON ({response.headers.get('Content-Type')})", url=url) from exc
        if not isinstance(body, dict):
            raise SourceError("response is not a JSON object", url=url)
        error = body.get("error")
        if error:
            code = error.get("code", "?") if isinstance(error, dict) else "?"
            info = error.get("info", "") if isinstance(error, dict) else str(error)
            raise SourceError(f"API error {code}: {info}", url=url, status=response.status_code)
        for module, warning in (body.get("warnings") or {}).items():
            log.warning("API warning from %s (%s): %s", self.api_url, module, warning)
        return body

    def query(self, params: dict[str, Any], *, ignore: Collection[str] = ()) -> Iterator[dict[str, Any]]:
        """``action=query`` with the continuation protocol: yields each round's body.

        ``ignore`` names continuation keys not to follow (``iistart``: older file versions);
        when nothing else is left to continue, the query ends.
        """
        base = {"action": "query", **params}
        cont: dict[str, Any] = {}
        seen: set[tuple[tuple[str, str], ...]] = set()
        while True:
            body = self.call({**base, **cont})
            yield body
            nxt = body.get("continue")
            if nxt and ignore:
                nxt = {k: v for k, v in nxt.items() if k not in ignore}
                if set(nxt) <= {"continue"}:
                    nxt = {}
            if not nxt:
                return
            key = tuple(sorted((str(k), str(v)) for k, v in nxt.items()))
            if key in seen:
                raise SourceError(f"API continuation loops on {dict(key)}", url=self.api_url)
            seen.add(key)
            cont = dict(nxt)

    # ------------------------------------------------------------ imageinfo
    def imageinfo(
        self, titles: Iterable[str], *, thumb_width: int | None = 330, extmetadata: bool = True
    ) -> Iterator[FileInfo]:
        """Image info for every title (file names or ``File:`` titles), in batches of 50.

        Yields one :class:`FileInfo` per distinct requested title, in request order per batch.
        """
        if thumb_width is not None:
            check_thumb_width(thumb_width)
        params: dict[str, Any] = {"prop": "imageinfo", "iiprop": IIPROP if extmetadata else IIPROP.replace("|extmetadata", "")}
        if extmetadata:
            params["iiextmetadatafilter"] = "|".join(EXTMETADATA_FIELDS)
            params["iiextmetadatalanguage"] = "en"
        if thumb_width is not None:
            params["iiurlwidth"] = str(thumb_width)
        for batch in _batches(dict.fromkeys(titles), TITLES_PER_REQUEST):
            yield from self._imageinfo_batch(batch, params)

    def _imageinfo_batch(self, requested: Sequence[str], params: dict[str, Any]) -> Iterator[FileInfo]:
        api_titles = {req: file_title(req) for req in requested}
        pages: dict[str, dict[str, Any]] = {}
        normalized: dict[str, str] = {}
        titles = "|".join(dict.fromkeys(api_titles.values()))
        for body in self.query({**params, "titles": titles}, ignore=("iistart",)):
            q = body.get("query") or {}
            normalized.update(_normalized_map(q))
            for page in q.get("pages") or ():
                merged = pages.setdefault(page.get("title", ""), {})
                info = page.get("imageinfo")
                for k, v in page.items():
                    if k != "imageinfo":
                        merged[k] = v
                if info:
                    merged.setdefault("imageinfo", []).extend(info)
        for req, asked in api_titles.items():
            title = normalized.get(asked, asked)
            page = pages.get(title)
            if page is None:
                raise SourceError(f"imageinfo: the API did not answer for {asked!r}", url=self.api_url)
            yield _file_info(req, title, page)

    # ------------------------------------------------------------ page images
    def page_images(
        self, *, page_ids: Iterable[int] = (), titles: Iterable[str] = ()
    ) -> Iterator[PageImages]:
        """Files used on each page (``prop=images``) and its lead image (``prop=pageprops``)."""
        params = {"prop": "images|pageprops", "imlimit": "max", "ppprop": "page_image|page_image_free"}
        for batch_params, requested, by_id in page_batches(page_ids, titles):
            yield from self._page_images_batch({**params, **batch_params}, requested, by_id=by_id)

    def _page_images_batch(self, params: dict[str, Any], requested: Sequence[Any], *, by_id: bool) -> Iterator[PageImages]:
        pages, normalized = merged_pages(self, params, by_id=by_id, defaults={"images": []})
        for req in requested:
            page = requested_page(pages, normalized, req, by_id=by_id)
            if page is None:
                yield PageImages(req, req if by_id else None, "" if by_id else str(req), problem="missing")
                continue
            problem = "invalid" if page.get("invalid") else "missing" if page.get("missing") else None
            props = page.get("pageprops") or {}
            yield PageImages(
                requested=req,
                page_id=page.get("pageid"),
                title=page.get("title", ""),
                files=tuple(
                    dict.fromkeys(file_name(i["title"], namespaced=i.get("ns") == NS_FILE) for i in page["images"] if i.get("title"))
                ),
                lead_image=props.get("page_image"),
                lead_image_free=props.get("page_image_free"),
                problem=problem,
            )

    # ------------------------------------------------------------ lists
    def category_members(
        self, category: str, *, depth: int = 0, member_type: str = "file"
    ) -> Iterator[str]:
        """Titles of ``member_type`` (``file``/``page``) members of ``category``, descending
        ``depth`` levels of subcategories; each category is visited once (category graphs
        have cycles) and each member yielded once."""
        if depth < 0:
            raise ValueError("depth must be >= 0")
        if member_type not in {"file", "page"}:
            raise ValueError("member_type must be 'file' or 'page'")
        visited: set[str] = set()
        emitted: set[str] = set()
        frontier = [category_title(category)]
        for level in range(depth + 1):
            next_frontier: list[str] = []
            for cat in frontier:
                if cat in visited:
                    continue
                visited.add(cat)
                types = member_type + ("|subcat" if level < depth else "")
                params = {"list": "categorymembers", "cmtitle": cat, "cmtype": types, "cmlimit": "max", "cmprop": "title|type"}
                for body in self.query(params):
                    for member in (body.get("query") or {}).get("categorymembers") or ():
                        title = member.get("title", "")
                        if member.get("type") == "subcat":
                            if title not in visited:
                                next_frontier.append(title)
                        elif title not in emitted:
                            emitted.add(title)
                            yield title
            frontier = next_frontier
            if not frontier:
                break

    def search_files(self, query: str, *, limit: int | None = None) -> Iterator[str]:
        """File titles matching a CirrusSearch query (``srnamespace=6``), in result order."""
        if not query.strip():
            raise ValueError("empty search query")
        params = {"list": "search", "srsearch": query, "srnamespace": "6", "srlimit": "max", "srprop": "", "srinfo": ""}
        count = 0
        for body in self.query(params):
            for hit in (body.get("query") or {}).get("search") or ():
                yield hit["title"]
                count += 1
                if limit is not None and count >= limit:
                    return
            offset = (body.get("continue") or {}).get("sroffset")
            if offset is not None and int(offset) >= SEARCH_MAX_OFFSET:
                log.warning("search %r: CirrusSearch stops at offset %d; results truncated", query, SEARCH_MAX_OFFSET)
                return


# --------------------------------------------------------------------------- helpers


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _normalized_map(query: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("normalized", "redirects"):
        for entry in query.get(key) or ():
            out[entry["from"]] = entry["to"]
    # chains (normalised, then redirected)
    for src, dst in list(out.items()):
        seen = {src}
        while dst in out and dst not in seen:
            seen.add(dst)
            dst = out[dst]
        out[src] = dst
    return out


def _int(value: Any) -> int | None:
    return int(value) if value is not None and value != "" else None


def _file_info(requested: str, title: str, page: dict[str, Any]) -> FileInfo:
    if page.get("invalid"):
        reason = page.get("invalidreason")
        return FileInfo(requested, title, problem="invalid", problem_detail=str(reason) if reason else None)
    infos = page.get("imageinfo") or []
    if not infos:
        return FileInfo(requested, title, problem="missing" if page.get("missing") else "no_imageinfo")
    ii = infos[0]
    ext = {k: strip_html(v.get("value") if isinstance(v, dict) else v) for k, v in (ii.get("extmetadata") or {}).items()}
    return FileInfo(
        requested=requested,
        title=title,
        sha1=str(ii.get("sha1") or "").lower(),
        size=_int(ii.get("size")),
        width=_int(ii.get("width")),
        height=_int(ii.get("height")),
        mime=ii.get("mime"),
        media_type=ii.get("mediatype"),
        url=ii.get("url"),
        description_url=ii.get("descriptionurl"),
        thumb_url=ii.get("thumburl"),
        thumb_width=_int(ii.get("thumbwidth")),
        thumb_height=_int(ii.get("thumbheight")),
        extmetadata=ext,
    )


# --------------------------------------------------------------------------- conveniences


def commons_client(settings: Settings, **kwargs: Any) -> ActionApiClient:
    """The Commons API client of these settings."""
    return ActionApiClient.from_settings(settings, **kwargs)


def page_images(
    settings: Settings, wiki: str, *, page_ids: Iterable[int] = (), titles: Iterable[str] = (), **kwargs: Any
) -> Iterator[PageImages]:
    """Files used by (and lead image of) articles of ``wiki``, from its own API — what the
    EventStreams refresh asks after a ``page-links-change`` event."""
    client = ActionApiClient.from_settings(settings, wiki, **kwargs)
    return client.page_images(page_ids=page_ids, titles=titles)


# --------------------------------------------------------------------------- page batches
def page_batches(page_ids: Iterable[int] = (), titles: Iterable[str] = ()) -> Iterator[tuple[dict[str, str], list[Any], bool]]:
    """``(params, requested, by_id)`` for each request of at most 50 page ids, then of 50
    titles (duplicates dropped, order kept): what every per-page ``prop=`` query sends."""
    ids = [int(i) for i in dict.fromkeys(page_ids)]
    names = list(dict.fromkeys(titles))
    for id_batch in _batches(ids, TITLES_PER_REQUEST):
        yield {"pageids": "|".join(map(str, id_batch))}, list(id_batch), True
    for title_batch in _batches(names, TITLES_PER_REQUEST):
        yield {"titles": "|".join(title_batch)}, list(title_batch), False


def merged_pages(client: ActionApiClient, params: dict[str, Any], *, by_id: bool,
                 defaults: dict[str, Any] | None = None) -> tuple[dict[Any, dict[str, Any]], dict[str, str]]:
    """Run one per-page query through its continuations and merge each page's parts.

    MediaWiki spreads a page's list props (``images``, ``revisions``, …) over continuation
    rounds; lists are concatenated and dicts (``pageprops``) merged, other keys overwritten.
    Returns the pages by page id (``by_id``) or title, and the query's ``normalized`` map."""
    pages: dict[Any, dict[str, Any]] = {}
    normalized: dict[str, str] = {}
    for body in client.query(params):
        q = body.get("query") or {}
        normalized.update(_normalized_map(q))
        for page in q.get("pages") or ():
            key = page.get("pageid") if by_id and "pageid" in page else page.get("title")
            merged = pages.setdefault(key, {k: type(v)(v) for k, v in (defaults or {}).items()})
            for k, v in page.items():
                if isinstance(v, list):
                    merged.setdefault(k, []).extend(v)
                elif isinstance(v, dict) and k != "slots":
                    merged.setdefault(k, {}).update(v)
                else:
                    merged[k] = v
    return pages, normalized


def requested_page(pages: dict[Any, dict[str, Any]], normalized: dict[str, str], requested: Any, *,
                   by_id: bool) -> dict[str, Any] | None:
    """The merged page answering ``requested`` (a page id, or a title as the caller spelt it)."""
    page = pages.get(requested if by_id else normalized.get(requested, requested))
    if page is None and not by_id:
        page = pages.get(str(requested).replace("_", " "))
    return page

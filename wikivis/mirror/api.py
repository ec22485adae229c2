"""The Action API (``api.php``) for the sample wiki and its Commons, formatversion=2 JSON.

Routes: ``/w/api.php`` is Commons (``commonswiki``), ``/<wiki>/w/api.php`` any sample wiki
(samplewiki, and the second-language ``sample2wiki`` of :mod:`wikivis.sample.wikidata`);
``/wikidatawiki/w/api.php`` answers ``action=wbgetentities`` and ``/sparql`` is the Wikidata
Query Service (both in :mod:`wikivis.mirror.wikidata`).
Only ``action=query`` is implemented, with what wikivis uses:

* ``prop=imageinfo`` — ``iiprop`` timestamp|user|url|size|dimensions|sha1|mime|mediatype|
  extmetadata|canonicaltitle|comment (``iiextmetadatafilter`` honoured); ``iiurlwidth`` gives ``thumburl``/``thumbwidth``/
  ``thumbheight`` (+ ``responsiveUrls``) on the upload server, snapped *up* to the next
  standard width (the API never hands out a non-standard thumbnail URL); a bitmap thumb at or
  above the original width is the original URL.  **At most 50 thumbnail transforms per
  request** (``ApiQueryImageInfo::TRANSFORM_LIMIT``): past that, ``continue`` carries
  ``iicontinue=<DBkey>|<timestamp>``.  ``iilimit`` (default 1) versions per file, newest
  first; ``iistart`` starts the history at a timestamp.  Like MediaWiki, a **single-title**
  query of a file with older versions (the sample's overwrites) answers
  ``continue: {"iistart": <next older version>, "continue": "||"}``; with several titles the
  older versions are silently cut.  Old versions' ``url`` is their ``archive/`` URL (which the
  upload mirror does not serve).  An incomplete batch has no ``batchcomplete`` key at all
  (formatversion=2 never sends ``false``).  On an article wiki, a Commons file is
  ``missing`` + ``known`` with ``imagerepository: "shared"`` (as Wikipedia shows it).
* ``prop=images`` (``imlimit``, ``imcontinue``), ``prop=pageprops`` (``ppprop``),
  ``prop=categories`` (``cllimit``, ``clcontinue``), ``prop=info`` (redirect, lastrevid, …).
* ``list=categorymembers`` and ``generator=categorymembers`` (``cmtitle``/``cmpageid``,
  ``cmtype``, ``cmnamespace``, ``cmlimit``, ``cmcontinue``), ``generator=images``.
* ``prop=revisions`` with ``rvprop=ids|timestamp|content`` and ``rvslots=main`` (the
  article's generated wikitext, :func:`wikivis.sample.captions.article_wikitext`), several
  pages per request; past ``max_result_chars`` of content the rest of the batch continues
  with ``rvcontinue=<next page id>`` (MediaWiki's ``$wgAPIMaxResultSize`` cut).
* ``iiextmetadatamultilang=1`` — ``ImageDescription`` as ``{"en": …, "de": …, "_type": "lang"}``.
* ``action=wbgetentities`` on Commons — MediaInfo entities ``M<file page id>`` (≤ 50 ids)
  with their ``labels`` (structured-data captions), ``languages`` filter; unknown ids are
  ``{"id": …, "missing": ""}``, malformed ones the error ``no-such-entity``.
* ``list=search`` — ``haswbstatement:P180=Q…`` (``|`` = or; several terms = and),
  ``incategory:``, ``filetype:``, plain words (all must match title/description);
  ``srnamespace``, ``srlimit``, ``sroffset`` continuation, ``searchinfo.totalhits``.

Protocol details as on Wikimedia: ``titles``/``pageids`` take at most **50** values (error
``toomanyvalues``); ``*limit=max`` is 500; continuation is the ``continue`` object to send
back verbatim (``"continue": "||"`` for prop modules, ``"-||"`` for lists,
``"gcmcontinue||"`` while a generator runs, finished modules listed after ``||``).
``maxlag=N`` with a lag above N answers HTTP 200 with error ``maxlag`` and headers
``Retry-After`` and ``X-Database-Lag`` (set ``lag_s`` or use the "maxlag" fault profile).
Errors are ``{"error": {"code", "info", …}, "servedby": …}``.  The data is the sample's
state on the mirror's ``day`` (default: the last day).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from wikivis.config import STANDARD_THUMB_WIDTHS, wiki_domain
from wikivis.datasets import base36_to_hex
from wikivis.mirror.base import Request, Response, Service
from wikivis.mirror.faults import FaultProfile
from wikivis.mirror.upload import original_path, thumb_path, url_name
from wikivis.mirror.wikidata import SparqlError, WbError, run_sparql, wbgetentities
from wikivis.sample import SampleWiki
from wikivis.sample.events import NAMESPACE_PREFIX
from wikivis.sample.wikidata import SECOND_WIKI, wikidata_state
from wikivis.vocab import NS_CATEGORY, NS_FILE

TRANSFORM_LIMIT = 50
MAX_RESULT_CHARS = 8 * 1024 * 1024
MAX_TITLES = 50
LIMIT_MAX = 500
SERVED_BY = "mw-api-ext.eqiad.main-mirror"
WIKIDATA_WIKI = "wikidatawiki"
DB_HOST = "10.64.16.8"
_PREFIXES = {"file": 6, "image": 6, "category": 14, "user": 2, "wikipedia": 4, "project": 4}


class ApiError(Exception):
    def __init__(self, code: str, info: str, **extra: Any) -> None:
        super().__init__(info)
        self.code, self.info, self.extra = code, info, extra


@dataclass
class WikiIndex:
    """Lookup tables for one wiki on one day."""

    pages: dict[int, dict[str, Any]] = field(default_factory=dict)
    by_title: dict[tuple[int, str], int] = field(default_factory=dict)
    images: dict[int, list[str]] = field(default_factory=dict)
    props: dict[int, dict[str, str]] = field(default_factory=dict)
    categories: dict[int, list[str]] = field(default_factory=dict)
    members: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # cat -> (type, sortkey, page)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # img_name -> image row (Commons)


def build_index(tables: dict[str, list[dict[str, Any]]], image_rows: list[dict[str, Any]]) -> WikiIndex:
    idx = WikiIndex()
    lt = {r["lt_id"]: (r["lt_namespace"], r["lt_title"]) for r in tables.get("linktarget", [])}
    for row in tables.get("page", []):
        idx.pages[row["page_id"]] = row
        idx.by_title[(row["page_namespace"], row["page_title"])] = row["page_id"]
    for row in tables.get("imagelinks", []):
        idx.images.setdefault(row["il_from"], []).append(lt[row["il_target_id"]][1])
    for row in tables.get("page_props", []):
        idx.props.setdefault(row["pp_page"], {})[row["pp_propname"]] = row["pp_value"]
    for row in tables.get("categorylinks", []):
        category = lt[row["cl_target_id"]][1]
        idx.categories.setdefault(row["cl_from"], []).append(category)
        idx.members.setdefault(category, []).append((row["cl_type"], row["cl_sortkey"], row["cl_from"]))
    for names in idx.images.values():
        names.sort()
    for cats in idx.categories.values():
        cats.sort()
    order = {"page": 0, "subcat": 1, "file": 2}
    for members in idx.members.values():
        members.sort(key=lambda m: (order[m[0]], m[1].encode(), m[2]))
    idx.files = {r["img_name"]: r for r in image_rows}
    return idx


def title_text(namespace: int, dbkey: str) -> str:
    return NAMESPACE_PREFIX.get(namespace, "") + dbkey.replace("_", " ")


def parse_title(text: str) -> tuple[int, str]:
    """``"File:Foo bar.jpg"`` → ``(6, "Foo_bar.jpg")`` (first letter upper-cased)."""
    namespace = 0
    prefix, sep, rest = text.partition(":")
    if sep and prefix.strip().lower() in _PREFIXES:
        namespace, text = _PREFIXES[prefix.strip().lower()], rest
    key = text.strip().replace(" ", "_")
    if key:
        key = key[0].upper() + key[1:]
    return namespace, key


def _limit(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    if value == "max":
        return LIMIT_MAX
    try:
        return max(1, min(LIMIT_MAX, int(value)))
    except ValueError:
        raise ApiError("badinteger", f'Invalid value "{value}" for integer parameter.') from None


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split("|") if v != ""]


def snap_width(width: int) -> int:
    """The smallest standard width ≥ ``width`` (capped at the largest)."""
    return next((w for w in STANDARD_THUMB_WIDTHS if w >= width), STANDARD_THUMB_WIDTHS[-1])


class ApiService(Service):
    name = "api"
    max_per_client = None  # the API etiquette asks for ≤ 3; measured in stats, not enforced

    def __init__(self, sample: SampleWiki, faults: FaultProfile, *, upload_url: str, day: int | None = None) -> None:
        super().__init__(faults)
        self.sample = sample
        self.upload_url = upload_url.rstrip("/")
        self.day = sample.n_days if day is None else day
        self.lag_s = 0.0
        self.maxlag_retry_after = 5  # MediaWiki sends max(lag, 5); tests may lower it
        self.transform_limit = TRANSFORM_LIMIT
        self.max_result_chars = MAX_RESULT_CHARS
        self._indexes: dict[tuple[int, str], WikiIndex] = {}
        self._image_rows: dict[int, dict[str, dict[str, Any]]] = {}
        self._index_lock = threading.Lock()
        # the Query Service: 5 parallel queries per IP; work past max_work stands in for its 60 s limit
        self.wdqs_max_parallel = 5
        self.wdqs_max_work = 200_000
        self.wdqs_latency_s = 0.0
        self._wdqs_in_flight: dict[str, int] = {}

    # ------------------------------------------------------------------ data
    def index(self, wiki: str) -> WikiIndex:
        key = (self.day, wiki)
        with self._index_lock:
            if key not in self._indexes:
                state = self.sample.state(self.day)
                if wiki == SECOND_WIKI:
                    tables = wikidata_state(self.sample, self.day).second_tables
                else:
                    tables = state.tables_for(wiki)
                self._indexes[key] = build_index(tables, state.tables["image"])
            return self._indexes[key]

    # ------------------------------------------------------------------ HTTP
    def handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["sparql"]:
            return self._sparql(request)
        wikis = (self.sample.wiki, self.sample.commons_wiki, SECOND_WIKI, WIKIDATA_WIKI)
        if parts == ["w", "api.php"]:
            wiki = self.sample.commons_wiki
        elif len(parts) == 3 and parts[1:] == ["w", "api.php"] and parts[0] in wikis:
            wiki = parts[0]
        else:
            return Response.text("Not Found\n", 404)
        q = request.query
        try:
            if "maxlag" in q:
                self._check_maxlag(q["maxlag"], request.number)
            action = q.get("action", "help")
            if action == "wbgetentities" and wiki == self.sample.commons_wiki:
                return Response.json(self.wbgetentities(wiki, q))
            if wiki == WIKIDATA_WIKI:
                if action != "wbgetentities":
                    raise ApiError("badvalue", f'Unrecognized value for parameter "action": {action}.')
                try:
                    return Response.json(wbgetentities(wikidata_state(self.sample, self.day).items, q))
                except WbError as err:
                    raise ApiError(err.code, err.info, **err.extra) from None
            if action != "query":
                raise ApiError("badvalue", f'Unrecognized value for parameter "action": {action}.')
            if q.get("formatversion", "1") not in ("2", "latest"):
                raise ApiError("badvalue", "This mirror only speaks formatversion=2.")
            return Response.json(self.query(wiki, q))
        except ApiError as err:
            return self._error(wiki, err)
        except _MaxLag as lag:
            body = self._error_body(wiki, ApiError("maxlag", f"Waiting for {DB_HOST}: {lag.seconds} seconds lagged.",
                                                   host=DB_HOST, lag=lag.seconds, type="db"))
            after = max(1, self.maxlag_retry_after)
            return Response.json(body, headers={"Retry-After": str(after), "X-Database-Lag": str(lag.seconds)},
                                 retry_after=after)

    def _sparql(self, request: Request) -> Response:
        """WDQS: SPARQL JSON results, 400 for what it cannot parse, 500 on a "timeout", 429 when
        one client runs more than ``wdqs_max_parallel`` queries at once."""
        client = request.client
        with self._index_lock:
            self._wdqs_in_flight[client] = self._wdqs_in_flight.get(client, 0) + 1
            over = self._wdqs_in_flight[client] > self.wdqs_max_parallel
        try:
            if over:
                return Response.text("Rate limit exceeded\n", 429, retry_after=1, headers={"Retry-After": "1"})
            text = request.query.get("query")
            if not text:
                return Response.text("SPARQL-QUERY: queryStr=null\nNo query given (parameter query=)\n", 400)
            if self.wdqs_latency_s:
                time.sleep(self.wdqs_latency_s)
            try:
                body = run_sparql(text, wikidata_state(self.sample, self.day).items, max_work=self.wdqs_max_work)
            except SparqlError as err:
                status = 500 if err.timeout else 400
                return Response.text(f"SPARQL-QUERY: queryStr={text}\njava.util.concurrent.ExecutionException: {err}\n", status)
            return Response(200, json.dumps(body, ensure_ascii=False).encode(), "application/sparql-results+json; charset=utf-8")
        finally:
            with self._index_lock:
                self._wdqs_in_flight[client] -= 1

    def _check_maxlag(self, value: str, number: int) -> None:
        try:
            allowed = float(value)
        except ValueError:
            raise ApiError("badinteger", f'Invalid value "{value}" for integer parameter "maxlag".') from None
        lag = self.lag_s
        if self.faults.lagged(number):
            lag = max(lag, allowed + 2)
        if lag > allowed:
            raise _MaxLag(int(lag))

    def _error_body(self, wiki: str, err: ApiError) -> dict[str, Any]:
        docref = f"See https://{wiki_domain(wiki)}/w/api.php for API usage."
        return {"error": {"code": err.code, "info": err.info, **err.extra, "docref": docref}, "servedby": SERVED_BY}

    def _error(self, wiki: str, err: ApiError) -> Response:
        return Response.json(self._error_body(wiki, err), headers={"MediaWiki-API-Error": err.code})

    # ------------------------------------------------------------------ query
    def query(self, wiki: str, q: dict[str, str]) -> dict[str, Any]:
        idx = self.index(wiki)
        out: dict[str, Any] = {"batchcomplete": True}
        query: dict[str, Any] = {}
        cont: dict[str, str] = {}
        done_modules = set(q.get("continue", "").partition("||")[2].split("|")) - {""}

        # page set: titles / pageids / generator
        pages: list[dict[str, Any]] = []
        generator = q.get("generator")
        gen_cont: dict[str, str] = {}
        if generator:
            pages, gen_cont = self._generator(wiki, idx, generator, q)
        else:
            pages = self._page_set(wiki, idx, q, query)

        props = _split(q.get("prop"))
        prop_cont: dict[str, str] = {}
        transforms = 0
        for module in props:
            if module in done_modules:
                continue
            if module == "imageinfo":
                transforms, c = self._imageinfo(wiki, idx, pages, q, transforms)
            elif module == "images":
                c = self._images(idx, pages, q)
            elif module == "pageprops":
                c = self._pageprops(idx, pages, q)
            elif module == "categories":
                c = self._categories(idx, pages, q)
            elif module == "info":
                c = self._info(idx, pages)
            elif module == "revisions":
                c = self._revisions(idx, pages, q, out)
            else:
                out.setdefault("warnings", {})[module] = {"warnings": f'Unrecognized value for parameter "prop": {module}'}
                c = {}
            prop_cont.update(c)

        for name in _split(q.get("list")):
            if name == "categorymembers":
                items, c = self._categorymembers(idx, q, "cm")
                query["categorymembers"] = items
            elif name == "search":
                items, c, info = self._search(wiki, idx, q)
                query["search"], query["searchinfo"] = items, info
            else:
                raise ApiError("badvalue", f'Unrecognized value for parameter "list": {name}.')
            cont.update(c)
            if c:
                cont["continue"] = "-||"

        if pages or generator or "titles" in q or "pageids" in q:
            query["pages"] = pages
        if prop_cont:
            del out["batchcomplete"]  # formatversion=2 omits it (never false) while the batch is incomplete
            cont.update(prop_cont)
            finished = [m for m in props if m not in done_modules and not any(k.startswith(_PREFIX[m]) for k in prop_cont)]
            gen_keys = []
            if generator:
                gen_keys = [k for k in q if k.startswith("g") and k.endswith("continue") and k != "continue"]
                cont.update({k: q[k] for k in gen_keys})
                gen_keys = gen_keys or [f"g{_GEN_PREFIX.get(generator, '')}continue"]
            cont["continue"] = "|".join(gen_keys) + "||" + "|".join(sorted(done_modules | set(finished)))
        elif gen_cont:
            cont.update(gen_cont)
            cont["continue"] = "|".join(gen_cont) + "||"
        if cont:
            out["continue"] = cont
        if query:
            out["query"] = query
        return out

    def _page_set(self, wiki: str, idx: WikiIndex, q: dict[str, str], query: dict[str, Any]) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        if "titles" in q and "pageids" in q:
            raise ApiError("invalidparammix", 'The parameters "titles" and "pageids" can not be used together.')
        for param in ("titles", "pageids"):
            values = _split(q.get(param))
            if len(values) > MAX_TITLES:
                raise ApiError(
                    "toomanyvalues",
                    f'Too many values supplied for parameter "{param}". The limit is {MAX_TITLES}.',
                    parameter=param, limit=MAX_TITLES, lowlimit=MAX_TITLES, highlimit=LIMIT_MAX,
                )
        normalized = []
        seen: set[tuple[int, str]] = set()
        for text in _split(q.get("titles")):
            bad = _INVALID_TITLE.search(text)
            if bad or not parse_title(text)[1]:
                # as MediaWiki: a page object with ``invalid`` and the reason, not an error
                reason = (f'The requested page title contains invalid characters: "{bad.group(0)}".' if bad
                          else "The requested page title is empty or contains only the name of a namespace.")
                pages.append({"title": text, "invalidreason": reason, "invalid": True})
                continue
            ns, key = parse_title(text)
            canonical = title_text(ns, key)
            if canonical != text:
                normalized.append({"fromencoded": False, "from": text, "to": canonical})
            if (ns, key) in seen:
                continue
            seen.add((ns, key))
            pages.append(self._page_obj(wiki, idx, ns, key))
        for value in _split(q.get("pageids")):
            page_id = int(value) if value.isdigit() else -1
            row = idx.pages.get(page_id)
            pages.append(self._row_obj(row) if row else {"pageid": page_id, "missing": True})
        if normalized:
            query["normalized"] = normalized
        return sorted(pages, key=lambda p: (p.get("ns", 0), p.get("title", "")))

    @staticmethod
    def _row_obj(row: dict[str, Any]) -> dict[str, Any]:
        return {"pageid": row["page_id"], "ns": row["page_namespace"], "title": title_text(row["page_namespace"], row["page_title"])}

    def _page_obj(self, wiki: str, idx: WikiIndex, ns: int, key: str) -> dict[str, Any]:
        page_id = idx.by_title.get((ns, key))
        if page_id is not None:
            obj = self._row_obj(idx.pages[page_id])
            if ns == NS_FILE:
                obj["imagerepository"] = "local" if wiki == self.sample.commons_wiki and key in idx.files else ""
            return obj
        obj = {"ns": ns, "title": title_text(ns, key), "missing": True}
        if ns == NS_FILE:
            if wiki != self.sample.commons_wiki and key in idx.files:
                obj.update({"known": True, "imagerepository": "shared"})
            else:
                obj["imagerepository"] = ""
        return obj

    def _generator(self, wiki: str, idx: WikiIndex, generator: str, q: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        if generator == "categorymembers":
            members, cont = self._categorymembers(idx, q, "gcm")
            return [self._page_obj(wiki, idx, m["ns"], parse_title(m["title"])[1]) for m in members], cont
        if generator == "images":
            base = self._page_set(wiki, idx, q, {})
            names = sorted({n for p in base if "pageid" in p for n in idx.images.get(p["pageid"], [])})
            limit = _limit(q.get("gimlimit"), 10)
            start = q.get("gimcontinue", "").partition("|")[2]
            names = [n for n in names if n >= start]
            cont = {"gimcontinue": f"{base[0]['pageid']}|{names[limit]}"} if len(names) > limit and base else {}
            return [self._page_obj(wiki, idx, 6, n) for n in names[:limit]], cont
        raise ApiError("badvalue", f'Unrecognized value for parameter "generator": {generator}.')

    # ------------------------------------------------------------------ prop modules
    def _imageinfo(
        self, wiki: str, idx: WikiIndex, pages: list[dict[str, Any]], q: dict[str, str], transforms: int
    ) -> tuple[int, dict[str, str]]:
        iiprop = set(_split(q.get("iiprop", "timestamp|user")))
        width = q.get("iiurlwidth")
        if width is not None and not width.lstrip("-").isdigit():
            raise ApiError("badinteger", f'Invalid value "{width}" for integer parameter "iiurlwidth".')
        start = q.get("iicontinue", "").partition("|")[0]
        iistart = _ts14(q.get("iistart"), "iistart")
        limit = _limit(q.get("iilimit"), 1)
        ext_filter = set(_split(q.get("iiextmetadatafilter"))) or None
        files = sorted((parse_title(p["title"])[1], p) for p in pages if p.get("ns") == NS_FILE)  # DB-key order
        single = len(files) == 1
        for key, page in files:
            row = idx.files.get(key)
            if row is None or (start and key < start):
                continue
            wants_thumb = width is not None and int(width) > 0 and "url" in iiprop
            if wants_thumb and transforms >= self.transform_limit:
                return transforms, {"iicontinue": f"{key}|{row['img_timestamp']}"}
            versions = [v for v in self._history(row) if iistart is None or v["img_timestamp"] <= iistart]
            items = []
            for version in versions[:limit]:
                items.append(self._imageinfo_item(version, iiprop, int(width) if wants_thumb and width else None,
                                                  archived=version is not row, ext_filter=ext_filter,
                                                  multilang=q.get("iiextmetadatamultilang") in ("1", "true", "")))
                transforms += int(wants_thumb)
            if items:
                page["imageinfo"] = items
            if len(versions) > limit and single:
                # ApiQueryImageInfo: only a single-title query gets a continuation into the history
                return transforms, {"iistart": _iso14(versions[limit]["img_timestamp"]) or ""}
        return transforms, {}

    def _history(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        """The file's ``image`` row, then one row per older version (``oldimage``), newest first."""
        name = row["img_name"]
        out = [row]
        live = [day for day, _ in self.sample.file_versions(name) if day <= self.day]
        for day in reversed(live[:-1]):
            old = self._rows_on(day).get(name)
            if old is not None and old["img_timestamp"] < out[-1]["img_timestamp"]:
                out.append(old)
        return out

    def _rows_on(self, day: int) -> dict[str, dict[str, Any]]:
        with self._index_lock:
            if day not in self._image_rows:
                self._image_rows[day] = {r["img_name"]: r for r in self.sample.state(day).tables["image"]}
            return self._image_rows[day]

    def _imageinfo_item(self, row: dict[str, Any], iiprop: set[str], width: int | None, *,
                        archived: bool = False, ext_filter: set[str] | None = None,
                        multilang: bool = False) -> dict[str, Any]:
        name = row["img_name"]
        info = self.sample.file_info[name]
        ts = row["img_timestamp"]
        item: dict[str, Any] = {}
        if "timestamp" in iiprop:
            item["timestamp"] = f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"
        if "user" in iiprop:
            item["user"] = info["artist"]
        if "comment" in iiprop:
            item["comment"] = "Uploaded own work"
        if "canonicaltitle" in iiprop:
            item["canonicaltitle"] = title_text(NS_FILE, name)
        if "size" in iiprop or "dimensions" in iiprop:
            item.update({"size": row["img_size"], "width": row["img_width"], "height": row["img_height"]})
        if "url" in iiprop:
            original = self.upload_url + original_path(name)
            if archived:  # an old version lives under archive/<hash>/<timestamp>!<Name> (not served here)
                h = original_path(name)[len("/wikipedia/commons/"):].rsplit("/", 1)[0]
                original = f"{self.upload_url}/wikipedia/commons/archive/{h}/{ts}%21{url_name(name)}"
            elif width is not None:
                item.update(self._thumb_fields(row, width, original))
            item["url"] = original
            item["descriptionurl"] = f"https://commons.wikimedia.org/wiki/{title_text(NS_FILE, name).replace(' ', '_')}"
            commons_id = self.index(self.sample.commons_wiki).by_title.get((6, name))
            item["descriptionshorturl"] = f"https://commons.wikimedia.org/w/index.php?curid={commons_id}"
        if "sha1" in iiprop:
            item["sha1"] = base36_to_hex(row["img_sha1"])
        if "mime" in iiprop:
            item["mime"] = f"{row['img_major_mime']}/{row['img_minor_mime']}"
        if "mediatype" in iiprop:
            item["mediatype"] = row["img_media_type"]
        if "extmetadata" in iiprop:
            meta = self._extmetadata(row, info)
            item["extmetadata"] = {k: v for k, v in meta.items() if ext_filter is None or k in ext_filter}
            if multilang and "ImageDescription" in item["extmetadata"]:
                from wikivis.sample.captions import file_descriptions

                texts = {lang: f'<div class="description {lang}" lang="{lang}">{_html_escape(t)}</div>'
                         for lang, t in file_descriptions(self.sample, name).items()}
                item["extmetadata"]["ImageDescription"]["value"] = {**texts, "_type": "lang"}
        return item

    def _thumb_fields(self, row: dict[str, Any], requested: int, original: str) -> dict[str, Any]:
        w, h = row["img_width"], row["img_height"]
        is_svg = row["img_minor_mime"] == "svg+xml"

        def one(target: int) -> tuple[str, int, int]:
            step = snap_width(target)
            if not is_svg and step >= w:
                return original, w, h
            return self.upload_url + thumb_path(row["img_name"], step), step, max(1, round(h * step / w))

        url, tw, th = one(requested)
        fields: dict[str, Any] = {"thumburl": url, "thumbwidth": tw, "thumbheight": th}
        responsive = {}
        for factor in ("1.5", "2"):
            r_url, _, _ = one(int(requested * float(factor)))
            if r_url != url:
                responsive[factor] = r_url
        if responsive:
            fields["responsiveUrls"] = responsive
        return fields

    def _extmetadata(self, row: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        """CommonsMetadata's fields with the ``source`` and ``hidden`` flags Commons really
        sends (``../shared/realworld-data/commons``: only ImageDescription, DateTimeOriginal
        and Artist are shown; CommonsMetadataExtension's value is a JSON number)."""

        def entry(value: Any, source: str = "commons-desc-page", hidden: bool = True) -> dict[str, Any]:
            out: dict[str, Any] = {"value": value, "source": source}
            if hidden:
                out["hidden"] = ""
            return out

        ts = row["img_timestamp"]
        artist = info["artist"]
        meta = {
            "DateTime": entry(f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]} {ts[8:10]}:{ts[10:12]}:{ts[12:14]}", "mediawiki-metadata"),
            "ObjectName": entry(row["img_name"].rsplit(".", 1)[0].replace("_", " "), "mediawiki-metadata"),
            "CommonsMetadataExtension": entry(1.2, "extension"),
            "Categories": entry("|".join(c.replace("_", " ") for c in info["categories"]), "commons-categories"),
            "Assessments": entry("", "commons-categories"),
            "ImageDescription": entry(f'<div class="description en" lang="en">{_html_escape(info["description"])}</div>',
                                      hidden=False),
            "DateTimeOriginal": entry(info["date_time_original"], hidden=False),
            "Credit": entry(f'<span class="int-own-work" lang="en">{_html_escape(info["credit"])}</span>'),
            "Artist": entry(f'<a href="//commons.wikimedia.org/wiki/User:{artist}" title="User:{artist}">{_html_escape(artist)}</a>',
                            hidden=False),
            "LicenseShortName": entry(info["licence_short_name"]),
            "UsageTerms": entry(info["usage_terms"]),
            "AttributionRequired": entry("true" if info["attribution_required"] else "false"),
            "Copyrighted": entry("True" if info["licence"] not in ("pd", "cc0") else "False"),
            "Restrictions": entry(info["restrictions"]),
            "License": entry(info["licence"], "commons-templates"),
        }
        if info["licence_url"]:
            meta["LicenseUrl"] = entry(info["licence_url"])
        if info["non_free"]:
            meta["NonFree"] = entry("true")
        return meta

    def _images(self, idx: WikiIndex, pages: list[dict[str, Any]], q: dict[str, str]) -> dict[str, str]:
        limit = _limit(q.get("imlimit"), 10)
        only = {parse_title(t)[1] for t in _split(q.get("imimages"))}
        cont_page, _, cont_name = q.get("imcontinue", "").partition("|")
        count = 0
        for page in sorted((p for p in pages if "pageid" in p), key=lambda p: p["pageid"]):
            if cont_page and page["pageid"] < int(cont_page):
                continue
            names = [n for n in idx.images.get(page["pageid"], []) if not only or n in only]
            if cont_page and page["pageid"] == int(cont_page):
                names = [n for n in names if n >= cont_name]
            for name in names:
                if count >= limit:
                    return {"imcontinue": f"{page['pageid']}|{name}"}
                page.setdefault("images", []).append({"ns": NS_FILE, "title": title_text(NS_FILE, name)})
                count += 1
        return {}

    def _revisions(self, idx: WikiIndex, pages: list[dict[str, Any]], q: dict[str, str], out: dict[str, Any]) -> dict[str, str]:
        """The current revision of each page, content from the sample's generated wikitext."""
        from wikivis.sample.captions import article_wikitext

        if "rvlimit" in q and len([p for p in pages if "pageid" in p]) > 1:
            raise ApiError("multpages", "rvlimit may only be used with a single page.")
        rvprop = set(_split(q.get("rvprop", "ids|timestamp|flags|comment|user")))
        slots = q.get("rvslots")
        if "content" in rvprop and not slots:
            out.setdefault("warnings", {})["revisions"] = {
                "warnings": "Because \"rvslots\" was not specified, a legacy format has been used for the output."}
        start = int(q["rvcontinue"].split("|")[0]) if q.get("rvcontinue", "").split("|")[0].isdigit() else 0
        used = 0
        for page in sorted((p for p in pages if "pageid" in p), key=lambda p: p["pageid"]):
            if page["pageid"] < start:
                continue
            row = idx.pages.get(page["pageid"])
            if row is None:
                continue
            rev: dict[str, Any] = {}
            if "ids" in rvprop:
                rev.update(revid=row["page_latest"], parentid=max(0, row["page_latest"] - 1))
            if "timestamp" in rvprop:
                rev["timestamp"] = _iso14(row.get("page_touched"))
            if "content" in rvprop:
                text = article_wikitext(self.sample, page["pageid"], self.day) or ""
                if used and used + len(text) > self.max_result_chars:
                    return {"rvcontinue": str(page["pageid"])}
                used += len(text)
                main = {"contentmodel": "wikitext", "contentformat": "text/x-wiki", "content": text}
                if slots:
                    rev["slots"] = {"main": main}
                else:
                    rev.update(main)
            page["revisions"] = [rev]
        return {}

    def wbgetentities(self, wiki: str, q: dict[str, str]) -> dict[str, Any]:
        """Commons MediaInfo entities (``M<page id>``) with their labels (file captions)."""
        from wikivis.sample.captions import file_labels

        ids = _split(q.get("ids"))
        if not ids:
            raise ApiError("param-missing", 'The parameter "ids" is required.')
        if len(ids) > MAX_TITLES:
            raise ApiError("toomanyvalues", f'Too many values supplied for parameter "ids". The limit is {MAX_TITLES}.',
                           parameter="ids", limit=MAX_TITLES)
        props = set(_split(q.get("props", "info|labels|descriptions|statements")))
        languages = set(_split(q.get("languages")))
        idx = self.index(wiki)
        entities: dict[str, Any] = {}
        for entity_id in ids:
            if not re.fullmatch(r"M[1-9]\d*", entity_id):
                raise ApiError("no-such-entity", f'Could not find an entity with the ID "{entity_id}".', id=entity_id)
            row = idx.pages.get(int(entity_id[1:]))
            if row is None or row["page_namespace"] != NS_FILE or row["page_title"] not in idx.files:
                entities[entity_id] = {"id": entity_id, "missing": ""}
                continue
            entity: dict[str, Any] = {"type": "mediainfo", "id": entity_id}
            if "info" in props:
                entity.update(pageid=row["page_id"], ns=NS_FILE, title=title_text(NS_FILE, row["page_title"]),
                              lastrevid=row["page_latest"], modified=_iso14(row.get("page_touched")))
            labels = file_labels(self.sample, row["page_title"])
            if not labels:  # a file without structured data has no MediaInfo entity
                entities[entity_id] = {"id": entity_id, "missing": ""}
                continue
            if "labels" in props:
                entity["labels"] = {lang: {"language": lang, "value": text} for lang, text in sorted(labels.items())
                                    if not languages or lang in languages}
            entities[entity_id] = entity
        return {"entities": entities, "success": 1}

    def _info(self, idx: WikiIndex, pages: list[dict[str, Any]]) -> dict[str, str]:
        """``prop=info`` as formatversion=2 gives it (``redirect``/``new`` only when true)."""
        for page in pages:
            row = idx.pages.get(page.get("pageid", -1))
            if row is None:
                continue
            page.update(
                contentmodel=row.get("page_content_model") or "wikitext",
                pagelanguage="en",
                touched=_iso14(row.get("page_touched")),
                lastrevid=row.get("page_latest", 0),
                length=row.get("page_len", 0),
            )
            if row.get("page_is_redirect"):
                page["redirect"] = True
            if row.get("page_is_new"):
                page["new"] = True
        return {}

    def _pageprops(self, idx: WikiIndex, pages: list[dict[str, Any]], q: dict[str, str]) -> dict[str, str]:
        wanted = set(_split(q.get("ppprop")))
        for page in pages:
            props = idx.props.get(page.get("pageid", -1), {})
            selected = {k: v for k, v in sorted(props.items()) if not wanted or k in wanted}
            if selected:
                page["pageprops"] = selected
        return {}

    def _categories(self, idx: WikiIndex, pages: list[dict[str, Any]], q: dict[str, str]) -> dict[str, str]:
        limit = _limit(q.get("cllimit"), 10)
        cont_page, _, cont_name = q.get("clcontinue", "").partition("|")
        count = 0
        for page in sorted((p for p in pages if "pageid" in p), key=lambda p: p["pageid"]):
            if cont_page and page["pageid"] < int(cont_page):
                continue
            cats = idx.categories.get(page["pageid"], [])
            if cont_page and page["pageid"] == int(cont_page):
                cats = [c for c in cats if c >= cont_name]
            for cat in cats:
                if count >= limit:
                    return {"clcontinue": f"{page['pageid']}|{cat}"}
                page.setdefault("categories", []).append({"ns": NS_CATEGORY, "title": title_text(NS_CATEGORY, cat)})
                count += 1
        return {}

    # ------------------------------------------------------------------ lists
    def _categorymembers(self, idx: WikiIndex, q: dict[str, str], p: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
        if f"{p}title" in q:
            ns, category = parse_title(q[f"{p}title"])
            if ns != NS_CATEGORY:
                raise ApiError("invalidcategory", "The category name you entered is not valid.")
        elif f"{p}pageid" in q:
            row = idx.pages.get(int(q[f"{p}pageid"])) if q[f"{p}pageid"].isdigit() else None
            if row is None or row["page_namespace"] != NS_CATEGORY:
                raise ApiError("invalidcategory", "The category name you entered is not valid.")
            category = row["page_title"]
        else:
            raise ApiError("missingparam", f'One of the parameters "{p}title" and "{p}pageid" is required.')
        types = set(_split(q.get(f"{p}type", "page|subcat|file")))
        namespaces = {int(n) for n in _split(q.get(f"{p}namespace")) if n.lstrip("-").isdigit()}
        limit = _limit(q.get(f"{p}limit"), 10)
        members = [
            m for m in idx.members.get(category, [])
            if m[0] in types and m[2] in idx.pages and (not namespaces or idx.pages[m[2]]["page_namespace"] in namespaces)
        ]
        cont = q.get(f"{p}continue")
        if cont:
            ctype, chex, cpage = [*cont.split("|"), "", "", ""][:3]
            try:
                key = ({"page": 0, "subcat": 1, "file": 2}[ctype], bytes.fromhex(chex), int(cpage))
            except (KeyError, ValueError):
                raise ApiError("badcontinue", "Invalid continue param. You should pass the original value returned by the previous query.") from None
            order = {"page": 0, "subcat": 1, "file": 2}
            members = [m for m in members if (order[m[0]], m[1].encode(), m[2]) >= key]
        props = set(_split(q.get(f"{p}prop", "ids|title")))
        items = []
        for cl_type, sortkey, page_id in members[:limit]:
            row = idx.pages[page_id]
            item: dict[str, Any] = {}
            if "ids" in props:
                item["pageid"] = page_id
            item["ns"] = row["page_namespace"]
            if "title" in props:
                item["title"] = title_text(row["page_namespace"], row["page_title"])
            if "sortkey" in props:
                item["sortkey"] = sortkey.encode().hex()
            if "type" in props:
                item["type"] = cl_type
            items.append(item)
        next_cont = {}
        if len(members) > limit:
            cl_type, sortkey, page_id = members[limit]
            next_cont[f"{p}continue"] = f"{cl_type}|{sortkey.encode().hex()}|{page_id}"
        return items, next_cont

    def _search(self, wiki: str, idx: WikiIndex, q: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        text = q.get("srsearch", "")
        if not text.strip():
            raise ApiError("nosrsearch", 'The "srsearch" parameter must be set.')
        namespaces = {int(n) for n in _split(q.get("srnamespace", "0")) if n.lstrip("-").isdigit()}
        limit = _limit(q.get("srlimit"), 10)
        offset = int(q.get("sroffset", "0") or 0)
        statements: list[set[tuple[str, str]]] = []
        categories: list[str] = []
        filetypes: set[str] = set()
        words: list[str] = []
        for token in re.findall(r'"[^"]*"|\S+', text):
            low = token.lower()
            if low.startswith("haswbstatement:"):
                statements.append({tuple(s.split("=", 1)) for s in token.split(":", 1)[1].split("|") if "=" in s})
            elif low.startswith("incategory:"):
                categories.append(parse_title("Category:" + token.split(":", 1)[1].strip('"'))[1])
            elif low.startswith("filetype:"):
                filetypes |= {t.upper() for t in token.split(":", 1)[1].split("|")}
            else:
                words.append(token.strip('"').lower())
        hits: list[tuple[int, str, dict[str, Any]]] = []
        for page_id, row in idx.pages.items():
            ns = row["page_namespace"]
            if ns not in namespaces or row["page_is_redirect"]:
                continue
            name = row["page_title"]
            info = self.sample.file_info.get(name, {}) if ns == NS_FILE else {}
            if statements:
                depicts = {("P180", qid) for qid in info.get("depicts", [])}
                if not all(alternatives & depicts for alternatives in statements):
                    continue
            if categories and not set(categories) <= set(idx.categories.get(page_id, [])):
                continue
            if filetypes:
                file_row = idx.files.get(name)
                if file_row is None or file_row["img_media_type"] not in filetypes:
                    continue
            haystack = (name.replace("_", " ") + " " + info.get("description", "")).lower()
            if not all(w in haystack for w in words):
                continue
            score = sum(haystack.count(w) for w in words)
            hits.append((-score, title_text(ns, name), row))
        hits.sort(key=lambda h: (h[0], h[1]))
        results = []
        for _, title, row in hits[offset : offset + limit]:
            info = self.sample.file_info.get(row["page_title"], {}) if row["page_namespace"] == NS_FILE else {}
            ts = row["page_touched"]
            results.append({
                "ns": row["page_namespace"], "title": title, "pageid": row["page_id"], "size": row["page_len"],
                "wordcount": max(1, row["page_len"] // 6),
                "snippet": _html_escape(info.get("description", title)),
                "timestamp": f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z",
            })
        cont: dict[str, Any] = {"sroffset": offset + limit} if offset + limit < len(hits) else {}
        return results, cont, {"totalhits": len(hits)}


class _MaxLag(Exception):
    def __init__(self, seconds: int) -> None:
        super().__init__(seconds)
        self.seconds = seconds


#: characters MediaWiki never allows in a title (``$wgLegalTitleChars`` leaves them out)
_INVALID_TITLE = re.compile(r"[<>\[\]{}#]")
_PREFIX = {"imageinfo": "ii", "images": "im", "pageprops": "pp", "categories": "cl", "revisions": "rv"}
_GEN_PREFIX = {"categorymembers": "cm", "images": "im"}


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _ts14(value: str | None, param: str) -> str | None:
    """An ISO 8601 timestamp parameter (``2010-04-16T22:53:21Z``) as MediaWiki's 14 digits."""
    if not value:
        return None
    digits = re.sub(r"[-:TZ ]", "", value)
    if len(digits) != 14 or not digits.isdigit():
        raise ApiError("badtimestamp", f'Invalid value "{value}" for timestamp parameter "{param}".')
    return digits


def _iso14(ts: Any) -> str | None:
    """MediaWiki's 14-digit timestamps as the API's ISO 8601."""
    text = str(ts or "")
    if len(text) != 14 or not text.isdigit():
        return None
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:14]}Z"

"""Wikidata for the mirror: ``wbgetentities`` and a small, honest SPARQL endpoint.

Data: :func:`wikivis.sample.wikidata.wikidata_state` (items of the sample's articles, P31,
P18, P373, sitelinks to samplewiki and sample2wiki) on the mirror's day.

``wbgetentities`` (``/wikidatawiki/w/api.php?action=wbgetentities``): ``ids`` (≤ 50, else
``toomanyvalues``), ``props`` (claims, sitelinks, labels, …), ``languages``; unknown ids
are ``{"id", "missing": ""}``, malformed ids fail the request with ``no-such-entity``, as
on Wikidata.  Claims have Wikibase's JSON shape (``mainsnak.datavalue``, ``rank``).

The SPARQL endpoint (``/sparql``, GET or form POST, ``query=``) evaluates **basic graph
patterns** over the ``wdt:`` triples, which is what "every item that is an instance of X
and has an image" needs, and nothing more:

* ``PREFIX`` lines, ``SELECT [DISTINCT] ?a ?b | *``, ``WHERE { … }`` holding triple
  patterns ``S P O`` separated by ``.``, where ``S`` is ``?var`` or ``wd:Q…``, ``P`` is
  ``wdt:P31|P18|P373`` (or its full IRI) and ``O`` is ``?var``, ``wd:Q…`` or a string;
* ``SERVICE wikibase:label { bd:serviceParam wikibase:language "en" . }`` (binds
  ``?xLabel`` for every selected ``?x``); ``ORDER BY ?var``, ``LIMIT n``, ``OFFSET n``.

Anything else (FILTER, OPTIONAL, property paths, variables as predicates…) is answered
with HTTP 400 and a ``MalformedQueryException`` line, like WDQS refuses what it cannot
parse — the mirror refuses what it does not implement rather than answering wrongly.
A query whose joins would enumerate more than ``max_work`` intermediate solutions gets
WDQS's timeout answer (HTTP 500, ``java.util.concurrent.TimeoutException``), standing in
for the 60-second limit.  More than ``max_parallel`` queries in flight from one client get
429 with ``Retry-After``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from wikivis.sample.wikidata import Item

ENTITY = "http://www.wikidata.org/entity/"
DIRECT = "http://www.wikidata.org/prop/direct/"
FILEPATH = "http://commons.wikimedia.org/wiki/Special:FilePath/"
MAX_IDS = 50
SUPPORTED_PROPS = ("P31", "P18", "P373")


class WbError(Exception):
    def __init__(self, code: str, info: str, **extra: Any) -> None:
        super().__init__(info)
        self.code, self.info, self.extra = code, info, extra


def _statement(qid: str, prop: str, n: int, datatype: str, value: Any, vtype: str) -> dict[str, Any]:
    return {
        "mainsnak": {"snaktype": "value", "property": prop, "datavalue": {"value": value, "type": vtype}, "datatype": datatype},
        "type": "statement",
        "id": f"{qid}${prop}-{n:04d}",
        "rank": "normal",
    }


def entity_json(item: Item, props: set[str], languages: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "item", "id": item.id}
    if "labels" in props:
        out["labels"] = {lang: {"language": lang, "value": item.label} for lang in languages if item.label}
    if "claims" in props:
        claims: dict[str, list[dict[str, Any]]] = {}
        for n, cls in enumerate(item.instance_of):
            value = {"entity-type": "item", "numeric-id": int(cls[1:]), "id": cls}
            claims.setdefault("P31", []).append(_statement(item.id, "P31", n, "wikibase-item", value, "wikibase-entityid"))
        for n, name in enumerate(item.images):
            claims.setdefault("P18", []).append(
                _statement(item.id, "P18", n, "commonsMedia", name.replace("_", " "), "string")
            )
        if item.commons_category:
            claims["P373"] = [_statement(item.id, "P373", 0, "string", item.commons_category, "string")]
        out["claims"] = claims
    if "sitelinks" in props:
        out["sitelinks"] = {w: {"site": w, "title": t, "badges": []} for w, t in sorted(item.sitelinks.items())}
    return out


def wbgetentities(items: dict[str, Item], q: dict[str, str]) -> dict[str, Any]:
    ids = [v for v in (q.get("ids") or "").split("|") if v]
    if not ids:
        raise WbError("param-missing", "Either provide the item \"ids\" or pairs of \"sites\" and \"titles\".")
    if len(ids) > MAX_IDS:
        raise WbError("toomanyvalues", f'Too many values supplied for parameter "ids". The limit is {MAX_IDS}.',
                      parameter="ids", limit=MAX_IDS)
    for raw in ids:
        if not re.fullmatch(r"[QPL][1-9]\d*", raw.upper()):
            raise WbError("no-such-entity", f'Could not find an entity with the ID "{raw}".', id=raw)
    props = set((q.get("props") or "info|sitelinks|aliases|labels|descriptions|claims|datatype").split("|"))
    languages = [v for v in (q.get("languages") or "en").split("|") if v]
    entities: dict[str, Any] = {}
    for raw in ids:
        qid = raw.upper()
        item = items.get(qid)
        entities[qid] = entity_json(item, props, languages) if item else {"id": qid, "missing": ""}
    return {"entities": entities, "success": 1}


# --------------------------------------------------------------------------- SPARQL


class SparqlError(Exception):
    """HTTP 400 (malformed / unsupported) or the timeout answer (500)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True)
class Term:
    kind: str  # var | item | prop | literal
    value: str


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<comment>\#[^\n]*)
    | (?P<iri><[^<>\s]*>)
    | (?P<var>[?$][A-Za-z_]\w*)
    | (?P<string>"(?:[^"\\]|\\.)*"(?:@[A-Za-z-]+)?)
    | (?P<pname>[A-Za-z][\w-]*:[\w.-]*\w|[A-Za-z][\w-]*:)
    | (?P<num>\d+)
    | (?P<word>[A-Za-z]+)
    | (?P<punct>[{}.*;,()/|^!=<>])
    )""",
    re.VERBOSE,
)
_KNOWN_PREFIXES = {"wd": ENTITY, "wdt": DIRECT, "wikibase": "http://wikiba.se/ontology#",
                   "bd": "http://www.bigdata.com/rdf#", "rdfs": "http://www.w3.org/2000/01/rdf-schema#"}


def _malformed(message: str) -> SparqlError:
    return SparqlError(f"org.openrdf.query.MalformedQueryException: {message}")


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            line = text.count("\n", 0, pos) + 1
            raise _malformed(f'Encountered " "{text[pos:pos + 10].strip()}" " at line {line}.')
        kind = m.lastgroup or ""
        if kind != "comment":  # '#' starts a comment outside IRIs and strings
            tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


@dataclass
class ParsedQuery:
    select: list[str] | None  # None = *
    distinct: bool
    patterns: list[tuple[Term, Term, Term]]
    label_languages: list[str]
    order_by: str | None
    limit: int | None
    offset: int


def _term(kind: str, value: str, prefixes: dict[str, str], position: str) -> Term:
    if kind == "var":
        return Term("var", value[1:])
    if kind == "pname":
        prefix, _, local = value.partition(":")
        if prefix not in prefixes:
            raise _malformed(f'QName "{value}" uses an undefined prefix')
        kind, value = "iri", f"<{prefixes[prefix]}{local}>"
    if kind == "iri":
        iri = value[1:-1]
        if iri.startswith(ENTITY) and re.fullmatch(r"Q[1-9]\d*", iri[len(ENTITY):]):
            return Term("item", iri[len(ENTITY):])
        if iri.startswith(DIRECT) and re.fullmatch(r"P[1-9]\d*", iri[len(DIRECT):]):
            return Term("prop", iri[len(DIRECT):])
        raise _malformed(f"this mirror only knows wd:Q… items and wdt:P… properties, not <{iri}>")
    if kind == "string" and position == "object":
        m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"(?:@[A-Za-z-]+)?', value)
        return Term("literal", (m.group(1) if m else value).replace('\\"', '"'))
    raise _malformed(f'Encountered " "{value}" " in the {position} of a triple pattern.')


def parse(text: str) -> ParsedQuery:
    tokens = tokenize(text)
    prefixes = dict(_KNOWN_PREFIXES)
    i = 0

    def peek(k: int = 0) -> tuple[str, str]:
        return tokens[i + k] if i + k < len(tokens) else ("eof", "")

    def expect(kind: str, value: str | None = None) -> str:
        nonlocal i
        t = peek()
        if t[0] != kind or (value is not None and t[1].upper() != value.upper()):
            want = value or kind
            raise _malformed(f'Encountered " "{t[1] or "<EOF>"}" ". Was expecting "{want}".')
        i += 1
        return t[1]

    while peek()[0] == "word" and peek()[1].upper() == "PREFIX":
        i += 1
        name = expect("pname")
        iri = expect("iri")
        prefixes[name[:-1]] = iri[1:-1]
    if not (peek()[0] == "word" and peek()[1].upper() == "SELECT"):
        raise _malformed(f'Encountered " "{peek()[1] or "<EOF>"}" ". Was expecting "SELECT" (this mirror answers SELECT queries only).')
    i += 1
    distinct = False
    if peek()[0] == "word" and peek()[1].upper() in ("DISTINCT", "REDUCED"):
        distinct = True
        i += 1
    select: list[str] | None = []
    if peek() == ("punct", "*"):
        select = None
        i += 1
    else:
        while peek()[0] == "var":
            assert select is not None
            select.append(expect("var")[1:])
        if not select:
            raise _malformed(f'Encountered " "{peek()[1] or "<EOF>"}" ". Was expecting a variable or "*".')
    if peek()[0] == "word" and peek()[1].upper() == "WHERE":
        i += 1
    expect("punct", "{")
    patterns: list[tuple[Term, Term, Term]] = []
    languages: list[str] = []
    while peek() != ("punct", "}"):
        kind, value = peek()
        if kind == "eof":
            raise _malformed('Encountered "<EOF>". Was expecting "}".')
        if kind == "word" and value.upper() == "SERVICE":
            i += 1
            if expect("pname") != "wikibase:label":
                raise _malformed("this mirror only knows SERVICE wikibase:label")
            expect("punct", "{")
            while peek() != ("punct", "}"):
                if peek()[0] == "eof":
                    raise _malformed('Encountered "<EOF>". Was expecting "}".')
                if peek()[0] == "string":
                    languages.extend(x.strip() for x in peek()[1].strip('"').split(","))
                i += 1
            i += 1
            continue
        if kind == "word":
            raise _malformed(f'Encountered " "{value}" " — this mirror evaluates basic graph patterns only '
                             "(no FILTER, OPTIONAL, UNION, MINUS, BIND, VALUES)")
        s = _term(*peek(), prefixes, "subject")
        i += 1
        p_kind, p_value = peek()
        if p_kind == "var":
            raise _malformed(f"variable predicate {p_value} is not supported by this mirror")
        p = _term(p_kind, p_value, prefixes, "predicate")
        i += 1
        if peek()[0] == "punct" and peek()[1] in "/|^*":
            raise _malformed("property paths are not supported by this mirror")
        o = _term(*peek(), prefixes, "object")
        i += 1
        if s.kind not in ("var", "item") or p.kind != "prop":
            raise _malformed(f"unsupported triple pattern {s.value} {p.value} {o.value}")
        if p.value not in SUPPORTED_PROPS:
            raise _malformed(f"this mirror's Wikidata only has {', '.join(SUPPORTED_PROPS)}, not {p.value}")
        patterns.append((s, p, o))
        if peek() == ("punct", "."):
            i += 1
        elif peek() != ("punct", "}"):
            raise _malformed(f'Encountered " "{peek()[1] or "<EOF>"}" ". Was expecting "." or "}}".')
    i += 1
    if not patterns:
        raise _malformed("empty graph pattern")
    order_by = None
    limit = None
    offset = 0
    while peek()[0] != "eof":
        word = expect("word").upper()
        if word == "ORDER":
            expect("word", "BY")
            order_by = expect("var")[1:]
        elif word == "LIMIT":
            limit = int(expect("num"))
        elif word == "OFFSET":
            offset = int(expect("num"))
        else:
            raise _malformed(f'Encountered " "{word}" " after the WHERE clause.')
    return ParsedQuery(select, distinct, patterns, languages or [], order_by, limit, offset)


def triples(items: dict[str, Item]) -> list[tuple[str, str, Term]]:
    out: list[tuple[str, str, Term]] = []
    for qid in sorted(items, key=lambda q: int(q[1:])):
        item = items[qid]
        out.extend((qid, "P31", Term("item", c)) for c in item.instance_of)
        out.extend((qid, "P18", Term("file", f)) for f in item.images)
        if item.commons_category:
            out.append((qid, "P373", Term("literal", item.commons_category)))
    return out


def _matches(term: Term, value: Term) -> bool:
    if term.kind == "literal":
        return value.kind == "literal" and value.value == term.value
    return term.kind == value.kind and term.value == value.value


def evaluate(query: ParsedQuery, items: dict[str, Item], *, max_work: int = 200_000) -> dict[str, Any]:
    """SPARQL 1.1 JSON results of ``query`` over ``items``."""
    store = triples(items)
    by_prop: dict[str, list[tuple[str, Term]]] = {}
    for subject, prop, obj_value in store:
        by_prop.setdefault(prop, []).append((subject, obj_value))
    solutions: list[dict[str, Term]] = [{}]
    work = 0
    for s, p, o in query.patterns:
        nxt: list[dict[str, Term]] = []
        for sol in solutions:
            for subj, obj in by_prop.get(p.value, ()):
                work += 1
                if work > max_work:
                    raise SparqlError(
                        "java.util.concurrent.ExecutionException: java.util.concurrent.TimeoutException\n"
                        "\tat java.util.concurrent.FutureTask.report(FutureTask.java:121)\n"
                        "\tat com.bigdata.rdf.sail.webapp.QueryServlet.doSparqlQuery(QueryServlet.java:… query deadline 60000 ms)",
                        timeout=True,
                    )
                subj_term = Term("item", subj)
                new = dict(sol)
                ok = True
                for pattern_term, value in ((s, subj_term), (o, obj)):
                    if pattern_term.kind == "var":
                        bound = new.get(pattern_term.value)
                        if bound is None:
                            new[pattern_term.value] = value
                        elif bound != value:
                            ok = False
                    elif not _matches(pattern_term, value):
                        ok = False
                if ok:
                    nxt.append(new)
        solutions = nxt
    variables: list[str] = []
    for s, _, o in query.patterns:
        for t in (s, o):
            if t.kind == "var" and t.value not in variables:
                variables.append(t.value)
    head = variables if query.select is None else query.select
    for v in head:
        base = v[:-5] if v.endswith("Label") else None
        if v not in variables and not (base and base in variables and query.label_languages):
            raise _malformed(f"variable ?{v} is selected but not bound in the WHERE clause (not in a GROUP BY)")
    if query.order_by:
        key = query.order_by

        def sort_key(sol: dict[str, Term]) -> tuple[int, Any]:
            t = sol.get(key)
            if t is None:
                return (0, "")
            return (1, int(t.value[1:])) if t.kind == "item" else (1, t.value)

        solutions.sort(key=sort_key)
    rows = [_binding(sol, head, items, query.label_languages) for sol in solutions]
    if query.distinct:
        seen: set[str] = set()
        unique = []
        for row in rows:
            k = repr(sorted((k, tuple(sorted(v.items()))) for k, v in row.items()))
            if k not in seen:
                seen.add(k)
                unique.append(row)
        rows = unique
    rows = rows[query.offset :]
    if query.limit is not None:
        rows = rows[: query.limit]
    return {"head": {"vars": head}, "results": {"bindings": rows}}


def _binding(sol: dict[str, Term], head: list[str], items: dict[str, Item], languages: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in head:
        t = sol.get(v)
        if t is None and v.endswith("Label") and languages:
            base = sol.get(v[:-5])
            if base is not None and base.kind == "item":
                item = items.get(base.value)
                label = item.label if item and item.label else base.value
                out[v] = {"xml:lang": languages[0], "type": "literal", "value": label}
            continue
        if t is None:
            continue
        if t.kind == "item":
            out[v] = {"type": "uri", "value": ENTITY + t.value}
        elif t.kind == "file":
            out[v] = {"type": "uri", "value": FILEPATH + quote(t.value.replace("_", " "))}
        else:
            out[v] = {"type": "literal", "value": t.value}
    return out


def run_sparql(text: str, items: dict[str, Item], *, max_work: int) -> dict[str, Any]:
    return evaluate(parse(text), items, max_work=max_work)

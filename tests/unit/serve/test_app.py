"""HTTP API: validation, 404 reasons, bearer token when not on loopback, never a traceback."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from wikivis.errors import ConfigError, NotFoundError
from wikivis.serve.app import MAX_K, create_app, is_loopback, token_required
from wikivis.serve.runner import prepare


@pytest.fixture
def client(settings, service) -> TestClient:
    return TestClient(create_app(settings, service=service))


def some_article(synth) -> str:
    return synth.data.titles[next(p for p, items in sorted(synth.data.page_items.items()) if len(items) >= 2)]


def test_suggest_and_similar(client, synth) -> None:
    title = some_article(synth)
    r = client.get("/suggest", params={"article": title.replace("_", " "), "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["article"] == title
    assert body["k"] == 3
    assert len(body["suggestions"]) <= 3
    first = body["suggestions"][0]
    assert {"sha1", "file_name", "score", "rank", "source", "seed_images", "seed_articles"} <= set(first)
    name = synth.data.display_name(synth.data.page_items[body["page_id"]][0])
    r = client.get("/similar", params={"file": f"File:{name}", "k": 4})
    assert r.status_code == 200
    assert r.json()["file"] == name
    assert len(r.json()["results"]) == 4


def test_unknown_title_is_404_with_reason(client) -> None:
    r = client.get("/suggest", params={"article": "No such article"})
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "reason": "unknown article 'No such article'"}
    r = client.get("/similar", params={"file": "Nothing.jpg"})
    assert r.status_code == 404
    assert "unknown file" in r.json()["reason"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/suggest", {}),
        ("/suggest", {"article": ""}),
        ("/suggest", {"article": "X", "k": 0}),
        ("/suggest", {"article": "X", "k": MAX_K + 1}),
        ("/suggest", {"article": "X", "k": "ten"}),
        ("/suggest", {"article": "X", "model": "vbpr"}),
        ("/similar", {"file": "x" * 513}),
    ],
)
def test_invalid_parameters_are_422(client, path: str, params: dict) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_request"
    assert body["reason"]
    assert body["detail"]


def test_model_unavailable_is_503(client, synth) -> None:
    r = client.get("/suggest", params={"article": some_article(synth), "model": "curatornet"})
    assert r.status_code == 503
    assert r.json()["error"] == "model_unavailable"


def test_token_required_when_not_loopback(settings, service, synth) -> None:
    exposed = settings.replace(serve_host="0.0.0.0", serve_token="s3cret")
    client = TestClient(create_app(exposed, service=service))
    params = {"article": some_article(synth)}
    assert client.get("/suggest", params=params).status_code == 401
    wrong = client.get("/suggest", params=params, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["error"] == "unauthorized"
    assert client.get("/suggest", params=params, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/healthz").json()["auth"] is True
    with pytest.raises(ConfigError, match="WIKIVIS_SERVE_TOKEN"):
        create_app(settings.replace(serve_host="0.0.0.0"), service=service)


def test_loopback_needs_no_token_unless_one_is_set(settings, service) -> None:
    assert token_required(settings) is False
    assert token_required(settings.replace(serve_token="t")) is True
    assert token_required(settings, require_token=False) is False
    with pytest.raises(ConfigError):
        token_required(settings, require_token=True)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_runner_refuses_exposed_bind_without_token(settings) -> None:
    with pytest.raises(ConfigError):
        prepare(settings, "0.0.0.0", 9999)
    bound, needs = prepare(settings.replace(serve_token="t"), "0.0.0.0", 9999)
    assert needs
    assert bound.serve_host == "0.0.0.0"
    assert bound.serve_port == 9999
    bound, needs = prepare(settings)
    assert not needs
    assert bound.serve_host == "127.0.0.1"


def test_healthz_reports_latency(client, synth) -> None:
    client.get("/suggest", params={"article": some_article(synth)})
    client.get("/suggest", params={"article": "Missing"})
    client.get("/not-a-route")
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["auth"] is False
    assert body["latency"]["/suggest"]["n"] == 2
    assert body["latency"]["/suggest"]["p95_ms"] >= body["latency"]["/suggest"]["p50_ms"] >= 0
    assert "/not-a-route" not in body["latency"]


def test_service_that_cannot_load_is_503_with_reason(settings) -> None:
    client = TestClient(create_app(settings))  # nothing published under this home
    r = client.get("/suggest", params={"article": "X"})
    assert r.status_code == 503
    assert r.json()["error"] == "unavailable"
    assert "article_images" in r.json()["reason"]
    assert client.get("/healthz").status_code == 503


def test_unexpected_errors_are_500_without_traceback(settings, service, monkeypatch) -> None:
    def boom(*_a, **_k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "suggest", boom)
    client = TestClient(create_app(settings, service=service), raise_server_exceptions=False)
    r = client.get("/suggest", params={"article": "X"})
    assert r.status_code == 500
    assert r.json() == {"error": "internal", "reason": "internal error; see the server log"}
    assert "secret" not in r.text
    assert "Traceback" not in r.text


FAISS_TEXT = (
    "Error in faiss::FileIOReader::FileIOReader(const char*) at /project/faiss/faiss/impl/io.cpp:68: "
    "Error: 'f' failed: could not open /srv/wikivis/lake/index/v3/index.faiss for reading: No such file or directory"
)


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError(FAISS_TEXT),
        NotFoundError("no article_images snapshot under /home/alice/wikivis/lake/samplewiki: ingest first"),
    ],
)
def test_503_reasons_hide_paths_and_faiss_text(settings, monkeypatch, caplog, failure) -> None:
    def load(*_a, **_k):
        raise failure

    monkeypatch.setattr("wikivis.serve.app.load_service", load)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    with caplog.at_level(logging.WARNING, logger="wikivis.serve.app"):
        answers = [client.get("/suggest", params={"article": "X"}), client.get("/healthz")]
    for r in answers:
        assert r.status_code == 503
        assert r.json()["error"] == "unavailable"
        reason = r.json()["reason"]
        assert "/" not in reason
        assert "faiss" not in reason.lower()
        assert "alice" not in r.text and "/srv" not in r.text and "io.cpp" not in r.text
    assert str(failure) in caplog.text  # the operator still sees the cause in the server log


def test_docs_and_openapi_need_the_token_when_one_is_required(settings, service) -> None:
    exposed = settings.replace(serve_host="0.0.0.0", serve_token="s3cret")
    client = TestClient(create_app(exposed, service=service))
    auth = {"Authorization": "Bearer s3cret"}
    for path in ("/docs", "/openapi.json"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get(path, headers=auth).status_code == 200
    assert "/suggest" in client.get("/openapi.json", headers=auth).json()["paths"]
    assert client.get("/redoc").status_code in (401, 404)
    # on loopback without a token the docs stay open
    open_client = TestClient(create_app(settings, service=service))
    assert open_client.get("/openapi.json").status_code == 200
    assert open_client.get("/docs").status_code == 200

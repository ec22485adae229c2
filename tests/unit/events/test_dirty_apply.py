"""Events → dirty pages/files; re-read states → dataset rows (pure Arrow)."""

from __future__ import annotations

import pyarrow as pa

from wikivis.datasets import schema
from wikivis.events.apply import FileRow, PageState, apply_files, apply_pages, files_to_fetch, used_names
from wikivis.events.dirty import DirtySet

W, C = "samplewiki", "commonswiki"


def ev(stream: str, **body) -> dict:
    return {"meta": {"id": "x", "dt": body.pop("dt", "2026-11-01T00:00:00Z"), "stream": f"mediawiki.{stream}"}, **body}


def test_page_events_name_pages() -> None:
    d = DirtySet(W, C)
    assert d.add(ev("revision-create", database=W, page_id=1, page_namespace=0, page_title="A", page_is_redirect=False))
    assert d.add(ev("page-move", database=W, page_id=2, page_namespace=0, page_title="New",
                    prior_state={"page_title": "Old", "page_namespace": 0},
                    new_redirect_page={"page_id": 9, "page_title": "Old", "page_namespace": 0}))
    assert d.add(ev("page-undelete", database=W, page_id=3, page_namespace=0, prior_state={"page_id": 33}))
    assert d.add(ev("page-delete", database=W, page_id=4, page_namespace=0))
    assert d.add(ev("page-properties-change", database=W, page_id=5, page_namespace=0,
                    added_properties={"page_image_free": "X.jpg"}))
    assert not d.add(ev("revision-create", database=W, page_id=6, page_namespace=2))  # user page
    assert d.add(ev("page-move", database=W, page_id=7, page_namespace=2, prior_state={"page_namespace": 0}))
    assert d.add(ev("revision-create", database=W, page_title="No_id", page_namespace=0))
    assert not d.add(ev("recentchange", wiki=W, type="edit", namespace=0, title="A"))  # revision-create says it
    assert d.pages == {1, 2, 9, 3, 33, 4, 5, 7}
    assert d.titles == {"No_id"}
    assert d.redirect_hint(9) is True
    assert d.redirect_hint(1) is False
    assert d.redirect_hint(5) is None


def test_newest_redirect_hint_wins() -> None:
    d = DirtySet(W, C)
    d.add(ev("revision-create", dt="2026-11-01T02:00:00Z", database=W, page_id=1, page_namespace=0, page_is_redirect=True))
    d.add(ev("revision-create", dt="2026-11-01T01:00:00Z", database=W, page_id=1, page_namespace=0, page_is_redirect=False))
    assert d.redirect_hint(1) is True


def test_file_events_name_files() -> None:
    d = DirtySet(W, C)
    for action in ("upload", "overwrite", "revert"):
        assert d.add(ev("recentchange", wiki=C, type="log", namespace=6, title=f"File:{action.capitalize()} me.jpg",
                        log_type="upload", log_action=action))
    assert d.add(ev("recentchange", wiki=C, type="log", namespace=6, title="File:Gone.png", log_type="delete", log_action="delete"))
    assert d.add(ev("recentchange", wiki=C, type="log", namespace=6, title="File:Old.png", log_type="move",
                    log_params={"target": "File:New name.png"}))
    assert d.add(ev("page-delete", database=C, page_id=77, page_namespace=6, page_title="File:Deleted_page.svg"))
    assert not d.add(ev("recentchange", wiki=C, type="edit", namespace=6, title="File:Desc edit.jpg"))
    assert not d.add(ev("recentchange", wiki=C, type="log", namespace=6, title="File:P.jpg", log_type="protect"))
    assert not d.add(ev("revision-create", database=C, page_id=5, page_namespace=6, page_title="File:Desc.jpg"))
    assert d.files == {"Upload_me.jpg", "Overwrite_me.jpg", "Revert_me.jpg", "Gone.png", "Old.png", "New_name.png",
                       "Deleted_page.svg"}
    assert d.pages == set()


def test_page_change_v1_events() -> None:
    d = DirtySet(W, C)

    def pc(kind: str, wiki: str = W, **body) -> dict:
        return {"meta": {"id": kind, "dt": "2026-11-01T00:00:00Z", "stream": "mediawiki.page_change.v1"},
                "wiki_id": wiki, "page_change_kind": kind, **body}

    assert d.add(pc("edit", page={"page_id": 1, "namespace_id": 0, "page_title": "A", "is_redirect": False}))
    assert d.add(pc("move", page={"page_id": 2, "namespace_id": 0, "page_title": "New"},
                    prior_state={"page": {"page_id": 2, "namespace_id": 0, "page_title": "Old"}},
                    created_redirect_page={"page_id": 9, "namespace_id": 0, "page_title": "Old", "is_redirect": True}))
    assert not d.add(pc("edit", page={"page_id": 3, "namespace_id": 2, "page_title": "User:X"}))
    assert d.add(pc("delete", wiki=C, page={"page_id": 70, "namespace_id": 6, "page_title": "File:Gone.jpg"}))
    assert not d.add(pc("edit", wiki=C, page={"page_id": 71, "namespace_id": 6, "page_title": "File:Desc.jpg"}))
    assert d.pages == {1, 2, 9}
    assert d.files == {"Gone.jpg"}
    assert d.redirect_hint(9) is True


def _base() -> dict[str, pa.Table]:
    pages = pa.Table.from_pylist([
        {"wiki": W, "page_id": 1, "page_namespace": 0, "page_title": "A", "is_redirect": False},
        {"wiki": W, "page_id": 2, "page_namespace": 0, "page_title": "B", "is_redirect": False},
    ], schema=schema("pages"))
    images = pa.Table.from_pylist([
        {"wiki": W, "page_id": 1, "page_namespace": 0, "page_title": "A", "file_name": "a.jpg", "is_lead": True},
        {"wiki": W, "page_id": 2, "page_namespace": 0, "page_title": "B", "file_name": "b.jpg", "is_lead": False},
    ], schema=schema("article_images"))
    cats = pa.Table.from_pylist([{"wiki": W, "page_id": 1, "category": "Cat"}], schema=schema("article_categories"))
    return {"pages": pages, "article_images": images, "article_categories": cats}


def _file(name: str, sha1: str = "0" * 40) -> FileRow:
    return FileRow(name, 10, 2, 3, "BITMAP", "image/jpeg", sha1, "20261101000000")


def test_apply_replaces_dirty_pages_rows() -> None:
    states = {
        1: PageState(1, 0, "A_moved", False, ("a.jpg", "c.jpg"), ("Cat", "Dog"), frozenset({"c.jpg"})),
        2: None,  # deleted
        3: PageState(3, 0, "New", True),
        4: PageState(4, 2, "User_page", False, ("u.jpg",)),  # not an article
    }
    out = apply_pages(_base(), states, W)
    assert sorted(out["pages"].column("page_id").to_pylist()) == [1, 3]
    rows = sorted((r["page_id"], r["page_title"], r["file_name"], r["is_lead"]) for r in out["article_images"].to_pylist())
    assert rows == [(1, "A_moved", "a.jpg", False), (1, "A_moved", "c.jpg", True)]
    assert sorted(out["article_categories"].column("category").to_pylist()) == ["Cat", "Dog"]
    assert out["pages"].schema == schema("pages")
    assert used_names(out["article_images"]) == {"a.jpg", "c.jpg"}


def test_files_scope_all_and_used() -> None:
    base = pa.Table.from_pylist(
        [{"wiki": C, "file_name": n, "size": 1, "width": 1, "height": 1, "media_type": "BITMAP", "mime": "image/png",
          "sha1": "f" * 40, "timestamp": "20260101000000"} for n in ("a.jpg", "b.jpg", "unused.png")],
        schema=schema("files"),
    )
    states = {1: PageState(1, 0, "A", False, ("a.jpg", "c.jpg"))}
    dirty = {"b.jpg", "z.jpg"}
    assert files_to_fetch(base, states, dirty, None) == {"b.jpg", "z.jpg"}
    every = apply_files(base, {"b.jpg": None, "z.jpg": _file("z.jpg")}, C)
    assert sorted(every.column("file_name").to_pylist()) == ["a.jpg", "unused.png", "z.jpg"]
    used = {"a.jpg", "b.jpg", "c.jpg"}
    assert files_to_fetch(base, states, dirty, used) == {"b.jpg", "c.jpg"}
    only_used = apply_files(base, {"b.jpg": _file("b.jpg", "1" * 40), "c.jpg": None}, C, used)
    assert sorted(only_used.column("file_name").to_pylist()) == ["a.jpg", "b.jpg"]
    assert only_used.schema == schema("files")

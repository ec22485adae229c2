"""The SSE parser: field lines, multi-line data, comments, id/event/retry, CR/LF/CRLF, chunking."""

from __future__ import annotations

import random

import pytest

from wikivis.sources.eventstreams import SSEEvent, SSEParser, iter_sse


def parse(*chunks: bytes) -> list[SSEEvent]:
    return list(iter_sse(chunks))


def test_one_message_with_id_and_type() -> None:
    (event,) = parse(b'event: message\nid: [{"topic":"t","partition":0,"timestamp":2}]\ndata: {"a":1}\n\n')
    assert event == SSEEvent(data='{"a":1}', event="message", id='[{"topic":"t","partition":0,"timestamp":2}]')


def test_multi_line_data_is_joined_with_newlines() -> None:
    (event,) = parse(b"data: first\ndata: second\ndata\ndata:third\n\n")
    assert event.data == "first\nsecond\n\nthird"


def test_only_one_leading_space_is_removed() -> None:
    (event,) = parse(b"data:  two spaces\n\n")
    assert event.data == " two spaces"


def test_comments_are_counted_not_dispatched() -> None:
    parser = SSEParser()
    assert parser.feed(b":ok\n\n: keep-alive\n\n") == []
    assert parser.comments == 2


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(newline: bytes) -> None:
    text = b"event: message" + newline + b"data: a" + newline + b"data: b" + newline + newline + b"data: c" + newline + newline
    assert [e.data for e in parse(text)] == ["a\nb", "c"]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # "\r" ends chunk 1 and "\n" starts chunk 2: one line end, not a blank line that dispatches
    events = parse(b"data: a\r", b"\ndata: b\r\n\r\n")
    assert [e.data for e in events] == ["a\nb"]


def test_any_chunking_gives_the_same_events() -> None:
    stream = (
        "\ufeff: hello\r\n\r\nid: 1\r\nevent: message\r\ndata: {\"t\":\"é€😀\"}\r\n\r\n"
        "data: x\rdata: y\r\rid: 2\nretry: 1500\ndata: z\n\n"
    ).encode()
    whole = parse(stream)
    assert [e.data for e in whole] == ['{"t":"é€😀"}', "x\ny", "z"]
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 12)))
        pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert parse(*pieces) == whole
    assert parse(*[stream[i : i + 1] for i in range(len(stream))]) == whole  # byte by byte


def test_bom_only_at_start_and_split() -> None:
    assert [e.data for e in parse(b"\xef\xbb", b"\xbfdata: a\n\n")] == ["a"]
    parser = SSEParser()
    parser.feed(b"data: a\n\n")
    (event,) = parser.feed(b"data: \xef\xbb\xbfb\n\n")  # not at the start: kept
    assert event.data == "\ufeffb"


def test_last_event_id_persists_and_null_is_ignored() -> None:
    events = parse(b"id: 7\ndata: a\n\ndata: b\n\nid: 8\x009\ndata: c\n\nid\ndata: d\n\n")
    assert [e.id for e in events] == ["7", "7", "7", ""]


def test_id_without_data_updates_the_id_but_dispatches_nothing() -> None:
    parser = SSEParser()
    assert parser.feed(b"id: 5\n\n") == []
    assert parser.last_event_id == "5"


def test_event_type_resets_after_dispatch() -> None:
    events = parse(b"event: error\ndata: boom\n\ndata: ok\n\n")
    assert [(e.event, e.data) for e in events] == [("error", "boom"), ("message", "ok")]


def test_retry_only_digits() -> None:
    parser = SSEParser()
    parser.feed(b"retry: 2500\n\nretry: soon\n\nretry: 1.5\n\n")
    assert parser.retry_ms == 2500


def test_unknown_fields_are_ignored() -> None:
    (event,) = parse(b"foo: bar\nData: no\ndata: yes\n\n")
    assert event.data == "yes"


def test_an_open_event_is_discarded_on_reset() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: half of an ev") == []
    parser.reset()  # the connection dropped
    assert [e.data for e in parser.feed(b"data: whole\n\n")] == ["whole"]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    (event,) = parse(b"data: \xff\xfe ok\n\n")
    assert event.data.endswith(" ok")
    assert "\ufffd" in event.data

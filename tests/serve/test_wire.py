"""The wire witness's record: markers, what is kept of headers and bodies, the log."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.model.results import HttpExchange
from harness.serve.wire import (
    BODY_HASH_LIMIT,
    NOT_RECORDED,
    BodyMeter,
    WireLog,
    cookie_names,
    mark,
    probe_of,
    request_headers,
    response_headers,
    unmark,
)

PROBE = "p-0123456789-simple-get-include-fetch-chd"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/me",
        "https://api.example.com/me?x=1&y=2",
        "https://api.example.com/",
        "https://api.example.com/a?__corsproof=mine",
    ],
)
def test_marker_round_trips_and_leaves_the_url_exact(url: str) -> None:
    marked = mark(url, PROBE)
    path = marked.split("api.example.com", 1)[1]
    clean, probe = unmark(path)
    assert probe == PROBE
    assert clean == url.split("api.example.com", 1)[1]


def test_fragment_stays_after_the_marker() -> None:
    assert (
        mark("https://a.test/p#corsproof=x", PROBE)
        == f"https://a.test/p?__corsproof={PROBE}#corsproof=x"
    )


def test_only_a_trailing_marker_is_taken() -> None:
    # The target's own parameter of that name, not last, is forwarded untouched.
    assert unmark("/p?__corsproof=theirs&x=1") == ("/p?__corsproof=theirs&x=1", None)
    assert unmark("/p?q=1") == ("/p?q=1", None)
    assert unmark("/p?__corsproof=a b") == ("/p?__corsproof=a b", None)


@given(st.from_regex(r"[a-z0-9-]{1,40}", fullmatch=True), st.integers(1, 9))
def test_attempts_are_told_apart(probe: str, attempt: int) -> None:
    marker = probe if attempt == 1 else f"{probe}.{attempt}"
    assert probe_of(marker) == (probe, attempt)


def test_request_headers_keep_names_and_only_safe_values() -> None:
    kept = dict(
        request_headers(
            [
                ("Origin", "https://evil.test"),
                ("Cookie", "sid=s3cret; theme=dark"),
                ("Authorization", "Bearer s3cret-token"),
                ("Access-Control-Request-Headers", "authorization"),
                ("X-Api-Key", "k3y"),
                ("Sec-Fetch-Site", "cross-site"),
            ]
        )
    )
    assert kept["Origin"] == "https://evil.test"
    assert kept["Cookie"] == "sid=…; theme=…"
    assert kept["Authorization"] == NOT_RECORDED
    assert kept["X-Api-Key"] == NOT_RECORDED
    assert kept["Access-Control-Request-Headers"] == "authorization"
    assert kept["Sec-Fetch-Site"] == "cross-site"
    assert "s3cret" not in repr(kept) and "k3y" not in repr(kept)


def test_response_headers_keep_cors_headers_whole() -> None:
    kept = dict(
        response_headers(
            [
                ("Access-Control-Allow-Origin", "https://evil.test"),
                ("Vary", "Origin"),
                ("Set-Cookie", "sid=s3cret"),
                ("X-Internal-Token", "t0ken"),
            ]
        )
    )
    assert kept["Access-Control-Allow-Origin"] == "https://evil.test"
    assert kept["Vary"] == "Origin"
    assert kept["Set-Cookie"] == NOT_RECORDED and kept["X-Internal-Token"] == NOT_RECORDED


def test_cookie_names() -> None:
    assert cookie_names("a=1; b=2;c=3 ; =x") == ("a", "b", "c")


def _measure(
    encoding: str | None, body: bytes, pieces: int = 3
) -> tuple[int | None, str | None, bool]:
    meter = BodyMeter(encoding)
    step = max(1, len(body) // pieces)
    for i in range(0, len(body), step):
        meter.feed(body[i : i + step])
    return meter.result()


def test_body_meter_decodes_like_the_page_reads() -> None:
    plain = b'{"user": "alice"}' * 50
    expected = _measure(None, plain)
    assert expected[0] == len(plain)
    assert _measure("gzip", gzip.compress(plain)) == expected
    assert _measure("deflate", zlib.compress(plain)) == expected
    raw = zlib.compressobj(wbits=-15)
    assert _measure("deflate", raw.compress(plain) + raw.flush()) == expected


def test_body_meter_caps_what_it_hashes() -> None:
    big = b"x" * (BODY_HASH_LIMIT + 10)
    length, digest, truncated = _measure(None, big, pieces=7)
    assert length == BODY_HASH_LIMIT and truncated and digest
    # A decompression bomb is decoded no further than the cap.
    length, _, truncated = _measure("gzip", gzip.compress(b"\0" * (BODY_HASH_LIMIT * 8)))
    assert length == BODY_HASH_LIMIT and truncated


def test_body_meter_undecodable_body_has_no_hash() -> None:
    assert _measure("gzip", b"not gzip at all")[:2] == (None, None)
    # An encoding corsproof does not decode is hashed raw: still comparable to itself.
    assert _measure("br", b"\x1b\x03")[1] == _measure("br", b"\x1b\x03")[1]


def _exchange(method: str = "GET") -> HttpExchange:
    return HttpExchange(method, "https://a.test/", (), 200, source="wire")


def test_wire_log_files_by_probe_and_attempt() -> None:
    log = WireLog()
    log.begin(PROBE)
    assert log.open_count([PROBE]) == 1
    log.record(PROBE, "chromium", _exchange("OPTIONS"))
    log.begin(f"{PROBE}.2")
    log.record(f"{PROBE}.2", "chromium", _exchange())
    log.record(None, "chromium", _exchange())
    assert log.open_count([PROBE]) == 0
    taken = log.take([PROBE, "other"])
    assert [(r.attempt, r.exchange.method) for r in taken[PROBE]] == [(1, "OPTIONS"), (2, "GET")]
    assert "other" not in taken
    assert log.take([PROBE]) == {}
    assert log.unattributed == 1


def test_wire_log_is_bounded() -> None:
    log = WireLog(limit=2)
    for i in range(5):
        log.record(f"p{i}", "x", _exchange())
    assert log.dropped == 3
    assert set(log.take([f"p{i}" for i in range(5)])) == {"p0", "p1"}

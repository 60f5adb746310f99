"""The relay passes the target's bytes through untouched and records each exchange.

A scripted TCP server plays the target, so every answer is exactly known: the test
compares what the browser side receives with what the target sent, byte for byte.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from harness.serve.proxy import ForwardProxy
from harness.serve.relay import Upstream
from harness.serve.wire import NOT_RECORDED, BodyMeter, WireLog


@contextmanager
def scripted(answers: list[bytes], per_connection: int = 0) -> Iterator[tuple[int, list[bytes]]]:
    """A server answering the n-th request head it reads with ``answers[n]``, then closing
    when the answers run out (or after ``per_connection`` answers on one connection, as
    a server whose keep-alive timeout passed). Yields its port and the heads received."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                buf = b""
                todo = answers[len(seen) :]
                for answer in todo[:per_connection] if per_connection else todo:
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buf += data
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    seen.append(head)
                    conn.sendall(answer)
                if len(seen) >= len(answers):
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], seen
    finally:
        sock.close()


@contextmanager
def proxy_to(port: int) -> Iterator[tuple[ForwardProxy, WireLog]]:
    log = WireLog()
    proxy = ForwardProxy(
        {},
        intercept={("t.test", 80): Upstream("127.0.0.1", port, record=True)},
        wire=log,
        timeout=2,
    )
    proxy.start()
    try:
        yield proxy, log
    finally:
        proxy.stop()


def exchange(proxy_port: int, *requests: bytes) -> bytes:
    """Send the requests on one connection; everything received until the proxy closes."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as s:
        s.sendall(b"".join(requests))
        out = b""
        while True:
            try:
                data = s.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            out += data
    return out


def get(path: str, *, close: bool = True, extra: str = "") -> bytes:
    conn = "Connection: close\r\n" if close else ""
    return (
        f"GET http://t.test{path} HTTP/1.1\r\nHost: t.test\r\nOrigin: https://evil.test\r\n"
        f"Cookie: sid=s3cret\r\n{extra}{conn}\r\n"
    ).encode()


ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nAccess-Control-Allow-Origin: https://evil.test\r\n"
    b"X-Secret: hush\r\nConnection: close\r\n\r\nhello"
)


def test_marker_is_removed_and_the_answer_passes_byte_for_byte() -> None:
    with scripted([ANSWER]) as (port, seen), proxy_to(port) as (proxy, log):
        got = exchange(proxy.port, get("/me?x=1&__corsproof=p1"))
    assert got == ANSWER
    assert seen[0].startswith(b"GET /me?x=1 HTTP/1.1\r\n")
    assert b"__corsproof" not in seen[0]
    [record] = log.take(["p1"])["p1"]
    x = record.exchange
    assert x.source == "wire" and x.status == 200 and x.url == "http://t.test/me?x=1"
    assert x.cookies == ("sid",) and x.authorization is False
    assert x.body_length == 5 and x.body_hash == _hash(b"hello")
    headers = dict(x.response_headers)
    assert headers["Access-Control-Allow-Origin"] == "https://evil.test"
    assert headers["X-Secret"] == NOT_RECORDED
    assert "s3cret" not in repr(x) and "hush" not in repr(x)


def _hash(body: bytes) -> str | None:
    meter = BodyMeter(None)
    meter.feed(body)
    return meter.result()[1]


def test_chunked_answer_is_relayed_exactly_and_hashed_dechunked() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    with scripted([answer, ANSWER]) as (port, _), proxy_to(port) as (proxy, log):
        got = exchange(proxy.port, get("/a?__corsproof=c1", close=False), get("/b?__corsproof=c2"))
    assert got == answer + ANSWER  # keep-alive: both answers on one connection
    taken = log.take(["c1", "c2"])
    assert taken["c1"][0].exchange.body_hash == _hash(b"hello")
    assert taken["c2"][0].exchange.status == 200


def test_same_target_redirect_keeps_the_probe_marker() -> None:
    answer = b"HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n"
    with scripted([answer]) as (port, _), proxy_to(port) as (proxy, log):
        got = exchange(proxy.port, get("/start?__corsproof=r1"))
    assert b"Location: http://t.test/final?__corsproof=r1\r\n" in got
    assert log.take(["r1"])["r1"][0].exchange.status == 302


def test_an_answer_that_is_not_http_passes_on_raw() -> None:
    answer = b"SSH-2.0-OpenSSH_9.6\r\n\r\nwhatever follows"
    with scripted([answer]) as (port, _), proxy_to(port) as (proxy, log):
        got = exchange(proxy.port, get("/me?__corsproof=g1"))
    assert got == answer
    [record] = log.take(["g1"])["g1"]
    assert record.exchange.status is None and "raw" in (record.exchange.error or "")


def test_a_target_that_closes_without_answering_is_recorded_as_such() -> None:
    with scripted([b""]) as (port, _), proxy_to(port) as (proxy, log):
        got = exchange(proxy.port, get("/me?__corsproof=z1"))
    assert got == b""
    [record] = log.take(["z1"])["z1"]
    assert record.exchange.status is None
    assert "without answering" in (record.exchange.error or "")


def test_a_kept_alive_connection_the_target_closed_is_replaced_not_failed() -> None:
    # The target closes idle connections (uvicorn: after 5 s); the browser keeps its own
    # to the proxy open and sends the next request on it, as it would to the target.
    keep = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with (
        scripted([keep, ANSWER], per_connection=1) as (port, seen),
        proxy_to(port) as (proxy, log),
        socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s,
    ):
        s.sendall(get("/a?__corsproof=k1", close=False))
        first = b""
        while len(first) < len(keep) and (data := s.recv(65536)):
            first += data  # the relay may pass the head and the body on separately
        assert first == keep
        time.sleep(0.3)  # the target has closed its side by now
        s.sendall(get("/b?__corsproof=k2"))
        got = b""
        while data := s.recv(65536):
            got += data
    assert got == ANSWER
    assert len(seen) == 2
    assert log.take(["k2"])["k2"][0].exchange.status == 200


def test_requests_without_a_marker_are_kept_apart() -> None:
    with scripted([ANSWER]) as (port, _), proxy_to(port) as (proxy, log):
        exchange(proxy.port, get("/me"))
    assert log.unattributed == 1 and log.open_count(["me"]) == 0

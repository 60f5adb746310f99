"""The wire witness: what a browser really sent to the target, and what the target answered.

All browser traffic goes through corsproof's proxy. For the configured targets (and
only those) the proxy terminates TLS with the run's CA and relays each request
itself (:mod:`harness.relay`), so it can write down every exchange the browser had
with the target. That record is a measurement, not a reconstruction: the Python
replay sends its own requests, which a server may answer differently than it answers
a browser (``Sec-Fetch-*``, ``User-Agent``, cookie attributes, a gateway that answers
preflights).

Each probe URL carries a marker, ``__corsproof=<probe id>`` as the last query
parameter. The proxy removes it before the request leaves for the target, so the
target sees the exact URL corsproof was asked to verify, and files the exchange under
that probe. An exchange without a marker is kept as unattributed; the runner never
guesses whose it was.

What is kept, per exchange: method and URL; the request header names, with values
only for headers that hold no secret and decide CORS (:data:`REQUEST_VALUES`); for
``Cookie`` the cookie names only; for ``Authorization`` only whether it was there;
the response status, every CORS response header in full and the other response
headers by name; the body's length and a hash. Never a body, never a cookie or token
value.
"""

from __future__ import annotations

import hashlib
import re
import threading
import zlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.model.results import HttpExchange

MARKER_PARAM = "__corsproof"
"""Query parameter that ties a request to its probe; removed before the target sees it."""

_MARKER = re.compile(r"[?&]" + MARKER_PARAM + r"=([A-Za-z0-9.-]{1,160})$")

REQUEST_VALUES = frozenset(
    {
        "host",
        "origin",
        "access-control-request-method",
        "access-control-request-headers",
        "content-type",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
    }
)
"""Request headers whose values are recorded: they decide CORS and carry no secret."""

NOT_RECORDED = "[not recorded]"
"""Stands in for a header value the witness deliberately did not keep."""

BODY_HASH_LIMIT = 1024 * 1024
"""Bytes of the decoded body that are hashed; the page's runner reads as much."""

MAX_RECORDS = 500_000
"""Exchanges held at once; past that the oldest unclaimed ones are dropped (and counted)."""


def mark(url: str, probe: str) -> str:
    """``url`` with the probe marker appended as the last query parameter."""
    base, hash_sign, fragment = url.partition("#")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}{MARKER_PARAM}={probe}{hash_sign}{fragment}"


def unmark(target: str) -> tuple[str, str | None]:
    """Split a request-target into (the target without its marker, the probe or None).

    Only a marker in last position is removed, so a target whose own query happens to
    hold the parameter name elsewhere is forwarded as it is.
    """
    found = _MARKER.search(target)
    if found is None:
        return target, None
    return target[: found.start()], found.group(1)


def probe_of(marker: str) -> tuple[str, int]:
    """The probe id and attempt number (1 for the first) of a marker value."""
    probe, dot, attempt = marker.rpartition(".")
    if dot and attempt.isdigit():
        return probe, int(attempt)
    return marker, 1


def is_cors_header(name: str) -> bool:
    """Response headers recorded in full: ``Access-Control-*`` and ``Vary``."""
    low = name.lower()
    return low.startswith("access-control-") or low == "vary"


def cookie_names(value: str) -> tuple[str, ...]:
    """The cookie names of a ``Cookie`` request header, in order."""
    names = (part.partition("=")[0].strip() for part in value.split(";"))
    return tuple(n[:128] for n in names if n)[:64]


def request_headers(pairs: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Request headers as the witness keeps them: names, and values only where safe."""
    out: list[tuple[str, str]] = []
    for name, value in pairs[:100]:
        low = name.lower()
        if low == "cookie":
            shown = "; ".join(f"{n}=…" for n in cookie_names(value))
        elif low in REQUEST_VALUES:
            shown = value[:1024]
        else:
            shown = NOT_RECORDED
        out.append((name[:128], shown))
    return tuple(out)


def response_headers(pairs: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Response headers as the witness keeps them: CORS headers whole, others by name."""
    return tuple(
        (name[:128], value[:1024] if is_cors_header(name) else NOT_RECORDED)
        for name, value in pairs[:100]
    )


class BodyMeter:
    """Length and hash of a response body as page JavaScript would read it.

    Fed the body as it crosses the wire (after chunked framing is removed); decodes
    ``gzip`` and ``deflate`` so the length matches what the page counts. At most
    :data:`BODY_HASH_LIMIT` decoded bytes are hashed and kept track of; a longer body
    is marked truncated. Memory stays constant whatever the target sends.
    """

    def __init__(self, content_encoding: str | None) -> None:
        encoding = (content_encoding or "").strip().lower()
        self._decoder: zlib._Decompress | None = None
        self._raw_deflate = False
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        self.opaque = bool(encoding) and encoding != "identity" and self._decoder is None
        """An encoding corsproof does not decode (br, zstd): the raw bytes are hashed."""
        self._hash = hashlib.sha256()
        self.length = 0
        self.raw_length = 0
        self.truncated = False
        self.broken = False

    def feed(self, data: bytes) -> None:
        """Account for the next piece of the body."""
        self.raw_length += len(data)
        if self.truncated or self.broken or not data:
            return
        if self._decoder is None:
            self._take(data)
            return
        room = BODY_HASH_LIMIT - self.length + 1
        try:
            out = self._decoder.decompress(data, room)
        except zlib.error:
            if (
                self.encoding == "deflate"
                and not self._raw_deflate
                and self.raw_length == len(data)
            ):
                # "deflate" is meant to be zlib-wrapped, but some servers send it raw.
                self._raw_deflate = True
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                self.raw_length -= len(data)
                self.feed(data)
                return
            self.broken = True
            return
        self._take(out)
        if self._decoder.unconsumed_tail:
            self.truncated = True

    def _take(self, data: bytes) -> None:
        room = BODY_HASH_LIMIT - self.length
        if len(data) > room:
            self._hash.update(data[:room])
            self.length += room
            self.truncated = True
            return
        self._hash.update(data)
        self.length += len(data)

    def result(self) -> tuple[int | None, str | None, bool]:
        """``(length, hash, truncated)``; length and hash are None for an undecodable body."""
        if self.broken:
            return None, None, self.truncated
        return self.length, "sha256:" + self._hash.hexdigest()[:16], self.truncated


@dataclass(frozen=True)
class WireRecord:
    """One exchange the proxy relayed, with the probe it belongs to (None: no marker)."""

    probe: str | None
    attempt: int
    label: str
    """The proxy listener it came through: one per engine and cookie profile."""
    seq: int
    """Order of arrival, across the whole run."""
    exchange: HttpExchange


class WireLog:
    """Every exchange the proxy relayed to a target, by probe. Thread-safe.

    The proxy thread records; the runner takes a batch's records once the batch has
    run. Records nobody claims are kept up to :data:`MAX_RECORDS`.
    """

    def __init__(self, limit: int = MAX_RECORDS) -> None:
        self._lock = threading.Lock()
        self._by_probe: dict[str, list[WireRecord]] = {}
        self._unattributed: deque[WireRecord] = deque(maxlen=10_000)
        self._seq = 0
        self._held = 0
        self._limit = limit
        self._open: dict[str, int] = {}
        self.dropped = 0
        self.cookies_set = 0
        """Answers that carried ``Set-Cookie`` so far: while it stands still, no target
        can have changed a browser's cookie jar, so a reused page needs no reset."""

    def begin(self, marker: str | None) -> None:
        """An exchange of this probe has started; :meth:`settled` waits for its record."""
        if marker is None:
            return
        probe, _ = probe_of(marker)
        with self._lock:
            self._open[probe] = self._open.get(probe, 0) + 1

    def open_count(self, probes: Iterable[str]) -> int:
        """Exchanges of these probes that started and are not recorded yet."""
        with self._lock:
            return sum(self._open.get(p, 0) for p in probes)

    def record(self, marker: str | None, label: str, exchange: HttpExchange) -> None:
        """File one exchange under the probe its marker names."""
        with self._lock:
            self._seq += 1
            if any(name.lower() == "set-cookie" for name, _ in exchange.response_headers):
                self.cookies_set += 1
            if marker is not None:
                probe, _ = probe_of(marker)
                left = self._open.get(probe, 0) - 1
                if left > 0:
                    self._open[probe] = left
                else:
                    self._open.pop(probe, None)
            if marker is None:
                self._unattributed.append(WireRecord(None, 0, label, self._seq, exchange))
                return
            if self._held >= self._limit:
                self.dropped += 1
                return
            probe, attempt = probe_of(marker)
            self._by_probe.setdefault(probe, []).append(
                WireRecord(probe, attempt, label, self._seq, exchange)
            )
            self._held += 1

    def take(self, probes: Iterable[str]) -> dict[str, list[WireRecord]]:
        """Remove and return the records of these probes, each list in arrival order."""
        out: dict[str, list[WireRecord]] = {}
        with self._lock:
            for probe in probes:
                found = self._by_probe.pop(probe, None)
                if found:
                    out[probe] = found
                    self._held -= len(found)
        return out

    def unattributed_since(self, seq: int, label: str) -> list[WireRecord]:
        """Exchanges without a marker that came through ``label`` after ``seq``."""
        with self._lock:
            return [r for r in self._unattributed if r.seq > seq and r.label == label]

    @property
    def unattributed(self) -> int:
        """Exchanges with a target that carried no probe marker (kept up to 10,000)."""
        with self._lock:
            return len(self._unattributed)

    @property
    def seq(self) -> int:
        """The number of the latest record (0 before any)."""
        with self._lock:
            return self._seq

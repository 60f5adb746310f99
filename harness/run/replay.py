"""Send each probe's request from Python too, to record what the server answered.

Browsers hide the response of a blocked request from JavaScript, and header-only
scanners only ever see this layer. corsproof records it as evidence beside the
browser's verdict: the preflight and the actual request, with the same Origin,
method and headers, bodies capped and never stored, secrets redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Sequence

import httpx

from harness.model.cors import MAX_REDIRECTS, needs_preflight, preflight_check
from harness.model.errors import first_line
from harness.model.redact import Redactor
from harness.model.results import Credentials, Evidence, HttpExchange, ProbeSpec

MAX_BODY = 64 * 1024


class RateLimiter:
    """At most ``rate`` request starts per second, shared by every caller.

    One limiter serves a whole run: the Python replay takes one slot per request
    (:meth:`wait`), and each browser page books a run of consecutive slots for the
    requests of one batch (:meth:`reserve`) and spaces its request starts by the
    interval. Bookings never overlap, so the target sees at most ``rate`` request
    starts a second summed over the replay and every page of every engine. A rate
    of 0 means unlimited: nothing waits and nothing is booked.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate if rate > 0 else 0.0
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = 0.0
        # reserve() is synchronous and quick; the lock only matters if a caller
        # ever books from another thread.
        self._lock = threading.Lock()
        self._turn = asyncio.Lock()

    @property
    def interval(self) -> float:
        """Seconds between two request starts; 0 when unlimited."""
        return self._interval

    def reserve(self, n: int, *, not_before: float = 0.0) -> tuple[float, float]:
        """Book ``n`` consecutive slots: ``(seconds until the first, seconds between them)``.

        The caller must not start its first request before the delay has passed,
        nor two requests closer together than the interval. Slots nobody used in
        the past are not saved up: a booking starts no earlier than now, or than
        ``not_before`` seconds from now when the caller needs that long to get ready.
        """
        if not self._interval or n <= 0:
            return 0.0, self._interval
        with self._lock:
            now = self._clock()
            start = max(now + max(0.0, not_before), self._next)
            self._next = start + n * self._interval
        return start - now, self._interval

    async def wait(self) -> None:
        """Wait for the next free slot (one request)."""
        if not self._interval:
            return
        # One waiter at a time: when a busy event loop wakes a sleeper late, the
        # others have not booked yet, so they cannot all fire at once behind it.
        async with self._turn:
            delay, _ = self.reserve(1)
            if delay > 0:
                await asyncio.sleep(delay)
            with self._lock:
                # Woken late: the next booking keeps its distance from this start.
                self._next = max(self._next, self._clock() + self._interval)


def evidence_key(target: str, origin: str, shape: str, credentials: Credentials) -> str:
    """The join key between observations and evidence."""
    return f"{target} | {origin} | {shape} | {credentials.value}"


class Replayer:
    """Replays probe requests through the harness proxy with httpx."""

    def __init__(
        self,
        *,
        proxy_url: str | None,
        verify: ssl.SSLContext | bool,
        cookie_header: dict[str, str],
        redactor: Redactor,
        timeout: float,
        limiter: RateLimiter,
        concurrency: int = 4,
        rewrite: dict[tuple[str, int], tuple[str, int]] | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            proxy=proxy_url,
            verify=verify,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": "corsproof-replay"},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._rewrite = dict(rewrite or {})
        self._cookies = cookie_header
        self._redactor = redactor
        self._limiter = limiter
        self._sem = asyncio.Semaphore(concurrency)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def evidence_for(self, spec: ProbeSpec) -> Evidence:
        """Preflight (when the shape needs one) and actual request for one probe."""
        origin = spec.variant.origin.serialize()
        include = spec.credentials is Credentials.INCLUDE
        author = list(spec.headers)
        preflight = None
        if needs_preflight(spec.shape.method, author):
            names = sorted(
                {n.lower() for n, _ in author if n.lower() != "content-type"}
                | (
                    {"content-type"}
                    if any(n.lower() == "content-type" and "json" in v for n, v in author)
                    else set()
                )
            )
            preflight = await self._send(
                "OPTIONS",
                spec.target,
                [
                    ("Origin", origin),
                    ("Access-Control-Request-Method", spec.shape.method),
                    ("Access-Control-Request-Headers", ",".join(names)),
                ],
                None,
            )
        if preflight is not None and preflight_check(
            preflight, origin, credentials=include, method=spec.shape.method, headers=author
        ):
            # A browser stops at a failed preflight, and so does the replay: the
            # actual request (maybe state-changing) is never sent.
            return Evidence(
                key=evidence_key(spec.target, origin, spec.shape.name, spec.credentials),
                target=spec.target,
                origin=origin,
                shape=spec.shape.name,
                credentials=spec.credentials,
                preflight=preflight,
                actual=None,
            )
        headers = [("Origin", origin), *author]
        host = httpx.URL(spec.target).host
        if include and host in self._cookies:
            headers.append(("Cookie", self._cookies[host]))
        actual = await self._send(spec.shape.method, spec.target, headers, spec.shape.body)
        return Evidence(
            key=evidence_key(spec.target, origin, spec.shape.name, spec.credentials),
            target=spec.target,
            origin=origin,
            shape=spec.shape.name,
            credentials=spec.credentials,
            preflight=preflight,
            actual=actual,
        )

    async def _send(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: str | None
    ) -> HttpExchange:
        """Send one request; follow GET/HEAD redirects on the target's own host like a browser.

        Redirects elsewhere are not followed: the replay never reaches a host the user
        did not name. A loop ends as an error after :data:`MAX_REDIRECTS` hops.
        """
        current = url
        home = httpx.URL(url).host
        for _hop in range(MAX_REDIRECTS + 1):
            exchange = await self._send_once(method, current, headers, body)
            location = exchange.header("location")
            if (
                exchange.status not in (301, 302, 303, 307, 308)
                or not location
                or method not in ("GET", "HEAD")
            ):
                return exchange if current == url else _as_first(exchange, url)
            nxt = httpx.URL(current).join(location)
            if nxt.host != home or nxt.scheme not in ("http", "https"):
                return exchange if current == url else _as_first(exchange, url)
            current = str(nxt)
        return HttpExchange(
            method=method,
            url=url,
            request_headers=self._redactor.headers(headers),
            status=None,
            error=f"too many redirects (more than {MAX_REDIRECTS})",
        )

    async def _send_once(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: str | None
    ) -> HttpExchange:
        shown = self._redactor.headers(headers)
        parsed = httpx.URL(url)
        dest = self._rewrite.get(
            (parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
        )
        send_url = url
        extensions: dict[str, str] = {}
        if dest is not None:
            # The lab answers on loopback under another name: connect there directly
            # and keep the name in the Host header.
            send_url = str(parsed.copy_with(host=dest[0], port=dest[1]))
            headers = [*headers, ("Host", parsed.netloc.decode("ascii"))]
            # The certificate is checked against the name, not the address connected to.
            extensions["sni_hostname"] = parsed.host
        async with self._sem:
            await self._limiter.wait()
            try:
                async with self._client.stream(
                    method, send_url, headers=list(headers), content=body, extensions=extensions
                ) as resp:
                    read = 0
                    # Drain a bounded prefix only: a hostile target may stream forever.
                    with contextlib.suppress(httpx.HTTPError):
                        async for chunk in resp.aiter_raw():
                            read += len(chunk)
                            if read >= MAX_BODY:
                                break
                    pairs = [(k, v) for k, v in resp.headers.multi_items()][:100]
                    return HttpExchange(
                        method=method,
                        url=url,
                        request_headers=shown,
                        status=resp.status_code,
                        response_headers=self._redactor.headers(
                            [(k[:128], v[:1024]) for k, v in pairs]
                        ),
                    )
            except httpx.TimeoutException:
                error = "timeout"
            except httpx.ProxyError as exc:
                error = f"proxy: {first_line(exc, named=True)}"
            except httpx.ConnectError as exc:
                error = f"connect: {first_line(exc, named=True)}"
            except httpx.RemoteProtocolError as exc:
                error = f"protocol: {first_line(exc, named=True)}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {first_line(exc, named=True)}"
            except (ssl.SSLError, OSError) as exc:
                error = f"{type(exc).__name__}: {first_line(exc, named=True)}"
        return HttpExchange(method=method, url=url, request_headers=shown, status=None, error=error)


def _as_first(exchange: HttpExchange, url: str) -> HttpExchange:
    """The final answer of a redirect chain, filed under the URL that was asked."""
    return HttpExchange(
        exchange.method,
        url,
        exchange.request_headers,
        exchange.status,
        exchange.response_headers,
        exchange.error,
    )

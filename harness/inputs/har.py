"""The frontend's own calls, from a HAR 1.2 recording: each fetch or XHR becomes a :class:`Call`.

Recordings come from Playwright's ``record_har_path`` or a browser's DevTools
("Save all as HAR") while someone uses the real frontend. A HAR holds the user's
cookies, tokens and request bodies; none of them leaves this module. A call keeps the
method, the endpoint URL *without its query*, header *names*, the body's media type
and whether cookies went along, and errors name an entry and a field, never a value.

Which entries count, in order:

1. Only ``http(s)`` requests; ``data:``, ``blob:``, ``ws(s):``, ``about:`` and
   extension URLs are skipped, any other URL is an error.
2. Where the recorder tells the resource type (``_resourceType``: Chrome, Playwright),
   only ``fetch`` and ``xhr``. Where it does not (Firefox), a request whose
   ``Sec-Fetch-Dest`` is other than ``empty`` is skipped (a document, script, style,
   image, font...), and so is one without that header whose response is HTML, CSS,
   JavaScript, an image or a font. Browser preflights (``OPTIONS`` with
   ``Access-Control-Request-Method``) are skipped: they are the browser's, not the page's.
3. The frontend origin is the request's ``Origin`` header, else the origin of its page
   (``pageref`` to a page whose ``title`` is its URL, as Chrome writes it), else the
   origin of the ``Referer``. A call whose origin cannot be told, or is ``null``, is
   skipped, and so is a same-origin call: CORS has no say over it.
4. With ``targets``, only calls to one of them (path equal, query ignored) or, for a
   target ending in ``/``, under it.

The rest:

* **Credentials** are ``include`` when the request carried a ``Cookie`` header or
  ``cookies``, else ``omit``: what the recording shows went over the wire. A fetch with
  ``credentials: 'include'`` to a site that had set no cookie yet records as ``omit``.
* **The query is dropped** from the URL. A probe built from a recorded query would
  replay whatever it held (``?token=``, signed-URL signatures, OAuth ``code``\\ s) to the
  server from every probe origin, and names do not tell secrets apart reliably.
* Calls equal in origin, method, URL, header names, content type and credentials are
  kept once, as the first entry that made them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import SplitResult, urlsplit, urlunsplit

from harness.inputs.calls import Call, is_header_name, media_type, read_capped
from harness.model.errors import ConfigError, OriginError
from harness.model.results import Origin

__all__ = ["MAX_ENTRIES", "MAX_HAR_BYTES", "load_har"]

MAX_HAR_BYTES = 50 * 1024 * 1024
"""The largest HAR file corsproof reads."""
MAX_ENTRIES = 100_000
"""The most entries one HAR may hold."""

_SKIPPED_SCHEMES = frozenset(
    {"data", "blob", "ws", "wss", "about", "chrome", "chrome-extension", "moz-extension"}
    | {"safari-web-extension", "devtools", "file"}
)
"""Schemes browsers record that are no HTTP endpoint."""
_NOT_CALLS = ("text/html", "text/css", "image/", "font/", "application/font", "video/", "audio/")
_SCRIPTS = ("javascript", "ecmascript")

Key = tuple[str, str, str, tuple[str, ...], str | None, str]


def load_har(path: Path, *, targets: Sequence[str] | None = None) -> tuple[Call, ...]:
    """The distinct cross-origin fetch and XHR calls a HAR recording holds, in order.

    ``targets`` keeps only calls to those endpoint URLs (or under one ending in ``/``).
    Every problem raises a one-line :class:`ConfigError` naming ``path``, the entry
    and the field: ``frontend.har: entries[12].request.url: not an http(s) URL``.
    """
    label = str(path)
    entries, pages = _log(_read(path, label), label)
    wanted = _matcher(targets)
    calls: dict[Key, Call] = {}
    for index, entry in enumerate(entries):
        call = _Entry(entry, index, label).call(pages)
        if call is None or not wanted(call.url):
            continue
        key = (
            call.origin or "",
            call.method,
            call.url,
            tuple(n.lower() for n in call.header_names),
            call.content_type,
            call.credentials,
        )
        calls.setdefault(key, call)
    return tuple(calls.values())


def _read(path: Path, label: str) -> Any:
    data = read_capped(path, label, MAX_HAR_BYTES)
    # The error is raised after its except block: UnicodeDecodeError.object and
    # JSONDecodeError.doc hold the whole file, secrets included, and would ride along
    # as the ConfigError's __context__. (exc.msg never quotes the document.)
    problem = "not JSON: nested too deeply"
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        problem = f"byte {exc.start}: not UTF-8 text"
    except json.JSONDecodeError as exc:
        problem = f"line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}"
    except RecursionError:
        pass
    _fail(label, problem)


def _log(doc: Any, label: str) -> tuple[list[Any], dict[str, Origin]]:
    """The entries, and the origin of each page whose title is its URL."""
    if not isinstance(doc, dict):
        _fail(label, "not a HAR file (the top level is not an object)")
    log = doc.get("log")
    if log is None:
        _fail(label, "log: missing; not a HAR file")
    if not isinstance(log, dict):
        _fail(label, "log: must be an object")
    entries = log.get("entries")
    if entries is None:
        _fail(label, "log.entries: missing; not a HAR file")
    if not isinstance(entries, list):
        _fail(label, "log.entries: must be a list")
    if len(entries) > MAX_ENTRIES:
        _fail(label, f"log.entries: more than {MAX_ENTRIES:,} entries")
    pages = log.get("pages", [])
    if not isinstance(pages, list):
        _fail(label, "log.pages: must be a list")
    origins: dict[str, Origin] = {}
    for index, page in enumerate(pages):
        if not isinstance(page, dict):
            _fail(label, f"log.pages[{index}]: must be an object")
        page_id, title = page.get("id"), page.get("title")
        if isinstance(page_id, str) and isinstance(title, str):
            origin = _origin_of_url(title)
            if origin is not None:
                origins[page_id] = origin
    return entries, origins


class _Entry:
    """One HAR entry, read field by field with its location for errors."""

    def __init__(self, entry: Any, index: int, label: str) -> None:
        self.index = index
        self.label = label
        self.where = f"entries[{index}]"
        self.entry = self.object(entry, self.where)
        self.request = self.object(self.entry.get("request"), f"{self.where}.request")
        self.headers = list(self.header_list())

    def fail(self, field: str, message: str) -> NoReturn:
        """A one-line error about ``field`` of this entry; never a value."""
        _fail(self.label, f"{self.where}.{field}: {message}")

    def object(self, value: Any, where: str) -> dict[str, Any]:
        """``value`` if it is a JSON object, else an error naming ``where``."""
        if value is None:
            _fail(self.label, f"{where}: missing")
        if not isinstance(value, dict):
            _fail(self.label, f"{where}: must be an object")
        return value

    def string(self, holder: Mapping[str, Any], key: str, where: str) -> str | None:
        """An optional string field; any other type is an error."""
        value = holder.get(key)
        if value is not None and not isinstance(value, str):
            self.fail(f"{where}.{key}" if where else key, "must be a string")
        return value

    def header_list(self) -> Iterator[tuple[str, str]]:
        """The request headers as (name, value), the types checked."""
        raw = self.request.get("headers", [])
        if not isinstance(raw, list):
            self.fail("request.headers", "must be a list")
        for i, header in enumerate(raw):
            where = f"request.headers[{i}]"
            if not isinstance(header, dict):
                self.fail(where, "must be an object")
            name = self.string(header, "name", where)
            value = self.string(header, "value", where)
            if name is None:
                self.fail(f"{where}.name", "missing")
            yield name, value or ""

    def header(self, name: str) -> str | None:
        """The first value of a request header, or None."""
        return next((v for n, v in self.headers if n.lower() == name), None)

    def url(self) -> tuple[str, Origin] | None:
        """The endpoint URL (no user info, query or fragment) and its origin; None to skip."""
        url = self.string(self.request, "url", "request")
        if url is None:
            self.fail("request.url", "missing")
        parts = _split(url)
        if parts is None:
            self.fail("request.url", "not a valid URL")
        scheme = parts.scheme.lower()
        if scheme in _SKIPPED_SCHEMES:
            return None
        if scheme not in ("http", "https") or not parts.hostname:
            self.fail("request.url", "not an absolute http(s) URL")
        netloc = parts.netloc.rpartition("@")[2].lower()
        clean = urlunsplit((scheme, netloc, parts.path or "/", "", ""))
        origin = _origin_of_url(clean)
        if origin is None:
            self.fail("request.url", "not a valid URL")
        return clean, origin

    def is_page_call(self) -> tuple[bool, str]:
        """Whether page JavaScript made this request with fetch or XHR, and which."""
        kind = self.string(self.entry, "_resourceType", "")
        if kind is not None:
            kind = kind.lower()
            return kind in ("fetch", "xhr"), kind
        if self.header("access-control-request-method") is not None:
            return False, "fetch"  # the browser's own preflight
        dest = self.header("sec-fetch-dest")
        if dest is not None:
            return dest.strip().lower() == "empty", "fetch"
        response = self.entry.get("response")
        content = response.get("content") if isinstance(response, dict) else None
        mime = content.get("mimeType") if isinstance(content, dict) else None
        kind = (media_type(mime) if isinstance(mime, str) else None) or ""
        return not (kind.startswith(_NOT_CALLS) or any(s in kind for s in _SCRIPTS)), "fetch"

    def origin(self, pages: Mapping[str, Origin]) -> Origin | None:
        """The frontend origin: Origin header, else the page's, else the Referer's."""
        sent = self.header("origin")
        if sent is not None:
            try:
                origin = Origin.parse(sent)
            except OriginError:
                origin = None
            if origin is not None and not origin.opaque:
                return origin
        pageref = self.string(self.entry, "pageref", "")
        if pageref is not None and pageref in pages:
            return pages[pageref]
        referer = self.header("referer")
        return _origin_of_url(referer) if referer else None

    def credentials(self) -> str:
        """``include`` when cookies went with the request, else ``omit``."""
        cookies = self.request.get("cookies", [])
        if not isinstance(cookies, list):
            self.fail("request.cookies", "must be a list")
        return "include" if cookies or self.header("cookie") is not None else "omit"

    def content_type(self) -> str | None:
        """The body's media type, from Content-Type or ``postData.mimeType``."""
        post = self.request.get("postData")
        if post is not None and not isinstance(post, dict):
            self.fail("request.postData", "must be an object")
        declared = self.header("content-type")
        if declared is not None:
            return media_type(declared)
        return media_type(self.string(post, "mimeType", "request.postData")) if post else None

    def call(self, pages: Mapping[str, Origin]) -> Call | None:
        """The call this entry records, or None when it is not a cross-origin page call."""
        method = self.string(self.request, "method", "request")
        if method is None:
            self.fail("request.method", "missing")
        if not is_header_name(method):
            self.fail("request.method", "not an HTTP method")
        endpoint = self.url()
        page_call, api = self.is_page_call()
        if endpoint is None or not page_call:
            return None
        url, target = endpoint
        origin = self.origin(pages)
        if origin is None or origin == target:
            return None
        return Call(
            method=method,
            url=url,
            header_names=tuple(name for name, _ in self.headers),
            content_type=self.content_type(),
            credentials=self.credentials(),
            api=api,
            origin=origin.serialize(),
            source=f"{self.label}: entry {self.index}",
        )


def _split(url: str) -> SplitResult | None:
    # The ValueError may quote the URL: return, so that it is not the error's context.
    try:
        parts = urlsplit(url.strip())
        _ = parts.port
    except ValueError:
        return None
    return parts


def _origin_of_url(text: str) -> Origin | None:
    try:
        return Origin.from_url(text.strip())
    except (OriginError, ValueError):
        return None


def _matcher(targets: Sequence[str] | None) -> Callable[[str], bool]:
    """Whether a call URL is one of ``targets`` or under one that ends in ``/``."""
    if targets is None:
        return lambda url: True
    wanted: list[tuple[Origin, str, bool]] = []
    for target in targets:
        origin = _origin_of_url(target)
        if origin is None:
            raise ConfigError(f"target {target!r}: not an absolute http(s) URL")
        path = urlsplit(target).path or "/"
        wanted.append((origin, path, path.endswith("/")))

    def match(url: str) -> bool:
        origin, path = Origin.from_url(url), urlsplit(url).path or "/"
        return any(
            origin == o and (path.startswith(p) if prefix else path == p) for o, p, prefix in wanted
        )

    return match


def _fail(label: str, message: str) -> NoReturn:
    raise ConfigError(f"{label}: {message}")

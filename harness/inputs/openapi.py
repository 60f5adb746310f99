"""Endpoints from an OpenAPI 3.0 or 3.1 document: every operation becomes a :class:`Call`.

The document is read from a file or an http(s) URL (both bounded to
:data:`MAX_DOCUMENT_BYTES`), parsed as JSON or YAML, checked by
openapi-spec-validator, and its ``$ref``\\ s are resolved with ``referencing``, the
library the validator itself resolves with. Nothing here validates by hand what the
validator checks; the walk only reads what it has approved.

How an operation becomes a call:

* **URL**: ``base_url`` when given (the prefix the document's paths hang off,
  including any server path such as ``/v1``), else the first ``servers`` entry of the
  operation, its path item or the document, with server variables at their defaults.
  A relative server URL (the default ``/`` included) needs ``base_url``.
* **Path parameters**: from ``path_params``, else the parameter's ``example``, its
  first ``examples`` value, or its schema's ``example``, first ``examples``,
  ``default`` or first ``enum``; URL-encoded. One without any is an error that says
  ``--path-param NAME=VALUE``. Required query parameters are filled the same way and
  left out when they have no value.
* **Headers**: the names of required ``in: header`` parameters, plus what the
  operation's security needs (the first alternative of ``security`` that names a
  scheme, the operation's or else the document's): ``Authorization`` for ``http``,
  ``oauth2`` and ``openIdConnect``, the key's header name for an ``apiKey`` in a header.
* **Content type**: ``application/json`` when the request body offers it, else its
  first concrete media type.
* **Credentials**: ``include`` when that security uses an ``apiKey`` in a cookie or
  ``mutualTLS`` (client certificates are credentials too); ``omit`` when it uses only
  header or query schemes (a token frontend sends no cookies), or when it is declared
  empty (``security: []``, or only ``{}``: public, no credentials needed);
  ``include`` when neither the operation nor the document declares any security,
  since a browser frontend sending cookies is the case where CORS decides who reads.

``$ref``\\ s may point into the document or, for a local document, into files beside
it; a document fetched from a URL must be self-contained, and no ``$ref`` is ever
fetched from the network.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

import httpx
import yaml
from jsonschema_path import SchemaPath
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from harness.config import parse_target
from harness.inputs.calls import Call, media_type, read_capped
from harness.model.errors import ConfigError, first_line

__all__ = ["FETCH_TIMEOUT", "MAX_DOCUMENT_BYTES", "fetch_url", "load_openapi"]

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
"""The largest OpenAPI document (or file it refers to) corsproof reads."""
FETCH_TIMEOUT = 10.0
"""Seconds a document fetched from a URL may take, in all."""
MAX_NODES = 3_000_000
"""Values a YAML document may expand to: aliases can make a small file enormous."""
_MAX_REF_HOPS = 32
_MAX_REF_FILES = 64
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_VALIDATORS = {"3.0": OpenAPIV30SpecValidator, "3.1": OpenAPIV31SpecValidator}
_TEMPLATE = re.compile(r"\{([^{}/]+)\}")
_HEADER_SCHEMES = frozenset({"http", "oauth2", "openIdConnect"})

Fetch = Callable[[str], bytes]
"""Fetches a URL's body; raises :class:`ConfigError` on failure."""

# A YAML loader that leaves dates as strings, as JSON would have them (info.version:
# 2024-01-01 is a version, not a date). libyaml's when there is one: it is fast, and
# refuses nesting deeper than 1000 where the pure-Python parser takes seconds to fail.
# Made with type() because the yaml package has no type stubs here.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YamlLoader: Any = type(
    "_YamlLoader",
    (_SafeLoader,),
    {
        "yaml_implicit_resolvers": {
            first: [(tag, rx) for tag, rx in rules if tag != "tag:yaml.org,2002:timestamp"]
            for first, rules in _SafeLoader.yaml_implicit_resolvers.items()
        }
    },
)


def load_openapi(
    source: str,
    *,
    base: Path,
    base_url: str | None,
    path_params: Mapping[str, str],
    fetch: Fetch | None = None,
) -> tuple[Call, ...]:
    """The calls an OpenAPI document declares, one per operation, in document order.

    ``source`` is a path relative to ``base`` or an http(s) URL, fetched with ``fetch``
    (default :func:`fetch_url`). Operations that give the same method and URL are
    kept once. Every problem raises a one-line :class:`ConfigError`:
    ``<source>: <where>: <what is wrong>``.
    """
    remote = source.lower().startswith(("http://", "https://"))
    label = _display(source) if remote else source
    if remote:
        data = (fetch or fetch_url)(source)
        if len(data) > MAX_DOCUMENT_BYTES:
            _fail(label, f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
        uri = source
    else:
        path = base / source
        data = read_capped(path, label, MAX_DOCUMENT_BYTES)
        uri = path.resolve().as_uri()
    doc = parse_document(data, label)
    validator = _validator(doc, label)
    files = _RefFiles(label, remote=remote)
    files.check_refs(doc, label)
    _validate(validator, doc, uri, files, label)
    # mypy reads attrs' field alias wrongly: Registry's `retrieve` argument is documented.
    registry: Registry[Any] = Registry(retrieve=files.resource)  # type: ignore[call-arg]
    registry = registry.with_resource(uri, Resource.opaque(doc))
    walker = _Walker(doc, registry, uri, label, base_url, path_params, source if remote else None)
    try:
        calls = list(walker.calls())
    except Unresolvable as exc:
        _unresolvable(exc, label)
    if not calls:
        _fail(label, "paths: no operations")
    unique: dict[tuple[str, str], Call] = {}
    for call in calls:
        unique.setdefault((call.method, call.url), call)
    return tuple(unique.values())


def fetch_url(url: str) -> bytes:
    """GET ``url`` within :data:`FETCH_TIMEOUT` and :data:`MAX_DOCUMENT_BYTES`."""
    label = _display(url)
    deadline = time.monotonic() + FETCH_TIMEOUT
    body = bytearray()
    try:
        with httpx.stream("GET", url, timeout=FETCH_TIMEOUT, follow_redirects=True) as response:
            if response.status_code != 200:
                _fail(label, f"fetching it answered HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    _fail(label, f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
                if time.monotonic() > deadline:
                    _fail(label, f"fetching it took more than {FETCH_TIMEOUT:g} s")
    except httpx.HTTPError as exc:
        _fail(label, f"cannot fetch it: {first_line(exc)}")
    return bytes(body)


def parse_document(data: bytes, label: str) -> dict[str, Any]:
    """A JSON or YAML document as plain data: string keys, no aliases left to expand."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _fail(label, f"byte {exc.start}: not UTF-8 text")
    try:
        if text.lstrip().startswith("{"):
            try:
                value: Any = json.loads(text)
            except json.JSONDecodeError as exc:
                _fail(label, f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}")
        else:
            try:
                # S506: the loader is SafeLoader less its timestamp rule.
                value = _plain(yaml.load(text, Loader=_YamlLoader), label)  # noqa: S506
            except yaml.YAMLError as exc:
                _fail(label, _yaml_problem(exc))
    except RecursionError:
        _fail(label, "nested too deeply")
    if not isinstance(value, dict):
        _fail(label, "not an OpenAPI document (the top level is not a mapping)")
    return value


def _yaml_problem(exc: Any) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {problem}"


def _plain(root: Any, label: str) -> Any:
    """Copy a YAML tree with string keys, refusing alias cycles and alias bombs."""
    memo: dict[int, tuple[Any, int]] = {}
    active: set[int] = set()

    def walk(node: Any) -> tuple[Any, int]:
        if not isinstance(node, dict | list):
            return node, 1
        key = id(node)
        if key in memo:
            return memo[key]
        if key in active:
            _fail(label, "a YAML alias refers to a node that contains it")
        active.add(key)
        size = 1
        out: Any
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                out[_key(k)], n = walk(v)
                size += n
        else:
            out = []
            for item in node:
                copied, n = walk(item)
                out.append(copied)
                size += n
        if size > MAX_NODES:
            _fail(label, f"expands to more than {MAX_NODES:,} values (YAML aliases?)")
        active.discard(key)
        memo[key] = out, size
        return out, size

    return walk(root)[0]


def _key(key: Any) -> str:
    # YAML reads `200:` as an int and `true:` as a bool; OpenAPI keys are strings.
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


def _validator(doc: Mapping[str, Any], label: str) -> Any:
    if "swagger" in doc:
        _fail(label, "swagger: Swagger 2.0 is not supported; convert to OpenAPI 3")
    version = doc.get("openapi")
    if version is None:
        _fail(label, "openapi: missing; not an OpenAPI document")
    if not isinstance(version, str):
        _fail(label, "openapi: must be a string such as '3.1.0'")
    validator = _VALIDATORS.get(".".join(version.split(".")[:2]))
    if validator is None:
        _fail(label, f"openapi: version {version[:20]!r} is not supported (3.0 or 3.1)")
    return validator


def _validate(validator: Any, doc: dict[str, Any], uri: str, files: _RefFiles, label: str) -> None:
    spec = SchemaPath.from_dict(doc, base_uri=uri, handlers=_Handlers(files))
    try:
        error = next(iter(validator(spec).iter_errors()), None)
    except Unresolvable as exc:
        _unresolvable(exc, label)
    except RecursionError:
        _fail(label, "nested too deeply")
    if error is None:
        return
    # oneOf/anyOf failures say "is not valid under any of the given schemas"; the
    # deepest error beneath says what is wrong. (jsonschema's best_match cannot rank
    # the validator's own errors.)
    for _ in range(16):
        if not error.context:
            break
        error = max(error.context, key=lambda e: len(e.absolute_path))
    where = _where(error.absolute_path)
    message = " ".join(str(error.message).split())
    if len(message) > 200:
        message = message[:197] + "..."
    _fail(label, f"{where}: {message}" if where else message)


def _where(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _RefFiles:
    """Loads the files a local document's ``$ref``\\ s point to; refuses everything else."""

    def __init__(self, label: str, *, remote: bool) -> None:
        self._label = label
        self._remote = remote
        self._cache: dict[str, Any] = {}

    def check_refs(self, node: Any, where: str) -> None:
        """Refuse a ``$ref`` corsproof will not follow: to the network, or any from a URL."""
        for ref in _refs(node):
            scheme = urlsplit(ref).scheme
            if ref.startswith("#"):
                continue
            if self._remote or scheme not in ("", "file"):
                inside = "" if where == self._label else f" in {where.rpartition(' ')[2]}"
                _fail(
                    self._label,
                    f"$ref {ref[:100]!r}{inside}: corsproof follows no $ref to the network "
                    "or out of a fetched document; bundle the document into one file",
                )

    def load(self, uri: str) -> Any:
        """The parsed file at a ``file:`` URI (a handler for jsonschema-path)."""
        parts = urlsplit(uri)
        if parts.scheme != "file" or self._remote:
            _fail(self._label, f"$ref to {_display(uri)!r}: only local files are followed")
        name = url2pathname(parts.path)
        if name not in self._cache:
            if len(self._cache) >= _MAX_REF_FILES:
                _fail(self._label, f"$ref: more than {_MAX_REF_FILES} referenced files")
            shown = f"{self._label}: $ref {Path(name).name}"
            doc = parse_document(read_capped(Path(name), shown, MAX_DOCUMENT_BYTES), shown)
            self.check_refs(doc, shown)
            self._cache[name] = doc
        return self._cache[name]

    def resource(self, uri: str) -> Resource[Any]:
        """The file as a ``referencing`` resource (the registry's retrieve hook)."""
        return Resource.opaque(self.load(urlsplit(uri)._replace(fragment="").geturl()))


class _Handlers(Mapping[str, Callable[[str], Any]]):
    """jsonschema-path's handlers, claiming every scheme: one it lacks, it would open with
    urllib, without a timeout; these load local files and refuse the rest."""

    def __init__(self, files: _RefFiles) -> None:
        self._files = files

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return self._files.load

    def __contains__(self, scheme: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(("file",))

    def __len__(self) -> int:
        return 1


def _refs(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                yield ref
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _unresolvable(exc: Unresolvable, label: str) -> NoReturn:
    # A referenced file that failed to load: referencing wraps our own error, twice.
    cause: BaseException | None = exc
    for _ in range(4):
        if cause is None:
            break
        cause = cause.__cause__ or cause.__context__
        if isinstance(cause, ConfigError):
            raise ConfigError(str(cause)) from None
    ref = str(getattr(exc, "ref", ""))[:100]
    if ref.startswith("/"):  # PointerToNowhere holds the pointer without its '#'
        ref = "#" + ref
    _fail(label, f"$ref {ref!r}: cannot be resolved")


class _Walker:
    """Turns the validated document's operations into calls."""

    def __init__(
        self,
        doc: Mapping[str, Any],
        registry: Registry[Any],
        uri: str,
        label: str,
        base_url: str | None,
        path_params: Mapping[str, str],
        doc_url: str | None,
    ) -> None:
        self.doc = doc
        self.doc_url = doc_url
        self.resolver = registry.resolver(base_uri=uri)
        self.label = label
        self.path_params = path_params
        self.base_url = _base_url(base_url, label) if base_url is not None else None
        schemes = self.deref(_mapping(doc.get("components")).get("securitySchemes"))
        self.schemes = {k: self.deref(v) for k, v in _mapping(schemes).items()}

    def deref(self, node: Any) -> Any:
        """``node`` with its ``$ref`` chain followed (refs are relative to the document)."""
        resolver = self.resolver
        for _ in range(_MAX_REF_HOPS):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                return node
            resolved = resolver.lookup(node["$ref"])
            node, resolver = resolved.contents, resolved.resolver
        _fail(self.label, f"$ref: a chain of more than {_MAX_REF_HOPS} references")

    def calls(self) -> Iterator[Call]:
        """One call per operation, in document order."""
        for path, raw_item in _mapping(self.doc.get("paths")).items():
            item = _mapping(self.deref(raw_item))
            for method in item:
                if method in _METHODS:
                    yield self.call(path, method, item, _mapping(item[method]))

    def call(self, path: str, method: str, item: Mapping[str, Any], op: Mapping[str, Any]) -> Call:
        """The call one operation declares."""
        name = f"{method.upper()} {path}"
        if isinstance(op.get("operationId"), str):
            name += f" ({op['operationId']})"
        params = self.parameters(item, op)
        url = self.server(item, op) + self.fill_path(path, params, name)
        query = [(n, v) for n, v in self.query(params) if v is not None]
        if query:
            url += "?" + urlencode(query, quote_via=quote)
        headers = [p["name"] for p in params if p.get("in") == "header" and p.get("required")]
        auth_headers, credentials = self.security(op, name)
        return Call(
            method=method.upper(),
            url=parse_target(url, f"{self.label}: {name}: URL"),
            header_names=(*headers, *auth_headers),
            content_type=self.content_type(op),
            credentials=credentials,
            api="fetch",
            origin=None,
            source=f"{self.label}: {name}",
        )

    def parameters(self, item: Mapping[str, Any], op: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Path-item parameters overridden by the operation's, by (name, in)."""
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in [*_list(item.get("parameters")), *_list(op.get("parameters"))]:
            param = _mapping(self.deref(raw))
            if isinstance(param.get("name"), str):
                merged[(param["name"], str(param.get("in")))] = param
        return list(merged.values())

    def fill_path(self, path: str, params: list[Mapping[str, Any]], name: str) -> str:
        """The path with every ``{param}`` replaced by its URL-encoded value."""
        by_name = {p["name"]: p for p in params if p.get("in") == "path"}

        def value(match: re.Match[str]) -> str:
            param = match.group(1)
            found = self.value(param, by_name.get(param, {}))
            if found is None:
                _fail(
                    self.label,
                    f"{name}: path parameter {param!r} has no example; "
                    f"pass --path-param {param}=VALUE",
                )
            return quote(found, safe="")

        return _TEMPLATE.sub(value, path)

    def query(self, params: list[Mapping[str, Any]]) -> Iterator[tuple[str, str | None]]:
        """The required query parameters with the value each has, if any."""
        for param in params:
            if param.get("in") == "query" and param.get("required"):
                yield param["name"], self.value(param["name"], param)

    def value(self, name: str, param: Mapping[str, Any]) -> str | None:
        """A parameter's value: given, else the first example the document offers."""
        if name in self.path_params:
            return self.path_params[name]
        holders: list[Mapping[str, Any]] = [param]
        holders += [_mapping(self.deref(m)) for m in _mapping(param.get("content")).values()][:1]
        for holder in list(holders):
            holders.append(_mapping(self.deref(holder.get("schema"))))
        for holder in holders:
            examples = holder.get("examples")
            candidates = [holder.get("example")]
            if isinstance(examples, Mapping):  # Example objects, by name
                candidates += [_mapping(self.deref(e)).get("value") for e in examples.values()]
            elif isinstance(examples, list):  # JSON Schema 2020-12 examples
                candidates += examples
            candidates += [holder.get("default"), *_list(holder.get("enum"))[:1]]
            for candidate in candidates:
                if isinstance(candidate, bool):
                    return "true" if candidate else "false"
                if isinstance(candidate, str | int | float):
                    return str(candidate)
        return None

    def server(self, item: Mapping[str, Any], op: Mapping[str, Any]) -> str:
        """The URL prefix of an operation's paths, without a trailing slash."""
        if self.base_url is not None:
            return self.base_url
        for holder, where in ((op, "servers"), (item, "servers"), (self.doc, "servers")):
            servers = _list(holder.get("servers"))
            if servers:
                return self.server_url(_mapping(servers[0]), where)
        return self.server_url({"url": "/"}, "servers")

    def server_url(self, server: Mapping[str, Any], where: str) -> str:
        """A server's URL, variables at their defaults; a relative one is relative to the
        document's own URL (OpenAPI 3), so only a fetched document can have one."""
        url = str(server.get("url", "/"))
        for var, spec in _mapping(server.get("variables")).items():
            url = url.replace(f"{{{var}}}", str(_mapping(spec).get("default", "")))
        if not urlsplit(url).scheme:
            if self.doc_url is None:
                _fail(
                    self.label,
                    f"{where}[0].url {url[:100]!r} is relative; give the API's base URL "
                    "(--base-url, or base_url in the config)",
                )
            url = urljoin(self.doc_url, url)
        return parse_target(url, f"{self.label}: {where}[0].url").rstrip("/")

    def security(self, op: Mapping[str, Any], name: str) -> tuple[list[str], str]:
        """Header names and credentials mode the operation's security needs."""
        requirements = op.get("security", self.doc.get("security"))
        chosen: Mapping[str, Any] = next((r for r in _list(requirements) if _mapping(r)), {})
        headers: list[str] = []
        cookies = False
        for scheme_name in chosen:
            scheme = self.schemes.get(scheme_name)
            if scheme is None:
                _fail(self.label, f"{name}: security: no securityScheme named {scheme_name!r}")
            kind, place = scheme.get("type"), scheme.get("in")
            if kind in _HEADER_SCHEMES:
                headers.append("Authorization")
            elif kind == "apiKey" and place == "header" and isinstance(scheme.get("name"), str):
                headers.append(scheme["name"])
            elif (kind == "apiKey" and place == "cookie") or kind == "mutualTLS":
                cookies = True
        if cookies or (not chosen and requirements is None):
            return headers, "include"
        # Header or query schemes only, or `security: []`: declared public.
        return headers, "omit"

    def content_type(self, op: Mapping[str, Any]) -> str | None:
        """``application/json`` if the request body offers it, else its first media type."""
        content = _mapping(_mapping(self.deref(op.get("requestBody"))).get("content"))
        types = [t for t in (media_type(k) for k in content) if t]
        if "application/json" in types:
            return "application/json"
        return types[0] if types else None


def _base_url(text: str, label: str) -> str:
    url = parse_target(text, f"{label}: base URL")
    if urlsplit(url).query:
        _fail(label, f"base URL {text!r}: drop the ?query")
    return url.rstrip("/")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _display(url: str) -> str:
    """A URL as errors show it: no user info, and no query (it may hold a key)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<the OpenAPI URL>"
    host = parts.netloc.rpartition("@")[2]
    query = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + query


def _fail(label: str, message: str) -> NoReturn:
    raise ConfigError(f"{label}: {message}".replace("\n", " "))

"""The result model: origins, probe specs, observations, findings and run reports.

This module is the bottom layer. It imports nothing but the standard library, so
that scenarios, the runner, verdicts and every reporter can share it without cycles.
Everything here is a frozen dataclass or a ``str`` enum, and every value that goes
into ``report.json`` serializes through :func:`RunReport.to_dict`.

The records are slotted: a 100-endpoint run holds 178,500 observations and tens of
thousands of exchanges, and an instance ``__dict__`` would more than double each one.
For the same reason observations, exchanges and evidence intern the strings that
repeat from record to record (:func:`_share`).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.model.errors import OriginError

SCHEMA_VERSION = 2
"""Bumped whenever a field that consumers rely on changes meaning or disappears.

2: probes gained ``authorization_sent``, ``victim_data``, ``victim_note``,
``cookie_note``, ``wire_status``, ``wire_body_hash`` and ``evidence``; ``cookie_sent``
is measured at the wire on every target (it was the lab's log only, else null);
evidence comes from the browser's own exchanges (``source: wire``)."""

DEFAULT_PORTS = {"http": 80, "https": 443}


class Engine(str, enum.Enum):
    """A browser engine corsproof can drive."""

    CHROMIUM = "chromium"
    FIREFOX = "firefox"
    WEBKIT = "webkit"


class Outcome(str, enum.Enum):
    """What one probe established in one browser."""

    READABLE = "readable"
    """Page JavaScript could read the status and the body."""
    BLOCKED = "blocked"
    """The server answered but the browser withheld the response from JavaScript."""
    NOT_PRODUCIBLE = "not-producible"
    """The engine cannot give a page this origin, so no attacker can use it there."""
    ERROR = "error"
    """The probe could not be judged: network failure, timeout, crash, wrong origin."""


class Severity(str, enum.Enum):
    """Severity of a finding, from worst to mildest."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; ``info`` is 0."""
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a severity name, case-insensitively; raises ``ValueError``."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {names})") from None


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Credentials(str, enum.Enum):
    """The fetch ``credentials`` mode of a probe."""

    INCLUDE = "include"
    OMIT = "omit"


class CookiePolicy(str, enum.Enum):
    """Which browser cookie profile a probe ran under."""

    DEFAULT = "default"
    """Each engine as shipped: what a real user's browser does."""
    PERMISSIVE = "permissive"
    """Third-party cookies allowed everywhere: what the server allows."""


USER_AGENT_TAG = "corsproof ("
"""How the tag added to every browser's User-Agent starts (lab and proxy look for it)."""


def user_agent_tag(engine: Engine, policy: CookiePolicy) -> str:
    """The User-Agent suffix that tells the lab and the proxy engine and profile apart."""
    return f"{USER_AGENT_TAG}{engine.value}-{policy.value})"


class Role(str, enum.Enum):
    """Whether an origin belongs to the application or to an attacker."""

    LEGITIMATE = "legitimate"
    ATTACKER = "attacker"


class Via(str, enum.Enum):
    """How the page origin is produced in the browser."""

    PAGE = "page"
    """A top-level page served at that origin."""
    SANDBOX_SRCDOC = "sandbox-srcdoc"
    """A sandboxed ``srcdoc`` iframe: opaque origin, ``Origin: null``."""
    DATA_IFRAME = "data-iframe"
    """A ``data:`` iframe: opaque origin, ``Origin: null``."""
    REDIRECT = "redirect"
    """A cross-origin redirect taints the request origin to ``null``."""


@dataclass(frozen=True, order=True, slots=True)
class Origin:
    """A web origin: (scheme, host, port), or the opaque origin serialized as ``null``.

    ``port`` is always concrete (443 for https by default) so that equal origins
    compare equal; :meth:`serialize` omits default ports as browsers do.
    """

    scheme: str
    host: str
    port: int
    opaque: bool = False

    @classmethod
    def null(cls) -> Origin:
        """The opaque origin."""
        return cls("", "", 0, opaque=True)

    @classmethod
    def parse(cls, text: str) -> Origin:
        """Parse ``null`` or ``scheme://host[:port]``; raises :class:`OriginError`.

        The host is kept as written (lower-cased), because corsproof deliberately
        builds hosts that some URL parsers reject; whether an engine accepts it is
        measured, not assumed.
        """
        raw = text.strip()
        if raw == "null":
            return cls.null()
        if "://" not in raw:
            raise OriginError(f"origin {text!r} must look like https://host[:port] or be null")
        scheme, _, rest = raw.partition("://")
        scheme = scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise OriginError(f"origin {text!r}: scheme must be http or https")
        rest = rest.rstrip("/")
        if not rest or any(c in rest for c in "/?#@ \t\r\n"):
            raise OriginError(f"origin {text!r} must have a host and no path, query or user info")
        host, port = rest, DEFAULT_PORTS[scheme]
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                raise OriginError(f"origin {text!r}: unterminated IPv6 address")
            host, tail = rest[: end + 1], rest[end + 1 :]
            if tail:
                if not tail.startswith(":"):
                    raise OriginError(f"origin {text!r}: junk after the host")
                port = _parse_port(tail[1:], text)
        elif ":" in rest:
            host, _, port_text = rest.rpartition(":")
            port = _parse_port(port_text, text)
        if not host:
            raise OriginError(f"origin {text!r} has an empty host")
        return cls(scheme, host.lower(), port)

    @classmethod
    def from_url(cls, url: str) -> Origin:
        """The origin of an absolute http(s) URL."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise OriginError(f"{url!r} is not an absolute http(s) URL")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:
            raise OriginError(f"{url!r}: {exc}") from None
        host = parts.hostname
        if ":" in host:
            host = f"[{host}]"
        return cls(parts.scheme, host, port)

    def serialize(self) -> str:
        """The ASCII serialization browsers put in the ``Origin`` header."""
        if self.opaque:
            return "null"
        if self.port == DEFAULT_PORTS.get(self.scheme):
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def secure(self) -> bool:
        """True for https origins."""
        return self.scheme == "https"

    def __str__(self) -> str:
        return self.serialize()


def _parse_port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise OriginError(f"origin {whole!r}: port must be 1-65535")
    return int(text)


@dataclass(frozen=True, slots=True)
class OriginVariant:
    """One origin from the catalogue, with why it is worth trying."""

    origin: Origin
    klass: str
    """Catalogue class id, e.g. ``post-domain``; ``legitimate`` for the app's own."""
    role: Role
    explanation: str
    mistake: str
    """The server-side mistake a read from this origin reveals."""
    via: Via = Via.PAGE

    @property
    def key(self) -> str:
        """Unique within a run: the origin plus the way it is produced."""
        if self.via is Via.PAGE:
            return self.origin.serialize()
        return f"{self.origin.serialize()} via {self.via.value}"


@dataclass(frozen=True, slots=True)
class Shape:
    """A request shape: what the page JavaScript sends."""

    name: str
    method: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    preflighted: bool = False
    description: str = ""
    safe_substitute: bool = False
    """True when a safe method stands in for a state-changing one (no ``--unsafe``)."""
    token: bool = False
    """The request carries the user's ``--header`` credentials (a bearer token), as a
    token-based frontend sends them: never ambient, so never counted as exploitable."""


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One request to make from one origin; engine and cookie profile are added at run time."""

    id: str
    target: str
    variant: OriginVariant
    shape: Shape
    credentials: Credentials
    api: str = "fetch"
    """``fetch`` or ``xhr``."""
    auth_headers: tuple[tuple[str, str], ...] = ()
    """The user's credential headers (bearer tokens); only token shapes carry them."""

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The request headers page JavaScript sets: the shape's, then the user's credentials
        (which replace a shape header of the same name)."""
        if not self.auth_headers:
            return self.shape.headers
        names = {n.lower() for n, _ in self.auth_headers}
        kept = tuple((n, v) for n, v in self.shape.headers if n.lower() not in names)
        return kept + self.auth_headers


@dataclass(frozen=True, slots=True)
class Observation:
    """What one probe measured in one real browser. Secrets never enter this record."""

    id: str
    engine: Engine
    cookie_policy: CookiePolicy
    target: str
    origin: str
    origin_class: str
    role: Role
    via: Via
    page_origin: str | None
    shape: str
    method: str
    api: str
    credentials: Credentials
    outcome: Outcome
    status: int | None = None
    body_length: int | None = None
    body_hash: str | None = None
    readable_headers: tuple[str, ...] = ()
    elapsed_ms: float | None = None
    error: str | None = None
    block_reason: str | None = None
    cookie_sent: bool | None = None
    """The victim's session cookie went with the actual request, as seen at the wire;
    None when no request of this probe reached the target (never assumed)."""
    preflighted: bool = False
    authorization_sent: bool | None = None
    """The user's token (``--header``) went with the actual request, seen at the wire."""
    victim_data: bool | None = None
    """The answer held the victim's data (True), an anonymous answer (False), or
    cannot be told (None, with ``victim_note``); see :func:`harness.judge.victim.whose_data`."""
    victim_note: str | None = None
    cookie_note: str | None = None
    """Why the session cookie was not sent: the engine's own reason where it gives one
    (Chromium), else an explanation from the cookie's attributes, labelled as such."""
    wire_status: int | None = None
    wire_body_hash: str | None = None
    """The target's answer to this probe's actual request, as seen at the wire."""
    evidence: str | None = None
    """Key of this probe's exchanges in :attr:`RunReport.evidence`."""
    equivalent_to: str | None = None
    """None: measured on this endpoint. Otherwise the endpoint (a target URL) whose
    browser measurement this observation repeats, because the two endpoints' servers
    answered alike and a witness set of origins, run on this endpoint too, agreed."""

    def __post_init__(self) -> None:
        _share(self, _SHARED_OBSERVATION)

    @property
    def readable(self) -> bool:
        """JavaScript could read both the status and the body."""
        return self.outcome is Outcome.READABLE


_SHARED_OBSERVATION = (
    "target",
    "origin",
    "page_origin",
    "origin_class",
    "shape",
    "block_reason",
    "error",
    "victim_note",
    "cookie_note",
    "evidence",
    "body_hash",
    "wire_body_hash",
    "equivalent_to",
)
"""Observation fields whose values repeat across probes (not ``id``: it never does)."""


def _share(record: Any, names: tuple[str, ...]) -> None:
    """Intern ``record``'s string fields among ``names``.

    A big run repeats each origin, block reason, evidence key and header name in
    hundreds of thousands of records, each its own copy as the engine or the wire gave
    it: interned, equal strings are one object (freed with its last record), about a
    third of what a 100-endpoint run's records hold.
    """
    for name in names:
        value = getattr(record, name)
        if type(value) is str:
            object.__setattr__(record, name, sys.intern(value))


def _shared_pairs(pairs: Any) -> Any:
    """Header pairs, each one shared with the equal pairs of other exchanges (most are
    a header name and ``[not recorded]``); anything but a pair of strings as it is."""
    if type(pairs) is not tuple:
        return pairs
    return tuple(
        _pair(p[0], p[1])
        if type(p) is tuple and len(p) == 2 and type(p[0]) is str and type(p[1]) is str
        else p
        for p in pairs
    )


@functools.lru_cache(maxsize=4096)
def _pair(name: str, value: str) -> tuple[str, str]:
    # Bounded: a hostile target's varying values only push the oldest pairs out.
    return (sys.intern(name), sys.intern(value))


@dataclass(frozen=True, slots=True)
class HttpExchange:
    """One request/response pair as the server answered it, secrets redacted."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    status: int | None
    response_headers: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    source: str = "replay"
    """``wire``: the browser's own request, recorded by the proxy; ``replay``: sent from
    Python because no browser request exists (an origin no engine could produce)."""
    cookies: tuple[str, ...] = ()
    """Wire only: names of the cookies the request carried (never their values)."""
    authorization: bool | None = None
    """Wire only: whether the request carried an ``Authorization`` header."""
    protocol: str = ""
    """Wire only: the protocol spoken to the target, e.g. ``HTTP/1.1``."""
    body_length: int | None = None
    body_hash: str | None = None
    """Wire only: length and hash of the decoded response body (never the body)."""
    body_truncated: bool = False

    def __post_init__(self) -> None:
        _share(self, ("method", "url", "error", "source", "protocol", "body_hash"))
        object.__setattr__(self, "request_headers", _shared_pairs(self.request_headers))
        object.__setattr__(self, "response_headers", _shared_pairs(self.response_headers))
        if type(self.cookies) is tuple and all(type(c) is str for c in self.cookies):
            object.__setattr__(self, "cookies", tuple(sys.intern(c) for c in self.cookies))

    def header(self, name: str) -> str | None:
        """The response header values joined with ``, ``, or None when absent."""
        values = [v for k, v in self.response_headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Server-side truth for one (target, origin, shape, credentials): what the server said."""

    key: str
    target: str
    origin: str
    shape: str
    credentials: Credentials
    preflight: HttpExchange | None
    actual: HttpExchange | None

    def __post_init__(self) -> None:
        _share(self, ("key", "target", "origin", "shape"))


@dataclass(frozen=True, slots=True)
class HeaderVerdict:
    """What a header-only scanner would conclude from the server's headers."""

    vulnerable: bool
    severity: Severity | None
    reason: str


class Reach(str, enum.Enum):
    """Who could read the victim's data, in one engine and cookie profile."""

    CROSS_SITE = "cross-site"
    """A page on another site: any website the victim visits."""
    SAME_SITE = "same-site"
    """Only pages on the target's own site: the attacker needs a sibling subdomain (or,
    for an http origin, a network position)."""
    NONE = "none"
    """Nobody: no read carried the session and came back with the victim's data."""
    UNKNOWN = "unknown"
    """A credentialed read happened, but whether it held the victim's data is unknown."""


@dataclass(frozen=True, slots=True)
class Exposure:
    """Whether a finding is exploitable in one engine and cookie profile, as measured."""

    engine: Engine
    cookie_policy: CookiePolicy
    reach: Reach
    origins: tuple[str, ...] = ()
    """The attacker origins whose reads carried the session and the victim's data."""
    note: str = ""
    """Why: e.g. the reason the cookie was withheld, or why the data cannot be told."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A judgement about a target, backed by probe ids."""

    rule: str
    severity: Severity
    title: str
    target: str
    origins: tuple[str, ...]
    engines: tuple[Engine, ...]
    probes: tuple[str, ...]
    category: str = "vulnerability"
    """``vulnerability``, ``functional`` or ``hygiene``."""
    detail: str = ""
    classes: tuple[str, ...] = ()
    cookie_policies: tuple[CookiePolicy, ...] = ()
    header_check: HeaderVerdict | None = None
    evidence: tuple[str, ...] = ()
    """Keys into :attr:`RunReport.evidence`."""
    exposure: tuple[Exposure, ...] = ()
    """Attacker findings: per engine and cookie profile, who could read the victim's data."""
    equivalent_to: str | None = None
    """Set when every probe behind this finding repeats another endpoint's measurement
    (endpoints grouped by shared policy): that endpoint. None: verified here."""
    witnessed_in: tuple[Engine, ...] = ()
    """With ``equivalent_to``: the engines in which this endpoint's own witness probes
    agreed with it."""
    accepted: Accepted | None = None
    """A reviewed risk the config file accepts (``accept = [...]``), still in force on the
    run's day: the finding stays in the report but does not fail the run. None otherwise."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """Why a finding is accepted, and until when (report.json's ``accepted``)."""

    reason: str
    until: str | None = None
    """The last day it holds (``YYYY-MM-DD``); None: no end date."""
    source: str = ""
    """The config file that accepts it."""


@dataclass(frozen=True, slots=True)
class BrowserInfo:
    """A browser that took part in the run."""

    engine: Engine
    version: str
    source: str = ""
    """Where it came from: ``system``, ``playwright`` or a path."""
    executable: str = ""


@dataclass(frozen=True, slots=True)
class ToolError:
    """A failure of corsproof itself, not a finding about the target."""

    kind: str
    message: str


@dataclass(frozen=True)
class RunReport:
    """Everything one run produced; ``to_dict`` is the ``report.json`` contract."""

    run_id: str
    started: str
    finished: str | None
    targets: tuple[str, ...]
    browsers: tuple[BrowserInfo, ...]
    probes: tuple[Observation, ...]
    findings: tuple[Finding, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    partial: bool = False
    errors: tuple[ToolError, ...] = ()
    notes: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    rules: Mapping[str, Any] = field(default_factory=dict)
    """Rule id -> metadata (title, summary, remediation, snippets) for the rules that fired."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further JSON-ready sections: ``header_only``, ``disagreements``, ``pages``,
    ``baseline``, ``timings``. Reporters treat every one as optional."""
    tool_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict every reporter renders from."""
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": "corsproof",
            "tool_version": self.tool_version,
            "run_id": self.run_id,
            "started": self.started,
            "finished": self.finished,
            "partial": self.partial,
            "targets": list(self.targets),
            "browsers": [to_jsonable(b) for b in self.browsers],
            "config": to_jsonable(dict(self.config)),
            "notes": list(self.notes),
            "errors": [to_jsonable(e) for e in self.errors],
            "findings": [to_jsonable(f) for f in self.findings],
            "probes": [observation_to_dict(o) for o in self.probes],
            "evidence": [to_jsonable(e) for e in self.evidence],
            "rules": to_jsonable(dict(self.rules)),
            **{k: to_jsonable(v) for k, v in self.extra.items()},
        }


def base_url(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port``, with a bare IPv6 address put in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


IDENTITY_FIELDS = (
    "target",
    "origin",
    "via",
    "engine",
    "cookie_policy",
    "shape",
    "credentials",
    "api",
)
"""What identifies a probe across runs (ids are per plan, so not the id)."""


def probe_identity(p: Mapping[str, Any]) -> tuple[str, ...]:
    """A probe's identity across runs, from its report.json row (``via`` defaults to page)."""
    return tuple(str(p.get(f, "page")) if f == "via" else str(p[f]) for f in IDENTITY_FIELDS)


def observation_to_dict(obs: Observation) -> dict[str, Any]:
    """One probe as in ``report.json``, with the derived ``readable`` flag."""
    # Written out rather than through to_jsonable: a large run has 100,000s of probes.
    data: dict[str, Any] = {}
    for name in _field_names(Observation):
        value = getattr(obs, name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif type(value) is tuple:
            value = list(value)
        data[name] = value
    data["readable"] = obs.readable
    return data


def observation_from_dict(data: Mapping[str, Any]) -> Observation:
    """Inverse of :func:`observation_to_dict`; unknown keys are ignored."""
    names = {f.name for f in dataclasses.fields(Observation)}
    kw = {k: v for k, v in data.items() if k in names}
    kw["engine"] = Engine(kw["engine"])
    kw["cookie_policy"] = CookiePolicy(kw["cookie_policy"])
    kw["role"] = Role(kw["role"])
    kw["via"] = Via(kw["via"])
    kw["credentials"] = Credentials(kw["credentials"])
    kw["outcome"] = Outcome(kw["outcome"])
    kw["readable_headers"] = tuple(kw.get("readable_headers") or ())
    return Observation(**kw)


_SCALARS = frozenset({str, int, float, bool, type(None)})
"""Exact types returned as they are (a ``str`` enum is not one of them)."""


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts, enums to their values, tuples to lists, recursively."""
    # Scalars first, by exact type: a 100-endpoint report has millions of them, and
    # the generic checks below cost more than the rest of serialization.
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if kind is tuple or kind is list:
        return [to_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_jsonable(getattr(value, name)) for name in _field_names(kind)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def dumps(report: RunReport) -> str:
    """Serialize a report to JSON text."""
    return json.dumps(report.to_dict(), indent=2, sort_keys=False)


def worst(severities: Iterable[Severity]) -> Severity | None:
    """The worst severity, or None for an empty input."""
    best: Severity | None = None
    for sev in severities:
        if best is None or sev.rank > best.rank:
            best = sev
    return best


def exchange_from_dict(data: Mapping[str, Any] | None) -> HttpExchange | None:
    """Inverse of the ``to_jsonable`` form of an :class:`HttpExchange`."""
    if not data:
        return None
    return HttpExchange(
        method=str(data["method"]),
        url=str(data["url"]),
        request_headers=tuple((str(k), str(v)) for k, v in data.get("request_headers") or ()),
        status=data.get("status"),
        response_headers=tuple((str(k), str(v)) for k, v in data.get("response_headers") or ()),
        error=data.get("error"),
        source=str(data.get("source") or "replay"),
        cookies=tuple(str(c) for c in data.get("cookies") or ()),
        authorization=data.get("authorization"),
        protocol=str(data.get("protocol") or ""),
        body_length=data.get("body_length"),
        body_hash=data.get("body_hash"),
        body_truncated=bool(data.get("body_truncated")),
    )


def evidence_from_dict(data: Mapping[str, Any]) -> Evidence:
    """Inverse of the ``to_jsonable`` form of an :class:`Evidence`."""
    return Evidence(
        key=str(data["key"]),
        target=str(data["target"]),
        origin=str(data["origin"]),
        shape=str(data["shape"]),
        credentials=Credentials(data["credentials"]),
        preflight=exchange_from_dict(data.get("preflight")),
        actual=exchange_from_dict(data.get("actual")),
    )


def browser_from_dict(data: Mapping[str, Any]) -> BrowserInfo:
    """Inverse of the ``to_jsonable`` form of a :class:`BrowserInfo`."""
    return BrowserInfo(
        Engine(data["engine"]),
        str(data.get("version", "")),
        str(data.get("source", "")),
        str(data.get("executable", "")),
    )

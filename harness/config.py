"""The run configuration, worked out once from the command line.

Everything the user can get wrong is checked here and reported as a
:class:`~harness.model.errors.ConfigError` with one line of explanation, before any
browser or server starts. The result is a frozen :class:`RunConfig`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from harness.model.errors import ConfigError, OriginError
from harness.model.policy import Policy
from harness.model.results import CookiePolicy, Engine, Origin, Severity, Shape

ENGINE_NAMES = tuple(e.value for e in Engine)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


REMOTE_SCHEMES: dict[Engine, tuple[str, ...]] = {
    # Chromium and Firefox: a Playwright browser server (`playwright run-server`).
    Engine.CHROMIUM: ("ws", "wss"),
    Engine.FIREFOX: ("ws", "wss"),
    # WebKit: a WebDriver endpoint (Selenium Grid, or WebKitWebDriver itself).
    Engine.WEBKIT: ("http", "https"),
}

EXECUTABLE_PARAM = "executable"
"""Query parameter of a --remote URL that corsproof reads (and removes before connecting)."""
SESSIONS_PARAM = "sessions"
"""Query parameter of a WebKit --remote URL: WebDriver sessions the endpoint serves at once."""


@dataclass(frozen=True)
class RemoteEndpoint:
    """An engine that runs on another machine (``--remote ENGINE=URL``)."""

    engine: Engine
    url: str = field(repr=False)
    """The endpoint as corsproof connects to it (its own query parameters removed)."""
    executable: str | None = None
    """The browser's path on the browser machine: ``?executable=PATH``; empty = the
    server's own default; None = corsproof's default for the engine
    (:func:`harness.engines.paths.remote_executable`)."""
    sessions: int = 1
    """WebDriver endpoints only: sessions it serves at once (WebKitWebDriver itself: 1)."""

    @property
    def host(self) -> str:
        """The browser machine's host name or address."""
        return urlsplit(self.url).hostname or ""

    def secrets(self) -> tuple[str, ...]:
        """Password and query values of the URL (tokens, often), for redaction."""
        parts = urlsplit(self.url)
        found = [parts.password or ""] + [v for _, v in parse_qsl(parts.query)]
        return tuple(v for v in found if len(v) >= 4)

    @property
    def display(self) -> str:
        """The URL without user info or query (which may hold tokens), for reports and logs."""
        parts = urlsplit(self.url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


LAUNCH_OPTIONS_HEADER = "x-playwright-launch-options"
"""How a Playwright browser server (``run-server``) is given launch options. It picks
the browser from the ``x-playwright-browser`` header, which ``connect`` sets itself."""

CONNECT_ENDPOINT = "endpoint"
"""``BrowserType.connect``'s endpoint parameter: ``endpoint`` in Playwright 1.63, which
renamed it from ``ws_endpoint`` (a test checks the name against the installed API)."""

ENDPOINT_KEYS = (CONNECT_ENDPOINT, "ws_endpoint")
"""Where a suite's ``connect_options`` may name the endpoint (either spelling)."""


class LaunchAdjuster(Protocol):
    """Changes the options corsproof launches (or connects to) a browser with.

    For embedders such as the pytest plugin, whose test suite has launch options of its
    own. Each method gets the engine and corsproof's options (Playwright's keyword
    arguments) and returns the ones to use. Never given a probing context's options.
    """

    def launch(self, engine: Engine, options: dict[str, Any]) -> dict[str, Any]:
        """Options for ``BrowserType.launch`` (or ``launch_persistent_context``)."""
        ...

    def connect(self, engine: Engine, options: dict[str, Any]) -> dict[str, Any]:
        """Options for ``BrowserType.connect`` to a Playwright browser server."""
        ...


@dataclass(frozen=True)
class EngineChoice:
    """An engine the user asked for, optionally with an explicit executable or a remote."""

    engine: Engine
    path: str | None = None
    explicit: bool = False
    remote: RemoteEndpoint | None = None
    adjust: LaunchAdjuster | None = field(default=None, compare=False, repr=False)
    """Embedders only (the pytest plugin): merges their launch options into corsproof's."""


@dataclass(frozen=True)
class CookieSpec:
    """A victim session cookie, set first-party on the target's host."""

    name: str
    value: str
    domain: str | None = None
    path: str = "/"
    secure: bool | None = None
    same_site: str | None = None
    http_only: bool = False


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, validated."""

    targets: tuple[str, ...]
    lab: bool
    legit_origins: tuple[Origin, ...]
    extra_origins: tuple[Origin, ...] = ()
    disabled_classes: tuple[str, ...] = ()
    engines: tuple[EngineChoice, ...] = ()
    browser_source: str = "auto"
    """``auto``, ``system`` or ``playwright``: where engines without a named path come from."""
    cookie_policies: tuple[CookiePolicy, ...] = (CookiePolicy.DEFAULT, CookiePolicy.PERMISSIVE)
    cookies: tuple[CookieSpec, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    login_urls: tuple[str, ...] = ()
    """Visited first-party, in order, so the app sets the victim's cookies itself."""
    session_sources: tuple[str, ...] = ()
    """Where cookies and headers came from other than argv, names only (no values)."""
    storage_state: Path | None = None
    insecure: bool = False
    unsafe: bool = False
    out_dir: Path = Path("reports")
    formats: tuple[str, ...] = ("html", "json")
    fail_on: Severity = Severity.HIGH
    env: str = "prod"
    timeout: float = 10.0
    budget: float = 1800.0
    rate: float = 50.0
    concurrency: int = 6
    run_id: str = ""
    shard: tuple[int, int] | None = None
    per_class: int | None = None
    """At most this many attacker origins per catalogue class (quick runs); None = all."""
    bind: str = "127.0.0.1"
    """Address of the page servers and the proxy; remote browsers must reach it."""
    quiet: bool = False
    connect_to: tuple[tuple[str, int, str, int], ...] = ()
    """``--connect-to``: (host, port) the browsers ask for -> (address, port) really used."""
    wire: bool = True
    """Relay and witness every exchange with the targets (``--no-wire-witness`` turns it off)."""
    isolate_origins: bool = False
    """``--isolate-origins``: one fresh context per origin (the slow, old way, kept as a
    check); by default each engine and cookie profile shares one context whose pages
    navigate from origin to origin."""
    exhaustive: bool = False
    """``--exhaustive``: run the whole catalogue on every endpoint, even where endpoints
    answer alike (no grouping by shared policy)."""
    extra_shapes: tuple[tuple[str, Shape], ...] = ()
    """(target, shape): the frontend's own calls (``--har``) and API operations
    (``--openapi``) that no catalogue shape sends, each on its own target."""
    policy: Policy | None = None
    """The declared policy (readers per endpoint, accepted risks) from the config file."""
    sarif_category: str | None = None
    """Code scanning category (``automationDetails.id`` prefix); None = derived."""
    sarif_location: str | None = None
    """Repository-relative file every SARIF result points at; None = placeholders."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Every secret value the run was given, so that it can be redacted everywhere."""

    def summary(self) -> dict[str, Any]:
        """What goes into the report: no secret values, only their shape."""
        return {
            "targets": list(self.targets),
            "lab": self.lab,
            "legit_origins": [o.serialize() for o in self.legit_origins],
            "extra_origins": [o.serialize() for o in self.extra_origins],
            "disabled_classes": list(self.disabled_classes),
            "engines": [c.engine.value for c in self.engines],
            "browser_source": self.browser_source,
            "cookie_policies": [p.value for p in self.cookie_policies],
            "cookies": [c.name for c in self.cookies],
            "headers": [name for name, _ in self.headers],
            # A login URL may carry a one-time token in its query: shown without it.
            "login_urls": [
                u.split("?", 1)[0] + ("?…" if "?" in u else "") for u in self.login_urls
            ],
            "session_sources": list(self.session_sources),
            "storage_state": bool(self.storage_state),
            "insecure": self.insecure,
            "unsafe": self.unsafe,
            "fail_on": self.fail_on.value,
            "env": self.env,
            "timeout": self.timeout,
            "budget": self.budget,
            "rate": self.rate,
            "concurrency": self.concurrency,
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
            "per_class": self.per_class,
            "remote": {c.engine.value: c.remote.display for c in self.engines if c.remote},
            "connect_to": [f"{h}:{p}:{a}:{q}" for h, p, a, q in self.connect_to],
            "wire_witness": self.wire,
            "isolate_origins": self.isolate_origins,
            "exhaustive": self.exhaustive,
            "sarif_category": self.sarif_category,
            "sarif_location": self.sarif_location,
            "config_file": self.policy.source if self.policy else None,
            "calls": [f"{t} {s.name.removeprefix('call:')}" for t, s in self.extra_shapes],
        }

    def connect_to_map(self) -> dict[tuple[str, int], tuple[str, int]]:
        """``--connect-to`` as a lookup: (host, port) -> (address, port)."""
        return {(h.lower(), p): (a, q) for h, p, a, q in self.connect_to}

    def warnings(self) -> list[str]:
        """One-line warnings about a configuration that is valid but probably wrong."""
        out = []
        if is_loopback(self.bind):
            for choice in self.engines:
                remote = choice.remote
                if remote is not None and not is_loopback(remote.host):
                    out.append(
                        f"--remote {remote.engine.value}: the browser on {remote.host} cannot "
                        f"reach the proxy on {self.bind}; pass --bind with an address it can reach"
                    )
        return out


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_bind(text: str) -> str:
    """Validate ``--bind``: an IPv4 or IPv6 address (brackets optional) or ``localhost``."""
    name = text.strip().strip("[]")
    if name.lower() == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        raise ConfigError(
            f"--bind {text!r}: must be an IP address of this machine, e.g. 127.0.0.1, 0.0.0.0 or ::"
        ) from None


def parse_connect_to(text: str) -> tuple[str, int, str, int]:
    """``--connect-to HOST:PORT:ADDRESS:PORT``, as curl has it (IPv6 in brackets).

    Browsers still use HOST (its origin, cookies and TLS name); corsproof's proxy opens
    the connection to ADDRESS:PORT instead, e.g. a staging server or a local copy.
    """
    parts = re.findall(r"\[[^\]]*\]|[^:]+", text.strip())
    if len(parts) != 4 or not parts[1].isdigit() or not parts[3].isdigit():
        raise ConfigError(
            f"--connect-to {text!r}: expected HOST:PORT:ADDRESS:PORT, e.g. "
            "api.example.com:443:127.0.0.1:8443"
        )
    host, port, address, dest = parts[0].strip("[]").lower(), int(parts[1]), parts[2], int(parts[3])
    if not 0 < port < 65536 or not 0 < dest < 65536:
        raise ConfigError(f"--connect-to {text!r}: ports must be 1-65535")
    if any(c in host + address for c in " /?#@\t\r\n"):
        raise ConfigError(f"--connect-to {text!r}: invalid host or address")
    return host, port, address.strip("[]"), dest


def parse_target(text: str, flag: str = "--target") -> str:
    """Validate a target URL: absolute http(s), a host, no user info or fragment.

    ``flag`` names the option in the error (``--login-url`` takes a URL too).
    """
    raw = text.strip()
    try:
        parts = urlsplit(raw)
    except ValueError:  # "Invalid IPv6 URL": an unbalanced [ or ]
        raise ConfigError(f"{flag} {text!r}: invalid host") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{flag} {text!r}: must be an absolute http:// or https:// URL")
    if "@" in parts.netloc:
        raise ConfigError(f"{flag} {text!r}: credentials in the URL are not allowed; use --header")
    if parts.fragment:
        raise ConfigError(f"{flag} {text!r}: drop the #fragment")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: invalid port") from None
    if not parts.hostname or any(c in parts.hostname for c in " \t\r\n<>\"'`{}|\\^"):
        raise ConfigError(f"{flag} {text!r}: invalid host")
    return raw


_CATEGORY = re.compile(r"^[A-Za-z0-9._+:-]+(/[A-Za-z0-9._+:-]+)*$")


def parse_sarif_category(text: str | None) -> str | None:
    """``--sarif-category``: words of ``[A-Za-z0-9._+:-]`` joined by ``/``."""
    if text is None:
        return None
    value = text.strip().strip("/")
    if not _CATEGORY.match(value):
        raise ConfigError(
            f"--sarif-category {text!r}: use letters, digits and . _ + : - between slashes"
        )
    return value


def parse_sarif_location(text: str | None) -> str | None:
    """``--sarif-location``: a path relative to the repository root, as a URI reference."""
    if text is None:
        return None
    value = text.strip().replace("\\", "/")
    parts = value.split("/")
    if (
        not value
        or value.startswith("/")
        or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value)
        or ".." in parts
        or not re.match(r"^[A-Za-z0-9._~!$&'()*+,;=@/%-]+$", value)
    ):
        raise ConfigError(
            f"--sarif-location {text!r}: give a file path relative to the repository root, "
            "e.g. app/cors.py (no scheme, no leading /, no .., no spaces)"
        )
    return value


def parse_origin(text: str, flag: str) -> Origin:
    """Parse an origin argument, naming the flag in the error."""
    try:
        return Origin.parse(text)
    except OriginError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


def parse_header(text: str, source: str = "--header") -> tuple[str, str]:
    """``Name: value`` -> (name, value); rejects CR/LF and invalid names.

    ``source`` names where the text came from in the error; the value is never shown.
    """
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        # The argument may be a bare token; never echo it.
        raise ConfigError(f"{source} ({len(text)} characters, not shown): expected 'Name: value'")
    if not _TOKEN.match(name):
        # "Bearer abc:def" splits inside the token: the name is not shown either.
        raise ConfigError(
            f"{source}: not a valid header name ({len(name)} characters before the colon, "
            "not shown)"
        )
    if any(c in value for c in "\r\n\x00"):
        raise ConfigError(f"{source} {name}: value must not contain line breaks or NUL")
    return name, value


def parse_cookie(text: str, source: str = "--cookie") -> CookieSpec:
    """``name=value; SameSite=Lax; Secure; Domain=...; Path=/; HttpOnly``.

    ``source`` names where the text came from in the error; the value is never shown.
    """
    parts = [p.strip() for p in text.split(";")]
    first = parts[0]
    name, sep, value = first.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not _TOKEN.match(name):
        raise ConfigError(f"{source}: expected 'name=value[; attributes]' with a valid cookie name")
    if any(c in value for c in ';\r\n\x00 ,"\\'):
        raise ConfigError(f"{source} {name}: value contains characters a cookie cannot hold")
    spec: dict[str, Any] = {"name": name, "value": value}
    for attr in parts[1:]:
        if not attr:
            continue
        key, _, val = attr.partition("=")
        key_l = key.strip().lower()
        val = val.strip()
        if key_l == "secure":
            spec["secure"] = True
        elif key_l == "httponly":
            spec["http_only"] = True
        elif key_l == "samesite":
            if val.lower() not in _SAMESITE:
                raise ConfigError(f"{source} {name}: SameSite must be Strict, Lax or None")
            spec["same_site"] = _SAMESITE[val.lower()]
        elif key_l == "domain":
            if not val or any(c in val for c in " /:"):
                raise ConfigError(f"{source} {name}: invalid Domain {val!r}")
            spec["domain"] = val.lstrip(".")
        elif key_l == "path":
            if not val.startswith("/"):
                raise ConfigError(f"{source} {name}: Path must start with /")
            spec["path"] = val
        elif key_l in ("max-age", "expires"):
            continue
        else:
            raise ConfigError(f"{source} {name}: unknown attribute {key.strip()!r}")
    return CookieSpec(**spec)


def parse_engines(text: str | None) -> tuple[EngineChoice, ...]:
    """``chromium,firefox`` or ``chromium=/path``; None means every engine that is found."""
    if text is None:
        return tuple(EngineChoice(Engine(n)) for n in ENGINE_NAMES)
    out: list[EngineChoice] = []
    for item in text.split(","):
        name, _, path = item.strip().partition("=")
        name = name.strip().lower()
        if not name:
            continue
        if name not in ENGINE_NAMES:
            raise ConfigError(
                f"--browser: unknown engine {name!r} (choose from {', '.join(ENGINE_NAMES)})"
            )
        if path and not Path(path).exists():
            raise ConfigError(f"--browser {name}: no executable at {path}")
        if any(c.engine.value == name for c in out):
            raise ConfigError(f"--browser: {name} given twice")
        out.append(EngineChoice(Engine(name), path or None, explicit=True))
    if not out:
        raise ConfigError("--browser: name at least one engine")
    return tuple(out)


def parse_remote(text: str) -> RemoteEndpoint:
    """``chromium=ws://host:3000/``, ``firefox=wss://...``, ``webkit=http://grid:4444``.

    ``?executable=PATH`` names the browser on the browser machine (defaults:
    :func:`harness.engines.paths.remote_executable`); for WebKit, ``?sessions=N``
    says how many WebDriver sessions the endpoint serves at once (default 1, what
    WebKitWebDriver itself allows). Every other part of the URL is passed on as given.
    """
    name, sep, url = text.strip().partition("=")
    name = name.strip().lower()
    if not sep or name not in ENGINE_NAMES:
        raise ConfigError(
            f"--remote {text!r}: expected ENGINE=URL with ENGINE one of {', '.join(ENGINE_NAMES)}"
        )
    engine = Engine(name)
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise ConfigError(f"--remote {name}: {url!r}: {exc}") from None
    schemes = REMOTE_SCHEMES[engine]
    if parts.scheme.lower() not in schemes or not parts.netloc:
        raise ConfigError(
            f"--remote {name}: {url!r} must be a {' or '.join(s + '://' for s in schemes)} URL"
            + (" (a Playwright browser server)" if engine is not Engine.WEBKIT else " (WebDriver)")
        )
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"--remote {name}: invalid port in {url!r}") from None
    if not parts.hostname or any(c in url for c in " \t\r\n\x00"):
        raise ConfigError(f"--remote {name}: invalid host in {url!r}")
    if parts.fragment:
        raise ConfigError(f"--remote {name}: drop the #fragment")
    executable: str | None = None
    sessions = 1
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == EXECUTABLE_PARAM:
            executable = value
        elif key == SESSIONS_PARAM and engine is Engine.WEBKIT:
            if not value.isdigit() or not 1 <= int(value) <= 64:
                raise ConfigError(f"--remote {name}: sessions must be a number from 1 to 64")
            sessions = int(value)
        else:
            query.append((key, value))
    if executable and not executable.startswith("/"):
        raise ConfigError(f"--remote {name}: executable must be an absolute path on that machine")
    # Selenium appends "/session" to a WebDriver URL; a browser server's path is "/".
    path = parts.path or ("" if engine is Engine.WEBKIT else "/")
    kept = urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))
    return RemoteEndpoint(engine, kept, executable, sessions)


def combine_remotes(
    engines: tuple[EngineChoice, ...], remotes: Sequence[RemoteEndpoint], *, browser_given: bool
) -> tuple[EngineChoice, ...]:
    """Attach each ``--remote`` to its engine.

    ``--browser`` still says which engines run; ``--remote`` says where one runs, and
    names it: a remote that cannot be reached ends the run with exit code 2.
    """
    by_engine: dict[Engine, RemoteEndpoint] = {}
    for remote in remotes:
        if remote.engine in by_engine:
            raise ConfigError(f"--remote: {remote.engine.value} given twice")
        by_engine[remote.engine] = remote
    out = []
    for choice in engines:
        if choice.engine not in by_engine:
            out.append(choice)
            continue
        remote = by_engine.pop(choice.engine)
        if choice.path:
            raise ConfigError(
                f"--remote {choice.engine.value}: conflicts with --browser "
                f"{choice.engine.value}=PATH (a local executable)"
            )
        out.append(EngineChoice(choice.engine, None, explicit=True, remote=remote))
    if by_engine and browser_given:
        names = ", ".join(e.value for e in by_engine)
        raise ConfigError(f"--remote {names}: not among the --browser engines")
    return tuple(out)


def parse_browser_source(text: str) -> str:
    """``--browser-source``: ``auto``, ``system`` or ``playwright``."""
    value = text.strip().lower()
    if value not in ("auto", "system", "playwright"):
        raise ConfigError("--browser-source: choose auto, system or playwright")
    return value


def parse_cookie_policy(text: str) -> tuple[CookiePolicy, ...]:
    """``default``, ``permissive`` or ``both``."""
    value = text.strip().lower()
    if value == "both":
        return (CookiePolicy.DEFAULT, CookiePolicy.PERMISSIVE)
    try:
        return (CookiePolicy(value),)
    except ValueError:
        raise ConfigError("--cookie-policy: choose default, permissive or both") from None


def load_storage_state(path: str) -> tuple[Path, tuple[str, ...]]:
    """Validate a Playwright storage-state file; returns its path and the secret values in it."""
    p = Path(path)
    try:
        data = json.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--storage-state: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--storage-state: cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--storage-state: {path} is not JSON (line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cookies", []), list):
        raise ConfigError(
            f"--storage-state: {path} is not a Playwright storage state (no cookies list)"
        )
    secrets: list[str] = []
    for cookie in data.get("cookies", []):
        if not isinstance(cookie, dict) or not {"name", "value", "domain"} <= cookie.keys():
            raise ConfigError(
                f"--storage-state: {path} has a cookie without name, value and domain"
            )
        secrets.append(str(cookie["value"]))
    if not data.get("cookies"):
        # corsproof gives each browser the state's cookies, nothing else: without
        # any, every credentialed probe would run without the victim's session.
        raise ConfigError(
            f"--storage-state: {path} holds no cookies, so the probes would carry no "
            "session; save the state after logging in"
        )
    for origin in data.get("origins", []) or []:
        for item in (origin or {}).get("localStorage", []) or []:
            if isinstance(item, dict) and "value" in item:
                secrets.append(str(item["value"]))
    return p, tuple(s for s in secrets if len(s) >= 4)

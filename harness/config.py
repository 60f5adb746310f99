"""The run configuration, worked out once from the command line.

Everything the user can get wrong is checked here and reported as a
:class:`~harness.errors.ConfigError` with one line of explanation, before any
browser or server starts. The result is a frozen :class:`RunConfig`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError
from harness.models import CookiePolicy, Engine, Origin, OriginError, Severity

ENGINE_NAMES = tuple(e.value for e in Engine)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


@dataclass(frozen=True)
class EngineChoice:
    """An engine the user asked for, optionally with an explicit executable."""

    engine: Engine
    path: str | None = None
    explicit: bool = False


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
    cookie_policies: tuple[CookiePolicy, ...] = (CookiePolicy.DEFAULT, CookiePolicy.PERMISSIVE)
    cookies: tuple[CookieSpec, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    login_url: str | None = None
    storage_state: Path | None = None
    insecure: bool = False
    unsafe: bool = False
    out_dir: Path = Path("reports")
    formats: tuple[str, ...] = ("html", "json")
    fail_on: Severity = Severity.HIGH
    env: str = "prod"
    timeout: float = 10.0
    budget: float = 900.0
    rate: float = 50.0
    concurrency: int = 6
    run_id: str = ""
    shard: tuple[int, int] | None = None
    per_class: int | None = None
    """At most this many attacker origins per catalogue class (quick runs); None = all."""
    bind: str = "127.0.0.1"
    quiet: bool = False
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
            "cookie_policies": [p.value for p in self.cookie_policies],
            "cookies": [c.name for c in self.cookies],
            "headers": [name for name, _ in self.headers],
            "login_url": self.login_url,
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
        }


def parse_target(text: str) -> str:
    """Validate a target URL: absolute http(s), a host, no user info or fragment."""
    raw = text.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--target {text!r}: must be an absolute http:// or https:// URL")
    if "@" in parts.netloc:
        raise ConfigError(
            f"--target {text!r}: credentials in the URL are not allowed; use --header"
        )
    if parts.fragment:
        raise ConfigError(f"--target {text!r}: drop the #fragment")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"--target {text!r}: invalid port") from None
    if not parts.hostname or any(c in parts.hostname for c in " \t\r\n<>\"'`{}|\\^"):
        raise ConfigError(f"--target {text!r}: invalid host")
    return raw


def parse_origin(text: str, flag: str) -> Origin:
    """Parse an origin argument, naming the flag in the error."""
    try:
        return Origin.parse(text)
    except OriginError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


def parse_header(text: str) -> tuple[str, str]:
    """``Name: value`` -> (name, value); rejects CR/LF and invalid names."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        # The argument may be a bare token; never echo it.
        raise ConfigError(f"--header ({len(text)} characters, not shown): expected 'Name: value'")
    if not _TOKEN.match(name):
        raise ConfigError(f"--header: {name!r} is not a valid header name")
    if any(c in value for c in "\r\n\x00"):
        raise ConfigError(f"--header {name}: value must not contain line breaks or NUL")
    return name, value


def parse_cookie(text: str) -> CookieSpec:
    """``name=value; SameSite=Lax; Secure; Domain=...; Path=/; HttpOnly``."""
    parts = [p.strip() for p in text.split(";")]
    first = parts[0]
    name, sep, value = first.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not _TOKEN.match(name):
        raise ConfigError("--cookie: expected 'name=value[; attributes]' with a valid cookie name")
    if any(c in value for c in ';\r\n\x00 ,"\\'):
        raise ConfigError(f"--cookie {name}: value contains characters a cookie cannot hold")
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
                raise ConfigError(f"--cookie {name}: SameSite must be Strict, Lax or None")
            spec["same_site"] = _SAMESITE[val.lower()]
        elif key_l == "domain":
            if not val or any(c in val for c in " /:"):
                raise ConfigError(f"--cookie {name}: invalid Domain {val!r}")
            spec["domain"] = val.lstrip(".")
        elif key_l == "path":
            if not val.startswith("/"):
                raise ConfigError(f"--cookie {name}: Path must start with /")
            spec["path"] = val
        elif key_l in ("max-age", "expires"):
            continue
        else:
            raise ConfigError(f"--cookie {name}: unknown attribute {key.strip()!r}")
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
    for origin in data.get("origins", []) or []:
        for item in (origin or {}).get("localStorage", []) or []:
            if isinstance(item, dict) and "value" in item:
                secrets.append(str(item["value"]))
    return p, tuple(s for s in secrets if len(s) >= 4)

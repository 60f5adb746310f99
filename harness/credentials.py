"""Where the victim's session comes from, and how each source is read.

Values on the command line are visible to ``ps`` and often land in CI logs, so a
session can also come from the environment and from a file:

- ``--cookie`` / ``--header``: on the command line;
- ``--cookie-env NAME`` / ``--header-env NAME``: the value of environment variable NAME;
- ``CORSPROOF_COOKIE`` / ``CORSPROOF_HEADER``: read when set and not empty, one value
  per line;
- ``--secrets-file FILE``: lines ``cookie: name=value; attributes`` and
  ``header: Name: value``; blank lines and lines starting with ``#`` are ignored. A
  file that other users may read (any "other" permission bit) is refused: the
  secret would already be exposed, and refusing makes that visible.

Every value ends up in the same :class:`~harness.config.CookieSpec` and header
tuples as ``--cookie``/``--header``, so redaction covers all of them alike. Errors
name the source and never show a value.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import CookieSpec, parse_cookie, parse_header
from harness.model.errors import ConfigError

COOKIE_ENV = "CORSPROOF_COOKIE"
"""Environment variable read for session cookies (one ``name=value[; attrs]`` per line)."""
HEADER_ENV = "CORSPROOF_HEADER"
"""Environment variable read for credential headers (one ``Name: value`` per line)."""

SECRETS_FILE_KINDS = ("cookie", "header")


@dataclass(frozen=True)
class Session:
    """The victim's cookies and credential headers, with where each came from."""

    cookies: tuple[CookieSpec, ...] = ()
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    sources: tuple[str, ...] = ()
    """One line per source other than argv, names only: ``cookie sid from CORSPROOF_COOKIE``."""

    def secrets(self) -> list[str]:
        """Every value to redact: cookie values, header values and their long words."""
        found = [c.value for c in self.cookies] + [v for _, v in self.headers]
        for _, value in self.headers:
            found.extend(p for p in value.split() if len(p) >= 8)
        return found


def load_session(
    cookies: Sequence[str] = (),
    headers: Sequence[str] = (),
    *,
    cookie_env: Sequence[str] = (),
    header_env: Sequence[str] = (),
    secrets_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Session:
    """Read every source of the victim's session; raises ConfigError naming the bad one."""
    env = os.environ if environ is None else environ
    out_cookies = [parse_cookie(c) for c in cookies]
    out_headers = [parse_header(h) for h in headers]
    sources: list[str] = []

    def add_cookie(text: str, where: str) -> None:
        cookie = parse_cookie(text, where)
        out_cookies.append(cookie)
        sources.append(f"cookie {cookie.name} from {where}")

    def add_header(text: str, where: str) -> None:
        name, value = parse_header(text, where)
        out_headers.append((name, value))
        sources.append(f"header {name} from {where}")

    for name in cookie_env:
        add_cookie(_required_env(env, name, "--cookie-env"), f"--cookie-env {name}")
    for name in header_env:
        add_header(_required_env(env, name, "--header-env"), f"--header-env {name}")
    for line in _lines(env.get(COOKIE_ENV, "")):
        add_cookie(line, COOKIE_ENV)
    for line in _lines(env.get(HEADER_ENV, "")):
        add_header(line, HEADER_ENV)
    if secrets_file:
        for number, kind, text in read_secrets_file(secrets_file):
            where = f"--secrets-file {secrets_file} line {number}"
            (add_cookie if kind == "cookie" else add_header)(text, where)
    return Session(tuple(out_cookies), tuple(out_headers), tuple(sources))


def _required_env(env: Mapping[str, str], name: str, flag: str) -> str:
    value = env.get(name, "")
    if not value.strip():
        state = "is empty" if name in env else "is not set"
        raise ConfigError(f"{flag} {name}: the environment variable {state}")
    return value.strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_secrets_file(path: str) -> list[tuple[int, str, str]]:
    """(line number, ``cookie`` or ``header``, value) for each entry of a secrets file."""
    file = Path(path)
    try:
        mode = file.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"--secrets-file: {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"--secrets-file: cannot read {path}: {exc.strerror or exc}") from None
    if os.name == "posix" and mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH):
        raise ConfigError(
            f"--secrets-file: {path} is open to other users (mode {stat.S_IMODE(mode):o}); "
            f"restrict it with `chmod 600 {path}`"
        )
    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--secrets-file: cannot read {path}: {exc}") from None
    entries: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, sep, value = line.partition(":")
        kind = kind.strip().lower()
        if not sep or kind not in SECRETS_FILE_KINDS:
            raise ConfigError(
                f"--secrets-file {path} line {number}: expected 'cookie: name=value' or "
                "'header: Name: value' (the line is not shown)"
            )
        entries.append((number, kind, value.strip()))
    if not entries:
        raise ConfigError(f"--secrets-file: {path} holds no 'cookie:' or 'header:' line")
    return entries

"""The project config file: ``corsproof.toml``, or ``[tool.corsproof]`` in pyproject.toml.

It is found the way ruff finds its own: from the working directory upward, the first
folder with a ``corsproof.toml``, or a ``pyproject.toml`` holding a ``[tool.corsproof]``
table (``corsproof.toml`` wins within one folder), up to the filesystem root.
``--config FILE`` names one instead.

A file is checked in two steps. The packaged JSON Schema (``corsproof.schema.json``,
published as ``docs/corsproof.schema.json`` for editors) checks its structure; then
Python checks what a schema cannot: origins, URLs, dates, rule names, environment
names, files. Every problem is one :class:`~harness.model.errors.ConfigError` line,
``<file>: <key path>: <what is wrong>``, so that the CLI exits 2 with it.

The result, a :class:`Project`, gives the verify arguments the file sets
(:meth:`Project.arguments`) and the declared policy (:meth:`Project.policy`).
"""

from __future__ import annotations

import copy
import datetime as _dt
import difflib
import functools
import json
import os
import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

from harness.config import parse_target
from harness.model.errors import ConfigError, OriginError
from harness.model.policy import Acceptance, Environment, Expectation, Policy
from harness.model.results import Origin

CONFIG_NAME = "corsproof.toml"
PYPROJECT = "pyproject.toml"
SCHEMA_NAME = "corsproof.schema.json"
DEFAULT_ENV = "prod"
"""The environment chosen when the file declares it and names no other, or declares none."""

KeyPath = tuple[str | int, ...]

_SESSION_KEYS = ("cookie_env", "header_env", "storage_state", "login_url")
# Keys that look as if they hold a cookie or a token itself: refused with a pointer to
# cookie_env/header_env, since a value in a committed file is a leaked secret.
_SECRETISH = re.compile(
    r"cookie|token|header|auth|passw|secret|bearer|api[_-]?key|jwt|credential|session",
    re.IGNORECASE,
)


def schema() -> dict[str, Any]:
    """The JSON Schema of the config file (the packaged ``corsproof.schema.json``)."""
    return copy.deepcopy(_schema())


@functools.cache
def _schema() -> dict[str, Any]:
    text = resources.files("harness.inputs").joinpath(SCHEMA_NAME).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@functools.cache
def _validator() -> Any:
    return Draft202012Validator(_schema())


@dataclass(frozen=True)
class DeclaredExpectation:
    """An ``[[expect]]`` entry before an environment is chosen.

    ``per_env`` holds ``readable_by`` when the file gives it as a table per environment;
    then ``expectation.readable_by`` is None until :meth:`for_env` picks one.
    """

    expectation: Expectation
    per_env: tuple[tuple[str, tuple[str, ...]], ...] | None = None

    def for_env(self, env: str) -> Expectation:
        """The expectation in environment ``env`` (no list for ``env``: None, not declared)."""
        if self.per_env is None:
            return self.expectation
        return replace(self.expectation, readable_by=dict(self.per_env).get(env))


@dataclass(frozen=True)
class Project:
    """A loaded, validated config file."""

    path: Path
    """The file, absolute."""
    display: str
    """The file as the user would name it (as given, or relative to the working directory)."""
    env_names: tuple[str, ...] = ()
    """The declared environments, in file order."""
    default_env: str | None = None
    """``default_env``, else ``prod`` when declared, else the first declared; None: none."""
    settings: tuple[tuple[str, Any], ...] = field(default=(), repr=False)
    """(verify dest, value) for every key the file sets that does not depend on ``--env``;
    lists are kept as tuples."""
    environments: tuple[Environment, ...] = ()
    expectations: tuple[DeclaredExpectation, ...] = ()

    def choose_env(self, env: str | None) -> str | None:
        """The environment a run uses: ``env`` (``--env``), else :attr:`default_env`.

        Raises ConfigError when ``env`` is not declared by a file that declares some; a
        file that declares none takes any name (``--env dev`` still relaxes localhost).
        """
        if env is None:
            return self.default_env
        if self.env_names and env not in self.env_names:
            names = ", ".join(self.env_names)
            raise _error(f"{self.display}: --env {env}: not an environment of this file ({names})")
        return env

    def arguments(self, env: str | None = None) -> dict[str, Any]:
        """The verify arguments (argparse dests) the file sets, for environment ``env``.

        Only keys the file sets appear. ``allow_origin`` and ``env`` come from the chosen
        environment when the file declares environments. Paths are absolute, resolved
        against the file's folder; lists are lists, engine and format lists comma strings.
        """
        name = self.choose_env(env)
        out = {dest: list(v) if isinstance(v, tuple) else v for dest, v in self.settings}
        chosen = next((e for e in self.environments if e.name == name), None)
        if chosen is not None:
            out["env"] = chosen.name
            out["allow_origin"] = list(chosen.origins)
        return out

    def policy(self, env: str | None = None) -> Policy:
        """The declared policy in environment ``env`` (None: the default environment)."""
        name = self.choose_env(env) or DEFAULT_ENV
        return Policy(
            source=self.display,
            env=name,
            environments=self.environments,
            expectations=tuple(d.for_env(name) for d in self.expectations),
        )


def find_config(cwd: Path) -> Path | None:
    """The config file that applies in ``cwd``, or None.

    Raises ConfigError when a pyproject.toml that mentions corsproof is not valid TOML
    (it cannot be told whether it holds the table; ruff refuses such a file too).
    """
    start = cwd.resolve()
    for folder in (start, *start.parents):
        own = folder / CONFIG_NAME
        if own.is_file():
            return own
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject, os.path.relpath(pyproject, start)):
            return pyproject
    return None


def _has_table(pyproject: Path, display: str) -> bool:
    try:
        text = pyproject.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return False  # not ours to judge: the file does not say corsproof readably
    if "corsproof" not in text:
        return False  # most pyproject.toml files: no need to parse them
    tool = _parse(text, display).get("tool")
    return isinstance(tool, dict) and "corsproof" in tool


def load_project(
    path: Path | None, cwd: Path, *, known_rules: Collection[str] | None = None
) -> Project | None:
    """Load the config file ``path`` (``--config``), or the one found from ``cwd``.

    Returns None when ``path`` is None and no file is found. ``known_rules``, when
    given, are the rule ids an ``accept`` entry may name. Raises ConfigError (one line).
    """
    base = cwd.resolve()
    if path is None:
        found = find_config(base)
        if found is None:
            return None
        display = os.path.relpath(found, base)
    else:
        found = Path(os.path.abspath(base / path.expanduser()))
        display = str(path)
    data = _parse(_read(found, display), display)
    prefix: KeyPath = ()
    if found.name == PYPROJECT:
        tool = data.get("tool")
        if not isinstance(tool, dict) or "corsproof" not in tool:
            raise _error(f"{display}: no [tool.corsproof] table")
        data, prefix = tool["corsproof"], ("tool", "corsproof")
    return _Loader(found, display, prefix, known_rules).load(data)


def _read(path: Path, display: str) -> str:
    try:
        return path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise _error(f"{display}: no such file") from None
    except IsADirectoryError:
        raise _error(f"{display}: is a folder, not a config file") from None
    except UnicodeDecodeError:
        raise _error(f"{display}: not UTF-8 text") from None
    except OSError as exc:
        raise _error(f"{display}: cannot read it: {exc.strerror or exc}") from None


def _parse(text: str, display: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        if where:
            what = message[: where.start()] + message[where.end() :]
            place = f"line {where[1]}, column {where[2]}"
        else:
            what, _, tail = message.partition(" (at ")
            place = tail.rstrip(")") or "?"
        what = what.strip() or "invalid"
        what = what[0].lower() + what[1:]
        raise _error(f"{display}: {place}: not valid TOML: {what}") from None


def key_path(parts: KeyPath) -> str:
    """A key path as the messages write it: ``tool.corsproof.env.prod.origins[1]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        # Keys that are not bare TOML keys are quoted the way TOML quotes them.
        name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
        out += f".{name}" if out else name
    return out


_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""What str.splitlines() breaks at."""


def _one_line(text: str) -> str:
    # Values are quoted with repr already; this is the guarantee, for file names too.
    return _LINE_BREAKS.sub(lambda m: repr(m[0])[1:-1], text)


def _error(line: str) -> ConfigError:
    return ConfigError(_one_line(line))


def _suggest(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass
class _Loader:
    """Checks one file's table and turns it into a Project."""

    path: Path
    display: str
    prefix: KeyPath
    known_rules: Collection[str] | None

    def fail(self, where: KeyPath, message: str) -> NoReturn:
        place = key_path(self.prefix + where)
        line = f"{self.display}: {place}: {message}" if place else f"{self.display}: {message}"
        raise _error(line)

    def load(self, data: Any) -> Project:
        if not isinstance(data, dict):
            self.fail((), f"must be a table, not {_kind(data)}")
        self.refuse_secrets(data, ())
        if isinstance(data.get("session"), dict):
            self.refuse_secrets(data["session"], ("session",))
        _dates_to_strings(data)
        found = _first_schema_error(data)
        if found is not None:
            self.fail(*found)
        return self.project(data)

    def refuse_secrets(self, table: Mapping[str, Any], where: KeyPath) -> None:
        allowed = _SESSION_KEYS if where else tuple(_schema()["properties"])
        for key in table:
            if key in allowed or difflib.get_close_matches(key, allowed, n=1, cutoff=0.8):
                continue  # a known key, or a typo of one: the schema step names it
            if _SECRETISH.search(key):
                self.fail(
                    (*where, key),
                    "secret values never live in the config file; put the value in an "
                    "environment variable and name it in session.cookie_env (cookies) or "
                    "session.header_env (headers such as Authorization)",
                )

    def project(self, data: dict[str, Any]) -> Project:
        settings: list[tuple[str, Any]] = []
        settings += self.what_to_test(data)
        environments = tuple(
            Environment(name, self.origins(env["origins"], ("env", name, "origins")))
            for name, env in data.get("env", {}).items()
        )
        names = tuple(e.name for e in environments)
        default = data.get("default_env")
        if default is not None and default not in names:
            self.fail(
                ("default_env",),
                f"{default!r} is not an environment of this file"
                + (f" ({', '.join(names)})" if names else " (it declares none)"),
            )
        if default is None and names:
            default = DEFAULT_ENV if DEFAULT_ENV in names else names[0]
        settings += self.session(data.get("session", {}))
        settings += self.run(data.get("run", {}))
        expectations = tuple(
            self.expectation(entry, i, names) for i, entry in enumerate(data.get("expect", []))
        )
        return Project(
            path=self.path,
            display=self.display,
            env_names=names,
            default_env=default,
            settings=tuple(settings),
            environments=environments,
            expectations=expectations,
        )

    def what_to_test(self, data: dict[str, Any]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if "targets" in data:
            out.append(("target", self.urls(data["targets"], ("targets",))))
        if "lab" in data:
            out.append(("lab", data["lab"]))
        if "openapi" in data:
            value = data["openapi"]
            where: KeyPath = ("openapi",)
            out.append(
                ("openapi", self.url(value, where) if "://" in value else self.file(value, where))
            )
        if "base_url" in data:
            out.append(("base_url", self.url(data["base_url"], ("base_url",))))
        if "path_params" in data:
            out.append(("path_param", tuple(f"{k}={v}" for k, v in data["path_params"].items())))
        if "har" in data:
            out.append(("har", tuple(self.file(f, ("har", i)) for i, f in enumerate(data["har"]))))
        if "attacker_origins" in data:
            where = ("attacker_origins",)
            out.append(("origin", self.origins(data["attacker_origins"], where)))
        return out

    def session(self, table: dict[str, Any]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = [
            (key, tuple(table[key])) for key in ("cookie_env", "header_env") if key in table
        ]
        if "storage_state" in table:
            out.append(
                ("storage_state", self.file(table["storage_state"], ("session", "storage_state")))
            )
        if "login_url" in table:
            out.append(("login_url", self.urls(table["login_url"], ("session", "login_url"))))
        return out

    def run(self, table: dict[str, Any]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if "browsers" in table:
            out.append(("browser", ",".join(table["browsers"])))
        if "formats" in table:
            out.append(("format", ",".join(table["formats"])))
        for key in ("fail_on", "unsafe", "cookie_policy"):
            if key in table:
                out.append((key, table[key]))
        for key in ("rate", "budget", "timeout"):
            if key in table:
                out.append((key, float(table[key])))
        if "per_class" in table:
            out.append(("per_class", table["per_class"]))
        if "out" in table:
            out.append(("out", self.resolve(table["out"])))
        return out

    def expectation(
        self, entry: dict[str, Any], index: int, env_names: tuple[str, ...]
    ) -> DeclaredExpectation:
        where: KeyPath = ("expect", index)
        readers = entry.get("readable_by")
        flat: tuple[str, ...] | None = None
        per_env: tuple[tuple[str, tuple[str, ...]], ...] | None = None
        if isinstance(readers, list):
            flat = self.origins(readers, (*where, "readable_by"))
        elif isinstance(readers, dict):
            for env in readers:
                if env not in env_names:
                    declared = f" ({', '.join(env_names)})" if env_names else " (it declares none)"
                    self.fail(
                        (*where, "readable_by", env), f"not an environment of this file{declared}"
                    )
            per_env = tuple(
                (env, self.origins(value, (*where, "readable_by", env)))
                for env, value in readers.items()
            )
        accept = tuple(
            self.acceptance(item, (*where, "accept", i))
            for i, item in enumerate(entry.get("accept", []))
        )
        expectation = Expectation(
            pattern=entry.get("path") or entry["url"],
            readable_by=flat,
            public=entry.get("public", False),
            accept=accept,
        )
        return DeclaredExpectation(expectation, per_env)

    def acceptance(self, item: dict[str, Any], where: KeyPath) -> Acceptance:
        rule = item["rule"]
        if self.known_rules is not None and rule not in self.known_rules:
            self.fail((*where, "rule"), f"unknown rule {rule!r}{_suggest(rule, self.known_rules)}")
        origin = item.get("origin")
        if origin is not None:
            origin = self.origin(origin, (*where, "origin"))
        until = None
        if "until" in item:
            try:
                until = _dt.date.fromisoformat(item["until"])
            except ValueError as exc:
                self.fail((*where, "until"), f"{item['until']!r} is not a date (YYYY-MM-DD): {exc}")
        return Acceptance(rule=rule, reason=item["reason"], origin=origin, until=until)

    def origins(self, values: Sequence[str], where: KeyPath) -> tuple[str, ...]:
        return tuple(self.origin(v, (*where, i)) for i, v in enumerate(values))

    def origin(self, value: str, where: KeyPath) -> str:
        try:
            return Origin.parse(value).serialize()
        except OriginError as exc:
            self.fail(where, str(exc))

    def urls(self, values: Sequence[str], where: KeyPath) -> tuple[str, ...]:
        return tuple(self.url(v, (*where, i)) for i, v in enumerate(values))

    def url(self, value: str, where: KeyPath) -> str:
        try:
            netloc = urlsplit(value).netloc
        except ValueError:
            netloc = ""  # parse_target says what is wrong with it
        if "@" in netloc:
            # Not shown: the user info may be a password, and this line may reach a CI log.
            self.fail(
                where,
                "credentials in the URL are not allowed; name an environment variable "
                "in session.header_env",
            )
        try:
            return parse_target(value, flag="")
        except ConfigError as exc:
            # parse_target says "<flag> 'value': what"; the key path stands for the flag.
            self.fail(where, str(exc).strip())

    def resolve(self, value: str) -> str:
        """``value`` as an absolute path, relative ones against the file's folder."""
        return os.path.abspath(self.path.parent / Path(value).expanduser())

    def file(self, value: str, where: KeyPath) -> str:
        full = self.resolve(value)
        if not os.path.isfile(full):
            what = "is a folder, not a file" if os.path.isdir(full) else "no such file"
            self.fail(where, f"{value}: {what}")
        return full


def _dates_to_strings(data: dict[str, Any]) -> None:
    """``until = 2027-06-30`` (a TOML date) becomes the string the schema checks.

    A date-time or a time stays as it is, for the schema to refuse.
    """
    entries = data.get("expect")
    for entry in entries if isinstance(entries, list) else ():
        accept = entry.get("accept") if isinstance(entry, dict) else None
        for item in accept if isinstance(accept, list) else ():
            if isinstance(item, dict) and type(item.get("until")) is _dt.date:
                item["until"] = item["until"].isoformat()


# --- JSON Schema errors, as one line ----------------------------------------------------

_RANK = {"additionalProperties": 0, "type": 1, "required": 2}
"""Among errors at one place, the most telling first: an unknown key (often a typo of
the missing one), then a wrong type, then a missing key."""

_TYPE_WORDS = {
    "string": "a string",
    "array": "an array",
    "object": "a table",
    "boolean": "true or false",
    "number": "a number",
    "integer": "an integer",
}


def _first_schema_error(data: dict[str, Any]) -> tuple[KeyPath, str] | None:
    """The first structural error in file order, as (key path, message); None: valid."""
    errors = list(_validator().iter_errors(data))
    if not errors:
        return None
    return _describe(_first(errors, data), data)


def _first(errors: Sequence[Any], data: Any) -> Any:
    # Deterministic: by the place in the file (key order is file order), then by kind.
    return min(
        errors,
        key=lambda e: (_order(data, e.absolute_path), _RANK.get(e.validator, 9), e.message),
    )


def _order(data: Any, path: Sequence[str | int]) -> tuple[int, ...]:
    out = []
    node = data
    for part in path:
        if isinstance(node, dict):
            out.append(list(node).index(part))
        else:
            out.append(int(part))
        node = node[part]
    return tuple(out)


def _describe(error: Any, data: Any) -> tuple[KeyPath, str]:
    where: KeyPath = tuple(error.absolute_path)
    kind, value, schema = error.validator, error.instance, error.schema
    if kind in ("anyOf", "oneOf") and "errorMessage" not in schema:
        return _describe_branches(error, data)
    if kind == "additionalProperties":
        known = [*schema.get("properties", {})]
        extra = next(k for k in value if k not in known)
        return where, f"unknown key {extra!r}{_suggest(extra, known)}"
    if isinstance(schema, dict) and "errorMessage" in schema:
        return where, str(schema["errorMessage"])
    return where, _message(error, where)


def _describe_branches(error: Any, data: Any) -> tuple[KeyPath, str]:
    """anyOf/oneOf: the error of the branch of the value's own type, or a type error."""
    where: KeyPath = tuple(error.absolute_path)
    wrong_type = {
        e.relative_schema_path[0]
        for e in error.context
        if e.validator == "type" and not e.relative_path
    }
    kept = [e for e in error.context if e.relative_schema_path[0] not in wrong_type]
    if kept:
        return _describe(_first(kept, data), data)
    wanted = [e.validator_value for e in error.context if e.validator == "type"]
    words = " or ".join(_TYPE_WORDS.get(t, t) for t in wanted)
    return where, f"must be {words}, not {_kind(error.instance)}"


def _message(error: Any, where: KeyPath) -> str:
    kind, value, want, schema = error.validator, error.instance, error.validator_value, error.schema
    if kind == "type":
        words = " or ".join(
            _TYPE_WORDS.get(t, t) for t in ([want] if isinstance(want, str) else want)
        )
        hint = ""
        if where == ("env",) and isinstance(value, str):
            hint = " (the tables [env.NAME] declare environments; default_env names the default)"
        return f"must be {words}, not {_kind(value)}{hint}"
    if kind == "enum":
        choices = ", ".join(str(c) for c in want)
        near = _suggest(value, [str(c) for c in want]) if isinstance(value, str) else ""
        return f"{_show(value)} is not one of {choices}{near}"
    if kind == "required":
        missing = next(k for k in want if k not in value)
        return f"missing key {missing!r}"
    if kind in ("minItems", "minLength"):
        return "must not be empty" if want == 1 else f"needs at least {want} items"
    if kind == "uniqueItems":
        dup = next(v for i, v in enumerate(value) if v in value[:i])
        return f"{_show(dup)} is given twice"
    if kind == "pattern":
        return f"{_show(value)}: {schema.get('patternErrorMessage', 'does not match ' + want)}"
    if kind == "minimum":
        return f"must be at least {want}, not {_show(value)}"
    return str(error.message).splitlines()[0]


def _kind(value: Any) -> str:
    """What a TOML value is, in TOML's words."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, _dt.datetime):
        return "a date-time"
    if isinstance(value, _dt.date):
        return "a date"
    if isinstance(value, _dt.time):
        return "a time"
    return type(value).__name__


def _show(value: Any) -> str:
    """A value in a message: strings quoted as the CLI's messages quote them."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool | int | float):
        return json.dumps(value)  # true, not True: the file's spelling
    return _kind(value)

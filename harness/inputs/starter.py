"""``corsproof init``: a commented starter config file.

The file explains each section in comments and fills in what the user gave on the
command line (``--target``, ``--allow-origin``, ``--openapi``); every example is
commented out, and valid when uncommented. Values are written as TOML basic strings,
so no input can end a string or a line early.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from harness.config import parse_origin, parse_target
from harness.model.errors import ConfigError

EXAMPLE_ORIGIN = "https://app.example.com"
DEV_ORIGIN = "http://localhost:3000"


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (``"..."``); raises ConfigError when TOML cannot hold it.

    JSON's escapes are a subset of TOML's (``\\" \\\\ \\b \\f \\n \\r \\t \\uXXXX``);
    JSON leaves DEL as it is, which TOML refuses in a string, so it is escaped here.
    Lone surrogates are no text at all, and cannot be written in UTF-8.
    """
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise ConfigError(f"{text!r}: not valid text (a lone surrogate)")
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _array(values: Sequence[str]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def starter_config(
    targets: Sequence[str],
    allow_origins: Sequence[str],
    openapi: str | None,
    *,
    pyproject: bool = False,
) -> str:
    """A commented starter config: corsproof.toml, or with ``pyproject`` a
    ``[tool.corsproof]`` block to append to pyproject.toml.

    ``targets``, ``allow_origins`` and ``openapi`` are checked as the flags would be
    (ConfigError naming the flag); origins are written in their canonical form.
    """
    urls = [parse_target(t) for t in targets]
    origins = list(
        dict.fromkeys(parse_origin(o, "--allow-origin").serialize() for o in allow_origins)
    )
    if openapi is not None and "://" in openapi:
        openapi = parse_target(openapi, "--openapi")
    if openapi is not None and not openapi.strip():
        raise ConfigError("--openapi: give a file or an http(s) URL")
    table = "tool.corsproof." if pyproject else ""
    where = "pyproject.toml's folder" if pyproject else "this file's folder"
    lines = [
        "# corsproof: what `corsproof verify` checks, and the CORS policy it holds the",
        "# browsers' answers against. `corsproof verify` with no flags runs what this says;",
        "# command-line flags override it. Relative paths are relative to " + where + ".",
        "# The JSON Schema that editors use to complete and check it is",
        "# docs/corsproof.schema.json in corsproof's repository.",
    ]
    if pyproject:
        lines += ["[tool.corsproof]"]
    lines += _what_to_test(urls, openapi)
    lines += _environments(table, origins)
    lines += _session(table)
    lines += _run(table)
    lines += _expect(table, origins[0] if origins else EXAMPLE_ORIGIN)
    return "\n".join(lines) + "\n"


def _what_to_test(urls: Sequence[str], openapi: str | None) -> list[str]:
    lines = ["", "# The endpoints to verify: absolute http(s) URLs (like --target)."]
    lines.append(
        f"targets = {_array(urls)}" if urls else '# targets = ["https://api.example.com/me"]'
    )
    lines += [
        "# true: serve corsproof's built-in lab API instead; targets and operations on",
        "# https://api.example.com are then its endpoints.",
        "# lab = true",
        "",
        "# An OpenAPI 3.0 or 3.1 document, JSON or YAML, a file or an http(s) URL: every",
        "# operation becomes a target (like --openapi).",
        f"openapi = {toml_string(openapi)}" if openapi else '# openapi = "openapi.yaml"',
        "# Where its paths are served (default: the document's servers[0]).",
        '# base_url = "https://api.example.com"',
        "# Values for the path parameters the document gives no example of.",
        '# path_params = { id = "1" }',
        "",
        "# HAR files recorded while using the real frontend (Playwright's record_har_path,",
        "# or a browser's DevTools): each fetch or XHR it made to a target becomes a probe,",
        "# and a finding names the frontend call that breaks. Cookie and token values in",
        "# them are never copied into anything corsproof writes.",
        '# har = ["frontend.har"]',
        "",
        "# More origins to try as an attacker's, beside the catalogue's (like --origin):",
        "# for example the dev frontend, which production must not trust.",
        '# attacker_origins = ["http://localhost:3000"]',
    ]
    return lines


def _environments(table: str, origins: Sequence[str]) -> list[str]:
    dev = list(dict.fromkeys([*(origins or [EXAMPLE_ORIGIN]), DEV_ORIGIN]))
    return [
        "",
        "# Environments: the legitimate frontend origins of each (like --allow-origin),",
        "# which must keep working; every other origin is tried as an attacker's. Choose",
        "# one with --env NAME; without it, default_env (default: prod).",
        '# default_env = "prod"',
        f"[{table}env.prod]",
        f"origins = {_array(origins)}"
        + ("" if origins else f"  # e.g. [{toml_string(EXAMPLE_ORIGIN)}]"),
        "",
        "# Development: localhost is allowed here, and only here.",
        f"# [{table}env.dev]",
        f"# origins = {_array(dev)}",
    ]


def _session(table: str) -> list[str]:
    return [
        "",
        "# The victim's session. Only the NAMES of environment variables go here, never",
        "# their values: a cookie or token in a committed file is a leaked secret.",
        f"[{table}session]",
        '# Each holds one cookie, "name=value; attributes" (like --cookie-env).',
        '# cookie_env = ["APP_SESSION"]',
        '# Each holds one credential header, "Authorization: Bearer ..." (like --header-env).',
        '# header_env = ["APP_TOKEN"]',
        "# A Playwright storage-state file saved after logging in (like --storage-state).",
        '# storage_state = "state.json"',
        "# Pages visited first, in order, so the app sets its own cookies (like --login-url).",
        '# login_url = ["https://app.example.com/login"]',
    ]


def _run(table: str) -> list[str]:
    return [
        "",
        "# Run settings, like the flags of the same names; shown with their defaults.",
        f"[{table}run]",
        '# browsers = ["chromium", "firefox", "webkit"]  # default: every engine found',
        '# formats = ["html", "json"]  # html, json, junit, sarif, md, or all',
        '# fail_on = "high"  # exit 1 at or above: critical, high, medium, low, info',
        "# rate = 50  # requests per second to the target",
        "# unsafe = false  # true allows POST, PUT, PATCH and DELETE against the target",
        '# out = "reports"',
        '# cookie_policy = "both"  # default, permissive or both',
        "# per_class = 2  # a quick run: at most 2 origins per attacker class (default: all)",
        "# timeout = 10  # seconds per probe",
        "# budget = 1800  # seconds for the whole run; then a partial report is written",
    ]


def _expect(table: str, origin: str) -> list[str]:
    return [
        "",
        "# Expectations, per path pattern (any host; * is a wildcard) or url pattern:",
        "#  readable_by: the origins that must be able to read with the victim's session,",
        "#    and the only ones that may; a list, or a table of lists per environment,",
        f"#    {{ prod = [{toml_string(origin)}], dev = [...] }};",
        "#  public = true: Access-Control-Allow-Origin: * without credentials is intended;",
        "#  accept: reviewed risks; their findings stay in the report, marked accepted,",
        "#    and stop failing the run until the until date (YYYY-MM-DD).",
        f"# [[{table}expect]]",
        '# path = "/api/*"  # or url = "https://api.example.com/api/*", not both',
        f"# readable_by = [{toml_string(origin)}]",
        "# public = false",
        f"# [[{table}expect.accept]]  # or accept = [{{ rule = ..., reason = ... }}, ...]",
        '# rule = "subdomain-trusted"',
        '# origin = "https://legacy.example.com"  # default: any origin',
        '# reason = "ticket SEC-12"',
        '# until = "2027-06-30"  # default: no end',
    ]

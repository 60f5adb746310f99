"""``report.html``: one self-contained page for a security reviewer.

The page answers "is this API safe, and in which browsers is it exploitable?" on
its first screen, then backs the answer with the header-check comparison, the
per-target outcome matrices, every finding with its evidence and ``curl``
reproductions, and the full probe log.

Everything shown comes from the target or the browsers and is untrusted: the
template is rendered with autoescaping on, never marks data ``|safe``, links only
to its own ``#finding-N`` anchors, and its CSP meta forbids scripts and every
external load. Python builds a plain view model so the template holds layout only.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import jinja2

from harness import __version__
from harness.reporting import (
    clean,
    comparisons,
    duration_seconds,
    engine_exposure,
    engine_label,
    finding_anchor,
    format_duration,
    run_engines,
    severity_counts,
    sorted_findings,
    verdict,
)

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
"""The page's Content-Security-Policy: no script, no fetch, no external anything.

Written literally as the first element of ``<head>`` in the template (a constant
needs no escaping there); tests check the two agree.
"""

_OUTCOMES: dict[str, tuple[str, str]] = {
    # outcome -> (symbol, label); the symbol and words carry the meaning so the
    # matrix reads the same in greyscale print and for colour-blind readers.
    "readable": ("\u25b2", "readable"),
    "blocked": ("\u25a0", "blocked"),
    "not-producible": ("\u2013", "not producible"),
    "error": ("!", "error"),
}
# When one cell holds several probes (shapes, APIs), the most telling outcome wins:
# any read matters most; an error means the cell is not fully verified.
_CELL_PRIORITY = ("readable", "error", "blocked", "not-producible")
_CREDENTIALS = ("omit", "include")
_POLICIES = ("default", "permissive")
# Request headers a curl reproduction leaves out: curl sets them itself, or they
# only describe the browser's transport.
_CURL_SKIP = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "accept-encoding",
        "proxy-connection",
    }
)

_ENV: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            loader=jinja2.PackageLoader("harness", "templates"),
            autoescape=True,  # always: every string in the model may be hostile
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
    return _ENV


def write(report: Mapping[str, Any], fp: TextIO) -> None:
    """Render ``report`` (a ``RunReport.to_dict()`` dict) as one HTML page into ``fp``."""
    fp.write(render(report))


def render(report: Mapping[str, Any]) -> str:
    """The HTML page for ``report`` as a string."""
    template = _environment().get_template("report.html.j2")
    return template.render(m=build_model(report))


# --------------------------------------------------------------------------- model


def build_model(report: Mapping[str, Any]) -> dict[str, Any]:
    """The plain view model the template renders; every string already ``clean``-ed."""
    v = verdict(report)
    findings = sorted_findings(report)
    pages: Mapping[str, Any] = report.get("pages") or {}
    used_pages: set[str] = set()
    finding_models = [
        _finding_model(report, f, i, pages, used_pages) for i, f in enumerate(findings)
    ]
    return {
        "tool_version": clean(report.get("tool_version") or __version__),
        "run_id": clean(report.get("run_id")),
        "schema_version": clean(report.get("schema_version")),
        "partial": bool(report.get("partial")),
        "verdict": {
            "level": v.level,
            "headline": clean(v.headline),
            "detail": clean(v.detail),
        },
        "counts": [{"severity": sev, "count": n} for sev, n in severity_counts(report).items()],
        "exposure": [
            {
                "engine": engine_label(e.engine),
                "state": "yes" if e.default else ("cookies" if e.permissive_only else "no"),
                "worst": clean(e.worst) if e.worst else "",
                "rules": ", ".join(clean(r) for r in e.rules),
            }
            for e in engine_exposure(report)
        ],
        "browsers": [
            {
                "engine": engine_label(b.get("engine")),
                "version": clean(b.get("version")),
                "source": clean(b.get("source")),
                "executable": clean(b.get("executable")),
            }
            for b in report.get("browsers") or []
        ],
        "targets": [clean(t) for t in report.get("targets") or []],
        "started": clean(report.get("started")) or "\u2014",
        "finished": clean(report.get("finished")) or "not finished",
        "duration": format_duration(duration_seconds(report)),
        "errors": [
            {"kind": clean(e.get("kind")), "message": clean(e.get("message"))}
            for e in report.get("errors") or []
        ],
        "notes": [clean(n) for n in report.get("notes") or []],
        "config": [
            {"key": clean(k), "value": _config_value(val)}
            for k, val in (report.get("config") or {}).items()
        ],
        "comparisons": [
            {
                "target": clean(c.target),
                "origin": clean(c.origin),
                "source": c.source,
                "header_says": clean(c.header_says),
                "browsers_say": clean(c.browsers_say),
                "disagree": c.disagree,
                "assessed": c.assessed,
                "severity": clean(c.severity) if c.severity else "",
                "rule": clean(c.rule) if c.rule else "",
                "kind": clean(c.kind) if c.kind else "",
                "anchor": c.anchor or "",
            }
            for c in comparisons(report)
        ],
        "matrices": [_matrix(report, target, i) for i, target in enumerate(_all_targets(report))],
        "findings": finding_models,
        "other_pages": [
            {"name": clean(name), "html": clean(html)}
            for name, html in pages.items()
            if str(name) not in used_pages
        ],
        "probes": [_probe_row(p) for p in report.get("probes") or []],
        "baseline": [
            {
                "target": clean(c.get("target")),
                "origin": clean(c.get("origin")),
                "engine": engine_label(c.get("engine")),
                "before": clean(c.get("before")),
                "after": clean(c.get("after")),
            }
            for c in (report.get("baseline") or {}).get("changes") or []
        ],
    }


def _config_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(clean(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{clean(k)}={clean(v)}" for k, v in value.items())
    return clean(value)


def _all_targets(report: Mapping[str, Any]) -> list[str]:
    """Declared targets first, then any that only appear in probes or findings."""
    seen = [str(t) for t in report.get("targets") or []]
    for rec in list(report.get("probes") or []) + list(report.get("findings") or []):
        t = str(rec.get("target", ""))
        if t and t not in seen:
            seen.append(t)
    return seen


def _present(values: Iterable[str], order: Sequence[str]) -> list[str]:
    got = set(values)
    return [v for v in order if v in got] + sorted(got - set(order))


def _matrix(report: Mapping[str, Any], target: str, index: int) -> dict[str, Any]:
    """Origins (rows, legitimate first, grouped by class) x engine x [policy x] credentials."""
    probes = [p for p in report.get("probes") or [] if str(p.get("target")) == target]
    engines = [e for e in run_engines(report) if any(str(p.get("engine")) == e for p in probes)]
    creds = _present((str(p.get("credentials")) for p in probes), _CREDENTIALS)
    policies = _present((str(p.get("cookie_policy")) for p in probes), _POLICIES)
    show_policy = len(policies) > 1
    columns = [
        (e, pol, c) for e in engines for pol in (policies if show_policy else [None]) for c in creds
    ]

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for p in probes:
        key = (str(p.get("origin")), str(p.get("via", "page")))
        row = rows.setdefault(
            key,
            {
                "origin": clean(key[0]),
                "via": "" if key[1] == "page" else clean(key[1]),
                "klass": str(p.get("origin_class") or ""),
                "role": str(p.get("role") or ""),
                "probes": [],
            },
        )
        row["probes"].append(p)

    def cell(row: Mapping[str, Any], col: tuple[str, str | None, str]) -> dict[str, Any]:
        engine, policy, cred = col
        hits = [
            p
            for p in row["probes"]
            if str(p.get("engine")) == engine
            and str(p.get("credentials")) == cred
            and (policy is None or str(p.get("cookie_policy")) == policy)
        ]
        if not hits:
            return {
                "status": "none",
                "symbol": "",
                "label": "not run",
                "count": "",
                "title": "",
                "attacker_read": False,
            }
        outcomes = [str(p.get("outcome")) for p in hits]
        status = next((o for o in _CELL_PRIORITY if o in outcomes), outcomes[0])
        symbol, label = _OUTCOMES.get(status, ("?", clean(status)))
        n = outcomes.count(status)
        title = "; ".join(
            f"{clean(p.get('shape'))} {clean(p.get('method'))} via {clean(p.get('api'))}: "
            f"{clean(p.get('outcome'))}"
            + (
                f" ({clean(p.get('block_reason') or p.get('error'))})"
                if p.get("block_reason") or p.get("error")
                else ""
            )
            for p in hits
        )
        return {
            "status": status,
            "symbol": symbol,
            "label": label,
            "count": f"{n}/{len(hits)}" if len(hits) > 1 else "",
            "title": title,
            "attacker_read": status == "readable" and row["role"] == "attacker",
        }

    # Legitimate origins first (what must work), then attacker classes in the
    # order the catalogue produced them (sorted() is stable).
    ordered = sorted(rows.values(), key=lambda r: r["role"] != "legitimate")
    groups: dict[str, dict[str, Any]] = {}
    for row in ordered:
        label = "legitimate" if row["role"] == "legitimate" else (row["klass"] or "attacker")
        group = groups.setdefault(label, {"label": clean(label), "role": row["role"], "rows": []})
        group["rows"].append(
            {
                "origin": row["origin"],
                "via": row["via"],
                "role": row["role"],
                "cells": [cell(row, col) for col in columns],
            }
        )
    return {
        "id": f"matrix-{index + 1}",
        "target": clean(target),
        "engines": [
            {"label": engine_label(e), "span": len(columns) // max(len(engines), 1)}
            for e in engines
        ],
        "policies": [clean(pol) for e in engines for pol in policies] if show_policy else [],
        "policy_span": len(creds),
        "creds": [
            clean(c) for _ in engines for _ in (policies if show_policy else [None]) for c in creds
        ],
        "groups": list(groups.values()),
        "attacker_reads": sum(
            1 for g in groups.values() for r in g["rows"] for c in r["cells"] if c["attacker_read"]
        ),
    }


def _finding_model(
    report: Mapping[str, Any],
    f: Mapping[str, Any],
    index: int,
    pages: Mapping[str, Any],
    used_pages: set[str],
) -> dict[str, Any]:
    rules: Mapping[str, Any] = report.get("rules") or {}
    rule_id = str(f.get("rule", ""))
    rule: Mapping[str, Any] = rules.get(rule_id) or {}
    hc = f.get("header_check")
    if isinstance(hc, Mapping):
        header_line = (
            ("vulnerable" if hc.get("vulnerable") else "not vulnerable")
            + (f" ({clean(hc.get('severity'))})" if hc.get("severity") else "")
            + (f": {clean(hc.get('reason'))}" if hc.get("reason") else "")
        )
    else:
        header_line = "not assessed"
    evidence_by_key = {str(e.get("key")): e for e in report.get("evidence") or []}
    probe_ids = {str(p) for p in f.get("probes") or []}
    probes = [p for p in report.get("probes") or [] if str(p.get("id")) in probe_ids]
    # Pages are keyed by whatever name the runner chose; show those that name one of
    # this finding's probes, origins or classes here, the rest at the end.
    wanted = (
        probe_ids
        | {str(o) for o in f.get("origins") or []}
        | {str(c) for c in f.get("classes") or []}
    )
    own_pages = []
    for name, html in pages.items():
        if str(name) in wanted:
            used_pages.add(str(name))
            own_pages.append({"name": clean(name), "html": clean(html)})
    return {
        "anchor": finding_anchor(index),
        "rule": clean(rule_id),
        "severity": clean(f.get("severity")),
        "title": clean(f.get("title")),
        "category": clean(f.get("category", "vulnerability")),
        "target": clean(f.get("target")),
        "origins": [clean(o) for o in f.get("origins") or []],
        "engines": [engine_label(e) for e in f.get("engines") or []],
        "classes": [clean(c) for c in f.get("classes") or []],
        "cookie_policies": [clean(c) for c in f.get("cookie_policies") or []],
        "detail": clean(f.get("detail")),
        "header_line": header_line,
        "summary": clean(rule.get("summary")),
        "remediation": clean(rule.get("remediation")),
        "snippets": [
            {"stack": clean(stack), "code": clean(code)}
            for stack, code in (rule.get("snippets") or {}).items()
        ],
        "page_origins": [
            {
                "probe": clean(p.get("id")),
                "engine": engine_label(p.get("engine")),
                "origin": clean(p.get("origin")),
                "page_origin": clean(p.get("page_origin")) if p.get("page_origin") else "unknown",
                "mismatch": p.get("page_origin") is not None
                and str(p.get("page_origin")) != str(p.get("origin")),
                "outcome": clean(p.get("outcome")),
                "credentials": clean(p.get("credentials")),
            }
            for p in probes
        ],
        "evidence": [
            _evidence_model(evidence_by_key[str(k)])
            for k in f.get("evidence") or []
            if str(k) in evidence_by_key
        ],
        "missing_evidence": [
            clean(k) for k in f.get("evidence") or [] if str(k) not in evidence_by_key
        ],
        "pages": own_pages,
    }


def _evidence_model(e: Mapping[str, Any]) -> dict[str, Any]:
    pre, act = e.get("preflight"), e.get("actual")
    curl = [c for c in (curl_preflight(pre), curl_actual(act)) if c]
    redacted = any("[REDACTED]" in c for c in curl)
    return {
        "key": clean(e.get("key")),
        "origin": clean(e.get("origin")),
        "shape": clean(e.get("shape")),
        "credentials": clean(e.get("credentials")),
        "exchanges": [
            _exchange_model(label, x)
            for label, x in (("Preflight", pre), ("Actual request", act))
            if isinstance(x, Mapping)
        ],
        "curl": [clean(c) for c in curl],
        "redacted": redacted,
    }


def _exchange_model(label: str, x: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "label": label,
        "method": clean(x.get("method")),
        "url": clean(x.get("url")),
        "status": clean(x.get("status")) if x.get("status") is not None else "no response",
        "error": clean(x.get("error")) if x.get("error") else "",
        "request_headers": [(clean(k), clean(v)) for k, v in _pairs(x.get("request_headers"))],
        "response_headers": [(clean(k), clean(v)) for k, v in _pairs(x.get("response_headers"))],
    }


def _pairs(value: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in value or []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            out.append((str(item[0]), str(item[1])))
    return out


def _curl(method: str, url: str, headers: Sequence[tuple[str, str]]) -> str:
    parts = ["curl", "-i"]
    if method.upper() not in ("GET", ""):
        parts += ["-X", method.upper()]
    parts.append(shlex.quote(url))
    for name, value in headers:
        if name.lower() in _CURL_SKIP:
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    return " ".join(parts)


def curl_preflight(exchange: Any) -> str | None:
    """A ``curl`` command replaying a preflight (``OPTIONS``) exchange, or None.

    Built from the recorded request headers (``Origin``,
    ``Access-Control-Request-Method``, ``Access-Control-Request-Headers`` ...), every
    value shell-quoted; redacted secrets stay ``[REDACTED]``.
    """
    if not isinstance(exchange, Mapping) or not exchange.get("url"):
        return None
    headers = _pairs(exchange.get("request_headers"))
    return _curl("OPTIONS", str(exchange["url"]), headers)


def curl_actual(exchange: Any) -> str | None:
    """A ``curl`` command replaying the actual request of an exchange, or None."""
    if not isinstance(exchange, Mapping) or not exchange.get("url"):
        return None
    headers = _pairs(exchange.get("request_headers"))
    return _curl(str(exchange.get("method") or "GET"), str(exchange["url"]), headers)


def _probe_row(p: Mapping[str, Any]) -> dict[str, Any]:
    def opt(key: str) -> str:
        val = p.get(key)
        return "" if val is None else clean(val)

    elapsed = p.get("elapsed_ms")
    return {
        "id": opt("id"),
        "engine": engine_label(p.get("engine")),
        "cookie_policy": opt("cookie_policy"),
        "target": opt("target"),
        "origin": opt("origin"),
        "via": "" if p.get("via") in (None, "page") else opt("via"),
        "origin_class": opt("origin_class"),
        "role": opt("role"),
        "page_origin": opt("page_origin"),
        "shape": opt("shape"),
        "method": opt("method"),
        "api": opt("api"),
        "credentials": opt("credentials"),
        "outcome": opt("outcome"),
        "symbol": _OUTCOMES.get(str(p.get("outcome")), ("?", ""))[0],
        "attacker_read": p.get("outcome") == "readable" and p.get("role") == "attacker",
        "status": opt("status"),
        "body_length": opt("body_length"),
        "readable_headers": ", ".join(clean(h) for h in p.get("readable_headers") or []),
        "cookie_sent": ""
        if p.get("cookie_sent") is None
        else ("yes" if p["cookie_sent"] else "no"),
        "preflighted": "yes" if p.get("preflighted") else "no",
        "elapsed": f"{float(elapsed):.0f}" if isinstance(elapsed, (int, float)) else "",
        "reason": clean(p.get("block_reason") or p.get("error") or ""),
    }


__all__ = ["CSP", "build_model", "curl_actual", "curl_preflight", "render", "write"]

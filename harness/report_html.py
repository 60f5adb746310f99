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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import jinja2

from harness import __version__
from harness.reporting import (
    DEFAULT_POLICY,
    Comparison,
    TargetExposure,
    clean,
    comparisons,
    duration_seconds,
    engine_exposure,
    engine_label,
    finding_anchor,
    format_duration,
    is_vulnerability,
    run_engines,
    severity_counts,
    sorted_findings,
    target_exposure,
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
        _ENV.filters["num"] = _num
    return _ENV


def _num(value: Any) -> str:
    """``25415`` -> ``25,415``; anything that is not an int as plain text."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else clean(value)


def write(report: Mapping[str, Any], fp: TextIO) -> None:
    """Render ``report`` (a ``RunReport.to_dict()`` dict) as one HTML page into ``fp``."""
    fp.write(render(report))


def render(report: Mapping[str, Any]) -> str:
    """The HTML page for ``report`` as a string."""
    template = _environment().get_template("report.html.j2")
    return template.render(m=build_model(report))


# --------------------------------------------------------------------------- caps

MAX_LOG_PROBES = 2000
"""Most probe rows the HTML log shows; report.json always has every probe."""
MAX_EVIDENCE = 3
"""Exchange records shown per finding; the rest are counted."""
MAX_FINDING_PROBES = 10
"""Probe rows ("origins the probes really had") shown per finding."""
MAX_COMPARISON_ROWS = 8
"""Comparison rows shown per target, after merging origins with identical rows."""
MAX_TITLE_LINES = 4
"""Distinct probe descriptions in a matrix cell's hover text."""
MAX_REASON = 100
"""Characters of a block reason or error kept in a matrix cell's hover text."""

# Why a probe is worth a row in the HTML log, most important first.
_LOG_WHY = (
    "legitimate origin not readable",
    "tool or probe error",
    "readable by an attacker origin",
    "referenced by a finding",
    "not producible in that engine",
)


# --------------------------------------------------------------------------- model


def build_model(report: Mapping[str, Any]) -> dict[str, Any]:
    """The plain view model the template renders; every string already ``clean``-ed."""
    v = verdict(report)
    findings = sorted_findings(report)
    pages: Mapping[str, Any] = report.get("pages") or {}
    used_pages: set[str] = set()
    all_probes: list[Mapping[str, Any]] = list(report.get("probes") or [])
    by_id = {str(p.get("id")): p for p in all_probes}
    by_target: dict[str, list[Mapping[str, Any]]] = {}
    for p in all_probes:
        by_target.setdefault(str(p.get("target")), []).append(p)
    evidence_by_key = {str(e.get("key")): e for e in report.get("evidence") or []}
    finding_models = [
        _finding_model(report, f, i, pages, used_pages, by_id, evidence_by_key)
        for i, f in enumerate(findings)
    ]
    targets = target_exposure(report)
    engines = run_engines(report)
    finding_anchors: dict[str, list[dict[str, str]]] = {}
    for fm in finding_models:
        finding_anchors.setdefault(fm["target_raw"], []).append(
            {"anchor": fm["anchor"], "rule": fm["rule"], "severity": fm["severity"]}
        )
    log, log_note = _probe_log(report, all_probes)
    host = _common_host([t.target for t in targets])
    return {
        "tool_version": clean(report.get("tool_version") or __version__),
        "run_id": clean(report.get("run_id")),
        "schema_version": clean(report.get("schema_version")),
        "partial": bool(report.get("partial")),
        "verdict": {
            "level": v.level,
            "headline": clean(v.headline),
            "detail": clean(v.detail),
            "caveats": [
                {"kind": clean(c.kind), "count": c.count, "text": clean(c.text), "error": c.error}
                for c in v.caveats
            ],
        },
        "counts": [{"severity": sev, "count": n} for sev, n in severity_counts(report).items()],
        "exposure": [
            {
                "engine": engine_label(e.engine),
                "state": e.state,
                "worst": clean(e.worst) if e.worst else "",
                "rules": ", ".join(clean(r) for r in e.rules),
                "targets": _engine_targets(targets, e.engine),
            }
            for e in engine_exposure(report)
        ],
        "overview_engines": [engine_label(e) for e in engines],
        "overview_host": host,
        "overview": [
            _overview_row(
                t, by_target.get(t.target, []), finding_anchors.get(t.target, []), len(host)
            )
            for t in targets
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
        "comparison_groups": _comparison_groups(report, [t.target for t in targets]),
        "matrices": [
            _matrix(report, target, i, by_target.get(target, []), engines)
            for i, target in enumerate(_all_targets(report))
        ],
        "findings": finding_models,
        "other_pages": [
            {"name": clean(name), "html": clean(html)}
            for name, html in pages.items()
            if str(name) not in used_pages
        ],
        "probe_total": len(all_probes),
        "probes": [_probe_row(p) for p in log],
        "probe_groups": _probe_groups(log, _all_targets(report)),
        "probe_note": log_note,
        "baseline": _baseline_model(report.get("baseline")),
    }


MAX_BASELINE_ROWS = 200
"""Probe outcome changes listed under "Changes since the baseline run"; JSON has all."""


def _baseline_model(drift: Any) -> dict[str, Any] | None:
    """What changed since ``--baseline``: new and resolved findings, engine versions, probes."""
    if not isinstance(drift, Mapping):
        return None

    def finding(f: Mapping[str, Any]) -> dict[str, str]:
        return {
            "severity": clean(f.get("severity")),
            "rule": clean(f.get("rule")),
            "title": clean(f.get("title")),
            "target": clean(f.get("target")),
        }

    versions = drift.get("browsers") or {}
    before, after = versions.get("baseline") or {}, versions.get("current") or {}
    changes = list(drift.get("changes") or [])
    return {
        "run": clean(drift.get("baseline_run")),
        "new": [finding(f) for f in drift.get("new_findings") or []],
        "resolved": [finding(f) for f in drift.get("resolved_findings") or []],
        "browsers": [
            {
                "engine": engine_label(e),
                "before": clean(before.get(e)) or "\u2014",
                "after": clean(after.get(e)) or "\u2014",
            }
            for e in sorted({*before, *after})
            if before.get(e) != after.get(e)
        ],
        "changes_total": len(changes),
        "changes": [
            {
                "target": clean(c.get("target")),
                "origin": clean(c.get("origin")),
                "engine": engine_label(c.get("engine")),
                "before": clean(c.get("before")),
                "after": clean(c.get("after")),
            }
            for c in changes[:MAX_BASELINE_ROWS]
        ],
    }


def _engine_targets(targets: Sequence[TargetExposure], engine: str) -> str:
    """``in 14 of 23 targets`` (+ how many only with third-party cookies) for one engine."""
    yes = sum(
        1 for t in targets if (engine, "yes") in t.engines or (engine, "same-site") in t.engines
    )
    cookies = sum(1 for t in targets if (engine, "cookies") in t.engines)
    if not yes and not cookies:
        return ""
    text = f"{yes} of {len(targets)} target(s)"
    if cookies:
        text += f"; {cookies} more with third-party cookies"
    return text


def _overview_row(
    t: TargetExposure,
    probes: Sequence[Mapping[str, Any]],
    anchors: Sequence[Mapping[str, str]],
    strip: int = 0,
) -> dict[str, Any]:
    """One row of "Targets at a glance": finding-derived state plus probe counts.

    ``strip`` characters (a scheme and host every target shares, named in the
    column header) are left out of the target shown.
    """
    read_by: set[str] = set()
    read_with_cookie: set[str] = set()
    cookie_reads: dict[str, set[str]] = {}  # engine -> cookie policies with a cookie-bearing read
    legit_blocked: set[str] = set()
    errors = 0
    for p in probes:
        outcome, role = p.get("outcome"), p.get("role")
        if outcome == "readable" and role == "attacker":
            read_by.add(str(p.get("origin")))
            if p.get("cookie_sent") and p.get("victim_data") is True:
                read_with_cookie.add(str(p.get("origin")))
                cookie_reads.setdefault(str(p.get("engine")), set()).add(
                    str(p.get("cookie_policy") or DEFAULT_POLICY)
                )
        elif role == "legitimate" and outcome != "readable":
            legit_blocked.add(str(p.get("origin")))
        if outcome == "error":
            errors += 1
    return {
        "target": clean(t.target),
        "short": clean(t.target[strip:]) or clean(t.target),
        "worst": clean(t.worst) if t.worst else "",
        "engines": [
            {
                "engine": engine_label(e),
                "state": s,
                # Probe truth the findings do not claim: say so rather than hide it.
                "probe_note": _probe_note(s, cookie_reads.get(e, set())),
            }
            for e, s in t.engines
        ],
        "findings": list(anchors),
        "attacker_origins": len(read_by),
        "with_cookie": len(read_with_cookie),
        "legit_blocked": len(legit_blocked),
        "errors": errors,
        "probes": len(probes),
    }


def _common_host(targets: Sequence[str]) -> str:
    """``scheme://host[:port]`` when every target (at least two) shares it and has a path."""
    hosts = set()
    for t in targets:
        scheme, sep, rest = t.partition("://")
        host, slash, _ = rest.partition("/")
        if not sep or not slash or not host:
            return ""
        hosts.add(f"{scheme}://{host}")
    return hosts.pop() if len(hosts) == 1 and len(targets) > 1 else ""


def _probe_note(state: str, policies: set[str]) -> str:
    """A note when an engine's probes read with the cookie though no finding says so."""
    if state in ("yes", "same-site") or not policies:
        return ""
    if DEFAULT_POLICY in policies:
        return "but probes read with the cookie"
    if state == "no":
        return "but probes read with the cookie when third-party cookies were allowed"
    return ""


def _config_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(clean(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{clean(k)}={clean(v)}" for k, v in value.items())
    return clean(value)


def _all_targets(report: Mapping[str, Any]) -> list[str]:
    """Declared targets first, then any that only appear in probes or findings."""
    seen = [str(t) for t in report.get("targets") or []]
    known = set(seen)
    for rec in list(report.get("probes") or []) + list(report.get("findings") or []):
        t = str(rec.get("target", ""))
        if t and t not in known:
            seen.append(t)
            known.add(t)
    return seen


def _present(values: Iterable[str], order: Sequence[str]) -> list[str]:
    got = set(values)
    return [v for v in order if v in got] + sorted(got - set(order))


def _describe(p: Mapping[str, Any]) -> str:
    reason = str(p.get("block_reason") or p.get("error") or "")
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "\u2026"
    text = f"{p.get('shape')} {p.get('method')} via {p.get('api')}: {p.get('outcome')}"
    if p.get("outcome") == "readable" and p.get("status") is not None:
        text += f" (HTTP {p.get('status')})"
    return text + (f" ({reason})" if reason else "")


def _cell_title(hits: Sequence[Mapping[str, Any]], origins: int) -> str:
    """Hover text: each distinct probe description once, with how often it occurred."""
    seen = Counter(_describe(p) for p in hits)
    lines = [f"{n}\u00d7 {text}" if n > 1 else text for text, n in seen.most_common()]
    more = len(lines) - MAX_TITLE_LINES
    lines = lines[:MAX_TITLE_LINES] + ([f"\u2026 {more} more kind(s)"] if more > 0 else [])
    head = f"{len(hits)} probe(s) from {origins} origin(s)\n" if origins > 1 else ""
    return clean(head + "\n".join(lines))


def _matrix(
    report: Mapping[str, Any],
    target: str,
    index: int,
    probes: Sequence[Mapping[str, Any]],
    run_engine_list: Sequence[str],
) -> dict[str, Any]:
    """Origins (rows, legitimate first, grouped by class) x engine x [policy x] credentials.

    Within a class, origins whose cells are identical share one row that lists them
    all, so a target probed from 85 origins still fits a screen or two.
    """
    engines = [e for e in run_engine_list if any(str(p.get("engine")) == e for p in probes)]
    creds = _present((str(p.get("credentials")) for p in probes), _CREDENTIALS)
    policies = _present((str(p.get("cookie_policy")) for p in probes), _POLICIES)
    show_policy = len(policies) > 1
    columns = [
        (e, pol, c) for e in engines for pol in (policies if show_policy else [None]) for c in creds
    ]
    col_index = {col: i for i, col in enumerate(columns)}

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for p in probes:
        key = (str(p.get("origin")), str(p.get("via", "page")))
        row = rows.setdefault(
            key,
            {
                "origin": key[0],
                "via": "" if key[1] == "page" else key[1],
                "klass": str(p.get("origin_class") or ""),
                "role": str(p.get("role") or ""),
                "cols": [[] for _ in columns],
            },
        )
        col = (
            str(p.get("engine")),
            str(p.get("cookie_policy")) if show_policy else None,
            str(p.get("credentials")),
        )
        if col in col_index:
            row["cols"][col_index[col]].append(p)

    def signature(role: str, hits: Sequence[Mapping[str, Any]]) -> tuple[str, str, bool, str]:
        if not hits:
            return ("none", "", False, "")
        outcomes = [str(p.get("outcome")) for p in hits]
        status = next((o for o in _CELL_PRIORITY if o in outcomes), outcomes[0])
        n = outcomes.count(status)
        count = f"{n}/{len(hits)}" if len(hits) > 1 else ""
        http = ""
        if status == "readable":
            codes = sorted({str(p.get("status")) for p in hits if p.get("outcome") == "readable"})
            http = ",".join(c for c in codes if c != "None")
        return (status, count, status == "readable" and role == "attacker", http)

    # Legitimate origins first (what must work), then attacker classes in the
    # order the catalogue produced them (sorted() is stable).
    ordered = sorted(rows.values(), key=lambda r: r["role"] != "legitimate")
    groups: dict[str, dict[str, Any]] = {}
    merged: dict[tuple[str, Any], dict[str, Any]] = {}
    for row in ordered:
        label = "legitimate" if row["role"] == "legitimate" else (row["klass"] or "attacker")
        group = groups.setdefault(
            label, {"label": clean(label), "role": row["role"], "rows": [], "origins": 0}
        )
        group["origins"] += 1
        sig = tuple(signature(row["role"], hits) for hits in row["cols"])
        mkey = (label, (row["role"], sig))
        member = clean(row["origin"]) + (f" via {clean(row['via'])}" if row["via"] else "")
        if mkey in merged:
            m = merged[mkey]
            m["members"].append(member)
            for i, hits in enumerate(row["cols"]):
                m["hits"][i].extend(hits)
            continue
        m = {
            "role": row["role"],
            "sig": sig,
            "members": [member],
            "hits": [list(h) for h in row["cols"]],
        }
        merged[mkey] = m
        group["rows"].append(m)

    attacker_reads = legit_blocked = errors = 0
    for group in groups.values():
        finished = []
        for m in group["rows"]:
            cells = []
            for (status, count, attacker_read, http), hits in zip(m["sig"], m["hits"], strict=True):
                symbol, label = _OUTCOMES.get(status, ("?", clean(status)))
                if status == "none":
                    symbol, label = "", "not run"
                cells.append(
                    {
                        "status": status,
                        "symbol": symbol,
                        "label": label,
                        "count": count,
                        "http": clean(http),
                        "title": _cell_title(hits, len(m["members"])) if hits else "",
                        "attacker_read": attacker_read,
                    }
                )
                n = len(m["members"])
                if attacker_read:
                    attacker_reads += n
                if status == "error":
                    errors += n
                if m["role"] == "legitimate" and status not in ("readable", "none"):
                    legit_blocked += n
            finished.append(
                {
                    "origins": m["members"],
                    "via": "",
                    "role": m["role"],
                    "cells": cells,
                    "notable": any(c["attacker_read"] or c["status"] == "error" for c in cells)
                    or (
                        m["role"] == "legitimate"
                        and any(c["status"] not in ("readable", "none") for c in cells)
                    ),
                }
            )
        group["rows"] = finished
    vulns = [
        f
        for f in report.get("findings") or []
        if str(f.get("target", "")) == target and is_vulnerability(f)
    ]
    return {
        "id": f"matrix-{index + 1}",
        "target": clean(target),
        "open": bool(vulns or legit_blocked or errors),
        "origins": len(rows),
        "probes": len(probes),
        "rows": sum(len(g["rows"]) for g in groups.values()),
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
        "attacker_reads": attacker_reads,
        "legit_blocked": legit_blocked,
        "errors": errors,
    }


def _comparison_groups(report: Mapping[str, Any], order: Sequence[str]) -> list[dict[str, Any]]:
    """The header-vs-browser comparison, per target, identical rows merged, capped.

    Rows that say the same thing about several origins of one target become one row
    listing the origins; disagreements come first; each target shows at most
    :data:`MAX_COMPARISON_ROWS` rows and counts the rest.
    """
    by_target: dict[str, list[Comparison]] = {}
    for c in comparisons(report):
        by_target.setdefault(c.target, []).append(c)
    targets = [t for t in order if t in by_target] + [t for t in by_target if t not in order]
    groups = []
    for target in targets:
        rows = by_target[target]
        merged: dict[tuple[Any, ...], dict[str, Any]] = {}
        for c in rows:
            key = (
                c.source,
                c.header_says,
                c.browsers_say,
                c.probes_say,
                c.disagree,
                c.assessed,
                c.severity,
                c.rule,
                c.kind,
                c.anchor,
            )
            m = merged.get(key)
            if m is None:
                m = merged[key] = {
                    "origins": [],
                    "source": c.source,
                    "header_says": clean(c.header_says),
                    "browsers_say": clean(c.browsers_say),
                    "probes_say": clean(c.probes_say) if c.probes_say else "",
                    "disagree": c.disagree,
                    "assessed": c.assessed,
                    "severity": clean(c.severity) if c.severity else "",
                    "rule": clean(c.rule) if c.rule else "",
                    "kind": clean(c.kind) if c.kind else "",
                    "anchor": c.anchor or "",
                }
            m["origins"].extend(clean(o) for o in (c.origins or (c.origin,)))
        shown = sorted(merged.values(), key=lambda m: (not m["disagree"], m["source"] != "finding"))
        kinds = Counter(c.kind or c.source for c in rows if c.disagree)
        groups.append(
            {
                "target": clean(target),
                "total": len(rows),
                "disagree": sum(1 for c in rows if c.disagree),
                "agree": sum(1 for c in rows if c.assessed and not c.disagree),
                "kinds": ", ".join(f"{n} {clean(k)}" for k, n in kinds.most_common()),
                "rows": shown[:MAX_COMPARISON_ROWS],
                "more_rows": max(0, len(shown) - MAX_COMPARISON_ROWS),
                "more_origins": sum(len(m["origins"]) for m in shown[MAX_COMPARISON_ROWS:]),
            }
        )
    return groups


def _probe_log(
    report: Mapping[str, Any], probes: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], dict[str, Any]]:
    """The probes worth a row in the HTML log, most important first, capped.

    Everything else (attacker probes that were blocked, legitimate probes that
    worked) is routine; report.json keeps every probe.
    """
    in_findings = {str(i) for f in report.get("findings") or [] for i in f.get("probes") or []}
    ranked: list[tuple[int, int, Mapping[str, Any]]] = []
    for n, p in enumerate(probes):
        outcome, role = p.get("outcome"), p.get("role")
        if role == "legitimate" and outcome not in ("readable",):
            why = 0
        elif outcome == "error":
            why = 1
        elif outcome == "readable" and role == "attacker":
            why = 2
        elif str(p.get("id")) in in_findings:
            why = 3
        elif outcome == "not-producible":
            why = 4
        else:
            continue
        ranked.append((why, n, p))
    ranked.sort(key=lambda r: (r[0], r[1]))
    shown, left = ranked[:MAX_LOG_PROBES], ranked[MAX_LOG_PROBES:]
    notable = Counter(_LOG_WHY[w] for w, _, _ in ranked)
    left_counts = Counter(_LOG_WHY[w] for w, _, _ in left)
    note = {
        "shown": len(shown),
        "notable": len(ranked),
        "notable_kinds": [{"why": k, "count": notable[k]} for k in _LOG_WHY if notable[k]],
        "left_notable": len(left),
        "left_kinds": [{"why": k, "count": left_counts[k]} for k in _LOG_WHY if left_counts[k]],
        "routine": len(probes) - len(ranked),
        "more": len(probes) - len(shown),
        "capped": bool(left),
    }
    return [p for _, _, p in shown], note


def _finding_model(
    report: Mapping[str, Any],
    f: Mapping[str, Any],
    index: int,
    pages: Mapping[str, Any],
    used_pages: set[str],
    by_id: Mapping[str, Mapping[str, Any]],
    evidence_by_key: Mapping[str, Mapping[str, Any]],
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
    probe_ids = {str(p) for p in f.get("probes") or []}
    probes = [by_id[i] for i in dict.fromkeys(str(p) for p in f.get("probes") or []) if i in by_id]
    # Probes whose page did not have the intended origin first: they are the ones
    # a reviewer must check; then the report's order.
    probes.sort(
        key=lambda p: (
            not (
                p.get("page_origin") is not None
                and str(p.get("page_origin")) != str(p.get("origin"))
            )
        )
    )
    evidence_keys = [str(k) for k in f.get("evidence") or []]
    present = [k for k in evidence_keys if k in evidence_by_key]
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
        "target_raw": str(f.get("target", "")),
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
            for p in probes[:MAX_FINDING_PROBES]
        ],
        "probe_total": len(probes),
        "probes_more": max(0, len(probes) - MAX_FINDING_PROBES),
        "evidence": [_evidence_model(evidence_by_key[k]) for k in present[:MAX_EVIDENCE]],
        "evidence_total": len(present),
        "evidence_more": max(0, len(present) - MAX_EVIDENCE),
        "missing_evidence": [clean(k) for k in evidence_keys if k not in evidence_by_key],
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
        "source": _source_line(x),
        "method": clean(x.get("method")),
        "url": clean(x.get("url")),
        "status": clean(x.get("status")) if x.get("status") is not None else "no response",
        "error": clean(x.get("error")) if x.get("error") else "",
        "request_headers": [(clean(k), clean(v)) for k, v in _pairs(x.get("request_headers"))],
        "response_headers": [(clean(k), clean(v)) for k, v in _pairs(x.get("response_headers"))],
    }


def _source_line(x: Mapping[str, Any]) -> str:
    """Where an exchange was seen, and what of it was kept, in one line."""
    if x.get("source") != "wire":
        return (
            "Sent from Python (the replay): no browser made this request, e.g. no engine "
            "could produce the origin."
        )
    cookies = [clean(c) for c in x.get("cookies") or []]
    parts = [
        f"The browser's own request, recorded at the wire ({clean(x.get('protocol') or 'HTTP')} "
        "to the target)",
        "cookies sent: " + (", ".join(cookies) if cookies else "none") + " (names only)",
        "Authorization header: " + ("sent (value not kept)" if x.get("authorization") else "none"),
    ]
    if x.get("body_length") is not None:
        parts.append(
            f"response body: {clean(x.get('body_length'))} bytes, {clean(x.get('body_hash'))}"
        )
    return "; ".join(parts) + "."


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


def _probe_groups(log: Sequence[Mapping[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    """The log rows per target (in target order), each target's rows most important first."""
    by_target: dict[str, list[Mapping[str, Any]]] = {}
    for p in log:
        by_target.setdefault(str(p.get("target", "")), []).append(p)
    targets = [t for t in order if t in by_target] + [t for t in by_target if t not in order]
    return [{"target": clean(t), "rows": [_probe_row(p) for p in by_target[t]]} for t in targets]


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
        "cookie_sent": _yes_no(p.get("cookie_sent"), p.get("cookie_note")),
        "victim": _yes_no(p.get("victim_data"), p.get("victim_note"), only_unknown=True),
        "preflighted": "yes" if p.get("preflighted") else "no",
        "elapsed": f"{float(elapsed):.0f}" if isinstance(elapsed, (int, float)) else "",
        "reason": clean(p.get("block_reason") or p.get("error") or ""),
    }


def _yes_no(value: Any, note: Any, *, only_unknown: bool = False) -> str:
    """A witnessed fact as yes/no/unknown, with its reason for a no (or only an unknown)."""
    word = "unknown" if value is None else ("yes" if value else "no")
    explain = value is None or (value is False and not only_unknown)
    return f"{word} ({clean(note)})" if note and explain else word


__all__ = ["CSP", "build_model", "curl_actual", "curl_preflight", "render", "write"]

"""``report.html``: one self-contained page for a security reviewer.

The page answers "is this API safe, and in which browsers is it exploitable?" on its
first screen, says per target which policy the server really implements, then backs
the answer with every finding (labelled lines, the engines' own words, a proof of
concept and curl lines), the header-check comparison and the per-target outcome
matrices. The probe log is ``probes.html`` beside it (:mod:`harness.report.html_probes`).
The matrix, the comparison and the findings read one story per origin
(:func:`harness.report.common.origin_stories`), so they cannot disagree.

Everything shown comes from the target or the browsers and is untrusted: the
template is rendered with autoescaping on, never marks data ``|safe``, links only to
its own anchors and to ``probes.html``, and its CSP meta forbids scripts and every
external load. Python builds a plain view model so the template holds layout only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import jinja2

from harness import __version__
from harness.judge.story import OriginStory, Read, Standing, policy_line
from harness.model.results import Role
from harness.report.common import (
    Comparison,
    TargetExposure,
    clean,
    comparisons,
    declared_policy,
    duration_seconds,
    engine_exposure,
    engine_label,
    format_duration,
    origin_stories,
    run_engines,
    severity_counts,
    sorted_findings,
    target_exposure,
    verdict,
    vulnerability_origins,
)
from harness.report.html_findings import MAX_EVIDENCE, MAX_FINDING_PROBES, finding_model
from harness.report.html_policy import policy_model
from harness.report.html_probes import MAX_LOG_PROBES, OUTCOME_SYMBOLS, probes_model
from harness.report.poc import SHAPES, Secrets, curl, request_headers, secrets

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
"""The pages' Content-Security-Policy: no script, no fetch, no external anything.

Written literally as the first element of ``<head>`` in the templates (a constant
needs no escaping there); tests check they agree.
"""

PROBES_FILE = "probes.html"
"""The probe log's page, written beside report.html and linked from it."""

# When one cell holds several probes (shapes, APIs), the most telling outcome wins:
# any read matters most; an error means the cell is not fully verified.
_CELL_PRIORITY = ("readable", "error", "blocked", "not-producible")
_CREDENTIALS = ("omit", "include")
_POLICIES = ("default", "permissive")

_STANDING_WORDS = {
    Standing.PUBLIC.value: "not a finding: the public answer (*), read without credentials",
    Standing.TOKEN.value: "not a finding: read only with the user's token",
    Standing.HTTP_TARGET.value: "not a finding: an http origin on an http target (no downgrade)",
}
"""The matrix's last column for reads that are no vulnerability (see harness.judge.story)."""

_ENV: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            loader=jinja2.PackageLoader("harness.report", "templates"),
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


def render_probes(report: Mapping[str, Any]) -> str:
    """probes.html for ``report``: the log of the probes that matter, and the pages."""
    template = _environment().get_template("probes.html.j2")
    return template.render(m=probes_model(report, _all_targets(report)))


def extra_files(report: Mapping[str, Any]) -> dict[str, str]:
    """Files written beside report.html (:func:`harness.report.writers.write_reports`)."""
    return {PROBES_FILE: render_probes(report)}


# --------------------------------------------------------------------------- caps

MAX_COMPARISON_ROWS = 8
"""Comparison rows shown per target, after merging origins with identical rows."""
MAX_TITLE_LINES = 4
"""Distinct probe descriptions in a matrix cell's hover text."""
MAX_REASON = 100
"""Characters of a block reason or error kept in a matrix cell's hover text."""


# --------------------------------------------------------------------------- model


def build_model(report: Mapping[str, Any]) -> dict[str, Any]:
    """The plain view model the template renders; every string already ``clean``-ed."""
    v = verdict(report)
    findings = sorted_findings(report)
    all_probes: list[Mapping[str, Any]] = list(report.get("probes") or [])
    by_id = {str(p.get("id")): p for p in all_probes}
    by_target: dict[str, list[Mapping[str, Any]]] = {}
    by_origin: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for p in all_probes:
        by_target.setdefault(str(p.get("target")), []).append(p)
        by_origin.setdefault((str(p.get("target")), str(p.get("origin"))), []).append(p)
    evidence_by_key = {str(e.get("key")): e for e in report.get("evidence") or []}
    config: Mapping[str, Any] = report.get("config") or {}
    who = secrets(config)
    engines = run_engines(report)
    finding_models = [
        finding_model(report, f, i, by_id, by_origin, evidence_by_key, who, engines)
        for i, f in enumerate(findings)
    ]
    fixes = _fix_snippets(report, finding_models)
    told = origin_stories(report)
    vulns = vulnerability_origins(report)
    legit = [str(o) for o in config.get("legit_origins") or []]
    targets = target_exposure(report)
    finding_anchors: dict[str, list[dict[str, str]]] = {}
    for fm in finding_models:
        finding_anchors.setdefault(fm["target_raw"], []).append(
            {"anchor": fm["anchor"], "rule": fm["rule"], "severity": fm["severity"]}
        )
    by_target_story: dict[str, list[OriginStory]] = {}
    for s in told.values():
        by_target_story.setdefault(s.target, []).append(s)
    host = _common_host([t.target for t in targets])
    probes_seen = len(all_probes)
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
                t,
                finding_anchors.get(t.target, []),
                len(host),
                by_target_story.get(t.target, []),
                legit,
                declared_policy(report, t.target),
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
        "config": [{"key": clean(k), "value": _config_value(val)} for k, val in config.items()],
        "comparison_groups": _comparison_groups(
            comparisons(report, told), [t.target for t in targets]
        ),
        "matrices": [
            _matrix(report, target, i, by_target.get(target, []), engines, told, vulns)
            for i, target in enumerate(_all_targets(report))
        ],
        "findings": finding_models,
        "policy": policy_model(report),
        "fixes": fixes,
        "probe_total": probes_seen,
        "probes_file": PROBES_FILE,
        "pages_total": len(report.get("pages") or {}),
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


def _fix_snippets(
    report: Mapping[str, Any], finding_models: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each distinct set of configuration snippets once (every "an attacker can read"
    rule shares the allowlist fix), with the rules it fixes; the findings link to it."""
    rules: Mapping[str, Any] = report.get("rules") or {}
    sets: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for fm in finding_models:
        rule_id = str(fm["rule"])
        snippets = (rules.get(fm["rule_raw"]) or {}).get("snippets") or {}
        key = tuple((str(k), str(v)) for k, v in snippets.items())
        if not key:
            continue
        entry = sets.get(key)
        if entry is None:
            entry = sets[key] = {
                "anchor": f"fix-{len(sets) + 1}",
                "rules": [],
                "stacks": [clean(k) for k, _ in key],
                "snippets": [{"stack": clean(k), "code": clean(v)} for k, v in key],
            }
        if rule_id not in entry["rules"]:
            entry["rules"].append(rule_id)
        fm["snippets_anchor"] = entry["anchor"]
    return list(sets.values())


def _overview_row(
    t: TargetExposure,
    anchors: Sequence[Mapping[str, str]],
    strip: int,
    told: Sequence[OriginStory],
    legit: Sequence[str],
    declared: str | None,
) -> dict[str, Any]:
    """One row of "Targets at a glance": per-engine state, the policy the server really
    implements (from the origins' stories) and, when one exists, the declared one.

    ``strip`` characters (a scheme and host every target shares, named in the column
    header) are left out of the target shown.
    """
    readers = [s for s in told if s.role is Role.ATTACKER and s.readable]
    counted = [s for s in readers if s.standing is Standing.FINDING]
    victims = [s for s in readers if s.read is Read.VICTIM]
    return {
        "target": clean(t.target),
        "short": clean(t.target[strip:]) or clean(t.target),
        "worst": clean(t.worst) if t.worst else "",
        "engines": [{"engine": engine_label(e), "state": s} for e, s in t.engines],
        "findings": list(anchors),
        "policy": clean(policy_line(told, legit)),
        "declared": clean(declared) if declared else "",
        "readers": len(readers),
        "in_findings": len(counted),
        "victims": len(victims),
        "origins": sum(1 for s in told if s.role is Role.ATTACKER),
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
    told: Mapping[tuple[str, str], OriginStory],
    vulns: Mapping[tuple[str, str], tuple[str, str, str]],
) -> dict[str, Any]:
    """Origins (rows, legitimate first, grouped by class) x engine x [policy x] credentials,
    and each row's standing: the finding its reads belong to, or why they are none.

    Within a class, origins whose cells and standing are identical share one row that
    lists them all, so a target probed from 85 origins still fits a screen or two.
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
        story = told.get((target, row["origin"]))
        standing = story.standing.value if story is not None else ""
        link = vulns.get((target, row["origin"])) if standing == Standing.FINDING.value else None
        mkey = (label, (row["role"], sig, standing, link))
        member = clean(row["origin"]) + (f" via {clean(row['via'])}" if row["via"] else "")
        if mkey in merged:
            m = merged[mkey]
            m["members"].append(member)
            for i, hits in enumerate(row["cols"]):
                m["hits"][i].extend(hits)
            continue
        m = {
            "role": row["role"],
            "standing": standing,
            "link": link,
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
                symbol, label = OUTCOME_SYMBOLS.get(status, ("?", clean(status)))
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
            link = m["link"]
            finished.append(
                {
                    "origins": m["members"],
                    "via": "",
                    "role": m["role"],
                    "standing": m["standing"],
                    "verdict": _STANDING_WORDS.get(m["standing"], ""),
                    "link": {"rule": clean(link[0]), "severity": clean(link[1]), "anchor": link[2]}
                    if link
                    else None,
                    "cells": cells,
                    "notable": any(c["attacker_read"] or c["status"] == "error" for c in cells)
                    or (
                        m["role"] == "legitimate"
                        and any(c["status"] not in ("readable", "none") for c in cells)
                    ),
                }
            )
        group["rows"] = finished
    findings = [
        f
        for f in report.get("findings") or []
        if str(f.get("target", "")) == target and str(f.get("category")) == "vulnerability"
    ]
    return {
        "id": f"matrix-{index + 1}",
        "target": clean(target),
        "open": False,
        "notable": bool(findings or legit_blocked or errors),
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


def curl_preflight(exchange: Any, who: Secrets | None = None) -> str | None:
    """A ``curl`` command replaying a preflight (``OPTIONS``) exchange, or None.

    Built from the recorded request headers (``Origin``,
    ``Access-Control-Request-Method``, ``Access-Control-Request-Headers`` ...), every
    value shell-quoted; values the witness did not keep are left out.
    """
    if not isinstance(exchange, Mapping) or not exchange.get("url"):
        return None
    headers = request_headers(exchange, None, who or secrets({}), preflight=True)
    return curl("OPTIONS", str(exchange["url"]), headers, None)


def curl_actual(exchange: Any, who: Secrets | None = None, shape: str = "") -> str | None:
    """A ``curl`` command replaying the actual request of an exchange, or None.

    Credentials are placeholders named for where they came from (``who``).
    """
    if not isinstance(exchange, Mapping) or not exchange.get("url"):
        return None
    method = str(exchange.get("method") or "GET")
    found = SHAPES.get((shape, method.upper()))
    headers = request_headers(exchange, found, who or secrets({}), preflight=False)
    return curl(method, str(exchange["url"]), headers, found.body if found else None)


def _comparison_groups(rows: Sequence[Comparison], order: Sequence[str]) -> list[dict[str, Any]]:
    """The header-vs-browser comparison, per target, identical rows merged, capped.

    Rows that say the same thing about several origins of one target become one row
    listing the origins; disagreements and agreements are kept apart (the page shows the
    disagreements first and folds the rest); each target shows at most
    :data:`MAX_COMPARISON_ROWS` of each and counts the rest.
    """
    by_target: dict[str, list[Comparison]] = {}
    for c in rows:
        by_target.setdefault(c.target, []).append(c)
    targets = [t for t in order if t in by_target] + [t for t in by_target if t not in order]
    groups = []
    for target in targets:
        mine = by_target[target]
        merged: dict[tuple[Any, ...], dict[str, Any]] = {}
        for c in mine:
            key = (
                c.source,
                c.header_says,
                c.browsers_say,
                c.disagree,
                c.kind,
                c.why,
                c.severity,
                c.rule,
                c.anchor,
                c.standing,
            )
            m = merged.get(key)
            if m is None:
                m = merged[key] = {
                    "origins": [],
                    "source": c.source,
                    "header_says": clean(c.header_says),
                    "browsers_say": clean(c.browsers_say),
                    "disagree": c.disagree,
                    "kind": clean(c.kind) if c.kind else "",
                    "why": clean(c.why),
                    "severity": clean(c.severity) if c.severity else "",
                    "rule": clean(c.rule) if c.rule else "",
                    "anchor": c.anchor or "",
                    "standing": clean(c.standing),
                }
            m["origins"].extend(clean(o) for o in (c.origins or (c.origin,)))
        shown = sorted(merged.values(), key=lambda m: m["source"] != "origin")
        kinds = Counter(c.kind for c in mine if c.disagree and c.kind)
        group: dict[str, Any] = {
            "target": clean(target),
            "total": len(mine),
            "disagree": sum(1 for c in mine if c.disagree),
            "agree": sum(1 for c in mine if not c.disagree),
            "kinds": ", ".join(f"{n} {clean(k)}" for k, n in kinds.most_common()),
        }
        for name, part in (
            ("disagree_rows", [m for m in shown if m["disagree"]]),
            ("agree_rows", [m for m in shown if not m["disagree"]]),
        ):
            group[name] = part[:MAX_COMPARISON_ROWS]
            group[name + "_more"] = max(0, len(part) - MAX_COMPARISON_ROWS)
            group[name + "_more_origins"] = sum(
                len(m["origins"]) for m in part[MAX_COMPARISON_ROWS:]
            )
        groups.append(group)
    return groups


__all__ = [
    "CSP",
    "MAX_EVIDENCE",
    "MAX_FINDING_PROBES",
    "MAX_LOG_PROBES",
    "PROBES_FILE",
    "build_model",
    "curl_actual",
    "curl_preflight",
    "extra_files",
    "render",
    "render_probes",
    "write",
]

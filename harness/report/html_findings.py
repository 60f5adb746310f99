"""The findings of report.html: labelled lines, the browser's words, a proof of concept.

Each finding's view model, built from the report dict (every string ``clean``-ed and
escaped by the template). A vulnerability finding carries a minimal attacker page for
its origin and request shape with a line on how to serve it, curl lines with
placeholders for the user's own credentials (:mod:`harness.report.poc`), and what the
engines themselves said when they blocked a probe (``block_reason``: Chromium's
``corsErrorStatus``, Firefox's "Reason:" line).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.common import (
    clean,
    engine_label,
    finding_anchor,
    finding_state,
    is_vulnerability,
)
from harness.report.poc import (
    NOT_RECORDED,
    Secrets,
    curl_lines,
    pairs,
    pick_probe,
    poc_page,
    serve_instructions,
)

MAX_EVIDENCE = 3
"""Exchange records shown per finding; the rest are counted."""
MAX_FINDING_PROBES = 10
"""Rows of "origins the probes really had" per finding, after merging identical ones."""
MAX_CONSOLE = 6
"""Distinct engine messages shown per finding."""

_STATE_WORDS = {
    "yes": "exploitable from any website",
    "same-site": "exploitable from same-site origins only",
    "cookies": "only with third-party cookies allowed",
    "unknown": "unknown (whose data it was cannot be told)",
    "no": "not exploitable",
}

_SKIP_LINES = ("Origins that could read:",)
"""Detail lines the finding's own facts already show."""


def detail_lines(detail: str) -> list[dict[str, str]]:
    """A finding's detail as labelled lines (``Label: text``), for a definition list.

    Multi-line details (attacker findings) have one labelled sentence per line; a
    one-line detail is one "Detail" line.
    """
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    if len(lines) <= 1:
        return [{"label": "Detail", "text": clean(detail.strip())}] if detail.strip() else []
    out = []
    for line in lines:
        if line.startswith(_SKIP_LINES):
            continue
        label, sep, text = line.partition(": ")
        if sep and len(label) <= 60 and "://" not in label:
            out.append({"label": clean(label), "text": clean(text)})
        else:
            out.append({"label": "Note", "text": clean(line)})
    return out


def _console(probes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What the engines said when they refused a probe: each message once, counted."""
    said: Counter[tuple[str, str]] = Counter()
    for p in probes:
        reason = p.get("block_reason") or (p.get("error") if p.get("outcome") == "error" else None)
        if reason:
            said[(str(p.get("engine")), str(reason))] += 1
    return [
        {"engine": engine_label(e), "text": clean(text), "count": n}
        for (e, text), n in said.most_common(MAX_CONSOLE)
    ]


def _probe_rows(probes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The finding's probes, identical rows merged with their count; mismatches first."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for p in probes:
        page = str(p.get("page_origin")) if p.get("page_origin") else "unknown"
        key = (
            str(p.get("engine")),
            str(p.get("cookie_policy")),
            str(p.get("origin")),
            page,
            str(p.get("credentials")),
            str(p.get("outcome")),
        )
        groups.setdefault(key, []).append(p)
    rows = []
    for (engine, policy, origin, page, creds, outcome), members in groups.items():
        rows.append(
            {
                "engine": engine_label(engine),
                "cookie_policy": clean(policy),
                "origin": clean(origin),
                "page_origin": clean(page),
                "mismatch": page not in ("unknown", origin),
                "credentials": clean(creds),
                "outcome": clean(outcome),
                "count": len(members),
            }
        )
    rows.sort(key=lambda r: not r["mismatch"])
    return rows


def _poc(
    f: Mapping[str, Any],
    probes: Sequence[Mapping[str, Any]],
    evidence_by_key: Mapping[str, Mapping[str, Any]],
    who: Secrets,
) -> dict[str, Any] | None:
    if not is_vulnerability(f):
        return None
    probe = pick_probe(probes, str(f.get("rule", "")))
    if probe is None:
        return None
    sentence, commands = serve_instructions(str(probe.get("origin")))
    ev = evidence_by_key.get(str(probe.get("evidence")))
    curls = curl_lines(ev, who) if ev is not None else []
    read = f"HTTP {clean(probe.get('status'))}"
    if probe.get("body_length") is not None:
        read += f" and {clean(probe.get('body_length'))} bytes of body"
    with_cookie = probe.get("credentials") == "include"
    return {
        "origin": clean(probe.get("origin")),
        "engine": engine_label(probe.get("engine")),
        "shape": clean(probe.get("shape")),
        "api": clean(probe.get("api")),
        "credentials": clean(probe.get("credentials")),
        "expected": read
        + (
            ", the victim's data"
            if probe.get("victim_data") is True
            else " (not the victim's data)"
            if probe.get("victim_data") is False and with_cookie
            else ""
        ),
        "page": clean(poc_page(probe, who)),
        "serve": clean(sentence),
        "commands": clean("\n".join(commands)),
        "curl": [clean(c) for c in curls],
        "placeholders": any("<value of" in c for c in curls),
    }


def finding_model(
    report: Mapping[str, Any],
    f: Mapping[str, Any],
    index: int,
    by_id: Mapping[str, Mapping[str, Any]],
    by_origin: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]],
    evidence_by_key: Mapping[str, Mapping[str, Any]],
    who: Secrets,
    engines: Sequence[str],
) -> dict[str, Any]:
    """The view model of one finding (the ``index``-th in report order)."""
    rules: Mapping[str, Any] = report.get("rules") or {}
    rule_id = str(f.get("rule", ""))
    rule: Mapping[str, Any] = rules.get(rule_id) or {}
    target = str(f.get("target", ""))
    hc = f.get("header_check")
    if isinstance(hc, Mapping):
        header_line = (
            ("vulnerable" if hc.get("vulnerable") else "not vulnerable")
            + (f" ({clean(hc.get('severity'))})" if hc.get("severity") else "")
            + (f": {clean(hc.get('reason'))}" if hc.get("reason") else "")
        )
    else:
        header_line = "not assessed"
    probes = [by_id[i] for i in dict.fromkeys(str(p) for p in f.get("probes") or []) if i in by_id]
    origins = [str(o) for o in f.get("origins") or []]
    related = [p for o in origins for p in by_origin.get((target, o), [])]
    refused = related if is_vulnerability(f) else probes
    evidence_keys = [str(k) for k in f.get("evidence") or []]
    present = [k for k in evidence_keys if k in evidence_by_key]
    vuln = is_vulnerability(f)
    rows = _probe_rows(probes)
    return {
        "anchor": finding_anchor(index),
        "rule": clean(rule_id),
        "rule_raw": rule_id,
        "severity": clean(f.get("severity")),
        "title": clean(f.get("title")),
        "category": clean(f.get("category", "vulnerability")),
        "target": clean(target),
        "target_raw": target,
        "origins": [clean(o) for o in origins],
        "origin_classes": [
            {
                "origin": clean(o),
                "classes": ", ".join(
                    clean(c)
                    for c in sorted(
                        {str(p.get("origin_class")) for p in by_origin.get((target, o), [])}
                    )
                ),
            }
            for o in origins
        ],
        "engines": [engine_label(e) for e in f.get("engines") or []],
        "classes": [clean(c) for c in f.get("classes") or []],
        "exposure": [
            {"engine": engine_label(e), "state": s, "words": _STATE_WORDS.get(s, clean(s))}
            for e in engines
            for s in [finding_state(f, e)]
        ]
        if vuln
        else [],
        "lines": detail_lines(str(f.get("detail") or "")),
        "console": _console([p for p in refused if p.get("outcome") != "readable"]),
        "header_line": header_line,
        "summary": clean(rule.get("summary")),
        "remediation": clean(rule.get("remediation")),
        "snippet_stacks": [clean(stack) for stack in rule.get("snippets") or {}],
        "snippets_anchor": "",
        "poc": _poc(f, probes, evidence_by_key, who),
        "page_origins": rows[:MAX_FINDING_PROBES],
        "probe_total": len(probes),
        "probes_more": max(0, len(rows) - MAX_FINDING_PROBES),
        "evidence": [evidence_model(evidence_by_key[k], who) for k in present[:MAX_EVIDENCE]],
        "evidence_total": len(present),
        "evidence_more": max(0, len(present) - MAX_EVIDENCE),
        "missing_evidence": [clean(k) for k in evidence_keys if k not in evidence_by_key],
        "accepted": _accepted(f.get("accepted")),
    }


def _accepted(value: Any) -> dict[str, str] | None:
    """A reviewed risk's reason, end date and source file, escaped; None when not accepted."""
    if not isinstance(value, Mapping):
        return None
    return {
        "reason": clean(value.get("reason")),
        "until": clean(value.get("until")) if value.get("until") else "",
        "source": clean(value.get("source")),
    }


def evidence_model(e: Mapping[str, Any], who: Secrets) -> dict[str, Any]:
    """One exchange record: its preflight and actual request, and curl lines."""
    pre, act = e.get("preflight"), e.get("actual")
    curl = curl_lines(e, who)
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
        "placeholders": any("<value of" in c for c in curl),
    }


def _exchange_model(label: str, x: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "label": label,
        "source": _source_line(x),
        "method": clean(x.get("method")),
        "url": clean(x.get("url")),
        "status": clean(x.get("status")) if x.get("status") is not None else "no response",
        "error": clean(x.get("error")) if x.get("error") else "",
        "request_text": _headers_text("Request", x.get("request_headers"), "sent"),
        "response_text": _headers_text("Response", x.get("response_headers"), "answered"),
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


def _headers_text(label: str, headers: Any, verb: str) -> str:
    """``Name: value`` lines of the headers kept, then the names of those not kept."""
    kept = [f"{clean(k)}: {clean(v)}" for k, v in pairs(headers) if v != NOT_RECORDED]
    dropped = [clean(k) for k, v in pairs(headers) if v == NOT_RECORDED]
    lines = [f"{label} headers:"] + (kept or ["(none recorded)"])
    if dropped:
        lines.append(f"({verb}, value not recorded: {', '.join(dropped)})")
    return "\n".join(lines)

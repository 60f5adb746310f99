"""``probes.html``: the probe log, beside report.html and linked from it.

A run of thousands of probes made report.html tens of thousands of pixels tall; the
log of the probes that matter (legitimate origins blocked, errors, attacker reads,
probes a finding cites) lives on a page of its own. report.json keeps every probe.
Rendered with the same escaping rules as report.html (:mod:`harness.report.html_page`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.common import clean, engine_label

MAX_LOG_PROBES = 2000
"""Most probe rows probes.html shows; report.json always has every probe."""

OUTCOME_SYMBOLS: dict[str, tuple[str, str]] = {
    # outcome -> (symbol, label); the symbol and words carry the meaning so the
    # matrix reads the same in greyscale print and for colour-blind readers.
    "readable": ("\u25b2", "readable"),
    "blocked": ("\u25a0", "blocked"),
    "not-producible": ("\u2013", "not producible"),
    "error": ("!", "error"),
}

# Why a probe is worth a row in the log, most important first.
LOG_WHY = (
    "legitimate origin not readable",
    "tool or probe error",
    "readable by an attacker origin",
    "referenced by a finding",
    "not producible in that engine",
)


def probe_log(
    report: Mapping[str, Any], probes: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], dict[str, Any]]:
    """The probes worth a row in the log, most important first, capped.

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
    notable = Counter(LOG_WHY[w] for w, _, _ in ranked)
    left_counts = Counter(LOG_WHY[w] for w, _, _ in left)
    note = {
        "shown": len(shown),
        "notable": len(ranked),
        "notable_kinds": [{"why": k, "count": notable[k]} for k in LOG_WHY if notable[k]],
        "left_notable": len(left),
        "left_kinds": [{"why": k, "count": left_counts[k]} for k in LOG_WHY if left_counts[k]],
        "routine": len(probes) - len(ranked),
        "more": len(probes) - len(shown),
        "capped": bool(left),
    }
    return [p for _, _, p in shown], note


def probe_groups(log: Sequence[Mapping[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
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
        "symbol": OUTCOME_SYMBOLS.get(str(p.get("outcome")), ("?", ""))[0],
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


def probes_model(report: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """The view model of probes.html: the log per target, and the generated pages."""
    probes = list(report.get("probes") or [])
    log, note = probe_log(report, probes)
    return {
        "run_id": clean(report.get("run_id")),
        "probe_total": len(probes),
        "probe_groups": probe_groups(log, order),
        "probe_note": note,
        "pages": [
            {"name": clean(name), "html": clean(html)}
            for name, html in (report.get("pages") or {}).items()
        ],
    }

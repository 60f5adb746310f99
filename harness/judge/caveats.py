"""What a verdict does not cover: the caveats every reporter and the exit status state.

A verdict says only what was measured. Probes that ended in error, engines that did
not run, a budget that ran out, a quick run: each limits what "no exploitable issue
found" means, and each is a :class:`Caveat` derived here from the report dict (the
same one ``report.json`` holds), so the banner, summary.md, JUnit, SARIF, the
terminal and the exit status can never disagree about them.

Adding a kind of caveat: write a ``_check(report) -> Caveat | None`` and add it to
:data:`CHECKS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ENGINE_ERRORS = ("browser-missing", "browser-failed", "launch")
"""Tool error kinds that mean an engine did not run at all."""
PARTIAL_ERRORS = ("budget",)
"""Tool error kinds that explain a partial run other than an interruption."""

ANSWERED = ("readable", "blocked")
"""Outcomes that need an answer from the target (a block is the browser withholding one)."""


@dataclass(frozen=True)
class Caveat:
    """One limit of a verdict: what kind, how many things it concerns, one line saying so."""

    kind: str
    """``no-answer``, ``partial``, ``missing-engine``, ``probe-errors``, ``tool-errors``,
    ``unknown-witness``, ``quick-run``, ``disabled-classes``."""
    count: int
    text: str
    error: bool
    """True when part of what was asked could not be measured: such caveats are JUnit
    errors and fail the run under ``--fail-on-error``. False for limits the user chose
    (a quick run), which JUnit lists as skipped."""


def planned_probes(report: Mapping[str, Any]) -> int:
    """Probes the run set out to measure (``plan.probes``), at least those it has."""
    plan = report.get("plan") or {}
    planned = plan.get("probes") if isinstance(plan, Mapping) else None
    have = len(report.get("probes") or [])
    return max(int(planned), have) if isinstance(planned, int) else have


def judged_probes(report: Mapping[str, Any]) -> int:
    """Probes that ended in a verdict (anything but ``error``)."""
    return sum(1 for p in report.get("probes") or [] if p.get("outcome") != "error")


def unanswered_targets(report: Mapping[str, Any]) -> list[tuple[str, int, str]]:
    """(target, probes, most common error) for each target that answered none of its probes.

    A target answered when a browser read a response or blocked one the server sent,
    or when it answered corsproof's own replay of a probe (the evidence): probes lost
    to a browser that did not start say nothing about the target. A target whose
    probes were all not-producible (the engine refused every origin) is not listed.
    """
    by_target: dict[str, list[Mapping[str, Any]]] = {}
    for p in report.get("probes") or []:
        by_target.setdefault(str(p.get("target", "")), []).append(p)
    replied = {
        str(e.get("target", ""))
        for e in report.get("evidence") or []
        if any(
            isinstance(x, Mapping) and x.get("status") is not None
            for x in (e.get("preflight"), e.get("actual"))
        )
    }
    out = []
    for target in [str(t) for t in report.get("targets") or []]:
        probes = by_target.get(target, [])
        if target in replied or any(
            p.get("outcome") in ANSWERED or p.get("status") is not None for p in probes
        ):
            continue
        errors = [p for p in probes if p.get("outcome") == "error"]
        if not errors:
            continue
        out.append((target, len(probes), _common_error(errors)))
    return out


def nothing_answered(report: Mapping[str, Any]) -> bool:
    """True when the run had targets and not one of them answered a probe: nothing was
    verified (an API that is down). Some silent targets beside answering ones are a
    ``no-answer`` caveat instead."""
    targets = {str(t) for t in report.get("targets") or []}
    return bool(targets) and {t for t, _, _ in unanswered_targets(report)} == targets


def _common_error(probes: Sequence[Mapping[str, Any]]) -> str:
    reasons = Counter(str(p.get("error") or "no verdict")[:120] for p in probes)
    return reasons.most_common(1)[0][0]


def _no_answer(report: Mapping[str, Any]) -> Caveat | None:
    silent = unanswered_targets(report)
    if not silent:
        return None
    target, probes, why = silent[0]
    more = f" (and {len(silent) - 1} more target(s))" if len(silent) > 1 else ""
    return Caveat(
        "no-answer",
        len(silent),
        f"The target answered none of its probes: {target}, {probes} probe(s), e.g. {why}{more}.",
        True,
    )


def _partial(report: Mapping[str, Any]) -> Caveat | None:
    if not report.get("partial"):
        return None
    kinds = {str(e.get("kind")) for e in report.get("errors") or []}
    why = "the run budget (--budget) ran out" if "budget" in kinds else "the run was interrupted"
    plan = report.get("plan") or {}
    if not isinstance(plan, Mapping) or not isinstance(plan.get("probes"), int):
        return Caveat("partial", 0, f"Partial run: {why} before every probe finished.", True)
    missing = max(0, planned_probes(report) - len(report.get("probes") or []))
    return Caveat(
        "partial",
        missing,
        f"Partial run: {why}; {missing} of {planned_probes(report)} planned probes "
        "were not measured.",
        True,
    )


def _engines_not_run(report: Mapping[str, Any]) -> dict[str, str]:
    """Engine -> why, for each engine asked for (or failing) that took no part in the run."""
    ran = {str(b.get("engine")) for b in report.get("browsers") or []}
    asked = [str(e) for e in (report.get("config") or {}).get("engines") or []]
    reasons: dict[str, str] = {}
    for e in report.get("errors") or []:
        message = str(e.get("message") or "")
        engine = message.split(" ", 1)[0].lower()
        if str(e.get("kind")) in ENGINE_ERRORS and engine not in ran:
            reasons.setdefault(engine, message)
    # An engine asked for that never ran is missing when it failed, or when others
    # ran (with none running, the cause is elsewhere: an unreachable target).
    missing = [e for e in asked if e not in ran and (e in reasons or ran)]
    missing += [e for e in reasons if e not in missing and not asked]
    return {e: reasons.get(e, f"{e} did not run") for e in missing}


def _missing_engines(report: Mapping[str, Any]) -> Caveat | None:
    missing = _engines_not_run(report)
    if not missing:
        return None
    return Caveat(
        "missing-engine",
        len(missing),
        f"Not tested in {', '.join(missing)}: {'; '.join(missing.values())}.",
        True,
    )


def _probe_errors(report: Mapping[str, Any]) -> Caveat | None:
    errors = [p for p in report.get("probes") or [] if p.get("outcome") == "error"]
    if not errors:
        return None
    attackers = sum(1 for p in errors if p.get("role") == "attacker")
    return Caveat(
        "probe-errors",
        len(errors),
        f"{len(errors)} probe(s) ended in error, without a verdict ({attackers} from "
        f"attacker origins); most common cause: {_common_error(errors)}.",
        True,
    )


def _tool_errors(report: Mapping[str, Any]) -> Caveat | None:
    stated = set(_engines_not_run(report).values())
    others = [
        e
        for e in report.get("errors") or []
        if str(e.get("kind")) not in PARTIAL_ERRORS and str(e.get("message")) not in stated
    ]
    if not others:
        return None
    first = others[0]
    return Caveat(
        "tool-errors",
        len(others),
        f"{len(others)} tool error(s); first: {first.get('kind')}: {first.get('message')}.",
        True,
    )


def _unknown_witness(report: Mapping[str, Any]) -> Caveat | None:
    """Attacker reads with credentials whose cookie, or data, the wire could not establish."""
    reads = [
        p
        for p in report.get("probes") or []
        if p.get("outcome") == "readable"
        and p.get("credentials") == "include"
        and p.get("role") == "attacker"
    ]
    cookie = [p for p in reads if p.get("cookie_sent") is None]
    data = [p for p in reads if p.get("cookie_sent") is True and p.get("victim_data") is None]
    if not cookie and not data:
        return None
    parts = []
    if cookie:
        why = _common(str(p.get("victim_note") or "not witnessed") for p in cookie)
        parts.append(
            f"{len(cookie)} credentialed read(s) where whether the cookie went is unknown ({why})"
        )
    if data:
        why = _common(str(p.get("victim_note") or "") for p in data)
        parts.append(f"{len(data)} read(s) with the cookie whose data cannot be told ({why})")
    return Caveat(
        "unknown-witness",
        len(cookie) + len(data),
        "; ".join(parts) + ": neither counted as exploitable nor as safe.",
        bool(cookie),
    )


def _common(texts: Iterable[str]) -> str:
    counts = Counter(texts)
    return counts.most_common(1)[0][0] if counts else ""


def _quick_run(report: Mapping[str, Any]) -> Caveat | None:
    limit = (report.get("config") or {}).get("per_class")
    if not isinstance(limit, int) or isinstance(limit, bool):
        return None
    return Caveat(
        "quick-run",
        limit,
        f"Quick run (--per-class {limit}): at most {limit} attacker origin(s) of each "
        "class were tried; the others were not.",
        False,
    )


def _disabled_classes(report: Mapping[str, Any]) -> Caveat | None:
    classes = [str(c) for c in (report.get("config") or {}).get("disabled_classes") or []]
    if not classes:
        return None
    return Caveat(
        "disabled-classes",
        len(classes),
        f"Origin classes not tried (--disable-class): {', '.join(classes)}.",
        False,
    )


CHECKS: tuple[Callable[[Mapping[str, Any]], Caveat | None], ...] = (
    _no_answer,
    _partial,
    _missing_engines,
    _probe_errors,
    _tool_errors,
    _unknown_witness,
    _quick_run,
    _disabled_classes,
)
"""Every caveat check, in the order reports list them (what could not be measured first)."""


def caveats(report: Mapping[str, Any]) -> list[Caveat]:
    """The caveats of ``report``, errors first."""
    found = [c for check in CHECKS if (c := check(report)) is not None]
    return sorted(found, key=lambda c: not c.error)

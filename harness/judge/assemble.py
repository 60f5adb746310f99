"""Assemble the run report: judge a :class:`~harness.model.run.RunResult`.

The one place a run's measurements become findings: whose data each answer held
(:mod:`harness.judge.victim`), the findings (:mod:`harness.judge.verdicts`), the
header-only comparison (:mod:`harness.judge.headercheck`) and the rules that fired.
Pure: the same result always gives the same report.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from harness import __version__
from harness.judge.headercheck import disagreements, header_scan
from harness.judge.policy import apply_policy
from harness.judge.rules import rules_for_report
from harness.judge.story import stories
from harness.judge.verdicts import judge
from harness.judge.victim import with_victim_data
from harness.model.results import RunReport
from harness.model.run import RunResult


def assemble(result: RunResult) -> RunReport:
    """The report for ``result``: its observations judged, with the comparison."""
    evidence = list(result.evidence)
    observations = with_victim_data(result.observations)
    # One story per origin, worked out once for the findings and the comparison alike.
    told = stories(observations, evidence)
    findings = judge(
        observations,
        evidence,
        env=result.env,
        engines_run=[b.engine for b in result.browsers],
        told=told,
    )
    findings, policy = apply_policy(findings, observations, result.policy, _run_day(result))
    header_only = header_scan(evidence, legit_origins=list(result.legit_origins))
    extra: dict[str, Any] = {
        "header_only": header_only,
        "disagreements": disagreements(
            findings, header_only, observations=observations, evidence=evidence, told=told
        ),
        "pages": dict(result.pages),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "witness": {
            **result.witness,
            # Judged here, after whose data each answer held is worked out.
            "victim_unknown": sum(
                1 for o in observations if o.wire_status is not None and o.victim_data is None
            ),
        },
        "plan": {"probes": result.planned_probes},
    }
    if policy is not None:
        extra["policy"] = policy
    return RunReport(
        run_id=result.run_id,
        started=result.started,
        finished=result.finished,
        targets=result.targets,
        browsers=result.browsers,
        probes=tuple(observations),
        findings=tuple(findings),
        evidence=result.evidence,
        partial=result.partial,
        errors=result.errors,
        notes=result.notes,
        config=result.config,
        rules=rules_for_report({f.rule for f in findings}),
        extra=extra,
        tool_version=__version__,
    )


def _run_day(result: RunResult) -> _dt.date:
    """The day the run started (UTC): acceptances are judged as of then, so a report
    judged again later says what it said."""
    try:
        return _dt.datetime.fromisoformat(result.started.replace("Z", "+00:00")).date()
    except ValueError:
        return _dt.datetime.now(_dt.UTC).date()

"""What one run measured, before it is judged: :class:`RunResult`.

The runner (:mod:`harness.run`) produces it; :func:`harness.judge.assemble.assemble`
turns it into the :class:`~harness.model.results.RunReport` every reporter renders.
Nothing here is a verdict: the observations carry what the browsers could read and
what the wire saw, the evidence what the server answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.model.policy import Policy
from harness.model.results import BrowserInfo, Evidence, Observation, ToolError


@dataclass(frozen=True)
class RunResult:
    """The measured part of a run, complete or cut short (``partial``)."""

    run_id: str
    started: str
    finished: str | None
    targets: tuple[str, ...]
    browsers: tuple[BrowserInfo, ...]
    observations: tuple[Observation, ...]
    evidence: tuple[Evidence, ...]
    partial: bool = False
    errors: tuple[ToolError, ...] = ()
    notes: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    """The run configuration's summary (:meth:`harness.config.RunConfig.summary`)."""
    env: str = "prod"
    legit_origins: tuple[str, ...] = ()
    planned_probes: int = 0
    """What "N of M planned probes" counts against (:mod:`harness.judge.caveats`)."""
    timings: Mapping[str, float] = field(default_factory=dict)
    witness: Mapping[str, Any] = field(default_factory=dict)
    """How cookie and data verdicts were established (wire, lab log), for the report."""
    pages: Mapping[str, str] = field(default_factory=dict)
    """Sample attacker pages, by label, shown in the report."""
    policy: Policy | None = None
    """The declared policy from the config file, when there is one."""

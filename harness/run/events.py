"""What a run tells its consumers as it goes: one frozen dataclass per event.

The runner emits them to a :data:`Sink`; the CLI's handlers
(:mod:`harness.cli.handlers`: terminal progress, probes.jsonl) each consume them
with ``start``, ``handle`` and ``finish``. ``message`` is the one line a terminal
shows; secrets are redacted by the consumer that prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from harness.model.results import Observation


class ErrorKind(str, Enum):
    """Which of the tool's own failures: report.json's ``errors[].kind``."""

    TARGET = "target"
    BROWSER_MISSING = "browser-missing"
    LAUNCH = "launch"
    BROWSER_FAILED = "browser-failed"
    BROWSER_LOST = "browser-lost"
    BUDGET = "budget"
    SINK = "sink"


@dataclass(frozen=True)
class PlanReady:
    """The plan is made: how many probes, over how many targets and origins."""

    probes: int
    targets: int
    origins: int

    @property
    def message(self) -> str:
        return f"{self.probes} probes: {self.targets} target(s) x {self.origins} origin(s)"


@dataclass(frozen=True)
class BrowserChosen:
    """Which browser build an engine will use, and why (``--browser-source auto``)."""

    engine: str
    why: str

    @property
    def message(self) -> str:
        return f"{self.engine}: {self.why}"


@dataclass(frozen=True)
class BrowserStarted:
    """A browser (engine, cookie profile) is up."""

    engine: str
    version: str
    source: str
    profile: str

    @property
    def message(self) -> str:
        return f"{self.engine} {self.version} ({self.source}) cookie profile {self.profile}"


@dataclass(frozen=True)
class OriginProbed:
    """One origin's probes are done in one browser."""

    done: int
    total: int
    engine: str
    profile: str
    origin: str
    summary: str
    seconds: float

    @property
    def message(self) -> str:
        return (
            f"{self.done}/{self.total} probes [{self.engine}/{self.profile}] "
            f"{self.origin}: {self.summary} ({self.seconds:.1f}s)"
        )


@dataclass(frozen=True)
class ObservationMade:
    """One probe was judged (it also goes to probes.jsonl, the resume log)."""

    observation: Observation

    @property
    def message(self) -> str:
        return self.observation.id


@dataclass(frozen=True)
class RunWarning:
    """Something the user should know that did not stop anything."""

    message: str


@dataclass(frozen=True)
class ToolFailure:
    """One of the tool's own failures, as it happened (it is in the report too)."""

    kind: ErrorKind
    message: str


@dataclass(frozen=True)
class RunFinished:
    """The run is over: how many probes were judged, and whether it was cut short."""

    probes: int
    partial: bool

    @property
    def message(self) -> str:
        return f"{self.probes} probes judged" + (" (partial)" if self.partial else "")


Event = (
    PlanReady
    | BrowserChosen
    | BrowserStarted
    | OriginProbed
    | ObservationMade
    | RunWarning
    | ToolFailure
    | RunFinished
)
"""Every event a run emits."""

Sink = Callable[[Event], None]
"""Where the runner sends its events."""

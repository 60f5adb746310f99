"""The declared CORS policy: who may read what, per environment, and the accepted risks.

It comes from the project's config file (``[tool.corsproof]`` in pyproject.toml, or
corsproof.toml; :mod:`harness.inputs.configfile`) and is held against what the
browsers measured by :mod:`harness.judge.policy`. These are plain frozen records; the
parsing and validation live with the file, the decisions with the judge.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Acceptance:
    """A reviewed risk: findings of ``rule`` (for ``origin``, or any origin) are accepted."""

    rule: str
    reason: str
    origin: str | None = None
    """An origin as the finding names it (``https://evil.example``), ``null``, or None
    for every origin."""
    until: _dt.date | None = None
    """The last day the acceptance holds; None: no end date."""

    def active(self, today: _dt.date) -> bool:
        """True while the acceptance holds on ``today`` (through its ``until`` day)."""
        return self.until is None or today <= self.until

    def to_dict(self) -> dict[str, Any]:
        """report.json form."""
        return {
            "rule": self.rule,
            "origin": self.origin,
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the config expects of the endpoints that ``pattern`` matches.

    ``pattern`` is a full URL or a path, either possibly with ``*`` wildcards (``fnmatch``
    rules): ``/api/*`` matches every endpoint whose path starts with ``/api/``, on any host.
    """

    pattern: str
    readable_by: tuple[str, ...] | None = None
    """Origins that must be able to read these endpoints with the victim's session, and
    the only ones that may. None: not declared here (the environment's origins apply)."""
    public: bool = False
    """``Access-Control-Allow-Origin: *`` without credentials is intended here."""
    accept: tuple[Acceptance, ...] = ()

    def matches(self, target: str) -> bool:
        """True when ``target`` (an endpoint URL) is one of this expectation's endpoints."""
        if "://" in self.pattern:
            return fnmatch.fnmatchcase(target, self.pattern)
        parts = urlsplit(target)
        path = parts.path or "/"
        with_query = f"{path}?{parts.query}" if parts.query else path
        return fnmatch.fnmatchcase(path, self.pattern) or fnmatch.fnmatchcase(
            with_query, self.pattern
        )

    def to_dict(self) -> dict[str, Any]:
        """report.json form."""
        return {
            "pattern": self.pattern,
            "readable_by": list(self.readable_by) if self.readable_by is not None else None,
            "public": self.public,
            "accept": [a.to_dict() for a in self.accept],
        }


@dataclass(frozen=True, slots=True)
class Environment:
    """A deployment environment and its legitimate frontend origins."""

    name: str
    origins: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """report.json form."""
        return {"name": self.name, "origins": list(self.origins)}


@dataclass(frozen=True, slots=True)
class Policy:
    """The declared policy of one run: the file it came from, the environment chosen."""

    source: str
    """The config file, as the user would name it (relative to the working directory)."""
    env: str
    environments: tuple[Environment, ...] = ()
    expectations: tuple[Expectation, ...] = ()

    @property
    def environment(self) -> Environment | None:
        """The chosen environment, when the file declares it."""
        return next((e for e in self.environments if e.name == self.env), None)

    def for_target(self, target: str) -> tuple[Expectation, ...]:
        """The expectations that apply to ``target``, in file order."""
        return tuple(e for e in self.expectations if e.matches(target))

    def readers(self, target: str) -> tuple[str, ...] | None:
        """The origins that may read ``target``: the last matching ``readable_by`` (a later,
        more specific entry overrides an earlier one), else the environment's origins,
        else None (nothing declared)."""
        for exp in reversed(self.for_target(target)):
            if exp.readable_by is not None:
                return exp.readable_by
        env = self.environment
        return env.origins if env is not None else None

    def public(self, target: str) -> bool:
        """True when an expectation declares ``target`` public."""
        return any(e.public for e in self.for_target(target))

    def to_dict(self) -> dict[str, Any]:
        """report.json's ``policy``."""
        return {
            "source": self.source,
            "env": self.env,
            "environments": [e.to_dict() for e in self.environments],
            "expectations": [e.to_dict() for e in self.expectations],
        }

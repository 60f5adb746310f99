"""The consumers of a run's events, each a handler with ``start``, ``handle``, ``finish``.

:class:`TerminalProgress` prints a line per origin and browser (and each distinct
failure once) to stderr; :class:`ProbesJsonl` streams every judged probe to
probes.jsonl, the log ``--resume`` reads back. :class:`Handlers` fans the runner's
events out to them, so neither knows of the other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TextIO

from harness.model.results import observation_to_dict
from harness.run.events import Event, ObservationMade, RunWarning, ToolFailure


class Handler(Protocol):
    """One consumer of events."""

    def start(self) -> None: ...

    def handle(self, event: Event) -> None: ...

    def finish(self) -> None: ...


class TerminalProgress:
    """Progress lines on ``stream``, secrets redacted; failures as ``corsproof: error:``.

    Each distinct failure is printed once: the runner reports a failure as it
    happens, and the CLI names it again at the end. ``quiet`` keeps only warnings
    and failures.
    """

    def __init__(self, stream: TextIO, redact: Callable[[str], str], quiet: bool) -> None:
        self.stream = stream
        self.redact = redact
        self.quiet = quiet
        self.t0 = time.monotonic()
        self._errors: set[str] = set()

    def start(self) -> None:
        self.t0 = time.monotonic()

    def handle(self, event: Event) -> None:
        if isinstance(event, ObservationMade):
            return
        if isinstance(event, ToolFailure):
            self.error(event.message)
            return
        warning = isinstance(event, RunWarning)
        if self.quiet and not warning:
            return
        prefix = "warning: " if warning else ""
        elapsed = time.monotonic() - self.t0
        self.stream.write(f"[{elapsed:6.1f}s] {prefix}{self.redact(event.message)}\n")
        self.stream.flush()

    def error(self, message: str) -> None:
        """Print ``corsproof: error: message`` unless this failure was already printed."""
        line = self.redact(message)
        if line in self._errors:
            return
        self._errors.add(line)
        self.stream.write(f"corsproof: error: {line}\n")
        self.stream.flush()

    def finish(self) -> None:
        self.stream.flush()


class ProbesJsonl:
    """Every judged probe as one JSON line in ``path``, flushed as it comes.

    ``append`` continues an interrupted run's file (``--resume``) instead of
    starting a new one. Observations carry no secret values (only cookie names).
    """

    def __init__(self, path: Path, *, append: bool = False) -> None:
        self.path = path
        self.append = append
        self._fp: TextIO | None = None
        self.count = 0

    def start(self) -> None:
        self._fp = self.path.open("a" if self.append else "w", encoding="utf-8")

    def handle(self, event: Event) -> None:
        if isinstance(event, ObservationMade) and self._fp is not None:
            self._fp.write(json.dumps(observation_to_dict(event.observation)) + "\n")
            self._fp.flush()
            self.count += 1

    def finish(self) -> None:
        if self._fp is not None:
            self._fp.close()
            self._fp = None


class Handlers:
    """Fan events out to ``handlers`` in order; the runner's sink."""

    def __init__(self, handlers: Sequence[Handler]) -> None:
        self.handlers = tuple(handlers)

    def start(self) -> None:
        for h in self.handlers:
            h.start()

    def __call__(self, event: Event) -> None:
        for h in self.handlers:
            h.handle(event)

    def finish(self) -> None:
        for h in self.handlers:
            h.finish()

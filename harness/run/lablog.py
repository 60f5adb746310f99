"""The lab's own request log as a second witness of whether the session went.

Against the built-in lab, every request the browsers send is logged server-side
with its cookies. :class:`LabLog` files those entries by (user-agent tag, Origin),
answers per batch which requests carried the session cookie, and holds the wire
witness's verdict against it (the agreement the tests and report.json show).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from harness.model.results import USER_AGENT_TAG, Credentials, Observation, ProbeSpec

MAX_DISAGREEMENTS = 100
"""Disagreements kept for the report; the count of comparisons is always whole."""


class LabLog:
    """One run's reading of the lab's log (``lab`` is a :class:`harness.serve.lab.Lab`)."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self._seen = 0
        # Per (user-agent tag, Origin header): (entry number, path, method, had cookie).
        self._log: dict[tuple[str, str], list[tuple[int, str, str, bool]]] = defaultdict(list)
        self.checked = 0
        """Probes whose wire cookie verdict was compared with the log."""
        self.disagreements: list[dict[str, Any]] = []

    def read(self) -> int:
        """File the lab's new log entries; the log position (a batch's ``mark``)."""
        entries, end = self.lab.log_since(self._seen)
        end = int(end)
        self._seen = end
        name = self.lab.session_cookie_name
        for n, entry in enumerate(entries, start=end - len(entries)):
            if entry.method == "OPTIONS" or entry.origin is None:
                continue
            ua = entry.user_agent or ""
            start = ua.find(USER_AGENT_TAG)
            if start < 0:
                continue
            self._log[(ua[start:], entry.origin)].append(
                (n, entry.path, entry.method, name in entry.cookies)
            )
        return end

    def cookies_since(self, key: tuple[str, str], mark: int) -> dict[tuple[str, str], bool]:
        """Did the session cookie reach the lab, per (path, method)? Server-side truth.

        Only requests logged since ``mark`` (the start of this batch) count, and the
        caller holds the lock of ``key``, so no other page with the same Origin in this
        browser profile sent them: the answer does not depend on scheduling. The
        entries are consumed.
        """
        self.read()
        seen: dict[tuple[str, str], bool] = {}
        for n, path, method, had in self._log.pop(key, []):
            if n >= mark:
                seen[(path, method)] = seen.get((path, method), False) or had
        return seen

    def check(
        self, obs: Observation, spec: ProbeSpec, cookies: Mapping[tuple[str, str], bool]
    ) -> dict[str, Any] | None:
        """Hold the wire's cookie verdict for ``obs`` against the log; the disagreement.

        Returns the disagreement when this is the first one (the caller warns once),
        None otherwise. Only credentialed probes whose request reached the target
        are compared.
        """
        if obs.wire_status is None or spec.credentials is not Credentials.INCLUDE:
            return None
        logged = cookies.get((urlsplit(spec.target).path, spec.shape.method), False)
        self.checked += 1
        if logged == obs.cookie_sent:
            return None
        found = {"probe": obs.id, "wire": obs.cookie_sent, "lab_log": logged}
        first = not self.disagreements
        if len(self.disagreements) < MAX_DISAGREEMENTS:
            self.disagreements.append(found)
        return found if first else None

    def summary(self) -> dict[str, Any]:
        """For report.json's ``witness.lab_log``."""
        return {"compared": self.checked, "disagreements": list(self.disagreements)}

"""What one ``cors.verify`` measured, with assertions that explain themselves.

:class:`CorsResult` wraps the judged :class:`~harness.model.results.RunReport` of one
target in one engine. Each ``assert_*`` method raises :class:`AssertionError` whose
text is a diff a reader can act on: per origin, the engine and cookie profile, the
request, whether the session cookie went (as the wire saw it), and what the server
answered. Pure: nothing here drives a browser, so the text is unit-tested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.model.results import (
    Credentials,
    Evidence,
    Finding,
    Observation,
    Outcome,
    Role,
    RunReport,
    Severity,
    Via,
)

MAX_LINES = 12
"""Origins listed per assertion before the rest are counted."""


def session_read(o: Observation) -> bool:
    """A credentialed probe page JavaScript could read, with the victim's session in it:
    the wire saw the cookie go, or the answer held the victim's data (as the policy
    judge counts readers, :mod:`harness.judge.policy`)."""
    return (
        o.readable
        and o.credentials is Credentials.INCLUDE
        and (o.cookie_sent is True or o.victim_data is True)
    )


def _cookie(o: Observation) -> str:
    if o.credentials is not Credentials.INCLUDE:
        return "no credentials asked for"
    if o.cookie_sent is True:
        return "cookie sent: yes (seen at the wire)"
    if o.cookie_sent is False:
        return "cookie sent: no" + (f" ({o.cookie_note})" if o.cookie_note else "")
    return "cookie sent: unknown (no request of this probe reached the server)"


def _answer(o: Observation, evidence: Mapping[str, Evidence]) -> str:
    """What the server answered this probe: status and CORS headers, preflight first."""
    ev = evidence.get(o.evidence or "")
    parts: list[str] = []
    if ev is not None and ev.preflight is not None and o.preflighted:
        pre = ev.preflight
        parts.append("preflight " + _exchange(pre.status, pre.response_headers, PREFLIGHT_HEADERS))
    status = o.wire_status if o.wire_status is not None else o.status
    headers: tuple[tuple[str, str], ...] = ()
    if ev is not None and ev.actual is not None:
        headers = ev.actual.response_headers
        status = status if status is not None else ev.actual.status
    if status is not None or headers:
        parts.append(_exchange(status, headers))
    elif not parts:
        parts.append("nothing (no request reached it)")
    return "server answered " + "; ".join(parts)


ANSWER_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials")
"""The response headers that decide whether page JavaScript may read an answer."""
PREFLIGHT_HEADERS = (
    *ANSWER_HEADERS,
    "access-control-allow-methods",
    "access-control-allow-headers",
)
"""The preflight answer's headers that decide whether the request is sent at all."""


def _exchange(
    status: int | None, headers: Iterable[tuple[str, str]], names: Sequence[str] = ANSWER_HEADERS
) -> str:
    cors = [f"{k}: {v}" for k, v in headers if k.lower() in names]
    text = str(status) if status is not None else "no status"
    return text + (" with " + ", ".join(cors) if cors else ", no CORS headers")


def _request(o: Observation) -> str:
    creds = "with credentials" if o.credentials is Credentials.INCLUDE else "without credentials"
    return f"{o.api} {o.method} ({o.shape}) {creds}"


def _where(o: Observation) -> str:
    return f"{o.engine.value} ({o.cookie_policy.value} profile)"


def _origin(o: Observation) -> str:
    how = "" if o.via is Via.PAGE else f", via {o.via.value}"
    return f"{o.origin} ({o.origin_class}{how})"


def describe(o: Observation, evidence: Mapping[str, Evidence]) -> str:
    """One probe in one line: who, what happened, where, the request, cookie, answer."""
    if o.readable:
        what = "read it"
    elif o.outcome is Outcome.BLOCKED:
        what = "was blocked" + (f" ({o.block_reason})" if o.block_reason else "")
    elif o.outcome is Outcome.NOT_PRODUCIBLE:
        what = "could not be produced by the engine"
    else:
        what = "could not be judged" + (f" ({o.error})" if o.error else "")
    return (
        f"{_origin(o)} {what} in {_where(o)}: {_request(o)}; {_cookie(o)}; {_answer(o, evidence)}"
    )


def _telling(probes: Sequence[Observation], prefer: Callable[[Observation], bool]) -> Observation:
    """The probe that shows it best: one that ``prefer`` picks, simple fetch first."""
    ranked = sorted(
        probes,
        key=lambda o: (not prefer(o), o.shape != "simple-get", o.api != "fetch", o.id),
    )
    return ranked[0]


def _lines(
    marker: str,
    origins: Sequence[str],
    by_origin: Mapping[str, Sequence[Observation]],
    prefer: Callable[[Observation], bool],
    evidence: Mapping[str, Evidence],
    note: Callable[[str], str] | None = None,
) -> list[str]:
    out = []
    for origin in origins[:MAX_LINES]:
        probes = by_origin.get(origin) or ()
        if not probes:
            out.append(f"{marker} {origin}: {note(origin) if note else 'not probed'}")
            continue
        best = _telling(probes, prefer)
        more = sum(1 for p in probes if prefer(p)) - 1
        tail = f" (and {more} more such probe(s))" if more > 0 else ""
        out.append(f"{marker} {describe(best, evidence)}{tail}")
    if len(origins) > MAX_LINES:
        out.append(f"{marker} ... and {len(origins) - MAX_LINES} more origin(s)")
    return out


@dataclass(frozen=True)
class CorsResult:
    """One target verified in one engine: the judged report and assertions on it.

    ``report`` is the full :class:`RunReport`; ``report_dir`` where its HTML and JSON
    were written (``--corsproof-report``), if they were.
    """

    report: RunReport
    target: str
    engine: str
    allow: tuple[str, ...] = ()
    """The legitimate origins the run probed (``allow=``)."""
    report_dir: Path | None = None
    redact: Callable[[str], str] = field(default=lambda s: s, repr=False, compare=False)

    @property
    def observations(self) -> tuple[Observation, ...]:
        """The probes of this target (every cookie profile of the engine)."""
        return tuple(o for o in self.report.probes if o.target == self.target)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Findings about this target, accepted ones included (``Finding.accepted``)."""
        return tuple(f for f in self.report.findings if f.target == self.target)

    def _evidence(self) -> dict[str, Evidence]:
        return {e.key: e for e in self.report.evidence}

    def _by_origin(self) -> dict[str, list[Observation]]:
        out: dict[str, list[Observation]] = {}
        for o in self.observations:
            out.setdefault(o.origin, []).append(o)
        return out

    def readers(self, *, with_session: bool = True) -> tuple[str, ...]:
        """Origins whose page JavaScript read the target: with the victim's session
        (default), or at all."""
        test = session_read if with_session else (lambda o: o.readable)
        return tuple(sorted({o.origin for o in self.observations if test(o)}))

    def _head(self) -> str:
        return f"corsproof: {self.target} in {self.engine}"

    def _tail(self) -> list[str]:
        lines = []
        if self.report.errors:
            lines += [f"  tool error: {e.message}" for e in self.report.errors[:3]]
        if self.report_dir is not None:
            lines.append(f"  report: {self.report_dir / 'report.html'}")
        return lines

    def _fail(self, lines: Sequence[str]) -> None:
        __tracebackhide__ = True
        raise AssertionError(self.redact("\n".join([*lines, *self._tail()])))

    def _measured(self) -> None:
        """Fail unless a probe of this target got a verdict: no vacuous pass."""
        __tracebackhide__ = True
        judged = [o for o in self.observations if o.outcome in (Outcome.READABLE, Outcome.BLOCKED)]
        if not judged:
            self._fail([f"{self._head()}: nothing was measured (no probe got a verdict)"])

    def assert_only_readable_by(self, *origins: str, with_session: bool = True) -> None:
        """Exactly ``origins`` could read the target with the victim's session.

        Fails on any other origin that read it (``+`` lines) and on a named origin that
        could not (``-`` lines, where the request, the cookie and the server's answer
        say why). ``with_session=False`` counts every read, with the session or not.
        Name no origin to assert that nobody could.
        """
        __tracebackhide__ = True
        self._measured()
        test = session_read if with_session else (lambda o: o.readable)
        expected = sorted(dict.fromkeys(origins))
        found = set(self.readers(with_session=with_session))
        extra = sorted(found - set(expected))
        missing = [o for o in expected if o not in found]
        if not extra and not missing:
            return
        by = self._by_origin()
        ev = self._evidence()
        how = "with the victim's session" if with_session else "at all"
        named = ", ".join(expected) or "none"
        lines = [f"{self._head()}: readable {how} by {len(found)} origin(s), expected only {named}"]
        lines += _lines("+", extra, by, test, ev)
        lines += _lines(
            "-",
            missing,
            by,
            lambda o: o.credentials is Credentials.INCLUDE and not test(o),
            ev,
            note=lambda _o: "not probed: add it to allow=[...] so it is tried as a frontend",
        )
        lines.append("  (+ read it but is not expected; - expected, but could not read it)")
        self._fail(lines)

    def assert_no_findings(self, at_least: str | Severity = "high") -> None:
        """No finding about the target at or above ``at_least`` (accepted risks aside).

        Each finding is listed with its severity, rule and title, the origins and
        engines, and the probe behind it.
        """
        __tracebackhide__ = True
        self._measured()
        floor = at_least if isinstance(at_least, Severity) else Severity.parse(at_least)
        bad = [f for f in self.findings if f.severity.rank >= floor.rank and f.accepted is None]
        if not bad:
            return
        ev = self._evidence()
        probes = {o.id: o for o in self.observations}
        lines = [f"{self._head()}: {len(bad)} finding(s) at or above {floor.value}"]
        for f in bad[:MAX_LINES]:
            origins = ", ".join(f.origins[:4]) + (" ..." if len(f.origins) > 4 else "")
            lines.append(f"- [{f.severity.value}] {f.rule}: {f.title} ({origins})")
            behind = [probes[p] for p in f.probes if p in probes]
            if behind:
                lines.append("    " + describe(_telling(behind, session_read), ev))
        if len(bad) > MAX_LINES:
            lines.append(f"- ... and {len(bad) - MAX_LINES} more")
        accepted = [f for f in self.findings if f.accepted is not None]
        if accepted:
            lines.append(f"  ({len(accepted)} accepted finding(s) not counted)")
        self._fail(lines)

    def assert_legit_works(self) -> None:
        """Every legitimate origin (``allow=``) could read the target with the session,
        in every request shape and cookie profile the run tried."""
        __tracebackhide__ = True
        self._measured()
        legit = [o for o in self.observations if o.role is Role.LEGITIMATE]
        if not legit:
            self._fail([f"{self._head()}: no legitimate origin was probed (give allow=[...])"])

        def broken(o: Observation) -> bool:
            if o.outcome is Outcome.NOT_PRODUCIBLE:
                return False
            return not o.readable or (o.credentials is Credentials.INCLUDE and not session_read(o))

        failing = [o for o in legit if broken(o)]
        if not failing:
            return
        ev = self._evidence()
        lines = [
            f"{self._head()}: the legitimate frontend failed in {len(failing)} of "
            f"{len(legit)} probe(s)"
        ]
        for o in sorted(failing, key=lambda o: (o.origin, o.cookie_policy.value, o.id))[:MAX_LINES]:
            lines.append(f"- {describe(o, ev)}")
        if len(failing) > MAX_LINES:
            lines.append(f"- ... and {len(failing) - MAX_LINES} more")
        self._fail(lines)

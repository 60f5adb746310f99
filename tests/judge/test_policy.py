"""The declared policy against the measured one: beyond readable_by, short of it,
unknown, public endpoints, and accepted risks (with their end dates)."""

from __future__ import annotations

import datetime as dt

from builders import observation

from harness.judge.policy import BEYOND, SHORT, apply_policy
from harness.model.policy import Acceptance, Environment, Expectation, Policy
from harness.model.results import Credentials, Engine, Finding, Outcome, Role, Severity

T = "https://api.example.com/items"
APP = "https://app.example.com"
EVIL = "https://evil.example"
DAY = dt.date(2026, 12, 1)


def policy(*expect: Expectation, env_origins: tuple[str, ...] = (APP,)) -> Policy:
    return Policy("pyproject.toml", "prod", (Environment("prod", env_origins),), expect)


def legit(**kw: object) -> object:
    base: dict[str, object] = dict(
        target=T, origin=APP, origin_class="legitimate", role=Role.LEGITIMATE, cookie_sent=True
    )
    return observation(**{**base, **kw})


def attacker_finding(origin: str = EVIL, rule: str = "any-origin-read") -> Finding:
    return Finding(rule, Severity.CRITICAL, "t", T, (origin,), (Engine.CHROMIUM,), ("a1",))


def test_no_policy_changes_nothing() -> None:
    f = attacker_finding()
    assert apply_policy([f], [], None, DAY) == ([f], None)


def test_a_declared_reader_reading_with_the_session_is_clean() -> None:
    findings, section = apply_policy([], [legit(id="l1")], policy(Expectation("/items")), DAY)
    assert findings == []
    assert section is not None
    (row,) = section["observed"]
    assert row["readable_by"] == [APP]
    assert row["readers_with_session"] == {APP: ["chromium/default"]}
    assert row["beyond"] == row["short"] == row["unknown"] == []


def test_a_legitimate_origin_outside_this_endpoints_readable_by_is_a_vulnerability() -> None:
    admin = "https://admin.example.com"
    obs = [legit(id="l1"), legit(id="l2", origin=admin)]
    findings, section = apply_policy([], obs, policy(Expectation("/items", (APP,))), DAY)
    (f,) = findings
    assert (f.rule, f.severity, f.origins, f.probes) == (BEYOND, Severity.HIGH, (admin,), ("l2",))
    assert section is not None and section["observed"][0]["beyond"][0]["with_session"] is True


def test_a_reader_the_run_already_flags_is_referenced_not_repeated() -> None:
    obs = [legit(id="l1"), observation(id="a1", target=T, origin=EVIL, cookie_sent=True)]
    findings, section = apply_policy([attacker_finding()], obs, policy(Expectation("/items")), DAY)
    assert [f.rule for f in findings] == ["any-origin-read"]
    assert section is not None
    assert section["observed"][0]["beyond"] == [
        {"origin": EVIL, "with_session": True, "findings": ["any-origin-read"]}
    ]


def test_anonymous_reads_are_low_unless_the_endpoint_is_public() -> None:
    obs = [
        legit(id="l1"),
        observation(id="a1", target=T, origin=EVIL, credentials=Credentials.OMIT),
    ]
    findings, _ = apply_policy([], obs, policy(Expectation("/items")), DAY)
    assert [(f.rule, f.severity) for f in findings] == [(BEYOND, Severity.LOW)]
    findings, section = apply_policy([], obs, policy(Expectation("/items", public=True)), DAY)
    assert findings == []
    assert section is not None and section["observed"][0]["public"] is True


def test_a_reader_whose_cookie_did_not_go_falls_short_and_unknown_is_not_short() -> None:
    obs = [
        legit(id="l1", cookie_sent=False),  # readable, but anonymous: the cookie stayed home
        legit(id="l2", engine=Engine.FIREFOX, outcome=Outcome.ERROR, error="page crashed"),
    ]
    findings, section = apply_policy([], obs, policy(Expectation("/items")), DAY)
    (f,) = findings
    assert (f.rule, f.origins, f.engines, f.probes) == (SHORT, (APP,), (Engine.CHROMIUM,), ("l1",))
    assert section is not None
    row = section["observed"][0]
    assert row["short"][0]["where"] == ["chromium/default"]
    assert row["unknown"] == [{"origin": APP, "where": "firefox/default", "reason": "page crashed"}]


def test_a_declared_reader_never_probed_is_unknown() -> None:
    other = "https://other.example.com"
    findings, section = apply_policy(
        [], [legit(id="l1")], policy(Expectation("/items", (APP, other))), DAY
    )
    assert findings == []
    assert section is not None
    assert section["observed"][0]["unknown"] == [
        {"origin": other, "reason": "not probed in this run"}
    ]


def test_an_accepted_risk_is_marked_until_its_day_then_fails_again() -> None:
    accept = Acceptance("any-origin-read", "SEC-12", EVIL, dt.date(2026, 12, 1))
    pol = policy(Expectation("/items", accept=(accept,)))
    (f,), _ = apply_policy([attacker_finding()], [], pol, DAY)
    assert f.accepted is not None and (f.accepted.reason, f.accepted.until) == (
        "SEC-12",
        "2026-12-01",
    )
    (f,), _ = apply_policy([attacker_finding()], [], pol, DAY + dt.timedelta(days=1))
    assert f.accepted is None and "ran out on 2026-12-01: SEC-12" in f.detail


def test_an_acceptance_for_one_origin_does_not_cover_another() -> None:
    accept = Acceptance("any-origin-read", "SEC-12", "https://other.example")
    (f,), _ = apply_policy(
        [attacker_finding()], [], policy(Expectation("/items", accept=(accept,))), DAY
    )
    assert f.accepted is None and "only for some of these origins" in f.detail


def test_the_last_matching_readable_by_wins_and_patterns_match_paths_and_urls() -> None:
    pol = policy(Expectation("/*", ("https://a.example",)), Expectation(f"{T}*", (APP,)))
    assert pol.readers(T) == (APP,)
    assert pol.readers("https://api.example.com/other") == ("https://a.example",)
    assert policy().readers(T) == (APP,)  # no expectation: the environment's origins


def test_a_reader_is_a_reader_where_any_credentialed_probe_read_with_the_session() -> None:
    obs = [legit(id="l1"), legit(id="l2", shape="preflight-json", outcome=Outcome.BLOCKED)]
    findings, section = apply_policy([], obs, policy(Expectation("/items")), DAY)
    # The blocked shape is legit-origin-blocked's business (the run's own rule), not a reader
    # falling short of readable_by: the origin read with the session in that profile.
    assert findings == []
    assert section is not None and section["observed"][0]["short"] == []

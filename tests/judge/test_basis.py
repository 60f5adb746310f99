"""A finding says whether it was verified on its endpoint or repeats an equivalent one."""

from __future__ import annotations

from builders import observation

from harness.judge.basis import with_basis
from harness.model.results import Engine, Finding, Severity

REP = "https://api.example.com/a"
MEMBER = "https://api.example.com/b"


def finding(target: str, probes: tuple[str, ...], detail: str = "One line.") -> Finding:
    return Finding(
        "any-origin-read",
        Severity.HIGH,
        "t",
        target,
        ("null",),
        (Engine.CHROMIUM,),
        probes,
        detail=detail,
    )


def test_a_run_without_repeats_is_left_alone() -> None:
    obs = [observation(id="m1", target=REP)]
    f = finding(REP, ("m1",))
    assert with_basis([f], obs) == [f]


def test_repeats_only_say_equivalent_and_where_witnessed() -> None:
    obs = [
        observation(id="r1", target=REP),
        observation(id="w1", target=MEMBER, engine=Engine.FIREFOX),
        observation(id="w2", target=MEMBER, engine=Engine.CHROMIUM),
        observation(id="x1", target=MEMBER, equivalent_to=REP),
    ]
    rep, member = with_basis([finding(REP, ("r1",)), finding(MEMBER, ("x1",))], obs)
    assert rep.equivalent_to is None
    assert rep.detail == "Detail: One line.\nBasis: verified on this endpoint in chromium"
    assert member.equivalent_to == REP
    assert member.witnessed_in == (Engine.CHROMIUM, Engine.FIREFOX)
    assert member.detail.endswith(f"Basis: equivalent to {REP}, witnessed in chromium, firefox")


def test_one_measured_probe_makes_a_finding_verified() -> None:
    obs = [
        observation(id="r1", target=REP),
        observation(id="w1", target=MEMBER),
        observation(id="x1", target=MEMBER, equivalent_to=REP),
    ]
    (f,) = with_basis([finding(MEMBER, ("x1", "w1"), "Reads: yes\nWhy: no")], obs)
    assert f.equivalent_to is None
    assert f.detail == "Reads: yes\nWhy: no\nBasis: verified on this endpoint in chromium"


def test_a_repeat_is_judged_against_its_representatives_answers() -> None:
    from harness.judge.victim import whose_data

    anon = "hash-anonymous"
    mine = "hash-victim-of-b"
    theirs = "hash-victim-of-a"

    def answer(id: str, target: str, cookie: bool, body: str, **kw: object) -> object:
        return observation(
            id=id, target=target, cookie_sent=cookie, wire_status=200, wire_body_hash=body, **kw
        )

    obs = [
        answer("a-anon", REP, False, anon),
        answer("a-cred", REP, True, theirs),
        answer("b-anon", MEMBER, False, anon),
        answer("b-cred", MEMBER, True, mine),
        # b's repeat of a's credentialed answer: a's body, not b's.
        answer("b-rep", MEMBER, True, theirs, equivalent_to=REP),
    ]
    found = whose_data(obs)  # type: ignore[arg-type]
    assert found["b-rep"].victim is True
    # The repeat does not make b's own answers look as if they varied.
    assert found["b-cred"].victim is True

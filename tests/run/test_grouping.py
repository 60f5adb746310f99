"""Grouping endpoints that share a policy: the stages, against a fake browser."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from harness.model.results import (
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    HttpExchange,
    Observation,
    Origin,
    Outcome,
    ProbeSpec,
    Role,
)
from harness.run.grouping import (
    GroupSummary,
    group,
    obs_slot,
    probe_slot,
    reader_keys,
    run_grouped,
    usable,
    witness_keys,
)
from scenarios.catalogue import expand_origins
from scenarios.plan import build_plan
from scenarios.shapes import default_shapes

APP = Origin.parse("https://app.example.com")
API = "https://api.example.com"

Policy = Callable[[ProbeSpec], Outcome]


def reflects(spec: ProbeSpec) -> Outcome:
    return Outcome.READABLE


def strict(spec: ProbeSpec) -> Outcome:
    return Outcome.READABLE if spec.variant.role is Role.LEGITIMATE else Outcome.BLOCKED


def specs_for(paths: list[str]) -> list[ProbeSpec]:
    variants = expand_origins([APP], [Origin.from_url(API)])
    return build_plan(
        [f"{API}/{p}" for p in paths], variants, default_shapes(unsafe=False, lab=False)
    )


class FakeBrowser:
    """Runs probes by looking up each endpoint's policy; counts what it was asked."""

    def __init__(self, policies: dict[str, Policy]) -> None:
        self.policies = policies
        self.observations: dict[str, Observation] = {}
        self.asked: list[str] = []

    def observe(self, spec: ProbeSpec) -> Observation:
        path = spec.target.removeprefix(API + "/")
        outcome = self.policies[path](spec)
        return Observation(
            id=spec.id,
            engine=Engine.CHROMIUM,
            cookie_policy=CookiePolicy.DEFAULT,
            target=spec.target,
            origin=spec.variant.origin.serialize(),
            origin_class=spec.variant.klass,
            role=spec.variant.role,
            via=spec.variant.via,
            page_origin=spec.variant.origin.serialize(),
            shape=spec.shape.name,
            method=spec.shape.method,
            api=spec.api,
            credentials=spec.credentials,
            outcome=outcome,
            status=200,
            cookie_sent=spec.credentials is Credentials.INCLUDE,
        )

    async def probe(self, part: list[ProbeSpec]) -> None:
        for spec in part:
            self.asked.append(spec.id)
            self.observations[spec.id] = self.observe(spec)

    def record(self, obs: Observation) -> Observation:
        self.observations[obs.id] = obs
        return obs

    async def replay(self, part: list[ProbeSpec]) -> dict[str, Evidence | None]:
        """The server's answer from Python: ACAO names the origin wherever it reads."""
        out: dict[str, Evidence | None] = {}
        for spec in part:
            origin = spec.variant.origin.serialize()
            allowed = self.observe(spec).outcome is Outcome.READABLE
            headers = (("Access-Control-Allow-Origin", origin),) if allowed else ()
            actual = HttpExchange("GET", spec.target, (), 200, headers)
            out[spec.id] = Evidence(
                spec.id, spec.target, origin, spec.shape.name, spec.credentials, None, actual
            )
        return out

    def run(self, specs: list[ProbeSpec], *, replay: bool = True) -> GroupSummary | None:
        evidence: dict[str, Evidence] = {}
        return asyncio.run(
            run_grouped(
                specs,
                probe=self.probe,
                observed=lambda: self.observations,
                record=self.record,
                probe_id=lambda s: s.id,
                evidence=evidence,
                stopped=lambda: False,
                replay=self.replay if replay else None,
            )
        )


def test_members_that_agree_repeat_the_representative() -> None:
    specs = specs_for(["a", "b", "c"])
    fake = FakeBrowser({"a": strict, "b": strict, "c": strict})
    summary = fake.run(specs)
    assert summary == GroupSummary(3, 1, 2, ())
    # Every probe of every endpoint has an observation, exactly once.
    assert set(fake.observations) == {s.id for s in specs}
    assert len(fake.asked) == len(set(fake.asked))
    witnessed = witness_keys(specs)
    for spec in specs:
        obs = fake.observations[spec.id]
        on_rep = spec.target.endswith("/a")
        if on_rep or spec.variant.key in witnessed:
            assert obs.equivalent_to is None, spec.id
        else:
            assert obs.equivalent_to == f"{API}/a", spec.id
            assert obs.target == spec.target
            assert obs_slot(obs) == probe_slot(spec)
    # The members ran only their witness set: far fewer probes than the catalogue.
    assert len(fake.asked) < len(specs) * 0.75


def test_every_origin_that_reads_the_representative_is_witnessed_on_members() -> None:
    specs = specs_for(["a", "b"])
    fake = FakeBrowser({"a": reflects, "b": reflects})
    summary = fake.run(specs)
    assert summary is not None and summary.equivalent == 1
    # A reflecting policy lets every origin read: the member runs every origin.
    member = [s for s in specs if s.target.endswith("/b")]
    assert all(fake.observations[s.id].equivalent_to is None for s in member)


def test_a_member_that_answers_differently_runs_in_full() -> None:
    specs = specs_for(["a", "b"])
    fake = FakeBrowser({"a": strict, "b": reflects})
    summary = fake.run(specs)
    assert summary == GroupSummary(2, 2, 0, ())  # told apart by the witness set
    assert not any(o.equivalent_to for o in fake.observations.values())
    assert set(fake.observations) == {s.id for s in specs}


def test_a_member_whose_reader_witness_disagrees_runs_in_full() -> None:
    specs = specs_for(["a", "b"])
    witnessed = witness_keys(specs)
    outside = next(s.variant.key for s in specs if s.variant.key not in witnessed)

    def reads_one(spec: ProbeSpec) -> Outcome:
        return Outcome.READABLE if spec.variant.key == outside else strict(spec)

    fake = FakeBrowser({"a": reads_one, "b": strict})
    summary = fake.run(specs)
    # Same witness answers, so grouped; the representative's extra reader is then
    # witnessed on the member, which blocks it: the member runs everything itself.
    assert summary == GroupSummary(2, 1, 0, (f"{API}/b",))
    assert not any(o.equivalent_to for o in fake.observations.values())
    assert set(fake.observations) == {s.id for s in specs}


def test_a_witness_that_ended_in_error_is_not_grouped_on() -> None:
    specs = specs_for(["a", "b"])

    def flaky(spec: ProbeSpec) -> Outcome:
        return Outcome.ERROR if spec.variant.role is Role.LEGITIMATE else Outcome.BLOCKED

    fake = FakeBrowser({"a": strict, "b": flaky})
    summary = fake.run(specs)
    assert summary is not None and summary.equivalent == 0
    assert not any(o.equivalent_to for o in fake.observations.values())


def test_grouping_needs_two_endpoints_and_both_roles() -> None:
    assert not usable(specs_for(["a"]))
    both = specs_for(["a", "b"])
    assert usable(both)
    assert not usable([s for s in both if s.variant.role is not Role.LEGITIMATE])


def test_groups_keep_plan_order_and_lone_endpoints() -> None:
    groups = group({"x": 1, "y": 2, "z": 1, "w": None}, ["x", "y", "z", "w"])
    assert groups == {"x": ["z"], "y": [], "w": []}


def test_reader_keys_add_a_blocked_origin_of_a_class_whose_witness_read() -> None:
    specs = specs_for(["a"])
    witnessed = witness_keys(specs)
    by_class: dict[str, list[str]] = {}
    for s in specs:
        keys = by_class.setdefault(s.variant.klass, [])
        if s.variant.key not in keys:
            keys.append(s.variant.key)
    keys = next(v for v in by_class.values() if len(v) > 1)
    first, second = keys[0], keys[1]
    assert first in witnessed and second not in witnessed

    def obs(key: str, outcome: Outcome) -> Observation:
        spec = next(s for s in specs if s.variant.key == key)
        return dataclasses.replace(FakeBrowser({"a": strict}).observe(spec), outcome=outcome)

    rep = [obs(first, Outcome.READABLE), obs(second, Outcome.BLOCKED)]
    assert reader_keys(rep, specs, witnessed) == {second}
    # A blocked witness needs no spare: the class is covered.
    assert reader_keys([obs(first, Outcome.BLOCKED)], specs, witnessed) == set()


@pytest.mark.parametrize("n", [2, 5])
def test_nothing_is_probed_twice(n: int) -> None:
    paths = [f"p{i}" for i in range(n)]
    fake = FakeBrowser({p: strict for p in paths})
    fake.run(specs_for(paths))
    assert len(fake.asked) == len(set(fake.asked))


def test_an_origin_only_the_member_trusts_is_found_by_the_replay() -> None:
    specs = specs_for(["a", "b"])
    witnessed = witness_keys(specs)
    outside = next(s.variant.key for s in specs if s.variant.key not in witnessed)

    def trusts_one_more(spec: ProbeSpec) -> Outcome:
        return Outcome.READABLE if spec.variant.key == outside else strict(spec)

    policies: dict[str, Policy] = {"a": strict, "b": trusts_one_more}
    # The browsers alone cannot see it: the witnesses agree and the member would
    # repeat the representative's block of that origin.
    blind = FakeBrowser(policies)
    assert blind.run(specs, replay=False) == GroupSummary(2, 1, 1, ())
    # The server's own answers, replayed on every probe a member would repeat, differ:
    # the member runs in full and its extra reader is measured.
    fake = FakeBrowser(policies)
    assert fake.run(specs) == GroupSummary(2, 1, 0, (f"{API}/b",))
    read = [
        o
        for o in fake.observations.values()
        if o.target.endswith("/b") and o.outcome is Outcome.READABLE and o.role is Role.ATTACKER
    ]
    assert read and all(o.equivalent_to is None for o in read)


def test_a_witness_lost_on_every_endpoint_does_not_stop_grouping() -> None:
    specs = specs_for(["a", "b"])
    lost = next(s.variant.key for s in specs if s.variant.role is Role.ATTACKER)

    def losing(spec: ProbeSpec) -> Outcome:
        return Outcome.ERROR if spec.variant.key == lost else strict(spec)

    fake = FakeBrowser({"a": losing, "b": losing})
    summary = fake.run(specs)
    assert summary is not None and summary.equivalent == 1
    # The lost origin stays unknown on the member: it is its own error, never a repeat.
    member_lost = [
        o for o in fake.observations.values() if o.target.endswith("/b") and o.origin in lost
    ]
    assert member_lost and all(
        o.outcome is Outcome.ERROR and not o.equivalent_to for o in member_lost
    )

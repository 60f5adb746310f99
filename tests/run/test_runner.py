"""Runner logic that needs no browser: the plan a run makes, and how the lab's log
becomes a cookie witness."""

from __future__ import annotations

import asyncio
import time

from builders import observation

from harness.cli import build_parser, config_from_args
from harness.model.results import Credentials, Evidence, HttpExchange, ProbeSpec
from harness.run.lablog import LabLog
from harness.run.outcomes import ev_key
from harness.run.runner import Runner
from harness.serve.lab import Lab, LabRequest
from scenarios.plan import Plan, make_plan

TAG = "corsproof (chromium-default)"


def _request(lab: Lab, *, origin: str, cookie: bool, ua: str = TAG, method: str = "GET") -> None:
    lab._record(
        LabRequest(
            time=time.time(),
            method=method,
            path="/allowlist/private",
            policy="allowlist",
            origin=origin,
            cookies=(lab.session_cookie_name,) if cookie else (),
            has_authorization=False,
            acr_method=None,
            acr_headers=None,
            host="api.example.com",
            user_agent=f"Mozilla/5.0 {ua}",
        )
    )


def test_witness_counts_only_the_batch_that_asked() -> None:
    # Three variants send Origin: null. A request an earlier null page made with the
    # cookie must not be credited to a later one whose own request had none: the
    # answer would then depend on which page the scheduler ran first.
    lab = Lab()
    log = LabLog(lab)
    _request(lab, origin="null", cookie=True)  # another null variant, earlier
    mark = log.read()
    _request(lab, origin="null", cookie=False)  # this batch
    _request(lab, origin="null", cookie=True, ua="corsproof (chromium-permissive)")
    _request(lab, origin="https://evil.test", cookie=True)
    assert log.cookies_since((TAG, "null"), mark) == {("/allowlist/private", "GET"): False}


def test_witness_is_true_when_any_request_of_the_batch_carried_the_cookie() -> None:
    lab = Lab()
    log = LabLog(lab)
    mark = log.read()
    _request(lab, origin="null", cookie=False)
    _request(lab, origin="null", cookie=True)
    _request(lab, origin="null", cookie=False, method="OPTIONS")
    assert log.cookies_since((TAG, "null"), mark) == {("/allowlist/private", "GET"): True}
    # Consumed: the next batch with this Origin starts from nothing.
    assert log.cookies_since((TAG, "null"), log.read()) == {}


def _plan(*argv: str) -> Plan:
    config = config_from_args(build_parser().parse_args(["verify", *argv]))
    return make_plan(config, Lab().target_urls())


def test_shards_divide_the_origins_so_each_opens_only_its_own_contexts() -> None:
    whole = _plan()
    parts = [_plan("--shard", f"{i}/4") for i in range(1, 5)]
    assert sorted(s.id for p in parts for s in p.specs) == sorted(s.id for s in whole.specs)
    origins = [{s.variant.key for s in p.specs} for p in parts]
    assert sum(len(o) for o in origins) == len({s.variant.key for s in whole.specs})
    assert all(len(o) < len(whole.variants) / 2 for o in origins)


def test_an_empty_shard_says_why() -> None:
    plan = _plan("--per-class", "1", "--shard", "99/100")
    assert plan.specs == ()
    assert any("Shard 99/100 holds no probes" in note for note in plan.notes)


def test_the_wire_is_held_against_the_log_and_the_first_disagreement_is_returned() -> None:
    lab = Lab()
    log = LabLog(lab)
    config = config_from_args(build_parser().parse_args(["verify"]))
    spec = next(
        s
        for s in make_plan(config, lab.target_urls()).specs
        if s.credentials is Credentials.INCLUDE
        and s.target.endswith("/allowlist/private")
        and s.shape.method == "GET"
    )
    logged = {("/allowlist/private", "GET"): True}
    agree = observation(id="a", cookie_sent=True, wire_status=200)
    wrong = observation(id="b", cookie_sent=False, wire_status=200)
    unreached = observation(id="c", cookie_sent=None, wire_status=None)
    assert log.check(agree, spec, logged) is None
    assert log.check(wrong, spec, logged) == {"probe": "b", "wire": False, "lab_log": True}
    assert log.check(wrong, spec, logged) is None  # warned once; still counted
    assert log.check(unreached, spec, logged) is None  # never reached: not compared
    assert log.summary()["compared"] == 3 and len(log.summary()["disagreements"]) == 2


# ------------------------------------------- grouping's replay: each request once a run


class CountingReplayer:
    """Answers every replay with a full exchange, counting each request it sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = asyncio.Event()

    async def evidence_for(self, spec: ProbeSpec) -> Evidence:
        self.sent.append(ev_key(spec))
        await self.gate.wait()
        origin = spec.variant.origin.serialize()
        actual = HttpExchange(
            "GET",
            spec.target,
            (("Origin", origin), ("Cookie", "session=s3cret")),
            200,
            (("Access-Control-Allow-Origin", origin), ("Content-Type", "text/plain")),
        )
        return Evidence(
            ev_key(spec), spec.target, origin, spec.shape.name, spec.credentials, None, actual
        )


def _runner_with(replayer: CountingReplayer) -> tuple[Runner, list[ProbeSpec]]:
    cfg = config_from_args(build_parser().parse_args(["verify", "--per-class", "1"]))
    runner = Runner(cfg, lab=Lab())
    runner._replayer = replayer  # type: ignore[assignment]
    specs = list(make_plan(cfg, ["https://api.example.com/allowlist/private"]).specs[:40])
    return runner, specs


def test_engines_share_one_replay_of_each_request() -> None:
    replayer = CountingReplayer()
    runner, specs = _runner_with(replayer)

    async def go() -> list[dict[str, Evidence | None]]:
        waiting = [asyncio.ensure_future(runner._replay_answers(specs)) for _ in range(3)]
        await asyncio.sleep(0)
        replayer.gate.set()
        return list(await asyncio.gather(*waiting))

    first, *others = asyncio.run(go())
    assert sorted(replayer.sent) == sorted({ev_key(s) for s in specs})  # once each
    assert all(other == first for other in others)
    ev = first[specs[0].id]
    assert ev is not None and ev.actual is not None and ev.actual.status == 200
    # Kept small: what grouping compares, without the request or other headers.
    assert ev.actual.request_headers == ()
    assert [k for k, _ in ev.actual.response_headers] == ["Access-Control-Allow-Origin"]


def test_a_cancelled_engine_does_not_cancel_anothers_replay() -> None:
    replayer = CountingReplayer()
    runner, specs = _runner_with(replayer)

    async def go() -> dict[str, Evidence | None]:
        gone = asyncio.ensure_future(runner._replay_answers(specs))
        for _ in range(3):  # until its replays are sent and it waits for the answers
            await asyncio.sleep(0)
        stays = asyncio.ensure_future(runner._replay_answers(specs))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
        replayer.gate.set()
        return await stays

    answers = asyncio.run(go())
    assert all(answers[s.id] is not None for s in specs)
    assert len(replayer.sent) == len({ev_key(s) for s in specs})

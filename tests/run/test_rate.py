"""--rate protects the target: the browsers' in-page probes and the evidence replay
share one limit, measured by the target itself.

A counting server on loopback (``counting_server.py``, its own process) records when
every request reached it, preflights included; verify runs against it with Chromium,
and in no one-second window may the server's log hold more than ``--rate`` requests
plus a small tolerance. The totals are checked against what the plan should send, so
a run that sends nothing cannot pass. The unit tests of ``RateLimiter.reserve`` run
on a fake clock.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from conftest import needs_chromium, only_classes

from harness.cli import build_parser, config_from_args, main
from harness.config import RunConfig
from harness.model.results import ProbeSpec, Via
from harness.run.pacing import BATCH, Pacer, slots_of
from harness.run.replay import RateLimiter
from scenarios.plan import make_plan

LEGIT = "https://app.example.com"
RATE = 5
"""Requests per second for the browser test: low, so that the test's own timing noise
(below) stays a request or two."""
SLACK = 2
"""Requests a one-second window may hold beyond ``RATE`` however well the run goes: one
because a closed window that starts on a slot also holds the slot one second later,
one for a timer in the page that fires a little late."""
QUICK = only_classes("null")
"""Legitimate, unrelated and the three kinds of ``null`` origin (two opaque frames and
a redirect), five pages of five probes: every path a probe takes to the target."""
UNPRODUCIBLE = "https://app.example.com*.evil.test"


# --- RateLimiter.reserve: pure, on a fake clock ------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reserve_books_consecutive_slots_that_never_overlap() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    assert limiter.interval == pytest.approx(0.1)
    # The first booking starts now; the next one starts where the first ends.
    assert limiter.reserve(3) == pytest.approx((0.0, 0.1))
    assert limiter.reserve(2) == pytest.approx((0.3, 0.1))
    clock.now += 0.1
    assert limiter.reserve(1) == pytest.approx((0.4, 0.1))
    # Once the booked slots are in the past, a booking starts now again: idle
    # time is not saved up into a burst.
    clock.now += 10
    assert limiter.reserve(4) == pytest.approx((0.0, 0.1))
    assert limiter.reserve(1) == pytest.approx((0.4, 0.1))


def test_reserve_and_wait_share_one_timeline(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock)
    starts: list[float] = []
    for n in (1, 3, 2, 1):
        delay, interval = limiter.reserve(n)
        starts += [clock.now + delay + k * interval for k in range(n)]
    # Seven slots a quarter second apart, in booking order: never more than the rate.
    assert starts == pytest.approx([100 + k * 0.25 for k in range(7)])
    assert limiter.reserve(0) == (0.0, 0.25)  # nothing booked

    # wait() (the replay's way) books the next slot on the same timeline and sleeps
    # until it. The fake clock does not move: the sleep proves the order, not speed.
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    asyncio.run(limiter.wait())
    assert slept == pytest.approx([7 * 0.25])
    assert limiter.reserve(1) == pytest.approx((8 * 0.25, 0.25))


def test_reserve_not_before_leaves_room_to_get_ready() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    # A caller that needs 0.25 s to reach the page books from then, not from now...
    assert limiter.reserve(2, not_before=0.25) == pytest.approx((0.25, 0.1))
    # ...and the next booking follows it as usual.
    assert limiter.reserve(1) == pytest.approx((0.45, 0.1))
    # Behind a queue, not_before changes nothing.
    assert limiter.reserve(1, not_before=0.1) == pytest.approx((0.55, 0.1))


def test_rate_zero_is_unlimited() -> None:
    limiter = RateLimiter(0)
    assert limiter.interval == 0
    assert limiter.reserve(1000) == (0.0, 0.0)
    assert limiter.reserve(1000) == (0.0, 0.0)


def _plan(*extra: str) -> tuple[RunConfig, list[ProbeSpec]]:
    ns = build_parser().parse_args(
        ["verify", "--target", "https://api.example.org/me", "--per-class", "1", *extra]
    )
    config = config_from_args(ns)
    return config, list(make_plan(config, config.targets).specs)


def _pacer(rate: float) -> Pacer:
    return Pacer(RateLimiter(rate), timeout=10, concurrency=6)


def testslots_of_counts_what_reaches_the_target() -> None:
    _, specs = _plan()
    direct = [s for s in specs if s.variant.via is not Via.REDIRECT]
    assert {(s.shape.preflighted, slots_of(s)) for s in direct} == {(False, 1), (True, 2)}
    # Through the redirector the request reaches the target a hop later: one spare slot.
    bounced = [s for s in specs if s.variant.via is Via.REDIRECT]
    assert {(s.shape.preflighted, slots_of(s)) for s in bounced} == {(False, 2), (True, 3)}
    # The user's Authorization header rides on the token shape: preflighted, two slots.
    _, specs = _plan("--header", "Authorization: Bearer x")
    token = [s for s in specs if s.shape.token and s.variant.via is not Via.REDIRECT]
    assert token and all(slots_of(s) == 2 for s in token)


def test_chunks_hold_about_one_second_of_slots_only_under_a_rate() -> None:
    _, specs = _plan()
    specs = specs * 30  # a long plan
    # Unlimited (the lab): the batches are as large as ever.
    assert [len(c) for c in _pacer(0).chunks(specs)][:2] == [BATCH, BATCH]
    chunks = _pacer(20).chunks(specs)
    assert sum(len(c) for c in chunks) == len(specs)
    assert all(sum(slots_of(s) for s in c) <= 20 for c in chunks)
    # Below two a second a chunk still holds two slots: a preflighted probe needs them.
    chunks = _pacer(0.5).chunks(specs[:10])
    assert sum(len(c) for c in chunks) == 10
    assert all(sum(slots_of(s) for s in c) <= 2 for c in chunks)


def busiest_window(times: Sequence[float], width: float = 1.0) -> tuple[int, int]:
    """``(count, first)``: the most arrivals in any window ``[t, t + width]`` that starts
    on an arrival, and the index (in sorted order) of the arrival it starts on."""
    ordered = sorted(times)
    best, first, j = 0, 0, 0
    for i, start in enumerate(ordered):
        j = max(j, i)
        while j < len(ordered) and ordered[j] - start <= width:
            j += 1
        if j - i > best:
            best, first = j - i, i
    return best, first


def max_per_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most arrivals in any window ``[t, t + width]`` that starts on an arrival."""
    return busiest_window(times, width)[0]


def test_max_per_window() -> None:
    assert max_per_window([]) == 0
    assert max_per_window([0.0, 0.5, 1.0, 1.01, 2.5]) == 3
    assert max_per_window([k * 0.05 for k in range(100)]) == 21


# --- the whole run against a counting target ---------------------------------------


@dataclass(frozen=True)
class Hit:
    at: float
    method: str
    origin: str | None
    user_agent: str


class CountingTarget:
    """``counting_server.py`` in its own process: its URL and the requests it logged."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self._log = log

    def hits(self) -> list[Hit]:
        rows = [json.loads(line) for line in self._log.read_text().splitlines()[1:] if line]
        return [Hit(r["at"], r["method"], r["origin"], r["ua"]) for r in rows]


@pytest.fixture
def counting_target(tmp_path: Path) -> Iterator[CountingTarget]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, log = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "hits.jsonl"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    server = Path(__file__).parent.parent / "counting_server.py"
    proc = subprocess.Popen([sys.executable, str(server), str(cert), str(key), str(log)])
    try:
        deadline = time.monotonic() + 20
        while not (log.exists() and log.read_text().endswith("\n")):
            assert proc.poll() is None, "counting server exited"
            assert time.monotonic() < deadline, "counting server did not start"
            time.sleep(0.05)
        port = json.loads(log.read_text().splitlines()[0])["port"]
        yield CountingTarget(f"https://127.0.0.1:{port}/me", log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Expected:
    """What the run should have sent the target, read from its own report."""

    browser_actual: int
    """One actual request per probe the engine sent (it could load the origin's page)."""
    browser_preflights: tuple[int, int]
    """OPTIONS from the browser, at least and at most: Chromium does not preflight
    again after the harness's redirector bounced a preflighted request to the target."""
    replay: int
    """The Python replay: one reachability request per target up front, then each
    replayed evidence's preflight and actual request (requests no browser made)."""


def expected_requests(data: dict[str, Any]) -> Expected:
    sent = [p for p in data["probes"] if p["outcome"] not in ("not-producible", "error")]
    preflighted = [p for p in sent if p["preflighted"]]
    direct = [p for p in preflighted if p["via"] != "redirect"]
    replay = len(data["targets"]) + sum(
        (x is not None and x.get("source") == "replay")
        for ev in data["evidence"]
        for x in (ev.get("preflight"), ev.get("actual"))
    )
    return Expected(len(sent), (len(direct), len(preflighted)), replay)


@pytest.mark.browser
@needs_chromium
def test_rate_limits_browser_probes_and_replay_together(
    counting_target: CountingTarget, tmp_path: Path
) -> None:
    url = counting_target.url
    err = io.StringIO()
    code = main(
        [
            "verify",
            "--target",
            url,
            "--allow-origin",
            LEGIT,
            "--insecure",
            "--browser",
            "chromium",
            "--per-class",
            "1",
            "--rate",
            str(RATE),
            *QUICK,
            # No engine can give a page this origin (Chromium percent-encodes the "*"),
            # so the Python replay sends its requests, under the same budget.
            "--origin",
            UNPRODUCIBLE,
            "--format",
            "json",
            "--out",
            str(tmp_path),
            "--run-id",
            "rate",
            "--quiet",
        ],
        out=io.StringIO(),
        err=err,
    )
    data = json.loads((tmp_path / "rate" / "report.json").read_text())
    assert code in (0, 1), err.getvalue()
    assert not data["partial"], data["errors"]
    errors = [p for p in data["probes"] if p["outcome"] == "error"]
    assert not errors, errors[:3]
    # Every origin the engine could produce read the answer: the allow-all target
    # let each preflight through, so each preflighted probe sent two requests.
    producible = [p for p in data["probes"] if p["outcome"] != "not-producible"]
    assert producible and all(p["readable"] for p in producible)

    hits = counting_target.hits()
    replay = [h for h in hits if h.user_agent == "corsproof-replay"]
    browser = [h for h in hits if h.user_agent != "corsproof-replay"]
    want = expected_requests(data)
    # The browsers' own exchanges are the evidence; the replay only checks the target
    # and fills in for origins no engine could produce (special characters here).
    assert want.browser_actual >= 20 and want.replay >= 3
    assert len(replay) == want.replay
    assert sum(h.method != "OPTIONS" for h in browser) == want.browser_actual
    low, high = want.browser_preflights
    assert low <= sum(h.method == "OPTIONS" for h in browser) <= high

    hits.sort(key=lambda h: h.at)
    worst, first = busiest_window([h.at for h in hits])
    start, span = hits[first].at, hits[-1].at - hits[0].at
    busiest = [
        f"+{h.at - start:.3f}s {h.method} {h.origin} {'replay' if h in replay else 'browser'}"
        for h in hits[first : first + worst]
    ]
    # The limiter spaces the moments requests start; the server sees when they arrive.
    # On the way (harness proxy, redirector hop, a new TLS connection, on a busy
    # machine a wait for the CPU) a request can be held up, then arrive together with
    # requests started up to that long after it. The target answers at once, so the
    # slowest probe's start-to-answer time bounds the hold-up; over a second, a hold-up
    # of d can add at most RATE * d requests to a window.
    held = min(1.0, max(p["elapsed_ms"] or 0 for p in producible) / 1000)
    allowed = RATE + SLACK + math.ceil(RATE * held)
    print(
        f"{len(hits)} requests in {span:.1f}s, at most {worst} in one second "
        f"(rate {RATE}, allowed {allowed}: slowest probe {held * 1000:.0f} ms)"
    )
    print("busiest second:", *busiest, sep="\n  ")
    assert worst <= allowed, busiest

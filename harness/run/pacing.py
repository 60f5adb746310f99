"""Pacing: how probes are cut into page batches, and how batches keep to --rate.

A :class:`Pacer` belongs to one run. It books request slots on the run's
:class:`~harness.run.replay.RateLimiter` (the replay shares it), learns each
browser's clock offset and how early a batch must leave to meet its booking, and
runs a batch in an origin page, retrying probes that timed out once, alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from harness.engines.playwright import OriginPage
from harness.model.cors import needs_preflight
from harness.model.results import ProbeSpec, Via
from harness.run.replay import RateLimiter

BATCH = 120
"""Probes per ``evaluate`` call: large enough to amortise the round trip, small
enough that progress and partial results keep flowing."""

MAX_STALLS = 3
"""Under --rate: after this many batches in a row reached the page too late to start
anything, the next one may start its first probe late, so that a very slow machine
still makes progress."""
MIN_LEAD, MAX_LEAD = 0.02, 2.0
"""Under --rate, the bounds of how many seconds before its booking a batch is sent to
the page (it waits there for the booking; one that arrives late loses slots)."""


def slots_of(spec: ProbeSpec) -> int:
    """Rate-limit slots one probe books: the requests it sends to the target (a
    preflight and the actual, or the actual), and for a redirect variant one more.

    A redirect variant's request goes to the harness's redirector first and reaches
    the target only after that hop, at a time the page does not control; the spare
    slot keeps it from landing on the next probe's slot. What the redirector itself
    receives does not count against --rate.
    """
    sent = 2 if needs_preflight(spec.shape.method, spec.headers) else 1
    return sent + (1 if spec.variant.via is Via.REDIRECT else 0)


class Pacer:
    """Batches and --rate pacing for one run's pages."""

    def __init__(self, limiter: RateLimiter, *, timeout: float, concurrency: int) -> None:
        self.limiter = limiter
        """The run's --rate limiter: the replay and every page share it."""
        self.timeout = timeout
        self.concurrency = concurrency
        self._clocks: dict[str, tuple[float, float, float]] = {}
        """Per browser: the narrowest range measured for its clock minus ours (ms), and
        how long before its booking a batch is sent (s)."""

    def chunks(self, specs: list[ProbeSpec]) -> list[list[ProbeSpec]]:
        """The ``evaluate`` batches of one page.

        Unlimited: :data:`BATCH` probes each. Under --rate, also at most about one
        second of request slots, so a booking never holds the target's budget for
        long, progress keeps flowing and cancellation stays prompt.
        """
        if not self.limiter.interval:
            return [specs[i : i + BATCH] for i in range(0, len(specs), BATCH)]
        cap = max(2, int(self.limiter.rate))
        chunks: list[list[ProbeSpec]] = []
        current: list[ProbeSpec] = []
        used = 0
        for spec in specs:
            need = slots_of(spec)
            if current and (used + need > cap or len(current) >= BATCH):
                chunks.append(current)
                current, used = [], 0
            current.append(spec)
            used += need
        if current:
            chunks.append(current)
        return chunks

    async def run_paced(
        self,
        page: OriginPage,
        frame: str | None,
        batch: list[dict[str, Any]],
        limit: int,
        clock: str = "",
    ) -> list[dict[str, Any]] | str:
        """Run ``batch`` in the page (in an opaque ``frame`` of that kind if given) under --rate.

        Each round books one run of consecutive slots on the run's limiter for the
        requests the batch will send (``slots`` per probe, from :func:`slots_of`) and
        sends the batch just before the booking starts (by the page's round trip).
        The page spaces its request starts inside the booking, on its own clock, so
        time lost on the way counts against the batch, not against the next booking.
        Probes the page could not start inside the booking (its workers were busy
        with a slow target, or the batch came late) come back ``not_started`` and are
        booked again. With no limit this is exactly one ``evaluate``. Returns the
        page's results in batch order, or why the opaque-origin frame did not run.
        """
        if frame is not None and self.limiter.interval:
            # Load the frame before booking: its load time would eat the booking.
            wait = self.timeout + 5
            opened = await page.evaluate(
                "([kind, t]) => __corsproof.openFrame(kind, t)", [frame, int(wait * 1000)], wait + 5
            )
            if not isinstance(opened, dict) or not opened.get("ready"):
                return str(opened.get("error") if isinstance(opened, dict) else opened)
        skew = lead = 0.0
        if self.limiter.interval:
            skew, lead = await self._page_clock(page, clock)
        results: list[dict[str, Any] | None] = [None] * len(batch)
        pending = list(range(len(batch)))
        stalls = 0
        while pending:
            part = [batch[i] for i in pending]
            slots = sum(int(b.get("slots", 1)) for b in part)
            delay, interval = self.limiter.reserve(slots, not_before=lead)
            booked = (time.time() + delay) * 1000
            if delay > lead:
                await asyncio.sleep(delay - lead)
            pace = (
                # The page waits for its booking, or loses what is already past (this
                # loop woke late, the trip to the page took longer).
                {
                    "interval_ms": interval * 1000,
                    "booked_ms": booked + skew,
                    "window_ms": slots * interval * 1000,
                    "force": stalls >= MAX_STALLS,
                }
                if interval
                else None
            )
            budget = self.timeout * (len(part) / max(1, limit) + 2) + 10 + slots * interval + lead
            if frame is not None:
                reply = await page.evaluate(
                    "([kind, b, n, t, p]) => __corsproof.runInFrame(kind, b, n, t, p)",
                    [frame, part, limit, int(budget * 1000), pace],
                    budget + 5,
                )
                if not isinstance(reply, dict) or "results" not in reply:
                    return str(reply.get("error") if isinstance(reply, dict) else reply)
                raws = reply["results"]
            else:
                raws = await page.evaluate(
                    "([b, n, p]) => __corsproof.run(b, n, p)", [part, limit, pace], budget
                )
            left = []
            for i, raw in zip(pending, raws, strict=False):
                if raw.get("not_started"):
                    left.append(i)
                else:
                    results[i] = raw
            if left and len(left) == len(pending):
                # The batch reached the page after its booking had passed: send the
                # next one earlier, and after a few misses let the first probe go.
                if stalls >= MAX_STALLS:
                    raise RuntimeError("the probe page started none of its probes")
                stalls += 1
                lead = self._set_lead(clock, 2 * lead + interval)
            else:
                stalls = 0
                lead = self._set_lead(clock, 0.8 * lead)
            pending = left
        # A page that returned fewer results than it was given loses the rest, as
        # before: they are cut at the first missing one so the order holds.
        out: list[dict[str, Any]] = []
        for raw in results:
            if raw is None:
                break
            out.append(raw)
        return out

    async def _page_clock(self, page: OriginPage, clock: str) -> tuple[float, float]:
        """The page's clock minus ours (ms), and how early to send it a batch (s).

        The offset is the middle of the narrowest range read so far for this browser:
        a few milliseconds wide, and zero unless the browser runs on another machine.
        The lead starts at twice the round trip and learns from batches that came late.
        """
        asked = time.time()
        now_ms = float(await page.evaluate("() => Date.now()", None, self.timeout + 5))
        answered = time.time()
        low, high = now_ms - answered * 1000, now_ms + 1 - asked * 1000  # Date.now() floors
        lead = 2 * (answered - asked)
        seen = self._clocks.get(clock)
        if seen is not None:
            if seen[1] - seen[0] < high - low:
                low, high = seen[0], seen[1]
            lead = max(lead, seen[2])
        self._clocks[clock] = (low, high, lead)
        return (low + high) / 2, self._set_lead(clock, lead)

    def _set_lead(self, clock: str, lead: float) -> float:
        lead = min(MAX_LEAD, max(MIN_LEAD, lead))
        if clock in self._clocks:
            low, high, _ = self._clocks[clock]
            self._clocks[clock] = (low, high, lead)
        return lead

    async def run_chunk(
        self,
        page: OriginPage,
        frame: str | None,
        batch: list[dict[str, Any]],
        clock: str,
        retry_urls: Sequence[str] = (),
    ) -> list[dict[str, Any]] | str:
        """One batch in the page; probes that timed out are run once more, alone.

        A retried probe goes to ``retry_urls[i]`` (its second wire marker), so the wire
        record of each attempt stays apart; its result says ``attempt: 2``.
        """
        ran = await self.run_paced(page, frame, batch, self.concurrency, clock)
        if frame is None and isinstance(ran, list):
            # A timeout on a busy machine is not a verdict: retry those probes
            # once, one at a time, before calling them errors.
            again = [i for i, raw in enumerate(ran) if raw.get("timed_out")]
            if again:
                second = [
                    {**batch[i], "url": retry_urls[i]} if i < len(retry_urls) else batch[i]
                    for i in again
                ]
                retried = await self.run_paced(page, None, second, 1, clock)
                if isinstance(retried, list):  # always: only a frame answers with a str
                    for i, raw in zip(again, retried, strict=False):
                        ran[i] = {**raw, "attempt": 2}
        return ran

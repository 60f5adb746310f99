"""One verify run from start to report: measure (:mod:`harness.run`), then judge
(:mod:`harness.judge.assemble`). The CLI, the tools and the tests all start here."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.config import RunConfig
from harness.judge.assemble import assemble
from harness.model.results import RunReport
from harness.run.events import Sink
from harness.run.runner import Runner


def run_sync(config: RunConfig, *, lab: Any | None = None, sink: Sink | None = None) -> RunReport:
    """Run verify to completion from synchronous code (tests, scripts) and judge it."""
    runner = Runner(config, sink=sink, lab=lab)

    async def go() -> RunReport:
        try:
            return assemble(await runner.run())
        finally:
            await runner.aclose()

    return asyncio.run(go())

"""Record frontend.har: a page on https://app.example.com calls the lab as a frontend does.

Run from the repository root with the test virtualenv (``nox -s tests`` makes it):
``.nox/tests/bin/python tests/sample_project/record_har.py``. It serves the built-in lab
through corsproof's own proxy, opens the legitimate page in Chromium with Playwright's
``record_har_path``, and makes the frontend's call: a credentialed JSON POST with an
``X-CSRF-Token`` header and a bearer token. The cookie and the token are canaries
(``tests/e2e/test_sample_project.py`` greps every artifact for them). The lab's
``missing-allow-headers`` policy refuses the header, so the recorded call fails, as the
broken frontend call it stands for does. This is a recording step, not a probe: no
corsproof verdict comes from this browser.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.cli import build_parser, config_from_args  # noqa: E402
from harness.engines.paths import find  # noqa: E402
from harness.serve.lab import LAB_ORIGIN, Lab  # noqa: E402
from harness.serve.pages import PROBE_PATH  # noqa: E402
from harness.serve.stack import Harness  # noqa: E402
from scenarios.plan import make_plan  # noqa: E402

COOKIE = "CANARY-COOKIE-5f1d2a"
TOKEN = "CANARY-TOKEN-9b7c4e"
CALL = f"""async () => {{
  const out = [];
  // The frontend's profile call: credentialed, allowed, so the session cookie goes.
  try {{
    const me = await fetch("{LAB_ORIGIN}/allowlist/private", {{ credentials: "include" }});
    out.push(me.status);
  }} catch (e) {{
    out.push(String(e));
  }}
  try {{
    const r = await fetch("{LAB_ORIGIN}/missing-allow-headers/private", {{
      method: "POST",
      credentials: "include",
      headers: {{
        "Content-Type": "application/json",
        "X-CSRF-Token": "csrf-1234",
        "Authorization": "Bearer {TOKEN}",
      }},
      body: JSON.stringify({{ item: 1 }}),
    }});
    out.push(r.status);
  }} catch (e) {{
    out.push(String(e));
  }}
  return out;
}}"""


async def record(out: Path) -> None:
    lab = Lab()
    cfg = config_from_args(build_parser().parse_args(["verify", "--browser", "chromium"]))
    harness = Harness(cfg, make_plan(cfg, lab.target_urls()), lab=lab)
    await asyncio.to_thread(harness.start)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=find("chromium")[0], headless=True)
            context = await browser.new_context(
                proxy={"server": harness.proxy.url},
                ignore_https_errors=True,
                record_har_path=str(out),
                record_har_content="omit",
            )
            await context.add_cookies(
                [
                    {
                        "name": "session",
                        "value": COOKIE,
                        "url": LAB_ORIGIN,
                        "sameSite": "None",
                        "secure": True,
                    }
                ]
            )
            page = await context.new_page()
            await page.goto(f"https://app.example.com{PROBE_PATH}?role=legitimate")
            print("the frontend's calls ended with:", await page.evaluate(CALL))
            await context.close()
            await browser.close()
    finally:
        await asyncio.to_thread(harness.stop)


if __name__ == "__main__":
    asyncio.run(record(Path(__file__).with_name("frontend.har")))

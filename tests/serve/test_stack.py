"""Servers kept across runs (harness/serve/stack.py: SharedServers, covers, widened).

Real servers on loopback, no browser: what is reused, what restarts, and that a
reused server answers for the new run (its proxy routes, its redirector, its wire log).
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from harness.cli import build_parser, config_from_args
from harness.config import RunConfig
from harness.model.results import Origin
from harness.serve.lab import Lab
from harness.serve.pages import REDIRECT_PATH
from harness.serve.stack import REDIRECTOR, Harness, SharedServers, covers, widened
from scenarios.plan import make_plan

ALLOWLIST = "https://api.example.com/allowlist/private"
REFLECT = "https://api.example.com/reflect/private"


def config(tmp_path: Path, *argv: str) -> RunConfig:
    args = ["verify", "--out", str(tmp_path), "--browser", "chromium", "--per-class", "1"]
    return config_from_args(build_parser().parse_args([*args, *argv]))


@pytest.fixture
def shared() -> Iterator[SharedServers]:
    servers = SharedServers()
    yield servers
    servers.close()


def redirect_status(harness: Harness, to: str) -> int:
    """What the running redirector answers for ``to``, asked through the proxy's route."""
    assert harness.ca is not None
    host, port = harness.proxy.routes[(REDIRECTOR.host, REDIRECTOR.port)]
    ctx = ssl.create_default_context(cafile=str(harness.ca.cafile))
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=5)
    try:
        conn.request("GET", f"{REDIRECT_PATH}?to={quote(to, safe='')}")
        return conn.getresponse().status
    finally:
        conn.close()


# ---------------------------------------------------------------- pure: what covers what


def test_a_plan_covers_itself_and_a_path_on_a_served_origin(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    one, other = make_plan(cfg, [ALLOWLIST]), make_plan(cfg, [REFLECT])
    assert covers(one, one)
    assert covers(one, other)  # the same host: the proxy routes hosts, not paths


def test_a_new_legitimate_origin_or_target_host_is_not_covered(tmp_path: Path) -> None:
    base = make_plan(config(tmp_path), [ALLOWLIST])
    partner = make_plan(
        config(tmp_path, "--allow-origin", "https://partner.example.org"), [ALLOWLIST]
    )
    assert not covers(base, partner)
    assert not covers(base, make_plan(config(tmp_path), ["https://other.example.net/x"]))


def test_widened_serves_both_and_holds_no_probes(tmp_path: Path) -> None:
    base = make_plan(config(tmp_path), [ALLOWLIST])
    partner = make_plan(
        config(tmp_path, "--allow-origin", "https://partner.example.org"), [REFLECT]
    )
    both = widened(base, partner)
    assert covers(both, base) and covers(both, partner)
    assert both.specs == () and both.targets == (ALLOWLIST, REFLECT)
    origins = [v.origin for v in both.variants]
    assert len(origins) == len(set(origins))
    assert Origin.from_url("https://partner.example.org") in origins


# ------------------------------------------------------------------------ real servers


def test_runs_on_served_origins_share_one_start(tmp_path: Path, shared: SharedServers) -> None:
    lab, cfg = Lab(), config(tmp_path)
    first = shared.acquire(cfg, make_plan(cfg, [ALLOWLIST]), lab)
    first.wire.cookies_set = 7  # stands for what the first run's browsers left there
    assert redirect_status(first, REFLECT) == 403  # not a target of the first run
    second = shared.acquire(cfg, make_plan(cfg, [REFLECT]), lab)
    assert second is first and shared.starts == 1
    assert second.plan.targets == (REFLECT,)
    assert second.wire.cookies_set == 0 and second.proxy.wire is second.wire
    assert redirect_status(second, REFLECT) == 307  # the redirector now sends there


def test_a_new_origin_restarts_serving_old_and_new(tmp_path: Path, shared: SharedServers) -> None:
    lab, cfg = Lab(), config(tmp_path)
    first = shared.acquire(cfg, make_plan(cfg, [ALLOWLIST]), lab)
    partner = config(tmp_path, "--allow-origin", "https://partner.example.org")
    second = shared.acquire(partner, make_plan(partner, [ALLOWLIST]), lab)
    assert second is not first and shared.starts == 2
    with pytest.raises(OSError):  # the old one was stopped
        http.client.HTTPConnection("127.0.0.1", first.proxy.port, timeout=2).request("GET", "/")
    assert ("partner.example.org", 443) in second.proxy.routes
    assert ("app.example.com", 443) in second.proxy.routes  # the first run's legit origin
    third = shared.acquire(cfg, make_plan(cfg, [ALLOWLIST]), lab)
    assert third is second and shared.starts == 2


def test_other_settings_restart_for_that_plan_alone(tmp_path: Path, shared: SharedServers) -> None:
    lab, cfg = Lab(), config(tmp_path)
    first = shared.acquire(cfg, make_plan(cfg, [ALLOWLIST]), lab)
    slower = config(tmp_path, "--timeout", "20")
    second = shared.acquire(slower, make_plan(slower, [ALLOWLIST]), lab)
    assert second is not first and shared.starts == 2 and second.proxy.timeout == 20
    other_lab = shared.acquire(cfg, make_plan(cfg, [ALLOWLIST]), Lab())
    assert other_lab is not second and shared.starts == 3


def test_close_stops_and_may_be_called_twice(tmp_path: Path) -> None:
    lab, cfg, servers = Lab(), config(tmp_path), SharedServers()
    harness = servers.acquire(cfg, make_plan(cfg, [ALLOWLIST]), lab)
    port = harness.proxy.port
    servers.close()
    servers.close()
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/")

"""Witnessed, not assumed: real middleware, real browsers, and what went over the wire.

Three reflecting targets (Starlette's CORSMiddleware, Flask-CORS, a hand-written
``http.server``) each set their own session cookie at ``/login`` with SameSite Lax,
None or Strict, and answer 200 to anonymous callers. A fourth authenticates only by
bearer token and reflects Origin without Access-Control-Allow-Credentials. One
verify run covers them all, in every engine installed, with both cookie profiles;
the assertions are the engine facts of docs/engines.md as the wire recorded them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import HAVE_CHROMIUM, HAVE_FIREFOX, HAVE_WEBKIT, only_classes
from wire_targets import SAMESITE, Secrets, https_servers

from harness.cli import main

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LEGIT = "https://app.shop.test"
SIBLING = "https://evil.shop.test"
HTTP_LEGIT = "http://app.shop.test"
SCHEMELESS = {"chromium": False, "firefox": True, "webkit": True}
"""Engines that send Lax and Strict cookies from an http page of the same site (measured)."""
CROSS = "https://corsproof-attacker.test"
COOKIE_APPS = ("starlette", "flask", "reflector")
ENGINES = [
    e
    for e, have in (("chromium", HAVE_CHROMIUM), ("firefox", HAVE_FIREFOX), ("webkit", HAVE_WEBKIT))
    if have
]


def host(app: str, same_site: str) -> str:
    return f"{app}-{same_site.lower()}.shop.test"


def target(app: str, same_site: str) -> str:
    return f"https://{host(app, same_site)}/me"


BEARER = "https://bearer.shop.test/me"


class Run:
    def __init__(self, data: dict[str, Any], out: Path, err: str, secrets: Secrets) -> None:
        self.data, self.out, self.err, self.secrets = data, out, err, secrets

    def probes(self, **match: Any) -> list[dict[str, Any]]:
        found = [p for p in self.data["probes"] if all(p.get(k) == v for k, v in match.items())]
        assert found, f"no probe matched {match}"
        return found

    def finding(self, target: str, rule: str = "any-origin-read") -> dict[str, Any]:
        [f] = [f for f in self.data["findings"] if f["target"] == target and f["rule"] == rule]
        return f

    def reach(self, target: str) -> dict[tuple[str, str], tuple[str, list[str]]]:
        return {
            (e["engine"], e["cookie_policy"]): (e["reach"], e["origins"])
            for e in self.finding(target)["exposure"]
        }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if not ENGINES:
        pytest.skip("no browser engine installed")
    tmp = tmp_path_factory.mktemp("wire")
    secrets = Secrets()
    with https_servers(tmp, secrets) as ports:
        args = [
            "verify",
            "--allow-origin",
            LEGIT,
            "--insecure",
            "--per-class",
            "1",
            "--browser",
            ",".join(ENGINES),
            "--out",
            str(tmp),
            "--run-id",
            "wire",
            "--format",
            "html,json,junit,sarif,md",
            "--header",
            f"Authorization: Bearer {secrets.token}",
            *only_classes("sibling-subdomain", "scheme-downgrade"),
        ]
        for app in COOKIE_APPS:
            for same_site in SAMESITE:
                name = host(app, same_site)
                args += [
                    "--target",
                    target(app, same_site),
                    "--login-url",
                    f"https://{name}/login?samesite={same_site}",
                    "--connect-to",
                    f"{name}:443:127.0.0.1:{ports[app]}",
                ]
        args += [
            "--target",
            BEARER,
            "--connect-to",
            f"bearer.shop.test:443:127.0.0.1:{ports['bearer']}",
        ]
        err = io.StringIO()
        code = main(args, out=io.StringIO(), err=err)
    assert code == 1, err.getvalue()
    data = json.loads((tmp / "wire" / "report.json").read_text())
    yield Run(data, tmp / "wire", err.getvalue(), secrets)


def test_every_probe_that_reached_the_target_has_a_measured_answer(run: Run) -> None:
    reached = [p for p in run.data["probes"] if p["evidence"] is not None]
    assert len(reached) == len(run.data["probes"])
    for p in reached:
        assert p["cookie_sent"] in (True, False), p["id"]
        assert p["victim_data"] in (True, False), (p["id"], p["victim_note"])
    assert run.data["schema_version"] == 2


@pytest.mark.parametrize("app", COOKIE_APPS)
def test_lax_and_strict_cookies_are_exploitable_from_same_site_siblings_only(
    run: Run, app: str
) -> None:
    for same_site in ("Lax", "Strict"):
        url = target(app, same_site)
        reach = run.reach(url)
        assert set(reach) >= {(e, "default") for e in ENGINES}
        for (engine, _), got in reach.items():
            want = sorted([SIBLING, *([HTTP_LEGIT] if SCHEMELESS[engine] else [])])
            assert got == ("same-site", want), (same_site, engine, reach)
        finding = run.finding(url)
        assert finding["severity"] == "high"
        assert "only from same-site origins" in finding["detail"]
        # The wire: the sibling's credentialed requests carried the cookie, the
        # cross-site page's never did, in every engine and profile.
        for engine in ENGINES:
            sibling = run.probes(
                target=url, origin=SIBLING, engine=engine, credentials="include", shape="simple-get"
            )
            assert all(p["cookie_sent"] and p["victim_data"] for p in sibling)
            cross = run.probes(
                target=url, origin=CROSS, engine=engine, credentials="include", shape="simple-get"
            )
            assert all(p["readable"] and p["cookie_sent"] is False for p in cross)
            assert all(p["victim_data"] is False for p in cross)


@pytest.mark.parametrize("app", COOKIE_APPS)
def test_samesite_none_is_cross_site_in_default_chromium_only(run: Run, app: str) -> None:
    url = target(app, "None")
    reach = run.reach(url)
    expected = {"chromium": {"default": "cross-site"}}
    for engine in ("firefox", "webkit"):
        expected[engine] = {"default": "same-site", "permissive": "cross-site"}
    for engine in ENGINES:
        for policy, want in expected[engine].items():
            assert reach[(engine, policy)][0] == want, (engine, policy, reach)
    finding = run.finding(url)
    if "chromium" in ENGINES:
        assert finding["severity"] == "critical"
        assert "from any website in chromium" in finding["detail"]


def test_only_chromium_keeps_lax_cookies_from_http_pages_of_the_same_site(run: Run) -> None:
    # Schemeful same-site: Chromium tells http://app.shop.test apart from the https site;
    # Firefox ESR 153 and WebKitGTK 2.50 do not, and send Lax and Strict cookies from it.
    for engine in ENGINES:
        for same_site in ("Lax", "Strict"):
            probes = run.probes(
                target=target("reflector", same_site),
                origin=HTTP_LEGIT,
                engine=engine,
                credentials="include",
                shape="simple-get",
            )
            assert all(p["cookie_sent"] is SCHEMELESS[engine] for p in probes), engine
            if engine == "chromium":
                assert all(f"SchemefulSameSite{same_site}" in p["cookie_note"] for p in probes)


def test_the_engines_say_why_a_cookie_was_withheld(run: Run) -> None:
    if "chromium" in ENGINES:
        # Chromium says it itself, over CDP: a measurement.
        lax = run.probes(
            target=target("starlette", "Lax"),
            origin=CROSS,
            engine="chromium",
            credentials="include",
        )
        assert all(
            "withheld by chromium" in p["cookie_note"] and "SameSiteLax" in p["cookie_note"]
            for p in lax
        )
    if "firefox" in ENGINES:
        tcp = run.probes(
            target=target("flask", "None"),
            origin=CROSS,
            engine="firefox",
            cookie_policy="default",
            credentials="include",
        )
        assert all(p["cookie_sent"] is False for p in tcp)
        # Elsewhere an explanation, labelled as such.
        assert all(
            p["cookie_note"].startswith("explained from the cookie's attributes") for p in tcp
        )
        assert all("Total Cookie Protection" in p["cookie_note"] for p in tcp)


def test_a_bearer_only_api_is_not_exploitable_through_cors(run: Run) -> None:
    findings = [f for f in run.data["findings"] if f["target"] == BEARER]
    assert findings and all(f["severity"] not in ("critical", "high") for f in findings), findings
    assert run.finding(BEARER, "token-read-cross-origin")["severity"] == "low"
    assert [e["reach"] for e in run.finding(BEARER)["exposure"]] == ["none"] * len(
        run.finding(BEARER)["exposure"]
    )
    for engine in ENGINES:
        # The frontend's own bearer calls work, and the token really unlocked its data.
        legit = run.probes(target=BEARER, origin=LEGIT, engine=engine, shape="token-get")
        assert all(p["readable"] and p["authorization_sent"] and p["victim_data"] for p in legit)
        # Cookie probes never carry the token.
        cookie_probes = run.probes(target=BEARER, engine=engine, credentials="include")
        assert not any(p["authorization_sent"] for p in cookie_probes)
    assert not [f for f in findings if f["rule"] == "legit-origin-blocked"]


def test_findings_show_the_browsers_own_exchanges(run: Run) -> None:
    evidence = {e["key"]: e for e in run.data["evidence"]}
    finding = run.finding(target("starlette", "None"))
    shown = [evidence[k] for k in finding["evidence"]]
    assert shown and all((e["actual"] or {}).get("source") == "wire" for e in shown)
    assert all(e["actual"]["protocol"] == "HTTP/1.1" for e in shown)


def test_no_cookie_or_token_value_in_any_artifact_or_log(run: Run) -> None:
    texts = {
        p.name: p.read_text("utf-8", errors="replace") for p in run.out.iterdir() if p.is_file()
    }
    assert {
        "report.json",
        "report.html",
        "probes.jsonl",
        "report.sarif",
        "summary.md",
        "junit.xml",
    } <= set(texts)
    for secret in run.secrets.all():
        assert secret not in run.err
        for name, text in texts.items():
            assert secret not in text, (secret[:8], name)

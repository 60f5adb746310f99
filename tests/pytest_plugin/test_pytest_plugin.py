"""The pytest plugin in a pytest run of its own (``pytester``), against corsproof's lab.

The browser tests run every engine in ``CORSPROOF_PLUGIN_BROWSERS`` (default: chromium
and firefox, each when installed) as ``pytest --browser chromium --browser firefox``,
with one origin per attacker class and one lab endpoint per test, so each takes about a
minute. The inner runs are subprocesses: corsproof and pytest-playwright start
browsers and threads of their own there.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points

import pytest

from harness.engines.paths import find as find_system

ENGINES = [
    e
    for e in os.environ.get("CORSPROOF_PLUGIN_BROWSERS", "chromium,firefox").split(",")
    if e and find_system(e)[0] is not None
]
BROWSERS = [arg for e in ENGINES for arg in ("--browser", e)]
needs_browsers = pytest.mark.skipif(not ENGINES, reason="neither chromium nor firefox-esr found")

INI = """
[pytest]
corsproof_cookie_policy = default
"""


def plugin_args() -> list[str]:
    """``-p`` the plugin only when its entry point is not installed (a stale install)."""
    names = {e.name for e in entry_points(group="pytest11")}
    return [] if "corsproof" in names else ["-p", "harness.pytest_plugin.plugin"]


def run(pytester: pytest.Pytester, *args: str, timeout: float = 600) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        *plugin_args(), "-p", "no:cacheprovider", *args, timeout=timeout
    )


CONFIG = """
lab = true
targets = [
    "https://api.example.com/allowlist/private",
    "https://api.example.com/reflect/private",
]

[env.prod]
origins = ["https://app.example.com"]

[run]
per_class = 1
cookie_policy = "default"
fail_on = "high"

[[expect]]
path = "/reflect/*"
accept = [{ rule = "any-origin-read", reason = "SEC-101: legacy feed, public data only" }]
"""


# --------------------------------------------------------------------- without browsers


def test_the_config_file_gives_one_item_per_endpoint_and_engine(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", corsproof=CONFIG)
    done = run(
        pytester,
        "--corsproof",
        "--collect-only",
        "-q",
        "--browser",
        "chromium",
        "--browser",
        "firefox",
    )
    assert done.ret == 0, done.stdout.str()
    items = sorted(line for line in done.outlines if "::endpoint[" in line)
    assert items == sorted(
        f"corsproof.toml::endpoint[https://api.example.com/{policy}/private-{engine}]"
        for policy in ("allowlist", "reflect")
        for engine in ("chromium", "firefox")
    )


def test_without_the_option_the_config_file_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", corsproof=CONFIG)
    pytester.makepyfile("def test_nothing():\n    pass\n")
    done = run(pytester, "--collect-only", "-q")
    assert "endpoint[" not in done.stdout.str()


def test_corsproof_without_a_config_file_says_so(pytester: pytest.Pytester) -> None:
    done = run(pytester, "--corsproof")
    assert done.ret == pytest.ExitCode.USAGE_ERROR
    assert "--corsproof: no corsproof config file" in done.stderr.str()


def test_the_report_may_not_go_where_pytest_playwright_wipes(pytester: pytest.Pytester) -> None:
    done = run(pytester, "--corsproof-report", "test-results/cors")
    assert done.ret == pytest.ExitCode.USAGE_ERROR
    assert "inside pytest-playwright's --output folder" in done.stderr.str()


def test_without_pytest_playwright_there_are_no_fixtures_and_options_say_why(
    pytester: pytest.Pytester,
) -> None:
    done = run(pytester, "-p", "no:playwright", "--corsproof")
    assert done.ret == pytest.ExitCode.USAGE_ERROR
    assert "pip install 'corsproof[pytest]'" in done.stderr.str()


def test_cors_lab_names_each_policys_endpoint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_urls(cors_lab):
            assert cors_lab.url("reflect") == "https://api.example.com/reflect/private"
            assert cors_lab.url("wildcard") == "https://api.example.com/wildcard/public"
            assert "allowlist" in cors_lab.policies
            with pytest.raises(KeyError, match="unknown lab policy 'nope'"):
                cors_lab.url("nope")
        """
    )
    done = run(pytester)
    done.assert_outcomes(passed=1)


def test_skip_browser_and_only_browser_apply_to_cors_tests(pytester: pytest.Pytester) -> None:
    # The engine is pytest-playwright's browser_name, so its markers pick the engines;
    # nothing here calls verify, so no browser starts.
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.only_browser("chromium")
        def test_only(cors):
            assert cors.suite.engine == "chromium"

        @pytest.mark.skip_browser("chromium")
        def test_skip(cors):
            assert cors.suite.engine == "firefox"
        """
    )
    done = run(pytester, "--browser", "chromium", "--browser", "firefox", "-rs")
    done.assert_outcomes(passed=2, skipped=2)


# ------------------------------------------------------------------------ in browsers

TESTS = """
def test_allowlist(cors, cors_lab):
    result = cors.verify(cors_lab.url("allowlist"), per_class=1)
    result.assert_only_readable_by(cors_lab.frontend)
    result.assert_legit_works()

def test_reflect(cors, cors_lab):
    result = cors.verify(cors_lab.url("reflect"), per_class=1)
    result.assert_only_readable_by(cors_lab.frontend)
"""


@pytest.mark.browser
@pytest.mark.slow
@needs_browsers
def test_a_passing_and_a_failing_expectation_per_engine(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_lab=TESTS)
    done = run(
        pytester,
        *BROWSERS,
        "--junitxml=junit.xml",
        "--corsproof-report=cors",
        "-rA",
        "-W",
        "error::pytest.PytestDeprecationWarning",
    )
    out = done.stdout.str()
    done.assert_outcomes(passed=len(ENGINES), failed=len(ENGINES))
    for engine in ENGINES:
        assert f"PASSED test_lab.py::test_allowlist[{engine}]" in out
        assert f"FAILED test_lab.py::test_reflect[{engine}]" in out
        head = (
            f"corsproof: https://api.example.com/reflect/private in {engine}: readable with "
            "the victim's session by"
        )
        assert head in out
        assert "expected only https://app.example.com" in out
    # The diff: an attacker origin, the engine, the cookie seen going, the server's answer.
    plus = [line for line in done.outlines if line.startswith("E       + ")]
    assert plus, out
    assert any(
        "read it in" in line
        and "cookie sent: yes (seen at the wire)" in line
        and "server answered 200 with access-control-allow-origin:" in line
        and "access-control-allow-credentials: true" in line
        for line in plus
    ), plus
    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    names = sorted(c.get("name", "") for c in cases)
    assert names == sorted(f"test_{p}[{e}]" for p in ("allowlist", "reflect") for e in ENGINES)
    index = pytester.path / "cors" / "index.json"
    assert index.is_file() and (pytester.path / "cors" / "index.html").is_file()
    listed = json.loads(index.read_text())
    runs = listed["runs"]
    assert len(runs) == 2 * len(ENGINES)
    # One start of the servers for every run: the lab's endpoints share an origin.
    assert listed["servers_started"] == 1
    assert all((pytester.path / "cors" / r["report"]).is_file() for r in runs)
    assert not (pytester.path / "test-results").exists()


@pytest.mark.browser
@pytest.mark.slow
@needs_browsers
def test_an_accepted_risk_is_an_xfail_with_its_reason(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", corsproof=CONFIG)
    done = run(pytester, "--corsproof", *BROWSERS, "-rxX", "--junitxml=junit.xml")
    out = done.stdout.str()
    done.assert_outcomes(passed=len(ENGINES), xfailed=len(ENGINES))
    for engine in ENGINES:
        assert f"endpoint[https://api.example.com/reflect/private-{engine}]" in out
    # The terminal clips the reason to its width; JUnit keeps it whole.
    skipped = [
        c.find("skipped")
        for c in ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
        if "/reflect/" in c.get("name", "")
    ]
    assert len(skipped) == len(ENGINES)
    for element in skipped:
        assert element is not None and element.get("type") == "pytest.xfail"
        reason = element.get("message", "")
        assert reason.startswith("accepted risk: any-origin-read from "), reason
        assert reason.endswith(
            "SEC-101: legacy feed, public data only (accepted in corsproof.toml)"
        )


OVERRIDE = """
import pytest

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "args": ["--disable-web-security", "--lang=de"],
        "firefox_user_prefs": {"content.cors.disable": True, "intl.accept_languages": "de"},
        "slow_mo": 1,
    }
"""


@pytest.mark.browser
@pytest.mark.slow
@needs_browsers
def test_a_conftest_override_of_the_launch_args_reaches_the_probing_browser(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makeconftest(OVERRIDE)
    pytester.makepyfile(
        test_lab="""
        def test_allowlist(cors, cors_lab):
            result = cors.verify(cors_lab.url("allowlist"), per_class=1)
            # Had the suite's CORS-off switch reached the browser, every origin would read.
            result.assert_only_readable_by(cors_lab.frontend)
        """
    )
    done = run(pytester, *BROWSERS, "-W", "always::UserWarning")
    out = done.stdout.str()
    done.assert_outcomes(passed=len(ENGINES))
    # The conflicts come from the engine's own launch: the override got there, and was
    # merged, not taken whole.
    assert "CorsproofWarning" in out
    if "chromium" in ENGINES:
        assert (
            "chromium: browser_type_launch_args args: '--disable-web-security' is not used" in out
        )
    if "firefox" in ENGINES:
        assert "firefox: firefox_user_prefs content.cors.disable=True is not used" in out

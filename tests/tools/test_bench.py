"""The benchmark's arithmetic (the benchmark itself is run by ``nox -s bench``, not tests)."""

from __future__ import annotations

import pytest

from harness.tools.bench import endpoints, marginal


def test_marginal_cost_is_the_slope_between_sizes() -> None:
    # 1000 probes in 30 s, 10000 in 75 s: 5 ms per extra probe, 25 s fixed.
    (line,) = marginal([(1, 1000, 30.0), (10, 10000, 75.0)])
    assert "5.00 ms per extra probe" in line
    assert "200 probes/s" in line
    assert "fixed cost 25.0s" in line


def test_marginal_needs_two_sizes() -> None:
    assert marginal([(1, 100, 3.0)]) == []


@pytest.mark.parametrize("n", [1, 10, 100])
def test_endpoints_are_distinct_lab_urls(n: int) -> None:
    urls = endpoints(n)
    assert len(urls) == len(set(urls)) == n
    assert all(u.startswith("https://api.example.com/") for u in urls)


def test_endpoints_behind_one_policy_are_still_distinct() -> None:
    urls = endpoints(30, "allowlist")
    assert len(set(urls)) == 30 and all("/allowlist/private?item=" in u for u in urls)


def test_an_unknown_policy_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.tools.bench import main

    assert main(["10", "--policy", "nope"]) == 2
    assert "--policy must be a lab policy" in capsys.readouterr().out

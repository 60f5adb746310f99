"""Origins as values, and the report.json contract."""

from __future__ import annotations

import json

import pytest
from builders import observation
from hypothesis import given
from hypothesis import strategies as st

from harness.model.errors import OriginError
from harness.model.results import (
    SCHEMA_VERSION,
    BrowserInfo,
    Engine,
    Observation,
    Origin,
    Outcome,
    RunReport,
    Severity,
    base_url,
    observation_from_dict,
    observation_to_dict,
    to_jsonable,
)


def test_origin_parse_and_serialize() -> None:
    assert Origin.parse("https://App.Example.com").serialize() == "https://app.example.com"
    assert Origin.parse("https://app.example.com:443") == Origin.parse("https://app.example.com")
    assert Origin.parse("http://localhost:3000").port == 3000
    assert Origin.parse("null").opaque and Origin.parse("null").serialize() == "null"
    assert Origin.parse("https://[::1]:8443").serialize() == "https://[::1]:8443"
    assert Origin.from_url("https://api.example.com/x?y").serialize() == "https://api.example.com"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "app.example.com",
        "ftp://x",
        "https://",
        "https://a/b",
        "https://u@a",
        "https://a:0",
        "https://a:99999",
        "https://a:x",
    ],
)
def test_origin_rejects(bad: str) -> None:
    with pytest.raises(OriginError):
        Origin.parse(bad)


@given(st.text(max_size=60))
def test_origin_parse_never_crashes(text: str) -> None:
    try:
        origin = Origin.parse(text)
    except OriginError:
        return
    assert Origin.parse(origin.serialize()) == origin


def test_severity_order_and_parse() -> None:
    assert [s.rank for s in Severity] == [4, 3, 2, 1, 0]
    assert Severity.parse(" HIGH ") is Severity.HIGH
    with pytest.raises(ValueError, match="choose from"):
        Severity.parse("urgent")


def _obs(**kw: object) -> Observation:
    return observation(**{"status": 200, **kw})


def test_report_contract_fields() -> None:
    report = RunReport(
        run_id="r",
        started="t0",
        finished="t1",
        targets=("https://api.example.com/x",),
        browsers=(BrowserInfo(Engine.CHROMIUM, "156"),),
        probes=(_obs(),),
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["browsers"] == [
        {"engine": "chromium", "version": "156", "source": "", "executable": ""}
    ]
    probe = data["probes"][0]
    for key in (
        "id",
        "engine",
        "target",
        "origin",
        "page_origin",
        "method",
        "credentials",
        "readable",
        "status",
        "error",
    ):
        assert key in probe
    assert probe["origin"] == "null" and probe["credentials"] == "include"
    assert probe["readable"] is True
    assert observation_from_dict(probe) == _obs()


def test_blocked_is_not_readable() -> None:
    obs = _obs(outcome=Outcome.BLOCKED, status=None)
    assert observation_to_dict(obs)["readable"] is False


def test_probe_serialization_is_the_generic_one_plus_readable() -> None:
    # observation_to_dict is written out for speed; it must say what to_jsonable says.
    obs = _obs(readable_headers=("X-Id",), cookie_sent=True, block_reason="r", elapsed_ms=1.5)
    assert observation_to_dict(obs) == {**to_jsonable(obs), "readable": True}
    assert observation_from_dict(json.loads(json.dumps(observation_to_dict(obs)))) == obs


def test_base_url_brackets_ipv6_once() -> None:
    assert base_url("http", "127.0.0.1", 8080) == "http://127.0.0.1:8080"
    assert base_url("http", "::1", 8080) == "http://[::1]:8080"
    assert base_url("https", "[::1]", 443) == "https://[::1]:443"

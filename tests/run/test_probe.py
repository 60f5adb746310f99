"""The probe as the page runs it: marked for the wire witness only when it runs."""

from __future__ import annotations

from harness.cli import build_parser, config_from_args
from harness.engines.playwright import PROBE_FRAGMENT
from harness.model.results import ProbeSpec
from harness.run.probe import js_spec, target_url
from scenarios.plan import make_plan


def _spec(*extra: str) -> ProbeSpec:
    config = config_from_args(
        build_parser().parse_args(["verify", "--target", "https://api.example.org/me", *extra])
    )
    return next(s for s in make_plan(config, config.targets).specs if s.shape.preflighted)


def test_the_wire_marker_rides_on_the_url_only_when_the_witness_runs() -> None:
    spec = _spec()
    marked = target_url(spec, "p1-chd", wire=True)
    assert "__corsproof=p1-chd" in marked and marked.endswith(PROBE_FRAGMENT + spec.id)
    plain = target_url(spec, "p1-chd", wire=False)
    assert "__corsproof" not in plain and plain.endswith(PROBE_FRAGMENT + spec.id)


def test_js_spec_carries_the_shape_and_only_the_plans_headers() -> None:
    spec = _spec("--header", "Authorization: Bearer s3cret")
    js = js_spec(spec, 5000, "p1", wire=True)
    assert js["method"] == spec.shape.method and js["timeout_ms"] == 5000
    assert js["headers"] == dict(spec.headers)
    assert js["credentials"] == spec.credentials.value and js["api"] == spec.api

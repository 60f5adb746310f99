"""Request shapes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from scenarios.shapes import (
    PREFLIGHT_JSON,
    SIMPLE_GET,
    call_shape,
    call_shapes,
    default_shapes,
    shapes_for,
)


@pytest.mark.parametrize(("unsafe", "lab"), [(False, False), (True, False), (False, True)])
def test_names_and_descriptions(unsafe: bool, lab: bool) -> None:
    shapes = default_shapes(unsafe=unsafe, lab=lab)
    assert [s.name for s in shapes] == [SIMPLE_GET, PREFLIGHT_JSON]
    assert all(s.description for s in shapes)


def test_simple_get() -> None:
    simple = default_shapes(unsafe=False, lab=False)[0]
    assert simple.method == "GET"
    assert simple.headers == ()
    assert simple.body is None
    assert not simple.preflighted
    assert not simple.safe_substitute


@pytest.mark.parametrize(("unsafe", "lab"), [(True, False), (False, True), (True, True)])
def test_real_preflight_post(unsafe: bool, lab: bool) -> None:
    shape = default_shapes(unsafe=unsafe, lab=lab)[1]
    assert shape.method == "POST"
    headers = dict(shape.headers)
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer corsproof-probe"
    assert shape.body is not None and json.loads(shape.body) == {"corsproof": "probe"}
    assert shape.preflighted
    assert not shape.safe_substitute


def test_safe_substitute_without_unsafe() -> None:
    shape = default_shapes(unsafe=False, lab=False)[1]
    assert shape.method == "GET"
    assert shape.body is None
    headers = dict(shape.headers)
    assert headers == {"Authorization": "Bearer corsproof-probe"}
    assert shape.preflighted
    assert shape.safe_substitute
    assert "--unsafe" in shape.description


# ---------------------------------------------------------------- the frontend's own calls


@dataclasses.dataclass(frozen=True)
class FakeCall:
    method: str
    url: str
    header_names: tuple[str, ...] = ()
    content_type: str | None = None

    @property
    def state_changing(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    @property
    def preflighted(self) -> bool:
        return True


URL = "https://api.example.com/items"


def test_a_plain_get_needs_no_shape_of_its_own() -> None:
    assert call_shape(FakeCall("GET", URL), unsafe=False) is None


def test_a_call_is_sent_with_its_header_names_and_dummy_values() -> None:
    call = FakeCall("POST", URL, ("X-CSRF-Token",), "application/json")
    shape = call_shape(call, unsafe=True)
    assert shape is not None
    assert shape.name == "call:POST /items with X-CSRF-Token"
    assert shape.method == "POST" and shape.preflighted and not shape.safe_substitute
    assert dict(shape.headers) == {
        "X-CSRF-Token": "corsproof-probe",
        "Content-Type": "application/json",
    }


def test_without_unsafe_a_state_changing_call_is_a_get_with_the_same_headers() -> None:
    shape = call_shape(FakeCall("DELETE", URL, ("X-CSRF-Token",)), unsafe=False)
    assert shape is not None and shape.method == "GET" and shape.safe_substitute
    assert shape.preflighted and shape.body is None
    assert "not DELETE" in shape.description
    # No header left to preflight: the stand-in is a simple GET, and says so.
    bare = call_shape(FakeCall("DELETE", URL), unsafe=False)
    assert bare is not None and not bare.preflighted


def test_call_shapes_go_to_their_own_target_only() -> None:
    calls = [FakeCall("PUT", URL, ("X-A",)), FakeCall("PUT", URL, ("X-A",)), FakeCall("GET", URL)]
    extra = call_shapes(calls, unsafe=True)
    assert [(u, s.name) for u, s in extra] == [(URL, "call:PUT /items with X-A")]
    base = default_shapes(unsafe=False, lab=False)
    assert shapes_for(URL, base, extra)[-1].name == "call:PUT /items with X-A"
    assert shapes_for("https://api.example.com/other", base, extra) == base

"""Request shapes."""

from __future__ import annotations

import json

import pytest

from scenarios.shapes import PREFLIGHT_JSON, SIMPLE_GET, default_shapes


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

"""The probe plan and sharding."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.model.results import Credentials, Origin, OriginVariant, ProbeSpec, Role, Via
from scenarios.catalogue import expand_origins
from scenarios.plan import (
    build_plan,
    context_groups,
    context_slots,
    parse_shard,
    preflight_cache_key,
    probe_id,
    shard,
    shared_cache_key,
)
from scenarios.shapes import default_shapes

APP = Origin.parse("https://app.example.com")
TARGETS = ["https://api.example.com/me", "https://api.example.com/orders?x=1"]
SECRET = "Bearer s3cr3t-token"


@pytest.fixture(scope="module")
def variants() -> list[OriginVariant]:
    return expand_origins([APP], [Origin.from_url(TARGETS[0])])


@pytest.fixture(scope="module")
def plan(variants: list[OriginVariant]) -> list[ProbeSpec]:
    return build_plan(
        TARGETS,
        variants,
        default_shapes(unsafe=False, lab=False),
        auth_headers=[("Authorization", SECRET)],
    )


def test_plan_size(variants: list[OriginVariant], plan: list[ProbeSpec]) -> None:
    # simple-get: omit x fetch, include x (fetch, xhr); preflight-json: 2 credentials x fetch.
    assert len(plan) == len(variants) * len(TARGETS) * (3 + 2)


def test_combinations(plan: list[ProbeSpec]) -> None:
    combos = {(p.shape.name, p.credentials, p.api) for p in plan}
    assert combos == {
        ("simple-get", Credentials.OMIT, "fetch"),
        ("simple-get", Credentials.INCLUDE, "fetch"),
        ("simple-get", Credentials.INCLUDE, "xhr"),
        ("preflight-json", Credentials.OMIT, "fetch"),
        ("preflight-json", Credentials.INCLUDE, "fetch"),
    }


def test_ids_unique_readable_secret_free(plan: list[ProbeSpec]) -> None:
    ids = [p.id for p in plan]
    assert len(ids) == len(set(ids))
    for pid in ids:
        assert re.fullmatch(r"p-[0-9a-f]{10}-[a-z0-9-]+", pid)
        assert "s3cr3t" not in pid and "api.example.com" not in pid
    assert plan[0].id.endswith("-simple-get-omit-fetch")


def test_ids_stable(variants: list[OriginVariant], plan: list[ProbeSpec]) -> None:
    shapes = default_shapes(unsafe=False, lab=False)
    again = build_plan(list(reversed(TARGETS)), list(reversed(variants)), shapes)
    assert {p.id for p in again} == {p.id for p in plan}
    spec = plan[0]
    assert spec.id == probe_id(spec.target, spec.variant, spec.shape, spec.credentials, spec.api)


def test_auth_headers_only_on_the_token_shape(variants: list[OriginVariant]) -> None:
    # A token is not ambient: cookie probes never carry it, so they measure the ambient
    # credentials alone; the token shape carries it without cookies, like a token frontend.
    shapes = default_shapes(unsafe=False, lab=False, token=True)
    specs = build_plan(TARGETS, variants, shapes, auth_headers=[("Authorization", SECRET)])
    token = [s for s in specs if s.shape.token]
    assert token and len(token) == len(variants) * len(TARGETS)
    for spec in specs:
        if spec.shape.token:
            assert spec.auth_headers == (("Authorization", SECRET),)
            assert spec.credentials is Credentials.OMIT
            assert dict(spec.headers) == {"Authorization": SECRET}
        else:
            assert spec.auth_headers == ()


def test_grouped_by_variant_then_target(plan: list[ProbeSpec]) -> None:
    seen: list[str] = []
    for spec in plan:
        if not seen or seen[-1] != spec.variant.key:
            assert spec.variant.key not in seen, "variant probes must be contiguous"
            seen.append(spec.variant.key)
    first = [p for p in plan if p.variant.key == seen[0]]
    assert [p.target for p in first] == [TARGETS[0]] * 5 + [TARGETS[1]] * 5
    assert [(p.shape.name, p.credentials.value, p.api) for p in first[:5]] == [
        ("simple-get", "omit", "fetch"),
        ("simple-get", "include", "fetch"),
        ("simple-get", "include", "xhr"),
        ("preflight-json", "omit", "fetch"),
        ("preflight-json", "include", "fetch"),
    ]
    assert plan[0].variant.role is Role.LEGITIMATE


def test_duplicates_dropped(variants: list[OriginVariant]) -> None:
    shapes = default_shapes(unsafe=True, lab=False)
    once = build_plan(TARGETS, variants[:3], shapes)
    twice = build_plan(TARGETS * 2, variants[:3] * 2, shapes * 2)
    assert once == twice


@pytest.mark.parametrize(("text", "expected"), [("2/5", (2, 5)), (" 1 / 1 ", (1, 1))])
def test_parse_shard(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["", "2", "0/3", "4/3", "1/0", "a/b", "-1/3", "1/2/3", "1.5/2"])
def test_parse_shard_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shard(text)


@pytest.mark.parametrize(("index", "count"), [(0, 2), (3, 2), (1, 0), (-1, 3)])
def test_shard_rejects(plan: list[ProbeSpec], index: int, count: int) -> None:
    with pytest.raises(ValueError):
        shard(plan, index, count)


def test_single_shard_is_plan(plan: list[ProbeSpec]) -> None:
    assert shard(plan, 1, 1) == plan


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_shard_partitions_plan(plan: list[ProbeSpec], count: int, seed: int) -> None:
    shuffled = list(plan)
    random.Random(seed).shuffle(shuffled)
    parts = [shard(plan, i, count) for i in range(1, count + 1)]
    ids = [p.id for part in parts for p in part]
    assert sorted(ids) == sorted(p.id for p in plan)
    assert len(ids) == len(set(ids))
    position = {p.id: n for n, p in enumerate(plan)}
    home: dict[str, int] = {}
    for i, part in enumerate(parts, start=1):
        # Plan order is kept, and the assignment ignores the order of the input.
        positions = [position[p.id] for p in part]
        assert positions == sorted(positions)
        members = {p.id for p in part}
        assert [p.id for p in shard(shuffled, i, count)] == [
            p.id for p in shuffled if p.id in members
        ]
        # One origin never straddles shards, so no two shards open its contexts.
        for spec in part:
            assert home.setdefault(spec.variant.key, i) == i
    # Balanced: dealing largest first keeps every shard within one origin of the others.
    sizes = [len(part) for part in parts]
    biggest = max(
        (sum(1 for p in plan if p.variant.key == key) for key in {p.variant.key for p in plan}),
        default=0,
    )
    assert max(sizes) - min(sizes) <= biggest


def test_default_shapes_need_one_context_per_origin(plan: list[ProbeSpec]) -> None:
    by_variant: dict[str, list[ProbeSpec]] = {}
    for spec in plan:
        by_variant.setdefault(spec.variant.key, []).append(spec)
    for specs in by_variant.values():
        assert context_groups(specs) == [specs]


def test_shared_preflight_cache_key_gets_its_own_context(variants: list[OriginVariant]) -> None:
    # Two preflighted shapes on the same URL and credentials mode share a cache entry:
    # the second must not run in the context where the first cached its preflight.
    base = default_shapes(unsafe=True, lab=False)
    put = dataclasses.replace(base[1], name="put-json", method="PUT")
    specs = build_plan(TARGETS[:1], variants[:1], [*base, put])
    groups = context_groups(specs)
    assert sorted(s.id for g in groups for s in g) == sorted(s.id for s in specs)
    for group in groups:
        keys = [preflight_cache_key(s) for s in group if s.shape.preflighted]
        assert len(keys) == len(set(keys))
    assert len(groups) == 2
    assert all(not s.shape.preflighted for s in groups[0] if s.shape.name == "simple-get")
    assert {s.shape.name for s in groups[1]} == {"put-json"}


def test_preflight_cache_key_follows_fetch() -> None:
    variants = expand_origins([APP], [Origin.from_url(TARGETS[0])])
    specs = build_plan(TARGETS, variants[:1], default_shapes(unsafe=False, lab=False))
    keys = {preflight_cache_key(s) for s in specs}
    assert None in keys  # simple requests have no preflight
    # one key per target x credentials mode
    assert len(keys - {None}) == len(TARGETS) * 2


def test_shared_context_holds_every_origin_with_the_wire_marker(plan: list[ProbeSpec]) -> None:
    # With the wire witness every probe fetches a URL with its own marker: no two
    # probes share a preflight-cache key, so one shared context takes every origin.
    groups = [g for specs in _by_variant(plan).values() for g in context_groups(specs)]
    slots = context_slots(groups, wire=True)
    assert {slot for slot, _ in slots} == {0}
    assert [g for _, g in slots] == groups


def test_opaque_origins_sharing_null_get_contexts_of_their_own(plan: list[ProbeSpec]) -> None:
    # Without the marker, the opaque-origin variants all send Origin: null to the same
    # URL: a preflight one cached would answer the next one's, so each gets its own.
    groups = [g for specs in _by_variant(plan).values() for g in context_groups(specs)]
    slots = context_slots(groups, wire=False)
    opaque = [slot for slot, g in slots if g[0].variant.via is not Via.PAGE]
    assert len(opaque) >= 2
    assert len(set(opaque)) == len(opaque)
    for slot in set(s for s, _ in slots):
        keys = [
            shared_cache_key(spec, wire=False)
            for s, g in slots
            if s == slot
            for spec in g
            if spec.shape.preflighted
        ]
        assert len(keys) == len(set(keys))
    # Pages with an origin of their own never collide: they all stay in context 0.
    assert {slot for slot, g in slots if g[0].variant.via is Via.PAGE} == {0}


def _by_variant(specs: list[ProbeSpec]) -> dict[str, list[ProbeSpec]]:
    out: dict[str, list[ProbeSpec]] = {}
    for spec in specs:
        out.setdefault(spec.variant.key, []).append(spec)
    return out


def test_call_shapes_join_only_their_own_target(variants: list[OriginVariant]) -> None:
    from harness.model.results import Shape

    shapes = default_shapes(unsafe=False, lab=False)
    call = Shape(
        name="call:PUT /a with X-A", method="PUT", headers=(("X-A", "v"),), preflighted=True
    )
    targets = ["https://api.example.com/a", "https://api.example.com/b"]
    plan = build_plan(targets, variants, shapes, target_shapes=[(targets[0], call)])
    by_target = {t: {s.shape.name for s in plan if s.target == t} for t in targets}
    assert call.name in by_target[targets[0]] and call.name not in by_target[targets[1]]
    assert by_target[targets[1]] == {s.name for s in shapes}


def test_a_quick_run_keeps_the_users_own_origins() -> None:
    from dataclasses import replace as _replace

    from harness.cli import build_parser, config_from_args
    from scenarios.plan import make_plan

    ns = build_parser().parse_args(
        [
            "verify",
            "--target",
            "https://api.example.com/x",
            "--per-class",
            "1",
            "--origin",
            "http://localhost:3000",
        ]
    )
    config = config_from_args(ns)
    origins = {s.variant.origin.serialize() for s in make_plan(config, config.targets).specs}
    assert "http://localhost:3000" in origins
    capped = make_plan(_replace(config, extra_origins=()), config.targets).specs
    assert "http://localhost:3000" not in {s.variant.origin.serialize() for s in capped}

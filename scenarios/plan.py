"""The probe plan: targets x origin variants x shapes x credentials x API.

The plan is grouped by variant because the runner serves one page per origin and
fires all of that origin's probes from it. Probe ids are derived from content,
not position, so the same probe keeps its id across runs and shards.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from harness.config import RunConfig
from harness.model.results import (
    Credentials,
    Origin,
    OriginVariant,
    ProbeSpec,
    Role,
    Shape,
    Via,
)
from scenarios.catalogue import expand_origins
from scenarios.shapes import SIMPLE_GET, default_shapes, shapes_for

__all__ = [
    "APIS",
    "CREDENTIAL_MODES",
    "build_plan",
    "context_groups",
    "parse_shard",
    "preflight_cache_key",
    "probe_id",
    "shard",
    "shard_assignment",
]

CREDENTIAL_MODES: tuple[Credentials, ...] = (Credentials.OMIT, Credentials.INCLUDE)
"""Every shape is tried without and with credentials, in this order."""
APIS: tuple[str, ...] = ("fetch", "xhr")
"""``fetch`` always; ``xhr`` only for the simple GET, where it is the classic exploit."""

_UNSAFE_ID_CHARS = re.compile(r"[^a-z0-9-]+")


def _digest(*parts: str) -> str:
    # NUL cannot occur in a URL or an origin key, so the join is unambiguous.
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def probe_id(
    target: str, variant: OriginVariant, shape: Shape, credentials: Credentials, api: str
) -> str:
    """A stable, readable id such as ``p-1a2b3c4d5e-simple-get-include-fetch``.

    The hex part hashes the target and the origin variant (so a target URL carrying
    a token never shows up in the id); the readable tail names shape, credentials
    and API. All probes of one origin and target share the hex part.
    """
    tail = _UNSAFE_ID_CHARS.sub("-", f"{shape.name}-{credentials.value}-{api}".lower()).strip("-")
    return f"p-{_digest(target, variant.key)[:10]}-{tail}"


def _apis_for(shape: Shape, credentials: Credentials) -> tuple[str, ...]:
    # XMLHttpRequest runs the same CORS algorithm as fetch; one credentialed simple
    # XHR per origin keeps legacy code paths covered without doubling the plan.
    if shape.name == SIMPLE_GET and credentials is Credentials.INCLUDE:
        return APIS
    return ("fetch",)


def build_plan(
    targets: Sequence[str],
    variants: Sequence[OriginVariant],
    shapes: Sequence[Shape],
    *,
    auth_headers: Sequence[tuple[str, str]] = (),
    target_shapes: Sequence[tuple[str, Shape]] = (),
) -> list[ProbeSpec]:
    """Every probe to run, grouped by variant, then target, shape, credentials, API.

    ``auth_headers`` (the user's bearer headers) ride only on token shapes
    (:attr:`Shape.token`), which run without cookies (``credentials=omit``): a token is
    not ambient, so the cookie probes measure the ambient credentials alone.
    ``target_shapes`` adds shapes to one target each (the frontend's own calls, API
    operations). Duplicate targets, variants (by key) and shapes (by name, per target)
    are dropped, first wins.
    """
    unique_targets = list(dict.fromkeys(targets))
    unique_variants = list({v.key: v for v in reversed(variants)}.values())[::-1]
    unique_shapes = list({s.name: s for s in reversed(shapes)}.values())[::-1]
    auth = tuple(auth_headers)
    per_target = {
        t: list(
            {x.name: x for x in reversed(shapes_for(t, unique_shapes, target_shapes))}.values()
        )[::-1]
        for t in unique_targets
    }

    plan: list[ProbeSpec] = []
    used: set[str] = set()
    for variant in unique_variants:
        for target in unique_targets:
            for shape in per_target[target]:
                for cred in (Credentials.OMIT,) if shape.token else CREDENTIAL_MODES:
                    for api in _apis_for(shape, cred):
                        pid = probe_id(target, variant, shape, cred, api)
                        # Ten hex digits make a clash vanishingly rare; should one
                        # happen, a deterministic suffix keeps ids unique.
                        base, n = pid, 2
                        while pid in used:
                            pid, n = f"{base}-{n}", n + 1
                        used.add(pid)
                        plan.append(
                            ProbeSpec(
                                id=pid,
                                target=target,
                                variant=variant,
                                shape=shape,
                                credentials=cred,
                                api=api,
                                auth_headers=auth if shape.token else (),
                            )
                        )
    return plan


def preflight_cache_key(spec: ProbeSpec) -> tuple[str, str, bool] | None:
    """The key under which a browser caches this probe's preflight, or None without one.

    The Fetch standard keys a CORS-preflight cache entry by the request's origin,
    its URL and whether credentials are included (Fetch, "CORS-preflight cache").
    Within one context the origin is fixed, so (origin, URL, credentials) decides
    whether a second preflighted probe could skip its own preflight.
    """
    if not spec.shape.preflighted:
        return None
    return (spec.variant.key, spec.target, spec.credentials is Credentials.INCLUDE)


def context_groups(specs: Sequence[ProbeSpec]) -> list[list[ProbeSpec]]:
    """Split one origin's probes into contexts so that no preflight can come from the cache.

    A browser that cached the preflight of one probe would send a later probe with
    the same cache key without asking the server again, and its verdict would rest
    on the earlier answer. Each context is fresh, so giving every probe that shares
    a key with an earlier one its own later context avoids that by construction.
    The default shapes never share a key (one preflighted shape per credentials
    mode), so they stay in one context; custom or unsafe shape sets may not.
    Order within each group follows ``specs``.
    """
    groups: list[list[ProbeSpec]] = []
    keys: list[set[tuple[str, str, bool]]] = []
    for spec in specs:
        key = preflight_cache_key(spec)
        for group, seen in zip(groups, keys, strict=True):
            if key is None or key not in seen:
                group.append(spec)
                if key is not None:
                    seen.add(key)
                break
        else:
            groups.append([spec])
            keys.append({key} if key is not None else set())
    return groups


def shared_cache_key(spec: ProbeSpec, *, wire: bool) -> tuple[str, str, bool] | None:
    """The preflight-cache key of this probe in a context shared by many origins.

    Across origins the key's origin is what the browser sends: every opaque-origin
    variant sends ``null``, so those may share one. With the wire witness each probe
    fetches a URL carrying its own marker, so no two probes ever share a key.
    """
    if wire or not spec.shape.preflighted:
        return None
    origin = spec.variant.origin.serialize() if spec.variant.via is Via.PAGE else "null"
    return (origin, spec.target, spec.credentials is Credentials.INCLUDE)


def context_slots(
    groups: Sequence[Sequence[ProbeSpec]], *, wire: bool
) -> list[tuple[int, list[ProbeSpec]]]:
    """Which shared context (0, 1, ...) each origin's group of probes runs in.

    Everything goes to context 0 unless a group holds a preflight-cache key an
    earlier group in that context already used (see :func:`shared_cache_key`);
    then it goes to the first context where none of its keys were used, so no
    preflight can come from another probe's cache entry.
    """
    used: list[set[tuple[str, str, bool]]] = []
    out: list[tuple[int, list[ProbeSpec]]] = []
    for group in groups:
        keys = {k for k in (shared_cache_key(s, wire=wire) for s in group) if k is not None}
        slot = next((i for i, seen in enumerate(used) if not keys & seen), len(used))
        if slot == len(used):
            used.append(set())
        used[slot] |= keys
        out.append((slot, list(group)))
    return out


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``--shard i/n`` (1-based ``i``); raises ``ValueError`` when malformed."""
    index_text, sep, count_text = text.strip().partition("/")
    index_text, count_text = index_text.strip(), count_text.strip()
    if not sep or not index_text.isdigit() or not count_text.isdigit():
        raise ValueError(f"shard {text!r} must look like i/n, e.g. 2/5")
    index, count = int(index_text), int(count_text)
    _check_shard(index, count)
    return index, count


def _check_shard(index: int, count: int) -> None:
    if count < 1:
        raise ValueError(f"shard count must be at least 1, got {count}")
    if not 1 <= index <= count:
        raise ValueError(f"shard index must be between 1 and {count}, got {index}")


def shard_assignment(plan: Sequence[ProbeSpec], count: int) -> dict[str, int]:
    """The 1-based shard of each origin variant (by key) among ``count`` shards.

    Every probe of one origin goes to one shard, so a shard opens browser contexts
    only for its own origins and the per-origin fixed cost is divided along with
    the probes. Origins are dealt largest first, each to the shard with the fewest
    probes so far (ties to the lower index); equal origins are ordered by a digest
    of their key. So the split depends on the set of probes, never on their order,
    and every job of a CI matrix computes the same one from the same options.
    """
    sizes: dict[str, int] = {}
    for spec in plan:
        sizes[spec.variant.key] = sizes.get(spec.variant.key, 0) + 1
    loads = [0] * count
    assignment: dict[str, int] = {}
    for key in sorted(sizes, key=lambda k: (-sizes[k], _digest(k))):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        assignment[key] = lightest + 1
        loads[lightest] += sizes[key]
    return assignment


def shard(plan: Sequence[ProbeSpec], index: int, count: int) -> list[ProbeSpec]:
    """The probes of shard ``index`` of ``count``, in plan order (see :func:`shard_assignment`).

    Raises ``ValueError`` for a bad index or count.
    """
    _check_shard(index, count)
    assignment = shard_assignment(plan, count)
    return [spec for spec in plan if assignment[spec.variant.key] == index]


@dataclass(frozen=True)
class Plan:
    """The expanded probe plan for a run (narrowed, never changed, as the run learns)."""

    targets: tuple[str, ...]
    variants: tuple[OriginVariant, ...]
    specs: tuple[ProbeSpec, ...]
    notes: tuple[str, ...] = ()

    def by_variant(self) -> dict[str, list[ProbeSpec]]:
        """Probe specs grouped by origin variant key, in plan order."""
        groups: dict[str, list[ProbeSpec]] = defaultdict(list)
        for spec in self.specs:
            groups[spec.variant.key].append(spec)
        return dict(groups)


def make_plan(config: RunConfig, targets: Sequence[str]) -> Plan:
    """Expand the catalogue for these targets. Pure: no servers, no browsers."""
    target_origins = [Origin.from_url(t) for t in targets]
    variants = expand_origins(
        list(config.legit_origins),
        target_origins,
        disabled=config.disabled_classes,
        extra=list(config.extra_origins),
    )
    if config.per_class:
        asked = {o.serialize() for o in config.extra_origins}
        variants = _cap_per_class(variants, config.per_class, keep=asked)
    shapes = default_shapes(unsafe=config.unsafe, lab=config.lab, token=bool(config.headers))
    specs = build_plan(
        list(targets),
        variants,
        shapes,
        auth_headers=list(config.headers),
        target_shapes=config.extra_shapes,
    )
    notes = []
    if config.shard:
        index, count = config.shard
        specs = shard(specs, index, count)
        if not specs:
            notes.append(
                f"Shard {index}/{count} holds no probes: shards divide the plan by origin, "
                f"and this plan has {len(variants)} origins for {count} shards."
            )
    stand_ins = sorted({x.name for _, x in config.extra_shapes if x.safe_substitute})
    if stand_ins:
        notes.append(
            f"{len(stand_ins)} state-changing call(s) were sent as GET with the same headers, "
            "because --unsafe was not given: their preflights checked the headers but not the "
            "method, and no state-changing request reached the target."
        )
    if any(s.safe_substitute for s in shapes):
        notes.append(
            "Preflighted probes used GET with an Authorization header instead of "
            "a JSON POST, because --unsafe was not given: no state-changing method reached "
            "the target."
        )
    return Plan(tuple(targets), tuple(variants), tuple(specs), tuple(notes))


def _cap_per_class(
    variants: Sequence[OriginVariant], limit: int, keep: Collection[str] = ()
) -> list[OriginVariant]:
    """Keep the first ``limit`` origins of each class; ``null`` keeps every way of making it,
    and an origin in ``keep`` (the user's ``--origin``, which the catalogue may also
    derive in a class of its own) is always kept."""
    kept: list[OriginVariant] = []
    seen: dict[str, int] = defaultdict(int)
    for variant in variants:
        if variant.origin.serialize() in keep:
            kept.append(variant)
            continue
        if variant.role is Role.ATTACKER and variant.klass != "null":
            seen[variant.klass] += 1
            if seen[variant.klass] > limit:
                continue
        kept.append(variant)
    return kept

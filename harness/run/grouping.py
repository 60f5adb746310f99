"""Endpoints that share a policy: measure one in full, witness the others.

A real API usually answers CORS from one middleware for all its endpoints. For one
engine and cookie profile the run goes in stages (:class:`Grouping` keeps them):

1. **Witness set, every endpoint:** the legitimate origins and the first origin of
   every catalogue class (:func:`witness_keys`).
2. **Groups:** endpoints whose answers to the witness set are identical (the status
   class and every CORS response header the wire or the replay recorded, plus what
   the browser let the page read and whether the session went) form a group; the
   first endpoint in plan order is its representative (:func:`signature`).
3. **Representative, in full:** the rest of the catalogue.
4. **Members, the readers:** every origin that could read the representative, and one
   the representative blocked in each class whose witnessed origin it did not.
5. **Disagreement:** a member whose witnesses differ from the representative's
   (:func:`agrees`), or whose witness probe ended in error, runs in full.
6. **The rest** of a member's catalogue repeats the representative's observations,
   marked ``equivalent_to`` the representative (:func:`repeat`).

Everything here is pure; the runner runs the stages.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.model.results import (
    CookiePolicy,
    Engine,
    Evidence,
    HttpExchange,
    Observation,
    Outcome,
    ProbeSpec,
    Role,
    Via,
)

Answer = tuple[object, ...]
"""What one probe of one endpoint came back with, as grouping compares it."""


def probe_slot(spec: ProbeSpec) -> tuple[str, str, str, str]:
    """The place of a probe in an endpoint's catalogue: the same on every endpoint."""
    return (spec.variant.key, spec.shape.name, spec.credentials.value, spec.api)


def obs_slot(obs: Observation) -> tuple[str, str, str, str]:
    """:func:`probe_slot` of the probe an observation measured."""
    key = obs.origin if obs.via is Via.PAGE else f"{obs.origin} via {obs.via.value}"
    return (key, obs.shape, obs.credentials.value, obs.api)


def witness_keys(specs: Iterable[ProbeSpec]) -> set[str]:
    """Origin variants every endpoint runs: the legitimate ones, the first of each class."""
    keys: set[str] = set()
    classes: set[str] = set()
    for spec in specs:
        variant = spec.variant
        if variant.role is Role.LEGITIMATE:
            keys.add(variant.key)
        elif variant.klass not in classes:
            classes.add(variant.klass)
            keys.add(variant.key)
    return keys


def usable(specs: Sequence[ProbeSpec]) -> bool:
    """Grouping needs more than one endpoint, and a witness set with a legitimate origin
    and an attacker one (a shard may hold neither)."""
    targets = {s.target for s in specs}
    roles = {s.variant.role for s in specs}
    return len(targets) > 1 and Role.LEGITIMATE in roles and len(roles) > 1


_CORS = ("access-control-", "vary")


def _headers(ex: HttpExchange | None) -> Answer:
    if ex is None:
        return (None,)
    status = None if ex.status is None else ex.status // 100
    cors = tuple(
        sorted((k.lower(), v) for k, v in ex.response_headers if k.lower().startswith(_CORS))
    )
    return (status, cors)


def compared(ev: Evidence) -> Evidence:
    """``ev`` with only what grouping compares of it (status and CORS headers), to keep."""

    def slim(ex: HttpExchange | None) -> HttpExchange | None:
        if ex is None:
            return None
        cors = tuple((k, v) for k, v in ex.response_headers if k.lower().startswith(_CORS))
        return dataclasses.replace(ex, request_headers=(), response_headers=cors)

    return dataclasses.replace(ev, preflight=slim(ev.preflight), actual=slim(ev.actual))


def answer(obs: Observation, evidence: Evidence | None) -> Answer:
    """What grouping compares for one probe: the browser's verdict and the server's
    CORS answer to it (status class and every CORS header, preflight and actual)."""
    seen = (
        obs.outcome.value,
        obs.cookie_sent,
        obs.status if obs.status is None else obs.status // 100,
        tuple(sorted(obs.readable_headers)),
        obs.preflighted,
    )
    if evidence is None:
        return (*seen, None)
    return (*seen, _headers(evidence.preflight), _headers(evidence.actual))


def signature(
    observations: Iterable[Observation], evidence: Mapping[str, Evidence]
) -> tuple[tuple[tuple[str, str, str, str], Answer], ...] | None:
    """One endpoint's answers to the witness set, comparable across endpoints; None when
    no witness probe was judged (nothing to group on).

    A witness that ended in error has no answer and is left out, so that one origin whose
    page was lost for every endpoint (the usual way a witness fails) does not make every
    endpoint a group of its own; an endpoint that lost a witness the others kept has a
    different signature."""
    out = []
    for obs in observations:
        if obs.outcome is Outcome.ERROR:
            continue
        ev = evidence.get(obs.evidence) if obs.evidence else None
        out.append((obs_slot(obs), answer(obs, ev)))
    return tuple(sorted(out, key=lambda item: item[0])) or None


def group(signatures: Mapping[str, object], order: Sequence[str]) -> dict[str, list[str]]:
    """Representative -> members (in ``order``) of endpoints with equal signatures.

    An endpoint without a signature (None) is a group of its own.
    """
    groups: dict[str, list[str]] = {}
    first: dict[object, str] = {}
    for target in order:
        sig = signatures.get(target)
        if sig is None:
            groups[target] = []
            continue
        rep = first.setdefault(sig, target)
        if rep == target:
            groups[target] = []
        else:
            groups[rep].append(target)
    return groups


def reader_keys(
    rep: Iterable[Observation], specs: Iterable[ProbeSpec], witnessed: set[str]
) -> set[str]:
    """Origin variants members must run beyond the witness set: every origin that
    could read the representative, and for each class whose witnessed origin was
    readable, one origin of that class the representative blocked."""
    readable = {obs_slot(o)[0] for o in rep if o.outcome is Outcome.READABLE}
    blocked = {obs_slot(o)[0] for o in rep if o.outcome is Outcome.BLOCKED}
    keys = set(readable)
    by_class: dict[str, list[str]] = defaultdict(list)
    for spec in specs:
        if spec.variant.key not in by_class[spec.variant.klass]:
            by_class[spec.variant.klass].append(spec.variant.key)
    for variants in by_class.values():
        if any(k in witnessed and k in readable for k in variants):
            spare = next((k for k in variants if k in blocked and k not in witnessed), None)
            if spare is not None:
                keys.add(spare)
    return keys - witnessed


def agrees(
    member: Iterable[Observation],
    rep: Mapping[tuple[str, str, str, str], Observation],
    evidence: Mapping[str, Evidence],
) -> bool:
    """Every witness of the member answered as the representative did at that place.

    Where both ended in error neither has a verdict to compare: the member's stays its
    own (unknown), and is not counted as agreement or as a difference."""
    for obs in member:
        theirs = rep.get(obs_slot(obs))
        if theirs is None:
            return False
        if obs.outcome is Outcome.ERROR or theirs.outcome is Outcome.ERROR:
            if obs.outcome is theirs.outcome:
                continue
            return False
        mine_ev = evidence.get(obs.evidence) if obs.evidence else None
        theirs_ev = evidence.get(theirs.evidence) if theirs.evidence else None
        if answer(obs, mine_ev) != answer(theirs, theirs_ev):
            return False
    return True


def repeat(rep: Observation, spec: ProbeSpec, probe_id: str) -> Observation:
    """The representative's observation, standing for ``spec`` on an equivalent endpoint."""
    return dataclasses.replace(
        rep,
        id=probe_id,
        target=spec.target,
        equivalent_to=rep.target,
    )


@dataclass(frozen=True)
class GroupSummary:
    """How one engine and cookie profile's endpoints were grouped, for the report's notes."""

    endpoints: int
    groups: int
    equivalent: int
    """Members whose witnesses agreed: the rest of their catalogue repeats the representative."""
    disagreed: tuple[str, ...]
    """Members whose witnesses did not agree (or ended in error): they ran in full."""


async def run_grouped(
    specs: Sequence[ProbeSpec],
    *,
    probe: Callable[[list[ProbeSpec]], Awaitable[None]],
    observed: Callable[[], Mapping[str, Observation]],
    record: Callable[[Observation], object],
    probe_id: Callable[[ProbeSpec], str],
    evidence: Mapping[str, Evidence],
    stopped: Callable[[], bool],
    replay: Callable[[list[ProbeSpec]], Awaitable[Mapping[str, Evidence | None]]] | None = None,
) -> GroupSummary | None:
    """Run ``specs`` (one engine and cookie profile) in the stages of this module.

    ``probe`` runs specs in the browser (recording their observations), ``observed``
    gives what is recorded so far by probe id, ``record`` records a repeated one.
    ``replay`` sends specs from Python (spec id -> what the server said): every probe
    a member would repeat is replayed on the member and on its representative, and
    any CORS answer that differs makes the member run in full, so an origin only the
    member trusts is never covered by the representative's block. Returns None when
    the run stopped before the groups were settled.
    """
    order = list(dict.fromkeys(s.target for s in specs))
    witnessed = witness_keys(specs)
    by_target: dict[str, list[ProbeSpec]] = defaultdict(list)
    for spec in specs:
        by_target[spec.target].append(spec)

    def seen(target: str, keys: set[str] | None) -> list[Observation]:
        obs = observed()
        return [
            o
            for s in by_target[target]
            if (keys is None or s.variant.key in keys) and (o := obs.get(probe_id(s))) is not None
        ]

    await probe([s for s in specs if s.variant.key in witnessed])
    if stopped():
        return None
    sigs = {t: signature(seen(t, witnessed), evidence) for t in order}
    groups = group(sigs, order)
    members = {m: rep for rep, ms in groups.items() for m in ms}
    # Stage 3: every endpoint that is not a member runs the rest of the catalogue, while
    # the server's answers to what members would repeat are replayed from Python.
    replaying = None
    if replay is not None and members:
        repeatable = [
            s
            for s in specs
            if s.variant.key not in witnessed and (s.target in members or groups.get(s.target))
        ]
        replaying = asyncio.ensure_future(replay(repeatable))
    try:
        await probe(
            [s for s in specs if s.variant.key not in witnessed and s.target not in members]
        )
        replayed = await replaying if replaying is not None else None
    finally:
        if replaying is not None and not replaying.done():
            replaying.cancel()
    if stopped():
        return None
    readers: dict[str, set[str]] = {}
    for rep, ms in groups.items():
        if ms:
            readers[rep] = reader_keys(seen(rep, None), by_target[rep], witnessed)
    await probe(
        [s for s in specs if s.target in members and s.variant.key in readers[members[s.target]]]
    )
    if stopped():
        return None
    disagreed: list[str] = []
    for member, rep in members.items():
        theirs = {obs_slot(o): o for o in seen(rep, None)}
        asked = witnessed | readers[rep]
        rest = [s for s in by_target[member] if s.variant.key not in asked]
        rep_rest = [theirs.get(probe_slot(s)) for s in rest]
        mine = seen(member, asked)
        ran = sum(1 for s in by_target[member] if s.variant.key in asked)
        if (
            (replayed is not None and not _replays_agree(rest, by_target[rep], replayed))
            or len(mine) != ran
            or not agrees(mine, theirs, evidence)
            or any(o is None or o.outcome is Outcome.ERROR for o in rep_rest)
        ):
            disagreed.append(member)
            continue
        for spec, obs in zip(rest, rep_rest, strict=True):
            assert obs is not None
            record(repeat(obs, spec, probe_id(spec)))
    # Stage 5: a member that disagreed runs what it has not run yet, in full.
    if disagreed:
        asked_of = {m: witnessed | readers[members[m]] for m in disagreed}
        await probe(
            [s for m in disagreed for s in by_target[m] if s.variant.key not in asked_of[m]]
        )
    return GroupSummary(len(order), len(groups), len(members) - len(disagreed), tuple(disagreed))


def _replays_agree(
    rest: Sequence[ProbeSpec],
    rep_specs: Sequence[ProbeSpec],
    replayed: Mapping[str, Evidence | None],
) -> bool:
    """The server answered the member's replayed probes as it answered the
    representative's at the same place (status class and every CORS header)."""
    theirs = {probe_slot(s): replayed.get(s.id) for s in rep_specs}
    for spec in rest:
        mine, other = replayed.get(spec.id), theirs.get(probe_slot(spec))
        if mine is None or other is None:
            return False
        if (_headers(mine.preflight), _headers(mine.actual)) != (
            _headers(other.preflight),
            _headers(other.actual),
        ):
            return False
    return True


def grouping_note(engine: Engine, policy: CookiePolicy, summary: GroupSummary) -> str:
    """One line for the report's notes: how this engine's endpoints were grouped."""
    line = (
        f"{engine.value} ({policy.value}): {summary.endpoints} endpoints answered in "
        f"{summary.groups} group(s); {summary.equivalent} were witnessed equivalent to "
        "their group's representative (the legitimate origins, one origin per class and "
        "every origin that could read the representative agreed), and the rest of their "
        "catalogue repeats its measurement"
    )
    if summary.disagreed:
        line += f"; {len(summary.disagreed)} disagreed and ran in full"
    return line + " (--exhaustive runs every endpoint in full)."

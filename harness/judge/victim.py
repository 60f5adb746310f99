"""Whose data an answer held: the victim's, nobody's, or cannot tell. Pure functions.

Judged from the wire witness's body hashes (:mod:`harness.run.witness` records them):
a credentialed answer is compared with the run's own anonymous answers to the same
request. Used when a run is assembled and again when runs are merged.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.model.results import Observation
from scenarios.shapes import SIMPLE_GET, TOKEN_GET


@dataclass(frozen=True)
class Whose:
    """Whether an answer held the victim's data: True, False, or None (cannot tell)."""

    victim: bool | None
    why: str


def _key(o: Observation) -> tuple[str, str, str, str]:
    # Per engine: engines send different headers, which a server may answer differently.
    # A token probe is compared with the plain GET: the same request without the token.
    shape = SIMPLE_GET if o.shape == TOKEN_GET else o.shape
    # A repeat of an equivalent endpoint's observation carries that endpoint's answer:
    # it is judged against, and only counts towards, that endpoint's own answers.
    return (o.engine.value, o.equivalent_to or o.target, shape, o.method)


def _credentialed(o: Observation) -> bool:
    return o.cookie_sent is True or o.authorization_sent is True


def whose_data(observations: Iterable[Observation]) -> dict[str, Whose]:
    """For every probe whose actual request reached the target: whose data came back.

    The reference answers are the run's own wire records for the same target and
    request shape: *anonymous* ones (no session cookie, no token went) and
    *credentialed* ones (the session went). An answer equal to an anonymous one held
    nothing of the victim's; one that differs from a stable anonymous answer, while
    every credentialed answer agrees, is the victim's data; anything else cannot be
    told, because the response varies.
    """
    items = [o for o in observations if o.wire_status is not None]
    anon: dict[tuple[str, str, str, str], set[str | None]] = defaultdict(set)
    cred: dict[tuple[str, str, str, str], set[str | None]] = defaultdict(set)
    for o in items:
        if o.cookie_sent is False and o.authorization_sent is not True:
            anon[_key(o)].add(o.wire_body_hash)
        elif o.cookie_sent is True:
            cred[_key(o)].add(o.wire_body_hash)
    out: dict[str, Whose] = {}
    for o in items:
        out[o.id] = _whose(o, anon.get(_key(o), set()), cred.get(_key(o), set()))
    return out


def with_victim_data(observations: Sequence[Observation]) -> list[Observation]:
    """The observations with ``victim_data`` filled in from :func:`whose_data`."""
    found = whose_data(observations)
    out: list[Observation] = []
    for o in observations:
        w = found.get(o.id)
        if w is None or (o.victim_data == w.victim and o.victim_note == w.why):
            out.append(o)
        else:
            out.append(dataclasses.replace(o, victim_data=w.victim, victim_note=w.why))
    return out


def _whose(o: Observation, anon: set[str | None], cred: set[str | None]) -> Whose:
    if o.cookie_sent is None:
        return Whose(None, "whether a session credential went is unknown")
    if not _credentialed(o):
        return Whose(False, "no session credential went with the request")
    if o.wire_body_hash is None:
        return Whose(None, "the answer's body could not be hashed")
    if o.wire_body_hash in anon:
        return Whose(False, "the same answer an anonymous request got")
    if not anon:
        return Whose(None, "no anonymous answer to compare with")
    if len(anon) > 1:
        return Whose(None, "cannot tell: the anonymous answer varies between requests")
    if o.cookie_sent and len(cred - anon) > 1:
        return Whose(None, "cannot tell: the credentialed answer varies between requests")
    return Whose(True, "differs from the anonymous answer: the session changed it")

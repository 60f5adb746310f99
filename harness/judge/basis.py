"""What a finding stands on: probes measured on its own endpoint, or an equivalent one.

When endpoints that answer alike are grouped (``harness.run.grouping``), a member's
observations outside its witness set repeat its representative's, marked
``equivalent_to``. A finding backed only by such repeats says so, and in which
engines the member's own witnesses agreed; one backed by any probe measured on its
own endpoint is verified there.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence

from harness.model.results import Engine, Finding, Observation

_ENGINE_ORDER = {e: i for i, e in enumerate(Engine)}


def with_basis(findings: Sequence[Finding], observations: Sequence[Observation]) -> list[Finding]:
    """``findings`` with ``equivalent_to``, ``witnessed_in`` and a "Basis" detail line.

    Unchanged when no observation of the run repeats another endpoint's.
    """
    if not any(o.equivalent_to for o in observations):
        return list(findings)
    by_id: Mapping[str, Observation] = {o.id: o for o in observations}
    measured: dict[str, set[Engine]] = defaultdict(set)
    for o in observations:
        if o.equivalent_to is None:
            measured[o.target].add(o.engine)
    out = []
    for f in findings:
        backing = [by_id[p] for p in f.probes if p in by_id]
        engines = ", ".join(
            e.value for e in sorted(measured[f.target], key=_ENGINE_ORDER.__getitem__)
        )
        reps = {o.equivalent_to for o in backing}
        if backing and None not in reps and len(reps) == 1:
            rep = next(iter(reps))
            line = f"Basis: equivalent to {rep}, witnessed in {engines or 'no engine'}"
            f = dataclasses.replace(
                f,
                equivalent_to=rep,
                witnessed_in=tuple(sorted(measured[f.target], key=_ENGINE_ORDER.__getitem__)),
            )
        else:
            line = f"Basis: verified on this endpoint in {engines or 'no engine'}"
        detail = f.detail.strip()
        if detail and "\n" not in detail and not _labelled(detail):
            detail = f"Detail: {detail}"
        out.append(dataclasses.replace(f, detail=f"{detail}\n{line}" if detail else line))
    return out


def _labelled(line: str) -> bool:
    label, sep, _ = line.partition(": ")
    return bool(sep) and len(label) <= 60 and "://" not in label

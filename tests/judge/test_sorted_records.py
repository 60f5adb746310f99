"""story.sorted_records: the order of sorting by (key, repr), with repr only for ties."""

from __future__ import annotations

import random

from builders import observation

from harness.judge.story import sorted_records
from harness.model.results import Observation


def test_same_order_as_sorting_by_key_then_repr_whatever_the_input_order() -> None:
    # Ties on (target, id) as in merged runs, told apart only by another field.
    records = [
        observation(id=f"p{i % 3}", target=f"https://api.example.com/{i % 2}", status=i)
        for i in range(12)
    ]
    records.append(observation(id="p0", target="https://api.example.com/0", status=None))

    def key(o: Observation) -> tuple[str, ...]:
        return (o.target, o.id)

    expected = sorted(records, key=lambda o: (*key(o), repr(o)))
    rng = random.Random(16)
    for _ in range(5):
        shuffled = records[:]
        rng.shuffle(shuffled)
        assert sorted_records(shuffled, key) == expected


def test_repr_is_only_computed_for_ties() -> None:
    seen: list[str] = []

    class Counted:
        def __init__(self, name: str) -> None:
            self.name = name

        def __repr__(self) -> str:
            seen.append(self.name)
            return self.name

    items = [Counted(n) for n in ("b", "a", "c", "a")]
    assert [c.name for c in sorted_records(items, lambda c: (c.name,))] == ["a", "a", "b", "c"]
    assert sorted(seen) == ["a", "a"]

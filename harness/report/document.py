"""The report dict of a run, redacted, without a dict per probe: :func:`document`.

``_redact_dict(report.to_dict(), redact)`` builds a dict per probe and per exchange
record, then a redacted copy of each: a 100-endpoint run (178,500 probes) held both,
over 600 MB, beside the observations they came from. :func:`document` gives the same
dict, key for key and value for value, except that ``probes`` and ``evidence`` are
read-only views over the run's own records (:class:`Rows`): each row is a
:class:`~collections.abc.Mapping` built when it is read, with every string redacted
as ``_redact_dict`` would (once per distinct string), and dropped afterwards.

Every writer renders from it as from the plain dict (they read rows with ``get`` and
``[]``), and :mod:`harness.report.json_doc` writes each row as it comes, so
report.json holds the same bytes. Only ``json.dumps`` of the whole document needs
:func:`plain` as its ``default``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

from harness.model.results import (
    Credentials,
    Evidence,
    HttpExchange,
    Observation,
    RunReport,
    evidence_from_dict,
    observation_from_dict,
    to_jsonable,
)

Redact = Callable[[str], str]


_SCALARS = frozenset({int, float, bool, type(None)})


class Memo:
    """``redact`` once per distinct string: a run repeats its targets, origins and
    reasons hundreds of thousands of times."""

    def __init__(self, redact: Redact | None) -> None:
        self._redact = redact
        self._seen: dict[str, str] = {}
        self._enums: dict[enum.Enum, Any] = {}

    def __call__(self, text: str) -> str:
        if self._redact is None:
            return text
        done = self._seen.get(text)
        if done is None:
            done = self._seen[text] = self._redact(text)
        return done

    def walk(self, data: Any) -> Any:
        """A JSON-ready value with every string in it redacted, dict keys excepted."""
        if isinstance(data, dict):
            return {k: self.walk(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.walk(v) for v in data]
        if isinstance(data, str):
            return self(data)
        return data

    def enum(self, member: enum.Enum) -> Any:
        """An enum member's report.json value (its value, redacted), once per member."""
        try:
            return self._enums[member]
        except KeyError:
            done = self._enums[member] = self.walk(member.value)
            return done

    def field(self, value: Any) -> Any:
        """One record field as its report.json value, redacted (the common types first:
        a row's fields are read millions of times in a big report)."""
        kind = type(value)
        if kind is str:
            return self(value)
        if kind in _SCALARS:
            return value
        if isinstance(value, enum.Enum):
            return self.enum(value)
        if kind is tuple:
            return [self.walk(v) for v in value]
        return self.walk(value)


_PROBE_FIELDS = tuple(f.name for f in dataclasses.fields(Observation))
_PROBE_KEYS = (*_PROBE_FIELDS, "readable")
_PROBE_FIELD_SET = frozenset(_PROBE_FIELDS)


class ProbeRow(Mapping[str, Any]):
    """One probe as its report.json row (:func:`observation_to_dict`), redacted."""

    __slots__ = ("_memo", "_obs")

    def __init__(self, obs: Observation, memo: Memo) -> None:
        self._obs = obs
        self._memo = memo

    def __getitem__(self, key: str) -> Any:
        if key in _PROBE_FIELD_SET or key == "readable":
            return self.get(key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """The value at ``key``, else ``default`` (faster than Mapping's own: the HTML
        page reads some 50 fields per probe)."""
        # As observation_to_dict turns the field into JSON, then _redact_dict; strings
        # and scalars, most of what is read, without a further call.
        if key in _PROBE_FIELD_SET:
            value = getattr(self._obs, key)
            kind = type(value)
            if kind is str:
                return self._memo(value)
            return value if kind in _SCALARS else self._memo.field(value)
        if key == "readable":
            return self._obs.readable
        return default

    def __contains__(self, key: object) -> bool:
        return key == "readable" or key in _PROBE_FIELD_SET

    def __iter__(self) -> Iterator[str]:
        return iter(_PROBE_KEYS)

    def __len__(self) -> int:
        return len(_PROBE_KEYS)

    def plain(self) -> dict[str, Any]:
        """The row as a dict of its own (what json encodes)."""
        obs, field = self._obs, self._memo.field
        row = {name: field(getattr(obs, name)) for name in _PROBE_FIELDS}
        row["readable"] = obs.readable
        return row

    def observation(self) -> Observation:
        """What :func:`observation_from_dict` reads back from this row, without a copy
        when redaction left the row as the observation is (it raises as that does)."""
        memo = self._memo
        for name in _PROBE_FIELDS:
            value = getattr(self._obs, name)
            kind = type(value)
            if kind is str:
                same = memo(value) == value
            elif kind in _SCALARS:
                continue
            elif isinstance(value, enum.Enum):
                same = memo.enum(value) == value.value
            elif kind is tuple:
                same = all(memo.walk(v) == v for v in value)
            else:
                same = memo.walk(value) == value
            if not same:
                return observation_from_dict(self)
        return self._obs

    def __repr__(self) -> str:
        return f"ProbeRow({self._obs.id!r})"


class RecordRow(Mapping[str, Any]):
    """A record (an exchange record, :class:`~harness.model.results.Evidence`) as its
    report.json row (:func:`to_jsonable`), redacted; a record inside it (the preflight,
    the actual request) is a view too, other values are built on access."""

    __slots__ = ("_fields", "_memo", "_record")

    def __init__(self, record: Any, memo: Memo) -> None:
        self._record = record
        self._memo = memo
        self._fields = _field_names(type(record))

    def __getitem__(self, key: str) -> Any:
        if key not in self._fields:
            raise KeyError(key)
        value = getattr(self._record, key)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            # An exchange inside an exchange record: a view too, so reading its status
            # does not build its header lists.
            return RecordRow(value, self._memo)
        return self._memo.walk(to_jsonable(value))

    def get(self, key: str, default: Any = None) -> Any:
        """The value at ``key``, else ``default``."""
        return self[key] if key in self._fields else default

    def __contains__(self, key: object) -> bool:
        return key in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def plain(self) -> dict[str, Any]:
        """The row as a dict of its own (what json encodes)."""
        return dict(self._memo.walk(to_jsonable(self._record)))

    def evidence(self) -> Evidence:
        """What :func:`evidence_from_dict` reads back from this row, without a copy when
        that is the record itself (it raises as that does)."""
        e = self._record
        if isinstance(e, Evidence) and _evidence_reads_back(e, self._memo):
            return e
        return evidence_from_dict(self)

    def __repr__(self) -> str:
        return f"RecordRow({type(self._record).__name__})"


def _same(memo: Memo, *texts: Any) -> bool:
    """Every value a str that redaction leaves as it is."""
    return all(type(t) is str and memo(t) == t for t in texts)


def _kept(memo: Memo, *values: Any) -> bool:
    """Every value as redaction leaves it, whatever its type."""
    return all(memo.walk(v) == v for v in values)


def _pairs_read_back(memo: Memo, pairs: Any) -> bool:
    return type(pairs) is tuple and all(
        type(p) is tuple and len(p) == 2 and _same(memo, *p) for p in pairs
    )


def _exchange_reads_back(x: HttpExchange, memo: Memo) -> bool:
    # Exactly the fields exchange_from_dict would turn into something else: str() of a
    # non-str, "replay" for an empty source, "" for a missing protocol, bool() of a flag.
    return (
        _same(memo, x.method, x.url, x.source, x.protocol)
        and bool(x.source)
        and _pairs_read_back(memo, x.request_headers)
        and _pairs_read_back(memo, x.response_headers)
        and type(x.cookies) is tuple
        and _same(memo, *x.cookies)
        and _kept(memo, x.status, x.error, x.authorization, x.body_length, x.body_hash)
        and type(x.body_truncated) is bool
    )


def _evidence_reads_back(e: Evidence, memo: Memo) -> bool:
    return (
        _same(memo, e.key, e.target, e.origin, e.shape)
        and isinstance(e.credentials, Credentials)
        and _same(memo, e.credentials.value)
        and all(
            x is None or (isinstance(x, HttpExchange) and _exchange_reads_back(x, memo))
            for x in (e.preflight, e.actual)
        )
    )


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


Row = ProbeRow | RecordRow


class Rows(Sequence[Row]):
    """A report.json list (``probes``, ``evidence``) whose rows are made as they are read."""

    __slots__ = ("_items", "_make", "_memo")

    def __init__(self, items: Sequence[Any], memo: Memo, make: Callable[[Any, Memo], Row]) -> None:
        self._items = items
        self._memo = memo
        self._make = make

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self._make(x, self._memo) for x in self._items[index]]
        return self._make(self._items[index], self._memo)

    def __iter__(self) -> Iterator[Row]:
        make, memo = self._make, self._memo
        for x in self._items:
            yield make(x, memo)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def plain(self) -> list[dict[str, Any]]:
        """Every row as a dict of its own: the whole list at once, for small reports."""
        return [row.plain() for row in self]

    def __repr__(self) -> str:
        return f"Rows({len(self)})"


def plain(value: Any) -> Any:
    """``json.dumps``'s ``default`` for a document: a row or a view as plain JSON."""
    if isinstance(value, (ProbeRow, RecordRow, Rows)):
        return value.plain()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def document(report: RunReport, redact: Redact | None = None) -> dict[str, Any]:
    """``report.to_dict()`` with every string redacted by ``redact``, built once.

    Equal to ``_redact_dict(report.to_dict(), redact)`` in every key and value, in the
    same order; the ``probes`` and ``evidence`` lists are :class:`Rows` over
    ``report``'s records, so no probe's dict outlives its reading. The top level is an
    ordinary dict (the CLI adds ``baseline`` to it).
    """
    memo = Memo(redact)
    # Everything but the two long lists, by to_dict itself, so the rest cannot drift.
    data: dict[str, Any] = memo.walk(dataclasses.replace(report, probes=(), evidence=()).to_dict())
    data["probes"] = Rows(report.probes, memo, ProbeRow)
    data["evidence"] = Rows(report.evidence, memo, RecordRow)
    return data

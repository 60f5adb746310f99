"""``report.json``: the run report dict as stably ordered JSON.

This is the machine contract (see :meth:`harness.model.results.RunReport.to_dict`); the
other reporters render from the same dict, so a consumer of this file sees
exactly what the HTML shows -- and more: the HTML caps its probe log and evidence,
this file always keeps every probe and every exchange record.

Small reports are written indented (easy to read and diff). Above
:data:`COMPACT_ABOVE` probes the indentation alone would add a third to the file
(35 MB instead of 24 MB for a 25,000-probe run), so large reports are written
compact, one record per line: each top-level key starts a line and every element
of a top-level list (each probe, each evidence record, each finding) is a single
line with ``(",", ":")`` separators. That keeps the file small, still ``grep``-able
and diffable per probe, and ``json.loads`` reads both forms the same.

The dict may be a :func:`harness.report.document.document`, whose probe and
evidence rows are made as they are read: each is encoded, written and dropped in turn.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any, TextIO

from harness.report.document import Rows, plain

COMPACT_ABOVE = 5000
"""Reports with more probes than this are written compact (one record per line)."""

# The order RunReport.to_dict produces; keys beyond it (optional extras such as
# header_only or baseline) follow alphabetically so two runs diff cleanly.
_TOP_LEVEL = (
    "schema_version",
    "tool",
    "tool_version",
    "run_id",
    "started",
    "finished",
    "partial",
    "targets",
    "browsers",
    "config",
    "notes",
    "errors",
    "findings",
    "probes",
    "evidence",
    "rules",
)


def ordered(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report with its top-level keys in the canonical order, extras sorted after."""
    out = {k: report[k] for k in _TOP_LEVEL if k in report}
    for key in sorted(k for k in report if k not in out):
        out[key] = report[key]
    return out


# ensure_ascii also escapes C1 controls (e.g. U+009B, a terminal CSI) that a hostile
# header could carry, so the file is safe to cat in a terminal. One encoder for the
# whole report: json.dumps would build one per probe.
_ONE_LINE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, default=plain)


def _one_line(value: Any) -> str:
    return _ONE_LINE.encode(value)


def write_compact(report: Mapping[str, Any], fp: TextIO) -> None:
    """Write the report as compact JSON, one top-level key and one list element per line.

    Streamed: each line is encoded and written on its own, so a 100-endpoint report
    (250 MB of JSON) never exists as one string, nor as a list of its lines.
    """
    fp.write("{\n")
    items = list(ordered(report).items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, (list, Rows)) and value:
            fp.write(f"{_one_line(key)}:[\n")
            last = len(value) - 1
            for j, element in enumerate(value):
                fp.write(_one_line(element) + (",\n" if j < last else "\n"))
            fp.write(f"]{comma}\n")
        else:
            fp.write(f"{_one_line(key)}:{_one_line(value)}{comma}\n")
    fp.write("}\n")


def dumps_compact(report: Mapping[str, Any]) -> str:
    """The report as compact JSON text (:func:`write_compact` into a string)."""
    buf = io.StringIO()
    write_compact(report, buf)
    return buf.getvalue()


def _is_large(report: Mapping[str, Any]) -> bool:
    return len(report.get("probes") or []) > COMPACT_ABOVE


def dumps(report: Mapping[str, Any], *, compact: bool | None = None) -> str:
    """The report as JSON text ending in a newline.

    ``compact`` None (the default) picks by size: indented up to
    :data:`COMPACT_ABOVE` probes, compact above.
    """
    if compact is None:
        compact = _is_large(report)
    if compact:
        return dumps_compact(report)
    return json.dumps(ordered(report), indent=2, ensure_ascii=True, default=plain) + "\n"


def write(report: Mapping[str, Any], fp: TextIO) -> None:
    """Write ``report`` to ``fp`` as JSON (compact, and streamed, when it holds many probes)."""
    if _is_large(report):
        write_compact(report, fp)
    else:
        # Small enough to build whole; json.dump would use the slow pure-Python encoder.
        fp.write(dumps(report, compact=False))

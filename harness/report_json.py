"""``report.json``: the run report dict as pretty, stably ordered JSON.

This is the machine contract (see :meth:`harness.models.RunReport.to_dict`); the
other reporters render from the same dict, so a consumer of this file sees
exactly what the HTML shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

# The order RunReport.to_dict produces; keys beyond it (optional extras such as
# header_only or baseline) follow alphabetically so two runs diff cleanly.
_TOP_LEVEL = (
    "schema_version",
    "tool",
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


def dumps(report: Mapping[str, Any]) -> str:
    """The report as indented JSON text ending in a newline."""
    # ensure_ascii also escapes C1 controls (e.g. U+009B, a terminal CSI) that a
    # hostile header could carry, so the file is safe to cat in a terminal.
    return json.dumps(ordered(report), indent=2, ensure_ascii=True) + "\n"


def write(report: Mapping[str, Any], fp: TextIO) -> None:
    """Write ``report`` to ``fp`` as pretty JSON."""
    fp.write(dumps(report))

"""Which formats exist, the file each is written to, and writing them atomically.

One explicit table, :data:`WRITERS`, maps a format to its module's ``write`` (and the
files it writes beside its own, such as probes.html or SARIF's placeholder
locations). Each writer renders from the one dict
:meth:`harness.model.results.RunReport.to_dict` returns, or the same dict read back
from ``report.json``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from harness.model.results import Severity
from harness.report import html_page, json_doc, junit, markdown, sarif


@dataclass(frozen=True)
class Writer:
    """One report format: its file name, how to write it, what it writes beside it."""

    filename: str
    write: Callable[..., None]
    """``write(report, fp, fail_on=...)``; ``fail_on`` is the lowest failing severity."""
    extra_files: Callable[[Mapping[str, Any]], dict[str, str]] | None = None


def _ignoring_fail_on(
    write: Callable[[Mapping[str, Any], TextIO], None],
) -> Callable[..., None]:
    def call(report: Mapping[str, Any], fp: TextIO, *, fail_on: str) -> None:
        del fail_on  # only JUnit gates on severity
        write(report, fp)

    return call


WRITERS: dict[str, Writer] = {
    "html": Writer("report.html", _ignoring_fail_on(html_page.write), html_page.extra_files),
    "json": Writer("report.json", _ignoring_fail_on(json_doc.write)),
    "junit": Writer("junit.xml", junit.write),
    "sarif": Writer("report.sarif", _ignoring_fail_on(sarif.write), sarif.extra_files),
    "md": Writer("summary.md", _ignoring_fail_on(markdown.write)),
}

FORMATS: tuple[str, ...] = tuple(WRITERS)
"""Every report format, in the order they are written."""

FILENAMES: dict[str, str] = {fmt: w.filename for fmt, w in WRITERS.items()}
"""The file each format is written to inside the output directory."""


def parse_formats(text: str) -> tuple[str, ...]:
    """Parse a comma-separated list of format names (or ``all``), keeping order, no repeats.

    Raises ``ValueError`` naming the valid formats for an unknown or empty list.
    """
    names: list[str] = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name == "all":
            names.extend(FORMATS)
            continue
        if name not in FORMATS:
            valid = ", ".join(FORMATS)
            raise ValueError(f"unknown report format {raw.strip()!r} (choose from {valid}, all)")
        names.append(name)
    if not names:
        raise ValueError(f"no report format given (choose from {', '.join(FORMATS)}, all)")
    return tuple(dict.fromkeys(names))


def write_reports(
    report: Mapping[str, Any],
    out_dir: Path,
    formats: Sequence[str],
    *,
    fail_on: str = "high",
) -> list[Path]:
    """Write ``report`` in each of ``formats`` into ``out_dir``; return the paths written.

    Each file is rendered into a temporary file in ``out_dir`` and moved into place
    with :func:`os.replace`, so a crash or Ctrl-C never leaves a half-written report
    (an older complete report stays until the new one is whole). ``fail_on`` is the
    lowest severity the JUnit report counts as a failure.
    """
    Severity.parse(fail_on)  # fail before writing anything
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in dict.fromkeys(formats):
        writer = WRITERS[fmt]
        final = out_dir / writer.filename
        _write_atomic(final, functools.partial(writer.write, report, fail_on=fail_on))
        # Files a format refers to (probes.html, SARIF's placeholder locations), beside it.
        extra = writer.extra_files(report) if writer.extra_files is not None else {}
        for rel, text in extra.items():
            path = out_dir / rel
            if out_dir.resolve() not in path.resolve().parents:
                raise ValueError(f"{fmt}: refusing to write {rel} outside {out_dir}")
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, functools.partial(_write_text, text))
        written.append(final)
    return written


def _write_text(text: str, fp: TextIO) -> None:
    fp.write(text)


def _write_atomic(final: Path, render: Callable[[TextIO], object]) -> None:
    """Render into a temporary file beside ``final`` and move it into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        # newline="" keeps "\n" as written on every platform: reports are diffed.
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fp:
            render(fp)
            fp.flush()
            os.fsync(fp.fileno())
        # mkstemp creates 0600; a report is an ordinary shareable file.
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise

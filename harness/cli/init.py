"""``corsproof init``: write a commented starter config file.

``corsproof.toml`` by default; with ``--pyproject`` a ``[tool.corsproof]`` block is
appended to pyproject.toml instead. An existing config is never overwritten without
``--force`` (a pyproject.toml that has the table already is refused, whatever else).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from harness.model.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """The ``init`` command's arguments."""
    p = sub.add_parser(
        "init",
        help="write a commented starter config file (corsproof.toml)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write a commented starter config: the targets, environments and their "
        "origins, the session's environment variables, run settings and one expectation "
        "with an accepted risk, each explained. Then `corsproof verify` runs what it says.",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="URL",
        help="an endpoint to verify (repeatable)",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a legitimate frontend origin of production (repeatable)",
    )
    p.add_argument("--openapi", metavar="FILE|URL", help="the API's OpenAPI document")
    p.add_argument(
        "--pyproject",
        action="store_true",
        help="append a [tool.corsproof] table to pyproject.toml instead",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing corsproof.toml")
    p.add_argument("--dir", default=".", metavar="DIR", help="where to write (default: .)")


def cmd_init(ns: argparse.Namespace, out: TextIO, cwd: Path) -> int:
    """Write the starter file; returns the exit code (ConfigError for what is refused)."""
    from harness.inputs.starter import starter_config

    folder = (cwd / ns.dir).resolve()
    if not folder.is_dir():
        raise ConfigError(f"--dir {ns.dir}: not a folder")
    text = starter_config(ns.target, ns.allow_origin, ns.openapi, pyproject=ns.pyproject)
    if ns.pyproject:
        path = folder / "pyproject.toml"
        old = path.read_text("utf-8") if path.exists() else ""
        if "[tool.corsproof" in old:
            raise ConfigError(f"{path}: already has a [tool.corsproof] table")
        path.write_text(old + ("\n" if old and not old.endswith("\n") else "") + text, "utf-8")
    else:
        path = folder / "corsproof.toml"
        if path.exists() and not ns.force:
            raise ConfigError(f"{path}: exists (--force overwrites it)")
        path.write_text(text, "utf-8")
    out.write(f"wrote {path}; edit it, then run: corsproof verify\n")
    return 0

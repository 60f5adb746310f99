"""What the config file, the OpenAPI document and the HAR add to verify's arguments.

:func:`apply_inputs` runs once, after argparse and before
:func:`harness.cli.config_from_args`: it loads the config file (flags given on the
command line win over it, key by key), turns ``--openapi`` operations into targets and
``--har`` calls into probe shapes, and leaves the declared policy on the namespace.
Every failure is a :class:`~harness.model.errors.ConfigError` of one line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.model.policy import Policy

_UNSET: Any = object()


def given_dests(verify: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The argparse dests that ``argv`` (verify's own arguments) sets explicitly.

    argparse fills a dest with its default only when the namespace lacks it, so a
    namespace pre-filled with markers tells a given flag from a default one, whatever
    abbreviation or ``--flag=value`` form the user typed.
    """
    marked = argparse.Namespace()
    lists: dict[str, list[Any]] = {}
    for action in verify._actions:
        if action.dest in ("help", argparse.SUPPRESS):
            continue
        if isinstance(action, argparse._AppendAction):
            lists[action.dest] = []  # append copies a list, so identity tells
            setattr(marked, action.dest, lists[action.dest])
        else:
            setattr(marked, action.dest, _UNSET)
    ns = verify.parse_args(list(argv), namespace=marked)
    return {
        dest
        for dest, value in vars(ns).items()
        if value is not _UNSET and not (dest in lists and value is lists[dest])
    }


def _verify_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices["verify"]
            return found
    raise LookupError("no verify command")  # a programming error, not the user's


def apply_config(
    ns: argparse.Namespace, parser: argparse.ArgumentParser, argv: Sequence[str], cwd: Path
) -> Policy | None:
    """Fill ``ns`` from the config file for every dest the command line left unset, and
    return the declared policy (None without a file, or with ``--no-config``)."""
    if ns.no_config:
        if ns.config:
            from harness.model.errors import ConfigError

            raise ConfigError("--config and --no-config contradict each other")
        return None
    from harness.inputs.configfile import load_project
    from harness.judge.rules import RULES

    project = load_project(Path(ns.config) if ns.config else None, cwd, known_rules=set(RULES))
    if project is None:
        return None
    given = given_dests(_verify_parser(parser), argv)
    env = ns.env if "env" in given else None
    for dest, value in project.arguments(env).items():
        if dest not in given:
            setattr(ns, dest, value)
    policy = project.policy(env)
    if "allow_origin" not in given:
        # Every origin a readable_by names must be probed as a legitimate one, or
        # whether it can read would stay unknown.
        named = [o for e in policy.expectations for o in e.readable_by or ()]
        ns.allow_origin = list(dict.fromkeys([*ns.allow_origin, *named]))
    return policy


def apply_documents(ns: argparse.Namespace, cwd: Path) -> None:
    """``--openapi`` operations become targets, ``--har`` calls probe shapes (and their
    frontends' origins legitimate ones); both leave ``ns.extra_shapes``."""
    from scenarios.shapes import call_shapes

    calls: list[Any] = []
    if ns.openapi:
        from harness.inputs.openapi import load_openapi

        params = dict(_param(p) for p in ns.path_param)
        ops = load_openapi(ns.openapi, base=cwd, base_url=ns.base_url, path_params=params)
        ns.target = list(dict.fromkeys([*ns.target, *(c.url for c in ops)]))
        calls.extend(ops)
    elif ns.base_url or ns.path_param:
        from harness.model.errors import ConfigError

        raise ConfigError("--base-url and --path-param need --openapi")
    for har in ns.har:
        from harness.inputs.har import load_har

        recorded = load_har(cwd / har, targets=ns.target or None)
        if not ns.target:
            ns.target = list(dict.fromkeys(c.url for c in recorded))
        origins = [c.origin for c in recorded if c.origin]
        ns.allow_origin = list(dict.fromkeys([*ns.allow_origin, *origins]))
        calls.extend(recorded)
    unsafe = bool(ns.unsafe or getattr(ns, "lab", False) or not ns.target)
    ns.extra_shapes = call_shapes(calls, unsafe=unsafe)


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        from harness.model.errors import ConfigError

        raise ConfigError(f"--path-param {text!r}: expected NAME=VALUE")
    return name, value


def apply_inputs(
    ns: argparse.Namespace, parser: argparse.ArgumentParser, argv: Sequence[str], cwd: Path
) -> None:
    """:func:`apply_config`, then :func:`apply_documents`; the policy lands on ``ns.policy``."""
    ns.policy = apply_config(ns, parser, argv, cwd)
    apply_documents(ns, cwd)

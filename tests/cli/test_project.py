"""verify with a config file: the file fills what the command line leaves unset, flags
win key by key, readable_by origins are probed as legitimate, bad input is one line."""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import pytest

from harness.cli import build_parser, config_from_args, main
from harness.cli.project import _verify_parser, apply_inputs, given_dests
from harness.model.errors import ConfigError

CONFIG = """
[tool.corsproof]
targets = ["https://api.example.com/reflect/private"]
lab = true

[tool.corsproof.env.prod]
origins = ["https://app.example.com"]

[tool.corsproof.env.dev]
origins = ["https://app.example.com", "http://localhost:3000"]

[tool.corsproof.run]
browsers = ["chromium"]
fail_on = "medium"
rate = 7

[[tool.corsproof.expect]]
path = "/reflect/*"
readable_by = ["https://app.example.com", "https://admin.example.com"]
accept = [{ rule = "any-origin-read", reason = "lab", until = "2099-01-01" }]
"""


def verify_ns(argv: list[str], cwd: Path) -> argparse.Namespace:
    parser = build_parser()
    args = ["verify", *argv]
    ns = parser.parse_args(args)
    apply_inputs(ns, parser, args[1:], cwd)
    return ns


def project(tmp_path: Path, text: str = CONFIG) -> Path:
    (tmp_path / "pyproject.toml").write_text(text)
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    return sub


def test_given_dests_tells_flags_from_defaults_in_every_form() -> None:
    verify = _verify_parser(build_parser())
    given = given_dests(verify, ["--targ", "https://a.example/x", "--rate=3", "--unsafe"])
    assert given == {"target", "rate", "unsafe"}
    assert given_dests(verify, []) == set()


def test_the_file_found_upward_fills_what_the_command_line_leaves_unset(tmp_path: Path) -> None:
    config = config_from_args(verify_ns([], project(tmp_path)))
    assert config.targets == ("https://api.example.com/reflect/private",) and config.lab
    assert [c.engine.value for c in config.engines] == ["chromium"]
    assert (config.fail_on.value, config.rate, config.env) == ("medium", 7.0, "prod")
    # Every readable_by origin is probed as a legitimate one.
    assert [o.serialize() for o in config.legit_origins] == [
        "https://app.example.com",
        "https://admin.example.com",
    ]
    assert config.policy is not None and config.policy.source.endswith("pyproject.toml")
    assert config.summary()["config_file"] == config.policy.source


def test_flags_override_the_file_key_by_key(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    config = config_from_args(
        verify_ns(["--rate", "2", "--allow-origin", "https://other.example"], cwd)
    )
    assert config.rate == 2.0 and config.fail_on.value == "medium"
    assert [o.serialize() for o in config.legit_origins] == ["https://other.example"]


def test_env_dev_takes_the_dev_origins(tmp_path: Path) -> None:
    config = config_from_args(verify_ns(["--env", "dev"], project(tmp_path)))
    assert config.env == "dev"
    assert "http://localhost:3000" in [o.serialize() for o in config.legit_origins]
    assert config.policy is not None and config.policy.env == "dev"


def test_no_config_ignores_the_file(tmp_path: Path) -> None:
    config = config_from_args(verify_ns(["--no-config"], project(tmp_path)))
    assert config.policy is None and config.rate == 50.0


@pytest.mark.parametrize(
    ("argv", "text", "expected"),
    [
        (["--env", "staging"], CONFIG, "--env staging: not an environment of this file"),
        ([], CONFIG.replace("rate = 7", "rate = 'fast'"), "tool.corsproof.run.rate"),
        (["--config", "nope.toml"], CONFIG, "nope.toml"),
        (["--config", "x.toml", "--no-config"], CONFIG, "contradict"),
        ([], CONFIG.replace('"any-origin-read"', '"no-such-rule"'), "no-such-rule"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, argv: list[str], text: str, expected: str
) -> None:
    cwd = project(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        verify_ns(argv, cwd)
    assert expected in str(info.value) and "\n" not in str(info.value)
    err = io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        assert main(["verify", *argv], out=io.StringIO(), err=err) == 2
    finally:
        os.chdir(old)
    assert err.getvalue().count("\n") == 1 and expected in err.getvalue()


def test_env_without_a_file_is_prod_or_dev(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="prod or dev"):
        config_from_args(verify_ns(["--env", "staging"], tmp_path))
    assert config_from_args(verify_ns(["--env", "dev"], tmp_path)).env == "dev"


def test_lab_targets_must_be_lab_endpoints(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a lab endpoint"):
        config_from_args(verify_ns(["--lab", "--target", "https://other.example/x"], tmp_path))


def test_init_writes_a_starter_verify_then_reads(tmp_path: Path) -> None:
    out = io.StringIO()
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        args = ["init", "--target", "https://api.example.com/me"]
        assert main([*args, "--allow-origin", "https://app.example.com"], out=out) == 0
        assert main(args, out=io.StringIO(), err=io.StringIO()) == 2  # exists: refused
    finally:
        os.chdir(old)
    config = config_from_args(verify_ns([], tmp_path))
    assert config.targets == ("https://api.example.com/me",)
    assert [o.serialize() for o in config.legit_origins] == ["https://app.example.com"]


CORPUS = Path(__file__).resolve().parents[1] / "inputs" / "corpus"
BAD = [
    *(("--openapi", p) for p in sorted((CORPUS / "openapi").glob("bad-*"))),
    *(("--har", p) for p in sorted((CORPUS / "har").glob("bad-*"))),
    *(
        ("--config", p)
        for p in sorted((CORPUS / "config").glob("*.toml"))
        if not p.name.startswith("pyproject-")
    ),
]


@pytest.mark.parametrize(("flag", "path"), BAD, ids=[f"{f[2:]}-{p.name}" for f, p in BAD])
def test_every_malformed_input_is_one_line_and_exit_2(
    tmp_path: Path, flag: str, path: Path
) -> None:
    err = io.StringIO()
    old = Path.cwd()
    os.chdir(tmp_path)  # no config file found upward from here
    try:
        argv = ["verify", flag, str(path), "--lab", "--browser", "chromium"]
        assert main(argv, out=io.StringIO(), err=err) == 2
    finally:
        os.chdir(old)
    text = err.getvalue()
    assert text.count("\n") == 1 and text.startswith("corsproof: error: "), text
    assert path.name in text, text
    assert len(BAD) >= 30

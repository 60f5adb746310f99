"""``corsproof init``'s starter file: it loads, gives back what it was given, and its
commented examples are valid when uncommented."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from harness.config import parse_target
from harness.inputs.configfile import Project, load_project, schema
from harness.inputs.starter import starter_config, toml_string
from harness.judge.rules import RULES
from harness.model.errors import ConfigError

TARGETS = ["https://api.example.com/me", "https://api.example.com/items?page=1"]
ORIGINS = ["https://app.example.com", "https://ADMIN.example.com:443/"]

# A commented-out example line: a key, a [table] or an [[array of tables]].
EXAMPLE = re.compile(r"^# (?=\[|[a-z_]+ = )")


def load(folder: Path, text: str, name: str = "corsproof.toml") -> Project:
    (folder / name).write_text(text, "utf-8")
    project = load_project(None, folder, known_rules=RULES)
    assert project is not None
    return project


def test_the_starter_gives_back_targets_origins_and_openapi(tmp_path: Path) -> None:
    (tmp_path / "openapi.yaml").write_text("openapi: 3.1.0\n")
    project = load(tmp_path, starter_config(TARGETS, ORIGINS, "openapi.yaml"))
    args = project.arguments()
    assert args["target"] == TARGETS
    assert args["allow_origin"] == ["https://app.example.com", "https://admin.example.com"]
    assert args["openapi"] == str(tmp_path.resolve() / "openapi.yaml")
    assert args["env"] == "prod"
    assert project.env_names == ("prod",)
    assert project.policy().expectations == ()


def test_the_pyproject_form_appends_to_a_pyproject(tmp_path: Path) -> None:
    existing = '[project]\nname = "app"\n\n[tool.ruff]\nline-length = 100\n'
    openapi = "https://api.example.com/openapi.json"
    text = existing + "\n" + starter_config(TARGETS, ORIGINS, openapi, pyproject=True)
    project = load(tmp_path, text, "pyproject.toml")
    assert project.display == "pyproject.toml"
    assert project.arguments()["target"] == TARGETS
    assert project.arguments()["openapi"] == "https://api.example.com/openapi.json"
    assert tomllib.loads(text)["tool"]["ruff"] == {"line-length": 100}


def test_without_targets_or_origins_it_still_loads(tmp_path: Path) -> None:
    project = load(tmp_path, starter_config([], [], None))
    assert project.arguments() == {"env": "prod", "allow_origin": []}


@pytest.mark.parametrize("pyproject", [False, True])
def test_every_example_is_valid_when_uncommented(tmp_path: Path, pyproject: bool) -> None:
    for name in ("openapi.yaml", "frontend.har", "state.json"):
        (tmp_path / name).write_text("{}")
    text = starter_config(TARGETS, ORIGINS, None, pyproject=pyproject)
    lines = [EXAMPLE.sub("", line) for line in text.splitlines()]
    uncommented = "\n".join(lines) + "\n"
    assert uncommented.count("\n# ") < text.count("\n# ") - 20
    project = load(tmp_path, uncommented, "pyproject.toml" if pyproject else "corsproof.toml")
    assert project.env_names == ("prod", "dev")
    args = project.arguments("dev")
    assert args["allow_origin"][-1] == "http://localhost:3000"
    assert args["cookie_env"] == ["APP_SESSION"] and args["header_env"] == ["APP_TOKEN"]
    assert args["browser"] == "chromium,firefox,webkit"
    (expect,) = project.policy().expectations
    assert expect.pattern == "/api/*"
    assert expect.readable_by == ("https://app.example.com",)
    assert expect.accept[0].rule == "subdomain-trusted"


def test_it_explains_every_section() -> None:
    text = starter_config(TARGETS, ORIGINS, None)
    data = schema()
    keys = [*data["properties"]]
    for table in ("session", "run", "expectation", "acceptance"):
        keys += data["$defs"][table]["properties"]
    for key in keys:
        assert re.search(rf"(^|[\s\[{{.]){key}( =|\]|\.)", text, re.MULTILINE), key


HOSTILE_TARGETS = [
    'https://api.example.com/a"b',
    "https://api.example.com/back\\slash",
    "https://api.example.com/new\nline",
    "https://api.example.com/tab\tcr\r",
    'https://api.example.com/x" \nlab = true\n# ',
    "https://api.example.com/\x7fdel\x00nul\x1b\u2028\u0085é😀",
]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_hostile_targets_round_trip(tmp_path: Path, target: str) -> None:
    text = starter_config([target], ['https://we"ird.example'], None)
    project = load(tmp_path, text)
    assert project.arguments()["target"] == [parse_target(target)]  # stripped, as --target is
    assert project.arguments()["allow_origin"] == ['https://we"ird.example']
    assert "lab" not in project.arguments()


@pytest.mark.parametrize(
    ("targets", "origins", "openapi", "message"),
    [
        (["ftp://api.example.com/"], [], None, "--target"),
        ([], ["https://app\n.example.com"], None, "--allow-origin"),
        ([], ["https://app.example.com/path"], None, "--allow-origin"),
        ([], [], "http://", "--openapi"),
        ([], [], " ", "--openapi"),
        (["https://api.example.com/\ud800"], [], None, "lone surrogate"),
    ],
)
def test_bad_input_is_refused(
    targets: list[str], origins: list[str], openapi: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        starter_config(targets, origins, openapi)


def test_toml_string_round_trips_every_character() -> None:
    points = [*range(0x800), 0x2028, 0x2029, 0xFEFF, 0xFFFF, 0x1F600, 0x10FFFF]
    text = "".join(chr(c) for c in points)
    assert tomllib.loads(f"s = {toml_string(text)}\n")["s"] == text

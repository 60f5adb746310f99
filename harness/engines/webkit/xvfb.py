"""A private X server for browsers that cannot run headless.

WebKitGTK's MiniBrowser needs a display: its ``--headless`` mode hangs under
WebDriver (measured, docs/engines.md). :class:`Xvfb` starts a virtual X server on
a free display number and stops it again, so a run never depends on (or draws
windows onto) the user's own desktop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

from harness.model.errors import LaunchError

# X11 fixes these paths; they are not temporary files we create.
X_TMP = Path("/tmp")  # noqa: S108
SOCKET_DIR = X_TMP / ".X11-unix"
FIRST_DISPLAY = 90
"""Low numbers belong to real desktops and ssh forwarding; start well above them."""
LAST_DISPLAY = 400

# Two sessions starting side by side must not both pick the same number; Xvfb's own
# lock file catches other processes, this lock catches our own threads.
_PICK_LOCK = threading.Lock()


def display_socket(display: str) -> Path | None:
    """The unix socket of a local display such as ``:91`` (None for remote displays)."""
    if not display.startswith(":"):
        return None
    number = display[1:].split(".", 1)[0]
    if not number.isdigit():
        return None
    return SOCKET_DIR / f"X{number}"


def display_usable(display: str | None) -> bool:
    """True when ``display`` is a local X server that accepts connections."""
    path = display_socket(display) if display else None
    return path is not None and _accepts(path)


def _accepts(path: Path) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(1.0)
        sock.connect(str(path))
    except OSError:
        return False
    finally:
        sock.close()
    return True


def _taken(number: int) -> bool:
    return (X_TMP / f".X{number}-lock").exists() or (SOCKET_DIR / f"X{number}").exists()


class Xvfb:
    """``Xvfb :N -screen 0 1280x800x24 -nolisten tcp`` on the first free N from 90.

    Use it as a context manager, or call :meth:`start` and (always) :meth:`stop`.
    """

    def __init__(
        self,
        *,
        executable: str | None = None,
        first: int = FIRST_DISPLAY,
        last: int = LAST_DISPLAY,
        timeout: float = 10.0,
    ) -> None:
        self.executable = executable or shutil.which("Xvfb") or ""
        self.first = first
        self.last = last
        self.timeout = timeout
        self.display = ""
        """``:N`` once started."""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Xvfb:
        """Start the server and wait until it accepts connections; raises LaunchError."""
        if not self.executable:
            raise LaunchError("Xvfb not found: install it with `apt-get install xvfb`")
        last_error = "no free display number"
        for number in range(self.first, self.last + 1):
            with _PICK_LOCK:
                if _taken(number):
                    continue
                proc = self._spawn(number)
            ready, last_error = self._wait_ready(proc, number)
            if ready:
                self._proc = proc
                self.display = f":{number}"
                return self
            _end(proc)
            # Another process won the race for this number (or Xvfb is broken):
            # a lost race shows as an early exit, so try the next number.
            if proc.returncode is None or "already active" not in last_error:
                break
        raise LaunchError(f"Xvfb did not start: {last_error}")

    def _spawn(self, number: int) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                [
                    self.executable,
                    f":{number}",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                # Its own session, so a Ctrl-C aimed at corsproof reaches it only
                # through stop(), after the browsers using it are gone.
                start_new_session=True,
            )
        except OSError as exc:
            raise LaunchError(f"Xvfb could not be run: {exc.strerror or exc}") from None

    def _wait_ready(self, proc: subprocess.Popen[bytes], number: int) -> tuple[bool, str]:
        path = SOCKET_DIR / f"X{number}"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
                lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
                fatal = next((ln for ln in lines if "active" in ln or "fatal" in ln.lower()), "")
                why = fatal or (lines[-1] if lines else "")
                return False, f"exited with {proc.returncode}: {why}".rstrip(": ")
            if path.exists() and _accepts(path):
                # Nothing reads stderr from here on; a full pipe must never block Xvfb.
                if proc.stderr is not None:
                    proc.stderr.close()
                return True, ""
            time.sleep(0.05)
        return False, f"display :{number} not ready after {self.timeout:.0f}s"

    def stop(self) -> None:
        """Terminate the server (kill it if it lingers); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _end(proc)

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose X clients use this display and nothing else."""
        env = dict(os.environ if base is None else base)
        env["DISPLAY"] = self.display
        # A Wayland session in the parent would otherwise win over DISPLAY.
        env.pop("WAYLAND_DISPLAY", None)
        env["GDK_BACKEND"] = "x11"
        return env

    def __enter__(self) -> Xvfb:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Terminate, wait, then kill: never leave an X server behind."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
    if proc.stderr is not None and not proc.stderr.closed:
        proc.stderr.close()

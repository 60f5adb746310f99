"""A small helper that runs an ASGI app under uvicorn in a background thread.

Every harness server (the lab, the page server, the proxy's helpers) needs the
same things: a port known before anyone connects, TLS with a caller-supplied
certificate, a clean one-line error when it cannot start, and a stop that is
quick and safe to call from ``finally``. :class:`BackgroundServer` provides them.

Latency note: uvicorn's h11 protocol writes the response head and body in
separate ``transport.write`` calls, which is the pattern Nagle's algorithm plus
delayed ACKs turns into a ~40 ms stall per response. uvicorn itself never sets
``TCP_NODELAY``, but asyncio's socket transport does for every TCP connection
it wraps (``asyncio.base_events._set_nodelay``), TLS included because the SSL
protocol sits on the same transport. We also set it on the listening socket,
which Linux copies to accepted sockets, so the guarantee does not rest on one
asyncio implementation detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from harness.model.errors import LaunchError
from harness.model.results import base_url

_STOP_TIMEOUT = 5.0
"""Seconds to wait for a graceful stop before forcing one."""


class BackgroundServer:
    """Run a uvicorn server for an ASGI app in a daemon thread with its own event loop.

    The listening socket is bound here, in the caller's thread, before uvicorn
    starts, so :attr:`port` is known without a race and bind failures surface
    as :class:`~harness.model.errors.LaunchError` straight from :meth:`start`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        name: str = "server",
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.name = name
        self._port: int | None = None
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def port(self) -> int:
        """The port actually bound; only valid after :meth:`start`."""
        if self._port is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self._port

    @property
    def scheme(self) -> str:
        """``https`` when a certificate was supplied, else ``http``."""
        return "https" if self.ssl_certfile else "http"

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``https://127.0.0.1:43125``."""
        return base_url(self.scheme, self.host, self.port)

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        """Bind, start serving and return once the server accepts connections.

        Raises :class:`~harness.model.errors.LaunchError` with one line when the port
        cannot be bound, the certificate cannot be loaded, or uvicorn does not
        come up within ``timeout`` seconds.
        """
        if self._thread is not None:
            raise RuntimeError(f"{self.name} was already started")
        sock = self._bind()
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            # None keeps uvicorn from calling dictConfig and clobbering the
            # embedding program's logging setup on every server start.
            log_config=None,
            access_log=False,
            lifespan="off",
            ssl_certfile=self.ssl_certfile,
            ssl_keyfile=self.ssl_keyfile,
            timeout_graceful_shutdown=1,
        )
        try:
            # Loading here rather than in the thread makes a bad certificate a
            # clean error from start() instead of a thread that quietly died.
            config.load()
        except (OSError, ssl.SSLError, ValueError) as exc:
            sock.close()
            raise LaunchError(f"{self.name}: cannot load TLS certificate/key: {exc}") from exc
        self._sock = sock
        self._port = sock.getsockname()[1]
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, name=f"corsproof-{self.name}", daemon=True
        )
        self._thread.start()

        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                reason = self._describe_failure()
                self.stop()
                raise LaunchError(f"{self.name} on port {self._port} exited on start-up: {reason}")
            if time.monotonic() > deadline:
                self.stop()
                raise LaunchError(f"{self.name} did not start within {timeout:g}s")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving and free the port; idempotent and safe in ``finally``."""
        server, thread, sock = self._server, self._thread, self._sock
        if server is not None:
            server.should_exit = True
        if thread is not None and thread.is_alive():
            thread.join(_STOP_TIMEOUT)
            if thread.is_alive():
                # A request handler is hanging; stop waiting for it.
                if server is not None:
                    server.force_exit = True
                thread.join(_STOP_TIMEOUT)
        if sock is not None:
            # uvicorn closes it on a normal shutdown; this covers the paths
            # where it never got that far.
            with contextlib.suppress(OSError):
                sock.close()
        self._sock = None

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"<BackgroundServer {self.name} {where}>"

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if os.name == "posix":
                # Lets a restarted harness rebind a port still in TIME_WAIT. Only on
                # POSIX: on Windows the flag lets two listeners share a port.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.host, self.requested_port))
            sock.listen(128)
            sock.setblocking(False)
        except (OSError, OverflowError) as exc:  # OverflowError: a port above 65535
            sock.close()
            why = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
            raise LaunchError(
                f"{self.name}: cannot listen on {self.host}:{self.requested_port}: {why}"
            ) from exc
        return sock

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # uvicorn reports start-up failure via sys.exit
            self._failure = exc

    def _describe_failure(self) -> str:
        exc = self._failure
        if exc is None or isinstance(exc, SystemExit):
            return "see the uvicorn error above"
        return f"{type(exc).__name__}: {exc}"

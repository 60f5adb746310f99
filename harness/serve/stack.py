"""The servers one run stands up: the CA, the page server, the forward proxy with
its wire witness and relay, and (for lab runs) the lab; plus the URLs pages use.

:class:`Harness` starts them for a plan and stops them; nothing here drives a
browser or judges anything.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Hashable
from typing import Any
from urllib.parse import quote, urlsplit

import certifi

from harness.config import RunConfig
from harness.model.results import Origin, OriginVariant, ProbeSpec, Role, Via
from harness.serve import wire
from harness.serve.ca import RunCA
from harness.serve.pages import PROBE_PATH, REDIRECT_PATH, allow_redirects, create_app
from harness.serve.relay import Upstream
from harness.serve.servers import BackgroundServer
from harness.serve.wire import WireLog
from scenarios.plan import Plan

OPAQUE_HOST = Origin("https", "opaque-host.corsproof-attacker.test", 443)
"""The page that hosts the ``null``-origin iframes and starts the redirect chain."""
REDIRECTOR = Origin("https", "redirector.corsproof-attacker.test", 443)
"""A second attacker origin whose redirect taints the request origin to ``null``."""


def page_url(variant: OriginVariant) -> str:
    """Where the browser goes to get the variant's origin."""
    host_origin = variant.origin if variant.via is Via.PAGE else OPAQUE_HOST
    query = f"role={variant.role.value}&klass={quote(variant.klass)}"
    return f"{host_origin.serialize()}{PROBE_PATH}?{query}"


def probe_url(spec: ProbeSpec, marker: str | None = None) -> str:
    """The URL page JavaScript requests for this probe, with the wire marker if given.

    The marker (:func:`harness.serve.wire.mark`) is removed by the proxy before the request
    reaches the target; for a redirect variant it rides on the URL the redirector
    sends the browser to, so the hop that reaches the target carries it.
    """
    target = wire.mark(spec.target, marker) if marker else spec.target
    if spec.variant.via is Via.REDIRECT:
        return f"{REDIRECTOR.serialize()}{REDIRECT_PATH}?to={quote(target, safe='')}"
    return target


class Harness:
    """The servers of one run: CA, page server, optional lab, proxy. Always stop it.

    ``served`` is what the servers are started for, when that is more than ``plan``
    (:class:`SharedServers` serves every plan of a pytest session so far).
    """

    def __init__(
        self, config: RunConfig, plan: Plan, *, lab: Any | None = None, served: Plan | None = None
    ) -> None:
        self.config = config
        self.plan = plan
        self.served = served or plan
        """The origins and targets the servers answer for (``plan``'s, or more)."""
        self.lab = lab
        self.ca: RunCA | None = None
        self._servers: list[Any] = []
        self.proxy: Any = None
        self.lab_port: int | None = None
        self._lab_plain: Any = None
        """The lab's plain-http listener for the relay (lab runs with the wire witness)."""
        self.wire = WireLog()
        """What the browsers sent to the targets and what came back (the wire witness)."""
        self._app: Any = None

    def start(self) -> None:
        """Start everything; raises LaunchError with one line when a piece fails."""
        from harness.serve.proxy import ForwardProxy

        hosts = {v.origin.host for v in self.served.variants if not v.origin.opaque}
        hosts |= {OPAQUE_HOST.host, REDIRECTOR.host}
        hosts |= {urlsplit(t).hostname or "" for t in self.served.targets}
        self.ca = RunCA(sorted(h for h in hosts if h))
        app = self._app = create_app(self.served.targets)
        # Only the proxy (in this process) connects to the page servers, so they stay
        # on loopback whatever --bind says; --bind exposes the proxy alone.
        local = "127.0.0.1"
        https = BackgroundServer(
            app,
            host=local,
            ssl_certfile=str(self.ca.certfile),
            ssl_keyfile=str(self.ca.keyfile),
            name="page server (https)",
        )
        http = BackgroundServer(app, host=local, name="page server (http)")
        self._servers = [https, http]
        if self.lab is not None:
            lab_server = BackgroundServer(
                self.lab.app,
                ssl_certfile=str(self.ca.certfile),
                ssl_keyfile=str(self.ca.keyfile),
                name="lab",
            )
            self._servers.append(lab_server)
            if self.config.wire:
                # The relay's own leg to the lab: plain http on loopback. The browsers
                # still speak TLS to the proxy; only our two ends skip a second TLS.
                self._lab_plain = BackgroundServer(self.lab.app, name="lab (relay)")
                self._servers.append(self._lab_plain)
        for server in self._servers:
            server.start()
        if self.lab is not None:
            self.lab_port = lab_server.port
        routes: dict[tuple[str, int], tuple[str, int]] = {}
        for variant in [
            *self.served.variants,
            OriginVariant(OPAQUE_HOST, "host", Role.ATTACKER, "", ""),
            OriginVariant(REDIRECTOR, "host", Role.ATTACKER, "", ""),
        ]:
            o = variant.origin
            if o.opaque:
                continue
            routes[(o.host, o.port)] = (local, https.port if o.secure else http.port)
        ours = ssl.create_default_context(cafile=str(self.ca.cafile))
        intercept, pages = self._targets(routes, ours, https.port, http.port)
        server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ssl.load_cert_chain(str(self.ca.certfile), str(self.ca.keyfile))
        server_ssl.set_alpn_protocols(["http/1.1"])
        self.proxy = ForwardProxy(
            routes,
            bind=self.config.bind,
            fallback={443: (local, https.port), 80: (local, http.port)},
            intercept=intercept,
            pages=pages,
            server_ssl=server_ssl,
            wire=self.wire,
            timeout=self.config.timeout,
        )
        self.proxy.start()

    def _targets(
        self,
        routes: dict[tuple[str, int], tuple[str, int]],
        ours: ssl.SSLContext,
        https_port: int,
        http_port: int,
    ) -> tuple[dict[tuple[str, int], Upstream], dict[tuple[str, int], Upstream]]:
        """Where each target really is: relayed and witnessed, or (no witness) tunnelled.

        Without the witness (``--no-wire-witness``) ``routes`` is changed in place: each
        target becomes a plain route, tunnelled untouched.
        """
        intercept: dict[tuple[str, int], Upstream] = {}
        pages: dict[tuple[str, int], Upstream] = {}
        theirs = target_ssl(self.config.insecure)
        for target in self.served.targets:
            t = Origin.from_url(target)
            key = (t.host, t.port)
            bare = t.host.strip("[]")
            if self._lab_plain is not None:
                dest, tls = ("127.0.0.1", self._lab_plain.port), None
            elif self.lab is not None:
                dest, tls = ("127.0.0.1", self.lab_port or 0), ours
            else:
                dest = self.config.connect_to_map().get((bare, t.port), (bare, t.port))
                tls = theirs
            if not self.config.wire:
                routes[key] = dest
                continue
            intercept[key] = Upstream(
                dest[0], dest[1], tls if t.secure else None, bare, record=True
            )
            if key in routes:
                # The target shares a host with an impersonated origin (a same-origin
                # frontend): corsproof's own page paths there still go to the page server.
                pages[key] = Upstream(
                    "127.0.0.1",
                    https_port if t.secure else http_port,
                    ours if t.secure else None,
                    "127.0.0.1",
                )
        return intercept, pages

    def stop(self) -> None:
        """Stop every server; safe in ``finally``."""
        if self.proxy is not None:
            self.proxy.stop()
        for server in reversed(self._servers):
            with contextlib.suppress(Exception):
                server.stop()
        if self.ca is not None:
            self.ca.close()

    def reuse(self, config: RunConfig, plan: Plan) -> None:
        """Serve the next run's ``plan`` (which :attr:`served` covers) with a fresh wire log.

        A target on an origin already served needs no restart: the proxy routes by host
        and port, and only the redirector's list of targets grows.
        """
        self.config, self.plan = config, plan
        self.served = widened(self.served, plan)
        if self._app is not None:
            allow_redirects(self._app, plan.targets)
        self.wire = WireLog()
        if self.proxy is not None:
            # Read per connection: the next run's browsers open new ones.
            self.proxy.wire = self.wire


def covers(served: Plan, plan: Plan) -> bool:
    """Whether servers started for ``served`` answer for every origin and target of ``plan``.

    Targets count by origin: the proxy routes (and the CA signs) hosts, not paths.
    """
    have = {v.origin for v in served.variants}
    if not {v.origin for v in plan.variants} <= have:
        return False
    return {Origin.from_url(t) for t in plan.targets} <= {
        Origin.from_url(t) for t in served.targets
    }


def widened(served: Plan, plan: Plan) -> Plan:
    """A plan (without probes) of the origins and targets of both: what to restart for."""
    variants = {v.origin: v for v in (*served.variants, *plan.variants)}
    targets = dict.fromkeys((*served.targets, *plan.targets))
    return Plan(targets=tuple(targets), variants=tuple(variants.values()), specs=())


def _settings(config: RunConfig, lab: Any | None) -> tuple[Hashable, ...]:
    """What a started Harness was made with besides the plan: if it differs, restart."""
    return (
        config.bind,
        config.wire,
        config.insecure,
        config.timeout,
        tuple(sorted(config.connect_to_map().items())),
        None if lab is None else id(lab),
    )


class SharedServers:
    """One :class:`Harness` kept from run to run: the pytest plugin's session servers.

    Each run asks :meth:`acquire` for servers. The running ones are reused when they
    already answer for the run's origins and targets with the same settings; otherwise
    they are restarted for the old and the new ones together, so a session's runs soon
    share one start. Runs happen one at a time. :meth:`close` stops them.
    """

    def __init__(self) -> None:
        self._harness: Harness | None = None
        self._settings: tuple[Hashable, ...] | None = None
        self.starts = 0
        """How many times servers were started (a measurement for tests and notes)."""

    def acquire(self, config: RunConfig, plan: Plan, lab: Any | None) -> Harness:
        """Started servers for ``plan``; raises LaunchError with one line when one fails."""
        settings = _settings(config, lab)
        current = self._harness
        if current is not None and settings == self._settings and covers(current.served, plan):
            current.reuse(config, plan)
            return current
        same = current is not None and settings == self._settings
        served = widened(current.served, plan) if same and current is not None else plan
        self.close()
        harness = Harness(config, plan, lab=lab, served=served)
        try:
            harness.start()
        except BaseException:
            harness.stop()
            raise
        self._harness, self._settings = harness, settings
        self.starts += 1
        return harness

    def close(self) -> None:
        """Stop the servers, if any are running; safe to call twice."""
        harness, self._harness = self._harness, None
        if harness is not None:
            harness.stop()


def target_ssl(insecure: bool) -> ssl.SSLContext:
    """The TLS context for connections to real targets: certifi's roots, or none checked."""
    if insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=certifi.where())
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx

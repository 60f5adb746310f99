"""The attacker-origin catalogue: ``origins.toml`` parsed, and its pure expansion.

Each class models one server-side allow-list mistake. :func:`expand_origins`
derives concrete origins of every enabled class from the application's own
origins and from the target hosts, so a server that trusts "anything starting
with api.example.com" is caught even when the app lives elsewhere.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from harness.model.errors import OriginError
from harness.model.results import DEFAULT_PORTS, Origin, OriginVariant, Role, Via
from scenarios.site import is_ip, registrable_domain, same_site

__all__ = [
    "CLASSES",
    "CLASS_IDS",
    "Catalogue",
    "OriginClass",
    "expand_origins",
    "load_catalogue",
    "parse_catalogue",
]

CLASS_IDS: tuple[str, ...] = (
    "legitimate",
    "unrelated",
    "post-domain",
    "pre-domain",
    "unescaped-dot",
    "substring",
    "sibling-subdomain",
    "deeper-subdomain",
    "scheme-downgrade",
    "other-port",
    "localhost",
    "user-content",
    "special-char",
    "null",
    "custom",
)
"""Every class id, fixed; other modules and reports rely on them."""


@dataclass(frozen=True)
class OriginClass:
    """One kind of attacker origin and the mistake it tests for."""

    id: str
    title: str
    explanation: str
    mistake: str
    default_enabled: bool


@dataclass(frozen=True)
class Catalogue:
    """``origins.toml`` parsed: the classes in file order plus their generation data."""

    classes: tuple[OriginClass, ...]
    attacker_domain: str
    attacker_label: str
    unrelated: tuple[Origin, ...]
    pre_domain_prefixes: tuple[str, ...]
    dot_letter: str
    substring_trims: tuple[int, ...]
    other_ports: tuple[int, ...]
    localhost: tuple[Origin, ...]
    user_content: tuple[Origin, ...]
    special_chars: tuple[str, ...]
    null_vias: tuple[Via, ...]

    @property
    def by_id(self) -> Mapping[str, OriginClass]:
        """Classes keyed by id, in file order."""
        return MappingProxyType({c.id: c for c in self.classes})


def parse_catalogue(text: str) -> Catalogue:
    """Parse catalogue TOML; raises ``ValueError`` when it is malformed or a class is missing."""
    data = tomllib.loads(text)
    tables = data.get("class")
    if not isinstance(tables, list):
        raise ValueError("catalogue: expected [[class]] tables")
    classes: list[OriginClass] = []
    params: dict[str, Mapping[str, Any]] = {}
    for table in tables:
        cid = _str(table, "id")
        if cid not in CLASS_IDS:
            raise ValueError(f"catalogue: unknown class id {cid!r}")
        if cid in params:
            raise ValueError(f"catalogue: class {cid!r} appears twice")
        classes.append(
            OriginClass(
                id=cid,
                title=_str(table, "title"),
                explanation=_str(table, "explanation"),
                mistake=_str(table, "mistake"),
                default_enabled=bool(table.get("default_enabled", True)),
            )
        )
        params[cid] = table
    missing = [cid for cid in CLASS_IDS if cid not in params]
    if missing:
        raise ValueError(f"catalogue: missing classes {', '.join(missing)}")
    if classes[0].id != "legitimate":
        raise ValueError("catalogue: the legitimate class must come first")
    try:
        return Catalogue(
            classes=tuple(classes),
            attacker_domain=_str(data, "attacker_domain"),
            attacker_label=_str(data, "attacker_label"),
            unrelated=_origins(params["unrelated"], "origins"),
            pre_domain_prefixes=_strs(params["pre-domain"], "prefixes"),
            dot_letter=_str(params["unescaped-dot"], "letter"),
            substring_trims=tuple(int(n) for n in params["substring"].get("trims", ())),
            other_ports=tuple(int(n) for n in params["other-port"].get("ports", ())),
            localhost=_origins(params["localhost"], "origins"),
            user_content=_origins(params["user-content"], "origins"),
            special_chars=_strs(params["special-char"], "chars"),
            null_vias=tuple(Via(v) for v in _strs(params["null"], "vias")),
        )
    except OriginError as exc:
        raise ValueError(f"catalogue: {exc}") from None


def _str(table: Mapping[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"catalogue: {key!r} must be a non-empty string")
    return value


def _strs(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"catalogue: {key!r} must be a list of strings")
    return tuple(value)


def _origins(table: Mapping[str, Any], key: str) -> tuple[Origin, ...]:
    return tuple(Origin.parse(text) for text in _strs(table, key))


@functools.cache
def load_catalogue() -> Catalogue:
    """The packaged ``origins.toml``, parsed once."""
    text = resources.files("scenarios").joinpath("origins.toml").read_text(encoding="utf-8")
    return parse_catalogue(text)


CLASSES: Mapping[str, OriginClass] = load_catalogue().by_id
"""Every class, keyed by id, in catalogue order."""


# --- expansion -------------------------------------------------------------------

# (origin, explanation, via) before the class's role and mistake are attached.
_Raw = tuple[Origin, str, Via]
_Generator = Callable[[Catalogue, Sequence[Origin], Sequence[Origin]], Iterator[_Raw]]


def _page(origin: Origin, explanation: str) -> _Raw:
    return origin, explanation, Via.PAGE


def _with_host(source: Origin, host: str) -> Origin:
    return Origin(source.scheme, host, source.port)


def _base_host(source: Origin) -> str | None:
    """The source host for string surgery; None where surgery makes no sense."""
    host = source.host.rstrip(".")
    if not host or source.opaque or host.startswith("["):
        return None
    return host


def _gen_unrelated(cat: Catalogue, _s: Sequence[Origin], _e: Sequence[Origin]) -> Iterator[_Raw]:
    for origin in cat.unrelated:
        yield _page(origin, f"{origin} is an attacker site with no tie to the application")


def _gen_post_domain(
    cat: Catalogue, sources: Sequence[Origin], _e: Sequence[Origin]
) -> Iterator[_Raw]:
    for src in sources:
        host = _base_host(src)
        if host is None:
            continue
        new = f"{host}.{cat.attacker_domain}"
        yield _page(
            _with_host(src, new),
            f"{new} starts with {host} but is a subdomain of the attacker's {cat.attacker_domain}",
        )


def _gen_pre_domain(
    cat: Catalogue, sources: Sequence[Origin], _e: Sequence[Origin]
) -> Iterator[_Raw]:
    for src in sources:
        host = _base_host(src)
        if host is None or is_ip(host):
            continue
        reg = registrable_domain(host)
        if reg is None:
            continue
        for prefix in cat.pre_domain_prefixes:
            new = f"{prefix}{reg}"
            yield _page(
                _with_host(src, new),
                f"{new} ends with {reg} yet is a separate domain the attacker registers",
            )
        if host != reg:
            for prefix in cat.pre_domain_prefixes:
                new = f"{prefix}{host}"
                yield _page(
                    _with_host(src, new),
                    f"{new} ends with {host}; it is a host under {reg}, so only a takeover "
                    f"there makes it the attacker's",
                )


def _gen_unescaped_dot(
    cat: Catalogue, sources: Sequence[Origin], _e: Sequence[Origin]
) -> Iterator[_Raw]:
    for src in sources:
        host = _base_host(src)
        if host is None or is_ip(host):
            continue
        for i, char in enumerate(host):
            if char != ".":
                continue
            new = host[:i] + cat.dot_letter + host[i + 1 :]
            yield _page(
                _with_host(src, new),
                f"{new} is {host} with dot {host[:i].count('.') + 1} replaced by "
                f"{cat.dot_letter!r}, as a regex with an unescaped '.' allows",
            )


def _gen_substring(
    cat: Catalogue, sources: Sequence[Origin], _e: Sequence[Origin]
) -> Iterator[_Raw]:
    for src in sources:
        host = _base_host(src)
        if host is None or is_ip(host):
            continue
        for trim in cat.substring_trims:
            new = host[:-trim] if 0 < trim < len(host) else ""
            # A cut that ends on a dot names the same host as without it.
            if not new or new.endswith("."):
                continue
            yield _page(
                _with_host(src, new),
                f"{new} is {host} cut short by {trim} character(s), "
                f"a substring of the allowed origin",
            )


def _gen_sibling(cat: Catalogue, sources: Sequence[Origin], _e: Sequence[Origin]) -> Iterator[_Raw]:
    for src in sources:
        host = _base_host(src)
        if host is None or is_ip(host):
            continue
        reg = registrable_domain(host)
        if reg is None:
            continue
        sibling = f"{cat.attacker_label}.{reg}"
        yield _page(
            _with_host(src, sibling),
            f"{sibling} is another host under {reg}, such as a forgotten or taken-over subdomain",
        )
        yield _page(_with_host(src, reg), f"{reg} is the registrable domain of {host} itself")


def _gen_deeper(cat: Catalogue, sources: Sequence[Origin], _e: Sequence[Origin]) -> Iterator[_Raw]:
    for src in sources:
        host = _base_host(src)
        if host is None or is_ip(host):
            continue
        new = f"{cat.attacker_label}.{host}"
        yield _page(_with_host(src, new), f"{new} is a subdomain of {host}")


def _gen_scheme(_c: Catalogue, sources: Sequence[Origin], _e: Sequence[Origin]) -> Iterator[_Raw]:
    for src in sources:
        if src.opaque or src.scheme != "https":
            continue
        port = DEFAULT_PORTS["http"] if src.port == DEFAULT_PORTS["https"] else src.port
        new = Origin("http", src.host, port)
        yield _page(
            new, f"{new} is {src} over plain http; schemeful same-site treats it as cross-site"
        )


def _gen_port(cat: Catalogue, sources: Sequence[Origin], _e: Sequence[Origin]) -> Iterator[_Raw]:
    for src in sources:
        if src.opaque:
            continue
        for port in cat.other_ports:
            if port == src.port:
                continue
            new = Origin(src.scheme, src.host, port)
            yield _page(new, f"{new} is {src.host} on port {port} instead of {src.port}")


def _gen_localhost(cat: Catalogue, _s: Sequence[Origin], _e: Sequence[Origin]) -> Iterator[_Raw]:
    for origin in cat.localhost:
        yield _page(origin, f"{origin} is a loopback origin, typical of development servers")


def _gen_user_content(cat: Catalogue, _s: Sequence[Origin], _e: Sequence[Origin]) -> Iterator[_Raw]:
    for origin in cat.user_content:
        yield _page(origin, f"{origin} serves pages that anyone can publish")


def _gen_special(cat: Catalogue, sources: Sequence[Origin], _e: Sequence[Origin]) -> Iterator[_Raw]:
    for src in sources:
        host = _base_host(src)
        if host is None:
            continue
        for char in cat.special_chars:
            new = f"{host}{char}.{cat.attacker_domain}"
            yield _page(
                _with_host(src, new),
                f"{new} is {host}, then {char!r}, then the attacker's {cat.attacker_domain}; "
                f"whether an engine accepts this host is measured",
            )


_VIA_TEXT = {
    Via.SANDBOX_SRCDOC: "a sandboxed srcdoc iframe",
    Via.DATA_IFRAME: "a data: URL iframe",
    Via.REDIRECT: "a cross-origin redirect",
    Via.PAGE: "a page",
}


def _gen_null(cat: Catalogue, _s: Sequence[Origin], _e: Sequence[Origin]) -> Iterator[_Raw]:
    for via in cat.null_vias:
        yield Origin.null(), f"the opaque origin 'null', produced by {_VIA_TEXT[via]}", via


def _gen_custom(_c: Catalogue, _s: Sequence[Origin], extra: Sequence[Origin]) -> Iterator[_Raw]:
    for origin in extra:
        if origin.opaque:
            # A page cannot simply be served at "null"; a sandboxed iframe is the
            # way any attacker gets that origin.
            explanation = "'null' as given with --origin, from a sandboxed srcdoc iframe"
            yield origin, explanation, Via.SANDBOX_SRCDOC
        else:
            yield _page(origin, f"{origin} was named as an attacker origin with --origin")


_GENERATORS: Mapping[str, _Generator] = {
    "unrelated": _gen_unrelated,
    "post-domain": _gen_post_domain,
    "pre-domain": _gen_pre_domain,
    "unescaped-dot": _gen_unescaped_dot,
    "substring": _gen_substring,
    "sibling-subdomain": _gen_sibling,
    "deeper-subdomain": _gen_deeper,
    "scheme-downgrade": _gen_scheme,
    "other-port": _gen_port,
    "localhost": _gen_localhost,
    "user-content": _gen_user_content,
    "special-char": _gen_special,
    "null": _gen_null,
    "custom": _gen_custom,
}


def _dedupe(origins: Sequence[Origin]) -> list[Origin]:
    seen: set[Origin] = set()
    out: list[Origin] = []
    for origin in origins:
        if origin not in seen:
            seen.add(origin)
            out.append(origin)
    return out


def _same_site_note(origin: Origin, anchors: Sequence[Origin]) -> str:
    for anchor in anchors:
        if origin != anchor and same_site(origin, anchor):
            return f" (same-site with {anchor}: SameSite cookies still flow)"
    return ""


def expand_origins(
    legitimate: Sequence[Origin],
    targets: Sequence[Origin],
    *,
    disabled: Collection[str] = (),
    extra: Sequence[Origin] = (),
    enabled: Collection[str] = (),
    catalogue: Catalogue | None = None,
) -> list[OriginVariant]:
    """Every origin variant to probe from, legitimate origins first.

    ``legitimate`` are the application's own origins; ``targets`` are the origins
    of the URLs under test (derivations are made from both, legitimate first).
    ``disabled`` removes classes; ``enabled`` opts into classes the catalogue has
    off by default; ``extra`` are the user's ``--origin`` values (class ``custom``).

    Order is deterministic: legitimate origins, then classes in catalogue order,
    then generation order. Variants are deduplicated by :attr:`OriginVariant.key`
    (the first wins), and an attacker variant whose origin is a legitimate origin
    or a target origin is dropped: from there a read is same-origin or intended,
    and proves nothing.

    Raises ``ValueError`` for unknown class ids, or when ``legitimate`` is disabled.
    """
    cat = catalogue or load_catalogue()
    known = {c.id for c in cat.classes}
    for name, ids in (("disabled", disabled), ("enabled", enabled)):
        unknown = sorted(set(ids) - known)
        if unknown:
            valid = ", ".join(c.id for c in cat.classes)
            raise ValueError(
                f"unknown origin class {', '.join(unknown)} in {name} (valid: {valid})"
            )
    if "legitimate" in disabled:
        raise ValueError("the legitimate class cannot be disabled")

    legit = _dedupe([o for o in legitimate if not o.opaque])
    sources = _dedupe([*legit, *(t for t in targets if not t.opaque)])
    forbidden = set(sources)
    anchors = legit or sources

    out: list[OriginVariant] = []
    seen: set[str] = set()

    def add(variant: OriginVariant) -> None:
        if variant.key not in seen:
            seen.add(variant.key)
            out.append(variant)

    legit_class = cat.by_id["legitimate"]
    for origin in legit:
        add(
            OriginVariant(
                origin=origin,
                klass="legitimate",
                role=Role.LEGITIMATE,
                explanation=f"{origin} is one of the application's own origins",
                mistake=legit_class.mistake,
            )
        )

    for klass in cat.classes:
        if klass.id == "legitimate" or klass.id in disabled:
            continue
        if not klass.default_enabled and klass.id not in enabled:
            continue
        for origin, explanation, via in _GENERATORS[klass.id](cat, sources, extra):
            if via is Via.PAGE and origin in forbidden:
                continue
            add(
                OriginVariant(
                    origin=origin,
                    klass=klass.id,
                    role=Role.ATTACKER,
                    explanation=explanation + _same_site_note(origin, anchors),
                    mistake=klass.mistake,
                    via=via,
                )
            )
    return out

"""Site awareness: registrable domains and schemeful same-site, offline.

Browsers decide SameSite cookie delivery by *site*, not origin, so whether an
attacker origin is same-site with the application changes what a read from it
means. The Public Suffix List comes from the ``publicsuffixlist`` package's
bundled copy; nothing here touches the network.
"""

from __future__ import annotations

import functools
import ipaddress

from publicsuffixlist import PublicSuffixList

from harness.model.results import Origin

__all__ = ["is_ip", "registrable_domain", "same_site", "site_of"]


@functools.cache
def _psl() -> PublicSuffixList:
    # accept_unknown=True applies the implicit "*" rule browsers use, so an
    # unlisted TLD such as .test still yields a registrable domain (example.test);
    # only_icann=False keeps the private section (github.io, pages.dev, ...).
    return PublicSuffixList(accept_unknown=True, only_icann=False)


def is_ip(host: str) -> bool:
    """True for IPv4/IPv6 literals, and for hosts a URL parser would read as IPv4.

    The WHATWG URL parser sends any host whose last label is numeric (``1.2.3``,
    ``0x7f.1``) to its IPv4 parser, so such a host never has a registrable domain.
    """
    text = host.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return True
    last = text.rpartition(".")[2]
    if not last:
        return False
    if last.isdigit():
        return True
    return last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:])


def registrable_domain(host: str) -> str | None:
    """The registrable domain (eTLD+1) of ``host``, or None.

    None for IP addresses, for public suffixes themselves (``com``, ``github.io``,
    and ``localhost`` through the implicit ``*`` rule), and for malformed names
    with empty labels. A trailing dot is kept, as the HTML spec does, so
    ``example.com.`` and ``example.com`` are different sites.
    """
    text = host.strip().lower()
    if not text or is_ip(text):
        return None
    trailing = text.endswith(".")
    name = text[:-1] if trailing else text
    if not name or name.startswith(".") or ".." in name:
        return None
    try:
        found = _psl().privatesuffix(name)
    except (ValueError, UnicodeError):
        # Odd characters should never reach here unparsed, but a verifier must not
        # crash on the hosts it invents to provoke broken servers.
        return None
    if not isinstance(found, str):
        return None
    return found + "." if trailing else found


def site_of(origin: Origin) -> tuple[str, str] | None:
    """The schemeful site (scheme, registrable domain or host); None for opaque origins."""
    if origin.opaque:
        return None
    return origin.scheme, registrable_domain(origin.host) or origin.host.lower()


def same_site(a: Origin, b: Origin, *, schemeful: bool = True) -> bool:
    """Whether two origins are same-site per the HTML spec.

    Schemeful (the default, as browsers now ship it): same scheme and same
    registrable domain, or the same host when there is no registrable domain
    (IPs, ``localhost``, a bare public suffix). Ports never matter. Opaque origins
    are treated as same-site with nothing, since each one is unique.
    """
    site_a, site_b = site_of(a), site_of(b)
    if site_a is None or site_b is None:
        return False
    if schemeful:
        return site_a == site_b
    return site_a[1] == site_b[1]

"""Site awareness against the bundled Public Suffix List."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.model.results import Origin
from scenarios.site import is_ip, registrable_domain, same_site, site_of


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("app.example.com", "example.com"),
        ("example.com", "example.com"),
        ("APP.Example.COM", "example.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("com", None),
        ("co.uk", None),
        # Unknown TLDs follow the implicit "*" rule, as browsers do.
        ("evil.example.test", "example.test"),
        ("test", None),
        # github.io is in the private section: each user gets their own site.
        ("a.github.io", "a.github.io"),
        ("github.io", None),
        ("localhost", None),
        ("foo.localhost", "foo.localhost"),
        ("127.0.0.1", None),
        ("[::1]", None),
        ("1.2.3", None),
        ("example.com.", "example.com."),
        ("a..example.com", None),
        ("", None),
        ("app.example.com_.evil.test", "evil.test"),
        ('app.example.com".evil.test', "evil.test"),
    ],
)
def test_registrable_domain(host: str, expected: str | None) -> None:
    assert registrable_domain(host) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("[::1]", True),
        ("::1", True),
        ("10.0.0.1.", True),
        ("0x7f.1", True),
        ("example.com", False),
        ("localhost", False),
        ("1password.com", False),
    ],
)
def test_is_ip(host: str, expected: bool) -> None:
    assert is_ip(host) is expected


org = Origin.parse


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("https://app.example.com", "https://evil.example.com", True),
        ("https://app.example.com", "https://example.com", True),
        ("https://app.example.com", "https://app.example.com:8443", True),
        ("https://app.example.com", "https://evilexample.com", False),
        ("https://app.example.com", "https://app.example.com.evil.test", False),
        ("https://app.example.com", "http://app.example.com", False),
        ("https://api.example.test", "https://evil.example.test", True),
        ("https://a.github.io", "https://b.github.io", False),
        ("https://a.github.io", "https://a.github.io:444", True),
        ("http://127.0.0.1", "http://127.0.0.1:3000", True),
        ("http://127.0.0.1", "http://127.0.0.2", False),
        ("http://localhost", "http://localhost:8080", True),
        ("http://localhost", "http://127.0.0.1", False),
        ("https://example.com", "https://example.com.", False),
    ],
)
def test_same_site_truth_table(a: str, b: str, expected: bool) -> None:
    assert same_site(org(a), org(b)) is expected
    assert same_site(org(b), org(a)) is expected


def test_schemeless_ignores_scheme() -> None:
    assert same_site(
        org("https://app.example.com"), org("http://evil.example.com"), schemeful=False
    )
    assert not same_site(org("https://app.example.com"), org("http://evil.example.com"))


def test_opaque_is_never_same_site() -> None:
    null = Origin.null()
    assert not same_site(null, null)
    assert not same_site(null, org("https://example.com"))
    assert not same_site(org("https://example.com"), null, schemeful=False)
    assert site_of(null) is None


def test_site_of() -> None:
    assert site_of(org("https://app.example.com:8443")) == ("https", "example.com")
    assert site_of(org("http://127.0.0.1:3000")) == ("http", "127.0.0.1")


@given(st.text(max_size=40))
def test_registrable_domain_never_crashes(host: str) -> None:
    result = registrable_domain(host)
    assert result is None or isinstance(result, str)

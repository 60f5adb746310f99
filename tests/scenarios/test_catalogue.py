"""The origin catalogue and its expansion."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.model.errors import OriginError
from harness.model.results import Origin, OriginVariant, Role, Via
from scenarios.catalogue import (
    CLASS_IDS,
    CLASSES,
    expand_origins,
    load_catalogue,
    parse_catalogue,
)

org = Origin.parse
APP = org("https://app.example.com")
API = org("https://api.example.com")


@pytest.fixture(scope="module")
def variants() -> list[OriginVariant]:
    return expand_origins([APP], [API])


def keys_of(variants: list[OriginVariant], klass: str) -> list[str]:
    return [v.key for v in variants if v.klass == klass]


def test_classes_complete_and_ordered() -> None:
    assert tuple(CLASSES) == CLASS_IDS
    for cls in CLASSES.values():
        assert cls.title and cls.explanation and cls.mistake
        assert "\n" not in cls.explanation and "\n" not in cls.mistake
    assert load_catalogue() is load_catalogue()


def test_legitimate_first(variants: list[OriginVariant]) -> None:
    first = variants[0]
    assert first.origin == APP
    assert first.klass == "legitimate"
    assert first.role is Role.LEGITIMATE
    assert all(v.role is Role.ATTACKER for v in variants[1:])


def test_order_follows_catalogue(variants: list[OriginVariant]) -> None:
    positions = [CLASS_IDS.index(v.klass) for v in variants]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("klass", "expected"),
    [
        ("unrelated", ["https://corsproof-attacker.test"]),
        ("post-domain", ["https://app.example.com.evil.test", "https://api.example.com.evil.test"]),
        (
            "pre-domain",
            [
                "https://evilexample.com",
                "https://evil-example.com",
                "https://evilapp.example.com",
                "https://evil-app.example.com",
                "https://evilapi.example.com",
                "https://evil-api.example.com",
            ],
        ),
        (
            "unescaped-dot",
            [
                "https://appxexample.com",
                "https://app.examplexcom",
                "https://apixexample.com",
                "https://api.examplexcom",
            ],
        ),
        (
            "substring",
            [
                "https://app.example.co",
                "https://app.example.c",
                "https://api.example.co",
                "https://api.example.c",
            ],
        ),
        # From api.example.com the same two come out again and are deduplicated.
        ("sibling-subdomain", ["https://evil.example.com", "https://example.com"]),
        ("deeper-subdomain", ["https://evil.app.example.com", "https://evil.api.example.com"]),
        ("scheme-downgrade", ["http://app.example.com", "http://api.example.com"]),
        (
            "other-port",
            [
                "https://app.example.com:8443",
                "https://app.example.com:444",
                "https://api.example.com:8443",
                "https://api.example.com:444",
            ],
        ),
    ],
)
def test_derived_classes(variants: list[OriginVariant], klass: str, expected: list[str]) -> None:
    assert keys_of(variants, klass) == expected


def test_data_driven_lists(variants: list[OriginVariant]) -> None:
    localhost = keys_of(variants, "localhost")
    assert {"http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:8080"} <= set(
        localhost
    )
    assert "http://localhost" in localhost
    user = keys_of(variants, "user-content")
    for origin in (
        "https://corsproof-attacker.github.io",
        "https://codepen.io",
        "https://jsfiddle.net",
        "https://corsproof-attacker.gitlab.io",
        "https://corsproof.pages.dev",
        "https://corsproof.netlify.app",
        "https://corsproof.vercel.app",
        "https://s3.amazonaws.com",
    ):
        assert origin in user


def test_special_chars(variants: list[OriginVariant]) -> None:
    special = keys_of(variants, "special-char")
    assert special[0] == "https://app.example.com_.evil.test"
    for char in "_`}{!$+~&'()*,;=\"":
        assert f"https://app.example.com{char}.evil.test" in special
        assert f"https://api.example.com{char}.evil.test" in special
    assert "https://app.example.com-.evil.test" not in special
    assert "https://app.example.com..evil.test" not in special
    # Hosts stay as written, so Origin.parse round-trips them.
    for variant in variants:
        if variant.klass == "special-char":
            assert org(variant.origin.serialize()) == variant.origin


def test_null_three_ways(variants: list[OriginVariant]) -> None:
    nulls = [v for v in variants if v.klass == "null"]
    assert [v.via for v in nulls] == [Via.SANDBOX_SRCDOC, Via.DATA_IFRAME, Via.REDIRECT]
    assert all(v.origin == Origin.null() and v.origin.opaque for v in nulls)
    assert len({v.key for v in nulls}) == 3


def test_same_site_marked_in_explanation(variants: list[OriginVariant]) -> None:
    by_key = {v.key: v for v in variants}
    assert "same-site" in by_key["https://evilapp.example.com"].explanation
    assert "same-site" in by_key["https://evil.example.com"].explanation
    assert "same-site with" not in by_key["https://evilexample.com"].explanation


def test_every_variant_explained(variants: list[OriginVariant]) -> None:
    for variant in variants:
        assert variant.explanation and variant.mistake
        assert "\n" not in variant.explanation
        assert variant.klass in CLASSES


def test_keys_unique(variants: list[OriginVariant]) -> None:
    keys = [v.key for v in variants]
    assert len(keys) == len(set(keys))


def test_deterministic() -> None:
    assert expand_origins([APP], [API]) == expand_origins([APP], [API])


def test_attacker_never_legitimate_or_target() -> None:
    # example.com is both the sibling class's bare domain and a legitimate origin here.
    legit = [org("https://example.com"), org("http://app.example.com")]
    out = expand_origins(legit, [API])
    attackers = [v.origin for v in out if v.role is Role.ATTACKER]
    for origin in [*legit, API]:
        assert origin not in attackers
    assert [v.origin for v in out if v.role is Role.LEGITIMATE] == legit


def test_disable_classes() -> None:
    out = expand_origins([APP], [API], disabled={"special-char", "null", "user-content"})
    klasses = {v.klass for v in out}
    assert not klasses & {"special-char", "null", "user-content"}
    assert "post-domain" in klasses


def test_disable_unknown_raises() -> None:
    with pytest.raises(ValueError, match="post-domain"):
        expand_origins([APP], [API], disabled=["no-such-class"])


def test_cannot_disable_legitimate() -> None:
    with pytest.raises(ValueError, match="legitimate"):
        expand_origins([APP], [API], disabled=["legitimate"])


def test_extra_origins() -> None:
    extra = [
        org("https://partner.test"),
        org("https://corsproof-attacker.test"),
        APP,
        Origin.null(),
    ]
    out = expand_origins([APP], [API], extra=extra)
    custom = [v for v in out if v.klass == "custom"]
    # Already produced by "unrelated" (first wins), equal to legit (dropped),
    # and null is already covered via a sandboxed srcdoc iframe.
    assert [v.key for v in custom] == ["https://partner.test"]
    assert custom[0].role is Role.ATTACKER
    assert keys_of(out, "custom") == ["https://partner.test"]


def test_extra_null_without_null_class() -> None:
    out = expand_origins([APP], [], disabled=["null"], extra=[Origin.null()])
    assert keys_of(out, "custom") == ["null via sandbox-srcdoc"]


def test_dedupe_sources() -> None:
    once = expand_origins([APP], [])
    assert expand_origins([APP, APP], [APP]) == once


def test_targets_only() -> None:
    out = expand_origins([], [API])
    assert all(v.role is Role.ATTACKER for v in out)
    keys = [v.key for v in out]
    assert "https://api.example.com.evil.test" in keys
    assert "https://evil.example.com" in keys
    assert "https://api.example.com" not in keys


def test_ip_target() -> None:
    target = org("http://127.0.0.1:8000")
    out = expand_origins([], [target])
    klasses = {v.klass for v in out}
    assert not klasses & {"pre-domain", "unescaped-dot", "substring", "sibling-subdomain"}
    assert not any(v.klass == "deeper-subdomain" for v in out)
    keys = [v.key for v in out]
    assert "http://127.0.0.1:8000.evil.test" not in keys  # port never leaks into the host
    assert "http://127.0.0.1.evil.test:8000" in keys
    assert "http://127.0.0.1:8443" in keys
    assert "http://127.0.0.1:8000" not in keys


def test_ipv6_target() -> None:
    out = expand_origins([], [org("https://[::1]:8443")])
    keys = [v.key for v in out]
    assert "http://[::1]:8443" in keys
    assert not any(k.startswith("https://[::1]") and ".evil.test" in k for k in keys)


def test_dotless_host() -> None:
    legit = org("http://localhost:3000")
    out = expand_origins([legit], [])
    keys = [v.key for v in out]
    assert keys[0] == "http://localhost:3000"
    assert keys.count("http://localhost:3000") == 1
    assert "http://localhost:3000.evil.test" not in keys
    assert "http://localhost.evil.test:3000" in keys
    assert "http://evil.localhost:3000" in keys
    assert "http://localhos:3000" in keys
    assert not any(v.klass in {"pre-domain", "unescaped-dot"} for v in out)


def test_default_disabled_class_needs_opt_in() -> None:
    base = load_catalogue()
    cat = dataclasses.replace(
        base,
        classes=tuple(
            dataclasses.replace(c, default_enabled=False) if c.id == "special-char" else c
            for c in base.classes
        ),
    )
    assert not cat.by_id["special-char"].default_enabled
    assert not keys_of(expand_origins([APP], [], catalogue=cat), "special-char")
    opted = expand_origins([APP], [], catalogue=cat, enabled=["special-char"])
    assert keys_of(opted, "special-char")
    with pytest.raises(ValueError, match="enabled"):
        expand_origins([APP], [], enabled=["nope"])


def load_catalogue_text() -> str:
    from importlib import resources

    return resources.files("scenarios").joinpath("origins.toml").read_text(encoding="utf-8")


def test_parse_catalogue_rejects_bad_data() -> None:
    text = load_catalogue_text()
    with pytest.raises(ValueError, match="unknown class"):
        parse_catalogue(text.replace('id = "custom"', 'id = "bogus"'))
    with pytest.raises(ValueError, match="missing"):
        parse_catalogue(text[: text.index('[[class]]\nid = "custom"')])
    with pytest.raises(ValueError, match="twice"):
        parse_catalogue(text.replace('id = "custom"', 'id = "null"'))
    with pytest.raises(ValueError):
        parse_catalogue(text.replace('"http://localhost:3000"', '"localhost:3000"'))


HOST = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    legit=st.lists(HOST, max_size=3),
    targets=st.lists(HOST, max_size=3),
    scheme=st.sampled_from(["http", "https"]),
    port=st.one_of(st.none(), st.integers(1, 65535)),
)
def test_expand_never_crashes(
    legit: list[str], targets: list[str], scheme: str, port: int | None
) -> None:
    def parse(host: str) -> Origin | None:
        suffix = f":{port}" if port else ""
        try:
            return org(f"{scheme}://{host}{suffix}")
        except OriginError:
            return None

    legit_o = [o for o in map(parse, legit) if o is not None]
    target_o = [o for o in map(parse, targets) if o is not None]
    out = expand_origins(legit_o, target_o)
    keys = [v.key for v in out]
    assert len(keys) == len(set(keys))
    attackers = {v.origin for v in out if v.role is Role.ATTACKER}
    assert not attackers & set(legit_o)
    assert not attackers & set(target_o)
    assert [v.origin for v in out if v.role is Role.LEGITIMATE] == list(dict.fromkeys(legit_o))

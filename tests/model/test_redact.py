"""Secrets never leave the run."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.model.redact import MARKER, Redactor


def test_known_secret_values_are_removed() -> None:
    r = Redactor(["s3cr3t-session-value"])
    assert r.text("cookie s3cr3t-session-value leaked") == f"cookie {MARKER} leaked"


def test_token_shapes_are_removed_without_being_told() -> None:
    r = Redactor()
    jwt = (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    )
    assert MARKER in r.text(f"token={jwt}") and jwt not in r.text(jwt)
    assert r.text("Authorization: Bearer abcdefghijklmnop") == f"Authorization: Bearer {MARKER}"
    assert "ghp_" not in r.text("ghp_" + "a" * 36)


def test_headers_keep_names_and_schemes_only() -> None:
    r = Redactor()
    out = dict(
        r.headers(
            [
                ("Cookie", "sid=abc; theme=dark"),
                ("Authorization", "Bearer t0k3n"),
                ("X-Api-Key", "k"),
                ("Origin", "https://evil.test"),
            ]
        )
    )
    assert out["Cookie"] == f"sid={MARKER}; theme={MARKER}"
    assert out["Authorization"] == f"Bearer {MARKER}"
    assert out["X-Api-Key"] == MARKER
    assert out["Origin"] == "https://evil.test"


# Lower-case secrets: a secret spelled inside the marker itself could not be removed.
@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=8, max_size=40),
    st.text(max_size=40),
    st.text(max_size=40),
)
def test_a_registered_secret_never_survives(secret: str, before: str, after: str) -> None:
    r = Redactor([secret])
    assert secret not in r.text(before + secret + after)


_TOKENISH = st.text(alphabet="abBcEeGhHiIjJkKlpPrRsStTuUxXyYzZ019_-.=/+ :AK", max_size=60)


@given(
    st.lists(
        st.sampled_from(["eyJ", "ghp_", "xoxb-", "AKIA", "sk_live_", "BeArEr ", "basic "])
    ).map("".join),
    _TOKENISH,
    _TOKENISH,
)
def test_the_quick_check_never_skips_a_token(prefix: str, before: str, rest: str) -> None:
    # text() runs the token patterns only when one combined search matches; it must
    # redact exactly what running every pattern would.
    import harness.model.redact as redact

    value = before + prefix + rest
    slow = value
    for pattern in redact._TOKEN_PATTERNS:
        slow = pattern.sub(redact._keep_scheme, slow)
    assert Redactor().text(value) == slow


def test_scheme_words_are_matched_in_any_case() -> None:
    assert Redactor().text("BEARER abcdefghijkl") == f"BEARER {MARKER}"
    assert Redactor().text("Basic dXNlcjpwYXNzd29yZA==") == f"Basic {MARKER}"

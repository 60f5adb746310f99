"""Keep secrets out of every artifact: reports, logs, terminal output, curl lines.

Two layers: values the run was given (cookie values, header values, storage-state
contents) are replaced wherever they appear, and values shaped like well-known
tokens are replaced even when nobody told us about them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MARKER = "[REDACTED]"

SENSITIVE_HEADERS = frozenset(
    {
        "cookie",
        "set-cookie",
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-xsrf-token",
        "x-amz-security-token",
    }
)

_TOKEN_PATTERNS = [
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(r"\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}"),  # GitHub
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bsk_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe
    re.compile(r"\b(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
]
_ANY_TOKEN = re.compile("|".join(f"(?:{p.pattern})" for p in _TOKEN_PATTERNS))
"""One search for all the patterns: most strings match none, and a report has millions."""


class Redactor:
    """Replaces known secret values and token-shaped strings with :data:`MARKER`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        """Register one more secret value."""
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        """Redact a free-form string."""
        out = value
        for secret in self._secrets:
            if secret in out:
                out = out.replace(secret, MARKER)
        if _ANY_TOKEN.search(out) is None:
            return out
        for pattern in _TOKEN_PATTERNS:
            out = pattern.sub(_keep_scheme, out)
        return out

    def headers(self, pairs: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """Redact header values: whole values for credential headers, secrets elsewhere."""
        out = []
        for name, value in pairs:
            lower = name.lower()
            if lower in SENSITIVE_HEADERS:
                if lower in ("authorization", "proxy-authorization") and " " in value:
                    scheme = value.split(" ", 1)[0]
                    out.append((name, f"{scheme} {MARKER}"))
                elif lower in ("cookie", "set-cookie"):
                    out.append((name, _cookie_names(value)))
                else:
                    out.append((name, MARKER))
            else:
                out.append((name, self.text(value)))
        return tuple(out)


def _keep_scheme(match: re.Match[str]) -> str:
    word = match.group(0).split()[0]
    if word.lower() in ("bearer", "basic"):
        return f"{word} {MARKER}"
    return MARKER


def _cookie_names(value: str) -> str:
    # Keep the cookie names: which cookie was present is evidence; its value is not.
    parts = []
    for item in value.split(";"):
        name, sep, _ = item.strip().partition("=")
        if not sep:
            parts.append(name)
        elif name.lower() in ("path", "domain", "samesite", "expires", "max-age"):
            parts.append(item.strip())
        else:
            parts.append(f"{name}={MARKER}")
    return "; ".join(p for p in parts if p)

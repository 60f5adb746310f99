"""The rule catalogue: stable ids, complete metadata, snippets per stack."""

from __future__ import annotations

import json

from harness.judge.rules import (
    CATEGORIES,
    CLASS_RULES,
    MAX_AGE_CAPS,
    RULES,
    STACKS,
    rule_for_class,
    rules_for_report,
)
from harness.model.results import Engine, Severity

EXPECTED_IDS = {
    "any-origin-read",
    "null-origin-trusted",
    "http-origin-trusted",
    "subdomain-trusted",
    "user-content-trusted",
    "localhost-trusted",
    "post-domain-bypass",
    "pre-domain-bypass",
    "unescaped-dot-bypass",
    "substring-bypass",
    "special-char-bypass",
    "other-port-trusted",
    "custom-origin-trusted",
    "legit-origin-blocked",
    "wildcard-with-credentials",
    "credentials-unneeded",
    "max-age-missing",
    "max-age-excessive",
    "vary-origin-missing",
    "allow-methods-overbroad",
    "allow-headers-overbroad",
    "expose-headers-overbroad",
    "errors-without-cors",
    "token-read-cross-origin",
    # The config file's declared policy (harness/judge/policy.py).
    "readable-beyond-policy",
    "reader-falls-short",
}


def test_rule_ids_are_exactly_the_catalogue() -> None:
    assert set(RULES) == EXPECTED_IDS
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id


def test_every_rule_is_complete() -> None:
    for rule in RULES.values():
        assert rule.category in CATEGORIES
        assert rule.title and rule.summary and rule.remediation
        assert set(rule.snippets) == set(STACKS), rule.id
        assert all(s.strip() for s in rule.snippets.values())


def test_categories() -> None:
    assert RULES["legit-origin-blocked"].category == "functional"
    assert RULES["wildcard-with-credentials"].category == "functional"
    assert RULES["errors-without-cors"].category == "functional"
    assert RULES["vary-origin-missing"].severity is Severity.MEDIUM
    assert RULES["vary-origin-missing"].category == "hygiene"
    assert RULES["any-origin-read"].severity is Severity.CRITICAL


def test_snippets_use_each_stacks_real_config_api() -> None:
    snip = RULES["any-origin-read"].snippets
    assert "CORSMiddleware" in snip["starlette"] and "allow_origins=[" in snip["starlette"]
    assert "allow_credentials=True" in snip["starlette"] and "max_age=600" in snip["starlette"]
    assert "CORS(" in snip["flask"] and "supports_credentials=True" in snip["flask"]
    assert "CORS_ALLOWED_ORIGINS" in snip["django"]
    assert "CORS_ALLOW_CREDENTIALS = True" in snip["django"]
    assert "cors({" in snip["express"] and "credentials: true" in snip["express"]
    nginx = snip["nginx"]
    assert "map $http_origin $cors_origin" in nginx and "always;" in nginx
    assert "Vary" in nginx and "Origin" in nginx


def test_class_rules_cover_the_origin_catalogue() -> None:
    classes = {
        "unrelated",
        "null",
        "scheme-downgrade",
        "sibling-subdomain",
        "deeper-subdomain",
        "user-content",
        "localhost",
        "post-domain",
        "pre-domain",
        "unescaped-dot",
        "substring",
        "special-char",
        "other-port",
        "custom",
    }
    assert set(CLASS_RULES) == classes
    assert set(CLASS_RULES.values()) <= set(RULES)
    assert rule_for_class("sibling-subdomain") == rule_for_class("deeper-subdomain")
    assert rule_for_class("something-new") == "custom-origin-trusted"


def test_rules_for_report_is_json_ready_and_filtered() -> None:
    meta = rules_for_report(["vary-origin-missing", "any-origin-read", "nope"])
    assert list(meta) == ["any-origin-read", "vary-origin-missing"]
    assert meta["any-origin-read"]["severity"] == "critical"
    assert meta["vary-origin-missing"]["category"] == "hygiene"
    assert list(meta["any-origin-read"]["snippets"]) == list(STACKS)
    json.dumps(meta)


def test_max_age_caps() -> None:
    assert MAX_AGE_CAPS[Engine.CHROMIUM][0] == 7200
    assert MAX_AGE_CAPS[Engine.FIREFOX][0] == 86400
    assert MAX_AGE_CAPS[Engine.WEBKIT][0] == 600
    assert "preflight_result.cc" in MAX_AGE_CAPS[Engine.CHROMIUM][1]
    assert "nsCORSListenerProxy.cpp" in MAX_AGE_CAPS[Engine.FIREFOX][1]
    assert "CrossOriginPreflightResultCache.cpp" in MAX_AGE_CAPS[Engine.WEBKIT][1]

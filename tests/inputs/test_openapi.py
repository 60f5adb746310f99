"""harness.inputs.openapi: every operation of an OpenAPI document becomes a call."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.inputs.calls import Call
from harness.inputs.openapi import fetch_url, load_openapi
from harness.model.errors import ConfigError

CORPUS = Path(__file__).parent / "corpus" / "openapi"
LAB = "https://api.example.com"


def _load(source: str, base: Path = CORPUS, **kwargs: Any) -> tuple[Call, ...]:
    kwargs.setdefault("base_url", None)
    kwargs.setdefault("path_params", {})
    return load_openapi(source, base=base, **kwargs)


def _rows(calls: tuple[Call, ...]) -> list[tuple[str, str, tuple[str, ...], str | None, str]]:
    return [(c.method, c.url, c.header_names, c.content_type, c.credentials) for c in calls]


def _doc(tmp_path: Path, doc: dict[str, Any], name: str = "api.json") -> str:
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, **doc}
    (tmp_path / name).write_text(json.dumps(doc))
    return name


def _ok(description: str = "ok") -> dict[str, Any]:
    return {"responses": {"200": {"description": description}}}


# --- the lab documents ------------------------------------------------------------


def test_a_3_0_yaml_document_gives_one_call_per_operation_in_order() -> None:
    calls = _load("good-lab-3.0.yaml")
    assert _rows(calls) == [
        ("GET", f"{LAB}/reflect/private", (), None, "include"),
        ("POST", f"{LAB}/reflect/private", ("X-CSRF-Token",), "application/json", "include"),
        ("GET", f"{LAB}/allowlist/private", ("Authorization",), None, "omit"),
        ("GET", f"{LAB}/wildcard/public", (), None, "omit"),
        ("HEAD", f"{LAB}/wildcard/public", (), None, "omit"),
        ("GET", f"{LAB}/allowlist/items/7?view=full", (), None, "include"),
    ]
    post = calls[1]
    assert post.source == "good-lab-3.0.yaml: POST /{policy}/private (postPrivate)"
    assert post.label == "POST /reflect/private as application/json with X-CSRF-Token"
    assert post.preflighted and post.state_changing and post.origin is None
    assert post.api == "fetch"
    assert calls[4].source == "good-lab-3.0.yaml: HEAD /wildcard/public"
    assert not calls[0].preflighted and not calls[0].state_changing


def test_a_3_1_json_document_with_path_item_refs_and_api_keys() -> None:
    assert _rows(_load("good-lab-3.1.json")) == [
        ("GET", f"{LAB}/reflect/private", (), None, "include"),
        ("PUT", f"{LAB}/reflect/private", ("X-Api-Key",), "application/merge-patch+json", "omit"),
        ("GET", f"{LAB}/allowlist/private", ("Authorization",), None, "omit"),
        ("DELETE", f"{LAB}/allowlist/private", ("X-Api-Key",), None, "include"),
        ("GET", f"{LAB}/wildcard/public", (), None, "omit"),
    ]


def test_path_params_and_the_base_url_override_the_document() -> None:
    calls = _load(
        "good-lab-3.0.yaml",
        base_url="http://127.0.0.1:8443/api/",
        path_params={"policy": "no cors/é", "item": "42", "view": "short"},
    )
    assert [c.url for c in calls][:2] == [
        "http://127.0.0.1:8443/api/no%20cors%2F%C3%A9/private"
    ] * 2
    assert calls[-1].url == "http://127.0.0.1:8443/api/no%20cors%2F%C3%A9/items/42?view=short"


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("api.example.com", "base URL 'api.example.com': must be an absolute"),
        ("https://api.example.com/?v=1", "drop the ?query"),
        ("https://api.example.com/#top", "drop the #fragment"),
    ],
)
def test_a_bad_base_url_is_one_line(base_url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^good-lab-3\.0\.yaml: ") as caught:
        _load("good-lab-3.0.yaml", base_url=base_url)
    assert message in str(caught.value)


def test_operations_giving_the_same_method_and_url_are_kept_once(tmp_path: Path) -> None:
    param = {"name": "p", "in": "path", "required": True, "schema": {"enum": ["reflect", "x"]}}
    name = _doc(
        tmp_path,
        {
            "servers": [{"url": LAB}],
            "paths": {
                "/{p}/private": {"parameters": [param], "get": {**_ok(), "operationId": "a"}},
                "/reflect/private": {"get": {**_ok(), "operationId": "b"}},
            },
        },
    )
    (call,) = _load(name, tmp_path)
    assert call.source == f"{name}: GET /{{p}}/private (a)"


def test_examples_come_from_the_parameter_its_schema_or_its_content(tmp_path: Path) -> None:
    def param(name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, **extra}

    name = _doc(
        tmp_path,
        {
            "servers": [{"url": LAB}],
            "paths": {
                "/{a}/{b}/{c}/{d}/{e}": {
                    "get": {
                        **_ok(),
                        "parameters": [
                            param("a", schema={"type": "boolean", "default": False}),
                            param("b", schema={"type": "integer", "examples": [3]}),
                            param("c", content={"text/plain": {"example": "see"}}),
                            param(
                                "d",
                                schema={"type": "number"},
                                examples={"one": {"$ref": "#/components/examples/D"}},
                            ),
                            param("e", schema={"$ref": "#/components/schemas/E"}),
                        ],
                    }
                }
            },
            "components": {
                "examples": {"D": {"value": 4.5}},
                "schemas": {"E": {"type": "string", "enum": ["five", "six"]}},
            },
        },
    )
    (call,) = _load(name, tmp_path)
    assert call.url == f"{LAB}/false/3/see/4.5/five"


def test_refs_into_files_beside_a_local_document_are_followed(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "common.yaml").write_text(
        "Policy:\n  name: policy\n  in: path\n  required: true\n"
        "  schema: {type: string, example: prefix}\n"
    )
    name = _doc(
        tmp_path,
        {
            "servers": [{"url": LAB}],
            "paths": {
                "/{policy}/private": {
                    "parameters": [{"$ref": "parts/common.yaml#/Policy"}],
                    "get": _ok(),
                }
            },
        },
    )
    (call,) = _load(name, tmp_path)
    assert call.url == f"{LAB}/prefix/private"
    (tmp_path / "parts" / "common.yaml").unlink()
    with pytest.raises(ConfigError, match=r"^api\.json: .*common\.yaml.*") as caught:
        _load(name, tmp_path)
    assert "\n" not in str(caught.value)


def test_security_decides_the_header_names_and_the_credentials(tmp_path: Path) -> None:
    schemes = {
        "basic": {"type": "http", "scheme": "basic"},
        "key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        "query": {"type": "apiKey", "in": "query", "name": "api_key"},
        "cookie": {"type": "apiKey", "in": "cookie", "name": "sid"},
        "mtls": {"type": "mutualTLS"},
        "oauth": {"$ref": "#/components/securitySchemes/oidc"},
        "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://id.example.com/"},
    }
    cases = {
        "/none": None,
        "/public": [],
        "/optional": [{}, {"basic": []}],
        "/key": [{"key": []}],
        "/query": [{"query": []}],
        "/both": [{"key": [], "cookie": []}],
        "/mtls": [{"mtls": []}],
        "/oauth": [{"oauth": ["read"]}],
    }
    paths = {
        path: {"get": {**_ok(), **({} if sec is None else {"security": sec})}}
        for path, sec in cases.items()
    }
    name = _doc(
        tmp_path,
        {"servers": [{"url": LAB}], "paths": paths, "components": {"securitySchemes": schemes}},
    )
    got = {c.url.removeprefix(LAB): (c.header_names, c.credentials) for c in _load(name, tmp_path)}
    assert got == {
        "/none": ((), "include"),
        "/public": ((), "omit"),
        "/optional": (("Authorization",), "omit"),
        "/key": (("X-Api-Key",), "omit"),
        "/query": ((), "omit"),
        "/both": (("X-Api-Key",), "include"),
        "/mtls": ((), "include"),
        "/oauth": (("Authorization",), "omit"),
    }


def test_the_request_body_prefers_json_and_skips_wildcards(tmp_path: Path) -> None:
    def op(*types: str) -> dict[str, Any]:
        return {**_ok(), "requestBody": {"content": {t: {} for t in types}}}

    name = _doc(
        tmp_path,
        {
            "servers": [{"url": LAB}],
            "paths": {
                "/a": {"post": op("text/plain", "application/json")},
                "/b": {"post": op("*/*", "multipart/form-data; boundary=x")},
                "/c": {"post": op("application/*")},
            },
        },
    )
    a, b, c = _load(name, tmp_path)
    assert (a.content_type, b.content_type, c.content_type) == (
        "application/json",
        "multipart/form-data",
        None,
    )
    assert a.preflighted and not b.preflighted and not c.preflighted


# --- documents from a URL ------------------------------------------------------------


def test_a_fetched_document_resolves_a_relative_server_against_its_url() -> None:
    body = (CORPUS / "bad-relative-server.yaml").read_bytes()
    seen: list[str] = []

    def fetch(url: str) -> bytes:
        seen.append(url)
        return body

    url = "https://docs.example.com/specs/openapi.yaml?key=SECRET-KEY"
    (call,) = _load(url, fetch=fetch)
    assert seen == [url]
    assert call.url == "https://docs.example.com/v1/reflect/private"
    assert call.source == "https://docs.example.com/specs/openapi.yaml?…: GET /reflect/private"


def test_a_fetched_document_follows_no_ref_out_of_itself() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"parameters": [{"$ref": "common.yaml#/P"}], "get": _ok()}},
    }
    with pytest.raises(ConfigError) as caught:
        _load(
            "https://user:pw@docs.example.com/o.json?sig=SECRET",
            fetch=lambda u: json.dumps(doc).encode(),
        )
    message = str(caught.value)
    assert message.startswith("https://docs.example.com/o.json?…: $ref 'common.yaml#/P'")
    assert "SECRET" not in message and "pw" not in message


@pytest.fixture
def server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/missing":
                self.send_error(404)
                return
            size = 6 * 1024 * 1024 if self.path == "/huge" else 10
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(b"{" + b" " * (size - 2) + b"}")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_url_is_bounded_and_its_errors_are_one_line(server: str) -> None:
    assert fetch_url(f"{server}/small") == b"{        }"
    with pytest.raises(ConfigError, match=r"/missing: fetching it answered HTTP 404$"):
        fetch_url(f"{server}/missing")
    with pytest.raises(ConfigError, match=r"/huge: larger than 5 MiB$"):
        fetch_url(f"{server}/huge")
    with pytest.raises(ConfigError, match="cannot fetch it: ") as caught:
        fetch_url("http://127.0.0.1:9/openapi.json?token=SECRET")
    assert "SECRET" not in str(caught.value) and "\n" not in str(caught.value)


# --- the malformed corpus --------------------------------------------------------------

EXPECTED = {
    "bad-alias-bomb.yaml": "expands to more than 3,000,000 values (YAML aliases?)",
    "bad-invalid-type.json": (
        "paths./reflect/private.get.responses.200.description: 200 is not of type 'string'"
    ),
    "bad-json-syntax.json": "line 4, column 78: invalid JSON: ",
    "bad-missing-paths.yaml": "'paths' is a required property",
    "bad-no-operations.json": "paths: no operations",
    "bad-not-openapi.json": "openapi: missing; not an OpenAPI document",
    "bad-path-param-no-example.yaml": (
        "GET /{policy}/private (getPrivate): path parameter 'policy' has no example; "
        "pass --path-param policy=VALUE"
    ),
    "bad-ref.yaml": "$ref '#/components/parameters/Missing': cannot be resolved",
    "bad-relative-server.yaml": "servers[0].url '/v1' is relative; give the API's base URL",
    "bad-remote-ref.yaml": "$ref 'https://schemas.example.com/responses.yaml#/Ok': corsproof",
    "bad-swagger2.yaml": "swagger: Swagger 2.0 is not supported; convert to OpenAPI 3",
    "bad-unknown-security.yaml": "GET /reflect/private: security: no securityScheme named",
    "bad-version.yaml": "openapi: version '4.0.0' is not supported (3.0 or 3.1)",
    "bad-yaml-syntax.yaml": "line 9, column 1: invalid YAML: ",
}


def test_the_corpus_lists_every_malformed_document() -> None:
    assert sorted(p.name for p in CORPUS.glob("bad-*")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_malformed_document_is_one_line_naming_the_file(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(name)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: ")
    assert EXPECTED[name] in message
    assert len(message) < 300


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x [1, *x]\n", "a YAML alias refers to a node that contains it"),
        ("[" * 5000, "(nested too deeply|nesting depth)"),
        ("[" * 990 + "]" * 990, "nested too deeply"),
        ("- just\n- a list\n", "the top level is not a mapping"),
        ("openapi: 3\n", "openapi: must be a string"),
        ("\xff", "not UTF-8"),
    ],
)
def test_odd_yaml_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "odd.yaml").write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match=f"^odd.yaml: .*{message}"):
        _load("odd.yaml", tmp_path)


def test_a_missing_or_oversized_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"^nope\.yaml: no such file$"):
        _load("nope.yaml", tmp_path)
    monkeypatch.setattr("harness.inputs.openapi.MAX_DOCUMENT_BYTES", 100)
    with pytest.raises(ConfigError, match=r"^good-lab-3\.1\.json: larger than"):
        _load("good-lab-3.1.json")
    with pytest.raises(ConfigError, match="larger than"):
        _load("https://docs.example.com/o.json", fetch=lambda u: b" " * 101)


def test_a_broken_referenced_file_is_named_after_the_document(tmp_path: Path) -> None:
    (tmp_path / "my parts").mkdir()
    (tmp_path / "my parts" / "p.yaml").write_text("P: {name: p, in: query\n")
    name = _doc(
        tmp_path,
        {
            "servers": [{"url": LAB}],
            "paths": {"/a": {"parameters": [{"$ref": "my%20parts/p.yaml#/P"}], "get": _ok()}},
        },
    )
    with pytest.raises(ConfigError) as caught:
        _load(name, tmp_path)
    assert str(caught.value).startswith("api.json: $ref p.yaml: line 2, column 1: invalid YAML")
    (tmp_path / "my parts" / "p.yaml").write_text("P: {$ref: 'https://x.example/p.yaml'}\n")
    with pytest.raises(
        ConfigError, match=r"^api\.json: \$ref 'https://x\.example/p\.yaml' in p\.yaml"
    ):
        _load(name, tmp_path)

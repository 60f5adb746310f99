"""harness.inputs.har: the frontend's own calls from a HAR, and no secret of it kept."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.inputs.calls import Call, cors_header_names, media_type
from harness.inputs.har import load_har
from harness.model.errors import ConfigError

CORPUS = Path(__file__).parent / "corpus" / "har"
CANARIES = ("CANARY-COOKIE-1234", "CANARY-TOKEN-5678", "CANARY-BODY", "CANARY-QUERY")
APP = "https://app.example.com"


def _entry(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    kind: str | None = "fetch",
    page: str | None = None,
    mime: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "request": {
            "method": method,
            "url": url,
            "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
            "cookies": [],
        },
        "response": {"status": 200, "content": {"mimeType": mime or "application/json"}},
    }
    if kind is not None:
        entry["_resourceType"] = kind
    if page is not None:
        entry["pageref"] = page
    return entry


def _har(tmp_path: Path, *entries: dict[str, Any], pages: list[Any] | None = None) -> Path:
    log: dict[str, Any] = {"version": "1.2", "entries": list(entries)}
    if pages is not None:
        log["pages"] = pages
    path = tmp_path / "frontend.har"
    path.write_text(json.dumps({"log": log}))
    return path


def _no_canary(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text


# --- the Playwright recording of the lab frontend ---------------------------------


def test_a_playwright_recording_gives_the_frontends_cross_origin_calls() -> None:
    calls = load_har(CORPUS / "good-playwright.har")
    assert [c.label for c in calls] == [
        "POST /reflect/private as application/json with X-CSRF-Token from https://app.example.com",
        "GET /reflect/private from https://app.example.com",
        "GET /allowlist/private with Authorization, X-Requested-With from https://app.example.com",
        "GET /flags.json from https://app.example.com",
    ]
    post, get, xhr, cdn = calls
    assert post.credentials == "include" and post.api == "fetch" and post.preflighted
    assert post.state_changing and post.origin == APP
    assert post.source.endswith("good-playwright.har: entry 2")
    # The recorded query (with an access_token in it) is dropped, not replayed.
    assert get.url == "https://api.example.com/reflect/private" and not get.preflighted
    assert xhr.api == "xhr" and xhr.credentials == "omit" and xhr.header_names[0] == "Authorization"
    # No Origin header and a page whose title is not a URL: the Referer tells the origin.
    assert cdn.origin == APP and cdn.credentials == "omit"


def test_the_recordings_secrets_are_nowhere_in_its_calls() -> None:
    text = repr(load_har(CORPUS / "good-playwright.har"))
    text += json.dumps([c.to_dict() for c in load_har(CORPUS / "good-playwright.har")])
    for secret in ("Vx3qT9bLm2WkA7pRz0sEuY4nHc8dJf1g", "eyJhbGciOiJIUzI1NiJ9", "c2VjcmV0", "hello"):
        assert secret not in text


def test_targets_keep_the_calls_to_them_or_under_a_trailing_slash() -> None:
    har = CORPUS / "good-playwright.har"
    exact = load_har(har, targets=["https://api.example.com/reflect/private"])
    assert [c.method for c in exact] == ["POST", "GET"]
    under = load_har(har, targets=["https://api.example.com/"])
    assert len(under) == 3
    assert load_har(har, targets=["https://api.example.com/reflect"]) == ()
    assert (
        load_har(har, targets=["https://API.example.com:443/allowlist/private?x=1"])[0].api == "xhr"
    )
    with pytest.raises(ConfigError, match="not an absolute http"):
        load_har(har, targets=["api.example.com/"])


# --- the canary ----------------------------------------------------------------


def test_no_canary_of_the_har_reaches_a_call() -> None:
    (call,) = load_har(CORPUS / "canary.har")
    assert call == Call(
        method="POST",
        url="https://api.example.com/reflect/private",
        header_names=("Authorization", "X-CSRF-Token"),
        content_type="application/json",
        credentials="include",
        api="fetch",
        origin=APP,
        source=f"{CORPUS / 'canary.har'}: entry 0",
    )
    _no_canary(repr(call) + json.dumps(call.to_dict()) + call.label + str(call))


def _post_mime_not_a_string(request: dict[str, Any]) -> None:
    request["postData"] = {"mimeType": ["CANARY-BODY"]}
    request["headers"] = [h for h in request["headers"] if h["name"] != "content-type"]


def _variants() -> list[tuple[str, Any]]:
    base = json.loads((CORPUS / "canary.har").read_text())

    def changed(name: str, change: Any) -> tuple[str, Any]:
        doc = copy.deepcopy(base)
        change(doc["log"]["entries"][0]["request"])
        return name, doc

    return [
        changed(
            "url-not-http", lambda r: r.update(url="gopher://x/CANARY-QUERY?token=CANARY-QUERY")
        ),
        changed("url-relative", lambda r: r.update(url="?token=CANARY-QUERY")),
        changed("url-bad-port", lambda r: r.update(url="https://h:CANARY-QUERY/")),
        changed("url-not-string", lambda r: r.update(url=["CANARY-QUERY"])),
        changed("method-bad", lambda r: r.update(method="CANARY-TOKEN-5678 X")),
        changed("header-name", lambda r: r["headers"].append({"value": "CANARY-TOKEN-5678"})),
        changed("header-value", lambda r: r["headers"][1].update(value=["CANARY-TOKEN-5678"])),
        changed("header-list", lambda r: r.update(headers="Cookie: session=CANARY-COOKIE-1234")),
        changed("cookies", lambda r: r.update(cookies={"session": "CANARY-COOKIE-1234"})),
        changed("post-data", lambda r: r.update(postData="CANARY-BODY")),
        changed("post-mime", _post_mime_not_a_string),
        ("no-log", {"CANARY-COOKIE-1234": base["log"]}),
        ("entries-object", {"log": {"entries": {"CANARY-BODY": base["log"]["entries"][0]}}}),
        ("entry-not-object", {"log": {"entries": ["CANARY-TOKEN-5678"]}}),
        ("pages-not-list", {"log": {"entries": [], "pages": "CANARY-QUERY"}}),
    ]


@pytest.mark.parametrize(("name", "doc"), _variants(), ids=[n for n, _ in _variants()])
def test_no_canary_reaches_an_error_about_a_malformed_variant(
    tmp_path: Path, name: str, doc: Any
) -> None:
    path = tmp_path / f"{name}.har"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as caught:
        load_har(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    _no_canary(message + repr(caught.value) + repr(caught.value.__context__))
    assert caught.value.__cause__ is None


def test_no_canary_reaches_an_error_about_unparseable_bytes(tmp_path: Path) -> None:
    text = (CORPUS / "canary.har").read_text()
    for i, data in enumerate(
        [
            text[: text.index("CANARY-BODY") + 14].encode(),
            text.encode().replace(b"CANARY-BODY", b"CANARY-BODY\xff"),
            text.replace("CANARY-BODY", "CANARY-BODY\x01").encode(),
        ]
    ):
        path = tmp_path / f"bytes{i}.har"
        path.write_bytes(data)
        with pytest.raises(ConfigError) as caught:
            load_har(path)
        _no_canary(str(caught.value) + repr(caught.value.__context__))
        # Not even in the exception being handled when the error was raised.
        assert caught.value.__context__ is None


# --- the malformed corpus --------------------------------------------------------

EXPECTED = {
    "bad-cookies-not-list.har": "entries[0].request.cookies: must be a list",
    "bad-entries-not-list.har": "log.entries: must be a list",
    "bad-entry-without-url.har": "entries[0].request.url: missing",
    "bad-header-not-object.har": "entries[0].request.headers[1]: must be an object",
    "bad-header-value-type.har": "entries[0].request.headers[1].value: must be a string",
    "bad-no-log.har": "log: missing; not a HAR file",
    "bad-non-http-url.har": "entries[0].request.url: not an absolute http(s) URL",
    "bad-not-json.har": "line 27, column 6: not JSON: ",
    "bad-not-utf8.har": ": not UTF-8 text",
    "bad-postdata-not-object.har": "entries[0].request.postData: must be an object",
    "bad-relative-url.har": "entries[0].request.url: not an absolute http(s) URL",
    "bad-top-array.har": "not a HAR file (the top level is not an object)",
    "bad-url-port.har": "entries[0].request.url: not a valid URL",
}


def test_the_corpus_lists_every_malformed_har() -> None:
    assert sorted(p.name for p in CORPUS.glob("bad-*.har")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_malformed_har_is_one_line_naming_the_file_and_the_field(name: str) -> None:
    path = CORPUS / name
    with pytest.raises(ConfigError) as caught:
        load_har(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert EXPECTED[name] in message
    _no_canary(message)


def test_a_missing_or_oversized_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"nope\.har: no such file$"):
        load_har(tmp_path / "nope.har")
    monkeypatch.setattr("harness.inputs.har.MAX_HAR_BYTES", 100)
    with pytest.raises(ConfigError, match="larger than"):
        load_har(CORPUS / "canary.har")
    monkeypatch.undo()
    monkeypatch.setattr("harness.inputs.har.MAX_ENTRIES", 1)
    path = _har(tmp_path, _entry("https://a.example/"), _entry("https://b.example/"))
    with pytest.raises(ConfigError, match="more than 1 entries"):
        load_har(path)


# --- which entries are calls ------------------------------------------------------


def test_devtools_pages_titled_with_their_url_give_the_origin(tmp_path: Path) -> None:
    """Chrome's HAR: the page title is its URL; preflights are entries of their own."""
    path = _har(
        tmp_path,
        _entry("https://api.example.com/a", page="page_1"),
        _entry("https://api.example.com/a", method="OPTIONS", kind="preflight", page="page_1"),
        _entry("https://api.example.com/b", page="page_2"),
        pages=[
            {"id": "page_1", "title": "https://app.example.com/home"},
            {"id": "page_2", "title": "My app"},
        ],
    )
    (call,) = load_har(path)  # /b: no Origin, no page URL, no Referer: skipped
    assert call.origin == APP and call.url == "https://api.example.com/a"


def test_without_resource_types_sec_fetch_dest_and_the_response_type_decide(
    tmp_path: Path,
) -> None:
    """Firefox's HAR: no _resourceType."""
    origin = {"Origin": APP}
    path = _har(
        tmp_path,
        _entry(
            "https://api.example.com/data", kind=None, headers={**origin, "Sec-Fetch-Dest": "empty"}
        ),
        _entry(
            "https://api.example.com/font", kind=None, headers={**origin, "Sec-Fetch-Dest": "font"}
        ),
        _entry("https://api.example.com/x.js", kind=None, headers=origin, mime="text/javascript"),
        _entry("https://api.example.com/logo", kind=None, headers=origin, mime="image/png"),
        _entry("https://api.example.com/json", kind=None, headers=origin),
        _entry(
            "https://api.example.com/json",
            method="OPTIONS",
            kind=None,
            headers={**origin, "Access-Control-Request-Method": "PUT"},
        ),
    )
    assert [c.url.rsplit("/", 1)[1] for c in load_har(path)] == ["data", "json"]


def test_same_origin_opaque_and_non_http_entries_are_skipped(tmp_path: Path) -> None:
    path = _har(
        tmp_path,
        _entry("https://app.example.com/api", headers={"Origin": APP}),
        _entry("https://api.example.com/sandboxed", headers={"Origin": "null"}),
        _entry("data:application/json,{}", headers={"Origin": APP}),
        _entry("wss://api.example.com/live", kind="websocket", headers={"Origin": APP}),
        _entry("https://api.example.com/ok", headers={"Origin": "http://localhost:3000"}),
        _entry("https://api.example.com/doc", kind="document", headers={"Origin": APP}),
    )
    (call,) = load_har(path)
    assert call.origin == "http://localhost:3000" and call.url.endswith("/ok")


def test_equal_calls_are_kept_once_and_header_case_does_not_matter(tmp_path: Path) -> None:
    headers = {"Origin": APP, "X-Csrf-Token": "one", "Content-Type": "application/json"}
    path = _har(
        tmp_path,
        _entry("https://api.example.com/items?page=1", method="POST", headers=headers),
        _entry(
            "https://api.example.com/items?page=2",
            method="post",
            headers={"origin": APP, "x-csrf-token": "two", "content-type": "application/json"},
            kind="xhr",
        ),
        _entry(
            "https://api.example.com/items", method="POST", headers={**headers, "Cookie": "a=b"}
        ),
        _entry("https://user:pw@api.example.com/items#frag", method="POST", headers=headers),
    )
    calls = load_har(path)
    assert [(c.credentials, c.api) for c in calls] == [("omit", "fetch"), ("include", "fetch")]
    assert calls[0].header_names == ("X-Csrf-Token",)
    assert calls[0].source.endswith("frontend.har: entry 0")
    assert "pw" not in repr(calls)


def test_the_content_type_comes_from_the_header_or_the_post_data(tmp_path: Path) -> None:
    form = _entry("https://api.example.com/f", method="POST", headers={"Origin": APP})
    form["request"]["postData"] = {"mimeType": "application/x-www-form-urlencoded", "text": "a=1"}
    odd = _entry(
        "https://api.example.com/g", method="POST", headers={"Origin": APP, "Content-Type": "*/*"}
    )
    path = _har(tmp_path, form, odd)
    first, second = load_har(path)
    assert first.content_type == "application/x-www-form-urlencoded" and not first.preflighted
    assert second.content_type is None


# --- the Call record ---------------------------------------------------------------


def test_only_the_header_names_that_shape_a_cors_request_are_kept() -> None:
    names = cors_header_names(
        [
            ":authority",
            "Accept",
            "accept-language",
            "Content-Type",
            "Cookie",
            "Host",
            "Origin",
            "Referer",
            "User-Agent",
            "sec-fetch-mode",
            "Sec-CH-UA",
            "Proxy-Authorization",
            "Accept-Encoding",
            "Connection",
            "Content-Length",
            "Priority",
            "bad name",
            "x-xsrf-token",
            "X-XSRF-TOKEN",
            "authorization",
            "X-Api-Key",
        ]
    )
    assert names == ("Authorization", "X-Api-Key", "X-XSRF-Token")


def test_media_types_keep_no_parameters_and_no_wildcards() -> None:
    assert media_type("Application/JSON; charset=utf-8; x=CANARY") == "application/json"
    assert [media_type(v) for v in (None, "", "json", "*/*", "text/*", "a/b c")] == [None] * 6


def test_a_call_normalizes_itself_and_knows_when_it_is_preflighted() -> None:
    def call(method: str, *names: str, ct: str | None = None) -> Call:
        return Call(
            method=method, url="https://api.example.com/x", header_names=names, content_type=ct
        )

    assert call("get", "accept", "Cookie") == call("GET")
    assert not call("GET").preflighted and not call("HEAD").state_changing
    assert call("GET", "x-trace").preflighted
    assert not call("POST", ct="text/plain").preflighted and call("POST").state_changing
    assert call("POST", ct="application/json").preflighted
    assert call("PUT").preflighted and call("DELETE").state_changing
    with pytest.raises(ValueError, match="credentials"):
        Call(method="GET", url="https://a.example/", credentials="always")
    with pytest.raises(ValueError, match="api"):
        Call(method="GET", url="https://a.example/", api="beacon")


def test_a_calls_label_and_dict() -> None:
    call = Call(
        method="post",
        url="https://api.example.com/api/items",
        header_names=("x-csrf-token",),
        origin=APP,
        source="frontend.har: entry 12",
    )
    assert call.label == "POST /api/items with X-CSRF-Token from https://app.example.com"
    assert call.to_dict() == {
        "label": call.label,
        "method": "POST",
        "url": "https://api.example.com/api/items",
        "header_names": ["X-CSRF-Token"],
        "content_type": None,
        "credentials": "include",
        "api": "fetch",
        "origin": APP,
        "source": "frontend.har: entry 12",
        "preflighted": True,
        "state_changing": True,
    }
    assert Call(method="GET", url="https://api.example.com").label == "GET /"

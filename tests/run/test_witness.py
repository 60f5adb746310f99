"""From one probe's wire record to the facts verdicts rest on: pure, no browser."""

from __future__ import annotations

from builders import observation

from harness.judge.victim import whose_data
from harness.model.redact import Redactor
from harness.model.results import CookiePolicy, Credentials, Engine, HttpExchange, Observation
from harness.run.witness import (
    NOTHING,
    authorization_sent,
    cookie_sent,
    explain_withheld,
    probe_wire,
    session_cookie_names,
    wire_evidence,
)
from harness.serve.wire import WireRecord

TARGET = "https://api.shop.test/me"


def _x(
    method: str, *, cookies: tuple[str, ...] = (), status: int = 200, acrm: bool = False
) -> HttpExchange:
    headers = (("Origin", "https://evil.test"),)
    if acrm:
        headers += (("Access-Control-Request-Method", "GET"),)
    return HttpExchange(
        method, TARGET, headers, status, cookies=cookies, source="wire", authorization=False
    )


def _records(*exchanges: HttpExchange) -> list[WireRecord]:
    return [WireRecord("p", 1, "chromium", i, x) for i, x in enumerate(exchanges)]


def test_preflight_and_final_hop_are_told_apart() -> None:
    wire = probe_wire(_records(_x("OPTIONS", acrm=True), _x("GET", status=302), _x("GET")))
    assert wire.preflight is not None and wire.preflight.method == "OPTIONS"
    assert wire.actual is not None and wire.actual.status == 200 and wire.hops == 3
    # A plain OPTIONS request (no Access-Control-Request-Method) is an actual request.
    assert probe_wire(_records(_x("OPTIONS"))).preflight is None


def test_cookie_sent_is_measured_never_assumed() -> None:
    sent = probe_wire(_records(_x("GET", cookies=("theme", "sid"))))
    assert cookie_sent(sent, ["sid"]) is True
    assert cookie_sent(sent, ["other"]) is False
    # Only the preflight went: the request (and any cookie) never left the browser.
    assert cookie_sent(probe_wire(_records(_x("OPTIONS", acrm=True))), ["sid"]) is False
    # Nothing reached the target: unknown, not False.
    assert cookie_sent(NOTHING, ["sid"]) is None
    assert authorization_sent(NOTHING, True) is None


def test_evidence_is_shared_by_identical_answers_only() -> None:
    redactor = Redactor(["s3cret"])
    one = probe_wire(_records(_x("GET", cookies=("sid",))))
    two = probe_wire(_records(_x("GET", cookies=("sid",))))
    other = probe_wire(_records(_x("GET", status=401)))

    def ev(wire: object) -> object:
        return wire_evidence(
            "j",
            target=TARGET,
            origin="https://evil.test",
            shape="simple-get",
            credentials=Credentials.INCLUDE,
            wire=wire,  # type: ignore[arg-type]
            redactor=redactor,
        )

    a, b, c = ev(one), ev(two), ev(other)
    assert a is not None and b is not None and c is not None
    assert a.key == b.key != c.key  # type: ignore[attr-defined]
    assert a.actual.source == "wire"  # type: ignore[attr-defined]
    assert ev(NOTHING) is None


def _seen(
    pid: str,
    *,
    origin: str = "https://evil.test",
    cookie: bool | None,
    body: str | None,
    shape: str = "simple-get",
    creds: Credentials = Credentials.INCLUDE,
    token: bool = False,
    engine: Engine = Engine.CHROMIUM,
) -> Observation:
    return observation(
        id=pid,
        engine=engine,
        origin=origin,
        target=TARGET,
        shape=shape,
        credentials=creds,
        cookie_sent=cookie,
        authorization_sent=token,
        wire_status=200,
        wire_body_hash=body,
    )


def test_whose_data_compares_with_the_anonymous_answer() -> None:
    obs = [
        _seen("anon1", cookie=False, body="A", creds=Credentials.OMIT),
        _seen(
            "anon2", origin="https://app.shop.test", cookie=False, body="A", creds=Credentials.OMIT
        ),
        _seen("victim", cookie=True, body="S"),
        _seen("legit", origin="https://app.shop.test", cookie=True, body="S"),
        _seen("nocookie", cookie=False, body="A"),
        _seen("same", cookie=True, body="A"),
        _seen("unknown", cookie=None, body="S"),
    ]
    found = whose_data(obs)
    assert found["victim"].victim is True and found["legit"].victim is True
    assert found["nocookie"].victim is False
    assert found["same"].victim is False and "anonymous" in found["same"].why
    assert found["unknown"].victim is None
    assert found["anon1"].victim is False


def test_whose_data_cannot_tell_when_answers_vary() -> None:
    varying_anon = [
        _seen("a1", cookie=False, body="A1", creds=Credentials.OMIT),
        _seen("a2", cookie=False, body="A2", creds=Credentials.OMIT),
        _seen("v", cookie=True, body="S"),
    ]
    assert whose_data(varying_anon)["v"].victim is None
    varying_cred = [
        _seen("a1", cookie=False, body="A", creds=Credentials.OMIT),
        _seen("v1", cookie=True, body="S1"),
        _seen("v2", cookie=True, body="S2"),
    ]
    assert whose_data(varying_cred)["v1"].victim is None
    no_reference = [_seen("v", cookie=True, body="S")]
    assert whose_data(no_reference)["v"].victim is None


def test_token_probes_are_compared_with_the_plain_get_and_do_not_unsettle_cookie_reads() -> None:
    obs = [
        _seen("anon", cookie=False, body="A", creds=Credentials.OMIT),
        _seen("cookie", cookie=True, body="S"),
        _seen(
            "token", cookie=False, body="T", shape="token-get", creds=Credentials.OMIT, token=True
        ),
    ]
    found = whose_data(obs)
    assert found["token"].victim is True
    assert found["cookie"].victim is True


def test_references_are_per_engine() -> None:
    # Firefox's anonymous answer says nothing about Chromium's.
    obs = [
        _seen("ff-anon", cookie=False, body="A", creds=Credentials.OMIT, engine=Engine.FIREFOX),
        _seen("ch", cookie=True, body="S"),
    ]
    assert whose_data(obs)["ch"].victim is None


def test_session_cookie_names_follow_the_cookie_domain() -> None:
    cookies = [
        {"name": "sid", "domain": "api.shop.test"},
        {"name": "wide", "domain": ".shop.test"},
        {"name": "elsewhere", "domain": "other.test"},
    ]
    assert session_cookie_names(cookies, ["api.shop.test"]) == ("sid", "wide")


def _explain(
    attrs: dict[str, object],
    page: str,
    engine: Engine,
    policy: CookiePolicy = CookiePolicy.DEFAULT,
    target: str = TARGET,
) -> str | None:
    cookie = {"name": "sid", "domain": "api.shop.test", **attrs}
    return explain_withheld([cookie], page_origin=page, target=target, engine=engine, policy=policy)


def test_withheld_cookie_explanations_are_labelled_and_specific() -> None:
    lax = _explain({"sameSite": "Lax", "secure": True}, "https://evil.test", Engine.FIREFOX)
    assert lax is not None and lax.startswith(
        "explained from the cookie's attributes, not measured"
    )
    assert "SameSite=Lax" in lax
    tcp = _explain({"sameSite": "None", "secure": True}, "https://evil.test", Engine.FIREFOX)
    assert tcp is not None and "Total Cookie Protection" in tcp
    itp = _explain({"sameSite": "None", "secure": True}, "null", Engine.WEBKIT)
    assert itp is not None and "Intelligent Tracking Prevention" in itp
    unspecified = _explain({}, "https://evil.test", Engine.CHROMIUM)
    assert unspecified is not None and "treats as Lax" in unspecified
    secure = _explain(
        {"secure": True}, "https://app.shop.test", Engine.WEBKIT, target="http://api.shop.test/me"
    )
    assert secure is not None and "Secure" in secure


def test_no_explanation_where_nothing_explains_it() -> None:
    # Same-site: every engine sends the cookie; corsproof does not invent a reason.
    assert _explain({"sameSite": "Lax"}, "https://evil.shop.test", Engine.FIREFOX) is None
    # Permissive Firefox sends SameSite=None cookies cross-site.
    assert (
        _explain(
            {"sameSite": "None", "secure": True},
            "https://evil.test",
            Engine.FIREFOX,
            CookiePolicy.PERMISSIVE,
        )
        is None
    )

"""The session cookie: encrypted and authenticated, so a tampered or foreign cookie is a new
anonymous session; the prefill cookie belongs to one draft; redirects stay on the site."""

from __future__ import annotations

import pytest

from tellonce_portal.config import Settings
from tellonce_portal.deps import safe_next
from tellonce_portal.session import Session, SessionCodec


def codec(secret: str = "local-only-test-secret-one") -> SessionCodec:
    return SessionCodec(Settings(session_secret=secret))


def test_a_sealed_session_opens_only_with_its_key_and_untouched() -> None:
    session = Session(access_token="at-123", role="resident", lang="es")
    token = codec().seal({"access_token": session.access_token, "role": "resident", "lang": "es"})
    assert "at-123" not in token, "the tokens are encrypted, not only signed"
    opened = codec().load(token)
    assert opened.access_token == "at-123"
    assert opened.lang == "es"
    tampered = token[:-6] + ("A" * 6 if not token.endswith("A" * 6) else "B" * 6)
    assert codec().load(tampered).access_token is None
    assert codec("local-only-other-secret").load(token).access_token is None
    assert codec().load("not-a-cookie").signed_in is False
    assert codec().load(None).dirty, "a new session is written back"


def test_unknown_fields_in_a_cookie_are_ignored() -> None:
    token = codec().seal({"role": "agency", "agency": "DSS", "surprise": 1})
    assert codec().load(token).agency == "DSS"


def test_csrf_tokens_are_compared_in_constant_time_and_renewed_on_sign_out() -> None:
    session = Session(access_token="at")
    before = session.csrf
    assert session.check_csrf(before)
    assert not session.check_csrf(None)
    assert not session.check_csrf(before + "x")
    session.sign_out()
    assert session.csrf != before
    assert not session.signed_in


def test_prefill_markers_belong_to_one_draft() -> None:
    c = codec()
    token = c.seal({"draft": "d1", "pointers": ["/a", "/b"], "at": 0})
    assert c.prefilled(token, "d1") == {"/a", "/b"}
    assert c.prefilled(token, "d2") == set()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/forms/snap", "/forms/snap"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
    ],
)
def test_redirects_stay_on_the_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected

"""Token verification: the checks every service relies on."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from tellonce_shared.auth import TokenVerifier
from tellonce_shared.problems import Unauthorized
from tellonce_shared.testing import TokenFactory, static_verifier


def claims(tf: TokenFactory, **over: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": tf.issuer,
        "aud": "tellonce",
        "sub": "s",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        "role": "resident",
    }
    base.update(over)
    return base


async def test_valid_token_gives_principal() -> None:
    tf = TokenFactory()
    p = await static_verifier(tf).verify(tf.token("abc", role="agency", agency="DOL", scope="a b"))
    assert (p.sub, p.role, p.agency, p.scope) == ("abc", "agency", "DOL", ("a", "b"))


@pytest.mark.parametrize(
    "override",
    [
        {"exp": int(time.time()) - 3600},
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
        {"role": "superuser"},
    ],
)
async def test_bad_claims_are_refused(override: dict[str, object]) -> None:
    tf = TokenFactory()
    token = jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": tf.key.kid}, claims(tf, **override), tf.key
    )
    with pytest.raises(Unauthorized):
        await static_verifier(tf).verify(token)


async def test_wrong_typ_and_symmetric_alg_are_refused() -> None:
    tf = TokenFactory()
    id_token = jwt.encode({"alg": "ES256", "typ": "JWT", "kid": tf.key.kid}, claims(tf), tf.key)
    with pytest.raises(Unauthorized):
        await static_verifier(tf).verify(id_token)
    hs = OctKey.generate_key(256, parameters={"kid": tf.key.kid})
    hs_token = jwt.encode(
        {"alg": "HS256", "typ": "at+jwt", "kid": tf.key.kid}, claims(tf), hs, algorithms=["HS256"]
    )
    with pytest.raises(Unauthorized):
        await static_verifier(tf).verify(hs_token)


async def test_unknown_kid_refreshes_the_key_set_once() -> None:
    tf = TokenFactory()
    served = TokenFactory().jwks  # the first fetch sees only the old key, before a rotation
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json=served)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    verifier = TokenVerifier(
        jwks_url="http://identity/.well-known/jwks.json",
        issuer=tf.issuer,
        audience="tellonce",
        min_refresh_seconds=0,
        client=client,
    )
    with pytest.raises(Unauthorized):
        await verifier.verify(tf.token())
    served = tf.jwks  # the new key is published
    principal = await verifier.verify(tf.token("after-rotation"))
    assert principal.sub == "after-rotation"
    before = calls
    await verifier.verify(tf.token())  # cached now: no further fetch
    assert calls == before
    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger"}, private=True)
    token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "stranger"}, claims(tf), stranger)
    with pytest.raises(Unauthorized):
        await verifier.verify(token)
    await client.aclose()

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
    assert tf.key.kid is not None
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


async def test_a_verified_token_is_remembered_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tf = TokenFactory()
    verifier = static_verifier(tf)
    checks = 0
    real_check = verifier._verify

    async def counting(token: str) -> object:
        nonlocal checks
        checks += 1
        return await real_check(token)

    monkeypatch.setattr(verifier, "_verify", counting)
    token = tf.token("remembered", lifetime=600)
    assert (await verifier.verify(token)).sub == "remembered"
    assert (await verifier.verify(token)).sub == "remembered"
    assert checks == 1  # the second call was a look-up
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(Unauthorized):
        await verifier.verify(tampered)  # another text: checked, and refused
    # a remembered token whose time is up is checked again (and refused once expired)
    principal, _ = verifier._verified[token]
    verifier._verified[token] = (principal, time.time() - 1)
    await verifier.verify(token)
    assert checks == 3


async def test_an_expired_token_is_never_served_from_memory() -> None:
    tf = TokenFactory()
    verifier = static_verifier(tf)
    token = tf.token("short", lifetime=600)
    await verifier.verify(token)
    _, until = verifier._verified[token]
    assert until <= time.time() + verifier.verified_cache_seconds
    expired = jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": tf.key.kid},
        claims(tf, exp=int(time.time()) - 3600),
        tf.key,
    )
    with pytest.raises(Unauthorized):
        await verifier.verify(expired)
    assert expired not in verifier._verified

"""Foundation issue: a malformed body, an unknown route, a wrong method and an oversized body
each get problem+json with the right status from every service, directly and through the
gateway."""

from __future__ import annotations

import uuid

import httpx
import pytest
from hubkit.harness import Hub
from hubkit.skeleton import DEMO_PASSWORD, bearer, token

pytestmark = pytest.mark.e2e

# service -> (a JSON POST route, the role whose token it needs, or None)
JSON_ROUTES = {
    "identity": ("/api/v1/identity/residents", None),
    "registry": ("/api/v1/agencies", "admin"),
    "submissions": ("/api/v1/drafts", "resident"),
}


@pytest.fixture(scope="module")
def tokens(hub: Hub) -> dict[str, dict[str, str]]:
    with httpx.Client(base_url=hub.gateway_url, timeout=30) as c:
        admin = token(
            c,
            grant_type="password",
            username="admin@demo.gov",
            password=DEMO_PASSWORD,
            client_id="portal",
        )
        resident = token(
            c,
            grant_type="password",
            username="resident@demo.gov",
            password=DEMO_PASSWORD,
            client_id="portal",
        )
    return {"admin": bearer(admin), "resident": bearer(resident)}


def assert_problem(resp: httpx.Response, status: int) -> None:
    assert resp.status_code == status, (resp.request.url, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body = resp.json()
    assert body["status"] == status
    assert body["title"]


@pytest.mark.parametrize("via", ["direct", "gateway"])
@pytest.mark.parametrize("service", sorted(JSON_ROUTES))
def test_json_error_paths(
    hub: Hub, tokens: dict[str, dict[str, str]], service: str, via: str
) -> None:
    base = hub.urls[service] if via == "direct" else hub.gateway_url
    route, role = JSON_ROUTES[service]
    auth = tokens[role] if role else {}
    json_headers = {
        **auth,
        "content-type": "application/json",
        "x-request-id": f"errors-{uuid.uuid4().hex}",
    }
    with httpx.Client(base_url=base, timeout=30) as c:
        resp = c.post(route, content=b'{"broken": ', headers=json_headers)
        assert_problem(resp, 400)
        assert resp.headers["x-request-id"] == json_headers["x-request-id"]
        assert_problem(
            c.get(
                f"/api/v1/{service}-nothing-here-{uuid.uuid4().hex[:6]}",
                headers={**auth, "accept": "application/json"},
            ),
            404,
        )
        assert_problem(c.request("PATCH", route, headers=auth), 405)
        big = b"[" + b"0," * 3_000_000 + b"0]"
        assert_problem(c.post(route, content=big, headers=json_headers), 413)


@pytest.mark.parametrize("service", ["identity", "registry", "submissions", "portal", "gateway"])
def test_health_everywhere(hub: Hub, service: str) -> None:
    assert httpx.get(hub.urls[service] + "/healthz", timeout=10).status_code == 200
    ready = httpx.get(hub.urls[service] + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text


# A public read of each service and a page of the portal: HEAD answers as GET without content.
HEAD_TARGETS = {
    "identity": "/.well-known/openid-configuration",
    "registry": "/api/v1/forms",
    "submissions": "/api/v1/performance/targets",
    "portal": "/forms",
}


@pytest.mark.parametrize("via", ["direct", "gateway"])
@pytest.mark.parametrize("service", sorted(HEAD_TARGETS))
def test_head_wherever_get_is_answered(
    hub: Hub, tokens: dict[str, dict[str, str]], service: str, via: str
) -> None:
    base = hub.urls[service] if via == "direct" else hub.gateway_url
    target = HEAD_TARGETS[service]
    with httpx.Client(base_url=base, timeout=30, headers=tokens["admin"]) as c:
        got = c.get(target)
        head = c.head(target)
        assert got.status_code == head.status_code == 200, (target, head.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        # Through the gateway, the same connection goes on being usable after a HEAD.
        assert c.get(target).status_code == 200

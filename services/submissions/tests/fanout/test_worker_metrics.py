"""The worker's Prometheus page: on the loopback by default, on every address when
``SUBMISSIONS_WORKER_METRICS_HOST=0.0.0.0`` (what the Kubernetes manifests set, so
Prometheus in another pod can scrape it)."""

from __future__ import annotations

import urllib.request

import pytest

from tellonce_submissions.config import Settings
from tellonce_submissions.worker import serve_metrics


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        body: bytes = answer.read()
    return body.decode()


@pytest.mark.parametrize(
    ("environment", "bound"),
    [({}, "127.0.0.1"), ({"SUBMISSIONS_WORKER_METRICS_HOST": "0.0.0.0"}, "0.0.0.0")],
)
def test_metrics_listen_on_the_configured_host(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], bound: str
) -> None:
    monkeypatch.delenv("SUBMISSIONS_WORKER_METRICS_HOST", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.worker_metrics_host == bound
    server = serve_metrics(settings, 0)
    try:
        host, port = server.server_address[:2]
        assert host == bound
        assert isinstance(port, int)
        page = scrape(port)
    finally:
        server.shutdown()
        server.server_close()
    assert "# HELP tellonce_delivery_attempts_total" in page
    assert "tellonce_delivery_leases_lost_total" in page

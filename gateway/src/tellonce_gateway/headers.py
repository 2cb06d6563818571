"""Header rules at the edge: hop-by-hop headers never cross the gateway (RFC 9110 7.6.1),
forwarded headers say who really called, and every response carries the security headers."""

from __future__ import annotations

from collections.abc import Iterable

from tellonce_gateway.config import Settings

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the gateway itself, so a client's copy is dropped rather than trusted or doubled.
REQUEST_DROP = HOP_BY_HOP | {
    b"host",
    b"x-request-id",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"forwarded",
    b"x-real-ip",
    b"expect",  # the gateway sends the whole body itself; no 100-continue dance upstream
}
# The gateway's server writes its own Date; a service's Server and request id are replaced.
RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}
SECURITY_FIELDS = frozenset(
    {
        b"x-content-type-options",
        b"x-frame-options",
        b"cross-origin-opener-policy",
        b"permissions-policy",
        b"strict-transport-security",
        b"content-security-policy",
        b"referrer-policy",
    }
)
"""Every field :class:`SecurityHeaders` writes: a service's own is replaced (the first five)
or weighed (a stricter policy of its own is kept)."""

PORTAL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""/docs: Swagger UI's two files come from the gateway itself (tellonce_gateway.openapi), each
with Subresource Integrity in the page; nothing from another origin."""


def connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in ``Connection``: hop-by-hop too, whatever they are called."""
    names: set[bytes] = set()
    for key, value in headers:
        if key.lower() == b"connection":
            names.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(names)


class SecurityHeaders:
    """The headers appended to every response; the gateway's word wins over a service's
    for framing, sniffing and HSTS, while a service may send a stricter CSP or referrer
    policy of its own (a PDF or a report page)."""

    def __init__(self, settings: Settings) -> None:
        common: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if settings.mode == "production":
            common.append(
                (
                    b"strict-transport-security",
                    f"max-age={settings.hsts_max_age}; includeSubDomains".encode(),
                )
            )
        self.forced = common
        self.forced_names = frozenset(k for k, _ in common)
        self.referrer = (b"referrer-policy", b"same-origin")
        self.csp = {
            "portal": PORTAL_CSP.encode(),
            "api": API_CSP.encode(),
            "docs": DOCS_CSP.encode(),
        }
        # The same headers as written on the wire, once: (kind, has_csp, has_referrer) ->
        # "name: value\r\n..." for a server that takes them pre-rendered (server.py).
        self.rendered: dict[tuple[str, bool, bool], bytes] = {}
        for kind, csp in self.csp.items():
            for has_csp in (False, True):
                for has_referrer in (False, True):
                    fields = list(common)
                    if not has_csp:
                        fields.append((b"content-security-policy", csp))
                    if not has_referrer:
                        fields.append(self.referrer)
                    self.rendered[kind, has_csp, has_referrer] = b"".join(
                        b"%s: %s\r\n" % field for field in fields
                    )

    def apply_rendered(
        self, headers: Iterable[tuple[bytes, bytes]], kind: str
    ) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """What :meth:`apply` does, with the gateway's own headers as written on the wire
        (to be written after the returned list)."""
        has_csp = has_referrer = False
        forced = self.forced_names
        out: list[tuple[bytes, bytes]] = []
        for pair in headers:
            key = pair[0]
            if key in forced:
                continue
            if key == b"content-security-policy":
                has_csp = True
            elif key == b"referrer-policy":
                has_referrer = True
            out.append(pair)
        return out, self.rendered[kind, has_csp, has_referrer]

    def apply(self, headers: list[tuple[bytes, bytes]], kind: str) -> list[tuple[bytes, bytes]]:
        has_csp = has_referrer = False
        out: list[tuple[bytes, bytes]] = []
        for key, value in headers:
            if key in self.forced_names:
                continue
            if key == b"content-security-policy":
                has_csp = True
            elif key == b"referrer-policy":
                has_referrer = True
            out.append((key, value))
        out.extend(self.forced)
        if not has_csp:
            out.append((b"content-security-policy", self.csp[kind]))
        if not has_referrer:
            out.append(self.referrer)
        return out

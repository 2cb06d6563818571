"""The browser session: one encrypted, authenticated cookie (Fernet: AES-CBC + HMAC) holding
the user's tokens, who they are, their language and the CSRF token. HttpOnly so no script reads
it, SameSite=Lax, Secure in production. No server-side store, so any portal replica serves any
request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.responses import Response

from tellonce_portal.config import Settings

COOKIE = "tellonce_session"
PREFILL_COOKIE = "tellonce_prefilled"
HOST_ONLY = "__Host-"
"""In production the session cookie's name starts with this: browsers then accept it only when
it is Secure, set by this host itself, for Path=/ and with no Domain, so a sibling site under
the same parent domain cannot plant or overwrite it (RFC 6265bis, cookie prefixes)."""
SECURE_ONLY = "__Secure-"
"""The prefill cookie's prefix in production (it is scoped to one draft's path, which
``__Host-`` does not allow): it must come over HTTPS and be Secure."""


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    lang: str = "en"
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float = 0.0
    sub: str | None = None
    email: str | None = None
    name: str | None = None
    role: str | None = None
    agency: str | None = None
    flash: str | None = None
    warning: str | None = None
    """Like ``flash``, for a message that something was not done (shown once, as a warning)."""
    submitted: dict[str, str] = field(default_factory=dict)
    """Idempotency key -> submission id of this browser's last submissions (a second click
    after the draft is gone still lands on the confirmation)."""
    dirty: bool = field(default=False, compare=False)

    @property
    def signed_in(self) -> bool:
        return self.access_token is not None

    def sign_out(self) -> None:
        self.access_token = self.refresh_token = None
        self.expires_at = 0.0
        self.sub = self.email = self.name = self.role = self.agency = None
        self.submitted = {}
        self.csrf = secrets.token_urlsafe(32)
        self.dirty = True

    def check_csrf(self, token: str | None) -> bool:
        # bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500)
        if not token:
            return False
        return hmac.compare_digest(self.csrf.encode(), token.encode("utf-8", "surrogatepass"))

    def remember_submission(self, key: str, submission_id: str) -> None:
        self.submitted[key] = submission_id
        while len(self.submitted) > 5:
            self.submitted.pop(next(iter(self.submitted)))
        self.dirty = True

    def pop_flash(self) -> str | None:
        message, self.flash = self.flash, None
        if message:
            self.dirty = True
        return message

    def pop_warning(self) -> str | None:
        message, self.warning = self.warning, None
        if message:
            self.dirty = True
        return message


class SessionCodec:
    def __init__(self, settings: Settings) -> None:
        key = hashlib.sha256(
            b"tellonce-portal-session:" + settings.session_secret.get_secret_value().encode()
        ).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(key))
        self.max_age = settings.session_max_age
        self.secure = settings.secure_cookies
        self.cookie = HOST_ONLY + COOKIE if self.secure else COOKIE
        """The session cookie's name (plain on local http, where the prefixes cannot hold)."""
        self.prefill_cookie = SECURE_ONLY + PREFILL_COOKIE if self.secure else PREFILL_COOKIE

    def seal(self, doc: Any) -> str:
        return self.fernet.encrypt(json.dumps(doc, separators=(",", ":")).encode()).decode()

    def open(self, token: str | None, max_age: int | None = None) -> Any:
        if not token:
            return None
        try:
            raw = self.fernet.decrypt(token.encode(), ttl=max_age or self.max_age)
            return json.loads(raw)
        except (InvalidToken, ValueError):
            return None

    def load(self, cookie: str | None) -> Session:
        doc = self.open(cookie)
        if isinstance(doc, dict):
            known = {k: v for k, v in doc.items() if k in Session.__dataclass_fields__}
            known.pop("dirty", None)
            try:
                return Session(**known)
            except TypeError:
                pass
        return Session(dirty=True)

    def save(self, response: Response, session: Session) -> None:
        doc = asdict(session)
        doc.pop("dirty")
        response.set_cookie(
            self.cookie,
            self.seal(doc),
            max_age=self.max_age,
            path="/",
            httponly=True,
            secure=self.secure,
            samesite="lax",
        )

    def save_prefilled(
        self,
        response: Response,
        draft_id: str,
        pointers: list[str],
        from_account: list[str] | None = None,
    ) -> None:
        """Which answers of a draft came from the profile, and which from the account
        (``from_account``: the portal filled them), in a cookie scoped to that draft's pages
        (the drafts API says so only when the draft is created)."""
        doc: dict[str, Any] = {
            "draft": draft_id,
            "pointers": pointers[:200],
            "at": int(time.time()),
        }
        if from_account:
            doc["account"] = from_account[:50]
        response.set_cookie(
            self.prefill_cookie,
            self.seal(doc),
            max_age=30 * 24 * 3600,
            path=f"/drafts/{draft_id}",
            httponly=True,
            secure=self.secure,
            samesite="lax",
        )

    def prefilled(self, cookie: str | None, draft_id: str) -> set[str]:
        """The pointers of ``draft_id`` the profile filled (from the cookie)."""
        return self._marked(cookie, draft_id, "pointers")

    def from_account(self, cookie: str | None, draft_id: str) -> set[str]:
        """The pointers of ``draft_id`` the portal filled from the account (from the cookie)."""
        return self._marked(cookie, draft_id, "account")

    def _marked(self, cookie: str | None, draft_id: str, key: str) -> set[str]:
        doc = self.open(cookie, max_age=30 * 24 * 3600)
        if isinstance(doc, dict) and doc.get("draft") == draft_id:
            return {p for p in doc.get(key) or [] if isinstance(p, str)}
        return set()

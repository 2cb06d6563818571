"""What every page handler gets: the session, the user's gateway client (tokens refreshed when
they expire), the translator, and helpers that render or redirect with the session cookie."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tellonce_portal.api import ApiError, FormVersion, Gateway, SignInRequired
from tellonce_portal.config import Settings
from tellonce_portal.definitions import DefinitionCache
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.i18n import Translator
from tellonce_portal.session import Session, SessionCodec
from tellonce_portal.templating import environment
from tellonce_shared.middleware import head_only

REFRESH_MARGIN = 30
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""The portal's own pages need nothing inline and nothing from elsewhere (the gateway sets the
same policy; this keeps it true when the portal is reached directly)."""


class CsrfRejected(Exception):
    """A form post without this session's CSRF token."""


class RoleForbidden(Exception):
    """Signed in, but this page is for another role."""


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@dataclass
class PageContext:
    request: Request
    settings: Settings
    session: Session
    codec: SessionCodec
    client: httpx.AsyncClient
    definitions: DefinitionCache

    @property
    def t(self) -> Translator:
        return Translator(self.session.lang)

    @property
    def locale(self) -> str:
        return self.t.locale

    @property
    def forwarded_for(self) -> str | None:
        incoming = self.request.headers.get("x-forwarded-for")
        if incoming:
            return incoming
        return self.request.client.host if self.request.client else None

    def definition(self, version: FormVersion, title: str = "") -> FormDefinition:
        """The form version's questions and pages in the page's language: kept between
        requests for a published version (:class:`DefinitionCache`)."""
        return self.definitions.get(version, title=title, locale=self.locale)

    def anonymous(self) -> Gateway:
        return Gateway(self.client, forwarded_for=self.forwarded_for)

    async def api(self) -> Gateway:
        """The signed-in user's client; refreshes the access token shortly before it expires."""
        session = self.session
        if not session.signed_in:
            raise SignInRequired()
        if session.expires_at - REFRESH_MARGIN < time.time():
            if not session.refresh_token:
                raise SignInRequired()
            try:
                tokens = await self.anonymous().refresh_grant(
                    self.settings.client_id, session.refresh_token
                )
            except ApiError as exc:
                raise SignInRequired() from exc
            session.access_token = tokens.access_token
            session.refresh_token = tokens.refresh_token or session.refresh_token
            session.expires_at = time.time() + tokens.expires_in
            session.dirty = True
        return Gateway(self.client, session.access_token, self.forwarded_for)

    def require(self, *roles: str) -> None:
        if not self.session.signed_in:
            raise SignInRequired()
        if roles and self.session.role not in roles:
            raise RoleForbidden()

    def finish(self, response: Response) -> Response:
        if self.session.dirty:
            self.codec.save(response, self.session)
        return response

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        # A message is shown once: a HEAD sends no page, so it shows the message (the same
        # length as the GET's) but leaves it for the page that is seen.
        head = head_only(self.request)
        html = (
            environment()
            .get_template(template)
            .render(
                t=self.t,
                locale=self.locale,
                session=self.session,
                csrf=self.session.csrf,
                path=self.request.url.path,
                full_path=full_path(self.request),
                flash=self.session.flash if head else self.session.pop_flash(),
                warning=self.session.warning if head else self.session.pop_warning(),
                **context,
            )
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Content-Security-Policy"] = CSP
        return self.finish(response)

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def sign_in_url(self) -> str:
        return sign_in_url(full_path(self.request))


def sign_in_url(target: str) -> str:
    """The sign-in page that comes back to ``target`` (a path with its query) once signed
    in: URL-encoded, so its own ``?`` and ``&`` stay in ``next``."""
    return "/sign-in?next=" + quote(target, safe="/")


def full_path(request: Request) -> str:
    """The request's path with its query string (``/forms?q=food``)."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def load_session(request: Request) -> Session:
    state = request.state
    if not hasattr(state, "session"):
        codec: SessionCodec = request.app.state.codec
        state.session = codec.load(request.cookies.get(codec.cookie))
    session: Session = state.session
    return session


async def page_context(request: Request) -> PageContext:
    session = load_session(request)
    if request.method == "POST":
        form = await request.form()
        token = form.get("csrf_token")
        if not session.check_csrf(token if isinstance(token, str) else None):
            raise CsrfRejected()
    return PageContext(
        request=request,
        settings=request.app.state.settings,
        session=session,
        codec=request.app.state.codec,
        client=request.app.state.gateway,
        definitions=request.app.state.definitions,
    )


PageDep = Annotated[PageContext, Depends(page_context)]

"""Agency system credentials, managed by admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from tellonce_identity.accounts.schemas import AgencyCode
from tellonce_identity.clients import service
from tellonce_identity.clients.schemas import ClientCreate, ClientList, ClientPublic, ClientSecret
from tellonce_identity.deps import AddressDep, SessionDep
from tellonce_shared.auth import Principal, require_roles
from tellonce_shared.params import Text

router = APIRouter(prefix="/api/v1/identity/clients", tags=["identity"])
AdminDep = Annotated[Principal, require_roles("admin")]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
ClientId = Annotated[Text, Path()]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ClientSecret)
async def create_client(
    body: ClientCreate,
    admin: AdminDep,
    session: SessionDep,
    address: AddressDep,
    response: Response,
) -> ClientSecret:
    """Credentials for an agency system; the secret is in this response only."""
    client, secret = await service.create(
        session, agency=body.agency, name=body.name, actor=admin.sub, address=address
    )
    response.headers.update(NO_STORE)
    return ClientSecret(
        client_id=client.client_id, client_secret=secret, agency=body.agency, name=client.name
    )


@router.get("", response_model=ClientList)
async def list_clients(
    admin: AdminDep, session: SessionDep, agency: AgencyCode | None = None
) -> ClientList:
    rows = await service.listing(session, agency)
    return ClientList(items=[ClientPublic.model_validate(row) for row in rows])


@router.post("/{client_id}/rotate-secret", response_model=ClientSecret)
async def rotate_client_secret(
    client_id: ClientId,
    admin: AdminDep,
    session: SessionDep,
    address: AddressDep,
    response: Response,
) -> ClientSecret:
    client, secret = await service.rotate_secret(
        session, client_id, actor=admin.sub, address=address
    )
    response.headers.update(NO_STORE)
    return ClientSecret(
        client_id=client.client_id,
        client_secret=secret,
        agency=client.agency or "",
        name=client.name,
    )


@router.delete("/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_client(
    client_id: ClientId, admin: AdminDep, session: SessionDep, address: AddressDep
) -> Response:
    """The client can no longer get tokens; tokens already issued expire within 15 minutes."""
    await service.revoke(session, client_id, actor=admin.sub, address=address)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""Request and response models of OAuth clients (agency systems)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tellonce_identity.accounts.schemas import AgencyCode
from tellonce_shared.params import Text


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: AgencyCode
    name: Annotated[Text, Field(min_length=1, max_length=200)]


class ClientSecret(BaseModel):
    """The only response that ever carries the secret."""

    client_id: str
    client_secret: str
    agency: str
    name: str


class ClientPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    kind: str
    agency: str | None
    grant_types: str
    created_at: datetime
    secret_rotated_at: datetime | None
    revoked_at: datetime | None


class ClientList(BaseModel):
    items: list[ClientPublic]

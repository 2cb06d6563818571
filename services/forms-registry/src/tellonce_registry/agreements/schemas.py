from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tellonce_registry.paging import Text


class AgreementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: Text = Field(min_length=2, max_length=16, examples=["DOL"])
    form: Text = Field(min_length=2, max_length=100, examples=["dss-snap-application"])
    fields: list[Text] = Field(
        min_length=1,
        max_length=1000,
        description="JSON pointers into the answers (/address/city) or data element ids.",
        examples=[["/applicant/firstName", "person.birthDate"]],
    )
    purpose: Text = Field(min_length=1, max_length=2000)
    legal_basis: Text = Field(min_length=1, max_length=2000)


class AgreementOut(BaseModel):
    id: int
    agency: str
    form: str
    fields: list[str]
    pointers: list[str] | None = Field(
        description="The fields as pointers of the version named by ?version= (or the latest"
        " published), element ids resolved; null when no version applies."
    )
    purpose: str
    legal_basis: str
    created_at: datetime


class Owner(BaseModel):
    agency: str
    fields: str = "all"


class AgreementPage(BaseModel):
    form: str | None = None
    version: int | None = None
    owner: Owner | None = Field(
        default=None, description="With ?form=: the owning agency, which receives every answer."
    )
    items: list[AgreementOut]
    next_cursor: str | None

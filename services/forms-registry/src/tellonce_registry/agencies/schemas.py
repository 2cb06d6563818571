from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tellonce_registry.paging import Text


class AgencyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,15}$", examples=["DSS"])
    name: Text = Field(min_length=1, max_length=200, examples=["Department of Social Services"])


class AgencyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str


class AgencyPage(BaseModel):
    items: list[AgencyOut]
    next_cursor: str | None

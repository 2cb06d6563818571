"""Request and response models of accounts (residents, staff, auditors, admins)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from tellonce_shared.params import Text

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
_AGENCY = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")


def _email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value


def _agency(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().upper()
    if not _AGENCY.match(value):
        raise ValueError("an agency code is 2 to 16 capital letters or digits, e.g. DSS")
    return value


Email = Annotated[Text, AfterValidator(_email)]
AgencyCode = Annotated[str, AfterValidator(_agency)]


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


FullName = Annotated[Text, BeforeValidator(_strip), Field(min_length=1, max_length=200)]
"""Stripped before its length is checked: a name of spaces only is refused (422)."""
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class ResidentSignUp(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    email: Email
    password: Password
    full_name: FullName


class UserCreate(BaseModel):
    """An admin creates staff, auditor and admin accounts (residents sign up themselves)."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    full_name: FullName
    role: Literal["agency", "auditor", "admin"]
    agency: AgencyCode | None = None

    @model_validator(mode="after")
    def _agency_for_staff(self) -> UserCreate:
        if self.role == "agency" and self.agency is None:
            raise ValueError("agency staff need an agency code")
        return self


class AccountCreated(BaseModel):
    id: str
    email: str


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    full_name: str
    role: str
    agency: str | None
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class UserPage(BaseModel):
    items: list[UserPublic]
    next_cursor: str | None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password


class Me(BaseModel):
    sub: str
    email: str | None = None
    full_name: str | None = None
    role: str
    agency: str | None = None

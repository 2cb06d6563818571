from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from tellonce_shared.pagination import (
    MAX_BIG_INTEGER,
    MAX_INTEGER,
    cursor_position,
    decode_cursor,
    encode_cursor,
)
from tellonce_shared.problems import BadRequest, pointer_from_loc
from tellonce_shared.settings import ServiceSettings


class WithSecret(ServiceSettings):
    signing_key: SecretStr = SecretStr("demo-signing-key")

    def secrets_to_check(self) -> dict[str, SecretStr | str | None]:
        return {"signing_key": self.signing_key}


def test_production_refuses_sqlite_and_demo_secrets() -> None:
    with pytest.raises(ValidationError, match="SQLite"):
        ServiceSettings(mode="production")
    pg = "postgresql+psycopg://db/x"
    with pytest.raises(ValidationError, match="signing_key"):
        WithSecret(mode="production", database_url=pg)
    ok = WithSecret(mode="production", database_url=pg, signing_key=SecretStr("k" * 40))
    assert not ok.is_local
    assert WithSecret().is_local


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor({"id": 7})) == {"id": 7}
    assert decode_cursor(None) is None
    with pytest.raises(BadRequest):
        decode_cursor("not-a-cursor!")


def test_cursor_position_is_an_int_its_column_can_hold() -> None:
    assert cursor_position(0) == 0
    assert cursor_position(MAX_INTEGER) == MAX_INTEGER
    assert cursor_position(MAX_BIG_INTEGER, maximum=MAX_BIG_INTEGER) == MAX_BIG_INTEGER
    # a crafted cursor can carry up to 2**64 - 1 (orjson reads it): the database would fail
    for bad in (MAX_INTEGER + 1, 2**64 - 1, -1, True, 1.0, "1", None):
        with pytest.raises(BadRequest):
            cursor_position(bad)
    with pytest.raises(BadRequest):
        cursor_position(MAX_BIG_INTEGER + 1, maximum=MAX_BIG_INTEGER)


def test_pointer_from_loc() -> None:
    assert pointer_from_loc(("body", "a", 0, "b/c")) == "/a/0/b~1c"
    assert pointer_from_loc(("query", "limit")) == "/query/limit"

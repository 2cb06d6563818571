"""What operator commands print: JSON lines in production, text locally; settings errors by
their messages only (never a value that was given, secrets included)."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from tellonce_shared.cli import Console, load_settings
from tellonce_shared.settings import ServiceSettings

SECRET = "s3cr3t-value-Qx7"


class Demo(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMOSVC_", extra="ignore")

    api_key: SecretStr = SecretStr("k" * 40)
    port: int = 1

    @model_validator(mode="after")
    def _long_key(self) -> Demo:
        if len(self.api_key.get_secret_value()) < 32:
            raise ValueError("DEMOSVC_API_KEY needs at least 32 characters")
        return self


def test_settings_errors_never_show_the_input() -> None:
    with pytest.raises(ValueError) as exc:
        Demo(api_key=SecretStr(SECRET))
    assert "32 characters" in str(exc.value)
    assert SECRET not in str(exc.value)
    assert "s3cr3t" not in str(exc.value)


@pytest.mark.parametrize("mode", ["production", "local"])
def test_load_settings_prints_the_messages_only(
    mode: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEMOSVC_MODE", mode)
    monkeypatch.setenv("DEMOSVC_DATABASE_URL", "postgresql+psycopg://u:pw-Zz9@db/x")
    monkeypatch.setenv("DEMOSVC_API_KEY", SECRET)
    monkeypatch.setenv("DEMOSVC_PORT", "eighty")
    with pytest.raises(SystemExit) as done:
        load_settings("demo", "DEMOSVC_", Demo)
    assert done.value.code == 2
    captured = capsys.readouterr()
    output = captured.out + captured.err
    for part in (SECRET, SECRET[:6], SECRET[-5:], "pw-Zz9", "eighty"):
        assert part not in output
    assert "DEMOSVC_PORT: Input should be a valid integer" in output
    if mode == "production":
        (line,) = output.strip().splitlines()
        doc = json.loads(line)
        assert doc["level"] == "error"
        assert doc["msg"] == "invalid settings"
        assert doc["service"] == "demo"
    else:
        assert output.startswith("demo: invalid settings: ")


def test_console_json_lines_in_production_text_locally(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Console("demo", "purge", json_lines=False).result("retention purge", ["a", "b"], drafts=1)
    assert capsys.readouterr().out == "a\nb\n"
    console = Console("demo", "purge", json_lines=True, log_level="ERROR")
    console.result("retention purge", "ignored locally", drafts=1, keys=0)
    (line,) = capsys.readouterr().out.splitlines()
    doc = json.loads(line)
    assert doc["msg"] == "retention purge"
    assert (doc["service"], doc["command"], doc["drafts"], doc["keys"]) == ("demo", "purge", 1, 0)
    with pytest.raises(SystemExit) as done, console.failures():
        raise OSError("disk full")
    assert done.value.code == 1
    (line,) = capsys.readouterr().out.splitlines()
    doc = json.loads(line)
    assert (doc["level"], doc["msg"], doc["error"]) == (
        "error",
        "command failed",
        "OSError: disk full",
    )
    assert "Traceback" in doc["exc"]

"""The configuration reference in docs/operations.md is what the settings classes say today
(refresh it with `uv run python deploy/settings_table.py --write`)."""

from __future__ import annotations

import subprocess
import sys

from deploykit import DEPLOY, ROOT, SERVICES

START = "<!-- settings-table:start (made by deploy/settings_table.py; do not edit) -->\n"
END = "<!-- settings-table:end -->"


def test_the_documented_settings_are_the_code_settings() -> None:
    made = subprocess.run(
        [sys.executable, str(DEPLOY / "settings_table.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    document = (ROOT / "docs" / "operations.md").read_text()
    assert START in document
    documented = document.split(START, 1)[1].split(END, 1)[0]
    assert documented == made, "run: uv run python deploy/settings_table.py --write"
    for service in SERVICES:
        for name in service.env_names():
            assert f"| `{name}` |" in made, name

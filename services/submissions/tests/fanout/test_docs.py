"""The verification example in docs/delivery.md works on a webhook our workers sign."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tellonce_submissions.deliveries.signing import new_secret, sign

DOC = Path(__file__).resolve().parents[4] / "docs" / "delivery.md"


def _stdlib_example() -> Any:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    source = next(b for b in blocks if "def verify(" in b)
    source = "\n".join(line.removeprefix("   ") for line in source.splitlines())
    namespace: dict[str, Any] = {}
    exec(compile(source, str(DOC), "exec"), namespace)
    return namespace["verify"]


def test_the_documented_verify_accepts_ours_and_refuses_forgeries() -> None:
    verify = _stdlib_example()
    old, new = new_secret(), new_secret()
    body = b'{"type":"submission.created","data":{"answers":{}}}'
    ts = int(time.time())
    headers = {
        "webhook-id": "d-1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign([new, old], "d-1", ts, body),
    }
    assert verify(new, headers, body)["type"] == "submission.created"
    assert verify(old, headers, body)["type"] == "submission.created"
    with pytest.raises(ValueError, match="signature"):
        verify(new_secret(), headers, body)
    with pytest.raises(ValueError, match="signature"):
        verify(new, headers, body + b" ")
    stale = {**headers, "webhook-timestamp": str(ts - 3600)}
    with pytest.raises(ValueError, match="timestamp"):
        verify(new, stale, body)

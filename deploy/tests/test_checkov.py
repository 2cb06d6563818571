"""Policy scan: checkov on both rendered overlays finds nothing, except the checks that
deploy/checkov.yaml and the objects' own checkov.io/skip annotations skip with a reason.

checkov has no severities offline (they come from the vendor's platform), so every failed
check counts. It runs in its own environment (its dependencies clash with the services'):
``checkov`` from PATH, else ``uvx --from checkov==3.3.30``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]
from deploykit import DEPLOY, OVERLAYS, need_tool, render, uv_tool

CHECKOV_VERSION = "3.3.30"

# A pod every scanner must object to: proves the scan is not a no-op.
BROKEN = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "broken", "namespace": "tellonce"},
    "spec": {
        "selector": {"matchLabels": {"app": "broken"}},
        "template": {
            "metadata": {"labels": {"app": "broken"}},
            "spec": {
                "containers": [
                    {
                        "name": "broken",
                        "image": "broken:latest",
                        "securityContext": {"privileged": True},
                    }
                ]
            },
        },
    },
}


def checkov_command() -> list[str]:
    if found := shutil.which("checkov"):
        return [found]
    if found := uv_tool("uvx"):
        return [found, "--from", f"checkov=={CHECKOV_VERSION}", "checkov"]
    need_tool("checkov is not installed and uvx cannot fetch it")


def test_checkov_finds_nothing_unjustified(tmp_path: Path) -> None:
    files = []
    for overlay in OVERLAYS:
        path = tmp_path / f"{overlay}.yaml"
        path.write_text(yaml.safe_dump_all(render(overlay)))
        files.append(path)
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(BROKEN))
    command = [*checkov_command(), "--config-file", str(DEPLOY / "checkov.yaml"), "-o", "json"]
    for path in [*files, broken]:
        command += ["-f", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    assert result.stdout.strip(), result.stderr[-2000:]
    reports: Any = json.loads(result.stdout)
    report = reports[0] if isinstance(reports, list) else reports
    failed = report["results"]["failed_checks"]
    ours = [
        f"{f['check_id']} {f['check_name']}: {f['resource']} ({Path(f['file_path']).name})"
        for f in failed
        if Path(f["file_path"]).name != broken.name
    ]
    assert not ours, "\n".join(ours)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 500, "checkov ran too few checks to be trusted"
    broken_ids = {f["check_id"] for f in failed if Path(f["file_path"]).name == broken.name}
    assert {"CKV_K8S_16", "CKV_K8S_14"} <= broken_ids, "a privileged :latest pod must fail"

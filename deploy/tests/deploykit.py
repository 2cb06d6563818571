"""What the deployment checks share (imported by conftest.py and the tests): the
repository's own list of services (read from the code, so a new service without manifests
fails), the rendered Kubernetes overlays, and how a missing external tool is treated.

External tools (kubectl for kustomize, kubernetes-validate, checkov, hadolint) are skipped
when absent, except with TELLONCE_DEPLOY_STRICT=1 (``make deploy-check`` sets it), where a
missing tool fails the run instead of hiding a check.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, get_args

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from pydantic import SecretStr

from tellonce_shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
"""The one Dockerfile of every image; build arguments choose the service."""
K8S = DEPLOY / "k8s"
OVERLAYS = ("local", "production")
STRICT = os.environ.get("TELLONCE_DEPLOY_STRICT") == "1"

Obj = dict[str, Any]


def need_tool(reason: str) -> NoReturn:
    """Skip (or fail in strict mode) a check whose external tool is missing."""
    if STRICT:
        pytest.fail(f"{reason} (TELLONCE_DEPLOY_STRICT=1 forbids skipping)")
    pytest.skip(reason)


@dataclass(frozen=True)
class ServiceInfo:
    """One deployable process family as the code defines it."""

    directory: Path
    name: str
    """Kubernetes, compose and image name: the directory's name (``forms-registry``)."""
    package: str
    script: str
    settings: type[ServiceSettings]
    distribution: str
    """Its name in pyproject.toml and uv.lock (``tellonce-registry``)."""
    dependencies: tuple[str, ...]

    @property
    def prefix(self) -> str:
        return str(self.settings.model_config.get("env_prefix", ""))

    @property
    def port(self) -> int:
        return int(self.settings.model_fields["port"].default)

    @property
    def has_database(self) -> bool:
        return bool(self.settings.model_fields["database_url"].default)

    @property
    def image_args(self) -> dict[str, str]:
        """The build arguments of its image (deploy/Dockerfile), as the code implies them:
        where it lives, what uv installs, its entry point, settings prefix and port, and the
        PDF libraries for the services that depend on WeasyPrint."""
        pdf = any(re.match(r"weasyprint\b", d, re.I) for d in self.dependencies)
        return {
            "SERVICE_DIR": self.directory.relative_to(ROOT).as_posix(),
            "PACKAGE": self.distribution,
            "COMMAND": self.script,
            "ENV_PREFIX": self.prefix.removesuffix("_"),
            "PORT": str(self.port),
            "PDF": "true" if pdf else "false",
        }

    def env_names(self) -> set[str]:
        return {self.prefix + field.upper() for field in self.settings.model_fields}

    def secret_env_names(self) -> set[str]:
        """Settings that must come from a Secret: the database URL and every SecretStr."""
        names = {
            self.prefix + field.upper()
            for field, info in self.settings.model_fields.items()
            if SecretStr in (info.annotation, *get_args(info.annotation))
            or isinstance(info.default, SecretStr)
        }
        if self.has_database:
            names.add(self.prefix + "DATABASE_URL")
        return names


def _services() -> list[ServiceInfo]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: list[Path] = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        members += sorted(p for p in ROOT.glob(pattern) if (p / "pyproject.toml").exists())
    found = []
    for directory in members:
        project = tomllib.loads((directory / "pyproject.toml").read_text())
        scripts = project["project"].get("scripts", {})
        if not scripts:
            continue  # a library (shared/), not a process
        (script,) = scripts
        package = scripts[script].split(".")[0]
        settings = importlib.import_module(f"{package}.config").Settings
        found.append(
            ServiceInfo(
                directory,
                directory.name,
                package,
                script,
                settings,
                project["project"]["name"],
                tuple(project["project"].get("dependencies", [])),
            )
        )
    return found


SERVICES = _services()
BY_NAME = {s.name: s for s in SERVICES}
WORKER = "submissions-worker"
"""The one process that is not its service's HTTP server (``tellonce-submissions worker``)."""


def uv_tool(name: str) -> str | None:
    """`uv` or `uvx`: from PATH, else where `make bootstrap` installs uv (.tools/bin)."""
    found = shutil.which(name)
    if found is None and (ROOT / ".tools" / "bin" / name).exists():
        found = str(ROOT / ".tools" / "bin" / name)
    return found


def render(overlay: str) -> list[Obj]:
    """``kubectl kustomize`` (kustomize built into kubectl) of one overlay."""
    kubectl = shutil.which("kubectl")
    kustomize = shutil.which("kustomize")
    if kubectl:
        command = [kubectl, "kustomize", str(K8S / "overlays" / overlay)]
    elif kustomize:
        command = [kustomize, "build", str(K8S / "overlays" / overlay)]
    else:
        need_tool("neither kubectl nor kustomize is installed")
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objs: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def workloads(objs: list[Obj]) -> Iterator[Obj]:
    """Everything that runs pods: Deployments, Jobs and CronJobs."""
    for o in objs:
        if o["kind"] in ("Deployment", "Job", "CronJob"):
            yield o


def pod_template(o: Obj) -> Obj:
    spec = o["spec"]["jobTemplate"]["spec"] if o["kind"] == "CronJob" else o["spec"]
    template: Obj = spec["template"]
    return template


def pod_spec(o: Obj) -> Obj:
    spec: Obj = pod_template(o)["spec"]
    return spec


def pod_labels(o: Obj) -> dict[str, str]:
    labels: dict[str, str] = pod_template(o)["metadata"]["labels"]
    return labels


def service_of(workload: Obj) -> ServiceInfo:
    name = workload["metadata"]["name"].removesuffix("-migrate").removesuffix("-prune")
    return BY_NAME["submissions" if name == WORKER else name]


def env_of(
    container: Obj, rendered: list[Obj]
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The plain settings (ConfigMaps, literal env) and the Secret-backed ones of a container."""
    config_maps = of_kind(rendered, "ConfigMap")
    plain: dict[str, str] = {}
    secret: dict[str, tuple[str, str]] = {}
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, "Secrets by explicit key only, so the manifest says which"
        plain.update(config_maps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        if "value" in var:
            plain[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            secret[var["name"]] = (ref["name"], ref["key"])
    return plain, secret


# --- Dockerfiles ---------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def parse(
    text: str, build_args: dict[str, str] | None = None
) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined, comments dropped.

    As ``docker build --build-arg`` does, each stage's declared ARGs (``ARG NAME`` or
    ``ARG NAME=default``) take their value from ``build_args`` or their default, and
    ``${NAME}``/``$NAME`` of a declared ARG is replaced in the stage's later instructions
    (also in RUN, where the shell would find it in the environment). Other variables
    (``${PATH}``, those of a shell command) are left as written."""
    given = build_args or {}
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    declared: dict[str, str] = {}

    def expand(words: str, known: dict[str, str]) -> str:
        return _VARIABLE.sub(lambda m: known.get(m.group(1) or m.group(2), m.group(0)), words)

    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            base = expand(words[0], {**args, **{k: v for k, v in given.items() if k in args}})
            stages.append(Stage(base, words[2] if len(words) > 2 else ""))
            declared = {}
        elif stages:
            if keyword == "ARG":
                name, _, default = rest.partition("=")
                declared[name] = given.get(name, expand(default, declared))
            stages[-1].instructions.append((keyword, expand(rest, declared)))
        elif keyword == "ARG" and "=" in rest:
            name, _, default = rest.partition("=")
            args[name] = default
    return args, stages


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: Go's filepath.Match per path segment,
    ``**`` for any number of segments, a leading slash ignored."""
    segments = pattern.strip("/").split("/")
    out = ""
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            out += ".*" if last else "(?:[^/]+/)*"
            continue
        chars, j = "", 0
        while j < len(segment):
            ch = segment[j]
            if ch == "*":
                chars += "[^/]*"
            elif ch == "?":
                chars += "[^/]"
            elif ch == "[" and "]" in segment[j:]:
                close = segment.index("]", j)
                chars += "[" + segment[j + 1 : close].replace("!", "^", 1) + "]"
                j = close
            else:
                chars += re.escape(ch)
            j += 1
        out += chars + ("" if last else "/")
    return re.compile(out + r"\Z")


def ignored(patterns: list[str], path: str) -> bool:
    """Whether .dockerignore drops `path`: a pattern matching the path or one of its parent
    folders drops it; the last matching pattern wins, ``!`` re-includes."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for raw in patterns:
        negate = raw.startswith("!")
        regex = pattern_regex(raw.removeprefix("!"))
        if any(regex.match(prefix) for prefix in prefixes):
            result = not negate
    return result

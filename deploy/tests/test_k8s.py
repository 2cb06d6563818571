"""The Kubernetes manifests: both overlays render with kustomize, every object validates
against the Kubernetes schemas offline, and the rendered objects keep the hub's rules
(probes, hardening, resources, Secrets referenced and never committed, network isolation),
checked against the services' own settings classes so code and manifests cannot drift."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from deploykit import (
    BY_NAME,
    ROOT,
    SERVICES,
    WORKER,
    env_of,
    need_tool,
    of_kind,
    pod_labels,
    pod_spec,
    service_of,
    workloads,
)

Obj = dict[str, Any]
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
"""The oldest Kubernetes the manifests promise (docs/operations.md) and the newest schema."""


# --- rendering and schemas ----------------------------------------------------------------


def test_every_object_validates_against_the_kubernetes_schemas(rendered: list[Obj]) -> None:
    try:
        import kubernetes_validate  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        need_tool("kubernetes-validate is not installed (pip: kubernetes-validate)")
    failures = []
    for version in KUBERNETES_VERSIONS:
        for o in rendered:
            try:
                kubernetes_validate.validate(o, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                failures.append(f"{version} {o['kind']}/{o['metadata']['name']}: {exc.message}")
    assert not failures, "\n".join(failures)


def test_schema_validation_catches_a_broken_object() -> None:
    """The validator is not a no-op: a Deployment without a selector is refused."""
    try:
        import kubernetes_validate  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        need_tool("kubernetes-validate is not installed (pip: kubernetes-validate)")
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}
    broken["spec"] = {"template": {"spec": {"containers": [{"name": "x", "image": "x:1"}]}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_objects_are_named_namespaced_and_labelled(rendered: list[Obj]) -> None:
    seen = set()
    for o in rendered:
        key = (o["kind"], o["metadata"]["name"])
        assert key not in seen, f"duplicate {key}"
        seen.add(key)
        assert o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tellonce", key
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == "tellonce", key


# --- one manifest per service, and no manifest without a service ---------------------------


def test_every_service_in_the_code_has_a_deployment_and_vice_versa(rendered: list[Obj]) -> None:
    deployments = set(of_kind(rendered, "Deployment"))
    assert deployments == {s.name for s in SERVICES} | {WORKER}


def test_every_procfile_process_is_deployed(rendered: list[Obj]) -> None:
    """The Procfile is the list of processes `make run` starts; production runs the same."""

    deployments = of_kind(rendered, "Deployment")
    by_command = {}
    for name, d in deployments.items():
        container = pod_spec(d)["containers"][0]
        by_command[(service_of(d).script, container["args"][0])] = name
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip():
            continue
        words = line.split(":", 1)[1].split()
        script = next(w for w in words if w.startswith("tellonce-"))
        command = words[words.index(script) + 1]
        assert (script, command) in by_command, f"no Deployment runs `{script} {command}`"


def test_services_expose_the_port_the_code_listens_on(rendered: list[Obj]) -> None:
    services = of_kind(rendered, "Service")
    deployments = of_kind(rendered, "Deployment")
    assert set(services) == {s.name for s in SERVICES}, "a Service per HTTP server, no more"
    for name, svc in services.items():
        info = BY_NAME[name]
        (port,) = svc["spec"]["ports"]
        assert port["port"] == info.port
        assert port["targetPort"] == "http"
        container = pod_spec(deployments[name])["containers"][0]
        assert {"name": "http", "containerPort": info.port, "protocol": "TCP"} in container["ports"]
        selector = svc["spec"]["selector"].items()
        assert selector <= pod_labels(deployments[name]).items()
        assert not selector <= pod_labels(deployments[WORKER]).items() or name != "submissions"


def test_a_migration_job_per_database_and_none_for_the_gateway(rendered: list[Obj]) -> None:
    jobs = of_kind(rendered, "Job")
    deployments = of_kind(rendered, "Deployment")
    assert set(jobs) == {f"{s.name}-migrate" for s in SERVICES if s.has_database}
    for name, job in jobs.items():
        spec = pod_spec(job)
        assert spec["restartPolicy"] == "Never"
        steps = spec.get("initContainers", []) + spec["containers"]
        service = name.removesuffix("-migrate")
        expected = [["migrate"], ["seed"]] if service == "identity" else [["migrate"]]
        assert [c["args"] for c in steps] == expected, f"{name}: identity seeds its client and key"
        image = pod_spec(deployments[service])["containers"][0]["image"]
        assert {c["image"] for c in steps} == {image}


# --- probes, hardening, resources, images ----------------------------------------------------


def test_http_servers_have_readiness_and_liveness_probes(rendered: list[Obj]) -> None:
    for name, d in of_kind(rendered, "Deployment").items():
        container = pod_spec(d)["containers"][0]
        if name == WORKER:
            args = container["args"]
            assert args[0] == "worker"
            assert "readinessProbe" not in container, "the worker takes no traffic"
            port = int(args[args.index("--metrics-port") + 1])
            assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container[
                "ports"
            ]
            assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
            continue
        assert container["args"][:1] == ["serve"], name
        assert "0.0.0.0" in container["args"], name
        # the gateway's /readyz aggregates every service; one service down must not take
        # every gateway pod out of rotation, so the gateway is ready when it serves
        ready = "/healthz" if name == "gateway" else "/readyz"
        assert container["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_every_container_is_hardened(rendered: list[Obj]) -> None:
    for o in workloads(rendered):
        spec = pod_spec(o)
        where = f"{o['kind']}/{o['metadata']['name']}"
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["runAsNonRoot"] is True, where
            assert sc["runAsUser"] >= 10000, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert "privileged" not in sc or sc["privileged"] is False, where
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, f"{where}: /tmp must be a writable emptyDir"


def test_every_container_has_requests_and_limits(rendered: list[Obj]) -> None:
    for o in workloads(rendered):
        for c in pod_spec(o)["containers"]:
            for bound in ("requests", "limits"):
                assert set(c["resources"][bound]) >= {"cpu", "memory"}, o["metadata"]["name"]


def test_images_are_tagged_for_the_overlay(rendered: list[Obj], overlay: str) -> None:
    for o in workloads(rendered):
        for c in pod_spec(o).get("initContainers", []) + pod_spec(o)["containers"]:
            image: str = c["image"]
            name, _, tag = image.rpartition(":")
            assert tag, image
            assert "/" not in tag, image
            assert tag != "latest", image
            assert name.endswith("/" + service_of(o).name), image
            if overlay == "production":
                assert tag != "dev", f"{image}: a released version"
                assert "." in name.split("/")[0], f"{image}: from a registry"
                assert c["imagePullPolicy"] == "Always", image


# --- configuration and Secrets -------------------------------------------------------------


def test_no_secret_is_committed(rendered: list[Obj]) -> None:
    assert of_kind(rendered, "Secret") == {}, "Secrets are created by the platform team"
    for name, cm in of_kind(rendered, "ConfigMap").items():
        for key in cm["data"]:
            assert not key.endswith(("_KEY", "_KEYS", "_SECRET", "_PASSWORD", "_DATABASE_URL")), (
                f"{name}: {key} belongs in a Secret"
            )


def test_each_container_gets_every_setting_it_needs_from_the_right_place(
    rendered: list[Obj], overlay: str
) -> None:
    issuers = set()
    for o in workloads(rendered):
        info = service_of(o)
        container = pod_spec(o)["containers"][0]
        plain, secret = env_of(container, rendered)
        where = f"{overlay} {o['kind']}/{o['metadata']['name']}"
        unknown = (set(plain) | set(secret)) - info.env_names()
        assert not unknown, f"{where}: no such setting in {info.package}.config: {unknown}"
        assert set(secret) == info.secret_env_names(), f"{where}: Secret-backed settings"
        for var, (secret_name, key) in secret.items():
            assert (secret_name, key) == (f"{info.name}-secrets", var), where
        assert plain[info.prefix + "MODE"] == "production", where
        issuers.add(plain[info.prefix + "ISSUER"])
        if info.name != "identity":
            assert plain[info.prefix + "IDENTITY_URL"] == "http://identity:8001", where
    assert len(issuers) == 1, f"every service must expect the same issuer: {issuers}"
    (issuer,) = issuers
    host = of_kind(rendered, "Ingress")["gateway"]["spec"]["rules"][0]["host"]
    assert issuer.split("://", 1)[1] == host, "the issuer is the public gateway URL"


def test_gateway_routes_to_the_cluster_services(rendered: list[Obj]) -> None:
    plain, _ = env_of(
        pod_spec(of_kind(rendered, "Deployment")["gateway"])["containers"][0], rendered
    )
    routes = [("identity", "IDENTITY"), ("forms-registry", "REGISTRY")]
    routes += [("submissions", "SUBMISSIONS"), ("portal", "PORTAL")]
    for name, var in routes:
        assert plain[f"GATEWAY_{var}_URL"] == f"http://{name}:{BY_NAME[name].port}"


# --- scaling and disruption ----------------------------------------------------------------


def test_autoscalers_for_gateway_submissions_and_workers(rendered: list[Obj], overlay: str) -> None:
    hpas = of_kind(rendered, "HorizontalPodAutoscaler")
    deployments = of_kind(rendered, "Deployment")
    assert set(hpas) == {"gateway", "submissions", WORKER}
    for name, hpa in hpas.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert name in deployments
        low, high = hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
        assert 1 <= low < high
        if overlay == "production":
            assert low >= 2, f"{name}: production keeps two pods at least"
        for c in pod_spec(deployments[name])["containers"]:
            assert "cpu" in c["resources"]["requests"], "CPU utilisation needs a CPU request"


def test_a_disruption_budget_per_deployment(rendered: list[Obj]) -> None:
    pdbs = of_kind(rendered, "PodDisruptionBudget")
    for name, d in of_kind(rendered, "Deployment").items():
        covering = [
            p
            for p in pdbs.values()
            if p["spec"]["selector"]["matchLabels"].items() <= pod_labels(d).items()
        ]
        assert len(covering) == 1, name
        assert covering[0]["spec"].get("maxUnavailable") == 1, "drains never block on one pod"


def test_ingress_reaches_only_the_gateway(rendered: list[Obj], overlay: str) -> None:
    ingresses = list(of_kind(rendered, "Ingress").values())
    assert len(ingresses) == 1
    for rule in ingresses[0]["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] == "gateway"
    if overlay == "production":
        assert ingresses[0]["spec"]["tls"], "production serves HTTPS"


# --- network policies ------------------------------------------------------------------------


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
        if expr["operator"] == "Exists" and value is None:
            return False
        if expr["operator"] == "DoesNotExist" and value is not None:
            return False
    return True


def peer_matches(peer: Obj, labels: dict[str, str]) -> bool:
    """A peer in the same namespace given by a pod selector (no namespace selector)."""
    return (
        "namespaceSelector" not in peer
        and "podSelector" in peer
        and selects(peer["podSelector"], labels)
    )


def port_matches(rule: Obj, port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port for p in ports)


def allowed(policies: list[Obj], src: dict[str, str], dst: dict[str, str], port: int) -> bool:
    """Whether a pod labelled `src` may open TCP `port` on a pod labelled `dst` (both here)."""

    def direction(pod: dict[str, str], other: dict[str, str], kind: str, key: str) -> bool:
        relevant = [
            p
            for p in policies
            if selects(p["spec"]["podSelector"], pod) and kind in p["spec"]["policyTypes"]
        ]
        if not relevant:
            return True
        return any(
            port_matches(rule, port)
            and (
                ("to" not in rule and "from" not in rule)
                or any(peer_matches(peer, other) for peer in rule.get(key, []))
            )
            for p in relevant
            for rule in p["spec"].get(kind.lower(), [])
        )

    return direction(src, dst, "Egress", "to") and direction(dst, src, "Ingress", "from")


def labels_of(rendered: list[Obj]) -> dict[str, dict[str, str]]:
    return {o["metadata"]["name"]: pod_labels(o) for o in workloads(rendered)}


def test_every_pod_is_under_a_default_deny(rendered: list[Obj]) -> None:
    policies = list(of_kind(rendered, "NetworkPolicy").values())
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "a default-deny NetworkPolicy for the whole namespace"
    for name, labels in labels_of(rendered).items():
        own = [
            p
            for p in policies
            if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], labels)
        ]
        assert own, f"{name}: no NetworkPolicy of its own"


EXPECTED_CALLS = [
    ("gateway", "identity"),
    ("gateway", "forms-registry"),
    ("gateway", "submissions"),
    ("gateway", "portal"),
    ("submissions", "forms-registry"),
    ("submissions", "identity"),
    ("forms-registry", "identity"),
    ("portal", "gateway"),
    ("portal", "identity"),
    (WORKER, "identity"),
    (WORKER, "forms-registry"),
]
"""Who calls whom (docs/architecture.md); JWKS is read from identity by every service."""


def test_network_policies_allow_the_architecture_and_nothing_else(rendered: list[Obj]) -> None:
    policies = list(of_kind(rendered, "NetworkPolicy").values())
    labels = labels_of(rendered)
    servers = {s.name: s.port for s in SERVICES}
    for src in labels:
        for dst, port in servers.items():
            if src == dst:
                continue
            expected = (src, dst) in EXPECTED_CALLS
            got = allowed(policies, labels[src], labels[dst], port)
            assert got == expected, f"{src} -> {dst}:{port} allowed={got}, expected {expected}"


MONITORING = {"kubernetes.io/metadata.name": "monitoring"}


def monitoring_may_scrape(policies: list[Obj], dst: dict[str, str], port: int) -> bool:
    """Whether a pod in the `monitoring` namespace may open TCP `port` on a pod labelled
    `dst` here (any pod there: Prometheus' own labels are the cluster's business; a rule
    without ``from`` admits everyone, the gateway's)."""
    return any(
        port_matches(rule, port)
        and (
            "from" not in rule
            or any(
                "namespaceSelector" in peer
                and selects(peer["namespaceSelector"], MONITORING)
                and selects(peer.get("podSelector", {}), {})
                for peer in rule["from"]
            )
        )
        for p in policies
        if selects(p["spec"]["podSelector"], dst) and "Ingress" in p["spec"]["policyTypes"]
        for rule in p["spec"].get("ingress", [])
    )


def test_prometheus_scrapes_every_service_and_the_worker_metrics_and_nothing_else(
    rendered: list[Obj],
) -> None:
    policies = list(of_kind(rendered, "NetworkPolicy").values())
    labels = labels_of(rendered)
    deployments = of_kind(rendered, "Deployment")
    for s in SERVICES:
        assert monitoring_may_scrape(policies, labels[s.name], s.port), s.name
    worker = pod_spec(deployments[WORKER])["containers"][0]
    port = int(worker["args"][worker["args"].index("--metrics-port") + 1])
    assert monitoring_may_scrape(policies, labels[WORKER], port)
    # The worker listens on the pod's address (the code's default is the loopback only).
    env = {e["name"]: e.get("value") for e in worker.get("env", [])}
    assert env.get("SUBMISSIONS_WORKER_METRICS_HOST") == "0.0.0.0"
    # Nothing else on the worker, and no service port beyond its own.
    for other in {s.port for s in SERVICES} | {5432}:
        assert not monitoring_may_scrape(policies, labels[WORKER], other), other
    for s in SERVICES:
        assert not monitoring_may_scrape(policies, labels[s.name], port), s.name


def external_egress(policy: Obj, labels: dict[str, str]) -> list[str]:
    """CIDRs outside the private ranges that `policy` lets a pod labelled `labels` reach."""
    if not selects(policy["spec"]["podSelector"], labels):
        return []
    private = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
    found = []
    for rule in policy["spec"].get("egress", []):
        if "to" not in rule:
            found.append("anywhere")
        for peer in rule.get("to", []):
            if "ipBlock" in peer:
                net = ipaddress.ip_network(peer["ipBlock"]["cidr"])
                if not any(net.subnet_of(p) for p in private):  # type: ignore[arg-type]
                    found.append(str(net))
    return found


def test_only_the_worker_calls_out_and_only_the_gateway_is_reachable(rendered: list[Obj]) -> None:
    policies = list(of_kind(rendered, "NetworkPolicy").values())
    for name, labels in labels_of(rendered).items():
        out = [cidr for p in policies for cidr in external_egress(p, labels)]
        assert bool(out) == (name == WORKER), f"{name} may call out to {out}"
        open_ingress = [
            p["metadata"]["name"]
            for p in policies
            if selects(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("ingress", [])
            if "from" not in rule
        ]
        assert bool(open_ingress) == (name == "gateway"), f"{name} open to all via {open_ingress}"
    worker = of_kind(rendered, "NetworkPolicy")[WORKER]
    blocked = worker["spec"]["egress"][-1]["to"][0]["ipBlock"]["except"]
    assert "169.254.169.254/32" in blocked, "the worker must not reach the cloud metadata API"


def test_only_pods_with_a_database_reach_postgresql(rendered: list[Obj]) -> None:
    policies = list(of_kind(rendered, "NetworkPolicy").values())
    for o in workloads(rendered):
        labels = pod_labels(o)
        reaches = any(
            port_matches(rule, 5432) and any("ipBlock" in peer for peer in rule.get("to", []))
            for p in policies
            if selects(p["spec"]["podSelector"], labels) and "5432" in str(p["spec"])
            for rule in p["spec"].get("egress", [])
        )
        assert reaches == service_of(o).has_database, o["metadata"]["name"]


def test_the_migration_phase_brings_everything_its_jobs_need(rendered: list[Obj]) -> None:
    """docs/operations.md applies `-l 'app.kubernetes.io/component in (migration,config)'`
    first and waits for the Jobs: that subset must hold each Job's account and ConfigMaps."""
    phase = {
        (o["kind"], o["metadata"]["name"])
        for o in rendered
        if o["metadata"]["labels"].get("app.kubernetes.io/component") in ("migration", "config")
    }
    jobs = of_kind(rendered, "Job")
    assert {("Job", name) for name in jobs} <= phase
    for job in jobs.values():
        spec = pod_spec(job)
        assert ("ServiceAccount", spec["serviceAccountName"]) in phase
        for c in spec.get("initContainers", []) + spec["containers"]:
            for source in c.get("envFrom", []):
                assert ("ConfigMap", source["configMapRef"]["name"]) in phase
    assert not {kind for kind, _ in phase} - {"Job", "ServiceAccount", "ConfigMap"}


def test_identity_prunes_daily_without_overlap(rendered: list[Obj]) -> None:
    cronjobs = of_kind(rendered, "CronJob")
    assert set(cronjobs) == {"identity-prune"}
    cron = cronjobs["identity-prune"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = pod_spec(cron)["containers"]
    assert container["args"] == ["prune"]
    identity = pod_spec(of_kind(rendered, "Deployment")["identity"])["containers"][0]
    assert container["image"] == identity["image"]

"""The compose file and the cluster manifests are valid and say what the code
expects: the settings they set exist, probes hit the real endpoints, no secrets."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared.settings import ServiceSettings
from tests.helpers.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
# The services that own a database; the console (no database, no broker) is checked apart.
SERVICES = [p.name for p in (ROOT / "services").iterdir() if (p / "migrations").is_dir()]


def settings_fields(service: str) -> set[str]:
    module = importlib.import_module(f"services.{service}.settings")
    cls = next(
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, ServiceSettings) and c is not ServiceSettings
    )
    return set(cls.model_fields)


def test_compose_file_is_valid_compose() -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_debian_docker_compose_accepts_the_file() -> None:
    """Debian's docker-compose 1.29 rejects what only Compose v2 knows (`name:`)."""
    done = subprocess.run(
        [require_tool("docker-compose", "docker-compose"), "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "ROADSHOW_ADMIN_TOKEN": "t" * 24,
            "ROADSHOW_PERSONAL_DATA_KEY": "k" * 43,
            "ROADSHOW_EMAIL_TOKEN_SECRET": "s" * 32,
            "ROADSHOW_CONSOLE_SESSION_KEY": "c" * 44,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    resolved = yaml.safe_load(done.stdout)["services"]
    assert set(SERVICES) <= set(resolved)


def test_compose_services_are_wired_to_real_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for service in SERVICES:
        spec = compose[service]
        assert spec["command"] == [f"services.{service}", "serve"]
        assert "/readyz" in " ".join(spec["healthcheck"]["test"])
        conditions = {d["condition"] for d in spec["depends_on"].values()}
        assert conditions <= {"service_healthy", "service_completed_successfully"}
        fields = settings_fields(service)
        prefix = service.upper() + "_"
        for var in spec["environment"]:
            assert var.startswith(prefix) and var[len(prefix) :].lower() in fields, var
        assert compose[f"{service}-db"]["image"].startswith("postgres:")
    assert "KRaft" in (ROOT / "docker-compose.yml").read_text()


@pytest.mark.parametrize("service", SERVICES)
def test_cluster_manifest(service: str) -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / f"{service}.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    fields = settings_fields(service)
    prefix = service.upper() + "_"
    for env in container["env"]:
        assert env["name"].startswith(prefix) and env["name"][len(prefix) :].lower() in fields, env[
            "name"
        ]
        if any(word in env["name"] for word in ("DATABASE_URL", "TOKEN", "SECRET", "PASSWORD")):
            assert "secretKeyRef" in env.get("valueFrom", {}), (
                f"{env['name']} must come from a Secret"
            )
    kustomization = yaml.safe_load((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())
    assert f"{service}.yaml" in kustomization["resources"]


def cluster_resources() -> list[dict[str, Any]]:
    k8s = ROOT / "deploy" / "k8s"
    kustomization = yaml.safe_load((k8s / "kustomization.yaml").read_text())
    return [
        d for f in kustomization["resources"] for d in yaml.safe_load_all((k8s / f).read_text())
    ]


def test_every_cluster_resource_validates_strictly() -> None:
    resources = cluster_resources()
    for resource in resources:
        # Raises ValidationError naming the field (strict: unknown fields too).
        kubernetes_validate.validate(resource, "1.37.0", strict=True)
    kinds = {r["kind"] for r in resources}
    assert {"PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"} <= kinds


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_disruption_budget_and_an_autoscaler(service: str) -> None:
    resources = cluster_resources()
    deployment = next(
        r for r in resources if r["kind"] == "Deployment" and r["metadata"]["name"] == service
    )
    pods = deployment["spec"]["selector"]["matchLabels"]
    budget = next(
        r
        for r in resources
        if r["kind"] == "PodDisruptionBudget" and r["metadata"]["name"] == service
    )
    assert budget["spec"]["selector"]["matchLabels"] == pods
    scaler = next(
        r
        for r in resources
        if r["kind"] == "HorizontalPodAutoscaler" and r["metadata"]["name"] == service
    )
    assert scaler["spec"]["scaleTargetRef"]["name"] == service
    assert scaler["spec"]["minReplicas"] == deployment["spec"]["replicas"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    ingress = [
        r
        for r in resources
        if r["kind"] == "NetworkPolicy" and "Ingress" in r["spec"]["policyTypes"]
    ]
    selects = [
        p
        for p in ingress
        if p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
    ]
    assert any(p["spec"]["podSelector"] == {} for p in selects)  # denied by default
    assert any(p["spec"].get("ingress") for p in selects)  # but its HTTP port is open


def test_smtp_credentials_are_optional_secrets() -> None:
    notification = next(
        r
        for r in cluster_resources()
        if r["kind"] == "Deployment" and r["metadata"]["name"] == "notification"
    )
    env = {e["name"]: e for e in notification["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name in ("NOTIFICATION_SMTP_USERNAME", "NOTIFICATION_SMTP_PASSWORD"):
        assert env[name]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_console_in_compose_and_the_cluster_is_wired_to_its_settings() -> None:
    from services.console.settings import ConsoleSettings

    fields = set(ConsoleSettings.model_fields)
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["console"]
    assert spec["command"] == ["services.console", "serve"]
    assert "/readyz" in " ".join(spec["healthcheck"]["test"])
    assert set(spec["depends_on"]) == {"registration", "matching", "notification"}
    for var in spec["environment"]:
        assert var.startswith("CONSOLE_") and var[8:].lower() in fields, var
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "console.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e for e in container["env"]}
    assert all(name.startswith("CONSOLE_") and name[8:].lower() in fields for name in env)
    assert "secretKeyRef" in env["CONSOLE_SESSION_KEY"]["valueFrom"]
    kustomization = yaml.safe_load((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())
    assert "console.yaml" in kustomization["resources"]

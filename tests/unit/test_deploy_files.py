"""The compose file and the cluster manifests are valid and say what the code
expects: the settings they set exist, probes hit the real endpoints, no secrets."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.settings import ServiceSettings

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

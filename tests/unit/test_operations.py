"""The operators' files check out with the operators' tools: the alert rules and
the scrape configuration with promtool (and the rules' own unit tests), and every
metric the rules and the dashboard query is one a service really exports."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from tests.helpers.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "roadshow.json"
SERVICES = [p.name for p in (ROOT / "services").iterdir() if (p / "bootstrap.py").exists()]
SERIES = re.compile(r"\b(roadshow_[a-z0-9_]+)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [require_tool("promtool", "prometheus"), *args],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_alert_rules_check_out() -> None:
    done = promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in done.stdout + done.stderr


def test_alert_rules_unit_tests_pass() -> None:
    promtool("test", "rules", "alerts.test.yml")


def test_scrape_config_checks_out() -> None:
    promtool("check", "config", "prometheus.yml")


def exported_series() -> set[str]:
    """Every series name the services' processes can expose on /metrics."""
    for service in SERVICES:
        importlib.import_module(f"services.{service}.bootstrap")
    suffixes = {
        "counter": ["_total"],
        "gauge": [""],
        "histogram": ["_bucket", "_sum", "_count"],
        "summary": ["_sum", "_count"],
    }
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, [""])
    }


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def alert_queries() -> list[str]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule["expr"] for g in groups for rule in g["rules"]]


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_queried_metric_is_exported(source: str) -> None:
    queries = dashboard_queries() if source == "dashboard" else alert_queries()
    queried = {name for q in queries for name in SERIES.findall(q)}
    assert len(queried) >= 8, queried  # the files really query the services
    assert queried - exported_series() == set()


def test_the_dashboard_shows_the_lag_that_moves_and_every_panel_has_a_query() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert all(p["targets"] for p in panels)
    assert any("roadshow_consumer_lag_seconds" in q for q in dashboard_queries())
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])

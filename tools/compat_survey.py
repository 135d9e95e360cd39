"""Run Hatchet's own Python example tests against hatchnb, one example at a time.

Usage: python tools/compat_survey.py HATCHET_SDKS_PYTHON_DIR [example ...]

HATCHET_SDKS_PYTHON_DIR is ``sdks/python`` of a hatchet-dev/hatchet checkout (never
copied into this repository). Each example runs in a scratch directory on a fresh database
with ``hatchet_sdk`` mapped to ``hatchnb`` and one worker process serving the workflows its
modules declare, and hatchnb's HTTP server (``hatchnb api``) at the address
``HATCHET_CLIENT_SERVER_URL`` gives them (their webhook calls go there). Hatchet's tests
also need aiohttp, tenacity and psutil in this venv; with boto3 and moto[server] installed
too, the aws/s3 example runs against moto's S3 server in place of LocalStack (a ``docker``
stand-in answers its ``docker compose``). Prints one line per example and a pass count;
logs go to /tmp/compat-out.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

OUT = Path("/tmp/compat-out") / time.strftime("%H%M%S")
ADMIN_DSN = os.environ.get("HATCHNB_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

SHIM = """
import importlib, importlib.abc, importlib.util, sys
import hatchnb

class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name == "hatchet_sdk" or name.startswith("hatchet_sdk."):
            return importlib.util.spec_from_loader(name, self)
        return None
    def create_module(self, spec):
        return importlib.import_module("hatchnb" + spec.name[len("hatchet_sdk"):])
    def exec_module(self, module):
        pass

sys.meta_path.insert(0, _Alias())
"""

CONFTEST = """
import os, subprocess, sys, time
import pytest, pytest_asyncio
from hatchet_sdk import Hatchet

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def hatchet():
    yield Hatchet()

def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _healthy(port, seconds):
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return True
        except OSError:
            time.sleep(0.25)
    return False


def _run(command, wait_for_health=False):
    # each worker its own health port, as Hatchet's fixtures give them
    port = _free_port()
    env = dict(os.environ, HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT=str(port))
    proc = subprocess.Popen(command, env=env)
    warmup = float(os.environ.get("COMPAT_WORKER_WARMUP", "4"))
    # the session worker answers /health once its workflows are registered (events pushed
    # before that start nothing); on a busy machine that can take longer than the warmup
    if not (wait_for_health and _healthy(port, 60)):
        time.sleep(warmup)
    yield proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session", autouse=True)
def worker():
    yield from _run([sys.executable, "run_worker.py"], wait_for_health=True)


@pytest.fixture(scope="session", autouse=True)
def api_server():
    # hatchnb's HTTP server where Hatchet's examples reach its REST routes (webhooks), at
    # the address they read from hatchet.config.server_url (HATCHET_CLIENT_SERVER_URL)
    address = os.environ.get("HATCHET_CLIENT_SERVER_URL")
    if not address:
        yield None
        return
    import urllib.request

    port = address.rsplit(":", 1)[1]
    proc = subprocess.Popen([sys.executable, "-m", "hatchnb", "api", "--no-auth", "--port", port])
    for _ in range(240):  # its imports take a while on a busy machine
        try:
            urllib.request.urlopen(f"{address}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.25)
    yield proc
    proc.terminate()
    proc.wait(10)


def _on_demand_worker_fixture(request):
    command = [c for c in request.param if c not in ("poetry", "run")]
    yield from _run([sys.executable if c == "python" else c for c in command])


@pytest.fixture()
def on_demand_worker(request):
    yield from _on_demand_worker_fixture(request)


# what Hatchet's own conftest asks: the engine version, against hatchet_sdk's minimums
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine_version(hatchet):
    return await hatchet.aio_get_engine_version()


def _require(engine_version, feature):
    from hatchet_sdk.deprecated.deprecation import semver_less_than
    from hatchet_sdk.engine_version import MinEngineVersion

    minimum = MinEngineVersion[feature]
    if not engine_version or semver_less_than(engine_version, minimum):
        pytest.skip(f"the engine ({engine_version}) is older than {minimum} ({feature})")


@pytest.fixture()
def _skip_unless_durable_eviction(engine_version):
    _require(engine_version, "DURABLE_EVICTION")


@pytest.fixture()
def _skip_unless_observability(engine_version):
    _require(engine_version, "OBSERVABILITY")


@pytest.fixture()
def _skip_unless_batching(engine_version):
    _require(engine_version, "BATCHING")
"""

POETRY = """#!/bin/sh
[ "$1" = run ] && shift
[ "$1" = python ] && shift && exec {python} "$@"
exec "$@"
"""

DOCKER = """#!{python}
# LocalStack's stand-in for examples/aws (Docker Hub is out of reach): `docker compose up`
# starts moto's S3 server on LocalStack's port, `down` stops it, `docker info` says yes
import os, signal, socket, subprocess, sys, time

args = sys.argv[1:]
pid_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), "moto.pid")
if args[:1] == ["info"]:
    sys.exit(0)
if args[:2] == ["compose", "up"]:
    server = [sys.executable, "-m", "moto.server", "-p", "4566"]
    proc = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(pid_file, "w") as fh:
        fh.write(str(proc.pid))
    for _ in range(240):
        try:
            socket.create_connection(("127.0.0.1", 4566), 1).close()
            sys.exit(0)
        except OSError:
            time.sleep(0.25)
    sys.exit("moto's S3 server did not start")
if args[:2] == ["compose", "down"]:
    if os.path.exists(pid_file):
        with open(pid_file) as fh:
            os.kill(int(fh.read()), signal.SIGTERM)
    sys.exit(0)
sys.exit(f"docker stand-in: {{args}} is not supported")
"""

RUN_WORKER = """
import importlib, sys
import hatchnb
from hatchnb import Hatchet
from hatchnb.workflow import Workflow, Standalone

found = {{}}
lifespan = None
for module_name, names in {served!r}:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        print(f"compat: cannot import {{module_name}}: {{exc!r}}", file=sys.stderr)
        continue
    values = [getattr(module, n) for n in names] if names else list(vars(module).values())
    for name, value in zip(names or [None] * len(values), values):
        if isinstance(value, (Workflow, Standalone)):
            # two declarations of one name: the first (Hatchet's e2e worker registers one)
            found.setdefault(value.name, value)
        elif name == "lifespan":
            lifespan = value
print(f"compat: serving {{len(found)}} workflows", file=sys.stderr)
options = {{"lifespan": lifespan}} if lifespan else {{}}
Hatchet().worker("e2e-test-worker", slots=250, workflows=list(found.values()), **options).start()
"""


def example_dirs(root: Path, wanted: list[str]) -> list[Path]:
    dirs = sorted({p.parent for p in (root / "examples").rglob("test_*.py")} - {root / "examples"})
    if wanted:
        dirs = [d for d in dirs if any(w in str(d.relative_to(root)) for w in wanted)]
    return dirs


def served(root: Path, directory: Path) -> list[tuple[str, list[str]]]:
    """What the session worker serves: what Hatchet's own e2e worker (examples/worker.py)
    imports, as in Hatchet's CI (an example it does not import starts its own workers);
    without that file, the example's worker.py or every module of it that declares tasks."""
    e2e = root / "examples" / "worker.py"
    if e2e.exists():
        imports: dict[str, list[str]] = {}
        for node in ast.walk(ast.parse(e2e.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("examples."):
                imports.setdefault(node.module or "", []).extend(a.name for a in node.names)
        return list(imports.items())
    worker = directory / "worker.py"
    if worker.exists():
        return [(".".join(worker.relative_to(root).with_suffix("").parts), [])]
    names = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("test_") or path.stem in {"trigger", "run", "__init__"}:
            continue
        if re.search(r"\.(workflow|task|durable_task)\(", path.read_text()):
            names.append((".".join(path.relative_to(root).with_suffix("").parts), []))
    return names


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fresh_database(name: str) -> str:
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", ADMIN_DSN, "-qc", sql], check=True, capture_output=True)
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + name


def run_example(root: Path, directory: Path, scratch: Path) -> tuple[int, int, str]:
    rel = directory.relative_to(root)
    slug = "_".join(rel.parts[1:])
    work = scratch / slug
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(root / "examples", work / "examples")
    fixture = root / "tests" / "worker_fixture.py"  # some examples start workers with it
    if fixture.exists():
        (work / "tests").mkdir()
        (work / "tests" / "__init__.py").write_text("")
        shutil.copy(fixture, work / "tests" / "worker_fixture.py")
    (work / "sitecustomize.py").write_text(SHIM)
    (work / "bin").mkdir()
    poetry = work / "bin" / "poetry"  # `poetry run python X` in Hatchet's tests: this venv
    poetry.write_text(POETRY.format(python=sys.executable))
    poetry.chmod(0o755)
    if importlib.util.find_spec("moto") and importlib.util.find_spec("boto3"):
        docker = work / "bin" / "docker"
        docker.write_text(DOCKER.format(python=sys.executable))
        docker.chmod(0o755)
    (work / "conftest.py").write_text(CONFTEST)
    (work / "run_worker.py").write_text(RUN_WORKER.format(served=served(root, directory)))
    env = dict(
        os.environ,
        HATCHET_CLIENT_SERVER_URL=f"http://127.0.0.1:{free_port()}",
        PYTHONPATH=str(work),
        PATH=f"{work / 'bin'}:{os.environ['PATH']}",
        HATCHNB_DATABASE_URL=fresh_database(f"compat_{slug}"[:60]),
        HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED="True",  # as Hatchet's CI sets it
    )
    log = OUT / f"{slug}.log"
    with log.open("w") as fh:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "asyncio_mode=auto",
                f"--timeout={os.environ.get('COMPAT_TEST_TIMEOUT', '180')}",
                str(rel),
            ],
            cwd=work,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
    text = log.read_text()
    # pytest's last summary line (log lines may follow it: an exporter retrying at exit)
    summaries = re.findall(
        r"^.*\b\d+ (?:passed|failed|errors?|skipped)\b.* in [\d.]+s\b.*$", text, re.M
    )
    tail = summaries[-1] if summaries else text[-400:]
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", tail))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", tail))
    return passed, failed, f"exit {proc.returncode}"


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    OUT.mkdir(parents=True, exist_ok=True)
    total_pass = total = 0
    for directory in example_dirs(root, sys.argv[2:]):
        try:
            passed, failed, note = run_example(root, directory, Path("/tmp/compat-work"))
        except subprocess.TimeoutExpired:
            passed, failed, note = 0, 1, "timeout"
        total_pass += passed
        total += passed + failed
        print(
            f"{passed:3d} pass {failed:3d} fail  {directory.relative_to(root)}  ({note})",
            flush=True,
        )
    print(f"TOTAL {total_pass}/{total} passed; logs in {OUT}")


if __name__ == "__main__":
    main()

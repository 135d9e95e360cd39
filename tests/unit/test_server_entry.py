"""The wheel installs only ``hatchnb``: the dashboard lives in ``hatchnb.dashboard`` and
``server/app.py`` is a deployable file of a checkout, not an importable package.

The development venv holds an editable install whose .pth puts the checkout root on
sys.path (so ``import server`` works there); the child interpreter below starts with ``-S``
and sees only the wheel's packages plus the raw site-packages directory."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
sys.path[:0] = [{layout!r}, {site_packages!r}]
import hatchnb.dashboard.app
import runpy
runpy.run_path({entry!r})  # server/app.py against the installed package alone
try:
    import server
except ModuleNotFoundError:
    print("no server package")
"""


def _wheel_packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages: list[str] = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return packages


def test_the_wheel_installs_only_hatchnb_and_server_is_not_importable(tmp_path: Path) -> None:
    assert _wheel_packages() == ["hatchnb"]
    layout = tmp_path / "site"
    layout.mkdir()
    (layout / "hatchnb").symlink_to(ROOT / "hatchnb", target_is_directory=True)
    code = CHILD.format(
        layout=str(layout),
        site_packages=sysconfig.get_paths()["purelib"],  # without -S, sys.prefix is the venv
        entry=str(ROOT / "server" / "app.py"),
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no server package"


def test_dashboard_prefix_is_a_url_path() -> None:
    from hatchnb import errors
    from hatchnb.dashboard.serve import url_prefix

    assert url_prefix("") == url_prefix("/") == ""
    assert url_prefix("user/ana/hatchnb/") == "/user/ana/hatchnb"
    assert url_prefix("/user/ana/hatchnb") == "/user/ana/hatchnb"
    for bad in ("/a b", "/a?x=1", "/a//b"):
        with pytest.raises(errors.ConfigurationError, match="URL path"):
            url_prefix(bad)


def test_jupyter_proxy_entry_starts_the_dashboard_under_its_prefix() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="jupyter_serverproxy_servers") if e.name == "hatchnb"]
    settings = entry.load()()
    command = settings["command"]
    assert command[1:4] == ["-m", "hatchnb", "dashboard"]
    assert command[command.index("--prefix") + 1] == "{base_url}hatchnb"
    assert settings["absolute_url"] is True
    assert settings["request_headers_override"] == {"Origin": "http://127.0.0.1:{port}"}
    assert Path(settings["launcher_entry"]["icon_path"]).read_text().startswith("<svg")

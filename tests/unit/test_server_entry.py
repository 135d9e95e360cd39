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

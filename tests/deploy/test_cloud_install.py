"""A Community Cloud install, reproduced: requirements.txt into a fresh Python 3.12 virtual
environment (Cloud's default Python), then the AppTest smoke over every page, and the app
without the offline model, run from that environment. A broken Cloud install fails here."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.deploy.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
PYTHON_VERSION = "3.12"
# Test tools only: what Cloud installs comes from requirements.txt alone.
TEST_TOOLS = ("pytest>=9", "pytest-timeout>=2.3")
RUN_THERE = ("tests/app/test_smoke.py", "tests/app/test_without_local_model.py")

pytestmark = pytest.mark.deploy


def python_312() -> str | None:
    """A Python 3.12 interpreter that runs: one pyenv built, else one on PATH (a pyenv shim
    on PATH may point at no installed version)."""
    pattern = os.path.expanduser(f"~/.pyenv/versions/{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}")
    on_path = shutil.which(f"python{PYTHON_VERSION}")
    for found in [*sorted(glob.glob(pattern), reverse=True), on_path]:
        if found and _run([found, "-c", "pass"]).returncode == 0:
            return found
    return None


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def cloud_env(tmp_path_factory) -> Path:
    """A fresh 3.12 environment with requirements.txt installed, as Cloud makes it."""
    python = python_312()
    if python is None:
        unavailable(f"no Python {PYTHON_VERSION} here (Community Cloud's default)")
    venv = tmp_path_factory.mktemp("cloud") / "venv"
    made = _run([python, "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check"]
    installed = _run([*pip, "-r", str(ROOT / "requirements.txt"), *TEST_TOOLS], timeout=900)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return venv


def test_requirements_install_on_python_312_without_the_offline_model(cloud_env):
    python = str(cloud_env / "bin" / "python")
    probe = _run([python, "-c", "import json, sys, importlib.util as u; print(json.dumps("
                  "[sys.version_info[:2], u.find_spec('llama_cpp') is None]))"])
    version, no_llama = json.loads(probe.stdout)
    assert tuple(version) == (3, 12)
    assert no_llama  # nothing was built from source


def test_every_page_runs_from_the_cloud_install(cloud_env, tmp_path):
    report = tmp_path / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUSCHAT_", "VIRTUAL_ENV"))}
    # Cloud runs the app from the repository's folder: the packages are found there, not
    # installed.
    env["PYTHONPATH"] = str(ROOT)
    env["PATH"] = f"{cloud_env / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    ran = _run([str(cloud_env / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                f"--junitxml={report}", *RUN_THERE], cwd=ROOT, env=env, timeout=900)
    assert ran.returncode == 0, ran.stdout[-5000:] + ran.stderr[-2000:]
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("skipped", "0")) == 0, "every test must run there, none skipped"
    assert int(suite.get("tests", "0")) >= 12
    ran_names = {case.get("name", "") for case in suite.iter("testcase")}
    assert any(n.startswith("test_this_computer_without_the_offline_model") for n in ran_names)
    assert sys.version_info >= (3, 11)  # (this process: the project's own environment)

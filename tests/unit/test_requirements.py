"""requirements.txt (what Community Cloud installs) says what pyproject.toml says: the app's
dependencies and the PostgreSQL driver, each with the same version range, and nothing that
builds from source (the `local` extra)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pinned(lines: list[str]) -> dict[str, tuple[frozenset[str], str]]:
    out: dict[str, tuple[frozenset[str], str]] = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            name = canonicalize_name(req.name)
            assert name not in out, f"{req.name} is listed twice"
            out[name] = (frozenset(req.extras), str(req.specifier))
    return out


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def test_requirements_txt_is_pyprojects_dependencies_and_the_postgres_driver():
    project = _project()
    wanted = _pinned([*project["dependencies"], *project["optional-dependencies"]["postgres"]])
    shipped = _pinned((ROOT / "requirements.txt").read_text("utf-8").splitlines())
    assert shipped == wanted


def test_requirements_txt_leaves_out_the_offline_model():
    shipped = _pinned((ROOT / "requirements.txt").read_text("utf-8").splitlines())
    local = _pinned(_project()["optional-dependencies"]["local"])
    assert local and not set(local) & set(shipped)


def test_the_sync_check_sees_a_drifted_range():
    # The comparison is on parsed specifiers: a changed bound is a difference, spacing is not.
    assert _pinned(["openai >= 3.50, <4"]) == _pinned(["openai>=3.50,<4"])
    assert _pinned(["openai>=3.50,<4"]) != _pinned(["openai>=3.40,<4"])

"""The wheel: `policy_json/` and the schemas as package data, the constructs as `iam_foundry_modules`
(never a top-level `modules`), and an `iam-foundry` console script. Installing it and running it
from another folder is the CI wheel step (.ci/run)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = ("pyproject.toml", "README.md", "iam_foundry", "modules", "policy_json", "terraform")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    pytest.importorskip("setuptools", minversion="70.1")
    # Built from a copy, so the build leaves no build/ or *.egg-info in the checkout.
    src = tmp_path_factory.mktemp("src")
    for name in SHIPPED:
        copy = shutil.copytree if (PROJECT / name).is_dir() else shutil.copy
        kwargs = {"ignore": shutil.ignore_patterns("__pycache__")} if (PROJECT / name).is_dir() else {}
        copy(PROJECT / name, src / name, **kwargs)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(dist)],
                   check=True, capture_output=True, text=True)
    (built,) = dist.glob("iam_foundry-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_ships_every_profile_file_and_schema(wheel):
    names = set(wheel.namelist())
    for path in sorted((PROJECT / "policy_json").rglob("*.json")):
        assert f"iam_foundry/policy_json/{path.relative_to(PROJECT / 'policy_json').as_posix()}" in names
    schemas = sorted((PROJECT / "iam_foundry" / "profiles" / "schemas").glob("*.json"))
    assert schemas, "no schema found: the test would check nothing"
    for path in schemas:
        assert f"iam_foundry/profiles/schemas/{path.name}" in names
    for package in ("config", "profiles", "policy", "emit", "ops", "cli", "access", "report"):
        assert f"iam_foundry/{package}/__init__.py" in names
    assert "iam_foundry/terraform/mirror.tfrc" in names


def test_wheel_carries_the_constructs_as_iam_foundry_modules_not_modules(wheel):
    top_level = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert "modules" not in top_level
    for path in sorted((PROJECT / "modules").glob("*.py")):
        assert f"iam_foundry_modules/{path.name}" in wheel.namelist()


def test_wheel_has_the_iam_foundry_command(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "iam-foundry = iam_foundry.cli.app:main" in wheel.read(entry_points).decode()

"""What users install is what the tests test: the wheel (built from the sdist, as pip builds it)
holds every package of the source tree and every data file beside the code. The expected contents
are found by walking the tree, so a new package or data file that pyproject.toml forgets fails here."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {".py", ".toml", ".sql", ".typed"}  # code and data files, wherever they sit in a package
LEFT_OUT = (".git", ".venv*", "node_modules", "__pycache__", "build", "dist", "*.egg-info", ".pytest_cache")


def source_packages() -> dict[str, Path]:
    """Each package the source tree holds -> its folder: every folder under toolkit/ with an
    __init__.py, and the folders pyproject.toml maps into the package (scenarios/, sql/, etl/)."""
    found = {
        ".".join(init.parent.relative_to(ROOT).parts): init.parent
        for init in (ROOT / "toolkit").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    mapped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    found |= {name: ROOT / folder for name, folder in mapped.items()}
    return found


def expected_files() -> set[str]:
    """The wheel's paths of every code and data file of every package."""
    return {
        "/".join([*name.split("."), path.name])
        for name, folder in source_packages().items()
        for path in folder.iterdir()
        if path.is_file() and path.suffix in SHIPPED
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel built from it, from a copy of the tree (a build writes beside the
    sources), with the build tools of this environment (no network)."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*LEFT_OUT), symlinks=True)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return work / "dist"


def test_the_source_tree_has_the_packages_the_toolkit_imports():
    packages = source_packages()
    assert {"toolkit", "toolkit.reporting", "toolkit.scenarios", "toolkit.sql", "toolkit.etl"} <= set(
        packages
    )
    files = expected_files()
    assert {
        "toolkit/py.typed",
        "toolkit/scenarios/workshop.toml",
        "toolkit/sql/workshop_1_sample.sql",
    } <= files


def test_the_wheel_holds_every_package_and_data_file(dist):
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = sorted(expected_files() - names)
    assert not missing, f"{wheel.name} lacks {missing}"


def test_the_sdist_holds_the_sources_the_wheel_is_built_from(dist):
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    sources = {
        str(path.relative_to(ROOT))
        for folder in source_packages().values()
        for path in folder.iterdir()
        if path.is_file() and path.suffix in SHIPPED
    }
    assert "pyproject.toml" in names and "README.md" in names
    missing = sorted(sources - names)
    assert not missing, f"{sdist.name} lacks {missing}"

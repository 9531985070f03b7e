"""`pip install -e .` and a wheel build are quiet: the build backend emits no warning (every
warning is an error here), and the wheel holds every module and web file of the service."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "db", "realtime", "importer", "cli", "rules", "storage", "files")
# Every warning is an error, except setuptools' notice that an editable install maps the
# package folders (a fact, not a problem: pip shows it only with -v).
BUILD = """
import sys
import warnings
import setuptools.build_meta as backend
from setuptools.warnings import InformationOnly
warnings.simplefilter("error")
warnings.filterwarnings("ignore", category=InformationOnly)
backend.build_wheel(sys.argv[1])
backend.build_editable(sys.argv[2])
"""


def _source_copy(tmp: Path) -> Path:
    """The project's packaging inputs, away from the worktree's own build/ and egg-info."""
    source = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    return source


def _shipped(source: Path) -> set[str]:
    return {path.relative_to(source).as_posix()
            for package in PACKAGES for path in (source / package).rglob("*")
            if path.is_file()}


def test_build_backend_warns_about_nothing_and_ships_everything(tmp_path: Path) -> None:
    source = _source_copy(tmp_path)
    expected = _shipped(source)
    (tmp_path / "wheel").mkdir()
    (tmp_path / "editable").mkdir()
    result = subprocess.run(
        [sys.executable, "-c", BUILD, str(tmp_path / "wheel"),
         str(tmp_path / "editable")],
        cwd=source, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    [wheel] = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = {name for name in archive.namelist() if ".dist-info/" not in name}
    assert names == expected
    assert "server/static/console/index.html" in names
    assert "db/migrations/script.py.mako" in names

"""One version, written once in pycds/__init__.py: the installed package
metadata (which pyproject.toml reads from there) and `python -m pycds
--version` say the same."""

from __future__ import annotations

import importlib.metadata
import re

import pycds
from conftest import run


def test_version_is_a_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", pycds.__version__)


def test_installed_metadata_has_the_packages_version() -> None:
    assert importlib.metadata.version("pycds") == pycds.__version__


def test_command_line_prints_the_version() -> None:
    shown = run(["-m", "pycds", "--version"])
    assert shown.stdout == f"pycds {pycds.__version__}\n"
    assert shown.stderr == ""


def test_pyproject_reads_the_version_from_the_package() -> None:
    import tomllib
    from pathlib import Path

    tree = Path(__file__).resolve().parents[2]
    with open(tree / "pyproject.toml", "rb") as file:
        config = tomllib.load(file)
    assert "version" not in config["project"]
    assert "version" in config["project"]["dynamic"]
    assert (config["tool"]["setuptools"]["dynamic"]["version"]
            == {"attr": "pycds.__version__"})

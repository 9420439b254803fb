"""Snapshot units and `python -c`: sys.path[0] is '' there, which the trace
records (and the planner runs with) as the working directory's absolute
path.  A run in the same directory must be able to restore units; a run in
another directory, where '' means other files, must not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import run

PROGRAM = "import logging, textwrap, string, enum, json"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("traced")
    listing, image = where / "app.lst", where / "app.img"
    run(["-c", PROGRAM], cwd=where, PYCDSMODE="TRACE", PYCDSLIST=str(listing))
    dumped = run(["-m", "pycds", "dump", "--list", str(listing), "--archive",
                  str(image), "--snapshot", "--snapshot-all"], cwd=where).stdout
    units = re.search(r"^snapshot: (\d+) units", dumped, re.M)
    assert units and units.group(1) != "0", dumped
    return where, image


def snapshot_lines(cwd: Path, image: Path) -> list[str]:
    done = run(["-c", PROGRAM], cwd=cwd, PYCDSMODE="SHARE",
               PYCDSARCHIVE=str(image), PYCDSVERBOSE="1")
    return re.findall(r"^pycds: snapshot: (.*)$", done.stderr, re.M)


def test_dash_c_in_the_traced_directory_restores_units(
        archive: tuple[Path, Path]) -> None:
    where, image = archive
    lines = snapshot_lines(where, image)
    assert any(line.endswith(": restored") for line in lines), lines
    assert not any("differs from the planning one" in line for line in lines), lines


def test_dash_c_in_another_directory_falls_back(
        archive: tuple[Path, Path], tmp_path: Path) -> None:
    _, image = archive
    lines = snapshot_lines(tmp_path, image)
    assert lines and all("differs from the planning one" in line
                         for line in lines), lines


def test_changing_directory_between_imports_is_seen(
        archive: tuple[Path, Path], tmp_path: Path) -> None:
    """The process check is remembered between units, with sys.path and
    the directory its '' entry means: a program that changes directory
    after its first import gets the later units' bodies, as '' then names
    other files."""
    where, image = archive
    program = (f"import logging, os; os.chdir({str(tmp_path)!r}); "
               "import json")
    done = run(["-c", program], cwd=where, PYCDSMODE="SHARE",
               PYCDSARCHIVE=str(image), PYCDSVERBOSE="1")
    lines = re.findall(r"^pycds: snapshot: (\S+): (.*)$", done.stderr, re.M)
    outcome = dict(lines)
    assert outcome.get("logging") == "restored", lines
    later = [o for name, o in lines if name.startswith("json")]
    assert later and all("differs from the planning one" in o for o in later), lines


def test_sys_path_entries_are_made_absolute_as_os_path_abspath_does() -> None:
    """search_path asks posix, not os (a program may have replaced
    os.getcwd): the same answers as os.path.abspath, in the root directory
    too, whose name ends in the separator."""
    script = """
import os
from pycds import _snapshot_restore as R
entries = ["", "lib", "../x", "//a/b", "/a/./b/", ".", "a//b", 3]
for where in ("/", "/tmp"):
    os.chdir(where)
    wanted = [os.path.abspath(e) for e in entries if isinstance(e, str)]
    assert R.search_path(entries) == wanted, (where, R.search_path(entries), wanted)
print("same")
"""
    assert run(["-c", script], cwd=Path("/")).stdout == "same\n"

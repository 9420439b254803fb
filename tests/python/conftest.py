"""Helpers shared by the pycds test suites: run Python in a subprocess with
or without pycds, build archives by tracing and dumping."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).parent / "project"
PY = sys.executable


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without pycds or safe-path settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYCDS") and k != "PYTHONSAFEPATH"}
    env.update(extra)
    return env


def run(args: list[str], cwd: Path | None = None, check: bool = True,
        timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run([PY, *args], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{args} failed ({done.returncode}):\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


@dataclass
class Built:
    root: Path
    list_path: Path
    archive: Path
    dump_output: str

    def share(self, args: list[str], check: bool = True, verbose: str = "1",
              **env: str) -> subprocess.CompletedProcess:
        return run(args, cwd=self.root, check=check, PYCDSMODE="SHARE",
                   PYCDSARCHIVE=str(self.archive), PYCDSVERBOSE=verbose, **env)

    def plain(self, args: list[str], check: bool = True,
              **env: str) -> subprocess.CompletedProcess:
        return run(args, cwd=self.root, check=check, **env)


def build(root: Path, args: list[str], **env: str) -> Built:
    """Trace `python args` in root, then dump; returns the result."""
    list_path = root / "app.lst"
    archive = root / "app.img"
    run(args, cwd=root, PYCDSMODE="TRACE", PYCDSLIST=str(list_path), **env)
    # The run wrote __pycache__ directories unless PYTHONDONTWRITEBYTECODE
    # is set, which changed their parents just now: those back into the
    # past (not the files: the .pyc files record their sources' times).
    backdate(root, directories_only=True)
    dumped = run(["-m", "pycds", "dump", "--list", str(list_path),
                  "--archive", str(archive)], cwd=root, **env)
    return Built(root, list_path, archive, dumped.stdout)


def write_project(root: Path, modules: dict[str, str]) -> None:
    """Files under root, {relative path: text}, each text dedented."""
    for name, text in modules.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def backdate(root: Path, seconds: int = 3600, directories_only: bool = False) -> None:
    """Move every mtime under root into the past, as for files installed
    long ago (the dumper does not trust directories changed very recently)."""
    past = time.time_ns() - seconds * 10**9
    for path in sorted(root.rglob("*"), reverse=True) + [root]:
        if not directories_only or path.is_dir():
            os.utime(path, ns=(past, past))


def copy_project(dest: Path) -> Path:
    shutil.copytree(PROJECT, dest, dirs_exist_ok=True)
    backdate(dest)
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Built:
    """A fresh copy of the test project, traced and dumped."""
    root = copy_project(tmp_path / "project")
    return build(root, ["src/app.py"])


def hits(stderr: str) -> set[str]:
    return {line.split()[2] for line in stderr.splitlines()
            if line.startswith("pycds: hit ")}


def decisions(stderr: str, kind: str) -> dict[str, str]:
    """{module: why} of the `pycds: KIND module: why` lines."""
    prefix = f"pycds: {kind} "
    found = {}
    for line in stderr.splitlines():
        if line.startswith(prefix):
            name, _, why = line[len(prefix):].partition(": ")
            found[name] = why
    return found


def fallbacks(stderr: str) -> dict[str, str]:
    return decisions(stderr, "fallback")

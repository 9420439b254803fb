"""CPython's own regression tests with the standard library restored from
snapshot units: a run of `python -m test` is traced, dumped with a unit for
every module that can have one (--snapshot-all), and run again under SHARE.
The same tests must run and pass as in plain Python: the tests of enum,
typing, dataclasses, functools, re, inspect, pickle and the rest then
exercise modules that were restored, not run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import run

# Test files that run in about a second each and lean on the modules a
# snapshot restores (classes, enums, patterns, registries, caches).  Slow
# ones (test_logging sleeps, test_selectors waits on sockets) are left out.
TESTS = ("test_enum", "test_typing", "test_dataclasses", "test_functools", "test_re",
         "test_collections", "test_abc", "test_json", "test_textwrap", "test_tokenize",
         "test_ast", "test_copyreg", "test_weakref", "test_contextlib", "test_operator",
         "test_reprlib", "test_calendar", "test_configparser", "test_ipaddress",
         "test_fractions", "test_string", "test_types", "test_warnings",
         "test_traceback", "test_pprint", "test_inspect", "test_pickle", "test_email",
         "test_urlparse", "test_argparse", "test_pathlib", "test_decimal",
         "test_statistics", "test_csv", "test_copy", "test_dis", "test_difflib", "test_gc",
         "test_finalization")

# Modules whose restore these tests depend on: each must have been restored.
HUBS = ("enum", "typing", "dataclasses", "functools", "re", "collections", "inspect",
        "email.message", "argparse", "ast")


def summary(output: str) -> list[str]:
    """regrtest's closing lines: how many tests ran, failed and were skipped."""
    return re.findall(r"^(Total tests: .*|Total test files: .*|Result: .*)$", output, re.M)


def test_cpython_tests_pass_with_the_stdlib_restored(tmp_path: Path) -> None:
    pytest.importorskip("test.libregrtest")
    args = ["-m", "test", *TESTS]
    listing, archive = tmp_path / "tests.lst", tmp_path / "tests.img"
    run(args, cwd=tmp_path, timeout=600, PYCDSMODE="TRACE", PYCDSLIST=str(listing))
    dumped = run(["-m", "pycds", "dump", "--list", str(listing), "--archive", str(archive),
                  "--snapshot", "--snapshot-all"], cwd=tmp_path, timeout=600).stdout
    written = int(re.search(r"^snapshot: (\d+) units", dumped, re.M).group(1))
    plain = run(args, cwd=tmp_path, check=False, timeout=600)
    # Not verbose: tests of warnings and tracebacks read what stderr gets.
    restored = run(args, cwd=tmp_path, check=False, timeout=600, PYCDSMODE="SHARE",
                   PYCDSARCHIVE=str(archive))
    assert "Result: SUCCESS" in plain.stdout, plain.stdout[-3000:]
    assert summary(restored.stdout) == summary(plain.stdout), restored.stdout[-6000:]
    # Which units the same test modules' imports restore, said per module.
    cases = ["-m", "test", "--list-cases", *TESTS]
    listed_plain = run(cases, cwd=tmp_path, timeout=600)
    listed = run(cases, cwd=tmp_path, timeout=600, PYCDSMODE="SHARE",
                 PYCDSARCHIVE=str(archive), PYCDSVERBOSE="1")
    assert listed.stdout == listed_plain.stdout and listed.stdout.count("\n") > 5000
    names = set(re.findall(r"^pycds: snapshot: (\S+): restored$", listed.stderr, re.M))
    assert set(HUBS) <= names, (sorted(set(HUBS) - names), listed.stderr[-3000:])
    assert len(names) >= 0.6 * written, (len(names), written)

"""Names the traced run looked for and did not find: the archive records
them, and a shared start answers "not found" for PathFinder without a
search, while the directories they were looked for in are unchanged, and
the finders after PathFinder still run.  A module that appears later is
found: after the dump, or during the run after
importlib.invalidate_caches()."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import Built, backdate, build, decisions, run

# Looks for a module that is not there, as libraries probe for optional
# speed-ups; then counts the searches PathFinder makes for it.
PROBE = """
import sys
from importlib.machinery import PathFinder
searched = []
plain_find_spec = PathFinder.find_spec.__func__
def counting(cls, name, path=None, target=None):
    if name.startswith("optional_"):
        searched.append(name)
    return plain_find_spec(cls, name, path, target)
PathFinder.find_spec = classmethod(counting)
try:
    import optional_speedups
    found = getattr(optional_speedups, "WHERE", "a namespace package")
except ImportError as error:
    found = f"{type(error).__name__}: {error}"
print(found)
print("searched", len(searched))
"""


@pytest.fixture
def probing(tmp_path: Path) -> Built:
    root = tmp_path / "probing"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "probe.py").write_text(PROBE)
    backdate(root)
    return build(root, ["lib/probe.py"])


def script(probing: Built, name: str, code: str) -> str:
    """A script beside probe.py (so with the same sys.path as the traced
    run), that runs probe.py after `code`."""
    path = probing.root / "lib" / name
    path.write_text(code + "\nexec(open(__file__.replace(%r, 'probe.py')).read())\n"
                    % name)
    return f"lib/{name}"


def finds(stderr: str) -> dict[str, str]:
    return decisions(stderr, "find")


def test_trace_and_dump_record_the_absent_name(probing: Built) -> None:
    from pycds import _listfile

    listed = _listfile.read(str(probing.list_path))
    absent = {a.name: a.path for a in listed.absent}
    assert "optional_speedups" in absent
    assert str(probing.root / "lib") in absent["optional_speedups"]
    assert "recorded" in probing.dump_output and "not found" in probing.dump_output
    import pycds._cds as cds

    with cds.Archive(str(probing.archive)) as archive:
        record = archive.find("optional_speedups")
    assert record["is_absent"] and not record["is_extension"]


def test_absent_name_is_answered_without_a_search(probing: Built) -> None:
    plain = probing.plain(["lib/probe.py"])
    shared = probing.share(["lib/probe.py"], verbose="2")
    assert plain.stdout.splitlines()[0] == shared.stdout.splitlines()[0] == (
        "ModuleNotFoundError: No module named 'optional_speedups'")
    assert plain.stdout.splitlines()[1] == "searched 1"
    assert shared.stdout.splitlines()[1] == "searched 0"
    assert finds(shared.stderr)["optional_speedups"] == "absent, as recorded"


def test_module_created_after_the_dump_is_found(probing: Built) -> None:
    (probing.root / "lib" / "optional_speedups.py").write_text("WHERE = 'lib'\n")
    shared = probing.share(["lib/probe.py"], verbose="2")
    assert shared.stdout.splitlines()[0] == "lib"
    assert finds(shared.stderr)["optional_speedups"] == "searching"


def test_module_created_in_a_later_directory_is_found(probing: Built,
                                                      tmp_path: Path) -> None:
    later = tmp_path / "later"
    later.mkdir()
    (later / "optional_speedups.py").write_text("WHERE = 'later'\n")
    # The recorded search path, and one more entry: it may hold the name.
    longer = script(probing, "longer.py",
                    f"import sys; sys.path.append({str(later)!r})")
    shared = probing.share([longer])
    assert shared.stdout.splitlines() == ["later", "searched 1"]


def test_module_created_while_running_is_found_after_invalidate_caches(
        probing: Built) -> None:
    runner = probing.root / "lib" / "runner.py"
    runner.write_text("""
import importlib, pathlib
try:
    import optional_speedups
except ImportError:
    print("absent first")
here = pathlib.Path(__file__).parent
(here / "optional_speedups.py").write_text("WHERE = 'made while running'")
importlib.invalidate_caches()
import optional_speedups
print(optional_speedups.WHERE)
""")
    shared = probing.share(["lib/runner.py"], verbose="2")
    assert shared.stdout.splitlines() == ["absent first", "made while running"]
    assert "pycds: find optional_speedups: absent, as recorded" in shared.stderr
    assert "pycds: find optional_speedups: searching" in shared.stderr


def test_finders_after_pathfinder_still_run(probing: Built) -> None:
    later = script(probing, "later_finder.py", """
import importlib.abc, importlib.util, sys
class Provider(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name == "optional_speedups":
            return importlib.util.spec_from_loader(name, self)
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        module.WHERE = "a later finder"
sys.meta_path.append(Provider())
""")
    plain = probing.plain([later])
    shared = probing.share([later], verbose="2")
    assert plain.stdout.splitlines() == ["a later finder", "searched 1"]
    assert shared.stdout.splitlines() == ["a later finder", "searched 0"]


def test_a_path_hook_of_the_program_is_asked(probing: Built) -> None:
    hooked = script(probing, "hooked.py", """
import sys
from importlib.machinery import FileFinder, SourceFileLoader
asked = []
def hook(entry):
    asked.append(entry)
    return FileFinder(entry, (SourceFileLoader, [".py"]))
sys.path_hooks.insert(0, hook)
sys.path_importer_cache.clear()
import atexit
atexit.register(lambda: print("hook asked", bool(asked)))
""")
    shared = probing.share([hooked])
    assert shared.stdout.splitlines()[1:] == ["searched 1", "hook asked True"]


def test_name_imported_by_another_run_is_not_recorded(tmp_path: Path) -> None:
    root = tmp_path / "two"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "probe.py").write_text(PROBE)
    (root / "extra").mkdir()
    (root / "extra" / "optional_speedups.py").write_text("WHERE = 'extra'\n")
    backdate(root)
    listing = root / "app.lst"
    for env in ({}, {"PYTHONPATH": str(root / "extra")}):
        run(["lib/probe.py"], cwd=root, PYCDSMODE="TRACE",
            PYCDSLIST=str(listing), **env)
    from pycds import _listfile

    listed = _listfile.read(str(listing))
    assert "optional_speedups" in {m.name for m in listed.modules}
    assert "optional_speedups" not in {a.name for a in listed.absent}


def test_changed_directory_is_listed_not_trusted(probing: Built) -> None:
    lib = probing.root / "lib"
    (lib / "unrelated.txt").write_text("x")  # the mtime moves
    shared = probing.share(["lib/probe.py"], verbose="2")
    # The directory still holds nothing under the name: still answered.
    assert shared.stdout.splitlines()[1] == "searched 0"
    (lib / "optional_speedups").mkdir()  # a namespace package now
    plain = probing.plain(["lib/probe.py"])
    shared = probing.share(["lib/probe.py"], verbose="2")
    assert shared.stdout == plain.stdout
    assert shared.stdout.splitlines() == ["a namespace package", "searched 1"]


# The shape of urllib3 then setuptools: urllib3 imports `backports.zstd`
# from the `backports` namespace package of site-packages; setuptools then
# appends its vendored directory to sys.path and drops `backports` from
# sys.modules, and the next `from backports import ...` imports its vendored
# `backports`, a pkgutil-style package spanning both directories.  The list
# holds `backports` from the vendored directory and `backports.zstd` from
# site-packages, which the vendored package's own directory does not hold.
VENDORING = """
import os, sys
from pkg import zstd
sys.path.append(sys.path[0].replace("/lib", "/vendor"))
sys.modules.pop("pkg")
from pkg import tarfile
print(zstd.WHERE, tarfile.WHERE)
if os.environ.get("ALSO_NEW"):
    import new_since_the_trace
from importlib.machinery import SourceFileLoader
print("FROM FILES", sorted(name for name, m in sys.modules.items()
      if isinstance(getattr(m, "__loader__", None), SourceFileLoader)
      and name != "__main__"
      and getattr(m, "__file__", "").startswith(sys.argv[1])))
"""


@pytest.fixture
def vendoring(tmp_path: Path) -> Built:
    root = tmp_path / "vendoring"
    for directory in ("lib", "site/pkg/zstd", "vendor/pkg"):
        (root / directory).mkdir(parents=True)
    (root / "lib" / "app.py").write_text(VENDORING)
    (root / "lib" / "new_since_the_trace.py").write_text("")
    (root / "site" / "pkg" / "zstd" / "__init__.py").write_text(
        "WHERE = 'site'\n")
    (root / "vendor" / "pkg" / "__init__.py").write_text(
        "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n")
    (root / "vendor" / "pkg" / "tarfile.py").write_text("WHERE = 'vendor'\n")
    backdate(root)
    return build(root, ["lib/app.py", str(root)],
                 PYTHONPATH=str(root / "site"))


def explained(stderr: str) -> set[str]:
    return {line.split()[2].rstrip(":") for line in stderr.splitlines()
            if line.startswith(("pycds: hit ", "pycds: fallback ",
                                "pycds: plain "))}


def test_every_import_from_a_file_is_explained(vendoring: Built) -> None:
    """Under SHARE every module imported from a file is a hit, a fallback
    or a plain import with its reason: none is imported without a line."""
    args = ["lib/app.py", str(vendoring.root)]
    site = str(vendoring.root / "site")
    plain = vendoring.plain(args, PYTHONPATH=site, ALSO_NEW="1")
    shared = vendoring.share(args, PYTHONPATH=site, ALSO_NEW="1")
    assert shared.stdout == plain.stdout
    imported = ast.literal_eval(
        shared.stdout.splitlines()[-1].removeprefix("FROM FILES "))
    assert imported == ["new_since_the_trace", "pkg", "pkg.tarfile",
                        "pkg.zstd"]
    assert set(imported) <= explained(shared.stderr), shared.stderr
    plainly = decisions(shared.stderr, "plain")
    assert {name: plainly[name] for name in imported if name in plainly} == {
        "new_since_the_trace": "not in the archive"}


def test_submodule_of_a_replaced_parent_is_served(vendoring: Built) -> None:
    """The submodule imported under the first `pkg` is archived (found
    where it was traced, with no fast path) and served where PathFinder
    finds that very file."""
    assert ", 0 skipped" in vendoring.dump_output, vendoring.dump_output
    args = ["lib/app.py", str(vendoring.root)]
    shared = vendoring.share(args, PYTHONPATH=str(vendoring.root / "site"),
                             verbose="2")
    assert {"pkg", "pkg.tarfile", "pkg.zstd"} <= {
        line.split()[2] for line in shared.stderr.splitlines()
        if line.startswith("pycds: hit ")}, shared.stderr
    assert "pycds: find pkg.zstd: searching" in shared.stderr

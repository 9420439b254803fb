"""Modules served from the archive are indistinguishable from plainly
imported ones: attributes, spec, loader methods, tracebacks, source,
resources, reload, pkgutil, `python -m`, namespace and relative imports."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import Built, build, copy_project, hits, run

DESCRIBE = r"""
import importlib, importlib.resources, inspect, json, pkgutil, sys, traceback
import mypkg, mypkg.consts, mypkg.sub.helpers as helpers, nspkg.inner.mod as ns

def spec_of(m):
    s = m.__spec__
    return {"name": s.name, "origin": s.origin, "cached": s.cached,
            "parent": s.parent, "has_location": s.has_location,
            "locations": None if s.submodule_search_locations is None
                         else list(s.submodule_search_locations)}

def attrs(m):
    keys = ["__name__", "__file__", "__cached__", "__package__", "__path__"]
    out = {k: (list(getattr(m, k)) if k == "__path__" and hasattr(m, k)
               else getattr(m, k, "<missing>")) for k in keys}
    out["dict_keys"] = [k for k in vars(m) if k.startswith("__")]
    out["public"] = sorted(k for k in vars(m) if not k.startswith("_"))
    return out

def loader_view(m):
    l = m.__loader__
    name = m.__name__
    return {"source": l.get_source(name)[:60],
            "filename": l.get_filename(name),
            "is_package": l.is_package(name),
            "data": len(l.get_data(m.__file__)),
            "code_name": l.get_code(name).co_name,
            "reader": type(l.get_resource_reader(name)).__name__
                      if hasattr(l, "get_resource_reader") else None,
            "spec_loader_is_loader": m.__spec__.loader is l}

out = {}
for m in (mypkg, mypkg.consts, helpers, ns):
    out[m.__name__] = {"attrs": attrs(m), "spec": spec_of(m)}
    if m is not ns:
        out[m.__name__]["loader"] = loader_view(m)
out["ns_pkg"] = {"path": list(sys.modules["nspkg"].__path__),
                 "file": getattr(sys.modules["nspkg"], "__file__", None)}
try:
    helpers.fails()
except ValueError:
    out["traceback"] = traceback.format_exc().splitlines()[-3:]
out["getsource"] = inspect.getsource(helpers.Thing.method)
out["signature"] = str(inspect.signature(helpers.Thing.method))
out["getsourcelines"] = inspect.getsourcelines(helpers.gen)[1]
out["resource"] = importlib.resources.files("mypkg.sub").joinpath("data.txt").read_text()
out["iter_modules"] = sorted(i.name for i in pkgutil.iter_modules(mypkg.__path__))
out["walk"] = sorted(i.name for i in pkgutil.walk_packages(mypkg.__path__, "mypkg."))
reloaded = importlib.reload(mypkg.consts)
out["reload"] = [reloaded is mypkg.consts, reloaded.is_member("alpha")]
print(json.dumps(out, sort_keys=True, indent=1))
"""


def describe(built: Built, share: bool) -> tuple[dict, str]:
    env = {"PYTHONPATH": "src"}
    done = (built.share(["-c", DESCRIBE], **env) if share
            else built.plain(["-c", DESCRIBE], **env))
    return json.loads(done.stdout), done.stderr


def test_module_attributes_and_loader_match_plain(project: Built) -> None:
    plain, _ = describe(project, share=False)
    shared, stderr = describe(project, share=True)
    served = hits(stderr)
    assert {"mypkg", "mypkg.consts", "mypkg.sub.helpers",
            "nspkg.inner.mod"} <= served
    assert shared == plain
    # The values themselves are what plain importing gives.
    helpers = shared["mypkg.sub.helpers"]
    assert helpers["attrs"]["__file__"].endswith("mypkg/sub/helpers.py")
    assert helpers["attrs"]["__cached__"].endswith(".pyc")
    assert helpers["spec"]["parent"] == "mypkg.sub"
    assert shared["mypkg"]["spec"]["locations"] == [
        str(project.root / "src" / "mypkg")]
    assert 'raise ValueError("boom from helpers")' in shared["traceback"][-2]
    assert shared["getsource"].startswith("    def method(self, a, /, b")
    assert shared["resource"] == "resource text\n"
    assert shared["reload"] == [True, True]
    assert shared["mypkg"]["loader"]["is_package"] is True


def test_python_dash_m_runs_archived_module(project: Built) -> None:
    build(project.root, ["-m", "mypkg.tool"], PYTHONPATH="src")
    plain = project.plain(["-m", "mypkg.tool"], PYTHONPATH="src")
    shared = project.share(["-m", "mypkg.tool"], PYTHONPATH="src")
    assert shared.stdout == plain.stdout == "tool ran as __main__ mypkg.tool\n"
    assert "mypkg.tool" in hits(shared.stderr)


def test_relative_imports_and_namespace_packages(project: Built) -> None:
    code = ("from mypkg.sub import helpers; import nspkg.inner.mod as m; "
            "print(helpers.keys(), m.VALUE, m.__spec__.parent)")
    plain = project.plain(["-c", code], PYTHONPATH="src")
    shared = project.share(["-c", code], PYTHONPATH="src")
    assert shared.stdout == plain.stdout
    assert {"mypkg.sub.helpers", "nspkg.inner.mod"} <= hits(shared.stderr)


def test_traceback_of_uncaught_error_shows_source(project: Built) -> None:
    code = "from mypkg.sub import helpers; helpers.fails()"
    plain = project.plain(["-c", code], PYTHONPATH="src", check=False)
    shared = project.share(["-c", code], PYTHONPATH="src", check=False,
                           verbose="0")
    assert shared.returncode == plain.returncode == 1
    assert shared.stderr == plain.stderr
    assert 'raise ValueError("boom from helpers")' in shared.stderr


def test_concurrent_tracers_write_whole_lines(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "p")
    list_path = root / "many.lst"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYCDS") and k != "PYTHONSAFEPATH"}
    env.update(PYCDSMODE="TRACE", PYCDSLIST=str(list_path))
    procs = [subprocess.Popen([__import__("sys").executable, "src/app.py"],
                              cwd=root, env=env, stdout=subprocess.DEVNULL)
             for _ in range(16)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    from pycds import _listfile

    traced = _listfile.read(str(list_path))
    assert traced.bad_lines == 0 and not traced.conflicts
    names = [m.name for m in traced.modules]
    assert len(names) == len(set(names))  # duplicates merged
    lines = list_path.read_text().splitlines()
    assert lines[0] == _listfile.HEADER and lines.count(_listfile.HEADER) == 1
    # Each run writes its sys.path and the paths names were looked for on.
    paths = [l for l in lines if l.startswith("P ")]
    assert len(paths) >= 16 and len(paths) % 16 == 0
    assert sum(l.startswith("M ") for l in lines) == 16 * len(names)
    out = run(["-m", "pycds", "dump", "--list", str(list_path), "--archive",
               str(root / "many.img")], cwd=root)
    extensions = sum(m.origin.endswith(".so") for m in traced.modules)
    assert extensions > 0  # _json, math and the like: their locations
    assert (f"archived {len(names) - extensions} modules (and where "
            f"{extensions} extension modules are)") in out.stdout


def test_list_keeps_the_path_each_import_started_on(tmp_path: Path) -> None:
    """A run that changed sys.path between its imports records, for each
    module, the sys.path its import started on, and its own sys.path stays
    the run's main path.  A module that several runs imported keeps the
    largest run's path for it; a run with nothing to record writes
    nothing, and a damaged path record is counted, not fatal."""
    from pycds import _listfile

    listing = str(tmp_path / "runs.lst")
    modules = [("flask", "/lib/flask/__init__.py", True),
               ("flask.cli", "/lib/flask/cli.py", False),
               ("app", "/srv/app.py", False), ("json", "/lib/json/__init__.py", True)]
    started = [["/cwd", "/lib"], ["/cwd", "/lib"], ["/srv", "/cwd", "/lib"],
               ["/srv", "/cwd", "/lib"]]
    assert _listfile.format_run(["/empty"], []) == ""
    _listfile.append(listing, _listfile.format_run(["/child", "/lib"], modules[3:]))
    with open(listing, "a") as f:
        f.write("P 0123456789abcdef [not json\n")
    _listfile.append(listing, _listfile.format_run(["/srv", "/cwd", "/lib"], modules,
                                                   [], started))
    traced = _listfile.read(listing)
    assert traced.bad_lines == 1
    assert [m.name for m in traced.modules] == ["json", "flask", "flask.cli", "app"]
    assert _listfile.started_on(traced) == [
        ["/srv", "/cwd", "/lib"], ["/cwd", "/lib"], ["/cwd", "/lib"],
        ["/srv", "/cwd", "/lib"]]
    assert traced.main_path == ["/srv", "/cwd", "/lib"]


def test_a_damaged_plan_request_is_refused(tmp_path: Path) -> None:
    """The planner's request names each module and the sys.path its import
    started on; a request cut short or with a bad count is refused."""
    from pycds import _snapshot_child

    request = str(tmp_path / "request")
    _snapshot_child.write_request(request, ["a", "b"], [["/x", "/y"], []], "units")
    modules, units, _ = _snapshot_child.read_request(request)
    assert modules == [("a", ["/x", "/y"]), ("b", [])] and units == "units"
    data = open(request, "rb").read()
    for damaged in (data[:data.rindex(b"\0")], data.replace(b"\x002\x00", b"\x00-2\x00"),
                    data.replace(b"\x002\x00", b"\x009\x00")):
        with open(request, "wb") as f:
            f.write(damaged)
        with pytest.raises(ValueError):
            _snapshot_child.read_request(request)


def test_list_main_path_is_the_largest_runs(tmp_path: Path) -> None:
    """A list read back names the sys.path of the run that imported the
    most modules (the program's, whose traced children appended their
    runs first), not the first run's; with two runs of one path each
    counts alone, and the first of the largest wins."""
    from pycds import _listfile

    listing = str(tmp_path / "runs.lst")
    child = [("json", "/lib/json/__init__.py", True), ("re", "/lib/re/__init__.py", True)]
    main = [("re", "/lib/re/__init__.py", True), ("enum", "/lib/enum.py", False),
            ("app", "/app/app.py", False)]
    _listfile.append(listing, _listfile.format_run(["/work", "/lib"], child))
    _listfile.append(listing, _listfile.format_run(["/work", "/lib"], child))
    _listfile.append(listing, _listfile.format_run(["/app", "/lib"], main,
                                                   [("missing", ["/app", "/lib"])]))
    _listfile.append(listing, _listfile.format_run(["/other", "/lib"], main))
    traced = _listfile.read(listing)
    assert traced.bad_lines == 0
    assert [m.name for m in traced.modules] == ["json", "re", "enum", "app"]
    assert traced.modules[0].path == ["/work", "/lib"]  # the first run's
    assert traced.main_path == ["/app", "/lib"]

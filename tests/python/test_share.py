"""Trace, dump and share the test project: served modules behave exactly as
plainly imported ones, and every defect of earlier attempts is absent."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from conftest import (Built, backdate, build, copy_project, fallbacks, hits,
                      run, write_project)

PROJECT_MODULES = {"mypkg", "mypkg.consts", "mypkg.sub", "mypkg.sub.helpers",
                   "mypkg.sub.data_user", "mypkg.tool", "versioned",
                   "nspkg.inner.mod", "app"}


def test_trace_lists_file_modules_with_packages(project: Built) -> None:
    from pycds import _listfile

    traced = {m.name: m for m in _listfile.read(str(project.list_path)).modules}
    assert PROJECT_MODULES - {"app"} <= set(traced)
    assert traced["mypkg"].is_package and traced["mypkg.sub"].is_package
    assert not traced["mypkg.consts"].is_package
    assert traced["versioned"].origin == str(project.root / "src" / "versioned.py")
    assert str(project.root / "src") in traced["versioned"].path
    assert "sys" not in traced and "nspkg" not in traced  # built-in, namespace
    assert "archived" in project.dump_output and "0 skipped" in project.dump_output


def test_share_serves_project_with_identical_output(project: Built) -> None:
    plain = project.plain(["src/app.py"])
    shared = project.share(["src/app.py"])
    assert shared.stdout == plain.stdout
    assert "archive mapped" in shared.stderr
    served = hits(shared.stderr)
    assert PROJECT_MODULES - {"app"} <= served, shared.stderr
    assert "json" in served
    assert not fallbacks(shared.stderr)
    report = json.loads(shared.stdout)
    assert report["ids"] == dict.fromkeys(report["ids"], True)
    assert report["truth"] == ["false", "true"]


def test_dump_never_executes_modules(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "p")
    marker = tmp_path / "executed.txt"
    run(["-c", "import side_effect"], cwd=root / "src", PYCDSMODE="TRACE",
        PYCDSLIST=str(root / "a.lst"), SIDE_EFFECT_FILE=str(marker))
    assert marker.read_text() == "executed\n"  # once, by the traced run
    out = run(["-m", "pycds", "dump", "--list", str(root / "a.lst"),
               "--archive", str(root / "a.img")], cwd=root)
    assert "side_effect" not in out.stdout and "0 skipped" in out.stdout
    assert marker.read_text() == "executed\n"  # the dump ran nothing
    run(["-c", "import side_effect"], cwd=root / "src", PYCDSMODE="SHARE",
        PYCDSARCHIVE=str(root / "a.img"), SIDE_EFFECT_FILE=str(marker))
    assert marker.read_text() == "executed\n" * 2


def test_edited_source_runs_new_code(project: Built) -> None:
    source = project.root / "src" / "versioned.py"
    source.write_text(source.read_text().replace("original", "edited!!"))
    st = source.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    shared = project.share(["src/app.py"])
    assert json.loads(shared.stdout)["answer"] == "edited!!"
    assert "versioned" in fallbacks(shared.stderr)
    assert "changed since the dump" in fallbacks(shared.stderr)["versioned"]


def test_module_earlier_on_sys_path_wins(project: Built, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "versioned.py").write_text("def answer():\n    return 'shadow'\n")
    code = ("import sys; sys.path[:0] = [sys.argv[1], 'src']; import runpy; "
            "runpy.run_path('src/app.py', run_name='__main__')")
    shared = project.share(["-c", code, str(shadow)])
    assert json.loads(shared.stdout)["answer"] == "shadow"
    assert "versioned" not in hits(shared.stderr)
    # The same via PYTHONPATH, which puts the directory before the script's.
    shared = project.share(["src/app.py"], PYTHONPATH=str(shadow))
    assert json.loads(shared.stdout)["answer"] == "original"  # script dir first
    (project.root / "src" / "json.py").write_text("raise SystemExit('shadowed json')")
    shared = project.share(["src/app.py"], check=False)
    assert "shadowed json" in shared.stderr and "json" not in hits(shared.stderr)


def test_recorded_path_skips_the_search_until_something_changes(
        project: Built, tmp_path: Path) -> None:
    out = project.share(["src/app.py"], verbose="2")
    found = [l for l in out.stderr.splitlines() if l.startswith("pycds: find ")]
    assert "pycds: find mypkg.sub.helpers: recorded path still valid" in found
    assert "pycds: find versioned: recorded path still valid" in found
    # A package created during the run next to an archived module (a package
    # wins over a module in the same directory) is seen after
    # importlib.invalidate_caches(), as the importlib docs ask for modules
    # created while the program runs.
    code = """
import importlib, pathlib
import mypkg  # the script's directory has been checked now
package = pathlib.Path(__file__).parent / "versioned"
package.mkdir()
(package / "__init__.py").write_text("def answer(): return 'new'")
importlib.invalidate_caches()
import versioned
print(versioned.answer())
"""
    src = project.root / "src"
    recorded = src.stat().st_mtime_ns
    (src / "runner.py").write_text(code)
    os.utime(src, ns=(recorded, recorded))  # as if runner.py were always there
    out = project.share(["src/runner.py"], verbose="2")
    assert "pycds: find mypkg: recorded path still valid" in out.stderr
    assert out.stdout.strip() == "new"
    assert "versioned" not in hits(out.stderr)


def test_changed_earlier_entry_is_searched_only_for_the_module_name(
        project: Built) -> None:
    # The script's directory comes before the standard library on sys.path.
    # A new, unrelated file there changes its mtime: stdlib modules are still
    # served without a search (the directory holds nothing under their
    # names), modules that live in that directory are searched.
    (project.root / "src" / "unrelated.txt").write_text("x")
    out = project.share(["src/app.py"], verbose="2")
    assert "pycds: find json: recorded path still valid" in out.stderr
    assert "pycds: find versioned: searching" in out.stderr
    assert {"json", "versioned"} <= hits(out.stderr)


USES_EXTENSIONS = """
import _bisect, math
loader = type(_bisect.__spec__.loader).__name__
print(_bisect.__file__, _bisect.__spec__.origin, _bisect.__spec__.cached, loader,
      _bisect.bisect_left([1, 2, 3], 2), math.__file__, math.sqrt(16.0))
"""


def test_extension_modules_are_found_without_searching(tmp_path: Path) -> None:
    # Extension modules keep their own loader; the archive only records
    # where they were found, so that finding them needs no search.  A copy
    # of the standard _bisect in the script's directory shadows the original.
    root = copy_project(tmp_path / "project")
    original = importlib.util.find_spec("_bisect").origin
    copy = root / "src" / os.path.basename(original)
    shutil.copy2(original, copy)
    (root / "src" / "uses_ext.py").write_text(USES_EXTENSIONS)
    backdate(root)
    built = build(root, ["src/uses_ext.py"])
    extensions = re.search(r"and where (\d+) extension modules are", built.dump_output)
    assert extensions and int(extensions.group(1)) >= 2
    plain = built.plain(["src/uses_ext.py"])
    assert str(copy) in plain.stdout and "ExtensionFileLoader" in plain.stdout
    out = built.share(["src/uses_ext.py"], verbose="2")
    assert out.stdout == plain.stdout  # same file, spec and loader class
    assert "pycds: find _bisect: recorded path still valid" in out.stderr
    assert "pycds: find math: recorded path still valid" in out.stderr

    # A changed file is found by searching, as plainly.
    later = copy.stat().st_mtime_ns + 10**9
    os.utime(copy, ns=(later, later))
    out = built.share(["src/uses_ext.py"], verbose="2")
    assert fallbacks(out.stderr)["_bisect"] == "source changed since the dump"
    assert out.stdout == plain.stdout

    # Removed (its directory changed): the standard library's is found.
    copy.unlink()
    out = built.share(["src/uses_ext.py"], verbose="2")
    assert "pycds: find _bisect: searching" in out.stderr
    assert out.stdout == built.plain(["src/uses_ext.py"]).stdout
    assert original in out.stdout


def test_frozenset_constants_keep_set_semantics(project: Built) -> None:
    code = """
import mypkg.consts as c
fs = [k for k in c.is_member.__code__.co_consts if isinstance(k, frozenset)]
print(type(fs[0]).__name__, sorted(fs[0]))
print(c.is_member('alpha'), c.is_member('zeta'), c.is_number(3), c.is_number(4))
try:
    [] in fs[0]
    print('no error')
except TypeError:
    print('TypeError')
"""
    shared = project.share(["-c", code], PYTHONPATH="src")
    assert shared.stdout == run(["-c", code], cwd=project.root,
                                PYTHONPATH="src").stdout
    assert shared.stdout.splitlines() == [
        "frozenset ['alpha', 'beta', 'gamma']", "True False True False",
        "TypeError"]
    assert "mypkg.consts" in hits(shared.stderr)


def test_empty_string_is_falsy_in_specialised_code(project: Built) -> None:
    code = "import mypkg.consts as c; print(c.empty_truth(2000), c.truth(c.EMPTY))"
    shared = project.share(["-c", code], PYTHONPATH="src")
    assert shared.stdout.strip() == "['false', 'true'] false"
    assert "mypkg.consts" in hits(shared.stderr)


def test_singletons_keep_identity(project: Built) -> None:
    code = """
import mypkg.consts as c
print(c.identities())
one, empty = int("1"), tuple()
print(c.SMALL[1] is one, c.EMPTY_TUPLE is empty, c.NESTED[1][1] is empty,
      c.letter_is_shared())
print(c.BIG, c.FLOATS, c.COMPLEXES, c.TEXT[:4], c.BYTES[0])
"""
    plain = run(["-c", code], cwd=project.root, PYTHONPATH="src")
    shared = project.share(["-c", code], PYTHONPATH="src")
    assert shared.stdout == plain.stdout
    assert "False" not in shared.stdout.splitlines()[0]
    assert shared.stdout.splitlines()[1].startswith("True True True")


TRACE_SCRIPT = """
import sys
events = []
def tracer(frame, event, arg):
    if frame.f_code.co_filename.endswith("helpers.py"):
        events.append((event, frame.f_code.co_name,
                       frame.f_lineno - frame.f_code.co_firstlineno))
    return tracer
from mypkg.sub import helpers
sys.settrace(tracer)
list(helpers.gen(3))
helpers.make_closure(2)(3)
try:
    helpers.fails()
except ValueError:
    pass
sys.settrace(None)
print(events)
"""


def test_tracing_reports_same_events(project: Built) -> None:
    plain = run(["-c", TRACE_SCRIPT], cwd=project.root, PYTHONPATH="src")
    shared = project.share(["-c", TRACE_SCRIPT], PYTHONPATH="src")
    assert "mypkg.sub.helpers" in hits(shared.stderr)
    assert shared.stdout == plain.stdout
    assert "'call', 'gen'" in shared.stdout and "'call', 'inner'" in shared.stdout


def test_hashes_right_across_hash_seeds(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "p")
    built = build(root, ["src/app.py"], PYTHONHASHSEED="1")
    code = """
import mypkg.consts as c
d = {"alpha": 1, "beta": 2}
print(d[c.TEXT[0][:0] + "alpha"], hash(c.TEXT[0]) == hash("asc" + "ii"),
      c.KEYS["gamma"], c.is_member("gam" + "ma"), hash(c.BYTES[0]) == hash(bytes([0, 1])))
"""
    out = built.share(["-c", code], PYTHONPATH="src", PYTHONHASHSEED="2")
    assert out.stdout.split() == ["1", "True", "3", "True", "True"]
    assert "mypkg.consts" in hits(out.stderr)


def test_gc_with_archived_tuples_alive(project: Built) -> None:
    code = """
import gc
import mypkg.consts as c
from mypkg.sub import helpers
for _ in range(3):
    gc.collect()
print(len(gc.get_referrers(c.NESTED)) >= 0, c.NESTED, gc.is_tracked(c.NESTED))
gc.collect()
print(helpers.keys())
"""
    shared = project.share(["-c", code], PYTHONPATH="src")
    assert shared.stdout.splitlines() == [
        "True ((1, (2, (3, 'deep'))), ('a', ())) False",
        "['alpha', 'beta', 'gamma']"]


def modules_built(root: Path, modules: dict[str, str], program: str) -> Built:
    """A directory of these files (old enough for the dumper to trust),
    traced running `python -c program` and dumped."""
    write_project(root, modules)
    backdate(root)
    return build(root, ["-c", program])


# A module whose body leaves a function, a class and a garbage cycle with
# a finalizer; the program empties the youngest generation first, so the
# small body starts no collection by itself.
GENERATIONS_MODULE = """
class Node:
    def __del__(self):
        print("freed", flush=True)

def f():
    return 1

T = tuple([1, 2, 3])
node = Node()
node.me = node
del node
"""

GENERATIONS = """
import gc
gc.collect()
import made
where = [gc.get_objects(generation=g) for g in range(3)]
print(*[[any(o is x for o in where[g]) for g in range(3)] for x in (made.f, made.Node)],
      gc.is_tracked(made.T))
del where  # it holds the cycle too
print("imported", flush=True)
gc.collect(1)
print("after a middle collection")
"""


def test_what_a_body_leaves_alive_starts_in_the_middle_generation(
        tmp_path: Path) -> None:
    built = modules_built(tmp_path / "gens", {"made.py": GENERATIONS_MODULE}, GENERATIONS)
    plain = built.plain(["-c", GENERATIONS])
    shared = built.share(["-c", GENERATIONS])
    assert "made" in hits(shared.stderr)
    # Plain: young until a collection passes.  Served: as a young
    # collection would leave them (a tuple of ints untracked), without one.
    assert plain.stdout.splitlines()[0] == \
        "[True, False, False] [True, False, False] True"
    assert shared.stdout.splitlines()[0] == \
        "[False, True, False] [False, True, False] False"
    # The cycle is garbage all the same, found by the middle collection.
    assert shared.stdout.splitlines()[1:] == plain.stdout.splitlines()[1:] == [
        "imported", "freed", "after a middle collection"]


COLLECTING_MODULE = """
import gc
first = [[] for _ in range(50)]
gc.collect()
second = {"k": [1]}
gc.freeze()
third = [[2]]
gc.unfreeze()
fourth = [[3]]
gc.collect(0)
fifth = [[4]]
"""


def test_a_body_that_collects_or_freezes_keeps_the_collector_sound(
        tmp_path: Path) -> None:
    code = """
import gc, collecting
counts = [len(gc.get_objects(generation=g)) for g in range(3)]
gc.collect()
junk = [[i] for i in range(20000)]
del junk
print(gc.collect() >= 0, min(counts) >= 0, collecting.second, collecting.third,
      collecting.fourth, collecting.fifth, len(collecting.first))
"""
    built = modules_built(tmp_path / "collecting", {"collecting.py": COLLECTING_MODULE}, code)
    shared = built.share(["-c", code])
    assert "collecting" in hits(shared.stderr)
    assert shared.stdout == built.plain(["-c", code]).stdout
    assert shared.stdout.split() == ["True", "True", "{'k':", "[1]}", "[[2]]", "[[3]]",
                                     "[[4]]", "50"]


# Where the collector itself decides otherwise, a body's objects stay
# where plain Python leaves them: a body that froze the heap (no
# collection ran), with the collector disabled, and a body that raised.
STAYS = {
    "freezing.py": "import gc\nA = [[1]]\ngc.freeze()\nB = [[2]]\n",
    "disabled.py": "C = [[3]]\n",
    "failing.py": "import os, sys\nD = [[4]]\nsys.modules['kept'] = D\n"
               "if os.environ.get('FAIL'):\n    raise ValueError('no')\n",
}

STAYS_PROGRAM = """
import gc, sys
where = lambda x: [any(o is x for o in gc.get_objects(g)) for g in range(3)]
gc.collect()
import freezing
print(where(freezing.B), gc.get_freeze_count() > 0)
gc.unfreeze()
gc.collect()
gc.disable()
import disabled
print(where(disabled.C))
gc.enable()
gc.collect()
try:
    import failing
except ValueError:
    print(where(sys.modules["kept"]), "failing" in sys.modules)
"""


def test_a_body_s_objects_stay_young_where_the_collector_says_so(
        tmp_path: Path) -> None:
    built = modules_built(tmp_path / "stays", STAYS, STAYS_PROGRAM)  # FAIL unset
    shared = built.share(["-c", STAYS_PROGRAM], FAIL="1")
    assert {"freezing", "disabled", "failing"} <= hits(shared.stderr)
    assert shared.stdout == built.plain(["-c", STAYS_PROGRAM], FAIL="1").stdout
    assert shared.stdout.splitlines() == ["[True, False, False] True",
                                          "[True, False, False]",
                                          "[True, False, False] False"]


def test_concurrent_imports_from_threads(tmp_path: Path) -> None:
    root = tmp_path / "threads"
    (root / "src").mkdir(parents=True)
    for i in range(40):
        (root / "src" / f"m{i}.py").write_text(
            f"import json\nVALUE = {i}\nTEXT = {('text' + str(i)) * 3!r}\n"
            f"def f(x):\n    return x in {{{i}, 'k{i}'}}\n")
    names = ", ".join(f"m{i}" for i in range(40))
    build(root, ["-c", f"import {names}"], PYTHONPATH="src")
    code = """
import threading, importlib, sys
results, barrier = {}, threading.Barrier(8)
def work(k):
    barrier.wait()
    for i in list(range(k, 40)) + list(range(k)):
        m = importlib.import_module(f"m{i}")
        results[(k, i)] = (m.VALUE == i and m.f(i) and m.f(f"k{i}") and not m.f(-1))
threads = [threading.Thread(target=work, args=(k * 5,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(len(results), all(results.values()))
"""
    out = run(["-c", code], cwd=root, PYTHONPATH="src", PYCDSMODE="SHARE",
              PYCDSARCHIVE=str(root / "app.img"), PYCDSVERBOSE="1")
    assert out.stdout.split() == ["320", "True"]
    assert {f"m{i}" for i in range(40)} <= hits(out.stderr)


def test_no_function_version_collision(project: Built) -> None:
    # A call site specialised for an archived function must not be taken by a
    # function of this process that got the same version number.
    code = """
import mypkg.consts as c
from mypkg.sub import helpers
fresh = []
for i in range(300):
    ns = {}
    exec(f"def g(x):\\n    return ('fresh', {i})", ns)
    fresh.append(ns["g"])
archived = [c.truth, helpers.keys, c.is_member, c.is_number]
def call(fn, x):
    return fn(x)
bad = 0
for rounds in range(3):
    for fn in archived[:1] * 50 + fresh:
        r = call(fn, "")
        if fn in fresh and r[0] != 'fresh':
            bad += 1
print("bad", bad)
"""
    shared = project.share(["-c", code], PYTHONPATH="src")
    assert shared.stdout.strip() == "bad 0"


VERSIONS = r"""
import sys, pycds._cds as cds
# Taken before the imports, which then run them: held, so not given back.
names = ("mypkg.consts", "mypkg.sub.helpers", "json.decoder")
codes = [cds.share_code(cds.share_lookup(name)[0]) for name in names]
import mypkg.consts, mypkg.sub.helpers, json.decoder
def walk(code):
    yield code
    for k in code.co_consts:
        if hasattr(k, "co_code"):
            yield from walk(k)
archived = [v for code in codes for v in map(cds.code_version, walk(code))]
# Enough new code objects to sweep the range a dumping process numbers from.
many = compile("\n".join(f"def f{i}(): pass" for i in range(20000)), "x", "exec")
fresh = [cds.code_version(c) for c in many.co_consts if hasattr(c, "co_code")]
print(sys.version_info[:2] >= (3, 13), len(archived), len(set(archived)),
      sum(v == 0 for v in archived), len(set(archived) & set(fresh)),
      max(archived) < min(fresh), 0 in fresh)
"""


def test_archived_code_versions_never_collide(project: Built) -> None:
    if sys.version_info < (3, 12):
        pytest.skip("no code versions before 3.12")
    out = project.share(["-c", VERSIONS], PYTHONPATH="src")
    is_313, total, distinct, zeros, shared, before, fresh_zero = out.stdout.split()
    assert int(total) > 20 and fresh_zero == "False"
    assert int(shared) == 0  # no archived version is a version of new code
    if is_313 == "True":
        # 3.13: numbers from this interpreter's counter, one per code object,
        # taken at load (so below those of code created afterwards).
        assert int(distinct) == int(total) and int(zeros) == 0
        assert before == "True"
    else:
        # 3.12: 0, so that functions get versions lazily in this process.
        assert int(zeros) == int(total)


def test_refused_archives_fall_back_to_plain_imports(project: Built) -> None:
    plain = project.plain(["src/app.py"])
    data = project.archive.read_bytes()
    cases = {
        "truncated": data[: len(data) // 3],
        "garbage": b"\0" * 100000,
        "flipped": data[:200] + bytes([data[200] ^ 0xFF]) + data[201:],
    }
    for name, content in cases.items():
        bad = project.root / f"{name}.img"
        bad.write_bytes(content)
        out = run(["src/app.py"], cwd=project.root, PYCDSMODE="SHARE",
                  PYCDSARCHIVE=str(bad), PYCDSVERBOSE="1")
        assert out.stdout == plain.stdout
        refusal = [l for l in out.stderr.splitlines() if "archive refused" in l]
        assert len(refusal) == 1, (name, out.stderr)
        assert not hits(out.stderr)
    missing = run(["src/app.py"], cwd=project.root, PYCDSMODE="SHARE",
                  PYCDSARCHIVE=str(project.root / "none.img"), PYCDSVERBOSE="1")
    assert missing.stdout == plain.stdout and "No such file" in missing.stderr
    quiet = run(["src/app.py"], cwd=project.root, PYCDSMODE="SHARE",
                PYCDSARCHIVE=str(project.root / "none.img"))
    assert quiet.stderr == ""


def test_archive_of_other_settings_is_refused(project: Built) -> None:
    out = project.share(["-O", "src/app.py"])
    assert "archive refused" in out.stderr and "optimize" in out.stderr
    assert not hits(out.stderr)


# Opens the archive as SHARE does and reports what is left in the process.
SETTINGS_PROBE = """
import sys
import pycds._cds as cds
from pycds import _share
archive = sys.argv[1]
window = f"{cds.DEFAULT_BASE:x}-"
result = _share.install(archive)
maps = open("/proc/self/maps").read()
print(result, archive in maps, window in maps,
      any(isinstance(f, cds.ArchiveFinder) for f in sys.meta_path))
if result != "shared":
    try:
        cds.share_open(archive)
    except cds.ArchiveError as error:
        print(error.status == cds.STATUS_SETTINGS, error.reason)
"""


def test_other_settings_are_refused_at_open_and_unmapped(
        project: Built) -> None:
    """share_open itself refuses an archive of other code settings: nothing
    is installed (a second open is refused for the same reason, not as
    "already shared") and neither the file nor the object window stays
    mapped."""
    cases = {
        "-O": (["-O"], {}, "optimize=0, this process has 1"),
        "-OO": (["-OO"], {}, "optimize=0, this process has 2"),
        "-X no_debug_ranges": (["-X", "no_debug_ranges"], {},
                               "debug_ranges=True, this process has False"),
        "PYTHONNODEBUGRANGES": ([], {"PYTHONNODEBUGRANGES": "1"},
                                "debug_ranges=True, this process has False"),
    }
    for name, (options, env, reason) in cases.items():
        out = run([*options, "-c", SETTINGS_PROBE, str(project.archive)],
                  cwd=project.root, PYCDSVERBOSE="1", **env)
        assert out.stdout.splitlines() == [
            "refused False False False",
            f"True archive made with {reason}"], (name, out.stdout)
        refused = [l for l in out.stderr.splitlines() if "archive refused" in l]
        assert len(refused) == 1 and reason in refused[0], (name, out.stderr)
    # The same archive under its own settings is mapped and installed.
    out = run(["-c", SETTINGS_PROBE, str(project.archive)], cwd=project.root)
    assert out.stdout.splitlines() == ["shared True True True"], out.stdout


def test_verbose_two_adds_timings(project: Built) -> None:
    out = project.share(["src/app.py"], verbose="2")
    mapped = [l for l in out.stderr.splitlines() if "archive mapped" in l]
    assert mapped and mapped[0].endswith(" us")
    assert any(l.startswith("pycds: hit json ") and l.endswith("us)")
               for l in out.stderr.splitlines())


def test_modules_share_interned_strings_without_depending_on_each_other(
        tmp_path: Path) -> None:
    import pycds

    root = tmp_path / "pair"
    (root / "src").mkdir(parents=True)
    body = ("def shared_identifier_alpha(shared_parameter_beta):\n"
            "    return ('shared_identifier_alpha', shared_parameter_beta)\n")
    (root / "src" / "first.py").write_text(body + "WHO = 'first'\n")
    (root / "src" / "second.py").write_text(body + "WHO = 'second'\n")
    built = build(root, ["-c", "import first, second"], PYTHONPATH="src")
    with pycds.Archive(built.archive) as archive:
        assert archive.find("second")["dependencies"] == 0
    code = """
import sys, pycds._cds as cds
import second
f = second.shared_identifier_alpha
print(second.WHO, f(2), f.__code__.co_name is sys.intern("shared_identifier_alpha"),
      cds.share_stats()["by_value"] > 0)
import first
print(first.WHO, first.shared_identifier_alpha.__code__.co_name is f.__code__.co_name)
"""
    out = built.share(["-c", code], PYTHONPATH="src")
    assert out.stdout.splitlines() == [
        "second ('shared_identifier_alpha', 2) True True", "first True"]
    assert {"first", "second"} <= hits(out.stderr)
    # A damaged owner of shared strings makes the sharer fall back, not fail.
    with pycds.Archive(built.archive) as archive:
        record = archive.find("first")
    data = bytearray(built.archive.read_bytes())
    data[record["objects_begin"] + 8] ^= 0xFF
    built.archive.write_bytes(bytes(data))
    out = built.share(["-c", "import second; print(second.shared_identifier_alpha(3))"],
                      PYTHONPATH="src")
    assert out.stdout.strip() == "('shared_identifier_alpha', 3)"
    assert "module checksum mismatch" in fallbacks(out.stderr)["second"]


def test_explanations_are_not_captured_by_the_program(tmp_path) -> None:
    """PYCDSVERBOSE lines go to file descriptor 2 itself: a program that
    redirects sys.stderr (contextlib.redirect_stderr, click's CliRunner)
    never finds them in what it captured."""
    built = build(tmp_path, ["-c", "import json, decimal"])
    code = ("import contextlib, io\n"
            "captured = io.StringIO()\n"
            "with contextlib.redirect_stderr(captured):\n"
            "    import json, decimal\n"
            "print(repr(captured.getvalue()))\n")
    done = built.share(["-c", code])
    assert done.stdout == "''\n"
    assert {"json", "decimal"} <= hits(done.stderr)


def test_wide_characters_of_archived_non_bmp_strings(project: Built) -> None:
    # On 3.11 a str of 4-byte characters is also its own wchar_t string;
    # ctypes reads that form, which the archived copy must keep pointing at
    # its characters.
    code = """
import ctypes
import mypkg.consts as c
wide = c.TEXT[3]
print(ascii(ctypes.create_unicode_buffer(wide).value == wide),
      ascii(ctypes.create_unicode_buffer(wide)[:]), len(wide))
"""
    plain = run(["-c", code], cwd=project.root, PYTHONPATH="src")
    shared = project.share(["-c", code], PYTHONPATH="src")
    assert "mypkg.consts" in hits(shared.stderr)
    assert shared.stdout == plain.stdout
    assert shared.stdout.startswith("True ")


SUBINTERPRETER = """
import sys
try:
    import _interpreters as interpreters
except ImportError:
    import _xxsubinterpreters as interpreters
sub = interpreters.create()
interpreters.run_string(sub, "import json; print('sub', json.dumps([1]))")
import json
print('main', json.dumps([2]))
"""


def test_a_subinterpreter_runs_plainly_and_quietly(tmp_path: Path) -> None:
    """pycds.pth runs in every interpreter of a process with PYCDSMODE set;
    an isolated subinterpreter (3.12+, its own GIL) refuses to load the
    extension, and pycds then does nothing there, without a word (no
    traceback from site), and the main interpreter is served as before.
    (3.11's subinterpreters share the GIL: pycds loads there and leaves
    the archive to the main one.)"""
    (tmp_path / "app.py").write_text(SUBINTERPRETER)
    built = build(tmp_path, ["app.py"])
    plain = built.plain(["app.py"])
    assert plain.stdout == "sub [1]\nmain [2]\n" and plain.stderr == ""
    quiet = built.share(["app.py"], verbose="0")
    assert quiet.stdout == plain.stdout and quiet.stderr == "", quiet.stderr
    told = built.share(["app.py"])
    assert told.stdout == plain.stdout, told.stderr
    assert "Traceback" not in told.stderr and "pycds: hit json" in told.stderr, told.stderr


def test_a_broken_install_still_shows_in_the_main_interpreter(tmp_path: Path) -> None:
    """The quiet path is for subinterpreters only: in the main interpreter
    a pycds whose extension cannot load (here: its Python files alone,
    first on the path) lets site show the error, and the program runs."""
    import pycds
    fake = tmp_path / "fake" / "pycds"
    fake.mkdir(parents=True)
    for source in Path(pycds.__file__).parent.glob("*.py"):
        shutil.copy(source, fake / source.name)
    done = run(["-c", "print('ran')"], cwd=tmp_path, PYCDSMODE="SHARE",
               PYCDSARCHIVE=str(tmp_path / "none.img"), PYTHONPATH=str(tmp_path / "fake"))
    assert done.stdout == "ran\n"
    assert "pycds.pth" in done.stderr and "_cds" in done.stderr, done.stderr


def test_the_packages_names_from_the_extension_are_there() -> None:
    import pycds
    from pycds import _cds
    assert (pycds.Archive, pycds.ArchiveError, pycds.Writer, pycds.fingerprint) == (
        _cds.Archive, _cds.ArchiveError, _cds.Writer, _cds.fingerprint)
    assert {"Archive", "ArchiveError", "Writer", "fingerprint", "__version__"} <= set(dir(pycds))
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        pycds.missing  # noqa: B018

"""Round trip of the standard library: every pure-Python module that
imports cleanly is traced, dumped and imported under SHARE, and gives the
same public names, signatures and code objects as a plain import."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import build, run

# Modules that act when imported (open a browser, print), need a display or
# are test suites and tools rather than library modules.
EXCLUDED_TOP = {"test", "idlelib", "turtledemo", "tkinter", "turtle",
                "antigravity", "this", "lib2to3", "ensurepip", "venv",
                "pydoc_data", "site-packages", "__phello__", "__hello__"}

CANDIDATES = r"""
import json, os, sys, sysconfig
stdlib = sysconfig.get_paths()["stdlib"]
names = []
for dirpath, dirnames, filenames in os.walk(stdlib):
    rel = os.path.relpath(dirpath, stdlib)
    parts = [] if rel == "." else rel.split(os.sep)
    if parts and (parts[0] in EXCLUDED or "-" in parts[0] or not all(p.isidentifier() for p in parts)):
        dirnames[:] = []
        continue
    if parts and "__init__.py" not in filenames:
        dirnames[:] = []
        continue
    for f in filenames:
        if not f.endswith(".py") or f == "__main__.py":
            continue
        stem = f[:-3]
        mod = ".".join(parts + ([] if stem == "__init__" else [stem]))
        if mod and mod.split(".")[0] not in EXCLUDED and all(p.isidentifier() for p in mod.split(".")):
            names.append(mod)
clean = []
import io, contextlib, warnings
warnings.simplefilter("ignore")
for name in sorted(names):
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            __import__(name)
    except BaseException:
        continue
    # Only modules that plain importing takes from the standard library's
    # own files (setuptools, say, substitutes its own distutils).
    spec = getattr(sys.modules.get(name), "__spec__", None)
    origin = getattr(spec, "origin", None) or ""
    if origin.startswith(stdlib + os.sep) and type(spec.loader).__name__ == "SourceFileLoader":
        clean.append(name)
print(json.dumps(clean))
"""

IMPORT_ALL = r"""
import io, contextlib, json, sys, warnings
warnings.simplefilter("ignore")
names = json.load(open(sys.argv[1]))
for name in names:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        __import__(name)
"""

DESCRIBE = r"""
import io, contextlib, inspect, json, sys, warnings
warnings.simplefilter("ignore")
already = set(sys.modules)
names = json.load(open(sys.argv[1]))
archived_code = {}
if len(sys.argv) > 2:  # under SHARE: the archived code, taken before the
    import pycds._cds as cds  # imports run it (held: not given back)
    for name in names:
        record = cds.share_lookup(name)
        if record is not None:
            archived_code[name] = cds.share_code(record[0])
for name in names:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        __import__(name)

def signature(obj):
    # Names, kinds and default types: default reprs can hold addresses or
    # this process's environment.
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [[p.name, p.kind.name, type(p.default).__name__, str(p.annotation)]
            for p in sig.parameters.values()] + [str(sig.return_annotation)]

out = {"names": {}, "served": [], "already": sorted(already)}
for name in names:
    module = sys.modules[name]
    public = sorted(k for k in vars(module) if not k.startswith("_"))
    sigs = {}
    for k in public:
        value = vars(module)[k]
        if inspect.isfunction(value) and value.__module__ == name:
            sigs[k] = signature(value)
        elif inspect.isclass(value) and value.__module__ == name:
            for m, f in sorted(vars(value).items()):
                if inspect.isfunction(f):
                    sigs[f"{k}.{m}"] = signature(f)
    out["names"][name] = [public, sigs]
    if type(module.__spec__.loader).__name__.startswith("Archived"):
        out["served"].append(name)

if len(sys.argv) > 2:  # under SHARE: compare archived and plain code objects
    from importlib.machinery import SourceFileLoader
    import pycds._cds as cds
    FIELDS = ("co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars",
              "co_linetable", "co_exceptiontable", "co_filename", "co_name",
              "co_qualname", "co_firstlineno", "co_flags", "co_argcount",
              "co_posonlyargcount", "co_kwonlyargcount", "co_stacksize", "co_nlocals")
    def diff(a, b, where):
        for f in FIELDS:
            if getattr(a, f) != getattr(b, f):
                return f"{where}.{f}"
        if len(a.co_consts) != len(b.co_consts):
            return f"{where}.co_consts length"
        for i, (x, y) in enumerate(zip(a.co_consts, b.co_consts)):
            if type(x) is not type(y):
                return f"{where}.co_consts[{i}] type"
            if hasattr(x, "co_code"):
                d = diff(x, y, f"{where}/{x.co_name}")
                if d:
                    return d
            elif x != y and not (x != x and y != y):
                return f"{where}.co_consts[{i}]"
        return None
    mismatches, compared = [], 0
    for name in names:
        record = cds.share_lookup(name)
        archived = archived_code.get(name)
        if record is None or archived is None:
            continue
        plain = SourceFileLoader(name, record[1]).get_code(name)
        compared += 1
        d = diff(archived, plain, name)
        if d:
            mismatches.append(d)
    out["compared"], out["mismatches"] = compared, mismatches
print(json.dumps(out))
"""


def test_stdlib_round_trip(tmp_path: Path) -> None:
    excluded = repr(EXCLUDED_TOP)
    probe = run(["-c", f"EXCLUDED = {excluded}\n" + CANDIDATES], cwd=tmp_path,
                timeout=600)
    clean = json.loads(probe.stdout)
    assert len(clean) > 300, len(clean)
    names_file = tmp_path / "names.json"
    names_file.write_text(json.dumps(clean))
    (tmp_path / "import_all.py").write_text(IMPORT_ALL)
    (tmp_path / "describe.py").write_text(DESCRIBE)

    built = build(tmp_path, ["import_all.py", str(names_file)])
    skipped = [line.split()[1].rstrip(":") for line in built.dump_output.splitlines()
               if line.startswith("  skipped ")]
    assert not set(skipped) & set(clean), built.dump_output

    plain = json.loads(built.plain(["describe.py", str(names_file)]).stdout)
    shared_run = built.share(["describe.py", str(names_file), "compare"],
                             verbose="0")
    shared = json.loads(shared_run.stdout)

    imported_at_start = set(shared["already"])
    expected = set(clean) - imported_at_start
    assert expected <= set(shared["served"]), sorted(expected - set(shared["served"]))[:20]
    assert shared["compared"] >= len(clean) - len(imported_at_start & set(clean))
    assert shared["mismatches"] == []
    differing = [n for n in clean if plain["names"][n] != shared["names"][n]]
    def delta(n):
        (pn, ps), (sn, ss) = plain["names"][n], shared["names"][n]
        return (sorted(set(pn) ^ set(sn)),
                {k: (ps.get(k), ss.get(k)) for k in set(ps) | set(ss)
                 if ps.get(k) != ss.get(k)})
    detail = {n: delta(n) for n in differing[:3]}
    assert differing == [], detail
    print(f"{sys.version.split()[0]}: {len(clean)} modules, "
          f"{len(shared['served'])} served, {shared['compared']} compared")

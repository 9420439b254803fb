"""Run-once pages given back: once an archived module's body returned, the
pages of its module code and class-body code (and what only they hold) go
back to the kernel, as plain Python frees those objects, unless anything
still refers to them (pycds/ext/layout.h, share.c)."""

from __future__ import annotations

from pathlib import Path

from conftest import Built, backdate, build, write_project

# Bodies long enough that their run-once code spans whole pages.
FILLER = "\n".join(f"V{i} = ({i}, 'v{i}', {i}.5)" for i in range(400))

MODULES = {
    "gives.py": f"""
import sys
{FILLER}
class Plain:
    '''A class.'''
    X = [1, 2]
    def method(self):
        return 'method'
def add(a, b):
    return a + b
TOTAL = V{399}[0] + V{399}[2]
""",
    "keeps_frame.py": f"""
import sys
{FILLER}
FRAME = sys._getframe()
""",
    "keeps_class_frame.py": f"""
import sys
{FILLER}
class Keeper:
    FRAME = sys._getframe()
""",
    "keeps_error.py": f"""
{FILLER}
try:
    raise ValueError('kept')
except ValueError as error:
    ERROR = error
""",
    "keeps_consts.py": f"""
import sys
{FILLER}
CONSTS = sys._getframe().f_code.co_consts
""",
    "keeps_weakref.py": f"""
import sys, weakref
{FILLER}
REF = weakref.ref(sys._getframe().f_code)
""",
}

# A weak reference's callback that reloads the module, run when its code
# goes away; the body it runs again keeps a reference to its new code.
MODULES["reloading.py"] = f"""
import sys, weakref, importlib
{FILLER}
def callback(ref):
    importlib.reload(sys.modules[__name__])
if "REF" in globals():
    CODE = sys._getframe().f_code
else:
    REF = weakref.ref(sys._getframe().f_code, callback)
"""

RELOADING = """
import gc, reloading
gc.collect()
code = reloading.CODE
print(reloading.REF(), code.co_name, code.co_consts[3], len(code.co_names))
"""

PROGRAM = """
import sys, dis, io
import gives, keeps_frame, keeps_class_frame, keeps_error, keeps_consts, keeps_weakref
from pycds import _cds

def given_back(name):
    found = _cds.share_lookup(name)
    return found is not None and _cds.share_code(found[0]) is None

try:
    served = _cds.share_lookup("gives") is not None
except (RuntimeError, AttributeError):  # plain, or tracing
    served = False
names = ["gives", "keeps_frame", "keeps_class_frame", "keeps_error", "keeps_consts",
         "keeps_weakref"]
print("given back", [given_back(n) for n in names] if served else None)
if served:
    stats = _cds.share_stats()
    print("bytes", stats["given_back_bytes"] >= 4096, stats["given_back_modules"] >= 1)
print(gives.add(2, 3), gives.Plain().method(), gives.Plain.__doc__, gives.TOTAL)
# What was kept is whole: code read through frames, tracebacks and tuples.
code = keeps_frame.FRAME.f_code
print(code.co_name, len(code.co_consts), code.co_consts[-2:], len(list(code.co_lines())))
out = io.StringIO(); dis.dis(code, file=out); print(len(out.getvalue()) > 1000)
print(keeps_class_frame.Keeper.FRAME.f_code.co_name,
      keeps_class_frame.Keeper.FRAME.f_code.co_names)
tb = keeps_error.ERROR.__traceback__
print(tb.tb_frame.f_code.co_name, tb.tb_lineno, tb.tb_frame.f_code.co_filename.endswith("keeps_error.py"))
print(len(keeps_consts.CONSTS), keeps_consts.CONSTS[3])
print("weak reference", keeps_weakref.REF())
"""

AGAIN = """
import importlib, sys
import gives
first = gives.Plain
importlib.reload(gives)
print(gives.Plain is first, gives.add(1, 1), gives.V7)
del sys.modules["gives"]
import gives
print(gives.Plain is first, gives.Plain().method(), gives.TOTAL)
"""


def project(root: Path, program: str) -> Built:
    write_project(root, MODULES)
    backdate(root)
    return build(root, ["-c", program])


def test_pages_of_code_that_ran_are_given_back_unless_still_referred_to(
        tmp_path: Path) -> None:
    built = project(tmp_path / "p", PROGRAM)
    shared = built.share(["-c", PROGRAM])
    plain = built.plain(["-c", PROGRAM])
    lines = shared.stdout.splitlines()
    # Only the modules nothing refers to gave their pages back: a kept
    # frame (module or class body), a stored traceback and a code object's
    # tuple each keep them; a weak reference to the code is cleared, as
    # when plain Python frees it.
    assert lines[0] == "given back [True, False, False, False, False, True]"
    assert lines[1] == "bytes True True"
    # And the program sees what plain Python shows.
    assert plain.stdout.splitlines()[0] == "given back None"
    assert lines[2:] == plain.stdout.splitlines()[1:]
    assert lines[2] == "5 method A class. 798.5"


def test_a_module_given_back_is_imported_from_its_file_again(tmp_path: Path) -> None:
    built = project(tmp_path / "again", AGAIN)
    shared = built.share(["-c", AGAIN])
    assert shared.stdout == built.plain(["-c", AGAIN]).stdout
    assert shared.stdout.splitlines() == ["False 2 (7, 'v7', 7.5)",
                                          "False method 798.5"]
    # Served once; reload and the second import read the file, as plain
    # importing would (the archived module code is gone).
    assert shared.stderr.count("pycds: hit gives") == 1
    assert "fallback gives: not served in this state" in shared.stderr


def test_a_weak_reference_callback_that_reloads_the_module(tmp_path: Path) -> None:
    built = project(tmp_path / "reloading", RELOADING)
    shared = built.share(["-c", RELOADING])
    plain = built.plain(["-c", RELOADING])
    assert shared.stdout == plain.stdout
    assert shared.stdout.startswith("None <module> (1, 'v1', 1.5)")
    assert "fallback reloading: not served in this state" in shared.stderr

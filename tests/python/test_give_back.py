"""Run-once pages given back: once an archived module's body returned, the
pages of its module code and class-body code (and what only they hold) go
back to the kernel, as plain Python frees those objects, unless anything
still refers to them (pycds/ext/layout.h, share.c)."""

from __future__ import annotations

from pathlib import Path

from conftest import Built, backdate, build, write_project

# Whether a module's run-once pages were given back (its code is then
# handed out no more), for the programs below.
GIVEN_BACK = """from pycds import _cds

def given_back(name):
    found = _cds.share_lookup(name)
    return found is not None and _cds.share_code(found[0]) is None
"""

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

# A body that does not return until another thread's import has: the
# worker's import gives back what it ran when its own outermost import
# returns, whatever other threads are still importing.
MODULES["waits.py"] = """
import threading
""" + GIVEN_BACK + """
def worker():
    try:
        import gives
        if SERVED:
            SEEN.append(given_back("gives"))
    finally:
        DONE.set()

SEEN = []
DONE = threading.Event()
try:
    SERVED = _cds.share_lookup("gives") is not None
except (RuntimeError, AttributeError):  # plain, or tracing
    SERVED = False
thread = threading.Thread(target=worker)
thread.start()
DONE.wait(60)
thread.join(60)
"""

WAITS = """
import waits
print("given back in the worker", waits.SEEN if waits.SERVED else None)
"""

# A frame kept while the import returns, dropped later: the next import's
# settle gives the pages back.
MODULES["later.py"] = """
import sys
FRAME = sys._getframe()
"""

LATER = """
import later, keeps_frame
""" + GIVEN_BACK + """
try:
    served = _cds.share_lookup("later") is not None
except (RuntimeError, AttributeError):  # plain, or tracing
    served = False
before = given_back("later") if served else None
del later.FRAME
import gives
print("given back", before, given_back("later") if served else None,
      given_back("keeps_frame") if served else None)
"""

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
""" + GIVEN_BACK + """
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


def test_a_thread_gives_back_what_it_ran_while_another_body_runs(
        tmp_path: Path) -> None:
    built = project(tmp_path / "waits", WAITS)
    shared = built.share(["-c", WAITS])
    assert shared.stdout == "given back in the worker [True]\n", shared.stderr
    assert built.plain(["-c", WAITS]).stdout == "given back in the worker None\n"


def test_pages_still_referred_to_are_looked_at_again_by_the_next_import(
        tmp_path: Path) -> None:
    built = project(tmp_path / "later", LATER)
    shared = built.share(["-c", LATER])
    # Kept while the frame lived; given back by the next import's settle
    # once it was dropped; the frame still kept keeps its module's pages.
    assert shared.stdout == "given back False True False\n", shared.stderr
    assert built.plain(["-c", LATER]).stdout == "given back None None None\n"


# A weak reference callback on the module's code that takes its class
# body's code through another weak reference: plain Python ends the class
# body's code first (the module code's tuple of constants held it), so the
# callback finds it gone.  (Ending them in the other order once handed the
# callback a reference to code whose page then went back: a crash.)
MODULES["resurrects.py"] = f"""
import sys, weakref
{FILLER}
class A:
    pass
for code in sys._getframe().f_code.co_consts:
    if hasattr(code, "co_code"):
        break
holder = []
r_a = weakref.ref(code)
r_mod = weakref.ref(sys._getframe().f_code, lambda _: holder.append(r_a()))
del code
"""

RESURRECTS = """
import resurrects
print(resurrects.holder)
"""

# Nested imports: the inner module's code ends when its own import returns.
MODULES["inner.py"] = f"""
import sys, weakref
{FILLER}
r = weakref.ref(sys._getframe().f_code, lambda r: print("inner code ended"))
"""
MODULES["outer.py"] = """
import inner
print("outer: inner code alive:", inner.r() is not None)
"""

# A reload makes new code, as plain importing reads the file again, even
# when the first code was kept (here by a frame).
MODULES["reloaded.py"] = """
import sys
F = sys._getframe()
def f():
    return 1
"""

RELOADED = """
import importlib, reloaded
old = reloaded.f
importlib.reload(reloaded)
print(reloaded.f.__code__ is old.__code__, reloaded.f())
"""


def test_a_callback_finds_the_class_body_code_already_ended(tmp_path: Path) -> None:
    built = project(tmp_path / "resurrects", RESURRECTS)
    shared = built.share(["-c", RESURRECTS])
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout == built.plain(["-c", RESURRECTS]).stdout == "[None]\n"


def test_inner_code_ends_when_its_own_import_returns(tmp_path: Path) -> None:
    built = project(tmp_path / "nested", "import outer")
    shared = built.share(["-c", "import outer"])
    assert shared.stdout == built.plain(["-c", "import outer"]).stdout
    assert shared.stdout == "inner code ended\nouter: inner code alive: False\n"


def test_a_reload_makes_new_code_even_when_the_old_is_kept(tmp_path: Path) -> None:
    built = project(tmp_path / "reloaded", RELOADED)
    shared = built.share(["-c", RELOADED])
    assert shared.stdout == built.plain(["-c", RELOADED]).stdout == "False 1\n"
    assert "fallback reloaded: not served in this state" in shared.stderr


# Code that ran while a tracer was on (3.12+: sys.settrace instruments it
# through sys.monitoring, which gives it monitoring data) ends as other
# code does once the tracer is off.
MODULES["traced.py"] = f"""
import sys, weakref
{FILLER}
r = weakref.ref(sys._getframe().f_code, lambda r: print("traced code ended"))
"""

TRACED = """
import sys
lines = []
def tracer(frame, event, arg):
    if frame.f_code.co_filename.endswith("traced.py"):
        lines.append(event)
    return tracer
sys.settrace(tracer)
import traced
sys.settrace(None)
print(len(lines) > 400, traced.r())
import gives
"""


def test_code_that_ran_under_a_tracer_is_given_back(tmp_path: Path) -> None:
    built = project(tmp_path / "traced", TRACED)
    shared = built.share(["-c", TRACED])
    assert shared.stdout == built.plain(["-c", TRACED]).stdout
    assert shared.stdout == "traced code ended\nTrue None\n"


# A class body's callback that reaches the module's code through a weak
# reference: plain Python ends the class body's code from inside the module
# code's end, when that reference already gives None.  (A callback that got
# the module code could take its constants' class code and end it again:
# freed archived memory.)
MODULES["reaches_module.py"] = f"""
import sys, weakref
{FILLER}
seen = []
r_mod = weakref.ref(sys._getframe().f_code)
class A:
    RA = sys._getframe().f_code
def callback(_):
    code = r_mod()
    seen.append(code is not None)
    if code is not None:
        seen.append([type(c).__name__ for c in code.co_consts][:1])
r_a = weakref.ref(A.RA, callback)
del A.RA
"""

# Sibling class bodies: plain Python's tuple of constants drops its items
# last first, so B's code ends before A's; A's callback finds B's gone,
# B's finds A's alive, and the code it keeps runs (it ran under a tracer,
# which gave it monitoring data: that must still be there).
SIBLINGS = """
import sys, weakref
{FILLER}
class A:
    X = 1
    RA = sys._getframe().f_code
class B:
    Y = 2
    RB = sys._getframe().f_code
holder = []
r_a = weakref.ref(A.RA{a_callback})
r_b = weakref.ref(B.RB{b_callback})
del A.RA, B.RB
"""
MODULES["a_takes_b.py"] = SIBLINGS.format(
    FILLER=FILLER, a_callback=", lambda _: holder.append(r_b())", b_callback="")
MODULES["b_takes_a.py"] = SIBLINGS.format(
    FILLER=FILLER, a_callback="", b_callback=", lambda _: holder.append(r_a())")

ENDS = """
import sys
def tracer(frame, event, arg):
    return tracer
sys.settrace(tracer)
import reaches_module, a_takes_b, b_takes_a
sys.settrace(None)
import gives
print(reaches_module.seen)
for module in (a_takes_b, b_takes_a):
    kept = [code and code.co_name for code in module.holder]
    print(module.__name__, kept)
    if module.holder[0] is not None:
        namespace = {"__name__": "again", "sys": sys}
        exec(module.holder[0], namespace)
        print(namespace.get("X"), namespace.get("Y"))
"""


def test_code_ends_in_plain_order_whatever_callbacks_reach(tmp_path: Path) -> None:
    built = project(tmp_path / "ends", ENDS)
    shared = built.share(["-c", ENDS])
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout == built.plain(["-c", ENDS]).stdout
    assert shared.stdout.splitlines() == [
        "[False]", "a_takes_b [None]", "b_takes_a ['A']", "1 None"]

"""python -m pycds plan: the snapshot plan (stage 1 of snapshots).  A
fresh interpreter runs the traced bodies and records, per module, what it
read, created and changed; each module is a unit or code only, with its
first reason."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import run

MODULES = {
    # Inputs of each kind.
    "reads.py": """
        import os
        PRESENT = os.environ.get("PLAN_TEST_PRESENT")
        ABSENT = os.getenv("PLAN_TEST_ABSENT")
        EXISTS = os.path.exists(os.path.join(os.path.dirname(__file__), "data.txt"))
        MISSING = os.path.isfile("/nonexistent/plan-test")
        def _read(path):
            with open(path) as f:
                return f.read()
        DATA = _read(os.path.join(os.path.dirname(__file__), "data.txt"))
        LISTED = sorted(os.listdir(os.path.dirname(__file__) + "/listed"))
    """,
    "plain.py": """
        import sys
        class Point:
            def __init__(self, x): self.x = x
        def f(): return 1
        ORIGIN = Point(0)
        TABLE = {"a": [1, 2], "b": (3, 4)}
        class Lazy(type(sys)):  # six's moves: a module subclass
            pass
        MOVES = Lazy("plain.moves")
    """,
    "ctype.py": "import array\nBUFFER = array.array('i', [1])\n",
    "thread.py": """
        import threading, time
        threading.Thread(target=time.sleep, args=(2,), daemon=True).start()
    """,
    "finalizer.py": """
        class Noisy:
            def __del__(self): pass
        KEEP = Noisy()
    """,
    "base.py": """
        import abc
        REGISTRY = []
        class K:
            pass
        class Interface(abc.ABC):
            pass
        OBJ = K()
    """,
    "later.py": """
        import logging, warnings
        import base
        base.REGISTRY.append("later")
        base.K.flag = True
        base.ADDED = 1
        base.Interface.register(base.K)
        class Sub(base.K):
            pass
        base.OBJ.__class__ = Sub  # an object changed in place
        logging.getLogger("plan_test_logger")
        warnings.simplefilter("ignore", category=UnicodeWarning, append=True)
    """,
    "exits.py": "import atexit\natexit.register(print)\n",
    "signals.py": "import signal\nsignal.signal(signal.SIGUSR2, signal.SIG_IGN)\n",
    "user.py": "from ctype import BUFFER\nfrom json import dumps\n",
    "optout.py": "__pycds_snapshot__ = False\nX = 1\n",
    "prints.py": "print('hello from a body')\n",
    # An object every attribute read of which raises (werkzeug's LocalProxy
    # outside a request), compared after each later body, and bound.
    "proxy.py": """
        class Proxy:
            __slots__ = ("_target",)
            def __init__(self):
                object.__setattr__(self, "_target", None)
            def __getattribute__(self, name):
                raise RuntimeError("working outside of a context")
        CURRENT = Proxy()
    """,
    "proxyuser.py": "from proxy import CURRENT\n",
    # Built-in methods bound to the body's objects and a cached function:
    # revived (getattr(self, name); an empty cache).
    "bound.py": """
        import functools, itertools, re
        iskeyword = frozenset(["if", "else"]).__contains__
        match = re.compile("a+").match
        tick = itertools.count().__next__
        @functools.lru_cache(maxsize=None)
        def square(x):
            return x * x
        square(3)
    """,
    # An ABC with a registered class: its registry's weak references and
    # their C callback are the reviver's, not objects of the body.
    "registers.py": """
        import abc
        class Shape(abc.ABC):
            pass
        class Square:
            pass
        Shape.register(Square)
        assert isinstance(Square(), Shape)
    """,
}

APP = """
import json, logging, warnings
import proxy
import reads, plain, ctype, thread, finalizer, base, later, exits, signals, user, optout
import prints
import proxyuser
import bound
import registers
"""


def plan_json(list_path: Path, *extra: str, cwd: Path | None = None,
              **env: str) -> dict[str, Any]:
    done = run(["-m", "pycds", "plan", "--list", str(list_path), "--json",
                *extra], cwd=cwd, **env)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plan")
    for name, text in MODULES.items():
        (root / name).write_text(textwrap.dedent(text))
    (root / "data.txt").write_text("data\n")
    (root / "listed").mkdir()
    (root / "listed" / "one").write_text("")
    (root / "app.py").write_text(APP)
    run(["app.py"], cwd=root, PYCDSMODE="TRACE", PYCDSLIST=str(root / "app.lst"),
        PLAN_TEST_PRESENT="yes")
    return root


@pytest.fixture(scope="module")
def plan(traced: Path) -> dict[str, dict[str, Any]]:
    whole = plan_json(traced / "app.lst", cwd=traced, PLAN_TEST_PRESENT="yes")
    return {m["name"]: m for m in whole["modules"]}


def test_inputs_of_each_kind_are_recorded(plan: dict[str, Any], traced: Path) -> None:
    inputs = plan["reads"]["record"]["inputs"]
    assert inputs["env"]["PLAN_TEST_PRESENT"] == "yes"
    assert inputs["env"]["PLAN_TEST_ABSENT"] is None  # read, and absent
    assert inputs["stat"][str(traced / "data.txt")] is True
    assert inputs["stat"]["/nonexistent/plan-test"] is False
    assert str(traced / "data.txt") in inputs["opened"]
    assert str(traced / "listed") in inputs["listed"]
    assert plan["reads"]["decision"] == "unit"
    # A body that reads nothing records nothing.
    assert plan["plain"]["record"]["inputs"]["env"] == {}
    assert plan["plain"]["record"]["inputs"]["opened"] == []


def test_plain_objects_make_a_unit(plan: dict[str, Any]) -> None:
    record = plan["plain"]["record"]
    assert plan["plain"]["decision"] == "unit", plan["plain"]["reason"]
    assert record["objects"]["builtins.type"] >= 1
    assert record["objects"]["builtins.function"] >= 2
    assert record["objects"]["plain.Point"] == 1
    assert record["objects"]["plain.Lazy"] == 1
    assert record["refusals"] == []


def test_unknown_c_type_is_refused_with_its_reason(plan: dict[str, Any]) -> None:
    assert plan["ctype"]["decision"] == "code"
    assert plan["ctype"]["reason"] == "object of C type array.array: no reviver"


def test_thread_started_in_a_body_is_refused(plan: dict[str, Any]) -> None:
    assert plan["thread"]["decision"] == "code"
    assert "a thread started" in plan["thread"]["record"]["refusals"]


def test_object_with_del_is_refused(plan: dict[str, Any]) -> None:
    assert plan["finalizer"]["decision"] == "code"
    assert plan["finalizer"]["reason"] == "observable end: finalizer.Noisy has __del__"


def ops_of(plan: dict[str, Any], name: str) -> list[tuple[str, str, str]]:
    """(op, target as text, key) of a module's operations."""
    found = []
    for op in plan[name]["record"]["operations"]:
        target = ".".join(str(step[1]) for step in op["target"])
        found.append((op["op"], target, op.get("key", "")))
    return found


def test_changes_to_earlier_objects_are_operations(plan: dict[str, Any]) -> None:
    ops = ops_of(plan, "later")
    assert ("append", "base.REGISTRY", "") in ops
    assert ("set_attr", "base.K", "flag") in ops
    assert ops.count(("set_attr", "base", "ADDED")) == 1  # each change once
    assert ("set_attr", "base.OBJ", "__class__") in ops
    registered = [op for op in plan["later"]["record"]["operations"]
                  if op["op"] == "add" and op["target"][-1] == ["abc_registry", 0]]
    assert [op["target"][:-1] for op in registered] == [
        [["module", "base"], ["attr", "Interface"]]]
    assert registered[0]["value"] == {  # an object of the earlier body
        "kind": "new", "type": "builtins.type", "owner": "base",
        "path": [["module", "base"], ["attr", "K"]]}
    assert any(op == "set_item" and target.endswith("manager.loggerDict")
               and key == "plan_test_logger" for op, target, key in ops), ops
    # warnings.filters is _warnings.filters: the same list, either name.
    assert any(op == "append" and target.endswith("warnings.filters")
               for op, target, _ in ops), ops
    appended = [op for op in plan["later"]["record"]["operations"]
                if op["op"] == "append" and op["target"][-1] == ["attr", "REGISTRY"]]
    assert appended[0]["value"] == {"kind": "literal", "repr": "'later'"}
    # The earlier module's own record has none of these.
    assert ops_of(plan, "base") == []


def test_hidden_c_state_change_is_refused(plan: dict[str, Any]) -> None:
    assert plan["signals"]["decision"] == "code"
    assert plan["signals"]["reason"] == "hidden C-level state changed: signal handlers"


def test_atexit_registration_is_no_hidden_change(plan: dict[str, Any]) -> None:
    # atexit.register is seen by the planner (a unit replays it), so the
    # count of callbacks growing is no refusal.
    assert plan["exits"]["decision"] == "unit", plan["exits"]["reason"]


def test_dependency_on_code_only_module_propagates(plan: dict[str, Any]) -> None:
    assert plan["user"]["decision"] == "code"
    assert plan["user"]["reason"] == "depends on ctype"
    bindings = {(b["module"], b["attribute"]) for b in plan["user"]["record"]["bindings"]}
    assert ("json", "dumps") in bindings and ("ctype", "BUFFER") in bindings


def test_body_that_prints_is_refused(plan: dict[str, Any]) -> None:
    assert plan["prints"]["decision"] == "code"
    assert plan["prints"]["reason"] == "wrote to standard output or error"
    assert plan["optout"]["record"]["refusals"] == []  # the next one did not


def test_objects_whose_attributes_raise_do_not_break_the_bodies(
        plan: dict[str, Any]) -> None:
    """The planner reads __slots__ through their descriptors and never lets
    its own failure reach a body: every module after the proxy still ran."""
    for name in ("proxy", "later", "prints", "proxyuser"):
        assert plan[name]["record"]["kind"] == "body", plan[name]["record"]
        assert plan[name]["record"]["error"] == "", plan[name]["record"]["error"]
    assert plan["proxy"]["decision"] == "unit", plan["proxy"]["reason"]


def test_an_abc_registry_is_no_refusal(plan: dict[str, Any]) -> None:
    assert plan["registers"]["decision"] == "unit", plan["registers"]["reason"]
    assert plan["registers"]["record"]["revivable"]["_abc._abc_data"] >= 1


def test_bound_builtin_methods_and_caches_are_revivable(
        plan: dict[str, Any]) -> None:
    assert plan["bound"]["decision"] == "unit", plan["bound"]["reason"]
    revivable = plan["bound"]["record"]["revivable"]
    # builtin_method on some versions for some methods: count them together.
    bound = sum(revivable.get(f"builtins.{kind}", 0) for kind in (
        "builtin_function_or_method", "builtin_method", "method-wrapper"))
    assert bound == 3, revivable
    assert revivable["functools._lru_cache_wrapper"] == 1


def test_marker_opts_a_module_out(plan: dict[str, Any]) -> None:
    assert plan["optout"]["decision"] == "code"
    assert plan["optout"]["reason"] == "opted out (__pycds_snapshot__ = False)"


def test_exclude_makes_code_only_and_propagates(traced: Path) -> None:
    whole = plan_json(traced / "app.lst", "--snapshot-exclude", "base",
                      cwd=traced, PLAN_TEST_PRESENT="yes")
    by_name = {m["name"]: m for m in whole["modules"]}
    assert by_name["base"]["decision"] == "code"
    assert by_name["base"]["reason"] == "excluded by --snapshot-exclude"
    assert by_name["later"]["reason"] == "depends on base"
    assert by_name["plain"]["decision"] == "unit"


def test_report_names_each_code_only_module(traced: Path) -> None:
    done = run(["-m", "pycds", "plan", "--list", str(traced / "app.lst")],
               cwd=traced, PLAN_TEST_PRESENT="yes")
    assert "snapshot: ctype: object of C type array.array: no reviver" in done.stdout
    assert "snapshot: user: depends on ctype" in done.stdout
    assert done.stdout.startswith("plan: ")


def test_bad_list_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "bad.lst").write_text("not a list\n")
    done = run(["-m", "pycds", "plan", "--list", str(tmp_path / "bad.lst")],
               check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("pycds: plan: ") and done.stderr.count("\n") == 1


def test_boto3_is_planned(tmp_path: Path) -> None:
    pytest.importorskip("boto3")
    (tmp_path / "b.py").write_text("import boto3\n")
    run(["b.py"], cwd=tmp_path, PYCDSMODE="TRACE", PYCDSLIST=str(tmp_path / "b.lst"))
    whole = plan_json(tmp_path / "b.lst", cwd=tmp_path)
    by_name = {m["name"]: m for m in whole["modules"]}
    for name in ("boto3", "botocore", "botocore.session"):
        assert by_name[name]["record"]["kind"] == "body"
        assert sum(by_name[name]["record"]["objects"].values()) > 0
    decided = [m for m in whole["modules"] if m["decision"] in ("unit", "code")]
    for m in decided:
        if m["decision"] == "code":
            assert m["reason"]
            if m["reason"].startswith("depends on "):
                assert by_name[m["reason"][len("depends on "):]]["decision"] == "code"
    revivable = Counter()
    for m in decided:
        revivable.update(m["record"]["revivable"])
    assert revivable["re.Pattern"] > 0 and revivable["_abc._abc_data"] > 0
    reasons = Counter(m["reason"] for m in decided if m["decision"] == "code"
                      and not m["reason"].startswith("depends on "))
    units = whole["units"]
    print(f"boto3: {units} of {len(decided)} modules would be units "
          f"({100 * units / len(decided):.1f}%); planned in {whole['seconds']:.1f} s")
    for reason, count in reasons.most_common(10):
        print(f"  {count:3} {reason}")

"""Paths and witnesses (pycds/ext/witness.h): how a snapshot unit names
what existed before its body, and what must still hold of it; the restore
finds each by its path and refuses the unit when it is gone or another."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import types
from typing import Any

import pytest

from pycds import _cds
from pycds import _snapshot_objects as objects
from pycds import _snapshot_restore as R


def helper() -> int:
    return 1


class Holder:
    value = 3

    def method(self) -> None:
        pass


PATTERN = re.compile("a+b", re.I)


def here() -> str:
    return __file__


@pytest.mark.parametrize("obj, expected", [
    (helper, ("builtins.function", "helper", __file__, helper.__code__.co_firstlineno)),
    (Holder, ("builtins.type", "Holder",
              ("builtins.object", Holder.__basicsize__, 0), "Holder")),
    (KeyError, ("builtins.type", "KeyError",
                ("builtins.KeyError", KeyError.__basicsize__, 0), None)),
    (len, ("builtins.builtin_function_or_method", "len")),
    (str.join, ("builtins.method_descriptor", "str.join")),
    (object.__init__, ("builtins.wrapper_descriptor", "object.__init__")),
    (PATTERN.search, (R._type_name(type(PATTERN.search)), "Pattern.search",
                      ("re.Pattern", "a+b", re.I | re.U))),
    ([].append, ("builtins.builtin_function_or_method", "list.append",
                 ("builtins.list", None))),
    (os, ("builtins.module", "os")),
    (3, ("builtins.int", None)),
    (Holder(), (f"{__name__}.Holder", None)),
])
def test_witness(obj: Any, expected: tuple[Any, ...]) -> None:
    assert _cds.witness(obj) == expected
    assert R.witness is _cds.witness  # one definition, dump and restore


def test_a_class_over_another_c_type_has_another_witness() -> None:
    """Same module, name and namespace, other layout: a dict subclass and
    a list subclass are told apart."""
    def made(base: type) -> type:
        return types.new_class("Base", (base,), exec_body=lambda ns: ns.update(
            __slots__=(), __module__=__name__))
    over_dict, over_list = made(dict), made(list)
    assert _cds.witness(over_dict)[:2] == _cds.witness(over_list)[:2]
    assert _cds.witness(over_dict)[2][0] == "builtins.dict"
    assert _cds.witness(over_list)[2][0] == "builtins.list"


def test_a_wrapped_function_has_another_witness() -> None:
    @functools.wraps(helper)
    def wrapper() -> int:
        return helper()
    assert wrapper.__qualname__ == helper.__qualname__
    assert _cds.witness(wrapper) != _cds.witness(helper)


def step(obj: Any, kind: str, arg: Any) -> Any:
    if kind == "getattr":
        return getattr(obj, arg)
    raise KeyError(kind)


def test_resolve_follows_namespaces_not_descriptors() -> None:
    me = sys.modules[__name__]
    assert _cds.resolve((("module", __name__), ("attr", "Holder"), ("attr", "value")), step) == 3
    assert _cds.resolve((("module", "os"), ("item", "sep")), step) == os.sep
    assert _cds.resolve((("module", __name__), ("attr", "Holder"),
                         ("getattr", "__name__")), step) == "Holder"
    assert _cds.resolve((("module", "sys"), ("attr", "path"), ("index", 0)), step) == sys.path[0]
    # An attribute a class inherits is not in its own namespace.
    with pytest.raises(KeyError):
        _cds.resolve((("module", __name__), ("attr", "Holder"), ("attr", "__init__")), step)
    with pytest.raises(KeyError):
        _cds.resolve((("module", "no.such.module"),), step)
    assert me.Holder is _cds.resolve((("module", __name__), ("attr", "Holder")), step)


def externals(*names: str) -> list[Any]:
    return [((("module", __name__), ("attr", name)),
             _cds.witness(getattr(sys.modules[__name__], name))) for name in names]


def test_resolve_externals_finds_checks_and_remembers(monkeypatch: pytest.MonkeyPatch) -> None:
    """What matched once is remembered for as long as `checked` keeps it
    (one import), and only while it holds: a function given another
    __qualname__ or __code__, or a class another __name__, within the same
    import is seen."""
    memo: list[Any] = []
    checked: dict[int, Any] = {}
    entries = externals("helper", "Holder")
    assert _cds.resolve_externals(entries, memo, checked, step) is None
    assert memo == [helper, Holder]
    assert _cds.resolve_externals(entries, [], checked, step) is None
    monkeypatch.setattr(helper, "__qualname__", "renamed")
    assert _cds.resolve_externals(entries, [], checked, step) == (0, True)
    monkeypatch.undo()
    monkeypatch.setattr(helper, "__code__", here.__code__)
    assert _cds.resolve_externals(entries, [], checked, step) == (0, True)
    monkeypatch.undo()
    assert _cds.resolve_externals(entries, [], checked, step) is None
    Holder.__name__ = "Renamed"  # (not monkeypatch: it would delete it after)
    try:
        assert _cds.resolve_externals(entries, [], checked, step) == (1, True)
    finally:
        Holder.__name__ = "Holder"


def test_resolve_externals_refuses_what_is_gone_or_another(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = externals("helper", "here")
    gone = entries + [((("module", __name__), ("attr", "absent")), ("builtins.int", None))]
    assert _cds.resolve_externals(gone, [], {}, step) == (2, False)
    checked: dict[int, Any] = {}
    assert _cds.resolve_externals(entries, [], checked, step) is None
    monkeypatch.setattr(sys.modules[__name__], "here", lambda: "patched")
    memo: list[Any] = []
    assert _cds.resolve_externals(entries, memo, checked, step) == (1, True)
    assert memo == [helper]


def test_resolve_externals_refuses_malformed_paths() -> None:
    """A path that is not one (a damaged unit: its checksum failed to say
    so) leads nowhere: the unit is refused, nothing crashes."""
    for path in [("module",), (), ("module", "os")]:
        assert _cds.resolve_externals([(path, None)], [], {}, step) == (0, False)
    with pytest.raises(TypeError):
        _cds.resolve_externals([("not a pair",)], [], {}, step)
    with pytest.raises(TypeError):
        _cds.resolve_externals((), [], {}, step)


class Settings:
    def __init__(self) -> None:
        self.level = 2
        self.name = "x"


SETTINGS = Settings()
TABLE = {"a": 1, "f": helper}
BIG = list(range(100))
HUGE = list(range(5_000))  # past what a digest looks at: its length


@pytest.mark.parametrize("value, expected", [
    (3, ("=", 3)),
    ("s", ("=", "s")),
    (None, ("=", None)),
    (HUGE, ("list", 5_000)),
    (os, ("builtins.module", "os")),
])
def test_digest(value: Any, expected: Any) -> None:
    assert _cds.digest(value) == expected
    assert R.digest is _cds.digest


def test_an_instances_digest_holds_its_class_state() -> None:
    """An instance: its witness, its attributes, and its class's state (a
    default a program sets on the class changes the digest)."""
    seen = _cds.digest(SETTINGS)
    assert seen[:2] == ("=class", ((f"{__name__}.Settings", None),
                                   (("level", ("=", 2)), ("name", ("=", "x")))))
    assert type(seen[2]) is bytes
    Settings.default = 1  # type: ignore[attr-defined]
    try:
        assert _cds.digest(SETTINGS) != seen
    finally:
        del Settings.default  # type: ignore[attr-defined]
    assert _cds.digest(SETTINGS) == seen


@pytest.mark.parametrize("value, name, same, different", [
    ([1, helper], "list", [1, helper], [helper, 1]),
    ((1,), "tuple", (1,), (True,)),
    (sys.version_info, "version_info", sys.version_info, ()),
    ({"a": 1}, "dict", {"a": 1}, {"a": 1.0}),
    (frozenset({1, "x"}), "frozenset", frozenset({"x", 1}), frozenset({1})),
    ({"é", "\U0001f600", 2**100}, "set", {2**100, "\U0001f600", "é"}, {"e", 2**100}),
])
def test_a_containers_digest_is_its_length_and_a_hash_of_its_items(
        value: Any, name: str, same: Any, different: Any) -> None:
    """(type name, length, 16 bytes): equal for a container whose items
    are the same plain values and witnesses (a set in any order), not for
    one that differs in any."""
    digest = _cds.digest(value)
    assert digest[:2] == (name, len(value))
    assert type(digest[2]) is bytes and len(digest[2]) == 16
    if type(same) is type(value):
        assert _cds.digest(same) == digest
    assert _cds.digest(different)[1:] != digest[1:]


def test_a_long_container_is_digested_by_its_items() -> None:
    """Hundreds of items are hashed (a digest of 16 bytes), not only
    counted: a program that changed one is seen."""
    kind, length, items = _cds.digest(BIG)
    assert (kind, length, len(items)) == ("list", 100, 16)


# check_reads' memo -> the memo of the same reads in the form units keep.
_HASHED_MEMOS: dict[int, dict[Any, Any]] = {}


def check_reads(bindings: list[Any], entries: list[Any], checked: dict[Any, Any]) -> Any:
    """_cds.check_reads' answer, once the form units keep gave the same one:
    absent names as they are, every other read by its digest's hash
    (R.hashed_reads, checked by _cds.check_hashed_reads), with a memo of
    its own that lives as long as `checked` does."""
    if not checked:
        _HASHED_MEMOS[id(checked)] = {}
    memo = _HASHED_MEMOS.setdefault(id(checked), {})
    kept, groups = R.hashed_reads(entries)
    failed = _cds.check_reads(bindings, kept, memo)
    if failed is not None:
        hashed = (failed[0],) + tuple((bindings, kept)[failed[0]][failed[1]][:2])
    else:
        found = _cds.check_hashed_reads(groups, memo)
        hashed = None if found is None else (
            1, groups[found[0]][0], groups[found[0]][1][found[1]])
    answer = _cds.check_reads(bindings, entries, checked)
    plain = None if answer is None else (
        (answer[0],) + tuple((bindings, entries)[answer[0]][answer[1]][:2]))
    assert hashed == plain
    return answer


def after_code(checked: dict[Any, Any]) -> bool:
    """_cds.memo_after_code's answer for `checked`, once the memo of the
    form units keep (check_reads) gave the same one."""
    hashed = _cds.memo_after_code(_HASHED_MEMOS.setdefault(id(checked), {}))
    answer = _cds.memo_after_code(checked)
    assert hashed == answer
    return answer


def reads(*names: str) -> list[Any]:
    me = sys.modules[__name__]
    return [(__name__, name, _cds.digest(getattr(me, name))) for name in names]


def test_check_reads_sees_what_a_program_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    bindings = [(__name__, "helper", _cds.witness(helper)), (__name__, "BIG", ("=", 7))]
    monkeypatch.setattr(sys.modules[__name__], "BIG", 7)
    checked: dict[int, Any] = {}
    entries = reads("SETTINGS", "TABLE", "helper")
    assert check_reads(bindings, entries, checked) is None
    monkeypatch.setattr(SETTINGS, "level", 3)  # an attribute it read
    assert check_reads(bindings, entries, checked) == (1, 0)
    monkeypatch.setattr(SETTINGS, "level", 2)
    monkeypatch.setitem(TABLE, "a", 5)  # an item it read
    assert check_reads(bindings, entries, checked) == (1, 1)
    monkeypatch.setitem(TABLE, "a", 1)
    monkeypatch.setattr(sys.modules[__name__], "helper", lambda: 2)  # a function it took
    assert check_reads(bindings, entries, checked) == (0, 0)
    monkeypatch.undo()
    assert check_reads([], [(__name__, "absent", ("=", 1))], {}) == (1, 0)
    assert check_reads([], [("no.such.module", "x", ("=", 1))], {}) == (1, 0)
    with pytest.raises(TypeError):
        _cds.check_reads([("too", "short")], [], {})  # (as it is)


def test_a_units_reads_are_kept_by_hash_and_checked_so() -> None:
    """Units keep a read's digest as its XXH3-64 (R.hashed_reads), absent
    names as they are; the hash of equal digests is one number, and a read
    that is gone, malformed or another value does not check."""
    entries = reads("SETTINGS", "TABLE", "helper") + [(__name__, "", (R.ABSENT_NAMES, ("nope",)))]
    kept, groups = R.hashed_reads(entries)
    assert kept == entries[3:]
    assert groups == [(__name__, ("SETTINGS", "TABLE", "helper"), b"".join(
        _cds.digest_hash(_cds.digest(v)).to_bytes(8, "little")
        for v in (SETTINGS, TABLE, helper)))]
    assert _cds.digest_hash(("=", "text")) == _cds.digest_hash(("=", "".join(["te", "xt"])))
    assert _cds.digest_hash(("=", 1)) != _cds.digest_hash(("=bool", True))
    assert _cds.check_hashed_reads(groups, {}) is None
    assert _cds.check_hashed_reads([("no.such.module", ("x",), bytes(8))], {}) == (0, 0)
    assert _cds.check_hashed_reads([groups[0], (__name__, ("absent",), bytes(8))], {}) == (1, 0)
    for malformed in ([(__name__, ("SETTINGS",), bytes(7))], [(__name__, "SETTINGS", bytes(8))],
                      [(__name__, (3,), bytes(8))], [(__name__,)]):
        with pytest.raises(TypeError):
            _cds.check_hashed_reads(malformed, {})


class Node:
    def __init__(self, value: int) -> None:
        self.value = value


TREE = Node(1)
TREE.child = Node(2)  # type: ignore[attr-defined]
TREE.child.child = Node(3)  # type: ignore[attr-defined]
TREE.itself = TREE  # type: ignore[attr-defined]
TREE.kind = Node  # type: ignore[attr-defined]


def test_a_dotted_read_goes_through_instances_dicts_only() -> None:
    """A read named "a.b.c" (an instance an instance holds) is found through
    each instance's own __dict__, as the planner followed it, and checked
    by the hash of what is there; through a class, a missing name or a
    module gone there is nothing, and a read there does not check."""
    default = object()
    assert _cds.read_value(__name__, "TREE.child.child", default) is TREE.child.child
    assert _cds.read_value(__name__, "TREE.itself.itself.child", default) is TREE.child
    assert _cds.read_value(__name__, "TREE", default) is TREE
    for gone in ("TREE.kind.__init__", "TREE.child.nope", "TREE.child.value.real",
                 "NOPE.child", "TREE..child", "TREE.child."):
        assert _cds.read_value(__name__, gone, default) is default, gone
    assert _cds.read_value("no.such.module", "TREE.child", default) is default
    seen = _cds.digest_hash(_cds.digest(TREE.child.child)).to_bytes(8, "little")
    groups = [(__name__, ("TREE.child.child",), seen)]
    assert _cds.check_hashed_reads(groups, {}) is None
    TREE.child.child.value = 4
    try:
        assert _cds.check_hashed_reads(groups, {}) == (0, 0)
    finally:
        TREE.child.child.value = 3
    assert _cds.check_hashed_reads([(__name__, ("TREE.kind.value",), seen)], {}) == (0, 0)
    for malformed in ((__name__, "TREE"), (__name__, 3, None), (3, "TREE", None)):
        with pytest.raises(TypeError):
            _cds.read_value(*malformed)


class Lazy(Node):
    made = 0

    def __getattr__(self, name: str) -> Node:
        Lazy.made += 1
        return Node(0)


class Guarded(Node):
    def __getattribute__(self, name: str) -> object:
        return object.__getattribute__(self, name)


class Described(Node):
    child = property(lambda self: Node(5))


class Masked(Node):
    @property  # type: ignore[misc]
    def __dict__(self) -> dict[str, object]:  # type: ignore[override]
        return {"child": Node(6)}


LAZY, GUARDED, DESCRIBED, MASKED = Lazy(1), Guarded(1), Described(1), Masked(1)
LAZY.child = GUARDED.child = MASKED.child = Node(2)  # type: ignore[attr-defined]
object.__getattribute__(DESCRIBED, "__dict__")["child"] = Node(2)  # behind the property


def test_a_dotted_read_takes_only_what_plain_python_takes_from_the_dict() -> None:
    """Each step of a dotted read is the instance's own dict, and only where
    plain Python's attribute lookup would take it from there: not through
    a __getattribute__ of Python or past a data descriptor of the class
    (nothing, so the read does not check), the dict itself rather than
    what a __dict__ property answers, and no __getattr__ called."""
    default = object()
    made = Lazy.made  # (pytest's collection asks module globals for markers)
    assert _cds.read_value(__name__, "LAZY.child", default) is LAZY.child
    assert _cds.read_value(__name__, "LAZY.absent", default) is default
    assert Lazy.made == made
    assert _cds.read_value(__name__, "GUARDED.child", default) is default
    assert _cds.read_value(__name__, "DESCRIBED.child", default) is default
    found = _cds.read_value(__name__, "MASKED.child", default)
    assert found is MASKED.child and found.value == 2 and vars(MASKED)["child"].value == 6


class Reordered:
    first = 1
    second = 2


def test_a_class_made_by_c_is_digested_in_the_order_of_its_names() -> None:
    """A class PyType_FromSpec made (pyo3 fills its namespace from a hash
    map, in another order in each process) is digested by its attributes
    in the order of their names; a class statement's in its own order."""
    made_by_c = pytest.importorskip("_testcapi").HeapCTypeSetattr
    for cls, c_made in ((made_by_c, True), (Reordered, False)):
        cls.zz_first, cls.zz_second = 1, 2
        try:
            before = _cds.digest(cls)
            del cls.zz_first  # the same attributes, in another order
            cls.zz_first = 1
            assert (_cds.digest(cls) == before) is c_made, cls
            cls.zz_first = 3
            assert _cds.digest(cls) != before
        finally:
            del cls.zz_first, cls.zz_second


NAN = float("nan")
NEGATIVE_ZERO = -0.0
FLAG = True


@pytest.mark.parametrize("name, was, holds", [
    ("NAN", float("nan"), True),  # != itself, yet the same value
    ("NAN", 0.0, False),
    ("NEGATIVE_ZERO", -0.0, True),
    ("NEGATIVE_ZERO", 0.0, False),  # == -0.0, but not the same value
    ("FLAG", True, True),
    ("FLAG", 1, False),  # == True, but repr and type differ
    ("FLAG", 1.0, False),
])
def test_plain_values_are_compared_as_values_not_by_equality(name: str, was: Any,
                                                             holds: bool) -> None:
    """A body that took or read a plain value sees the same value at restore
    only if it is the same value, not merely == to it: a nan matches
    itself, -0.0 is not 0.0, True is not 1."""
    assert (_cds.shallow(was) == _cds.shallow(getattr(sys.modules[__name__], name))) is holds
    expected = None if holds else (0, 0)
    assert check_reads([(__name__, name, _cds.shallow(was))], [], {}) == expected
    expected = None if holds else (1, 0)
    assert check_reads([], [(__name__, name, _cds.digest(was))], {}) == expected
    container = [(__name__, "TABLE", _cds.digest({"a": 1, "f": helper}))]
    assert check_reads([], container, {}) is None
    assert check_reads([], [(__name__, "TABLE", _cds.digest({"a": True, "f": helper}))],
                            {}) == (1, 0)


class Anonymous:
    pass


TWINS = {Anonymous(), Anonymous()}  # one witness for both
NANS = {float("nan"), float("nan")}  # one digest for both


@pytest.mark.parametrize("value, changed", [
    ({"a", "b", 1}, {"a", "b", 1.0}),
    ({"a", "b", 1}, {"a", "b", True}),
    ({"a", "b", 1}, {"a", "b"}),
    ({"a", "b", 1}, {"a", "b", 1, "c"}),
    (frozenset({-0.0}), frozenset({0.0})),
    (TWINS, TWINS | {helper}),
    (NANS, NANS | {1}),
    ([1, "a", None, helper], [1, "a", None]),
    ([1, "a", None, helper], [True, "a", None, helper]),
    ([1, "a", None, helper], [1, "a", None, Anonymous]),
    ((1, "a"), (1, "a", 2)),
    ({"a": 1, "f": helper}, {"a": 1.0, "f": helper}),
    ({"a": 1, "f": helper}, {"f": helper, "a": 1}),  # another order
    ({"a": 1, "f": helper}, {"a": 1}),
    (list(range(100)), list(range(101))),
    # A long one by its items too: the same length, one item changed.
    ({f"k{n}": n for n in range(300)}, {**{f"k{n}": n for n in range(300)}, "k7": -7}),
    (list(range(5_000)), list(range(5_001))),  # too long to look at: its length
    # Tables inside a table, within what a digest looks at over all.
    ({"a": list(range(1000)), "b": list(range(1000))},
     {"a": list(range(1000)), "b": [*range(500), -1, *range(501, 1000)]}),
    ({"db": {"host": "a"}}, {"db": {"host": "b"}}),  # two levels deep
    ([[1, 2], (3,)], [[1, 2], (4,)]),
    ((frozenset({1}),), (frozenset({2}),)),
])
def test_containers_match_their_own_digest_and_not_a_changed_one(value: Any,
                                                                  changed: Any) -> None:
    """check_reads compares a dict, list, tuple or set with a digest item
    by item, without building its digest; what it says is what comparing
    the digests says."""
    module = sys.modules[__name__]
    module.CONTAINER = value  # type: ignore[attr-defined]
    try:
        assert check_reads([], [(__name__, "CONTAINER", _cds.digest(value))], {}) is None
        stale = [(__name__, "CONTAINER", _cds.digest(changed))]
        assert (_cds.digest(changed) == _cds.digest(value)) is False
        assert check_reads([], stale, {}) == (1, 0)
    finally:
        del module.CONTAINER  # type: ignore[attr-defined]


def test_a_remembered_digest_is_forgotten_when_its_dict_changes() -> None:
    """check_reads digests a dict once per process while nothing changes
    it (re's tables, read by many units): any change, even one that keeps
    its length and keys, is seen by the next check with the same memory."""
    module = sys.modules[__name__]
    module.CONTAINER = {"a": 1, "b": "x"}  # type: ignore[attr-defined]
    entry = [(__name__, "CONTAINER", _cds.digest({"a": 1, "b": "x"}))]
    checked: dict[Any, Any] = {}
    try:
        for change in (lambda d: d.__setitem__("a", 2), lambda d: d.update(b="y"),
                       lambda d: d.pop("a"), lambda d: d.clear()):
            module.CONTAINER.clear()
            module.CONTAINER.update(a=1, b="x")
            assert check_reads([], entry, checked) is None
            assert check_reads([], entry, checked) is None  # remembered
            change(module.CONTAINER)
            assert check_reads([], entry, checked) == (1, 0)
        module.CONTAINER = frozenset({1, 2})  # type: ignore[attr-defined]
        entry = [(__name__, "CONTAINER", _cds.digest(frozenset({1, 2})))]
        assert check_reads([], entry, checked) is None
        module.CONTAINER = frozenset({1, 3})  # type: ignore[attr-defined]
        assert check_reads([], entry, checked) == (1, 0)
    finally:
        del module.CONTAINER  # type: ignore[attr-defined]


def test_digests_look_two_levels_deep_and_no_further() -> None:
    """A container's digest sees the items of the containers it holds (a
    dict of settings dicts), not those of the containers they hold; one
    that holds containers is digested again at every check, since only the
    outer one has a stamp."""
    inner = ["a"]
    module = sys.modules[__name__]
    module.CONTAINER = {"db": {"host": inner}}  # type: ignore[attr-defined]
    entry = [(__name__, "CONTAINER", _cds.digest(module.CONTAINER))]
    checked: dict[Any, Any] = {}
    try:
        assert check_reads([], entry, checked) is None
        inner[0] = "b"  # three levels down: not seen
        assert check_reads([], entry, checked) is None
        module.CONTAINER["db"]["port"] = 1  # two levels down
        assert check_reads([], entry, checked) == (1, 0)
    finally:
        del module.CONTAINER  # type: ignore[attr-defined]



class Base:
    greeting = "hi"

    def method(self) -> str:
        return "base"


class Derived(Base):
    pass


class Unrelated:
    value = 1


def counter() -> Any:
    seen: list[str] = []

    def count(item: str) -> int:
        seen.append(item)
        return len(seen)
    return count


COUNT = counter()


def with_default(x: int, cache: dict[int, int] = {}) -> int:  # noqa: B006
    return cache.setdefault(x, x)


def test_a_classs_read_holds_its_attributes_and_its_bases(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A class read is ("=state", witness, 16 bytes) over its own and its
    non-static bases' attributes: setting one on the class or a base is
    seen, on another class not; a static class is its witness."""
    digest = _cds.digest(Derived)
    assert digest[0] == "=state" and digest[1] == _cds.witness(Derived)
    assert type(digest[2]) is bytes and len(digest[2]) == 16
    assert _cds.digest(int) == _cds.witness(int)
    checked: dict[Any, Any] = {}
    reads = [(__name__, "Derived", digest)]
    assert check_reads([], reads, checked) is None
    monkeypatch.setattr(Unrelated, "value", 2)
    assert check_reads([], reads, checked) is None
    monkeypatch.setattr(Base, "method", lambda self: "patched")  # remembered before
    assert check_reads([], reads, checked) == (1, 0)
    monkeypatch.undo()
    assert check_reads([], reads, checked) is None
    monkeypatch.setattr(Derived, "greeting", "own")
    assert check_reads([], reads, checked) == (1, 0)


class LevelSetting:
    def __init__(self) -> None:
        self.level = 0


class Configured:
    CONF = LevelSetting()


class Annotated:
    def method(self, x: int) -> str:
        return str(x)


def test_code_that_ran_moves_the_memo_only_where_it_changed_a_reading(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where code other than the checks' may have run (memo_after_code),
    what the checks remembered of a class holds unless that code changed
    a part no stamp renews: a method's __doc__ or attributes, an instance
    the class holds (not a method's annotations made a dict by reading
    them).  Then it is forgotten, and the read fails."""
    checked: dict[Any, Any] = {}
    reads = [(__name__, "Derived", _cds.digest(Derived)),
             (__name__, "Configured", _cds.digest(Configured)),
             (__name__, "Annotated", _cds.digest(Annotated))]
    assert check_reads([], reads, checked) is None
    assert after_code(checked) is False
    # (annotations read, made a dict of the pairs the code left: the same)
    assert Annotated.method.__annotations__ == {"x": "int", "return": "str"}
    assert after_code(checked) is False
    changes = [(Base.method, "__doc__", "changed"), (Base.method, "mark", 1),
               (Configured.CONF, "level", 2)]
    for obj, name, value in changes:
        monkeypatch.setattr(obj, name, value, raising=False)
        assert after_code(checked) is True, name
        assert check_reads([], reads, checked) is not None, name
        monkeypatch.undo()
        assert after_code(checked) is True, name
        assert check_reads([], reads, checked) is None, name
        assert after_code(checked) is False, name


def test_a_functions_read_holds_its_closure_and_defaults() -> None:
    """A function reads as ("=state", witness, 16 bytes): a list in its
    cell by its items, a mutable default too, its code (of the same file
    and line too), whose globals it runs with, its annotations and
    __doc__."""
    plain = _cds.digest(helper)
    assert plain[:2] == ("=state", _cds.witness(helper)) and len(plain[2]) == 16
    other = types.FunctionType(helper.__code__.replace(co_consts=(2,)), helper.__globals__,
                               "helper")
    other.__qualname__ = "helper"
    assert _cds.witness(other) == _cds.witness(helper) and _cds.digest(other) != plain
    elsewhere = types.FunctionType(helper.__code__, {"__name__": __name__}, "helper")
    assert _cds.digest(elsewhere) != plain
    twin = types.FunctionType(helper.__code__, helper.__globals__, "helper")
    assert _cds.digest(twin) != plain  # no annotations: __annotations__ differs
    twin.__annotations__ = dict(helper.__annotations__)
    assert _cds.digest(twin) == plain
    twin.__doc__ = "documented"
    assert _cds.digest(twin) != plain
    before = _cds.digest(COUNT)
    assert before[0] == "=state" and before[1] == _cds.witness(COUNT)
    reads = [(__name__, "COUNT", before), (__name__, "with_default", _cds.digest(with_default))]
    assert check_reads([], reads, {}) is None
    with_default(7)
    assert check_reads([], reads, {}) == (1, 1)
    with_default.__defaults__[0].clear()  # type: ignore[index]
    COUNT("x")
    assert check_reads([], reads, {}) == (1, 0)


def test_a_digest_reads_stand_ins_and_substitutes() -> None:
    """stand_ins ({id: witness}): an attribute that stands for another is
    written as that one, or left out (None); substitutes ({id: object}): a
    container, or a class's attributes, read as another object."""
    class Plain:
        method = len  # (a Python method's stand-in says only its witness)

    real = Plain.__dict__["method"]
    plain = _cds.digest(Plain)

    def wrapper(self: Any) -> None:
        pass

    Plain.method = wrapper  # type: ignore[method-assign]
    assert _cds.digest(Plain) != plain
    assert _cds.digest(Plain, {id(wrapper): _cds.witness(real)}) == plain
    Plain.extra = lambda self: None  # type: ignore[attr-defined]
    assert _cds.digest(Plain, {id(wrapper): _cds.witness(real),
                               id(Plain.__dict__["extra"]): None}) == plain
    items = [1, 2]
    assert _cds.digest(items, None, {id(items): [1, 2, 3]}) == _cds.digest([1, 2, 3])
    attrs = dict(Plain.__dict__, added=1)
    assert _cds.digest(Plain, None, {id(Plain): attrs}) != plain
    with pytest.raises(TypeError):
        _cds.digest(items, [])


def test_a_remembered_instance_digest_is_forgotten_when_its_attributes_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """check_reads remembers an instance's digest while its __dict__ is the
    same dict, unchanged: a change to it, or another dict in its place, is
    seen by the next check with the same memory."""
    checked: dict[Any, Any] = {}
    entries = reads("SETTINGS")
    assert check_reads([], entries, checked) is None
    assert check_reads([], entries, checked) is None  # remembered
    monkeypatch.setattr(SETTINGS, "name", "y")
    assert check_reads([], entries, checked) == (1, 0)
    monkeypatch.undo()
    assert check_reads([], entries, checked) is None
    SETTINGS.__dict__ = {"level": 2, "name": "z"}
    try:
        assert check_reads([], entries, checked) == (1, 0)
    finally:
        SETTINGS.__dict__ = {"level": 2, "name": "x"}
    assert check_reads([], entries, checked) is None


def test_an_instances_own_dict_is_told_from_a_dict_property() -> None:
    """A unit writes an instance's attributes from its own dict, and a
    dotted read follows one: a class whose __dict__ is type.__new__'s or a
    C type's (six's lazy modules subclass ModuleType) has it, one that put
    a property there does not."""
    class LazyModule(type(sys)):  # type: ignore[misc]
        pass

    assert objects.own_dict_attribute(Node) and objects.own_dict_attribute(LazyModule)
    assert objects.own_dict_attribute(Lazy) and objects.own_dict_attribute(object)
    assert not objects.own_dict_attribute(Masked)
    assert not objects.own_dict_attribute(type("Sub", (Masked,), {}))


def test_a_read_kept_under_another_path_must_find_the_same_object() -> None:
    """check_same (H_SAME): each (module, read name, memo index) must find
    memo[index] itself, through a dotted name too; an equal object, a name
    gone or a module gone does not do; a malformed entry is an error."""
    memo = [None, TREE.child, TREE, SETTINGS]
    same = [(__name__, "TREE.child", 1), (__name__, "TREE.itself", 2), (__name__, "SETTINGS", 3)]
    assert _cds.check_same(same, memo) is None
    assert _cds.check_same(same, [None, Node(2), TREE, SETTINGS]) == 0
    assert _cds.check_same([(__name__, "TREE.nope", 2)], memo) == 0
    assert _cds.check_same([("no.such.module", "TREE", 2)], memo) == 0
    for malformed in ([(__name__, "TREE", 9)], [(__name__, "TREE", -1)], [(__name__, "TREE")],
                      [(__name__, 3, 1)], [(__name__, "TREE", "1")]):
        with pytest.raises(TypeError):
            _cds.check_same(malformed, memo)
    with pytest.raises(TypeError):
        _cds.check_same(tuple(same), memo)


def test_a_digest_of_hostile_objects_raises_or_answers_and_never_crashes() -> None:
    """A class whose metaclass's __getattribute__ deletes an attribute of
    the instance being digested (the witness runs it): a RuntimeError, not
    a tuple with empty places that crashed the hash.  A chain of 300,000
    methods each bound to the next: answered, not a stack overflow."""
    holder = types.SimpleNamespace()

    class Meta(type):
        def __getattribute__(cls, name: str) -> Any:
            if name == "__qualname__":
                vars(holder).pop("b", None)
            return super().__getattribute__(name)

    class K(metaclass=Meta):
        pass

    class S:
        pass

    obj = S()
    obj.a, obj.b = K, 1
    holder = obj
    with pytest.raises(RuntimeError, match="dict changed size during a digest"):
        _cds.digest(obj)
    chain: Any = print
    for _ in range(300_000):
        chain = types.MethodType(print, chain)
    assert isinstance(_cds.digest(chain), tuple)


CELL_EMPTIED_BY_A_WITNESS = """
from pycds import _cds
def make(v):
    def f():
        return v
    return f
fn = make(None)
cell = fn.__closure__[0]
class Emptying:
    def __str__(self):
        cell.cell_contents = None
        return "elsewhere"
class C:
    pass
C.__module__ = Emptying()
cell.cell_contents = C()
form = _cds.shallow(fn)
print(form[1][0], form[1][1][0].split(".")[0], cell.cell_contents)
"""


def test_a_closure_whose_cell_a_witness_empties_is_read_safely() -> None:
    """A closure's form reads what its cell holds while a witness may run
    Python code: a class whose __module__ is no str has its __str__ run,
    which here empties the cell, freeing the only reference to what the
    cell held.  A review found it read after it was freed: with the debug
    allocator, which fills freed memory, the process crashed."""
    done = subprocess.run([sys.executable, "-c", CELL_EMPTIED_BY_A_WITNESS],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONMALLOC": "debug"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "=cells elsewhere None\n", done.stdout

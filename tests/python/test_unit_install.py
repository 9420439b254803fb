"""The last steps of a restore, in C (pycds/ext/unit.h): the code objects a
unit names by their place in the module's code, and the module's namespace
put in the body's order with what the import system set kept."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from pycds import _cds
from pycds import _snapshot_restore as R

SOURCE = """
def outer():
    def inner():
        pass
    return inner
class K:
    def method(self):
        pass
"""


def code_tree() -> Any:
    return compile(SOURCE, "<unit>", "exec")


def const_index(code: Any, name: str) -> int:
    return next(i for i, c in enumerate(code.co_consts)
                if getattr(c, "co_name", None) == name)


def test_unit_codes_follows_paths_into_co_consts() -> None:
    code = code_tree()
    outer = const_index(code, "outer")
    inner = const_index(code.co_consts[outer], "inner")
    memo: list[Any] = ["first"]
    _cds.unit_codes(code, [(), (outer,), (outer, inner)], memo)
    assert memo[0] == "first"
    assert memo[1] is code
    assert memo[2] is code.co_consts[outer]
    assert memo[3] is code.co_consts[outer].co_consts[inner]


@pytest.mark.parametrize("path", [(99,), (-1,), (0, 0, 0, 0)])
def test_unit_codes_refuses_a_path_to_no_code(path: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        _cds.unit_codes(code_tree(), [path], [])


def test_unit_install_orders_keeps_and_reads_fresh_values() -> None:
    spec, loader = object(), object()
    namespace = {"__name__": "m", "__spec__": spec, "__loader__": loader,
                 "__file__": "/m.py"}
    items = [("__name__", R.KEEP), ("__doc__", None), ("__spec__", R.KEEP),
             ("__path__", R.KEEP), ("f", len), ("pid", R.Fresh("os.getpid"))]
    _cds.unit_install(namespace, items, R.KEEP, R.Fresh)
    import os
    assert list(namespace.items()) == [
        ("__name__", "m"), ("__doc__", None), ("__spec__", spec), ("f", len),
        ("pid", os.getpid()), ("__loader__", loader), ("__file__", "/m.py")]


def test_unit_install_checks_items_before_changing_anything() -> None:
    namespace = {"a": 1}
    with pytest.raises(TypeError):
        _cds.unit_install(namespace, [("b", 2), ("not a pair",)], R.KEEP, R.Fresh)
    assert namespace == {"a": 1}


def test_lean_unit_keeps_only_the_memo_entries_read_again() -> None:
    """The dump drops memo entries no later opcode reads (pickle memoizes
    every object it writes); identity between pickles of one stream, and
    the fixed memo of the preamble, survive."""
    import io
    import pickle
    import pickletools

    from pycds import _snapshot_unit as U

    shared = ["shared"]
    fixed = [object(), object()]
    stream = io.BytesIO()
    stream.write(R.memo_preamble(len(fixed)))
    pickler = pickle.Pickler(stream, protocol=5)
    pickler.memo = {id(obj): (index, obj) for index, obj in enumerate(fixed)}
    pickler.dump((shared, [1, 2], "once", fixed[1]))
    pickler.dump((shared, ("a", "b"), fixed[0]))
    unit = R.join_unit(b"process", b"header", stream.getvalue())
    lean = U.lean_unit(unit)
    assert U.lean_unit(lean) == lean

    def loads(data: bytes) -> list[Any]:
        _, process, head, end = R.split_unit(data)
        assert (process, head) == (b"process", b"header")
        class Reader(pickle.Unpickler):  # (3.13: settable on a subclass)
            pass
        reader = Reader(io.BytesIO(data[end:]))
        reader.persistent_load = fixed.__getitem__
        reader.load()
        return [reader.load(), reader.load()]

    def memoized(data: bytes) -> int:
        source = io.BytesIO(R.split_unit(data)[0][R.split_unit(data)[3]:])
        count = 0
        while source.tell() < len(source.getbuffer()):
            count += sum(op.name == "MEMOIZE" for op, _, _ in pickletools.genops(source))
        return count

    for data in (unit, lean):
        first, second = loads(data)
        assert first[0] is second[0] and first[0] == ["shared"]
        assert first[3] is fixed[1] and second[2] is fixed[0]
        assert first[1:3] == ([1, 2], "once") and second[1] == ("a", "b")
    assert memoized(lean) == len(fixed) + 1  # the preamble's, and shared
    assert memoized(unit) > memoized(lean)


def test_lean_unit_reads_a_persistent_id_named_again_from_the_memo() -> None:
    """A string of code is a persistent id each time the pickler meets it;
    the lean unit loads it once, memoized, then reads the memo (one call
    of persistent_load per string, not per mention)."""
    import io
    import pickle

    from pycds import _snapshot_unit as U

    strings = ["alpha", "beta"]

    class Writer(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            return next((i for i, s in enumerate(strings) if s is obj), None)

    stream = io.BytesIO()
    stream.write(R.memo_preamble(0))
    writer = Writer(stream, protocol=5)
    writer.dump([strings[0], strings[1], strings[0]])
    writer.dump({strings[0]: 1})
    lean = U.lean_unit(R.join_unit(b"p", b"h", stream.getvalue()))
    assert U.lean_unit(lean) == lean
    _, _, _, end = R.split_unit(lean)
    calls: list[int] = []

    class Reader(pickle.Unpickler):
        def persistent_load(self, pid: Any) -> Any:
            calls.append(pid)
            return strings[pid]

    reader = Reader(io.BytesIO(R.split_unit(lean)[0][end:]))
    reader.load()
    first, second = reader.load(), reader.load()
    assert first == ["alpha", "beta", "alpha"] and second == {"alpha": 1}
    assert all(x is strings[0] for x in (first[0], first[2], *second))
    assert sorted(calls) == [0, 1]


def test_unit_strings_names_strings_of_code_by_slot() -> None:
    code = compile("import os\nx = 'constant'\n", "<unit>", "exec")
    names, consts = code.co_names, code.co_consts
    memo: list[Any] = ["before", code]

    def pairs(*numbers: int) -> bytes:
        return b"".join(n.to_bytes(4, "little") for n in numbers)

    spelled = "".join(["__na", "me__"])  # equal to an interned str, not it
    assert not _cds.is_interned(spelled) and _cds.is_interned("__name__")
    found = _cds.unit_strings(memo, 1, pairs(0, 2 * names.index("x"),
                                             0, 2 * consts.index("constant") + 1),
                              [spelled])
    assert found[0] is names[names.index("x")]
    assert found[1] is consts[consts.index("constant")]
    assert found[2] is sys.intern("__name__")
    for bad in (pairs(1, 0), pairs(0, 999), pairs(0, 2 * consts.index(None) + 1),
                pairs(0), pairs(0xFFFFFFFF, 0)):
        with pytest.raises(ValueError):
            _cds.unit_strings(memo, 1, bad, [])
    with pytest.raises(ValueError):
        _cds.unit_strings(memo, 3, pairs(0, 0), [])
    with pytest.raises(ValueError):
        _cds.unit_strings(memo, 1, b"", [b"not a str"])

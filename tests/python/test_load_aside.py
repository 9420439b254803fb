"""An extension module loaded for pycds's own use (pycds/ext/aside.h): made
while sys.modules holds stand-ins, then sys.modules exactly as it was,
whether the module loaded or not.  (That no other thread sees the
stand-ins meanwhile: test_snapshot_restore.py,
test_other_threads_never_see_the_unpicklers_stand_ins.)"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pycds import _cds
from pycds import _snapshot_restore as R

ABSENT = "pycds_test_absent_module"


def stand_in(name: str, **attributes: object) -> ModuleType:
    module = ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def entries(*names: str) -> dict[str, object]:
    return {name: sys.modules.get(name, ABSENT) for name in names}


def pickle_stand_ins() -> dict[str, ModuleType]:
    return {"functools": stand_in("functools", partial=None),
            "copyreg": stand_in("copyreg", **{t: {} for t in R.COPYREG_TABLES}),
            "_compat_pickle": stand_in("_compat_pickle",
                                       **{t: {} for t in R.COMPAT_TABLES}),
            ABSENT: stand_in(ABSENT)}


def test_the_module_is_made_and_sys_modules_is_put_back() -> None:
    spec = importlib.util.find_spec("_pickle")
    assert spec is not None
    names = ("functools", "copyreg", "_compat_pickle", "_pickle", ABSENT)
    before = entries(*names)
    made = _cds.load_aside(spec, pickle_stand_ins())
    assert entries(*names) == before
    assert all(sys.modules.get(n, ABSENT) is before[n] for n in names)
    assert ABSENT not in sys.modules
    assert made.loads(made.dumps([1, "two", (3.0,)])) == [1, "two", (3.0,)]
    if sys.version_info >= (3, 12):  # one _pickle per import: ours is apart
        assert made is not sys.modules.get("_pickle")


def test_a_failed_load_puts_sys_modules_back(tmp_path: Path) -> None:
    broken = tmp_path / "pycds_broken_ext.so"
    broken.write_bytes(b"not a shared object")
    spec = importlib.util.spec_from_file_location(
        "pycds_broken_ext", broken,
        loader=importlib.machinery.ExtensionFileLoader("pycds_broken_ext", str(broken)))
    assert spec is not None
    names = ("functools", "copyreg", "_compat_pickle", "pycds_broken_ext", ABSENT)
    before = entries(*names)
    with pytest.raises(ImportError):
        _cds.load_aside(spec, pickle_stand_ins())
    assert all(sys.modules.get(n, ABSENT) is before[n] for n in names)
    assert ABSENT not in sys.modules and "pycds_broken_ext" not in sys.modules


@pytest.mark.parametrize("args", [(), (None,), (None, [])])
def test_bad_arguments_are_refused(args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):
        _cds.load_aside(*args)


def test_a_stand_in_named_by_no_str_is_refused() -> None:
    spec = importlib.util.find_spec("_pickle")
    before = dict(sys.modules)
    with pytest.raises(TypeError):
        _cds.load_aside(spec, {1: stand_in("one")})
    assert sys.modules == before


def test_call_aside_calls_with_the_stand_ins_then_puts_them_back() -> None:
    names = ("typing", ABSENT)
    before = entries(*names)
    seen = _cds.call_aside({"typing": stand_in("typing", marker=1), ABSENT: stand_in(ABSENT)},
                           lambda *args, **kwargs: (sys.modules["typing"].marker,
                                                    ABSENT in sys.modules, args, kwargs),
                           1, 2, key="value")
    assert seen == (1, True, (1, 2), {"key": "value"})
    assert all(sys.modules.get(n, ABSENT) is before[n] for n in names)


def test_call_aside_puts_them_back_when_the_call_raises() -> None:
    before = entries("typing", ABSENT)

    def fail() -> None:
        raise LookupError("inside")
    with pytest.raises(LookupError, match="inside"):
        _cds.call_aside({"typing": stand_in("typing"), ABSENT: stand_in(ABSENT)}, fail)
    assert all(sys.modules.get(n, ABSENT) is before[n] for n in before)


@pytest.mark.parametrize("args", [(), ({},), ([], len)])
def test_call_aside_refuses_bad_arguments(args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):
        _cds.call_aside(*args)


def test_first_argument_returns_what_it_is_given() -> None:
    value = object()
    assert _cds.first_argument(value, "Bound must be a type.") is value
    with pytest.raises(TypeError):
        _cds.first_argument()

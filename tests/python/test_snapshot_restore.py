"""Snapshot restore (issue 13, stage 2a), black-box: a small project is
traced, dumped with --snapshot, then run plainly and under SHARE.  Each
test asserts both that the modules it is about were restored (the
`pycds: snapshot: NAME: restored` line, so a restore that silently falls
back to the code fails) and that the program's output equals plain
Python's.  Modules never print (a body that prints is code only): app.py
prints what it checks, one `SECTION: ...` line per fact."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import backdate, decisions, run, write_project
from pycds._snapshot_restore import UNIT_MAGIC

# --------------------------------------------------------------------------
# Helpers


@dataclass
class Snap:
    root: Path
    list_path: Path
    archive: Path
    dump_output: str
    env: dict[str, str]

    def _env(self, env: dict[str, str | None]) -> dict[str, str]:
        """The dump's environment with env over it (None: unset)."""
        merged = {**self.env, **env}
        return {k: v for k, v in merged.items() if v is not None}

    def plain(self, args: list[str], check: bool = True,
              **env: str | None) -> subprocess.CompletedProcess:
        return run(args, cwd=self.root, check=check, **self._env(env))

    def share(self, args: list[str], check: bool = True, verbose: str = "1",
              **env: str | None) -> subprocess.CompletedProcess:
        return run(args, cwd=self.root, check=check, PYCDSMODE="SHARE",
                   PYCDSARCHIVE=str(self.archive), PYCDSVERBOSE=verbose,
                   **self._env(env))


def snapshot_project(root: Path, modules: dict[str, str], args: list[str],
                     dump_args: tuple[str, ...] = (), **env: str) -> Snap:
    """Write modules under root, trace `python args`, dump with --snapshot."""
    write_project(root, modules)
    backdate(root)
    list_path = root / "app.lst"
    archive = root / "app.img"
    run(args, cwd=root, PYCDSMODE="TRACE", PYCDSLIST=str(list_path), **env)
    dumped = run(["-m", "pycds", "dump", "--list", str(list_path), "--archive",
                  str(archive), "--snapshot", "--snapshot-all", *dump_args], cwd=root, **env)
    assert "snapshot: " in dumped.stdout, dumped.stdout
    return Snap(root, list_path, archive, dumped.stdout, dict(env))


def snapshot_lines(stderr: str) -> dict[str, str]:
    """{module: 'restored' or 'code (why)'} of the PYCDSVERBOSE=1 lines."""
    return decisions(stderr, "snapshot:")


def restored(stderr: str) -> list[str]:
    """The modules restored, in the order of their lines."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("pycds: snapshot: ") and line.endswith(": restored"):
            out.append(line[len("pycds: snapshot: "):-len(": restored")])
    return out


def code_only(dump_output: str) -> dict[str, str]:
    """{module: reason} of the dump's `snapshot: NAME: REASON` lines."""
    found = {}
    for line in dump_output.splitlines():
        if line.startswith("snapshot: ") and ": " in line[len("snapshot: "):]:
            name, _, why = line[len("snapshot: "):].partition(": ")
            found[name] = why
    return found


def section(stdout: str, name: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(name + ": ")]


def assert_restored(done: subprocess.CompletedProcess, *names: str,
                    dump_output: str = "") -> None:
    lines = snapshot_lines(done.stderr)
    refused = code_only(dump_output)
    for name in names:
        assert lines.get(name) == "restored", (
            f"{name}: {lines.get(name, 'no snapshot line')}; at dump: "
            f"{refused.get(name, 'a unit')}\n{done.stderr}")


@dataclass
class Runs:
    snap: Snap
    plain: subprocess.CompletedProcess
    share: subprocess.CompletedProcess

    def same(self, name: str, *modules: str) -> None:
        """Modules restored, and SECTION's lines equal to plain's."""
        assert_restored(self.share, *modules, dump_output=self.snap.dump_output)
        expected = section(self.plain.stdout, name)
        assert expected, f"no {name} lines in plain output:\n{self.plain.stdout}"
        assert section(self.share.stdout, name) == expected


def same_as_plain(snap: Snap, *modules: str) -> subprocess.CompletedProcess:
    """The modules are units that restore, and the app's output is plain
    Python's; plain's run, for what else a test looks at."""
    refused = code_only(snap.dump_output)
    assert not set(modules) & set(refused), snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, *modules, dump_output=snap.dump_output)
    assert share.stdout == plain.stdout, share.stderr
    return plain


def restored_then_patched(snap: Snap, module: str, expected: str, patched: str) -> None:
    """`module` is a unit, restores, and the app prints `expected` as plain
    does; run with `patch` (the app first changes what the module's body
    used), the body runs and it prints `patched`, as plain does."""
    assert module not in code_only(snap.dump_output), snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, module, dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == expected, share.stderr
    plain, share = snap.plain(["app.py", "patch"]), snap.share(["app.py", "patch"])
    assert share.stdout == plain.stdout == patched, share.stderr
    assert snapshot_lines(share.stderr).get(module, "").startswith("code"), share.stderr


def code_when_changed(snap: Snap, args: list[str], reasons: dict[str, str],
                      **env: str | None) -> subprocess.CompletedProcess:
    """Run as the program changed things (args, env, or files edited
    before): each module of reasons runs its body, its line giving exactly
    that reason, and the output is plain Python's; the share run, for what
    else a test looks at."""
    plain, share = snap.plain(args, **env), snap.share(args, **env)
    lines = snapshot_lines(share.stderr)
    for module, why in reasons.items():
        assert lines.get(module) == f"code ({why})", (module, share.stderr)
    assert share.stdout == plain.stdout, share.stderr
    return share


def runs(snap: Snap, args: list[str] | None = None, **env: str | None) -> Runs:
    args = args or ["app.py"]
    return Runs(snap, snap.plain(args, **env), snap.share(args, **env))


# The app's frame: each check imports its module and yields its lines; an
# exception is a line too, so that one broken check leaves the others.
APP_HEAD = """
import sys

def check(name, fn):
    try:
        for line in fn():
            print(f"{name}: {line}")
    except BaseException as error:
        print(f"{name}: ERROR {type(error).__name__}: {error}")
"""

# --------------------------------------------------------------------------
# 1. Revivers: restored objects behave as the plain ones.

REVIVERS = {
    "rv_re.py": """
        import re
        WORD = re.compile(r"(?P<word>[a-z]+)-(?P<num>\\d+)|(x)", re.I | re.M)
        BYTES = re.compile(rb"\\s+")
        SUB = WORD.sub
    """,
    "rv_lock.py": """
        import threading
        LOCK = threading.Lock()
        RLOCK = threading.RLock()
        class Guarded:
            lock = threading.Lock()
    """,
    "rv_cache.py": """
        import functools
        @functools.lru_cache(maxsize=32)
        def square(x):
            return x * x
        @functools.lru_cache(maxsize=None)
        def cube(x):
            return x * x * x
        @functools.cache
        def ident(x):
            return x
    """,
    "rv_typevar.py": """
        from typing import TypeVar
        T = TypeVar("T", bound=int)
        S = TypeVar("S", str, bytes)
        K = TypeVar("K", covariant=True)
        def first(xs: "list[T]") -> T:
            return xs[0]
    """,
    "rv_generic.py": """
        from typing import Generic
        from rv_typevar import T
        class Box(Generic[T]):
            def __init__(self, item: T) -> None:
                self.item = item
    """,
    "rv_weak.py": """
        import weakref
        class Thing:
            def __init__(self, name):
                self.name = name
        DIED = []
        KEPT = Thing("kept")
        DOOMED = Thing("doomed")
        REF = weakref.ref(KEPT)
        CALLBACK_REF = weakref.ref(DOOMED, lambda ref: DIED.append("doomed"))
        VALUES = weakref.WeakValueDictionary()
        VALUES["kept"] = KEPT
        VALUES["doomed"] = DOOMED
        KEYS = weakref.WeakKeyDictionary({KEPT: 1})
        SET = weakref.WeakSet([KEPT, DOOMED])
    """,
    "rv_nt.py": """
        from collections import namedtuple
        Point = namedtuple("Point", "x y")
        Point3 = namedtuple("Point3", ["x", "y", "z"], defaults=[0])
        ORIGIN = Point(0, 0)
        P = Point3(1, 2)
    """,
    "rv_coll.py": """
        from collections import OrderedDict, defaultdict, deque, Counter, ChainMap
        OD = OrderedDict(a=1, b=2, c=3)
        OD.move_to_end("a")
        DD = defaultdict(list)
        DD["x"].append(1)
        DQ = deque([1, 2, 3], maxlen=4)
        DQ.appendleft(0)
        COUNTS = Counter("abracadabra")
        CHAIN = ChainMap({"a": 1}, {"a": 2, "b": 3})
    """,
    "rv_partial.py": """
        import functools
        def join(*parts, sep="-"):
            return sep.join(parts)
        BINARY = functools.partial(int, base=2)
        DASHED = functools.partial(join, "a", sep="+")
        NESTED = functools.partial(DASHED, "b")
    """,
    "rv_descr.py": """
        class C:
            def __init__(self):
                self._x = 1
            @property
            def x(self):
                return self._x
            @x.setter
            def x(self, value):
                self._x = value * 10
            @classmethod
            def make(cls):
                return cls.__name__
            @staticmethod
            def add(a, b):
                return a + b
            counted = property(lambda self: 99, doc="a lambda property")
    """,
    "rv_proxy.py": """
        import types
        _BACKING = {"a": 1}
        VIEW = types.MappingProxyType(_BACKING)
        CLASS_VIEW = type("K", (), {"attr": 5}).__dict__
    """,
    "rv_count.py": """
        import itertools
        COUNTER = itertools.count(5, 2)
        FIRST = next(COUNTER)
        FLOATS = itertools.count(0.5)
    """,
    "rv_ns.py": """
        import types
        NS = types.SimpleNamespace(a=1, b=[2, 3])
        NS.c = "c"
    """,
    "rv_enum.py": """
        import enum
        class Color(enum.Flag):
            RED = 1
            GREEN = 2
            BLUE = 4
            WHITE = RED | GREEN | BLUE
        class Num(enum.IntEnum):
            ONE = 1
            TWO = 2
            UNO = 1
        class Kind(enum.Enum):
            B = "b"
            A = "a"
            def describe(self):
                return f"kind {self.value}"
        class Auto(enum.Enum):
            X = enum.auto()
            Y = enum.auto()
        FAVOURITE = Color.RED | Color.BLUE
    """,
    "rv_dc.py": """
        import dataclasses
        from dataclasses import dataclass, field
        @dataclass
        class Point:
            x: int
            y: int = 0
            tags: list = field(default_factory=list)
        @dataclass(frozen=True, order=True)
        class Frozen:
            a: int
            b: str = "b"
        @dataclass(slots=True)
        class Slotted:
            v: int
        ORIGIN = Point(0)
    """,
    "rv_abc.py": """
        import abc
        class Shape(abc.ABC):
            @abc.abstractmethod
            def area(self): ...
            def describe(self):
                return f"{type(self).__name__} of area {self.area()}"
        class Square(Shape):
            def __init__(self, side):
                self.side = side
            def area(self):
                return self.side ** 2
        class Virtual:
            def area(self):
                return 0
        Shape.register(Virtual)
        class Sized(abc.ABC):
            @classmethod
            def __subclasshook__(cls, other):
                return True if hasattr(other, "size") else NotImplemented
    """,
    # __init_subclass__ and __subclasses__(): the base is in one module, the
    # subclasses in two others.
    "rv_base.py": """
        REGISTRY = []
        class Plugin:
            def __init_subclass__(cls, key=None, **kwargs):
                super().__init_subclass__(**kwargs)
                REGISTRY.append((cls.__name__, key))
        class Local(Plugin, key="local"):
            pass
    """,
    "rv_tree.py": """
        class A: pass
        class B(A): pass
        class C(A): pass
        class D(A): pass
        class E(B): pass
        class MyError(ValueError): pass
    """,
    "rv_tree2.py": """
        import rv_tree
        class Z(rv_tree.A):
            pass
        class Y(rv_tree.B, rv_tree.C):
            pass
        class OtherError(rv_tree.MyError): pass
    """,
    "rv_plugins.py": """
        from rv_base import Plugin
        class First(Plugin, key="first"):
            pass
        class Second(Plugin):
            pass
    """,
    "rv_plugins2.py": """
        import rv_base
        class Third(rv_base.Plugin, key="third"):
            pass
    """,
    "rv_slots.py": """
        class S:
            __slots__ = ("a", "b")
            def __init__(self):
                self.a = 1
        class T(S):
            __slots__ = ("c", "__dict__")
        OBJ = S()
        TOBJ = T()
        TOBJ.c = 3
        TOBJ.extra = "extra"
    """,
    "rv_values.py": """
        class MyInt(int):
            def double(self):
                return MyInt(self * 2)
        class MyStr(str):
            def shout(self):
                return self.upper() + "!"
        class MyTuple(tuple):
            @property
            def head(self):
                return self[0]
        class MyList(list): pass
        class MyDict(dict):
            def __missing__(self, key):
                return f"missing {key}"
        I = MyInt(5)
        I.tag = "five"
        STR = MyStr("hello")
        TUP = MyTuple((1, 2, 3))
        LIST = MyList([1, 2])
        LIST.note = "n"
        DICT = MyDict(a=1)
        BIG = 10 ** 40
        FLOAT = float("1.5")
        COMPLEX = 1 + 2j
        FROZEN = frozenset({1, 2})
        RAW = bytearray(b"ab")
    """,
    "rv_closures.py": """
        def make_counter(start):
            count = start
            def inc(step=1):
                nonlocal count
                count += step
                return count
            def get():
                return count
            return inc, get
        INC, GET = make_counter(10)
        INC()
        def outer():
            x = "outer"
            def middle():
                def inner():
                    return x
                return inner
            return middle()
        INNER = outer()
        LAMBDAS = [lambda i=i: i * i for i in range(3)]
        class WithSuper:
            def who(self):
                return __class__.__name__
        class Child(WithSuper):
            def who(self):
                return "child of " + super().who()
    """,
    "rv_funcs.py": """
        def f(a: int, b: str = "b", *args, c: float = 1.5, d=None, **kw) -> str:
            '''The doc of f.'''
            return f"{a}{b}{args}{c}{d}{kw}"
        f.attr = "an attribute"
        f.calls = []
        def g(x, y=[]):
            y.append(x)
            return y
        async def coro():
            return 1
        def gen():
            yield 1
            yield 2
        class Holder:
            def method(self, z=3):
                return z
        BOUND = Holder().method
    """,
    "rv_getattr.py": """
        _LAZY = {"answer": 42}
        def __getattr__(name):
            try:
                return _LAZY[name]
            except KeyError:
                raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        def __dir__():
            return sorted(list(globals()) + list(_LAZY))
    """,
    "rv_contextvar.py": """
        import contextvars
        VAR = contextvars.ContextVar("var", default="default")
    """,
    "rv_struct.py": """
        import struct
        PACKER = struct.Struct("<iH")
    """,
    "rv_datetime.py": """
        import datetime
        EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        DAY = datetime.timedelta(days=1, seconds=5)
        START = datetime.date(2020, 2, 29)
        NOON = datetime.time(12, 30)
        EAST = datetime.timezone(datetime.timedelta(hours=2), "EAST")
    """,
}

REVIVERS_APP = APP_HEAD + """
import gc, pickle

def c_re():
    import re, rv_re
    w = rv_re.WORD
    m = w.match("Abc-12")
    yield m.groups(), m.group("word"), m.span("num"), m.groupdict()
    yield w.groupindex, w.groups, w.flags, w.pattern
    yield w == re.compile(w.pattern, w.flags), hash(w) == hash(re.compile(w.pattern, w.flags))
    yield w.findall("ab-1 x CD-22"), rv_re.SUB("<>", "ab-1 cd-2"), w.search("\\nzz-9").start()
    yield rv_re.BYTES.split(b"a  b\\tc"), pickle.loads(pickle.dumps(w)) == w
    yield type(w).__name__, isinstance(w, re.Pattern)

def c_lock():
    import rv_lock
    for lock in (rv_lock.LOCK, rv_lock.Guarded.lock):
        yield lock.locked(), lock.acquire(), lock.locked(), lock.acquire(False)
        lock.release()
        yield lock.locked(), type(lock).__name__
    r = rv_lock.RLOCK
    yield r.acquire(), r.acquire(), r._is_owned()
    r.release(); r.release()
    yield r._is_owned(), type(r).__name__
    with rv_lock.LOCK:
        yield "with", rv_lock.LOCK.locked()

def c_cache():
    import rv_cache
    yield rv_cache.square.cache_info(), rv_cache.cube.cache_info(), rv_cache.ident.cache_info()
    yield rv_cache.square(4), rv_cache.square(4), rv_cache.cube(2), rv_cache.ident("x")
    yield rv_cache.square.cache_info(), rv_cache.cube.cache_info()
    yield rv_cache.square.cache_parameters(), rv_cache.square.__wrapped__(3), rv_cache.square.__name__
    rv_cache.square.cache_clear()
    yield rv_cache.square.cache_info()

def c_typevar():
    import typing, rv_typevar as m
    for tv in (m.T, m.S, m.K):
        yield repr(tv), tv.__name__, tv.__bound__, tv.__constraints__, tv.__covariant__, tv.__contravariant__, tv.__module__
    yield typing.get_type_hints(m.first), m.first([1]), pickle.loads(pickle.dumps(m.T)) is m.T
    yield typing.List[m.T][int], typing.Union[m.S, None]

def c_generic():
    import rv_generic as m
    yield m.Box.__parameters__, m.Box[int].__args__, m.Box(3).item, m.Box.__orig_bases__
    yield m.Box[int].__origin__ is m.Box, type(m.Box[int]).__name__, m.Box.__mro__[1:]

def c_weak():
    import rv_weak as m
    yield m.REF() is m.KEPT, m.CALLBACK_REF() is m.DOOMED, sorted(m.VALUES), len(m.KEYS), len(m.SET), m.DIED
    del m.DOOMED
    gc.collect()
    yield m.CALLBACK_REF() is None, m.DIED, sorted(m.VALUES), len(m.SET)
    fresh = m.Thing("fresh")
    m.VALUES["fresh"] = fresh
    yield sorted(m.VALUES)
    del fresh
    gc.collect()
    yield sorted(m.VALUES), m.REF().name

def c_nt():
    import rv_nt as m
    yield m.Point._fields, m.Point3._fields, m.Point3._field_defaults, m.ORIGIN, m.P
    yield m.P._asdict(), m.P.x, m.P[2], m.P._replace(x=9), m.Point._make([3, 4])
    yield pickle.loads(pickle.dumps(m.P)) == m.P, pickle.loads(pickle.dumps(m.Point)) is m.Point
    yield b"rv_nt" in pickle.dumps(m.Point), b"Point3" in pickle.dumps(m.P)
    yield type(m.Point.__dict__["x"]).__name__, m.Point.x.__doc__, m.Point.__module__, m.Point.__qualname__

def c_coll():
    import rv_coll as m
    yield list(m.OD.items()), m.OD.popitem(last=False), list(m.OD)
    m.OD["z"] = 26
    m.OD.move_to_end("z", last=False)
    yield list(m.OD.items()), repr(m.OD)
    yield m.DD.default_factory, dict(m.DD), m.DD["new"], sorted(m.DD)
    yield list(m.DQ), m.DQ.maxlen
    m.DQ.append(4); m.DQ.append(5); m.DQ.rotate(1)
    yield list(m.DQ), m.DQ.popleft()
    yield m.COUNTS.most_common(3), m.COUNTS["z"], m.CHAIN["a"], m.CHAIN["b"], len(m.CHAIN.maps)

def c_partial():
    import functools, rv_partial as m
    yield m.BINARY("101"), m.BINARY.func, m.BINARY.args, m.BINARY.keywords
    yield m.DASHED("x"), m.NESTED("c"), m.NESTED.func is m.join, m.NESTED.args, type(m.NESTED).__name__
    yield pickle.loads(pickle.dumps(m.DASHED))("y"), repr(m.BINARY)

def c_descr():
    import rv_descr as m
    c = m.C()
    yield c.x, m.C.make(), c.make(), m.C.add(1, 2), c.add(3, 4), c.counted, m.C.counted.__doc__
    c.x = 5
    yield c.x, type(m.C.__dict__["x"]).__name__, type(m.C.__dict__["make"]).__name__, type(m.C.__dict__["add"]).__name__
    yield m.C.__dict__["make"].__func__.__name__, m.C.x.fget.__name__, m.C.x.fset.__name__, m.C.x.fdel

def c_proxy():
    import rv_proxy as m
    yield m.VIEW["a"], dict(m.VIEW), type(m.VIEW).__name__
    try:
        m.VIEW["b"] = 2
    except TypeError as e:
        yield "TypeError", str(e)
    m._BACKING["b"] = 2
    yield m.VIEW["b"], len(m.VIEW), m.CLASS_VIEW["attr"], "__dict__" in m.CLASS_VIEW

def c_count():
    import rv_count as m
    yield m.FIRST, next(m.COUNTER), next(m.COUNTER), repr(m.COUNTER), next(m.FLOATS), next(m.FLOATS)

def c_ns():
    import types, rv_ns as m
    yield m.NS.a, m.NS.b, m.NS.c, repr(m.NS), m.NS == types.SimpleNamespace(a=1, b=[2, 3], c="c")
    m.NS.d = 4
    del m.NS.a
    yield vars(m.NS), type(m.NS) is types.SimpleNamespace

def c_enum():
    import enum, rv_enum as m
    yield list(m.Color), m.Color.RED | m.Color.GREEN, m.Color(3), m.Color.WHITE, m.FAVOURITE
    yield m.Color.RED in m.FAVOURITE, m.Color.GREEN in m.FAVOURITE, ~m.Color.RED, bool(m.Color(0))
    yield list(m.Num), m.Num(2), m.Num.TWO + 1, m.Num.UNO is m.Num.ONE, list(m.Num.__members__), isinstance(m.Num.ONE, int)
    yield m.Kind("a"), m.Kind["B"], list(m.Kind), m.Kind.A.describe(), m.Kind.A.name, m.Kind.A.value
    yield [a.value for a in m.Auto], pickle.loads(pickle.dumps(m.Kind.A)) is m.Kind.A, pickle.loads(pickle.dumps(m.FAVOURITE)) == m.FAVOURITE
    yield type(m.Color).__name__, isinstance(m.Kind.A, enum.Enum), m.Kind._member_map_.keys(), m.Kind.__members__["A"] is m.Kind.A
    try:
        m.Kind("zzz")
    except ValueError as e:
        yield "ValueError", str(e)

def c_dc():
    import dataclasses, rv_dc as m
    yield [f.name for f in dataclasses.fields(m.Point)], m.Point(1) == m.Point(1), repr(m.Point(1, 2, ["t"]))
    p = m.Point(1)
    p.tags.append("x")
    yield m.Point(1).tags, p, m.ORIGIN, dataclasses.asdict(p), dataclasses.replace(p, y=5)
    f = m.Frozen(1)
    try:
        f.a = 2
    except dataclasses.FrozenInstanceError as e:
        yield "frozen", type(e).__name__
    yield hash(f) == hash(m.Frozen(1)), m.Frozen(1) < m.Frozen(2), sorted([m.Frozen(2), m.Frozen(1, "a")])
    yield m.Slotted.__slots__, m.Slotted(3), dataclasses.is_dataclass(m.Slotted), m.Point.__match_args__
    yield m.Point.__dataclass_params__.frozen if hasattr(m.Point, "__dataclass_params__") else None, m.Frozen.__dataclass_params__.frozen

def c_abc():
    import rv_abc as m
    yield isinstance(m.Virtual(), m.Shape), issubclass(m.Virtual, m.Shape), isinstance(m.Square(2), m.Shape)
    yield m.Square(3).describe(), sorted(m.Shape.__abstractmethods__), m.Square.__abstractmethods__
    try:
        m.Shape()
    except TypeError as e:
        yield "TypeError", str(e)
    class Late:
        size = 1
    class Later:
        pass
    yield isinstance(Late(), m.Sized), isinstance(Later(), m.Sized), issubclass(int, m.Shape)
    class Fresh(m.Shape):
        pass
    try:
        Fresh()
    except TypeError as e:
        yield "fresh", str(e)
    m.Shape.register(int)
    yield issubclass(int, m.Shape), isinstance(1, m.Shape)

def c_initsub():
    import rv_base, rv_plugins, rv_plugins2
    yield rv_base.REGISTRY
    yield [c.__name__ for c in rv_base.Plugin.__subclasses__()]
    class Fourth(rv_base.Plugin, key="fourth"):
        pass
    yield rv_base.REGISTRY[-1], [c.__name__ for c in rv_base.Plugin.__subclasses__()]
    yield rv_plugins.First.__mro__[1] is rv_base.Plugin, rv_plugins.Plugin is rv_base.Plugin
    yield pickle.loads(pickle.dumps(rv_plugins.First)) is rv_plugins.First

def c_subclasses():
    import rv_tree, rv_tree2
    def names(cls):
        return [c.__name__ for c in cls.__subclasses__()]
    yield names(rv_tree.A), names(rv_tree.B), names(rv_tree.C), names(rv_tree.MyError)
    yield [c.__name__ for c in rv_tree2.Y.__mro__], rv_tree2.Z.__module__, rv_tree2.Z.__qualname__
    yield "MyError" in [c.__name__ for c in ValueError.__subclasses__()], issubclass(rv_tree2.OtherError, ValueError)
    class Late(rv_tree.A):
        pass
    yield names(rv_tree.A)
    try:
        raise rv_tree2.OtherError("boom")
    except rv_tree.MyError as e:
        yield "caught", repr(e)

def c_slots():
    import rv_slots as m
    o = m.OBJ
    yield o.a, hasattr(o, "b"), m.S.__slots__, hasattr(o, "__dict__"), type(m.S.__dict__["a"]).__name__
    o.b = 2
    try:
        o.c = 3
    except AttributeError:
        yield "AttributeError"
    yield o.a, o.b, m.TOBJ.a, m.TOBJ.c, m.TOBJ.__dict__, hasattr(m.TOBJ, "b")
    s = m.S()
    yield s.a, hasattr(s, "b")

def c_values():
    import rv_values as m
    yield m.I + 1, m.I.double(), type(m.I.double()).__name__, m.I.tag, isinstance(m.I, int), m.I == 5, hash(m.I) == hash(5)
    yield m.STR, m.STR.shout(), type(m.STR).__name__, m.STR + "!", m.TUP.head, m.TUP, len(m.TUP), type(m.TUP).__name__
    yield m.LIST, m.LIST.note, type(m.LIST).__name__, m.DICT["a"], m.DICT["q"], type(m.DICT).__name__
    yield m.BIG, m.FLOAT, m.COMPLEX, m.FROZEN, m.RAW
    m.RAW.extend(b"cd")
    m.LIST.append(3)
    yield m.RAW, m.LIST, pickle.loads(pickle.dumps(m.I)) == m.I, type(pickle.loads(pickle.dumps(m.STR))).__name__

def c_closures():
    import rv_closures as m
    yield m.GET(), m.INC(), m.INC(5), m.GET(), m.INNER(), [f() for f in m.LAMBDAS]
    yield m.INC.__code__.co_freevars, m.INC.__closure__[0].cell_contents, m.INC.__closure__[0] is m.GET.__closure__[0]
    yield m.Child().who(), m.WithSuper().who()

def c_funcs():
    import inspect, rv_funcs as m
    f = m.f
    yield f.__defaults__, f.__kwdefaults__, f.__annotations__, f.attr, f.calls, f.__doc__
    yield f.__name__, f.__qualname__, f.__module__, str(inspect.signature(f)), f(1, "x", 2, d=4, e=5)
    yield m.g(1), m.g(2), m.g.__defaults__, inspect.iscoroutinefunction(m.coro), list(m.gen())
    yield m.BOUND(), m.BOUND.__self__.__class__.__name__, m.BOUND.__func__ is m.Holder.method
    yield inspect.getsource(m.f).splitlines()[0], inspect.getsourcefile(m.f).endswith("rv_funcs.py"), f.__code__.co_firstlineno
    yield pickle.loads(pickle.dumps(f)) is f, sorted(k for k in vars(f))
    yield f.__globals__ is vars(m), f.__builtins__ is __builtins__.__dict__ if hasattr(f, "__builtins__") else None

def c_getattr():
    import rv_getattr as m
    yield m.answer, hasattr(m, "nothing"), "answer" in dir(m)
    from rv_getattr import answer
    yield answer
    try:
        m.nothing
    except AttributeError as e:
        yield "AttributeError", str(e)

def c_struct():
    import rv_struct as m
    yield m.PACKER.size, m.PACKER.format, m.PACKER.pack(1, 2), m.PACKER.unpack(b"\\x01\\x00\\x00\\x00\\x02\\x00")

def c_datetime():
    import datetime, rv_datetime as m
    yield m.EPOCH.isoformat(), m.EPOCH + m.DAY, m.START.isoformat(), m.NOON, m.EAST
    yield type(m.EPOCH) is datetime.datetime, m.EPOCH.tzinfo is datetime.timezone.utc
    yield m.START.replace(day=28) < m.START, m.EAST.utcoffset(None)

def c_contextvar():
    import contextvars, rv_contextvar as m
    yield m.VAR.get(), m.VAR.name
    token = m.VAR.set("set")
    yield m.VAR.get(), contextvars.copy_context().get(m.VAR)
    m.VAR.reset(token)
    yield m.VAR.get()

for name, fn in list(globals().items()):
    if name.startswith("c_"):
        check(name[2:], fn)
"""


@pytest.fixture(scope="module")
def revivers(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("revivers")
    snap = snapshot_project(root, {**REVIVERS, "app.py": REVIVERS_APP}, ["app.py"])
    return runs(snap)


def test_re_pattern(revivers: Runs) -> None:
    revivers.same("re", "rv_re")


def test_locks(revivers: Runs) -> None:
    revivers.same("lock", "rv_lock")


def test_lru_cache(revivers: Runs) -> None:
    revivers.same("cache", "rv_cache")


def test_typevar(revivers: Runs) -> None:
    revivers.same("typevar", "rv_typevar")


def test_generic_class(revivers: Runs) -> None:
    revivers.same("generic", "rv_generic")


def test_weak_references(revivers: Runs) -> None:
    revivers.same("weak", "rv_weak")


def test_namedtuple(revivers: Runs) -> None:
    revivers.same("nt", "rv_nt")


def test_collections(revivers: Runs) -> None:
    revivers.same("coll", "rv_coll")


def test_partial(revivers: Runs) -> None:
    revivers.same("partial", "rv_partial")


def test_property_classmethod_staticmethod(revivers: Runs) -> None:
    revivers.same("descr", "rv_descr")


def test_mappingproxy(revivers: Runs) -> None:
    revivers.same("proxy", "rv_proxy")


def test_itertools_count(revivers: Runs) -> None:
    revivers.same("count", "rv_count")
    # The body took 5: the restored counter goes on from 7, as plain.
    assert section(revivers.share.stdout, "count")[0].startswith("count: (5, 7, 9")


def test_simplenamespace(revivers: Runs) -> None:
    revivers.same("ns", "rv_ns")


def test_enum(revivers: Runs) -> None:
    revivers.same("enum", "rv_enum")


def test_dataclasses(revivers: Runs) -> None:
    revivers.same("dc", "rv_dc")


def test_abc(revivers: Runs) -> None:
    revivers.same("abc", "rv_abc")


def test_subclasses_order(revivers: Runs) -> None:
    revivers.same("subclasses", "rv_tree", "rv_tree2")


def test_init_subclass_side_effects(revivers: Runs) -> None:
    """__init_subclass__ of a base in another module keeps a registry."""
    revivers.same("initsub", "rv_base", "rv_plugins", "rv_plugins2")


def test_slots(revivers: Runs) -> None:
    revivers.same("slots", "rv_slots")


def test_builtin_value_subclasses(revivers: Runs) -> None:
    revivers.same("values", "rv_values")


def test_closures_and_cells(revivers: Runs) -> None:
    revivers.same("closures", "rv_closures")


def test_function_attributes(revivers: Runs) -> None:
    revivers.same("funcs", "rv_funcs")


def test_module_getattr(revivers: Runs) -> None:
    revivers.same("getattr", "rv_getattr")


def test_contextvar(revivers: Runs) -> None:
    revivers.same("contextvar", "rv_contextvar")


def test_struct(revivers: Runs) -> None:
    revivers.same("struct", "rv_struct")


def test_datetime(revivers: Runs) -> None:
    revivers.same("datetime", "rv_datetime")


def test_inspect_says_how_many_classes_are_made_from_images(revivers: Runs) -> None:
    done = run(["-m", "pycds", "inspect", "--snapshot", str(revivers.snap.archive)],
               cwd=revivers.snap.root)
    counts = [tuple(int(n) for n in re.findall(r"\d+", line))
              for line in done.stdout.splitlines() if line.startswith("    classes ")]
    assert counts and all(made <= classes for classes, made in counts), done.stdout
    assert sum(made for _, made in counts) > 0, done.stdout


def test_revivers_whole_output_and_exit(revivers: Runs) -> None:
    """Nothing else differs either: the whole output, and the exit status."""
    assert revivers.share.stdout == revivers.plain.stdout
    assert revivers.share.returncode == revivers.plain.returncode == 0


def test_restored_objects_are_born_old_and_still_collected(tmp_path: Path) -> None:
    """A unit's objects are linked into the collector's oldest generation
    (pycds/ext/tenure.h): listed there by gc.get_objects(2), where a
    body's would be young, its tuples of untracked items untracked; and
    when the program drops them, a collection still frees their cycles (a
    weak reference ends)."""
    modules = {
        "aged.py": """
            class Node:
                def __init__(self):
                    self.me = self
            def helper():
                return Node
            ROOT = Node()
            PAIR = tuple([1, 2])
        """,
        "app.py": """
import gc, sys, weakref
gc.disable()
import aged
old = gc.get_objects(2)
print("old", [any(o is x for o in old) for x in (aged.Node, aged.helper, aged.ROOT)],
      gc.is_tracked(aged.PAIR))
del old
if sys.argv[1:] == ["drop"]:  # not when traced: the trace lists sys.modules
    gone = weakref.ref(aged.ROOT)
    del aged.ROOT, sys.modules["aged"], aged
    gc.collect()
    print("freed", gone() is None)
""",
    }
    snap = snapshot_project(tmp_path, modules, ["app.py"])
    plain, share = snap.plain(["app.py", "drop"]), snap.share(["app.py", "drop"])
    assert_restored(share, "aged", dump_output=snap.dump_output)
    # A tuple of ints is untracked, as a collection leaves it.
    assert plain.stdout == "old [False, False, False] True\nfreed True\n"
    assert share.stdout == "old [True, True, True] False\nfreed True\n", share.stderr



def test_another_threads_collections_run_while_a_unit_restores(tmp_path: Path) -> None:
    """While a unit's objects are made no collection starts by itself, but
    one that another thread asks for runs: its gc.collect() frees a cycle
    it just dropped, as in plain Python, however the threads interleave.
    (Keeping collections out by marking the collector busy made that
    gc.collect() return 0 and leave the cycle.)"""
    modules = {f"many{i}.py": "\n".join(
        [f"class K{j}:\n    a = {j}\n    def f(self):\n        return self.a\n"
         f"def g{j}(x={j}):\n    return x" for j in range(30)]
        + ["TABLE = {f'k{n}': (n, str(n)) for n in range(200)}"]) for i in range(6)}
    modules["app.py"] = """
import sys, _thread, gc, _weakref  # no module with a unit before the thread
class Node:
    pass
missed, stop = [], []
running, done = _thread.allocate_lock(), _thread.allocate_lock()
def churn():
    running.release()
    while not stop:
        node = Node()
        node.me = node
        ref = _weakref.ref(node)
        del node
        gc.collect()
        if ref() is not None:
            missed.append(1)
    done.release()
running.acquire()
done.acquire()
sys.setswitchinterval(1e-6)
_thread.start_new_thread(churn, ())
running.acquire()
import many0, many1, many2, many3, many4, many5
stop.append(1)
done.acquire()
sys.setswitchinterval(0.005)
print("missed", len(missed), many5.K29().f())
"""
    snap = snapshot_project(tmp_path, modules, ["app.py"])
    plain = snap.plain(["app.py"])
    assert plain.stdout == "missed 0 29\n", plain.stderr
    for _ in range(3):  # a collection must fall inside a restore
        share = snap.share(["app.py"])
        assert_restored(share, *(f"many{i}" for i in range(6)), dump_output=snap.dump_output)
        assert share.stdout == plain.stdout, share.stderr

def test_restored_instances_keep_their_attributes_inline(tmp_path: Path) -> None:
    """An instance's attributes are stored as its __init__ stored them: in
    the values its class's shared keys index (no dict object of its own
    until one is asked for), in the same order; a data descriptor of the
    class is not called for an attribute of the instance's __dict__."""
    modules = {
        "points.py": """
            class Point:
                def __init__(self, x, y):
                    self.x, self.y = x, y
            class Guarded:
                @property
                def x(self):
                    return "property"
            P = Point(1, 2)
            Q = Point(3, 4)
            G = Guarded()
            G.__dict__["x"] = "shadowed"
            G.z = 5
        """,
        "app.py": """
import gc
import points
def own_dict(obj):
    return any(type(r) is dict for r in gc.get_referents(obj))
print([own_dict(o) for o in (points.P, points.Q)], points.P.x, points.Q.y)
print(vars(points.P), vars(points.G), points.G.x)
""",
    }
    snap = snapshot_project(tmp_path, modules, ["app.py"])
    plain = same_as_plain(snap, "points")
    assert plain.stdout.startswith("[False, False] 1 4\n"), plain.stdout


def test_restored_namespaces_hold_their_codes_strings(tmp_path: Path) -> None:
    """The strings a unit's objects share with the module's code are the
    code's own, as after the body: namespace keys are its names (interned,
    as the compiler interns them), __all__'s items its constants."""
    modules = {
        "named.py": """
            __all__ = ["Shape", "area"]
            class Shape:
                sides = 4
                def area(self):
                    return 1
            def area(shape):
                return shape.area()
            LABEL = "label"
        """,
        "app.py": """
import sys
import named
def interned(texts):
    return all(t is sys.intern(t) for t in texts)
print(interned(vars(named)), interned(vars(named.Shape)), interned(named.__all__))
print(named.LABEL is sys.intern("label"), named.Shape.__qualname__)
""",
    }
    snap = snapshot_project(tmp_path, modules, ["app.py"])
    plain = same_as_plain(snap, "named")
    assert plain.stdout == "True True True\nTrue Shape\n"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 695 syntax")
def test_pep695_type_params(tmp_path: Path) -> None:
    modules = {
        "generic.py": """
            def first[T](xs: list[T]) -> T:
                return xs[0]
            class Stack[T]:
                def __init__(self) -> None:
                    self.items: list[T] = []
            def bounded[N: int, *Ts, **P](x: N) -> N:
                return x
        """,
        "app.py": APP_HEAD + """
def c():
    import generic as m
    yield m.first([3]), m.first.__type_params__, m.Stack.__type_params__, m.Stack.__parameters__
    yield [(t.__name__, type(t).__name__, getattr(t, "__bound__", None)) for t in m.bounded.__type_params__]
    yield m.Stack[int]().items, m.first.__annotations__
check("pep695", c)
""",
    }
    result = runs(snapshot_project(tmp_path, modules, ["app.py"]))
    result.same("pep695", "generic")


# --------------------------------------------------------------------------
# 2. Replayed registrations: what a body changed in objects that existed
# before it (other modules', start-up's) is replayed at restore.

REGISTRATIONS = {
    "reg_base.py": """
        import abc
        HOOKS = []
        TABLE = {}
        class Target:
            existing = "existing"
        class Iface(abc.ABC):
            pass
    """,
    "reg_other.py": """
        class Foreign:
            pass
    """,
    "reg_exit1.py": """
        import atexit
        def bye():
            print("exit: reg_exit1 bye")
        atexit.register(bye)
        atexit.register(print, "exit:", "with", "args", sep="-")
    """,
    "reg_exit2.py": """
        import atexit
        @atexit.register
        def bye():
            print("exit: reg_exit2 bye")
    """,
    "reg_abc.py": """
        import reg_base, reg_other
        class Impl:
            pass
        reg_base.Iface.register(Impl)
        reg_base.Iface.register(reg_other.Foreign)
    """,
    "reg_log.py": """
        import logging
        LOG = logging.getLogger("regtest.child.leaf")
        LOG.setLevel(logging.WARNING)
        OTHER = logging.getLogger("regtest_other")
        OTHER.propagate = False
    """,
    "reg_hook1.py": """
        import reg_base
        reg_base.HOOKS.append("hook1")
        reg_base.TABLE["hook1"] = 1
        reg_base.Target.flag = "set by hook1"
        reg_base.Target.existing = "replaced by hook1"
    """,
    "reg_hook2.py": """
        import reg_base
        reg_base.HOOKS.append("hook2")
        reg_base.HOOKS.insert(0, "front by hook2")
        reg_base.TABLE["hook2"] = 2
        del reg_base.TABLE["hook1"]
        reg_base.Target.flag = "set by hook2"
        reg_base.Target.count = len(reg_base.HOOKS)
    """,
    "reg_finder.py": """
        import sys
        class QuietFinder:
            @classmethod
            def find_spec(cls, name, path=None, target=None):
                return None
        sys.meta_path.append(QuietFinder)
        sys.path_hooks.append(lambda path: (_ for _ in ()).throw(ImportError()))
    """,
    "reg_warn.py": """
        import warnings
        warnings.filterwarnings("ignore", message="regtest ignored")
        warnings.filterwarnings("error", message="regtest error", append=True)
    """,
}

REGISTRATIONS_APP = APP_HEAD + """
import atexit
atexit.register(print, "exit: app first")

def c_exit():
    import reg_exit1, reg_exit2
    yield "imported"

def c_abc():
    import reg_base, reg_abc, reg_other
    yield isinstance(reg_abc.Impl(), reg_base.Iface), issubclass(reg_other.Foreign, reg_base.Iface)
    yield issubclass(int, reg_base.Iface), [c.__name__ for c in reg_base.Iface.__subclasses__()]

def c_log():
    import logging, reg_log
    manager = logging.Logger.manager
    yield sorted(k for k in manager.loggerDict if k.startswith("regtest"))
    yield type(manager.loggerDict["regtest.child"]).__name__, reg_log.LOG.parent.name
    yield logging.getLogger("regtest.child.leaf") is reg_log.LOG, reg_log.LOG.level, reg_log.OTHER.propagate
    parent = logging.getLogger("regtest.child")
    yield reg_log.LOG.parent is parent, parent.parent.name, reg_log.LOG.getEffectiveLevel()
    yield logging.getLogger("regtest_other") is reg_log.OTHER, reg_log.LOG.isEnabledFor(logging.INFO)

def c_hooks():
    import reg_base, reg_hook1, reg_hook2
    yield reg_base.HOOKS, reg_base.TABLE, reg_base.Target.flag, reg_base.Target.existing, reg_base.Target.count
    yield [k for k in vars(reg_base.Target) if not k.startswith("__")]

def c_finder():
    import sys, reg_finder
    yield [getattr(f, "__name__", type(f).__name__) for f in sys.meta_path][-2:], len(sys.path_hooks)
    yield sys.meta_path[-1] is reg_finder.QuietFinder
    import email.utils  # an import after the finder was added
    yield "imported email.utils"

def c_warn():
    import warnings, reg_warn
    yield [(f[0], f[1].pattern if f[1] else None) for f in warnings.filters if f[1] is not None and "regtest" in f[1].pattern]
    warnings.warn("regtest ignored")
    try:
        warnings.warn("regtest error")
    except UserWarning as e:
        yield "raised", str(e)

for name, fn in list(globals().items()):
    if name.startswith("c_"):
        check(name[2:], fn)
atexit.register(print, "exit: app last")
"""


@pytest.fixture(scope="module")
def registrations(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("registrations")
    snap = snapshot_project(root, {**REGISTRATIONS, "app.py": REGISTRATIONS_APP},
                            ["app.py"])
    return runs(snap)


def test_atexit_runs_in_order(registrations: Runs) -> None:
    registrations.same("exit", "reg_exit1", "reg_exit2")
    assert section(registrations.plain.stdout, "exit") == [
        "exit: imported", "exit: app last", "exit: reg_exit2 bye",
        "exit: reg_exit1 bye", "exit: app first"]
    assert "exit:-with-args" in registrations.share.stdout.splitlines()


def test_abc_register_of_another_modules_class(registrations: Runs) -> None:
    registrations.same("abc", "reg_abc", "reg_base", "reg_other")


def test_logging_registry_sees_a_bodys_logger(registrations: Runs) -> None:
    registrations.same("log", "reg_log")


def test_changes_to_another_modules_list_dict_and_class(registrations: Runs) -> None:
    """Two modules append to one list and set one class attribute: plain
    order kept."""
    registrations.same("hooks", "reg_hook1", "reg_hook2", "reg_base")


def test_meta_path_and_path_hooks(registrations: Runs) -> None:
    registrations.same("finder", "reg_finder")


def test_warnings_filters(registrations: Runs) -> None:
    registrations.same("warn", "reg_warn")


def test_registrations_whole_output(registrations: Runs) -> None:
    assert registrations.share.stdout == registrations.plain.stdout
    assert registrations.share.returncode == registrations.plain.returncode == 0


# --------------------------------------------------------------------------
# 3. Inputs: what a body read is checked at restore; a change falls back.

INPUTS = {
    "in_env.py": """
        import os
        VALUE = os.environ.get("SNAPTEST_VAR", "unset")
    """,
    "in_absent.py": """
        import os
        VALUE = os.getenv("SNAPTEST_ABSENT", "absent")
    """,
    "in_file.py": """
        import os
        def _read(name):
            with open(os.path.join(os.path.dirname(__file__), name)) as f:
                return f.read().strip()
        DATA = _read("data.txt")
    """,
    "in_stat.py": """
        import os
        HAS_FLAG = os.path.exists(os.path.join(os.path.dirname(__file__), "flag.txt"))
    """,
    "in_dir.py": """
        import os
        LISTED = sorted(os.listdir(os.path.join(os.path.dirname(__file__), "listed")))
    """,
    "in_argv.py": """
        import sys
        ARGS = sys.argv[1:]
    """,
    "in_flags.py": """
        DEBUG = __debug__
        try:
            assert False, "asserts on"
            ASSERTS = "off"
        except AssertionError:
            ASSERTS = "on"
        def doc():
            "a docstring"
    """,
    "in_none.py": """
        CONSTANT = "reads nothing"
    """,
    "data.txt": "data one\n",
    "listed/a.txt": "",
    "app.py": APP_HEAD + """
def c_inputs():
    import in_env, in_absent, in_file, in_stat, in_dir, in_argv, in_flags, in_none
    yield in_env.VALUE, in_absent.VALUE, in_file.DATA, in_stat.HAS_FLAG, in_dir.LISTED
    yield in_argv.ARGS, in_flags.DEBUG, in_flags.ASSERTS, in_flags.doc.__doc__, in_none.CONSTANT
check("inputs", c_inputs)
""",
}
INPUT_MODULES = ("in_env", "in_absent", "in_file", "in_stat", "in_dir", "in_argv",
                 "in_flags", "in_none")
INPUT_ARGS = ["app.py", "x"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Snap:
    root = tmp_path_factory.mktemp("inputs")
    return snapshot_project(root, INPUTS, INPUT_ARGS, SNAPTEST_VAR="one")


def falls_back(snap: Snap, module: str, why: str, args: list[str] = INPUT_ARGS,
               **env: str | None) -> Runs:
    """module falls back with a reason containing why; every other input
    module is still restored; output equals plain."""
    result = Runs(snap, snap.plain(args, **env), snap.share(args, **env))
    lines = snapshot_lines(result.share.stderr)
    assert lines.get(module, "").startswith("code ("), (module, result.share.stderr)
    assert why in lines[module], lines[module]
    assert result.share.stdout == result.plain.stdout
    # in_argv aside: it is about argv (test_argv_same_args_is_restored).
    others = [m for m in INPUT_MODULES if m not in (module, "in_argv")]
    assert_restored(result.share, *others, dump_output=snap.dump_output)
    return result


def test_inputs_unchanged_are_restored(inputs: Snap) -> None:
    result = runs(inputs, INPUT_ARGS)
    result.same("inputs", *(m for m in INPUT_MODULES if m != "in_argv"))


def test_argv_reader_is_refused_at_dump(inputs: Snap) -> None:
    """A trace does not record the program's arguments: a body that read
    sys.argv is never a unit, and runs as code with the same output."""
    assert "read sys.argv" in code_only(inputs.dump_output).get("in_argv", ""), \
        inputs.dump_output
    result = runs(inputs, INPUT_ARGS)
    assert "in_argv" not in restored(result.share.stderr)
    assert result.share.stdout == result.plain.stdout


def test_env_var_changed_falls_back(inputs: Snap) -> None:
    falls_back(inputs, "in_env", "SNAPTEST_VAR", SNAPTEST_VAR="two")


def test_env_var_unset_falls_back(inputs: Snap) -> None:
    falls_back(inputs, "in_env", "SNAPTEST_VAR", SNAPTEST_VAR=None)


def test_env_var_absent_then_set_falls_back(inputs: Snap) -> None:
    falls_back(inputs, "in_absent", "SNAPTEST_ABSENT", SNAPTEST_ABSENT="present")


def test_env_var_set_to_empty_falls_back(inputs: Snap) -> None:
    falls_back(inputs, "in_absent", "SNAPTEST_ABSENT", SNAPTEST_ABSENT="")


def test_file_touched_falls_back(inputs: Snap) -> None:
    path = inputs.root / "data.txt"
    before = path.stat()
    try:
        path.write_text("data two\n")  # same size, new content and mtime
        falls_back(inputs, "in_file", "data.txt")
    finally:
        path.write_text("data one\n")
        import os
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    # Put back as it was: restored again.
    assert_restored(inputs.share(INPUT_ARGS), "in_file")


def test_file_appearing_falls_back(inputs: Snap) -> None:
    flag = inputs.root / "flag.txt"
    try:
        flag.write_text("")
        falls_back(inputs, "in_stat", "flag.txt")
    finally:
        flag.unlink()


def test_directory_gaining_a_file_falls_back(inputs: Snap) -> None:
    extra = inputs.root / "listed" / "b.txt"
    listed = inputs.root / "listed"
    before = listed.stat()
    try:
        extra.write_text("")
        falls_back(inputs, "in_dir", "listed")
    finally:
        extra.unlink()
        import os
        os.utime(listed, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_directory_seen_only_by_its_kind_keeps_the_unit(tmp_path: Path) -> None:
    """A body that only asks what a path is (os.path.isdir, exists,
    realpath: sysconfig resolving sys.executable through a busy /tmp)
    does not depend on the directory's entries: a file added there keeps
    its unit; a body that read the directory's time falls back; and one
    whose path stops being a directory falls back too."""
    snap = snapshot_project(tmp_path, {
        "busy/keep.txt": "",
        "kind_.py": """
            import os
            BUSY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "busy")
            KIND = (os.path.isdir(BUSY), os.path.exists(BUSY),
                    os.path.realpath(BUSY) == BUSY)
        """,
        "time_.py": """
            import os
            BUSY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "busy")
            STAMPED = os.path.getmtime(BUSY) > 0
        """,
        "app.py": """
            import kind_, time_
            print("kinds", kind_.KIND, time_.STAMPED)
        """}, ["app.py"])
    busy = tmp_path / "busy"
    added = busy / "new.txt"
    added.write_text("")
    try:
        plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
        assert_restored(share, "kind_", dump_output=snap.dump_output)
        assert snapshot_lines(share.stderr).get("time_") == f"code ({busy} changed)", share.stderr
        assert share.stdout == plain.stdout == "kinds (True, True, True) True\n"
    finally:
        added.unlink()
    moved = tmp_path / "busy.moved"
    busy.rename(moved)
    busy.write_text("now a file\n")
    try:
        plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
        assert snapshot_lines(share.stderr).get("kind_") == f"code ({busy} changed)", share.stderr
        assert share.stdout == plain.stdout == "kinds (False, True, True) True\n"
    finally:
        busy.unlink()
        moved.rename(busy)


# What a body read of a directory's entries (os.scandir: DirEntry.is_file(),
# is_dir(), stat(), inode() answer from C, past every wrapped os function)
# and of a file's contents (a rewrite that keeps its size and time).
SCANNED = {
    "data/a.txt": "aaaa\n",
    "data/b.txt": "bb\n",
    "data/sub/c.txt": "",
    "sizes_.py": """
        import os
        DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
        SIZES = {}
        with os.scandir(DATA) as entries:
            for entry in entries:
                if entry.is_file():
                    SIZES[entry.name] = entry.stat().st_size
        del entries, entry
        TOTAL = sum(SIZES.values())
    """,
    "kinds_.py": """
        import os
        DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
        DIRS = sorted(e.name for e in os.scandir(DATA) if e.is_dir())
        TYPED = all(isinstance(e, os.DirEntry) for e in os.scandir(DATA))
    """,
    "names_.py": """
        import os
        DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
        NAMES = sorted(e.name for e in os.scandir(DATA))
    """,
    "walks_.py": """
        import os
        DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
        FILES = sorted(os.path.relpath(os.path.join(top, name), DATA)
                       for top, _, names in os.walk(DATA) for name in names)
    """,
    "keeps_entries_.py": """
        import os
        DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
        ENTRIES = sorted(os.scandir(DATA), key=lambda e: e.name)
    """,
    "contents_.py": """
        import os
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "data", "a.txt")) as f:
            TEXT = f.read().strip()
        del f
    """,
    "app.py": """
        import sizes_, kinds_, names_, walks_, keeps_entries_, contents_
        print("sizes", sizes_.SIZES, sizes_.TOTAL)
        print("kinds", kinds_.DIRS, kinds_.TYPED)
        print("names", names_.NAMES)
        print("walks", walks_.FILES)
        print("entries", [e.name for e in keeps_entries_.ENTRIES])
        print("contents", contents_.TEXT)
    """,
}
SCANNERS = ("sizes_", "kinds_", "names_", "walks_", "contents_")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Snap:
    return snapshot_project(tmp_path_factory.mktemp("scanned"), SCANNED, ["app.py"])


def scanned_runs(snap: Snap, code: dict[str, str], **env: str | None) -> Runs:
    """The modules of `code` run as code with a reason containing its
    value, the other scanners are restored, and the output is plain's."""
    result = runs(snap, **env)
    lines = snapshot_lines(result.share.stderr)
    for module, why in code.items():
        assert lines.get(module, "").startswith("code ("), (module, result.share.stderr)
        assert why in lines[module], lines[module]
    assert_restored(result.share, *(m for m in SCANNERS if m not in code),
                    dump_output=snap.dump_output)
    assert result.share.stdout == result.plain.stdout, result.share.stderr
    return result


def test_scanned_directories_unchanged_are_restored(scanned: Snap) -> None:
    """isinstance(entry, os.DirEntry) holds in the planner's bodies as in
    plain Python's; a body that keeps entries is no unit."""
    result = scanned_runs(scanned, {})
    assert "kinds ['sub'] True" in result.plain.stdout
    assert "a directory entry (posix.DirEntry)" in code_only(scanned.dump_output).get("keeps_entries_", ""), \
        scanned.dump_output


def test_a_scanned_entry_whose_size_changed_is_seen(scanned: Snap) -> None:
    """The listing is the same, an entry's size is not: the body that read
    it through DirEntry.stat() runs, those that read only names or kinds
    restore."""
    path = scanned.root / "data" / "a.txt"
    before = path.stat()
    path.write_text("aaaaaaaa\n")
    try:
        result = scanned_runs(scanned, {"sizes_": "a.txt changed",
                                        "contents_": "a.txt changed"})
        assert "'a.txt': 9" in result.plain.stdout
        # PYCDSVALIDATE=none trusts the archive's code, not a unit's data.
        scanned_runs(scanned, {"sizes_": "a.txt changed", "contents_": "a.txt changed"},
                     PYCDSVALIDATE="none")
    finally:
        path.write_text("aaaa\n")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_a_scanned_entry_that_became_a_directory_is_seen(scanned: Snap) -> None:
    """DirEntry.is_dir() and os.walk's: the same name, now a directory."""
    path = scanned.root / "data" / "b.txt"
    aside = scanned.root / "b.txt.aside"
    path.rename(aside)
    path.mkdir()
    try:
        result = scanned_runs(scanned, {"sizes_": "b.txt changed",
                                        "kinds_": "b.txt changed",
                                        "walks_": "b.txt changed"})
        assert "kinds ['b.txt', 'sub'] True" in result.plain.stdout
    finally:
        path.rmdir()
        aside.rename(path)


def test_a_file_rewritten_with_its_size_and_time_kept(scanned: Snap) -> None:
    """Same size, same time, same inode, other contents: seen under
    PYCDSVALIDATE=hash (the body runs, as plain Python's does); under
    mtime and none its unit is restored (README: not seen without hash)."""
    hashed = runs(scanned, PYCDSVALIDATE="hash")
    assert_restored(hashed.share, *SCANNERS, dump_output=scanned.dump_output)
    path = scanned.root / "data" / "a.txt"
    before = path.stat()
    path.write_text("AAAA\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    try:
        assert (path.stat().st_ino, path.stat().st_size) == (before.st_ino, before.st_size)
        result = scanned_runs(scanned, {"contents_": "contents of"},
                              PYCDSVALIDATE="hash")
        assert "contents AAAA" in result.plain.stdout
        for validate in ("mtime", "none"):
            assert_restored(scanned.share(["app.py"], PYCDSVALIDATE=validate),
                            *SCANNERS, dump_output=scanned.dump_output)
    finally:
        path.write_text("aaaa\n")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_argv_differs_output_equals_plain(inputs: Snap) -> None:
    result = Runs(inputs, inputs.plain(["app.py", "y"]), inputs.share(["app.py", "y"]))
    assert "in_argv" not in restored(result.share.stderr)
    assert result.share.stdout == result.plain.stdout


def test_optimize_flag(inputs: Snap) -> None:
    """python -O: the archive is refused or every unit falls back; either
    way the output is plain -O's (asserts off, __debug__ False)."""
    args = ["-O", *INPUT_ARGS]
    plain = inputs.plain(args)
    share = inputs.share(args)
    assert "False" in plain.stdout and "'off'" in plain.stdout
    assert share.stdout == plain.stdout
    assert restored(share.stderr) == [], share.stderr


def test_hash_seed_differs_from_the_dump(tmp_path: Path) -> None:
    """A body may keep the order it iterated a set of strings in: with
    PYTHONHASHSEED fixed to another seed than the dump's, a plain process's
    order is that seed's, and the body runs; with a random seed, the dump's
    order is one a plain process could have."""
    snap = snapshot_project(tmp_path, {
        # (built at run time: a set display of constants is a code constant,
        # whose order is the compiling process's, plain or archived)
        "fruit.py": ("ORDER = list(set('apple banana cherry date elder fig grape hazel iris "
                     "juniper kiwi lemon'.split()))\n"),
        "app.py": "import fruit\nprint(fruit.ORDER)\n"}, ["app.py"])
    as_dumped = snap.share(["app.py"])
    assert snapshot_lines(as_dumped.stderr).get("fruit") == "restored", as_dumped.stderr
    fixed = snap.share(["app.py"], PYTHONHASHSEED="12345")
    assert fixed.stdout == snap.plain(["app.py"], PYTHONHASHSEED="12345").stdout
    assert snapshot_lines(fixed.stderr)["fruit"] == \
        "code (PYTHONHASHSEED is 12345, the dump's bodies ran with random)"


# --------------------------------------------------------------------------
# 4. Bindings: a dependency monkeypatched before the import falls back.

BINDINGS = {
    "dep.py": """
        def f():
            return "dep.f"
        CONFIG = {"mode": "original"}
    """,
    "user.py": """
        from dep import f
        RESULT = f()
    """,
    "caller.py": """
        import dep
        RESULT = dep.f()
        MODE = dep.CONFIG["mode"]
    """,
    "user_json.py": """
        from json import dumps
        OUT = dumps({"a": 1})
    """,
    "app.py": APP_HEAD + """
if "patch" in sys.argv:
    import dep, json
    dep.f = lambda: "patched"
    json.dumps = lambda obj: "patched json"
if "config" in sys.argv:
    import dep
    dep.CONFIG["mode"] = "changed"

def c_user():
    import user
    yield user.f(), user.RESULT

def c_caller():
    import caller
    yield caller.RESULT, caller.MODE

def c_json():
    import user_json
    yield user_json.dumps([1]), user_json.OUT
for name, fn in list(globals().items()):
    if name.startswith("c_"):
        check(name[2:], fn)
""",
}


@pytest.fixture(scope="module")
def bindings(tmp_path_factory: pytest.TempPathFactory) -> Snap:
    root = tmp_path_factory.mktemp("bindings")
    return snapshot_project(root, BINDINGS, ["app.py"])


def test_bindings_unpatched_are_restored(bindings: Snap) -> None:
    result = runs(bindings)
    result.same("user", "user", "dep")
    result.same("caller", "caller")
    result.same("json", "user_json")


def test_monkeypatched_dependency_falls_back(bindings: Snap) -> None:
    result = runs(bindings, ["app.py", "patch"])
    lines = snapshot_lines(result.share.stderr)
    assert lines.get("user", "").startswith("code ("), result.share.stderr
    assert "dep.f" in lines["user"]
    assert section(result.share.stdout, "user") == section(result.plain.stdout, "user")
    assert section(result.plain.stdout, "user") == ["user: ('patched', 'patched')"]


def test_monkeypatched_stdlib_function_falls_back(bindings: Snap) -> None:
    result = runs(bindings, ["app.py", "patch"])
    lines = snapshot_lines(result.share.stderr)
    assert lines.get("user_json", "").startswith("code ("), result.share.stderr
    assert section(result.share.stdout, "json") == section(result.plain.stdout, "json")


def test_body_calling_a_patched_function_sees_the_patch(bindings: Snap) -> None:
    """`import dep; RESULT = dep.f()`: the body called what the program
    put there; a restore that keeps the planner's result differs."""
    result = runs(bindings, ["app.py", "patch"])
    assert section(result.plain.stdout, "caller")[0].startswith("caller: ('patched'")
    assert section(result.share.stdout, "caller") == section(result.plain.stdout, "caller")


def test_body_reading_a_changed_dict_sees_the_change(bindings: Snap) -> None:
    """The program changed dep.CONFIG (same object) before importing
    caller, whose body read it."""
    result = runs(bindings, ["app.py", "config"])
    assert "'changed'" in section(result.plain.stdout, "caller")[0]
    assert section(result.share.stdout, "caller") == section(result.plain.stdout, "caller")


# What a program changes inside another module's objects before an import
# whose body reads them: a class's attributes (its own or a base's), a
# function's closure, a registry the body itself appends to and counts;
# and inputs read through os.environb and os.readlink.

PROGRAM_CHANGES = {
    "base_.py": """
        class W:
            greeting = "hi"
            def m(self):
                return "orig"
        class Sub(W):
            pass
        def make():
            cache = []
            def add(x):
                cache.append(x)
                return list(cache)
            return add
        add = make()
        REGISTRY = []
        class Plugin:
            registry = []
            def __init_subclass__(cls, **kwargs):
                super().__init_subclass__(**kwargs)
                Plugin.registry.append(cls.__name__)
        def counter():
            count = 0
            def tick():
                nonlocal count
                count += 1
                return count
            return tick
        tick = counter()
        NOTES = []
        def note(text):
            NOTES.append(text)
        class Config:
            def __init__(self):
                self.level = 1
        _default = Config()
        def get_level():
            return _default.level
    """,
    "reads_builtin_.py": """
        X = abs(-9)
    """,
    "reads_setting_.py": """
        import sys
        LIMIT = sys.getrecursionlimit()
    """,
    "reads_instance_.py": """
        import base_
        LEVEL = base_.get_level()
    """,
    "plugins_.py": """
        import base_
        class Local(base_.Plugin):
            pass
        NAMES = list(base_.Plugin.registry)
    """,
    "ticks_.py": """
        import base_
        FIRST = base_.tick()
    """,
    "notes_.py": """
        import base_
        base_.note("body")
    """,
    "reads_class_.py": """
        import base_
        GREETING = base_.W.greeting
    """,
    "reads_base_.py": """
        import base_
        VIA_SUB = base_.Sub().m()
    """,
    "reads_closure_.py": """
        import base_
        SEEN = base_.add("body")
    """,
    "registers_.py": """
        import base_
        base_.REGISTRY.append("body")
        COUNT = len(base_.REGISTRY)
    """,
    "reads_environb_.py": """
        import os
        VALUE = os.environb.get(b"SNAPTEST_BYTES")
    """,
    "probes_.py": """
        import importlib.util
        HAS = importlib.util.find_spec("optional_dep_") is not None
    """,
    "reads_link_.py": """
        import os
        TARGET = os.readlink(os.path.join(os.path.dirname(os.path.abspath(__file__)), "lnk"))
    """,
    "one": "the link's first target\n",
    "two": "its second\n",
    "app.py": APP_HEAD + """
import base_
if "class" in sys.argv:
    base_.W.greeting = "patched"
if "base" in sys.argv:
    base_.W.m = lambda self: "patched"
if "closure" in sys.argv:
    base_.add("program")
if "registry" in sys.argv:
    base_.REGISTRY.append("program")
if "plugin" in sys.argv:
    class Mine(base_.Plugin):
        pass
if "tick" in sys.argv:
    base_.tick()
if "note" in sys.argv:
    base_.note("program")
if "copy" in sys.argv:
    import copy
    copy.copy(base_.W())
if "abs" in sys.argv:
    import builtins
    builtins.abs = lambda x: "patched"
if "limit" in sys.argv:
    sys.setrecursionlimit(5000)
if "level" in sys.argv:
    base_._default.level = 2
if "stub" in sys.argv:  # a stand-in for an optional dependency
    import importlib.machinery, types
    stub = types.ModuleType("optional_dep_")
    stub.__spec__ = importlib.machinery.ModuleSpec("optional_dep_", None)
    sys.modules["optional_dep_"] = stub
if "blocked" in sys.argv:  # as not found as at the dump
    sys.modules["optional_dep_"] = None

def c_values():
    import reads_class_, reads_base_, reads_closure_, registers_
    import reads_environb_, reads_link_, probes_, plugins_, ticks_, notes_
    yield reads_class_.GREETING, reads_base_.VIA_SUB, reads_closure_.SEEN, probes_.HAS
    yield plugins_.NAMES, [c.__name__ for c in base_.Plugin.__subclasses__()]
    yield ticks_.FIRST, base_.tick(), base_.NOTES
    import reads_builtin_, reads_setting_, reads_instance_
    yield reads_builtin_.X, reads_setting_.LIMIT, reads_instance_.LEVEL
    yield registers_.COUNT, base_.REGISTRY, base_.add("after")
    yield reads_environb_.VALUE, reads_link_.TARGET
check("values", c_values)
""",
}
CHANGE_READERS = ("reads_class_", "reads_base_", "reads_closure_", "registers_",
                  "reads_environb_", "reads_link_", "probes_", "plugins_", "ticks_",
                  "notes_", "reads_builtin_", "reads_setting_", "reads_instance_")


@pytest.fixture(scope="module")
def program_changes(tmp_path_factory: pytest.TempPathFactory) -> Snap:
    root = tmp_path_factory.mktemp("program_changes")
    (root / "lnk").symlink_to("one")
    return snapshot_project(root, PROGRAM_CHANGES, ["app.py"])


def changed_by_program(snap: Snap, modules: dict[str, str], args: list[str],
                       **env: str | None) -> None:
    """Each module runs as code with a reason naming its value, the other
    readers are restored, and the output is plain Python's."""
    result = runs(snap, args, **env)
    lines = snapshot_lines(result.share.stderr)
    for module, why in modules.items():
        assert lines.get(module, "").startswith("code ("), (module, result.share.stderr)
        assert why in lines[module], lines[module]
    assert_restored(result.share, *(m for m in CHANGE_READERS if m not in modules),
                    dump_output=snap.dump_output)
    assert result.share.stdout == result.plain.stdout, result.share.stderr


def test_readers_of_unchanged_objects_are_restored(program_changes: Snap) -> None:
    """A body that appended to another module's list and then counted it
    restores (its read is checked as its own operations leave the list),
    and so does one whose call filled a closure's list."""
    runs(program_changes, ["app.py"]).same("values", *CHANGE_READERS)


def test_a_class_attribute_set_by_the_program_is_seen(program_changes: Snap) -> None:
    # (Sub inherits the attribute: a reader of Sub runs as code too.)
    changed_by_program(program_changes, {"reads_class_": "base_.W",
                                         "reads_base_": "base_.Sub"},
                       ["app.py", "class"])


def test_a_method_patched_on_a_base_class_is_seen(program_changes: Snap) -> None:
    changed_by_program(program_changes, {"reads_base_": "base_.Sub",
                                         "reads_class_": "base_.W"},
                       ["app.py", "base"])


def test_a_closure_the_program_filled_is_seen(program_changes: Snap) -> None:
    changed_by_program(program_changes, {"reads_closure_": "base_.add"},
                       ["app.py", "closure"])


def test_a_registry_the_program_filled_before_the_body_appended_is_seen(
        program_changes: Snap) -> None:
    changed_by_program(program_changes, {"registers_": "base_.REGISTRY"},
                       ["app.py", "registry"])


def test_a_plugin_registry_on_a_base_class_is_seen(program_changes: Snap) -> None:
    """A list a class attribute holds, filled by __init_subclass__: by the
    program's own subclass first, then by the body's.  The body runs,
    checked before any of its objects is made: its class is not in
    Plugin.__subclasses__() twice."""
    changed_by_program(program_changes, {"plugins_": "base_.Plugin"},
                       ["app.py", "plugin"])


def test_a_counter_in_a_closure_the_program_advanced_is_seen(
        program_changes: Snap) -> None:
    # (the cell the body's call set held another count: check_before's)
    changed_by_program(program_changes, {"ticks_": "cell_contents"}, ["app.py", "tick"])


def test_what_a_called_function_appends_to_is_seen(program_changes: Snap) -> None:
    """notes_ calls base_.note, which appends to base_.NOTES; the program
    noted first.  The body's own code does not read the list, but the
    function may have (logging.basicConfig appends only to an empty list):
    the body runs, and the list ends as plain Python leaves it."""
    changed_by_program(program_changes, {"notes_": "builtins.list items"},
                       ["app.py", "note"])


def test_a_slotnames_cache_filled_first_is_no_change(program_changes: Snap) -> None:
    """A class that copy.copy gave a __slotnames__ cache before the import
    is the class the body saw: its readers restore."""
    changed_by_program(program_changes, {}, ["app.py", "copy"])


def test_a_builtin_the_program_replaced_is_seen(program_changes: Snap) -> None:
    changed_by_program(program_changes, {"reads_builtin_": "builtins.abs"},
                       ["app.py", "abs"])


def test_a_base_class_replaced_by_one_over_another_c_type_is_seen(
        tmp_path: Path) -> None:
    """A class of the same module, name and attributes, but over list
    instead of dict: a class made from the image of one over the other
    would have dict's layout and flags for a list (a crash in exec)."""
    modules = {
        "dep_.py": "class Base(dict):\n    __slots__ = ()\n",
        "fake_.py": ("class Base(list):\n    __slots__ = ()\n"
                     "Base.__module__ = 'dep_'\n"),
        "lib_.py": "import dep_\nclass Sub(dep_.Base):\n    pass\n",
        "app.py": ("import sys, dep_\n"
                   "if sys.argv[1:] == ['swap']:\n"
                   "    import fake_\n"
                   "    dep_.Base = fake_.Base\n"
                   "import lib_\n"
                   "s = lib_.Sub()\n"
                   "try:\n"
                   "    exec('y = 1', s)\n"
                   "except TypeError as error:\n"
                   "    print('TypeError')\n"
                   "print(lib_.Sub.__mro__[1].__mro__[1].__name__)\n"),
    }
    snap = snapshot_project(tmp_path / "p", modules, ["app.py"])
    as_dumped = snap.share(["app.py"])
    assert snapshot_lines(as_dumped.stderr).get("lib_") == "restored", as_dumped.stderr
    swapped = snap.share(["app.py", "swap"])
    assert swapped.stdout == snap.plain(["app.py", "swap"]).stdout == "TypeError\nlist\n"
    why = snapshot_lines(swapped.stderr).get("lib_", "")
    assert why.startswith("code (") and "dep_.Base" in why, swapped.stderr


def test_a_process_setting_the_program_changed_is_seen(program_changes: Snap) -> None:
    changed_by_program(program_changes,
                       {"reads_setting_": "sys.getrecursionlimit()"},
                       ["app.py", "limit"])


def test_an_instance_attribute_a_called_function_reads_is_seen(
        program_changes: Snap) -> None:
    changed_by_program(program_changes, {"reads_instance_": "base_._default"},
                       ["app.py", "level"])


def test_a_variable_read_through_environb_is_an_input(program_changes: Snap) -> None:
    changed_by_program(program_changes, {"reads_environb_": "SNAPTEST_BYTES"},
                       ["app.py"], SNAPTEST_BYTES="set")


def test_a_module_found_where_find_spec_found_none_is_seen(
        program_changes: Snap) -> None:
    """importlib.util.find_spec of an optional dependency, which the dump
    did not find: once it is installed, the body runs."""
    optional = program_changes.root / "optional_dep_.py"
    optional.write_text("")
    try:
        changed_by_program(program_changes, {"probes_": "optional_dep_"}, ["app.py"])
    finally:
        optional.unlink()


def test_find_spec_answers_from_sys_modules_first(program_changes: Snap) -> None:
    """importlib.util.find_spec answers from sys.modules before it
    searches: a stand-in module a program put there first is found (the
    body runs), and a None there is "not found", as at the dump (the unit
    restores)."""
    changed_by_program(program_changes, {"probes_": "optional_dep_"}, ["app.py", "stub"])
    runs(program_changes, ["app.py", "blocked"]).same("values", *CHANGE_READERS)


BOUND = {
    "holder_.py": """
        class Box:
            def __init__(self):
                self.n = 3
            def get(self):
                return self.n
            @classmethod
            def kind(cls):
                return cls.label
            label = "box"
        BOX = Box()
        box_get = BOX.get
        box_kind = Box.kind
        class Settings:
            def __init__(self):
                self.level = 1
        def _make():
            settings = Settings()
            def get_level():
                return settings.level
            return get_level, settings
        get_level, SETTINGS = _make()
    """,
    "calls_closure_.py": """
        import holder_
        LEVEL = holder_.get_level()
    """,
    "calls_bound_.py": """
        import holder_
        VALUE = holder_.box_get()
    """,
    "calls_class_bound_.py": """
        import holder_
        KIND = holder_.box_kind()
    """,
    "app.py": APP_HEAD + """
import holder_
if "instance" in sys.argv:
    holder_.BOX.n = 9
if "class" in sys.argv:
    holder_.Box.label = "crate"
if "settings" in sys.argv:
    holder_.SETTINGS.level = 5
def c_values():
    import calls_bound_, calls_class_bound_, calls_closure_
    yield calls_bound_.VALUE, calls_class_bound_.KIND, calls_closure_.LEVEL
check("values", c_values)
""",
}


def test_a_method_bound_to_an_instance_is_read_with_its_instance(tmp_path: Path) -> None:
    """A module's function that is a method bound to an instance or class
    (calendar.firstweekday, reprlib.repr), or a closure over an instance:
    a body that called it read that object's attributes, which a program
    may have set first."""
    snap = snapshot_project(tmp_path, BOUND, ["app.py"])
    runs(snap, ["app.py"]).same("values", "calls_bound_", "calls_class_bound_",
                                "calls_closure_")
    for arg, module, name in (("instance", "calls_bound_", "holder_.box_get"),
                              ("class", "calls_class_bound_", "holder_.box_kind"),
                              ("settings", "calls_closure_", "holder_.get_level")):
        result = runs(snap, ["app.py", arg])
        line = snapshot_lines(result.share.stderr).get(module, "")
        assert line.startswith("code (") and name in line, result.share.stderr
        assert result.share.stdout == result.plain.stdout, result.share.stderr


RENAMED = {
    "renamed_.py": """
        class Failure(Exception):
            pass
    """,
    "renames_.py": """
        import renamed_
        renamed_.Failure.__module__ = "renames_"
        NAMES = ["Failure"]
    """,
    "app.py": APP_HEAD + """
def c_values():
    import renames_, renamed_
    yield renamed_.Failure.__module__, hasattr(renamed_.Failure, "__firstlineno__")
    yield renames_.NAMES
check("values", c_values)
""",
}


def test_a_class_given_another_module_is_restored(tmp_path: Path) -> None:
    """A body that sets another module's class's __module__ (httpx's
    package does for its exceptions): on 3.13 that drops the class's
    __firstlineno__ too, and the unit replays both changes."""
    snap = snapshot_project(tmp_path, RENAMED, ["app.py"])
    runs(snap, ["app.py"]).same("values", "renames_")


WARNED = {
    "warner_.py": """
        import warnings
        warnings.warn("warner_ is deprecated", DeprecationWarning, stacklevel=2)
        VALUE = 1
    """,
    "warned_user_.py": """
        import warner_
        TABLE = {"v": warner_.VALUE}
    """,
    "app.py": APP_HEAD + """
import warnings
warnings.simplefilter("default")
if "strict" in sys.argv:
    warnings.filterwarnings("error", module="warned_user_")
def c_values():
    import warned_user_
    yield warned_user_.TABLE, "__warningregistry__" in vars(warned_user_)
check("values", c_values)
""",
}


def test_a_warning_attributed_to_an_importer_makes_it_code(tmp_path: Path) -> None:
    """A module's import of one that warns with stacklevel=2: the warning
    points at the importer's line, and a program's filter for that module
    turns it into an error, so the importer runs as code."""
    snap = snapshot_project(tmp_path, WARNED, ["app.py"])
    assert "warned_user_: an import it made issued a warning" in snap.dump_output
    for args in (["app.py"], ["app.py", "strict"]):
        result = runs(snap, args)
        assert "warned_user_: restored" not in result.share.stderr
        assert "warned_user_.py:2: DeprecationWarning" in result.share.stderr \
            or "strict" in args, result.share.stderr
        assert result.share.stdout == result.plain.stdout, result.share.stderr


CONFIGURES = {
    "configures_.py": """
        import logging
        logging.basicConfig(format="library: %(message)s")
        log = logging.getLogger("configures_")
    """,
    "app.py": APP_HEAD + """
import logging
if "configured" in sys.argv:
    logging.basicConfig(format="program: %(message)s", stream=sys.stdout)
def c_values():
    import configures_
    configures_.log.warning("warned")
    yield len(logging.root.handlers)
check("values", c_values)
""",
}


def test_an_append_is_replayed_onto_the_list_the_body_saw(tmp_path: Path) -> None:
    """logging.basicConfig adds a handler to the root logger only when it
    has none: a program that configured logging first gets the body run
    (a replayed append gave the root two handlers)."""
    snap = snapshot_project(tmp_path, CONFIGURES, ["app.py"])
    runs(snap, ["app.py"]).same("values", "configures_")
    result = runs(snap, ["app.py", "configured"])
    line = snapshot_lines(result.share.stderr).get("configures_", "")
    assert line.startswith("code (") and "is not what the body saw" in line, result.share.stderr
    assert result.share.stdout == result.plain.stdout, result.share.stderr
    assert result.share.stderr.count("warned") == result.plain.stderr.count("warned")


SUBCLASS_ITEMS = {
    "holds_.py": """
        __pycds_snapshot__ = False
        import collections
        class D(dict): pass
        class L(list): pass
        class S(set): pass
        d, l, s = D(), L(), S()
        REG = {"inner": D()}
        COUNTS = collections.Counter()
        class K:
            items = L()
    """,
    "fills_dict_.py": """
        import holds_
        holds_.d.attr = 1  # an attribute: replayed
        holds_.REG["inner"]["q"] = 1
        holds_.COUNTS.update("aab")
    """,
    "fills_list_.py": """
        import holds_
        holds_.K.items.append("x")
        holds_.l += [5]
    """,
    "fills_set_.py": """
        import holds_
        holds_.s.add(3)
    """,
    "app.py": """
        import fills_dict_, fills_list_, fills_set_, holds_
        print("values:", holds_.d.__dict__, holds_.REG, holds_.COUNTS,
              holds_.K.items, holds_.l, holds_.s)
    """,
}


def test_changes_to_a_subclass_instances_items_are_refused(tmp_path: Path) -> None:
    """A later body's changes to the items of another module's dict, list
    or set subclass instance (matplotlib's interpd, a dict subclass that
    _enums fills) are neither operations nor lost: the body is code only,
    and the program sees what plain Python shows."""
    snap = snapshot_project(tmp_path, SUBCLASS_ITEMS, ["app.py"])
    refused = code_only(snap.dump_output)
    for module, base in [("fills_dict_", "dict"), ("fills_list_", "list"),
                         ("fills_set_", "set")]:
        assert refused.get(module, "").startswith("changed the items of holds_"), refused
        assert f"an instance of a {base} subclass: not replayed" in refused[module], refused
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert share.stdout == plain.stdout, share.stderr
    assert "'q': 1" in plain.stdout and "['x']" in plain.stdout, plain.stdout


C_TYPE_NAMESPACE = {
    "doc_c_type_.py": """
        import array, gc
        # What numpy's add_docstring does to its C types' __doc__: a write
        # into the namespace of a type Python cannot change.
        gc.get_referents(vars(array.array))[0]["marker_"] = "set as C would"
        X = 1
    """,
    "app.py": """
        import doc_c_type_
        import array
        print("marker:", array.array.marker_, doc_c_type_.X)
    """,
}


def test_a_write_into_an_immutable_types_namespace_is_refused(tmp_path: Path) -> None:
    """A body that changed the namespace of an immutable (C) type, which no
    operation can do again (type.__setattr__ refuses it: numpy's
    overrides failed after its unit was installed, and numpy's import
    with it), is code only, and says why."""
    snap = snapshot_project(tmp_path, C_TYPE_NAMESPACE, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused.get("doc_c_type_") == (
        "changed the namespace of the immutable type array.ArrayType, as only C can"), refused
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert share.stdout == plain.stdout == "marker: set as C would 1\n", share.stderr


def test_an_operation_on_an_immutable_type_is_refused_before_any_is_applied() -> None:
    """The restore's own check, before anything is made: a unit that says
    to change an immutable type falls back rather than failing after its
    namespace was installed."""
    from pycds._snapshot_restore import Stale, check_operation
    for op in [("set_attr", int, "__doc__", "x"), ("del_attr", int, "__doc__", None)]:
        with pytest.raises(Stale, match="changes the immutable type builtins.int"):
            check_operation(op)
    class Mutable:
        pass
    check_operation(("set_attr", Mutable, "x", 1))


CHANGED_FIRST = {
    "dep_.py": """
        LIMIT = 1
        def f():
            return 1
        def h():
            return LIMIT
        class K:
            OPTS = ("a", "b")
            FS = frozenset({"a"})
            def m(self, x=1, *, k=2):
                return x + k
            def tag(self):
                return getattr(type(self).tag, "mark", None)
            @property
            def p(self, d=1):
                return d
            def doc(self, a: int = 0) -> int:
                "doc"
        class Conf:
            def __init__(self, level):
                self.level = level
        class K2:
            CONF = Conf(1)
        import functools
        def add(a, b=1):
            return a + b
        def closing_over(v):
            def s():
                return v
            return s
        class Setting:
            mode = "a"
        class Nest:
            class Inner:
                def m(self, x=1):
                    return x
            S = staticmethod(closing_over(1))
            C = classmethod(closing_over(1))
            PART = functools.partial(add, 1)
            SET = Setting()
            m = closing_over(1)
        def add2(a, b=1):
            return a + b
        P = functools.partial(add2, 1)
        class Notes(dict):
            pass
        def noted(x):
            return x
        noted.__annotations__ = Notes(x="first")
        class HeldMeta(type):
            level = 0
        class HeldByMeta(metaclass=HeldMeta):
            pass
        class HoldsMetaclassed:
            H = HeldByMeta
    """,
    "reader_.py": """
        import dep_
        R = [dep_.f(), dep_.h(), list(dep_.K.OPTS), sorted(dep_.K.FS),
             dep_.K().m(), dep_.K().tag(), dep_.K().p, dep_.K2.CONF.level,
             dep_.K.__name__, dep_.f.__name__, dep_.f.__doc__,
             dep_.K.doc.__name__, dep_.K.doc.__doc__, dep_.K.doc.__module__,
             dep_.K.doc.__annotations__,
             getattr(dep_.K.doc, "__type_params__", ()),
             dep_.Nest.Inner().m(), dep_.Nest.S(), dep_.Nest.C.__func__(),
             dep_.Nest.PART(), dep_.Nest.SET.mode, dep_.Nest.m(), dep_.P(),
             dep_.noted.__annotations__["x"], dep_.HoldsMetaclassed.H.level]
    """,
    "app.py": """
        import os, sys, types
        import dep_
        probe = sys.argv[1] if len(sys.argv) > 1 else ""
        f = dep_.f
        if probe == "code":  # other code of the same file and line
            f.__code__ = f.__code__.replace(
                co_consts=tuple(2 if c == 1 else c for c in f.__code__.co_consts))
        if probe == "globals":  # the same code over other globals
            dep_.h = types.FunctionType(dep_.h.__code__, {"LIMIT": 99, "__name__": "dep_"})
        if probe == "method_defaults":
            dep_.K.m.__defaults__ = (5,)
        if probe == "method_kwdefaults":
            dep_.K.m.__kwdefaults__ = {"k": 50}
        if probe == "method_attribute":
            dep_.K.tag.mark = "marked"
        if probe == "property_defaults":
            dep_.K.p.fget.__defaults__ = (7,)
        if probe == "tuple":
            dep_.K.OPTS = ("c",)
        if probe == "frozenset":
            dep_.K.FS = frozenset({"z"})
        if probe == "instance":
            dep_.K2.CONF = dep_.Conf(5)
        if probe == "instance_attribute":
            dep_.K2.CONF.level = 6
        if probe == "class_name":
            dep_.K.__name__ = "Renamed"
        if probe == "function_name":
            f.__name__ = "g"
        if probe == "function_doc":
            f.__doc__ = "a doc"
        if probe == "method_name":
            dep_.K.doc.__name__ = "renamed"
        if probe == "method_doc":
            dep_.K.doc.__doc__ = "another doc"
        if probe == "method_module":
            dep_.K.doc.__module__ = "elsewhere"
        if probe == "method_annotations":
            dep_.K.doc.__annotations__ = {"a": str}
        if probe == "method_annotation_item":
            dep_.K.doc.__annotations__["return"] = str
        if probe == "method_type_params":  # an attribute on 3.11
            import typing
            dep_.K.doc.__type_params__ = (typing.TypeVar("T"),)
        if probe == "nested_class_method_defaults":
            dep_.Nest.Inner.m.__defaults__ = (3,)
        if probe == "staticmethod_cell":
            dep_.Nest.S.__closure__[0].cell_contents = 2
        if probe == "classmethod_cell":
            dep_.Nest.C.__func__.__closure__[0].cell_contents = 2
        if probe == "partial_function_defaults":
            dep_.add.__defaults__ = (5,)
        if probe == "held_instance_class_attribute":
            dep_.Setting.mode = "b"
        if probe == "method_cell":
            dep_.Nest.m.__closure__[0].cell_contents = 2
        if probe == "module_partial_function_defaults":
            dep_.add2.__defaults__ = (5,)
        if probe == "annotations_of_a_dict_subclass":
            dep_.noted.__annotations__["x"] = "second"
        if probe == "held_class_metaclass":
            dep_.HeldMeta.level = 5
        import reader_
        print(reader_.R)
    """,
}

CHANGES_FIRST = ["code", "globals", "method_defaults", "method_kwdefaults",
                 "method_attribute", "property_defaults", "tuple", "frozenset",
                 "instance", "instance_attribute", "class_name", "function_name",
                 "function_doc", "method_name", "method_doc", "method_module",
                 "method_annotations", "method_annotation_item",
                 "method_type_params", "nested_class_method_defaults",
                 "staticmethod_cell", "classmethod_cell",
                 "partial_function_defaults", "held_instance_class_attribute",
                 "method_cell", "module_partial_function_defaults",
                 "annotations_of_a_dict_subclass", "held_class_metaclass"]


def test_what_a_body_called_or_read_through_a_class_changed_first(tmp_path: Path) -> None:
    """A program that changed, before the import, what a body called or
    read through another module's function or class (a function's code of
    the same file and line, or its globals; a method's defaults, keyword
    defaults or attributes; a property getter's defaults; a class's tuple,
    frozenset or instance attribute, that instance's attributes, the
    class's __name__; a function's or method's __name__, __doc__,
    __module__, annotations or __type_params__) gets the body run, and plain Python's
    output."""
    snap = snapshot_project(tmp_path, CHANGED_FIRST, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "reader_", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout, share.stderr
    for probe in CHANGES_FIRST:
        plain, share = snap.plain(["app.py", probe]), snap.share(["app.py", probe])
        assert share.stdout == plain.stdout, (probe, share.stderr)
        assert snapshot_lines(share.stderr).get("reader_", "").startswith("code ("), (
            probe, share.stderr)


# What pkg_.first and pkg_.second read (the same, before and after mut)
READS_DURING = """
        import dep2_
        N = dep2_.K.__name__
        H = len(dep2_.OBJ.handlers)
        D = dep2_.M().m()
        E = (dep2_.Holder.CONF.level, dep2_.M.m.__name__,
             getattr(dep2_.M.m, "mark", None), len(dep2_.M.m.tags),
             len(dep2_.Holder.PARTS[0]), type(dep2_.OBJ).__qualname__,
             len(dep2_.M.n.__annotations__["a"]))
        F = (dep2_.Holder2.Inner().m(), dep2_.Holder2().c(),
             dep2_.Holder2.LEVEL.level)
    """

CHANGED_DURING = {
    "dep2_.py": """
        class K:
            pass
        class Base:
            handlers = []
        class Obj(Base):
            pass
        OBJ = Obj()
        class M:
            def m(self, x=1):
                return x
            def n(self, a: ["a"] = 0):
                return a
        class Conf:
            level = 0
        def closing_over(v):
            def c(self):
                return v
            return c
        class Holder:
            CONF = Conf()
            PARTS = ([],)
        class Level:
            level = 0
        class Holder2:  # (nothing in it unstamped: its state is remembered)
            class Inner:
                def m(self, x=1):
                    return x
            c = closing_over(1)
            LEVEL = Level()
        M.m.tags = []
    """,
    "pkg_/__init__.py": """
        import dep2_
        from . import first, mut, second
    """,
    "pkg_/first.py": READS_DURING,
    "pkg_/mut.py": """
        __pycds_snapshot__ = False
        import os, dep2_
        if os.environ.get("CHANGE") == "rename":
            dep2_.K.__name__ = "Renamed"
        if os.environ.get("CHANGE") == "handlers":
            dep2_.Base.handlers.append(1)
        if os.environ.get("CHANGE") == "defaults":
            dep2_.M.m.__defaults__ = (2,)
        if os.environ.get("CHANGE") == "code":
            dep2_.M.m.__code__ = (lambda self, x=1: x + 10).__code__
        if os.environ.get("CHANGE") == "instance":
            dep2_.Holder.CONF.level = 3
        if os.environ.get("CHANGE") == "method_name":
            dep2_.M.m.__name__ = "renamed"
        if os.environ.get("CHANGE") == "method_attribute":
            dep2_.M.m.mark = "marked"
        if os.environ.get("CHANGE") == "attribute_list":
            dep2_.M.m.tags.append("t")
        if os.environ.get("CHANGE") == "list_in_tuple":
            dep2_.Holder.PARTS[0].append(1)
        if os.environ.get("CHANGE") == "instance_class_name":
            dep2_.Obj.__qualname__ = "Other"
        if os.environ.get("CHANGE") == "annotation_list":
            dep2_.M.n.__annotations__["a"].append("b")
        if os.environ.get("CHANGE") == "nested_class_defaults":
            dep2_.Holder2.Inner.m.__defaults__ = (2,)
        if os.environ.get("CHANGE") == "held_instance_class":
            dep2_.Level.level = 4
        if os.environ.get("CHANGE") == "method_cell":
            dep2_.Holder2.c.__closure__[0].cell_contents = 2
    """,
    "pkg_/second.py": READS_DURING,
    "app.py": """
        import pkg_
        print(pkg_.first.N, pkg_.first.H, pkg_.first.D,
              pkg_.second.N, pkg_.second.H, pkg_.second.D)
        print(*pkg_.first.E, *pkg_.second.E)
        print(*pkg_.first.F, *pkg_.second.F)
    """,
}


def test_what_a_body_read_changed_between_two_units_of_one_import(tmp_path: Path) -> None:
    """A body run as code between two units of one import (a module that
    opts out) that renames a class both read, appends to a list on the
    base class of an instance both read, gives a method of a class both
    called other defaults or other code, another __name__ or an attribute,
    or changes an instance a class holds, a list among a method's
    attributes, its annotations or in a tuple a class holds, or renames
    the class of an
    instance both read (none of which renews a version tag of the class
    on 3.13): the second unit's checks see the change, not what
    the first unit's checks remembered."""
    snap = snapshot_project(tmp_path, CHANGED_DURING, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "pkg_.first", "pkg_.second", dump_output=snap.dump_output)
    unchanged = "0 m None 0 0 Obj 1 0 m None 0 0 Obj 1\n"
    same = "1 1 0 1 1 0\n"  # a nested class's method, a method's cell, a held
    # instance's class's attribute
    assert share.stdout == plain.stdout == "K 0 1 K 0 1\n" + unchanged + same, share.stderr
    assert_each_change_seen(snap, "pkg_.first", [
        ("rename", "K 0 1 Renamed 0 1\n" + unchanged + same),
        ("handlers", "K 0 1 K 1 1\n" + unchanged + same),
        ("defaults", "K 0 1 K 0 2\n" + unchanged + same),
        ("code", "K 0 1 K 0 11\n" + unchanged + same),
        ("instance", "K 0 1 K 0 1\n0 m None 0 0 Obj 1 3 m None 0 0 Obj 1\n" + same),
        ("method_name", "K 0 1 K 0 1\n0 m None 0 0 Obj 1 0 renamed None 0 0 Obj 1\n" + same),
        ("method_attribute", "K 0 1 K 0 1\n0 m None 0 0 Obj 1 0 m marked 0 0 Obj 1\n" + same),
        ("attribute_list", "K 0 1 K 0 1\n0 m None 0 0 Obj 1 0 m None 1 0 Obj 1\n" + same),
        ("list_in_tuple", "K 0 1 K 0 1\n0 m None 0 0 Obj 1 0 m None 0 1 Obj 1\n" + same),
        ("instance_class_name", "K 0 1 K 0 1\n0 m None 0 0 Obj 1 0 m None 0 0 Other 1\n" + same),
        ("annotation_list", "K 0 1 K 0 1\n0 m None 0 0 Obj 1 0 m None 0 0 Obj 2\n" + same),
        ("nested_class_defaults", "K 0 1 K 0 1\n" + unchanged + "1 1 0 2 1 0\n"),
        ("held_instance_class", "K 0 1 K 0 1\n" + unchanged + "1 1 0 1 1 4\n"),
        ("method_cell", "K 0 1 K 0 1\n" + unchanged + "1 1 0 1 2 0\n")])


READS_UNSTAMPED = """
        import dep7_
        def cell():
            try:
                return dep7_.Cells().a()
            except NameError:
                return "empty"
        A = (dep7_.OBJ.LEVEL.level, dep7_.OBJ.In().m(), cell(),
             dep7_.Cells().b(), dep7_.SlotHolder.LEVEL.level,
             dep7_.P() is dep7_.P, dep7_.META_OBJ.get(), dep7_.BOTH.v,
             dep7_.SlotValueHolder.LEVEL.level, dep7_.HOLDER3.count(),
             dep7_.Annotated.m.__annotations__["x"])
    """

UNSTAMPED_STATE = {
    "dep7_.py": """
        import functools
        class Level:
            level = 0
        class Inner:
            def m(self, x=1):
                return x
        class Holder:
            LEVEL = Level()
            In = Inner
        OBJ = Holder()
        def closing_over_nothing_yet():
            if 0:
                state = 0
            def m(self):
                return repr(state)
            def fill(v):
                nonlocal state
                state = v
            return m, fill
        def closing_over_none():
            box = None
            def m(self):
                return repr(box)
            def fill(v):
                nonlocal box
                box = v
            return m, fill
        m1, fill_empty = closing_over_nothing_yet()
        m2, fill_none = closing_over_none()
        class Cells:
            a = m1
            b = m2
        class Slotted:
            __slots__ = ()
            level = 0
        class Slotted2:
            __slots__ = ()
            level = 7
        class SlotHolder:
            LEVEL = Slotted()
        def partial_of_itself():
            def f(x=None):
                return p
            p = functools.partial(f)
            return p
        P = partial_of_itself()
        class Meta(type):
            level = 0
        class T(metaclass=Meta):
            def get(self):
                return type(self).level
        META_OBJ = T()
        class DictAndSlots:
            __slots__ = ("v", "__dict__")
        BOTH = DictAndSlots()
        BOTH.v = 0
        class SlotValue:
            __slots__ = ("level",)
        class SlotValueHolder:
            LEVEL = SlotValue()
        SlotValueHolder.LEVEL.level = 0
        class Registry:
            items = []
        class Holder3:
            REG = Registry()
            def count(self):
                return len(self.REG.items)
        HOLDER3 = Holder3()
        class Annotated:
            def m(self, x: "first"):
                pass
    """,
    "pkg7_/__init__.py": """
        import dep7_
        from . import first, mut, second
    """,
    "pkg7_/first.py": READS_UNSTAMPED,
    "pkg7_/mut.py": """
        __pycds_snapshot__ = False
        import os, dep7_
        change = os.environ.get("CHANGE")
        if change == "level":
            dep7_.Level.level = 4
        if change == "inner":
            dep7_.Inner.m = lambda self, x=5: x
        if change == "fill_empty":
            dep7_.fill_empty(5)
        if change == "none_to_dict":
            dep7_.fill_none({})
        if change == "slots_class":
            dep7_.SlotHolder.LEVEL.__class__ = dep7_.Slotted2
        if change == "metaclass":
            dep7_.Meta.level = 5
        if change == "instance_slot":
            dep7_.BOTH.v = 5
        if change == "held_slot":
            dep7_.SlotValueHolder.LEVEL.level = 5
        if change == "held_list":
            dep7_.Registry.items.append(1)
        if change == "annotation":
            dep7_.Annotated.m.__annotations__["x"] = "second"
    """,
    "pkg7_/second.py": READS_UNSTAMPED,
    "app.py": """
        import pkg7_
        print(*pkg7_.first.A)
        print(*pkg7_.second.A)
    """,
}


def test_what_the_memo_holds_of_classes_cells_and_instances(tmp_path: Path) -> None:
    """Between two units of one import, a body run as code changes what
    a remembered state holds with no stamp of its own: the class a class
    held by an instance's class holds (an instance's remembered digest
    held its own class's stamp alone), a method's empty cell filled or a
    cell's None replaced by {} (readings that took empty, None and {} for
    one), a slots instance a class holds given another class (noted only
    with a dict of attributes), a metaclass's attribute read through an
    instance (whose remembered digest held its class's stamp, not its
    metaclass's), a slot's value of an instance read or of one a class
    holds (no stamp).  The second unit sees each change.  And a
    partial whose function's closure holds the partial itself is read
    without recursing (the dump's interpreter crashed)."""
    snap = snapshot_project(tmp_path, UNSTAMPED_STATE, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "pkg7_.first", "pkg7_.second", dump_output=snap.dump_output)
    same = "0 1 empty None 0 True 0 0 0 0 first\n"
    assert share.stdout == plain.stdout == same * 2, share.stderr
    for change, second in [("level", "4 1 empty None 0 True 0 0 0 0 first\n"),
                           ("inner", "0 5 empty None 0 True 0 0 0 0 first\n"),
                           ("fill_empty", "0 1 5 None 0 True 0 0 0 0 first\n"),
                           ("none_to_dict", "0 1 empty {} 0 True 0 0 0 0 first\n"),
                           ("slots_class", "0 1 empty None 7 True 0 0 0 0 first\n"),
                           ("metaclass", "0 1 empty None 0 True 5 0 0 0 first\n"),
                           ("instance_slot", "0 1 empty None 0 True 0 5 0 0 first\n"),
                           ("held_slot", "0 1 empty None 0 True 0 0 5 0 first\n"),
                           ("held_list", "0 1 empty None 0 True 0 0 0 1 first\n"),
                           ("annotation", "0 1 empty None 0 True 0 0 0 0 second\n")]:
        plain = snap.plain(["app.py"], CHANGE=change)
        share = snap.share(["app.py"], CHANGE=change)
        assert share.stdout == plain.stdout == same + second, (change, share.stderr)
        assert_restored(share, "pkg7_.first", dump_output=snap.dump_output)


HELD_READS = """
        import dep8_
        A = ((dep8_.Color.RED | dep8_.Color.BLUE).value, dep8_.HOLDER.count())
    """

HELD_CLASSES = {
    "dep8_.py": """
        import enum
        class Color(enum.Flag):
            RED = 1
            BLUE = 2
        class Registry:
            items = []
        class Holder:
            REG = Registry()
            def count(self):
                return len(self.REG.items)
        HOLDER = Holder()
    """,
    "pkga8_/__init__.py": "from . import a\n",
    "pkga8_/a.py": HELD_READS,
    "pkgb8_/__init__.py": "from . import a, b\n",
    "pkgb8_/a.py": HELD_READS,
    "pkgb8_/b.py": HELD_READS,
    "app.py": "import pkga8_, pkgb8_\n",
    "one.py": """
        import pkga8_
        from pycds import _cds
        print(*pkga8_.a.A, _cds.namespace_hashes())
    """,
    "two.py": """
        import pkgb8_
        from pycds import _cds
        print(*pkgb8_.b.A, _cds.namespace_hashes())
    """,
}


def test_a_class_that_holds_classes_is_hashed_once_per_import(tmp_path: Path) -> None:
    """A class that holds an instance of a class with a list (an
    enum.Flag: Flag holds FlagBoundary.STRICT, whose class holds its
    member lists; a registry object) has its namespace hashed once in an
    import however many units read it: the held class's lists are read
    at each check with the holder's own, not hashed into what the memo
    keeps under stamps.  (They were, and no such class was remembered:
    every Flag class was hashed again at each read, 45% more instructions
    than running the bodies for boto3.)  A second unit that reads the
    same classes hashes none."""
    snap = snapshot_project(tmp_path, HELD_CLASSES, ["app.py"])
    one, two = snap.share(["one.py"]), snap.share(["two.py"])
    assert_restored(one, "pkga8_.a", dump_output=snap.dump_output)
    assert_restored(two, "pkgb8_.a", "pkgb8_.b", dump_output=snap.dump_output)
    values_one, hashed_one = one.stdout.rsplit(" ", 1)
    values_two, hashed_two = two.stdout.rsplit(" ", 1)
    assert values_one == values_two == "3 0", (one.stdout, two.stdout)
    assert 0 < int(hashed_one) == int(hashed_two), (one.stdout, two.stdout)


REGISTRY_READS = """
        import dep9_
        A = dep9_.HOLDER.count()
    """

CLASS_GIVEN_BY_A_UNIT = {
    "dep9_.py": """
        def make():
            class R:
                items = []
            return R
        R1 = make()
        R2 = make()
        CLASSES = (R1, R2)
        class Holder:
            REG = R1()
            def count(self):
                return len(self.REG.items)
        HOLDER = Holder()
    """,
    "pkg9_/__init__.py": """
        import dep9_
        from . import zero, first, second
    """,
    "pkg9_/zero.py": REGISTRY_READS,
    "pkg9_/first.py": """
        import dep9_
        dep9_.Holder.REG.__class__ = dep9_.CLASSES[1]
    """,
    "pkg9_/second.py": REGISTRY_READS,
    "app.py": """
        import os
        import dep9_
        if os.environ.get("CHANGE"):
            dep9_.R2.items.append(1)
        import pkg9_
        print(pkg9_.zero.A, pkg9_.second.A)
    """,
}


def test_an_instance_a_restored_unit_gives_another_class_is_read_again(tmp_path: Path) -> None:
    """A unit whose operations give an instance a class holds another
    class (`obj.__class__ = Other`, replayed) changes what the checks
    remembered of the holder with no stamp: the next unit's check reads
    the holder again and sees the other class's list (a helper's review:
    the second unit was restored with the first class's, stale).  Two
    classes of one name, so that only their state tells them apart."""
    snap = snapshot_project(tmp_path, CLASS_GIVEN_BY_A_UNIT, ["app.py"])
    for change in ("", "r2"):
        plain = snap.plain(["app.py"], CHANGE=change)
        share = snap.share(["app.py"], CHANGE=change)
        assert share.stdout == plain.stdout == ("0 1\n" if change else "0 0\n"), (
            change, share.stderr)
        assert_restored(share, "pkg9_.zero", "pkg9_.first", dump_output=snap.dump_output)


FACTORY_CLOSURES = {
    "dep10_.py": """
        def make(n):
            def impl():
                return n
            return impl
        F1 = make(1)
        F2 = make(2)
        class HKw:
            def count(self, *, impl=F1):
                return impl()
        class HDef:
            def count(self, impl=F1):
                return impl()
        class HInst:
            def __init__(self):
                self.impl = F1
            def count(self):
                return self.impl()
        class Reg:
            def __init__(self):
                self.impl = F1
        class HHeld:
            REG = Reg()
            def count(self):
                return self.REG.impl()
        class HAnn:
            def count(self) -> F1:
                return HAnn.count.__annotations__["return"]()
        def plain_kw(*, impl=F1):
            return impl()
        H_KW, H_DEF, H_INST, H_HELD, H_ANN = HKw(), HDef(), HInst(), HHeld(), HAnn()
        import functools
        def wrap(fn):
            def w():
                return fn()
            return w
        def deco(fn):
            @functools.wraps(fn)
            def w():
                return fn()
            return w
        NESTED = [wrap(make(1))]
        DECORATED = [deco(make(1)), deco(make(2))]
        TUPLES = [make((1, 0))]
    """,
    "reader10_.py": """
        import dep10_
        A = (dep10_.H_KW.count(), dep10_.H_DEF.count(), dep10_.H_INST.count(),
             dep10_.H_HELD.count(), dep10_.H_ANN.count(), dep10_.plain_kw(),
             dep10_.NESTED[0](), dep10_.DECORATED[0](), sum(dep10_.TUPLES[0]()))
    """,
    "app.py": """
        import sys
        import dep10_
        probe = sys.argv[1] if len(sys.argv) > 1 else ""
        if probe == "kwdefault":
            dep10_.HKw.count.__kwdefaults__["impl"] = dep10_.F2
        if probe == "default":
            dep10_.HDef.count.__defaults__ = (dep10_.F2,)
        if probe == "instance":
            dep10_.H_INST.impl = dep10_.F2
        if probe == "held_instance":
            dep10_.HHeld.REG.impl = dep10_.F2
        if probe == "annotation":
            dep10_.HAnn.count.__annotations__["return"] = dep10_.F2
        if probe == "function_kwdefault":
            dep10_.plain_kw.__kwdefaults__["impl"] = dep10_.F2
        if probe == "nested_cell":
            dep10_.NESTED[0].__closure__[0].cell_contents.__closure__[0].cell_contents = 2
        if probe == "nested_swapped":
            dep10_.NESTED[0] = dep10_.wrap(dep10_.F2)
        if probe == "decorated_swapped":
            dep10_.DECORATED[0] = dep10_.DECORATED[1]
        if probe == "tuple_cell":
            dep10_.TUPLES[0].__closure__[0].cell_contents = (2, 0)
        import reader10_
        print(*reader10_.A)
    """,
}


def test_closures_of_one_factory_are_told_apart(tmp_path: Path) -> None:
    """Two closures of one `def` (a factory's) have one witness (qualname,
    file, line): one put in place of the other before the import, in a
    method's default or keyword default, an instance's attribute (of one a
    class holds too), a method's annotation or a function's keyword
    default, was not seen (a helper's review: the body's unit was restored
    and called the first).  What their cells hold is part of the digest
    wherever a function is held as a value: plain values, the items of a
    tuple, and a closure in a cell (a decorator's wrapper) with its own
    cells (a second review: one level was not enough)."""
    snap = snapshot_project(tmp_path, FACTORY_CLOSURES, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "reader10_", dump_output=snap.dump_output)
    same = "1 1 1 1 1 1 1 1 1\n"
    assert share.stdout == plain.stdout == same, share.stderr
    for probe in ("kwdefault", "default", "instance", "held_instance", "annotation",
                  "function_kwdefault", "nested_cell", "nested_swapped",
                  "decorated_swapped", "tuple_cell"):
        plain, share = snap.plain(["app.py", probe]), snap.share(["app.py", probe])
        assert share.stdout == plain.stdout != same, (probe, share.stderr)
        assert snapshot_lines(share.stderr).get("reader10_", "").startswith("code ("), (
            probe, share.stderr)


CLOSURES_A_BODY_CHANGES = {
    "dep11_.py": """
        def make(n):
            def get():
                return n
            def put(v):
                nonlocal n
                n = v
            return get, put
        GET, PUT = make(1)
        HOOKS = [GET]
        REGISTRY = {"one": GET}
    """,
    "pkg11_/__init__.py": "from . import alias, change\n",
    "pkg11_/alias.py": """
        import dep11_
        dep11_.REGISTRY["uno"] = dep11_.REGISTRY["one"]
        N = sorted(dep11_.REGISTRY)
    """,
    "pkg11_/change.py": """
        import dep11_
        X = dep11_.HOOKS[0]()
        dep11_.PUT(5)
    """,
    "app.py": """
        import dep11_, pkg11_
        print(pkg11_.alias.N, pkg11_.change.X, dep11_.GET())
    """,
}


def test_a_closure_a_body_aliases_or_changes_is_still_a_unit(tmp_path: Path) -> None:
    """A body that puts a closure a registry holds under another key, or
    that sets a closure's cell after reading a list that holds it, is
    restored: what its operations leave is read as they will leave it (a
    second review of the closures' forms found both refused at the dump,
    the first by a stand-in written otherwise than the closure itself,
    the second by cells read past the operations' copies)."""
    snap = snapshot_project(tmp_path, CLOSURES_A_BODY_CHANGES, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert share.stdout == plain.stdout == "['one', 'uno'] 1 5\n", share.stderr
    assert_restored(share, "pkg11_.alias", "pkg11_.change", dump_output=snap.dump_output)


def assert_each_change_seen(snap: Snap, before: str, changes: list[tuple[str, str]]) -> None:
    """Run app.py with each CHANGE (name, the output plain Python gives):
    restored, it prints the same, and `before` (a unit imported before the
    change is made) is still restored."""
    for change, expected in changes:
        plain = snap.plain(["app.py"], CHANGE=change)
        share = snap.share(["app.py"], CHANGE=change)
        assert share.stdout == plain.stdout == expected, (change, share.stderr)
        assert_restored(share, before, dump_output=snap.dump_output)


CHANGED_BY_THE_IMPORTER = {
    "dep5_.py": """
        class M:
            def m(self, x=1, y=[0], *, k=0):
                return x + sum(y) + k
    """,
    "pkgm_/__init__.py": """
        __pycds_snapshot__ = False
        import os, dep5_
        from . import first
        if os.environ.get("CHANGE") == "defaults":
            dep5_.M.m.__defaults__ = (2, [0])
        if os.environ.get("CHANGE") == "code":
            dep5_.M.m.__code__ = (lambda self, x=1, y=[0], *, k=0: x + 10).__code__
        if os.environ.get("CHANGE") == "mutable":
            dep5_.M.m.__defaults__[1].append(100)
        if os.environ.get("CHANGE") == "kwdefaults":
            dep5_.M.m.__kwdefaults__["k"] = 5
        from . import second
    """,
    "pkgm_/first.py": """
        import dep5_
        D = dep5_.M().m()
    """,
    "pkgm_/second.py": """
        import dep5_
        D = dep5_.M().m()
    """,
    "app.py": """
        import pkgm_
        print(pkgm_.first.D, pkgm_.second.D)
    """,
}


def test_a_method_the_importer_changed_between_two_units(tmp_path: Path) -> None:
    """A body running as code that imports one unit, gives a method of a
    class that unit read other defaults or other code, changes a list
    among its defaults or its keyword-defaults dict in place, then imports
    a unit that reads the class too: the second sees the method as it is
    now, not as the first unit's checks remembered it."""
    snap = snapshot_project(tmp_path, CHANGED_BY_THE_IMPORTER, ["app.py"])
    share = snap.share(["app.py"])
    assert_restored(share, "pkgm_.first", "pkgm_.second", dump_output=snap.dump_output)
    assert share.stdout == "1 1\n", share.stderr
    assert_each_change_seen(snap, "pkgm_.first", [
        ("defaults", "1 2\n"), ("code", "1 11\n"), ("mutable", "1 101\n"),
        ("kwdefaults", "1 6\n")])


CHANGED_AFTER_A_NESTED_UNIT = {
    "flags6_.py": "ON = False\n",
    "dep6_.py": """
        class M:
            def m(self, x=1):
                return x
    """,
    "leaf6_.py": "import dep6_\nL = dep6_.M().m()\n",
    "first6_.py": "import dep6_\nD = dep6_.M().m()\n",
    "second6_.py": "import dep6_\nD = dep6_.M().m()\n",
    "changer6_.py": """
        __pycds_snapshot__ = False
        import flags6_, dep6_, leaf6_
        if flags6_.ON:
            dep6_.M.m.__defaults__ = (2,)
    """,
    "mid6_.py": "import first6_, changer6_, second6_\n",
    "app.py": """
        import os, flags6_
        flags6_.ON = os.environ.get("CHANGE") == "late"
        import dep6_, mid6_
        print(mid6_.first6_.D, mid6_.second6_.D)
    """,
}


def test_a_method_changed_by_a_body_after_the_unit_it_imported(tmp_path: Path) -> None:
    """A unit's replayed imports run a module as code (it opts out), which
    imports a unit of its own (read the class again) and then changes one
    of the class's methods, adding no module: the next replayed unit sees
    the change (3.11 has no function watcher: the restore forgets what it
    remembered once a body that imported a unit runs on)."""
    snap = snapshot_project(tmp_path, CHANGED_AFTER_A_NESTED_UNIT, ["app.py"])
    share = snap.share(["app.py"])
    assert_restored(share, "first6_", "leaf6_", "second6_", "mid6_",
                    dump_output=snap.dump_output)
    assert share.stdout == "1 1\n", share.stderr
    plain = snap.plain(["app.py"], CHANGE="late")
    share = snap.share(["app.py"], CHANGE="late")
    assert share.stdout == plain.stdout == "1 2\n", share.stderr


DELETED_IN_ORDER = {
    "dep3_.py": """
        D = {"x": 1, "y": 2}
    """,
    "trim_.py": """
        import dep3_
        FIRST = next(iter(dep3_.D))
        del dep3_.D[FIRST]
    """,
    "app.py": """
        import sys, dep3_
        if len(sys.argv) > 1:  # the same items, another order
            value = dep3_.D.pop("x")
            dep3_.D["x"] = value
        import trim_
        print(trim_.FIRST, dep3_.D)
    """,
}


def test_a_deletion_from_a_dict_its_program_reordered(tmp_path: Path) -> None:
    """A body that deleted another module's dict's first key: a program
    that put the same items in another order first gets the body run (the
    deletion replayed by key would take the other key), and plain's
    output; in the order the body saw, the unit restores."""
    snap = snapshot_project(tmp_path, DELETED_IN_ORDER, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "trim_", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "x {'y': 2}\n", share.stderr
    plain, share = snap.plain(["app.py", "reorder"]), snap.share(["app.py", "reorder"])
    assert share.stdout == plain.stdout == "y {'x': 1}\n", share.stderr
    assert "not among the keys, in the order, the body saw" in (
        snapshot_lines(share.stderr).get("trim_", "")), share.stderr


NATIVE_SUBCLASSES = {
    "log_.py": """
        CALLS = []
    """,
    "native_kids_.py": """
        import collections, datetime, functools, types
        import log_
        class DD(collections.defaultdict): pass
        class Day(datetime.date):
            def __new__(cls, *args):
                import datetime, log_
                log_.CALLS.append(("Day", args))
                return datetime.date.__new__(cls, *args)
        class Registry(collections.OrderedDict):
            def __init__(self, *args, **kwargs):
                import collections, log_
                log_.CALLS.append(("Registry", args, kwargs))
                collections.OrderedDict.__init__(self, *args, **kwargs)
        class Part(functools.partial): pass
        class Space(types.SimpleNamespace): pass
        REG = DD(list)
        REG.name = "registry"
        D = Day(2020, 1, 2)
        D.label = "new year"
        R = Registry(a=1)
        P = Part(print, 1)
        N = Space(x=1)
    """,
    "app.py": """
        import native_kids_, log_
        m = native_kids_
        print("values:", vars(m.REG), vars(m.D), m.D, dict(m.R), m.P.args, m.N, log_.CALLS)
    """,
}


def test_instances_of_subclasses_of_natively_reduced_types_are_refused(tmp_path: Path) -> None:
    """A subclass of defaultdict, date, OrderedDict, partial or
    SimpleNamespace: their C __reduce__ names the subclass, so a restore
    would call it (its __new__ and __init__ running again, a log appended
    twice) and lose date's and defaultdict's attributes.  Refused, with
    the reason; the program sees plain Python's values."""
    snap = snapshot_project(tmp_path, NATIVE_SUBCLASSES, ["app.py"])
    why = code_only(snap.dump_output).get("native_kids_", "")
    assert "a subclass of" in why and "remade by calling its class" in why, snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert share.stdout == plain.stdout, share.stderr
    assert "'label': 'new year'" in plain.stdout and plain.stdout.count("'Registry'") == 1


def test_a_restored_classs_module_is_the_modules_name_object(tmp_path: Path) -> None:
    """A class statement takes __module__ from the module's __name__: the
    same string object, which pickle memoizes once for a class and a
    function of the module (the bytes differed restored)."""
    snap = snapshot_project(tmp_path, {
        "named_mod_.py": """
            class C: pass
            def f(): pass
        """,
        "app.py": """
            import named_mod_, pickle
            m = named_mod_
            print(m.C.__module__ is m.__name__, pickle.dumps((m.C, m.f)))
        """}, ["app.py"])
    assert same_as_plain(snap, "named_mod_").stdout.startswith("True ")


def test_wrappers_type_new_made_have_no_attributes_of_their_own(tmp_path: Path) -> None:
    """type.__new__ wraps __init_subclass__ (and __new__, __class_getitem__)
    with no copy of the function's names in the wrapper's __dict__, which
    classmethod(f) makes: inspect.getdoc of it is classmethod's own doc
    (a restore gave the function's, and typing.Protocol's was None)."""
    snap = snapshot_project(tmp_path, {
        "hooks_.py": """
            class C:
                def __init_subclass__(cls):
                    "hook doc"
                def __class_getitem__(cls, item):
                    "item doc"
                @classmethod
                def explicit(cls):
                    "explicit doc"
                @staticmethod
                def stat():
                    "static doc"
        """,
        "app.py": """
            import hooks_, inspect
            for name in ("__init_subclass__", "__class_getitem__", "explicit", "stat"):
                d = hooks_.C.__dict__[name]
                print("values:", name, vars(d), inspect.getdoc(d)[:30])
        """}, ["app.py"])
    plain = same_as_plain(snap, "hooks_")
    assert "values: __init_subclass__ {} " in plain.stdout, plain.stdout
    assert "'__doc__': 'explicit doc'" in plain.stdout, plain.stdout


def test_a_propertys_doc_is_the_one_it_took_when_made(tmp_path: Path) -> None:
    """property(getter) takes the getter's doc when it is made; one set on
    the getter after is not the property's (a restore made the property
    again, and took it)."""
    snap = snapshot_project(tmp_path, {
        "docs_.py": """
            def getter(self): return 1
            P = property(getter)
            getter.__doc__ = "doc set later"
            def other(self):
                "other's doc"
            Q = property(other)
        """,
        "app.py": """
            import docs_
            print("values:", repr(docs_.P.__doc__), repr(docs_.Q.__doc__))
        """}, ["app.py"])
    assert same_as_plain(snap, "docs_").stdout == "values: None \"other's doc\"\n"


HELD_STATE = {
    "held_.py": """
        class D(dict): pass
        class L(list): pass
        class S(set): pass
        class Slotted:
            __slots__ = ("x", "unset")
            def __init__(self): self.x = 1
        d, l, s, slotted = D(a=1), L([1]), S([1]), Slotted()
    """,
    "reads_d_.py": "import held_\nKEYS = sorted(held_.d)\n",
    "reads_l_.py": "import held_\nN = len(held_.l)\n",
    "reads_s_.py": "import held_\nN = len(held_.s)\n",
    "reads_slot_.py": "import held_\nX = held_.slotted.x\n",
    "reads_unset_.py": "import held_\nX = hasattr(held_.slotted, 'unset')\n",
    "app.py": """
        import sys, held_
        change = sys.argv[1] if len(sys.argv) > 1 else ""
        if change == "d": held_.d["zz"] = 2
        if change == "l": held_.l.append(2)
        if change == "s": held_.s.add(2)
        if change == "slot": held_.slotted.x = 99
        if change == "unset": held_.slotted.unset = 0
        import reads_d_, reads_l_, reads_s_, reads_slot_, reads_unset_
        print("values:", reads_d_.KEYS, reads_l_.N, reads_s_.N, reads_slot_.X,
              reads_unset_.X)
    """,
}


SLOT_READERS = ("reads_slot_", "reads_unset_")  # both read held_.slotted


@pytest.mark.parametrize("change, refused, name", [
    ("d", ("reads_d_",), "held_.d"), ("l", ("reads_l_",), "held_.l"),
    ("s", ("reads_s_",), "held_.s"), ("slot", SLOT_READERS, "held_.slotted"),
    ("unset", SLOT_READERS, "held_.slotted")])
def test_a_subclass_instances_items_and_slots_are_read_checked(
        tmp_path: Path, change: str, refused: tuple[str, ...], name: str) -> None:
    """What a dict, list or set subclass instance holds as one, and what an
    instance keeps in its __slots__ (set or not), is part of a read of it: a
    program that changed it before the import gets its readers' bodies run
    (the old values were restored)."""
    snap = snapshot_project(tmp_path, HELD_STATE, ["app.py"])
    readers = ["reads_d_", "reads_l_", "reads_s_", *SLOT_READERS]
    runs(snap, ["app.py"]).same("values", "held_", *readers)
    share = code_when_changed(snap, ["app.py", change],
                              {r: f"{name} is not what its body saw" for r in refused})
    assert_restored(share, *(r for r in readers if r not in refused))


def test_a_metaclass_attribute_read_through_a_class_is_checked(tmp_path: Path) -> None:
    """`WithMeta.setting` found on the metaclass: a program that changed it
    there before the import gets the reader's body run."""
    snap = snapshot_project(tmp_path, {
        "meta_mod_.py": """
            class Meta(type): pass
            class WithMeta(metaclass=Meta): pass
            Meta.setting = 1
        """,
        "meta_reader_.py": "import meta_mod_\nX = meta_mod_.WithMeta.setting\n",
        "app.py": """
            import sys, meta_mod_
            if len(sys.argv) > 1:
                meta_mod_.Meta.setting = 99
            import meta_reader_
            print("values:", meta_reader_.X)
        """}, ["app.py"])
    runs(snap).same("values", "meta_mod_", "meta_reader_")
    share = code_when_changed(snap, ["app.py", "patch"], {
        "meta_reader_": "meta_mod_.WithMeta is not what its body saw"})
    assert "values: 99" in share.stdout


def test_a_float_or_int_held_twice_is_one_object_again(tmp_path: Path) -> None:
    """pickle writes floats and ints by value wherever they are: a NaN a
    module names and a dict is keyed by came back as two objects (the
    lookup by the module's NaN failed, `in` failed)."""
    snap = snapshot_project(tmp_path, {
        "nans_.py": """
            NAN = float("nan")
            TABLE = {NAN: "missing"}
            BIG = 10 ** 30
            PAIR = (BIG, [BIG])
        """,
        "app.py": """
            import nans_
            m = nans_
            print(m.TABLE.get(m.NAN), m.NAN in list(m.TABLE), m.PAIR[0] is m.PAIR[1][0],
                  m.BIG is m.PAIR[0])
        """}, ["app.py"])
    assert same_as_plain(snap, "nans_").stdout == "missing True True True\n"


def test_what_a_partial_calls_with_is_read_checked(tmp_path: Path) -> None:
    """A functools.partial's function, arguments and keywords are its
    state: a program that changed a keyword before the import gets the
    body that read it run."""
    snap = snapshot_project(tmp_path, {
        "partial_mod_.py": """
            import functools
            def g(*, k): return k
            P = functools.partial(g, k=1)
        """,
        "partial_reader_.py": "import partial_mod_\nX = partial_mod_.P.keywords['k']\n",
        "app.py": """
            import sys, partial_mod_
            if len(sys.argv) > 1:
                partial_mod_.P.keywords["k"] = 99
            import partial_reader_
            print("values:", partial_reader_.X, partial_mod_.P())
        """}, ["app.py"])
    runs(snap).same("values", "partial_mod_", "partial_reader_")
    share = code_when_changed(snap, ["app.py", "patch"], {
        "partial_reader_": "partial_mod_.P is not what its body saw"})
    assert "values: 99 99" in share.stdout


def test_a_link_read_through_readlink_is_an_input(program_changes: Snap) -> None:
    link = program_changes.root / "lnk"
    link.unlink()
    link.symlink_to("two")
    try:
        changed_by_program(program_changes, {"reads_link_": "lnk"}, ["app.py"])
    finally:
        link.unlink()
        link.symlink_to("one")


# --------------------------------------------------------------------------
# 5. Refusals at dump, each with its reason; such modules run as code.

REFUSALS = {
    "thread_mod.py": """
        import threading
        STOP = threading.Event()
        WORKER = threading.Thread(target=STOP.wait, daemon=True)
        WORKER.start()
    """,
    "ctype_mod.py": """
        import array
        BUFFER = array.array("i", [1, 2, 3])
    """,
    "ctype_user.py": """
        from ctype_mod import BUFFER
        TOTAL = sum(BUFFER)
    """,
    "optout_mod.py": """
        __pycds_snapshot__ = False
        VALUE = "opted out"
    """,
    "excl_pkg/__init__.py": "VALUE = 'package'\n",
    "excl_pkg/sub.py": "VALUE = 'sub'\n",
    "fine_mod.py": "VALUE = 'fine'\n",
    "hash_mod.py": "KEY = hash('a key')\n",
    "stack_mod.py": "import _thread\nSIZE = _thread.stack_size()\n",
    "hash_num.py": "NUMBER = hash((1, 2.5, -0.0, frozenset({3})))\n",
    "scanner_mod.py": """
        import re
        SCANNER = re.Scanner([(r"\\w+", lambda scanner, token: token), (r" ", None)])
    """,
    "cfg_env.py": """
        import os
        __pycds_snapshot__ = False
        class Settings:
            pass
        Settings.n = int(os.environ.get("SNAPTEST_N", "1"))
    """,
    "cfg_user.py": """
        from cfg_env import Settings
        DOUBLE = Settings.n * 2
    """,
    "app.py": APP_HEAD + """
def c_refused():
    import thread_mod, ctype_mod, ctype_user, optout_mod, excl_pkg, excl_pkg.sub, fine_mod
    import cfg_user, hash_mod, hash_num, stack_mod, scanner_mod
    yield cfg_user.DOUBLE, hash_mod.KEY == hash("a key"), hash_num.NUMBER
    yield scanner_mod.SCANNER.scan("two words")
    thread_mod.STOP.set()
    thread_mod.WORKER.join()
    yield thread_mod.WORKER.is_alive(), list(ctype_mod.BUFFER), ctype_user.TOTAL
    yield optout_mod.VALUE, optout_mod.__pycds_snapshot__, excl_pkg.VALUE, excl_pkg.sub.VALUE, fine_mod.VALUE
check("refused", c_refused)
""",
}
REFUSED = ("thread_mod", "ctype_mod", "ctype_user", "optout_mod", "excl_pkg", "excl_pkg.sub",
           "hash_mod", "stack_mod", "scanner_mod")


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("refusals")
    snap = snapshot_project(root, REFUSALS, ["app.py"],
                            dump_args=("--snapshot-exclude", "excl_pkg"))
    return runs(snap)


def test_thread_started_in_a_body_is_refused(refusals: Runs) -> None:
    assert "thread" in code_only(refusals.snap.dump_output).get("thread_mod", "")


def test_unknown_c_type_is_refused(refusals: Runs) -> None:
    why = code_only(refusals.snap.dump_output).get("ctype_mod", "")
    assert "object of C type array.array: no reviver" in why, refusals.snap.dump_output
    # Its user read the array: contents a restore cannot check.
    why = code_only(refusals.snap.dump_output).get("ctype_user", "")
    assert "reads ctype_mod.BUFFER" in why and "cannot be checked" in why, why


def test_a_scanners_pattern_is_refused(refusals: Runs) -> None:
    """re.Scanner compiles parsed parts: its pattern has no source to
    compile again (markdown's attr_list), said as its reason."""
    why = code_only(refusals.snap.dump_output).get("scanner_mod", "")
    assert "a re.Pattern with no source (re.Scanner's): no reviver" in why, \
        refusals.snap.dump_output


def test_a_body_that_hashed_a_string_is_refused(refusals: Runs) -> None:
    """hash() of a str is another number in every process (the hash
    seed): a body that kept one is no unit; one that hashed numbers is."""
    assert code_only(refusals.snap.dump_output).get("hash_mod") == (
        "called hash() on a builtins.str (another number in every process)")
    assert "hash_num" in restored(refusals.share.stderr), refusals.share.stderr
    assert "refused: (2, True, " in refusals.share.stdout, refusals.share.stdout


def test_a_body_that_called_stack_size_is_refused(refusals: Runs) -> None:
    """_thread.stack_size() with no argument sets the size as it reads it."""
    assert code_only(refusals.snap.dump_output).get("stack_mod") == (
        "called _thread.stack_size(), which sets it")


def test_dependency_inputs_are_checked(refusals: Runs) -> None:
    """cfg_user's value comes from code-only cfg_env, which read an
    environment variable: cfg_user is restored while it is unchanged and
    falls back when it changes (its dependency's inputs are its own)."""
    assert "cfg_user" in restored(refusals.share.stderr), refusals.share.stderr
    plain = refusals.snap.plain(["app.py"], SNAPTEST_N="5")
    share = refusals.snap.share(["app.py"], SNAPTEST_N="5")
    assert share.stdout == plain.stdout and "10" in plain.stdout
    line = snapshot_lines(share.stderr).get("cfg_user", "")
    assert line.startswith("code (") and "SNAPTEST_N" in line, share.stderr


def test_opt_out_marker(refusals: Runs) -> None:
    assert code_only(refusals.snap.dump_output).get("optout_mod") == (
        "opted out (__pycds_snapshot__ = False)")


def test_snapshot_exclude(refusals: Runs) -> None:
    refused = code_only(refusals.snap.dump_output)
    assert refused.get("excl_pkg") == "excluded by --snapshot-exclude"
    assert refused.get("excl_pkg.sub") == "excluded by --snapshot-exclude"


def test_refused_modules_run_as_code(refusals: Runs) -> None:
    refusals.same("refused", "fine_mod")
    done = restored(refusals.share.stderr)
    assert not set(REFUSED) & set(done), done
    assert refusals.share.stdout == refusals.plain.stdout


# --------------------------------------------------------------------------
# 6. Only what is imported: a program importing one module of a big
# snapshot restores only it and what it imports.

def big_modules() -> dict[str, str]:
    modules = {}
    for i in range(40):
        body = f"VALUE = {i}\nTABLE = {{'n': {i}, 'items': list(range({i}))}}\n"
        if i % 5:
            body = f"import big_{i - 1:02}\n" + body + \
                f"CHAIN = big_{i - 1:02}.CHAIN + [{i}]\n"
        else:
            body += f"CHAIN = [{i}]\n"
        modules[f"big_{i:02}.py"] = body
    modules["app.py"] = (
        "import json, logging, argparse, email.message, dataclasses, enum, decimal\n"
        "import textwrap, string, fractions, ipaddress, pathlib, tomllib\n"
        + "".join(f"import big_{i:02}\n" for i in range(40))
        + "print(sum(sys.modules[f'big_{i:02}'].VALUE for i in range(40)))\n".replace(
            "sys.modules", "__import__('sys').modules"))
    modules["one.py"] = "import big_12\nprint(big_12.CHAIN, big_12.TABLE)\n"
    modules["json_only.py"] = (
        "import json\nprint(json.dumps({'a': [1, 2.5, None]}), json.loads('[1, {\"b\": 2}]'))\n")
    modules["closure.py"] = (
        "import sys\nbefore = set(sys.modules)\nimport json\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n")
    return modules


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Snap:
    root = tmp_path_factory.mktemp("big")
    modules = big_modules()
    if sys.version_info < (3, 11):  # tomllib
        modules["app.py"] = modules["app.py"].replace(", tomllib", "")
    return snapshot_project(root, modules, ["app.py"])


def test_big_snapshot_app_restores_all(big: Snap) -> None:
    result = runs(big)
    assert result.share.stdout == result.plain.stdout
    done = restored(result.share.stderr)
    assert {f"big_{i:02}" for i in range(40)} <= set(done), big.dump_output


def test_one_module_of_a_big_snapshot(big: Snap) -> None:
    result = runs(big, ["one.py"])
    assert result.share.stdout == result.plain.stdout
    assert restored(result.share.stderr) == ["big_10", "big_11", "big_12"]
    assert set(snapshot_lines(result.share.stderr)) == {"big_10", "big_11", "big_12"}


def test_json_alone_restores_only_its_closure(big: Snap) -> None:
    closure = set(big.plain(["closure.py"]).stdout.split())
    result = runs(big, ["json_only.py"])
    assert result.share.stdout == result.plain.stdout
    done = restored(result.share.stderr)
    assert len(done) == len(set(done))  # each once
    assert {"json", "json.decoder", "json.scanner", "json.encoder"} <= set(done), \
        result.share.stderr
    assert set(snapshot_lines(result.share.stderr)) <= closure, (closure, result.share.stderr)


# --------------------------------------------------------------------------
# 7. importlib.reload of a restored module runs its body.

RELOAD = {
    "counter.py": "RUNS = []\n",
    "reloaded.py": """
        import counter
        counter.RUNS.append("body")
        VALUE = len(counter.RUNS)
        class K:
            pass
        def f():
            return VALUE
    """,
    "app.py": APP_HEAD + """
def c_reload():
    import importlib, counter, reloaded
    yield counter.RUNS, reloaded.VALUE, reloaded.f()
    old_k = reloaded.K
    reloaded.extra = "set by the program"
    again = importlib.reload(reloaded)
    yield again is reloaded, counter.RUNS, reloaded.VALUE, reloaded.f(), reloaded.K is old_k
    yield reloaded.extra, sorted(k for k in vars(reloaded) if not k.startswith("__"))
    importlib.reload(reloaded)
    yield counter.RUNS, reloaded.VALUE
check("reload", c_reload)
""",
}


@pytest.fixture(scope="module")
def reload_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("reload")
    return runs(snapshot_project(root, RELOAD, ["app.py"]))


def test_reload_runs_the_body(reload_runs: Runs) -> None:
    reload_runs.same("reload", "reloaded", "counter")
    assert section(reload_runs.plain.stdout, "reload")[1].startswith(
        "reload: (True, ['body', 'body'], 2, 2, False)")
    assert restored(reload_runs.share.stderr).count("reloaded") == 1


# --------------------------------------------------------------------------
# 8. Mutating restored objects: grow, replace, delete, collect.

MUTATE = {
    "mut_data.py": """
        D = {"a": 1, "b": [1, 2], "c": {"nested": [3]}}
        L = [1, 2, 3, [4, 5]]
        S = {1, 2, 3, "alpha", "beta"}
        F = frozenset({"x", "y"})
        T = (D, L, "tuple")
        BYTES = b"bytes"
        class K:
            attr = 1
            other = [1]
            def method(self):
                return self.attr
        class Sub(K):
            pass
        INST = K()
        INST.x = 1
        SUBINST = Sub()
        STRINGS = {f"key{i}": i for i in range(50)}
        def func():
            return D, L
        func.attr = {"k": "v"}
    """,
    "app.py": APP_HEAD + """
import gc

def c_mutate():
    import mut_data as m
    # Lookups by keys made in this process: hashes with this seed.
    yield m.D["".join(["a"])], "".join(["al", "pha"]) in m.S, "".join(["x"]) in m.F, m.STRINGS["key" + str(7)]
    for i in range(5000):
        m.D[f"grow{i}"] = [i] * 3
    for i in range(0, 5000, 2):
        del m.D[f"grow{i}"]
    del m.D["b"]
    m.D["a"] = "replaced"
    m.D["c"]["nested"].extend(range(1000))
    gc.collect()
    yield len(m.D), m.D["a"], m.D["grow1"], sum(m.D["c"]["nested"]), list(m.D)[:4]
    m.L[3].append(6)
    m.L.extend(range(10000))
    del m.L[2:5000]
    m.L.insert(0, "front")
    m.L.sort(key=repr)
    gc.collect()
    yield len(m.L), m.L[:3], m.L[-1]
    m.S.update(range(10000))
    m.S.discard("alpha")
    m.S -= set(range(0, 10000, 3))
    gc.collect()
    yield len(m.S), "beta" in m.S, "alpha" in m.S
    for i in range(300):
        setattr(m.K, f"a{i}", i)
    m.K.attr = 2
    del m.K.other
    m.INST.y = 2
    for i in range(100):
        setattr(m.INST, f"i{i}", i)
    del m.INST.x
    gc.collect()
    yield m.INST.method(), m.SUBINST.method(), m.Sub.a299, hasattr(m.K, "other"), len(vars(m.INST)), m.SUBINST.attr
    m.K.method = lambda self: "patched"
    yield m.SUBINST.method(), m.INST.method()
    for key in list(m.STRINGS):
        if key.endswith("3"):
            del m.STRINGS[key]
    m.STRINGS.clear()
    m.STRINGS.update(zip("abc", range(3)))
    m.func.attr.update(x=1)
    gc.collect()
    yield m.STRINGS, m.func()[0] is m.D, m.func.attr, m.T[1] is m.L
    # Replace and drop the restored objects themselves.
    m.D = {}
    m.L = None
    del m.S, m.INST, m.T
    m.K = None
    gc.collect()
    yield sorted(k for k in vars(m) if not k.startswith("__")), m.Sub.attr
    class Other:
        attr = "other"
    m.Sub.__bases__ = (Other,)
    gc.collect()
    yield hasattr(m.Sub, "attr"), m.SUBINST.__class__.__name__
    import sys
    del sys.modules["mut_data"]
    del m
    gc.collect()
    import mut_data
    yield mut_data.D["a"], len(mut_data.L)
check("mutate", c_mutate)
""",
}


@pytest.fixture(scope="module")
def mutate(tmp_path_factory: pytest.TempPathFactory) -> Snap:
    root = tmp_path_factory.mktemp("mutate")
    return snapshot_project(root, MUTATE, ["app.py"])


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_mutating_restored_objects(mutate: Snap, attempt: int) -> None:
    """Each run restores under a hash seed of its own, never the dump's (a
    seed fixed to another than the dump's runs the bodies instead:
    test_hash_seed_differs_from_the_dump), so the tables are rebuilt."""
    result = runs(mutate, PYTHONHASHSEED="random")
    result.same("mutate", "mut_data")
    assert result.share.stdout == result.plain.stdout
    assert result.share.returncode == result.plain.returncode == 0
    assert "ERROR" not in result.share.stdout, result.share.stdout


# --------------------------------------------------------------------------
# 9. PYCDSSNAPSHOT=0: the archive's units are ignored.

def test_pycdssnapshot_0_ignores_units(revivers: Runs) -> None:
    assert restored(revivers.share.stderr)  # the units are there
    off = revivers.snap.share(["app.py"], PYCDSSNAPSHOT="0")
    assert restored(off.stderr) == []
    assert off.stdout == revivers.plain.stdout


# --------------------------------------------------------------------------
# 10. AWS SnapStart's runtime hooks: what a restored body registered with
# snapshot_restore_py.register_after_restore runs after the restore, in
# registration order (a body run as code registers and nothing runs them,
# as in plain Python).  The package is a stand-in with its API here.

SNAPSTART_MODULES = {
    "snapshot_restore_py.py": """
        _before_snapshot_registry = []
        _after_restore_registry = []
        def register_before_snapshot(func, *args, **kwargs):
            _before_snapshot_registry.append((func, args, kwargs))
            return func
        def register_after_restore(func, *args, **kwargs):
            _after_restore_registry.append((func, args, kwargs))
            return func
    """,
    "hooked.py": """
        from snapshot_restore_py import register_after_restore
        CALLS = []
        @register_after_restore
        def first():
            CALLS.append("first")
        def second(tag, *, suffix):
            CALLS.append(tag + suffix)
        register_after_restore(second, "second", suffix="!")
    """,
    "app.py": "import hooked\nprint('calls', hooked.CALLS)\n",
}


@pytest.fixture(scope="module")
def snapstart(tmp_path_factory: pytest.TempPathFactory) -> Snap:
    return snapshot_project(tmp_path_factory.mktemp("snapstart"), SNAPSTART_MODULES,
                            ["app.py"])


def test_after_restore_hooks_run_in_order(snapstart: Snap) -> None:
    plain = snapstart.plain(["app.py"])
    share = snapstart.share(["app.py"])
    assert plain.stdout == "calls []\n"
    assert_restored(share, "hooked", dump_output=snapstart.dump_output)
    assert share.stdout == "calls ['first', 'second!']\n", share.stderr


def test_after_restore_hooks_do_not_run_for_code(snapstart: Snap) -> None:
    share = snapstart.share(["app.py"], PYCDSSNAPSHOT="0")
    assert share.stdout == "calls []\n"


def test_inspect_lists_units(snapstart: Snap) -> None:
    done = run(["-m", "pycds", "inspect", "--snapshot", str(snapstart.archive)],
               cwd=snapstart.root)
    assert "units" in done.stdout
    line = next(l for l in done.stdout.splitlines() if l.startswith("  hooked:"))
    assert "objects" in line and "names" in line
    assert "append 2" in done.stdout  # the two registrations it replays
    assert "    starts     yes" in done.stdout  # --snapshot-all: every unit starts


@pytest.mark.parametrize("where", ["header", "objects", "end"])
def test_damaged_unit_runs_the_body(snapstart: Snap, tmp_path: Path, where: str) -> None:
    """A unit whose bytes were changed (past the archive's checks or not)
    never crashes and never gives other output than plain: the archive is
    refused, or the module runs its body."""
    data = bytearray(snapstart.archive.read_bytes())
    # The unit's magic, not the same bytes in the restore's own code (the
    # archive holds it too): a unit's part 0, a pickle, follows its hash
    # and size.
    start = data.find(UNIT_MAGIC)
    while start > 0 and data[start + 20:start + 22] != b"\x80\x05":
        start = data.find(UNIT_MAGIC, start + 1)
    assert start > 0
    offset = {"header": start + 20, "objects": start + 400, "end": start + 900}[where]
    for i in range(offset, offset + 8):
        data[i] ^= 0x5A
    damaged = tmp_path / "damaged.img"
    damaged.write_bytes(bytes(data))
    done = run(["app.py"], cwd=snapstart.root, check=False, PYCDSMODE="SHARE",
               PYCDSARCHIVE=str(damaged), PYCDSVERBOSE="1")
    assert done.returncode == 0, done.stderr
    # Never restored from damaged bytes: the archive is refused or the
    # unit's checksum sends the module to its body.
    assert "snapshot: hooked: restored" not in done.stderr, done.stderr
    assert done.stdout == "calls []\n", done.stderr


def test_default_dump_keeps_only_units_that_pay(tmp_path: Path) -> None:
    """Without --snapshot-all the dump measures each unit against its code
    in fresh processes: every module it leaves out has a reason, and what
    it keeps restores (the choice itself depends on the machine)."""
    snap = snapshot_project(tmp_path, {"small.py": "X = 1\n",
                                       "app.py": "import small\nprint(small.X)\n"},
                            ["app.py"])
    dumped = run(["-m", "pycds", "dump", "--list", str(snap.list_path), "--archive",
                  str(snap.archive), "--snapshot"], cwd=snap.root).stdout
    kept = int(re.search(r"^snapshot: (\d+) units", dumped, re.M).group(1))
    refused = code_only(dumped)
    if kept == 0:
        assert "small" in refused, dumped
        assert ("restoring it takes" in refused["small"]
                or "loading their restore costs" in refused["small"]
                or "as a whole was not faster" in refused["small"]), dumped
    share = snap.share(["app.py"])
    assert share.stdout == "1\n"
    assert len(restored(share.stderr)) == kept


def test_memo_preamble_is_read_in_one_call(tmp_path: Path) -> None:
    """The preamble that fills the unpickler's memo is one frame: the
    unpickler asks its file for it once, not once per opcode (unframed,
    those reads were a quarter of the unpickler's time for boto3)."""
    probe = textwrap.dedent("""
        import io
        from pycds import _snapshot_restore as R
        data = R.memo_preamble(300)
        class Counting(io.BytesIO):
            reads = 0
            def read(self, *args):
                Counting.reads += 1
                return super().read(*args)
            def readinto(self, buffer):
                Counting.reads += 1
                return super().readinto(buffer)
        reader = R._unpickler_class()(Counting(data))
        fixed = list(range(300))
        reader.persistent_load = fixed.__getitem__
        reader.load()
        print(Counting.reads, reader.memo.copy()[299])
    """)
    done = run(["-c", probe], cwd=tmp_path)
    reads, last = done.stdout.split()
    assert last == "299"  # every fixed object in its place
    assert int(reads) <= 8, done.stdout  # unframed: four per fixed object


def test_operation_refused_before_any_object_is_made(tmp_path: Path) -> None:
    """A unit whose operations no longer fit (the program deleted first a
    key that the body deletes) runs its body, and leaves nothing of its
    own behind: its class made and dropped would still be listed by its
    base's __subclasses__() next to the body's own."""
    snap = snapshot_project(tmp_path, {
        "base.py": """
            REGISTRY = {"old": 1}
            class Base:
                pass
        """,
        "mod.py": """
            import base
            base.REGISTRY.pop("old", None)
            class Child(base.Base):
                pass
        """,
        "app.py": """
            import sys
            import base
            if sys.argv[1:] == ["first"]:
                base.REGISTRY.pop("old")
            import mod
            print("subclasses", [c.__qualname__ for c in base.Base.__subclasses__()])
            print("registry", base.REGISTRY)
        """}, ["app.py"])
    plain, share = snap.plain(["app.py", "first"]), snap.share(["app.py", "first"])
    assert snapshot_lines(share.stderr)["mod"] == (
        "code (an operation deletes a key that is not there)"), share.stderr
    assert share.stdout == plain.stdout == "subclasses ['Child']\nregistry {}\n"
    # Unchanged, the same unit is restored.
    again = snap.share(["app.py"])
    assert_restored(again, "mod", dump_output=snap.dump_output)
    assert again.stdout == plain.stdout


def test_a_restore_failing_after_its_classes_were_made_leaves_none(
        tmp_path: Path) -> None:
    """A restore that fails once its classes are made (forced here: the
    step that gives an ABC its C data raises) runs the body, and the made
    class is gone from its base's __subclasses__() before the body makes
    its own."""
    snap = snapshot_project(tmp_path, {
        "base.py": "class Base:\n    pass\n",
        "mod.py": ("import abc, base\n"
                   "class Child(base.Base, metaclass=abc.ABCMeta):\n"
                   "    pass\n"
                   "SEEN = [c.__qualname__ for c in base.Base.__subclasses__()]\n"
                   # more objects than a young collection waits for
                   "DATA = [{str(i): [i, (i, str(i))]} for i in range(3000)]\n"),
        "app.py": """
            import sys, base
            if sys.argv[1:] == ["fail"]:
                import pycds._snapshot_restore as restore
                def failing(cls, state):
                    raise RuntimeError("forced")
                restore._abc_step = failing
            import mod
            print(mod.SEEN, [c.__qualname__ for c in base.Base.__subclasses__()])
        """}, ["app.py"])
    assert same_as_plain(snap, "mod").stdout == "['Child'] ['Child']\n"
    failed = code_when_changed(snap, ["app.py", "fail"], {"mod": "RuntimeError: forced"})
    assert failed.stdout == "['Child'] ['Child']\n"


def test_caches_and_extension_imports_do_not_stop_a_unit(tmp_path: Path) -> None:
    """Two things a body does before an import that a restore does not
    need to do first: fill re's cache (a later body's re.compile of the
    same pattern would get an equal pattern, made again: a difference of
    identity in a cache, which README names), and the import system's
    setting of an extension module's __spec__, __loader__... (the replayed
    import sets them).  Both modules are units and restore, and the program
    sees what plain Python shows."""
    snap = snapshot_project(tmp_path, {
        "patterns.py": """
            import re
            WORD = re.compile(r"[a-z]+")
            import json
            LOADED = json.loads('{"a": 1}')
        """,
        "natives.py": """
            import _bisect
            WHERE = _bisect.bisect_left([1, 3, 5], 3)
            import _datetime  # single-phase init: made, then given __spec__...
            DAY = _datetime.date(2020, 1, 2).toordinal()
        """,
        "app.py": """
            import re
            import patterns, natives
            print("patterns", patterns.WORD.findall("ab cd"), patterns.LOADED,
                  re.compile(r"[a-z]+") is patterns.WORD)
            print("natives", natives.WHERE, natives.DAY,
                  natives._bisect.__spec__.name, natives._datetime.__spec__.name,
                  natives._datetime.__loader__ is natives._datetime.__spec__.loader)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert "patterns" not in refused and "natives" not in refused, snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "patterns", "natives", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout, share.stderr


def test_fork_hooks_are_registered_again(tmp_path: Path) -> None:
    """os.register_at_fork in a body (logging's lock reinitialisation is
    one) is replayed: a forked child of a restored process runs the hooks,
    in the order plain Python runs them."""
    snap = snapshot_project(tmp_path, {
        "hooked.py": """
            import os
            SEEN = []
            def before():
                SEEN.append("before")
            def child():
                SEEN.append("child")
            def parent():
                SEEN.append("parent")
            os.register_at_fork(before=before, after_in_child=child,
                                after_in_parent=parent)
            os.register_at_fork(after_in_child=lambda: SEEN.append("child 2"))
        """,
        "app.py": """
            import os, sys
            import logging, hooked
            pid = os.fork()
            if pid == 0:
                print("child", hooked.SEEN, logging._lock.acquire(timeout=5), flush=True)
                os._exit(0)
            os.waitpid(pid, 0)
            print("parent", hooked.SEEN, flush=True)
        """}, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "hooked", "logging", dump_output=snap.dump_output)
    assert plain.stdout == ("child ['before', 'child', 'child 2'] True\n"
                            "parent ['before', 'parent']\n")
    assert share.stdout == plain.stdout, share.stderr


def test_environment_set_by_a_body_reaches_child_processes(tmp_path: Path) -> None:
    """os.environ.setdefault(...) in a body sets the C environment too: a
    restored unit's replay must, or a subprocess would not see it."""
    snap = snapshot_project(tmp_path, {
        "configured.py": """
            import os
            os.environ.setdefault("SNAPSHOT_TEST_SET_BY_BODY", "from the body")
            os.environ.pop("SNAPSHOT_TEST_UNSET_BY_BODY", None)
        """,
        "app.py": """
            import os, subprocess, sys
            import configured
            shown = subprocess.run(
                ["/bin/sh", "-c", "echo \\"$SNAPSHOT_TEST_SET_BY_BODY|${SNAPSHOT_TEST_UNSET_BY_BODY-unset}\\""],
                capture_output=True, text=True).stdout
            print("child", shown.strip())
            print("here", os.environ.get("SNAPSHOT_TEST_SET_BY_BODY"),
                  os.environ.get("SNAPSHOT_TEST_UNSET_BY_BODY"))
        """}, ["app.py"], SNAPSHOT_TEST_UNSET_BY_BODY="present")
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "configured", dump_output=snap.dump_output)
    assert plain.stdout == "child from the body|unset\nhere from the body None\n"
    assert share.stdout == plain.stdout, share.stderr


def test_warning_filters_added_by_a_body_apply_at_once(tmp_path: Path) -> None:
    """A body that adds a warnings filter makes warnings forget what it
    decided per place (filterwarnings bumps the filters' version): a place
    that warned once before the import warns again after it, restored or
    not."""
    snap = snapshot_project(tmp_path, {
        "noisy.py": """
            import warnings
            def warn():
                warnings.warn("again", UserWarning)
        """,
        "loud.py": """
            import warnings
            warnings.simplefilter("always", UserWarning)
        """,
        "app.py": """
            import sys
            import noisy
            noisy.warn()
            noisy.warn()
            if sys.argv[1:] == ["go"]:
                import loud
            noisy.warn()
        """}, ["app.py", "go"])
    plain, share = snap.plain(["app.py", "go"]), snap.share(["app.py", "go"])
    assert_restored(share, "loud", dump_output=snap.dump_output)
    warned = [l for l in plain.stderr.splitlines() if ": UserWarning: again" in l]
    assert len(warned) == 2, plain.stderr
    assert [l for l in share.stderr.splitlines() if ": UserWarning: again" in l] == warned


def test_a_warnings_filter_the_program_added_first_is_seen(tmp_path: Path) -> None:
    """simplefilter and filterwarnings remove a filter equal to the one
    they add (appending, add none if there is one): a body's filter put
    in front of, or after, the program's equal one means another list.
    A restore replays a body's filters only onto the filters it saw (each
    by action, patterns, category, module and line), else the body runs."""
    snap = snapshot_project(tmp_path, {
        "front.py": """
            import warnings
            warnings.filterwarnings("ignore", message="spam", category=UserWarning)
        """,
        "back.py": """
            import warnings
            warnings.filterwarnings("error", message="eggs", append=True)
        """,
        "app.py": """
            import sys, warnings
            if sys.argv[1:] == ["first"]:
                warnings.filterwarnings("error", message="eggs", append=True)
                warnings.simplefilter("always", RuntimeWarning)
                warnings.filterwarnings("ignore", message="spam", category=UserWarning)
                warnings.simplefilter("always", RuntimeWarning, append=True)
            import front, back
            print(len(warnings.filters), [f[0] for f in warnings.filters])
        """}, ["app.py"])
    same_as_plain(snap, "front", "back")
    why = "what its body changed (builtins.list items) is not what the body saw"
    changed = code_when_changed(snap, ["app.py", "first"], {"front": why, "back": why})
    assert "'ignore', 'always'" in changed.stdout, changed.stdout


def test_a_list_of_tuples_the_program_changed_is_seen(tmp_path: Path) -> None:
    """A body that inserted into (or deleted from) the middle of an
    earlier module's list is replayed only onto the items it saw: a
    program that put other tuples there first (the same number) gets the
    body run, which finds its place among them."""
    snap = snapshot_project(tmp_path, {
        "registry.py": """
            ORDER = [("a", 1), ("b", 2)]
            def add_before_b(item):
                ORDER.insert(next(i for i, (k, _) in enumerate(ORDER) if k == "b"), item)
            def drop(key):
                del ORDER[next(i for i, (k, _) in enumerate(ORDER) if k == key)]
        """,
        "adder.py": """
            import registry
            registry.add_before_b(("new", 0))
        """,
        "dropper.py": """
            import registry
            registry.drop("a")
        """,
        "app.py": """
            import sys, registry
            if sys.argv[1:] == ["patch"]:
                registry.ORDER[:] = [("b", 1), ("a", 2)]
            import adder
            print(registry.ORDER)
            import dropper
            print(registry.ORDER)
        """}, ["app.py"])
    plain = same_as_plain(snap, "adder", "dropper")
    assert plain.stdout == "[('a', 1), ('new', 0), ('b', 2)]\n[('new', 0), ('b', 2)]\n"
    why = "what its body changed (builtins.list items) is not what the body saw"
    changed = code_when_changed(snap, ["app.py", "patch"], {"adder": why, "dropper": why})
    assert changed.stdout == "[('new', 0), ('b', 1), ('a', 2)]\n[('new', 0), ('b', 1)]\n"


def test_a_long_table_the_program_changed_is_seen(tmp_path: Path) -> None:
    """A body that read an earlier module's table of hundreds of entries
    is checked for every entry: a program that changed one first (the
    length kept) gets the body run."""
    snap = snapshot_project(tmp_path, {
        "codes.py": """
            NAMES = {n: f"code {n}" for n in range(300)}
        """,
        "reporter.py": """
            import codes
            MESSAGE = codes.NAMES[200]
        """,
        "app.py": """
            import sys, codes
            if sys.argv[1:] == ["patch"]:
                codes.NAMES[200] = "patched"
            import reporter
            print(reporter.MESSAGE)
        """}, ["app.py"])
    restored_then_patched(snap, "reporter", "code 200\n", "patched\n")


def test_names_a_body_found_at_run_time_are_checked(tmp_path: Path) -> None:
    """A body that read another module's __all__ is checked for it; one
    that read which names a module has (dir, vars, __dict__) is code only:
    a program that added or removed a name first changes what it saw."""
    snap = snapshot_project(tmp_path, {
        "dep.py": """
            __all__ = ["xa"]
            xa = 1
            xb = 2
        """,
        "public.py": """
            import dep
            ALL = list(dep.__all__)
        """,
        "listed.py": """
            import dep
            NAMES = [n for n in dir(dep) if n.startswith("x")]
        """,
        "viewed.py": """
            import dep
            NAMES = sorted(n for n in vars(dep) if n.startswith("x"))
        """,
        "walked.py": """
            import dep
            NAMES = sorted(k for k in dep.__dict__ if k.startswith("x"))
        """,
        "app.py": """
            import sys, dep
            if "all" in sys.argv:
                dep.__all__.append("xb")
            import public, listed, viewed, walked
            print(public.ALL)
            print(listed.NAMES, viewed.NAMES, walked.NAMES)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    for module, how in (("listed", "dir(dep)"), ("viewed", "vars(dep)"),
                        ("walked", "dep.__dict__")):
        assert refused.get(module) == (f"unit: reads which names module dep has "
                                       f"(through {how}), which a restore cannot check")
    same_as_plain(snap, "public")
    code_when_changed(snap, ["app.py", "all"],
                      {"public": "dep.__all__ is not what its body saw"})


def test_builtins_a_body_keeps_are_what_it_saw(tmp_path: Path) -> None:
    """A body that keeps getattr and asks what it is (werkzeug's
    LocalProxy picks a binding by hasattr(f, "__get__")) saw the builtin
    itself while it was planned: the planner watches no builtin a body can
    keep by replacing it with a Python function."""
    snap = snapshot_project(tmp_path, {
        "proxy.py": """
            F = getattr
            BOUND = hasattr(F, "__get__")
            KIND = type(F).__name__
            def bind(obj):
                return F.__get__(obj, type(obj)) if BOUND else (lambda name: F(obj, name))
        """,
        "app.py": """
            import proxy
            print(proxy.BOUND, proxy.KIND, proxy.F is getattr,
                  proxy.bind(proxy)("KIND"))
        """}, ["app.py"])
    assert "proxy" not in code_only(snap.dump_output)
    same_as_plain(snap, "proxy")


def test_what_a_body_read_inside_an_instance_it_read_is_checked_or_refused(
        tmp_path: Path) -> None:
    """A read of another module's instance is checked by its attributes'
    plain values; an attribute its code names that holds another instance
    or a container is read on its own, by its dotted path (the section's
    own attributes, the list's items), and runs when the program changed
    it first.  An instance in a list is seen there only by its type: a
    body that names its attribute is code only."""
    snap = snapshot_project(tmp_path, {
        "dep.py": """
            class Section:
                def __init__(self, value):
                    self.value = value
            class Config:
                pass
            CONFIG = Config()
            CONFIG.flag = 1
            CONFIG.section = Section(1)
            CONFIG.options = ["a"]
            HANDLERS = [Section(2)]
        """,
        "deep.py": """
            import dep
            V = dep.CONFIG.section.value
        """,
        "held.py": """
            import dep
            OPTIONS = list(dep.CONFIG.options)
        """,
        "inside.py": """
            import dep
            LEVEL = dep.HANDLERS[0].value
        """,
        "flat.py": """
            import dep
            FLAG = dep.CONFIG.flag
        """,
        "app.py": """
            import sys, dep
            if sys.argv[1:] == ["patch"]:
                dep.CONFIG.section.value = 2
                dep.CONFIG.options.append("b")
                dep.HANDLERS[0].value = 3
                dep.CONFIG.flag = 4
            if sys.argv[1:] == ["replace"]:
                dep.CONFIG.section = dep.Section(1)
                dep.CONFIG.section.extra = 0
            import deep, held, inside, flat
            print(deep.V, held.OPTIONS, inside.LEVEL, flat.FLAG)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused.get("inside") == ("unit: reads dep.HANDLERS[].value, which a restore "
                                     "cannot check (it checks dep.HANDLERS 1 level deep)"), refused
    same_as_plain(snap, "deep", "held", "flat")
    code_when_changed(snap, ["app.py", "patch"],
                      {"deep": "dep.CONFIG.section is not what its body saw",
                       "held": "dep.CONFIG.options is not what its body saw",
                       "flat": "dep.CONFIG is not what its body saw"})
    code_when_changed(snap, ["app.py", "replace"],
                      {"deep": "dep.CONFIG.section is not what its body saw"})


def test_a_tree_of_instances_a_body_walks_is_read_path_by_path(tmp_path: Path) -> None:
    """pygments' tokens: instances that hold their children as attributes,
    one of them itself (Token.Token), children made on first use by a
    __getattr__.  The dotted reads stop at what the path came through and
    restore; a program that changed a token the body read first runs the
    body, one that only grew the tree does not."""
    snap = snapshot_project(tmp_path, {
        "tok.py": """
            class _TokenType(tuple):
                parent = None
                def __init__(self, *args):
                    self.subtypes = set()
                def __getattr__(self, val):
                    if not val or not val[0].isupper():
                        return tuple.__getattribute__(self, val)
                    new = _TokenType(self + (val,))
                    setattr(self, val, new)
                    self.subtypes.add(new)
                    new.parent = self
                    return new
                def __repr__(self):
                    return "Token" + (self and "." or "") + ".".join(self)
            Token = _TokenType()
            Token.Token = Token
            Text = Token.Text
            Whitespace = Text.Whitespace
            Literal = Token.Literal
            String = Literal.String
            Double = String.Double
        """,
        "lexer.py": """
            from tok import Token, Text
            RULES = [Token.Token.Text.Whitespace, Text.Whitespace, Token.Literal.String.Double]
        """,
        "app.py": """
            import sys, tok
            if sys.argv[1:] == ["grow"]:
                tok.Text.Whitespace.Newline
            if sys.argv[1:] == ["swap"]:
                tok.Token.Literal.String = tok._TokenType(("Literal", "Other"))
            if sys.argv[1:] == ["same"]:
                equal = tok._TokenType(("Text", "Whitespace"))
                equal.parent = tok.Text
                tok.Text.Whitespace = equal
            import lexer
            print(lexer.RULES, [r is tok.Whitespace for r in lexer.RULES],
                  sorted(map(repr, tok.Text.subtypes)), tok.Whitespace.subtypes)
        """}, ["app.py"])
    plain = same_as_plain(snap, "lexer")
    # A child the body does not name, made first: the same tree for it.
    grown = snap.share(["app.py", "grow"])
    assert snapshot_lines(grown.stderr).get("lexer") == "restored", grown.stderr
    assert grown.stdout == snap.plain(["app.py", "grow"]).stdout != plain.stdout
    code_when_changed(snap, ["app.py", "swap"],
                      {"lexer": "tok.Literal.String.Double is not what its body saw"})
    # An equal token in Whitespace's place: the body would keep that one.
    code_when_changed(snap, ["app.py", "same"],
                      {"lexer": "tok.Text.Whitespace is not the object its body read"})


def test_an_instance_whose_class_takes_attributes_elsewhere_is_not_read_inside(
        tmp_path: Path) -> None:
    """A dotted read follows instances' own dicts: through an instance
    whose class answers attribute lookups otherwise (a __dict__ property,
    a __getattribute__ of Python) a body that read inside it is code only,
    and a program that changed what it read sees its change."""
    snap = snapshot_project(tmp_path, {
        "dep.py": """
            class Inner:
                def __init__(self, x):
                    self.x = x
            SHOWN = Inner(1)
            class Masked:
                def __init__(self):
                    self.inner = Inner(1)
                @property
                def __dict__(self):
                    return {"inner": SHOWN}
            class Guarded:
                def __init__(self):
                    self.inner = Inner(1)
                def __getattribute__(self, name):
                    return object.__getattribute__(self, name)
            MASKED, GUARDED = Masked(), Guarded()
        """,
        "masked.py": """
            import dep
            VALUE = dep.MASKED.inner.x
        """,
        "guarded.py": """
            import dep
            VALUE = dep.GUARDED.inner.x
        """,
        "app.py": """
            import sys, dep
            if sys.argv[1:] == ["patch"]:
                dep.MASKED.inner.x = dep.GUARDED.inner.x = 5
            import masked, guarded
            print(masked.VALUE, guarded.VALUE, dep.SHOWN.x)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    for module, top in (("masked", "dep.MASKED"), ("guarded", "dep.GUARDED")):
        assert refused.get(module) == (f"unit: reads {top}.inner, which a restore cannot "
                                       f"check (it checks {top} 1 level deep)"), refused
    assert snap.share(["app.py", "patch"]).stdout == snap.plain(["app.py", "patch"]).stdout \
        == "5 5 1\n"


def test_an_object_read_by_one_name_and_kept_by_another_is_checked_by_identity(
        tmp_path: Path) -> None:
    """A unit names what it keeps of another module by one path (dep.X),
    and its body read it by another (dep.ALIAS): a program that put an
    equal object at dep.ALIAS first would see the body keep that one, so
    the restore checks that the read still finds the same object."""
    snap = snapshot_project(tmp_path, {
        "dep.py": """
            class T:
                pass
            X = T()
            X.v = 1
            ALIAS = X
        """,
        "user.py": """
            import dep
            KEPT = [dep.ALIAS]
        """,
        "app.py": """
            import sys, dep
            if sys.argv[1:] == ["equal"]:
                dep.ALIAS = dep.T()
                dep.ALIAS.v = 1
            import user
            print(user.KEPT[0] is dep.X, user.KEPT[0] is dep.ALIAS)
        """}, ["app.py"])
    same_as_plain(snap, "user")
    code_when_changed(snap, ["app.py", "equal"],
                      {"user": "dep.ALIAS is not the object its body read"})
    described = run(["-m", "pycds", "inspect", "--snapshot", str(snap.archive)],
                    cwd=snap.root).stdout
    user = described.split("\n  user: ", 1)[1]
    checks = next(line for line in user.splitlines() if line.startswith("    checks "))
    assert checks.endswith("(1 also by identity)"), described


def test_a_program_hooking_class_or_import_statements_runs_the_bodies(
        tmp_path: Path) -> None:
    """A program that replaced builtins.__build_class__ or __import__ sees
    every class statement or import a body runs through its hook; a
    restore makes classes without it, and would load pycds's own restore
    through it: every module runs its body then, from the first unit (the
    restore not loaded) or from a later one."""
    snap = snapshot_project(tmp_path, {
        "shapes.py": """
            import enum
            class Color(enum.Enum):
                RED = 1
            class Plain:
                pass
        """,
        "more.py": """
            import json
            class Other:
                pass
        """,
        "app.py": """
            import builtins, sys
            log = []
            def hook(name):
                real = getattr(builtins, name)
                def called(*args, **kwargs):
                    log.append((name, args[1] if name == "__build_class__" else args[0]))
                    return real(*args, **kwargs)
                setattr(builtins, name, called)
            if sys.argv[1:] and sys.argv[1] != "later":
                hook(sys.argv[1])
            import shapes
            if sys.argv[1:2] == ["later"]:
                hook("__build_class__")
            import more
            print([entry for entry in log if not entry[1].startswith("_")])
        """}, ["app.py"])
    same_as_plain(snap, "shapes", "more")
    for hooked in ("__build_class__", "__import__"):
        share = code_when_changed(snap, ["app.py", hooked],
                                  {"shapes": f"builtins.{hooked} is replaced"})
        assert "pycds._snapshot_restore" not in share.stdout, share.stdout
    later = code_when_changed(snap, ["app.py", "later"],
                              {"more": "builtins.__build_class__ is replaced"})
    assert snapshot_lines(later.stderr).get("shapes") == "restored", later.stderr


def test_keys_a_body_added_to_another_modules_dict_keep_their_order(
        tmp_path: Path) -> None:
    """A composite flag is made by a call that caches it in its class's
    _value2member_map_ (a unit makes it that way too, before the
    operations run): the keys the body added end in the order it added
    them, the one only the cache holds among them."""
    snap = snapshot_project(tmp_path, {
        "perm.py": """
            import enum
            class Color(enum.Flag):
                RED = 1
                GREEN = 2
                BLUE = 4
        """,
        "user.py": """
            from perm import Color
            A = Color.RED | Color.GREEN
            B = A | Color.BLUE
            del A
            C = Color(6)
        """,
        "app.py": """
            import perm, user
            print(list(perm.Color._value2member_map_), user.B, user.C)
        """}, ["app.py"])
    assert same_as_plain(snap, "user").stdout.startswith("[1, 2, 4, 3, 7, 6]")


def test_a_submodule_depends_on_no_sibling_imported_before_it(tmp_path: Path) -> None:
    """The import system sets `pkg.first` after first's body ends: the next
    body's unit does not replay that, nor take first's inputs as its own,
    so a data file only first read changing runs first's body and leaves
    second restored (it named first's file at restore), and second's own
    file changing runs second's body."""
    snap = snapshot_project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/first.py": """
            import os
            with open(os.path.join(os.path.dirname(__file__), "first.txt")) as f:
                TEXT = f.read()
            del f
        """,
        "pkg/second.py": """
            import os
            with open(os.path.join(os.path.dirname(__file__), "second.txt")) as f:
                TEXT = f.read()
            del f
        """,
        "pkg/first.txt": "one",
        "pkg/second.txt": "two",
        "app.py": """
            import pkg.first
            import pkg.second
            print(pkg.first.TEXT, pkg.second.TEXT)
        """}, ["app.py"])
    same_as_plain(snap, "pkg.first", "pkg.second")
    (tmp_path / "pkg" / "first.txt").write_text("uno")
    share = code_when_changed(snap, ["app.py"],
                              {"pkg.first": f"{tmp_path}/pkg/first.txt changed"})
    assert_restored(share, "pkg.second", dump_output=snap.dump_output)
    assert share.stdout == "uno two\n", share.stderr
    (tmp_path / "pkg" / "second.txt").write_text("dos")
    code_when_changed(snap, ["app.py"], {"pkg.second": f"{tmp_path}/pkg/second.txt changed"})


def test_a_body_that_kept_an_id_is_code_only(tmp_path: Path) -> None:
    """id() is an address: a body whose own code kept one (SQLAlchemy's
    frozenset of its sentinels' ids, tested with `id(x) in ...`) is code
    only; a function's id() (a repr) leaves the body a unit."""
    snap = snapshot_project(tmp_path, {
        "ids.py": """
            SENTINEL = object()
            SENTINEL_IDS = frozenset([id(SENTINEL)])
            def is_sentinel(x):
                return id(x) in SENTINEL_IDS
        """,
        "shown.py": """
            class Thing:
                def __repr__(self):
                    return f"<Thing {id(self) != 0}>"
            TEXT = repr(Thing())
        """,
        "app.py": """
            import ids, shown
            print(ids.is_sentinel(ids.SENTINEL), shown.TEXT)
        """}, ["app.py"])
    assert code_only(snap.dump_output).get("ids") == \
        "called id() (another number in every process)", snap.dump_output
    assert same_as_plain(snap, "shown").stdout == "True <Thing True>\n"


def test_the_checks_call_no_len_of_python(tmp_path: Path) -> None:
    """A tuple subclass another module's body read is digested by its own
    count of items, not by its class's __len__, which is Python code the
    program never called (platform's uname_result runs `uname -p` there)."""
    snap = snapshot_project(tmp_path, {
        "dep.py": """
            CALLS = []
            class Counted(tuple):
                def __len__(self):
                    CALLS.append("len")
                    return tuple.__len__(self)
            VALUE = Counted((1, 2))
        """,
        "user.py": """
            import dep
            FIRST = dep.VALUE[0]
        """,
        "app.py": """
            import dep, user
            print(user.FIRST, dep.CALLS)
        """}, ["app.py"])
    assert same_as_plain(snap, "dep", "user").stdout == "1 []\n"


def test_a_body_that_changed_a_running_modules_objects_runs_with_it(
        tmp_path: Path) -> None:
    """A submodule that registers into its package's set while the
    package's body still runs (celery.app.builtins into celery._state's
    finalizers): the package cannot be a unit (it would make its objects
    after this import, which uses them), and as code its body would not see
    the registration again, so both run their bodies; a sibling that
    only imports its package's submodule stays a unit."""
    snap = snapshot_project(tmp_path, {
        "pkg/__init__.py": """
            FINALIZERS = set()
            def connect(function):
                FINALIZERS.add(function)
                return function
            from . import builtins
        """,
        "pkg/builtins.py": """
            from pkg import connect
            @connect
            def add_task():
                return "task"
        """,
        "other/__init__.py": """
            from . import first
        """,
        "other/first.py": """
            from . import second
            VALUE = second.VALUE + 1
        """,
        "other/second.py": """
            VALUE = 1
        """,
        "app.py": """
            import pkg, other
            print(sorted(f.__name__ for f in pkg.FINALIZERS), other.first.VALUE)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused.get("pkg.builtins") == "changed objects of pkg while its body was still running"
    assert refused.get("pkg") == ("unit: pkg.builtins, imported during its body, "
                                  "used its objects before the body finished"), refused
    assert same_as_plain(snap, "other.first", "other.second").stdout == "['add_task'] 2\n"


def test_the_checks_call_no_function_a_program_replaced_in_os(tmp_path: Path) -> None:
    """What a restore asks the OS (a data file's state, the terminals, the
    environment) it asks posix, not os's functions: a program that
    counts or fakes os.stat, os.isatty, os.fsencode... sees only the calls
    plain Python makes."""
    snap = snapshot_project(tmp_path, {
        "cfg.py": """
            import os, re
            with open(os.path.join(os.path.dirname(__file__), "data.txt")) as f:
                DATA = f.read().strip()
            del f
            LEVEL = os.environ.get("CFG_LEVEL", "1")
            WORD = re.compile(r"[a-z]+")
        """,
        "data.txt": "hello\n",
        "app.py": """
            import collections, os, sys
            seen = []
            if sys.argv[1:] == ["count"]:
                for name in ("stat", "lstat", "fsencode", "getcwd", "listdir",
                             "isatty", "readlink", "access"):
                    def counted(*args, _real=getattr(os, name), _name=name, **kwargs):
                        seen.append(_name)
                        return _real(*args, **kwargs)
                    setattr(os, name, counted)
            import cfg
            print(cfg.DATA, cfg.LEVEL, sorted(collections.Counter(seen).items()))
        """}, ["app.py"])
    same_as_plain(snap, "cfg")
    plain, share = snap.plain(["app.py", "count"]), snap.share(["app.py", "count"])
    assert_restored(share, "cfg", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout, share.stderr


def test_registrations_kept_in_c_are_replayed(tmp_path: Path) -> None:
    """codecs.register, codecs.register_error, sys.addaudithook and
    os.putenv leave no trace in any object: a restored body's calls are
    made again, so its codec and error handler are found, its audit hook
    hears the program's events and a child process sees the variable."""
    snap = snapshot_project(tmp_path, {
        "rot.py": """
            import codecs, sys
            HEARD = []
            def search(name):
                if name == "pycds_rot13":
                    return codecs.lookup("rot13")
                return None
            codecs.register(search)
            def hook(event, args):
                if event == "pycds.test":
                    HEARD.append(args)
            sys.addaudithook(hook)
            def stars(error):
                return ("*" * (error.end - error.start), error.end)
            codecs.register_error("pycds_stars", stars)
            import os
            os.putenv("PYCDS_TEST_PUT", "from the body")
        """,
        "app.py": """
            import codecs, subprocess, sys
            import rot
            print("codec", codecs.encode("hello", "pycds_rot13"))
            sys.audit("pycds.test", 1, "two")
            print("heard", rot.HEARD)
            print("errors", "h\u00e9llo".encode("ascii", "pycds_stars"))
            child = subprocess.run(["/bin/sh", "-c", "echo $PYCDS_TEST_PUT"],
                                   capture_output=True, text=True)
            print("child", child.stdout.strip())
        """}, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "rot", dump_output=snap.dump_output)
    assert plain.stdout == ("codec uryyb\nheard [(1, 'two')]\nerrors b'h*llo'\n"
                            "child from the body\n")
    assert share.stdout == plain.stdout, share.stderr


def test_a_codec_a_bodys_search_function_found_is_code_only(tmp_path: Path) -> None:
    """The interpreter caches, in C, each codec a search function found:
    a body (its own or a later one) that looked up a codec a body's search
    function answers left it there, and a program's lookup then gets the
    same object without calling the function again.  A restore cannot
    refill the cache: those bodies are code only.  One that only
    registers (or registers, then unregisters another) stays a unit."""
    snap = snapshot_project(tmp_path, {
        "searcher.py": """
            import codecs
            CALLS = []
            def encode(text, errors="strict"):
                return text.upper().encode(), len(text)
            def decode(data, errors="strict"):
                return bytes(data).decode().lower(), len(data)
            def search(name):
                CALLS.append(name)
                if name == "pycds_upper":
                    return codecs.CodecInfo(encode, decode, name="pycds_upper")
                return None
            codecs.register(search)
            def unused(name):
                return None
            codecs.register(unused)
            codecs.unregister(unused)
        """,
        "looker.py": """
            import codecs, searcher
            INFO = codecs.lookup("pycds_upper")
        """,
        "app.py": """
            import codecs
            import searcher, looker
            print(codecs.lookup("pycds_upper") is looker.INFO, searcher.CALLS)
            print("abc".encode("pycds_upper"), searcher.CALLS)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused.get("looker") == (
        "looked up the codec 'pycds_upper', which a body's search function found: "
        "codecs caches it in C, which a restore cannot refill"), snap.dump_output
    plain = same_as_plain(snap, "searcher")
    assert plain.stdout == "True ['pycds_upper']\nb'ABC' ['pycds_upper']\n"


def test_hidden_c_state_changes_refuse(tmp_path: Path) -> None:
    """State that lives in C where no object diff sees it: random's shared
    generator (seeded by a body), the standard streams' settings
    (reconfigure), the C locale.  Each makes its module code-only, with the
    reason, and the program sees what plain Python shows."""
    snap = snapshot_project(tmp_path, {
        "seeded.py": "import random\nrandom.seed(7)\n",
        "streams.py": "import sys\nsys.stdout.reconfigure(line_buffering=True)\n",
        "localized.py": "import locale\nlocale.setlocale(locale.LC_TIME, 'C.UTF-8')\n",
        "zoned.py": "import os, time\nos.environ['TZ'] = 'Asia/Tokyo'\ntime.tzset()\n",
        "timed.py": "import socket\nsocket.setdefaulttimeout(7.5)\n",
        "masked.py": "import os\nos.umask(0o077)\n",
        "completing.py": "import rlcompleter\n",
        "precise.py": "import decimal\ndecimal.getcontext().prec = 50\n",
        "app.py": """
            import decimal, locale, os, random, socket, sys, time
            import seeded, streams, localized, zoned, timed, masked, completing, precise
            print(random.random(), sys.stdout.line_buffering,
                  locale.setlocale(locale.LC_TIME), time.localtime(0).tm_hour,
                  socket.getdefaulttimeout(), oct(os.umask(0)),
                  decimal.getcontext().prec)
        """}, ["app.py"], TZ="UTC")
    refused = code_only(snap.dump_output)
    hidden = "hidden C-level state changed: "
    assert refused["seeded"] == hidden + "random's generator state"
    assert refused["streams"] == hidden + "standard streams' settings"
    assert refused["localized"] == hidden + "the C locale"
    assert refused["zoned"] == hidden + "the time zone"
    assert refused["timed"] == hidden + "socket default timeout"
    assert refused["masked"] == "called os.umask(), which sets it"  # (and changed it)
    assert refused["rlcompleter"] == hidden + "readline's completer"
    assert refused["precise"] == hidden + "decimal's context"
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert share.stdout == plain.stdout
    assert plain.stdout.split()[-1] == "50"


def test_a_context_variable_a_body_set_is_code_only(tmp_path: Path) -> None:
    """A ContextVar's value lives in the thread's context, in C: a body
    that set another module's variable (or its own) would leave a
    restored process without the value.  Such bodies are code only; the
    module that only made the variable stays a unit."""
    snap = snapshot_project(tmp_path, {
        "holder.py": """
            import contextvars
            VAR = contextvars.ContextVar("var", default="default")
        """,
        "setter.py": "import holder\nholder.VAR.set('set by a body')\n",
        "owner.py": """
            import contextvars
            MINE = contextvars.ContextVar("mine")
            MINE.set(5)
        """,
        "app.py": """
            import holder
            print(holder.VAR.get())
            import setter, owner
            print(holder.VAR.get(), owner.MINE.get("unset"))
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused.get("setter") == "hidden C-level state changed: context variables"
    assert refused.get("owner") == "hidden C-level state changed: context variables"
    plain = same_as_plain(snap, "holder")
    assert plain.stdout == "default\nset by a body 5\n"


def test_a_body_that_changed_a_cached_logging_level_is_code_only(tmp_path: Path) -> None:
    """Each logger caches isEnabledFor's answers; setLevel and
    logging.disable empty every logger's cache, the program's own loggers'
    too, which a restore replaying the new level would leave stale.  A
    body that changed the level of a logger made before it, the parent of
    one (a logger between it and the root) and a level, or
    logging.disable's level is code only; one that set the level of its
    own new logger is a unit, and so is one that made a logger above an
    earlier one (boto3's, urllib3's), which changes the earlier one's
    parent and empties no cache, as a restore does."""
    snap = snapshot_project(tmp_path, {
        "childmaker.py": """
            import logging
            CHILD = logging.getLogger('pkg.child')
            CHILD2 = logging.getLogger('pkg2.child')
        """,
        "newparent.py": """
            import logging
            PARENT = logging.getLogger("pkg2")
            PARENT.addHandler(logging.NullHandler())
        """,
        "solo.py": """
            import logging
            LOG = logging.getLogger("solo")
            LOG.setLevel(logging.INFO)
            LOG.addHandler(logging.NullHandler())
        """,
        "parentlib.py": "import logging\nlogging.getLogger('pkg').setLevel(logging.DEBUG)\n",
        "verbose.py": "import logging\nlogging.getLogger().setLevel(logging.DEBUG)\n",
        "quiet.py": "import logging\nlogging.disable(logging.WARNING)\n",
        "app.py": """
            import logging
            import childmaker, solo
            mine, child = logging.getLogger("mine"), logging.getLogger("pkg.child")
            child2 = logging.getLogger("pkg2.child")
            def ask():
                return (mine.isEnabledFor(logging.WARNING), mine.isEnabledFor(logging.DEBUG),
                        child.isEnabledFor(logging.DEBUG), solo.LOG.isEnabledFor(logging.INFO))
            print(*ask(), child2.isEnabledFor(logging.INFO), child2.parent.name)
            import newparent
            print(child2.isEnabledFor(logging.INFO), child2.parent.name,
                  len(child2.parent.handlers))
            import parentlib
            print(*ask())
            import verbose
            print(*ask())
            import quiet
            print(*ask())
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    reason = ("changed a logging level that loggers cache (setLevel, logging.disable): "
              "a restore cannot empty the caches of loggers made before it")
    for name in ("parentlib", "verbose", "quiet"):
        assert refused.get(name) == reason, snap.dump_output
    plain = same_as_plain(snap, "childmaker", "solo", "newparent")
    assert plain.stdout == ("True False False True False root\nFalse pkg2 1\n"
                            "True False True True\n"
                            "True True True True\nFalse False False False\n")


def test_clock_and_entropy_reads(tmp_path: Path) -> None:
    """A body that keeps what it read from the clock or drew from
    os.urandom must not hand the dump's value to every restored process
    (SnapStart's uniqueness pitfall): the clock value is read again when
    the body kept it as read (time.ctime()), else the module is code only
    with its reason; a date, time or uuid1 of the run that C code made
    (datetime.now) is seen by its value; constants stay units."""
    snap = snapshot_project(tmp_path, {
        "stamped.py": "import datetime\nSTARTED = datetime.datetime.now()\n",
        "minted.py": "import secrets\nTOKEN = secrets.token_hex(8)\n",
        "keyed.py": "import uuid\nINSTANCE = uuid.uuid4()\n",
        "year.py": "import time\nYEAR = time.localtime().tm_year\n",
        "kept.py": "import time\nWHEN = time.ctime()\n",
        "constants.py": """
            import datetime, time, uuid
            NS = uuid.NAMESPACE_URL
            FIXED = datetime.date(2001, 1, 1)
            EPOCH_YEAR = time.gmtime(0).tm_year
            class Formatter:  # as logging.Formatter keeps it
                converter = time.localtime
        """,
        "app.py": """
            import time
            import stamped, minted, keyed, year, kept, constants
            print(kept.WHEN, constants.NS, constants.FIXED, constants.EPOCH_YEAR,
                  constants.Formatter.converter is time.localtime)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused["stamped"].startswith("read the clock through datetime.datetime.now")
    assert refused["minted"].startswith("drew random bytes from os.urandom")
    assert refused["keyed"].startswith("drew random bytes from os.urandom")
    assert refused["year"] == "unit: read time.localtime() for more than a value it keeps"
    assert "kept" not in refused and "constants" not in refused, snap.dump_output
    first = snap.share(["app.py"])
    assert_restored(first, "kept", "constants", dump_output=snap.dump_output)
    time.sleep(1.1)
    second = snap.share(["app.py"])
    # time.ctime() read again by each restored process, not the dump's.
    assert first.stdout.split(" 6ba7")[0] != second.stdout.split(" 6ba7")[0]
    assert first.stdout.endswith("6ba7b811-9dad-11d1-80b4-00c04fd430c8 2001-01-01 1970 True\n")


def test_thread_and_process_group_ids_are_read_again_or_refuse(
        tmp_path: Path) -> None:
    """A thread's identity and the process group are this process's: kept
    as read, they are read again at restore; used otherwise, the module is
    code only."""
    snap = snapshot_project(tmp_path, {
        "ids.py": ("import os, threading\n"
                   "TID = threading.get_ident()\n"
                   "NATIVE = threading.get_native_id()\n"
                   "GROUP = os.getpgrp()\n"),
        "tagged.py": "import threading\nTAG = 'worker-%d' % threading.get_native_id()\n",
        "app.py": """
            import os, threading
            import ids, tagged
            print(ids.TID == threading.get_ident(), ids.NATIVE == threading.get_native_id(),
                  ids.GROUP == os.getpgrp(), tagged.TAG == 'worker-%d' % threading.get_native_id())
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused["tagged"].startswith("unit: read "), snap.dump_output
    assert refused["tagged"].endswith(  # _thread's, which threading binds
        "get_native_id() for more than a value it keeps"), snap.dump_output
    share = snap.share(["app.py"])
    assert_restored(share, "ids", dump_output=snap.dump_output)
    assert share.stdout == snap.plain(["app.py"]).stdout == "True True True True\n"


def test_a_builtin_the_body_did_not_find_is_seen(tmp_path: Path) -> None:
    """A body that looked a name up, did not find it and fell back (the
    gettext idiom): a program that installed it in builtins first gets the
    body run and sees its own."""
    snap = snapshot_project(tmp_path, {
        "greets.py": ("try:\n"
                      "    _\n"
                      "except NameError:\n"
                      "    def _(text):\n"
                      "        return text\n"
                      "GREETING = _('hello')\n"),
        "app.py": """
            import builtins, sys
            if sys.argv[1:] == ["gettext"]:
                builtins._ = str.upper
            import greets
            print(greets.GREETING)
        """}, ["app.py"])
    assert same_as_plain(snap, "greets").stdout == "hello\n"
    installed = code_when_changed(snap, ["app.py", "gettext"], {
        "greets": "builtins._ is there, its body did not find it"})
    assert installed.stdout == "HELLO\n"


def test_an_attribute_the_body_did_not_find_in_another_module_is_seen(
        tmp_path: Path) -> None:
    """A body that asked another module for an attribute and fell back
    (hasattr, getattr with a default, `from m import x` in a try, or a
    function of its own that did): a program that set the attribute first
    gets the body run and sees what plain Python shows."""
    snap = snapshot_project(tmp_path, {
        "speedups.py": "VERSION = 1\n",
        "codec.py": ("import speedups\n"
                     "FAST = hasattr(speedups, 'encode')\n"
                     "ENCODE = getattr(speedups, 'encode2', None)\n"
                     "try:\n"
                     "    from speedups import decode\n"
                     "except ImportError:\n"
                     "    decode = None\n"
                     "def _probe():\n"
                     "    try:\n"
                     "        return speedups.probe\n"
                     "    except AttributeError:\n"
                     "        return 'none'\n"
                     "PROBE = _probe()\n"
                     "class Options:\n"
                     "    LEVEL = getattr(speedups, 'level', 0)\n"),
        "plugins/__init__.py": "",
        "plugins/base.py": ("try:\n"
                            "    from . import native\n"
                            "except ImportError:\n"
                            "    native = None\n"),
        "app.py": """
            import sys, speedups, plugins
            for name in sys.argv[1:]:
                setattr(plugins if name == "native" else speedups, name, name.upper())
            import codec, plugins.base
            print(codec.FAST, codec.ENCODE, codec.decode, codec.PROBE,
                  codec.Options.LEVEL, plugins.base.native)
        """}, ["app.py"])
    assert same_as_plain(snap, "codec", "plugins.base").stdout == \
        "False None None none 0 None\n"
    for name, module in (("encode", "codec"), ("encode2", "codec"), ("decode", "codec"),
                         ("probe", "codec"), ("level", "codec"),
                         ("native", "plugins.base")):
        owner = "plugins" if name == "native" else "speedups"
        code_when_changed(snap, ["app.py", name], {
            module: f"{owner}.{name} is there, its body did not find it"})
    assert_restored(snap.share(["app.py", "unrelated"]), "codec")


def test_a_body_that_asked_sys_modules_is_seen(tmp_path: Path) -> None:
    """A body that asked whether a module was imported (`"m" in
    sys.modules`, `sys.modules.get("m")`, in a function of its own too): a
    program that imported it first gets the body run; a body whose own
    imports changed the answer is no unit."""
    snap = snapshot_project(tmp_path, {
        "extra.py": "",
        "probe.py": ("import sys\n"
                     "HAS = 'extra' in sys.modules\n"
                     "GOT = sys.modules.get('fractions') is not None\n"
                     "def _csv():\n"
                     "    return 'csv' not in sys.modules\n"
                     "NO_CSV = _csv()\n"),
        "selfish.py": "import sys\nBEFORE = 'extra' in sys.modules\nimport extra\n",
        "app.py": """
            import sys
            for name in sys.argv[1:]:
                __import__(name)
            import probe, selfish
            print(probe.HAS, probe.GOT, probe.NO_CSV, selfish.BEFORE)
        """}, ["app.py"])
    assert code_only(snap.dump_output)["selfish"] == \
        "unit: asked whether extra is in sys.modules, and its own imports changed that"
    assert same_as_plain(snap, "probe").stdout == "False False True False\n"
    for name in ("extra", "fractions", "csv"):
        code_when_changed(snap, ["app.py", name], {
            "probe": f"{name} is in sys.modules, its body saw otherwise"})
    assert_restored(snap.share(["app.py", "colorsys"]), "probe")


def test_abc_registrations_and_subclasses_the_program_made_are_seen(
        tmp_path: Path) -> None:
    """isinstance and issubclass with an ABC answer from registries and
    subclass lists kept in C; a body's __subclasses__() reads one: a
    program that registered or derived a class first gets the body run."""
    snap = snapshot_project(tmp_path, {
        "lib.py": "class Box:\n    pass\nclass Other:\n    pass\nclass Plugin:\n    pass\n",
        "reader.py": ("import collections.abc, lib\n"
                      "IS_MAP = issubclass(lib.Box, collections.abc.Mapping)\n"
                      "IS_SIZED = isinstance(lib.Other(), collections.abc.Sized)\n"
                      "import late\n"),
        # Imported after the questions: a class derived later, and one
        # made and dropped (garbage until a collection), change nothing.
        "late.py": ("import collections.abc\n"
                    "class LateMap(collections.abc.Mapping):\n"
                    "    __getitem__ = __iter__ = __len__ = None\n"
                    "def _dropped():\n"
                    "    class Dropped(collections.abc.Sized):\n"
                    "        pass\n"
                    "_dropped()\n"),
        "plugins.py": ("import lib\n"
                       "FOUND = [c.__name__ for c in lib.Plugin.__subclasses__()]\n"),
        "app.py": """
            import sys, lib, collections.abc
            if "register" in sys.argv:
                collections.abc.Mapping.register(lib.Box)
            if "derive" in sys.argv:
                class Mine(collections.abc.Sized):
                    pass
                Mine.register(lib.Other)
            if "plugin" in sys.argv:
                class Extra(lib.Plugin):
                    pass
            import reader, plugins
            print(reader.IS_MAP, reader.IS_SIZED, plugins.FOUND)
        """}, ["app.py"])
    assert same_as_plain(snap, "reader", "plugins").stdout == "False False []\n"
    why = "the classes registered with or derived from collections.abc.{} are not " \
        "those its body asked about"
    code_when_changed(snap, ["app.py", "register"], {"reader": why.format("Mapping")})
    code_when_changed(snap, ["app.py", "derive"], {"reader": why.format("Sized")})
    code_when_changed(snap, ["app.py", "plugin"], {
        "plugins": "lib.Plugin.__subclasses__() is not what its body read"})


def test_a_body_reading_how_main_was_started_is_seen(tmp_path: Path) -> None:
    """__main__'s dunders are the program's (a script, -m, -c), not the
    planner's: a body that read them restores only where they are what it
    saw."""
    snap = snapshot_project(tmp_path, {
        "mainreader.py": ("import __main__\n"
                          "AS_SCRIPT = __main__.__spec__ is None\n"
                          "PACKAGE = __main__.__package__\n"),
        "app.py": """
            import mainreader
            print(mainreader.AS_SCRIPT, repr(mainreader.PACKAGE))
        """}, ["app.py"])
    assert same_as_plain(snap, "mainreader").stdout == "True None\n"
    as_module = code_when_changed(snap, ["-m", "app"], {
        "mainreader": "__main__.__package__ is not what its body saw"})
    assert as_module.stdout == "False ''\n"


def test_a_body_reading_a_standard_streams_settings_is_seen(tmp_path: Path) -> None:
    """A body that read sys.stdout's encoding: a program that reconfigured
    the stream first (or whose environment sets its encoding) gets the body
    run."""
    snap = snapshot_project(tmp_path, {
        "enc.py": ("import sys\n"
                   "ENCODING = sys.stdout.encoding\n"
                   "ERRORS = sys.stderr.errors\n"),
        "enc2.py": "import sys\nENCODING = getattr(sys.stdout, 'encoding', None)\n",
        "enc3.py": "from sys import stdout\nENCODING = stdout.encoding\n",
        "app.py": """
            import sys
            if sys.argv[1:]:
                sys.stdout.reconfigure(encoding="latin-1")
            import enc, enc2, enc3
            print(enc.ENCODING, enc.ERRORS, enc2.ENCODING, enc3.ENCODING)
        """}, ["app.py"])
    as_dumped = same_as_plain(snap, "enc", "enc2", "enc3")
    assert as_dumped.stdout == "utf-8 backslashreplace utf-8 utf-8\n"
    why = "sys.stdout.encoding is not what its body read"
    for args, env in ((["app.py", "latin"], {}), (["app.py"], {"PYTHONIOENCODING": "latin-1"})):
        changed = code_when_changed(snap, args, dict.fromkeys(("enc", "enc2", "enc3"), why),
                                    **env)
        assert changed.stdout != as_dumped.stdout


def test_a_body_that_kept_a_standard_stream_keeps_the_programs(tmp_path: Path) -> None:
    """A body that kept sys.stdout (`OUT = sys.stdout`): a program that
    replaced the stream first gets the body run, and the module keeps the
    program's stream, as plain Python's does (3.11's restore kept the real
    one: the planner did not check what a body read of sys)."""
    snap = snapshot_project(tmp_path, {
        "keeps_out.py": "import sys\nOUT = sys.stdout\n",
        "app.py": """
            import io, sys
            if sys.argv[1:]:
                real, sys.stdout = sys.stdout, io.StringIO()
            import keeps_out
            print("through OUT", file=keeps_out.OUT)
            if sys.argv[1:]:
                caught, sys.stdout = sys.stdout.getvalue(), real
                print("caught:", repr(caught))
            print(keeps_out.OUT is sys.stdout)
        """}, ["app.py"])
    as_dumped = same_as_plain(snap, "keeps_out")
    assert as_dumped.stdout == "through OUT\nTrue\n"
    plain, share = snap.plain(["app.py", "swap"]), snap.share(["app.py", "swap"])
    assert share.stdout == plain.stdout == "caught: 'through OUT\\n'\nFalse\n", share.stderr
    assert snapshot_lines(share.stderr)["keeps_out"] == (
        "code (sys.stdout is not what its body saw)"), share.stderr


def test_priority_load_disk_space_and_databases(tmp_path: Path) -> None:
    """os.getpriority, os.getloadavg and os.statvfs (shutil.disk_usage) are
    process facts: a body that used them otherwise than keeping them is code
    only; os.nice sets as it reads; sqlite3 reads its files in C."""
    snap = snapshot_project(tmp_path, {
        "prio.py": "import os\nLOW = os.getpriority(os.PRIO_PROCESS, 0) > 0\n",
        "space.py": "import shutil\nFULL = shutil.disk_usage('/').free < 1\n",
        "niced.py": "import os\nNICE = os.nice(0)\n",
        "db.py": ("import sqlite3\n"
                  "_c = sqlite3.connect(':memory:')\n"
                  "ROWS = _c.execute('select 1').fetchall()\n"
                  "_c.close()\n"
                  "del _c\n"),
        "app.py": "import prio, space, niced, db\nprint(prio.LOW, space.FULL, db.ROWS)\n"},
        ["app.py"])
    refused = code_only(snap.dump_output)
    assert "os.getpriority" in refused["prio"], refused
    assert "os.statvfs" in refused["space"], refused
    assert refused["niced"] == "called os.nice(), which sets it"
    assert refused["db"] == "opened a database with sqlite3 (sqlite3.connect)"


def test_limits_a_body_read_and_the_umask(tmp_path: Path) -> None:
    """os.sysconf's limits follow the program's (a lowered RLIMIT_NOFILE):
    read again at restore.  os.umask reads only by setting: a body that
    called it is code only."""
    snap = snapshot_project(tmp_path, {
        "limits.py": "import os\nOPEN_MAX = os.sysconf('SC_OPEN_MAX')\n",
        "masks.py": "import os\nMASK = os.umask(0)\nos.umask(MASK)\n",
        "app.py": """
            import os, resource, sys
            if sys.argv[1:]:
                soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft // 2, hard))
                os.umask(0o077)
            import limits, masks
            print(limits.OPEN_MAX, oct(masks.MASK))
        """}, ["app.py"])
    assert code_only(snap.dump_output)["masks"] == "called os.umask(), which sets it"
    as_dumped = same_as_plain(snap, "limits")
    lowered = code_when_changed(snap, ["app.py", "lower"], {
        "limits": "os.sysconf() is not what its body read"})
    assert lowered.stdout != as_dumped.stdout


def test_a_draw_from_a_generator_seeded_by_the_system_is_refused(tmp_path: Path) -> None:
    """random.Random() seeds itself from the system's entropy in C, which
    no watcher of os.urandom sees: a body that kept a draw from one would
    give every restored process the dump's number.  A seeded one repeats
    its draws in every process, plain or restored."""
    snap = snapshot_project(tmp_path, {
        "salted.py": "import random\nSALT = random.Random().getrandbits(64)\n",
        "fixed.py": "import random\nDRAW = random.Random(7).getrandbits(64)\n",
        "app.py": "import salted, fixed\nprint(fixed.DRAW)\n"}, ["app.py"])
    assert code_only(snap.dump_output)["salted"] == (
        "seeded a random.Random from the system's entropy (a restored process must "
        "draw its own)")
    same_as_plain(snap, "fixed")


def test_a_files_mode_a_body_read_is_seen(tmp_path: Path) -> None:
    """A chmod keeps a file's size and time: a body that asked its mode
    (os.stat, os.access through shutil.which) restores only where the mode
    is what it saw."""
    snap = snapshot_project(tmp_path, {
        "bin/tool": "#!/bin/sh\n",
        "tools.py": ("import os, shutil, stat\n"
                     "BIN = os.path.join(os.path.dirname(__file__), 'bin')\n"
                     "TOOL = shutil.which('tool', path=BIN) is not None\n"
                     "MODE = oct(stat.S_IMODE(os.stat(os.path.join(BIN, 'tool')).st_mode))\n"),
        "app.py": """
            import os, sys
            os.chmod(os.path.join("bin", "tool"), 0o755 if sys.argv[1:] else 0o644)
            import tools
            print(tools.TOOL, tools.MODE)
        """}, ["app.py"])
    assert same_as_plain(snap, "tools").stdout == "False 0o644\n"
    tool = str(tmp_path / "bin" / "tool")
    changed = code_when_changed(snap, ["app.py", "x"], {"tools": f"{tool} changed"})
    assert changed.stdout == "True 0o755\n"


def test_type_hints_a_body_evaluated_are_checked(tmp_path: Path) -> None:
    """typing.get_type_hints evaluates a class's string annotations with
    its module's namespace as the locals of eval: a program that rebound a
    name there first gets the body run."""
    snap = snapshot_project(tmp_path, {
        "models.py": "Alias = int\nclass User:\n    id: 'Alias'\n",
        "hints.py": "import typing, models\nHINTS = typing.get_type_hints(models.User)\n",
        "app.py": """
            import sys, models
            if sys.argv[1:]:
                models.Alias = str
            import hints
            print(hints.HINTS)
        """}, ["app.py"])
    assert same_as_plain(snap, "hints").stdout == "{'id': <class 'int'>}\n"
    changed = code_when_changed(snap, ["app.py", "str"], {
        "hints": "models.Alias is not what its body saw"})
    assert changed.stdout == "{'id': <class 'str'>}\n"


def test_what_a_star_import_bound_is_checked(tmp_path: Path) -> None:
    """`from m import *` binds m's public names (or its __all__): a program
    that changed one's value (a number, a string), added a name or changed
    __all__ first gets the body run, as `from m import x` does."""
    snap = snapshot_project(tmp_path, {
        "settings.py": "DEBUG = False\nNAME = 'app'\n",
        "listed.py": "__all__ = ['A']\nA = 1\nB = 2\n",
        "star.py": "from settings import *\nfrom listed import *\n",
        "app.py": """
            import sys, settings, listed
            if "debug" in sys.argv:
                settings.DEBUG = True
            if "name" in sys.argv:
                settings.NAME = "other"
            if "extra" in sys.argv:
                settings.EXTRA = 1
            if "all" in sys.argv:
                listed.__all__ = ["A", "B"]
            import star
            print(sorted(n for n in vars(star) if not n.startswith("_")), star.DEBUG, star.NAME)
        """}, ["app.py"])
    assert same_as_plain(snap, "star").stdout == "['A', 'DEBUG', 'NAME'] False app\n"
    code_when_changed(snap, ["app.py", "debug"], {"star": "settings.DEBUG changed"})
    code_when_changed(snap, ["app.py", "name"], {"star": "settings.NAME changed"})
    names = "the names from {} import * binds are not those its body bound"
    code_when_changed(snap, ["app.py", "extra"], {"star": names.format("settings")})
    code_when_changed(snap, ["app.py", "all"], {"star": names.format("listed")})


def test_a_functions_attributes_are_part_of_what_a_body_read(tmp_path: Path) -> None:
    """A function's own attributes (a marker a decorator sets, a
    __signature__ that inspect.signature answers with): a program that set
    one on another module's function first gets the body run."""
    snap = snapshot_project(tmp_path, {
        "lib.py": "def handler(a, b):\n    return a\n",
        "marks.py": ("import inspect, lib\n"
                     "PUBLIC = getattr(lib.handler, 'public', False)\n"
                     "SIGNATURE = str(inspect.signature(lib.handler))\n"),
        "app.py": """
            import inspect, sys, lib
            if "public" in sys.argv:
                lib.handler.public = True
            if "signature" in sys.argv:
                lib.handler.__signature__ = inspect.Signature()
            import marks
            print(marks.PUBLIC, marks.SIGNATURE)
        """}, ["app.py"])
    assert same_as_plain(snap, "marks").stdout == "False (a, b)\n"
    for switch in ("public", "signature"):
        changed = code_when_changed(snap, ["app.py", switch], {
            "marks": "lib.handler is not what its body saw"})
        assert changed.stdout != "False (a, b)\n"


def test_an_attribute_asked_by_a_constant_name_is_checked(tmp_path: Path) -> None:
    """getattr(m, "x", default) and hasattr(m, "x") that found the
    attribute read it as `m.x` does: a program that changed it first gets
    the body run."""
    snap = snapshot_project(tmp_path, {
        "settings.py": "DEBUG = False\nLEVEL = 1\n",
        "reader.py": ("import settings\n"
                      "DEBUGGING = getattr(settings, 'DEBUG', None)\n"
                      "def _level():\n"
                      "    return getattr(settings, 'LEVEL')\n"
                      "VERBOSITY = _level()\n"),
        "app.py": """
            import sys, settings
            if "debug" in sys.argv:
                settings.DEBUG = True
            if "level" in sys.argv:
                settings.LEVEL = 2
            import reader
            print(reader.DEBUGGING, reader.VERBOSITY)
        """}, ["app.py"])
    assert same_as_plain(snap, "reader").stdout == "False 1\n"
    for switch, name in (("debug", "DEBUG"), ("level", "LEVEL")):
        code_when_changed(snap, ["app.py", switch], {
            "reader": f"settings.{name} is not what its body saw"})


def test_what_an_instance_reads_through_its_class_is_checked(tmp_path: Path) -> None:
    """An instance of another module read by a body answers an attribute
    it lacks from its class (a default): a program that set that class
    attribute first (`HTTPConnection.debuglevel = 1`) gets the body run."""
    snap = snapshot_project(tmp_path, {
        "lib.py": ("class Base:\n"
                   "    retries = 1\n"
                   "class Client(Base):\n"
                   "    def limit(self):\n"
                   "        return self.retries * 10\n"
                   "client = Client()\n"),
        "user.py": "import lib\nRETRIES = lib.client.retries\nLIMIT = lib.client.limit()\n",
        "app.py": """
            import sys, lib
            if "client" in sys.argv:
                lib.Client.retries = 2
            if "base" in sys.argv:
                lib.Base.retries = 3
            import user
            print(user.RETRIES, user.LIMIT)
        """}, ["app.py"])
    assert same_as_plain(snap, "user").stdout == "1 10\n"
    for switch in ("client", "base"):
        changed = code_when_changed(snap, ["app.py", switch], {
            "user": "lib.client is not what its body saw"})
        assert changed.stdout != "1 10\n"


def test_a_read_only_view_of_a_registry_is_read_by_its_items(tmp_path: Path) -> None:
    """A types.MappingProxyType over another module's dict (a registry it
    shows read-only) is compared by the dict's items: a program that
    registered an entry first gets the body run."""
    snap = snapshot_project(tmp_path, {
        "plugins.py": ("import types\n"
                       "_found = {'json': 1}\n"
                       "REGISTRY = types.MappingProxyType(_found)\n"
                       "def register(name):\n"
                       "    _found[name] = len(_found) + 1\n"),
        "cli.py": "import plugins\nFORMATS = sorted(plugins.REGISTRY)\n",
        "app.py": """
            import sys, plugins
            if sys.argv[1:]:
                plugins.register("yaml")
            import cli
            print(cli.FORMATS)
        """}, ["app.py"])
    assert same_as_plain(snap, "cli").stdout == "['json']\n"
    changed = code_when_changed(snap, ["app.py", "yaml"], {
        "cli": "plugins.REGISTRY is not what its body saw"})
    assert changed.stdout == "['json', 'yaml']\n"


def test_a_singledispatch_registration_the_program_made_is_seen(tmp_path: Path) -> None:
    """A body that called another module's functools.singledispatch
    function: a program that registered an implementation first (in the
    dict its `registry` attribute shows) gets the body run."""
    snap = snapshot_project(tmp_path, {
        "render.py": ("import functools\n"
                      "@functools.singledispatch\n"
                      "def show(value):\n"
                      "    return 'any'\n"),
        "page.py": "import render\nTITLE = render.show(1)\n",
        "app.py": """
            import sys, render
            if sys.argv[1:]:
                render.show.register(int, lambda value: "int")
            import page
            print(page.TITLE)
        """}, ["app.py"])
    assert same_as_plain(snap, "page").stdout == "any\n"
    changed = code_when_changed(snap, ["app.py", "int"], {
        "page": "render.show is not what its body saw"})
    assert changed.stdout == "int\n"


def test_a_locale_the_program_set_is_seen(tmp_path: Path) -> None:
    """A body that asked the locale (setlocale with no locale, as
    locale.getlocale and friends do): a program that set another first
    with setlocale, not through the environment, gets the body run."""
    snap = snapshot_project(tmp_path, {
        "where.py": "import locale\nCTYPE = locale.setlocale(locale.LC_CTYPE)\n",
        "app.py": """
            import locale, sys
            if sys.argv[1:]:
                locale.setlocale(locale.LC_CTYPE, "C")
            import where
            print(where.CTYPE)
        """}, ["app.py"])
    as_dumped = same_as_plain(snap, "where")
    changed = code_when_changed(snap, ["app.py", "c"], {
        "where": "_locale.setlocale() is not what its body read"})
    assert changed.stdout != as_dumped.stdout


def test_another_modules_string_sentinel_keeps_its_identity(tmp_path: Path) -> None:
    """A str of another module that a body's objects hold (argparse tests
    its SUPPRESS default with `is`) is that module's own object after a
    restore, not an equal copy."""
    snap = snapshot_project(tmp_path, {
        "sentinels.py": "MISSING = '<missing value>'\n",
        "lib.py": ("import argparse, sentinels\n"
                   "PARSER = argparse.ArgumentParser(prog='x')\n"
                   "PARSER.add_argument('--n', default=argparse.SUPPRESS)\n"
                   "class Field:\n"
                   "    def __init__(self, default):\n"
                   "        self.default = default\n"
                   "FIELD = Field(sentinels.MISSING)\n"),
        "app.py": """
            import argparse, lib, sentinels
            print(lib.PARSER.parse_args([]), lib.PARSER._actions[1].default is argparse.SUPPRESS,
                  lib.FIELD.default is sentinels.MISSING)
        """}, ["app.py"])
    done = snap.share(["app.py"])
    assert snapshot_lines(done.stderr).get("lib") == "restored", done.stderr
    assert done.stdout == snap.plain(["app.py"]).stdout == "Namespace() True True\n"


def test_a_sentinel_the_program_rebound_first_is_not_taken(tmp_path: Path) -> None:
    """A str a body took from another module, named where it lives: a
    program that rebound that attribute first left another value there,
    and the body (which got the first through a default) runs."""
    snap = snapshot_project(tmp_path, {
        "seps.py": "SEP = '==SEP=='\ndef make(sep=SEP):\n    return [sep]\n",
        "items.py": "import seps\nITEMS = seps.make()\n",
        "app.py": """
            import sys, seps
            if sys.argv[1:]:
                seps.SEP = "changed"
            import items
            print(items.ITEMS, items.ITEMS[0] is seps.make.__defaults__[0])
        """}, ["app.py"])
    as_dumped = snap.share(["app.py"])
    assert snapshot_lines(as_dumped.stderr).get("items") == "restored", as_dumped.stderr
    assert as_dumped.stdout == "['==SEP=='] True\n"
    rebound = snap.share(["app.py", "rebind"])
    assert rebound.stdout == snap.plain(["app.py", "rebind"]).stdout == "['==SEP=='] True\n"
    assert snapshot_lines(rebound.stderr)["items"].startswith("code ("), rebound.stderr


def test_tables_keyed_by_python_hashes_are_refused(tmp_path: Path) -> None:
    """A restore rebuilds sets and dicts, hashing their keys again: a key
    whose __hash__ is Python code would run it a second time (its side
    effects twice), so such a module is code only.  Enum members hash by
    their name and stay."""
    snap = snapshot_project(tmp_path, {
        "counter.py": "CALLS = []\n",
        "keys.py": ("class K:\n"
                    "    def __init__(self, v):\n"
                    "        self.v = v\n"
                    "    def __hash__(self):\n"
                    "        import counter\n"
                    "        counter.CALLS.append(self.v)\n"
                    "        return self.v\n"
                    "S = {(1, K(i)) for i in range(3)}\n"),
        "colors.py": ("import enum\n"
                      "class Color(enum.Enum):\n"
                      "    RED = 1\n"
                      "NAMES = {Color.RED: 'red'}\n"),
        "holder.py": "import keys\nHOLDER = [keys.S]\n",
        "app.py": """
            import counter, keys, colors, holder
            print(counter.CALLS, colors.NAMES[colors.Color.RED], holder.HOLDER[0] is keys.S)
        """}, ["app.py"])
    assert code_only(snap.dump_output)["keys"] == (
        "unit: a set or dict holds keys.K keys, whose __hash__ is Python code "
        "(a restore would call it again)")
    done = snap.share(["app.py"])
    # holder names keys's set where it lives: nothing of it is rebuilt.
    assert snapshot_lines(done.stderr).get("colors") == "restored", done.stderr
    assert snapshot_lines(done.stderr).get("holder") == "restored", done.stderr
    assert done.stdout == snap.plain(["app.py"]).stdout == "[0, 1, 2] red True\n"


def test_restored_modules_raise_the_exec_audit_event(tmp_path: Path) -> None:
    """An audit hook sees the "exec" event with a restored module's code,
    as it sees every body plain Python runs, and a hook that raises fails
    the import."""
    snap = snapshot_project(tmp_path, {
        "reg.py": "ITEMS = []\n",
        "lib.py": ("import atexit, enum, reg\n"
                   "reg.ITEMS.append('lib')\n"
                   "atexit.register(print, 'lib atexit ran')\n"
                   "class E(enum.Enum):\n"
                   "    A = 1\n"),
        "app.py": """
            import sys, reg
            seen = []
            def hook(event, args):
                if event == "exec":
                    name = getattr(args[0], "co_filename", "?").rsplit("/", 1)[-1]
                    seen.append(name)
                    if name == "lib.py" and sys.argv[1:]:
                        raise RuntimeError("lib refused")
            sys.addaudithook(hook)
            try:
                import lib
            except RuntimeError as error:
                print(error, "lib" in sys.modules)
            print(seen.count("lib.py"), reg.ITEMS)
        """}, ["app.py"])
    done = snap.share(["app.py"])
    assert snapshot_lines(done.stderr).get("lib") == "restored", done.stderr
    assert done.stdout == snap.plain(["app.py"]).stdout == "1 ['lib']\nlib atexit ran\n"
    refused = snap.share(["app.py", "refuse"], check=False)
    assert refused.stdout == snap.plain(["app.py", "refuse"]).stdout == \
        "lib refused False\n1 []\n", refused.stderr


# moda's object is made by modb's __init__, which calls modc.base().
RAN_OTHERS_CODE = {
    "modc.py": "def base():\n    return 1\n",
    "modb.py": ("import modc\n"
                "class Thing:\n"
                "    def __init__(self):\n"
                "        self.v = modc.base() * 10\n"),
    "moda.py": "from modb import Thing\nOBJ = Thing()\n",
    "app.py": "import moda\nprint(moda.OBJ.v)\n"}


def test_a_unit_whose_body_ran_code_that_changed_since_is_refused(tmp_path: Path) -> None:
    """The functions of other modules a body called made its objects: when
    one of those modules changed since the dump (imported from its file),
    the unit is not restored and the body runs the new code."""
    snap = snapshot_project(tmp_path, RAN_OTHERS_CODE, ["app.py"])
    assert same_as_plain(snap, "moda").stdout == "10\n"
    (tmp_path / "modc.py").write_text("def base():\n    return 2\n")
    edited = code_when_changed(snap, ["app.py"], {
        "moda": "modc, whose code its body ran, changed since the dump"})
    assert edited.stdout == "20\n"


def test_validate_hash_sees_ran_code_rewritten_with_its_size_and_time(
        tmp_path: Path) -> None:
    """PYCDSVALIDATE=hash makes the finder import a module rewritten in
    place with its size and time kept from its file; a unit whose body ran
    that module's code is then checked the same way, so it runs its body
    too (the default check sees neither: both serve the dump's code)."""
    snap = snapshot_project(tmp_path, RAN_OTHERS_CODE, ["app.py"])
    source = tmp_path / "modc.py"
    st = source.stat()
    source.write_text("def base():\n    return 2\n")
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    for cached in tmp_path.glob("__pycache__/modc.*.pyc"):
        cached.unlink()
    hashed = code_when_changed(snap, ["app.py"], {
        "moda": "modc, whose code its body ran, changed since the dump"},
        PYCDSVALIDATE="hash")
    assert hashed.stdout == "20\n"
    assert snap.share(["app.py"]).stdout == "10\n"  # README: mtime's limit


def test_a_body_that_ran_start_up_code_restores(tmp_path: Path) -> None:
    """Modules imported before the archive was mapped (encodings, at
    start-up) were not served from it; their code is the dump's while
    their files are."""
    snap = snapshot_project(tmp_path, {
        "codec_user.py": "import codecs\nINFO = codecs.lookup('utf-8').name\n",
        "app.py": "import codec_user\nprint(codec_user.INFO)\n"}, ["app.py"])
    done = snap.share(["app.py"])
    assert snapshot_lines(done.stderr).get("codec_user") == "restored", done.stderr
    assert done.stdout == "utf-8\n"


def test_a_source_edited_while_the_dump_ran_keeps_no_unit(tmp_path: Path) -> None:
    """A unit holds what the source its planner imported made; when the
    file changed before the archive was written (a deploy during AUTO's
    dump; here a later body appends to it), the archive's code is the new
    file's and the unit is not written."""
    snap = snapshot_project(tmp_path, {
        "target.py": "X = 1\n",
        "toucher.py": ("import target\n"
                       "with open(target.__file__, 'a') as f:\n"
                       "    f.write('# touched\\n')\n"),
        "app.py": "import target, toucher\nprint(target.X)\n"}, ["app.py"])
    assert code_only(snap.dump_output)["target"] == "its source changed while the dump ran"


def test_a_body_that_changes_the_file_system_is_code_only(tmp_path: Path) -> None:
    """A restore would not remove the lock file, make the directory, change
    the mode or make the FIFO, and what the body read afterwards would be
    the dump's: each such body is code only, and the program sees what
    plain Python shows."""
    (tmp_path / "stale.lock").write_text("")
    (tmp_path / "mode.txt").write_text("")
    snap = snapshot_project(tmp_path, {
        "unlocks.py": ("import os\n"
                       "LOCK = os.path.join(os.path.dirname(__file__), 'stale.lock')\n"
                       "FOUND = os.path.exists(LOCK)\n"
                       "try:\n"
                       "    os.remove(LOCK)\n"
                       "except FileNotFoundError:\n"
                       "    pass\n"),
        "makes.py": ("import os\n"
                     "os.makedirs(os.path.join(os.path.dirname(__file__), 'cache'),\n"
                     "            exist_ok=True)\n"),
        "modes.py": "import os\nos.chmod(os.path.join(os.path.dirname(__file__), 'mode.txt'), 0o600)\n",
        "pipes.py": ("import os\n"
                     "try:\n"
                     "    os.mkfifo(os.path.join(os.path.dirname(__file__), 'fifo'))\n"
                     "except FileExistsError:\n"
                     "    pass\n"),
        "app.py": ("import os, unlocks, makes, modes, pipes\n"
                   "print(unlocks.FOUND, os.path.exists('stale.lock'), os.path.isdir('cache'))\n"),
    }, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused["unlocks"] == f"removed {tmp_path / 'stale.lock'} (os.remove)"
    assert refused["makes"] == f"made the directory {tmp_path / 'cache'} (os.mkdir)"
    assert refused["modes"] == f"changed the mode of {tmp_path / 'mode.txt'} (os.chmod)"
    assert refused["pipes"] == "made a file with os.mkfifo"
    (tmp_path / "stale.lock").write_text("")
    (tmp_path / "cache").rmdir()
    shared = snap.share(["app.py"])
    assert shared.stdout == "True False True\n", shared.stderr


def test_a_body_reading_a_device_or_a_kernel_file_is_code_only(tmp_path: Path) -> None:
    """/dev/urandom read with open(): every restored process would hold the
    same bytes; /proc's files change with no change of size or time."""
    snap = snapshot_project(tmp_path, {
        "drawn.py": ("with open('/dev/urandom', 'rb') as f:\n"
                     "    TOKEN = f.read(8).hex()\n"
                     "del f\n"),
        "booted.py": ("with open('/proc/uptime') as f:\n"
                      "    UP = f.read()\n"
                      "del f\n"),
        "app.py": "import drawn, booted\nprint(len(drawn.TOKEN))\n"}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused["drawn"] == "read /dev/urandom, which is no regular file"
    assert refused["booted"] == "read /proc/uptime, which is no regular file"
    tokens = {snap.share(["-c", "import drawn; print(drawn.TOKEN)"]).stdout for _ in range(2)}
    assert len(tokens) == 2


def test_a_submodule_read_through_its_package_is_checked(tmp_path: Path) -> None:
    """`import pkg; pkg.sub.C`: what the body read of the submodule, reached
    through its package, is checked as a direct read is."""
    snap = snapshot_project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub.py": "C = 1\n",
        "reader8.py": "import pkg\nX = pkg.sub.C\n",
        "app.py": """
            import sys, pkg.sub
            if sys.argv[1:]:
                pkg.sub.C = 99
            import reader8
            print(reader8.X)
        """}, ["app.py"])
    as_dumped = snap.share(["app.py"])
    assert snapshot_lines(as_dumped.stderr).get("reader8") == "restored", as_dumped.stderr
    changed = snap.share(["app.py", "change"])
    assert changed.stdout == snap.plain(["app.py", "change"]).stdout == "99\n"
    assert snapshot_lines(changed.stderr)["reader8"] == \
        "code (pkg.sub.C is not what its body saw)"


def test_a_body_that_read_the_clock_in_c_is_code_only(tmp_path: Path) -> None:
    """datetime's now and today and uuid1 read the clock in C: a body that
    kept anything made from them (a string, a number) is code only."""
    snap = snapshot_project(tmp_path, {
        "stamp.py": "import datetime\nSTAMP = datetime.datetime.now().isoformat()\n",
        "year.py": "import datetime\nYEAR = datetime.date.today().year\n",
        "node.py": "import uuid\nID = str(uuid.uuid1())\n",
        "app.py": "import stamp, year, node\nprint(len(stamp.STAMP) > 0)\n"}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert "datetime.datetime.now" in refused["stamp"], refused
    assert "datetime.date.today" in refused["year"], refused
    assert "node" in refused, refused


def test_a_data_file_replaced_with_the_same_size_and_time_is_seen(tmp_path: Path) -> None:
    """A data file put in place by a rename (a release directory's switch,
    an archive unpacked, `cp -p` to a new name then moved) with the size
    and time of the old one is another file: the body runs."""
    snap = snapshot_project(tmp_path, {
        "cfg.json": '{"a": 1}\n',
        "conf.py": ("import json, os\n"
                    "with open(os.path.join(os.path.dirname(__file__), 'cfg.json')) as f:\n"
                    "    CFG = json.load(f)\n"
                    "del f\n"),
        "app.py": "import conf\nprint(conf.CFG)\n"}, ["app.py"])
    as_dumped = snap.share(["app.py"])
    assert snapshot_lines(as_dumped.stderr).get("conf") == "restored", as_dumped.stderr
    old = (tmp_path / "cfg.json").stat()
    new = tmp_path / "cfg.json.new"
    new.write_text('{"a": 3}\n')
    os.utime(new, ns=(old.st_atime_ns, old.st_mtime_ns))
    new.replace(tmp_path / "cfg.json")
    replaced = snap.share(["app.py"])
    assert replaced.stdout == snap.plain(["app.py"]).stdout == "{'a': 3}\n"
    assert snapshot_lines(replaced.stderr)["conf"].startswith("code ("), replaced.stderr


def test_readers_of_the_command_line_are_refused(tmp_path: Path) -> None:
    """sys.orig_argv and -X options are the program's arguments, as
    sys.argv: a trace does not record them."""
    snap = snapshot_project(tmp_path, {
        "orig.py": "import sys\nORIG = sys.orig_argv[1:]\n",
        "xopt.py": "import sys\nOPTION = sys._xoptions.get('snaptest')\n",
        "app.py": """
            import orig, xopt
            print(orig.ORIG, xopt.OPTION)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    for module in ("orig", "xopt"):
        assert "read sys.argv, sys.orig_argv or sys._xoptions" in refused[module], \
            snap.dump_output
    args = ["-X", "snaptest=1", "app.py"]
    share = snap.share(args)
    assert share.stdout == snap.plain(args).stdout == "['-X', 'snaptest=1', 'app.py'] 1\n"


def test_process_facts_are_read_again_or_refuse(tmp_path: Path) -> None:
    """What a body may keep of its host, machine or user (another process
    may run elsewhere): kept as read (os.cpu_count()), it is read again at
    restore; used otherwise (os.uname().nodename, platform.node()), the
    module is code only."""
    snap = snapshot_project(tmp_path, {
        "cpus.py": "import os\nCPUS = os.cpu_count()\n",
        "host.py": "import os\nNODE = os.uname().nodename\n",
        "node.py": "import platform\nNODE = platform.node()\n",
        "here.py": "import os\nHERE = os.getcwd()\n",
        "conf.py": "import os\nCONF = os.path.abspath('settings.ini')\n",
        "app.py": """
            import os, platform
            import cpus, host, node, here, conf
            print(cpus.CPUS == os.cpu_count(), host.NODE == node.NODE == platform.node(),
                  here.HERE == os.getcwd(), conf.CONF == os.path.abspath('settings.ini'))
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused["host"] == "unit: read os.uname() for more than a value it keeps"
    assert refused["node"] == "unit: read os.uname() for more than a value it keeps"
    assert refused["conf"] == "unit: read os.getcwd() for more than a value it keeps"
    # Started from another directory (the script by its absolute path, so
    # sys.path is the same): what the bodies kept follows.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = str(snap.root / "app.py")
    share = run([script], cwd=elsewhere, PYCDSMODE="SHARE",
                PYCDSARCHIVE=str(snap.archive), PYCDSVERBOSE="1")
    assert_restored(share, "cpus", "here", dump_output=snap.dump_output)
    assert share.stdout == run([script], cwd=elsewhere).stdout == "True True True True\n"


def test_a_terminal_is_a_process_input(tmp_path: Path) -> None:
    """`sys.stdout.isatty()` is a C method no watcher sees, and the planner
    runs without terminals: a process whose standard descriptors are
    terminals restores no unit, so a body that asked sees its own answer."""
    import os
    import pty

    from conftest import PY, clean_env
    snap = snapshot_project(tmp_path, {
        "colour.py": "import sys\nCOLOUR = sys.stdout.isatty()\n",
        "app.py": "import colour\nprint('colour', colour.COLOUR)\n"}, ["app.py"])
    piped = snap.share(["app.py"])
    assert_restored(piped, "colour", dump_output=snap.dump_output)
    assert piped.stdout == "colour False\n"
    main, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [PY, "app.py"], cwd=snap.root, stdout=secondary, stderr=subprocess.PIPE,
            env=clean_env(PYCDSMODE="SHARE", PYCDSARCHIVE=str(snap.archive),
                          PYCDSVERBOSE="1"))
        os.close(secondary)
        secondary = -1
        shown = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            shown += chunk
        _, stderr = process.communicate(timeout=60)
    finally:
        os.close(main)
        if secondary >= 0:
            os.close(secondary)
    assert shown.replace(b"\r\n", b"\n") == b"colour True\n"
    assert snapshot_lines(stderr.decode())["colour"] == (
        "code (the process differs from the planning one: "
        "standard output is a terminal, was not one)")


def test_warning_options_are_process_inputs(tmp_path: Path) -> None:
    """-W error (which sys.flags does not show) turns a warning into an
    exception: a process with -W options restores no unit (a body that
    warned is code only anyway) and fails as plain Python does."""
    snap = snapshot_project(tmp_path, {
        "quiet.py": "X = 1\n",
        "old.py": "import warnings\nwarnings.warn('old', DeprecationWarning)\nX = 1\n",
        "app.py": "import quiet, old\nprint('imported', quiet.X, old.X)\n"}, ["app.py"])
    assert code_only(snap.dump_output).get("old") == "issued a warning (old)"
    normal = snap.share(["app.py"])
    assert_restored(normal, "quiet", dump_output=snap.dump_output)
    args = ["-W", "error::DeprecationWarning", "app.py"]
    plain, share = snap.plain(args, check=False), snap.share(args, check=False)
    assert plain.returncode == share.returncode == 1
    assert "DeprecationWarning: old" in plain.stderr and "DeprecationWarning: old" in share.stderr
    assert snapshot_lines(share.stderr)["quiet"] == (
        "code (the process differs from the planning one: "
        "-W options are ['error::DeprecationWarning'], were [])")


def test_a_refused_process_names_what_differs(tmp_path: Path) -> None:
    """Every flag of sys.flags is an input of every body: a process started
    with another one restores nothing, and says which flag; so does one
    whose sys.path starts elsewhere."""
    snap = snapshot_project(tmp_path, {
        "quiet.py": "X = 1\n",
        "app.py": "import quiet\nprint('imported', quiet.X)\n"}, ["app.py"])
    assert_restored(snap.share(["app.py"]), "quiet", dump_output=snap.dump_output)
    flagged = snap.share(["-q", "app.py"])
    assert flagged.stdout == "imported 1\n"
    assert snapshot_lines(flagged.stderr)["quiet"] == (
        "code (the process differs from the planning one: "
        "sys.flags.quiet is 1, was 0)")
    moved = tmp_path / "other"
    moved.mkdir()
    (moved / "app.py").write_text((tmp_path / "app.py").read_text())
    elsewhere = run([str(moved / "app.py")], cwd=tmp_path, PYTHONPATH=str(tmp_path),
                    PYCDSMODE="SHARE", PYCDSARCHIVE=str(snap.archive), PYCDSVERBOSE="1")
    assert elsewhere.stdout == "imported 1\n"
    assert snapshot_lines(elsewhere.stderr)["quiet"] == (
        "code (the process differs from the planning one: "
        f"sys.path[0] is {str(moved)!r}, was {str(tmp_path)!r})")


def test_import_module_in_a_body_is_replayed(tmp_path: Path) -> None:
    """importlib.import_module is an import without a statement: a
    restored body's dynamic import happens again (the plugin it imports
    registers itself), and one that failed fails again."""
    snap = snapshot_project(tmp_path, {
        "registry.py": "PLUGINS = []\n",
        "plugin.py": "import registry\nregistry.PLUGINS.append('plugin')\n",
        "loader.py": """
            import importlib
            importlib.import_module("plugin")
            try:
                importlib.import_module("not_there_at_all")
            except ImportError:
                MISSING = True
            try:  # relative beyond the top: no name to replay
                importlib.import_module("...beyond", "loader")
            except ImportError:
                pass
        """,
        "app.py": """
            import sys
            import loader, registry
            print("plugin" in sys.modules, registry.PLUGINS, loader.MISSING)
        """}, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "loader", "plugin", dump_output=snap.dump_output)
    assert plain.stdout == "True ['plugin'] True\n"
    assert share.stdout == plain.stdout, share.stderr


def test_a_programs_pycds_prefixed_variable_is_an_input(tmp_path: Path) -> None:
    """The planner's environment lacks only pycds's own variables (librun's
    table), not every name that starts with PYCDS: a program's own such
    variable is read, recorded and checked like any other."""
    snap = snapshot_project(tmp_path, {
        "settings.py": "import os\nLEVEL = os.environ.get('PYCDSAPP_LEVEL', 'unset')\n",
        "app.py": "import settings\nprint(settings.LEVEL)\n"},
        ["app.py"], PYCDSAPP_LEVEL="debug")
    same = snap.share(["app.py"])
    assert_restored(same, "settings", dump_output=snap.dump_output)
    assert same.stdout == "debug\n"
    changed = snap.share(["app.py"], PYCDSAPP_LEVEL="info")
    assert snapshot_lines(changed.stderr)["settings"] == (
        "code (environment variable PYCDSAPP_LEVEL changed)")
    assert changed.stdout == "info\n"


def test_objects_named_through_closures_caches_and_extensions(tmp_path: Path) -> None:
    """Objects of earlier modules that the walk from sys.modules meets only
    inside another object are named another way, or made again where only
    identity could tell: a function kept in a decorator's closure (named
    through __closure__ and cell_contents), a typing alias typing's cache
    gave a second body, with its tuple of arguments (an equal copy, README),
    a C type an extension module made and its Python twin took into its own
    namespace (decimal: named in _decimal), and a static type's __dict__
    descriptor (named in the type's dict, not as the attribute).  Each was
    refused before; now each module restores and prints what plain does."""
    snap = snapshot_project(tmp_path, {
        "deco.py": """
            from typing import Optional
            def keep(method):
                def wrapper(self):
                    return method(self) + 1
                return wrapper
            class K:
                @keep
                def value(self):
                    return 41
            def name(x: Optional[str]) -> None:
                pass
        """,
        "users.py": """
            from typing import Optional
            import deco
            ORIGINAL = deco.K.value.__closure__[0].cell_contents
            def other(y: Optional[str]) -> None:
                pass
            DICT_DESCRIPTOR = type.__dict__["__dict__"]
        """,
        "app.py": """
            import typing
            import decimal, _decimal
            import deco, users
            print("closure", users.ORIGINAL is deco.K.value.__closure__[0].cell_contents,
                  users.ORIGINAL(None), deco.K().value())
            print("alias", users.other.__annotations__,
                  users.other.__annotations__["y"] == typing.Optional[str])
            print("descriptor", users.DICT_DESCRIPTOR is type.__dict__["__dict__"])
            print("decimal", decimal.Decimal is _decimal.Decimal,
                  decimal.getcontext is _decimal.getcontext,
                  decimal.Context is _decimal.Context,
                  decimal.Decimal("1.10") + decimal.Decimal("2.205"))
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    for name in ("deco", "users", "decimal"):
        assert name not in refused, snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "deco", "users", "decimal", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout, share.stderr
    assert "closure True 41 42" in plain.stdout and "descriptor True" in plain.stdout


def test_report_counts_only_archived_modules(tmp_path: Path) -> None:
    """A module whose code is not archived (imported before the trace
    began) is named once with its reason and is not in the share."""
    from pycds._dump import NOT_ARCHIVED, DumpResult
    result = DumpResult(archive="a.img", snapshot=True, units=3,
                        code_only=[("m", NOT_ARCHIVED), ("n", "no reviver")])
    assert "snapshot: 3 units of 4 modules (75.0%)" in result.summary()


def test_binding_from_a_module_imported_deeper(tmp_path: Path) -> None:
    """`from middle import Thing` where Thing is inner's and inner was
    imported by middle's body: a binding from a module imported during the
    body at a deeper level (it was refused as one the body put in
    sys.modules itself).  Restored, it is inner's Thing; a program that
    replaced inner.Thing first gets the bodies run, as plain shows."""
    snap = snapshot_project(tmp_path, {
        "inner.py": """
            class Thing:
                pass
        """,
        "middle.py": """
            from inner import Thing
        """,
        "outer.py": """
            from middle import Thing
            MADE = Thing()
        """,
        "app.py": """
            import sys
            if sys.argv[1:] == ["patch"]:
                import inner
                class Other:
                    pass
                inner.Thing = Other
            import outer, inner
            print("binding", outer.Thing is inner.Thing, type(outer.MADE).__name__)
        """}, ["app.py"])
    restored_then_patched(snap, "outer", "binding True Thing\n", "binding True Other\n")


def test_stateless_c_bases_and_system_random(tmp_path: Path) -> None:
    """Instances of Python classes whose C base adds nothing to object
    (typing.Generic, a C class on 3.12+; datetime.tzinfo) are made as
    plain instances, and a random.SystemRandom (secrets' generator, which
    never uses its C base's state) is made afresh; a seeded random.Random
    is refused with its reason (a restored one would repeat the dump's
    draws)."""
    snap = snapshot_project(tmp_path, {
        "stateless.py": """
            import datetime, random
            from typing import Generic, TypeVar
            T = TypeVar("T")
            class Box(Generic[T]):
                def __init__(self, value):
                    self.value = value
            BOX = Box(3)
            class Zone(datetime.tzinfo):
                def utcoffset(self, dt):
                    return datetime.timedelta(hours=2)
                def tzname(self, dt):
                    return "Z2"
                def dst(self, dt):
                    return datetime.timedelta(0)
            ZONE = Zone()
            SYSTEM = random.SystemRandom()
            draw = SYSTEM.getrandbits
        """,
        "seeded.py": """
            import random
            SEEDED = random.Random(42)
        """,
        "app.py": """
            import datetime, typing
            import stateless, seeded
            box = stateless.BOX
            print("generic", box.value, isinstance(box, typing.Generic),
                  [c.__name__ for c in type(box).__mro__], vars(box))
            print("zone", datetime.datetime(2020, 1, 2, tzinfo=stateless.ZONE).isoformat(),
                  stateless.ZONE.tzname(None), vars(stateless.ZONE))
            print("system", type(stateless.SYSTEM).__name__, 0 <= stateless.draw(8) < 256,
                  vars(stateless.SYSTEM))
            print("seeded", seeded.SEEDED.random())
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert "stateless" not in refused, snap.dump_output
    assert refused.get("seeded", "").startswith("a random generator's state"), snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "stateless", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout, share.stderr


def test_a_child_reading_its_running_parent_refuses_the_parent(tmp_path: Path) -> None:
    """A package's submodule imported during the package's body reads an
    attribute the body set before importing it: the package's unit would
    make that attribute only after its replayed imports, so the package is
    code only, with that reason, and the submodule restores."""
    snap = snapshot_project(tmp_path, {
        "parent/__init__.py": """
            VALUE = 21
            from . import child
        """,
        "parent/child.py": """
            import parent
            DOUBLE = parent.VALUE * 2
        """,
        "app.py": """
            import parent
            print("double", parent.child.DOUBLE)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused.get("parent") == ("unit: parent.child, imported during its body, "
                                     "used its objects before the body finished"), \
        snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "parent.child", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "double 42\n", share.stderr


def test_class_attributes_named_like_types_own_data(tmp_path: Path) -> None:
    """A class body may define names that type's own data descriptors and
    object's answer for the class itself: werkzeug.local.LocalProxy sets
    `__class__` to a descriptor so that isinstance sees the wrapped
    object's class, and a body may keep `__flags__` or `__base__`.  Plain
    Python stores them in the namespace; the restore must too, not set them
    through type.__setattr__ (which calls object's __class__ setter: "a
    class's __class__ must be set to a class")."""
    snap = snapshot_project(tmp_path, {
        "proxy_.py": """
            class _Lookup:
                def __set_name__(self, owner, name):
                    self.name = name
                def __get__(self, instance, owner=None):
                    return self if instance is None else type(instance.wrapped)
            class Proxy:
                __class__ = _Lookup()
                __flags__ = "kept"
                def __init__(self, wrapped):
                    self.wrapped = wrapped
            P = Proxy(3)
        """,
        "app.py": """
            import proxy_
            print(isinstance(proxy_.P, int), type(proxy_.P).__name__,
                  proxy_.Proxy.__dict__["__class__"].name, proxy_.Proxy.__dict__["__flags__"],
                  isinstance(proxy_.Proxy("s"), str), proxy_.Proxy.__flags__ == type.__flags__)
        """}, ["app.py"])
    plain = same_as_plain(snap, "proxy_")
    assert plain.stdout == "True Proxy __class__ kept True False\n"


def test_a_body_whose_optional_import_fails(tmp_path: Path) -> None:
    """requests.adapters: `try: from urllib3.contrib.socks import ...
    except ImportError`, where the submodule's own body raises.  The
    import system takes the failed module out of sys.modules; the replayed
    import fails and does so again, so that is no change of the body's to
    replay (it was one, a deletion of a key that is not there, and the
    unit never restored)."""
    snap = snapshot_project(tmp_path, {
        "extra_/__init__.py": "",
        "extra_/socks_.py": """
            import no_such_module_for_pycds_
        """,
        "adapters_.py": """
            try:
                from extra_.socks_ import Manager
            except ImportError:
                Manager = None
        """,
        "app.py": """
            import sys, adapters_
            print(adapters_.Manager, "extra_.socks_" in sys.modules, "extra_" in sys.modules)
        """}, ["app.py"])
    plain = same_as_plain(snap, "adapters_")
    assert plain.stdout == "None False True\n"


def test_a_package_that_puts_its_own_submodule_in_place(tmp_path: Path) -> None:
    """importlib's way: a package's body puts another module in sys.modules
    as its submodule (_frozen_importlib as importlib._bootstrap), then
    imports from it.  A replayed import would not find it there and would
    make a second module from the file, so the dump says why the package is
    no unit, rather than writing one that no process can restore."""
    snap = snapshot_project(tmp_path, {
        "fast_impl_.py": """
            def helper():
                return "fast"
        """,
        "twin_/__init__.py": """
            import sys
            import fast_impl_ as _impl
            sys.modules["twin_._impl"] = _impl
            from ._impl import helper
        """,
        "twin_/_impl.py": """
            def helper():
                return "file"
        """,
        "app.py": """
            import sys, twin_
            print(twin_.helper(), sys.modules["twin_._impl"].__name__)
        """}, ["app.py"])
    assert code_only(snap.dump_output).get("twin_") == (
        "unit: imports twin_._impl, a module its own body put in sys.modules"), snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert share.stdout == plain.stdout == "fast fast_impl_\n", share.stderr


def test_a_metaclass_with_its_own_mro_is_refused(tmp_path: Path) -> None:
    """Making a class calls its metaclass's mro(); one written in Python
    would run while the restore holds the class's creation hooks aside, so
    a module with such a class is no unit, and says why; the program sees
    plain Python's classes."""
    snap = snapshot_project(tmp_path, {
        "meta_.py": """
            class Meta(type):
                def mro(cls):
                    return [cls, object]
            class Flat(int, metaclass=Meta):
                pass
        """,
        "app.py": """
            import meta_
            print(meta_.Flat.__mro__ == (meta_.Flat, object))
        """}, ["app.py"])
    assert code_only(snap.dump_output).get("meta_") == (
        "unit: metaclass meta_.Meta has its own mro()"), snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert share.stdout == plain.stdout == "True\n", share.stderr


def test_module_subclass_instances(tmp_path: Path) -> None:
    """six's way: a body makes instances of a types.ModuleType subclass
    with lazy class attributes and serves them from its own meta path
    finder.  Restored, they are module objects of that class with the
    body's attributes, found by the replayed finder, lazy attributes
    resolving and replacing themselves as in plain Python."""
    snap = snapshot_project(tmp_path, {
        "lazy.py": """
            import sys, types
            __path__ = []  # submodules come from FINDER (six does this)
            class LazyModule(types.ModuleType):
                def __init__(self, name):
                    super().__init__(name)
                    self.__doc__ = "lazy " + name
                def __dir__(self):
                    return ["answer", "__name__"]
            class Attr:
                def __init__(self, name, value):
                    self.name, self.value = name, value
                def __get__(self, obj, owner):
                    setattr(obj, self.name, self.value)
                    delattr(obj.__class__, self.name)
                    return self.value
            class Moves(LazyModule):
                pass
            Moves.answer = Attr("answer", 42)
            class Finder:
                def __init__(self):
                    self.known = {}
                def find_spec(self, fullname, path, target=None):
                    if fullname in self.known:
                        from importlib.machinery import ModuleSpec
                        return ModuleSpec(fullname, self)
                def create_module(self, spec):
                    return self.known[spec.name]
                def exec_module(self, module):
                    pass
            FINDER = Finder()
            MOVES = Moves(__name__ + ".moves")
            FINDER.known[MOVES.__name__] = MOVES
            sys.meta_path.append(FINDER)
        """,
        "app.py": """
            import sys
            import lazy
            import lazy.moves as moves
            print("module", moves is lazy.MOVES, type(moves).__name__, moves.__name__,
                  moves.__doc__, isinstance(moves, type(sys)), dir(moves))
            print("lazy", "answer" in vars(type(moves)), moves.answer,
                  "answer" in vars(type(moves)), vars(moves).get("answer"))
            print("finder", sys.meta_path.count(lazy.FINDER), sys.modules["lazy.moves"] is moves)
        """}, ["app.py"])
    plain = same_as_plain(snap, "lazy")
    assert "module True Moves lazy.moves lazy lazy.moves True" in plain.stdout


def test_reads_of_bound_c_methods_and_a_running_parents_objects(tmp_path: Path) -> None:
    """A body reading another module's C method bound to a pattern
    (http.client's `_is_illegal_header_value = re.compile(...).search`) is
    checked by which pattern it is bound to: a program that swapped it
    first gets the body run.  A submodule using objects of its running
    parent (zipfile._path and zipfile.ZipFile) names them in the parent's
    namespace, and the parent is code only; dict.fromkeys (a method bound
    afresh at every lookup) is made again."""
    snap = snapshot_project(tmp_path, {
        "headers.py": """
            import re
            illegal = re.compile(r"\\n(?![ \\t])").search
        """,
        "checker.py": """
            import headers
            FOUND = headers.illegal("a\\nb") is not None
        """,
        "holder/__init__.py": """
            class Archive:
                pass
            from . import path
        """,
        "holder/path.py": """
            import holder
            class Path:
                base = holder.Archive
            dedupe = dict.fromkeys
        """,
        "app.py": """
            import sys
            if sys.argv[1:] == ["patch"]:
                import re, headers
                headers.illegal = re.compile("never").search
            import checker, holder
            print("read", checker.FOUND)
            print("parent", holder.path.Path.base is holder.Archive,
                  list(holder.path.dedupe([3, 1, 3])))
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert "holder.path" not in refused, snap.dump_output
    assert refused.get("holder", "").endswith("used its objects before the body finished")
    assert_restored(snap.share(["app.py"]), "holder.path", dump_output=snap.dump_output)
    restored_then_patched(snap, "checker", "read True\nparent True [3, 1]\n",
                          "read False\nparent True [3, 1]\n")


def test_csv_dialect_registrations_are_replayed(tmp_path: Path) -> None:
    """csv's dialects live in _csv's C state, made by register_dialect from
    a class: a restored csv, and a restored module registering its own
    dialect, register them again (replayed calls), so list_dialects and
    writers see them; a body that changes the field size limit (C state no
    call replays) is code only, with that reason."""
    snap = snapshot_project(tmp_path, {
        "dialects.py": """
            import csv
            class Pipes(csv.Dialect):
                delimiter = "|"
                quotechar = '"'
                lineterminator = "\\n"
                quoting = csv.QUOTE_MINIMAL
            csv.register_dialect("pipes", Pipes)
            csv.register_dialect("semi", delimiter=";")
        """,
        "limits.py": """
            import csv
            csv.field_size_limit(1000)
        """,
        "app.py": """
            import csv, io
            import dialects, limits
            print("csv", sorted(csv.list_dialects()), csv.get_dialect("pipes").delimiter,
                  csv.get_dialect("semi").delimiter, csv.field_size_limit())
            out = io.StringIO()
            csv.writer(out, "pipes").writerow(["a", "b|c"])
            csv.writer(out, "excel").writerow(["d", "e"])
            print("csv", repr(out.getvalue()))
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert "csv" not in refused and "dialects" not in refused, snap.dump_output
    assert refused.get("limits") == "hidden C-level state changed: csv field size limit"
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "csv", "dialects", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout, share.stderr
    assert "'pipes', 'semi', 'unix'] | ; 1000" in plain.stdout


@pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 695 syntax")
def test_type_aliases_and_lazy_bounds(tmp_path: Path) -> None:
    """`type X = ...` (a C TypeAliasType) and `def f[T: Bound]` keep their
    values lazy: restored, each is computed when first asked, by the
    statement's own code in the module's globals, so a name rebound before
    that is seen as plain Python sees it; a value the body already asked
    for stays the very object it got."""
    snap = snapshot_project(tmp_path, {
        "aliases.py": """
            class Base:
                pass
            class Limit:
                pass
            type Number = int | Base
            type Pair = tuple[int, str]
            ASKED = Pair.__value__
            def clamp[T: Limit](x: T) -> T:
                return x
        """,
        "app.py": """
            import aliases
            aliases.Base = str
            aliases.Limit = float
            print("alias", aliases.Number.__value__, aliases.Number.__name__,
                  aliases.Number.__module__, type(aliases.Number).__name__,
                  aliases.Number.__type_params__)
            print("asked", aliases.Pair.__value__, aliases.ASKED is aliases.Pair.__value__)
            bound = aliases.clamp.__type_params__[0]
            print("bound", bound.__name__, bound.__bound__, bound.__infer_variance__,
                  bound.__module__)
        """}, ["app.py"])
    plain = same_as_plain(snap, "aliases")
    assert "alias int | str Number aliases TypeAliasType ()" in plain.stdout
    assert "bound T <class 'float'> True" in plain.stdout


def test_reads_are_attribute_loads_only(tmp_path: Path) -> None:
    """What a body reads of the modules it imported is what its top-level
    code loads as their attributes: a global of its own that shares a name
    with one of theirs (subprocess's `_active` list, threading's `_active`
    dict of this process's threads) is not a read, and the unit restores;
    an attribute it does load is still checked (a program that changed it
    first gets the body run)."""
    snap = snapshot_project(tmp_path, {
        "settings.py": """
            LEVEL = 2
            _active = {}
        """,
        "worker.py": """
            import threading, settings
            _active = []
            DOUBLE = settings.LEVEL * 2
        """,
        "app.py": """
            import sys
            if sys.argv[1:] == ["patch"]:
                import settings
                settings.LEVEL = 5
                settings._active["x"] = 1
            import worker
            print("worker", worker._active, worker.DOUBLE)
        """}, ["app.py"])
    restored_then_patched(snap, "worker", "worker [] 4\n", "worker [] 10\n")


def test_functions_made_by_exec_in_their_own_namespace(tmp_path: Path) -> None:
    """multiprocessing.managers' way: exec defines functions in a fresh
    dict, which becomes their globals and holds them (a cycle through
    creation).  Such a namespace of constants and its own functions is
    written first, then its functions; the restored functions run with
    that namespace as globals, as plain ones do.  One that holds a class
    is refused with its reason."""
    snap = snapshot_project(tmp_path, {
        "made.py": """
            NAMESPACE = {"LIMIT": 3}
            exec("def hello(self):\\n    return LIMIT\\n", NAMESPACE)
            class K:
                pass
            K.hello = NAMESPACE["hello"]
            def make(name, methods):
                namespace = {}
                for method in methods:
                    exec(f"def {method}(self, /, *args):\\n"
                         f"    return ({method!r}, args, {method}.__name__)\\n", namespace)
                return type(name, (), namespace)
            Proxy = make("Proxy", ["__len__", "get", "put"])
        """,
        "classy.py": """
            namespace = {"__name__": __name__}
            exec("class Inner:\\n    pass\\ndef f(self):\\n    return Inner\\n", namespace)
            class Outer:
                pass
            Outer.f = namespace["f"]
        """,
        "app.py": """
            import made, classy
            k, p = made.K(), made.Proxy()
            print("exec", k.hello(), made.NAMESPACE["hello"] is made.K.hello,
                  made.K.hello.__globals__ is made.NAMESPACE,
                  made.K.hello.__globals__["__builtins__"] is __builtins__.__dict__
                  if hasattr(__builtins__, "__dict__") else "module",
                  p.get(1, 2), p.put(), sorted(k for k in made.Proxy.get.__globals__
                                               if k != "__builtins__"))
            print("classy", classy.Outer().f().__name__)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert "made" not in refused, snap.dump_output
    assert "more than functions and constants" in refused.get("classy", ""), snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "made", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout, share.stderr
    assert "exec 3 True True" in plain.stdout


def test_empty_thread_locals_are_made_afresh(tmp_path: Path) -> None:
    """`_tls = threading.local()` (multiprocessing.context's) with nothing
    set by the body is made afresh: each thread starts with nothing, as in
    plain Python; one the body set an attribute on is refused.  (threading,
    code only, imports functools first: the first unit this process
    restores is functools (3.11, 3.12), while it is in sys.modules with
    nothing in it, and the unpickler the restore loads then must not take
    it for the real one.)"""
    snap = snapshot_project(tmp_path, {
        "locals_.py": """
            import threading
            _tls = threading.local()
            def remember(value):
                _tls.value = value
                return getattr(_tls, "value", None)
            def seen():
                return getattr(_tls, "value", None)
        """,
        "filled.py": """
            import threading
            _tls = threading.local()
            _tls.value = 1
        """,
        "app.py": """
            import threading
            import locals_, filled
            out = [locals_.seen(), locals_.remember(3), locals_.seen()]
            def other():
                out.append(locals_.seen())
            t = threading.Thread(target=other)
            t.start(); t.join()
            print("locals", out, type(locals_._tls).__name__, filled._tls.value)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert "locals_" not in refused, snap.dump_output
    assert refused.get("filled") == "thread-local state (_thread._local)", snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    first = ("functools", "collections") if sys.version_info < (3, 13) else ()
    assert_restored(share, "locals_", *first,  # 3.13's threading imports neither
                    dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "locals [None, 3, 3, None] _local 1\n", share.stderr


def test_pickle_finds_partial_when_functools_restored_first(tmp_path: Path) -> None:
    """functools is the first unit the process restores, so the restore
    loads its unpickler while functools is empty; pickling an object whose
    class asks for keyword arguments to __new__ (__getnewargs_ex__) at
    protocols 2 and 3 goes through functools.partial in _pickle's own
    state (3.11: one _pickle per process), which must then be the
    program's functools.partial, as in plain Python.  (Found by CPython's
    test_pickle with the standard library restored.)"""
    snap = snapshot_project(tmp_path, {
        "app.py": """
            import functools
            import pickle
            class Point:
                def __init__(self, x):
                    self.x = x
                def __getnewargs_ex__(self):
                    return (), {"x": self.x}
                def __new__(cls, *args, **kwargs):
                    return super().__new__(cls)
            out = []
            for proto in (2, 3, 4):
                data = pickle.dumps(Point(7), proto)
                out.append((proto, pickle.loads(data).x, b"partial" in data))
            print("pickled", out, functools.partial.__module__)
        """}, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    # functools's restore is the one that loads the unpickler.
    assert_restored(share, "functools", dump_output=snap.dump_output)
    err = share.stderr
    assert err.index("pycds: hit functools") < err.index("pycds: hit _pickle") < err.index(
        "snapshot: functools: restored"), err
    assert share.stdout == plain.stdout == (
        "pickled [(2, 7, True), (3, 7, True), (4, 7, False)] functools\n"), share.stderr


# A small unit of two classes and an instance.
SHAPES = """
class Shape:
    sides = 0
    def describe(self):
        return f"{type(self).__name__} {self.sides}"
class Square(Shape):
    sides = 4
DEFAULT = Square()
"""


WATCHED_APP = """
import sys
mode = sys.argv[1]
events = []
def seen(code):
    if code.co_filename.endswith("shapes.py"):
        events.append(code.co_name)
if mode == "trace":
    def tracer(frame, event, arg):
        seen(frame.f_code)
        return tracer
    sys.settrace(tracer)
elif mode == "profile":
    sys.setprofile(lambda frame, event, arg: seen(frame.f_code))
elif mode == "monitoring":
    M = sys.monitoring
    M.use_tool_id(2, "probe")
    M.register_callback(2, M.events.PY_START, lambda code, offset: seen(code))
    M.set_events(2, M.events.PY_START)
elif mode == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
import shapes
sys.settrace(None)
sys.setprofile(None)
if mode == "tracemalloc":  # the class objects were made on shapes.py's lines
    made = tracemalloc.take_snapshot().statistics("filename")
    if any(stat.traceback[0].filename.endswith("shapes.py") for stat in made):
        events.append("<module>")
    tracemalloc.stop()
print(mode, "<module>" in events, shapes.Square().describe())
"""


@pytest.mark.parametrize("mode", ["trace", "profile", "monitoring", "tracemalloc"])
def test_a_watched_program_runs_the_bodies(tmp_path: Path, mode: str) -> None:
    """With a trace or profile function set (a debugger, coverage, a
    profiler), tracemalloc tracing or a sys.monitoring tool in use, no
    unit is restored: the body runs and what watches sees it run, as in
    plain Python (a breakpoint at module level is hit, its lines are
    covered, its objects' allocations are its lines').  Unwatched, the
    same module restores."""
    if mode == "monitoring" and sys.version_info < (3, 12):
        pytest.skip("sys.monitoring is 3.12's")
    snap = snapshot_project(tmp_path, {
        "shapes.py": SHAPES, "app.py": WATCHED_APP}, ["app.py", "none"])
    unwatched = snap.share(["app.py", "none"])
    assert_restored(unwatched, "shapes", dump_output=snap.dump_output)
    assert unwatched.stdout == "none False Square 4\n"
    plain, share = snap.plain(["app.py", mode]), snap.share(["app.py", mode])
    assert plain.stdout == f"{mode} True Square 4\n"
    assert share.stdout == plain.stdout, share.stderr
    assert snapshot_lines(share.stderr).get("shapes", "").startswith("code ("), share.stderr


def test_other_threads_never_see_the_unpicklers_stand_ins(tmp_path: Path) -> None:
    """The first restore of a process loads its own unpickler, with
    stand-ins for functools, copyreg and _compat_pickle where the program
    has not imported them (3.11: functools only).  Another thread that
    looks at sys.modules meanwhile sees neither the stand-ins nor that
    _pickle: the program, like plain Python, never imported any of them.
    (Found by threads importing boto3's modules at once: one got a
    copyreg with no `pickle`.)"""
    snap = snapshot_project(tmp_path, {
        "shapes.py": SHAPES,
        "app.py": """
            import sys, _thread  # not threading: it imports functools, a unit
            NAMES = ("functools", "copyreg", "_compat_pickle", "_pickle")
            seen = set()
            running, done = _thread.allocate_lock(), _thread.allocate_lock()
            stop = []
            def watch():
                running.release()
                while not stop:
                    for name in NAMES:
                        module = sys.modules.get(name)
                        # A stand-in has no spec; _pickle is never imported here.
                        if module is not None and (name == "_pickle" or getattr(
                                module, "__spec__", None) is None):
                            seen.add(name)
                done.release()
            running.acquire()
            done.acquire()
            sys.setswitchinterval(1e-6)
            _thread.start_new_thread(watch, ())
            running.acquire()  # the watcher runs
            import shapes
            stop.append(True)
            done.acquire()
            sys.setswitchinterval(0.005)
            print("seen", sorted(seen), shapes.DEFAULT.describe())
        """}, ["app.py"])
    plain = snap.plain(["app.py"])
    assert plain.stdout == "seen [] Square 4\n", plain.stderr
    for _ in range(3):  # the window is short: a thread switch must fall in it
        share = snap.share(["app.py"])
        assert_restored(share, "shapes", dump_output=snap.dump_output)
        assert share.stdout == plain.stdout, share.stderr


def test_units_planned_on_the_programs_path_when_it_started_other_pythons(
        tmp_path: Path) -> None:
    """A traced program that runs another traced Python (a test runner, a
    tool calling `python -m ...`): the child ends first, so its run (its
    own sys.path, another script's directory first) is the list's first.
    The units are planned on the path of the run that imported the most,
    the program's, and restore in the program.  (Found by CPython's test
    suite traced: its tests start Pythons in a temporary directory.)"""
    snap = snapshot_project(tmp_path, {
        "other/child.py": """
            import json
            print("child", json.dumps([1]))
        """,
        "mod.py": """
            import enum
            class Color(enum.Enum):
                RED = 1
        """,
        "app.py": """
            import subprocess, sys
            subprocess.run([sys.executable, "other/child.py"], check=True)
            import mod
            print("app", mod.Color.RED, mod.Color(1) is mod.Color.RED)
        """}, ["app.py"])
    listing = snap.list_path.read_text()
    assert listing.index("other") < listing.index('"mod"'), listing  # the child's run first
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "mod", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "child [1]\napp Color.RED True\n", share.stderr


def test_setting_read_by_a_called_function_set_by_the_program(tmp_path: Path) -> None:
    """A class body calls another module's function that reads a plain
    module global (test.support.requires_resource reading use_resources):
    a program that set it before the import gets the body run, and sees
    what plain Python shows; one that did not gets the unit.  (Found by
    CPython's test_weakref, whose skips regrtest decides this way.)"""
    snap = snapshot_project(tmp_path, {
        "config_.py": """
            enabled = None
            def allowed(name):
                return enabled is None or name in enabled
        """,
        "user_.py": """
            import config_
            class Heavy:
                skipped = not config_.allowed("cpu")
        """,
        "app.py": """
            import sys
            import config_
            if sys.argv[1:] == ["strict"]:
                config_.enabled = []
            import user_
            print("skipped", user_.Heavy.skipped)
        """}, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "user_", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "skipped False\n", share.stderr
    plain, share = snap.plain(["app.py", "strict"]), snap.share(["app.py", "strict"])
    assert snapshot_lines(share.stderr).get("user_") == (
        "code (config_.enabled is not what its body saw)"), share.stderr
    assert share.stdout == plain.stdout == "skipped True\n", share.stderr


def test_registry_read_by_a_called_function_filled_by_the_program(tmp_path: Path) -> None:
    """A body calls another module's function that reads a container of its
    module (logging.getLevelName reading the table logging.addLevelName
    fills; a plugin registry): a program that filled it before the import
    gets the body run and sees what plain Python shows; one that did not
    gets the unit.  A nan and a -0.0 among what the body read are the same
    values at restore, a True read as 1 is not; a setting two levels down
    (a dict of dicts) is seen."""
    snap = snapshot_project(tmp_path, {
        "plugins_.py": """
            REGISTRY = {}
            LIMITS = {"low": -0.0, "high": float("nan"), "strict": True}
            SETTINGS = {"db": {"host": "localhost"}}
            def lookup(name):
                return REGISTRY.get(name, "builtin")
            def limits():
                return sorted((k, repr(v)) for k, v in LIMITS.items())
            def host():
                return SETTINGS["db"]["host"]
        """,
        "user_.py": """
            import logging, plugins_
            LEVEL = logging.getLevelName(5)
            HANDLER = plugins_.lookup("json")
            LIMITS = plugins_.limits()
            HOST = plugins_.host()
        """,
        "app.py": """
            import logging, sys, plugins_
            if sys.argv[1:] == ["level"]:
                logging.addLevelName(5, "TRACE")
            elif sys.argv[1:] == ["plugin"]:
                plugins_.REGISTRY["json"] = "fast"
            elif sys.argv[1:] == ["flag"]:
                plugins_.LIMITS["strict"] = 1
            elif sys.argv[1:] == ["nested"]:
                plugins_.SETTINGS["db"]["host"] = "db.example"
            import user_
            print(user_.LEVEL, user_.HANDLER, user_.LIMITS, user_.HOST)
        """}, ["app.py"])
    limits = "[('high', 'nan'), ('low', '-0.0'), ('strict', 'True')]"
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "user_", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == f"Level 5 builtin {limits} localhost\n", share.stderr
    for change, expected, why in (
            ("level", f"TRACE builtin {limits} localhost", "logging._levelToName"),
            ("plugin", f"Level 5 fast {limits} localhost", "plugins_.REGISTRY"),
            ("flag", f"Level 5 builtin {limits.replace('True', '1')} localhost",
             "plugins_.LIMITS"),
            ("nested", f"Level 5 builtin {limits} db.example", "plugins_.SETTINGS")):
        plain, share = snap.plain(["app.py", change]), snap.share(["app.py", change])
        assert share.stdout == plain.stdout == expected + "\n", (change, share.stderr)
        assert snapshot_lines(share.stderr).get("user_") == (
            f"code ({why} is not what its body saw)"), share.stderr


def test_what_a_restore_checked_ends_when_the_program_drops_it(tmp_path: Path) -> None:
    """A restore checks what the body read of other modules (a registry
    dict, a class) and remembers it while the import runs, so that the
    units it imports check each once; once the import has returned, what
    it checked lives as long as the program keeps it, as in plain Python: a
    dropped registry's finalizable item ends at once, a dropped subclass
    leaves its base's __subclasses__() at the next collection."""
    snap = snapshot_project(tmp_path, {
        "plugins_.py": """
            REGISTRY = {"json": "builtin"}
            class Base:
                pass
            class Impl(Base):
                pass
        """,
        "user_.py": """
            import plugins_
            HANDLER = plugins_.REGISTRY["json"]
            KIND = plugins_.Impl.__name__
        """,
        "app.py": """
            import gc, plugins_
            class Noisy:
                def __del__(self):
                    print("registry item freed")
            import user_
            plugins_.REGISTRY["noisy"] = Noisy()
            plugins_.REGISTRY = {}
            print("registry replaced")
            plugins_.Impl = None
            gc.collect()
            print(user_.HANDLER, user_.KIND,
                  [c.__name__ for c in plugins_.Base.__subclasses__()])
        """}, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "user_", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == (
        "registry item freed\nregistry replaced\nbuiltin Impl []\n"), share.stderr


def test_a_program_that_changes_sys_path_between_its_imports(tmp_path: Path) -> None:
    """A program that puts a directory first on sys.path after its first
    imports (flask's command line does, for the app): the modules imported
    before the change saw the program's directory first, those after it
    the new one (the later one was looked for, in vain, before).  The trace records the path each import started on and
    the dump plans each module on it, so both restore; a run that changes
    nothing (or changes it otherwise) gets the bodies run."""
    snap = snapshot_project(tmp_path, {
        "early_.py": """
            import sys
            FIRST = sys.path[0].rsplit("/", 1)[-1]
        """,
        "extra/late_.py": """
            import sys
            FIRST = sys.path[0].rsplit("/", 1)[-1]
        """,
        "app.py": """
            import os, sys
            import early_
            try:
                import late_
            except ImportError:  # looked up first where it is not
                extra = os.path.join(os.path.dirname(__file__), "extra")
                if sys.argv[1:] == ["append"]:
                    sys.path.append(extra)
                else:
                    sys.path.insert(0, extra)
                import late_
            print(early_.FIRST, late_.FIRST)
        """}, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "early_", "late_", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == f"{tmp_path.name} extra\n", share.stderr
    plain, share = snap.plain(["app.py", "append"]), snap.share(["app.py", "append"])
    assert share.stdout == plain.stdout == f"{tmp_path.name} {tmp_path.name}\n", share.stderr
    lines = snapshot_lines(share.stderr)
    assert lines.get("early_") == "restored", share.stderr
    assert lines.get("late_", "").startswith(
        "code (the process differs from the planning one: sys.path"), share.stderr


def test_a_program_that_empties_sys_path(tmp_path: Path) -> None:
    """A program that empties sys.path, imports a submodule through its
    package's __path__, puts it back, and leaves it empty at exit: the
    tracer's own imports at exit, and the planner's, are found on their
    own path, so the trace is written, the dump plans every module, and
    the unit restores."""
    snap = snapshot_project(tmp_path, {
        "kept_.py": """
            import sys
            VALUE = ("kept", len(sys.path) > 0)
        """,
        "app.py": """
            import sys
            saved = sys.path[:]
            sys.path.clear()
            import encodings.ascii  # found on encodings.__path__
            sys.path[:] = saved
            import kept_
            print(kept_.VALUE, encodings.ascii.__name__)
            sys.path.clear()
        """}, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "kept_", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "('kept', True) encodings.ascii\n", share.stderr


def test_typing_itself_restores(tmp_path: Path) -> None:
    """typing's own unit: its bounded TypeVars (CT_co, bound=type) are made
    while typing's namespace is still empty, so the C constructor's check
    of the bound (typing._type_check, which the body's run already did)
    finds a stand-in; the restored typing behaves as plain typing."""
    snap = snapshot_project(tmp_path, {
        "app.py": """
            import typing, sys
            from typing import (Any, AnyStr, Generic, List, NamedTuple, Optional,
                                Protocol, TypedDict, TypeVar, get_type_hints)
            T = TypeVar("T", bound=int)
            class Box(Generic[T]):
                item: Optional[T]
            class Point(NamedTuple):
                x: int
                y: int = 0
            class Movie(TypedDict, total=False):
                title: str
            @typing.runtime_checkable
            class Sized_(Protocol):
                def __len__(self) -> int: ...
            print("typing", typing.CT_co.__bound__, typing.CT_co.__covariant__,
                  typing.CT_co.__module__, AnyStr.__constraints__, T.__bound__,
                  Box[int], get_type_hints(Box), Point(1), Movie.__optional_keys__,
                  isinstance([], Sized_), List[int] == typing.List[int],
                  Optional[str], typing.Union[int, str].__args__)
            if sys.version_info >= (3, 12):
                print("override", typing.override.__type_params__[0].__bound__,
                      typing._Func.__value__)
        """}, ["app.py"])
    plain = same_as_plain(snap, "typing")
    assert "typing <class 'type'> True typing" in plain.stdout


def test_modules_that_replace_themselves_and_lazy_attributes(tmp_path: Path) -> None:
    """Three things a module does around the import system: it puts
    another module in its own place in sys.modules (3.13's collections.abc
    puts _collections_abc there): it is code only with that reason, and an
    importer's body that imported it then another module is still a unit
    (the import system's parent.child = sys.modules[...] is no change of the
    importer's); and a module's __getattr__ that makes and stores an
    attribute on first use (3.13's typing.Match): the importer's binding of
    it is its own change, replayed, not checked before it exists."""
    snap = snapshot_project(tmp_path, {
        "pkgr/__init__.py": "",
        "pkgr/sub.py": """
            import sys, json
            sys.modules[__name__] = json
        """,
        "lazyattr.py": """
            def __getattr__(name):
                if name == "Made":
                    class Made:
                        pass
                    globals()[name] = Made
                    return Made
                raise AttributeError(name)
        """,
        "user.py": """
            import pkgr.sub
            import textwrap
            from lazyattr import Made
            INSTANCE = Made()
            WRAPPED = textwrap.wrap("a b", 1)
        """,
        "app.py": """
            import json, pkgr, user, lazyattr
            print("replaced", pkgr.sub is json, user.pkgr.sub is json, user.WRAPPED,
                  lazyattr.Made is user.Made, type(user.INSTANCE) is lazyattr.Made)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused.get("pkgr.sub") == "its body put another module in its place in sys.modules"
    assert "user" not in refused, snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "user", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "replaced True True ['a', 'b'] True True\n", \
        share.stderr


def test_property_names_given_by_set_name(tmp_path: Path) -> None:
    """3.13's property has a __name__ that a class statement's __set_name__
    sets (`x = property(_get)` is "x", not "_get"); a restored class is made
    without __set_name__, so the restored property carries that name.  An
    instance of a property subclass (abc.abstractproperty, which 3.11's
    importlib.resources.abc uses) is made by property's own __init__ and
    its __dict__."""
    snap = snapshot_project(tmp_path, {
        "props.py": """
            import abc
            def _get(self):
                return 1
            class C:
                x = property(_get)
                y = property(lambda self: 2)
                @property
                def z(self):
                    return 3
            class D(abc.ABC):
                @abc.abstractproperty
                def w(self):
                    "The w."
                    return 4
            class E(D):
                w = 5
        """,
        "app.py": """
            import props
            print("names", *(getattr(props.C.__dict__[n], "__name__", None) for n in "xyz"),
                  props.C().x, props.C().y, props.C().z)
            w = props.D.__dict__["w"]
            print("abstract", type(w).__name__, w.__isabstractmethod__, w.__doc__,
                  vars(w), w.fget(None), props.D.__abstractmethods__, props.E().w,
                  getattr(w, "__name__", None))
            try:
                props.D()
            except TypeError as error:
                print("abstract", error)
        """}, ["app.py"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "props", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout, share.stderr


def test_os_functions_in_the_supports_sets(tmp_path: Path) -> None:
    """The planner watches os.stat, os.lstat and os.access by putting
    wrappers in their place; a body asking whether they are in
    os.supports_dir_fd and friends (shutil's `_use_fd_functions`, which
    turns rmtree's protection against symlink attacks on) must get the
    answer plain Python gets, and the restore keep it."""
    snap = snapshot_project(tmp_path, {
        "fdcheck.py": """
            import os
            USE_FD = ({os.open, os.stat, os.unlink, os.rmdir} <= os.supports_dir_fd
                      and os.stat in os.supports_follow_symlinks)
            FOLLOW = os.lstat in os.supports_fd, os.access in os.supports_dir_fd
        """,
        "app.py": """
            import shutil, fdcheck
            print("fd", fdcheck.USE_FD, fdcheck.FOLLOW, shutil._use_fd_functions,
                  shutil.rmtree.avoids_symlink_attacks)
        """}, ["app.py"])
    plain = same_as_plain(snap, "fdcheck", "shutil")
    assert plain.stdout.startswith("fd True "), plain.stdout


def test_changes_replayed_only_onto_what_the_body_saw(tmp_path: Path) -> None:
    """A body's changes to earlier objects are replayed only onto the
    state they were made on: a logger the program made before the import
    is the one the body gets (getLogger finds it), a counter the program
    advanced is advanced from there, a list item the program set is the
    one a hook adds to.  Otherwise the body runs."""
    snap = snapshot_project(tmp_path, {
        "ctr.py": """
            counter = 0
            COUNT = [0]
            def bump():
                global counter
                counter += 1
                return counter
            class Base:
                def __init_subclass__(cls):
                    COUNT[0] += 1
        """,
        "lib.py": """
            import logging, ctr
            log = logging.getLogger("pycds_test_lib")
            X = ctr.bump()
            class A(ctr.Base): pass
            class B(ctr.Base): pass
        """,
        "app.py": """
            import logging, sys, ctr
            if sys.argv[1:] == ["patch"]:
                logging.getLogger("pycds_test_lib").setLevel(logging.DEBUG)
                ctr.bump(); ctr.bump()
                ctr.COUNT[0] = 100
            import lib
            print(lib.log is logging.getLogger("pycds_test_lib"), lib.log.level,
                  ctr.counter, lib.X, ctr.COUNT)
        """}, ["app.py"])
    restored_then_patched(snap, "lib", "True 0 1 1 [2]\n", "True 10 3 3 [102]\n")


def test_a_body_that_warns_is_code_only(tmp_path: Path) -> None:
    """A warning a body issued is one a program with other filters sees
    (DeprecationWarning, ignored by default, shown under `simplefilter`
    or pytest) or turns into an error: the body runs, so the program sees
    what plain Python shows; a body that warns nothing is a unit."""
    snap = snapshot_project(tmp_path, {
        "olddep.py": """
            import warnings
            warnings.warn("olddep is deprecated", DeprecationWarning, stacklevel=2)
            VALUE = 1
        """,
        "quiet.py": "import warnings\nVALUE = 2\n",
        "app.py": """
            import sys, warnings
            if sys.argv[1:] == ["patch"]:
                warnings.simplefilter("always")
            import quiet, olddep
            print("values", quiet.VALUE, olddep.VALUE)
        """}, ["app.py"])
    refused = code_only(snap.dump_output)
    assert refused.get("olddep") == "issued a warning (olddep is deprecated)", snap.dump_output
    assert "quiet" not in refused, snap.dump_output
    plain, share = snap.plain(["app.py", "patch"]), snap.share(["app.py", "patch"])
    assert_restored(share, "quiet", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "values 2 1\n"
    assert "DeprecationWarning: olddep is deprecated" in plain.stderr
    assert "DeprecationWarning: olddep is deprecated" in share.stderr


def test_a_body_that_draws_from_another_modules_counter(tmp_path: Path) -> None:
    """An id generator (`itertools.count()`) of another module keeps its
    number in C, where gc does not look: a body that drew ids from it
    moved it, and a restore moves it as far (multiprocessing.util's
    after-fork counter), from where the body found it: a program that drew
    an id first gets the body run, and the ids plain Python gives."""
    snap = snapshot_project(tmp_path, {
        "idg.py": """
            from itertools import count
            _ids = count()
            def new_id():
                return next(_ids)
        """,
        "useidg.py": "import idg\nA = idg.new_id()\nB = idg.new_id()\n",
        "app.py": """
            import sys, idg
            if sys.argv[1:] == ["patch"]:
                idg.new_id()
            import useidg
            print("ids", useidg.A, useidg.B, idg.new_id())
        """}, ["app.py"])
    restored_then_patched(snap, "useidg", "ids 0 1 2\n", "ids 1 2 3\n")


def test_what_the_functions_a_body_called_use(tmp_path: Path) -> None:
    """A body that called a dependency's function depends on what that
    function uses in its module, not only on the names the body wrote: a
    program that replaced one first (logging.setLoggerClass, a wrapper
    around one of dataclasses' helpers, gevent's threading.RLock) gets the
    body run, and the objects plain Python makes."""
    snap = snapshot_project(tmp_path, {
        "factory.py": """
            class Made:
                pass
            def _make():
                return Made()
            def make():
                return _make()
        """,
        "user.py": """
            import logging, threading, factory
            log = logging.getLogger("pycds_test_user")
            cond = threading.Condition()
            THING = factory.make()
        """,
        "app.py": """
            import logging, sys, threading, factory
            if sys.argv[1:] == ["logger"]:
                class MyLogger(logging.Logger): pass
                logging.setLoggerClass(MyLogger)
            elif sys.argv[1:] == ["lock"]:
                class MyRLock:
                    def __init__(self): self.lock = threading._CRLock()
                    def __enter__(self): return self.lock.__enter__()
                    def __exit__(self, *a): return self.lock.__exit__(*a)
                    def acquire(self, *a): return self.lock.acquire(*a)
                    def release(self): return self.lock.release()
                threading.RLock = MyRLock
            elif sys.argv[1:] == ["helper"]:
                class Other: pass
                factory._make = Other
            import user
            print(type(user.log).__name__, type(user.cond._lock).__name__,
                  type(user.THING).__name__)
        """}, ["app.py"])
    assert "user" not in code_only(snap.dump_output), snap.dump_output
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "user", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "Logger RLock Made\n", share.stderr
    for patch, expected in (("logger", "MyLogger RLock Made\n"),
                            ("lock", "Logger MyRLock Made\n"),
                            ("helper", "Logger RLock Other\n")):
        plain, share = snap.plain(["app.py", patch]), snap.share(["app.py", patch])
        assert share.stdout == plain.stdout == expected, (patch, share.stderr)
        assert snapshot_lines(share.stderr)["user"].startswith("code"), share.stderr


def test_subclasses_in_their_order_when_the_namespace_does_not_hold_them(tmp_path: Path) -> None:
    """Classes a body keeps only inside a container (ast keeps Num, Str...
    in a dict its module __getattr__ reads) are made in the body's order
    too: a base lists its subclasses as plain Python does."""
    snap = snapshot_project(tmp_path, {
        "kinds.py": """
            class Base: pass
            class First(Base): pass
            class Second(Base): pass
            class Third(Base): pass
            _hidden = {name: globals().pop(name) for name in ("First", "Second")}
            Also = Third
        """,
        "app.py": """
            import kinds
            print([c.__name__ for c in kinds.Base.__subclasses__()])
        """}, ["app.py"])
    plain = same_as_plain(snap, "kinds")
    assert plain.stdout == "['First', 'Second', 'Third']\n"


def test_called_functions_naming_a_proxy(tmp_path: Path) -> None:
    """A function the body called names a module global that raises when
    asked its __class__ (werkzeug's `request` outside a request): looking
    at what the function uses must not ask it."""
    snap = snapshot_project(tmp_path, {
        "proxied.py": """
            class Outside:
                @property
                def __class__(self):
                    raise RuntimeError("working outside of a context")
            current = Outside()
            def helper():
                return 1 if current is not None else 0
        """,
        "caller.py": "import proxied\nX = proxied.helper()\n",
        "app.py": "import caller\nprint('x', caller.X)\n"}, ["app.py"])
    plain = same_as_plain(snap, "caller")
    assert plain.stdout == "x 1\n"


def test_a_replayed_relative_import_that_fails_is_named(tmp_path: Path) -> None:
    """A program that blocks an optional submodule (sys.modules[...] = None)
    makes the package's replayed `from . import opt` fail: the body runs,
    and the reason names the import as the body wrote it."""
    snap = snapshot_project(tmp_path, {
        "pkg/__init__.py": """
            try:
                from . import opt
                HAVE = True
            except ImportError:
                HAVE = False
        """,
        "pkg/opt.py": "X = 1\n",
        "app.py": """
            import sys
            if sys.argv[1:] == ["patch"]:
                sys.modules["pkg.opt"] = None
            import pkg
            print("have", pkg.HAVE)
        """}, ["app.py"])
    restored_then_patched(snap, "pkg", "have True\n", "have False\n")
    share = snap.share(["app.py", "patch"])
    assert snapshot_lines(share.stderr)["pkg"] == "code (import opt from . failed)", share.stderr


def test_what_the_modules_own_functions_called_use(tmp_path: Path) -> None:
    """The code a body ran includes its own module's functions: string's
    body calls Template.__init_subclass__, which compiles with re; a
    program that wrapped what that compile uses first gets the body run."""
    snap = snapshot_project(tmp_path, {
        "helpers.py": """
            def _build(n):
                return list(range(n))
            def build(n):
                return _build(n)
        """,
        "tmpl.py": """
            import helpers as _h
            class Template:
                @classmethod
                def setup(cls):
                    cls.items = _h.build(3)
            Template.setup()
        """,
        "app.py": """
            import sys, helpers
            if sys.argv[1:] == ["patch"]:
                real = helpers._build
                helpers._build = lambda n: ["wrapped"] + real(n)
            import tmpl
            print("items", tmpl.Template.items)
        """}, ["app.py"])
    restored_then_patched(snap, "tmpl", "items [0, 1, 2]\n", "items ['wrapped', 0, 1, 2]\n")


def test_a_composite_flag_an_earlier_body_made_is_made_again(tmp_path: Path) -> None:
    """At the dump, `first` made re.I | re.M (an enum value cached in
    RegexFlag's _value2member_map_) before `second` used it: a program that
    imports only `second` restores it, and its flag is the value the same
    expression gives, cached as plain Python caches it."""
    snap = snapshot_project(tmp_path, {
        "first.py": "import re\nMINE = re.I | re.M\n",
        "second.py": "import re\nFLAGS = re.I | re.M\nPATTERN = re.compile('a', FLAGS)\n",
        "app.py": """\
            import sys
            if 'both' in sys.argv:
                import first
            import re, second
            print('flags', second.FLAGS, second.FLAGS is (re.I | re.M),
                  second.PATTERN.flags == (re.I | re.M | re.U))
            """,
    }, ["app.py", "both"])
    plain, share = snap.plain(["app.py"]), snap.share(["app.py"])
    assert_restored(share, "second", dump_output=snap.dump_output)
    assert share.stdout == plain.stdout == "flags re.IGNORECASE|re.MULTILINE True True\n", share.stderr


def test_the_restore_reads_its_own_code_from_the_archive(tmp_path: Path) -> None:
    """A snapshot archive holds the restore's own module: a process that
    restores a unit reads its code from there, not from its .pyc."""
    snap = snapshot_project(tmp_path, {"lib.py": "class K:\n    pass\n",
                                       "app.py": "import lib\nprint(lib.K.__name__)\n"},
                            ["app.py"])
    share = snap.share(["app.py"])
    assert_restored(share, "lib", dump_output=snap.dump_output)
    assert "pycds: hit pycds._snapshot_restore" in share.stderr, share.stderr
    assert share.stdout == snap.plain(["app.py"]).stdout == "K\n"


def test_the_unpicklers_imports_are_written_first(tmp_path: Path) -> None:
    """The restore loads the C unpickler, which imports _compat_pickle (and
    copyreg, where start-up has not): written right after the restore's own
    code, before the modules the program imported first, so that what they
    share is not interned by value from modules not loaded yet."""
    snap = snapshot_project(tmp_path, {"lib.py": "class K:\n    pass\n",
                                       "app.py": "import re, lib, pickle\nprint(lib.K.__name__)\n"},
                            ["app.py"])
    listed = run(["-m", "pycds", "inspect", "--modules", str(snap.archive)]).stdout
    # Each name once (a unit is listed under its module's name too).
    order = list(dict.fromkeys(line.split()[0] for line in listed.splitlines()
                               if line.startswith("  ")))
    assert order[:2] == ["pycds._snapshot_restore", "_compat_pickle"] or \
        order[:3] == ["pycds._snapshot_restore", "copyreg", "_compat_pickle"], order[:5]
    assert order.index("_compat_pickle") < order.index("re") < order.index("pickle")
    share = snap.share(["app.py"])
    assert_restored(share, "lib", dump_output=snap.dump_output)
    assert share.stdout == snap.plain(["app.py"]).stdout == "K\n"

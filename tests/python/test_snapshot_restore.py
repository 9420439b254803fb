"""Snapshot restore (issue 13, stage 2a), black-box: a small project is
traced, dumped with --snapshot, then run plainly and under SHARE.  Each
test asserts both that the modules it is about were restored (the
`pycds: snapshot: NAME: restored` line, so a restore that silently falls
back to the code fails) and that the program's output equals plain
Python's.  Modules never print (a body that prints is code only): app.py
prints what it checks, one `SECTION: ...` line per fact."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import backdate, decisions, run

# --------------------------------------------------------------------------
# Helpers


@dataclass
class Snap:
    root: Path
    list_path: Path
    archive: Path
    dump_output: str
    env: dict[str, str]

    def plain(self, args: list[str], check: bool = True,
              **env: str) -> subprocess.CompletedProcess:
        return run(args, cwd=self.root, check=check, **{**self.env, **env})

    def share(self, args: list[str], check: bool = True, verbose: str = "1",
              **env: str) -> subprocess.CompletedProcess:
        return run(args, cwd=self.root, check=check, PYCDSMODE="SHARE",
                   PYCDSARCHIVE=str(self.archive), PYCDSVERBOSE=verbose,
                   **{**self.env, **env})


def write_project(root: Path, modules: dict[str, str]) -> None:
    for name, text in modules.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def snapshot_project(root: Path, modules: dict[str, str], args: list[str],
                     dump_args: tuple[str, ...] = (), **env: str) -> Snap:
    """Write modules under root, trace `python args`, dump with --snapshot."""
    write_project(root, modules)
    backdate(root)
    list_path = root / "app.lst"
    archive = root / "app.img"
    run(args, cwd=root, PYCDSMODE="TRACE", PYCDSLIST=str(list_path), **env)
    dumped = run(["-m", "pycds", "dump", "--list", str(list_path), "--archive",
                  str(archive), "--snapshot", *dump_args], cwd=root, **env)
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


def runs(snap: Snap, args: list[str] | None = None, **env: str) -> Runs:
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


def test_revivers_whole_output_and_exit(revivers: Runs) -> None:
    """Nothing else differs either: the whole output, and the exit status."""
    assert revivers.share.stdout == revivers.plain.stdout
    assert revivers.share.returncode == revivers.plain.returncode == 0


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

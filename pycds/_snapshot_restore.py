"""Restore a module from its snapshot unit instead of running its body.

A *unit* (written by pycds/_snapshot_unit.py in the planning interpreter,
right after the module's body finished) is a stream of pickles, read here
with the C unpickler, whose memo keeps every object's identity across them:

    UNIT_MAGIC, the XXH3 of everything after it (8 bytes, little-endian:
    a unit damaged past the archive's own checks is never read), then
    0. the process the planner was (H_PROCESS's value: flags, sys.path,
       locale...), a pickle of plain data after its size (4 bytes,
       little-endian): the same bytes in every unit of a dump, so a
       process that differs refuses each further unit by comparing bytes
       (check_process), reading no header;
    1. the header's size (4 bytes, little-endian) and the header, a pickle
       of plain data read on its own (the H_* keys below but H_PROCESS):
       what the body read, the imports it made, what it took from other
       modules, and what the memo starts with;
    1b. memo_preamble(n): persistent ids 0..n-1 memoized at those indexes,
       the fixed objects (fixed_memo: the module, its namespace, KEEP, the
       VOCABULARY, the header's externals by path, its code objects, its
       Fresh values), so the pickles below name each with one BINGET; a
       string of the module's code that the objects hold (a namespace's
       keys are its code's names, as after the body) is a persistent id,
       its index in H_STRINGS, and so is one the planner had interned
       (H_NAMES, interned again);
    1c. what the operations (4) will be checked for, [(name, target, key
       of a deletion or None), ...]: checked before any object is made, so
       that a unit refused for them leaves nothing behind (a class made
       and dropped would stay in its bases' __subclasses__() until the
       next collection);
    2. the body's classes, in an order that keeps each base's
       __subclasses__() order (made first, then named by the memo);
    3. the module's namespace: [(key, value), ...] in the body's order;
    4. the operations the body made on objects that existed before it ran
       (pycds/_snapshot_schema.py's Operation, with the objects themselves):
       [(name, target, key, value), ...];
    5. fill batches, until one is None: [(kind, object, state), ...] -- what
       is set after every object exists (a class's attributes, a closure
       cell's contents), so that creation never waits on a cycle;
    6. the number of objects the unit wrote (for messages).

Objects that existed before the body (start-up's, other modules') are not in
the unit: each is named by a path from sys.modules with a witness (its type
and name) and found again here; a witness that does not match means the
program changed that object first (a monkeypatch), and the module is
imported from its code instead.  The functions below that a unit names
(VOCABULARY: _cds.unit_class, unit_function, unit_object, unit_fill, and
pattern, new_lock, ... below) are its vocabulary: they build objects the
way the interpreter does, without running the bodies' Python code again
(no metaclass __new__, no __init_subclass__, no __set_name__: their results
are in the unit).

The one entry point is restore(module, code, unit), which pycds's archived
loader calls before running a module's code (pycds/ext/finder.c): True when
the module was restored, False to run the code (one line says why at
PYCDSVERBOSE=1).  Nothing is visible before every check passed and every
object was built: the namespace is filled, and the operations applied, last.

This module is imported by pycds's SHARE start-up: it imports nothing that a
program would not have imported (the C unpickler is loaded on first use and
kept out of sys.modules).
"""

# No `from __future__ import annotations` here: it imports __future__,
# which a plain process has not; annotations name Any as text instead.
import _abc
import _thread
import marshal
import os
import posix
import posixpath
import stat
import sys
import time

from . import _cds, _log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
else:
    Any = "Any"

# The format, written once (the writer imports these).
# U21: the containers of a class a class holds are read with the
# holder's own (its namespace hash holds what stamps cover, remembered),
# and so are its heap metaclass's; annotations that are a dict subclass
# by their items; a closure held as a value with what its cells hold.
# U20: a class's state holds the state of the classes it holds and of
# its instances' classes, its partials' functions and its methods' cells.
# U19: a function's state holds its __name__, __doc__, __module__,
# annotations and __type_params__.  U18: a function's digest holds its
# code and whose globals it has, a class's its methods' state and its tuples' items.  U15: reads kept by
# their digests' hashes (H_HASHED), absent names as before.  U14: a digest looks at 4,096 items over all its containers (was 64 per
# container).  U13: the contents' hashes of the files a body opened (U12: the modules
# whose code a body ran; U11: a class's witness holds its
# layout; U10: a class's or function's
# read holds its state; U9: digests of containers hashed, plain values by
# value; U8: strings from code; U7: classes from images)
UNIT_MAGIC = b"pycdsU21"
UNIT_HASH_END = len(UNIT_MAGIC) + 8
SIZE = 4  # bytes of each size field
FORMAT = 1
# Header keys (a dict of plain data).
H_PROCESS = "process"      # what every body saw: (flags, sys.path, locale)
H_ENV = "env"              # {name: value or None} read
H_FILES = "files"          # [(path, state)] opened/stat'ed: state is None (absent),
                           # _file_state()'s (size, mtime_ns, inode, mode,
                           # uid, gid[, link target]),
                           # or file_kind()'s (strings)
H_LISTED = "listed"        # [(directory, sorted names or None)]
H_CONTENTS = "contents"    # [(path, XXH3 of its contents)]: the regular
                           # files it opened for reading, compared under
                           # PYCDSVALIDATE=hash only
H_ARGV = "argv"            # sys.argv when the body read it, else None
H_LOOKUPS = "lookups"      # [lookup_answer()]: what it asked find_spec
H_SETTINGS = "settings"    # [(module, getter, args, digest)]: process-wide
                           # settings it read (sys.getrecursionlimit())
H_IMPORTS = "imports"      # [(name, fromlist, level, ok)] in order
H_RAN = "ran"              # [module name]: other modules whose code the body
                           # ran (their functions, which made its objects)
H_SEED = "seed"            # the planner's hash seed (hash_seed())
H_SOURCE = "source"        # (size, mtime_ns) of the source its code came
                           # from, or None: the dump checks its code is that
H_BINDINGS = "bindings"    # [(module, attribute, witness)]
# A read's digest that says: none of these names is in the module (a
# body's lookups that fell back: (ABSENT_NAMES, (name, ...)), attribute "").
ABSENT_NAMES = "=absent"
H_READS = "reads"          # [(module, attribute, digest)]: what the body's
                           # top-level code may have read of other modules
                           # and found absent (ABSENT_NAMES); the others:
H_HASHED = "hashed"        # [(module, (attribute, ...), hashes)]: the reads
                           # of each module, with their digests' XXH3-64
                           # (8 bytes each, little-endian: hashed_reads)
H_EXTERNALS = "externals"  # [(path, witness)]: what existed before, in memo order
H_SAME = "same"            # [(module, read name, memo index)]: reads whose object
                           # the unit keeps, named by another path (_same_as_read)
H_CODES = "codes"          # [co_consts index path]: code inside the module's
H_FRESH = "fresh"          # [clock]: values read again (Fresh), after codes
H_STRINGS = "strings"      # bytes, (code, slot) pairs of uint32: strings of
                           # the module's code (pycds/ext/unit.h's unit_strings)
H_NAMES = "names"          # [str]: other strings the planner had interned,
#                            then floats and ints the objects hold more than once
H_AFTER = "after"          # [[(module, attribute, digest)], steps]: reads of
                           # what the body's own operations change, checked
                           # as they will leave it (check_after_reads)
H_SUMMARY = "summary"      # {"objects": n, "operations": {name: count}}

_pickle: Any = None
_loading = False


class Stale(Exception):
    """The unit does not describe this process: run the module's code."""


# What `import _pickle` imports, and what of theirs it keeps: functools's
# partial serves only pickling at protocols below 4, copyreg's tables only
# protocols' extension codes, _compat_pickle's mappings only protocol 2's
# names; a unit uses none of them.
COPYREG_TABLES = ("dispatch_table", "_extension_registry", "_inverted_registry",
                  "_extension_cache")
COMPAT_TABLES = ("NAME_MAPPING", "IMPORT_MAPPING", "REVERSE_NAME_MAPPING",
                 "REVERSE_IMPORT_MAPPING")


def _load_pickle() -> Any:
    """The C unpickler, without what `import _pickle` would leave behind in
    a program that does not use pickle: functools, copyreg, _compat_pickle.
    From 3.12 each import of _pickle makes a new module, so the one loaded
    here, with stand-ins for functools, copyreg and _compat_pickle, is
    never the program's; 3.11's _pickle is one per process and must see the
    real ones (copyreg, _compat_pickle and _functools are then imported
    earlier than plain Python would: README says so).  The stand-ins and
    _pickle are in sys.modules only inside _cds.load_aside, where no other
    thread runs (pycds/ext/aside.h)."""
    global _pickle, _loading
    if _pickle is not None:
        return _pickle
    own = sys.version_info >= (3, 12)  # a _pickle of our own (see above)
    # A module being restored right now (functools, when it is the first
    # unit a process restores) is in sys.modules with nothing in it yet:
    # _pickle gets the stand-in then too, and the module is put back.
    ready = {"functools": ("partial",), "copyreg": COPYREG_TABLES,
             "_compat_pickle": COMPAT_TABLES}
    present = {name: sys.modules.get(name) is not None and all(
        hasattr(sys.modules[name], attribute) for attribute in attributes)
        for name, attributes in ready.items()}
    stand_ins: dict[str, Any] = {}
    _loading = True
    try:
        if not present["functools"]:
            stub = type(sys)("functools")
            if own:
                stub.partial = None  # type: ignore[attr-defined]
            else:  # the program's _pickle too: the real partial (C)
                # Kept in sys.modules: imported again, _functools would
                # make another partial type, and the program's
                # functools.partial would not be the one _pickle pickles
                # NEWOBJ_EX with.
                import _functools
                stub.partial = _functools.partial  # type: ignore[attr-defined]
            stand_ins["functools"] = stub
        for name, tables in (("copyreg", COPYREG_TABLES), ("_compat_pickle", COMPAT_TABLES)):
            if present[name] or (sys.modules.get(name) is not None and not own):
                continue
            if own:
                stub = type(sys)(name)
                for table in tables:
                    setattr(stub, table, {})
                stand_ins[name] = stub
            else:
                __import__(name)
        spec = sys.modules["_frozen_importlib"]._find_spec("_pickle", None)
        if spec is None:
            raise ImportError("no module named _pickle")
        module = _cds.load_aside(spec, stand_ins)
    finally:
        _loading = False
    _pickle = module
    return module


# -- the unit's vocabulary ------------------------------------------------------

def _probe(x: Any = None) -> Any:
    return lambda: x


FunctionType = type(_probe)
CellType = type(_probe().__closure__[0])  # type: ignore[index]
CodeType = type(_probe.__code__)
ModuleType = type(sys)
MappingProxyType = type(type.__dict__)
HAS_TYPE_PARAMS = hasattr(_probe, "__type_params__")


class _Bound:
    def method(self) -> None:
        pass


MethodType = type(_Bound().method)
KEEP = object()  # a namespace key whose value the import system set


class Fresh:
    """A value the body read from a clock (or os.getpid) and kept: read
    again at restore, as a new process would."""
    __slots__ = ("clock",)

    def __init__(self, clock: str) -> None:
        self.clock = clock

    def read(self) -> Any:
        module, _, name = self.clock.partition(".")
        return getattr(sys.modules[module], name)()


# Names that a data descriptor of type or object answers for a class
# itself (__name__, __doc__, __flags__, object's __class__...): a class body
# that defines one has it in its namespace only, and a late fill puts it
# there, never through type.__setattr__ (which would call the descriptor:
# werkzeug's LocalProxy has a __class__ of its own).  The other dunders a
# late fill stores also go through type.__setattr__, for the slot behind
# them (C: classes.h).
TYPE_DATA = frozenset(name for owner in type.__mro__ for name, value in vars(owner).items()
                      if hasattr(type(value), "__set__"))


# Give a namespace (a class's, an instance's) its keys in the body's
# order: the ones in order first, any others after them (C: classes.h).
put_in_order = _cds.put_in_order


def _abc_step(cls: type, state: tuple[Any, ...]) -> None:
    """What a class's metaclass's C part kept: an ABC's data (_abc_init
    makes _abc_impl and __abstractmethods__ as ABCMeta's __new__ did; the
    registry is replayed, caches start empty), or abstract methods set."""
    _, _, abc, abstract, flags = state
    if abc is not None:
        namespace = _cds.type_dict(cls)
        if flags:
            namespace["__abc_tpflags__"] = flags
        _abc._abc_init(cls)
        for subclass in abc:
            _abc._abc_register(cls, subclass)
    elif abstract is not None:
        type.__setattr__(cls, "__abstractmethods__", abstract)


def class_attribute(cls: type, name: str) -> Any:
    """A descriptor that making the class made (__dict__, __weakref__, a
    __slots__ member)."""
    return cls.__dict__[name]


def new_value(cls: type, base: type, value: Any) -> Any:
    return base.__new__(cls, value)  # type: ignore[call-overload]


def new_container(cls: type, base: type) -> Any:
    return base.__new__(cls)  # type: ignore[call-overload]


def set_attributes(obj: Any, attrs: dict[str, Any]) -> None:
    """obj's __dict__ becomes attrs (what its constructor put there first,
    a classmethod's copies of its function's names, is replaced)."""
    own = object.__getattribute__(obj, "__dict__")
    own.clear()
    own.update(attrs)


def new_property_like(cls: type, fget: Any, fset: Any, fdel: Any, name: Any) -> Any:
    """An instance of a Python subclass of property (abc.abstractproperty)
    whose doc came from its getter, its fields set by property's own C
    __init__; its __dict__ is filled after."""
    made = property.__new__(cls)
    property.__init__(made, fget, fset, fdel, None)
    if name is not None:
        property.__set_name__(made, None, name)  # 3.13
    return made


def set_attributes_by_setattr(obj: Any, attrs: dict[str, Any]) -> None:
    """Attributes a C object keeps in fields (a 3.13 property's __name__)."""
    for name, value in attrs.items():
        setattr(obj, name, value)


def bind(function: Any, obj: Any) -> Any:
    return MethodType(function, obj)


def mappingproxy(mapping: Any) -> Any:
    return MappingProxyType(mapping)


def pattern(source: Any, flags: int, code: list[int], groups: int,
            groupindex: dict[str, int], indexgroup: tuple[Any, ...]) -> Any:
    """re.compile's result without compiling: the compiled program is in
    the unit (re's cache starts empty, as README says)."""
    import _sre
    return _sre.compile(source, flags, code, groups, groupindex, indexgroup)


def lru_cache(function: Any, maxsize: Any, typed: bool, info: Any) -> Any:
    import _functools
    return _functools._lru_cache_wrapper(function, maxsize, typed, info)


def new_typevar(kind: type, name: str, constraints: tuple[Any, ...],
                options: dict[str, Any], module: str) -> Any:
    """typing.TypeVar, ParamSpec, TypeVarTuple (C types from 3.12): made
    again from what they hold, with the module the body gave them."""
    bounded = "bound" in options or "evaluate_bound" in options
    if options.get("infer_variance") and not constraints and name.isidentifier() \
            and (not bounded or kind.__name__ == "TypeVar"):
        # Made by a type-parameter list (PEP 695): made by one again (the
        # constructor cannot give a ParamSpec the bound None that 3.12's
        # type parameters have).  A bound stays lazy, as there: computed by
        # its own evaluation function if the dump had not asked for it,
        # else the value it gave (the constructor would also check a bound
        # with typing's _type_check, which typing's own unit has not yet).
        sigil = {"ParamSpec": "**", "TypeVarTuple": "*"}.get(kind.__name__, "")
        bound = (": __pycds_bound__" if "bound" in options else
                 ": __pycds_evaluate__()" if bounded else "")
        namespace = {"__pycds_bound__": options.get("bound"),
                     "__pycds_evaluate__": options.get("evaluate_bound")}
        exec(f"def probe[{sigil}{name}{bound}](): pass", namespace)
        made = namespace["probe"].__type_params__[0]
    else:
        typing = sys.modules.get("typing")
        # typing's own unit, its namespace not filled yet: the C
        # constructor checks a bound with typing._type_check, which the
        # body's run already did (the bound is the checked value).  The
        # stand-in is in sys.modules only inside call_aside, where no other
        # thread runs (pycds/ext/aside.h).
        if typing is not None and not hasattr(typing, "_type_check"):
            stub = ModuleType("typing")
            stub._type_check = _cds.first_argument  # type: ignore[attr-defined]
            made = _cds.call_aside({"typing": stub}, kind, name, *constraints, **options)
        else:
            made = kind(name, *constraints, **options)
    made.__module__ = module
    return made


def new_type_alias(name: str, module: str, evaluate: Any, value: Any) -> Any:
    """typing.TypeAliasType (3.12+) of a `type NAME = ...` statement with no
    type parameters: made by such a statement again, in a namespace that
    names the module (its __module__).  Not evaluated at the dump: its value
    is computed when first asked, by the statement's own evaluation function
    (the body's code, in the body's globals), as plain Python computes it;
    evaluated: that value."""
    namespace = {"__name__": module, "__pycds_evaluate__": evaluate,
                 "__pycds_value__": value}
    exec(f"type {name} = " + ("__pycds_value__" if evaluate is None
                              else "__pycds_evaluate__()"), namespace)
    return namespace[name]


def new_contextvar(kind: type, name: str, default: Any) -> Any:
    return kind(name, default=default)


def new_union(args: tuple[Any, ...]) -> Any:
    """`int | None` (types.UnionType), made by | again."""
    union = args[0]
    for arg in args[1:]:
        union = union | arg
    return union


def new_weakref(kind: type, referent: Any, callback: Any) -> Any:
    import _weakref
    return _weakref.ref.__new__(kind, referent, callback)  # type: ignore[call-arg]


def new_count(*args: Any) -> Any:
    import itertools
    return itertools.count(*args)


def new_lock() -> Any:
    return _thread.allocate_lock()


def new_rlock() -> Any:
    return _thread.RLock()


# The unpickler's memo before the first pickle: these, then the header's
# externals, then its code objects; the writer's pickler has the same memo,
# so each is one BINGET wherever the unit refers to it.  Changing this list
# changes the format (FORMAT).
FIXED_FIRST = 3  # the module, its namespace, KEEP


def _vocabulary() -> list[Any]:
    return [class_attribute, new_value, new_container,
            set_attributes, set_attributes_by_setattr, new_property_like, CellType, bind, mappingproxy, pattern, lru_cache,
            new_lock, new_rlock, code_from, new_count, new_typevar,
            new_weakref, new_contextvar, new_union, new_type_alias, _cds.unit_class, _cds.unit_function, _cds.unit_object, _cds.unit_fill,
            getattr, property, classmethod, staticmethod, object, type, ...]


def code_from(data: bytes) -> Any:
    return marshal.loads(data)


# -- naming what existed before --------------------------------------------------

def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


# What must still hold of an object named by a path: its type, its name,
# and for a Python function where its code was written (a replacement made
# with functools.wraps has another); for a C method bound to an object,
# which object.  Defined once, in C (pycds/ext/witness.h), for the dump and
# the restore alike.
witness = _cds.witness


ATOM_TYPES = (type(None), bool, int, float, complex, str, bytes)


# A plain value itself (a float by its bits, a bool apart from the int it
# equals), else its witness: what a digest holds of each item (C, with
# digest).
shallow = _cds.shallow


# C types whose objects cannot change in ways a digest would miss.
FIXED_C_TYPES = {"re.Pattern", "builtins.builtin_function_or_method", "builtins.builtin_method",
                 "builtins.method_descriptor", "builtins.wrapper_descriptor",
                 "builtins.getset_descriptor", "builtins.member_descriptor",
                 "builtins.classmethod_descriptor", "builtins.method-wrapper",
                 "builtins.property", "builtins.classmethod", "builtins.staticmethod",
                 "builtins.method", "builtins.cell", "builtins.code",
                 "builtins.NoneType", "builtins.ellipsis", "builtins.NotImplementedType",
                 "builtins.NoDefaultType",  # typing.NoDefault (3.13), a singleton
                 "builtins.range", "builtins.slice", "_thread.lock", "_thread.RLock",
                 "builtins.mappingproxy", "functools.partial", "builtins.object",
                 "typing.TypeVar", "typing.ParamSpec", "typing.TypeVarTuple",
                 "typing.TypeAliasType", "types.GenericAlias", "types.UnionType",
                 "_struct.Struct", "_contextvars.ContextVar", "operator.attrgetter",
                 "operator.itemgetter", "operator.methodcaller",
                 "functools._lru_cache_wrapper", "datetime.date", "datetime.datetime",
                 "datetime.time", "datetime.timedelta", "datetime.timezone"}


def checkable(value: Any) -> bool:
    """Whether digest() sees what a program could have changed in value:
    plain values, containers, classes, functions, modules, instances of
    Python classes (their attributes), and C objects that do not change."""
    t = type(value)
    if t in ATOM_TYPES or t in (dict, list, tuple, set, frozenset, ModuleType,
                                FunctionType) or isinstance(value, type):
        return True
    if isinstance(value, tuple) or _type_name(t) in FIXED_C_TYPES:
        return True  # a tuple (a struct sequence like sys.version_info) cannot change
    if _type_name(t) == "types.SimpleNamespace":
        return True
    # An instance of a Python class (its attributes; one with __slots__
    # only, typing's special forms, by witness).
    return bool(t.__flags__ & (1 << 9)) and not t.__flags__ & (1 << 8)


# What a body may have read of another module's attribute, so that a
# program that changed it first is seen: a plain value itself; a
# container's length and items (plain values, containers' own items, else
# witnesses), two levels deep; a Python instance's attributes, one level;
# else the witness.  A change further down is not seen (README says so).
# C, with the check of a unit's reads (pycds/ext/witness.h).
digest = _cds.digest


def _attrs(obj: Any) -> Any:
    try:
        return object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return None


def _static_types() -> dict[str, type]:
    """C types no module of a fresh process names (the types module names
    them by asking an object for its type): by name."""
    def generator() -> Any:
        yield
    return {"SimpleNamespace": type(sys.implementation), "FunctionType": FunctionType,
            "CellType": CellType, "CodeType": CodeType, "ModuleType": ModuleType,
            "MappingProxyType": MappingProxyType, "MethodType": MethodType,
            "GenericAlias": type(list[int]), "UnionType": type(int | str),
            "NoneType": type(None), "EllipsisType": type(...),
            "NotImplementedType": type(NotImplemented),
            "BuiltinFunctionType": type(len), "BuiltinMethodType": type([].append),
            "WrapperDescriptorType": type(object.__init__),
            "MethodWrapperType": type(object().__str__),
            "MethodDescriptorType": type(str.join),
            "ClassMethodDescriptorType": type(dict.__dict__["fromkeys"]),
            "GetSetDescriptorType": type(FunctionType.__dict__["__code__"]),
            "MemberDescriptorType": type(FunctionType.__dict__["__globals__"]),
            "GeneratorType": type(generator()),
            "FrameType": type(sys._getframe()),
            "TracebackType": _traceback_type()}


def _traceback_type() -> type:
    try:
        raise Stale
    except Stale as error:
        return type(error.__traceback__)


STATIC_TYPES = _static_types()
VOCABULARY = _vocabulary()
# C types of an extension module that no module names, made by asking an
# object for its type once the module that makes the object is imported.
def _type_params() -> tuple[Any, ...]:
    """A TypeVar, a TypeVarTuple and a ParamSpec (3.12+), without importing
    typing, whose C types a class statement with type parameters uses."""
    namespace: dict[str, Any] = {}
    exec("def probe[T, *Ts, **P](): pass", namespace)
    return namespace["probe"].__type_params__


LAZY_TYPES = {
    "re.Pattern": lambda: type(sys.modules["re._compiler"].compile("", 0)),
    "re.Match": lambda: type(sys.modules["re._compiler"].compile("", 0).match("")),
    "typing.TypeVar": lambda: type(_type_params()[0]),
    "typing.TypeVarTuple": lambda: type(_type_params()[1]),
    "typing.ParamSpec": lambda: type(_type_params()[2]),
}


def resolve(path: tuple[tuple[Any, Any], ...]) -> Any:
    """The object a path names (pycds/ext/witness.h: a module's or class's
    own namespace, no descriptors, no __getattr__; steps it does not know
    are resolve_step's)."""
    return _cds.resolve(path, resolve_step)


def resolve_step(obj: Any, kind: str, arg: Any) -> Any:
    """One step of a path (pycds/_snapshot_schema.py's steps that another
    process can follow, and "static" and "getattr")."""
    if kind == "static":
        found = STATIC_TYPES.get(arg)
        if found is None:
            found = STATIC_TYPES[arg] = LAZY_TYPES[arg]()
        return found
    if kind == "module":
        return sys.modules[arg]
    if kind == "getattr":
        return getattr(obj, arg)
    if kind == "attr" and arg == "__dict__":
        attrs = _attrs(obj)
        if attrs is None:
            raise KeyError(arg)
        return attrs
    if kind == "attr" or (kind == "item" and type(obj) is ModuleType):
        attrs = obj.__dict__ if isinstance(obj, type) else _attrs(obj)
        return attrs[arg]
    if kind == "item" or kind == "index":
        return obj[arg]
    raise KeyError(kind)


def _text(path: tuple[tuple[Any, Any], ...]) -> str:
    out = ""
    for kind, arg in path:
        out += (arg if kind == "module" else f".{arg}" if kind in ("attr", "getattr")
                else f"[{arg!r}]")
    return out


def _unpickler_class() -> Any:
    pickle = _load_pickle()

    class UnitUnpickler(pickle.Unpickler):  # type: ignore[name-defined, misc]
        def find_class(self, module: str, name: str) -> Any:
            # A unit names nothing by module and name: what it uses is in
            # the memo (fixed_memo).
            raise Stale(f"unit names {module}.{name}")

    return UnitUnpickler


_Unpickler: Any = None
_process: Any = None


def stream_setting(stream: str, attribute: str) -> Any:
    """A standard stream's attribute (`sys.stdout.encoding`), or None where
    the stream or the attribute is missing or a method: a setting
    (H_SETTINGS) of a body that read it."""
    value = getattr(getattr(sys, stream, None), attribute, None)
    return None if callable(value) else value


def module_present(name: str) -> bool:
    """Whether sys.modules holds name: a setting (H_SETTINGS) of a body
    that asked (`"numpy" in sys.modules`, `sys.modules.get("gevent")`)."""
    return name in sys.modules


# A class's own namespace, as type's descriptor gives it (a metaclass's
# __dict__ aside).
_namespace_of = type.__dict__["__dict__"].__get__


def named_class(module: str, qualname: str) -> Any:
    """The class sys.modules[module] holds at qualname, or None: read from
    the module's namespace, so no module __getattr__ (a lazy loader, a
    deprecation warning) runs, then from classes' own namespaces."""
    first, _, rest = qualname.partition(".")
    namespace = getattr(sys.modules.get(module), "__dict__", None)
    found: Any = namespace.get(first) if type(namespace) is dict else None
    for part in rest.split(".") if rest else ():
        found = _namespace_of(found).get(part) if isinstance(found, type) else None
    return found if isinstance(found, type) else None


def _others(cls: type, reader: str) -> bool:
    """Whether a class is neither of module reader (the asking body's own:
    a restore asks before they exist) nor pycds's (the planner's classes,
    its os.environ's named as os._Environ too, are no program's)."""
    module = getattr(cls, "__module__", None)
    return module != reader and "__pycds_planner__" not in cls.__dict__ and not (
        type(module) is str and module.partition(".")[0] == __name__.partition(".")[0])


def _names(classes: Any, reader: str) -> tuple[str, ...]:
    """classes by module and qualified name, sorted; _others only."""
    return tuple(sorted(_type_name(c) for c in classes if _others(c, reader)))


def abc_state(module: str, qualname: str, reader: str,
              leave_out: Any = frozenset()) -> Any:
    """What isinstance and issubclass with the ABC module.qualname answer
    from, besides the class asked about: every class under it (a subclass's
    __subclasshook__ or registry may answer for it) and every class
    registered with one of them, an ABC so registered with what is under
    it in turn; as one hash of their names, sorted (a digest of a long
    tuple would be its length only); None where there is no such ABC.  A
    setting (H_SETTINGS) of a body that asked: a program may have
    registered or derived classes before importing it.  leave_out: (id of
    ABC, id of class) registrations not to count (the planner's: the
    asking body's own, which a restore replays after checking)."""
    root = named_class(module, qualname)
    if root is None or not hasattr(root, "_abc_impl"):
        return None
    names, seen, todo = [], {id(root)}, [root]
    while todo:
        cls = todo.pop()
        if not _others(cls, reader):
            continue
        registered = [ref() for ref in _abc._get_dump(cls)[0]] \
            if hasattr(cls, "_abc_impl") else []
        registered = [c for c in registered
                      if c is not None and (id(cls), id(c)) not in leave_out]
        # A class under it answers only through a hook or a registry of its
        # own (one that merely derives is answered by the asked class's
        # MRO): the others, a dataclass's discarded first class among
        # them, garbage the collector has not reached, are not named.
        if cls is root or registered or "__subclasshook__" in _namespace_of(cls):
            name = _type_name(cls)
            names.append(name)
            names += [f"{name} <- {other}" for other in _names(registered, reader)]
        for other in type.__subclasses__(cls) + registered:
            if id(other) not in seen and (hasattr(other, "_abc_impl")
                                          or other not in registered):
                seen.add(id(other))
                todo.append(other)
    return _cds.hash_bytes("\n".join(sorted(names)).encode("utf-8", "surrogatepass"))


def subclass_names(module: str, qualname: str, reader: str,
                   leave_out: Any = frozenset()) -> Any:
    """The direct subclasses of class module.qualname, a hash of their
    names sorted, or None: a setting (H_SETTINGS) of a body that called its
    __subclasses__().  (leave_out: as abc_state's, not used: no
    registration makes a subclass.)"""
    cls = named_class(module, qualname)
    return None if cls is None else _cds.hash_bytes(
        "\n".join(_names(type.__subclasses__(cls), reader)).encode("utf-8", "surrogatepass"))


def process_inputs() -> tuple[Any, ...]:
    """What every body saw of the process (the planner records the same):
    sys.flags (fixed for a process's life), sys.path, the locale and time
    zone variables, and which of the standard descriptors are terminals
    (a body may ask `sys.stdout.isatty()`, a C method no watcher sees: the
    planner's are not, so a process on a terminal restores nothing)."""
    return (tuple(sys.flags), tuple(search_path(sys.path)), *_cheap_inputs())


def _cheap_inputs() -> tuple[Any, ...]:
    """The part of process_inputs() that is cheap to ask again for every
    unit (sys.path made absolute is not: check_inputs remembers it)."""
    return (_locale_name(), _terminals(), _options())


def _options() -> tuple[Any, ...]:
    """-W options (and PYTHONWARNINGS), which sys.flags does not show: -W
    error makes a warning that a body's import gave an exception.  (The -X
    options that change what code does are in sys.flags.)"""
    return tuple(sys.warnoptions)


def _terminals() -> tuple[bool, ...]:
    found = []
    for fd in (0, 1, 2):
        try:
            found.append(posix.isatty(fd))
        except OSError:
            found.append(False)
    return tuple(found)


def search_path(entries: Any) -> list[str]:
    """A sys.path as the trace records it (pycds/_trace.py) and the
    planner runs with: '' and relative entries as the directory they mean
    now, entries that are not str left out (PathFinder ignores them).  So
    a `python -c` run (sys.path[0] == '') in the directory it was traced
    in matches, and one in another directory does not.  os.getcwd() may
    fail (the directory is gone)."""
    return [_absolute(entry) for entry in entries if isinstance(entry, str)]


# What the checks call of the OS is posix's, not os's: a program may have
# replaced os.stat, os.isatty or os.getcwd (a fake file system, a counter),
# and would see calls plain Python does not make, or answer them.
_normpath = getattr(posix, "_path_normpath", None) or posixpath.normpath  # (C where it is)


def _absolute(path: str) -> str:
    """os.path.abspath(path), for a str (the working directory "/" too)."""
    if not path.startswith("/"):
        cwd = posix.getcwd()
        path = cwd + path if cwd.endswith("/") else cwd + "/" + path
    return _normpath(path)


def _fs_bytes(name: str) -> bytes:
    """os.fsencode(name)."""
    return name.encode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def _fs_text(data: bytes) -> str:
    """os.fsdecode(data)."""
    return data.decode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


# (_path_key(), process_inputs(), a unit's part 0, whether they match) as
# last computed: sys.path, and the working directory if an entry was
# relative (an equal key means the same directories), what the process was
# then, and the verdict on the last part 0 compared ("" when it matched,
# else how it differed: process_difference).  The next unit's check
# uses them, computing again only what the key, the cheap inputs or its
# bytes changed (a process that differs from the planning one would
# otherwise make sys.path absolute, and read a header, per unit it refuses).
_process_now: Any = None


# sys.path as last seen by _path_key, and whether an entry was relative.
_last_path: tuple[Any, bool] = ((), False)


def _path_key() -> tuple[Any, Any]:
    global _last_path
    path = tuple(sys.path)
    if path != _last_path[0]:
        _last_path = (path, not all(type(e) is str and e.startswith("/")
                                    for e in path))
    return (path, posix.getcwd() if _last_path[1] else None)


LOCALE_VARIABLES = ("LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE",
                    "LC_MONETARY", "LC_MESSAGES", "LANG", "LANGUAGE",
                    "TZ")  # time.timezone and tzname come from it at start-up


def _locale_name() -> tuple[Any, ...]:
    """The locale a process starts with, from where it comes from (asking
    _locale would import it, which plain Python has not)."""
    return tuple(map(_environ_data().get, LOCALE_KEYS))


def _environ_data() -> Any:
    """os.environ's own dict of bytes (its Mapping methods cost a Python
    call each; what they return is the same)."""
    return os.environ._data  # type: ignore[attr-defined]


LOCALE_KEYS = tuple(name.encode() for name in LOCALE_VARIABLES)


def _file_state(path: str) -> Any:
    """A path read for its contents: None when absent, else the size, time
    and inode of what it leads to (another file of the same size and time,
    put in its place by a rename, a release directory's link switched, an
    archive unpacked over it, is another inode; not the device, which an
    overlay mount numbers anew each time), its mode and owner (what
    os.access and a stat's permission bits answer from: a chmod or chown
    leaves the size and time), and for a symbolic link its target too (a
    body that called os.readlink)."""
    try:
        st = posix.lstat(path)
    except OSError:
        return None
    if not stat.S_ISLNK(st.st_mode):
        return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode, st.st_uid, st.st_gid)
    try:
        target = posix.readlink(path)
    except OSError:
        target = None
    try:
        st = posix.stat(path)
    except OSError:
        return (None, None, target)
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode, st.st_uid, st.st_gid, target)


def file_kind(path: str) -> Any:
    """What os.path.exists, isdir, isfile, islink and realpath see of a
    path (pycds/_snapshot_inputs.py's KIND_ONLY): None when absent, else
    its kind, and a symbolic link's target and the kind of what it
    points to.  A header's state of a path is this (a tuple of strings)
    or _file_state's (size and time)."""
    try:
        st = posix.lstat(path)
    except OSError:
        return None
    if not stat.S_ISLNK(st.st_mode):
        return (_kind_of(st.st_mode),)
    try:
        followed = _kind_of(posix.stat(path).st_mode)
    except OSError:
        followed = "absent"
    try:
        return ("link", posix.readlink(path), followed)
    except OSError:
        return ("link", None, followed)


def _kind_of(mode: int) -> str:
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def _listing(path: str) -> Any:
    try:
        return tuple(sorted(posix.listdir(path)))
    except OSError:
        return None


def check_process(wanted: bytes) -> None:
    """The unit's part 0 against this process (see _process_now): a unit
    whose bytes are those the last check compared is decided the same way
    while the process is the same."""
    global _process_now
    key = _path_key()
    now = _process_now
    if now is None or now[0] != key or now[1][2:] != _cheap_inputs():
        now = _process_now = (key, process_inputs(), None, "")
    if wanted != now[2]:
        planned = _load_pickle().loads(wanted)
        now = _process_now = (key, now[1], wanted, "" if planned == now[1]
                              else process_difference(planned, now[1]))
    if now[3]:
        raise Stale(f"the process differs from the planning one: {now[3]}")


STREAMS = ("standard input", "standard output", "standard error")


def process_difference(planned: Any, now: tuple[Any, ...]) -> str:
    """The first way this process (process_inputs()) differs from the
    planning one, said for a person: which flag, path entry, locale or time
    zone variable, terminal or -W option."""
    def shown(value: Any) -> str:
        return repr(value.decode(errors="replace") if isinstance(value, bytes) else value)

    try:
        flags, path, locale, terminals, options = planned
    except (TypeError, ValueError):
        return "it was planned by another pycds"
    if tuple(flags) != now[0]:
        names = getattr(sys.flags, "__match_args__", ())
        for i, (was, is_now) in enumerate(zip(flags, now[0])):
            if was != is_now:
                name = names[i] if i < len(names) else str(i)
                return f"sys.flags.{name} is {is_now!r}, was {was!r}"
        return "sys.flags has other fields"
    if tuple(path) != now[1]:
        for i, (was, is_now) in enumerate(zip(path, now[1])):
            if was != is_now:
                return f"sys.path[{i}] is {is_now!r}, was {was!r}"
        return f"sys.path has {len(now[1])} entries, had {len(path)}"
    if tuple(locale) != now[2]:
        for name, was, is_now in zip(LOCALE_VARIABLES, locale, now[2]):
            if was != is_now:
                return f"{name} is {shown(is_now)}, was {shown(was)}"
    if tuple(terminals) != now[3]:
        for stream, was, is_now in zip(STREAMS, terminals, now[3]):
            if was != is_now:
                return f"{stream} is {'' if is_now else 'not '}a terminal, " \
                       f"was {'' if was else 'not '}one"
    if tuple(options) != now[4]:
        return f"-W options are {list(now[4])}, were {list(options)}"
    return "it was planned by another pycds"


def hash_seed() -> str:
    """This process's string hash seed as python chose it: PYTHONHASHSEED's
    value, or "random" (unset, "random", or the environment ignored)."""
    if sys.flags.ignore_environment:
        return "random"
    value = os.environ.get("PYTHONHASHSEED", "") or "random"
    return value


def hashed_reads(reads: list[tuple[str, str, Any]]
                 ) -> tuple[list[tuple[str, str, Any]], list[tuple[str, tuple[str, ...], bytes]]]:
    """A body's reads as a unit keeps them: those of absent names as they
    are (H_READS), the others by module, each digest as its XXH3-64
    (H_HASHED): a restore compares the hash of what it finds (C), and
    unpickles one name and 8 bytes a read instead of its digest."""
    kept: list[tuple[str, str, Any]] = []
    by_module: dict[str, tuple[list[str], list[bytes]]] = {}
    for source, attribute, seen in reads:
        if seen[0] == ABSENT_NAMES:
            kept.append((source, attribute, seen))
            continue
        names, hashes = by_module.setdefault(source, ([], []))
        names.append(attribute)
        hashes.append(_cds.digest_hash(seen).to_bytes(8, "little"))
    return kept, [(source, tuple(names), b"".join(hashes))
                  for source, (names, hashes) in by_module.items()]


def check_inputs(header: dict[str, Any]) -> None:
    if hash_seed() not in ("random", header[H_SEED]):
        # A set of strings iterates in its seed's order, and a body may
        # have kept that order (list(a_set)): with the seed fixed, a plain
        # process's order is that seed's, not the dump's.
        raise Stale(f"PYTHONHASHSEED is {hash_seed()}, the dump's bodies ran "
                    f"with {header[H_SEED]}")
    environ = _environ_data()
    for name, value in header[H_ENV].items():
        now = environ.get(_fs_bytes(name))
        if (now if now is None else _fs_text(now)) != value:
            raise Stale(f"environment variable {name} changed")
    for path, state in header[H_FILES]:
        seen_kind = state is not None and type(state[0]) is str
        if (file_kind(path) if seen_kind else _file_state(path)) != state:
            raise Stale(f"{path} changed")
    for path, names in header[H_LISTED]:
        if _listing(path) != names:
            raise Stale(f"directory {path} changed")
    if header[H_CONTENTS] and _cds.share_validation() == "hash":
        # What a source's check is under hash (pycds/ext/finder.c): a file
        # rewritten in place with its size and time kept.  Under mtime, the
        # size, time and inode above; under none too (a unit's data files
        # are no part of an immutable image's code).
        for path, digest in header[H_CONTENTS]:
            if _cds.file_hash(path) != digest:
                raise Stale(f"contents of {path} changed")
    argv = header[H_ARGV]
    if argv is not None and list(sys.argv) != argv:
        raise Stale("sys.argv differs")
    if header[H_LOOKUPS]:
        find_spec = sys.modules["_frozen_importlib"]._find_spec
        for name, path, found, origin in header[H_LOOKUPS]:
            if lookup_answer(name, path, asked_spec(name, path, find_spec)) \
                    != (name, path, found, origin):
                raise Stale(f"where the import system finds {name} changed")


def asked_spec(name: str, path: Any, find_spec: Any) -> Any:
    """What importlib.util.find_spec answers now for a lookup a body made
    (the planner saw it reach _find_spec: the name was not in sys.modules
    then).  It asks sys.modules first: a None there (a program blocking an
    optional dependency) is "not found", a module its __spec__; one with
    none makes it raise, which the body did not."""
    if name not in sys.modules:
        return find_spec(name, path)
    module = sys.modules[name]
    if module is None:
        return None
    spec = getattr(module, "__spec__", None)
    if spec is None:
        raise Stale(f"sys.modules[{name!r}] has no __spec__, which its body's "
                    "find_spec would have raised for")
    return spec


def star_names(name: str) -> Any:
    """The names `from NAME import *` binds, sorted, as the import system
    picks them: the module's __all__, else its names without a leading
    underscore (None: no such module, or an __all__ that is not a list or
    tuple of str)."""
    module = sys.modules.get(name)
    attrs = getattr(module, "__dict__", None)
    if type(attrs) is not dict:
        return None
    names = attrs.get("__all__")
    if names is None:
        return tuple(sorted(n for n in attrs if type(n) is str and not n.startswith("_")))
    if type(names) not in (list, tuple) or any(type(n) is not str for n in names):
        return None
    return tuple(sorted(set(names)))


def lookup_answer(name: str, path: Any, spec: Any) -> tuple[Any, ...]:
    """A body's question to the import system (importlib.util.find_spec)
    and its answer: (name, the search path or None, found, origin)."""
    entries = None if path is None else [entry for entry in path if isinstance(entry, str)]
    if spec is None:
        return (name, entries, False, None)
    origin = getattr(spec, "origin", None)
    return (name, entries, True, origin if isinstance(origin, str) else None)


def replay_imports(header: dict[str, Any], module: Any) -> None:
    """The body's import statements, in order: the same modules imported
    in the same order, with this module in sys.modules as during its body."""
    imports = header[H_IMPORTS]
    # By __import__ from C: no Python frame between the nested imports.
    failed = _cds.unit_imports(imports, module.__dict__)
    if not only_restores_ran(0):  # since the last restore
        forget_what_code_may_have_changed()
    if failed is not None:
        index, failure = failed
        name, fromlist, level, _ = imports[index]
        raise Stale(f"import {_import_text(name, fromlist, level)} failed" if failure
                    else f"import {_import_text(name, fromlist, level)} succeeded, "
                    "its body saw it fail")
    # The code its body ran of other modules made its objects: a module
    # imported from its file (its source changed since the dump) would
    # make others.
    for name in header[H_RAN]:
        if _cds.share_code_as_dumped(name) is False:
            raise Stale(f"{name}, whose code its body ran, changed since the dump")
    # Process-wide settings it read, once what it imports is loaded.
    for source, getter, args, expected in header[H_SETTINGS]:
        home = sys.modules.get(source)
        if home is None or digest(getattr(home, getter)(*args)) != expected:
            if (source, getter) == (__name__, "module_present"):
                raise Stale(f"{args[0]} is {'' if args[0] in sys.modules else 'not '}"
                            "in sys.modules, its body saw otherwise")
            if (source, getter) == (__name__, "stream_setting"):
                raise Stale(f"sys.{'.'.join(args)} is not what its body read")
            if (source, getter) == (__name__, "abc_state"):
                raise Stale(f"the classes registered with or derived from {args[0]}."
                            f"{args[1]} are not those its body asked about")
            if (source, getter) == (__name__, "star_names"):
                raise Stale(f"the names from {args[0]} import * binds are not those "
                            "its body bound")
            if (source, getter) == (__name__, "subclass_names"):
                raise Stale(f"{args[0]}.{args[1]}.__subclasses__() is not what its body read")
            raise Stale(f"{source}.{getter}() is not what its body read")
    # What it took from other modules (bindings: the same object, or plain
    # value) and what its code may have read of them (digests): C.
    failed = _cds.check_reads(header[H_BINDINGS], header[H_READS], import_memo)
    if failed is not None:
        kind, index = failed
        source, attribute, seen = (header[H_BINDINGS], header[H_READS])[kind][index]
        if kind == 1 and seen[0] == ABSENT_NAMES:
            home = vars(sys.modules[source])
            found = next((name for name in seen[1] if name in home), "?")
            raise Stale(f"{source}.{found} is there, its body did not find it")
        raise Stale(f"{source}.{attribute} changed" if kind == 0 else
                    f"{source}.{attribute} is not what its body saw")
    failed = _cds.check_hashed_reads(header[H_HASHED], import_memo)
    if failed is not None:
        group, index = failed
        source, names, _ = header[H_HASHED][group]
        raise Stale(f"{source}.{names[index]} is not what its body saw")


# The operations on containers a restore can apply to a copy.
CONTAINER_OPERATIONS = {"set_item", "del_item", "append", "insert", "add", "discard"}


def apply_to_container(name: str, target: Any, key: Any, value: Any) -> None:
    """One of CONTAINER_OPERATIONS, on a list, dict or set (or a copy)."""
    if name == "set_item":
        target[key] = value
    elif name == "del_item":
        del target[key]
    elif name == "append":
        target.append(value)
    elif name == "insert":
        target.insert(key, value)
    elif name == "add":
        target.add(value)
    else:
        target.discard(value)


class _Placeholder:
    """Where an operation's value or key will be once the unit's objects
    are made: written into a digest as the witness the dump recorded."""
    __slots__ = ()


def operations_applied(steps: list[tuple[Any, ...]], checks: list[tuple[Any, ...]]
                       ) -> tuple[dict[int, Any], dict[int, Any], list[Any]]:
    """What the unit's operations will leave, before any object is made:
    {id(target): copy} of each list, dict and set, each class's and
    instance's attributes (a dict) and each cell's contents that a step
    changes, with the steps applied to the copy; the stand-ins their
    values and keys are (digest's stand_ins); and the placeholders, to be
    kept while the digests read them.  A step is (index of its operation
    in `checks`, key's form, value's form), a form ("atom", value) or
    ("witness", witness) (pycds/_snapshot_child.py's _form).  A target of
    another kind gets no copy: a read that sees it then differs, and the
    unit is not used."""
    copies: dict[int, Any] = {}
    stand_ins: dict[int, Any] = {}
    held: list[Any] = []

    def made(form: Any) -> Any:
        if form is None or form[0] == "atom":
            return None if form is None else form[1]
        placeholder = _Placeholder()
        held.append(placeholder)
        stand_ins[id(placeholder)] = form[1]
        return placeholder

    for index, key_form, value_form in steps:
        name, target = checks[index][0], checks[index][1]
        key, value = made(key_form), made(value_form)
        copy = copies.get(id(target))
        if name in CONTAINER_OPERATIONS:
            if copy is None:
                if type(target) not in (list, dict, set):
                    continue
                copy = copies[id(target)] = type(target)(target)
            apply_to_container(name, copy, key, value)
        elif name in ("set_attr", "del_attr"):
            if copy is None:
                copy = copies[id(target)] = dict(own_attributes(target))
            if name == "set_attr":
                copy[key] = value
            else:
                copy.pop(key, None)
        elif name == "setattr" and key == "cell_contents":
            copies[id(target)] = value
    return copies, stand_ins, held


_GONE = object()  # what _cds.read_value answers for a name not there


def check_after_reads(after: list[Any], checks: list[tuple[Any, ...]]) -> None:
    """What the body read of objects its own operations change (a registry
    it appended to, then counted): as they will be once the operations are
    applied, which a program that changed them first shows.  Before any
    object is made (the operations' values stand in by their witnesses)."""
    reads, steps = after
    if not reads:
        return
    copies, stand_ins, held = operations_applied(steps, checks)
    for source, attribute, expected in reads:
        value = _cds.read_value(source, attribute, _GONE)
        if value is _GONE:
            raise Stale(f"{source}.{attribute} is gone")
        if _cds.digest(value, stand_ins, copies) != expected:
            raise Stale(f"{source}.{attribute} is not what its body saw")
    del held


def _import_text(name: str, fromlist: Any, level: int) -> str:
    """An import as the body wrote it: `from . import x` has no name."""
    where = "." * level + name
    return f"{', '.join(fromlist)} from {where}" if fromlist else where


def memo_preamble(count: int) -> bytes:
    """A pickle that puts fixed objects 0..count-1 in the unpickler's memo
    at those indexes: persistent id i, memoize, pop, for each.  (Setting
    Unpickler.memo to a dict does not work: CPython fills the memo it is
    about to drop.)"""
    out = []
    for i in range(count):
        pid = (b"K" + i.to_bytes(1, "little") if i < 256 else
               b"M" + i.to_bytes(2, "little") if i < 65536 else
               b"J" + i.to_bytes(4, "little"))
        out.append(pid + b"Q\x94" + b"0")
    out.append(b"N.")
    body = b"".join(out)
    # In one frame, which the unpickler reads with one call: unframed, it
    # asks its file for every opcode (a quarter of the unpickler's time).
    return b"\x80\x05\x95" + len(body).to_bytes(8, "little") + body


# Objects whose witness matched, by id (holding them, so no id is reused),
# and digests of containers: the same object found again by a later unit
# need not be described again.  The finder empties it when the outermost
# import returns (pycds/_share.py gives it to _cds.set_import_memo): what a
# restore checked must not outlive the import in this memo.
import_memo: dict[Any, Any] = {}


# Whether only restores ran since the memo's entries were made: the size
# of sys.modules then (each restore's module adds one, and so does each
# body the import system runs) and whether a restore since said "run the
# body" (a body of the archive, which adds no module when it imports
# none).
_quiet_modules = 0
_body_ran = False


def forget_what_code_may_have_changed() -> None:
    """Code other than a restore's ran, or may have, since the memo's
    entries were made (a body run as code between two restored modules of
    one import, a hook): what it changed that no stamp covers is digested
    again (a method's names, attributes or, on 3.11, its code or defaults;
    an instance a class holds: _cds.memo_after_code)."""
    global _body_ran
    _cds.memo_after_code(import_memo)
    _body_ran = False


def only_restores_ran(adding: int) -> bool:
    """Whether nothing but restores ran since _quiet_modules was taken,
    `adding` modules (the one being restored) since in sys.modules."""
    return not _body_ran and len(sys.modules) == _quiet_modules + adding


def imported_by_a_replay() -> bool:
    """Whether the import being restored is a replayed import statement
    of another unit (replay_imports, by C: no Python frame between), not
    one of a body, hook or program running as code.  From restore()."""
    frame = sys._getframe(1).f_back  # restore()'s caller: pycds/_share.py's restorer
    frame = frame.f_back if frame is not None else None
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    return frame is not None and frame.f_code is replay_imports.__code__


def matches_witness(obj: Any, seen: Any) -> bool:
    """witness(obj) == seen, remembered for the object (what a later unit
    finds again is the same object, or another one: a replacement)."""
    return _cds.matches_witness(obj, seen, import_memo)


def fixed_memo(module: Any, code: Any,
               header: dict[str, Any]) -> tuple[list[Any], list[str]]:
    """What the unpickler's memo holds before the unit's pickles
    (memo_preamble): the module, its namespace, KEEP, the vocabulary, what
    existed before (found by path, checked by witness), code, and the
    values read again; and the strings the unit's objects share with code,
    then those interned (persistent ids, indexes into them)."""
    memo: list[Any] = [module, module.__dict__, KEEP, *VOCABULARY]
    externals = header[H_EXTERNALS]
    failed = _cds.resolve_externals(externals, memo, import_memo, resolve_step)
    if failed is not None:
        index, found = failed
        path, seen = externals[index]
        if not found:
            raise Stale(f"{_text(path)} is gone")
        raise Stale(f"{_text(path)} is not what it was "
                    f"(a {seen[0]} {seen[1] or ''})")
    failed = _cds.check_same(header[H_SAME], memo)
    if failed is not None:
        source, name, _ = header[H_SAME][failed]
        raise Stale(f"{source}.{name} is not the object its body read")
    codes_at = len(memo)
    _cds.unit_codes(code, header[H_CODES], memo)
    for clock in header[H_FRESH]:
        memo.append(Fresh(clock))
    return memo, _cds.unit_strings(memo, codes_at, header[H_STRINGS], header[H_NAMES])


def apply_fill(kind: str, obj: Any, state: Any) -> None:
    """A fill that is no class's nor cell's (_cds.unit_fills does those)."""
    if kind == "late":
        # An attribute made from its finished owner (json's scanner from
        # its decoder), put back at its place in the owner's order.
        key, make, order = state
        attrs = object.__getattribute__(obj, "__dict__")
        attrs[key] = make(obj)
        put_in_order(attrs, order)
    else:
        raise Stale(f"unknown fill {kind!r}")


# Functions whose effect C keeps where no object shows it: the planner
# records a body's calls to them (by the name on the left) and a restore
# makes the same calls again, in order, with the same arguments.
REGISTRATIONS = {
    "atexit": ("atexit", "register"),
    "at_fork": ("os", "register_at_fork"),    # logging's locks in a child
    "codecs_register": ("codecs", "register"),
    "codecs_unregister": ("codecs", "unregister"),
    "codecs_register_error": ("codecs", "register_error"),
    "putenv": ("os", "putenv"),      # the C environment, which os.environ
    "unsetenv": ("os", "unsetenv"),  # does not show when set this way
    "audit_hook": ("sys", "addaudithook"),
    # csv's dialects live in _csv's C state (made from the class each time).
    "csv_register": ("_csv", "register_dialect"),
    "csv_unregister": ("_csv", "unregister_dialect"),
}
# Extension modules whose C state only REGISTRATIONS change, and their
# attributes that show it: what is there is made again by replaying them,
# never walked as a body's objects nor compared as its changes.
REPLAYED_STATE = {"_csv": ("_dialects",)}
OPERATIONS = {"set_item", "del_item", "set_attr", "del_attr", "setattr",
              "delattr", "append", "insert", "add", "discard", "abc_register", "advance",
              *REGISTRATIONS}


# The operations whose check reads their key (check_operation): the writer
# puts the key of these, and only these, in the checks it writes first.
KEYED_CHECKS = ("del_item", "del_attr", "delattr")


def check_operation(op: tuple[Any, ...]) -> None:
    """Before any is applied: each operation is one restore knows, on a
    target of the right kind (check every entry, then apply)."""
    name, target = op[0], op[1]
    if name not in OPERATIONS:
        raise Stale(f"unknown operation {name!r}")
    if name in ("set_item", "del_item") and not hasattr(target, "__setitem__"):
        raise Stale("an operation's target is not a mapping")
    if name in ("append", "insert") and not hasattr(target, "insert" if name == "insert" else "append"):
        raise Stale("an operation's target is not a list")
    if name == "advance" and _type_name(type(target)) != "itertools.count":
        raise Stale("an operation's target is not a count")
    if name in ("add", "discard", "abc_register") and not hasattr(target, "add" if name != "abc_register" else "__subclasscheck__"):
        raise Stale("an operation's target is not a set")
    if name == "del_item":
        key = op[2]
        if isinstance(target, list) and not (type(key) is int and -len(target) <= key < len(target)):
            raise Stale("an operation deletes an item that is not there")
        if isinstance(target, dict) and key not in target:
            raise Stale("an operation deletes a key that is not there")
    if name in ("del_attr", "delattr") and not hasattr(target, op[2]):
        raise Stale("an operation deletes an attribute that is not there")
    if (name in ("set_attr", "del_attr") and isinstance(target, type)
            and target.__flags__ & (1 << 8)):  # Py_TPFLAGS_IMMUTABLETYPE
        raise Stale(f"an operation changes the immutable type {_type_name(target)}")


def expectation(value: Any, absent: Any) -> Any:
    """What an operation's key held before the body changed it (`absent`:
    nothing), as check_before compares it: a plain value by type and
    value, a list by its items (item_digest's), anything else by
    witness."""
    if value is absent:
        return ("absent",)
    t = type(value)
    if t in ATOM_TYPES:
        return ("=", shallow(value))
    if t is list:
        return ("list", tuple(map(item_digest, value)))
    return ("witness", witness(value))


def item_digest(item: Any) -> Any:
    """A list's item as check_before compares it: a plain value by value,
    a tuple by its parts (a compiled pattern by its pattern and flags, a
    plain value by value, anything else by witness: a program that put
    other pairs in a registry of (name, value) tuples, or changed a
    warnings filter, is seen), anything else by witness."""
    if type(item) is not tuple:
        return shallow(item)
    return tuple((("re", part.pattern, part.flags)
                  if _type_name(type(part)) == "re.Pattern" else shallow(part))
                 for part in item)


_NOTHING = object()


def own_attributes(target: Any) -> Any:
    """What set_attr and del_attr change: a class's namespace (a read-only
    view), an instance's own __dict__ (no descriptor of its class asked)."""
    return (target.__dict__ if isinstance(target, type)
            else object.__getattribute__(target, "__dict__"))


def _held(name: str, target: Any, key: Any) -> Any:
    """What `target` holds under `key` as operation `name` sees it."""
    try:
        if name == "advance":
            return repr(target)
        if name in ("set_item", "del_item"):
            return target[key] if key in target else _NOTHING
        if name in ("set_attr", "del_attr"):
            return own_attributes(target).get(key, _NOTHING)
        return getattr(target, key)
    except (AttributeError, ValueError, TypeError):
        return _NOTHING


def check_before(check: tuple[Any, ...]) -> None:
    """A change the body made is replayed only onto what the body changed:
    the key it set or deleted holds what it held then (a logger the
    program made first is the one getLogger gives the body; a counter the
    program advanced is advanced from there), a list it inserted into or
    deleted from has the items it had."""
    if len(check) < 4 or check[3] is None:
        return
    name, target, key, expected = check
    if expected[0] == "order":  # a deletion from a dict, in its keys' order
        if type(target) is not dict or tuple(map(shallow, target)) != expected[1]:
            raise Stale(f"what its body deleted from ({_type_name(type(target))} "
                        f"{key!r}) is not among the keys, in the order, the body saw")
        expected = expected[2]
    if expected[0] == "list":
        same = type(target) is list and tuple(map(item_digest, target)) == expected[1]
    else:
        now = _held(name, target, key)
        same = (now is _NOTHING if expected[0] == "absent" else
                now is not _NOTHING and (
                    type(now) in ATOM_TYPES and shallow(now) == expected[1]
                    if expected[0] == "=" else matches_witness(now, expected[1])))
    if not same:
        raise Stale(f"what its body changed ({_type_name(type(target))} "
                    f"{'items' if expected[0] == 'list' else repr(key)}) "
                    "is not what the body saw")


def apply_operation(op: tuple[Any, ...]) -> None:
    name, target, key, value = op
    if name in CONTAINER_OPERATIONS:
        if target is _environ_data():  # os.environ[k] = v: the C one too
            if name == "set_item":
                os.putenv(key, value)
            elif name == "del_item":
                os.unsetenv(key)
        apply_to_container(name, target, key, value)
    elif name == "set_attr":
        if isinstance(target, type):
            type.__setattr__(target, key, value)
        elif key == "__class__":
            target.__class__ = value
        else:
            object.__getattribute__(target, "__dict__")[key] = value
    elif name == "del_attr":
        if isinstance(target, type):
            # Gone already when an earlier operation took it with it: on
            # 3.13 setting a class's __module__ drops its __firstlineno__,
            # and the body's change is both (the end is the same).
            if key in type.__getattribute__(target, "__dict__"):
                type.__delattr__(target, key)
        else:
            del object.__getattribute__(target, "__dict__")[key]
    elif name == "setattr":  # a function's, cell's or slot's attribute
        setattr(target, key, value)
    elif name == "delattr":
        delattr(target, key)
    elif name == "abc_register":
        _abc._abc_register(target, value)
    elif name == "advance":  # an itertools.count the body drew from
        for _ in range(value):
            next(target)
    elif name in REGISTRATIONS:
        module, attribute = REGISTRATIONS[name]
        args, kwargs = value
        getattr(__import__(module), attribute)(*args, **kwargs)
    else:
        raise Stale(f"unknown operation {name!r}")


def _after_operations(operations: list[tuple[Any, ...]]) -> None:
    """What the functions that made the replayed changes did besides: a
    changed warnings.filters makes the warnings module forget what it
    decided per place (its registries' version), as warnings.filterwarnings
    does."""
    warnings = sys.modules.get("warnings")
    if warnings is None or not hasattr(warnings, "_filters_mutated"):
        return
    filters = getattr(warnings, "filters", None)
    if any(op[1] is filters or op[1] is warnings for op in operations):
        warnings._filters_mutated()


def changes_readings(operations: list[tuple[Any, ...]]) -> bool:
    """Whether an operation set or deleted an attribute of an instance,
    function or cell (an instance given another class), which no stamp
    covers: what the checks remember of such objects holds while their
    readings do, compared where code ran (forget_what_code_may_have_changed),
    and these operations are no code's.  A class's or module's attribute
    renews its stamp or is read again."""
    return any(op[0] in ("setattr", "delattr")
               or (op[0] in ("set_attr", "del_attr") and not isinstance(op[1], type)
                   and type(op[1]) is not type(sys))
               for op in operations)


def run_after_restore(operations: list[tuple[Any, ...]]) -> bool:
    """AWS SnapStart's runtime hooks (the snapshot-restore-py package): what
    the restored body registered with register_after_restore runs now, in
    registration order, as Lambda runs it after a restore.  (A body that
    runs as code registers them and nothing runs them: plain Python.)
    Whether any ran."""
    hooks = sys.modules.get("snapshot_restore_py")
    registry = getattr(hooks, "_after_restore_registry", None) if hooks else None
    if registry is None:
        return False
    ran = False
    for op in operations:
        if op[0] == "append" and op[1] is registry:
            func, args, kwargs = op[3]
            ran = True
            func(*args, **kwargs)
    return ran


def split_unit(unit: Any) -> tuple[bytes, bytes, bytes, int]:
    """The unit's bytes, checked: (all of them, part 0, the header, where
    the header ends)."""
    data = bytes(unit)
    if data[:len(UNIT_MAGIC)] != UNIT_MAGIC:
        raise Stale("not a unit of this format")
    stored = int.from_bytes(data[len(UNIT_MAGIC):UNIT_HASH_END], "little")
    if _cds.hash_bytes(memoryview(data)[UNIT_HASH_END:]) != stored:
        raise Stale("the unit is damaged (checksum)")
    parts = []
    at = UNIT_HASH_END
    for _ in range(2):
        end = at + SIZE + int.from_bytes(data[at:at + SIZE], "little")
        if at + SIZE > len(data) or end > len(data):
            raise Stale("the unit is damaged (sizes)")
        parts.append(data[at + SIZE:end])
        at = end
    return data, parts[0], parts[1], at


def unit_header(unit: bytes) -> dict[str, Any]:
    """A unit's header (for the dump and inspect)."""
    return _load_pickle().loads(split_unit(unit)[2])  # type: ignore[no-any-return]


def join_unit(process: bytes, header: bytes, rest: bytes) -> bytes:
    """split_unit's inverse (pycds/_snapshot_unit.py writes units with it)."""
    body = b"".join((len(process).to_bytes(SIZE, "little"), process,
                     len(header).to_bytes(SIZE, "little"), header, rest))
    return UNIT_MAGIC + _cds.hash_bytes(body).to_bytes(8, "little") + body


def read_header(unit: Any) -> dict[str, Any]:
    """The header, with the process it was planned in (H_PROCESS)."""
    _, process, head, _ = split_unit(unit)
    header = _load_pickle().loads(head)
    header[H_PROCESS] = _load_pickle().loads(process)
    return header


def describe(name: str, unit: Any) -> str:
    """`inspect --snapshot`: what one unit holds and checks."""
    header = read_header(unit)
    summary = header.get(H_SUMMARY, {})
    operations = summary.get("operations", {})
    lines = [f"  {name}: {len(bytes(unit))} B, {summary.get('objects', '?')} objects, "
             f"{len(header[H_EXTERNALS])} names, {len(header[H_CODES])} code objects, "
             f"{len(header[H_STRINGS]) // 8} strings of code",
             f"    imports    {len(header[H_IMPORTS])}: "
             + ", ".join(n if not level else "." * level + n
                         for n, _, level, _ in header[H_IMPORTS][:12])
             + (" ..." if len(header[H_IMPORTS]) > 12 else ""),
             f"    inputs     env {sorted(header[H_ENV])}, files {len(header[H_FILES])} "
             f"({len(header[H_CONTENTS])} with contents' hashes), "
             f"directories {len(header[H_LISTED])}"
             + (f", lookups {[entry[0] for entry in header[H_LOOKUPS]]}"
                if header.get(H_LOOKUPS) else ""),
             f"    checks     {len(header[H_BINDINGS])} bindings, "
             f"{len(header[H_READS]) + sum(len(g[1]) for g in header[H_HASHED])} reads"
             f" ({len(header[H_SAME])} also by identity)"
             + (f", {len(header[H_AFTER][0])} with its operations"
                if header.get(H_AFTER, ((),))[0] else ""),
             f"    classes    {summary.get('classes', '?')}, "
             f"{summary.get('images', '?')} made from images",
             "    replays    " + (", ".join(f"{op} {n}" for op, n in sorted(operations.items()))
                                  or "nothing")]
    if header[H_FRESH]:
        lines.append(f"    fresh      {', '.join(header[H_FRESH])}")
    return "\n".join(lines)


def load_objects(reading: tuple[Any, Any, Any, Any, list[bool]]) -> tuple[Any, ...]:
    """The unit's pickles after the header, from (stream, what the
    preamble's persistent ids name, what the pickles' name, the header's
    H_AFTER, a list told when objects are being made): _load_objects's.
    Whatever fails, fails in here, while no collection can start
    (tenure.h): the reader (its memo and stack hold what was made) and the
    failed frames are dropped before the exception leaves, so that what
    was made is garbage when the next collection comes, young."""
    stream, fixed, named, after, making = reading
    reader = _Unpickler(stream)
    reader.persistent_load = fixed
    try:
        return _load_objects(reader, named, after, making)
    except BaseException as error:
        reader = None
        error.__context__ = None
        raise error.with_traceback(None)


def _load_objects(reader: Any, named: Any, after: Any, making: list[bool]
                  ) -> tuple[Any, ...]:
    """(namespace items, operations, the indexes of those that add a key,
    object count, and when the names were checked, the objects made and
    filled)."""
    reader.load()  # the memo preamble
    reader.persistent_load = named
    checks = reader.load()
    for check in checks:  # the operations', before any object
        check_operation(check)
    # What the body's own code read of what they change first (its reason
    # names the attribute), then what they change as the body found it (a
    # list a function it called appended to).
    check_after_reads(after, checks)
    for check in checks:
        check_before(check)
    names_checked = time.perf_counter()
    making.append(True)
    reader.load()  # the body's classes, made first in their order
    items = reader.load()
    operations = reader.load()
    objects_made = time.perf_counter()
    while True:
        batch = reader.load()
        if batch is None:
            break
        _cds.unit_fills(batch, _abc_step, TYPE_DATA, apply_fill)
    count = reader.load()
    for op in operations:  # as checked above, unless the unit lies
        check_operation(op)
    # The keys its operations add that were not there before (check_before
    # saw them absent): a plain dict keeps them in the order the body added
    # them, which making the objects may not have (an enum's composite
    # flag, made by a call that caches it, is there before the operation).
    added = {at for at, check in enumerate(checks)
             if check[0] == "set_item" and len(check) > 3 and check[3] is not None
             and check[3][0] == "absent"}
    return (items, operations, added, count, names_checked, objects_made,
            time.perf_counter())


def restore(module: Any, code: Any, unit: Any) -> bool:
    """Restore `module` (made by the import system, its body not run) from
    `unit`; False to run `code` instead."""
    global _quiet_modules, _body_ran
    replayed = imported_by_a_replay()
    if not (replayed and only_restores_ran(1)):
        forget_what_code_may_have_changed()
    _quiet_modules = len(sys.modules)
    restored = restore_or_refuse(module, code, unit)
    if restored:
        _quiet_modules = len(sys.modules)
    # Its body runs now, or the code that imported it runs on (a body the
    # archive ran as code with no restore's word, which may change what
    # the next unit reads and add no module).
    _body_ran = _body_ran or not restored or not replayed
    return restored


def restore_or_refuse(module: Any, code: Any, unit: Any) -> bool:
    """restore() less its record of what ran."""
    global _Unpickler
    if unit is None:  # a module with no unit, whose imports' units pay
        return False
    name = module.__name__
    if _loading or "__builtins__" in module.__dict__:
        # Loading the unpickler itself, or importlib.reload: a body ran in
        # this namespace before (exec put __builtins__ there) and reload
        # runs it again, from code.
        return False
    watching = _cds.observer()
    if watching is not None:  # a debugger, coverage, a profiler: the body runs for it
        _log.say(f"snapshot: {name}: code ({watching})")
        return False
    started = time.perf_counter()
    making: list[bool] = []
    try:
        data, process, head, end = split_unit(unit)
        if _Unpickler is None:
            _Unpickler = _unpickler_class()
        check_process(process)
        header = _pickle.loads(head)
        check_inputs(header)
        t1 = time.perf_counter()
        replay_imports(header, module)
        t2 = time.perf_counter()
        import _io
        stream = _io.BytesIO(data)  # shares data's buffer: no copy
        stream.seek(end)
        fixed, strings = fixed_memo(module, code, header)
        # The preamble's persistent ids are indexes into `fixed`, the
        # pickles' into `strings`: a C call each, no Python frame.
        # What it makes lives as long as the module: born old (tenure.h).
        items, operations, added, count, t_names, t3, t4 = _cds.tenured(load_objects, (
            stream, fixed.__getitem__, strings.__getitem__, header[H_AFTER], making))
    except Stale as why:
        failure = str(why)
    except Exception as error:  # a unit that does not fit: never the program's
        failure = f"{type(error).__name__}: {error}"
    else:
        failure = None
    if failure is not None:
        _log.say(f"snapshot: {name}: code ({failure})")
        if making:
            # What it made is garbage, young (load_objects): gone before
            # the body runs, its classes from their bases' __subclasses__()
            # too, as though never made.
            import gc
            gc.collect(0)
        return False
    # exec(code, namespace) raises the "exec" audit event, which a hook
    # sees for every body plain Python runs: here too, before anything of
    # the unit is visible (a hook that raises fails the import with the
    # namespace empty and no change replayed, as before a body).
    sys.audit("exec", code)
    _cds.unit_install(module.__dict__, items, KEEP, Fresh)
    if operations:
        for at, op in enumerate(operations):
            if at in added and type(op[1]) is dict and op[2] in op[1]:
                del op[1][op[2]]  # put back where the body added it, below
            apply_operation(op)
        _after_operations(operations)
        if run_after_restore(operations) or changes_readings(operations):
            forget_what_code_may_have_changed()
    if _log.level() >= 2:
        done = time.perf_counter()
        phases = (("inputs", t1 - started), ("imports", t2 - t1), ("names", t_names - t2),
                  ("objects", t3 - t_names), ("fills", t4 - t3), ("operations", done - t4))
        # PHASES: one "NAME US us" per phase, in this order (bench/startup.py
        # reads them); imports is the time of the modules the body imported.
        _log.say(f"snapshot: {name}: restored, {count} objects ("
                 + ", ".join(f"{phase} {1e6 * spent:.0f} us" for phase, spent in phases)
                 + ")", at=2)
    else:
        _log.say(f"snapshot: {name}: restored")
    return True

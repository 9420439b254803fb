"""Classify the objects a module body created: plain (the later stage copies
them as they are), revivable (a C type with a reviver on the issue's
allowlist), or refused with a reason.

Runs inside the planning interpreter before the traced modules are
imported: it imports only built-in and start-up modules, so that the
traced bodies run as they would in a fresh process.
"""

from __future__ import annotations

import sys

from . import _cds

HEAPTYPE = 1 << 9        # Py_TPFLAGS_HEAPTYPE
IMMUTABLETYPE = 1 << 8   # Py_TPFLAGS_IMMUTABLETYPE: only C sets it

PLAIN = "plain"
REVIVABLE = "revivable"
REFUSED = "refused"


def _cell() -> object:
    x = 0

    def f() -> int:
        return x
    assert f.__closure__ is not None
    return f.__closure__[0]


class _Probe:
    __slots__ = ("slot",)

    def method(self) -> None:
        pass


def _type_names() -> tuple[set[type], set[type]]:
    """Built-in types whose objects are plain data, and the static types
    whose Python subclasses' instances are laid out plainly."""
    data = {type(None), bool, int, float, complex, str, bytes, bytearray,
            tuple, list, dict, set, frozenset, type, type(_cell()),
            type(_cell.__code__), type(_cell), type(sys), property,
            classmethod, staticmethod, type(_Probe.slot),  # member descriptor
            type(type.__dict__["__dict__"]),  # getset descriptor
            type(_Probe().method), slice, range, type(Ellipsis),
            type(NotImplemented), object}
    layouts = {object, int, float, complex, str, bytes, bytearray, tuple, list,
               dict, set, frozenset, type, BaseException, type(sys)}
    return data, layouts


PLAIN_TYPES, PLAIN_LAYOUTS = _type_names()

# The allowlist of C types that a reviver recreates, by
# module.qualname (re.Pattern's module is re; _tuplegetter's moved from
# _collections to collections in 3.12).
REVIVERS = {
    "re.Pattern", "_collections._tuplegetter", "collections._tuplegetter",
    "_abc._abc_data", "_thread.lock", "_thread.RLock",
    "_contextvars.ContextVar", "_struct.Struct", "collections.deque",
    "collections.OrderedDict", "collections.defaultdict", "functools.partial",
    "weakref.ReferenceType", "builtins.mappingproxy", "itertools.count",
    "_weakrefset.WeakSet", "weakref.KeyedRef",
    # Revived with an empty cache (docs/snapshot-design.md; README names
    # the difference: cached values' identity across the restore).
    "functools._lru_cache_wrapper",
    # Made again by their own constructors (pycds/_snapshot_unit.py).
    "_json.Scanner", "typing.TypeVar", "typing.ParamSpec", "typing.TypeVarTuple",
    "typing.TypeAliasType",
    "types.SimpleNamespace", "types.GenericAlias", "types.UnionType", "operator.attrgetter",
    "operator.itemgetter", "operator.methodcaller",
    "datetime.date", "datetime.datetime", "datetime.time", "datetime.timedelta",
    "datetime.timezone",
}

# Built-in methods bound to an object a body made (`frozenset(...).
# __contains__`, `re.compile(...).match`, `count().__next__`): revived by
# asking the revived object for the method again, getattr(self, name).
BOUND_BUILTINS = {"builtins.builtin_function_or_method", "builtins.builtin_method",
                  "builtins.method-wrapper"}

# C types whose objects hold something a restored process cannot have.
RESOURCE_TYPES = {
    "_io.FileIO": "an open file", "_io.BufferedReader": "an open file",
    "_io.BufferedWriter": "an open file", "_io.BufferedRandom": "an open file",
    "_io.TextIOWrapper": "an open file", "_socket.socket": "a socket",
    "builtins.generator": "a generator", "builtins.coroutine": "a coroutine",
    "builtins.async_generator": "an async generator", "builtins.frame":
    "a frame", "_thread._local": "thread-local state",
    "select.epoll": "an epoll descriptor", "mmap.mmap": "a memory mapping",
    "posix.DirEntry": "a directory entry", "posix.ScandirIterator": "an open directory",
}
# The planner's stand-ins for C objects a body is given (pycds/_snapshot_inputs.py's
# os.scandir entries), classified as what they stand in for: Python classes
# that a unit would otherwise write as their own.
STAND_INS = {"pycds._snapshot_inputs.NotingEntry": "posix.DirEntry",
             "pycds._snapshot_inputs.NotingScandir": "posix.ScandirIterator"}


def type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def is_python_class(t: type, c_modules: set[str]) -> bool:
    """A class made by a class statement or type() (type.__new__: the
    extension checks its deallocator), not an extension module's heap type
    (PyO3's, PyType_FromSpec's), whatever its flags or __module__."""
    return (bool(t.__flags__ & HEAPTYPE) and not t.__flags__ & IMMUTABLETYPE
            and t.__module__ not in c_modules and _cds.is_python_class(t))


def layout_base(t: type, c_modules: set[str]) -> type:
    """The first class in t's MRO that is not a Python class nor a C class
    that adds nothing to object (typing.Generic): the C layout of t's
    instances."""
    for base in t.__mro__:
        if not is_python_class(base, c_modules) and not _cds.is_stateless_c_base(base):
            return base
    return object


STATIC_DESCRIPTORS = {"builtins.wrapper_descriptor", "builtins.method_descriptor",
                      "builtins.classmethod_descriptor", "builtins.getset_descriptor",
                      "builtins.member_descriptor"}


def is_a(obj: object, cls: type | tuple[type, ...]) -> bool:
    """isinstance by the object's type alone: isinstance also asks the
    object's own __class__, which a proxy answers for another object (or
    raises, as werkzeug's LocalProxy does outside a request)."""
    return issubclass(type(obj), cls)


def is_static(obj: object) -> bool:
    """Objects no body can create that a body can reach where start-up's
    walk from sys.modules did not (type(x) of a C object, a C type's slot
    wrappers, a C module's functions): named at restore, not written."""
    t = type(obj)
    if is_a(obj, type):
        # A C type, static or made by an extension module (immutable):
        # TypeVar's on 3.12, reached first through a class's parameters.
        return _is_c_type(obj)
    name = type_name(t)
    if name in STATIC_DESCRIPTORS:
        owner = getattr(obj, "__objclass__", None)
        return is_a(owner, type) and _is_c_type(owner)
    if name in ("builtins.builtin_function_or_method", "builtins.builtin_method"):
        owner = getattr(obj, "__self__", None)
        if is_a(owner, type) and _is_c_type(owner):
            # A C type's own function, not a method bound afresh at every
            # lookup (dict.fromkeys): that one is made again by value.
            return getattr(owner, getattr(obj, "__name__", ""), None) is obj
        return owner is None or type(owner) is type(sys)
    return False


def _is_c_type(t: type) -> bool:
    return not t.__flags__ & HEAPTYPE or bool(t.__flags__ & IMMUTABLETYPE)


def _is_weak_collection_callback(callback: object) -> bool:
    """The callbacks of the weak collections' references, and of those in
    an ABC's registry and caches (_abc.c's _destroy): part of a revivable
    object, not an end a program observes."""
    if type(callback).__name__ == "builtin_function_or_method":
        return getattr(callback, "__name__", None) == "_destroy"
    return getattr(callback, "__module__", None) in ("weakref", "_weakrefset")


def classify(obj: object, c_modules: set[str]) -> tuple[str, str, str]:
    """(class, type name, refusal reason or "")."""
    t = type(obj)
    name = type_name(t)
    name = STAND_INS.get(name, name)
    if name == "_thread._local" and not _local_state(obj):
        # `_tls = threading.local()` with nothing set yet: each thread's
        # state starts empty, a new one is the same object.
        return REVIVABLE, name, ""
    if name in RESOURCE_TYPES:
        if name.startswith("_io.") and getattr(obj, "closed", False) is True:
            return REFUSED, name, f"object of C type {name} (closed): no reviver"
        return REFUSED, name, f"{RESOURCE_TYPES[name]} ({name})"
    if t in PLAIN_TYPES:
        if t is type:
            return _classify_class(obj, c_modules)  # type: ignore[arg-type]
        return PLAIN, name, ""
    if name == "weakref.ReferenceType" or name == "weakref.KeyedRef":
        # A unit's objects live on the heap like any (snapshot units are
        # rebuilt, not mapped): a callback runs when the referent ends, as
        # in plain Python.
        if obj() is None:  # type: ignore[operator]
            return REFUSED, name, "a weak reference to an object that ended"
        return REVIVABLE, name, ""
    if name in BOUND_BUILTINS:
        return _classify_bound(obj, name)
    if name in REVIVERS:
        if name in ("_thread.lock", "_thread.RLock") and repr(obj).startswith("<locked"):
            return REFUSED, name, f"a held lock ({name})"
        return REVIVABLE, name, ""
    if is_a(obj, type):
        return _classify_class(obj, c_modules)
    if not is_python_class(t, c_modules):
        return REFUSED, name, f"object of C type {name}: no reviver"
    if name == "weakref.finalize":
        return REFUSED, name, "observable end: weakref.finalize"
    if "__del__" in _class_dicts(t):
        return REFUSED, name, f"observable end: {name} has __del__"
    base = layout_base(t, c_modules)
    if base in PLAIN_LAYOUTS:
        return PLAIN, name, ""
    base_name = type_name(base)
    if base_name in REVIVERS:
        return REVIVABLE, base_name, ""
    if base_name == "builtins.property":  # abc.abstractproperty (3.11's importlib)
        return REVIVABLE, base_name, ""
    if base_name == "_random.Random":
        if _uses_no_generator(t):
            return REVIVABLE, base_name, ""
        return REFUSED, name, (f"a random generator's state ({name}): a restored "
                               "process must draw its own")
    if base_name in RESOURCE_TYPES:
        return REFUSED, name, f"{RESOURCE_TYPES[base_name]} ({name})"
    return REFUSED, name, f"object of {name} with C base {base_name}: no reviver"


def _uses_no_generator(t: type) -> bool:
    """A random.SystemRandom (secrets' _sysrand): it draws from os.urandom,
    never from the generator state its C base holds, so a restored one
    made afresh is the same object."""
    system = sys.modules.get("random")
    system = getattr(system, "SystemRandom", None)
    return (isinstance(system, type) and issubclass(t, system)
            and all(getattr(t, m, None) is getattr(system, m)
                    for m in ("random", "getrandbits", "getstate", "setstate", "seed")))


def _local_state(local: object) -> object:
    """What a thread-local object holds for this thread (the only one a
    body can have filled; asking makes its empty dict, as any access)."""
    try:
        return getattr(local, "__dict__")  # _thread._local's own lookup
    except AttributeError:
        return True  # unknown: kept as state


def _classify_bound(method: object, name: str) -> tuple[str, str, str]:
    """Revivable when asking its object for it again gives an equal method
    (bound built-in methods compare by their object and function)."""
    try:
        owner = getattr(method, "__self__")
        again = getattr(owner, getattr(method, "__name__"))
        same = type(again) is type(method) and bool(again == method)
    except Exception:
        same = False
    if not same:
        return REFUSED, name, f"object of C type {name}: no reviver"
    return REVIVABLE, name, ""


def _class_dicts(t: type) -> set[str]:
    names: set[str] = set()
    for base in t.__mro__:
        if base is not object:
            names.update(base.__dict__)
    return names


def _classify_class(cls: type, c_modules: set[str]) -> tuple[str, str, str]:
    meta = type(cls)
    name = "builtins.type" if meta is type else type_name(meta)
    if not is_python_class(cls, c_modules):
        return REFUSED, name, f"class {type_name(cls)} made by C code: no reviver"
    if meta is not type and layout_base(meta, c_modules) is not type:
        return REFUSED, name, f"class with C metaclass {type_name(meta)}: no reviver"
    return PLAIN, name, ""


def own_dict_attribute(cls: type) -> bool:
    """Whether `obj.__dict__` of an instance of cls is the instance's own
    dict (what attribute lookups read): the descriptor type.__new__ gives a
    class, or one of a C type's (a module's), not a property or anything
    else a class of Python put there."""
    for klass in cls.__mro__:
        entry = vars(klass).get("__dict__")
        if entry is not None:
            return (not klass.__flags__ & HEAPTYPE
                    or type(entry) is type(type.__dict__["__dict__"]))
    return True

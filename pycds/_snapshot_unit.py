"""Write a module's snapshot unit, in the planning interpreter, right after
its body finished (pycds/_snapshot_child.py calls write_unit): the module's
namespace and every object its body created, as the stream of pickles that
pycds/_snapshot_restore.py reads (its docstring has the format), or the one
reason it cannot be written.

What existed before the body ran (start-up's objects, other modules') is
named by its path from sys.modules and a witness (_snapshot_restore.witness);
what the body created is written by value, each object once (the pickler's
memo keeps identity), built at restore by the restore module's vocabulary.
Every object of a C type without a reviver here refuses the unit.

Runs before the traced bodies: imports only start-up modules, and the C
pickler through _snapshot_restore's loader (which keeps functools out).
"""

from __future__ import annotations

import _io
import builtins
import gc
import marshal
import sys

from . import _cds
from . import _snapshot_objects as objects
from . import _snapshot_restore as R

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._snapshot_changes import Heap

ATOMS = set(R.ATOM_TYPES)
# Steps of a path that name the same object in another process.
STABLE_STEPS = {"module", "attr", "item", "index"}
# Class attributes given to _cds.unit_class (type.__new__ reads them or they
# are plain data); the rest is set by a fill (_cds.unit_fills).
CREATION_KEYS = {"__module__", "__qualname__", "__doc__", "__slots__",
                 "__annotations__", "__firstlineno__", "__static_attributes__"}
COLLECTION_FLAGS = (1 << 5) | (1 << 6)  # Py_TPFLAGS_SEQUENCE | MAPPING
# Plain functions that type.__new__ wraps (staticmethod, classmethod): one
# that is a plain function in the class was set after the class was made.
WRAPPED_BY_TYPE = {"__new__", "__init_subclass__", "__class_getitem__"}
# C types whose own __reduce__ rebuilds them from their parts, with no
# Python code of theirs and no deprecation warning.
NATIVE = {"collections.OrderedDict", "collections.defaultdict", "collections.deque",
          "functools.partial", "types.SimpleNamespace", "types.GenericAlias",
          "operator.attrgetter", "operator.itemgetter", "operator.methodcaller",
          "builtins.bytearray", "builtins.slice", "builtins.range", "builtins.object",
          "builtins.complex", "datetime.date", "datetime.datetime", "datetime.time",
          "datetime.timedelta", "datetime.timezone"}


class _ModuleName:
    """Stands, in a class's namespace as written, for the module's
    __name__ object (the unit names it as getattr(module, "__name__"))."""


MODULE_NAME = _ModuleName()

# The restore's vocabulary, which a unit names by module and name (the
# unpickler's find_class knows only these and builtins).
VOCABULARY = {id(f) for f in R.VOCABULARY}
STATIC_NAMES = {id(t): name for name, t in R.STATIC_TYPES.items()}
STATIC_CALLABLES = {"builtins.builtin_function_or_method", "builtins.method_descriptor",
                    "builtins.wrapper_descriptor", "builtins.classmethod_descriptor",
                    "builtins.getset_descriptor", "builtins.member_descriptor"}


class Refused(Exception):
    """The module cannot be a unit; the message says why."""


class _EarlyNamespace(Exception):
    """A function of the unit whose globals are a dict of the unit other
    than the module's namespace (exec's namespace: multiprocessing's proxy
    methods): that dict holds the function, so it is written before
    anything else (write_unit starts again with it)."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace


def _plain_namespace(namespace: dict[str, Any]) -> bool:
    """Whether writing an exec namespace first makes nothing but itself
    and its functions early (a class made early would upset the order of
    its bases' __subclasses__()): its values are constants, functions of
    its own whose parts are constants, and builtins."""
    def constant(value: Any) -> bool:
        t = type(value)
        return value is None or t in ATOMS or (
            t is tuple and all(map(constant, value)))
    for value in namespace.values():
        t = type(value)
        if constant(value) or t is R.ModuleType or objects.is_static(value) or (
                t is dict and (not value or value is vars(builtins))):
            continue  # (exec put builtins' namespace in as __builtins__)
        if t is not R.FunctionType or value.__globals__ is not namespace:
            return False
        if not all(constant(part) for part in (value.__defaults__, value.__closure__)) \
                or value.__kwdefaults__ or value.__dict__:
            return False
    return True


def _has_set_name(value: Any) -> bool:
    return any("__set_name__" in vars(t) for t in type(value).__mro__)


# Attributes that name what gc.get_referents lists of a wrapper, a
# function's closure and a cell (a decorator's wrapped function).
REFERENT_NAMES = ("__func__", "__wrapped__", "fget", "fset", "fdel", "__self__",
                  "__closure__", "cell_contents")
# Objects equal copies of which a program can tell from the originals only
# by identity, and only where a cache handed the same one to two bodies
# (README: typing's cache) or the compiler shared a constant tuple.
CACHED_VALUES = {"builtins.tuple", "re.Pattern", "typing._GenericAlias", "typing._UnionGenericAlias",
                 "typing._CallableGenericAlias", "typing._LiteralGenericAlias",
                 "typing._AnnotatedAlias", "typing._ConcatenateGenericAlias",
                 "types.GenericAlias", "types.UnionType"}


def _enum_alias(obj: Any) -> bool:
    """Whether obj is a member of an enum class that is none of its named
    members: a value its _missing_ made (a composite of flags: 88 for
    re.VERBOSE | re.MULTILINE | re.DOTALL), cached in _value2member_map_.
    Calling the class with the value gives the cached one or makes it, as
    the expression that made it in the body does, so a unit writes it as
    that call: not by a path through another module's cache, which a
    fresh process has not filled."""
    enum = sys.modules.get("enum")
    t = type(obj)
    if enum is None or type(t) is not getattr(enum, "EnumType", None):
        return False
    members = t.__dict__.get("_member_map_")
    cache = t.__dict__.get("_value2member_map_")
    attrs = getattr(obj, "__dict__", None)
    if type(members) is not dict or type(cache) is not dict or type(attrs) is not dict:
        return False
    value = attrs.get("_value_")
    try:
        cached = cache.get(value)
    except TypeError:  # an unhashable value: not in the cache
        return False
    return cached is obj and members.get(attrs.get("_name_")) is not obj


def stable_path(path: list[list[Any]], obj: Any) -> Any:
    """The heap's path to obj, with the steps that another process could
    not follow made into ones it can (a staticmethod's function, an int
    key); the kind of step that stays unfollowable, as text, otherwise."""
    out: list[tuple[Any, Any]] = []
    current: Any = None
    for kind, arg in path:
        if kind == "referent":
            try:
                child = gc.get_referents(current)[arg]
            except (IndexError, TypeError):
                return "referent"
            if child is R._attrs(current):
                kind, arg = "attr", "__dict__"
            else:
                for name in REFERENT_NAMES:
                    try:
                        named = getattr(current, name, None)
                    except ValueError:  # an empty cell
                        continue
                    if named is child:
                        kind, arg = "getattr", name
                        break
                else:
                    return "referent"
        elif kind == "item_repr":
            try:
                key = int(arg)
            except ValueError:
                return "item_repr"
            if repr(key) != arg:
                return "item_repr"
            kind, arg = "item", key
        elif kind not in STABLE_STEPS or (kind == "item" and type(arg) is not str):
            return kind
        out.append((kind, arg))
        try:
            current = R.resolve(((kind, arg),)) if kind == "module" else \
                R.resolve_step(current, kind, arg)
        except (KeyError, IndexError, AttributeError, TypeError):
            return kind
    return tuple(out) if current is obj else "a path that leads elsewhere"


def _module_attribute(obj: Any, context: Context) -> Any:
    """A module attribute that is obj, in a module other than the one being
    written and those still running: how a C type that an extension module
    made (and its Python twin re-exports) is named when the walk from
    sys.modules first met it inside C state."""
    for name, module in list(sys.modules.items()):
        if (name == context.name or name in context.running or name.startswith("pycds")
                or type(module) is not R.ModuleType):
            continue
        for key, value in list(R._attrs(module).items()):
            if value is obj and type(key) is str:
                return (("module", name), ("attr", key))
    return None


def code_tree(code: Any) -> dict[int, tuple[Any, tuple[int, ...]]]:
    """Every code object inside a module's code, by id: (it, the path of
    co_consts indexes that reaches it from the module's code object)."""
    tree: dict[int, tuple[Any, tuple[int, ...]]] = {id(code): (code, ())}
    stack = [(code, ())]
    while stack:
        current, path = stack.pop()
        for i, const in enumerate(current.co_consts):
            if type(const) is R.CodeType and id(const) not in tree:
                tree[id(const)] = (const, path + (i,))
                stack.append((const, path + (i,)))
    return tree


def code_strings(tree: dict[int, tuple[Any, Any]]) -> dict[int, tuple[Any, int]]:
    """Every str the code objects of a code_tree hold in co_names or
    co_consts, by id: (the code object, its slot: 2 * index, + 1 for
    co_consts).  A body's objects hold these very strings (a namespace's
    keys are its code's names, a class's __qualname__ and __all__'s items
    are constants); a unit names them there instead of writing copies."""
    found: dict[int, tuple[Any, int]] = {}
    for code, _ in tree.values():
        for kind, values in ((0, code.co_names), (1, code.co_consts)):
            for index, value in enumerate(values):
                if type(value) is str:
                    found.setdefault(id(value), (code, 2 * index + kind))
    return found


weakref_type = type(__import__("_weakref").ref(Refused))
TYPEVARS = {"typing.TypeVar", "typing.ParamSpec", "typing.TypeVarTuple"}
# Values an instance holds that are made from the instance once it is
# complete: by the callable that made them.
LATE = {"_json.Scanner"}


def _lazy_value(obj: Any) -> tuple[Any, Any]:
    """(evaluation function, None) of a PEP 695 object (TypeAliasType, a
    TypeVar's bound) whose value was never asked for; (None, value) once it
    was; (None, None) if it has neither.  Asking for the value here would
    run the body's code at the dump and change the object afterwards."""
    parts = gc.get_referents(obj)
    functions = [f for f in parts if type(f) is R.FunctionType]
    values = [v for v in parts if v is not type(obj) and type(v) is not R.FunctionType]
    if len(functions) == 1 and not values:
        return functions[0], None
    return None, (values[0] if len(values) == 1 else None)


def _typevar_reduce(tv: Any, t: type, type_name: str) -> Any:
    options: dict[str, Any] = {}
    constraints: tuple[Any, ...] = ()
    if type_name == "typing.TypeVar" and tv.__infer_variance__:
        evaluate, _ = _lazy_value(tv)
        if evaluate is not None:  # `def f[T: Bound]`, not asked for yet
            if type(evaluate()) is tuple:  # (evaluated apart: tv keeps nothing)
                raise Refused(f"typing.TypeVar {tv.__name__} with lazily "
                              "evaluated constraints: no reviver yet")
            options = {"covariant": tv.__covariant__, "contravariant": tv.__contravariant__,
                       "infer_variance": True, "evaluate_bound": evaluate}
            return (R.new_typevar, (t, tv.__name__, (), options, tv.__module__))
    if type_name != "typing.TypeVarTuple":
        if tv.__bound__ is not None:  # bound=None would become NoneType
            options["bound"] = tv.__bound__
        options["covariant"] = tv.__covariant__
        options["contravariant"] = tv.__contravariant__
        options["infer_variance"] = tv.__infer_variance__
    if type_name == "typing.TypeVar":
        constraints = tv.__constraints__
    has_default = getattr(tv, "has_default", None)
    if has_default is not None and has_default():
        raise Refused(f"{type_name} {tv.__name__} with a default: no reviver yet")
    # 3.12's C TypeVar keeps __module__ (set from the caller's frame) in a
    # slot, not a __dict__: made again, then given the body's.
    return (R.new_typevar, (t, tv.__name__, constraints, options, tv.__module__))


def _contextvar_reduce(var: Any, t: type) -> Any:
    """ContextVar(name[, default]); refused when the body set a value (it
    lives in the context, which a restore does not make)."""
    import _contextvars
    if var in _contextvars.copy_context():
        raise Refused(f"ContextVar {var.name}: the body set a value in its context")
    try:
        default = var.get()
    except LookupError:
        return (t, (var.name,))
    return (R.new_contextvar, (t, var.name, default))


def _count_args(counter: Any) -> tuple[Any, ...]:
    """itertools.count's position, from its repr (its __reduce__ is
    deprecated): count(start) or count(start, step), numbers only."""
    text = repr(counter)
    inner = text[text.index("(") + 1:-1]
    args = []
    for part in inner.split(", "):
        number = float(part) if "." in part or "e" in part else int(part)
        if repr(number) != part:
            raise Refused(f"itertools.count {text}: not a plain number")
        args.append(number)
    return tuple(args)


def _pattern_args(p: Any) -> tuple[Any, ...]:
    if not isinstance(p.pattern, (str, bytes)):
        # re.Scanner compiles its parsed parts, with no source to parse
        # again (markdown's attr_list).
        raise Refused("a re.Pattern with no source (re.Scanner's): no reviver")
    import re._compiler
    import re._parser
    code = re._compiler._code(re._parser.parse(p.pattern, p.flags), p.flags)
    groupindex = dict(p.groupindex)
    indexgroup: list[Any] = [None] * (p.groups + 1)
    for key, index in groupindex.items():
        indexgroup[index] = key
    args = (p.pattern, p.flags, code, p.groups, groupindex, tuple(indexgroup))
    if R.pattern(*args) != p:
        raise Refused(f"re.Pattern {p.pattern!r}: its program could not be "
                      "made again")
    return args


class Context:
    """What the writer of one module's unit knows."""

    def __init__(self, name: str, module: Any, heap: Heap, code: Any,
                 machinery: dict[str, Any], running: set[str],
                 c_modules: set[str], aliases: dict[int, Any],
                 clock_reads: list[tuple[str, Any]],
                 stand_ins: dict[int, tuple[tuple[str, str], ...]]) -> None:
        self.name = name
        self.module = module
        self.heap = heap
        tree = code_tree(code) if code is not None else {}
        self.code_paths = {key: path for key, (_, path) in tree.items()}
        self.code_strings = code_strings(tree)
        self.machinery = machinery
        self.running = running
        self.c_modules = c_modules
        self.aliases = aliases
        self.clock_reads = clock_reads
        self.stand_ins = stand_ins  # the planner's watchers: where the real ones are
        # Running modules whose namespace the unit names objects in: they
        # must run as code (their units would make those objects late).
        self.used_running: set[str] = set()
        self.module_strings: dict[int, Any] | None = None  # shared_string's
        self.operation_values: set[int] = set()  # what the body stored elsewhere
        self.read_values: list[tuple[str, str, Any]] = []  # the planner's reads, with what they held


def python_hash(key: Any) -> type | None:
    """The class whose Python __hash__ a set or dict calls for key (inside
    a tuple or frozenset too), or None: a restore rebuilds the table in
    this process, calling it again with whatever it reads and does (a
    counter it bumps).  Enum's (the hash of the member's name) and
    PURE_HASHES call nothing of the program's."""
    t = type(key)
    if t in ATOMS:
        return None
    hasher = getattr(t, "__hash__", None)
    if type(hasher) is R.FunctionType:
        enum = sys.modules.get("enum")
        pure = (enum is not None and hasher is vars(enum.Enum).get("__hash__")) or (
            getattr(hasher, "__module__", None),
            getattr(hasher, "__qualname__", None)) in PURE_HASHES
        if not pure:
            return t
    if isinstance(key, (tuple, frozenset)):  # (a namedtuple too) hashes its items
        for item in key:
            found = python_hash(item)
            if found is not None:
                return found
    return None


# Python __hash__ functions of the standard library that compute from the
# key alone and call nothing of the program's (importlib.metadata's
# case-folded names: hash(self.lower())).
PURE_HASHES = {("importlib.metadata._text", "FoldedCase.__hash__")}


def _check_keys(table: Any) -> None:
    for key in table:
        hashed_by = python_hash(key)
        if hashed_by is not None:
            raise Refused(f"a set or dict holds {objects.type_name(hashed_by)} keys, whose "
                          "__hash__ is Python code (a restore would call it again)")


def shared_string(text: str, context: Context) -> Any:
    """The path of another module's attribute that is this very str, or
    None: a sentinel (`argparse.SUPPRESS`, which argparse tests with `is`)
    that a body's object holds is named where it lives, not copied, so the
    restored object holds the module's own.  Interned strings (interned
    again at restore) and one-character ones (one object per process in
    any case) need no path; a str the body stored in another module is
    its own value."""
    if len(text) < 2 or _cds.is_interned(text) or id(text) in context.operation_values:
        return None
    if context.module_strings is None:
        found: dict[int, Any] = {}
        for name, module in list(sys.modules.items()):
            if (name == context.name or name in context.running or name.startswith("pycds")
                    or type(module) is not R.ModuleType):
                continue
            for key, value in list(R._attrs(module).items()):
                if type(value) is str and type(key) is str:
                    found.setdefault(id(value), (("module", name), ("attr", key)))
        context.module_strings = found
    return context.module_strings.get(id(text))


def _make_pickler_class() -> Any:
    pickle = R._load_pickle()

    class UnitPickler(pickle.Pickler):  # type: ignore[name-defined, misc]
        def setup(self, context: Context, fixed: dict[int, Any] | None) -> None:
            """fixed: None for the first pass, which finds what the unit
            names (externals, code); the second pass's memo then holds them
            (pycds/_snapshot_restore.py's memo layout)."""
            self.context = context
            self.reducing: set[int] = set()
            self.fills: list[tuple[str, Any, Any]] = []
            self.count = 0
            self.classes = 0  # of which made from images:
            self.images = 0
            self.fixed = fixed
            self.externals: dict[int, tuple[Any, Any, Any]] = {}  # id -> (obj, path, seen)
            self.codes: dict[int, tuple[Any, Any]] = {}  # id -> (code, path)
            self.strings: dict[int, tuple[Any, Any, int]] = {}  # id -> (str, code, slot)
            self.names: dict[int, str] = {}  # id -> an interned str not of code
            self.string_ids: dict[int, int] = {}  # id -> persistent id (second pass)
            # id -> (float or int, how often written): one written twice is
            # named like a string, so that it is one object again
            self.atoms: dict[int, tuple[Any, int]] = {}
            self.early: set[int] = set()  # exec namespaces written first
            self.in_names: set[int] = set()  # _names_in's

        def persistent_id(self, obj: Any) -> Any:
            t = type(obj)
            if self.fixed is not None:
                if t is str or _one_of_many(obj):
                    return self.string_ids.get(id(obj))
                if id(obj) in self.fixed or type(obj) in ATOMS:
                    return None
                found = self._reference(obj)
                if found is not None and found[0] not in ("code", "call"):
                    raise Refused(f"{objects.type_name(type(obj))} named only on "
                                  "a second look")  # never: both passes match
                return None
            if _one_of_many(obj):
                # (pickle writes these by value each time: a NaN a dict is
                # keyed by and a module names would be two objects)
                _, seen = self.atoms.get(id(obj), (obj, 0))
                self.atoms[id(obj)] = (obj, seen + 1)
                return None
            if type(obj) is str:
                if not self._code_string(obj) and id(obj) not in self.in_names:
                    path = shared_string(obj, self.context)
                    if path is not None:  # its witness: its value
                        self.externals.setdefault(id(obj), (obj, path, ("=", obj)))
                return None  # this pass's output is not kept
            found = self._reference(obj)
            if found is None and type(obj) in (dict, set, frozenset):
                _check_keys(obj)  # rebuilt at restore (reducer_override never sees them)
            if found == ("call",):
                return None  # written by reducer_override
            if found is not None:
                if found[0] == "ext":
                    self.externals.setdefault(id(obj), (obj, found[1], found[2]))
                elif found[0] == "code":
                    self.codes.setdefault(id(obj), (obj, found[1]))
                self._names_in(found)
            return found

        def _names_in(self, found: Any) -> None:
            """The strings of a persistent id this pass returns (which it
            pickles next): parts of a name, never objects of the unit."""
            if type(found) is str:
                self.in_names.add(id(found))
            elif type(found) in (tuple, list):
                for part in found:
                    self._names_in(part)

        def _code_string(self, text: str) -> bool:
            """A string the module's code holds: named by a persistent id
            (its index among them), its code object among the unit's.
            Another that this process interned (a name importlib or
            type.__new__ set, an attribute's): interned again at restore.
            Whether it is either."""
            if id(text) in self.strings or id(text) in self.names:
                return True
            found = self.context.code_strings.get(id(text))
            if found is not None:
                code, slot = found
                self.codes.setdefault(id(code), (code, self.context.code_paths[id(code)]))
                self.strings[id(text)] = (text, code, slot)
            elif _cds.is_interned(text):
                self.names[id(text)] = text
            else:
                return False
            return True

        def _made_by_call(self, obj: Any) -> bool:
            """An enum value written as the call that gives it (_enum_alias),
            when its class is not this unit's own (whose namespace is not
            filled yet when the unit's objects are made)."""
            return _enum_alias(obj) and \
                self.context.heap.owner.get(id(type(obj)), "") != self.context.name

        def _reference(self, obj: Any) -> Any:
            """How the unit names obj, or None to write it by value."""
            t = type(obj)
            if t in ATOMS:
                return None
            c = self.context
            if obj is c.module:
                return ("self",)
            if obj is c.module.__dict__:
                return ("dict",)
            if obj is R.KEEP:
                return ("keep",)
            if t is R.Fresh:
                return ("fresh",)  # in the memo after the code objects
            if id(obj) in VOCABULARY:
                return ("vocabulary",)
            if self._made_by_call(obj):
                return ("call",)
            if t is R.CodeType:
                path = c.code_paths.get(id(obj))
                return ("code", path) if path is not None else None
            stand_in = c.stand_ins.get(id(obj))
            if stand_in is not None:  # the planner's watcher: the real one
                return ("ext", stand_in, c.aliases.get(id(obj)))
            heap = c.heap
            known = id(obj) in heap.known
            owner = heap.owner.get(id(obj), "") if known else None
            static = objects.is_static(obj) or (
                isinstance(obj, type) and bool(obj.__flags__ & objects.IMMUTABLETYPE))
            if not static and (owner == c.name or owner is None):
                return None  # the body's own: written by value
            seen = c.aliases.get(id(obj)) or R.witness(obj)
            if owner in c.running and t is not R.ModuleType and not static:
                # Named in that module's namespace as its body had filled
                # it when it imported this one, which it does again when it
                # runs as code (the planner makes sure it does).
                path = stable_path(heap.path(obj), obj)
                if isinstance(path, str) or not path or path[0] != ("module", owner):
                    raise Refused(f"uses {heap.describe(obj)} of {owner}, which was "
                                  "still being imported")
                c.used_running.add(owner)
                return ("ext", path, seen)
            name = STATIC_NAMES.get(id(obj))
            if (name is None and isinstance(obj, type) and objects._is_c_type(obj)
                    and objects.type_name(obj) in R.LAZY_TYPES):  # 3.11's TypeVar is Python
                name = objects.type_name(obj)
            if name is not None:
                return ("ext", (("static", name),), seen)
            path = self._named_path(obj)
            if path is None and known:
                path = stable_path(heap.path(obj), obj)
                own = bool(path) and path[0] == ("module", c.name)
                if isinstance(path, str) or own:
                    # (own: a C object the body took into its namespace,
                    # which is not filled when the unit's objects are made)
                    found = _module_attribute(obj, c)
                    if found is not None:
                        path = found
                    elif objects.type_name(t) in CACHED_VALUES:
                        # An earlier body's pattern or alias that a cache
                        # gave this one too, a constant the compiler
                        # shared: made again by value (README).
                        return None
                    else:
                        raise Refused(f"refers to {heap.describe(obj)}, reached "
                                      "only through "
                                      f"{'its own namespace' if own else path}")
            if not path or path[0][0] != "module" or path[0][1].startswith("pycds"):
                raise Refused(f"refers to {objects.type_name(t)} that has no "
                              "name in sys.modules")
            return ("ext", path, seen)

        def _named_path(self, obj: Any) -> Any:
            """A class's or function's own name (module and qualified
            name), when it leads back to it: what pickle would name it by."""
            if not (isinstance(obj, type) or type(obj) is R.FunctionType
                    or objects.type_name(type(obj)) in STATIC_CALLABLES):
                return None
            path = self._static_path(obj)
            if not path or path[0][1] == self.context.name or \
                    path[0][1] in self.context.running:
                return None  # that namespace is not filled yet at restore
            path = tuple((step[0], step[1]) for step in path)
            try:
                found = R.resolve(path)
            except (KeyError, IndexError, AttributeError, TypeError):
                return None
            return path if found is obj else None

        def _static_path(self, obj: Any) -> list[list[Any]]:
            """A C type, its descriptor or a C module's function that the
            walk from sys.modules did not reach: by module and name."""
            if isinstance(obj, type):
                module, qualname = obj.__module__, obj.__qualname__
            else:
                owner = getattr(obj, "__objclass__", None) or getattr(obj, "__self__", None)
                if isinstance(owner, type):
                    if obj.__name__ == "__dict__":  # the attribute step means the dict
                        return [*self._static_path(owner), ["attr", "__dict__"],
                                ["item", "__dict__"]]
                    return [*self._static_path(owner), ["attr", obj.__name__]]
                if type(owner) is R.ModuleType:
                    # sys.modules' key: an extension module may call itself
                    # by its Python twin's name (_decimal is "decimal").
                    name = owner.__name__
                    if sys.modules.get(name) is not owner:
                        name = next((k for k, m in list(sys.modules.items())
                                     if m is owner), None)
                        if name is None:
                            return []
                    return [["module", name], ["attr", obj.__name__]]
                return []
            if module not in sys.modules or "<" in qualname:
                return []
            return [["module", module], *(["attr", part] for part in qualname.split("."))]

        def reducer_override(self, obj: Any) -> Any:
            key = id(obj)
            if key in VOCABULARY:
                return NotImplemented  # by name
            if key in self.reducing:
                raise Refused(f"{objects.type_name(type(obj))} refers back to "
                              "itself before it exists (a cycle through creation)")
            self.reducing.add(key)
            self.count += 1
            t = type(obj)
            if obj is MODULE_NAME:
                return (getattr, (self.context.module, "__name__"))
            if self._made_by_call(obj):
                return (t, (vars(obj)["_value_"],))
            if t is R.FunctionType:
                return self._function(obj)
            if isinstance(obj, type):
                return self._class(obj)
            if t is R.CellType:
                try:
                    contents = obj.cell_contents
                except ValueError:
                    return (R.CellType, ())
                self.fills.append(("cell", obj, contents))
                return (R.CellType, ())
            if t is R.CodeType:
                return (R.code_from, (marshal.dumps(obj),))
            if t is R.MethodType:
                return (R.bind, (obj.__func__, obj.__self__))
            if t is classmethod or t is staticmethod:
                # Its __dict__ as it is: classmethod(f) copies f's __name__,
                # __doc__... into it (3.10+), the ones type.__new__ makes
                # (__init_subclass__, __new__) have none.
                return (t, (obj.__func__,), dict(vars(obj)), None, None, R.set_attributes)
            if t is property:
                doc = obj.__doc__
                getter_doc = getattr(obj.fget, "__doc__", None) if obj.fget is not None else None
                after: dict[str, Any] = {}
                if obj.fget is not None and doc is getter_doc:
                    doc = None
                elif doc is None and getter_doc is not None:
                    # The getter's doc was set after the property was made:
                    # property() would take it now.
                    after["__doc__"] = None
                # 3.13: the name __set_name__ gave it (`x = property(_get)`
                # is "x"), which type.__new__ does not give a made class's.
                name = getattr(obj, "__name__", None)
                if name is not None and name != getattr(obj.fget, "__name__", None):
                    after["__name__"] = name
                if after:
                    return (property, (obj.fget, obj.fset, obj.fdel, doc),
                            after, None, None, R.set_attributes_by_setattr)
                return (property, (obj.fget, obj.fset, obj.fdel, doc))
            if t is R.ModuleType:
                raise Refused(f"made a module object ({obj.__name__})")
            if isinstance(obj, (dict, set, frozenset)):  # subclasses (the exact ones: persistent_id)
                _check_keys(obj)
            type_name = objects.type_name(t)
            if type_name in NATIVE:
                return NotImplemented  # their own C __reduce__
            if type_name == "types.UnionType":
                return (R.new_union, (obj.__args__,))
            if type_name == "_struct.Struct":
                return (t, (obj.format,))
            if type_name == "_contextvars.ContextVar":
                return _contextvar_reduce(obj, t)
            if type_name == "_thread._local":  # empty (objects.classify)
                return (t, ())
            if type_name == "itertools.count":
                return (R.new_count, _count_args(obj))
            if type_name in TYPEVARS and not objects.is_python_class(t, self.context.c_modules):
                return _typevar_reduce(obj, t, type_name)
            if type_name == "typing.TypeAliasType":
                # Its evaluation function (a referent; __value__ would run
                # it, and a plain process runs it only when asked).
                evaluate, value = _lazy_value(obj)
                if obj.__type_params__ or not obj.__name__.isidentifier() or (
                        evaluate is None and value is None):
                    raise Refused(f"typing.TypeAliasType {obj.__name__} with type "
                                  "parameters: no reviver yet")
                return (R.new_type_alias, (obj.__name__, obj.__module__, evaluate, value))
            if issubclass(t, weakref_type):
                referent = obj()
                if referent is None:
                    raise Refused("a weak reference to an object that ended")
                attrs, slots, _ = self._instance_state(obj, t)
                return (R.new_weakref, (t, referent, obj.__callback__),
                        (attrs, slots or None, None), None, None, _cds.unit_fill)
            kind, type_name, reason = objects.classify(obj, self.context.c_modules)
            if kind == objects.REFUSED:
                raise Refused(reason)
            if type_name in objects.BOUND_BUILTINS:
                return (getattr, (obj.__self__, obj.__name__))
            if type_name in ("builtins.member_descriptor", "builtins.getset_descriptor"):
                owner = obj.__objclass__
                if owner.__dict__.get(obj.__name__) is not obj:
                    raise Refused(f"a descriptor {obj.__name__} away from its class")
                return (R.class_attribute, (owner, obj.__name__))
            if type_name == "re.Pattern":
                return (R.pattern, _pattern_args(obj))
            if type_name == "_thread.lock":
                return (R.new_lock, ())
            if type_name == "_thread.RLock":
                return (R.new_rlock, ())
            if type_name == "functools._lru_cache_wrapper":
                import functools
                params = obj.cache_parameters()
                attrs = {k: v for k, v in vars(obj).items()}
                return (R.lru_cache, (obj.__wrapped__, params["maxsize"],
                                      params["typed"], functools._CacheInfo),
                        attrs, None, None, R.set_attributes)
            if type_name == "builtins.mappingproxy":
                import gc
                return (R.mappingproxy, tuple(gc.get_referents(obj)))
            if type_name in ("_collections._tuplegetter", "collections._tuplegetter"):
                return obj.__reduce__()
            if type_name in NATIVE:
                if objects.type_name(t) != type_name:
                    # Their __reduce__ names the subclass: the unpickler
                    # would call it, running its __new__ and __init__ again
                    # (and date's and defaultdict's leave out __dict__).
                    raise Refused(f"an instance of {objects.type_name(t)}, a subclass "
                                  f"of {type_name}: remade by calling its class")
                return NotImplemented  # their own C __reduce__
            if kind == objects.REVIVABLE and not objects.is_python_class(
                    t, self.context.c_modules):
                raise Refused(f"object of C type {type_name}: no reviver yet")
            return self._instance(obj, t)

        def _function(self, f: Any) -> Any:
            type_params = getattr(f, "__type_params__", None) if R.HAS_TYPE_PARAMS else None
            namespace = f.__globals__
            c = self.context
            if (namespace is not c.module.__dict__ and id(namespace) not in self.early
                    and c.heap.owner.get(id(namespace), c.name) == c.name):
                raise _EarlyNamespace(namespace)
            code = f.__code__
            made = R.FunctionType(code, f.__globals__, None, None, f.__closure__)
            same = ...  # unit_function: keep what PyFunction_New derived
            return (_cds.unit_function, (
                code, f.__globals__,
                same if f.__name__ == made.__name__ else f.__name__,
                None if f.__qualname__ == made.__qualname__ else f.__qualname__,
                f.__closure__, f.__defaults__, f.__kwdefaults__,
                f.__annotations__ or None,
                same if f.__doc__ is made.__doc__ else f.__doc__,
                same if f.__module__ == made.__module__ else f.__module__,
                dict(f.__dict__) or None, type_params or None))

        def _class(self, cls: type) -> Any:
            c = self.context
            if not objects.is_python_class(cls, c.c_modules):
                raise Refused(f"class {objects.type_name(cls)} made by C code")
            meta = type(cls)
            if meta is not type:
                for base in meta.__mro__:
                    if base is type:
                        break
                    if "mro" in vars(base):
                        raise Refused(f"metaclass {objects.type_name(meta)} "
                                      "has its own mro()")
            namespace: dict[str, Any] = {"__qualname__": cls.__qualname__}
            later: list[tuple[str, Any]] = []
            order = list(cls.__dict__)
            abc = None
            abstract = None
            impl = cls.__dict__.get("_abc_impl")
            if impl is not None and objects.type_name(type(impl)) == "_abc._abc_data":
                import _abc
                registry = _abc._get_dump(cls)[0]
                abc = [r() for r in registry if r() is not None]
            for key, value in cls.__dict__.items():
                vt = type(value)
                if key in ("_abc_impl",) and abc is not None:
                    continue
                if key == "__abstractmethods__":
                    abstract = value if abc is None else None
                    continue
                if (objects.type_name(vt) in ("builtins.getset_descriptor",
                                              "builtins.member_descriptor")
                        and getattr(value, "__objclass__", None) is cls):
                    continue  # made by type.__new__ (__dict__, __slots__)
                if key in CREATION_KEYS and vt in (str, type(None), tuple, dict, list):
                    namespace[key] = value  # __slots__ may be any of these
                elif vt in (R.FunctionType, classmethod, staticmethod, property) \
                        and not _has_set_name(value) and not (
                            vt is R.FunctionType and key in WRAPPED_BY_TYPE):
                    namespace[key] = value
                else:
                    later.append((key, value))
            flags = cls.__flags__ & COLLECTION_FLAGS
            inherited = 0
            for base in cls.__bases__:
                inherited |= base.__flags__ & COLLECTION_FLAGS
            self.fills.append(("class", cls, (order, later, abc, abstract,
                                              flags if flags != inherited else 0)))
            # Made from an image of its words where the planning process
            # could make it so and got the same class (class_image.h): no
            # type.__new__, whose slot lookups are most of a class's cost.
            image = _cds.class_image(cls, namespace)
            self.classes += 1
            if namespace.get("__module__") is getattr(c.module, "__name__", None):
                # The module's __name__ object itself, as the class
                # statement took it (pickles of the class memoize it with
                # its functions' __module__), not an equal string.
                namespace = {**namespace, "__module__": MODULE_NAME}
            if type(image) is str:  # why not
                return (_cds.unit_class, (meta, cls.__name__, cls.__bases__, namespace))
            self.images += 1
            return (_cds.unit_class, (meta, cls.__name__, cls.__bases__, namespace, image))

        def _instance(self, obj: Any, t: type) -> Any:
            base = objects.layout_base(t, self.context.c_modules)
            items: Any = None
            if base is object:
                creation: Any = (_cds.unit_object, (t,))
            elif base in (int, float, str, bytes, complex, tuple):
                value = {int: int.__int__, float: float.__float__, str: str.__str__,
                         bytes: lambda b: b"" + b, complex: complex.__complex__,
                         tuple: lambda x: tuple.__getitem__(x, slice(None))}[base](obj)
                creation = (R.new_value, (t, base, value))
            elif base is property:
                # Its C fields as property.__init__ sets them when the doc
                # comes from the getter (a decorator: the subclass keeps it
                # in the instance's __dict__, and the fields remember it).
                fget = property.fget.__get__(obj)
                attrs_now = vars(obj)
                if "__doc__" not in attrs_now or \
                        attrs_now["__doc__"] is not getattr(fget, "__doc__", None):
                    raise Refused(f"object of {objects.type_name(t)} with C base "
                                  "builtins.property and its own doc: no reviver yet")
                name = getattr(obj, "__name__", None)  # 3.13 (see property above)
                creation = (R.new_property_like, (
                    t, fget, property.fset.__get__(obj), property.fdel.__get__(obj),
                    name if name != getattr(fget, "__name__", None) else None))
            elif (base in (dict, list, set, R.ModuleType)
                  or objects.type_name(base) == "_random.Random"):
                # (a SystemRandom, objects.classify: made afresh, seeded
                # by its C base as a new process seeds one, never used)
                creation = (R.new_container, (t, base))
                if base in (dict, list, set):
                    items = (dict(dict.items(obj)) if base is dict
                             else list(base.__iter__(obj)))
            else:
                raise Refused(f"object of {objects.type_name(t)} with C base "
                              f"{objects.type_name(base)}: no reviver yet")
            attrs, slots, _ = self._instance_state(obj, t)
            return (*creation, (attrs, slots or None, items), None, None, _cds.unit_fill)

        def _instance_state(self, obj: Any, t: type) -> tuple[Any, ...]:
            """(its __dict__'s items, its slots' values, None)."""
            if not objects.own_dict_attribute(t):
                # (a property: what it answers is not where the instance's
                # attributes are)
                raise Refused(f"an instance of {objects.type_name(t)}, whose class "
                              "has a __dict__ of its own")
            try:
                attrs = object.__getattribute__(obj, "__dict__")
            except AttributeError:
                attrs = None
            slots = []
            for klass in t.__mro__:
                declared = vars(klass).get("__slots__")
                if declared is None:
                    continue
                for name in (declared,) if isinstance(declared, str) else tuple(declared):
                    if name in ("__dict__", "__weakref__"):
                        continue
                    if name.startswith("__") and not name.endswith("__"):
                        name = f"_{klass.__name__.lstrip('_')}{name}"  # mangled
                    descriptor = vars(klass).get(name)
                    if descriptor is None or objects.type_name(type(descriptor)) \
                            != "builtins.member_descriptor":
                        continue
                    try:
                        slots.append((klass, name, descriptor.__get__(obj, t)))
                    except AttributeError:
                        pass  # never set
            attrs = dict(attrs) if attrs else None
            if attrs:
                for key, value in list(attrs.items()):
                    if objects.type_name(type(value)) in LATE:
                        order = list(attrs)
                        del attrs[key]
                        self.fills.append(("late", obj, (key, type(value), order)))
            return (attrs, slots, None)

    return UnitPickler


def creation_order(context: Context) -> list[type]:
    """The body's classes (those its namespace and their classes name), in
    an order a restore can make them in that keeps every base's
    __subclasses__() order: each class after its bases, and the subclasses
    of each base in the order that base lists them."""
    heap, name = context.heap, context.name
    found: list[type] = []
    seen: set[int] = set()
    # The namespace's classes, and those in its containers (ast keeps Num,
    # Str... only in a dict its module __getattr__ reads).
    stack = []
    for value in vars(context.module).values():
        if type(value) is dict:
            stack += [v for v in value.values() if objects.is_a(v, type)]
        elif type(value) in (list, tuple, set, frozenset):
            stack += [v for v in value if objects.is_a(v, type)]
        elif objects.is_a(value, type):
            stack.append(value)
    while stack:
        cls = stack.pop(0)
        if id(cls) in seen or heap.owner.get(id(cls)) != name:
            continue
        seen.add(id(cls))
        found.append(cls)
        stack += [v for v in vars(cls).values() if isinstance(v, type)]
        stack += list(cls.__bases__)
    after: dict[int, set[int]] = {id(c): set() for c in found}  # must come after
    for cls in found:
        for base in cls.__bases__:
            if id(base) in after:
                after[id(cls)].add(id(base))
        siblings = [s for s in type.__subclasses__(cls) if id(s) in after]
        for earlier, later in zip(siblings, siblings[1:]):
            after[id(later)].add(id(earlier))
    bases = {id(b) for c in found for b in c.__bases__}
    for base_id in bases - set(after):
        base = next(b for c in found for b in c.__bases__ if id(b) == base_id)
        siblings = [s for s in type.__subclasses__(base) if id(s) in after]
        for earlier, later in zip(siblings, siblings[1:]):
            after[id(later)].add(id(earlier))
    ordered: list[type] = []
    placed: set[int] = set()
    pending = list(found)
    while pending:
        progress = False
        for cls in list(pending):
            if after[id(cls)] <= placed:
                ordered.append(cls)
                placed.add(id(cls))
                pending.remove(cls)
                progress = True
        if not progress:  # never in a real hierarchy; keep what is left
            ordered += pending
            break
    return ordered


_Pickler: Any = None


def prepare() -> None:
    """Load the pickler before the bodies run (what it imports is hidden
    from them, and this module's state is set before the planner looks)."""
    global _Pickler
    _Pickler = _make_pickler_class()


def write_unit(context: Context, header: dict[str, Any],
               operations: list[tuple[Any, ...]]) -> bytes:
    """The unit's bytes; Refused when the module cannot be one."""
    if _Pickler is None:
        prepare()
    module = context.module
    if type(module) is not R.ModuleType:
        raise Refused(f"its module object is a {objects.type_name(type(module))}")
    items = []
    fresh = {id(value): clock for clock, value in context.clock_reads}
    for key, value in module.__dict__.items():
        if key in context.machinery and context.machinery[key] is value:
            value = R.KEEP
        elif id(value) in fresh:
            value = R.Fresh(fresh.pop(id(value)))
        items.append((key, value))
    for clock, value in context.clock_reads:
        if id(value) in fresh:
            raise Refused(f"read {clock}() for more than a value it keeps")
    classes = creation_order(context)

    # What restore checks of the operations before it makes anything: the
    # targets existed before the body (memo references), so do the keys
    # of deletions, and what a changed key held before (check_before);
    # values may be the body's objects and are left out.
    checks = [(op[0], op[1], op[2] if op[0] in R.KEYED_CHECKS or len(op) > 4 else None,
               op[4] if len(op) > 4 else None) for op in operations]
    context.operation_values = {id(op[3]) for op in operations if len(op) > 3}
    replayed = [op[:4] for op in operations]

    early: list[dict[str, Any]] = []  # exec namespaces, written first

    def dump_all(pickler: Any) -> None:
        pickler.early = {id(namespace) for namespace in early}
        pickler.dump(checks)
        pickler.dump((early, classes))  # (restore makes both, keeps neither)
        pickler.dump(items)
        pickler.dump(replayed)
        while pickler.fills:
            batch, pickler.fills = pickler.fills, []
            pickler.dump(batch)
        pickler.dump(None)
        pickler.dump(pickler.count)

    stream = _io.BytesIO()
    try:
        while True:
            finder = _Pickler(_io.BytesIO(), protocol=5)
            finder.setup(context, None)
            try:
                dump_all(finder)
                break
            except _EarlyNamespace as found:
                if any(n is found.namespace for n in early) or \
                        not _plain_namespace(found.namespace):
                    raise Refused("a function whose globals are a namespace of the "
                                  "body's holding more than functions and constants "
                                  "(a cycle through creation)") from None
                early.append(found.namespace)
        externals = list(finder.externals.values())
        codes = list(finder.codes.values())
        fresh = [value for _, value in items if type(value) is R.Fresh]
        strings = list(finder.strings.values())
        fixed = [context.module, vars(context.module), R.KEEP, *R.VOCABULARY,
                 *(e[0] for e in externals), *(c[0] for c in codes), *fresh]
        header = dict(header)
        header[R.H_EXTERNALS] = [(path, seen) for _, path, seen in externals]
        header[R.H_SAME] = _same_as_read(context.read_values, externals, len(fixed) - len(
            externals) - len(codes) - len(fresh))
        header[R.H_CODES] = [path for _, path in codes]
        header[R.H_FRESH] = [value.clock for value in fresh]
        position = {id(code): at for at, (code, _) in enumerate(codes)}
        shared = [obj for obj, seen in finder.atoms.values() if seen > 1]
        header[R.H_NAMES] = [*finder.names.values(), *shared]
        header[R.H_STRINGS] = b"".join(
            number.to_bytes(4, "little") for _, code, slot in strings
            for number in (position[id(code)], slot))
        kinds: dict[str, int] = {}
        for op in operations:
            kinds[op[0]] = kinds.get(op[0], 0) + 1
        header[R.H_SUMMARY] = {"objects": finder.count, "operations": kinds,
                               "classes": finder.classes, "images": finder.images}
        process = R._load_pickle().dumps(header.pop(R.H_PROCESS), protocol=5)
        # Plain data, each equal string or tuple once (the pickler writes
        # an object it has seen as a memo reference: a witness's type name,
        # a module's name, a path's steps are written once per header).
        head = R._load_pickle().dumps(_shared(header, {}), protocol=5)
        stream.write(R.memo_preamble(len(fixed)))
        pickler = _Pickler(stream, protocol=5)
        pickler.setup(context, {id(obj): obj for obj in fixed})
        named = [*(text for text, _, _ in strings), *finder.names.values(), *shared]
        pickler.string_ids = {id(text): at for at, text in enumerate(named)}
        pickler.memo = {id(obj): (index, obj) for index, obj in enumerate(fixed)}
        dump_all(pickler)
    except Refused:
        raise
    except RecursionError:
        raise Refused("objects nested too deeply to write") from None
    except Exception as error:
        raise Refused(f"could not be written: {type(error).__name__}: {error}") from None
    return R.join_unit(process, head, stream.getvalue())


def _one_of_many(obj: Any) -> bool:
    """A float, or an int CPython does not keep one object of (-5 to 256
    are the same anyway): two equal ones may be two objects."""
    t = type(obj)
    return t is float or (t is int and not -5 <= obj <= 256)


def _same_as_read(read_values: list[tuple[str, str, Any]],
                  externals: list[tuple[Any, Any, Any]], first: int) -> list[tuple[str, str, int]]:
    """(module, read name, memo index) of each read whose object the unit
    keeps under another path: what `dep.ALIAS` held, named as dep.X;
    pygments' Text.Whitespace as pygments.token.Whitespace.  Equal
    digests do not say the same object, and a program that put an equal
    one at the read's place first would see the body keep that one."""
    at = {id(obj): index for index, (obj, _, _) in enumerate(externals)}
    same = []
    for source, name, value in read_values:
        index = at.get(id(value))
        if index is None or (isinstance(value, type)
                             and not value.__flags__ & objects.HEAPTYPE):
            continue  # (a static type's digest is its name: one per process)
        path = tuple(tuple(step) for step in externals[index][1])
        if path != (("module", source), *(("attr", part) for part in name.split("."))):
            same.append((source, name, first + index))
    return same


def _shared(value: Any, seen: dict[Any, Any]) -> Any:
    """value with each equal str, and each equal tuple of those and None,
    made one object (`seen`: those met so far; equal values of other types
    may differ in type, 1 and True, and are left alone), lists, tuples and
    dicts rebuilt around them."""
    t = type(value)
    if t is str:
        return seen.setdefault(value, value)
    if t is tuple:
        value = tuple(_shared(item, seen) for item in value)
        if all(item is None or type(item) is str or seen.get(item) is item
               for item in value):
            return seen.setdefault(value, value)
        return value
    if t is list:
        return [_shared(item, seen) for item in value]
    if t is dict:
        return {_shared(k, seen): _shared(v, seen) for k, v in value.items()}
    return value


# The opcodes that push a persistent id (an int) before BINPERSID.
PID_PUSHES = ("BININT1", "BININT2", "BININT")


def lean_unit(unit: bytes) -> bytes:
    """unit with only the memo entries its pickles read again (written by
    the dumping process, which may import what it needs; the planning
    interpreter writes units whole)."""
    data, process, head, end = R.split_unit(unit)
    return R.join_unit(process, head, _lean_stream(data[end:]))


def _lean_stream(stream: bytes) -> bytes:
    """A unit's pickles (the memo preamble first) with only the memo
    entries they read again: the pickler memoizes every object it writes,
    and each entry costs the restore a memo slot and a reference until the
    unit is made; one frame per pickle.  The preamble is kept whole (its
    entries are the fixed memo's indexes).  A persistent id named more than
    once (a string of code, _code_string) is loaded once and memoized, then
    read from the memo (the pickler writes the id again each time)."""
    import io
    import pickletools  # the dumping process's, never the planner's
    source = io.BytesIO(stream)
    pickles: list[list[tuple[Any, Any, int, int]]] = []
    while source.tell() < len(stream):
        ops = []
        for opcode, arg, pos in pickletools.genops(source):
            ops.append((opcode.name, arg, pos))
        ends = [pos for _, _, pos in ops[1:]] + [ops[-1][2] + 1]
        pickles.append([(name, arg, pos, end) for (name, arg, pos), end in zip(ops, ends)])
    if any(name in ("PUT", "BINPUT", "LONG_BINPUT") for ops in pickles for name, *_ in ops):
        return stream  # explicit memo indexes: not this writer's
    read = {arg for ops in pickles for name, arg, *_ in ops
            if name in ("GET", "BINGET", "LONG_BINGET")}
    named: dict[int, int] = {}  # persistent id -> times named (preamble aside)
    for ops in pickles[1:]:
        for (name, arg, _, _), (after, _, _, _) in zip(ops, ops[1:]):
            if name in PID_PUSHES and after == "BINPERSID":
                named[arg] = named.get(arg, 0) + 1

    def get(new: int) -> bytes:
        return b"h" + bytes((new,)) if new < 256 else b"j" + new.to_bytes(4, "little")

    renumbered: dict[int, int] = {}
    memoized: dict[int, int] = {}  # persistent id -> its memo index
    entries = 0
    index = 0
    out = []
    for number, ops in enumerate(pickles):
        body = []
        pushed = None  # the persistent id just pushed
        for name, arg, pos, end in ops:
            if name == "PROTO" or name == "FRAME":
                continue
            if name == "MEMOIZE":
                old, index = index, index + 1
                if number and old not in read:
                    continue
                renumbered[old] = entries
                entries += 1
                body.append(b"\x94")
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                body.append(get(renumbered[arg]))
            elif name == "BINPERSID" and number and pushed in memoized:
                body[-1] = get(memoized[pushed])
            elif name == "BINPERSID" and number and named.get(pushed, 0) > 1:
                memoized[pushed] = entries
                entries += 1
                body.append(b"Q\x94")
            else:
                body.append(stream[pos:end])
            pushed = arg if name in PID_PUSHES else None
        framed = b"".join(body)
        out.append(b"\x80\x05\x95" + len(framed).to_bytes(8, "little") + framed)
    return b"".join(out)


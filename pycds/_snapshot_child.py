"""The planning interpreter: `python -m pycds plan` starts a fresh
interpreter of the same build and flags (pycds/_snapshot_plan.py), which
runs main() here: it imports the traced modules one at a time, in the list's
order, and records for each module body what it read, what it created and
what it changed (pycds/_snapshot_inputs.py, _snapshot_objects.py,
_snapshot_changes.py), then writes a RunRecord (pycds/_snapshot_schema.py)
as JSON.

A body that imports another module is cut in stretches around that import:
each stretch is compared and walked on its own, so that what the inner
module did is its own.  Until the bodies have run, this module and those it
uses import only start-up and built-in modules: anything imported earlier
would not run its body in the plan.

The request (what to import, on what sys.path) is a file of NUL-separated
fields written by write_request and read by read_request, both here.
"""

from __future__ import annotations

import _contextvars
import _locale
import _signal
import _thread
import atexit
import builtins
import gc
import os
import stat
import sys
import time
from _frozen_importlib import BuiltinImporter, FrozenImporter
from _frozen_importlib_external import (ExtensionFileLoader, SourceFileLoader,
                                        SourcelessFileLoader)

from . import _cds
from . import _snapshot_changes as changes
from . import _snapshot_inputs as inputs
from . import _snapshot_objects as objects
from . import _snapshot_restore as restore
from . import _snapshot_unit as unit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from ._snapshot_schema import Binding, ModuleRecord, ProcessInputs, RunRecord

REQUEST_HEADER = "pycds-plan-request 6"
MARKER = "__pycds_snapshot__"  # module-level opt-out: `__pycds_snapshot__ = False`


def load_opcodes() -> str:
    """The instructions that load an attribute named in co_names (its
    shift), a global (GLOBAL_LOAD + shift), or that absent_pairs follows
    (the marks below), as "OPCODE:BITS,...": the argument shifted right is
    the name's index (3.12 keeps LOAD_ATTR's method bit in bit 0,
    LOAD_GLOBAL its NULL bit).  Computed by the dump with opcode, which
    the planner must not import."""
    import opcode
    shift = 1 if sys.version_info >= (3, 12) else 0
    table = {"LOAD_ATTR": shift, "LOAD_METHOD": 0, "IMPORT_FROM": IMPORT_FROM,
             "EXTENDED_ARG": EXTENDED, "LOAD_NAME": GLOBAL_LOAD,
             "LOAD_GLOBAL": GLOBAL_LOAD + 1, "LOAD_FROM_DICT_OR_GLOBALS": GLOBAL_LOAD,
             "LOAD_CONST": CONST, "IMPORT_NAME": IMPORT_NAME, "CACHE": SKIP,
             "PUSH_NULL": SKIP}
    return ",".join(f"{opcode.opmap[name]}:{bits}" for name, bits in table.items()
                    if name in opcode.opmap and opcode.opmap[name] < 256)


def write_request(path: str, names: list[str], started_on: list[list[str]],
                  units: str = "") -> None:
    """The modules to import in order, with the sys.path each import
    started on in the traced run (the planner puts it in place where
    sys.path differs, as the program did between its imports); units: a directory
    to write each unit into (NAME.unit), or "".  Fields: header, units,
    opcodes, then per module its name, its path's length, its entries."""
    fields = [REQUEST_HEADER, units, load_opcodes()]
    for name, entries in zip(names, started_on, strict=True):
        fields += [name, str(len(entries)), *entries]
    with open(path, "wb") as f:
        f.write(b"\0".join(os.fsencode(field) for field in fields))


def read_request(path: str) -> tuple[list[tuple[str, list[str]]], str, dict[int, int]]:
    """([(module name, sys.path its import started on)], units directory,
    load opcodes)."""
    with open(path, "rb") as f:
        fields = [os.fsdecode(field) for field in f.read().split(b"\0")]
    if len(fields) < 3 or fields[0] != REQUEST_HEADER:
        raise ValueError(f"{path}: not a plan request")
    opcodes = dict((int(op), int(bits)) for op, _, bits in
                   (pair.partition(":") for pair in fields[2].split(",") if pair))
    modules, at = [], 3
    while at < len(fields):
        count = int(fields[at + 1]) if at + 1 < len(fields) else -1
        if count < 0 or at + 2 + count > len(fields):
            raise ValueError(f"{path}: a damaged plan request")
        modules.append((fields[at], fields[at + 2:at + 2 + count]))
        at += 2 + count
    return modules, fields[1], opcodes


def _instructions(code: Any, opcodes: dict[int, int]) -> Any:
    """(mark, argument) of each instruction of code, EXTENDED_ARG folded
    into the next one's argument; the mark is load_opcodes' (below), None
    for instructions it does not name."""
    raw = code.co_code
    extended = 0
    for i in range(0, len(raw), 2):
        bits = opcodes.get(raw[i])
        arg = raw[i + 1] | extended
        extended = 0
        if bits == EXTENDED:
            extended = arg << 8
        else:
            yield bits, arg


def loaded_names(code: Any, opcodes: dict[int, int],
                 as_globals: bool = False) -> set[str]:
    """The names code loads as attributes (`m.x`, `from m import x`): what
    it may read of another module, as against its own globals; or, with
    as_globals, the names it loads as globals (or builtins)."""
    names = code.co_names
    found = set()
    for bits, arg in _instructions(code, opcodes):
        if bits is not None and 0 <= bits <= IMPORT_FROM and (
                GLOBAL_LOAD <= bits < IMPORT_FROM) == as_globals:
            index = arg >> (bits % GLOBAL_LOAD)
            if index < len(names):
                found.add(names[index])
    return found


# load_opcodes' marks: 0-15 an attribute load and its shift, 16-31 a
# global load (GLOBAL_LOAD plus its shift), IMPORT_FROM an attribute load
# of the module being imported; the negative ones only absent_pairs reads.
GLOBAL_LOAD = 16
IMPORT_FROM = 32
EXTENDED = -1  # EXTENDED_ARG
CONST = -2  # LOAD_CONST
IMPORT_NAME = -3
SKIP = -4  # CACHE and PUSH_NULL: not in the way of the pairs looked for
STREAMS = frozenset(("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__"))


def _decoded(bits: int | None, arg: int, code: Any) -> tuple[str, Any]:
    """An instruction as absent_pairs follows it: ("attr", name), ("from",
    name), ("global", name), ("const", value), ("import", name) or
    ("other", None)."""
    names = code.co_names
    if bits == CONST:
        return "const", code.co_consts[arg] if arg < len(code.co_consts) else None
    if bits == IMPORT_NAME:
        return "import", names[arg] if arg < len(names) else None
    if bits is None or bits < 0:
        return "other", None
    index = arg >> (bits % GLOBAL_LOAD)
    name = names[index] if index < len(names) else None
    if bits == IMPORT_FROM:
        return "from", name
    return ("global" if bits >= GLOBAL_LOAD else "attr"), name


def absent_pairs(code: Any, opcodes: dict[int, int]) -> set[tuple[str, str, str]]:
    """Where code may ask another module for an attribute, statically:
    ("global", X, y) for `X.y` (a global's attribute) and `hasattr(X, "y")`
    or `getattr(X, "y", ...)`; ("import", M, y) for `from M import y`, M
    as written with its level's dots in front; ("modules", X, m) for `"m"
    in X.modules` and `X.modules.get("m")` (X: sys; not a subscript, which
    a store shares); ("stream", X, "s.a") for `X.s.a`, s one of STREAMS;
    ("namespace", X, how) for `dir(X)`, `vars(X)` and `X.__dict__`
    (which names X has, besides what they hold).  The planner keeps the attributes the module
    X or M lacked, what sys.modules held of the names asked, and refuses a
    body that read another module's __dict__."""
    found: set[tuple[str, str, str]] = set()
    none = ("other", None)
    before = [none, none, none]  # the last three instructions followed, the latest last
    importing = ""  # the module an import statement is importing from
    for bits, arg in _instructions(code, opcodes):
        if bits == SKIP:
            continue
        kind, value = _decoded(bits, arg, code)
        third, second, last = before
        if kind == "import":
            level = second[1] if second[0] == "const" else None
            importing = ("." * level + value if type(level) is int and type(value) is str
                         else "")
        if (second in (("global", "dir"), ("global", "vars")) and last[0] == "global"
                and type(last[1]) is str and kind != "attr"):
            found.add(("namespace", last[1], f"{second[1]}({last[1]})"))  # dir(X)
        if kind == "import" or type(value) is not str:
            pass
        elif kind == "attr" and value == "__dict__" and last[0] == "global":
            found.add(("namespace", last[1], f"{last[1]}.__dict__"))  # X.__dict__
        elif kind == "from":
            if importing:
                found.add(("import", importing, value))
        elif kind == "attr" and last[0] == "global":
            found.add(("global", last[1], value))  # X.y
            if value == "modules" and second[0] == "const" and type(second[1]) is str:
                found.add(("modules", last[1], second[1]))  # "m" in X.modules
        elif kind == "attr" and last[0] == "attr" and last[1] in STREAMS \
                and second[0] == "global":
            found.add(("stream", second[1], f"{last[1]}.{value}"))  # X.stdout.y
        elif kind == "const" and last[0] == "global" and second in (
                ("global", "hasattr"), ("global", "getattr")):
            found.add(("global", last[1], value))  # hasattr(X, "y")
        elif kind == "const" and last[0] == "attr" and last[1] in STREAMS \
                and second[0] == "global" and third == ("global", "getattr"):
            found.add(("stream", second[1], f"{last[1]}.{value}"))  # getattr(X.stdout, "y")
        elif kind == "const" and last == ("attr", "get") and second == ("attr", "modules") \
                and third[0] == "global":
            found.add(("modules", third[1], value))  # X.modules.get("m")
        before = [second, last, (kind, value)]
    return found


def new_record(name: str, kind: str) -> ModuleRecord:
    return {"name": name, "kind": kind, "error": "",  # type: ignore[typeddict-item]
            "inputs": inputs.new_inputs(), "operations": [], "bindings": [],
            "objects": {}, "revivable": {}, "refused": {}, "refusals": [],
            "depends": [],
            "seconds": 0.0, "opted_out": False}


def _c_modules() -> set[str]:
    """Modules whose classes are C types: built-in and extension modules."""
    names = set(sys.builtin_module_names)
    for name, module in list(sys.modules.items()):
        loader = getattr(getattr(module, "__spec__", None), "loader", None)
        if isinstance(loader, ExtensionFileLoader) or loader is BuiltinImporter:
            names.add(name)
    return names


_REGISTERED = [0]  # atexit.register calls the planner saw (and replays)
_clock = time.perf_counter  # the planner's own clock, never the watched one
# Clocks and process and thread ids a body may read: a value read and kept
# as it is in the namespace (logging._startTime) is read again at restore;
# one used otherwise refuses the unit.  Modules not imported yet are
# watched when they are (LATE).
WATCHED = (("time", "time"), ("time", "time_ns"), ("time", "monotonic"),
           ("time", "monotonic_ns"), ("time", "perf_counter"),
           ("time", "perf_counter_ns"), ("time", "process_time"),
           ("time", "process_time_ns"), ("time", "thread_time"),
           ("time", "thread_time_ns"), ("os", "getpid"), ("os", "getppid"),
           ("os", "times"), ("os", "getpgrp"), ("os", "getpgid"), ("os", "getsid"),
           # (not _thread.get_ident: the import system's locks call it)
           ("_thread", "get_native_id"), ("threading", "get_ident"),
           ("threading", "get_native_id"),
           # These read the clock when given no time (or None); with one
           # they compute from it, which a restore computes again alike.
           ("time", "localtime"), ("time", "gmtime"), ("time", "ctime"),
           ("time", "asctime"),
           # These read it with arguments: a value no restore reads again.
           ("time", "strftime"), ("time", "clock_gettime"),
           ("time", "clock_gettime_ns"))
# Facts of this process's user, host and machine that a body may keep: a
# restored process may run elsewhere (another host, other CPUs, another
# user), so they are watched as clocks are: read again when kept as read,
# else the module is code only.  Modules not imported yet are watched when
# they are (LATE).
PROCESS_FACTS = (("os", "uname"), ("os", "cpu_count"), ("os", "sched_getaffinity"),
                 ("os", "getuid"), ("os", "geteuid"), ("os", "getgid"),
                 ("os", "getegid"), ("os", "getlogin"), ("os", "get_terminal_size"),
                 ("_socket", "gethostname"), ("pwd", "getpwuid"), ("pwd", "getpwnam"),
                 # The working directory (os.path.abspath of a relative path
                 # asks for it): a restored process may start elsewhere.
                 ("os", "getcwd"), ("os", "getcwdb"),
                 # Its priority (nice), the machine's load, a disk's space.
                 ("os", "getpriority"), ("os", "getloadavg"), ("os", "statvfs"))
# Process-wide settings in C that a program may have set before the
# import: what a body read of them (the getter, its plain arguments, the
# value) is read again at restore and must be the same (H_SETTINGS; the
# probe sees a body change them, not read them).  Modules not imported
# yet are watched when they are (LATE).  stack_size() with no argument
# also sets the size (to 0), and umask() and nice() read only by setting: a
# body that called one is code only.
SETTINGS = (("sys", "getrecursionlimit"), ("sys", "getswitchinterval"),
            ("sys", "get_int_max_str_digits"), ("sys", "getdlopenflags"),
            ("gc", "isenabled"), ("gc", "get_threshold"), ("gc", "get_debug"),
            ("_thread", "stack_size"), ("threading", "stack_size"),
            ("_socket", "getdefaulttimeout"),
            ("_signal", "getsignal"), ("_csv", "field_size_limit"),
            ("resource", "getrlimit"), ("os", "sysconf"), ("os", "confstr"),
            ("os", "umask"), ("os", "nice"), ("_locale", "setlocale"), ("_locale", "getencoding"),
            ("_locale", "nl_langinfo"))
TIME_ARGUMENT = {"time.localtime": 0, "time.gmtime": 0, "time.ctime": 0,
                 "time.asctime": 0, "time.strftime": 1}  # which argument
REREAD_WITH_ARGUMENTS = {"time.strftime", "time.clock_gettime", "time.clock_gettime_ns"}
# Where a body draws entropy: a restored process must draw its own (every
# process would share the bytes: tokens, keys, uuid4, multiprocessing's
# authkey), so a body that drew any is code only.
ENTROPY = (("os", "urandom"), ("os", "getrandom"))
# Files made with no audit event (the others: _snapshot_inputs's
# FILE_EFFECT_EVENTS): a body that made one is code only.
MAKERS = (("os", "mkfifo"), ("os", "mknod"))
NOT_AGAIN = object()  # a clock value no restore can read again


DAY_NS = 86_400 * 10**9
UUID_EPOCH = 0x01B21DD213814000  # 1582-10-15 to 1970-01-01, in 100 ns


def _stamped_now(obj: Any) -> str:
    """Why obj looks made from the clock by C code no watcher sees
    (datetime.now(), date.today(), uuid.uuid1()): a date, time or uuid1
    within a day of now.  (A constant that happens to be that near is
    refused too: the safe side.)"""
    home = sys.modules.get("datetime")
    date, datetime = getattr(home, "date", None), getattr(home, "datetime", None)
    if (type(date) is type and type(datetime) is type and isinstance(obj, date)
            and hasattr(home, "timedelta") and hasattr(home, "timezone")):
        if isinstance(obj, datetime):
            now = [home.datetime.now(obj.tzinfo)] if obj.tzinfo is not None else [
                home.datetime.now(), home.datetime.now(home.timezone.utc).replace(tzinfo=None)]
            near = any(abs(obj - n) <= home.timedelta(days=1) for n in now)
        else:
            near = abs((obj - home.date.today()).days) <= 1
        if near:
            return ("holds the date or time of its run (datetime.now, date.today): "
                    "a restored process would keep it")
    uuid = getattr(sys.modules.get("uuid"), "UUID", None)
    if type(uuid) is type and isinstance(obj, uuid) and obj.version == 1:
        if abs(obj.time - (_REAL_TIME_NS() // 100 + UUID_EPOCH)) * 100 <= DAY_NS:
            return "holds a uuid1 made during its run: a restored process would keep it"
    return ""


_REAL_TIME_NS = time.time_ns  # before the planner watches it


def _reads_clock(where: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    index = TIME_ARGUMENT.get(where)
    if index is None:
        return True
    given = args[index] if len(args) > index else None
    return given is None and not kwargs


def _process_probe() -> tuple[Any, ...]:
    """C-level process state a body may change that no object shows."""
    handlers = []
    for signum in sorted(_signal.valid_signals()):
        try:
            handlers.append(_signal.getsignal(signum))
        except (ValueError, OSError):
            handlers.append(None)
    try:
        fds = sorted(os.listdir("/proc/self/fd"))
    except OSError:
        fds = []
    # First: the probes below may set a context variable (decimal's
    # getcontext() makes the thread's context), which is then the next
    # probe's start, not a body's change.
    return (("context variables", _context_values()),
            ("output written", _output_sizes()),
            ("atexit callbacks", atexit._ncallbacks() - _REGISTERED[0]),
            ("signal handlers", tuple(handlers)),
            ("threads", _thread._count()),
            ("open descriptors", len(fds)),
            ("working directory", os.getcwd()),
            ("recursion limit", sys.getrecursionlimit()),
            ("switch interval", sys.getswitchinterval()),
            ("gc settings", (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())),
            ("trace or profile function", (sys.gettrace(), sys.getprofile())),
            ("the C locale", _c_locale()),
            ("standard streams' settings", _stream_settings()),
            ("int max str digits", sys.get_int_max_str_digits()),
            ("thread stack size", _thread.stack_size()),
            ("interval timers", _timers()),
            ("faulthandler", _faulthandler_enabled()),
            ("random's generator state", _random_state()),
            ("the time zone", (time.tzname, time.timezone, time.altzone, time.daylight)),
            ("umask", _umask()),
            ("niceness", os.nice(0)),
            ("dlopen flags", sys.getdlopenflags()),
            ("coroutine and async generator hooks",
             (sys.get_coroutine_origin_tracking_depth(), tuple(sys.get_asyncgen_hooks()))),
            ("socket default timeout", _if_imported("socket", "getdefaulttimeout")),
            ("csv field size limit", _if_imported("_csv", "field_size_limit")),
            ("tracemalloc", _if_imported("tracemalloc", "is_tracing")),
            ("resource limits", _resource_limits()),
            ("readline's completer", _readline_state()),
            ("sys.monitoring tools", _monitoring_tools()),
            ("decimal's context", _decimal_context()))


class _Identities:
    """Pairs compared by identity (a value's own __eq__ is code of a body),
    holding them so that no id is reused meanwhile."""
    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        self.pairs = sorted(pairs, key=lambda pair: id(pair[0]))

    def __eq__(self, other: object) -> bool:
        return (type(other) is _Identities and len(other.pairs) == len(self.pairs)
                and all(a is c and b is d for (a, b), (c, d) in zip(self.pairs, other.pairs)))

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]


def _context_values() -> _Identities:
    """The context variables set in the importing thread's context, and
    their values: a body that set one (another module's variable, which
    no object shows; decimal's context made by getcontext()) would leave
    a restored process without the value."""
    return _Identities(list(_contextvars.copy_context().items()))


def _decimal_context() -> Any:
    """The thread's decimal context (precision, rounding, flags, traps), C
    state a body sets with `getcontext().prec = ...`."""
    module = sys.modules.get("_decimal")
    if module is None or "_decimal" in _NOT_READY:
        return None
    return repr(module.getcontext())


def _readline_state() -> Any:
    """rlcompleter's body sets readline's completer, which lives in C."""
    module = sys.modules.get("readline")
    if module is None:
        return None
    return (module.get_completer(), module.get_completer_delims())


def _monitoring_tools() -> Any:
    monitoring = getattr(sys, "monitoring", None)  # 3.12+
    if monitoring is None:
        return None
    return tuple(monitoring.get_tool(tool) for tool in range(6))


# Extension modules between their creation and the end of their exec:
# their functions may read a state that does not exist yet (_csv's
# field_size_limit crashes).
_NOT_READY: set[str] = set()


def _set_by_body(frame: Frame) -> set[tuple[str, str]]:
    """(module, attribute) pairs of other modules that the body itself set
    (`from typing import Match`, which typing's module __getattr__ makes and
    stores on 3.13): a restore replays that operation after it checked what
    the body took and read, so neither check looks at them."""
    own = set()
    for op in frame.live_ops:
        if op[0] in ("set_item", "set_attr", "setattr"):
            target = op[1]
            for name, module in list(sys.modules.items()):
                if target is module or target is getattr(module, "__dict__", None):
                    own.add((name, op[2]))
    return own


LOGGING_CACHE_REASON = ("changed a logging level that loggers cache (setLevel, "
                        "logging.disable): a restore cannot empty the caches of "
                        "loggers made before it")


def _changes_a_cached_level(live: tuple[Any, ...]) -> str:
    """What an operation changes of what logging's loggers cache
    (isEnabledFor's answers in each logger's _cache): "level" for a
    logger's level or the manager's `disable`, which logging changes
    together with emptying every logger's cache (Manager._clear_cache),
    the program's own loggers' too, where replaying the attribute leaves
    those caches stale; "parent" for a logger's parent, which logging
    changes without emptying any (a new logger above earlier ones:
    Manager.getLogger), so that replaying it leaves the caches as plain
    Python does, unless the body emptied them too (`_clear_cache_called`);
    "" for anything else."""
    logging = sys.modules.get("logging")
    if live[0] not in ("set_attr", "setattr", "del_attr", "delattr") or logging is None:
        return ""
    classes = {"level": ("Logger", "PlaceHolder"), "parent": ("Logger", "PlaceHolder"),
               # Manager.disable is a property over _disable (3.7+)
               "disable": ("Manager",), "_disable": ("Manager",)}.get(live[2], ())
    if not any(isinstance(cls, type) and isinstance(live[1], cls)
               for cls in (getattr(logging, name, None) for name in classes)):
        return ""
    return "parent" if live[2] == "parent" else "level"


def _clear_cache_called(code: Any) -> bool:
    """Whether code is logging's Manager._clear_cache (setLevel's and
    disable's): a body that called it and gave an earlier logger a new
    parent (`getLogger("pkg").setLevel(...)` above "pkg.child") left every
    cache empty, which a restore replaying the parent would not."""
    return (code.co_name == "_clear_cache"
            and code.co_filename.endswith(os.path.join("logging", "__init__.py")))


def _if_imported(module_name: str, getter: str) -> Any:
    module = sys.modules.get(module_name)
    if module is None or module_name in _NOT_READY:
        return None
    function = getattr(module, getter, None)
    return function() if function is not None else None


def _umask() -> int:
    mask = os.umask(0o22)  # asking is setting: put it back at once
    os.umask(mask)
    return mask


def _resource_limits() -> Any:
    module = sys.modules.get("resource")
    if module is None:
        return None
    return tuple(module.getrlimit(getattr(module, name)) for name in
                 ("RLIMIT_NOFILE", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_AS",
                  "RLIMIT_NPROC", "RLIMIT_DATA") if hasattr(module, name))


_SETLOCALE = _locale.setlocale  # the planner's own: bodies call a watcher (SETTINGS)


def _c_locale() -> tuple[Any, ...]:
    """setlocale(category) with no locale only asks."""
    found = []
    for name in ("LC_CTYPE", "LC_COLLATE", "LC_TIME", "LC_MONETARY",
                 "LC_NUMERIC", "LC_MESSAGES"):
        category = getattr(_locale, name, None)
        try:
            found.append(None if category is None else _SETLOCALE(category))
        except _locale.Error:
            found.append(None)
    return tuple(found)


def _stream_settings() -> tuple[Any, ...]:
    """What TextIOWrapper.reconfigure changes on sys.stdin/stdout/stderr."""
    return tuple((getattr(stream, "encoding", None), getattr(stream, "errors", None),
                  getattr(stream, "line_buffering", None),
                  getattr(stream, "write_through", None))
                 for stream in (sys.stdin, sys.stdout, sys.stderr))


def _timers() -> tuple[Any, ...]:
    return tuple(_signal.getitimer(getattr(_signal, which))
                 for which in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF")
                 if hasattr(_signal, which))


def _faulthandler_enabled() -> Any:
    module = sys.modules.get("faulthandler")
    return module.is_enabled() if module is not None else None


def _random_state() -> Any:
    """random's shared generator lives in C: a body that seeds it or draws
    from it changes what the program draws next, which no diff of objects
    shows (the module itself makes it: `random` is never a unit)."""
    module = sys.modules.get("random")
    generator = getattr(module, "_inst", None) if module is not None else None
    getstate = getattr(generator, "getstate", None)
    return hash(getstate()) if getstate is not None else None


def _output_sizes() -> tuple[int, ...]:
    """How much has been written to standard output and error: the planner
    runs with both on files, so that a body that prints (or shows a
    warning) is seen; what a restored unit would not print again."""
    sizes = []
    for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
        try:
            if stream is not None:
                stream.flush()
            sizes.append(os.fstat(fd).st_size)
        except (OSError, ValueError, AttributeError):
            sizes.append(-1)
    return tuple(sizes)


class Frame:
    def __init__(self, name: str, record: ModuleRecord, paused: int,
                 module: Any) -> None:
        self.name = name
        self.record = record
        self.paused = paused  # the recorder's state to go back to
        self.probe = _process_probe()
        self.started = _clock()
        # What a restore checks of the process when this import starts
        # (sys.path as the program left it: it may have changed it between
        # imports, or a body before this one did).
        self.process = restore.process_inputs()
        self.module = module
        # For the unit: the namespace the import system made, the body's
        # import statements (name, fromlist, level, ok), its operations
        # with their objects, its bindings' witnesses.
        self.machinery = dict(vars(module)) if module is not None else {}
        self.imports: list[tuple[str, tuple[str, ...], int, bool]] = []
        self.live_ops: list[tuple[Any, ...]] = []
        self.ops_before: str = ""  # a module imported after operations
        self.bindings: list[tuple[str, str, tuple[Any, ...]]] = []
        self.stars: list[str] = []  # the modules of its `from m import *`
        self.clock_reads: list[tuple[str, Any]] = []  # (clock, value read)
        # What it asked the import system without importing (find_spec):
        # restore.lookup_answer()s.
        self.lookups: list[tuple[Any, ...]] = []
        # Process-wide settings it read: (module, getter, args, digest).
        self.settings: list[tuple[Any, ...]] = []
        self.modules_before = set(sys.modules)
        self.imported: set[str] = set()  # absolute names its statements named
        self.nested: set[str] = set()  # modules imported while it ran, at any depth
        # id(code) -> (code, its globals), and (id(code), "locals") -> (code,
        # a module's namespace it ran with as its locals: _run_namespaces)
        self.ran: dict[Any, tuple[Any, Any]] = {}
        self.asked_classes: set[tuple[str, int]] = set()  # (getter, id(class))
        self.registered: set[tuple[int, int]] = set()  # its ABCMeta.register calls, by ids
        # logging's loggers' caches emptied (Manager._clear_cache: setLevel,
        # disable), and the parent of an earlier logger changed
        self.cleared_logging_caches = False
        self.reparented_a_logger = False

    def refuse(self, reason: str) -> None:
        """A reason its module is no unit, said once."""
        if reason not in self.record["refusals"]:
            self.record["refusals"].append(reason)


# What importlib's _init_module_attrs sets on a module before its body runs.
MODULE_INIT = frozenset(("__name__", "__loader__", "__package__", "__spec__",
                         "__path__", "__file__", "__cached__"))

# Dicts that only cache values a program could compute again (re.compile's
# patterns): what another module's body sees of an entry the restore puts
# back later than the body did is a value equal to the cached one, made
# again, which README names as a difference of identity in a cache.
CACHES = (("re", "_cache"), ("re", "_cache2"))


FunctionType = restore.FunctionType

# What _ran_names compares of a container: its length and items, two
# levels deep (restore.digest).
CONTAINER_TYPES = (dict, list, set, frozenset, tuple)

# Containers every process fills with its own threads' idents: no body can
# have made anything of the dump's (threading.current_thread() is an
# external, found again by its path at restore).
THREADS_OWN = (("threading", "_active"), ("threading", "_limbo"))

# The containers _ran_names leaves out (besides sys's).
NOT_COMPARED = frozenset(CACHES + THREADS_OWN)


def _ran_names(ran: dict[Any, tuple[Any, Any]], own: str,
               skipped: set[str]) -> list[tuple[str, str, Any]]:
    """The functions, classes and plain values (None, numbers, strings:
    flags and settings) that the code a body ran names in its module, and
    in the modules it names (`_re.compile`: re's compile): (module, name,
    value), the body's own module and running ones left out.  A program
    that replaced one of them before the import (logging.setLoggerClass, a
    wrapper around dataclasses._process_class or re._compile, gevent's
    threading.RLock), or set one (test.support.use_resources, which
    decides what a test module's decorators skip), changes what the body
    would make, so a restore checks them like the body's reads.  So are
    the containers they name (logging._nameToLevel, which
    logging.addLevelName fills; a plugin registry), by their items
    (restore.digest): a program that filled one first gets the body run.
    Not compared: sys's (its path, flags, argv are the process's inputs,
    its modules change with every import), re's pattern caches (CACHES)
    and threading's table of threads."""
    found: list[tuple[str, str, Any]] = []
    named: set[tuple[str, str]] = set()

    def note(source: str, name: str, value: Any) -> None:
        if (source == own or source in skipped or source.startswith("pycds")
                or source in IMPORT_SYSTEM
                or (name.startswith("__") and name != "__all__") or (source, name) in named
                or not (_callable_kind(value) or type(value) in restore.ATOM_TYPES
                        or (type(value) in CONTAINER_TYPES and source != "sys"
                            and (source, name) not in NOT_COMPARED)
                        or (_python_instance(value) and (source, name) not in NOT_COMPARED))):
            return
        named.add((source, name))
        found.append((source, name, value))

    builtin = vars(builtins)
    for code, namespace in ran.values():
        source = namespace.get("__name__")
        if type(source) is not str or getattr(sys.modules.get(source), "__dict__",
                                              None) is not namespace:
            continue  # exec'd code: its namespace is no module's
        names = code.co_names
        for name in names:
            value = namespace.get(name, changes.ABSENT)
            if value is changes.ABSENT:
                # A name no global holds is a builtin (a program may have
                # replaced builtins.abs before the import).
                if name in builtin:
                    note("builtins", name, builtin[name])
                continue
            if type(value) is type(sys):
                other = getattr(value, "__name__", None)
                if type(other) is str and sys.modules.get(other) is value:
                    attrs = vars(value)
                    for attribute in names:
                        if attribute in attrs:
                            note(other, attribute, attrs[attribute])
                continue
            note(source, name, value)
    return found


def _absent_builtins(code: Any, ran: dict[Any, tuple[Any, Any]],
                     opcodes: dict[int, int]) -> tuple[str, ...]:
    """The names the body's code (its module and class-body code, and the
    functions it ran) loads as globals that builtins does not have: a body
    may have asked for one before it had it and fallen back (`try: _` /
    `except NameError`, `unicode`), so a program that added one to builtins
    first (gettext.install()'s `_`) gets the body run.  Kept whether or not
    the lookup reached builtins (a class a later one subclasses too): a
    program that adds such a builtin only loses the restore."""
    builtin = vars(builtins)
    found: set[str] = set()
    for current in _nested_codes([code] + [c for c, _ in ran.values()], functions=True):
        found.update(name for name in loaded_names(current, opcodes, as_globals=True)
                     if name not in builtin)
    return tuple(sorted(found))


def _nested_codes(roots: list[Any], functions: bool) -> list[Any]:
    """roots and, under the module and class-body code among them, the code
    of the classes they define (and of the functions, with functions), each
    once."""
    codes, found, seen = list(roots), [], set()
    while codes:
        current = codes.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        if not current.co_flags & 0x3:  # CO_OPTIMIZED | CO_NEWLOCALS: a function's
            codes += [c for c in current.co_consts if type(c) is type(current)
                      and (functions or not c.co_flags & 0x3)]
    return found


def _own_asked(code: Any, frame: Frame, opcodes: dict[int, int]
               ) -> set[tuple[str, str, str]]:
    """absent_pairs of the body's module and class-body code and of the
    functions of its own that it ran."""
    own = getattr(frame.module, "__dict__", None)
    roots = [code] + [c for c, namespace in frame.ran.values() if namespace is own]
    pairs: set[tuple[str, str, str]] = set()
    for current in _nested_codes(roots, functions=False):
        pairs |= absent_pairs(current, opcodes)
    return pairs


def _ran_modules(frame: Frame) -> list[str]:
    """The modules, other than the body's own, whose code it ran (sorted):
    each must be the same code at restore (H_RAN)."""
    found = set()
    for _, namespace in frame.ran.values():
        name = namespace.get("__name__")
        module = sys.modules.get(name) if type(name) is str else None
        if (module is not None and module is not frame.module
                and getattr(module, "__dict__", None) is namespace
                and not name.startswith("pycds")):
            found.add(name)
    return sorted(found)


# Settings a restore checks after replaying the body's imports, whatever
# the moment the body asked: their value as the body ends.  A class a later
# import of the body derived or registered is there at restore too, and
# imports only add to registries and subclass lists: the state when the
# body asked was the dump's exactly when the state after them is.
AFTER_IMPORTS = frozenset(("abc_state", "subclass_names"))


def _settled(settings: list[tuple[Any, ...]], frame: Frame) -> list[tuple[Any, ...]]:
    """settings with those of AFTER_IMPORTS read again now, as the body
    ends, less the registrations the body made itself (which a restore
    replays after checking)."""
    return [(source, getter, args, restore.digest(
                getattr(restore, getter)(*args, leave_out=frame.registered)))
            if source == restore.__name__ and getter in AFTER_IMPORTS
            else (source, getter, args, expected)
            for source, getter, args, expected in settings]


def _sys_asked(pairs: set[tuple[str, str, str]], frame: Frame) -> list[tuple[Any, ...]]:
    """Settings (H_SETTINGS) for what the body asked of sys that a program
    sets: whether sys.modules holds a name must be what it was when the
    body ran (a name its own imports put there or took away is no unit's:
    which the body saw depends on when it asked), and so must a standard
    stream's plain attributes (`sys.stdout.encoding`: a program may have
    reconfigured or replaced the stream)."""
    own = getattr(frame.module, "__dict__", None)
    settings: list[tuple[Any, ...]] = []
    if type(own) is not dict:
        return settings
    # (sys.stdout over sys.__stdout__, the same object at the dump)
    streams = {id(getattr(sys, s)): s for s in sorted(STREAMS) if getattr(sys, s, None)}
    for how, where, name in sorted(pairs):
        stream = streams.get(id(own.get(where))) if how == "global" else None
        if stream is not None:  # `from sys import stdout`: stdout.y
            how, name = "stream", f"{stream}.{name}"
        elif own.get(where) is not sys:
            continue
        if how == "stream":
            value = restore.stream_setting(*name.split("."))
            if value is None or type(value) in (str, int, bool, float):
                settings.append((restore.__name__, "stream_setting",
                                 tuple(name.split(".")), restore.digest(value)))
            continue
        if how != "modules":
            continue
        present = name in sys.modules
        if present != (name in frame.modules_before):
            raise unit.Refused(f"asked whether {name} is in sys.modules, "
                               "and its own imports changed that")
        settings.append((restore.__name__, "module_present", (name,),
                         restore.digest(present)))
    return settings


def _namespace_read(pairs: set[tuple[str, str, str]], frame: Frame) -> None:
    """Refuse a body whose own code read which names another module has
    (absent_pairs' "namespace" pairs: `dir(m)`, `vars(m)`, `m.__dict__`):
    a restore checks the attributes a body asked for, and a program that
    added or removed another first would change what it saw."""
    own = getattr(frame.module, "__dict__", None)
    if type(own) is not dict:
        return
    for how, where, reader in sorted(pairs):
        home = own.get(where)
        if how == "namespace" and type(home) is type(sys) and home is not frame.module:
            raise unit.Refused(f"reads which names module {home.__name__} has "
                               f"(through {reader}), which a restore cannot check")


def _star_settings(frame: Frame) -> list[tuple[Any, ...]]:
    """Settings (H_SETTINGS) for the names each of the body's `from m
    import *` bound: a program that added a public name to m, or changed
    its __all__, first makes the statement bind others."""
    return [(restore.__name__, "star_names", (source,),
             restore.digest(restore.star_names(source))) for source in frame.stars]


def _absent_attributes(pairs: set[tuple[str, str, str]], frame: Frame
                       ) -> dict[str, set[str]]:
    """What the body asked other modules for and did not find, by module:
    where its code names a module's attribute (absent_pairs) that the
    module lacks after the body.  A restore checks them still absent, so a
    program that set one first gets the body run (it fell back: `hasattr`,
    `getattr` with a default, `from m import x` or `m.x` in a `try`)."""
    own = getattr(frame.module, "__dict__", None)
    if type(own) is not dict:
        return {}
    package = own.get("__package__")
    found: dict[str, set[str]] = {}
    for how, where, name in pairs:
        if how == "global":
            home = own.get(where)
            source = getattr(home, "__name__", None) if type(home) is type(sys) else None
        elif how == "import":
            dots = len(where) - len(where.lstrip("."))
            source = where
            if dots:
                if type(package) is not str or package.count(".") < dots - 1:
                    continue
                base = package.rsplit(".", dots - 1)[0] if dots > 1 else package
                source = f"{base}.{where[dots:]}" if where[dots:] else base
        else:
            continue
        module = sys.modules.get(source) if type(source) is str else None
        attrs = getattr(module, "__dict__", None)
        if (module is None or module is frame.module or type(attrs) is not dict
                or source.startswith("pycds") or name in attrs):
            continue
        found.setdefault(source, set()).add(name)
    return found


# The clocks read in C that no watcher of a module attribute sees: the
# classmethods of datetime's C types, and uuid1's time (the watched
# time.time_ns is its fallback).  A body that called one is code only,
# whatever it kept: a string or a number made from the time is the dump's.
C_CLOCKS = {("date", "today"), ("datetime", "today"), ("datetime", "now"),
            ("datetime", "utcnow")}
C_CLOCK_REASON = "read the clock through {} (a restored process would keep the dump's time)"


def _c_clock(function: Any) -> str | None:
    """The clock a C function called by a body reads, named, or None."""
    owner = getattr(function, "__self__", None)
    name = getattr(function, "__name__", None)
    if type(owner) is type(sys):
        return ("_uuid.generate_time_safe" if owner.__name__ == "_uuid"
                and name == "generate_time_safe" else None)
    datetime = sys.modules.get("datetime")
    date = getattr(datetime, "date", None)
    if not isinstance(owner, type) or type(date) is not type or not issubclass(owner, date):
        return None
    for base in owner.__mro__:
        if base.__module__ == "datetime" and (base.__name__, name) in C_CLOCKS:
            return f"datetime.{base.__name__}.{name}"
    return None


# The import system's modules: what their code names is the machinery's
# (which runs for every import, restored or not), and some are in
# sys.modules only once importlib is imported.
IMPORT_SYSTEM = frozenset(("importlib._bootstrap", "importlib._bootstrap_external",
                           "_frozen_importlib", "_frozen_importlib_external",
                           "importlib", "zipimport"))

# The sys.monitoring tool the planner watches calls with (3 and 4 have no
# conventional owner).
CALLS_TOOL = 4


def _abc_check_codes() -> set[int]:
    """ABCMeta's __instancecheck__ and __subclasscheck__ (whose answers the
    registries kept in C decide), by id of their code."""
    import abc
    return {id(getattr(abc.ABCMeta, name).__code__)
            for name in ("__instancecheck__", "__subclasscheck__")
            if hasattr(getattr(abc.ABCMeta, name), "__code__")}


def _abc_register_code() -> int:
    """ABCMeta.register's code, by id (0: none)."""
    import abc
    return id(getattr(abc.ABCMeta.register, "__code__", None) or 0)


def _note_ran(ran: dict[Any, tuple[Any, Any]], code: Any, frame: Any) -> None:
    """Code a body ran, with its globals; and code that eval or exec ran
    with a module's namespace as its locals, where its names are looked up
    first, with that namespace too (typing.get_type_hints evaluates a
    class's string annotations with the class's attributes as globals and
    its module's namespace as locals: a program that rebound a name there
    changes the hints)."""
    ran[id(code)] = (code, frame.f_globals)
    if not code.co_flags & 0x3:  # CO_OPTIMIZED | CO_NEWLOCALS: no function's
        names = frame.f_locals
        if names is not frame.f_globals and type(names) is dict:
            home = sys.modules.get(names.get("__name__"))  # type: ignore[arg-type]
            if getattr(home, "__dict__", None) is names:
                ran[(id(code), "locals")] = (code, names)


def _seeded_from_entropy(code: Any, frame: Any) -> bool:
    """Whether this call is random.Random.seed with no seed (what
    `random.Random()` does): C seeds the generator from the system's
    entropy, which no watcher of os.urandom sees, so a body that kept a
    draw would give every restored process the dump's number."""
    return (code.co_name == "seed" and frame.f_globals.get("__name__") == "random"
            and getattr(frame.f_globals.get("Random"), "seed", None) is not None
            and frame.f_globals["Random"].seed.__code__ is code
            and frame.f_locals.get("a", 0) is None)


RANDOM_SEED_REASON = ("seeded a random.Random from the system's entropy (a restored "
                      "process must draw its own)")


def _subclasses_asked(function: Any, arg0: Any) -> Any:
    """The class whose __subclasses__() a C call asks, or None."""
    if function is type.__subclasses__:
        return arg0 if isinstance(arg0, type) else None
    owner = getattr(function, "__self__", None)
    if isinstance(owner, type) and getattr(function, "__name__", None) == "__subclasses__":
        return owner
    return None


def _python_instance(value: Any) -> bool:
    """An instance of a Python class with a __dict__ (a settings object
    whose attribute a called function reads): digested by its attributes."""
    t = type(value)
    return (bool(t.__flags__ & (1 << 9)) and not t.__flags__ & (1 << 31)
            and type(getattr(value, "__dict__", None)) is dict)


DIGEST_DEPTH = 2  # how deep a digest looks into containers (witness.c's)


def _unseen_attribute(value: Any, names: set[str], depth: int = 0) -> str | None:
    """An attribute, among names (those the body's code loads), of an
    object that value's digest sees only by its type (".a.b", "[].a"), or
    None: an instance's digest holds its attributes' plain values, a
    container's its items (and those of the containers among them), and
    nothing of what an instance or a container found there holds.  A body
    that read `dep.CONFIG.section.value` read what a program that changed
    `section.value` first would have changed unseen."""
    if depth <= DIGEST_DEPTH and type(value) in CONTAINER_TYPES:
        items = value.values() if type(value) is dict else value
        for item in list(items):
            found = _unseen_attribute(item, names, depth + 1)
            if found is not None:
                return "[]" + found
        return None
    if not _python_instance(value):
        return None
    attrs = object.__getattribute__(value, "__dict__")
    for attr in sorted(names & attrs.keys()):
        held = attrs[attr]
        if depth or not (type(held) in restore.ATOM_TYPES or _callable_kind(held)
                         or type(held) is type(sys)):
            return f".{attr}"
    return None


NESTED_READS = 4  # how many instances deep a read's dotted path goes


def _class_entry(cls: type, name: str) -> Any:
    """What the class's MRO holds under name (None: nothing)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def _inner_reads(value: Any, names: set[str]) -> list[tuple[str, Any]] | None:
    """The attributes among names of an instance that its digest sees only
    by their type, each to be read on its own, or None when one cannot be:
    its class takes attributes from elsewhere than the instance's dict (a
    __getattribute__ of Python, a __dict__ property, a data descriptor for
    the name: witness.c's instance_attribute, which a restore follows, takes
    them from the dict), or its name has a dot in it (a dotted read's path
    would not say where the name ends)."""
    cls = type(value)
    if (type(_class_entry(cls, "__getattribute__")) is not type(object.__getattribute__)
            or not objects.own_dict_attribute(cls)):
        return None
    attrs = object.__getattribute__(value, "__dict__")
    inner = []
    for attr in sorted(names & attrs.keys()):
        held = attrs[attr]
        if type(held) in restore.ATOM_TYPES or _callable_kind(held) or type(held) is type(sys):
            continue
        descriptor = type(_class_entry(cls, attr))
        if (type(attr) is not str or "." in attr or hasattr(descriptor, "__set__")
                or hasattr(descriptor, "__delete__")):
            return None
        inner.append((attr, held))
    return inner


def _callable_kind(value: Any) -> bool:
    """Functions and classes (what a patch replaces), not data."""
    t = type(value)
    return (t is FunctionType or objects.is_a(value, type)
            or t.__name__ in ("builtin_function_or_method", "method_descriptor"))


def _fills_a_cache(op: tuple[Any, ...]) -> bool:
    """Whether a live operation adds an entry to one of CACHES."""
    if op[0] != "set_item":
        return False
    for module, attribute in CACHES:
        home = sys.modules.get(module)
        if home is not None and vars(home).get(attribute) is op[1]:
            return True
    return False


class Planner:
    def __init__(self) -> None:
        self.records: dict[str, ModuleRecord] = {}
        self.stack: list[Frame] = []
        self.load_opcodes: dict[int, int] = {}  # loaded_names
        self.recorder = inputs.InputRecorder()
        self.c_modules = _c_modules()
        self.heap = changes.Heap(self.c_modules)
        self.restart_calls: Any = lambda: None
        self.recording = 0.0
        self.real_import = builtins.__import__
        self.units = ""             # where units go ("" = none)
        self.codes: dict[str, Any] = {}   # module -> the code its body ran
        self.sources: dict[str, Any] = {}  # module -> its source's (size, mtime_ns) then
        self.unit_sizes: dict[str, int] = {}
        self.contents: dict[tuple[str, Any], int | None] = {}  # _contents
        self.partial_users: dict[str, str] = {}  # module -> who used it early
        self.aliases_extra: dict[int, Any] = {}
        # The planner's stand-ins for functions it watches, by id: where
        # the real one is (a unit that keeps one names the real one).
        self.stand_ins: dict[int, tuple[tuple[str, str], ...]] = {}
        # id(a body's codec search function) -> (it, what was registered)
        self.codec_searches: dict[int, tuple[Any, Any]] = {}
        self.aliases: dict[int, Any] = {}

    # -- hooks --------------------------------------------------------------

    def install(self) -> None:
        self._watch_warnings()
        self._watch_calls()
        for cls in (SourceFileLoader, SourcelessFileLoader, FrozenImporter):
            self._wrap(cls, "exec_module", "body")
        for cls in (ExtensionFileLoader, BuiltinImporter):
            self._wrap(cls, "create_module", "extension")
            self._wrap(cls, "exec_module", "extension")
        for cls in (SourceFileLoader, SourcelessFileLoader):
            self._keep_code(cls)
        self._watch_registrations()
        self._watch_lookups()
        self._watch_hash()
        self._watch_id()
        for module_name, function in WATCHED + PROCESS_FACTS:
            if module_name in sys.modules:
                self._watch_clock(sys.modules[module_name], function)
        for module_name, function in SETTINGS:
            if module_name in sys.modules:
                self._watch_setting(sys.modules[module_name], function)
        for module_name, function in ENTROPY:
            self._watch_refused(sys.modules[module_name], function,
                                f"drew random bytes from {module_name}.{function} "
                                "(a restored process must draw its own)")
        for module_name, function in MAKERS:
            self._watch_refused(sys.modules[module_name], function,
                                f"made a file with {module_name}.{function}")
        self.import_hook = self._import
        builtins.__import__ = self.import_hook
        self._watch_import_module()
        self.recorder.install()
        self.heap.hide(self, self.__dict__, self.heap, self.heap.__dict__,
                       self.recorder, self.recorder.__dict__, self.import_hook)
        # The import system's per-import locks (weak references with
        # callbacks, gone when the import ends): its own, not a body's.
        import _frozen_importlib
        for name in ("_module_locks", "_blocking_on"):
            table = getattr(_frozen_importlib, name, None)
            if table is not None:
                self.heap.hide(table)
        # The path finders' caches of directory listings: a restored
        # process has its own.
        self.heap.hide(sys.path_importer_cache)

    def _wrap(self, cls: type, method: str, kind: str) -> None:
        real = getattr(cls, method)
        planner = self
        static = isinstance(cls.__dict__.get(method), (staticmethod, classmethod))
        original = cls.__dict__.get(method)  # None: the wrapper adds one

        def run(call: Callable[[], Any], target: Any) -> Any:
            name = (getattr(target, "name", None) if method == "create_module"
                    else getattr(target, "__name__", None))
            if not isinstance(name, str):
                return call()
            planner.begin(name, kind, target if method == "exec_module" else None)
            try:
                result = call()
            except BaseException as error:
                planner.end(name, error)
                raise
            planner.end(name, None)
            if method == "create_module" and result is not None:
                planner.heap.claim(result, name)
            return result

        if static:
            def wrapper_static(target: Any) -> Any:
                return run(lambda: real(target), target)
            wrapped: Any = staticmethod(wrapper_static)
        else:
            def wrapper(self: Any, target: Any) -> Any:
                return run(lambda: real(self, target), target)
            wrapped = wrapper
        setattr(cls, method, wrapped)
        # What a read of the class sees (its state): the real method, or
        # nothing where the class inherited it (witness.h's stand-ins).
        self.aliases_extra[id(wrapped)] = (None if original is None
                                           else restore.witness(original))

    def _watch_clock(self, module: Any, name: str) -> None:
        real = getattr(module, name, None)
        if real is None or id(real) in self.stand_ins:
            return
        planner = self
        where = f"{module.__name__}.{name}"
        again = where not in REREAD_WITH_ARGUMENTS

        def read(*args: Any, **kwargs: Any) -> Any:
            value = real(*args, **kwargs)
            if (planner.stack and not planner.recorder.paused
                    and _reads_clock(where, args, kwargs)):
                kept = value if again and not args and not kwargs else NOT_AGAIN
                planner.stack[-1].clock_reads.append((where, kept))
            return value
        self._stand_in(read, real, module, name)

    def _watch_setting(self, module: Any, name: str) -> None:
        real = getattr(module, name, None)
        if real is None or id(real) in self.stand_ins:
            return
        planner = self
        where = (module.__name__, name)

        def read(*args: Any) -> Any:
            value = real(*args)
            if name == "setlocale" and len(args) > 1 and args[1] is not None:
                pass  # sets it: the probe sees a body change the locale
            elif planner.stack and not planner.recorder.paused:
                frame = planner.stack[-1]
                if name in ("stack_size", "umask", "nice"):
                    frame.refuse(f"called {where[0]}.{name}(), which sets it")
                elif all(type(arg) in restore.ATOM_TYPES for arg in args) \
                        and type(value) in restore.ATOM_TYPES + (tuple,):
                    setting = (*where, args, restore.digest(value))
                    if setting not in frame.settings:
                        frame.settings.append(setting)
                else:
                    frame.refuse(f"read {where[0]}.{name}() with arguments it cannot record")
            return value
        self._stand_in(read, real, module, name)

    def _stand_in(self, wrapper: Any, real: Any, module: Any, name: str) -> None:
        """Put `wrapper` where module.name was: bodies call it, the heap
        does not count it as a body's, and a unit that keeps it (as
        logging.Formatter keeps time.localtime) names the real one, by
        where it is and its witness."""
        wrapper.__name__ = wrapper.__qualname__ = name
        wrapper.__module__ = module.__name__
        setattr(module, name, wrapper)
        self.heap.hide(wrapper)
        seen = restore.witness(real)
        self.aliases_extra[id(wrapper)] = self.aliases[id(wrapper)] = seen
        _ALIASES[id(wrapper)] = seen
        self.stand_ins[id(wrapper)] = (("module", module.__name__), ("attr", name))

    def _watch_lookups(self) -> None:
        """importlib.util.find_spec and pkgutil.find_loader ask whether a
        module can be found without importing it (a probe for an optional
        dependency): what a body asked, with the answer, a restore asks
        again.  (The lookups of import statements are the imports' own,
        made while the recorder is paused, and replayed as imports.)
        importlib.util takes _find_spec from _frozen_importlib when it is
        imported, which no module has done when this runs."""
        import _frozen_importlib as bootstrap
        real = bootstrap._find_spec
        planner = self

        def find_spec(name: Any, path: Any, target: Any = None) -> Any:
            spec = real(name, path, target)
            if planner.stack and not planner.recorder.paused:
                answer = restore.lookup_answer(name, path, spec)
                lookups = planner.stack[-1].lookups
                if answer not in lookups:
                    lookups.append(answer)
            return spec
        self._stand_in(find_spec, real, bootstrap, "_find_spec")

    def _watch_hash(self) -> None:
        """hash() of a str, of bytes or of an object hashed by identity is
        another number in every process (the hash seed, the address): a
        body that kept one would not match what the restored process
        computes.  Numbers, and tuples and frozensets of them, hash alike
        everywhere.  Only the module's and its classes' own code is
        watched: a function's hash() (an enum member's or a dataclass's
        __hash__, as a dict takes it as a key) gives a number the body
        does not keep, and dicts and sets are made again with this
        process's."""
        import builtins
        real = builtins.hash
        planner = self
        getframe = sys._getframe

        def hash(obj: Any) -> int:  # noqa: A001 (stands in for the builtin)
            value = real(obj)
            if planner.stack and not planner.recorder.paused \
                    and not getframe(1).f_code.co_flags & 0x3 \
                    and not _hashes_alike(obj):
                planner.stack[-1].refuse(
                    f"called hash() on a {objects.type_name(type(obj))} "
                    "(another number in every process)")
            return value
        self._stand_in(hash, real, builtins, "hash")

    def _watch_id(self) -> None:
        """id() is an address, another number in every process: a body
        whose own module or class code kept one (SQLAlchemy's
        `frozenset([id(PASSIVE_NO_RESULT), id(NO_VALUE)])`, tested with `id(x)
        in ...` later) would hold the dump's.  A function's id() (a repr, a
        memo keyed by identity) is not watched, as hash()'s is not."""
        import builtins
        real = builtins.id
        planner = self
        getframe = sys._getframe

        def id(obj: Any) -> int:  # noqa: A001 (stands in for the builtin)
            if planner.stack and not planner.recorder.paused \
                    and not getframe(1).f_code.co_flags & 0x3:
                planner.stack[-1].refuse("called id() (another number in every process)")
            return real(obj)
        self._stand_in(id, real, builtins, "id")

    def _watch_refused(self, module: Any, name: str, reason: str) -> None:
        """A function whose call makes a body code only, for reason."""
        real = getattr(module, name, None)
        if real is None:
            return
        planner = self

        def refused(*args: Any, **kwargs: Any) -> Any:
            # (before the call: one that fails, the FIFO already there,
            # answered a question about the file system too)
            if planner.stack and not planner.recorder.paused:
                planner.stack[-1].refuse(reason)
            return real(*args, **kwargs)
        self._stand_in(refused, real, module, name)

    def _watch_calls(self) -> None:
        """Which code each body ran (its functions, and those they called),
        with its globals, for _ran_names: sys.monitoring's PY_START where
        there is one (each code reported once until restart_calls, at each
        body's start and end), else a profile function's call events."""
        planner = self
        monitoring = getattr(sys, "monitoring", None)
        getframe = sys._getframe
        abc_codes = _abc_check_codes()
        register_code = _abc_register_code()
        if monitoring is not None:
            disable = monitoring.DISABLE

            def started(code: Any, offset: int) -> Any:
                if planner.recorder.paused or not planner.stack:
                    return None
                ran = planner.stack[-1].ran
                if id(code) not in ran:
                    _note_ran(ran, code, getframe(1))
                if id(code) in abc_codes:  # every call: each asks its own ABC
                    planner._asked_abc(getframe(1), abc_codes, register_code)
                    return None
                if id(code) == register_code:
                    planner._registered(getframe(1))
                    return None
                if code.co_name == "seed":  # every call: only some have no seed
                    if _seeded_from_entropy(code, getframe(1)):
                        planner.stack[-1].refuse(RANDOM_SEED_REASON)
                    return None
                if _clear_cache_called(code):  # every call: each body's own
                    planner.stack[-1].cleared_logging_caches = True
                    return None
                return disable

            def called(code: Any, offset: int, callable_: Any, arg0: Any) -> Any:
                asked = _subclasses_asked(callable_, arg0)
                if asked is not None:
                    if not planner.recorder.paused and planner.stack:
                        planner._asked_class(asked, "subclass_names", "__subclasses__()")
                    return None
                clock = _c_clock(callable_)
                if clock is None:
                    return disable
                if not planner.recorder.paused and planner.stack:
                    planner.stack[-1].refuse(C_CLOCK_REASON.format(clock))
                return None

            monitoring.use_tool_id(CALLS_TOOL, "pycds planner")
            monitoring.register_callback(CALLS_TOOL, monitoring.events.PY_START, started)
            monitoring.register_callback(CALLS_TOOL, monitoring.events.CALL, called)
            monitoring.set_events(CALLS_TOOL,
                                  monitoring.events.PY_START | monitoring.events.CALL)
            self.restart_calls = monitoring.restart_events
            return

        def profiled(frame: Any, event: str, arg: Any) -> None:
            if planner.recorder.paused or not planner.stack:
                return
            if event == "call":
                ran = planner.stack[-1].ran
                code = frame.f_code
                if id(code) not in ran:
                    _note_ran(ran, code, frame)
                if id(code) in abc_codes:
                    planner._asked_abc(frame, abc_codes, register_code)
                elif id(code) == register_code:
                    planner._registered(frame)
                if code.co_name == "seed" and _seeded_from_entropy(code, frame):
                    planner.stack[-1].refuse(RANDOM_SEED_REASON)
                if _clear_cache_called(code):
                    planner.stack[-1].cleared_logging_caches = True
            elif event == "c_call":
                asked = _subclasses_asked(arg, None)
                if asked is not None:
                    planner._asked_class(asked, "subclass_names", "__subclasses__()")
                clock = _c_clock(arg)
                if clock is not None:
                    planner.stack[-1].refuse(C_CLOCK_REASON.format(clock))

        sys.setprofile(profiled)

    def _registered(self, register: Any) -> None:
        """A body called ABCMeta.register (register: its frame): what its
        own registrations add is left out of the ABC settings it recorded
        (_settled), which a restore checks before replaying them."""
        cls, subclass = register.f_locals.get("cls"), register.f_locals.get("subclass")
        if isinstance(cls, type) and isinstance(subclass, type):
            self.stack[-1].registered.add((id(cls), id(subclass)))

    def _asked_abc(self, check: Any, abc_codes: set[int], register_code: int) -> None:
        """A body called isinstance or issubclass with an ABC (check: the
        frame of ABCMeta's method): the ABC's registrations and the classes
        under it are a setting.  A check that another check makes (of a
        subclass, or __instancecheck__'s own __subclasscheck__) is covered
        by the outer one's."""
        outer = check.f_back
        if outer is not None and (id(outer.f_code) in abc_codes
                                  or id(outer.f_code) == register_code):
            return  # (register's own checks ask nothing of the program)
        cls = check.f_locals.get("cls")
        if isinstance(cls, type):
            self._asked_class(cls, "abc_state", "isinstance or issubclass")

    def _asked_class(self, cls: type, getter: str, how: str) -> None:
        """A setting (restore's getter) of a class that existed before the
        body: what a program did before importing it (registered, derived)
        must be what the body saw.  The body's own classes are its own."""
        frame = self.stack[-1]
        if (getter, id(cls)) in frame.asked_classes:
            return  # (read again as the body ends: _settled)
        frame.asked_classes.add((getter, id(cls)))
        module, qualname = getattr(cls, "__module__", None), cls.__qualname__
        if module == frame.name:
            return
        if type(module) is not str or restore.named_class(module, qualname) is not cls:
            # a module of another name in sys.modules (_collections_abc's
            # classes say collections.abc, which collections sets up last)
            module = next((name for name in sorted(sys.modules) if type(name) is str
                           and restore.named_class(name, qualname) is cls), None)
        if module is None:
            frame.refuse(f"asked {how} of {qualname}, a class it cannot name")
            return
        frame.settings.append((restore.__name__, getter, (module, qualname, frame.name), None))

    def _watch_warnings(self) -> None:
        """A warning a body issued, shown or not here (DeprecationWarning is
        ignored by default), is one a program with other filters sees,
        or turns into an error: such a body is code only.  Both warnings
        implementations ask each filter's message pattern to `match` the
        text, so a filter first in the list whose pattern never matches
        hears every warning that reaches the filters."""
        planner = self

        class Heard:
            def match(self, text: Any) -> bool:
                if not planner.recorder.paused and planner.stack:
                    planner.stack[-1].refuse(f"issued a warning ({str(text)[:60]})")
                return True  # on to the module's pattern, which never matches

        class HeardWhere:
            """The module a warning is attributed to.  With stacklevel=2 or
            more it is the code that imported the module that warned, or
            further out: the warning points at that body's line, lands in
            its __warningregistry__ and meets the filters for its module,
            which a restore of that body would not do.  Here the planner's
            own frame (which runs each body) stands between a body and the
            import statement that started it, so the frame the warning is
            attributed to here is not the one plain Python names: every
            module being imported is code only."""

            def match(self, module: Any) -> None:
                if not planner.recorder.paused and len(planner.stack) > 1:
                    outer = planner.stack[:-1]
                    if type(module) is str and (module.startswith("pycds")
                                                or any(f.name == module for f in outer)):
                        for frame in outer:
                            frame.refuse("an import it made issued a warning attributed "
                                         "to the code that imported (stacklevel)")
                return None

        # _warnings's list is warnings.filters (imported or not: importing
        # it here would be a body the planner watches).
        import _warnings
        entry = ("ignore", Heard(), Warning, HeardWhere(), 0)
        _warnings.filters.insert(0, entry)  # type: ignore[attr-defined]
        mutated = (getattr(_warnings, "_filters_mutated", None)
                   or getattr(_warnings, "_filters_mutated_lock_held", None))
        if mutated is not None:
            mutated()
        self.aliases_extra[id(entry)] = ("pycds.warning-filter", None)
        self.heap.hide(entry)

    def _watch_registrations(self) -> None:
        """Calls whose effect C keeps out of any object's sight
        (restore.REGISTRATIONS: atexit.register, os.register_at_fork,
        codecs.register, os.putenv, sys.addaudithook...), made by a body: operations
        its unit replays, in order, by calling the same function again."""
        for op_name, (module_name, attribute) in restore.REGISTRATIONS.items():
            self._watch_registration_in(op_name, module_name, attribute)

    def _watch_registration_in(self, op_name: str, module_name: str,
                               attribute: str) -> None:
        """The watcher, if module_name is imported (else once it is: end)."""
        home = sys.modules.get(module_name)
        real = getattr(home, attribute, None) if home is not None else None
        if real is not None and id(real) not in self.stand_ins:
            self._watch_registration(op_name, home, attribute, real)

    def _watch_registration(self, op_name: str, home: Any, attribute: str,
                            real: Any) -> None:
        planner = self
        counted = op_name == "atexit"  # the probe compares atexit's count
        searches = op_name in ("codecs_register", "codecs_unregister")

        def register(*args: Any, **kwargs: Any) -> Any:
            if searches and len(args) == 1 and not kwargs:
                result = real(planner._codec_search(args[0], op_name))
            else:
                result = real(*args, **kwargs)
            if counted:
                _REGISTERED[0] += 1
            if planner.stack and not planner.recorder.paused:
                planner.stack[-1].live_ops.append((op_name, None, None, (args, kwargs)))
            return result
        self._stand_in(register, real, home, attribute)

    def _codec_search(self, search: Any, op_name: str) -> Any:
        """What the planning process registers for a body's codec search
        function: one that sees it answer.  The interpreter caches each
        codec a search function found, in C; a restore replays the
        registration but cannot refill that cache, so a later lookup of
        the name would call the function again and get another object.  A
        body during which a body's search function found a codec is code
        only.  (The unit replays the body's own function; codecs.unregister
        is given back the one registered here.)"""
        planner = self
        found = self.codec_searches.get(id(search))
        if found is not None:
            return found[1]
        if op_name != "codecs_register" or not callable(search):
            return search

        def watched(name: Any) -> Any:
            answer = search(name)
            if answer is not None and planner.stack:
                planner.stack[-1].refuse(
                    f"looked up the codec {str(name)[:40]!r}, which a body's search "
                    "function found: codecs caches it in C, which a restore cannot refill")
            return answer
        self.codec_searches[id(search)] = (search, watched)
        self.heap.hide(watched)
        return watched

    def _keep_code(self, cls: type) -> None:
        """The code object each body runs: a unit names its functions'
        code by where it is in it."""
        real = cls.get_code  # type: ignore[attr-defined]
        codes = self.codes
        sources = self.sources
        recorder = self.recorder

        def get_code(self: Any, fullname: str) -> Any:
            recorder.paused += 1  # the import system's reads, not the body's
            try:
                code = real(self, fullname)
                try:
                    st = os.stat(self.path)
                    sources[fullname] = (st.st_size, st.st_mtime_ns)
                except (OSError, AttributeError, TypeError):
                    sources[fullname] = None
            finally:
                recorder.paused -= 1
            codes[fullname] = code
            return code
        original = cls.__dict__.get("get_code")
        cls.get_code = get_code  # type: ignore[attr-defined]
        self.heap.hide(get_code, codes)
        self.aliases_extra[id(get_code)] = (None if original is None
                                            else restore.witness(original))

    def _import(self, name: str, globals: Any = None, locals: Any = None,
                fromlist: Any = (), level: int = 0) -> Any:
        saved = self.recorder.paused
        self.recorder.paused = 1
        frame = self.stack[-1] if self.stack and not saved else None
        statement = (name, tuple(f for f in fromlist or () if isinstance(f, str)), level)
        try:
            module = self.real_import(name, globals, locals, fromlist, level)
        except ImportError:
            if frame is not None:
                frame.imports.append((*statement, False))
            raise
        finally:
            self.recorder.paused = saved
        if frame is not None:
            frame.imports.append((*statement, True))
            absolute = _absolute(name, globals, level)
            frame.imported.add(absolute)
            frame.imported.update(f"{absolute}.{item}" for item in statement[1])
        if self.stack and not saved:
            started = _clock()
            self._examine(self.stack[-1], self._note_import, module, name,
                          fromlist, level, globals)
            self.recording += _clock() - started
        return module

    def _watch_import_module(self) -> None:
        """importlib.import_module (and what else calls the import system's
        _gcd_import) imports without an import statement: the body's
        import all the same, replayed at restore like its statements (a
        plugin a body imports this way registers itself)."""
        import _frozen_importlib as bootstrap
        real = bootstrap._gcd_import
        planner = self

        def gcd_import(name: str, package: Any = None, level: int = 0) -> Any:
            saved = planner.recorder.paused
            frame = planner.stack[-1] if planner.stack and not saved else None
            try:
                absolute = bootstrap._resolve_name(name, package, level) if level else name
            except Exception:  # no module it names: nothing to replay
                return real(name, package, level)  # and its own error
            planner.recorder.paused = 1
            try:
                module = real(name, package, level)
            except ImportError:
                if frame is not None:
                    frame.imports.append((absolute, (), 0, False))
                raise
            finally:
                planner.recorder.paused = saved
            if frame is not None:
                frame.imports.append((absolute, (), 0, True))
                frame.imported.add(absolute)
                frame.record["depends"].append(absolute)
            return module
        self._stand_in(gcd_import, real, bootstrap, "_gcd_import")

    def _note_import(self, module: Any, name: str, fromlist: Any, level: int,
                     globals: Any = None) -> None:
        record = self.stack[-1].record
        source = getattr(module, "__name__", None)
        if not isinstance(source, str):
            return
        # The name the statement gave, where it differs from the module's
        # own (`from _collections_abc import *` gets "collections.abc").
        absolute = _absolute(name, globals, level)
        if fromlist and sys.modules.get(absolute) is module:
            source = absolute
        if not fromlist:
            if level == 0 and name in sys.modules:
                record["depends"].append(name)
            return
        record["depends"].append(source)
        frame = self.stack[-1]
        for attribute in fromlist:
            if not isinstance(attribute, str):
                continue
            if attribute == "*":
                record["bindings"].append(self._binding(source, "*", "*", module))
                # Which names it binds (a program may have added one, or
                # changed __all__) and each one's value, as `from m import x`.
                # (The names when its body ends, which a restore's replayed
                # imports leave: _star_settings.)
                if source not in frame.stars:
                    frame.stars.append(source)
                for bound in restore.star_names(source) or ():
                    value = getattr(module, bound, changes.ABSENT)
                    if value is not changes.ABSENT:
                        frame.bindings.append((source, bound, _witness(value)))
                continue
            value = getattr(module, attribute, changes.ABSENT)
            if value is not changes.ABSENT:
                record["bindings"].append(self._binding(source, attribute,
                                                        attribute, value))
                frame.bindings.append((source, attribute, _witness(value)))
                if (type(value) is not type(sys) and any(
                        f.name == source for f in self.stack[:-1])):
                    self.partial_users.setdefault(source, frame.name)

    def _binding(self, module: str, attribute: str, bound_as: str,
                 value: Any) -> Binding:
        return {"module": module, "attribute": attribute, "bound_as": bound_as,
                "identity": self.heap.value(value)}

    # -- stretches ----------------------------------------------------------

    def begin(self, name: str, kind: str, module: Any) -> None:
        paused = self.recorder.paused
        self.recorder.paused += 1
        started = _clock()
        if kind == "extension":
            self.c_modules.add(name)
            _NOT_READY.add(name)
        if module is not None:
            self.heap.claim(module, name)
        for running in self.stack:
            running.nested.add(name)
        if self.stack:
            parent = self.stack[-1]
            self._examine(parent, self._close, parent, module)
            if not parent.ops_before and any(not _fills_a_cache(op)
                                             for op in parent.live_ops):
                parent.ops_before = name
        record = self.records.get(name)
        if record is None:
            record = self.records[name] = new_record(name, kind)
        self.stack.append(Frame(name, record, paused, module))
        self.restart_calls()
        self.recorder.current = record["inputs"]
        self.recorder.effects = record["refusals"]
        self.recording += _clock() - started
        self.stack[-1].started = _clock()
        self.recorder.paused = 0

    def end(self, name: str, error: BaseException | None) -> None:
        self.recorder.paused += 1
        _NOT_READY.discard(name)
        for module_name, function in WATCHED + PROCESS_FACTS:
            if module_name == name and name in sys.modules:  # LATE
                self._watch_clock(sys.modules[name], function)
        for module_name, function in SETTINGS:
            if module_name == name and name in sys.modules:  # LATE
                self._watch_setting(sys.modules[name], function)
        for op_name, (module_name, attribute) in restore.REGISTRATIONS.items():
            if module_name == name:  # an extension imported by a body (_csv)
                self._watch_registration_in(op_name, module_name, attribute)
        frame = self.stack[-1]
        body_seconds = _clock() - frame.started
        started = _clock()
        self._examine(frame, self._close, frame)
        self.stack.pop()
        self.restart_calls()
        record = frame.record
        record["seconds"] += body_seconds
        if error is not None:
            self.heap.failed.add(name)
        if error is not None and not record["error"]:
            record["kind"] = "failed"
            record["error"] = f"{type(error).__name__}: {error}"
        module = sys.modules.get(name)
        if module is not None and record["kind"] == "body":
            if getattr(module, MARKER, True) is False:
                record["opted_out"] = True  # type: ignore[typeddict-unknown-key]
            self._examine(frame, self._note_aliases, module, record, frame)
            made_for = getattr(getattr(frame.module, "__spec__", None), "name", None)
            if (frame.module is not None and frame.module is not module
                    and made_for == name and error is None):
                # (3.13's collections.abc puts _collections_abc there; an
                # extension calling itself by its twin's name, _decimal's
                # "decimal", is not that)
                record["refusals"].append("its body put another module in its "
                                          "place in sys.modules")
            elif self.units and frame.module is module and error is None:
                self._examine(frame, self._write_unit, frame)
        if self.stack:
            parent = self.stack[-1]
            parent.probe = _process_probe()
            self.recorder.current = parent.record["inputs"]
            self.recorder.effects = parent.record["refusals"]
            parent.record["depends"].append(name)
        self.recording += _clock() - started
        if self.stack:
            self.stack[-1].started = _clock()
        self.recorder.paused = frame.paused

    def _close(self, frame: Frame, importing: Any = None) -> None:
        """End frame's stretch of recording; `importing` is the module
        whose body is about to run, if any: the import system set its
        attributes (MODULE_INIT) in frame's stretch, and sets them again
        when a restore replays the import, so they are not frame's."""
        running = {f.name for f in self.stack if f is not frame}
        segment = self.heap.close(frame.name, running)
        if importing is not None:
            segment.operations = [
                op for op in segment.operations
                if not (op.get(changes.LIVE, (None, None))[1] is importing
                        and op.get("key") in MODULE_INIT)]
        record = frame.record
        for op in segment.operations:
            live = op.pop(changes.LIVE, None)  # type: ignore[misc]
            if live is not None:
                # A cache's entry is put back whatever the cache holds
                # (README: a cache starts with what the bodies put there).
                frame.live_ops.append(live[:4] if _fills_a_cache(live) else live)
                changed = _changes_a_cached_level(live)
                if changed == "level":
                    frame.refuse(LOGGING_CACHE_REASON)
                frame.reparented_a_logger |= changed == "parent"
        if frame.reparented_a_logger and frame.cleared_logging_caches:
            frame.refuse(LOGGING_CACHE_REASON)
        record["operations"] += segment.operations
        record["depends"] += sorted(segment.depends)
        refusals = record["refusals"]
        refusals += segment.refusals
        for owner in sorted(segment.running_changed):
            # Both run as code: the running module's unit would make its
            # objects after this import (which needs them), and as code its
            # body would not see this one's changes again.
            self.partial_users.setdefault(owner, frame.name)
            refusals.append(f"changed objects of {owner} while its body was still running")
        now = dict(_process_probe())
        for what, before in frame.probe:
            if now[what] != before:
                refusals.append(
                    "a thread started" if what == "threads" else
                    "wrote to standard output or error" if what == "output written"
                    else f"hidden C-level state changed: {what}")
        for obj in segment.new:
            stamped = _stamped_now(obj)
            if stamped and stamped not in refusals:
                refusals.append(stamped)
            kind, type_name, reason = objects.classify(obj, self.c_modules)
            record["objects"][type_name] = record["objects"].get(type_name, 0) + 1
            if kind == objects.REVIVABLE:
                record["revivable"][type_name] = record["revivable"].get(type_name, 0) + 1
            elif kind == objects.REFUSED:
                record["refused"][type_name] = record["refused"].get(type_name, 0) + 1
                if record["kind"] == "body" and reason not in refusals:
                    refusals.append(reason)

    def _examine(self, frame: Frame, step: Callable[..., None], *args: Any) -> None:
        """Run one step of recording; a failure of the planner's own (an
        object whose attributes raise, say) must never reach the body being
        run: it refuses the module instead."""
        try:
            step(*args)
        except Exception as error:
            frame.record["refusals"].append(
                f"the planner could not examine it: {type(error).__name__}: {error}")

    def _note_aliases(self, module: Any, record: ModuleRecord, frame: Frame) -> None:
        """`dumps = json.dumps`: functions and classes of other modules bound
        in this one's namespace by any statement."""
        taken = {(b["module"], b["attribute"]) for b in record["bindings"]}
        taken.update((source, attribute) for source, attribute, _ in frame.bindings)
        for bound_as, value in list(vars(module).items()):
            if not objects.is_a(value, (type, type(objects._cell))):
                continue
            source = getattr(value, "__module__", None)
            attribute = getattr(value, "__name__", None)
            if (not isinstance(source, str) or not isinstance(attribute, str)
                    or source == record["name"] or (source, attribute) in taken):
                continue
            home = sys.modules.get(source)
            if any(f.name == source for f in self.stack) or home is module:
                continue  # not where it came from: that is still running
            if home is not None and getattr(home, attribute, None) is value:
                record["bindings"].append(self._binding(source, attribute,
                                                        bound_as, value))
                record["depends"].append(source)
                frame.bindings.append((source, attribute, _witness(value)))

    # -- units --------------------------------------------------------------

    def _write_unit(self, frame: Frame) -> None:
        """The module's unit, written now that its body finished; or the
        reason it cannot be one, as the record's refusal."""
        record = frame.record
        name = frame.name
        inputs = record["inputs"]
        reason = ""
        if record["refusals"] or record.get("opted_out"):
            return
        if name in self.partial_users:
            reason = (f"{self.partial_users[name]}, imported during its body, "
                      "used its objects before the body finished")
        elif frame.ops_before:
            reason = (f"changed objects of other modules before it imported "
                      f"{frame.ops_before}")
        elif inputs["env_listed"]:
            reason = "listed the whole environment"
        elif inputs["argv_read"]:
            reason = ("read sys.argv, sys.orig_argv or sys._xoptions (a trace "
                      "does not record the program's arguments)")
        else:
            for source, attribute, _ in frame.bindings:
                if (source not in frame.modules_before and source not in frame.imported
                        and source not in frame.nested):
                    # (not imported at all: made and put there by the body)
                    reason = (f"takes {source}.{attribute}, a module its own "
                              "body put in sys.modules")
                    break
            for op in frame.live_ops:
                if (not reason and op[0] == "set_item" and op[1] is sys.modules
                        and op[2] in frame.imported):
                    # importlib puts _frozen_importlib there as
                    # importlib._bootstrap, then imports from it: a replayed
                    # import would find the file and make a second module.
                    reason = (f"imports {op[2]}, a module its own body put in "
                              "sys.modules")
        if not reason:
            # What its dependencies read too: one that runs as code in a
            # process whose inputs differ leaves other values to read.
            inputs, reason = self._closure_inputs(record)
        if not reason:
            set_by_body = _set_by_body(frame)
            files = sorted(set(inputs["opened"]) | set(inputs["stat"]))
            full = set(inputs["opened"]) | set(inputs["stat_full"])
            states = [(p, restore._file_state(p) if p in full else restore.file_kind(p))
                      for p in files]
            # The contents of each regular file opened for reading, 8 bytes
            # each (PYCDSVALIDATE=hash: a rewrite keeping size and time).
            opened = set(inputs["opened"])
            contents: list[tuple[str, int]] = []
            for path, state in states:
                digest = self._contents(path, state) if path in opened else None
                if (digest is None and path in opened and type(state) is tuple
                        and len(state) >= 6 and type(state[3]) is int
                        and stat.S_ISREG(state[3])):
                    # A regular file the dump could not read whole (memory,
                    # a race): no hash matches it, so under hash the body runs.
                    digest = -1
                if digest is not None:
                    contents.append((path, digest))
            header = {
                restore.H_PROCESS: frame.process,
                restore.H_ENV: dict(inputs["env"]),
                restore.H_FILES: states,
                restore.H_LISTED: [(p, restore._listing(p)) for p in inputs["listed"]],
                restore.H_CONTENTS: contents,
                restore.H_ARGV: None,
                restore.H_LOOKUPS: frame.lookups,
                restore.H_SETTINGS: frame.settings,
                restore.H_IMPORTS: frame.imports,
                restore.H_RAN: _ran_modules(frame),
                restore.H_SOURCE: self.sources.get(frame.name),
                restore.H_SEED: restore.hash_seed(),
                restore.H_BINDINGS: [b for b in frame.bindings
                                     if (b[0], b[1]) not in set_by_body],
            }
            code = self.codes.get(frame.name)
            asked = _own_asked(code, frame, self.load_opcodes) if code else set()
            try:
                _namespace_read(asked, frame)
                reads, header[restore.H_AFTER], read_values = self._reads(
                    frame, set_by_body, asked)
                header[restore.H_READS], header[restore.H_HASHED] = restore.hashed_reads(reads)
                header[restore.H_SETTINGS] = (_settled(frame.settings, frame)
                                              + _sys_asked(asked, frame)
                                              + _star_settings(frame))
            except unit.Refused as refused:
                record["refusals"].append(f"unit: {refused}")
                return
            running = {f.name for f in self.stack}
            context = unit.Context(name, frame.module, self.heap, self.codes.get(name),
                                   frame.machinery, running, self.c_modules,
                                   self.aliases, frame.clock_reads, self.stand_ins)
            context.read_values = read_values
            try:
                data = unit.write_unit(context, header, frame.live_ops)
            except unit.Refused as refused:
                reason = str(refused)
                if "still being imported" in reason:
                    for owner in running:
                        if f" of {owner}, which" in reason:
                            self.partial_users.setdefault(owner, name)
            else:
                with open(os.path.join(self.units, name + ".unit"), "wb") as f:
                    f.write(data)
                self.unit_sizes[name] = len(data)
                for owner in context.used_running:
                    self.partial_users.setdefault(owner, name)
        if reason:
            record["refusals"].append(f"unit: {reason}")

    def _contents(self, path: str, state: Any) -> int | None:
        """The XXH3 of a file a body opened (None: no regular file), read
        once for every unit whose bodies opened it while its state is
        the same."""
        key = (path, state)
        if key not in self.contents:
            self.contents[key] = _cds.file_hash(path) if state is not None else None
        return self.contents[key]

    def _closure_inputs(self, record: ModuleRecord) -> tuple[Any, str]:
        """The inputs of record's body and of every body it depends on."""
        merged = inputs.new_inputs()
        seen: set[str] = set()
        pending = [record["name"]]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            other = self.records.get(name)
            if other is None:
                continue
            read = other["inputs"]
            if name != record["name"] and (read["env_listed"] or read["argv_read"]):
                return merged, (f"depends on {name}, which read "
                                + ("the whole environment" if read["env_listed"]
                                   else "the program's arguments"))
            merged["env"].update(read["env"])
            merged["opened"] += read["opened"]
            merged["stat"].update(read["stat"])
            merged["stat_full"] += [p for p in read["stat_full"]
                                    if p not in merged["stat_full"]]
            merged["listed"] += [p for p in read["listed"] if p not in merged["listed"]]
            pending += [d for d in other["depends"] if d not in seen]
        return merged, ""

    def _reads(self, frame: Frame, set_by_body: set[tuple[str, str]],
               asked: set[tuple[str, str, str]]
               ) -> tuple[list[tuple[str, str, Any]], list[Any], list[tuple[str, str, Any]]]:
        """Attributes of the modules it imported that its top-level code
        (module and class bodies) names, with their digests: at restore
        they must be what this body saw.  Those whose digest reads what the
        body's own operations changed (a registry it appended to; a class
        it set an attribute of; a function whose cell holds such a list)
        come apart, second, with the steps that make what the operations
        will leave: a restore checks them that way (check_after_reads),
        before any object is made.  What code the body ran (not its own
        top-level code) names of such an object is not checked: a called
        function that only appends (logging's handler list, the codecs'
        cache) does not read it.  Third, what each read found: the unit
        names an object it keeps by one path, and a restore checks that
        the others it was read by still hold it (H_SAME)."""
        code = self.codes.get(frame.name)
        if code is None:
            return [], [[], []], []
        names: set[str] = set()
        for current in _nested_codes([code], functions=False):
            names.update(loaded_names(current, self.load_opcodes))
        # What it asked a module by a constant name (`getattr(m, "x",
        # default)`, `hasattr(m, "x")`) and found: read as `m.x` is.
        names.update(name for how, _, name in asked if how == "global")
        targets = {id(op[1]) for op in frame.live_ops}
        probes = _probes(frame.live_ops)
        # Attributes its operations set (pygments' Token.Literal.Scalar,
        # made by a __getattr__ the body ran): the unit's own objects,
        # which a dotted read does not go into.
        attributes_set = {(id(op[1]), op[2]) for op in frame.live_ops
                          if op[0] in ("set_attr", "setattr")}
        reads: list[tuple[str, str, Any]] = []
        read_values: list[tuple[str, str, Any]] = []  # (source, name, what it held)
        after: list[tuple[str, str, Any]] = []
        # The operations that make what a restore compares after-reads
        # with, their values and keys by form (witnesses stand in for the
        # objects, as the restore's placeholders will).
        forms: dict[int, Any] = {}
        steps = [(index, _form(op[2], forms), _form(op[3], forms))
                 for index, op in enumerate(frame.live_ops)
                 if id(op[1]) in probes]
        stand_ins = {**_ALIASES, **forms}

        # The attributes its own code (and its functions that ran) loads:
        # of what it read, what it may have read inside.
        own = getattr(frame.module, "__dict__", None)
        own_names = names.union(*(loaded_names(c, self.load_opcodes)
                                  for c, namespace in frame.ran.values() if namespace is own))

        def place(source: str, name: str, value: Any, top_level: bool = True,
                  outer: tuple[int, ...] = ()) -> None:
            original = value
            depth = len(outer)
            if not depth and "." in name:  # (a restore reads dotted names as paths)
                raise unit.Refused(f"reads {source}[{name!r}], a name with a dot in it")
            # (What only other modules' code read of it, they read: not
            # followed.  An instance the path came through is read there:
            # pygments' Token.Token is Token.)
            unseen = (_unseen_attribute(value, own_names)
                      if (top_level or name in own_names) and id(value) not in outer
                      else None)
            if unseen is not None:
                inner = (_inner_reads(value, own_names) if depth < NESTED_READS
                         and _python_instance(value) and not unseen.startswith("[]")
                         else None)
                if inner is None:
                    raise unit.Refused(
                        f"reads {source}.{name}{unseen}, which a restore cannot check "
                        f"(it checks {source}.{name} {depth + 1} level"
                        f"{'s' if depth else ''} deep)")
                # An instance's attribute that holds another (pygments'
                # Token.Text.Whitespace): read on its own, by the dotted
                # path a restore follows through instances' __dict__s
                # (witness.c's read_value).
                for attr, held in inner:
                    if (id(value), attr) in attributes_set:
                        continue
                    if not restore.checkable(held):
                        raise unit.Refused(
                            f"reads {source}.{name}.{attr}, an object of C type "
                            f"{objects.type_name(type(held))} whose contents "
                            "cannot be checked at restore")
                    place(source, f"{name}.{attr}", held, top_level, (*outer, id(value)))
            if id(original) in targets and id(original) not in probes:
                # Changed by the body, and no copy of it can show what its
                # operations will leave (a dict subclass): not checked.
                return
            if type(value) in (set, list) and any(id(v) in _ALIASES for v in value):
                # os.supports_dir_fd and friends hold the planner's
                # wrappers besides the real functions (InputRecorder),
                # warnings.filters its listener (_watch_warnings).
                value = type(value)(v for v in value if id(v) not in _ALIASES)
            seen = restore.digest(value, _ALIASES)
            changed = dict(probes)
            if value is not original and id(original) in probes:
                changed[id(value)] = _probe_copy(value)  # a filtered copy
            touched = bool(probes) and restore.digest(value, _ALIASES, changed) != seen
            if not touched:
                reads.append((source, name, seen))
                read_values.append((source, name, original))
            elif top_level:
                after.append((source, name, restore.digest(value, stand_ins)))
                read_values.append((source, name, original))

        sources = frame.imported | {b[0] for b in frame.bindings}
        # A submodule reached through its package (`import pkg;
        # pkg.sub.C`): its attributes are read as the package's are.
        pending = list(sources)
        while pending:
            home = sys.modules.get(pending.pop())
            attrs = getattr(home, "__dict__", None)
            if type(attrs) is not dict:
                continue
            for name in names & attrs.keys():
                value = attrs[name]
                inner = getattr(value, "__name__", None) if type(value) is type(sys) else None
                if (type(inner) is str and sys.modules.get(inner) is value
                        and inner not in sources):
                    sources.add(inner)
                    pending.append(inner)
        for source in sorted(sources):
            module = sys.modules.get(source)
            if module is None or module is frame.module or source.startswith("pycds"):
                continue
            attrs = getattr(module, "__dict__", None)
            if type(attrs) is not dict:
                continue
            # sys: its path, argv, flags are the process's inputs (checked
            # as such), the rest changes with every import; but its
            # standard streams a program may have replaced first (a body
            # that kept sys.stdout keeps the program's stream).
            for name in sorted(names & (attrs.keys() if source != "sys"
                                        else STREAMS & attrs.keys())):
                value = attrs[name]
                # The import system sets a module's dunders, the same way
                # every time, but __main__'s are the program's: how it was
                # started (a script, -m, -c), not the planner's; and
                # __all__ is the module's own list, which a program may change.
                if ((name.startswith("__") and source != "__main__" and name != "__all__")
                        or type(value) is type(sys)
                        or (source, name) in set_by_body):
                    continue
                if id(value) in _ALIASES:
                    continue  # the planner's stand-ins: os.environ is an input
                if not restore.checkable(value) and source != "sys":
                    raise unit.Refused(
                        f"reads {source}.{name}, an object of C type "
                        f"{objects.type_name(type(value))} whose contents "
                        "cannot be checked at restore")
                place(source, name, value)  # (a stream: by witness and identity)
                if any(f.name == source for f in self.stack):
                    # A module still running: its unit makes its objects
                    # after the imports it replays (this one among them).
                    self.partial_users.setdefault(source, frame.name)
        known = {(source, name) for source, name, _ in reads + after} | set_by_body
        running = {f.name for f in self.stack if f is not frame}
        for source, name, value in _ran_names(frame.ran, frame.name, running):
            if (source, name) not in known and id(value) not in _ALIASES:
                known.add((source, name))
                place(source, name, value, top_level=False)
        absent = _absent_builtins(code, frame.ran, self.load_opcodes)
        if absent:
            reads.append(("builtins", "", (restore.ABSENT_NAMES, absent)))
        for source, missing in sorted(_absent_attributes(asked, frame).items()):
            reads.append((source, "", (restore.ABSENT_NAMES, tuple(sorted(missing)))))
        # lists: header data shares tuples
        return reads, [after, steps if after else []], read_values

    # -- the run ------------------------------------------------------------

    def run(self, modules: list[tuple[str, list[str]]]) -> list[ModuleRecord]:
        order: list[str] = []
        names = [name for name, _ in modules]
        for name, entries in modules:
            if restore.search_path(sys.path) != entries:
                # The program changed sys.path between its imports (or a
                # body did, and the program put it back): so does the
                # plan, outside any body.
                sys.path[:] = entries
                self.heap.settle()
            if name in sys.modules:
                if name not in self.records:
                    self.records[name] = new_record(name, "startup")
                continue
            try:
                self.real_import(name)
            except BaseException as error:  # a failed body fails only itself
                record = self.records.setdefault(name, new_record(name, "failed"))
                record["kind"] = "failed"
                record["error"] = record["error"] or f"{type(error).__name__}: {error}"
            # What the import system did after the body ended (a package's
            # attribute for its submodule, `pkg.sub = sub`) is no body's: not
            # the next one's operation, nor what it depends on (its inputs
            # would be that submodule's).
            self.heap.settle()
        for name in names:
            order.append(name)
        # Every module a body ran for, the list's first, then the others in
        # the order they started.
        listed = [self.records[n] for n in order if n in self.records]
        others = [r for n, r in self.records.items() if n not in set(order)]
        for record in listed + others:
            record["depends"] = sorted(set(record["depends"]) - {record["name"]})
        return listed + others


def process_inputs() -> ProcessInputs:
    try:
        locale_name = _SETLOCALE(_locale.LC_ALL, None)
    except Exception:
        locale_name = ""
    getencoding = getattr(_locale, "getencoding", None)
    flags = {name: getattr(sys.flags, name) for name in dir(sys.flags)
             if not name.startswith("_") and isinstance(getattr(sys.flags, name), int)}
    return {"argv": list(sys.argv), "flags": flags, "path": list(sys.path),
            "locale": locale_name,
            "encoding": getencoding() if getencoding else sys.getfilesystemencoding(),
            "executable": sys.executable, "version": sys.version}


_ALIASES: dict[int, tuple[Any, ...] | None] = {}  # InputRecorder.aliases()


def _absolute(name: str, globals: Any, level: int) -> str:
    """An import statement's module, as importlib resolves a relative one."""
    if level <= 0 or not isinstance(globals, dict):
        return name
    package = globals.get("__package__")
    if not package:
        package = globals.get("__name__", "")
        if "__path__" not in globals:
            package = package.rpartition(".")[0]
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    return f"{base}.{name}" if name else base


# An item no program holds: added to a copy of what the body's operations
# changed, it tells the reads whose digest sees that object (_probes).
_PROBE = "\0pycds: changed by the body"


def _form(value: Any, forms: dict[int, Any]) -> tuple[str, Any]:
    """A value or key of an operation as an after-read's step holds it:
    ("atom", value), or ("witness", its witness), noted in forms by id."""
    if type(value) in restore.ATOM_TYPES:
        return ("atom", value)
    seen = _ALIASES.get(id(value)) or restore.shallow(value)
    forms[id(value)] = seen
    return ("witness", seen)


def _probe_copy(target: Any, attrs: Any = None) -> Any:
    """A copy of a list, dict or set, or of attributes, with _PROBE in it."""
    if attrs is not None:
        return {**attrs, _PROBE: None}
    if type(target) is list:
        return [*target, _PROBE]
    if type(target) is dict:
        return {**target, _PROBE: None}
    if type(target) is set:
        return {*target, _PROBE}
    return None


def _probes(live_ops: list[tuple[Any, ...]]) -> dict[int, Any]:
    """{id(target): probe copy} of what the body's operations changed, as
    restore.operations_applied copies them: a digest that reads one with
    these substitutes differs from its own."""
    probes: dict[int, Any] = {}
    for op in live_ops:
        name, target = op[0], op[1]
        if id(target) in probes:
            continue
        if name in restore.CONTAINER_OPERATIONS:
            copy = _probe_copy(target)
        elif name == "setattr" and op[2] == "cell_contents":
            copy = _PROBE  # the cell read as holding it
        elif name in ("set_attr", "del_attr"):
            copy = _probe_copy(target, dict(restore.own_attributes(target)))
        else:
            continue
        if copy is not None:
            probes[id(target)] = copy
    return probes


def _hashes_alike(obj: Any) -> bool:
    """Whether hash(obj) is the same number in every process: not a nan's
    (hashed by identity), nor None's before 3.12 (by address)."""
    if type(obj) in (int, bool):
        return True
    if type(obj) in (float, complex):
        return obj == obj
    if obj is None:
        return sys.version_info >= (3, 12)
    if type(obj) in (tuple, frozenset):
        return all(map(_hashes_alike, obj))
    return False


def _witness(value: Any) -> tuple[Any, ...]:
    """A binding's witness: a plain value itself, else its identity's."""
    if type(value) in unit.ATOMS:
        return restore.shallow(value)
    return _ALIASES.get(id(value)) or restore.witness(value)


def main(request_path: str, output_path: str) -> int:
    modules, units, opcodes = read_request(request_path)
    if units:
        # Before any body (the C pickler, kept out of sys.modules), and on
        # the planner's own sys.path: the traced one may lack the
        # standard library (a program that emptied it).
        unit.prepare()
    own_path = list(sys.path)
    sys.path[:] = modules[0][1] if modules else []
    sys.path_importer_cache.clear()
    planner = Planner()
    planner.units = units
    planner.load_opcodes = opcodes
    started = _clock()
    process = process_inputs()
    planner.install()
    planner.aliases = {**planner.recorder.aliases(), **planner.aliases_extra}
    # pycds's own modules: their state is the planner's, not a body's.
    planner.heap.hide(_REGISTERED, *(
        obj for name, module in list(sys.modules.items())
        if name == "pycds" or name.startswith("pycds.")
        for obj in (module, vars(module))))
    _ALIASES.update(planner.aliases)
    planner.heap.baseline()
    planner.recording += _clock() - started
    records = planner.run(modules)
    planner.recorder.paused = 1
    for record in records:
        if record["name"] in planner.unit_sizes:
            record["unit_size"] = planner.unit_sizes[record["name"]]  # type: ignore[typeddict-unknown-key]
    result: RunRecord = {"version": 1, "process": process, "modules": records,
                         "recording_seconds": planner.recording}
    sys.path[:] = own_path  # the bodies are done: the planner's own imports
    import json  # only now: a traced body may be json's
    with open(output_path, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""fuzz_unit's Python half: each input restored as a unit of one of the
seed package's modules (unit_seeds.py), into a fresh module object, as the
archived loader would; whatever the unit holds, the process must not
crash.  A restore that raises, or refuses the unit, is an ordinary outcome.

A unit names other modules' objects by paths from sys.modules, and a
mutated one may name, and call, any of them: an audit hook refuses
anything that would reach outside the process (files written or removed,
processes, sockets), so that a mutation never touches the machine.
"""

from __future__ import annotations

import gc
import os
import sys
import types

from pycds import _cds
from pycds import _snapshot_restore as R

MODULES: list[tuple[str, str, types.CodeType]] = []
PACKAGE: list[str] = []  # the names of MODULES

# Audit events a restore may raise; any other of the families in
# OUTSIDE is refused.
ALLOWED = {"os.listdir", "os.scandir", "os.getxattr", "os.listxattr"}
OUTSIDE = ("os.", "subprocess.", "shutil.", "socket.", "ctypes.", "sys.addaudithook",
           "webbrowser.", "pty.", "fcntl.", "resource.setrlimit", "signal.")


def _guard(event: str, args: tuple[object, ...]) -> None:
    if event in ALLOWED:
        return
    if event.startswith(OUTSIDE):
        raise RuntimeError(f"fuzz_unit: {event} refused")
    if event == "open" and len(args) > 1 and isinstance(args[1], str) \
            and any(c in args[1] for c in "wax+"):
        raise RuntimeError("fuzz_unit: open for writing refused")
    if event == "open" and len(args) > 2 and isinstance(args[2], int) \
            and args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC):
        raise RuntimeError("fuzz_unit: open for writing refused")


def setup(seeds: str) -> None:
    package = os.path.join(seeds, "package")
    # What a unit's imports replay (fz_changes imports fz_plain) comes
    # from the package's source.
    sys.path.insert(0, package)
    with open(os.path.join(seeds, "modules.txt"), encoding="utf-8") as f:
        names = f.read().split()
    PACKAGE.extend(names)
    for name in names:
        path = os.path.join(package, name + ".py")
        with open(path, encoding="utf-8") as f:
            # As the import system compiles it (this file's __future__
            # imports not inherited: a unit names code by co_consts paths).
            MODULES.append((name, path, compile(f.read(), path, "exec", dont_inherit=True)))
    # Mapped as SHARE maps it (a restore asks the archive about code), with
    # no finder: the inputs are the units restored.
    _cds.share_open(os.path.join(seeds, "units.img"), verbose=0, validate="mtime")
    # The units were planned in another process (its sys.path, flags):
    # each would stop at its part 0 (check_process), before what follows.
    R.check_process = lambda wanted: None
    # Two things a unit holds are trusted as the archive's code is, never
    # checked (that is what they save), and corrupt memory by design when
    # mutated: a class image (pycds/ext/class_image.h: a layout and the slot
    # functions to copy) and a code object by value (marshal's, which
    # CPython does not check either).  Here classes are made by
    # type.__new__, and code by value is refused.
    R.VOCABULARY[R.VOCABULARY.index(_cds.unit_class)] = _without_image
    # Code by value as the seeds hold it is let through (a namedtuple's
    # __new__ is made by exec): each seed restored once, unmutated, shows
    # which.
    at = R.VOCABULARY.index(R.code_from)
    R.VOCABULARY[at] = _noting_code
    for name in names:
        with open(os.path.join(seeds, "units", name), "rb") as f:
            run(f.read())
    R.VOCABULARY[at] = _seeds_code
    sys.addaudithook(_guard)


_SEEDS_CODE: set[bytes] = set()


def _noting_code(data: bytes) -> object:
    _SEEDS_CODE.add(bytes(data))
    return R.code_from(data)


def _seeds_code(data: bytes) -> object:
    if bytes(data) not in _SEEDS_CODE:
        raise R.Stale("fuzz_unit: code by value is trusted, not fuzzed")
    return R.code_from(data)


def _without_image(meta: type, name: str, bases: tuple[type, ...], namespace: dict[str, object],
                   image: object = None) -> type:
    return _cds.unit_class(meta, name, bases, namespace)  # type: ignore[no-any-return]


# Inputs run since the last full collection: what a restore made lives in
# cycles (classes), and the fuzzer's memory limit would be reached long
# before the collector's next full pass.
_since_collection = 0


def run(data: bytes) -> None:
    global _since_collection
    if not data or not MODULES:
        return
    _since_collection += 1
    if _since_collection == 100:
        _since_collection = 0
        gc.collect()
    name, path, code = MODULES[data[0] % len(MODULES)]
    rest = data[1:]
    unit = R.UNIT_MAGIC + _cds.hash_bytes(rest).to_bytes(8, "little") + rest
    module = types.ModuleType(name)
    module.__file__ = path
    before = sys.modules.get(name)
    sys.modules[name] = module
    try:
        R.restore(module, code, unit)
    except BaseException:  # a unit that calls exit() or raises: not a crash
        pass
    finally:
        if before is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = before
        # The package's modules a unit's imports brought in go too (their
        # state, changed by the unit's operations, is the next input's
        # start otherwise); the standard library's stay.
        for other in PACKAGE:
            sys.modules.pop(other, None)
        # So do the loggers fz_changes's operations add to logging's registry.
        logging = sys.modules.get("logging")
        if logging is not None:
            registry = logging.Logger.manager.loggerDict
            for logger in [key for key in registry if str(key).startswith("fz")]:
                del registry[logger]

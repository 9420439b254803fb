"""PYCDSMODE=TRACE: record the modules a run imports from source or .pyc
files, and the names it looked for that PathFinder did not find, at exit,
into the list named by PYCDSLIST."""

from __future__ import annotations

import atexit
import builtins
import os
import sys
# Not importlib.machinery: it would import (and so trace) importlib and
# warnings in programs that do not.
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import (ExtensionFileLoader, PathFinder,
                                        SourceFileLoader, SourcelessFileLoader)

from . import _log
from ._snapshot_restore import search_path

# Loaders whose modules pycds can archive (the share side's loaders
# subclass these, so a traced run that also shares is recorded too); of an
# extension module only where it was found is archived.
ARCHIVABLE = (SourceFileLoader, SourcelessFileLoader, ExtensionFileLoader)


class ImportOrder:
    """A meta-path finder that finds nothing and notes the order in which
    imports start.  sys.modules holds modules in the order their imports
    finish, children before the packages and modules that import them; the
    dumper lays modules out in the order they start, so that a module shares
    the interned strings of modules that are already relocated when it
    loads."""

    started: dict[str, int] = {}
    # sys.path as each import started (each distinct one once, as the list
    # records it, made absolute then): a program may change it between
    # imports (flask's command line puts the app's directory first after
    # importing flask; pip takes the working directory out), and a
    # module's body saw the one its import started on.  A lookup found its
    # module when the name is in sys.modules at the next lookup (a body's
    # imports run inside its own); each module found is noted by identity
    # (not held: the trace keeps nothing alive), so that the module in
    # sys.modules at exit gets the path of the lookup that made it, whether
    # a lookup failed before it (`try: import x` before the directory that
    # holds x was added), or the module was imported afresh after it and
    # put back (regrtest's import_fresh_module, under a test's sys.path),
    # or replaced (a vendored package found once another directory is on
    # sys.path).
    seen: list[object] | None = None  # none yet: even an empty sys.path is noted
    paths: list[list[str]] = []
    found: dict[str, list[tuple[int, int]]] = {}  # name -> [(id(module), path index)]
    last: tuple[str, int] | None = None  # the lookup not yet known to have found

    @classmethod
    def find_spec(cls, fullname: str, path: object = None,
                  target: object = None) -> None:
        cls.started.setdefault(fullname, len(cls.started))
        cls.note_found()
        try:
            if cls.seen != sys.path:
                seen = list(sys.path)
                cls.paths.append(search_path(seen))
                cls.seen = seen
            cls.last = (fullname, len(cls.paths) - 1)
        except Exception:  # never the program's import: the run's path then
            pass
        return None

    @classmethod
    def note_found(cls) -> None:
        if cls.last is not None:
            name, index = cls.last
            cls.last = None
            module = sys.modules.get(name)
            if module is not None:
                found = cls.found.setdefault(name, [])
                # A module already noted is the one an earlier lookup
                # made (put back since): that lookup's path stays.
                if all(ident != id(module) for ident, _ in found):
                    found.append((id(module), index))

    @classmethod
    def path_index(cls, name: str) -> int | None:
        """The index in paths of the sys.path the import of the module now
        in sys.modules as `name` started on; else of the last lookup that
        found one; None when no lookup did."""
        cls.note_found()
        found = cls.found.get(name, [])
        module = id(sys.modules.get(name))
        for ident, index in reversed(found):
            if ident == module:
                return index
        return found[-1][1] if found else None

    @classmethod
    def invalidate_caches(cls) -> None:
        pass


class AbsentNames:
    """A meta-path finder placed just after PathFinder that finds nothing
    and notes what reached it: names PathFinder looked for on a search
    path and did not find (import probes: `try: import simplejson`), with
    that path.  The archive records them, so that a shared start answers
    "not found" for PathFinder without searching again."""

    probed: dict[tuple[str, tuple[str, ...]], None] = {}

    @classmethod
    def find_spec(cls, fullname: str, path: object = None,
                  target: object = None) -> None:
        search = sys.path if path is None else path
        try:
            entries = tuple(search)
        except TypeError:
            return None
        if all(isinstance(entry, str) for entry in entries):
            cls.probed.setdefault((fullname, entries), None)
        return None

    @classmethod
    def invalidate_caches(cls) -> None:
        pass


def watch_imports() -> None:
    """Note the order imports start in, and the names PathFinder does not
    find.  (A tracing run shares nothing: PathFinder is its own.)"""
    _own_path[:] = sys.path
    _own_builtins.update(vars(builtins))
    sys.meta_path.insert(0, ImportOrder)
    if PathFinder in sys.meta_path:
        sys.meta_path.insert(sys.meta_path.index(PathFinder) + 1, AbsentNames)


def absent_names(found: set[str]) -> list[tuple[str, list[str]]]:
    """(name, search path) of each name PathFinder did not find, in the
    order they were first looked for, but for those the run imported from
    a file after all (one that appeared meanwhile).  A name a later finder
    found (six.moves, say) stays: PathFinder's answer was still "not
    found"."""
    result = []
    for (name, entries) in AbsentNames.probed:
        if name not in found:
            result.append((name, [os.path.abspath(entry) for entry in entries]))
    return result


def imported_modules() -> list[tuple[str, str, bool]]:
    """(name, origin, is_package) of every module loaded from a file, in
    the order their imports started."""
    found: dict[str, tuple[str, str, bool]] = {}
    for key, module in list(sys.modules.items()):
        try:  # what a module replaced itself with may answer anything
            spec = getattr(module, "__spec__", None)
        except Exception:
            continue
        if not isinstance(spec, ModuleSpec) or not isinstance(spec.loader, ARCHIVABLE):
            continue
        if not isinstance(spec.origin, str) or not spec.has_location:
            continue
        # `python -m pkg.mod` keeps the module as __main__; archive its name.
        name = spec.name if key == "__main__" else key
        if name != spec.name or name in found or name.split(".")[0] == "pycds":
            continue  # pycds itself is imported before it can serve imports
        found[name] = (name, spec.origin,
                       spec.submodule_search_locations is not None)
    # Modules imported before tracing began keep their sys.modules order.
    order = {name: i for i, name in enumerate(found)}
    late = len(order)
    return sorted(found.values(),
                  key=lambda m: (ImportOrder.started.get(m[0], -1) + late
                                 if m[0] in ImportOrder.started else order[m[0]]))


def record(list_path: str) -> int:
    """Append this run's modules and sys.path to the list; the number of
    modules.  Collects before importing anything itself."""
    with OwnBuiltins():
        modules = imported_modules()
        absent = absent_names({name for name, _, _ in modules})
        with OwnSearchPath():
            from . import _listfile

        path = search_path(sys.path)
        indexes = [ImportOrder.path_index(name) for name, _, _ in modules]
        started_on = [path if at is None else ImportOrder.paths[at]
                      for at in indexes]
        _listfile.append(list_path, _listfile.format_run(path, modules, absent,
                                                         started_on))
        return len(modules)


# sys.path when tracing began: pycds's own imports at exit are found on
# it, whatever the program left there (an emptied sys.path would otherwise
# lose the trace).
_own_path: list[object] = []


class OwnSearchPath:
    """`with OwnSearchPath():` pycds imports its own modules at exit (once
    the run's modules are collected, so they are not traced) on the
    search path tracing began with; the program's is put back after."""

    def __enter__(self) -> None:
        self.program_path = sys.path
        sys.path = list(_own_path)

    def __exit__(self, *exc_info: object) -> None:
        sys.path = self.program_path


# The builtins when tracing began: pycds's code at exit (the tracer's, the
# list writer's, AUTO's dumper's) calls sorted, len, open... by name, and a
# program that replaced one of them must not lose its trace or change it.
_own_builtins: dict[str, object] = {}
_ABSENT = object()


class OwnBuiltins:
    """`with OwnBuiltins():` the builtins tracing began with are in place;
    the program's, replaced, added or deleted, are put back after."""

    def __enter__(self) -> None:
        now = vars(builtins)
        self.program: dict[str, object] = {}
        if not _own_builtins:  # tracing never began: nothing to put back
            return
        for name in set(now) | set(_own_builtins):
            value = now.get(name, _ABSENT)
            own = _own_builtins.get(name, _ABSENT)
            if value is own:
                continue
            self.program[name] = value
            if own is _ABSENT:
                del now[name]
            else:
                now[name] = own

    def __exit__(self, *exc_info: object) -> None:
        now = vars(builtins)
        for name, value in self.program.items():
            if value is _ABSENT:
                now.pop(name, None)
            else:
                now[name] = value


class KeptInterruptStatus:
    """`with KeptInterruptStatus():` around work at exit.  A program ended
    by an uncaught KeyboardInterrupt exits by SIGINT (status 130), which
    python notes when the program's code raised it; running code from a
    string at exit (an import whose body does: namedtuple, dataclasses)
    clears the note, and the process would exit with status 1.  The note
    is made again after the work, the way python makes it: a string's code
    that raises KeyboardInterrupt."""

    def __enter__(self) -> None:
        self.interrupted = isinstance(getattr(sys, "last_value", None), KeyboardInterrupt)

    def __exit__(self, *exc_info: object) -> None:
        if self.interrupted:
            try:
                exec("raise KeyboardInterrupt", {})
            except KeyboardInterrupt:
                pass


def write_trace(list_path: str) -> None:
    with OwnBuiltins(), KeptInterruptStatus():  # (the builtins first: it calls some)
        try:
            count = record(list_path)
            _log.say(f"traced {count} modules into {list_path}")
        except Exception as error:  # never change the program's own outcome
            _log.say(f"trace not written: {error}")


def install(list_path: str) -> None:
    watch_imports()
    atexit.register(write_trace, list_path)
    _log.say(f"tracing imports into {list_path}")

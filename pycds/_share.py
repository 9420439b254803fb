"""PYCDSMODE=SHARE: map the archive and put pycds's finder on sys.meta_path,
in PathFinder's place.

The finder and loaders are in C (pycds/ext/finder.c): for an archived module
the finder serves the archived code only for the file plain importing would
find, unchanged; for a name the traced run did not find, it answers "not
found" while the directories it was looked for in are unchanged; everything
else is PathFinder's.
"""

import builtins
import sys
import time

# importlib.machinery would import importlib and warnings at every start; the
# import system's own module is loaded already.
from _frozen_importlib_external import PathFinder

from . import _cds, _log


BuiltinFunctionType = type(len)


def statement_hook() -> str | None:
    """Which of the functions class and import statements call a program
    replaced in builtins (a hook that logs or changes every class or
    import), or None: a body that runs calls it, a restore (which makes its
    classes by type.__new__ and loads itself) would not, or not alike."""
    for name in ("__build_class__", "__import__"):
        found = builtins.__dict__.get(name)
        if not (type(found) is BuiltinFunctionType and found.__self__ is builtins
                and found.__name__ == name):
            return f"builtins.{name} is replaced"
    return None


# pycds/_snapshot_restore.py's restore, once _restore_first loaded it.
_restore_unit = None


def _restore(module: object, code: object, unit: object) -> bool:
    """The restorer once one unit was used (_restore_first)."""
    if unit is not None:
        hooked = statement_hook()
        if hooked is not None:
            _log.say(f"snapshot: {module.__name__}: code ({hooked})")  # type: ignore[attr-defined]
            return False
    return _restore_unit(module, code, unit)  # type: ignore[misc]


def _restore_first(module: object, code: object, unit: object) -> bool:
    """The restorer until a unit is used: what it costs to load is paid by
    the processes that restore one, and only for a unit that the dump found
    pays for it (with the units of the modules its import imports):
    `import json` from an archive made for boto3 runs json's bodies."""
    global _restore_unit
    name = module.__name__  # type: ignore[attr-defined]
    watching = _cds.observer() or statement_hook()
    if watching is not None:  # the body runs, for it to see (the restore's too)
        if unit is not None:
            _log.say(f"snapshot: {name}: code ({watching})")
        return False
    if unit is not None and not _cds.unit_starts(name):
        _log.say(f"snapshot: {name}: code (its units would not pay for loading the restore)")
        return False
    # A unit that starts, or a module with none whose import's units pay
    # (unit None: its body runs, the units it imports restore).
    from . import _snapshot_restore
    _restore_unit = _snapshot_restore.restore
    _cds.set_restorer(_restore)
    _cds.set_import_memo(_snapshot_restore.import_memo)
    return _snapshot_restore.restore(module, code, unit)


def install(archive_path: str) -> str:
    """Map the archive and put the finder in PathFinder's place.  Returns
    "shared", or why not: "refused" (missing, damaged, foreign, made under
    other code settings: one line at PYCDSVERBOSE>=1; share_open checks it
    all before it installs anything, and unmaps what it refuses), "untrusted" (others could write it) or "error"."""
    start = time.perf_counter_ns()
    validate = _cds.variable("PYCDSVALIDATE").strip().lower() or "mtime"
    try:
        info = _cds.share_open(archive_path, verbose=_log.level(),
                               validate=validate)
    except ValueError as error:  # an unknown PYCDSVALIDATE
        _log.say(f"not sharing: {error}")
        return "error"
    except _cds.ArchiveError as error:
        _log.say(f"archive refused: {error}")
        untrusted = error.status == _cds.STATUS_UNTRUSTED
        return "untrusted" if untrusted else "refused"
    except Exception as error:
        _log.say(f"archive refused: {error}")
        return "error"
    # The finder stands in for PathFinder: it answers for it where the
    # archive proves the answer, asks it everywhere else, and the finders
    # after it still run.  Without PathFinder there is nothing to serve.
    try:
        position = sys.meta_path.index(PathFinder)
    except ValueError:
        _log.say("archive not used: PathFinder is not on sys.meta_path")
        return "error"
    sys.meta_path[position] = _cds.ArchiveFinder()
    if info.get("units") and (_cds.variable("PYCDSSNAPSHOT") or "").strip() != "0":
        # The archive's snapshot units restore modules instead of running
        # their bodies (pycds/_snapshot_restore.py, imported at the first).
        _cds.set_restorer(_restore_first)
    elapsed = (time.perf_counter_ns() - start) / 1000
    _log.say(f"archive mapped: {archive_path} at {info['address']:#x} "
             f"(delta {info['delta']:#x}), {info['modules']} modules"
             + (f", {elapsed:.0f} us" if _log.level() >= 2 else ""))
    return "shared"

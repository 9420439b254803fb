"""PYCDSMODE=TRACE: record the modules a run imports from source or .pyc
files, at exit, into the list named by PYCDSLIST."""

from __future__ import annotations

import atexit
import os
import sys
# Not importlib.machinery: it would import (and so trace) importlib and
# warnings in programs that do not.
from _frozen_importlib_external import SourceFileLoader, SourcelessFileLoader

from . import _log

# Loaders whose modules pycds can archive (the share side's loaders
# subclass these, so a traced run that also shares is recorded too).
ARCHIVABLE = (SourceFileLoader, SourcelessFileLoader)


def imported_modules() -> list[tuple[str, str, bool]]:
    """(name, origin, is_package) of every module loaded from a file."""
    found: dict[str, tuple[str, str, bool]] = {}
    for key, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        if spec is None or not isinstance(spec.loader, ARCHIVABLE):
            continue
        if not isinstance(spec.origin, str) or not spec.has_location:
            continue
        # `python -m pkg.mod` keeps the module as __main__; archive its name.
        name = spec.name if key == "__main__" else key
        if name != spec.name or name in found or name.split(".")[0] == "pycds":
            continue  # pycds itself is imported before it can serve imports
        found[name] = (name, spec.origin,
                       spec.submodule_search_locations is not None)
    return list(found.values())


def write_trace(list_path: str) -> None:
    try:
        modules = imported_modules()
        from . import _listfile  # only now: its imports must not be traced

        # '' and relative entries mean the run's working directory.
        path = [os.path.abspath(entry) if isinstance(entry, str) else entry
                for entry in sys.path]
        _listfile.append(list_path, _listfile.format_run(path, modules))
        _log.say(f"traced {len(modules)} modules into {list_path}")
    except Exception as error:  # never change the program's own outcome
        _log.say(f"trace not written: {error}")


def install(list_path: str) -> None:
    atexit.register(write_trace, list_path)
    _log.say(f"tracing imports into {list_path}")

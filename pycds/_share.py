"""PYCDSMODE=SHARE: serve imports from the archive.

A meta-path finder, placed just before PathFinder, answers for archived
modules.  It finds each module exactly as plain importing would (PathFinder
itself, so sys.path order, shadowing, the parent's __path__, namespace and
regular packages are all honoured) and only then swaps in a loader that gets
the code object from the archive instead of reading and unmarshalling a
.pyc.  The archived code is used only if the module would come from the same
file, and that file still has the size and modification time it had when the
archive was made; otherwise the module is imported plainly.

The loaders subclass SourceFileLoader and SourcelessFileLoader, so that
get_source, get_data, get_filename, is_package, get_resource_reader and the
module's attributes are those of plain importing.
"""

from __future__ import annotations

import os
import sys
import time
from importlib.machinery import (ModuleSpec, PathFinder, SourceFileLoader,
                                 SourcelessFileLoader)

from . import _cds, _log, _meta


def _archived_code(loader: object, fullname: str) -> object:
    """The archived code for the loader's module, or None to load plainly."""
    number = loader._pycds_number
    if fullname != loader.name or number is None:
        return None
    loader._pycds_number = None  # a later get_code (reload) validates anew
    start = time.perf_counter_ns()
    try:
        code = _cds.share_code(number)
    except Exception as error:  # refused module: never fail the import
        _log.say(f"fallback {fullname}: {error}")
        return None
    if code is None:
        _log.say(f"fallback {fullname}: not served in this state")
        return None
    if _log.level() >= 2:
        elapsed = (time.perf_counter_ns() - start) / 1000
        _log.say(f"hit {fullname} ({elapsed:.1f} us)", 2)
    else:
        _log.say(f"hit {fullname}")
    return code


class ArchivedSourceLoader(SourceFileLoader):
    """SourceFileLoader whose get_code comes from the archive."""

    _pycds_number: int | None = None

    def get_code(self, fullname: str) -> object:
        code = _archived_code(self, fullname)
        return code if code is not None else super().get_code(fullname)


class ArchivedSourcelessLoader(SourcelessFileLoader):
    """SourcelessFileLoader whose get_code comes from the archive."""

    _pycds_number: int | None = None

    def get_code(self, fullname: str) -> object:
        code = _archived_code(self, fullname)
        return code if code is not None else super().get_code(fullname)


_ARCHIVED_LOADERS = {
    SourceFileLoader: ArchivedSourceLoader,
    SourcelessFileLoader: ArchivedSourcelessLoader,
}


class ArchiveFinder:
    """The meta-path finder for archived modules."""

    @classmethod
    def find_spec(cls, fullname: str, path: object = None,
                  target: object = None) -> ModuleSpec | None:
        record = _cds.share_lookup(fullname)
        if record is None:
            return None  # not archived: PathFinder, next in line, answers
        number, origin, is_package, mtime_ns, size, _ = record
        spec = PathFinder.find_spec(fullname, path, target)
        if spec is None:
            _log.say(f"fallback {fullname}: no longer found")
            return None
        archived = _ARCHIVED_LOADERS.get(type(spec.loader))
        if archived is None or spec.origin != origin:
            _log.say(f"fallback {fullname}: now found at {spec.origin}")
            return spec
        if (spec.submodule_search_locations is not None) != is_package:
            _log.say(f"fallback {fullname}: package or module changed")
            return spec
        try:
            st = os.stat(origin)
        except OSError as error:
            _log.say(f"fallback {fullname}: {error}")
            return spec
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            _log.say(f"fallback {fullname}: {origin} changed since the dump")
            return spec
        loader = archived(fullname, origin)
        loader._pycds_number = number
        spec.loader = loader
        return spec

    @classmethod
    def invalidate_caches(cls) -> None:
        pass


def install(archive_path: str) -> bool:
    """Map the archive and put the finder before PathFinder; False (and one
    line at PYCDSVERBOSE>=1) when the archive is refused."""
    start = time.perf_counter_ns()
    try:
        info = _cds.share_open(archive_path)
    except Exception as error:
        _log.say(f"archive refused: {error}")
        return False
    reason = _meta.mismatch(_cds.share_user())
    if reason is not None:
        # The mapping stays (it is small and inert); nothing is served.
        _log.say(f"archive refused: {archive_path}: {reason}")
        return False
    try:
        position = sys.meta_path.index(PathFinder)
    except ValueError:
        position = len(sys.meta_path)
    sys.meta_path.insert(position, ArchiveFinder)
    elapsed = (time.perf_counter_ns() - start) / 1000
    _log.say(f"archive mapped: {archive_path} at {info['address']:#x} "
             f"(delta {info['delta']:#x}), {info['modules']} modules"
             + (f", {elapsed:.0f} us" if _log.level() >= 2 else ""))
    return True

"""PYCDSMODE=SHARE: map the archive and put pycds's finder on sys.meta_path.

The finder and loaders are in C (pycds/ext/finder.c): for an archived module
the finder asks PathFinder where plain importing would find it, and serves
the archived code only for that same, unchanged file; everything else is
imported plainly.
"""

import os
import sys
import time

# importlib.machinery would import importlib and warnings at every start; the
# import system's own module is loaded already.
from _frozen_importlib_external import PathFinder

from . import _cds, _log, _meta


def install(archive_path: str) -> str:
    """Map the archive and put the finder just before PathFinder.  Returns
    "shared", or why not: "refused" (missing, damaged, foreign: one line at
    PYCDSVERBOSE>=1), "untrusted" (others could write it) or "error"."""
    start = time.perf_counter_ns()
    validate = os.environ.get("PYCDSVALIDATE", "mtime").strip().lower() or "mtime"
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
    reason = _meta.mismatch(_cds.share_user())
    if reason is not None:
        # The mapping stays (it is inert); nothing is served from it.
        _log.say(f"archive refused: {archive_path}: {reason}")
        return "refused"
    try:
        position = sys.meta_path.index(PathFinder)
    except ValueError:
        position = len(sys.meta_path)
    sys.meta_path.insert(position, _cds.ArchiveFinder())
    elapsed = (time.perf_counter_ns() - start) / 1000
    _log.say(f"archive mapped: {archive_path} at {info['address']:#x} "
             f"(delta {info['delta']:#x}), {info['modules']} modules"
             + (f", {elapsed:.0f} us" if _log.level() >= 2 else ""))
    return "shared"

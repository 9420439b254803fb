"""PYCDSMODE=AUTO: share the archive if there is a good one; otherwise run
plainly, and at exit trace what was imported and write the archive, so that
the next run shares it.  Made for platforms that start the same program
many times (FaaS, CLI tools).

Of several first runs at once, exactly one writes (an exclusive,
non-blocking lock on ARCHIVE.lock; the others skip at once), and the archive
appears whole or not at all (temporary file, then rename).  Nothing here can
change the program's output or exit status: problems are one line at
PYCDSVERBOSE>=1.
"""

from __future__ import annotations

import _signal
import atexit
import fcntl
import os
import stat
import tempfile

from . import _cds, _log, _share

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def install(archive_path: str) -> None:
    archive_path = os.path.abspath(archive_path)
    verdict = _share.install(archive_path)
    if verdict == "shared":
        return
    if verdict == "untrusted":
        # Someone else could write there: neither load nor write archives.
        return
    from . import _trace

    _trace.watch_imports()
    # The tracer's module, held: at exit the program may have left no way
    # to import it (builtins.__import__ replaced, sys.modules cleared).
    atexit.register(write_archive, archive_path, os.getpid(), _trace)
    _log.say(f"auto: no usable archive at {archive_path}; "
             "it is written at exit")


def usable_archive(archive_path: str) -> bool:
    """Whether a good archive for this interpreter and these settings is
    there now (one that another first run wrote while this one ran)."""
    from . import _cds

    try:
        with _cds.Archive(archive_path) as archive:
            return _cds.settings_mismatch(archive.user()) is None
    except Exception:
        return False


def write_archive(archive_path: str, started_as: int, tracer: Any) -> None:
    """At exit: trace and dump, with the builtins the run began with (the
    program may have replaced the ones pycds's code calls by name).  Not
    in a forked child that exits through atexit while the process that
    started lives (a worker pool's): that one writes the archive.  A
    daemon's child, whose parent left at once, writes it."""
    if os.getpid() != started_as and os.getppid() == started_as:
        # (A parent that exited, even unreaped, has handed its children on.)
        return
    with tracer.OwnBuiltins(), tracer.KeptInterruptStatus():
        trace_and_dump(archive_path)


class _Stopped(BaseException):
    """SIGTERM while the archive was being written at exit (no Exception:
    nothing on the way may take it for a failure and go on)."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped(f"stopped by signal {signum}")


def trace_and_dump(archive_path: str) -> None:
    """Trace and dump under ARCHIVE.lock.  The program has finished: a
    SIGTERM (a platform stopping the container) or Ctrl-C now stops the
    dump, which removes what it made (its planning process, temporary
    files), and the process exits as the program left it; a plain process
    would have been gone already.  A program's own SIGTERM handler stays."""
    previous = None
    if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
        previous = _signal.signal(_signal.SIGTERM, _stopped)
    try:
        _trace_and_dump(archive_path)
    except (_Stopped, KeyboardInterrupt) as error:
        _log.say(f"auto: archive not written: {error or 'interrupted'}")
    finally:
        if previous is not None:
            _signal.signal(_signal.SIGTERM, previous)


def _trace_and_dump(archive_path: str) -> None:
    try:
        # Non-blocking: a FIFO there must not hold the program's exit.
        lock_fd = os.open(archive_path + ".lock", os.O_WRONLY | os.O_CREAT
                          | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    except OSError as error:
        _log.say(f"auto: archive not written: {error}")
        return
    if not stat.S_ISREG(os.fstat(lock_fd).st_mode):
        os.close(lock_fd)
        _log.say(f"auto: archive not written: {archive_path}.lock is not a regular file")
        return
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _log.say("auto: another process is writing the archive")
            return
        if usable_archive(archive_path):
            _log.say("auto: another process has written the archive")
            return
        fd, listing = tempfile.mkstemp(prefix=".pycds-", suffix=".lst",
                                       dir=os.path.dirname(archive_path))
        os.close(fd)
        os.unlink(listing)  # _listfile.append creates it with its header
        from . import _trace

        try:
            _trace.record(listing)  # before the dumper's own imports
            # The dumper's imports, on the path tracing began with.
            with _trace.OwnSearchPath():
                from . import _dump

                snapshot = (_cds.variable("PYCDSSNAPSHOT") or "").strip() == "1"
                result = _dump.dump(listing, archive_path, snapshot=snapshot)
        finally:
            if os.path.exists(listing):
                os.unlink(listing)
        _log.say(f"auto: {result.summary().splitlines()[0]}")
    except Exception as error:  # never change the program's outcome
        _log.say(f"auto: archive not written: {error}")
    finally:
        os.close(lock_fd)

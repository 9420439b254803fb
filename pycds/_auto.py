"""PYCDSMODE=AUTO: share the archive if there is a good one; otherwise run
plainly, and at exit trace what was imported and write the archive, so that
the next run shares it.  Made for platforms that start the same program
many times (FaaS, CLI tools).

Of several first runs at once, exactly one writes (an exclusive,
non-blocking lock on ARCHIVE.lock; the others skip at once), and the archive
appears whole or not at all (temporary file, then rename).  A write that
failed for its place (a full disk, a directory in the archive's place: an
OSError or ArchiveError, not a refusal of this process such as a trace
function set) leaves ARCHIVE.failed, and runs in the next
RETRY_AFTER_FAILURE seconds do not trace or write: each would pay the
whole dump at exit for nothing.
Nothing here can change the program's output or exit status: problems are
one line at PYCDSVERBOSE>=1.
"""

from __future__ import annotations

import _signal
import atexit
import fcntl
import os
import stat
import tempfile
import time

from . import _cds, _log, _share

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# How long after a failed write (ARCHIVE.failed's time) runs neither trace
# nor write: a platform starts thousands of processes in that time, and a
# full disk or a directory in the archive's place does not go away on its
# own.  Removing ARCHIVE.failed makes the next run try at once.
RETRY_AFTER_FAILURE = 600


def failure_note(archive_path: str) -> str:
    return archive_path + ".failed"


def install(archive_path: str) -> None:
    archive_path = os.path.abspath(archive_path)
    verdict = _share.install(archive_path)
    if verdict == "shared":
        return
    if verdict == "untrusted":
        # Someone else could write there: neither load nor write archives.
        return
    failed_ago = _failed_ago(archive_path)
    if failed_ago is not None:
        _log.say(f"auto: no archive written at exit: the last write failed "
                 f"{failed_ago:.0f} s ago ({failure_note(archive_path)}); "
                 f"the next try is {RETRY_AFTER_FAILURE} s after it")
        return
    from . import _trace

    _trace.watch_imports()
    # The tracer's module, held: at exit the program may have left no way
    # to import it (builtins.__import__ replaced, sys.modules cleared).
    atexit.register(write_archive, archive_path, os.getpid(), _trace)
    _log.say(f"auto: no usable archive at {archive_path}; "
             "it is written at exit")


# A note dated later than now by more than this is not believed (a clock
# stepped back, a server's clock ahead): it would stop writing until then.
FUTURE_SLACK = 60


def _failed_ago(archive_path: str) -> float | None:
    """Seconds since a write of this archive failed, if fewer than
    RETRY_AFTER_FAILURE."""
    try:
        note = os.lstat(failure_note(archive_path))
    except OSError:
        return None
    if not stat.S_ISREG(note.st_mode):
        return None
    ago = time.time() - note.st_mtime
    if ago < -FUTURE_SLACK:
        return None
    ago = max(0.0, ago)
    return ago if ago < RETRY_AFTER_FAILURE else None


def _note_failure(archive_path: str, error: BaseException) -> None:
    """ARCHIVE.failed, dated now, with the reason when there is room for
    it: an empty file needs no data block, so a full disk still takes it.
    Where not even that can be made (a read-only directory), the failure's
    own line is all (it failed before the dump: nothing to save)."""
    try:
        fd = os.open(failure_note(archive_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                     | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, f"pycds: archive not written: {error}\n".encode(errors="replace"))
    except OSError:
        pass  # the file and its time are the note
    finally:
        os.close(fd)


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
        failed_ago = _failed_ago(archive_path)
        if failed_ago is not None:  # while this run ran: not again now
            _log.say(f"auto: archive not written: another run's write failed "
                     f"{failed_ago:.0f} s ago ({failure_note(archive_path)})")
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
        try:
            os.unlink(failure_note(archive_path))
        except OSError:
            pass
    except Exception as error:  # never change the program's outcome
        _log.say(f"auto: archive not written: {error}")
        if isinstance(error, (OSError, _cds.ArchiveError)):
            _note_failure(archive_path, error)
    finally:
        os.close(lock_fd)

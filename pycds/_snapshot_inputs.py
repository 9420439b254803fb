"""Record what each module body reads: environment variables (present or
absent), files opened, stat'ed and listed, whether it read sys.argv; and
what it does that no restore could redo (a subprocess, a socket, a file
opened for writing, a library loaded with ctypes).

sys.addaudithook sees open, os.listdir and os.scandir but neither os.stat
nor reads of os.environ (DESIGN.md section 9), so this planning process
wraps those itself: os.environ's and os.environb's class,
os.stat/os.lstat/os.access/os.readlink (which os.path.exists, isfile,
isdir, islink, getmtime, realpath... call through the os module), the
entries of os.scandir (whose is_file(), stat()... read in C), and
sys.argv.  Runs in the planning interpreter before the traced
bodies: it imports only start-up modules.
"""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False  # typing is not imported: a traced body may import it
if TYPE_CHECKING:
    from typing import Any, Callable

    from ._snapshot_schema import Inputs

# Audit events that mean a body did something a restore cannot redo.
EFFECT_EVENTS = {
    "subprocess.Popen": "ran a subprocess",
    "os.system": "ran a subprocess",
    "os.posix_spawn": "ran a subprocess",
    "os.fork": "forked",
    "socket.__new__": "opened a socket",
    "ctypes.dlopen": "loaded a library with ctypes",
    "os.chdir": "changed the working directory",
    # its files are opened and read in C, where the open event is not raised
    "sqlite3.connect": "opened a database with sqlite3",
}
# Audit events of changes to the file system (and signals sent): a restore
# would not redo them, and what the body read after them (a lock file it
# removed, a directory it made) would be the dump's.  The import system's
# own (writing bytecode: __pycache__ made, a .pyc renamed into place) are
# not a body's.
FILE_EFFECT_EVENTS = {
    "os.remove": "removed",
    "os.rename": "renamed",
    "os.mkdir": "made the directory",
    "os.rmdir": "removed the directory",
    "os.chmod": "changed the mode of",
    "os.chown": "changed the owner of",
    "os.link": "linked",
    "os.symlink": "made a symbolic link to",
    "os.truncate": "truncated",
    "os.utime": "set the times of",
    "os.setxattr": "set an extended attribute of",
    "os.removexattr": "removed an extended attribute of",
    "os.kill": "sent a signal to process",
    "os.killpg": "sent a signal to process group",
}
# os's sets of functions by what they accept (os.supports_dir_fd...).
SUPPORTS_SETS = ("supports_dir_fd", "supports_fd", "supports_follow_symlinks",
                 "supports_effective_ids")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def new_inputs() -> Inputs:
    return {"env": {}, "env_listed": False, "opened": [], "stat": {},
            "stat_full": [], "listed": [], "argv_read": False}


# The functions of os.path that ask os.stat/os.lstat only what a path is
# (absent, a directory, a file, a symbolic link and where it points):
# a path only they looked at is checked by its kind at restore, not by
# its size and time, which a busy directory (/tmp) changes all the time.
KIND_ONLY = {("genericpath", "exists"), ("genericpath", "lexists"),
             ("genericpath", "isfile"), ("genericpath", "isdir"),
             ("genericpath", "islink"), ("posixpath", "lexists"),
             ("posixpath", "islink"), ("posixpath", "realpath"),
             ("posixpath", "_joinrealpath")}


class InputRecorder:
    """Records into `current` (the running body's Inputs) and `effects`
    (its refusal reasons), which the caller swaps at each body boundary.
    `paused` stops recording while the import machinery or the planner
    itself works."""

    def __init__(self) -> None:
        self.current: Inputs = new_inputs()
        self.effects: list[str] = []
        self.paused = 1
        self._stat = os.stat
        self._lstat = os.lstat
        self._access = os.access
        self._readlink = os.readlink
        self._scandir = os.scandir

    def install(self) -> None:
        sys.addaudithook(self._audit)
        # os.environ and os.environb (os.getenvb) are two views of one
        # environment, of one class.
        recording = _environ_class(os.environ.__class__, self)
        os.environ.__class__ = recording
        if hasattr(os, "environb"):
            os.environb.__class__ = recording
        os.stat = self._wrap(self._stat)  # type: ignore[assignment]
        os.lstat = self._wrap(self._lstat)  # type: ignore[assignment]
        os.access = self._wrap(self._access)  # type: ignore[assignment]
        # A link's target: a path read by it is checked with its target.
        os.readlink = self._wrap(self._readlink)  # type: ignore[assignment]
        # os.walk, glob, pathlib and shutil call it through the os module.
        os.scandir = self._wrap_scandir(self._scandir)  # type: ignore[assignment]
        # A body may ask whether a function is one that takes a directory
        # descriptor (shutil's rmtree turns its protection against symlink
        # attacks on that way): the wrappers answer as the real ones.
        for real, wrapper in ((self._stat, os.stat), (self._lstat, os.lstat),
                              (self._access, os.access),
                              (self._readlink, os.readlink),
                              (self._scandir, os.scandir)):
            for name in SUPPORTS_SETS:
                functions = getattr(os, name, None)
                if isinstance(functions, set) and real in functions:
                    functions.add(wrapper)
        # The program's command line, whole or as -X options: what a trace
        # does not record.
        sys.argv = _ArgvList(sys.argv, self)
        sys.orig_argv = _ArgvList(sys.orig_argv, self)
        sys._xoptions = _XOptions(sys._xoptions, self)

    def aliases(self) -> dict[int, tuple[Any, ...]]:
        """What install() put in the place of real objects, by id, with
        the witness of the real one: a unit names what a restored process
        has (pycds/_snapshot_restore.py's witness)."""
        from ._snapshot_restore import witness
        base = type(os.environ).__mro__[1]
        environ = (f"{base.__module__}.{base.__qualname__}", None)
        aliases = {id(os.stat): witness(self._stat), id(os.lstat): witness(self._lstat),
                   id(os.access): witness(self._access),
                   id(os.readlink): witness(self._readlink),
                   id(os.scandir): witness(self._scandir),
                   id(sys.argv): witness([]), id(sys.orig_argv): witness([]),
                   id(sys._xoptions): witness({}), id(os.environ): environ}
        if hasattr(os, "environb"):
            aliases[id(os.environb)] = environ
        return aliases

    def _wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                result = real(path, *args, **kwargs)
            except OSError:
                recorder.note_stat(path, False)
                raise
            recorder.note_stat(path, True)
            return result
        wrapper.__name__ = real.__name__
        wrapper.__qualname__ = real.__name__
        wrapper.__doc__ = real.__doc__
        return wrapper

    def _wrap_scandir(self, real: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        def scandir(*args: Any, **kwargs: Any) -> Any:
            entries = real(*args, **kwargs)
            path = args[0] if args else kwargs.get("path")
            if recorder.paused or isinstance(path, int):
                # (A descriptor's entries name no path; a body opens one
                # with os.open, and is refused for reading a directory.)
                return entries
            return NotingScandir(entries, recorder)
        scandir.__name__ = scandir.__qualname__ = real.__name__
        scandir.__doc__ = real.__doc__
        return scandir

    def note_entry(self, path: Any, full: bool) -> None:
        """A body asked an os.scandir entry its kind (full False:
        is_dir(), is_file(), is_symlink(), is_junction()) or its stat
        (stat(), inode()): noted as os.path.isdir or os.stat note a path."""
        if self.paused:
            return
        name = os.path.abspath(os.fsdecode(path))
        self.current["stat"].setdefault(name, True)
        if full and name not in self.current["stat_full"]:
            self.current["stat_full"].append(name)

    def note_stat(self, path: Any, exists: bool) -> None:
        """A stat of path by the wrapper's caller, noted as full unless that
        caller asks only the path's kind (KIND_ONLY)."""
        if self.paused or isinstance(path, int):
            return
        key = os.fsdecode(path) if isinstance(path, (str, bytes)) else str(path)
        name = os.path.abspath(key)
        self.current["stat"].setdefault(name, exists)
        caller = sys._getframe(2)  # past this method and the wrapper
        if ((caller.f_globals.get("__name__"), caller.f_code.co_name) not in KIND_ONLY
                and name not in self.current["stat_full"]):
            self.current["stat_full"].append(name)

    def note_env(self, name: Any, value: Any) -> None:
        if not self.paused:
            key = os.fsdecode(name) if isinstance(name, (str, bytes)) else repr(name)
            if key not in self.current["env"]:
                self.current["env"][key] = (None if value is None else
                                            os.fsdecode(value))

    def note_env_listed(self) -> None:
        if not self.paused:
            self.current["env_listed"] = True

    def note_argv(self) -> None:
        if not self.paused:
            self.current["argv_read"] = True

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if self.paused:
            return
        if event in ("open", "os.listdir", "os.scandir") and _from_importlib():
            return
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if isinstance(path, int) or path is None:
                return
            name = os.path.abspath(os.fsdecode(path))
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")
                      ) or (isinstance(flags, int) and flags & WRITE_FLAGS)
            if writes:
                self.effects.append(f"opened {name} for writing")
            elif not _plain_file(name, self._stat):
                # A device (/dev/urandom: every restored process would
                # share the bytes) or a kernel file (/proc, /sys): what it
                # reads changes with no change of size or time.
                self.effects.append(f"read {name}, which is no regular file")
            elif name not in self.current["opened"]:
                self.current["opened"].append(name)
        elif event in ("os.listdir", "os.scandir"):
            path = args[0] if args else "."
            if isinstance(path, int):
                return
            name = os.path.abspath(os.fsdecode(path if path is not None else "."))
            if name not in self.current["listed"]:
                self.current["listed"].append(name)
        elif event in EFFECT_EVENTS:
            self.effects.append(f"{EFFECT_EVENTS[event]} ({event})")
        elif event in FILE_EFFECT_EVENTS and not _from_importlib():
            target = args[0] if args else None
            if isinstance(target, (str, bytes)):
                target = os.path.abspath(os.fsdecode(target))
            self.effects.append(f"{FILE_EFFECT_EVENTS[event]} {target} ({event})")


# os.scandir's entries answer is_file(), stat() and the rest from C, past
# the wrapped os.stat: a body that sums the sizes of a data directory's
# files reads each file's state, which the directory's listing does not
# show.  Each entry is noted as the body reads it: a kind question as
# os.path.isdir's (checked by kind), stat() and inode() as os.stat's
# (by size, time and inode).  Treating every entry of a scanned directory
# as stat'ed would be as exact, but would check at every restore files
# whose state the body never read (pathlib's iterdir scans for names only)
# and refuse the unit when any of them is written.  The entries and their
# iterator stand in for posix's, whose classes cannot be subclassed: type()
# tells them apart, isinstance(entry, os.DirEntry) holds; a unit that keeps
# one is refused as it would be for the real one (_snapshot_objects.py's
# STAND_INS).
class NotingScandir:
    """os.scandir's iterator in a body; its entries are NotingEntry."""

    __slots__ = ("_entries", "_recorder")

    def __init__(self, entries: Any, recorder: InputRecorder) -> None:
        self._entries = entries
        self._recorder = recorder

    def __iter__(self) -> NotingScandir:
        return self

    def __next__(self) -> NotingEntry:
        return NotingEntry(next(self._entries), self._recorder)

    def __enter__(self) -> NotingScandir:
        self._entries.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        return self._entries.__exit__(*exc_info)

    def close(self) -> None:
        self._entries.close()


class NotingEntry:
    """An os.DirEntry that notes what the body asks of it (note_entry)."""

    __slots__ = ("_entry", "_recorder")

    def __init__(self, entry: Any, recorder: InputRecorder) -> None:
        self._entry = entry
        self._recorder = recorder

    @property
    def __class__(self) -> type:  # type: ignore[override]
        return os.DirEntry

    @property
    def name(self) -> Any:
        return self._entry.name

    @property
    def path(self) -> Any:
        return self._entry.path

    def __fspath__(self) -> Any:
        return self._entry.path

    def __repr__(self) -> str:
        return repr(self._entry)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self._entry.__reduce_ex__(protocol)  # raises, as DirEntry's

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        self._recorder.note_entry(self._entry.path, False)
        return self._entry.is_dir(follow_symlinks=follow_symlinks)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        self._recorder.note_entry(self._entry.path, False)
        return self._entry.is_file(follow_symlinks=follow_symlinks)

    def is_symlink(self) -> bool:
        self._recorder.note_entry(self._entry.path, False)
        return self._entry.is_symlink()

    def stat(self, *, follow_symlinks: bool = True) -> Any:
        self._recorder.note_entry(self._entry.path, True)
        return self._entry.stat(follow_symlinks=follow_symlinks)

    def inode(self) -> int:
        self._recorder.note_entry(self._entry.path, True)
        return self._entry.inode()

    if hasattr(os.DirEntry, "is_junction"):  # 3.12+
        def is_junction(self) -> bool:
            self._recorder.note_entry(self._entry.path, False)
            return self._entry.is_junction()


def _plain_file(path: str, real_stat: Callable[..., Any]) -> bool:
    """Whether path is a regular file outside the kernel's trees (or none:
    a missing file is an input like any other); real_stat: os.stat, not the
    recorder's."""
    if path.startswith(("/proc/", "/sys/", "/dev/")):
        return False
    try:
        return stat.S_ISREG(real_stat(path).st_mode)
    except OSError:
        return True


def _from_importlib() -> bool:
    """Whether the import system itself (finders listing directories,
    loaders reading code) is the caller: the three innermost Python frames
    are all frozen importlib's.  pkgutil.get_data or importlib.resources
    called by a body have a frame of their own among them."""
    frame = sys._getframe(2)  # skip this function and the audit hook
    for _ in range(3):
        if frame is None:
            return True
        if not frame.f_code.co_filename.startswith("<frozen importlib"):
            return False
        frame = frame.f_back
    return True


def _noting(base: type, readers: tuple[str, ...]) -> type:
    """A subclass of list or dict whose `readers` note, before answering,
    that a body read the program's arguments (sys.argv, sys.orig_argv,
    sys._xoptions): made with (items, recorder)."""
    def noting(name: str) -> Callable[..., Any]:
        real = getattr(base, name)

        def read(self: Any, *args: Any, **kwargs: Any) -> Any:
            self._recorder.note_argv()
            return real(self, *args, **kwargs)
        read.__name__ = name
        return read

    def __init__(self: Any, items: Any, recorder: InputRecorder) -> None:
        base.__init__(self, items)
        self._recorder = recorder

    namespace: dict[str, Any] = {name: noting(name) for name in readers}
    namespace["__init__"] = __init__
    return type(f"_Noting{base.__name__.title()}", (base,), namespace)


_ArgvList = _noting(list, ("__getitem__", "__iter__", "__len__", "__contains__"))
_XOptions = _noting(dict, ("__getitem__", "get", "__contains__", "__iter__", "__len__",
                           "keys", "items", "values"))


def _environ_class(base: type, recorder: InputRecorder) -> type:
    """A subclass of os._Environ noting every read: os.environ keeps its
    identity (modules hold it), only its class changes.  Mapping's get,
    __contains__ and os.getenv all go through __getitem__."""

    class RecordingEnviron(base):  # type: ignore[valid-type, misc]
        # (named as its base: what the ABCs' subclasses name leaves it out)
        __pycds_planner__ = True

        def __getitem__(self, key: Any) -> Any:
            try:
                value = super().__getitem__(key)
            except KeyError:
                recorder.note_env(key, None)
                raise
            recorder.note_env(key, value)
            return value

        def __iter__(self) -> Any:
            recorder.note_env_listed()
            return super().__iter__()

        def __len__(self) -> int:
            recorder.note_env_listed()
            return super().__len__()

    RecordingEnviron.__name__ = base.__name__
    RecordingEnviron.__qualname__ = base.__qualname__
    RecordingEnviron.__module__ = base.__module__
    return RecordingEnviron

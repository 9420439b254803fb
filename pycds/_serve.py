"""python -m pycds serve: a server that has imported the preload set once
and forks a fresh copy of itself for each program (README: "Preloaded
interpreters").

The server is found by a key (librun's run_key: the interpreter, its
options, the preload set, the archive and the start-up environment), so it
computes its own key from how it was started, with the same function the
client uses.  It imports the preload set, checks that forking is safe (no
threads, no CUDA), watches every file its code came from, and then runs the
C loop (pycds/ext/server.c).  In each program's process the loop returns
the program's request, and pycds._child takes over; it never returns here.
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

from . import __version__, _cds


class ServeError(Exception):
    """The server cannot start; str() is one line."""


@dataclass(frozen=True)
class Server:
    """What the server is, and what a program's process compares itself
    against."""

    python: str
    options: tuple[str, ...]
    preload: str
    archive: str
    key: str
    socket_path: str
    # The start-up environment as bytes "NAME=value", as requests carry it.
    environment: tuple[bytes, ...]


def describe(python: str, preload: str, archive: str, socket_path: str,
             options: tuple[str, ...]) -> Server:
    environment = tuple(name + b"=" + value
                        for name, value in os.environb.items())
    key = _cds.server_key(python, list(options), preload, archive,
                          list(environment))
    if socket_path:
        socket_path = os.path.abspath(socket_path)
        directory = os.path.dirname(socket_path)
    else:
        directory = _cds.run_dir(True)
        socket_path = _cds.key_file(directory, key, "socket")
    return Server(python, options, preload, archive, key, socket_path,
                  environment)


def own_options() -> tuple[str, ...]:
    """This interpreter's options, in the client's normal form."""
    line = _cds.parse_command_line(sys.orig_argv[1:])
    return tuple(line["options"])


def server_file(server: Server, name: str) -> str:
    """The server's file called name (lock, log, pages, failed: a key of
    _cds.SERVER_FILES), beside its socket."""
    return _cds.server_file(server.socket_path, name)


def take_lock(server: Server, lock_fd: int | None) -> int:
    """The key's lock, held for the server's life: one server per key.
    Close-on-exec: a process the preloaded modules start must not keep
    it."""
    path = server_file(server, "lock")
    if lock_fd is not None:
        # Handed over by the client that started this server, locked (a
        # lock on the same open file is taken again at once); it must be
        # this key's, or the client computed another key than this server.
        st, own = os.fstat(lock_fd), os.stat(path, follow_symlinks=False)
        if (st.st_dev, st.st_ino) != (own.st_dev, own.st_ino):
            raise ServeError(f"the lock handed over is not {path}: this "
                             "server's key differs from its client's")
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.set_inheritable(lock_fd, False)
        return lock_fd
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ServeError(f"a server is already running on "
                         f"{server.socket_path}") from None
    return fd


def preload(names: str) -> float:
    """Import the preload set; the seconds it took."""
    start = time.perf_counter()
    for name in filter(None, names.split(",")):
        try:
            importlib.import_module(name)
        except BaseException as error:
            raise ServeError(f"preloading {name} failed: "
                             f"{type(error).__name__}: {error}") from error
    return time.perf_counter() - start


def thread_names() -> list[str]:
    """The threads of this process other than the main one."""
    names = []
    for task in sorted(os.listdir("/proc/self/task"), key=int):
        if int(task) == os.getpid():
            continue
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                names.append(f"{comm.read().strip()} ({task})")
        except OSError:
            names.append(task)
    return names


def check_fork_safety(allow_threads: bool) -> None:
    threads = thread_names()
    if threads and not allow_threads:
        raise ServeError(
            f"the preloaded modules started {len(threads)} thread(s): "
            f"{', '.join(threads)}; a forked program would have none of "
            "them and could deadlock on their locks; pass --allow-threads "
            "if they are harmless")
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    initialised = getattr(cuda, "is_initialized", None)
    if callable(initialised) and initialised():
        raise ServeError("CUDA is initialised in the server: a forked "
                         "program cannot use it; do not touch CUDA while "
                         "preloading")
    with open("/proc/self/maps") as maps:
        if any("libcuda.so" in line for line in maps):
            raise ServeError("the CUDA driver is loaded in the server: a "
                             "forked program cannot use it")


def module_tops() -> set[str]:
    """Top-level names of modules loaded from files on a path: what a
    program's directory could shadow."""
    tops = set()
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        if spec is None:
            continue
        if spec.has_location or spec.submodule_search_locations:
            tops.add(name.partition(".")[0])
    return tops


def watch_spec(server: Server, tops: set[str]) -> list[tuple[str, list[str]]]:
    """Each directory to watch, with the names that matter in it
    (pycds/ext/watch.h); tops: module_tops()."""
    names: dict[str, set[str]] = defaultdict(set)
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        if spec is None:
            continue
        origin = spec.origin if spec.has_location else None
        if isinstance(origin, str) and os.path.isabs(origin):
            directory, base = os.path.split(origin)
            names[directory].add(base.partition(".")[0])
        for location in spec.submodule_search_locations or ():
            if isinstance(location, str) and os.path.isdir(location):
                # A package: its own directory, and its name in its parent.
                names[location].add("__init__")
                parent, base = os.path.split(location)
                names[parent].add(base)
    # An earlier sys.path entry could come to shadow any top-level module,
    # and a new .pth file changes sys.path itself.
    for entry in sys.path:
        if isinstance(entry, str) and os.path.isdir(entry):
            names[os.path.abspath(entry)].update(tops)
            names[os.path.abspath(entry)].add("*.pth")
    # The interpreter (as started and as it really is), its libraries and
    # every other file mapped into this process, and the archive.
    files = {sys.executable, os.path.realpath(sys.executable)}
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/"):
                path = fields[5].rstrip("\n")
                if not path.endswith(" (deleted)") and \
                        not path.startswith(("/dev/", "/proc/", "/sys/")):
                    files.add(path)
    if server.archive:
        files.add(server.archive)
    for path in files:
        directory, base = os.path.split(path)
        names[directory].add("=" + base)
    return sorted((directory, sorted(rules))
                  for directory, rules in names.items()
                  if os.path.isdir(directory))


def status_fields(server: Server, log: str, seconds: float) -> dict[str, str]:
    """The status report's fields that the loop does not know (their
    names: _cds.STATUS_FIELDS)."""
    return {"pycds": __version__,
            "python": server.python,
            "options": " ".join(server.options) or "(none)",
            "preload": server.preload or "(none)",
            "archive": server.archive or "(none)",
            "preloaded in": f"{seconds:.3f} s",
            "key": server.key,
            "socket": server.socket_path,
            "log": log}


def say(message: str) -> None:
    """One line in the server's log, begun as the loop's lines are."""
    print(_cds.log_prefix() + message, file=sys.stderr, flush=True)


def changed_while_preloading(since_ns: int) -> str | None:
    """A module file changed after preloading began: the watches, set up
    only now, would not see it."""
    for module in list(sys.modules.values()):
        spec = getattr(module, "__spec__", None)
        origin = spec.origin if spec is not None and spec.has_location \
            else None
        if isinstance(origin, str):
            try:
                if os.stat(origin).st_mtime_ns >= since_ns:
                    return origin
            except OSError:
                return origin
    return None


def note_failure(server: Server, why: str) -> None:
    """Tell clients, for a minute, not to start this server again."""
    try:
        _cds.note_failure(server_file(server, "failed"), why)
    except OSError:
        pass


def serve(preload_list: str, archive: str, pool: int, idle_timeout: float,
          socket_path: str, allow_threads: bool, lock_fd: int | None,
          key_python: str | None = None) -> int:
    # Signal handlers as this interpreter started: python's own, and any
    # set before it by the C runtime (a sanitizer's).
    import signal

    initial_signals = {number: signal.getsignal(number)
                       for number in range(1, signal.NSIG)
                       if number not in (signal.SIGKILL, signal.SIGSTOP)}
    # Descriptors inherited from whoever started the server are not the
    # server's: a program's own may need their numbers.
    keep = lock_fd if lock_fd is not None else 2
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)
    # sys.path[0] is the directory the server was started from: the
    # programs' own directories take its place, one per program.
    if not sys.flags.safe_path and sys.path:
        del sys.path[0]
    server = describe(key_python or sys.executable,
                      _cds.normalize_preload(preload_list),
                      _cds.absolute_path(archive) if archive else "",
                      socket_path, own_options())
    lock = take_lock(server, lock_fd)
    try:
        return serve_locked(server, lock, pool, idle_timeout, allow_threads,
                            initial_signals)
    except ServeError as error:
        note_failure(server, str(error))
        raise


def serve_locked(server: Server, lock: int, pool: int, idle_timeout: float,
                 allow_threads: bool, initial_signals: dict) -> int:
    # The server's own imports come from the archive, when there is one
    # (given, or PYCDSARCHIVE) and PYCDSMODE did not already share it.
    share_from = server.archive or _cds.variable("PYCDSARCHIVE") or ""
    if share_from and not any(isinstance(finder, _cds.ArchiveFinder)
                              for finder in sys.meta_path):
        from . import _share

        verdict = _share.install(share_from)
        say(f"archive {share_from}: {verdict}")
    started_ns = time.time_ns()
    seconds = preload(server.preload)
    check_fork_safety(allow_threads)
    tops = module_tops()
    watch = watch_spec(server, tops)
    changed = changed_while_preloading(started_ns)
    if changed is not None:
        raise ServeError(f"{changed} changed while it was being preloaded")
    try:
        os.unlink(server_file(server, "failed"))
    except OSError:
        pass
    from . import _child

    pages = server_file(server, "pages") if pool else ""
    context = _child.Context(server, tops, pages, initial_signals)
    say(f"preloaded {server.preload or 'nothing'} in {seconds:.3f} s; "
        f"{len(sys.modules)} modules")
    log = server_file(server, "log")
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything allocated so far lives as long as the server: keep the
    # collector (and its writes) away from it in every program's process.
    gc.collect()
    gc.freeze()
    result = _cds.serve(server.socket_path, lock_fd=lock, watch=watch,
                        pool=pool, idle_timeout=idle_timeout,
                        info=status_fields(server, log, seconds), pages=pages,
                        ahead=lambda: _child.ahead(context))
    if isinstance(result, _cds.ProgramRequest):
        try:
            _child.run(result, context)  # a program's process: never returns
        finally:
            os._exit(70)
    return 0


def server_sockets(socket_path: str | None) -> list[str]:
    """The sockets to ask: the one given, or those in this user's
    directory (none when it does not exist yet; OSError when it is not
    private)."""
    if socket_path:
        return [socket_path]
    try:
        directory = _cds.run_dir(False)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(directory, name)
                  for name in os.listdir(directory)
                  if name.endswith(_cds.SERVER_FILES["socket"]))


def running(pid: int) -> bool:
    """Whether pid is a process that has not ended (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_all(directory: os.PathLike, timeout: float = 30.0) -> list[int]:
    """Stop every server in directory and wait (bounded) until each is
    gone: what scripts that start servers of their own do at the end.
    The pids of those still running when the time is up."""
    pids = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        if name.endswith(_cds.SERVER_FILES["socket"]):
            try:
                text = _cds.server_control(os.path.join(directory, name), True)
            except OSError:
                continue
            pid = _cds.status_fields(text).get("pid")
            if pid is not None:
                pids.append(int(pid))
    deadline = time.monotonic() + timeout
    for pid in pids:
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    return [pid for pid in pids if running(pid)]


def status(socket_path: str | None, stop: bool) -> int:
    """Print every server of this user (--status), or stop them (--stop)."""
    try:
        sockets = server_sockets(socket_path)
    except OSError as error:
        print(f"pycds: {error}", file=sys.stderr)
        return 1
    found = 0
    for path in sockets:
        try:
            text = _cds.server_control(path, stop)
        except OSError as error:
            if not socket_path:
                continue  # a server that is gone left its socket
            print(f"pycds: {path}: {error}", file=sys.stderr)
            return 1
        found += 1
        print(("stopping " if stop else "") + f"server on {path}")
        for line in text.splitlines():
            print(f"  {line}")
    if not found:
        print("no servers running")
    return 0

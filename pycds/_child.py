"""The program's process: forked from the server, it becomes the process a
fresh `python` would have been for the client's command line, runs the
program, and ends as python ends (README: "What a served program sees").

The request is one C object (pycds/ext/child.c), decoded once; what it
says about the process is applied there, by one call: specialise() checks
it against the server (options, start-up environment, the numbers of the
client's descriptors) and takes the client's nice value, CPUs, directory,
umask, limits, environment, signal dispositions and mask.  Here the script
is read and sys.path[0] checked.  Anything that cannot be made exactly so
raises Unservable, and the client runs python itself.  Then READY goes
out, and while the client's GO travels: sys.argv, sys.orig_argv (and the
command line the process shows) and sys.path[0], no inherited atexit
handlers, generators reseeded, a fresh __main__.  GO brings the client's
descriptors, which start() puts at their numbers; the standard streams are
made for them as python makes them, and the program starts.  Only after
GO, so nothing ever runs twice, and no server that never answers holds a
caller's descriptors.

At the end the process does what CPython's finalization does that a
program can observe: waits for its non-daemon threads, runs its atexit
handlers, flushes the standard streams (exit status 120 if that fails),
finalizes the modules the program imported and its __main__ (so objects'
__del__ run and unclosed files are flushed), flushes again, closes every
descriptor and reports the exit status.  The preloaded modules are not
torn down: they belong to the server, and tearing them down in every
process would copy most of the server's memory.
"""

import atexit
import builtins
import gc
import io
import os
import runpy
import signal
import sys
import time
import types
from _frozen_importlib import BuiltinImporter
from importlib.machinery import SourceFileLoader, all_suffixes
from importlib.util import MAGIC_NUMBER

from . import _cds

# Everything the process needs to end is imported here, in the server:
# the end tears down only modules imported after the fork.

Unservable = _cds.Unservable


class Context:
    """What a program's process needs from its server, gathered before
    the first fork."""

    def __init__(self, server, tops: set, pages: str,
                 initial_signals: dict) -> None:
        self.options = list(server.options)
        self.environment = list(server.environment)
        # Handlers set outside Python before it started (a sanitizer's,
        # a preloaded library's) are python's start-up state too: bit n-1
        # for signal n.
        self.foreign_signals = sum(
            1 << (number - 1) for number, handler in initial_signals.items()
            if handler is None)
        # Where the pool's pages are learnt (pages.h), or "".
        self.pages = pages
        self.ahead = False
        # Names in a program's directory that would shadow a module the
        # server imported: python would import that file instead.
        suffixes = all_suffixes()
        self.shadowing = frozenset(
            top + suffix for top in tops for suffix in ["", *suffixes])
        # The server's own standard streams, made at its start as python
        # makes them; a program's are made the same way for its fds.
        stdout = sys.__stdout__
        self.encoding = stdout.encoding
        self.errors = stdout.errors
        self.unbuffered = isinstance(stdout.buffer, io.RawIOBase)
        self.server_streams = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
        self.server_modules = frozenset(sys.modules)
        self.pid = 0


def ahead(context: Context) -> None:
    """What a program's process can do before its request: in a pool
    child, while it waits for one."""
    atexit._clear()
    restore_exit_handlers()
    reseed()
    fresh_main()
    context.ahead = True


def run(request: _cds.ProgramRequest, context: Context) -> None:
    """Become the program, run it and exit; never returns, and never lets
    an exception out into the server's frames (whose ending is the
    server's, not a program's)."""
    try:
        become_and_run(request, context)
    except KeyboardInterrupt:
        # Ctrl-C before the program started or while it ended: as python
        # interrupted then, end by SIGINT.
        die_by_sigint()
    except BaseException:
        pass
    os._exit(1)


def die_by_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    os._exit(130)


def become_and_run(request: _cds.ProgramRequest, context: Context) -> None:
    mode, target = request.mode, request.target
    try:
        request.specialise(context.options, context.environment,
                           context.foreign_signals)
        program = load_program(mode, target)
        path0 = check_path0(mode, target, context)
    except Unservable as why:
        request.refuse(str(why))
        os._exit(0)
    except BaseException as error:  # never lose a run to a bug here
        request.refuse(f"pycds: {type(error).__name__}: {error}")
        os._exit(0)
    # Everything that could refuse the program is done: READY goes out,
    # and sys is settled while the client's GO is on its way.
    if not request.announce():
        os._exit(0)
    settle(request, context, path0)
    if not request.start():
        os._exit(0)  # the client went away: the program never starts
    # The program's descriptors came with GO and are at their numbers:
    # the standard streams are made for them.
    set_streams(context)
    context.pid = os.getpid()
    os.register_at_fork(after_in_child=_cds.child_forget_report)
    code, interrupted = execute(mode, program)
    finish(context, code, interrupted)


# ------------------------------------------------------------- preparing

def settle(request: _cds.ProgramRequest, context: Context,
           path0: str | None) -> None:
    """sys as python leaves it for this program; cannot fail."""
    set_argv(request.mode, request.target, request.args, request.options)
    if path0 is not None:
        sys.path.insert(0, path0)
    if not context.ahead:
        ahead(context)


def load_program(mode: str, target: str):
    """What the program is, read before it starts: a script's path and
    bytes.  Python runs itself what it would open otherwise (a directory,
    a zip file, compiled bytecode) and reports an unreadable script."""
    if mode != "script":
        return target
    try:
        with open(target, "rb") as file:
            source = file.read()
    except OSError as error:
        raise Unservable(f"cannot read the script: {error.strerror}")
    # A zip file's end-of-directory record lies in its last 64 KiB.
    if b"PK\x05\x06" in source[-65558:]:
        raise Unservable("the script may be a zip file")
    if source.startswith(MAGIC_NUMBER) or target.endswith(".pyc"):
        raise Unservable("the script is compiled bytecode")
    if b"\0" in source:
        raise Unservable("the script holds a null byte")
    if not utf8_or_declared(source):
        # compile() of the bytes words the error otherwise than python
        # reading the file ("Non-UTF-8 code starting with ...").
        raise Unservable("the script is not UTF-8 and declares no encoding")
    # __file__ and the code's file name: the path joined to the current
    # directory, unnormalised, as CPython makes it; python asks the path
    # hooks about it, and remembers that none took it.
    path = target if target.startswith("/") else os.path.join(os.getcwd(),
                                                              target)
    sys.path_importer_cache[path] = None
    return path, source


def utf8_or_declared(source: bytes) -> bool:
    """Whether source is UTF-8, or says its encoding in a comment on one of
    its first two lines (PEP 263), which compile() reads as python does."""
    try:
        source.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return any(line.lstrip().startswith(b"#") and b"coding" in line
                   for line in source.split(b"\n", 2)[:2])


def set_argv(mode: str, target: str, args: list, options: list) -> None:
    first = {"script": target, "command": "-c", "module": "-m"}.get(
        mode, target)
    sys.argv = [first, *args]
    program = {"script": [target], "command": ["-c", target],
               "module": ["-m", target]}.get(mode, [target] if target else [])
    sys.orig_argv = [sys.executable, *options, *program, *args]
    # ps, pgrep -f and /proc/self/cmdline show what python would show.
    _cds.show_command_line([os.fsencode(arg) for arg in sys.orig_argv])


def check_path0(mode: str, target: str, context: Context) -> str | None:
    """sys.path[0] as python computes it (None: none); refuses a program
    whose directory holds a module that shadows a preloaded one."""
    if sys.flags.safe_path:
        return None
    if mode == "script":
        real = os.path.realpath(target)
        path0 = real[:real.rindex("/")] or "/"
    elif mode == "module":
        try:
            path0 = os.getcwd()
        except OSError:
            return None
    else:
        path0 = ""
    try:
        names = os.listdir(path0 or ".")
    except OSError:
        names = []
    shadowing = context.shadowing.intersection(names)
    if shadowing:
        raise Unservable(f"{path0 or 'the current directory'} holds "
                         f"{min(shadowing)}, which a preloaded module's "
                         "name would resolve to")
    return path0


def open_stream(fd: int, write: bool, name: str, context: Context):
    """A standard stream as CPython's create_stdio makes it."""
    try:
        os.fstat(fd)
    except OSError:
        return None
    buffered = not (write and context.unbuffered)
    buffer = io.open(fd, "wb" if write else "rb", -1 if buffered else 0,
                     closefd=False)
    raw = buffer.raw if buffered else buffer
    raw.name = name
    line_buffering = not context.unbuffered and (raw.isatty() or fd == 2)
    stream = io.TextIOWrapper(
        buffer, encoding=context.encoding,
        errors="backslashreplace" if fd == 2 else context.errors,
        newline="\n", line_buffering=line_buffering,
        write_through=context.unbuffered)
    stream.mode = "w" if write else "r"
    return stream


def set_streams(context: Context) -> None:
    sys.stdin = sys.__stdin__ = open_stream(0, False, "<stdin>", context)
    sys.stdout = sys.__stdout__ = open_stream(1, True, "<stdout>", context)
    sys.stderr = sys.__stderr__ = open_stream(2, True, "<stderr>", context)


def restore_exit_handlers() -> None:
    """After the server's exit handlers are dropped: the standard library's
    own, for the modules the server imported, as python has them in a
    program that imports those (logging's flushes and closes handlers,
    multiprocessing's waits for children).  The server's objects'
    finalizers (weakref.finalize) stay out of the program's exit: what they
    clean up is the server's; the program's own are registered anew."""
    logging = sys.modules.get("logging")
    if logging is not None and hasattr(logging, "shutdown"):
        atexit.register(logging.shutdown)
    util = sys.modules.get("multiprocessing.util")
    if util is not None and hasattr(util, "_exit_function"):
        atexit.register(util._exit_function)
    finalize = getattr(sys.modules.get("weakref"), "finalize", None)
    if finalize is not None and hasattr(finalize, "_registered_with_atexit"):
        for pending in list(getattr(finalize, "_registry", ())):
            pending.atexit = False
        finalize._registered_with_atexit = False


def reseed() -> None:
    """random reseeds itself at fork; numpy's and torch's global
    generators do not."""
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None and hasattr(numpy_random, "seed"):
        numpy_random.seed()
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "seed"):
        torch.seed()


def fresh_main() -> None:
    main = types.ModuleType("__main__")
    main.__loader__ = BuiltinImporter
    main.__annotations__ = {}
    main.__builtins__ = builtins
    sys.modules["__main__"] = main


# ------------------------------------------------------------- running

def execute(mode: str, program) -> tuple:
    """Run the program in __main__; (exit code, interrupted)."""
    main = sys.modules["__main__"].__dict__
    file_set = False
    try:
        if mode == "script":
            path, source = program
            main["__file__"], main["__cached__"] = path, None
            file_set = True
            main["__loader__"] = SourceFileLoader("__main__", path)
            _cds.call_alone(compile(source, path, "exec", dont_inherit=True), main)
        elif mode == "command":
            code = compile(program, "<string>", "exec", dont_inherit=True)
            register_source(code, program, "<string>")
            _cds.call_alone(code, main)
        elif mode == "module":
            _cds.call_alone(runpy._run_module_as_main, program)
        elif mode == "stdin":
            source = read_all(0)
            main["__file__"], main["__cached__"] = "<stdin>", None
            file_set = True
            _cds.call_alone(compile(source, "<stdin>", "exec", dont_inherit=True), main)
        else:
            repl(main)
        return 0, False
    except SystemExit as exit_:
        return system_exit_code(exit_), False
    except BaseException as error:
        print_uncaught(error)
        return 1, isinstance(error, KeyboardInterrupt)
    finally:
        if file_set:
            main.pop("__file__", None)
            main.pop("__cached__", None)


def register_source(code, source: str, name: str) -> None:
    """3.13 keeps the source of -c code for tracebacks, as its REPL's: by
    file name in 3.13.0, by code object where linecache looks lines up by
    code object."""
    import linecache

    register = getattr(linecache, "_register_code", None)
    if register is not None:
        by_code = hasattr(linecache, "_getline_from_code")
        register(code if by_code else name, source, name)


def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def print_uncaught(error: BaseException) -> None:
    """As PyErr_Print: the traceback without this module's frame, and
    sys.last_* set."""
    traceback = error.__traceback__
    traceback = traceback.tb_next if traceback is not None else None
    error.__traceback__ = traceback
    sys.last_type, sys.last_value, sys.last_traceback = (
        type(error), error, traceback)
    if sys.version_info >= (3, 12):
        sys.last_exc = error
    try:
        sys.excepthook(type(error), error, traceback)
    except BaseException:
        pass


def system_exit_code(exit_: SystemExit) -> int:
    """As _Py_HandleSystemExit: None is 0, an int is itself (one that
    does not fit a C long is -1), anything else is printed on stderr and
    is 1."""
    code = exit_.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code if -(1 << 63) <= code < (1 << 63) else -1
    try:
        text = str(code)
    except BaseException:
        text = "<exception str() failed>"
    stream = sys.stderr
    try:
        if stream is not None:
            stream.write(text + "\n")
        else:
            os.write(2, (text + "\n").encode(errors="backslashreplace"))
    except BaseException:
        pass
    return 1


def repl(main: dict) -> None:
    """The interactive interpreter, as python starts it on a terminal."""
    if not sys.flags.quiet:
        banner = f"Python {sys.version} on {sys.platform}\n"
        if not sys.flags.no_site:
            banner += ('Type "help", "copyright", "credits" or "license" '
                       "for more information.\n")
        os.write(2, banner.encode())
    if not sys.flags.isolated:
        try:
            import readline  # noqa: F401 - python imports it for the REPL
        except ImportError:
            pass
    startup = None if sys.flags.ignore_environment else \
        os.environ.get("PYTHONSTARTUP")
    if startup:
        try:
            with open(startup, "rb") as file:
                source = file.read()
        except OSError as error:
            os.write(2, b"Could not open PYTHONSTARTUP\n")
            print_uncaught(error)
        else:
            run_startup(main, startup, source)
    hook = getattr(sys, "__interactivehook__", None)
    if hook is not None:
        try:
            hook()
        except BaseException as error:
            os.write(2, b"Failed calling sys.__interactivehook__\n")
            print_uncaught(error)
    if sys.version_info >= (3, 13) and not os.environ.get("PYTHON_BASIC_REPL"):
        try:
            runpy._run_module_as_main("_pyrepl", False)
        except SystemExit as exit_:
            # python 3.13 reports the REPL's end as `run != 0`.
            raise SystemExit(1 if system_exit_code(exit_) else 0) from None
        return
    import code

    code.InteractiveConsole(main, filename="<stdin>").interact(
        banner="", exitmsg="")


def run_startup(main: dict, path: str, source: bytes) -> None:
    """The PYTHONSTARTUP file, run in __main__ as python runs it (its
    _PyRun_SimpleFileObject): __file__ and __cached__ only while it runs,
    and a SourceFileLoader for it left as __main__.__loader__."""
    file_set = "__file__" not in main
    if file_set:
        main["__file__"], main["__cached__"] = path, None
    main["__loader__"] = SourceFileLoader("__main__", path)
    try:
        exec(compile(source, path, "exec", dont_inherit=True), main)
    except SystemExit:
        raise
    except BaseException as error:
        print_uncaught(error)
    finally:
        if file_set:
            main.pop("__file__", None)
            main.pop("__cached__", None)


# ------------------------------------------------------------- ending

def clear_module(module) -> None:
    """As CPython clears a module's dict at shutdown: names starting with
    an underscore first, then the rest, __builtins__ last of all."""
    namespace = getattr(module, "__dict__", None)
    if not isinstance(namespace, dict):
        return
    for underscored in (True, False):
        for name in list(namespace):
            if (name.startswith("_") == underscored
                    and name != "__builtins__"):
                namespace[name] = None


def created_modules(context: Context) -> list:
    """The modules imported after the fork, newest first.  sys.modules
    keeps the order of import: they are at its end, and the walk stops
    well inside the server's modules, whose objects it would otherwise
    touch (and so copy) one page each."""
    created, seen_server = [], 0
    for name, module in reversed(sys.modules.items()):
        if name in context.server_modules:
            seen_server += 1
            if seen_server > 32:
                break
        else:
            created.append(module)
    return created


def teardown(context: Context) -> None:
    """Finalize what the program created: the modules it imported (in
    reverse order of import) and its __main__."""
    gc.collect()
    for module in created_modules(context) + [sys.modules.get("__main__")]:
        try:
            clear_module(module)
        except BaseException:
            pass
    gc.collect()


def finish(context: Context, code: int, interrupted: bool) -> None:
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException as error:
            print_uncaught(error)
    _cds.call_alone(atexit._run_exitfuncs)  # from C, as finalization calls them
    # Flushed and put back as finalization does, from C: a report of a
    # failure shows no frame of ours.
    failed = _cds.call_alone(_cds.flush_standard)
    for stream in context.server_streams:  # one a library kept
        try:
            if stream is not None and stream.writable():
                stream.flush()
        except BaseException:
            pass
    # As finalization does before it clears the modules: the standard
    # streams put back (a stream the program set is flushed once, above;
    # dropped, its close is silent, as python's).
    for name in ("stdin", "stdout", "stderr"):
        _cds.call_alone(setattr, sys, name, getattr(sys, f"__{name}__", None))
    teardown(context)
    failed = _cds.call_alone(_cds.flush_standard) or failed
    if failed:
        code = 120
    code &= 0xFF
    if interrupted:
        # As python after an uncaught KeyboardInterrupt: die of SIGINT
        # (the server reports it).
        die_by_sigint()
    program = os.getpid() == context.pid  # not a process it forked
    if program:
        learn_pages(context)
    _cds.child_end(code, program)
    os._exit(code)


def learn_pages(context: Context) -> None:
    """Now and then (once a minute at most): list the pages this process
    wrote, for the pool's next children to write ahead.  Before the report:
    once the client has gone, the server ends this process."""
    if not context.pages:
        return
    try:
        if time.time() - os.stat(context.pages).st_mtime < 60:
            return
    except OSError:
        pass
    try:
        _cds.child_learn_pages(context.pages)
    except OSError:
        pass

"""Prints, as JSON, what a program can observe of its process at start:
the tests compare it between plain python and pycds-run."""

import json
import os
import resource
import signal
import sys

main = sys.modules["__main__"]
state = {
    "argv": sys.argv,
    "orig_argv_tail": sys.orig_argv[1:],
    "path0": sys.path[0] if sys.path else None,
    "path": sys.path,
    "main_keys": sorted(k for k in vars(main) if k != "state"),
    "file": vars(main).get("__file__"),
    "loader": type(vars(main).get("__loader__")).__name__,
    "spec": repr(getattr(main, "__spec__", None) and main.__spec__.name),
    "environ": dict(os.environ),
    "cwd": os.getcwd(),
    "umask": (lambda m: (os.umask(m), m)[1])(os.umask(0)),
    "flags": repr(sys.flags),
    "executable": sys.executable,
    "isatty": [sys.stdin.isatty() if sys.stdin else None,
               sys.stdout.isatty(), sys.stderr.isatty()],
    "streams": [
        None if s is None else {
            "line_buffering": s.line_buffering,
            "write_through": s.write_through,
            "encoding": s.encoding, "errors": s.errors, "mode": s.mode,
            "name": s.name, "seekable": s.seekable(),
            "buffer": type(s.buffer).__name__,
        } for s in (sys.stdin, sys.stdout, sys.stderr)],
    "stdio_identity": [sys.stdin is sys.__stdin__, sys.stdout is sys.__stdout__],
    "signals": {str(n): repr(signal.getsignal(n))
                for n in range(1, signal.NSIG)
                if n not in (signal.SIGKILL, signal.SIGSTOP, 32, 33)},
    "sigmask": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "limits": {str(r): resource.getrlimit(r) for r in range(16)},
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "pid_is_parent": os.getpid() == os.getppid(),
}
json.dump(state, sys.stdout, sort_keys=True)
sys.stdout.write("\n")

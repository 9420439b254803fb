"""One-line diagnostics, shown when PYCDSVERBOSE is set.

They go to file descriptor 2 directly, as the extension's do
(pycds/ext/say.c): never through sys.stderr, which a program may have
redirected (contextlib.redirect_stderr, click's CliRunner) and would then
find pycds's lines in its own output."""

import os

from . import _cds


def level() -> int:
    try:
        return int(_cds.variable("PYCDSVERBOSE"))
    except ValueError:
        return 1


def say(message: str, at: int = 1) -> None:
    """Write `pycds: message` to file descriptor 2 if the verbosity is at
    least `at`."""
    if level() >= at:
        try:
            os.write(2, f"pycds: {message}\n".encode(errors="backslashreplace"))
        except OSError:  # closed or broken: diagnostics are optional
            pass

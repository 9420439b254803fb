"""Started by pycds.pth when PYCDSMODE is set: turn the mode into action.

Nothing here may break the program: every problem becomes one line on
stderr at PYCDSVERBOSE>=1 and the program runs with plain imports.

The modules every shared start imports (the package, this one, _share,
_log) do without `from __future__ import annotations`: importing
__future__ at each start costs more than their few annotations.
"""

import os

try:
    from . import _cds, _log
except ImportError:
    # The extension loads in the main interpreter (and in subinterpreters
    # that share its GIL) only: an isolated subinterpreter (3.12+) refuses
    # it, and pycds does nothing there, silently, as plain Python would
    # (PYCDSVERBOSE is read through the extension).  In the main
    # interpreter the install is broken: site shows why.
    import _thread
    if getattr(_thread, "_is_main_interpreter", lambda: True)():
        raise
    _unavailable = True
else:
    _unavailable = False


# Each mode, and the variable naming the file it needs.
MODES = {"TRACE": "PYCDSLIST", "SHARE": "PYCDSARCHIVE", "AUTO": "PYCDSARCHIVE"}


def activate() -> None:
    mode = (_cds.variable("PYCDSMODE") or "").strip().upper()
    if not mode:
        return
    if mode not in MODES:
        _log.say(f"unknown PYCDSMODE={mode!r} (TRACE, SHARE or AUTO); ignored")
        return
    path = _cds.variable(MODES[mode])
    if not path:
        _log.say(f"PYCDSMODE={mode} needs {MODES[mode]}")
        return
    if mode == "TRACE":
        from . import _trace
        _trace.install(os.path.abspath(path))
    elif mode == "SHARE":
        from . import _share
        _share.install(path)
    else:
        from . import _auto
        _auto.install(path)


if not _unavailable:
    try:
        activate()
    except Exception as error:  # pragma: no cover - last line of defence
        _log.say(f"not activated: {error}")

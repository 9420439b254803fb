"""Started by pycds.pth when PYCDSMODE is set: turn the mode into action.

Nothing here may break the program: every problem becomes one line on
stderr at PYCDSVERBOSE>=1 and the program runs with plain imports.
"""

from __future__ import annotations

import os

from . import _log


def activate() -> None:
    mode = os.environ.get("PYCDSMODE", "").strip().upper()
    if mode == "TRACE":
        list_path = os.environ.get("PYCDSLIST")
        if not list_path:
            _log.say("PYCDSMODE=TRACE needs PYCDSLIST")
            return
        from . import _trace
        _trace.install(os.path.abspath(list_path))
    elif mode == "SHARE":
        archive_path = os.environ.get("PYCDSARCHIVE")
        if not archive_path:
            _log.say("PYCDSMODE=SHARE needs PYCDSARCHIVE")
            return
        from . import _share
        _share.install(archive_path)
    elif mode == "AUTO":
        archive_path = os.environ.get("PYCDSARCHIVE")
        if not archive_path:
            _log.say("PYCDSMODE=AUTO needs PYCDSARCHIVE")
            return
        from . import _auto
        _auto.install(archive_path)
    elif mode:
        _log.say(f"unknown PYCDSMODE={mode!r} (TRACE, SHARE or AUTO); ignored")


try:
    activate()
except Exception as error:  # pragma: no cover - last line of defence
    _log.say(f"not activated: {error}")

"""What an archive records about the process that made it, beyond the
build fingerprint: settings that change the code the compiler produces."""

from __future__ import annotations

import json
import os
import sys

FORMAT = 1


def code_settings() -> dict[str, object]:
    """Settings under which plain imports produce different code objects:
    the optimisation level (-O, -OO) and column positions (-X
    no_debug_ranges)."""
    no_ranges = ("no_debug_ranges" in sys._xoptions
                 or bool(os.environ.get("PYTHONNODEBUGRANGES")))
    return {"optimize": sys.flags.optimize, "debug_ranges": not no_ranges}


def encode() -> bytes:
    return json.dumps({"pycds": FORMAT, **code_settings()},
                      sort_keys=True).encode()


def mismatch(user: bytes) -> str | None:
    """Why an archive's settings do not fit this process, or None."""
    try:
        recorded = json.loads(user.decode())
    except ValueError:
        return "archive metadata unreadable"
    if not isinstance(recorded, dict) or recorded.get("pycds") != FORMAT:
        return "archive metadata of another pycds format"
    for key, value in code_settings().items():
        if recorded.get(key) != value:
            return f"archive made with {key}={recorded.get(key)}, this process has {value}"
    return None

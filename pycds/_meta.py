"""What an archive records about the process that made it, beyond the
build fingerprint: settings that change the code the compiler produces."""

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


# Plain "key=value" lines: read at every start, so no json import.
def encode() -> bytes:
    settings = {"pycds": FORMAT, **code_settings()}
    return "".join(f"{k}={v!r}\n" for k, v in sorted(settings.items())).encode()


def mismatch(user: bytes) -> str | None:
    """Why an archive's settings do not fit this process, or None."""
    try:
        recorded = dict(line.split("=", 1)
                        for line in user.decode().splitlines())
    except ValueError:
        return "archive metadata unreadable"
    if recorded.get("pycds") != repr(FORMAT):
        return "archive metadata of another pycds format"
    for key, value in code_settings().items():
        if recorded.get(key) != repr(value):
            return (f"archive made with {key}={recorded.get(key)}, "
                    f"this process has {value!r}")
    return None

"""One-line diagnostics on stderr, shown when PYCDSVERBOSE is set."""

import os
import sys


def level() -> int:
    try:
        return int(os.environ.get("PYCDSVERBOSE", "0") or 0)
    except ValueError:
        return 1


def say(message: str, at: int = 1) -> None:
    """Print `pycds: message` on stderr if the verbosity is at least `at`."""
    if level() >= at:
        try:
            sys.stderr.write(f"pycds: {message}\n")
        except Exception:  # stderr closed or broken: diagnostics are optional
            pass

"""pycds: class-data sharing for CPython.

Code objects of imported modules are kept in one memory-mapped archive and
served to later runs, skipping the search for, reading and unmarshalling of
their .pyc files.  See README.md for the three steps (trace, dump, share).
"""

__all__ = ["Archive", "ArchiveError", "Writer", "fingerprint", "__version__"]
# The one place the version is written: pyproject.toml reads this line
# (statically) for the package metadata, `python -m pycds --version` and
# `serve --status` print it.
__version__ = "0.1.0"

# The extension's names are looked up when first asked for: importing the
# package must not need the extension, which an isolated subinterpreter
# (3.12+, its own GIL) refuses to load, and pycds.pth imports the package
# in every interpreter of a process with PYCDSMODE set (pycds/_activate.py).
_FROM_EXTENSION = frozenset(("Archive", "ArchiveError", "Writer", "fingerprint"))


def __getattr__(name: str) -> object:
    if name in _FROM_EXTENSION:
        from . import _cds
        return getattr(_cds, name)
    raise AttributeError(f"module 'pycds' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _FROM_EXTENSION)

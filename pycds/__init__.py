"""pycds: class-data sharing for CPython.

Code objects of imported modules are kept in one memory-mapped archive and
served to later runs, skipping the search for, reading and unmarshalling of
their .pyc files.  See README.md for the three steps (trace, dump, share).
"""

from ._cds import Archive, ArchiveError, Writer, fingerprint

__all__ = ["Archive", "ArchiveError", "Writer", "fingerprint", "__version__"]
# The one place the version is written: pyproject.toml reads this line
# (statically) for the package metadata, `python -m pycds --version` and
# `serve --status` print it.
__version__ = "0.1.0"

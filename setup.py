"""Build pycds and its extension, pycds._cds, with libcds compiled in.

`pip install .` is all it takes: no CMake step.  Set PYCDS_WERROR=1 to turn
compiler warnings into errors (the test command does).
"""

import os
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_py import build_py


class build_py_with_pth(build_py):
    """Also install pycds.pth at the top of site-packages, where site.py
    reads it at every start.  It does nothing unless PYCDSMODE is set."""

    def run(self) -> None:
        super().run()
        self.copy_file("pycds.pth", os.path.join(self.build_lib, "pycds.pth"))

warnings = ["-Wall", "-Wextra"]
if os.environ.get("PYCDS_WERROR") == "1":
    warnings.append("-Werror")

extension = Extension(
    "pycds._cds",
    sources=sorted(glob("pycds/ext/*.c")) + sorted(glob("libcds/src/*.c")),
    depends=sorted(glob("pycds/ext/*.h") + glob("libcds/src/*.h"))
    + sorted(glob("libcds/include/cds/*.h")),
    include_dirs=["libcds/include", "libcds/src", "pycds/ext"],
    extra_compile_args=["-std=gnu11", *warnings],
)

setup(
    name="pycds",
    version="0.1.0",
    description="Class-data sharing for CPython: start-up from a mapped archive",
    packages=["pycds"],
    ext_modules=[extension],
    python_requires=">=3.11,<3.14",
    cmdclass={"build_py": build_py_with_pth},
    # Separate build directories for separately configured builds (the
    # sanitizer build): setuptools reuses object files it finds there.
    options={"build": {"build_base": os.environ.get("PYCDS_BUILD_BASE",
                                                    "build/setuptools")}},
)

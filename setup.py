"""Build pycds's extension, pycds._cds (libcds and librun compiled in), and
its client, pycds-run: what pyproject.toml, where the metadata is, cannot say.

`pip install .` is all it takes: no CMake step.  Set PYCDS_WERROR=1 to turn
compiler warnings into errors (the test command does).
"""

import os
import sys
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from distutils.command.build_scripts import build_scripts  # setuptools has none


class build_py_with_pth(build_py):
    """Also install pycds.pth at the top of site-packages, where site.py
    reads it at every start.  It does nothing unless PYCDSMODE is set."""

    def run(self) -> None:
        super().run()
        self.copy_file("pycds.pth", os.path.join(self.build_lib, "pycds.pth"))


class build_binary_scripts(build_scripts):
    """Install the scripts (only pycds-run, an ELF executable) byte for
    byte: the stock command reads them as Python source."""

    def copy_scripts(self) -> tuple[list[str], list[str]]:
        self.mkpath(self.build_dir)
        copied = []
        for script in self.scripts:
            target = os.path.join(self.build_dir, os.path.basename(script))
            self.copy_file(script, target)
            os.chmod(target, 0o755)
            copied.append(target)
        return copied, copied


warnings = ["-Wall", "-Wextra"]
if os.environ.get("PYCDS_WERROR") == "1":
    warnings.append("-Werror")

BUILD_BASE = os.environ.get("PYCDS_BUILD_BASE", "build/setuptools")
# The native client, installed beside the interpreter as a real executable
# (no Python shim: starting it must not start an interpreter).
CLIENT = os.path.join(BUILD_BASE, "client", "pycds-run")


class build_ext_and_client(build_ext):
    """Also compile and link pycds-run (tools/pycds-run and librun), with
    the compiler that builds the extension, for build_scripts to install."""

    def run(self) -> None:
        super().run()
        sources = sorted(glob("tools/pycds-run/*.c")) + sorted(
            glob("librun/src/*.c")) + sorted(glob("libos/src/*.c"))
        # Where no python lies beside pycds-run (pip --user, a system
        # install), it runs the interpreter that installed it.  A wheel
        # for other machines sets PYCDS_RUN_PYTHON empty: no fallback (the
        # building interpreter is not theirs), PYCDSPYTHON says which.
        python = os.environ.get("PYCDS_RUN_PYTHON", sys.executable)
        python = python.replace("\\", "\\\\").replace('"', '\\"')
        macros = [("PYCDS_RUN_PYTHON", f'"{python}"')] if python else []
        objects = self.compiler.compile(
            sources, output_dir=os.path.join(BUILD_BASE, "client"),
            include_dirs=["librun/include", "libos/include"], macros=macros,
            extra_postargs=["-std=gnu11", "-O2", *warnings])
        # LDFLAGS too: a sanitized build's objects need its runtime.  A
        # static executable starts faster (no dynamic linking: 0.1-0.2 ms
        # of each run); the sanitizers cannot be linked so.
        flags = os.environ.get("LDFLAGS", "").split()
        if not any(flag.startswith("-fsanitize") for flag in flags):
            flags.append("-static-pie")
        self.compiler.link_executable(objects, CLIENT, extra_postargs=flags)

extension = Extension(
    "pycds._cds",
    sources=sorted(glob("pycds/ext/*.c")) + sorted(glob("libcds/src/*.c"))
    + sorted(glob("librun/src/*.c")) + sorted(glob("libos/src/*.c")),
    depends=sorted(glob("pycds/ext/*.h") + glob("libcds/src/*.h"))
    + sorted(glob("libcds/include/cds/*.h") + glob("librun/include/run/*.h")
             + glob("librun/src/*.h") + glob("libos/include/os/*.h")),
    include_dirs=["libcds/include", "libcds/src", "librun/include",
                  "libos/include", "pycds/ext"],
    extra_compile_args=["-std=gnu11", *warnings],
)

setup(
    ext_modules=[extension],
    scripts=[CLIENT],
    cmdclass={"build_py": build_py_with_pth, "build_ext": build_ext_and_client,
              "build_scripts": build_binary_scripts},
    # Separate build directories for separately configured builds (the
    # sanitizer build): setuptools reuses object files it finds there.
    options={"build": {"build_base": BUILD_BASE}},
)

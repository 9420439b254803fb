"""Seeds for fuzz_unit: real snapshot units of a small package, dumped by
pycds itself (the interpreter that runs this script must be the one the
fuzzer embeds).

    python unit_seeds.py SEEDS_DIR

writes SEEDS_DIR/package/ (the modules), SEEDS_DIR/modules.txt (one
module name per line, in the order the units are numbered) and, in
SEEDS_DIR/units/, one seed file per unit: a byte naming the module (its
line in modules.txt), then
the unit's bytes after its magic and checksum (the harness puts them back,
so that the mutator's changes reach the parsers behind the checksum).
"""

from __future__ import annotations

import os
import subprocess
import sys

# Each module holds kinds of objects whose restore goes through a
# different part of the unit format: classes (from images and by
# type.__new__), functions with closures, defaults and attributes, revived
# C objects, instances, containers, and operations on another module's
# objects.
MODULES = {
    "fz_plain": (
        "import re\n"
        "import functools\n"
        "PATTERN = re.compile(r'(?P<word>[a-z]+)-(\\d+)', re.I)\n"
        "TABLE = {'a': (1, 2.5, b'x', None), 'b': [frozenset({'y'}), {3}]}\n"
        "def outer(x, *, scale=2):\n"
        "    def inner(y=x):\n"
        "        return y * scale\n"
        "    return inner\n"
        "INNER = outer(3)\n"
        "INNER.marker = 'set by the body'\n"
        "PARTIAL = functools.partial(outer, 5)\n"
    ),
    "fz_classes": (
        "import enum\n"
        "import collections\n"
        "class Base:\n"
        "    registry = []\n"
        "    def __init_subclass__(cls, **kw):\n"
        "        super().__init_subclass__(**kw)\n"
        "        Base.registry.append(cls.__name__)\n"
        "class Slotted(Base):\n"
        "    __slots__ = ('a', 'b')\n"
        "    def __init__(self):\n"
        "        self.a, self.b = 1, 2\n"
        "class Color(enum.Enum):\n"
        "    RED = 1\n"
        "    GREEN = 2\n"
        "Point = collections.namedtuple('Point', 'x y')\n"
        "ORIGIN = Point(0, 0)\n"
        "ONE = Slotted()\n"
        "QUEUE = collections.deque([1, 2], maxlen=5)\n"
        "COUNTS = collections.OrderedDict(a=1)\n"
    ),
    "fz_revived": (
        "import dataclasses\n"
        "import functools\n"
        "import itertools\n"
        "import struct\n"
        "import threading\n"
        "import types\n"
        "import typing\n"
        "import weakref\n"
        "T = typing.TypeVar('T')\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class Pair(typing.Generic[T]):\n"
        "    left: T\n"
        "    right: T = None\n"
        "    @property\n"
        "    def both(self):\n"
        "        return (self.left, self.right)\n"
        "    @classmethod\n"
        "    def of(cls, x):\n"
        "        return cls(x, x)\n"
        "    @staticmethod\n"
        "    def name():\n"
        "        return 'pair'\n"
        "@functools.lru_cache(maxsize=8)\n"
        "def cached(n):\n"
        "    return n * 2\n"
        "LOCK = threading.Lock()\n"
        "RLOCK = threading.RLock()\n"
        "LAYOUT = struct.Struct('<iq')\n"
        "COUNTER = itertools.count(5, 2)\n"
        "VIEW = types.MappingProxyType({'k': 1})\n"
        "REF = weakref.ref(Pair)\n"
        "SEEN = weakref.WeakSet([Pair])\n"
        "FIRST = Pair.of(1)\n"
    ),
    "fz_changes": (
        "import logging\n"
        "import fz_plain\n"
        "LOG = logging.getLogger('fz.changes')\n"
        "LOG.setLevel(logging.INFO)\n"
        "fz_plain.TABLE['c'] = 'added'\n"
        "WORDS = fz_plain.PATTERN.findall('ab-1 cd-2')\n"
    ),
}


def main(seeds: str) -> int:
    package = os.path.join(seeds, "package")
    os.makedirs(package, exist_ok=True)
    os.makedirs(os.path.join(seeds, "units"), exist_ok=True)
    for name, source in MODULES.items():
        with open(os.path.join(package, name + ".py"), "w", encoding="utf-8") as f:
            f.write(source)
    listing = os.path.join(seeds, "trace.lst")
    archive = os.path.join(seeds, "units.img")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PYCDS") and key != "PYTHONDONTWRITEBYTECODE"}
    program = "import " + ", ".join(MODULES)
    subprocess.run([sys.executable, "-c", program], cwd=package, check=True,
                   env={**env, "PYCDSMODE": "TRACE", "PYCDSLIST": listing})
    subprocess.run([sys.executable, "-m", "pycds", "dump", "--list", listing,
                    "--archive", archive, "--snapshot", "--snapshot-all"],
                   cwd=package, check=True, env=env, stdout=subprocess.DEVNULL)
    import pycds
    from pycds import _cds
    from pycds import _snapshot_restore as R
    names = []
    with pycds.Archive(archive) as opened:
        for record in opened.modules():
            name = record["name"].removesuffix(_cds.UNIT_SUFFIX)
            if record["is_unit"] and name in MODULES:
                unit = bytes(record["extra"])
                with open(os.path.join(seeds, "units", name), "wb") as f:
                    f.write(bytes((len(names),)) + unit[R.UNIT_HASH_END:])
                names.append(name)
    if len(names) != len(MODULES):
        print(f"unit_seeds: units of {names} only, of {sorted(MODULES)}", file=sys.stderr)
        return 1
    with open(os.path.join(seeds, "modules.txt"), "w", encoding="utf-8") as f:
        f.write("".join(name + "\n" for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

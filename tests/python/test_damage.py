"""Damaged, foreign and displaced archives under SHARE: each is refused (or,
for a taken address, mapped elsewhere) with one line at PYCDSVERBOSE>=1, and
the program runs on with plain imports and the same output."""

from __future__ import annotations

import random
import struct


import pycds
from conftest import Built, hits, run

HEADER = struct.Struct("<8sIIQQQIIII")  # up to the fingerprint
SECTION = struct.Struct("<IIQQQ")
FINGERPRINT_AT = HEADER.size
SECTIONS_AT = FINGERPRINT_AT + 256


def sections(data: bytes) -> list[tuple[int, int, int]]:
    """(kind, offset, size) of each section of an archive."""
    count = HEADER.unpack_from(data)[7]
    return [SECTION.unpack_from(data, SECTIONS_AT + i * SECTION.size)[:1]
            + SECTION.unpack_from(data, SECTIONS_AT + i * SECTION.size)[2:4]
            for i in range(count)]


def reseal(data: bytearray) -> None:
    """Recompute the header checksum, as a writer would."""
    data[32:40] = bytes(8)
    header_size = HEADER.unpack_from(data)[2]
    checksum = pycds._cds.hash_bytes(bytes(data[:header_size]))
    data[32:40] = struct.pack("<Q", checksum)


def damaged_variants(data: bytes) -> dict[str, bytes]:
    rng = random.Random(1234)
    variants: dict[str, bytes] = {"empty": b"", "zeros": bytes(len(data)),
                                  "random": rng.randbytes(len(data))}
    for kind, offset, size in sections(data):
        for cut in (offset, offset + size // 2):
            if 0 < cut < len(data):
                variants[f"cut-section{kind}-{cut}"] = data[:cut]
    for i in range(6):
        cut = rng.randrange(1, len(data))
        variants[f"cut-random-{cut}"] = data[:cut]
    for i in range(12):
        flipped = bytearray(data)
        spot = rng.randrange(len(data))
        flipped[spot] ^= 1 << rng.randrange(8)
        variants[f"flip-{spot}"] = bytes(flipped)
    foreign = bytearray(data)
    foreign[FINGERPRINT_AT:FINGERPRINT_AT + 8] = b"pycds/9 "
    reseal(foreign)
    variants["foreign-build"] = bytes(foreign)
    return variants


def test_damaged_archives_never_change_the_program(project: Built) -> None:
    plain = project.plain(["src/app.py"])
    data = project.archive.read_bytes()
    for name, content in damaged_variants(data).items():
        bad = project.root / "bad.img"
        bad.write_bytes(content)
        out = run(["src/app.py"], cwd=project.root, check=False,
                  PYCDSMODE="SHARE", PYCDSARCHIVE=str(bad), PYCDSVERBOSE="1")
        assert out.returncode == 0, (name, out.stderr)
        assert out.stdout == plain.stdout, name
        refused = [l for l in out.stderr.splitlines() if "archive refused" in l]
        module_refusals = [l for l in out.stderr.splitlines()
                           if "module checksum mismatch" in l]
        # A whole-archive refusal is one line; a damaged object region is
        # caught by the module that holds the damage, which falls back.
        assert len(refused) == 1 or module_refusals or "flip" in name, (
            name, out.stderr)
        if refused:
            assert not hits(out.stderr) and "\n" not in refused[0]
        if name == "foreign-build":
            assert "another runtime build" in refused[0]


TAKEN = """
import mmap, ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
MAP_FIXED_NOREPLACE = 0x100000
base = pycds._cds.DEFAULT_BASE
got = libc.mmap(base + 8192, 4096, mmap.PROT_READ | mmap.PROT_WRITE,
                mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
assert got == base + 8192, "could not take the address"
ctypes.memset(got, 0xA5, 4096)
from pycds import _share
assert _share.install(sys.argv[1]) == "shared"
import runpy
sys.argv = ["src/app.py"]
runpy.run_path("src/app.py", run_name="__main__")
assert ctypes.string_at(got, 4096) == b"\\xa5" * 4096, "existing mapping changed"
print("delta", pycds._cds.share_stats()["modules"] > 0, file=sys.stderr)
"""


def test_taken_preferred_address_maps_elsewhere(project: Built) -> None:
    plain = project.plain(["src/app.py"])
    code = "import pycds, pycds._cds\n" + TAKEN
    out = run(["-c", code, str(project.archive)], cwd=project.root,
              PYTHONPATH="src", PYCDSVERBOSE="1")
    assert out.stdout == plain.stdout
    mapped = [l for l in out.stderr.splitlines() if "archive mapped" in l]
    assert mapped and "(delta 0x0)" not in mapped[0], out.stderr
    assert {"versioned", "mypkg.consts", "mypkg.sub.helpers"} <= hits(out.stderr)
    assert "delta True" in out.stderr

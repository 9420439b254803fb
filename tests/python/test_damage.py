"""Damaged, foreign and displaced archives under SHARE: each is refused (or,
for a taken address, mapped elsewhere) with one line at PYCDSVERBOSE>=1, and
the program runs on with plain imports and the same output."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

import pycds
import pycds._cds as cds
from conftest import Built, fallbacks, hits, run

# The header's layout, from the extension (libcds's format.h), not a copy.
FIELDS = cds.HEADER_FIELDS
SECTION = cds.SECTION_FIELDS


def field(data: bytes, name: str, table: dict = FIELDS, base: int = 0) -> int:
    offset, size = table[name]
    return int.from_bytes(data[base + offset:base + offset + size], "little")


def sections(data: bytes) -> dict[int, tuple[int, int]]:
    """{kind: (offset, size)} of an archive's sections."""
    table = FIELDS["sections"][0]
    found = {}
    for i in range(field(data, "section_count")):
        base = table + i * cds.SECTION_ENTRY_SIZE
        found[field(data, "kind", SECTION, base)] = (
            field(data, "offset", SECTION, base),
            field(data, "size", SECTION, base))
    return found


def reseal(data: bytearray) -> None:
    """Recompute the header checksum, as a writer would."""
    offset, size = FIELDS["header_checksum"]
    data[offset:offset + size] = bytes(size)
    checksum = pycds._cds.hash_bytes(bytes(data[:cds.HEADER_SIZE]))
    data[offset:offset + size] = struct.pack("<Q", checksum)


@dataclass
class Outcome:
    """What a run from a damaged archive must show, exactly."""
    refused: str | None = None     # the archive refused, for this reason
    fallback: str | None = None    # only this module falls back (checksum)


def flipped(data: bytes, spot: int, bit: int = 0) -> bytes:
    copy = bytearray(data)
    copy[spot] ^= 1 << bit
    return bytes(copy)


def damaged_variants(data: bytes, archive_path: str,
                     served: set[str]) -> dict[str, tuple[bytes, Outcome]]:
    """Each damage with the one outcome it must have."""
    rng = random.Random(1234)
    small = Outcome(refused="file too small")
    variants: dict[str, tuple[bytes, Outcome]] = {
        "empty": (b"", small),
        "zeros": (bytes(len(data)), Outcome(refused="bad magic")),
        "random": (rng.randbytes(len(data)), Outcome(refused="bad magic")),
    }
    layout = sections(data)
    cuts = [offset + part for offset, size in layout.values()
            for part in (0, size // 2)]
    cuts += [rng.randrange(1, len(data)) for _ in range(6)]
    for cut in cuts:
        if 0 < cut < len(data):
            variants[f"cut-{cut}"] = (data[:cut], Outcome(
                refused="file too small" if cut < cds.HEADER_SIZE
                else "truncated"))
    # Every field of the header.  Magic, version and size are checked
    # first, each with its own reason; the rest by the header checksum.
    first = {"magic": "bad magic", "format_version": "format version",
             "header_size": "header size"}
    for name, (offset, size) in FIELDS.items():
        for spot in {offset, offset + size - 1}:
            variants[f"flip-header-{name}-{spot}"] = (
                flipped(data, spot, spot % 8),
                Outcome(refused=first.get(name, "header checksum")))
    # The rest of the header page is padding that nothing reads.
    variants["flip-header-padding"] = (
        flipped(data, (cds.HEADER_SIZE + cds.OBJECTS_OFFSET) // 2), Outcome())
    # Metadata sections are checked at open, by their own checksums.
    for name, kind in cds.SECTION_KINDS.items():
        offset, size = layout[kind]
        if name in ("objects", "relocs") or size == 0:
            continue
        for spot in (offset, offset + size // 2, offset + size - 1):
            variants[f"flip-{name}-{spot}"] = (
                flipped(data, spot, 3),
                Outcome(refused=f"{name} section checksum"))
    # Objects and relocations are checked module by module, when used.  The
    # module archived last among those the program imports: no other module
    # refers to its objects (strings belong to the first module that had
    # them), so it alone falls back.
    with cds.Archive(archive_path) as archive:
        modules = [m for m in archive.modules()
                   if m["name"] in served and not m["is_absent"]
                   and not m["is_extension"]]
        end_of_objects = max(m["objects_begin"] + m["objects_size"]
                             for m in archive.modules())
    target = max(modules, key=lambda m: m["number"])
    begin, size = target["objects_begin"], target["objects_size"]
    for spot in (begin, begin + size // 2, begin + size - 1):
        variants[f"flip-objects-{target['name']}-{spot}"] = (
            flipped(data, spot, 5), Outcome(fallback=target["name"]))
    relocs = layout[cds.SECTION_KINDS["relocs"]][0] + target["relocs_offset"]
    variants[f"flip-relocs-{target['name']}"] = (
        flipped(data, relocs + target["relocs_size"] // 2, 1),
        Outcome(fallback=target["name"]))
    # The object region's page padding after the last module: unread.
    objects_offset, objects_size = layout[cds.SECTION_KINDS["objects"]]
    if end_of_objects < objects_offset + objects_size:
        variants["flip-objects-padding"] = (
            flipped(data, objects_offset + objects_size - 1), Outcome())
    foreign = bytearray(data)
    at = FIELDS["fingerprint"][0]
    foreign[at:at + 8] = b"pycds/9 "
    reseal(foreign)
    variants["foreign-build"] = (bytes(foreign),
                                 Outcome(refused="another runtime build"))
    return variants


def test_damaged_archives_never_change_the_program(project: Built) -> None:
    plain = project.plain(["src/app.py"])
    good = project.share(["src/app.py"])
    served = hits(good.stderr)
    assert served and not fallbacks(good.stderr)
    data = project.archive.read_bytes()
    variants = damaged_variants(data, str(project.archive), served)
    for name, (content, expected) in variants.items():
        bad = project.root / "bad.img"
        bad.write_bytes(content)
        out = run(["src/app.py"], cwd=project.root, check=False,
                  PYCDSMODE="SHARE", PYCDSARCHIVE=str(bad), PYCDSVERBOSE="1")
        assert out.returncode == 0, (name, out.stderr)
        assert out.stdout == plain.stdout, name
        refused = [l for l in out.stderr.splitlines() if "archive refused" in l]
        fell_back = fallbacks(out.stderr)
        if expected.refused:
            assert len(refused) == 1 and expected.refused in refused[0], (
                name, expected, out.stderr)
            assert not hits(out.stderr) and not fell_back, (name, out.stderr)
        elif expected.fallback:
            assert not refused, (name, out.stderr)
            assert list(fell_back) == [expected.fallback], (name, out.stderr)
            assert "module checksum mismatch" in fell_back[expected.fallback]
            assert hits(out.stderr) == served - {expected.fallback}, name
        else:
            assert not refused and not fell_back, (name, out.stderr)
            assert hits(out.stderr) == served, name


TAKE_ADDRESS = """
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
"""

TAKEN = TAKE_ADDRESS + """
import runpy
sys.argv = ["src/app.py"]
runpy.run_path("src/app.py", run_name="__main__")
assert ctypes.string_at(got, 4096) == b"\\xa5" * 4096, "existing mapping changed"
print("delta", pycds._cds.share_stats()["modules"] > 0, file=sys.stderr)
"""


def mapped_elsewhere(stderr: str) -> bool:
    """Whether PYCDSVERBOSE's line says the archive was mapped away from
    its preferred address."""
    mapped = [l for l in stderr.splitlines() if "archive mapped" in l]
    return bool(mapped) and "(delta 0x0)" not in mapped[0]


def test_taken_preferred_address_maps_elsewhere(project: Built) -> None:
    plain = project.plain(["src/app.py"])
    code = "import pycds, pycds._cds\n" + TAKEN
    out = run(["-c", code, str(project.archive)], cwd=project.root,
              PYTHONPATH="src", PYCDSVERBOSE="1")
    assert out.stdout == plain.stdout
    assert mapped_elsewhere(out.stderr), out.stderr
    assert {"versioned", "mypkg.consts", "mypkg.sub.helpers"} <= hits(out.stderr)
    assert "delta True" in out.stderr


def test_wide_form_of_strings_follows_the_moved_archive(project: Built) -> None:
    # 3.11's non-BMP strs point at their own characters (their wchar_t
    # form): an internal pointer, moved with the archive.
    code = ("import pycds, pycds._cds\n" + TAKE_ADDRESS +
            "import ctypes, mypkg.consts as c\n"
            "print(ctypes.create_unicode_buffer(c.TEXT[3]).value == c.TEXT[3])\n")
    out = run(["-c", code, str(project.archive)], cwd=project.root,
              PYTHONPATH="src", PYCDSVERBOSE="1")
    assert mapped_elsewhere(out.stderr), out.stderr
    assert "mypkg.consts" in hits(out.stderr)
    assert out.stdout == "True\n"

"""The archive container as seen from Python: pycds._cds.Writer, Archive,
ArchiveError and the build fingerprint, on every supported CPython."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

import pycds
from pycds import Archive, ArchiveError, Writer


def write_archive(
    path: Path, names: list[str], base: int = 0, **finish: bytes
) -> None:
    writer = Writer(base=base)
    try:
        for i, name in enumerate(names):
            writer.begin_module(
                name,
                origin=f"/src/{name.replace('.', '/')}.py",
                cached=f"/src/__pycache__/{name}.pyc",
                is_package=name.endswith("pkg"),
                source_mtime_ns=1_700_000_000_000_000_000 + i,
                source_size=100 + i,
                source_hash=2**64 - 1 - i,
                extra=name.encode() * 2,
            )
            root = writer.add_bytes(b"root of " + name.encode())
            writer.end_module(root)
        writer.set_user(b"user bytes")
        writer.finish(path, **finish)
    finally:
        writer.close()


def test_fingerprint_identifies_this_interpreter() -> None:
    fp = pycds.fingerprint().decode()
    assert sys.version.replace("\n", " ") in fp
    magic = int.from_bytes(importlib.util.MAGIC_NUMBER, "little")
    assert f"magic={magic}|" in fp
    assert f"hex={sys.hexversion:x}|" in fp
    assert "ptr=8|" in fp and "debug=0|" in fp and "ft=0|" in fp
    assert "\n" not in fp and len(fp) <= 256


def test_round_trip_of_records_and_user_data(tmp_path: Path) -> None:
    names = [f"pkg{i}.mod" for i in range(50)] + ["toppkg"]
    path = tmp_path / "a.img"
    write_archive(path, names)
    with Archive(path, verify_objects=True) as archive:
        info = archive.info()
        assert info["module_count"] == len(names)
        assert info["fingerprint"] == pycds.fingerprint()
        assert info["format_version"] == pycds._cds.FORMAT_VERSION
        assert info["file_size"] == path.stat().st_size
        assert info["base_address"] == pycds._cds.DEFAULT_BASE
        assert info["mapped_address"] - info["base_address"] == info["delta"]
        assert archive.user() == b"user bytes"
        for i, name in enumerate(names):
            record = archive.find(name)
            assert record is not None
            assert record["number"] == i
            assert record["name"] == name
            assert record["origin"] == f"/src/{name.replace('.', '/')}.py"
            assert record["cached"] == f"/src/__pycache__/{name}.pyc"
            assert record["is_package"] == name.endswith("pkg")
            assert record["source_mtime_ns"] == 1_700_000_000_000_000_000 + i
            assert record["source_size"] == 100 + i
            assert record["source_hash"] == 2**64 - 1 - i
            assert record["extra"] == name.encode() * 2
            assert record["objects_size"] >= len(b"root of ") + len(name)
        assert archive.find("pkg0") is None
        assert archive.find("missing.module") is None
        assert [r["name"] for r in archive.modules()] == names
        archive.verify_objects()
    with pytest.raises(ValueError, match="closed"):
        archive.find("pkg0.mod")


def test_refusals_are_one_line_with_reason(tmp_path: Path) -> None:
    good = tmp_path / "good.img"
    write_archive(good, ["a", "b"])
    data = good.read_bytes()

    cases = {
        "missing": (None, "No such file"),
        "empty": (b"", "too small"),
        "zeros": (bytes(8192), "magic"),
        "text": (b"#!/bin/sh\n" * 1000, "magic"),
        "truncated": (data[: len(data) // 2], "truncated"),
        "extended": (data + b"\0", "extended"),
    }
    for name, (content, reason) in cases.items():
        path = tmp_path / f"{name}.img"
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ArchiveError) as info:
            Archive(path)
        message = str(info.value)
        assert "\n" not in message, name
        assert message.startswith(str(path) + ": "), message
        assert reason in message, (name, message)
        assert info.value.path == str(path)
        assert reason in info.value.reason
        assert info.value.status > 0

    with pytest.raises(ArchiveError, match="not a regular file"):
        Archive(tmp_path)


def test_flipped_header_and_metadata_bytes_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.img"
    write_archive(good, [f"m{i}" for i in range(20)])
    data = bytearray(good.read_bytes())
    size = len(data)
    # Header fingerprint area, and the last byte (strings or user section).
    for offset, reason in ((100, "header checksum"), (size - 1, "checksum")):
        bad = bytearray(data)
        bad[offset] ^= 0xFF
        path = tmp_path / f"flip{offset}.img"
        path.write_bytes(bad)
        with pytest.raises(ArchiveError, match=reason):
            Archive(path)


def test_object_region_corruption_caught_when_verified(tmp_path: Path) -> None:
    good = tmp_path / "good.img"
    write_archive(good, ["x"])
    data = bytearray(good.read_bytes())
    data[4096] ^= 0x01  # first byte of the object region
    bad = tmp_path / "bad.img"
    bad.write_bytes(data)
    with pytest.raises(ArchiveError, match="objects section checksum"):
        Archive(bad, verify_objects=True)
    with Archive(bad) as archive:  # not verified unless asked
        with pytest.raises(ArchiveError, match="objects section checksum"):
            archive.verify_objects()


def test_other_interpreter_build_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.img"
    foreign = pycds.fingerprint().replace(b"[GCC", b"[Clang")
    write_archive(path, ["a"], fingerprint=foreign)
    with pytest.raises(ArchiveError, match="another runtime build"):
        Archive(path)
    with Archive(path, any_fingerprint=True) as archive:
        assert archive.info()["fingerprint"] == foreign


def test_archives_of_other_installed_versions_are_refused(tmp_path: Path) -> None:
    """Archives written by the other supported CPythons (when their test venvs
    exist) carry their own fingerprints and are refused here."""
    root = Path(__file__).resolve().parents[2] / ".venv"
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    others = [p for p in sorted(root.glob("3.1*/bin/python")) if p.parts[-3] != here]
    if not others:
        pytest.skip("no other pycds test environments")
    import subprocess

    for python in others:
        path = tmp_path / f"{python.parts[-3]}.img"
        script = (
            "import sys, pycds; w = pycds.Writer(); w.begin_module('m');"
            "w.end_module(w.add_bytes(b'12345678')); w.finish(sys.argv[1])"
        )
        subprocess.run([str(python), "-c", script, str(path)], check=True,
                       cwd=tmp_path)
        with pytest.raises(ArchiveError, match="another runtime build"):
            Archive(path)


def test_writer_rejects_misuse(tmp_path: Path) -> None:
    writer = Writer()
    try:
        writer.begin_module("a")
        with pytest.raises(ValueError, match="invalid argument"):
            writer.begin_module("b")  # nested
        with pytest.raises(ValueError):
            writer.end_module(12)  # not an object offset
        writer.end_module(writer.add_bytes(b"x" * 8))
        with pytest.raises(ValueError, match="already in archive"):
            writer.begin_module("a")
        writer.begin_module("c")
        writer.add_bytes(b"y" * 100)
        writer.cancel_module()
        assert writer.object_size == 8
        with pytest.raises(ArchiveError, match="No such file"):
            writer.finish(tmp_path / "no" / "dir" / "a.img")
        writer.finish(tmp_path / "a.img")
    finally:
        writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.begin_module("z")
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_replacing_an_archive_leaves_open_mappings_intact(tmp_path: Path) -> None:
    path = tmp_path / "a.img"
    write_archive(path, ["old"])
    with Archive(path) as old:
        # The old mapping holds the default address: build elsewhere.
        write_archive(path, ["new1", "new2"], base=pycds._cds.DEFAULT_BASE + 2**36)
        assert old.find("old") is not None
        old.verify_objects()
        with Archive(path) as new:
            assert new.find("old") is None
            assert new.info()["module_count"] == 2
            assert new.info()["delta"] == 0

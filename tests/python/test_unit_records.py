"""Unit records (issue 13, stage 2a): a module's unit is an opaque blob in
a record named NAME + "\\0unit" and flagged MODULE_UNIT.  Written through
Writer, it is never found as a module, share_unit hands its bytes out
without a copy, and exec_module asks set_restorer's callable before it
runs a module served from the archive that has one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pycds import Archive, Writer, _cds
from conftest import backdate, hits, run

# Every byte value, a NUL and the suffix inside: opaque to pycds.
BLOB = bytes(range(256)) * 3 + b"\0unit\0"

UNITMOD = 'print("unitmod body ran")\nVALUE = "from the body"\n'
PLAINMOD = 'print("plainmod body ran")\nVALUE = "plain"\n'


def add_module(writer: Writer, path: Path, name: str) -> None:
    """A module record as the dumper writes one without a fast-path record
    (the finder then lets PathFinder search, and serves the archive when it
    lands on this file, unchanged)."""
    source = path.read_bytes()
    st = path.stat()
    writer.begin_module(name, origin=str(path), source_mtime_ns=st.st_mtime_ns,
                        source_size=st.st_size,
                        source_hash=_cds.hash_bytes(source))
    writer.end_module(writer.add_code(compile(source, str(path), "exec",
                                              dont_inherit=True)))


def add_unit(writer: Writer, path: Path, name: str, blob: bytes) -> None:
    """A unit record, as the snapshot dumper writes one."""
    st = path.stat()
    writer.begin_module(name + "\0unit", is_unit=True, extra=blob,
                        origin=str(path), source_mtime_ns=st.st_mtime_ns,
                        source_size=st.st_size)
    writer.end_module(writer.add_bytes(bytes(8)))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """lib/unitmod.py with a unit, lib/plainmod.py without, archived in
    app.img."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "unitmod.py").write_text(UNITMOD)
    (lib / "plainmod.py").write_text(PLAINMOD)
    backdate(tmp_path)
    writer = Writer()
    try:
        add_module(writer, lib / "unitmod.py", "unitmod")
        add_unit(writer, lib / "unitmod.py", "unitmod", BLOB)
        add_module(writer, lib / "plainmod.py", "plainmod")
        writer.set_user(_cds.code_settings())
        writer.finish(tmp_path / "app.img")
    finally:
        writer.close()
    return tmp_path


def share(root: Path, code: str, check: bool = True):
    """Run `code` as lib/main.py with the archive shared (so that lib is
    sys.path[0], as when the modules were archived)."""
    (root / "lib" / "main.py").write_text(code)
    return run(["lib/main.py"], cwd=root, check=check, PYCDSMODE="SHARE",
               PYCDSARCHIVE=str(root / "app.img"), PYCDSVERBOSE="1")


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_writer_and_archive_know_unit_records(root: Path) -> None:
    with Archive(root / "app.img") as archive:
        names = [r["name"] for r in archive.modules()]
        assert names == ["unitmod", "unitmod\0unit", "plainmod"]
        unit = archive.find("unitmod\0unit")
        assert unit is not None and unit["is_unit"]
        assert unit["flags"] & _cds.MODULE_UNIT
        assert not unit["is_absent"] and not unit["is_extension"]
        assert unit["extra"] == BLOB
        module = archive.find("unitmod")
        assert module is not None and not module["is_unit"]
    assert _cds.MODULE_UNIT == 0x400 and _cds.UNIT_SUFFIX == "\0unit"
    assert {_cds.MODULE_EXTENSION, _cds.MODULE_ABSENT} == {0x100, 0x200}


def test_a_record_is_one_kind_and_names_keep_their_nul(tmp_path: Path) -> None:
    writer = Writer()
    try:
        for other in ("is_absent", "is_extension"):
            with pytest.raises(ValueError, match="only one of them"):
                writer.begin_module("m\0unit", is_unit=True, **{other: True})
        writer.begin_module("m\0unit", is_unit=True, extra=b"x")
        writer.end_module(writer.add_bytes(bytes(8)))
        # Another record named "m" is another module, not a duplicate.
        writer.begin_module("m")
        writer.end_module(writer.add_bytes(bytes(8)))
        with pytest.raises(ValueError,
                           match=r"^m\\0unit: module already in archive$"):
            writer.begin_module("m\0unit", is_unit=True)
    finally:
        writer.close()


def test_share_unit_gives_the_bytes_and_no_module_lookup_finds_them(
        root: Path) -> None:
    done = share(root, """
import json, sys
from pycds import _cds
unit = _cds.share_unit("unitmod")
lookup = _cds.share_lookup("unitmod")
number = _cds.share_lookup("unitmod")[0]
print(json.dumps({
    "type": type(unit).__name__,
    "readonly": unit.readonly,
    "bytes": bytes(unit).hex(),
    "plainmod": _cds.share_unit("plainmod"),
    "missing": _cds.share_unit("missing"),
    "unit_key": _cds.share_unit("unitmod\\0unit"),
    "lookup_unit": _cds.share_lookup("unitmod\\0unit"),
    "lookup_module": lookup is not None,
    "code_of_unit_record": _cds.share_code(number + 1),
    "code_of_module": type(_cds.share_code(number)).__name__,
}))
""")
    result = last_json(done.stdout)
    assert result["type"] == "memoryview" and result["readonly"] is True
    assert bytes.fromhex(result["bytes"]) == BLOB
    assert result["plainmod"] is None and result["missing"] is None
    assert result["unit_key"] is None  # no "unitmod\0unit\0unit"
    assert result["lookup_unit"] is None and result["lookup_module"]
    assert result["code_of_unit_record"] is None
    assert result["code_of_module"] == "code"


def test_no_unit_without_a_shared_archive() -> None:
    assert _cds.share_unit("json") is None


def test_a_name_holding_the_units_key_is_not_served(root: Path) -> None:
    # importlib passes such a name on to the finders.
    done = share(root, """
import importlib
try:
    importlib.import_module("unitmod\\0unit")
except ModuleNotFoundError as error:
    print("not found", error.name == "unitmod\\0unit")
""")
    assert "not found True" in done.stdout
    # Not even considered: no hit, no fallback, no search of its own.
    assert "unitmod\0unit" not in done.stderr


RESTORER = """
import json, sys
from pycds import _cds
calls = []
def restorer(module, code, unit):
    calls.append({"module": type(module).__name__, "name": module.__name__,
                  "code": type(code).__name__, "file": code.co_filename,
                  "unit": type(unit).__name__, "bytes": bytes(unit).hex()})
    ANSWER
_cds.set_restorer(restorer)
try:
    import unitmod
    outcome = unitmod.VALUE
except Exception as error:
    outcome = f"{type(error).__name__}: {error}"
import plainmod
print(json.dumps({"outcome": outcome, "calls": calls,
                  "in_sys_modules": "unitmod" in sys.modules,
                  "plain": plainmod.VALUE}))
"""


def restore(root: Path, answer: str):
    done = share(root, RESTORER.replace("ANSWER", answer))
    return done, last_json(done.stdout)


def test_restorer_true_skips_the_body(root: Path) -> None:
    done, result = restore(root, "module.VALUE = 'restored'; return True")
    assert "unitmod body ran" not in done.stdout
    assert result["outcome"] == "restored" and result["in_sys_modules"]
    [call] = result["calls"]  # not for plainmod, which has no unit
    assert call == {"module": "module", "name": "unitmod", "code": "code",
                    "file": str(root / "lib" / "unitmod.py"),
                    "unit": "memoryview", "bytes": BLOB.hex()}
    assert "plainmod body ran" in done.stdout and result["plain"] == "plain"
    assert {"unitmod", "plainmod"} <= hits(done.stderr)


def test_restorer_false_runs_the_body(root: Path) -> None:
    done, result = restore(root, "return False")
    assert "unitmod body ran" in done.stdout
    assert result["outcome"] == "from the body"
    assert len(result["calls"]) == 1


def test_restorer_exception_reaches_the_importer(root: Path) -> None:
    done, result = restore(root, "raise LookupError('restorer failed')")
    assert result["outcome"] == "LookupError: restorer failed"
    assert "unitmod body ran" not in done.stdout
    assert not result["in_sys_modules"]
    assert len(result["calls"]) == 1


def test_restorer_must_answer_true_or_false(root: Path) -> None:
    done, result = restore(root, "return 1")
    assert result["outcome"].startswith("TypeError: restorer of unitmod "
                                        "returned 1, not True or False")
    assert "unitmod body ran" not in done.stdout


def test_restorer_is_not_asked_for_code_not_from_the_archive(
        root: Path) -> None:
    # An archived loader serves the archive's code once; run again, it
    # runs what its base loader reads from the file.  The unit was made
    # with the archived code, so the restorer is not asked then.
    done = share(root, """
import importlib.util, json
from pycds import _cds
calls = []
_cds.set_restorer(lambda module, code, unit: calls.append(1) or True)
import unitmod
again = importlib.util.module_from_spec(unitmod.__spec__)
unitmod.__spec__.loader.exec_module(again)
print(json.dumps({"calls": len(calls), "value": again.VALUE,
                  "loader": type(unitmod.__loader__).__name__}))
""")
    result = last_json(done.stdout)
    assert result == {"calls": 1, "value": "from the body",
                      "loader": "ArchivedSourceLoader"}
    assert done.stdout.count("unitmod body ran") == 1  # the second run's


def test_set_restorer_none_and_bad_arguments(root: Path) -> None:
    done = share(root, """
from pycds import _cds
called = []
_cds.set_restorer(lambda *args: called.append(args) or True)
_cds.set_restorer(None)
try:
    _cds.set_restorer(42)
except TypeError as error:
    print("refused:", error)
import unitmod
print("called", len(called))
""")
    assert "refused: set_restorer() needs a callable or None" in done.stdout
    assert "unitmod body ran" in done.stdout and "called 0" in done.stdout


def test_the_import_memo_is_emptied_when_the_outermost_import_returns(
        root: Path) -> None:
    """set_import_memo's dict keeps what an import put there until the
    outermost archived exec_module returns (a restorer's own imports run
    inside it), then is empty; anything but a dict or None is refused."""
    done = share(root, """
from pycds import _cds
memo = {}
_cds.set_import_memo(memo)
seen = []
def restorer(module, code, unit):
    memo[module.__name__] = object()
    seen.append(sorted(memo))
    return False
_cds.set_restorer(restorer)
for bad in (42, [], {}.keys()):
    try:
        _cds.set_import_memo(bad)
    except TypeError as error:
        print("refused:", error)
import unitmod
print("during", seen, "after", memo)
_cds.set_import_memo(None)
_cds.set_restorer(None)
""")
    assert done.stdout.count("refused: set_import_memo() needs a dict or None") == 3, done
    assert "during [['unitmod']] after {}" in done.stdout, done


def test_inspect_shows_units(root: Path) -> None:
    done = run(["-m", "pycds", "inspect", "--modules", str(root / "app.img")])
    lines = {line.split()[0]: line.split() for line in
             done.stdout.splitlines() if line.startswith("  ")}
    assert "\0" not in done.stdout
    units = [line.split() for line in done.stdout.splitlines()
             if line.startswith("  unitmod ")]
    assert sorted(u[1] for u in units) == ["module", "unit"]
    [unit] = [u for u in units if u[1] == "unit"]
    assert unit[2:4] == [str(len(BLOB)), "B"]
    assert lines["plainmod"][1] == "module"


@pytest.mark.parametrize("starts", [False, True])
def test_a_first_unit_without_starts_runs_its_body_and_loads_no_restore(
        tmp_path: Path, starts: bool) -> None:
    """A process that has restored no unit yet loads the restore only for a
    unit whose record says it pays for that (MODULE_UNIT_STARTS): without
    it the body runs and neither the restore nor the unpickler is imported;
    with it the restore reads the unit (this one is no unit of its format,
    so the body runs all the same, after saying why)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "unitmod.py").write_text(UNITMOD)
    backdate(tmp_path)
    writer = Writer()
    try:
        add_module(writer, lib / "unitmod.py", "unitmod")
        st = (lib / "unitmod.py").stat()
        writer.begin_module("unitmod\0unit", is_unit=True, extra=BLOB, starts=starts,
                            origin=str(lib / "unitmod.py"),
                            source_mtime_ns=st.st_mtime_ns, source_size=st.st_size)
        writer.end_module(writer.add_bytes(bytes(8)))
        writer.set_user(_cds.code_settings())
        writer.finish(tmp_path / "app.img")
    finally:
        writer.close()
    with Archive(tmp_path / "app.img") as archive:
        [unit] = [m for m in archive.modules() if m["is_unit"]]
        assert bool(unit["flags"] & _cds.MODULE_UNIT_STARTS) == starts
    done = share(tmp_path, "import sys, unitmod\n"
                 "print(sorted(m for m in sys.modules if 'pickle' in m or 'restore' in m))\n")
    assert "unitmod body ran" in done.stdout
    if starts:
        assert "pycds: snapshot: unitmod: code (not a unit of this format)" in done.stderr
        assert "pycds._snapshot_restore" in done.stdout
    else:
        assert ("pycds: snapshot: unitmod: code (its units would not pay for "
                "loading the restore)") in done.stderr
        assert done.stdout.endswith("unitmod body ran\n[]\n"), done.stdout


def test_only_a_unit_or_a_modules_code_starts() -> None:
    writer = Writer()
    try:
        for kind in ("is_extension", "is_absent"):
            with pytest.raises(ValueError, match="only a unit or a module's code starts"):
                writer.begin_module("plain", starts=True, **{kind: True})
    finally:
        writer.close()


def test_a_module_whose_import_starts_a_restore_is_announced(tmp_path: Path) -> None:
    """A module with no unit whose code record starts (its import's units
    pay for the restore) is announced to the restorer with unit None before
    its body runs: pycds's own then loads the restore, so that a unit its
    body imports is read even though that unit does not start (here no
    unit of the format: the restore says so, the body runs)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "unitmod.py").write_text(UNITMOD)
    (lib / "startmod.py").write_text("import unitmod\n")
    backdate(tmp_path)
    writer = Writer()
    try:
        add_module(writer, lib / "unitmod.py", "unitmod")
        add_unit(writer, lib / "unitmod.py", "unitmod", BLOB)  # does not start
        source = (lib / "startmod.py").read_bytes()
        st = (lib / "startmod.py").stat()
        writer.begin_module("startmod", origin=str(lib / "startmod.py"),
                            source_mtime_ns=st.st_mtime_ns, source_size=st.st_size,
                            source_hash=_cds.hash_bytes(source), starts=True)
        writer.end_module(writer.add_code(compile(source, str(lib / "startmod.py"),
                                                  "exec", dont_inherit=True)))
        writer.set_user(_cds.code_settings())
        writer.finish(tmp_path / "app.img")
    finally:
        writer.close()
    done = share(tmp_path, "import startmod\n")
    assert "unitmod body ran" in done.stdout
    assert "pycds: snapshot: unitmod: code (not a unit of this format)" in done.stderr
    done = share(tmp_path, "import unitmod\n")  # alone: nothing loaded
    assert ("pycds: snapshot: unitmod: code (its units would not pay for "
            "loading the restore)") in done.stderr
    calls = share(tmp_path, """
from pycds import _cds
seen = []
def restorer(module, code, unit):
    seen.append((module.__name__, None if unit is None else "unit"))
    return module.__name__ == "startmod"
_cds.set_restorer(restorer)
try:
    import startmod
except TypeError as error:
    print(error)
print(seen)
""")
    assert calls.stdout.splitlines()[-2:] == [
        "restorer of startmod returned True without a unit", "[('startmod', None)]"]

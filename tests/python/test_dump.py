"""The dumper: .pyc-only modules, modules it cannot archive, bad input,
and refusal to copy code while tracing is active."""

from __future__ import annotations

import importlib.util
import json
import marshal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PY, build, hits, run


def write_pyc(path: Path, source: str, tweak=None) -> None:
    """A .pyc-only module; tweak(code) may replace its code object."""
    code = compile(source, str(path.with_suffix(".py")), "exec")
    if tweak:
        code = tweak(code)
    header = importlib.util.MAGIC_NUMBER + b"\0" * 12
    path.write_bytes(header + marshal.dumps(code))


def test_pyc_only_module_is_served(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    write_pyc(tmp_path / "src" / "compiled.pyc", "VALUE = ('pyc', 42)\n")
    built = build(tmp_path, ["-c", "import compiled"], PYTHONPATH="src")
    code = "import compiled; print(compiled.VALUE, type(compiled.__loader__).__name__)"
    out = built.share(["-c", code], PYTHONPATH="src")
    assert out.stdout.split()[:2] == ["('pyc',", "42)"]
    assert out.stdout.split()[2] == "ArchivedSourcelessLoader"
    assert "compiled" in hits(out.stderr)
    # A changed .pyc is not served: plain importing reads the new one.
    write_pyc(tmp_path / "src" / "compiled.pyc", "VALUE = ('new pyc', 43)\n")
    out = built.share(["-c", code], PYTHONPATH="src")
    assert out.stdout.startswith("('new pyc', 43)")
    assert "compiled" not in hits(out.stderr)


def test_a_source_the_dump_compiles_and_caches_is_archived(tmp_path: Path) -> None:
    """With bytecode written (PYTHONDONTWRITEBYTECODE empty), the dumper's
    loader compiles a source whose .pyc is stale and writes a new .pyc;
    marshal then fills 3.11's cache of co_code, which is not a run: the
    module is archived, not skipped as "code object that has run"."""
    (tmp_path / "edited.py").write_text("X = 'old'\n")
    built = build(tmp_path, ["-c", "import edited"], PYTHONDONTWRITEBYTECODE="")
    assert " 0 skipped" in built.dump_output.splitlines()[0], built.dump_output
    (tmp_path / "edited.py").write_text("X = 'new, edited'\n")
    dumped = run(["-m", "pycds", "dump", "--list", str(built.list_path),
                  "--archive", str(built.archive)], cwd=tmp_path,
                 PYTHONDONTWRITEBYTECODE="")
    assert " 0 skipped" in dumped.stdout.splitlines()[0], dumped.stdout
    assert (tmp_path / "__pycache__").is_dir()  # the loader did write one
    out = built.share(["-c", "import edited; print(edited.X)"])
    assert out.stdout == "new, edited\n"
    assert "edited" in hits(out.stderr)


def test_unsupported_constant_skips_the_module_not_the_dump(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "fine.py").write_text("X = 'fine'\n")
    # marshal can store a list among the constants; the compiler never does.
    write_pyc(tmp_path / "src" / "odd.pyc", "Y = 1\n",
              lambda c: c.replace(co_consts=c.co_consts + ([1, 2],)))
    write_pyc(tmp_path / "src" / "nested.pyc", "Z = 1\n",
              lambda c: c.replace(co_consts=c.co_consts + (frozenset({frozenset({1})}),)))
    built = build(tmp_path, ["-c", "import fine, odd, nested"], PYTHONPATH="src")
    lines = built.dump_output.splitlines()
    assert lines[0].startswith("archived ") and lines[0].endswith(", 2 skipped")
    assert "  skipped odd: constant of type list" in lines
    assert "  skipped nested: frozenset nested in a frozenset constant" in lines
    out = built.share(["-c", "import fine, odd, nested; print(fine.X, odd.Y, nested.Z)"],
                      PYTHONPATH="src")
    assert out.stdout.strip() == "fine 1 1"
    assert hits(out.stderr) >= {"fine"} and not hits(out.stderr) & {"odd", "nested"}


def test_dump_refuses_to_run_under_tracing(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("A = 1\n")
    run(["-c", "import m"], cwd=tmp_path, PYCDSMODE="TRACE",
        PYCDSLIST=str(tmp_path / "a.lst"))
    code = ("import sys; sys.settrace(lambda *a: None); from pycds.__main__ import main; "
            f"sys.exit(main(['dump', '--list', {str(tmp_path / 'a.lst')!r}, "
            f"'--archive', {str(tmp_path / 'a.img')!r}]))")
    out = run(["-c", code], cwd=tmp_path, check=False)
    assert out.returncode == 1
    assert "refusing to dump with a trace or profile function set" in out.stderr
    assert not (tmp_path / "a.img").exists()


def test_dump_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    cases = {"missing.lst": "No such file", "junk.lst": "not a pycds module list"}
    (tmp_path / "junk.lst").write_text("hello\n")
    for name, reason in cases.items():
        out = run(["-m", "pycds", "dump", "--list", str(tmp_path / name),
                   "--archive", str(tmp_path / "x.img")], cwd=tmp_path, check=False)
        assert out.returncode == 1 and reason in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    out = run(["-m", "pycds", "dump"], cwd=tmp_path, check=False)
    assert out.returncode == 2 and "give --list and --archive" in out.stderr
    # Torn or foreign lines are skipped and counted, the rest is archived.
    (tmp_path / "m.py").write_text("A = 1\n")
    run(["-c", "import m"], cwd=tmp_path, PYCDSMODE="TRACE",
        PYCDSLIST=str(tmp_path / "a.lst"))
    with open(tmp_path / "a.lst", "a") as f:
        f.write('M 123 ["torn", "/x\n')
    out = run(["-m", "pycds", "dump", "--list", str(tmp_path / "a.lst"),
               "--archive", str(tmp_path / "a.img")], cwd=tmp_path)
    assert " 0 skipped" in out.stdout
    assert "note: 1 unreadable lines" in out.stdout
    assert out.stdout.startswith("archived ")


def test_names_that_are_no_module_names_are_left_out(tmp_path: Path) -> None:
    # importlib.util.find_spec("") asks PathFinder for "": the trace does
    # not note it, and a list that holds such a name (from an older trace,
    # or edited) is dumped without it.
    (tmp_path / "m.py").write_text("A = 1\n")
    code = "import importlib.util, m; print(importlib.util.find_spec('') is None)"
    listing = tmp_path / "a.lst"
    run(["-c", code], cwd=tmp_path, PYCDSMODE="TRACE", PYCDSLIST=str(listing))
    text = listing.read_text()
    assert 'A ' in text and ' ""' not in text
    path_id = text.splitlines()[1].split()[1]
    with open(listing, "a") as f:
        for name in ("", "a..b", ".m", "m."):
            f.write(f"A {path_id} {json.dumps(name)}\n")
        f.write(f'M {path_id} ["", "{tmp_path / "m.py"}", false]\n')
    out = run(["-m", "pycds", "dump", "--list", str(listing),
               "--archive", str(tmp_path / "a.img")], cwd=tmp_path)
    assert out.stdout.startswith("archived ") and "note: 5 unreadable lines" in out.stdout
    shared = run(["-c", code], cwd=tmp_path, PYCDSMODE="SHARE",
                 PYCDSARCHIVE=str(tmp_path / "a.img"), PYCDSVERBOSE="1")
    assert shared.stdout == "True\n" and "pycds: hit m" in shared.stderr


def test_tracing_never_fails_an_import_whose_directory_is_gone(tmp_path: Path) -> None:
    """The trace notes sys.path (made absolute) as imports start: a program
    that removed its working directory, with '' on sys.path, still imports
    (the trace then says, at exit, why it wrote nothing)."""
    code = ("import os, sys, tempfile\n"
            "d = tempfile.mkdtemp(); os.chdir(d); os.rmdir(d)\n"
            "sys.path.insert(0, '')\n"
            "import json, email.message\n"
            "print('imported', json.dumps([1]))\n")
    listing = tmp_path / "a.lst"
    done = run(["-c", code], cwd=tmp_path, PYCDSMODE="TRACE", PYCDSLIST=str(listing),
               PYCDSVERBOSE="1")
    assert done.stdout == "imported [1]\n", done.stderr
    assert "pycds: trace not written: " in done.stderr and not listing.exists()


def test_the_trace_keeps_the_path_of_the_import_that_found_a_module(
        tmp_path: Path) -> None:
    """Each module is listed with the sys.path the import of the module in
    sys.modules at exit started on: a name looked up in vain first gets
    the path of the lookup that found it, and a module imported afresh and
    then put back (regrtest's import_fresh_module, under a test's own
    sys.path) keeps its first.  (A module replaced by another, found once
    more is on sys.path: test_absent's vendoring.)"""
    from pycds import _listfile
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "late.py").write_text("X = 1\n")
    (tmp_path / "early.py").write_text("X = 1\n")
    code = ("import sys\n"
            "import early\n"
            "try:\n"
            "    import late\n"
            "except ImportError:\n"
            "    sys.path.insert(0, 'extra')\n"
            "    import late\n"
            "first = sys.modules.pop('early')\n"
            "sys.path.insert(0, '/nowhere')\n"
            "import early\n"
            "sys.modules['early'] = first\n")
    listing = tmp_path / "a.lst"
    run(["-c", code], cwd=tmp_path, PYCDSMODE="TRACE", PYCDSLIST=str(listing))
    paths = {m.name: m.path for m in _listfile.read(str(listing)).modules}
    assert paths["early"][0] == str(tmp_path), paths["early"]
    assert paths["late"][:2] == [str(tmp_path / "extra"), str(tmp_path)], paths["late"]


def test_the_trace_notes_an_empty_sys_path_at_its_first_lookup(tmp_path: Path) -> None:
    """The tracer notes sys.path at each lookup where it differs from the
    last one noted; at the first lookup even an empty one is noted (the
    module that lookup found is listed as found on [])."""
    code = ("import sys, types\n"
            "from pycds._trace import ImportOrder\n"
            "sys.path.clear()\n"
            "ImportOrder.find_spec('found_')\n"
            "sys.modules['found_'] = types.ModuleType('found_')\n"
            "sys.path.append('/elsewhere')\n"
            "ImportOrder.find_spec('next_')\n"
            "at = ImportOrder.path_index('found_')\n"
            "print(at, ImportOrder.paths[at] if at is not None else None)\n")
    done = run(["-c", code], cwd=tmp_path)
    assert done.stdout == "0 []\n", done.stdout


def test_the_trace_is_written_whatever_json_the_program_left(tmp_path: Path) -> None:
    """The list is written at the program's exit with pycds's own
    encoder: a program that replaced json.dumps (an orjson shim) still
    leaves a list the dump reads."""
    from pycds import _listfile
    (tmp_path / "m.py").write_text("A = 1\n")
    code = ("import json, m\n"
            "json.dumps = lambda *args, **kwargs: 'replaced'\n")
    listing = tmp_path / "a.lst"
    run(["-c", code], cwd=tmp_path, PYCDSMODE="TRACE", PYCDSLIST=str(listing))
    traced = _listfile.read(str(listing))
    assert traced.bad_lines == 0 and "m" in {m.name for m in traced.modules}
    out = run(["-m", "pycds", "dump", "--list", str(listing),
               "--archive", str(tmp_path / "a.img")], cwd=tmp_path)
    assert out.stdout.startswith("archived ") and "unreadable" not in out.stdout


def test_the_trace_is_written_whatever_builtins_the_program_left(
        tmp_path: Path) -> None:
    """The tracer's code at exit runs with the builtins tracing began
    with; what the program replaced, deleted or added is put back after
    (seen here by recording once more before exit)."""
    from pycds import _listfile
    (tmp_path / "m.py").write_text("A = 1\n")
    code = ("import builtins, m\n"
            "from pycds import _trace\n"
            "builtins.sorted = lambda *args, **kwargs: 1 / 0\n"
            "builtins.len = None\n"
            "del builtins.getattr\n"
            "builtins.extra = 5\n"
            "_trace.record('again.lst')\n"
            "print(builtins.len, 'getattr' in vars(builtins), builtins.extra)\n")
    listing = tmp_path / "a.lst"
    done = run(["-c", code], cwd=tmp_path, PYCDSMODE="TRACE",
               PYCDSLIST=str(listing))
    assert done.stdout == "None False 5\n", done.stdout
    for written in (listing, tmp_path / "again.lst"):
        traced = _listfile.read(str(written))
        assert traced.bad_lines == 0 and "m" in {m.name for m in traced.modules}


def test_inspect_command(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("A = 1\n")
    built = build(tmp_path, ["-c", "import m"])
    out = run(["-m", "pycds", "inspect", "--modules", str(built.archive)], cwd=tmp_path)
    assert "loadable    yes" in out.stdout and " m " in out.stdout
    bad = tmp_path / "bad.img"
    bad.write_bytes(built.archive.read_bytes()[:5000])
    out = run(["-m", "pycds", "inspect", str(bad)], cwd=tmp_path, check=False)
    assert out.returncode == 1 and "truncated" in out.stderr
    assert PY  # the interpreter under test ran all of the above
    assert sys.version_info >= (3, 11)


def test_fast_path_record_layout() -> None:
    """The record the finder reads (pycds/ext/fastpath.h), written by the
    same code that defines it; a path it cannot hold makes no record."""
    from pycds import _cds

    record = _cds.fast_path_record(["/a", "/b"], [(5, "/a")],
                                   [(-1, "/b"), (-2, "/b/pkg")])
    assert record == b"P\t/a\nP\t/b\nE\t5\t/a\nS\t-1\t/b\nS\t-2\t/b/pkg\n"
    assert _cds.fast_path_record(["/a\nb"], [], []) == b""
    assert _cds.fast_path_record([], [], [(1, "/nul\0byte")]) == b""


def test_import_trees_and_the_units_that_start_a_restore() -> None:
    """-X importtime prints a module when its import ends, its name indented
    by depth: a module's tree is itself and the deeper lines before it.  A
    unit may be a process's first when its tree's units gain more than the
    restore's own modules cost."""
    from pycds._dump import import_trees, starting_modules
    lines = [
        "import time: self [us] | cumulative | imported package",
        "import time:        10 |         10 |     json.scanner",
        "import time:        20 |         30 |   json.decoder",
        "import time:        30 |         30 |   json.encoder",
        "import time:        40 |        100 | json",
        "import time:         5 |          5 | small",
        "pycds: snapshot: json: restored",
        "import time:         7 |          7 |   leaf",
        "import time:         9 |         16 | big",
    ]
    trees = import_trees(lines)
    assert trees["json"] == {"json", "json.decoder", "json.scanner", "json.encoder"}
    assert trees["json.decoder"] == {"json.decoder", "json.scanner"}
    assert trees["small"] == {"small"} and trees["big"] == {"big", "leaf"}
    gains = {"json": 100, "json.decoder": 150, "json.scanner": 200, "small": 30,
             "leaf": 400, "big": 20}
    kept = {"json", "json.decoder", "json.scanner", "small", "leaf", "big"}
    # json's tree gains 450 (json.encoder has no unit kept), big's 420.
    assert starting_modules(kept, gains, trees, machinery=430) == {"json"}
    assert starting_modules(kept, gains, trees, machinery=10) == kept
    assert starting_modules(kept - {"json.scanner"}, gains, trees, 430) == set()
    # big left as code starts too when its tree's units pay (leaf's 400).
    assert starting_modules(kept - {"big"}, gains, trees, 390) == {"json", "big", "leaf"}


class _Usage:
    def __init__(self, seconds: float) -> None:
        self.ru_utime, self.ru_stime = seconds, 0.0


def _scripted_whole_runs(monkeypatch: pytest.MonkeyPatch, with_units: list[float],
                         without: list[float]) -> tuple[str | None, int]:
    """whole_run_slower with its processes replaced by CPU times: the runs
    alternate, with units first, as the dump runs them."""
    import resource
    import subprocess

    from pycds import _dump
    times = [t for pair in zip(with_units, without) for t in pair]
    clock = {"spent": 0.0, "calls": 0}

    def getrusage(who: int) -> _Usage:
        return _Usage(clock["spent"])

    def fake_run(*args: object, **kwargs: object) -> None:
        clock["spent"] += times[clock["calls"]]
        clock["calls"] += 1
    monkeypatch.setattr(resource, "getrusage", getrusage)
    monkeypatch.setattr(subprocess, "run", fake_run)
    return _dump.whole_run_slower("unused-request", "unused.img"), clock["calls"]


def test_whole_run_check_counts_each_ways_best_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dump drops every unit when whole processes are not faster with
    them.  A few disturbed processes with units (their median 90 ms against
    60) do not decide it: the best with units (50 ms) beats the best
    without (55 ms).  When the best with units is slower, the reason says
    both figures."""
    from pycds import _dump
    pairs = _dump.WHOLE_RUN_PAIRS
    disturbed = [0.050] + [0.090] * (pairs - 1)
    verdict, calls = _scripted_whole_runs(monkeypatch, disturbed, [0.055] + [0.060] * (pairs - 1))
    assert calls == 2 * pairs
    assert verdict is None
    verdict, calls = _scripted_whole_runs(monkeypatch, [0.058] * pairs, [0.055] * pairs)
    assert calls == 2 * pairs
    assert verdict == (f"best of {pairs} processes: 58.0 ms of CPU with them, "
                       "55.0 ms without")


def test_whole_run_check_samples_a_close_call_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Best with units 1.8% slower after one round: a close call (under
    WHOLE_RUN_CLOSE), so more rounds run; the units stay when a later
    round finds them faster, and go only when every round agrees."""
    from pycds import _dump
    pairs, rounds = _dump.WHOLE_RUN_PAIRS, _dump.WHOLE_RUN_ROUNDS
    assert rounds >= 2 and 0.018 < _dump.WHOLE_RUN_CLOSE
    close = [0.1057] * pairs
    verdict, calls = _scripted_whole_runs(monkeypatch, close + [0.1020] * pairs,
                                          [0.1038] * (2 * pairs))
    assert (verdict, calls) == (None, 4 * pairs)
    verdict, calls = _scripted_whole_runs(monkeypatch, close * rounds,
                                          [0.1038] * (pairs * rounds))
    assert calls == 2 * pairs * rounds
    assert verdict == (f"best of {pairs * rounds} processes: 105.7 ms of CPU with them, "
                       "103.8 ms without")


def test_verify_says_which_imports_raised(tmp_path: Path) -> None:
    """The verifying run goes on past an import that raises, and says on
    one line of its standard error which and with what."""
    from pycds import _dump
    (tmp_path / "fine.py").write_text("X = 1\n")
    (tmp_path / "broken.py").write_text("raise KeyError('JoinStyle')\n")
    request = tmp_path / "request"
    request.write_text(repr((["broken", "fine"], [[str(tmp_path)]], [0, 0])))
    done = subprocess.run([PY, "-c", _dump.VERIFY, str(request)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        _dump.VERIFY_FAILED + "broken: \"KeyError: 'JoinStyle'\""]


def test_an_import_that_raises_only_with_the_units_drops_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An import that raises in the verifying runs with the units and not
    in those without (a unit whose state a later body found wrong, or a
    restore that failed after it installed a unit) drops every unit, the
    exception in the reason; one that raises both ways decides nothing."""
    from pycds import _dump

    def runs(raised_with: dict[str, str], raised_without: dict[str, str]):
        def import_times(archive_path: str, request: str, snapshot: bool):
            times = {"early": 20 if snapshot else 50, "late": 10}
            said = {"early": "restored"} if snapshot else {}
            return times, said, {}, dict(raised_with if snapshot else raised_without)
        monkeypatch.setattr(_dump, "_import_times", import_times)
        result = _dump.DumpResult(archive="unused.img")
        return _dump.choose_units("unused-request", "unused.img",
                                  {"early": "early.unit"}, result), result.code_only

    failing = {"late": "'ImportError: a restore ran before me'"}
    assert runs(failing, {}) == (({}, set()), [(
        "early", "with the units, importing late raised 'ImportError: a restore "
        "ran before me'; without them it did not")])
    assert runs(failing, failing) == (({"early": "early.unit"}, {"early"}), [])
    crashed = {"(the verifying run)": "exit status -11"}
    assert runs(crashed, {})[0] == ({}, set())

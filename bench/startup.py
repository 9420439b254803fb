"""Whole-process start-up: plain CPython against pycds SHARE and SNAPSHOT.

For each workload: trace a run, dump the archive, and dump a second one
with --snapshot (snapshot units: module bodies' objects restored instead of
run), then time plain, SHARE and SNAPSHOT runs alternating (so machine
noise hits all alike) and report medians, the ratio to plain per pair
(median, min, max) and the geometric mean of the ratios.  With the
snapshot: its units, the dump's time, and (extras) the restore's time by
phase from PYCDSVERBOSE=2, PSS and the archive's size.
Beside the times, the stable figures: system calls by kind (strace), archive
bytes against the .pyc bytes of the same modules, the loader's own time
(map, relocate + intern, revive), minor page faults, memory (PSS) with 8
processes alive, and the ceiling: get_code and PathFinder.find_spec timed
inside plain runs, all that an archive of code objects could remove (the
ratio plain would have without them).  Under --instructions, callgrind's
counts of plain, SHARE and SNAPSHOT runs and of pycds's own part of the
SHARE run.

    python bench/startup.py [--pairs N] [--json FILE] [--no-extras] [WORKLOAD ...]

WORKLOAD is a module name (`import X` is timed; `PIL.Image` works), `demo`
(the bundled example program), `json@big` (`import json` from an archive of
the whole standard library plus boto3) or `pth` (an empty program with and
without pycds.pth installed, PYCDSMODE unset: the cost of having pycds
installed).
Run it with the interpreter of a virtual environment that has pycds and the
packages installed (`make bench-startup` makes them): base interpreters'
.pth files add noise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run away from the source tree, whose pycds/ has no built extension.
NEUTRAL_CWD = tempfile.gettempdir()
PSS_PROCESSES = 8


@dataclass
class Result:
    workload: str
    plain_ms: float
    shared_ms: float
    ratios: list[float]
    modules: int = 0
    archive_bytes: int = 0
    pyc_bytes: int = 0
    syscalls: dict[str, dict[str, int]] = field(default_factory=dict)
    loader_ms: dict[str, float] = field(default_factory=dict)
    pss_kib: dict[str, float] = field(default_factory=dict)
    instructions: dict[str, int] = field(default_factory=dict)
    # pycds's own instructions in the SHARE run, by part (own_instructions).
    own: dict[str, int] = field(default_factory=dict)
    minor_faults: dict[str, int] = field(default_factory=dict)
    # get_code + PathFinder.find_spec in a plain run, timed inside it: what
    # an archive of code can remove at most.
    ceiling_ms: float = 0.0
    # SNAPSHOT: the same command with an archive dumped with --snapshot,
    # timed in the same loop as plain and SHARE (ratios are plain/SNAPSHOT
    # per round).  Empty for `pth`, or with snapshot_error when the
    # snapshot dump failed.
    snapshot_ms: float = 0.0
    snapshot_ratios: list[float] = field(default_factory=list)
    snapshot_error: str = ""
    # From the dump's line `snapshot: N units of M modules (P%), B bytes,
    # made in S s`: units, bytes of units, S; dump_s is the whole dump's
    # wall time (code and snapshot).
    snapshot_units: int = 0
    snapshot_unit_bytes: int = 0
    snapshot_made_s: float = 0.0
    snapshot_dump_s: float = 0.0
    snapshot_archive_bytes: int = 0
    # Extras, from PYCDSVERBOSE=2 runs (median of 3): microseconds summed
    # over restored modules per phase (inputs, names, objects, fills,
    # operations; "imports" left out: those modules have their own lines),
    # and how many modules were restored and refused in such a run.
    restore_us: dict[str, float] = field(default_factory=dict)
    restored: int = 0
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def snapshot_ratio(self) -> float:
        return statistics.median(self.snapshot_ratios) if self.snapshot_ratios else 0.0

    @property
    def ceiling(self) -> float:
        """plain / (plain - what an archive of code can remove)."""
        if not self.ceiling_ms or self.ceiling_ms >= self.plain_ms:
            return 0.0
        return self.plain_ms / (self.plain_ms - self.ceiling_ms)


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PYCDS") and k != "PYTHONSAFEPATH"}


def run(cmd: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, check=True, cwd=NEUTRAL_CWD,
                          capture_output=True, text=True, **kwargs)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=NEUTRAL_CWD)
    return (time.perf_counter() - start) * 1000


def alternate(variants: list[tuple[list[str], dict[str, str]]],
              rounds: int) -> list[list[float]]:
    """Milliseconds of each variant (command, environment), run one after
    the other in each round, so that machine noise hits them alike."""
    times: list[list[float]] = [[] for _ in variants]
    for cmd, env in variants:  # warm the page cache
        timed(cmd, env)
    for _ in range(rounds):
        for spent, (cmd, env) in zip(times, variants):
            spent.append(timed(cmd, env))
    return times


# "json@big": `import json` served from an archive of the whole standard
# library plus boto3, to show that the loader's work follows what is
# imported, not the archive's size.
BIG_TRACE = """
import contextlib, importlib, io, sys, warnings
warnings.simplefilter("ignore")
skip = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test"}
for name in sorted(sys.stdlib_module_names - skip):
    try:
        with contextlib.redirect_stdout(io.StringIO()), \\
                contextlib.redirect_stderr(io.StringIO()):
            importlib.import_module(name)
    except BaseException:
        pass
import boto3
"""


def trace_code(workload: str) -> str:
    return BIG_TRACE if workload == "json@big" else workload_code(workload)


def workload_code(workload: str) -> str:
    if workload == "json@big":
        return "import json"
    if workload == "demo":
        return (f"import runpy; runpy.run_path({str(ROOT / 'examples' / 'stdlib_app.py')!r},"
                " run_name='__main__')")
    return f"import {workload}"


def syscalls(cmd: list[str], env: dict[str, str]) -> dict[str, int]:
    """System calls of one run by kind, from strace -f -c."""
    if not shutil.which("strace"):
        return {}
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        run(["strace", "-f", "-c", "-o", out.name, *cmd], env)
        counts: dict[str, int] = {}
        for line in out.read().splitlines():
            fields = line.split()
            if (len(fields) >= 5 and fields[-1].isidentifier()
                    and fields[-1] != "total" and fields[3].isdigit()):
                counts[fields[-1]] = int(fields[3])
    stat = sum(v for k, v in counts.items() if "stat" in k)
    opened = sum(v for k, v in counts.items() if k in ("open", "openat", "openat2"))
    return {"total": sum(counts.values()), "stat": stat, "open": opened}


def pyc_bytes(python: str, listing: Path) -> int:
    """Bytes of the .pyc files the archived modules would be read from."""
    code = (
        "import os, sys, importlib.util\n"
        "from pycds import _listfile\n"
        "total = 0\n"
        "for m in _listfile.read(sys.argv[1]).modules:\n"
        "    if not m.origin.endswith(('.py', '.pyc')):\n"
        "        continue  # an extension module: only its location is archived\n"
        "    path = (importlib.util.cache_from_source(m.origin)\n"
        "            if m.origin.endswith('.py') else m.origin)\n"
        "    total += os.path.getsize(path) if os.path.exists(path) else 0\n"
        "print(total)\n")
    return int(run([python, "-c", code, str(listing)], base_env()).stdout)


def loader_split(python: str, code: str, env: dict[str, str]) -> dict[str, float]:
    """The loader's own time in one SHARE run, from PYCDSVERBOSE=2 and the
    extension's counters."""
    probe = code + "\nimport pycds._cds as c, json; print(json.dumps(c.share_stats()))"
    done = run([python, "-c", probe], {**env, "PYCDSVERBOSE": "2"})
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    mapped = re.search(r"archive mapped: .*, (\d+) us$", done.stderr, re.M)
    return {"map_ms": int(mapped.group(1)) / 1000 if mapped else float("nan"),
            "relocate_intern_ms": stats["relocate_ns"] / 1e6,
            "revive_ms": stats["revive_ns"] / 1e6,
            "modules_served": stats["modules"]}


SNAPSHOT_LINE = re.compile(r"^snapshot: (\d+) units of (\d+) modules \([^)]*\), "
                           r"(\d+) bytes, made in ([\d.]+) s$", re.M)
RESTORED = re.compile(r"^pycds: snapshot: (\S+): restored, \d+ objects \(([^)]*)\)$", re.M)
REFUSED = re.compile(r"^pycds: snapshot: (\S+): code \((.*)\)$", re.M)
# The phases of a restore line that are the unit's own ("imports" is the
# time of the modules its body imports, which have their own lines).
PHASES = ("inputs", "names", "objects", "fills", "operations")


def restore_split(python: str, code: str, env: dict[str, str],
                  runs: int = 3) -> tuple[dict[str, float], int, dict[str, str]]:
    """Microseconds of each restore phase summed over the restored
    modules of one SNAPSHOT run (PYCDSVERBOSE=2), median of `runs` runs per
    phase; with the modules restored and those left as code (and why) in
    the last run."""
    sums: dict[str, list[float]] = {phase: [] for phase in (*PHASES, "total")}
    restored, refused = 0, {}
    for _ in range(runs):
        done = run([python, "-c", code], {**env, "PYCDSVERBOSE": "2"})
        totals = dict.fromkeys(PHASES, 0.0)
        restored = 0
        for found in RESTORED.finditer(done.stderr):
            restored += 1
            for part in found.group(2).split(", "):
                phase, value, _unit = part.split()
                if phase in totals:
                    totals[phase] += float(value)
        for phase, value in totals.items():
            sums[phase].append(value)
        sums["total"].append(sum(totals.values()))
        refused = {m.group(1): m.group(2) for m in REFUSED.finditer(done.stderr)}
    return ({phase: statistics.median(v) for phase, v in sums.items()},
            restored, refused)


def instructions(cmd: list[str], env: dict[str, str]) -> int:
    """Instructions of one run under callgrind: the figure that does not
    move with the machine's load."""
    done = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                *cmd], env)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    return int(found.group(1).replace(",", "")) if found else 0


# pycds's own parts of a SHARE run, by the extension's functions (their
# inclusive counts under callgrind): making archived modules ready
# (checksums, relocation, interning, frozensets and code versions), and the
# finder less the searches PathFinder makes for it.  Activation (importing
# pycds, mapping the archive) is `python -c pass` with the archive against
# without.
OWN_PARTS = {"ready": ["pycds_share_code_of"],
             "finder": ["finder_find_spec", "-plain_spec"]}


def callgrind_inclusive(profile: str) -> dict[str, int]:
    """Inclusive instructions of each function of a callgrind profile."""
    done = run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                profile], base_env())
    totals: dict[str, int] = {}
    for line in done.stdout.splitlines():
        found = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+\S*?:([A-Za-z_]\w*)\s", line)
        if found:
            name = found.group(2)
            totals.setdefault(name, int(found.group(1).replace(",", "")))
    return totals


def own_instructions(cmd: list[str], env: dict[str, str],
                     plain_env: dict[str, str]) -> dict[str, int]:
    """pycds's own instructions in one SHARE run of cmd, by part."""
    with tempfile.TemporaryDirectory() as tmp:
        profile = f"{tmp}/share.cg"
        run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={profile}",
             *cmd], env)
        totals = callgrind_inclusive(profile)
    own = {part: sum(-totals.get(name[1:], 0) if name.startswith("-")
                     else totals.get(name, 0) for name in names)
           for part, names in OWN_PARTS.items()}
    empty = [cmd[0], "-c", "pass"]
    own["activation"] = max(0, instructions(empty, env) - instructions(empty, plain_env))
    return own


def minor_faults(cmd: list[str], env: dict[str, str], runs: int = 5) -> int:
    """Median minor page faults of a whole run."""
    counts = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
        subprocess.run(cmd, env=env, cwd=NEUTRAL_CWD, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        counts.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
                      - before)
    return int(statistics.median(counts))


# Times get_code (reading and unmarshalling .pyc files) and PathFinder's
# searches inside a plain run: all an archive of code objects could remove.
CEILING_PROBE = """
import sys, time
from importlib.machinery import PathFinder, SourceFileLoader, SourcelessFileLoader
spent = [0]
def timed(function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter_ns()
        try:
            return function(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter_ns() - start
    return wrapper
PathFinder.find_spec = classmethod(timed(PathFinder.find_spec.__func__))
for loader in (SourceFileLoader, SourcelessFileLoader):
    loader.get_code = timed(loader.get_code)
code = sys.argv.pop(1)  # the workload sees the argv of python -c
exec(compile(code, "<workload>", "exec"))
print("spent", spent[0] / 1e6, file=sys.stderr)
"""


def ceiling_ms(python: str, code: str, env: dict[str, str], runs: int = 9) -> float:
    """Median milliseconds of get_code and find_spec inside plain runs."""
    spent = []
    for _ in range(runs):
        done = run([python, "-c", CEILING_PROBE, code], env)
        spent.append(float(done.stderr.strip().splitlines()[-1].split()[1]))
    return statistics.median(spent)


def pss(python: str, code: str, env: dict[str, str]) -> float:
    """Mean PSS (KiB) of PSS_PROCESSES processes alive at once."""
    waiter = code + "\nimport sys; print('ready', flush=True); sys.stdin.read()"
    procs = [subprocess.Popen([python, "-c", waiter], env=env, cwd=NEUTRAL_CWD,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
             for _ in range(PSS_PROCESSES)]
    try:
        for p in procs:
            assert p.stdout is not None
            while p.stdout.readline().strip() != "ready":  # the program's output
                pass
        values = []
        for p in procs:
            rollup = Path(f"/proc/{p.pid}/smaps_rollup").read_text()
            values.append(int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1)))
        return statistics.mean(values)
    finally:
        for p in procs:
            p.communicate("")


def share_workload(python: str, workload: str, pairs: int, work: Path,
                   extras: bool, count_instructions: bool = False) -> Result:
    code = workload_code(workload)
    stem = workload.replace("@", "-")
    listing, archive = work / f"{stem}.lst", work / f"{stem}.img"
    env = base_env()
    run([python, "-c", trace_code(workload)],
        {**env, "PYCDSMODE": "TRACE", "PYCDSLIST": str(listing)})
    dumped = run([python, "-m", "pycds", "dump", "--list", str(listing),
                  "--archive", str(archive)], env).stdout
    shared_env = {**env, "PYCDSMODE": "SHARE", "PYCDSARCHIVE": str(archive)}
    # The same traced list dumped again with snapshot units; a failed
    # snapshot dump leaves plain against SHARE.
    snap_archive = work / f"{stem}-snapshot.img"
    start = time.perf_counter()
    try:
        snap_dumped = run([python, "-m", "pycds", "dump", "--list", str(listing),
                           "--archive", str(snap_archive), "--snapshot"], env).stdout
        snap_error = ""
    except subprocess.CalledProcessError as error:
        lines = (error.stderr or "").strip().splitlines()
        snap_dumped, snap_error = "", lines[-1] if lines else str(error)
    snap_dump_s = time.perf_counter() - start
    snap_env = {**env, "PYCDSMODE": "SHARE", "PYCDSARCHIVE": str(snap_archive)}
    cmd = [python, "-c", code]
    variants = [(cmd, env), (cmd, shared_env)]
    if not snap_error:
        variants.append((cmd, snap_env))
    plain, shared, *snap = alternate(variants, pairs)
    result = Result(workload, statistics.median(plain), statistics.median(shared),
                    [p / s for p, s in zip(plain, shared)], int(dumped.split()[1]),
                    archive.stat().st_size)
    result.snapshot_error = snap_error
    if snap:
        result.snapshot_ms = statistics.median(snap[0])
        result.snapshot_ratios = [p / s for p, s in zip(plain, snap[0])]
        result.snapshot_dump_s = snap_dump_s
        result.snapshot_archive_bytes = snap_archive.stat().st_size
        line = SNAPSHOT_LINE.search(snap_dumped)
        if line:
            result.snapshot_units = int(line.group(1))
            result.snapshot_unit_bytes = int(line.group(3))
            result.snapshot_made_s = float(line.group(4))
    if extras:
        result.pyc_bytes = pyc_bytes(python, listing)
        result.syscalls = {"plain": syscalls(cmd, env),
                           "share": syscalls(cmd, shared_env)}
        result.loader_ms = loader_split(python, code, shared_env)
        result.pss_kib = {"plain": pss(python, code, env),
                          "share": pss(python, code, shared_env)}
        if snap:
            result.pss_kib["snapshot"] = pss(python, code, snap_env)
            result.restore_us, result.restored, result.refused = \
                restore_split(python, code, snap_env)
        result.minor_faults = {"plain": minor_faults(cmd, env),
                               "share": minor_faults(cmd, shared_env)}
        if snap:
            result.minor_faults["snapshot"] = minor_faults(cmd, snap_env)
        result.ceiling_ms = ceiling_ms(python, code, env)
    if count_instructions and shutil.which("valgrind"):
        result.instructions = {"plain": instructions(cmd, env),
                               "share": instructions(cmd, shared_env)}
        if snap:
            result.instructions["snapshot"] = instructions(cmd, snap_env)
        result.own = own_instructions(cmd, shared_env, env)
    return result


def pth_workload(python: str, pairs: int, work: Path) -> Result:
    """Two fresh venvs with pycds copied in, one without pycds.pth."""
    site = run([python, "-c", "import pycds, os; "
                "print(os.path.dirname(os.path.dirname(pycds.__file__)))"],
               base_env()).stdout.strip()
    pythons = []
    for name, with_pth in (("with", True), ("without", False)):
        venv = work / f"venv-{name}"
        subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
        target = Path(run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          base_env()).stdout.strip())
        shutil.copytree(Path(site) / "pycds", target / "pycds")
        if with_pth:
            shutil.copy(Path(site) / "pycds.pth", target / "pycds.pth")
        pythons.append(str(venv / "bin" / "python"))
    env = base_env()
    without, with_ = alternate([([pythons[1], "-c", "pass"], env),
                                ([pythons[0], "-c", "pass"], env)], pairs)
    return Result("pth", statistics.median(without), statistics.median(with_),
                  [a / b for a, b in zip(without, with_)])


def row(r: Result) -> str:
    cells = [r.workload, f"{r.plain_ms:.1f}", f"{r.shared_ms:.1f}", f"{r.ratio:.2f}",
             f"{min(r.ratios):.2f}", f"{max(r.ratios):.2f}"]
    if r.snapshot_ratios:
        s = r.snapshot_ratios
        cells += [f"{r.snapshot_ms:.1f}", f"{r.snapshot_ratio:.2f}",
                  f"{min(s):.2f}", f"{max(s):.2f}"]
    else:
        cells += [r.snapshot_error and f"failed: {r.snapshot_error}", "", "", ""]
    cells += [f"{r.ceiling:.2f}" if r.ceiling else "", str(r.modules or "")]
    if r.snapshot_ratios:
        restored = f" ({r.restored} restored)" if r.restore_us else ""
        cells.append(f"{r.snapshot_units}{restored}")
        cells.append(f"{r.snapshot_made_s:.1f} / {r.snapshot_dump_s:.1f}")
    else:
        cells += ["", ""]
    if r.archive_bytes and r.pyc_bytes:
        cells.append(f"{r.archive_bytes / 1e6:.1f} ({r.archive_bytes / r.pyc_bytes:.2f}x)")
    else:
        cells.append(f"{r.archive_bytes / 1e6:.1f}" if r.archive_bytes else "")
    s = r.syscalls
    cells.append(f"{s['plain']['total']} / {s['share']['total']}"
                 if s.get("plain") and s.get("share") else "")
    cells.append(" / ".join(f"{r.pss_kib[k] / 1024:.1f}"
                            for k in ("plain", "share", "snapshot") if k in r.pss_kib))
    cells.append(f"{r.snapshot_archive_bytes / 1e6:.1f}" if r.snapshot_archive_bytes else "")
    t = r.restore_us
    cells.append(" / ".join(f"{t[p] / 1000:.2f}" for p in PHASES)
                 + f" = {t['total'] / 1000:.2f}" if t else "")
    return "| " + " | ".join(cells) + " |"


HEADER = ("| workload | plain ms | SHARE ms | ratio | min | max "
          "| SNAPSHOT ms | ratio | min | max | ceiling | modules "
          "| units | snapshot made / dump s "
          "| archive MB (x .pyc) | syscalls plain / SHARE "
          "| PSS MiB plain / SHARE / SNAPSHOT | snapshot archive MB "
          "| restore ms: inputs / names / objects / fills / operations |\n"
          "|" + "---|" * 19)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--no-extras", action="store_true",
                        help="times only: no strace, sizes, loader split, PSS")
    parser.add_argument("--instructions", default="", metavar="WORKLOADS",
                        help="also count instructions under callgrind (slow) for "
                             "these comma-separated workloads, or 'all'")
    parser.add_argument("workloads", nargs="*", default=["demo", "pth"])
    args = parser.parse_args()
    version = run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                  base_env()).stdout.strip()
    print(f"CPython {version}, {args.pairs} pairs per workload", flush=True)
    print(HEADER, flush=True)
    results: list[Result] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="pycds-bench-") as tmp:
        for workload in args.workloads:
            try:
                if workload == "pth":
                    result = pth_workload(args.python, args.pairs, Path(tmp))
                else:
                    counted = args.instructions in ("all", "1") or \
                        workload in args.instructions.split(",")
                    result = share_workload(args.python, workload, args.pairs,
                                            Path(tmp), not args.no_extras, counted)
            except subprocess.CalledProcessError as error:
                lines = (error.stderr or "").strip().splitlines()
                skipped[workload] = lines[-1] if lines else str(error)
                print(f"| {workload} | skipped: {skipped[workload]} |", flush=True)
                continue
            except Exception as error:  # keep the other workloads' results
                skipped[workload] = f"{type(error).__name__}: {error}"
                print(f"| {workload} | skipped: {skipped[workload]} |", flush=True)
                continue
            results.append(result)
            print(row(result), flush=True)
            if result.instructions:  # the stable figure, beside the times
                i = result.instructions
                print(f"  instructions: plain {i['plain']:,}"
                      + "".join(f", {mode} {i[mode]:,} ({i['plain'] / i[mode]:.2f}x)"
                                for mode in ("share", "snapshot") if i.get(mode)),
                      flush=True)
    geomean = geometric_mean([r.ratio for r in results if r.workload != "pth"])
    print(f"geometric mean of median ratios (packages and demo): {geomean:.2f}")
    snap_geomean = geometric_mean([r.snapshot_ratio for r in results
                                   if r.snapshot_ratios])
    print(f"geometric mean of median SNAPSHOT ratios: {snap_geomean:.2f}")
    for r in results:  # units the SNAPSHOT run did not restore, by reason
        reasons = Counter(r.refused.values())
        for why, count in reasons.most_common():
            names = [n for n, w in r.refused.items() if w == why]
            print(f"{r.workload}: {count} units left as code at restore ({why}): "
                  f"{', '.join(names[:3])}{', ...' if count > 3 else ''}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "python": version, "pairs": args.pairs, "geomean": geomean,
            "snapshot_geomean": snap_geomean,
            "skipped": skipped, "date": time.strftime("%Y-%m-%d"),
            "results": [dict(asdict(r), ratio=r.ratio, snapshot_ratio=r.snapshot_ratio)
                        for r in results]}, indent=1))


def geometric_mean(ratios: list[float]) -> float:
    return math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else 0.0


if __name__ == "__main__":
    main()

"""`python -m pycds dump`: build an archive from a traced module list.

Each module is found again with the normal import machinery (PathFinder,
over the sys.path its traced import started on and its parent package's
search locations), and its code object comes from its loader's get_code:
no module is ever executed.  Modules that cannot be archived are skipped with a reason.  The
names the traced runs looked for and did not find are recorded too, where
they are still not found.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.machinery import (ExtensionFileLoader, ModuleSpec, PathFinder,
                                 SourceFileLoader, SourcelessFileLoader)

from . import _cds, _listfile

# Arena addresses to try, in order, if one is taken in this process.
BASES = [_cds.DEFAULT_BASE + i * (1 << 40) for i in range(4)]


@dataclass
class DumpResult:
    archive: str
    modules: int = 0
    extensions: int = 0
    absent: int = 0
    bytes: int = 0
    object_bytes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    snapshot: bool = False
    units: int = 0
    unit_bytes: int = 0
    code_only: list[tuple[str, str]] = field(default_factory=list)
    snapshot_seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"archived {self.modules} modules (and where "
                 f"{self.extensions} extension modules are) into {self.archive}: "
                 f"{self.bytes} bytes ({self.object_bytes} of objects), "
                 f"{len(self.skipped)} skipped"]
        lines += [f"  skipped {name}: {reason}" for name, reason in self.skipped]
        if self.absent:
            lines.append(f"  recorded {self.absent} names looked for and "
                         "not found")
        lines += [f"  note: {note}" for note in self.notes]
        if self.snapshot:
            # A module whose code is not archived (imported before the trace
            # began) is not one of the program's archived modules.
            planned = self.units + sum(reason != NOT_ARCHIVED
                                       for _, reason in self.code_only)
            share = 100.0 * self.units / planned if planned else 0.0
            lines.append(f"snapshot: {self.units} units of {planned} modules "
                         f"({share:.1f}%), {self.unit_bytes} bytes, made in "
                         f"{self.snapshot_seconds:.1f} s")
            lines += [f"snapshot: {name}: {reason}" for name, reason in self.code_only]
        return "\n".join(lines)


NOT_ARCHIVED = "its code is not in the archive"


class Skip(Exception):
    """A module that will not be archived, and why."""


def check_clean_process() -> None:
    """Code objects are copied as the interpreter made them; tracing or
    monitoring in this process could instrument them."""
    if sys.gettrace() is not None or sys.getprofile() is not None:
        raise RuntimeError("refusing to dump with a trace or profile function set")
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        for tool in range(6):
            if monitoring.get_tool(tool) is not None:
                raise RuntimeError("refusing to dump with sys.monitoring in use")


class Finder:
    """Find specs as a fresh interpreter would, without executing packages."""

    def __init__(self) -> None:
        self.specs: dict[tuple[str, tuple[str, ...]], ModuleSpec | None] = {}
        self.paths: dict[tuple[str, tuple[str, ...]], list[str]] = {}

    def find(self, name: str, sys_path: list[str]) -> ModuleSpec | None:
        spec, _ = self.find_with_path(name, sys_path)
        return spec

    def find_with_path(self, name: str, sys_path: list[str]
                       ) -> tuple[ModuleSpec | None, list[str]]:
        """The spec, and the search path it was found on."""
        key = (name, tuple(sys_path))
        if key not in self.specs:
            parent, _, _ = name.rpartition(".")
            if parent:
                parent_spec = self.find(parent, sys_path)
                locations = (parent_spec.submodule_search_locations
                             if parent_spec is not None else None)
                if locations is None:
                    self.specs[key] = None
                    self.paths[key] = []
                    return None, []
                self.paths[key] = list(locations)
            else:
                self.paths[key] = list(sys_path)
            self.specs[key] = find_spec(name, self.paths[key])
        return self.specs[key], self.paths[key]


def find_spec(name: str, path: list[str]) -> ModuleSpec | None:
    """PathFinder.find_spec without importing parents.  For a namespace
    package, PathFinder wraps the locations in a _NamespacePath that looks
    up the parent module in sys.modules; the dumper imports nothing, so it
    takes the plain location list PathFinder._get_spec found."""
    get_spec = getattr(PathFinder, "_get_spec", None)
    if get_spec is None:
        return PathFinder.find_spec(name, path)
    spec = get_spec(name, path)
    if spec is not None and spec.loader is None and not spec.submodule_search_locations:
        return None
    return spec


# Directories changed this recently may change again within the file
# system's timestamp granularity without their mtime moving ("racy" mtimes,
# as git calls them): modules there always take the slow, exact path.
RACY_NS = 2_000_000_000
NEVER_FAST = -2  # recorded instead of an mtime: always validate slowly
MISSING = -1     # the entry did not exist: it must still not exist


def entry_state(path: str, now_ns: int) -> int:
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return MISSING
    return NEVER_FAST if mtime > now_ns - RACY_NS else mtime


def fast_path_record(spec: ModuleSpec, search: list[str], now_ns: int) -> bytes:
    """What the share side needs to trust that plain finding would land on
    this very file without searching: the search path up to the entry where
    the module was found, and the mtime of each of those entries (and of the
    package directory), which changes when a file that could shadow it is
    added, removed or renamed there.  Empty when the module cannot use it."""
    origin = spec.origin
    assert origin is not None
    is_package = spec.submodule_search_locations is not None
    package_dir = os.path.dirname(origin) if is_package else None
    found_in = os.path.dirname(package_dir if is_package else origin)
    if found_in not in search:
        return b""
    prefix = search[: search.index(found_in) + 1]
    # Entries before the one that holds the module may change for other
    # reasons (a working directory does); the share side then looks for the
    # module's names in them.  The entry that holds it and the package's own
    # directory must be unchanged.  The layout: pycds/ext/fastpath.h.
    strict = [found_in] + ([package_dir] if package_dir else [])
    return _cds.fast_path_record(
        prefix, [(entry_state(e, now_ns), e) for e in prefix[:-1]],
        [(entry_state(e, now_ns), e) for e in strict])


def absent_record(name: str, search: list[str], now_ns: int) -> bytes:
    """What the share side needs to answer "not found" for PathFinder
    without searching: the whole search path, and the state of each entry,
    none of which holds anything under the name now (an entry that changes
    is listed then).  Empty when it cannot be recorded: the name is found
    now, or an entry is a file (a zip file, which only zipimport reads)."""
    if find_spec(name, search) is not None:
        return b""
    for entry in search:
        if os.path.exists(entry) and not os.path.isdir(entry):
            return b""
    # Every entry is an E line (pycds/ext/fastpath.h): no S line.
    return _cds.fast_path_record(
        search, [(entry_state(e, now_ns), e) for e in search], [])


def found_where_traced(module: _listfile.TracedModule) -> ModuleSpec | None:
    """A submodule that its parent's recorded locations do not hold, found
    again in the directory it was traced in.  Its parent's locations at
    import time were others: a package spanning directories
    (pkgutil.extend_path), or one replaced in sys.modules by another of the
    same name (setuptools drops site-packages' `backports` namespace after
    urllib3 imported `backports.zstd` from it, and imports its vendored
    `backports`)."""
    if "." not in module.name:
        return None
    directory = os.path.dirname(module.origin)
    if module.is_package:
        directory = os.path.dirname(directory)
    spec = find_spec(module.name, [directory])
    return spec if spec is not None and spec.origin == module.origin else None


def is_extension(spec: ModuleSpec) -> bool:
    return type(spec.loader) is ExtensionFileLoader


def module_code(spec: ModuleSpec, traced: _listfile.TracedModule):
    """The module's code object, or None for an extension module (only its
    location is archived: the share side finds it without searching)."""
    loader = spec.loader
    if spec.origin != traced.origin:
        raise Skip(f"found at {spec.origin}, traced at {traced.origin}")
    if is_extension(spec):
        return None
    if type(loader) not in (SourceFileLoader, SourcelessFileLoader):
        raise Skip(f"loaded by {type(loader).__name__}, not from a source or .pyc file")
    try:
        code = loader.get_code(spec.name)
    except (ImportError, SyntaxError, ValueError, OSError, EOFError) as error:
        raise Skip(f"get_code failed: {error}") from None
    if code is None:
        raise Skip("loader has no code for it")
    return code


def make_units(list_path: str, exclude: list[str], work: str,
               result: DumpResult) -> dict[str, str]:
    """Run the traced bodies in a fresh interpreter that writes each unit
    (pycds/_snapshot_child.py); {module: unit file}.  Modules left as code
    only go to result.code_only with their one reason."""
    from . import _snapshot_plan, _snapshot_unit
    started = time.perf_counter()
    run = _snapshot_plan.record_run(list_path, work)
    units: dict[str, str] = {}
    for record in run["modules"]:
        if record["kind"] in ("startup", "extension"):
            continue
        name = record["name"]
        path = os.path.join(work, name + ".unit")
        if _snapshot_plan.excluded(name, exclude):
            reason = "excluded by --snapshot-exclude"
        else:
            reason = _snapshot_plan.first_reason(record, exclude)
        if not reason and os.path.exists(path):
            with open(path, "r+b") as f:
                lean = _snapshot_unit.lean_unit(f.read())
                f.seek(0)
                f.write(lean)
                f.truncate()
            units[name] = path
        else:
            result.code_only.append((name, reason or "no unit written"))
    result.snapshot_seconds = time.perf_counter() - started
    return units


def dump(list_path: str, archive_path: str, snapshot: bool = False,
         exclude: list[str] | None = None, keep_slower: bool = False) -> DumpResult:
    check_clean_process()
    traced = _listfile.read(list_path)
    result = DumpResult(archive=archive_path, snapshot=snapshot)
    if traced.bad_lines:
        result.notes.append(f"{traced.bad_lines} unreadable lines in {list_path}")
    result.notes += traced.conflicts
    if not snapshot:
        write_archive(traced, archive_path, {}, result)
        return result
    with tempfile.TemporaryDirectory(prefix="pycds-units-") as work:
        units = make_units(list_path, exclude or [], work, result)
        written = write_archive(traced, archive_path, dict(units), result)
        units = {name: path for name, path in units.items() if name in written}
        if units:
            started = time.perf_counter()
            request = write_verify_request(traced, work)
            kept, starts = choose_units(request, archive_path, units, result, keep_slower)
            if kept != units or starts != set(kept):
                write_archive(traced, archive_path, kept, result, starts)
            slower = None if not kept or keep_slower else whole_run_slower(request, archive_path)
            if slower:
                for name in kept:
                    result.code_only.append((name, "the process as a whole was not "
                                             f"faster with the units kept ({slower})"))
                write_archive(traced, archive_path, {}, result)
            result.snapshot_seconds += time.perf_counter() - started
    return result


def restore_code(traced: _listfile.ModuleList) -> list[_listfile.TracedModule]:
    """The restore's own Python module, for an archive with units: a
    process that restores a unit then reads its code from the archive too
    (imported plainly, its .pyc costs about 0.35 ms).  Written first, where
    the archive is read page by page, not by 2 MiB extents (last, it cost
    `import json` 175 more page faults than its .pyc saved)."""
    from . import _snapshot_restore
    name = _snapshot_restore.__name__
    if any(module.name == name for module in traced.modules):
        return []
    origin = os.path.abspath(_snapshot_restore.__file__)
    return [_listfile.TracedModule(name, origin, False, [os.path.dirname(origin)])]


# What the C unpickler imports when the restore loads it (_pickle's module
# init), where the program's import would come later (3.11: not imported at
# start).
UNPICKLER_IMPORTS = ("copyreg", "_compat_pickle")


def restore_imports_first(modules: list[_listfile.TracedModule]) -> list[_listfile.TracedModule]:
    """The traced modules, those the restore imports first (in front, with
    its own code).  An interned string is stored with the first module
    written that holds it, and a module prepared before that one reads it
    by value, checking the other module's bytes in the file: with units,
    the unpickler's imports come early, and after `re` or `enum` in the
    archive they read 4 MB of it for boto3 (3.11)."""
    first = [m for m in modules if m.name in UNPICKLER_IMPORTS]
    return first + [m for m in modules if m.name not in UNPICKLER_IMPORTS]


# The verifying interpreter: imports the traced modules in order, each on
# its own (a failure is that module's), with sys.path as each import
# started on in the traced run.  Its argument is a file that
# write_verify_request wrote: the repr of (names, search paths, each
# name's path's index), as long as the list is (no argument limit).
VERIFY = ("import os, sys\n"
          "with open(sys.argv[1], encoding='utf-8') as f:\n"
          "    names, paths, indexes = eval(f.read())\n"
          "for name, at in zip(names, indexes):\n"
          "    wanted = paths[at]\n"
          "    if [os.path.abspath(e) for e in sys.path if isinstance(e, str)] != wanted:\n"
          "        sys.path[:] = wanted\n"
          "    try:\n"
          "        __import__(name)\n"
          "    except BaseException as e:\n"
          "        try:\n"
          "            what = f'{type(e).__name__}: {e}'\n"
          "        except BaseException:\n"
          "            what = type(e).__name__\n"
          "        print(VERIFY_FAILED + name + ': ' + repr(what), file=sys.stderr)\n")
# How VERIFY says that importing a module raised (its name, ": ", and the
# repr of the exception's type and text, one line), for _import_times.
VERIFY_FAILED = "pycds-verify: failed: "
VERIFY = f"VERIFY_FAILED = {VERIFY_FAILED!r}\n" + VERIFY


def write_verify_request(traced: _listfile.ModuleList, directory: str) -> str:
    """VERIFY's argument for the traced modules, written in directory."""
    paths: list[list[str]] = []
    indexes: list[int] = []
    for entries in _listfile.started_on(traced):
        if entries not in paths:
            paths.append(entries)
        indexes.append(paths.index(entries))
    path = os.path.join(directory, "verify-request")
    with open(path, "w", encoding="utf-8") as f:
        f.write(repr(([m.name for m in traced.modules], paths, indexes)))
    return path


VERIFY_RUNS = 3
# Modules a process imports to restore units (their own import time is the
# cost of restoring at all).
RESTORE_MACHINERY = ("pycds._snapshot_restore", "_pickle", "_compat_pickle")


def _import_times(archive_path: str, request: str, snapshot: bool) -> tuple[
        dict[str, int], dict[str, str], dict[str, set[str]], dict[str, str]]:
    """One verifying run: each module's own import time (-X importtime,
    microseconds), with units what the restore said of it, each module's
    import tree (the modules first imported while it was), and the
    modules whose import raised, with what."""
    from ._snapshot_plan import environment_without_ours
    env = environment_without_ours()
    env.update(PYCDSMODE="SHARE", PYCDSARCHIVE=archive_path, PYCDSVERBOSE="1",
               PYCDSSNAPSHOT="1" if snapshot else "0")
    done = subprocess.run(
        [sys.executable, *subprocess._args_from_interpreter_flags(),  # type: ignore[attr-defined]
         "-X", "importtime", "-c", VERIFY, request],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, timeout=600)
    times: dict[str, int] = {}
    said: dict[str, str] = {}
    failed: dict[str, str] = {}
    lines = done.stderr.decode(errors="replace").splitlines()
    for line in lines:
        if line.startswith(VERIFY_FAILED):
            name, _, what = line[len(VERIFY_FAILED):].partition(": ")
            failed.setdefault(name, what)
        elif line.startswith("import time:") and "|" in line:
            own, _, name = (part.strip() for part in line[12:].split("|"))
            if own.isdigit():
                times.setdefault(name, int(own))
        elif line.startswith("pycds: snapshot: "):
            name, _, what = line[17:].partition(": ")
            said.setdefault(name, what)
    if done.returncode != 0:  # VERIFY itself ended early
        failed.setdefault("(the verifying run)", f"exit status {done.returncode}")
    return times, said, import_trees(lines), failed


def import_trees(lines: list[str]) -> dict[str, set[str]]:
    """{module: itself and the modules first imported during its import}
    from -X importtime's lines: each is printed when its import ends, its
    name indented two spaces a level, so a module's tree is the deeper
    lines just before it."""
    trees: dict[str, set[str]] = {}
    pending: list[tuple[int, set[str]]] = []
    for line in lines:
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        field = line.rsplit("|", 1)[1]
        name = field.strip()
        if not name or name == "imported package":
            continue
        depth = len(field) - len(field.lstrip(" "))
        tree = {name}
        while pending and pending[-1][0] > depth:
            tree |= pending.pop()[1]
        pending.append((depth, tree))
        trees.setdefault(name, tree)
    return trees


def starting_modules(kept: set[str], gains: dict[str, int], trees: dict[str, set[str]],
                     machinery: int) -> set[str]:
    """The modules whose import is worth loading the restore for when a
    process has restored nothing yet: those (kept units, or modules that run
    as code) whose import tree's kept units gain more than the restore's own
    modules cost (gains: microseconds each unit saves)."""
    return {name for name in kept | set(trees)
            if sum(gains.get(u, 0) for u in trees.get(name, {name}) & kept) > machinery}


WHOLE_RUN_PAIRS = 9
# A close call (the best with units slower, but by less than this share of
# the best without) is sampled again, up to WHOLE_RUN_ROUNDS rounds of
# pairs in all: a gain of 2% was once judged a loss of 2% by one round.
WHOLE_RUN_CLOSE = 0.03
WHOLE_RUN_ROUNDS = 3


def whole_run_slower(request: str, archive_path: str) -> str | None:
    """None when whole processes importing the traced modules are faster
    with the units than with their code alone, else how they compare: what
    a unit saves in its own import can be spent elsewhere (the restore's
    machinery, memory, the collector).  The processes run alternately and
    each way's best CPU time (user and system) counts: other work on the
    machine only ever adds to a process's time, so the best is the least
    disturbed, as for each unit's own time (a median of 9 was once moved
    past a 10% gain by a busy minute, and every unit was dropped).  A
    close call runs more rounds before it drops the units."""
    import resource
    command = [sys.executable, *subprocess._args_from_interpreter_flags(),  # type: ignore[attr-defined]
               "-c", VERIFY, request]
    from ._snapshot_plan import environment_without_ours
    base = environment_without_ours()
    spent: dict[str, list[float]] = {"1": [], "0": []}
    for _ in range(WHOLE_RUN_ROUNDS):
        for _ in range(WHOLE_RUN_PAIRS):
            for snapshot in ("1", "0"):
                env = dict(base, PYCDSMODE="SHARE", PYCDSARCHIVE=archive_path,
                           PYCDSSNAPSHOT=snapshot)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run(command, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=600)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                spent[snapshot].append(after.ru_utime + after.ru_stime
                                       - before.ru_utime - before.ru_stime)
        with_units, without = min(spent["1"]), min(spent["0"])
        if with_units < without:
            return None
        if with_units > without * (1 + WHOLE_RUN_CLOSE):
            break
    return (f"best of {len(spent['1'])} processes: {1e3 * with_units:.1f} ms of CPU "
            f"with them, {1e3 * without:.1f} ms without")


def choose_units(request: str, archive_path: str,
                 units: dict[str, str], result: DumpResult,
                 keep_slower: bool = False) -> tuple[dict[str, str], set[str]]:
    """Keep the units that a fresh process restores, and faster than it
    runs their code: the archive is run both ways, alternately, and each
    module's best own import time compared.  Restoring a unit costs about
    as much per object as a body that only defines functions; the bodies
    that do more (classes with metaclasses, enums, compiled patterns,
    dataclasses) are where units pay."""
    best: dict[bool, dict[str, int]] = {True: {}, False: {}}
    said: dict[str, str] = {}
    trees: dict[str, set[str]] = {}
    raised: dict[bool, dict[str, str]] = {True: {}, False: {}}
    # (with keep_slower, the run without units too: what fails only with
    # them drops them all the same)
    for _ in range(1 if keep_slower else VERIFY_RUNS):
        for snapshot in (True, False):
            times, told, found, failed = _import_times(archive_path, request, snapshot)
            for name, what in failed.items():
                raised[snapshot].setdefault(name, what)
            for name, value in times.items():
                best[snapshot][name] = min(value, best[snapshot].get(name, value))
            if snapshot:
                trees = trees or found
                for name, what in told.items():
                    if said.get(name, "restored") == "restored":
                        said[name] = what
    broken = [name for name in raised[True] if name not in raised[False]]
    if broken:
        # A restored unit left what a later import found wrong: which one
        # cannot be told from here, and a program must not meet it.
        first = broken[0]
        for name in units:
            result.code_only.append((name, f"with the units, importing {first} raised "
                                     f"{raised[True][first]}; without them it did not"))
        return {}, set()
    kept: dict[str, str] = {}
    gains: dict[str, int] = {}
    for name, path in units.items():
        what = said.get(name)
        restored, code = best[True].get(name), best[False].get(name)
        if what != "restored":
            reason = f"its unit was not restored in a fresh process ({what or 'not imported'})"
        elif keep_slower:
            kept[name] = path
            continue
        elif restored is None or code is None:
            reason = "no import time measured"
        elif restored >= code:
            reason = f"restoring it takes {restored} us, running its code {code} us"
        else:
            kept[name] = path
            gains[name] = code - restored
            continue
        result.code_only.append((name, reason))
    if keep_slower:
        return kept, set(kept)  # every unit starts
    # What restoring at all costs a process: the restore's own module and
    # the unpickler it loads.  Units that save less than that are dropped;
    # a process's first unit must pay for it with its import's units.
    machinery = sum(best[True].get(name, 0) for name in RESTORE_MACHINERY)
    gain = sum(gains.values())
    starts = starting_modules(set(kept), gains, trees, machinery)
    if kept and (gain <= machinery or not starts):
        for name in kept:
            result.code_only.append((name, f"the units would save {gain} us in "
                                     f"all, loading their restore costs {machinery} us"
                                     if gain <= machinery else
                                     "no import gains more with its units than loading "
                                     f"their restore costs ({machinery} us)"))
        return {}, set()
    return kept, starts


def unit_source(blob: bytes) -> tuple[int, int] | None:
    """The (size, mtime_ns) of the source whose body made the unit."""
    from . import _snapshot_restore
    try:
        return tuple(_snapshot_restore.unit_header(blob)[_snapshot_restore.H_SOURCE])
    except Exception:  # damaged, or no source: no unit
        return None


def write_archive(traced: _listfile.ModuleList, archive_path: str,
                  units: dict[str, str], result: DumpResult,
                  starts: set[str] | None = None) -> set[str]:
    """The archive: each traced module's code (and unit, if in units);
    starts, the modules whose import pays for loading the restore (their
    unit's record, or their code's when they have none, says so; without
    it, every unit does).  The names of the units written."""
    result.modules = result.extensions = result.absent = 0
    result.units = result.unit_bytes = 0
    result.skipped = []
    units = dict(units)
    written: set[str] = set()
    writer = None
    for base in BASES:
        try:
            writer = _cds.Writer(base=base)
            break
        except _cds.ArchiveError:
            continue
    if writer is None:
        raise RuntimeError("no free address range for the archive arena")

    finder = Finder()
    now_ns = time.time_ns()
    # A submodule is found in its parent, and the parent where its own
    # import found it: on the sys.path the top-level package's started on.
    top_level = {m.name: m.path for m in traced.modules if "." not in m.name}
    try:
        ordered = ([*restore_code(traced), *restore_imports_first(traced.modules)]
                   if units else traced.modules)
        for module in ordered:
            try:
                found_on = top_level.get(module.name.partition(".")[0], module.path)
                spec, search = finder.find_with_path(module.name, found_on)
                if spec is None:
                    # No fast path (search = []): the share side searches,
                    # and serves it only where PathFinder lands on it.
                    spec, search = found_where_traced(module), []
                if spec is None:
                    raise Skip("not found on the traced sys.path")
                code = module_code(spec, module)
                with open(spec.origin, "rb") as f:
                    source = f.read()
                    st = os.fstat(f.fileno())
                writer.begin_module(
                    module.name, origin=spec.origin, cached=spec.cached or "",
                    is_package=spec.submodule_search_locations is not None,
                    source_mtime_ns=st.st_mtime_ns, source_size=st.st_size,
                    source_hash=_cds.hash_bytes(source),
                    extra=fast_path_record(spec, search, now_ns),
                    is_extension=code is None,
                    starts=(code is not None and starts is not None
                            and module.name in starts and module.name not in units))
                try:
                    writer.end_module(writer.add_code(code) if code is not None
                                      else writer.add_bytes(bytes(8)))
                except _cds.UnsupportedError as error:
                    writer.cancel_module()
                    raise Skip(str(error)) from None
                if code is None:
                    result.extensions += 1
                else:
                    result.modules += 1
                unit = units.pop(module.name, None)
                if unit is not None:
                    with open(unit, "rb") as f:
                        blob = f.read()
                    planned = unit_source(blob)
                    if planned != (st.st_size, st.st_mtime_ns):
                        # Edited while the dump ran: the unit holds what
                        # the old source's body made.
                        result.code_only.append((module.name, "its source changed "
                                                 "while the dump ran"))
                        continue
                    writer.begin_module(
                        module.name + "\0unit", origin=spec.origin,
                        cached=spec.cached or "",
                        is_package=spec.submodule_search_locations is not None,
                        source_mtime_ns=st.st_mtime_ns, source_size=st.st_size,
                        source_hash=_cds.hash_bytes(source), extra=blob,
                        is_unit=True, starts=starts is None or module.name in starts)
                    writer.end_module(writer.add_bytes(bytes(8)))
                    result.units += 1
                    result.unit_bytes += len(blob)
                    written.add(module.name)
            except Skip as skip:
                result.skipped.append((module.name, str(skip)))
            except OSError as error:
                result.skipped.append((module.name, f"unreadable: {error}"))
        for absent in traced.absent:  # none a run imported (_listfile)
            record = absent_record(absent.name, absent.path, now_ns)
            if not record:
                continue
            writer.begin_module(absent.name, is_absent=True, extra=record)
            writer.end_module(writer.add_bytes(bytes(8)))
            result.absent += 1
        for name in units:  # a unit whose module's code was not archived
            if (name, NOT_ARCHIVED) not in result.code_only:
                result.code_only.append((name, NOT_ARCHIVED))
        writer.set_user(_cds.code_settings())
        result.object_bytes = writer.object_size
        writer.finish(archive_path)
    finally:
        writer.close()
    result.bytes = os.stat(archive_path).st_size
    return written

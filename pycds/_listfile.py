"""The module list that PYCDSMODE=TRACE writes and `dump` reads.

Text, UTF-8, one record per line, so that many processes can append to one
file at once: each process adds all its lines with a single write() to a file
opened with O_APPEND, under an exclusive flock, so lines are never torn or
interleaved.  Lines:

    pycds-list 1                       first line of the file
    P <id> <json: [entry, ...]>        a search path, named by <id>: a run's
                                       sys.path, or one a name was looked
                                       for on
    M <id> <json: [name, origin, is_package]>
                                       a module the run imported, <id> the
                                       sys.path its import started on (a
                                       top-level module was found on it;
                                       older lists give every module the
                                       run's sys.path)
    A <id> <json: name>                a name PathFinder looked for on
                                       search path <id> and did not find

Duplicates (the same module traced by several runs) are merged on reading;
unreadable lines, and records whose name is not a module's name (empty, or
with an empty part: importlib.util.find_spec("") asks PathFinder for ""),
are skipped and counted.  (Readers before A lines count
them as unreadable, and go on.)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass, field

HEADER = "pycds-list 1"

try:  # C, as json.dumps(ensure_ascii=True) quotes a string
    from _json import encode_basestring_ascii as _quoted
except ImportError:
    from json.encoder import py_encode_basestring_ascii as _quoted


def json_text(value: str | bool | list[str] | list[object]) -> str:
    """json.dumps(value, ensure_ascii=True) for what a run's records hold
    (strings, booleans, lists of them).  The traced program's json module
    is not used: the list is written at its exit, and a program may have
    replaced json.dumps (an orjson shim) meanwhile."""
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(json_text(item) for item in value) + "]"  # type: ignore[arg-type]
    raise TypeError(f"no list record holds a {type(value).__name__}")


def is_module_name(name: str) -> bool:
    """Whether name can name a module: dotted parts, none empty, no NUL."""
    return bool(name) and "\0" not in name and all(name.split("."))


@dataclass
class TracedModule:
    name: str
    origin: str
    is_package: bool
    path: list[str]
    # Whether the path is the main run's (the run that imported the most
    # modules imported this one, from this file).
    in_main_run: bool = False


@dataclass
class AbsentName:
    name: str
    path: list[str]


@dataclass
class ModuleList:
    modules: list[TracedModule] = field(default_factory=list)
    absent: list[AbsentName] = field(default_factory=list)
    bad_lines: int = 0
    conflicts: list[str] = field(default_factory=list)
    # The sys.path of the run that imported the most modules: the
    # program's own, when a traced program started other traced Pythons
    # (they end, and append their runs, before it does).
    main_path: list[str] = field(default_factory=list)


def format_run(path: list[str], modules: list[tuple[str, str, bool]],
               absent: list[tuple[str, list[str]]] = (),
               started_on: list[list[str]] | None = None) -> str:
    """The run's records: `path` its sys.path, `started_on` the sys.path
    each module's import started on (default: `path`).  Every P record of
    the run's modules comes before its M records, which read() takes
    together as one run; its own sys.path first, which read() keeps as
    the run's.  A run with nothing to record writes nothing."""
    if not modules and not absent:
        return ""
    lines: list[str] = []
    ids: dict[str, str] = {}

    def path_id(entries: list[str]) -> str:
        encoded = json_text(entries)
        if encoded not in ids:
            ids[encoded] = hashlib.sha1(encoded.encode()).hexdigest()[:16]
            lines.append(f"P {ids[encoded]} {encoded}")
        return ids[encoded]

    run_path = path_id(path)
    where = [run_path if started_on is None else path_id(started_on[i])
             for i in range(len(modules))]
    for (name, origin, is_package), at in zip(modules, where):
        lines.append(f"M {at} "
                     + json_text([name, origin, is_package]))
    for name, entries in absent:
        if not is_module_name(name):  # read() would skip it
            continue
        where = path_id(entries)
        lines.append(f"A {where} " + json_text(name))
    return "\n".join(lines) + "\n"


def append(list_path: str, text: str) -> None:
    """Append text to the list in one write, creating it with its header."""
    fd = os.open(list_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_size == 0:
            text = HEADER + "\n" + text
        data = text.encode()
        while data:
            written = os.write(fd, data)
            data = data[written:]
    finally:
        os.close(fd)  # releases the lock


def read(list_path: str) -> ModuleList:
    """Read a list, merging duplicates: the first record of a name wins."""
    result = ModuleList()
    paths: dict[str, list[str]] = {}
    seen: dict[str, TracedModule] = {}
    absent: dict[str, AbsentName] = {}
    # Runs are told apart by their M records, which format_run writes
    # together after the run's P records (its sys.path first): another
    # record between two M records starts another run.  The first with the
    # most modules wins.
    in_run, run_size, largest, largest_id = False, 0, 0, ""
    after_p, first_p, run_id = False, "", ""
    # Each module's path in the run being read, and in the largest: a
    # module that several runs imported (a traced program that started
    # traced Pythons) is planned on the largest run's path for it.
    run_paths: dict[str, tuple[str, str]] = {}  # name -> (path id, origin)
    largest_paths: dict[str, tuple[str, str]] = {}
    with open(list_path, encoding="utf-8", errors="replace") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        lines = f.read().splitlines()
    if not lines or lines[0] != HEADER:
        raise ValueError(f"{list_path}: not a pycds module list")
    for line in lines[1:]:
        try:
            was_p, after_p = after_p, False
            kind, path_id, payload = line.split(" ", 2)
            in_run = in_run and kind == "M"
            value = json.loads(payload)
            if kind == "P" and isinstance(value, list):
                paths[path_id] = [str(p) for p in value]
                first_p = first_p if was_p else path_id
                after_p = True
            elif kind == "M" and isinstance(value, list) and len(value) == 3:
                name, origin, is_package = value
                if not isinstance(name, str) or not is_module_name(name):
                    raise ValueError("not a module's name")
                if path_id not in paths:
                    raise ValueError("module before its run's path")
                module = TracedModule(str(name), str(origin), bool(is_package),
                                      paths[path_id])
                if not in_run:
                    run_id = first_p if first_p in paths else path_id
                    run_paths = {}
                run_paths.setdefault(str(name), (path_id, str(origin)))
                run_size = run_size + 1 if in_run else 1
                in_run = True
                if run_size > largest:
                    largest, largest_id = run_size, run_id
                    largest_paths = run_paths
                previous = seen.get(module.name)
                if previous is None:
                    seen[module.name] = module
                    result.modules.append(module)
                elif previous.origin != module.origin:
                    result.conflicts.append(
                        f"{module.name}: traced at {previous.origin} and "
                        f"{module.origin}; keeping the first")
            elif kind == "A" and isinstance(value, str) and is_module_name(value):
                if path_id not in paths:
                    raise ValueError("absent name before its path")
                # One search path per name: the first run's.
                absent.setdefault(value, AbsentName(value, paths[path_id]))
            else:
                raise ValueError("unknown record")
        except ValueError:
            result.bad_lines += 1
    # A name some run imported is not absent, whatever another run saw.
    result.absent = [a for a in absent.values() if a.name not in seen]
    if largest:
        result.main_path = paths[largest_id]
    for module in result.modules:
        path_id, origin = largest_paths.get(module.name, ("", ""))
        if origin == module.origin:  # the same file, found where that run found it
            module.path = paths[path_id]
            module.in_main_run = True
    return result


def started_on(traced: ModuleList) -> list[list[str]]:
    """The sys.path each traced module's import started on in the main run
    (the program's own, which the plan follows): a module only other runs
    imported (traced Pythons the program started, with their own sys.path)
    is planned on the main run's sys.path, as are its imports."""
    return [module.path if module.in_main_run else traced.main_path
            for module in traced.modules]

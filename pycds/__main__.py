"""Command line: python -m pycds {dump,inspect,fingerprint,serve,bundle,
plan}, and --version."""

from __future__ import annotations

import argparse
import os
import sys

from . import Archive, ArchiveError, __version__, _cds, fingerprint


def cmd_inspect(args: argparse.Namespace) -> int:
    try:
        archive = Archive(args.archive, verify_objects=True,
                          any_fingerprint=True)
    except ArchiveError as error:
        print(f"pycds: {error}", file=sys.stderr)
        return 1
    with archive:
        info = archive.info()
        ours = info["fingerprint"] == fingerprint()
        print(f"archive     {args.archive}")
        print(f"size        {info['file_size']} bytes")
        print(f"base        {info['base_address']:#x}")
        print(f"modules     {info['module_count']}")
        print(f"fingerprint {info['fingerprint'].decode(errors='replace')}")
        print(f"loadable    {'yes' if ours else 'no: made by another build'}")
        if args.modules:
            for record in archive.modules():
                name, size = record["name"], record["objects_size"]
                kind = "package" if record["is_package"] else "module"
                if record["is_unit"]:  # the module's objects, in its extra
                    name = name.removesuffix(_cds.UNIT_SUFFIX)
                    kind, size = "unit", len(record["extra"])
                print(f"  {name:40} {kind:7} {size:>9} B  {record['origin']}")
        if args.snapshot:
            from . import _snapshot_restore
            units = [r for r in archive.modules() if r["is_unit"]]
            print(f"units       {len(units)}")
            for record in units:
                name = record["name"].removesuffix(_cds.UNIT_SUFFIX)
                try:
                    print(_snapshot_restore.describe(name, record["extra"]))
                    print("    starts     " + (
                        "yes" if record["flags"] & _cds.MODULE_UNIT_STARTS else
                        "no: restored once another unit has loaded the restore"))
                except Exception as error:  # a damaged unit: say so, go on
                    print(f"  {name}: unreadable unit ({type(error).__name__}: {error})")
    return 0


def cmd_fingerprint(args: argparse.Namespace) -> int:
    print(fingerprint().decode())
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    from . import _dump

    if not args.list or not args.archive:
        print("pycds: dump: give --list and --archive (or set PYCDSLIST and "
              "PYCDSARCHIVE)", file=sys.stderr)
        return 2
    if args.snapshot_all and not args.snapshot:
        print("pycds: dump: --snapshot-all needs --snapshot (or PYCDSSNAPSHOT=1)",
              file=sys.stderr)
        return 2
    try:
        exclude = [p.strip() for p in (args.snapshot_exclude or "").split(",")
                   if p.strip()]
        result = _dump.dump(args.list, args.archive, snapshot=args.snapshot,
                            exclude=exclude, keep_slower=args.snapshot_all)
    except (OSError, ValueError, RuntimeError, ArchiveError) as error:
        print(f"pycds: dump: {error}", file=sys.stderr)
        return 1
    try:
        print(result.summary())
    except BrokenPipeError:  # `| head`: the archive is written all the same
        sys.stdout = None
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from . import _serve

    if args.status or args.stop:
        return _serve.status(args.socket, stop=args.stop)
    try:
        return _serve.serve(args.preload, args.archive or "", args.pool,
                            args.idle_timeout, args.socket or "",
                            args.allow_threads, args.lock_fd,
                            args.key_python)
    except (_serve.ServeError, OSError, ValueError) as error:
        _serve.say(f"not serving: {error}")
        return 1


def cmd_bundle(args: argparse.Namespace) -> int:
    client = os.path.join(os.path.dirname(sys.executable), "pycds-run")
    try:
        preload = _cds.normalize_preload(args.preload)
        archive = _cds.absolute_path(args.archive) if args.archive else ""
        output = os.path.abspath(args.output)
        _cds.write_bundle(args.client or client, output,
                          args.python or sys.executable, preload, archive)
    except (OSError, ValueError) as error:
        print(f"pycds: bundle: {error}", file=sys.stderr)
        return 1
    print(f"{output}: python with {preload or 'nothing'} preloaded")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from . import _snapshot_plan

    if not args.list:
        print("pycds: plan: give --list (or set PYCDSLIST)", file=sys.stderr)
        return 2
    exclude = [p.strip() for p in (args.snapshot_exclude or "").split(",") if p.strip()]
    try:
        plan = _snapshot_plan.make_plan(args.list, exclude)
    except (OSError, ValueError, _snapshot_plan.PlanError) as error:
        print(f"pycds: plan: {error}", file=sys.stderr)
        return 1
    try:
        print(_snapshot_plan.to_json(plan) if args.json
              else _snapshot_plan.report(plan))
    except BrokenPipeError:
        sys.stdout = None
    return 0


def pool_size(text: str) -> int:
    """--pool's value, checked as the server checks it (librun)."""
    try:
        return _cds.check_pool(int(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pycds")
    parser.add_argument("--version", action="version",
                        version=f"pycds {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    dump = commands.add_parser("dump", help="build an archive from a trace")
    dump.add_argument("--list", default=_cds.variable("PYCDSLIST"),
                      help="module list written by PYCDSMODE=TRACE "
                           "(default: $PYCDSLIST)")
    dump.add_argument("--archive", default=_cds.variable("PYCDSARCHIVE"),
                      help="archive to write (default: $PYCDSARCHIVE)")
    dump.add_argument("--snapshot", action="store_true",
                      default=(_cds.variable("PYCDSSNAPSHOT") or "").strip() == "1",
                      help="also write snapshot units: the objects each "
                           "module's body created, restored instead of "
                           "running the body (runs the bodies once in a "
                           "fresh interpreter; default: $PYCDSSNAPSHOT)")
    dump.add_argument("--snapshot-exclude", metavar="PKG,...",
                      help="with --snapshot: packages kept as code only")
    dump.add_argument("--snapshot-all", action="store_true",
                      help="with --snapshot: keep every unit a fresh process "
                           "restores, also those slower to restore than "
                           "their code (for tests and measurements)")
    dump.set_defaults(run=cmd_dump)

    inspect = commands.add_parser("inspect", help="describe an archive")
    inspect.add_argument("archive")
    inspect.add_argument("--snapshot", action="store_true",
                         help="also each snapshot unit: objects, names, "
                              "inputs, imports and replayed operations")
    inspect.add_argument("--modules", action="store_true",
                         help="list the archived modules")
    inspect.set_defaults(run=cmd_inspect)

    fp = commands.add_parser("fingerprint",
                             help="print this interpreter's build fingerprint")
    fp.set_defaults(run=cmd_fingerprint)

    serve = commands.add_parser(
        "serve", help="serve programs from an interpreter that has imported "
                      "the preload set (pycds-run connects to it)")
    serve.add_argument("--preload", default=_cds.variable("PYCDSPRELOAD") or "",
                       help="modules to import once, comma-separated "
                            "(default: $PYCDSPRELOAD)")
    serve.add_argument("--archive", help="share the server's own imports from "
                                         "this archive (default: "
                                         "$PYCDSARCHIVE, when set)")
    serve.add_argument("--pool", type=pool_size,
                       default=_cds.variable("PYCDSPOOL"),
                       help="processes forked ahead, waiting for programs, "
                            f"0 to {_cds.POOL_MAX} (default: $PYCDSPOOL, "
                            "else 0)")
    serve.add_argument("--idle-timeout", type=float,
                       default=float(_cds.IDLE_TIMEOUT_DEFAULT),
                       metavar="SECONDS",
                       help="exit after this long without programs "
                            f"(default {_cds.IDLE_TIMEOUT_DEFAULT}; 0: never)")
    serve.add_argument("--socket", help="listen here instead of the "
                                        "per-user directory (clients: "
                                        "PYCDSSOCKET)")
    serve.add_argument("--allow-threads", action="store_true",
                       default=bool(_cds.variable("PYCDSALLOWTHREADS")),
                       help="fork even if preloading started threads "
                            "(default: $PYCDSALLOWTHREADS)")
    # What only a client that starts a server passes (librun's
    # run_server_command writes the line).
    serve.add_argument(_cds.SERVE_LOCK_FD_OPTION, dest="lock_fd", type=int,
                       help=argparse.SUPPRESS)
    serve.add_argument(_cds.SERVE_KEY_PYTHON_OPTION, dest="key_python",
                       help=argparse.SUPPRESS)
    serve.add_argument("--status", action="store_true",
                       help="list this user's servers")
    serve.add_argument("--stop", action="store_true",
                       help="stop this user's servers (or the --socket one); "
                            "each finishes its running programs")
    serve.set_defaults(run=cmd_serve)

    bundle = commands.add_parser(
        "bundle", help="write a launcher: python with a preload set")
    bundle.add_argument("--preload", required=True,
                        help="modules to preload, comma-separated")
    bundle.add_argument("--archive", help="archive for the server's imports")
    bundle.add_argument("--python", help="interpreter (default: this one)")
    bundle.add_argument("--client", help=argparse.SUPPRESS)
    bundle.add_argument("-o", "--output", required=True,
                        help="the launcher to write")
    bundle.set_defaults(run=cmd_bundle)

    plan = commands.add_parser(
        "plan", help="which traced modules could be snapshot units, and why "
                     "not (runs their bodies in a fresh interpreter)")
    plan.add_argument("--list", default=_cds.variable("PYCDSLIST"),
                      help="module list written by PYCDSMODE=TRACE "
                           "(default: $PYCDSLIST)")
    plan.add_argument("--snapshot-exclude", metavar="PKG,...",
                      help="packages kept as code only")
    plan.add_argument("--json", action="store_true",
                      help="print the whole plan as JSON "
                           "(format: pycds/_snapshot_schema.py)")
    plan.set_defaults(run=cmd_plan)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

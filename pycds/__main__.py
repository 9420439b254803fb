"""Command line: python -m pycds {dump,inspect,fingerprint}."""

from __future__ import annotations

import argparse
import os
import sys

from . import Archive, ArchiveError, fingerprint


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
                kind = "package" if record["is_package"] else "module"
                print(f"  {record['name']:40} {kind:7} "
                      f"{record['objects_size']:>9} B  {record['origin']}")
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
    try:
        result = _dump.dump(args.list, args.archive)
    except (OSError, ValueError, RuntimeError, ArchiveError) as error:
        print(f"pycds: dump: {error}", file=sys.stderr)
        return 1
    try:
        print(result.summary())
    except BrokenPipeError:  # `| head`: the archive is written all the same
        sys.stdout = None
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pycds")
    commands = parser.add_subparsers(dest="command", required=True)

    dump = commands.add_parser("dump", help="build an archive from a trace")
    dump.add_argument("--list", default=os.environ.get("PYCDSLIST"),
                      help="module list written by PYCDSMODE=TRACE "
                           "(default: $PYCDSLIST)")
    dump.add_argument("--archive", default=os.environ.get("PYCDSARCHIVE"),
                      help="archive to write (default: $PYCDSARCHIVE)")
    dump.set_defaults(run=cmd_dump)

    inspect = commands.add_parser("inspect", help="describe an archive")
    inspect.add_argument("archive")
    inspect.add_argument("--modules", action="store_true",
                         help="list the archived modules")
    inspect.set_defaults(run=cmd_inspect)

    fp = commands.add_parser("fingerprint",
                             help="print this interpreter's build fingerprint")
    fp.set_defaults(run=cmd_fingerprint)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

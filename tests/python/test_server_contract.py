"""What a server and its clients agree on, defined once in librun
(run/server.h, run/variables.h) and read by both languages: the status
report, the server's command line, its files, its idle time-out and pool
bound, and pycds's environment variables against README.md's table."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import clean_env
from servers import PY, start_server, wait_for

import pycds._cds as _cds
from pycds import _serve
from pycds.__main__ import build_parser

TREE = Path(__file__).resolve().parents[2]
README = (TREE / "README.md").read_text()


# ------------------------------------------------------------ status report

def test_status_report_round_trip() -> None:
    """What status_text writes, status_fields reads back, field by field,
    in the table's order; a value's newline cannot start a line of its
    own, and a newer server's unknown lines are skipped."""
    fields = {name: f"value of {name}" for name in _cds.STATUS_FIELDS}
    fields["state"] = "stale: /lib/x.py\nchanged"
    fields["uptime"] = "12 s"
    text = _cds.status_text(fields)
    lines = text.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == \
        list(_cds.STATUS_FIELDS)
    read = _cds.status_fields(text)
    assert list(read) == list(_cds.STATUS_FIELDS)
    assert read["state"] == "stale: /lib/x.py changed"
    assert read["uptime"] == "12 s"
    assert {name: read[name] for name in fields if name != "state"} == \
        {name: value for name, value in fields.items() if name != "state"}
    newer = "pid: 7\nsomething new: 1\nnot a field line\nstate: serving\n"
    assert _cds.status_fields(newer) == {"pid": "7", "state": "serving"}
    with pytest.raises(ValueError, match="no status field"):
        _cds.status_text({"no such field": "1"})


def test_a_servers_status_reads_back_whole(tmp_path: Path) -> None:
    """The loop's fields and the Python side's, from a real server, read
    by the one parser; `serve --status` prints the same report."""
    server = start_server(tmp_path / "srv", "json")
    try:
        fields = _cds.status_fields(
            _cds.server_control(str(server.socket), False))
        assert list(fields) == list(_cds.STATUS_FIELDS)
        assert int(fields["pid"]) == server.pid
        assert fields["pool idle"] == "0 of 0"
        assert fields["state"] == "serving"
        assert fields["preload"] == "json"
        assert fields["socket"] == str(server.socket)
        assert fields["log"] == _cds.server_file(str(server.socket), "log")
        shown = subprocess.run(
            [PY, "-m", "pycds", "serve", "--status", "--socket",
             str(server.socket)], env=server.env, capture_output=True,
            text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        printed = _cds.status_fields("\n".join(
            line.strip() for line in shown.stdout.splitlines()[1:]))
        assert list(printed) == list(_cds.STATUS_FIELDS)
        assert printed["key"] == fields["key"]
    finally:
        server.stop()


def test_the_logs_lines_begin_alike(tmp_path: Path) -> None:
    """The loop (C) and the Python side write the server's log with one
    prefix (librun's run_log_prefix): time, then pycds serve[PID]."""
    server = start_server(tmp_path / "srv", "json")
    try:
        server.stop()
        lines = server.log.read_text().splitlines()
    finally:
        server.stop()
    prefix = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d pycds serve\[(\d+)\]: "
    said = {match[2].split(" ", 1)[0]: int(match[1])
            for match in (re.fullmatch(prefix + "(.*)", line)
                          for line in lines) if match}
    # "preloaded" is the Python side's, "serving" and "exiting:" the loop's.
    assert {"preloaded", "serving", "exiting:"} <= set(said), lines
    assert set(said.values()) == {server.pid}, lines
    assert re.fullmatch(prefix, _cds.log_prefix())


# ----------------------------------------------------- the server's command

def test_pycds_reads_the_command_line_a_client_starts_a_server_with() -> None:
    line = _cds.server_command("/opt/python3", ["-B", "-X", "utf8"],
                               "json,email", "/srv/app.img")
    assert line[:4] == ["/opt/python3", "-B", "-X", "utf8"]
    assert line[4:7] == ["-m", "pycds", "serve"]
    args = build_parser().parse_args(line[6:])
    assert (args.command, args.preload, args.archive, args.lock_fd,
            args.key_python) == ("serve", "json,email", "/srv/app.img",
                                 _cds.SERVE_LOCK_FD, "/opt/python3")
    no_archive = _cds.server_command("/opt/python3", [], "json", "")
    assert "--archive" not in no_archive
    assert build_parser().parse_args(no_archive[3:]).archive is None


# ------------------------------------------------------------- server files

def test_a_servers_files_are_named_after_its_socket() -> None:
    socket = _cds.key_file("/run/pycds", "0123abcd", "socket")
    assert socket == "/run/pycds/0123abcd" + _cds.SERVER_FILES["socket"]
    for name, suffix in _cds.SERVER_FILES.items():
        assert _cds.key_file("/run/pycds", "0123abcd", name) == \
            _cds.server_file(socket, name) == "/run/pycds/0123abcd" + suffix
        # A socket given by --socket without the suffix: beside it.
        assert _cds.server_file("/tmp/mine", name) == "/tmp/mine" + suffix
    with pytest.raises(ValueError, match="no server file"):
        _cds.server_file(socket, "sock")
    with pytest.raises(OSError):  # longer than a socket address
        _cds.key_file("/" + "d" * 120, "k", "socket")


def test_the_failure_note_is_one_line(tmp_path: Path) -> None:
    note = tmp_path / "k.failed"
    _cds.note_failure(str(note), "preloading x failed: ImportError: no\nmore")
    assert note.read_text() == "preloading x failed: ImportError: no\n"
    assert [p.name for p in tmp_path.iterdir()] == ["k.failed"]  # no temporary
    with pytest.raises(OSError):
        _cds.note_failure(str(tmp_path / "missing" / "k.failed"), "why")


# --------------------------------------------- idle time-out and pool bound

def test_idle_timeout_default_is_the_readmes(tmp_path: Path) -> None:
    """README's "exits after N idle minutes", the command line's default,
    the extension's and the server's own log line agree."""
    minutes = int(re.search(r"A server exits after (\d+) idle minutes",
                            README).group(1))
    assert minutes * 60 == _cds.IDLE_TIMEOUT_DEFAULT
    assert build_parser().parse_args(["serve"]).idle_timeout == \
        _cds.IDLE_TIMEOUT_DEFAULT
    assert f"idle_timeout={_cds.IDLE_TIMEOUT_DEFAULT}," in _cds.serve.__doc__
    sock = tmp_path / "s.sock"
    log = tmp_path / "s.log"
    env = clean_env()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [PY, "-m", "pycds", "serve", "--socket", str(sock)], env=env,
            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "serving on" in log.read_text()
                 or process.poll() is not None, 60, "the server")
        assert f"idle time-out {_cds.IDLE_TIMEOUT_DEFAULT} s" in \
            log.read_text(), log.read_text()
    finally:
        try:
            _cds.server_control(str(sock), True)
        except OSError:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize("pool", [-1, _cds.POOL_MAX + 1])
def test_pool_bound(tmp_path: Path, pool: int) -> None:
    """One bound, one check: the command line refuses what the server
    would, before preloading anything, and so does the extension."""
    assert _cds.check_pool(_cds.POOL_MAX) == _cds.POOL_MAX
    assert _cds.check_pool(0) == 0
    message = f"it takes 0 to {_cds.POOL_MAX}"
    for args, env in ((["--pool", str(pool)], {}),
                      ([], {"PYCDSPOOL": str(pool)})):
        done = subprocess.run(
            [PY, "-m", "pycds", "serve", "--socket", str(tmp_path / "s"),
             "--preload", "json", *args], env=clean_env(**env),
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert done.stderr.count("\n") <= 5  # usage and one line
    # In a process of its own: were the check missing, it would serve.
    never = tmp_path / "never.sock"
    done = subprocess.run(
        [PY, "-c", "import sys, pycds._cds as c\n"
         "try:\n    c.serve(sys.argv[1], pool=int(sys.argv[2]), "
         "idle_timeout=0.1)\n"
         "except ValueError as error:\n    print(error)\n",
         str(never), str(pool)], env=clean_env(), capture_output=True,
        text=True, timeout=60)
    assert message in done.stdout, done.stdout + done.stderr
    assert not never.exists()


# ----------------------------------------------- pycds's environment table

def readme_variables() -> list[tuple[str, str | None, str]]:
    section = README.split("## Environment variables\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = re.fullmatch(r"\| `(PYCDS\w+)` \| (.*?) \| (.*) \|", line)
        if match:
            name, default, meaning = match.groups()
            rows.append((name, None if default == "unset"
                         else default.strip("`"), meaning))
    return rows


def test_readme_table_is_librun_table() -> None:
    table = [(name, default, meaning)
             for name, default, meaning, _ in _cds.variables()]
    assert readme_variables() == table


def test_readme_names_the_variables_that_select_a_server() -> None:
    """The drop-in section's list of pycds's own start-up variables is the
    table's."""
    own = re.search(r"and pycds's own\s*\(([^)]*)\)", README).group(1)
    listed = {name.split("=")[0]
              for name in re.findall(r"`(PYCDS[A-Z]+(?:=[A-Z]+)?)`", own)}
    assert listed == {name for name, _, _, selects in _cds.variables()
                      if selects}


def test_every_pycds_name_is_in_the_table() -> None:
    names = {name for name, _, _, _ in _cds.variables()}
    sources = [*TREE.glob("pycds/*.py"), *TREE.glob("pycds/ext/*.[ch]"),
               *TREE.glob("librun/src/*.c"), *TREE.glob("tools/pycds-run/*.c"),
               TREE / "README.md", TREE / "pycds.pth"]
    for path in sources:
        for name in re.findall(r"\bPYCDS[A-Z]+\b", path.read_text()):
            assert name in names, f"{path}: {name} is not in librun's table"


def test_variables_are_read_through_the_table() -> None:
    """No reader of its own: every PYCDS* read goes through librun's
    run_variable_get (C) or pycds._cds.variable (Python); pycds.pth's
    gate on PYCDSMODE is the one exception (it must import nothing)."""
    readers = re.compile(r"""getenv\("PYCDS|environ(b)?\.get\(["']PYCDS"""
                         r"""|environ(b)?\[["']PYCDS""")
    sources = [*TREE.glob("pycds/*.py"), *TREE.glob("pycds/ext/*.c"),
               *TREE.glob("librun/src/*.c"), *TREE.glob("tools/pycds-run/*.c")]
    offenders = [str(path.relative_to(TREE)) for path in sources
                 if readers.search(path.read_text())]
    assert offenders == []


def test_variable_reads_the_environment_or_the_default() -> None:
    code = ("import pycds._cds as c; print([c.variable(n) for n in "
            "('PYCDSVALIDATE', 'PYCDSVERBOSE', 'PYCDSSOCKET')])")
    def read(**env: str) -> str:
        return subprocess.run([PY, "-c", code], env=clean_env(**env),
                              capture_output=True, text=True, timeout=60,
                              check=True).stdout.strip()
    defaults = {name: default for name, default, _, _ in _cds.variables()}
    expected = [defaults["PYCDSVALIDATE"], defaults["PYCDSVERBOSE"], None]
    assert read() == str(expected)
    assert read(PYCDSVALIDATE="", PYCDSVERBOSE="") == str(expected)
    assert read(PYCDSVALIDATE="hash", PYCDSVERBOSE="2",
                PYCDSSOCKET="/s") == str(["hash", "2", "/s"])
    with pytest.raises(ValueError, match="not one of pycds's variables"):
        _cds.variable("PYCDSNOSUCH")


def test_stop_all_finds_servers_by_their_report(tmp_path: Path) -> None:
    """_serve.stop_all reads each server's pid from its report."""
    server = start_server(tmp_path / "srv", "json")
    try:
        assert _serve.stop_all(tmp_path / "srv", timeout=30) == []
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()

"""What a preloaded interpreter cannot serve exactly as python would is run
by python itself, with the same result: interpreter options the server was
not started with, start-up variables that differ from the server's or that
no fork can honour, a program directory that shadows a preloaded module,
scripts python must open itself, and servers that cannot be used.  A
launcher (`python -m pycds bundle`) is python with its preload set."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from servers import CLIENT, PY, Server, programs_server, same, stop_servers_in
from conftest import clean_env


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    server = programs_server(tmp_path_factory, "fallback")
    yield server
    server.stop()


def plain_and_client(server: Server, args: list[str], because: str,
                     **kwargs):
    """Both runs; python must have run the program, for a reason that
    holds `because`."""
    client = server.refused(args, because, **kwargs)
    return server.plain(args, **kwargs), client


# The client's reasons (tools/pycds-run) and the program's process's
# (pycds/ext/child.c).
CANNOT_HONOUR = "an interpreter option that a preloaded interpreter cannot"
OPTIONS_DIFFER = "interpreter options differ from the server's"


@pytest.mark.parametrize("args, because", [
    (["-v", "-c", "pass"], CANNOT_HONOUR),
    (["-X", "importtime", "-c", "import json"], "an -X option"),
    (["-W", "error", "-c", "import warnings; warnings.warn('x')"],
     "-W: warnings at import time"),
    (["-i", "-c", "print('inspect')"], CANNOT_HONOUR),
    (["-d", "-c", "pass"], CANNOT_HONOUR),
    (["-x", "probe.py"], CANNOT_HONOUR),
    (["--version"], "a long option"),
    (["-h"], CANNOT_HONOUR),
    (["-B", "-c", "import sys; print(sys.flags.dont_write_bytecode)"],
     OPTIONS_DIFFER),
    (["-O", "-c", "assert False, 'kept'; print('optimised away')"],
     OPTIONS_DIFFER),
    (["-E", "-c", "import sys; print(sys.flags.ignore_environment)"],
     OPTIONS_DIFFER),
    (["-Z"], CANNOT_HONOUR),
    (["-c"], "an option without its argument"),
])
def test_options_the_server_lacks_run_plainly(server: Server, args: list[str],
                                              because: str) -> None:
    plain, client = plain_and_client(server, args, because, input=b"")
    same(plain, client)


@pytest.mark.parametrize("variable, value, code, because", [
    ("PYTHONHASHSEED", "7", "print(hash('fixed'))", "differs"),
    ("PYTHONOPTIMIZE", "1", "print(__debug__)", "differs"),
    ("PYTHONIOENCODING", "latin-1", "import sys; print(sys.stdout.encoding)",
     "differs"),
    ("PYTHONVERBOSE", "1", "pass", "=1"),
    ("PYTHONPROFILEIMPORTTIME", "1", "import json", "=1"),
    ("PYTHONDEVMODE", "1", "import sys; print(sys.flags.dev_mode)", "=1"),
    ("TZ", "Asia/Tokyo", "import time; print(time.tzname)", "differs"),
    ("LC_ALL", "C", "import sys; print(sys.stdout.encoding)", "differs"),
    ("PYTHONPATH", "relative/dir", "import sys; print(sys.path[1])",
     " has a relative entry"),
    ("PYCDSMODE", "TRACE", "print('traced')", "=TRACE"),
])
def test_startup_variables_run_plainly(server: Server, variable: str,
                                       value: str, code: str, because: str,
                                       tmp_path: Path) -> None:
    env = dict(server.env, **{variable: value})
    if variable == "PYCDSMODE":
        env["PYCDSLIST"] = str(tmp_path / "trace.lst")
    because = variable + (" differs from the server's" if because == "differs"
                          else because)
    plain, client = plain_and_client(server, ["-c", code], because, env=env)
    if variable != "PYCDSMODE":
        same(plain, client)
    else:
        assert client.stdout == plain.stdout == b"traced\n"
        assert (tmp_path / "trace.lst").exists()


def test_runtime_variables_are_served(server: Server) -> None:
    """Variables read while running are simply the program's."""
    env = dict(server.env, PYTHONBREAKPOINT="0", MY_SETTING="on")
    code = "import os; print(os.environ['MY_SETTING'], os.environ['PYTHONBREAKPOINT'])"
    plain, served = server.both(["-c", code], env=env)
    same(plain, served)


def test_directory_shadowing_a_preloaded_module(server: Server,
                                                tmp_path: Path) -> None:
    (tmp_path / "json.py").write_text("def dumps(value):\n    return 'local'\n")
    (tmp_path / "app.py").write_text("import json\nprint(json.dumps(1))\n")
    shadows = "holds json.py, which a preloaded module's name would resolve to"
    plain, client = plain_and_client(server, ["app.py"], shadows, cwd=tmp_path)
    same(plain, client)
    assert client.stdout == b"local\n"
    plain, client = plain_and_client(
        server, ["-c", "import json; print(json.dumps(1))"],
        "the current directory " + shadows, cwd=tmp_path)
    assert client.stdout == plain.stdout == b"local\n"


def test_scripts_python_must_open_itself(server: Server,
                                         tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "__main__.py").write_text("print('directory as a script')\n")
    unreadable = tmp_path / "secret.py"
    unreadable.write_text("print(1)\n")
    unreadable.chmod(0)
    for args, because in ((["app"], "Is a directory"),
                          (["missing.py"], "No such file or directory"),
                          (["secret.py"], "Permission denied")):
        if args == ["secret.py"] and os.geteuid() == 0:
            continue  # root reads it anyway
        plain, client = plain_and_client(
            server, args, "cannot read the script: " + because, cwd=tmp_path)
        same(plain, client)


def test_scripts_not_utf8_without_a_declaration_run_plainly(server: Server,
                                                           tmp_path: Path) -> None:
    """python words the error about such a script its own way: it runs it."""
    (tmp_path / "latin.py").write_bytes(b'print("\xff")\n')
    plain, client = plain_and_client(
        server, ["latin.py"], "the script is not UTF-8 and declares no encoding",
        cwd=tmp_path)
    same(plain, client)
    assert b"Non-UTF-8 code" in client.stderr
    (tmp_path / "declared.py").write_bytes(b'# -*- coding: latin-1 -*-\nprint("\xff")\n')
    served = server.client(["declared.py"], cwd=tmp_path)
    assert served.stdout == server.plain(["declared.py"], cwd=tmp_path).stdout


def test_unusable_servers_leave_it_to_python(server: Server,
                                             tmp_path: Path) -> None:
    not_a_socket = tmp_path / "file.sock"
    not_a_socket.write_text("")
    nobody_listens = tmp_path / "dead.sock"
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(nobody_listens))
    for path in (not_a_socket, nobody_listens, tmp_path / "missing.sock"):
        env = dict(server.env, PYCDSSOCKET=str(path), PYCDSVERBOSE="1")
        done = subprocess.run([CLIENT, "-c", "print('ran')"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout == "ran\n"
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "pycds-run: plain python: ")


def test_server_started_with_an_option_serves_it(tmp_path: Path) -> None:
    """-B and -X utf8 are served by a server started with them."""
    root = tmp_path / "srv"
    root.mkdir()
    env = dict(clean_env(), PYCDSSOCKET=str(root / "server.sock"))
    process = subprocess.Popen(
        [PY, "-B", "-X", "utf8", "-m", "pycds", "serve", "--socket",
         str(root / "server.sock"), "--preload", "json"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(root, root / "server.sock", env, process,
                    root / "none.log")
    try:
        from servers import status, wait_for

        wait_for(lambda: status(str(server.socket)), 60, "the server")
        code = ("import sys; print(sys.flags.dont_write_bytecode, "
                "sys.flags.utf8_mode, sys.orig_argv[1:4])")
        plain, served = server.both(["-B", "-X", "utf8", "-c", code])
        same(plain, served)
        assert server.refused(["-c", "pass"], OPTIONS_DIFFER).returncode == 0
    finally:
        server.stop()


def test_launcher_is_python_with_a_preload_set(tmp_path: Path) -> None:
    import tempfile

    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "heavy.py").write_text("import os\nSERVER = os.getpid()\n")
    launcher = tmp_path / "python-heavy"
    made = subprocess.run([PY, "-m", "pycds", "bundle", "--preload", "heavy",
                           "-o", str(launcher)], capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert os.access(launcher, os.X_OK)
    assert launcher.read_bytes()[:4] == b"\x7fELF"
    runtime = Path(tempfile.mkdtemp(prefix="pycds-test-"))
    env = dict(clean_env(), XDG_RUNTIME_DIR=str(runtime),
               PYTHONPATH=str(lib), PYCDSWAIT="1")
    env.pop("PYCDSPRELOAD", None)
    try:
        code = "import heavy, os, sys; print(os.getppid() == heavy.SERVER, sys.argv)"
        done = subprocess.run([str(launcher), "-c", code, "x"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.stdout == "True ['-c', 'x']\n", done.stderr
        # A launcher is no client to make launchers from.
        again = subprocess.run([PY, "-m", "pycds", "bundle", "--preload",
                                "heavy", "--client", str(launcher), "-o",
                                str(tmp_path / "other")],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and "already a launcher" in again.stderr
    finally:
        stop_servers_in(runtime / "pycds")
        shutil.rmtree(runtime)

"""Only the server's own user runs code through it: the socket directory
must be private (checked like an archive: owner and mode), the client
checks the socket and the server's credentials, and the server refuses a
connection from anyone else (SO_PEERCRED)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import clean_env
from servers import (CLIENT, PY, start_server, status, stop_servers_in,
                     wait_for)

NOBODY = 65534
# Children forked here (nobody may not reach the interpreter, so no exec)
# change user, open or connect one socket and _exit, taking no lock that
# another thread could hold; under pytest-xdist the worker has threads,
# which makes CPython warn about any fork.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning")
root_only = pytest.mark.skipif(os.geteuid() != 0,
                               reason="changing user needs root")


def as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@pytest.fixture
def open_dir():
    """A directory every user can enter (pytest's are private)."""
    path = Path(tempfile.mkdtemp(prefix="pycds-sec-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def fork_as_nobody(work) -> int:
    """Run work() in a forked process as user nobody (no exec: nobody may
    not reach the interpreter under /root); its exit status."""
    pid = os.fork()
    if pid == 0:
        try:
            as_nobody()
            work()
            os._exit(0)
        except BaseException:
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@root_only
def test_another_user_cannot_run_code(open_dir: Path) -> None:
    lib = open_dir / "lib"
    lib.mkdir()
    (lib / "victim.py").write_text("import os\nSERVER = os.getpid()\n")
    server = start_server(open_dir / "srv", "victim", pythonpath=lib)
    try:
        (open_dir / "srv").chmod(0o755)
        # As if the socket had leaked: anyone may connect to it.
        server.socket.chmod(0o777)
        before = server.served()
        done = subprocess.run([CLIENT, "-c", "print('ran')"], env=server.env,
                              preexec_fn=as_nobody, capture_output=True,
                              text=True, timeout=60)
        # The client sees a socket that is not its user's and leaves it to
        # python (which nobody may not even run here): the server runs
        # nothing.
        assert "ran" not in done.stdout
        assert server.served() == before

        # Past the client: the server closes the connection unanswered.
        def connect() -> None:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(server.socket))
                sock.settimeout(10)
                try:
                    sock.sendall(b"\0" * 16)
                    answer = sock.recv(16)
                except (BrokenPipeError, ConnectionResetError):
                    answer = b""
                assert answer == b""

        assert fork_as_nobody(connect) == 0
        wait_for(lambda: f"refused a connection from uid {NOBODY}"
                 in server.log.read_text(), 10, "the refusal in the log")
        assert server.served() == before
    finally:
        server.stop()


def runtime_env(runtime: Path) -> dict:
    return dict(clean_env(), XDG_RUNTIME_DIR=str(runtime),
                PYCDSPRELOAD="json", PYCDSWAIT="1", PYCDSVERBOSE="1")


def check_refused(runtime: Path, words: str) -> None:
    done = subprocess.run([CLIENT, "-c", "print('ran')"],
                          env=runtime_env(runtime), capture_output=True,
                          text=True, timeout=60)
    assert done.stdout == "ran\n"  # python ran it itself
    assert words in done.stderr and "plain python" in done.stderr
    assert not list((runtime / "pycds").glob("*.sock"))
    serve = subprocess.run([PY, "-m", "pycds", "serve", "--preload", "json"],
                           env=runtime_env(runtime), capture_output=True,
                           text=True, timeout=60)
    assert serve.returncode == 1 and words in serve.stderr


def test_directory_open_to_others_is_refused(open_dir: Path) -> None:
    (open_dir / "pycds").mkdir(mode=0o700)
    (open_dir / "pycds").chmod(0o755)
    check_refused(open_dir, "others have access")


@root_only
def test_directory_of_another_owner_is_refused(open_dir: Path) -> None:
    (open_dir / "pycds").mkdir(mode=0o700)
    os.chown(open_dir / "pycds", NOBODY, NOBODY)
    check_refused(open_dir, f"owned by uid {NOBODY}")


def test_directory_symlink_is_refused(open_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (open_dir / "pycds").symlink_to(target)
    check_refused(open_dir, "symbolic link")


def test_private_directory_is_made_and_used(open_dir: Path) -> None:
    env = runtime_env(open_dir)
    try:
        done = subprocess.run([CLIENT, "-c", "import os; print(os.getppid())"],
                              env=env, capture_output=True, text=True,
                              timeout=60)
        directory = open_dir / "pycds"
        assert directory.stat().st_mode & 0o777 == 0o700
        sockets = list(directory.glob("*.sock"))
        assert len(sockets) == 1
        assert sockets[0].stat().st_mode & 0o077 == 0
        # The server that socket leads to ran the program.
        assert done.stdout.strip() == status(str(sockets[0]))["pid"]
    finally:
        stop_servers_in(open_dir / "pycds")


def listen(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.listen()
    return sock


def client_on(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CLIENT, "-c", "print('ran')"],
                          env=dict(clean_env(), PYCDSSOCKET=str(path),
                                   PYCDSVERBOSE="1"),
                          capture_output=True, text=True, timeout=60)


@root_only
def test_socket_file_of_another_user_is_not_used(open_dir: Path) -> None:
    path = open_dir / "foreign.sock"
    with listen(path):
        os.chown(path, NOBODY, NOBODY)
        done = client_on(path)
    assert done.stdout == "ran\n"  # python ran it
    assert "not this user's" in done.stderr


@root_only
def test_server_of_another_user_is_not_used(open_dir: Path) -> None:
    """A socket file of ours with another user's process behind it."""
    shared = open_dir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    path = shared / "foreign.sock"
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()

    def serve_as_nobody() -> None:
        sock = listen(path)
        os.write(ready_write, b"x")
        os.read(done_read, 1)
        sock.close()

    pid = os.fork()
    if pid == 0:
        try:
            as_nobody()
            serve_as_nobody()
        finally:
            os._exit(0)
    try:
        assert os.read(ready_read, 1) == b"x"
        os.chown(path, 0, 0)
        done = client_on(path)
        assert done.stdout == "ran\n"
        assert "runs as another user" in done.stderr
    finally:
        os.write(done_write, b"x")
        os.waitpid(pid, 0)

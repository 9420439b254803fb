"""The life of servers and programs: a killed client takes its program
with it, a dead server is reported, nothing is left a zombie, changed code
gets a fresh server, stale sockets are replaced, one server per key even
when clients race to start it, idle servers exit, the pool forks ahead."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import pycds
from conftest import clean_env
from servers import (CLIENT, PY, Server, alive, start_server, status,
                     stop_servers_in, wait_for, zombies_of)


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "served_mod.py").write_text(
        "import os\nSERVER = os.getpid()\n\ndef behaviour():\n"
        "    return 'old'\n")
    return lib


@pytest.fixture
def keyed(lib: Path):
    """An environment whose servers (started by the client itself) live in
    a private directory, all stopped at the end.  (Short: a socket's path
    has at most 107 bytes.)"""
    runtime = Path(tempfile.mkdtemp(prefix="pycds-test-"))
    env = dict(clean_env(), XDG_RUNTIME_DIR=str(runtime),
               PYTHONPATH=str(lib), PYCDSPRELOAD="served_mod")
    yield env
    stop_servers_in(runtime / "pycds")
    shutil.rmtree(runtime)


def client(env: dict, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([CLIENT, *args], env=env, capture_output=True,
                          text=True, timeout=120, **kwargs)


SHOW = "import served_mod, os; print(served_mod.behaviour(), os.getppid() == served_mod.SERVER)"


def test_first_run_is_plain_then_served(keyed: dict) -> None:
    first = client(dict(keyed, PYCDSVERBOSE="1"), ["-c", SHOW])
    assert first.stdout.split() == ["old", "False"]  # python ran it
    assert "pycds-run: plain python: no server was running" in first.stderr
    wait_for(lambda: list((Path(keyed["XDG_RUNTIME_DIR"]) / "pycds")
                          .glob("*.sock")), 60, "the server's socket")
    second = client(dict(keyed, PYCDSWAIT="1"), ["-c", SHOW])
    assert second.stdout.split() == ["old", "True"]


def test_edited_module_gets_a_fresh_server(keyed: dict, lib: Path) -> None:
    waiting = dict(keyed, PYCDSWAIT="1")
    assert client(waiting, ["-c", SHOW]).stdout.split() == ["old", "True"]
    assert client(waiting, ["-c", SHOW]).stdout.split() == ["old", "True"]
    # Another size: with bytecode written, plain Python itself would take
    # a .pyc of the old source of the same size and second for fresh.
    (lib / "served_mod.py").write_text(
        "import os\nSERVER = os.getpid()\n\ndef behaviour():\n"
        "    return 'new'  # edited\n")
    # The next program never sees the old code: python runs it, or a
    # fresh server does.
    assert client(keyed, ["-c", SHOW]).stdout.split()[0] == "new"
    assert client(waiting, ["-c", SHOW]).stdout.split() == ["new", "True"]


def test_stale_socket_is_replaced(keyed: dict) -> None:
    waiting = dict(keyed, PYCDSWAIT="1")
    code = ("import os, served_mod; "
            "print(served_mod.SERVER, os.getppid() == served_mod.SERVER)")

    def served_by() -> int:
        server, served = client(waiting, ["-c", code]).stdout.split()
        assert served == "True", "python ran it"
        return int(server)

    first = served_by()
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not alive(first), 10, "the server to die")
    sockets = list((Path(keyed["XDG_RUNTIME_DIR"]) / "pycds").glob("*.sock"))
    assert sockets, "the dead server's socket is still there"
    second = served_by()
    assert second != first and alive(second)


def test_racing_clients_start_one_server(keyed: dict) -> None:
    waiting = dict(keyed, PYCDSWAIT="1")
    code = ("import os, served_mod; "
            "print(served_mod.SERVER, os.getppid() == served_mod.SERVER)")
    processes = [subprocess.Popen([CLIENT, "-c", code], env=waiting,
                                  stdout=subprocess.PIPE, text=True)
                 for _ in range(8)]
    servers = {process.communicate(timeout=120)[0].strip()
               for process in processes}
    assert len(servers) == 1 and servers.pop().endswith(" True")
    directory = Path(keyed["XDG_RUNTIME_DIR"]) / "pycds"
    assert len(list(directory.glob("*.sock"))) == 1


@pytest.fixture
def server(tmp_path: Path, lib: Path) -> Server:
    server = start_server(tmp_path / "srv", "served_mod", pythonpath=lib)
    yield server
    server.stop()


def test_killed_client_takes_its_program(server: Server, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = (f"import os, time; open({str(pid_file)!r}, 'w').write("
            "str(os.getpid())); time.sleep(60)")
    with server.serving():
        process = server.popen(["-c", code])
        program = int(wait_for(
            lambda: pid_file.exists() and pid_file.read_text(), 30,
            "the program to start"))
    process.kill()
    process.wait(timeout=10)
    # The program would sleep for a minute: ending within seconds is the
    # server's doing, with room for a machine busy with other tests.
    wait_for(lambda: not alive(program), 10.0, "the program to end")


def test_killed_server_is_reported(tmp_path: Path, lib: Path) -> None:
    server = start_server(tmp_path / "srv", "served_mod", pythonpath=lib)
    try:
        with server.serving():
            process = server.popen(
                ["-c", "import time; print('running', flush=True); "
                       "time.sleep(60)"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert process.stdout.readline() == b"running\n"
        server.process.kill()
        server.process.wait(timeout=10)
        out, err = process.communicate(timeout=10)
        assert process.returncode != 0
        lines = err.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pycds-run: ")
    finally:
        server.stop()


def test_no_zombies_after_a_hundred_programs(server: Server) -> None:
    before = server.served()
    for i in range(100):
        done = server.client(["-c", f"import sys; sys.exit({i % 5})"])
        assert done.returncode == i % 5
    server.check_served(before, 100)
    # A program's process reports its exit once its descriptors are
    # closed, before it is gone: its client may end first, and the server
    # reaps the process a moment later (longer under ASan).
    wait_for(lambda: int(status(str(server.socket))["running"]) == 0, 10,
             "every program's process reaped")
    assert not zombies_of(server.pid)


def test_server_survives_a_crashing_program(server: Server) -> None:
    code = ["-c", "import ctypes; ctypes.string_at(0)"]
    crash = server.client(code)
    # Killed by SIGSEGV (or, under a sanitizer, by its abort), as python.
    assert crash.returncode == server.plain(code).returncode < 0
    again = server.client(["-c", "print('still here')"])
    assert again.stdout == b"still here\n"


def test_status_and_stop(server: Server) -> None:
    shown = subprocess.run([PY, "-m", "pycds", "serve", "--status",
                            "--socket", str(server.socket)],
                           env=server.env, capture_output=True, text=True,
                           timeout=30)
    assert shown.returncode == 0
    assert f"pid: {server.pid}" in shown.stdout
    assert "preload: served_mod" in shown.stdout
    assert f"pycds: {pycds.__version__}" in shown.stdout
    stopped = subprocess.run([PY, "-m", "pycds", "serve", "--stop",
                              "--socket", str(server.socket)],
                             env=server.env, capture_output=True, text=True,
                             timeout=30)
    assert stopped.returncode == 0
    assert server.process.wait(timeout=10) == 0
    assert not server.socket.exists()


def test_stopping_lets_running_programs_finish(server: Server) -> None:
    with server.serving():
        process = server.popen(
            ["-c", "import sys, time; print('started', flush=True); "
                   "time.sleep(1); print('finished'); sys.exit(4)"],
            stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline() == "started\n"
    server.process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert out == "finished\n" and process.returncode == 4
    assert server.process.wait(timeout=10) == 0


@pytest.mark.parametrize("pool", [[], ["--pool", "2"]])
def test_idle_server_exits(tmp_path: Path, lib: Path, pool: list[str]) -> None:
    """Idle, a server exits (with a pool, once its idle children ended)."""
    server = start_server(tmp_path / "srv", "served_mod", "--idle-timeout",
                          "1", *pool, pythonpath=lib)
    try:
        assert server.client(["-c", "pass"]).returncode == 0
        assert server.process.wait(timeout=30) == 0
        assert "idle" in server.log.read_text()
    finally:
        server.stop()


def test_pool_serves_from_processes_forked_ahead(tmp_path: Path,
                                                  lib: Path) -> None:
    server = start_server(tmp_path / "srv", "served_mod", "--pool", "2",
                          pythonpath=lib)
    try:
        wait_for(lambda: status(str(server.socket))["pool idle"] == "2 of 2",
                 30, "the pool to fill")
        time.sleep(0.3)
        ticks = os.sysconf("SC_CLK_TCK")
        code = ("print(int(open('/proc/self/stat').read()"
                ".rsplit(')', 1)[1].split()[19]))")
        with open("/proc/uptime") as uptime:
            requested = float(uptime.read().split()[0])
        done = server.client(["-c", code])
        forked = int(done.stdout) / ticks
        assert forked < requested - 0.1, "the program's process was forked " \
                                         "for the request"
        wait_for(lambda: status(str(server.socket))["pool idle"] == "2 of 2",
                 30, "the pool to be refilled")
        # The pages that program wrote are listed for the next pool
        # children to write ahead (pycds/ext/pages.h).
        pages = server.socket.with_suffix(".pages")
        wait_for(pages.exists, 30, "the list of pages")
        assert pages.read_text().startswith("pycds pages 1\n")
        assert len(pages.read_text().splitlines()) > 1
        outputs = [server.client(["-c", f"print({i})"]).stdout
                   for i in range(10)]
        assert outputs == [f"{i}\n".encode() for i in range(10)]
    finally:
        server.stop()
    assert not zombies_of(server.pid)


def test_threads_in_the_server_are_refused(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "threaded.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True,\n"
        "                 name='sleeper').start()\n")
    env = dict(clean_env(), PYTHONPATH=str(lib))
    refused = subprocess.run(
        [PY, "-m", "pycds", "serve", "--preload", "threaded", "--socket",
         str(tmp_path / "s.sock")], env=env, capture_output=True, text=True,
        timeout=60)
    assert refused.returncode == 1
    assert "thread" in refused.stderr and "--allow-threads" in refused.stderr
    server = start_server(tmp_path / "srv", "threaded", "--allow-threads",
                          env=env)
    try:
        assert server.client(["-c", "print('ok')"]).stdout == b"ok\n"
    finally:
        server.stop()


def test_changed_archive_retires_the_server(tmp_path: Path,
                                           lib: Path) -> None:
    env = dict(clean_env(), PYTHONPATH=str(lib))
    archive = tmp_path / "app.img"
    archive.write_bytes(b"")  # refused (not an archive): only watched here
    server = start_server(tmp_path / "srv", "served_mod", "--archive",
                          str(archive), env=env)
    try:
        assert server.client(["-c", "pass"]).returncode == 0
        os.utime(archive, (1, 1))
        assert server.process.wait(timeout=30) == 0
        assert "stale" in server.log.read_text() and "app.img" in \
            server.log.read_text()
    finally:
        server.stop()


def test_server_shares_its_imports_from_an_archive(tmp_path: Path,
                                                   lib: Path) -> None:
    env = dict(clean_env(), PYTHONPATH=str(lib))
    listing, archive = tmp_path / "app.lst", tmp_path / "app.img"
    subprocess.run([PY, "-c", "import served_mod, json"], check=True,
                   env=dict(env, PYCDSMODE="TRACE", PYCDSLIST=str(listing)))
    subprocess.run([PY, "-m", "pycds", "dump", "--list", str(listing),
                    "--archive", str(archive)], check=True, env=env,
                   capture_output=True)
    server = start_server(tmp_path / "srv", "served_mod,json", "--archive",
                          str(archive), env=env)
    try:
        assert f"archive {archive}: shared" in server.log.read_text()
        assert server.client(["-c", "import json; print(json.dumps(1))"]
                             ).stdout == b"1\n"
    finally:
        server.stop()


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def test_client_follows_its_programs_stop_and_continue(server: Server) -> None:
    """Stopped by someone, the program stops its client too; continued by
    someone, it continues its client (nothing is left stopped)."""
    code = ("import os, time; print(os.getpid(), flush=True)\n"
            "for _ in range(40):\n    time.sleep(0.05)\n"
            "print('done', flush=True)\n")
    before = server.served()
    process = server.popen(["-c", code], stdout=subprocess.PIPE)
    try:
        program = int(process.stdout.readline())
        server.check_served(before, 1, "python ran it")
        os.kill(program, signal.SIGSTOP)
        wait_for(lambda: process_state(process.pid) == "T", 10,
                 "the client to stop with its program")
        os.kill(program, signal.SIGCONT)
        wait_for(lambda: process_state(process.pid) != "T", 10,
                 "the client to continue with its program")
        assert process.stdout.readline() == b"done\n"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_failed_server_is_not_started_again_at_once(keyed: dict,
                                                    lib: Path) -> None:
    (lib / "served_mod.py").write_text("raise ImportError('broken')\n")
    env = dict(keyed, PYCDSVERBOSE="1")
    first = client(dict(env, PYCDSWAIT="1"), ["-c", "print('ran')"])
    assert first.stdout == "ran\n"  # python ran it: the server failed
    assert "pycds-run: plain python: " in first.stderr
    directory = Path(keyed["XDG_RUNTIME_DIR"]) / "pycds"
    failed = list(directory.glob("*.failed"))
    assert len(failed) == 1 and "broken" in failed[0].read_text()
    second = client(env, ["-c", "print('ran')"])
    assert second.stdout == "ran\n"
    assert "failed to start" in second.stderr and "broken" in second.stderr


def test_interpreter_through_a_shim(keyed: dict, tmp_path: Path) -> None:
    """PYCDSPYTHON may name a wrapper that runs the interpreter: the server
    still answers to the key its client computed."""
    shim = tmp_path / "python-shim"
    shim.write_text(f"#!/bin/sh\nexec {PY} \"$@\"\n")
    shim.chmod(0o755)
    env = dict(keyed, PYCDSPYTHON=str(shim), PYCDSWAIT="1")
    assert client(env, ["-c", SHOW]).stdout.split() == ["old", "True"]


def test_server_started_by_a_client_keeps_a_pool(keyed: dict) -> None:
    env = dict(keyed, PYCDSPOOL="1", PYCDSWAIT="1")
    assert client(env, ["-c", SHOW]).stdout.split() == ["old", "True"]
    sock = next((Path(keyed["XDG_RUNTIME_DIR"]) / "pycds").glob("*.sock"))
    wait_for(lambda: status(str(sock))["pool idle"] == "1 of 1", 30,
             "the pool")


def test_server_dying_before_the_program_starts(server: Server) -> None:
    """A server that dies before the program's process said READY: the
    program never started, and python runs it."""
    os.kill(server.pid, signal.SIGSTOP)  # it accepts nothing meanwhile
    try:
        process = server.popen(
            ["-c", "import os; print('ran', os.getpid())"],
            env=dict(server.env, PYCDSVERBOSE="1"), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        time.sleep(0.5)  # connected and sent; waiting for READY
        os.kill(server.pid, signal.SIGKILL)
        out, err = process.communicate(timeout=30)
    finally:
        server.process.wait(timeout=10)
    assert process.returncode == 0
    assert out.split()[:2] == [b"ran", str(process.pid).encode()]  # exec'd
    assert b"plain python" in err


def test_silent_server_times_out(server: Server) -> None:
    """A server that takes no request in 10 s: python runs the program, and
    the server, once continued, does not run it again."""
    os.kill(server.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        done = server.client(["-c", "print('ran')"],
                             env=dict(server.env, PYCDSVERBOSE="1"),
                             served=False)  # it cannot answer: checked below
        waited = time.monotonic() - started
    finally:
        os.kill(server.pid, signal.SIGCONT)
    assert done.stdout == b"ran\n" and b"plain python" in done.stderr
    assert 9 < waited < 20
    time.sleep(0.5)
    assert server.served() == 0

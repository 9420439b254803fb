"""Programs run through pycds-run behave as under plain python: the same
standard output and error, exit status and file side effects, for every
way a program is given and every way it ends; and the process they see is
a fresh python's."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from servers import (PY, Server, comparable, probe, programs_server, same,
                     start_server)


def read_line(process: subprocess.Popen, seconds: float = 20) -> bytes:
    """The program's next line of output, waited for at most `seconds`."""
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    assert ready, f"no line in {seconds} s"
    return process.stdout.readline()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    server = programs_server(tmp_path_factory, "programs")
    yield server
    server.stop()


@pytest.mark.parametrize("how", ["normal", "exit3", "exit-message", "raise",
                                 "os-exit", "signal", "interrupt", "syntax",
                                 "atexit", "del", "thread"])
def test_script_ends_as_under_python(server: Server, how: str) -> None:
    plain, served = server.both(["exits.py", how])
    same(plain, served)


def test_exit_statuses_are_exact(server: Server) -> None:
    expected = {"exit3": 3, "raise": 1, "os-exit": 7, "exit-message": 1,
                "signal": -15, "interrupt": -2}
    for how, status in expected.items():
        assert server.client(["exits.py", how]).returncode == status, how


def test_shell_sees_128_plus_signal(server: Server) -> None:
    for args, status in ((["exits.py", "signal"], 143),
                         (["exits.py", "interrupt"], 130),
                         (["-c", "import os; os.kill(os.getpid(), 9)"], 137)):
        quoted = " ".join(f"'{a}'" for a in args)
        for command, programs in ((PY, 0), (server.client_program, 1)):
            with server.serving(programs):
                done = subprocess.run(
                    ["sh", "-c", f"'{command}' {quoted}; echo $?"],
                    cwd=server.root, env=server.env, capture_output=True,
                    text=True, timeout=60)
            assert done.stdout.splitlines()[-1] == str(status), (command, args)


def test_unclosed_file_is_flushed(server: Server, tmp_path: Path) -> None:
    for runner, name in ((server.plain, "plain.txt"),
                         (server.client, "served.txt")):
        assert runner(["exits.py", "unclosed", str(tmp_path / name)]
                      ).returncode == 0
    assert (tmp_path / "served.txt").read_text() == \
        (tmp_path / "plain.txt").read_text() == "written but never closed\n"


FRAMES = """
import atexit, sys, warnings
def depth():
    frame, n = sys._getframe(1), 0
    while frame is not None:
        n, frame = n + 1, frame.f_back
    return n
def deepest(n=0):
    try:
        return deepest(n + 1)
    except RecursionError:
        return n
print(depth(), deepest())
warnings.warn("attributed", stacklevel=2)
atexit.register(lambda: print("at exit", depth()))
"""


def test_a_served_program_sees_the_frames_python_shows(server: Server,
                                                        tmp_path: Path) -> None:
    """No frame of the server's below the program's: how deep the stack
    is, how deep it may recurse, where a warning's stacklevel lands, and
    what an exit handler sees, as in python (a script, -c and -m)."""
    (tmp_path / "frames.py").write_text(FRAMES)
    for args in (["frames.py"], ["-c", FRAMES], ["-m", "frames"]):
        plain = server.plain(args, cwd=tmp_path)
        served = server.client(args, cwd=tmp_path)
        assert served.stdout == plain.stdout, (args, served.stderr)
        assert served.stderr == plain.stderr, args
        assert plain.stdout.startswith(b"1 " if args[0] != "-m" else b"3 "), plain.stdout


def test_a_failing_stdout_is_reported_once(server: Server) -> None:
    """A program whose sys.stdout cannot be flushed at exit: the errors as
    python words them (3.13 names what it flushed; its stream's close
    reports too), status 120."""
    code = "import sys; sys.stdout = open('/dev/full', 'w'); print('lost')"
    plain = server.plain(["-c", code])
    served = server.client(["-c", code])
    assert plain.returncode == served.returncode == 120
    assert served.stderr == plain.stderr
    assert b"Exception ignored" in plain.stderr


def test_module_command_and_stdin(server: Server) -> None:
    cases = [
        (["-m", "pkg"], None),
        (["-m", "pkg.tool", "5", "x"], None),
        (["-m", "no_such_module"], None),
        (["-c", "import sys; print(sys.argv, __name__)", "a", "b"], None),
        (["-c", "1/0"], None),
        (["-"], b"import sys\nprint('from stdin', sys.argv, __file__)\n"),
        (["-", "x", "y"], b"import sys\nprint(sys.argv)\nraise SystemExit(4)\n"),
        ([], b"print('no arguments, stdin a pipe')\n"),
        (["-"], b"def (\n"),
    ]
    for args, stdin in cases:
        plain, served = server.both(args, input=stdin)
        same(plain, served)


def test_script_errors_are_pythons_own(server: Server) -> None:
    """A missing script is reported by python itself (the client runs it)."""
    plain = server.plain(["missing.py"])
    served = server.refused(["missing.py"], "cannot read the script")
    same(plain, served)
    assert b"can't open file" in served.stderr


def test_large_output_through_a_pipe(server: Server) -> None:
    plain, served = server.both(["io_program.py", "large"])
    same(plain, served)
    assert len(served.stdout) > 9_000_000


def test_binary_stdin_and_stdout(server: Server) -> None:
    data = bytes(range(256)) * 4096
    plain, served = server.both(["io_program.py", "binary"], input=data)
    same(plain, served)
    assert served.stdout == bytes(reversed(data))


def test_reading_stdin_to_the_end(server: Server) -> None:
    text = b"".join(b"line %d\n" % i for i in range(50000))
    plain, served = server.both(["io_program.py", "count"], input=text)
    same(plain, served)


def test_subprocess_inherits_stdio(server: Server) -> None:
    plain, served = server.both(["io_program.py", "subprocess"],
                                input=b"shared input")
    same(plain, served)
    assert b"SHARED INPUT" in served.stdout


def test_process_state_matches_python(server: Server, tmp_path: Path) -> None:
    """argv, sys.path, __main__, os.environ, cwd, umask, limits, signal
    dispositions and mask, standard streams: as plain python's."""
    work = tmp_path / "work dir"
    work.mkdir()
    env = dict(server.env, SOME_VARIABLE="only in this run", EMPTY="")
    for args in ([str(server.root / "probe.py"), "a b"],
                 [os.path.relpath(server.root / "probe.py", work), "x"]):
        plain, served = server.both(args, cwd=work, env=env, umask=0o027)
        assert comparable(probe(served)) == comparable(probe(plain))
        state = probe(served)
        assert state["environ"]["SOME_VARIABLE"] == "only in this run"
        assert state["cwd"] == str(work) and state["umask"] == 0o027


def test_relative_script_and_symlink(server: Server, tmp_path: Path) -> None:
    """__file__ and sys.path[0] of a relative path and of a symlink."""
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    (link_dir / "probe-link.py").symlink_to(server.root / "probe.py")
    for cwd, args in ((server.root, ["./probe.py"]),
                      (link_dir, ["probe-link.py"])):
        plain, served = server.both(args, cwd=cwd)
        assert comparable(probe(served)) == comparable(probe(plain))


def test_state_in_module_and_command_modes(server: Server) -> None:
    code = ("import json, os, sys; print(json.dumps([sys.argv, sys.path[0], "
            "os.getcwd(), sorted(vars(sys.modules['__main__']))]))")
    plain, served = server.both(["-c", code, "arg"])
    same(plain, served)


def test_limits_and_ignored_signals_carry_over(server: Server) -> None:
    """A lowered limit, an ignored signal and a blocked one, as a caller
    (nohup, a shell) leaves them, reach the program as they reach python."""
    import resource
    import signal

    def restrict() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])

    plain, served = server.both([str(server.root / "probe.py")],
                                preexec_fn=restrict)
    a, b = probe(plain), probe(served)
    assert comparable(b) == comparable(a)
    assert b["limits"]["7"] == [512, 512]
    assert b["signals"][str(signal.SIGHUP)] == "<Handlers.SIG_IGN: 1>"
    assert signal.SIGUSR1 in b["sigmask"]


def test_not_the_servers_process(server: Server) -> None:
    code = ("import os, warm; print(os.getpid() != warm.SERVER_PID, "
            "os.getppid() == warm.SERVER_PID)")
    served = server.client(["-c", code])
    assert served.stdout.split() == [b"True", b"True"]


def test_random_differs_between_programs(server: Server) -> None:
    code = "import random; print(random.random())"
    values = {server.client(["-c", code]).stdout for _ in range(5)}
    assert len(values) == 5


def test_no_inherited_atexit_handlers(server: Server) -> None:
    code = "import atexit; print(atexit._ncallbacks())"
    plain, served = server.both(["-c", code])
    same(plain, served)
    assert served.stdout.strip() == b"0"


def test_server_output_is_never_printed_twice(tmp_path: Path) -> None:
    """What a preloaded module printed without flushing stays in the
    server's log; no program prints it."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "chatty.py").write_text(
        "import sys\nprint('printed while preloading', end='')\n"
        "sys.stderr.write('also on stderr')\n")
    server = start_server(tmp_path / "srv", "chatty", pythonpath=lib)
    try:
        for _ in range(3):
            before = server.served()
            done = server.client(["-c", "print('program')"])
            assert server.served() == before + 1
            assert done.stdout == b"program\n" and done.stderr == b""
    finally:
        server.stop()
    assert "printed while preloading" in server.log.read_text()


def test_thirty_two_concurrent_clients(server: Server) -> None:
    before = server.served()
    code = ("import sys, time; time.sleep(0.05); "
            "print('client', sys.argv[1]); "
            "print('err', sys.argv[1], file=sys.stderr)")
    processes = [server.popen(["-c", code, str(i)], cwd=server.root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for i in range(32)]
    for i, process in enumerate(processes):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0
        assert out == f"client {i}\n".encode()
        assert err == f"err {i}\n".encode()
    server.check_served(before, 32)


def test_program_json_round_trip(server: Server) -> None:
    """A preloaded module used by the program gives the program's answer."""
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    plain, served = server.both(["-c", code, "ä", "b c"])
    same(plain, served)
    assert json.loads(served.stdout) == ["ä", "b c"]


def test_numeric_generators_are_reseeded(tmp_path: Path) -> None:
    """numpy's and torch's global generators are reseeded in each program's
    process (stand-ins here record in which process seed() ran), in a
    process forked for the program and in one forked ahead."""
    lib = tmp_path / "lib"
    recorder = ("import os\nSEEDED_IN = None\n\ndef seed():\n"
                "    global SEEDED_IN\n    SEEDED_IN = os.getpid()\n")
    (lib / "numpy" / "random").mkdir(parents=True)
    (lib / "numpy" / "__init__.py").write_text("")
    (lib / "numpy" / "random" / "__init__.py").write_text(recorder)
    (lib / "torch").mkdir()
    (lib / "torch" / "__init__.py").write_text(recorder)
    code = ("import os, numpy.random, torch; "
            "print(numpy.random.SEEDED_IN == os.getpid(), "
            "torch.SEEDED_IN == os.getpid())")
    for extra in ([], ["--pool", "1"]):
        server = start_server(tmp_path / f"srv{len(extra)}",
                              "numpy.random,torch", *extra, pythonpath=lib)
        try:
            before = server.served()
            done = server.client(["-c", code])
            assert done.stdout == b"True True\n", done.stderr
            assert server.served() == before + 1
        finally:
            server.stop()


def test_logging_flushed_at_exit_when_preloaded(tmp_path: Path) -> None:
    """A program's buffered logging handler is flushed at exit by logging's
    own exit handler, though the server imported logging."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "uses_logging.py").write_text("import logging\n")
    server = start_server(tmp_path / "srv", "uses_logging", pythonpath=lib)
    code = ("import logging, logging.handlers, sys\n"
            "target = logging.StreamHandler(sys.stdout)\n"
            "logging.getLogger().addHandler(\n"
            "    logging.handlers.MemoryHandler(100, target=target))\n"
            "logging.getLogger().warning('kept until exit')\n")
    try:
        plain, served = server.both(["-c", code])
        same(plain, served)
        assert served.stdout == b"kept until exit\n"
    finally:
        server.stop()


def test_c_stdio_flushed_at_exit(server: Server) -> None:
    code = ("import ctypes; ctypes.CDLL(None).printf(b'from C\\n'); "
            "print('from python')")
    plain, served = server.both(["-c", code])
    same(plain, served)
    assert b"from C" in served.stdout


def test_output_ends_when_the_program_closes_it(server: Server) -> None:
    """A reader sees the end of the output when the program closes it, not
    when the program (or its client) exits."""
    code = ("import os, sys, time; print('ready', flush=True); "
            "os.close(1); sys.stdout = None; time.sleep(3)")
    with server.serving():
        process = server.popen(["-c", code], stdout=subprocess.PIPE)
        started = time.monotonic()
        assert process.stdout.read() == b"ready\n"  # to the end of the output
        assert time.monotonic() - started < 2.5
        assert process.wait(timeout=30) == 0


def test_descriptors_at_any_number_reach_the_program(server: Server,
                                                    tmp_path: Path) -> None:
    """Descriptors the client has at any number reach the program: among
    3..40 is the number of the program's connection to its client, and
    the limit less 64 is the started pipe's, which the program's process
    moves out of the way before it places the client's."""
    import resource
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    numbers = list(range(3, 41))
    if 67 < soft < 1 << 20:
        numbers.append(soft - 64)
    program = (f"import os\nfor n in {numbers!r}:\n"
               "    os.write(n, b'%d\\n' % n)\n")
    launcher = (
        "import os, sys\n"
        f"for n in {numbers!r}:\n"
        f"    fd = os.open({str(tmp_path)!r} + '/f%d' % n,\n"
        "                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\n"
        "    if fd != n:\n"
        "        os.dup2(fd, n)\n"
        "        os.close(fd)\n"
        "    os.set_inheritable(n, True)\n"
        "os.execv(sys.argv[1], sys.argv[1:])\n")
    with server.serving():
        done = subprocess.run([PY, "-c", launcher, str(server.client_program),
                               "-c", program], env=server.env, cwd=server.root,
                              capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for n in numbers:
        assert (tmp_path / f"f{n}").read_text() == f"{n}\n", n


def test_nice_value_and_cpus_carry_over(server: Server) -> None:
    def lower_and_pin() -> None:
        os.nice(5)
        os.sched_setaffinity(0, {0})

    code = "import os; print(os.nice(0), sorted(os.sched_getaffinity(0)))"
    plain, served = server.both(["-c", code], preexec_fn=lower_and_pin)
    same(plain, served)
    assert served.stdout.split()[0] == str(os.nice(0) + 5).encode()


def check_signals_reach_handlers(server: Server, names: list[str],
                                 preamble: str = "", **popen) -> None:
    """A served program sets a handler printing each signal's name; each
    signal sent to the client must reach it, in turn."""
    code = ("import signal, sys, time\n" + preamble +
            f"for name in {names!r}:\n"
            "    signal.signal(getattr(signal, name),\n"
            "                  lambda n, f: print(signal.Signals(n).name, "
            "flush=True))\n"
            "print('ready', flush=True)\n"
            "while True:\n    time.sleep(0.05)\n")
    with server.serving():
        process = server.popen(["-c", code], stdout=subprocess.PIPE, **popen)
        try:
            assert read_line(process) == b"ready\n"
            for name in names:
                process.send_signal(getattr(signal, name))
                assert read_line(process) == f"{name}\n".encode()
        finally:
            process.kill()
            process.wait(timeout=30)


def test_signals_sent_to_the_client_reach_the_program(server: Server) -> None:
    check_signals_reach_handlers(
        server, ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1",
                 "SIGUSR2", "SIGWINCH", "SIGALRM"])


def test_signals_the_caller_ignored_reach_a_programs_handler(
        server: Server) -> None:
    """A caller that ignores SIGHUP, SIGINT and SIGQUIT (nohup, a job run
    in the background by a shell without job control): the program starts
    with them ignored, as under python, and a handler it sets sees them."""
    ignored = ["SIGHUP", "SIGINT", "SIGQUIT"]

    def ignoring() -> None:
        for name in ignored:
            signal.signal(getattr(signal, name), signal.SIG_IGN)

    check_signals_reach_handlers(
        server, [*ignored, "SIGTERM"],
        "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN\n",
        preexec_fn=ignoring)


def test_a_client_that_runs_python_is_caught(server: Server,
                                             tmp_path: Path) -> None:
    """The suites' proof that a program was served fails for a client that
    quietly runs python; and the proof of a fallback fails for a program
    the server ran."""
    shim = tmp_path / "pycds-run"
    shim.write_text(f"#!/bin/sh\nexec '{PY}' \"$@\"\n")
    shim.chmod(0o755)
    fake = dataclasses.replace(server, client_program=str(shim))
    assert fake.client(["-c", "print('ran')"], served=False).stdout == \
        b"ran\n"
    with pytest.raises(AssertionError, match="ran 0 programs, not 1"):
        fake.client(["-c", "print('ran')"])
    with pytest.raises(AssertionError, match="the server ran it"):
        server.refused(["-c", "pass"], "any reason")


SHOW_COMMAND_LINE = ("import os, sys; "
                     "print(open('/proc/self/cmdline', 'rb').read()); "
                     "print(open(f'/proc/{os.getpid()}/cmdline', 'rb').read() "
                     "== sys.orig_argv[0].encode() + b'\\0' + "
                     "b'\\0'.join(a.encode() for a in sys.orig_argv[1:]) "
                     "+ b'\\0')")


@pytest.mark.parametrize("args", [
    ["-c", SHOW_COMMAND_LINE, "an argument", "ä"],
    ["-m", "show_command_line", "x"],
    ["show_command_line.py", "--flag", ""],
])
def test_command_line_is_the_programs(server: Server, tmp_path: Path,
                                      args: list[str]) -> None:
    """/proc/self/cmdline (ps, pgrep -f, psutil) shows the program's
    command line, as python's would, not the server's."""
    (tmp_path / "show_command_line.py").write_text(SHOW_COMMAND_LINE + "\n")
    plain, served = server.both(args, cwd=tmp_path)
    same(plain, served)
    shown = served.stdout.splitlines()
    assert shown[1] == b"True"
    cmdline = ast.literal_eval(shown[0].decode())
    assert b"serve" not in cmdline
    assert cmdline.endswith(b"\0".join(a.encode() for a in args[1:]) + b"\0")


def test_parent_is_the_server(server: Server) -> None:
    """What cannot change (README: known differences): a served program's
    parent is the server, not its caller."""
    code = "import os; print(os.getppid())"
    assert server.client(["-c", code]).stdout.strip() == \
        str(server.pid).encode()

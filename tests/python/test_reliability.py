"""Stale code, shadowing, validation modes, trust, fork, concurrent
replacement and AUTO mode: pycds never runs stale code and never changes
what the program does."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from conftest import Built, build, clean_env, copy_project, fallbacks, hits, run


def set_answer(project: Built, text: str, keep_mtime: bool = False,
               bump_ns: int = 10**9) -> None:
    source = project.root / "src" / "versioned.py"
    st = source.stat()
    # A .pyc the traced run wrote (bytecode writing on) would be as stale
    # for plain importing as the archive is: plain Python's own concern.
    for cached in source.parent.glob("__pycache__/versioned.*.pyc"):
        cached.unlink()
    source.write_text(f"def answer():\n    return {text!r}\n")
    mtime = st.st_mtime_ns if keep_mtime else st.st_mtime_ns + bump_ns
    os.utime(source, ns=(mtime, mtime))


def answer(out: subprocess.CompletedProcess) -> str:
    return json.loads(out.stdout)["answer"]


def test_same_size_new_mtime_runs_new_code(project: Built) -> None:
    set_answer(project, "ORIGINAL")  # same length as 'original'
    out = project.share(["src/app.py"])
    assert answer(out) == "ORIGINAL" and "versioned" in fallbacks(out.stderr)


def test_same_mtime_new_size_runs_new_code(project: Built) -> None:
    set_answer(project, "longer answer", keep_mtime=True)
    out = project.share(["src/app.py"])
    assert answer(out) == "longer answer" and "versioned" in fallbacks(out.stderr)


def test_validate_hash_catches_same_size_and_mtime(project: Built) -> None:
    set_answer(project, "ORIGINAL", keep_mtime=True)  # size and mtime as dumped
    hashed = project.share(["src/app.py"], PYCDSVALIDATE="hash")
    assert answer(hashed) == "ORIGINAL"
    assert "contents changed" in fallbacks(hashed.stderr)["versioned"]
    # Default validation looks at size and mtime only (documented): a file
    # rewritten with both restored is not noticed.
    default = project.share(["src/app.py"])
    assert answer(default) == "original"


def test_validate_none_trusts_the_archive(project: Built) -> None:
    set_answer(project, "edited")
    trusted = project.share(["src/app.py"], PYCDSVALIDATE="none")
    assert answer(trusted) == "original"  # immutable deployments only
    assert "versioned" in hits(trusted.stderr)
    bad = project.share(["src/app.py"], PYCDSVALIDATE="sometimes")
    assert answer(bad) == "edited" and not hits(bad.stderr)
    assert "expected mtime, hash or none" in bad.stderr


def test_corrupted_module_objects_fall_back_for_that_module(project: Built) -> None:
    import pycds

    with pycds.Archive(project.archive) as archive:
        record = archive.find("versioned")
    data = bytearray(project.archive.read_bytes())
    data[record["objects_begin"] + record["objects_size"] // 2] ^= 0x10
    project.archive.write_bytes(bytes(data))
    plain = project.plain(["src/app.py"])
    out = project.share(["src/app.py"])
    assert out.stdout == plain.stdout
    assert "module checksum mismatch" in fallbacks(out.stderr)["versioned"]
    assert "versioned" not in hits(out.stderr) and "mypkg" in hits(out.stderr)
    # Checked up front, the whole archive is refused instead.
    import pycds._cds as cds
    with pytest.raises(cds.ArchiveError, match="objects section checksum"):
        pycds.Archive(project.archive, verify_objects=True)


def test_package_turned_into_module_and_back(project: Built) -> None:
    src = project.root / "src"
    (src / "versioned.py").unlink()
    (src / "versioned").mkdir()
    (src / "versioned" / "__init__.py").write_text("def answer(): return 'package'\n")
    shutil.move(src / "mypkg" / "tool.py", src / "mypkg" / "tool_moved.py")
    (src / "mypkg" / "tool").mkdir()
    (src / "mypkg" / "tool" / "__init__.py").write_text("")
    plain = project.plain(["src/app.py"])
    shared = project.share(["src/app.py"])
    assert shared.stdout == plain.stdout and answer(shared) == "package"
    assert "versioned" not in hits(shared.stderr)
    assert "mypkg.tool" not in hits(shared.stderr)


def test_deleted_module_is_not_found_as_plainly(project: Built) -> None:
    (project.root / "src" / "versioned.py").unlink()
    plain = project.plain(["src/app.py"], check=False)
    shared = project.share(["src/app.py"], check=False, verbose="0")
    assert shared.returncode == plain.returncode == 1
    assert "ModuleNotFoundError: No module named 'versioned'" in shared.stderr
    assert shared.stderr == plain.stderr


@pytest.mark.parametrize("mode,reason", [
    (0o666, "writable by others"), (0o664, "writable by its group")])
def test_archive_writable_by_others_is_refused(project: Built, mode: int,
                                               reason: str) -> None:
    plain = project.plain(["src/app.py"])
    project.archive.chmod(mode)
    out = project.share(["src/app.py"])
    assert out.stdout == plain.stdout and not hits(out.stderr)
    refused = [l for l in out.stderr.splitlines() if "archive refused" in l]
    assert len(refused) == 1 and reason in refused[0]


def test_archive_in_directory_others_can_write(project: Built, tmp_path: Path) -> None:
    shared_dir = tmp_path / "shared"
    shared_dir.mkdir()
    archive = shared_dir / "app.img"
    shutil.copy(project.archive, archive)
    shared_dir.chmod(0o777)
    out = run(["src/app.py"], cwd=project.root, PYCDSMODE="SHARE",
              PYCDSARCHIVE=str(archive), PYCDSVERBOSE="1")
    assert "without the sticky bit" in out.stderr and not hits(out.stderr)
    shared_dir.chmod(0o1777)  # like /tmp: others cannot replace our file
    out = run(["src/app.py"], cwd=project.root, PYCDSMODE="SHARE",
              PYCDSARCHIVE=str(archive), PYCDSVERBOSE="1")
    assert "versioned" in hits(out.stderr)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files away")
def test_archive_owned_by_another_user_is_refused(project: Built) -> None:
    os.chown(project.archive, 12345, 12345)
    out = project.share(["src/app.py"])
    assert "owned by uid 12345" in out.stderr and not hits(out.stderr)


def test_fork_after_mapping(project: Built) -> None:
    code = """
import os, sys, json
import mypkg.consts
pid = os.fork()
if pid == 0:
    from mypkg.sub import helpers
    print("child", helpers.keys(), mypkg.consts.is_member("beta"), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
import versioned
print("parent", versioned.answer())
"""
    out = project.share(["-c", code], PYTHONPATH="src")
    assert out.stdout.splitlines() == [
        "child ['alpha', 'beta', 'gamma'] True", "parent original"]
    assert {"mypkg.consts", "mypkg.sub.helpers", "versioned"} <= hits(out.stderr)


def test_starts_while_the_archive_is_replaced(project: Built, tmp_path: Path) -> None:
    # While 16 processes start from the path, the archive is dumped anew
    # again and again, alternating between the traces of two copies of the
    # program: each process maps one whole archive, old or new.
    other_root = copy_project(tmp_path / "other")
    other = build(other_root, ["src/app.py"])
    lists = [project.list_path, other.list_path]
    plain = project.plain(["src/app.py"])
    stop = threading.Event()
    dumps = []

    def replace() -> None:
        i = 0
        while not stop.is_set():
            run(["-m", "pycds", "dump", "--list", str(lists[i % 2]),
                 "--archive", str(project.archive)], cwd=project.root)
            dumps.append(i)
            i += 1

    swapper = threading.Thread(target=replace)
    swapper.start()
    try:
        env = clean_env(PYCDSMODE="SHARE", PYCDSARCHIVE=str(project.archive),
                        PYCDSVERBOSE="1")
        results, waves = [], 0
        while waves < 12 and (waves == 0 or len(dumps) < 3):
            procs = [subprocess.Popen([sys.executable, "src/app.py"],
                                      cwd=project.root, env=env,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                     for _ in range(16)]
            results += [p.communicate(timeout=120) + (p.returncode,)
                        for p in procs]
            waves += 1
    finally:
        stop.set()
        swapper.join()
    for stdout, stderr, code in results:
        assert code == 0 and stdout == plain.stdout, stderr
        assert "archive mapped" in stderr and "refused" not in stderr
    assert len(dumps) >= 2


def auto_env(archive: Path, **extra: str) -> dict[str, str]:
    return clean_env(PYCDSMODE="AUTO", PYCDSARCHIVE=str(archive),
                     PYCDSVERBOSE="1", **extra)


@contextlib.contextmanager
def running_until(script: str, marker: str, cwd: Path,
                  env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """python -c script, running, once it printed the line `marker` (a run
    that ended before it fails the test with its standard error); killed
    and reaped when the block ends."""
    process = subprocess.Popen([sys.executable, "-c", script], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        for line in process.stdout:
            if line.strip() == marker:
                break
        else:
            process.wait(timeout=30)
            raise AssertionError(process.stderr.read())
        yield process
    finally:
        process.kill()
        process.wait(timeout=30)


def test_archive_through_a_link_into_a_directory_others_can_write(
        project: Built, tmp_path: Path) -> None:
    """A link in a safe directory to an archive in a directory others can
    write: the archive sits there, and there AUTO would write it."""
    shared_dir = tmp_path / "shared"
    shared_dir.mkdir()
    shutil.copy(project.archive, shared_dir / "app.img")
    link = project.root / "linked.img"
    link.symlink_to(shared_dir / "app.img")
    shared_dir.chmod(0o777)
    out = run(["src/app.py"], cwd=project.root, PYCDSMODE="SHARE",
              PYCDSARCHIVE=str(link), PYCDSVERBOSE="1")
    assert "without the sticky bit" in out.stderr and not hits(out.stderr)
    dangling = project.root / "dangling.img"
    dangling.symlink_to(shared_dir / "auto.img")
    auto = run(["src/app.py"], cwd=project.root, **auto_env(dangling))
    assert "without the sticky bit" in auto.stderr
    assert "auto:" not in auto.stderr and not (shared_dir / "auto.img").exists()
    shared_dir.chmod(0o1777)  # like /tmp: others cannot replace our file
    out = run(["src/app.py"], cwd=project.root, PYCDSMODE="SHARE",
              PYCDSARCHIVE=str(link), PYCDSVERBOSE="1")
    assert "versioned" in hits(out.stderr)


def test_auto_mode_writes_once_then_shares(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    plain = run(["src/app.py"], cwd=root)
    first = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert first.stdout == plain.stdout
    assert "written at exit" in first.stderr and "auto: archived" in first.stderr
    assert archive.exists() and not list(root.glob("*.tmp-*"))
    second = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert second.stdout == plain.stdout
    assert "archive mapped" in second.stderr and "versioned" in hits(second.stderr)
    assert "auto:" not in second.stderr


@pytest.mark.parametrize("leaves", ["sys.path.clear()",
                                    "builtins.sorted = builtins.len = builtins.open = None",
                                    "builtins.__import__ = None"])
def test_auto_mode_writes_the_archive_whatever_the_program_left(
        tmp_path: Path, leaves: str) -> None:
    """The trace and the dumper import pycds's own modules at exit on the
    search path the run began with, and run with the builtins it began
    with, not with what the program left."""
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    script = ("import builtins, runpy, sys; sys.path.insert(0, 'src'); "
              f"runpy.run_path('src/app.py', run_name='__main__'); {leaves}")
    plain = run(["-c", script], cwd=root)
    first = run(["-c", script], cwd=root, **auto_env(archive))
    assert first.stdout == plain.stdout
    assert "auto: archived" in first.stderr, first.stderr
    second = run(["-c", script], cwd=root, **auto_env(archive))
    assert second.stdout == plain.stdout
    assert "archive mapped" in second.stderr and "versioned" in hits(second.stderr)


def test_auto_mode_simultaneous_first_runs_write_once(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    plain = run(["src/app.py"], cwd=root)
    procs = [subprocess.Popen([sys.executable, "src/app.py"], cwd=root,
                              env=auto_env(archive), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    start = time.monotonic()
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    elapsed = time.monotonic() - start
    assert all(code == 0 and out == plain.stdout for out, _, code in results)
    writers = [err for _, err, _ in results if "auto: archived" in err]
    skipped = [err for _, err, _ in results
               if "another process is writing" in err
               or "another process has written" in err]
    shared = [err for _, err, _ in results if "archive mapped" in err]
    # Exactly one wrote; the others skipped at once or found it written.
    assert len(writers) == 1 and len(writers) + len(skipped) + len(shared) == 8
    assert elapsed < 60
    out = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert "versioned" in hits(out.stderr)


def test_auto_mode_late_first_run_does_not_rewrite(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    slow = subprocess.Popen(
        [sys.executable, "-c", "import json, sys, time; sys.stdin.read()"],
        cwd=root, env=auto_env(archive), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fast = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert "auto: archived" in fast.stderr
    written = archive.stat().st_mtime_ns
    _, slow_err = slow.communicate("", timeout=60)
    assert "another process has written the archive" in slow_err
    assert archive.stat().st_mtime_ns == written


def test_auto_mode_replaces_an_archive_of_another_build(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    foreign = bytearray(b"PYCDS\x1a\r\n" + bytes(8192))
    archive.write_bytes(bytes(foreign))
    first = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert "archive refused" in first.stderr and "auto: archived" in first.stderr
    second = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert "archive mapped" in second.stderr


def test_auto_mode_dump_failure_changes_nothing(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "p")
    archive = root / "in_the_way"
    archive.mkdir()  # the archive cannot be renamed over a directory
    script = ("import runpy, sys; sys.path.insert(0, 'src'); "
              "runpy.run_path('src/app.py', run_name='__main__'); sys.exit(3)")
    plain = subprocess.run([sys.executable, "-c", script], cwd=root,
                           env=clean_env(), capture_output=True, text=True)
    done = subprocess.run([sys.executable, "-c", script], cwd=root,
                          env=auto_env(archive), capture_output=True, text=True)
    assert plain.returncode == done.returncode == 3
    assert done.stdout == plain.stdout and done.stdout
    assert "auto: archive not written" in done.stderr
    assert "Traceback" not in done.stderr
    assert archive.is_dir() and not list(root.glob("in_the_way.tmp-*"))


def test_auto_mode_waits_after_a_failed_write(tmp_path: Path) -> None:
    """A write that failed after the whole dump (here the archive cannot
    be renamed over a directory; a full disk is the same) leaves
    ARCHIVE.failed: the runs of the next ten minutes neither trace nor
    dump, then one tries again, and a write that works removes the note."""
    root = copy_project(tmp_path / "p")
    archive = root / "in_the_way"
    archive.mkdir()
    note = Path(f"{archive}.failed")
    first = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert "auto: archive not written" in first.stderr, first.stderr
    assert "archive not written" in note.read_text()
    second = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert "the last write failed" in second.stderr, second.stderr
    assert "auto: archive not written" not in second.stderr
    assert second.stdout == first.stdout and first.stdout
    # Ten minutes on, with the directory gone, the next run writes it.
    archive.rmdir()
    old = time.time() - 601
    os.utime(note, (old, old))
    third = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert "auto: archived" in third.stderr, third.stderr
    assert not note.exists() and archive.is_file()
    assert "archive mapped" in run(["src/app.py"], cwd=root, **auto_env(archive)).stderr


def test_auto_mode_run_in_flight_does_not_dump_after_a_failure(tmp_path: Path) -> None:
    """A run that started before another's write failed finds the note at
    exit, under the lock, and does not dump again."""
    root = copy_project(tmp_path / "p")
    archive = root / "in_the_way"
    archive.mkdir()
    go = tmp_path / "go"
    waiting = ("import os, runpy, sys, time; sys.path.insert(0, 'src'); "
               "runpy.run_path('src/app.py', run_name='__main__'); "
               "print('ready', flush=True)\n"
               f"while not os.path.exists({str(go)!r}): time.sleep(0.05)")
    with running_until(waiting, "ready", root, auto_env(archive)) as process:
        first = run(["src/app.py"], cwd=root, **auto_env(archive))
        assert "auto: archive not written" in first.stderr, first.stderr
        go.touch()
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "another run's write failed" in err, err


def test_auto_mode_notes_only_failures_of_the_archives_place(tmp_path: Path) -> None:
    """A dump this process refuses (a trace function left set, as under a
    debugger or coverage) leaves no note: the next run writes.  A note
    dated far in the future (a clock stepped back) is not believed."""
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    note = Path(f"{archive}.failed")
    traced = ("import runpy, sys; sys.path.insert(0, 'src'); "
              "runpy.run_path('src/app.py', run_name='__main__'); "
              "sys.settrace(lambda *args: None)")
    refused = run(["-c", traced], cwd=root, **auto_env(archive))
    assert "auto: archive not written: refusing to dump" in refused.stderr, refused.stderr
    assert not note.exists()
    note.write_text("pycds: archive not written: from the future\n")
    later = time.time() + 86400
    os.utime(note, (later, later))
    written = run(["src/app.py"], cwd=root, **auto_env(archive))
    assert "auto: archived" in written.stderr, written.stderr
    assert not note.exists()


@pytest.mark.parametrize("existing", [True, False], ids=["to-a-file", "dangling"])
def test_auto_mode_writes_through_a_symlinked_archive(tmp_path: Path,
                                                      existing: bool) -> None:
    """PYCDSARCHIVE a symbolic link (to a volume, say): the archive is
    written where the link points, the link stays, and the next run shares
    the archive through it.  A dangling link's target is created."""
    root = copy_project(tmp_path / "p")
    volume = tmp_path / "volume"
    volume.mkdir()
    target = volume / "app.img"
    if existing:  # an archive of another build, to be replaced
        target.write_bytes(b"PYCDS\x1a\r\n" + bytes(8192))
    link = root / "auto.img"
    link.symlink_to("../volume/app.img")  # relative to the link's directory
    first = run(["src/app.py"], cwd=root, **auto_env(link))
    assert "auto: archived" in first.stderr, first.stderr
    assert link.is_symlink() and os.readlink(link) == "../volume/app.img"
    assert target.is_file() and not target.is_symlink()
    assert not list(root.glob("auto.img.tmp-*"))
    assert not list(volume.glob("app.img.tmp-*"))
    second = run(["src/app.py"], cwd=root, **auto_env(link))
    assert "archive mapped" in second.stderr and "versioned" in hits(second.stderr)
    assert link.is_symlink()


def hold_a_temporary(path: Path) -> subprocess.Popen:
    """A process that holds a temporary of path as libos's durable write
    does (created, then an exclusive flock until renamed): a writer, alive
    until killed."""
    script = ("import fcntl, os, sys\n"
              "name = f'{sys.argv[1]}.tmp-{os.getpid()}-0'\n"
              "fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)\n"
              "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
              "os.write(fd, b'half an archive')\n"
              "print(name, flush=True)\n"
              "sys.stdin.read()\n")
    return subprocess.Popen([sys.executable, "-c", script, str(path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_auto_mode_removes_a_killed_writers_temporary(tmp_path: Path) -> None:
    """A writer killed (SIGKILL, the OOM killer) before its rename leaves its
    temporary; the next write of the archive removes it, and leaves a live
    writer's alone."""
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    killed, live = hold_a_temporary(archive), hold_a_temporary(archive)
    try:
        assert killed.stdout is not None and live.stdout is not None
        killed_name = Path(killed.stdout.readline().strip())
        live_name = Path(live.stdout.readline().strip())
        killed.kill()
        killed.wait(timeout=30)
        assert killed_name.exists() and live_name.exists()
        first = run(["src/app.py"], cwd=root, **auto_env(archive))
        assert "auto: archived" in first.stderr, first.stderr
        assert not killed_name.exists()
        assert live_name.exists()
        assert list(root.glob("auto.img.tmp-*")) == [live_name]
    finally:
        for process in (killed, live):
            process.kill()
            process.wait(timeout=30)
            if process.stdout is not None:
                process.stdout.close()
            if process.stdin is not None:
                process.stdin.close()


def test_an_archive_or_lock_that_is_a_fifo_never_blocks(tmp_path: Path) -> None:
    """A FIFO where the archive (SHARE, AUTO) or AUTO's lock should be is
    refused at once, not opened for a writer that never comes."""
    root = copy_project(tmp_path / "p")
    plain = run(["src/app.py"], cwd=root)
    fifo = root / "archive.fifo"
    os.mkfifo(fifo)
    shared = subprocess.run([sys.executable, "src/app.py"], cwd=root, timeout=60,
                            env=clean_env(PYCDSMODE="SHARE", PYCDSARCHIVE=str(fifo),
                                          PYCDSVERBOSE="1"),
                            capture_output=True, text=True)
    assert shared.returncode == 0 and shared.stdout == plain.stdout
    assert "not a regular file" in shared.stderr, shared.stderr
    archive = root / "auto.img"
    os.mkfifo(str(archive) + ".lock")
    auto = subprocess.run([sys.executable, "src/app.py"], cwd=root, timeout=60,
                          env=auto_env(archive), capture_output=True, text=True)
    assert auto.returncode == 0 and auto.stdout == plain.stdout
    assert "auto: archive not written" in auto.stderr and not archive.exists()


def test_auto_mode_forked_children_do_not_write(tmp_path: Path) -> None:
    """A forked child that exits through atexit (a pool's worker) leaves the
    archive to the process that started: it neither traces nor dumps."""
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    script = ("import os, runpy, sys; sys.path.insert(0, 'src'); "
              "runpy.run_path('src/app.py', run_name='__main__'); sys.stdout.flush()\n"
              "for _ in range(3):\n"
              "    pid = os.fork()\n"
              "    if pid == 0:\n"
              "        sys.exit(0)\n"
              "    os.waitpid(pid, 0)\n")
    plain = run(["-c", script], cwd=root)
    first = run(["-c", script], cwd=root, **auto_env(archive))
    assert first.stdout == plain.stdout
    assert first.stderr.count("auto: archived") == 1, first.stderr
    assert "another process" not in first.stderr, first.stderr


def test_snapshot_all_alone_is_an_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pycds", "dump", "--list", "x.lst",
                           "--archive", "x.img", "--snapshot-all"], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == "pycds: dump: --snapshot-all needs --snapshot (or PYCDSSNAPSHOT=1)\n"


def test_auto_mode_stopped_during_its_dump_cleans_up(tmp_path: Path) -> None:
    """SIGTERM while AUTO writes the archive at exit (a platform stopping
    the container) stops the dump: its planning process and temporary
    files go, no archive is written, and the exit status is the program's."""
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    script = ("import runpy, sys; sys.path.insert(0, 'src'); "
              "runpy.run_path('src/app.py', run_name='__main__'); "
              "print('done', flush=True); sys.exit(3)")
    env = auto_env(archive, PYCDSSNAPSHOT="1", TMPDIR=str(tmp_path))
    with running_until(script, "done", root, env) as process:
        time.sleep(1.0)  # into the dump's planning run
        process.terminate()
        _, err = process.communicate(timeout=60)
    assert process.returncode == 3, err
    assert "auto: archive not written: stopped by signal" in err, err
    assert not archive.exists() and not Path(f"{archive}.failed").exists()
    assert not list(root.glob("auto.img.tmp-*")) and not list(root.glob(".pycds-*"))
    assert not list(tmp_path.glob("pycds-*")), list(tmp_path.glob("pycds-*"))
    # (/proc read here: a tool such as pgrep may hang under the sanitizers'
    # preloaded runtimes, which the tests' children inherit)
    planners = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"_snapshot_child" in command and str(tmp_path).encode() in command:
            planners.append(command)
    assert planners == []


@pytest.mark.parametrize("mode", ["TRACE", "AUTO"])
def test_an_uncaught_keyboard_interrupt_still_exits_by_sigint(tmp_path: Path,
                                                               mode: str) -> None:
    """The trace and AUTO's dump run code at exit (imports whose bodies
    exec strings), which would make python forget that the program ended
    by KeyboardInterrupt: it still dies by SIGINT (130 in a shell), as plain."""
    script = "import collections\nraise KeyboardInterrupt\n"
    (tmp_path / "app.py").write_text(script)
    plain = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, env=clean_env(),
                           capture_output=True, timeout=60)
    env = (auto_env(tmp_path / "auto.img") if mode == "AUTO" else
           clean_env(PYCDSMODE="TRACE", PYCDSLIST=str(tmp_path / "app.lst"), PYCDSVERBOSE="1"))
    done = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, env=env,
                          capture_output=True, timeout=120)
    assert plain.returncode == done.returncode == -2, done.stderr  # killed by SIGINT
    assert (b"auto: archived" if mode == "AUTO" else b"traced ") in done.stderr


def test_auto_mode_after_the_program_emptied_sys_modules(tmp_path: Path) -> None:
    """Nothing to import with: the archive is not written, one line says
    so, and nothing else shows."""
    root = copy_project(tmp_path / "p")
    script = ("import runpy, sys; sys.path.insert(0, 'src'); "
              "runpy.run_path('src/app.py', run_name='__main__'); sys.modules.clear()")
    plain = subprocess.run([sys.executable, "-c", script], cwd=root, env=clean_env(),
                           capture_output=True, text=True, timeout=60)
    done = subprocess.run([sys.executable, "-c", script], cwd=root,
                          env=auto_env(root / "auto.img"), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == plain.returncode == 0 and done.stdout == plain.stdout
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_auto_mode_a_daemons_child_writes(tmp_path: Path) -> None:
    """A program that daemonizes (its parent leaves at once with os._exit)
    goes on in the child, which writes the archive at its exit."""
    root = copy_project(tmp_path / "p")
    archive = root / "auto.img"
    script = ("import os, runpy, sys\n"
              "if os.fork():\n"
              "    os._exit(0)\n"
              "sys.path.insert(0, 'src')\n"
              "runpy.run_path('src/app.py', run_name='__main__')\n")
    log = tmp_path / "daemon.log"
    with open(log, "w") as err:
        subprocess.run([sys.executable, "-c", script], cwd=root, env=auto_env(archive),
                       stdout=subprocess.DEVNULL, stderr=err, timeout=60, check=True)
    deadline = time.monotonic() + 60
    while not archive.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert archive.exists(), log.read_text()

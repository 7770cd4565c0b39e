"""Output paths that are not regular files are written to, never renamed over (adversarial review 5, F7).

``report --out``, ``--summary FILE`` and the dataset's JSON files used to go to a temporary file renamed
over the path, whatever it was: ``--out /dev/full`` as root replaced the device with an HTML file and
said "wrote".  These tests use FIFOs, pipes behind /proc/self/fd links and look-alike device nodes in
a scratch folder; the machine's real /dev/null and /dev/full are only ever written to, through the new
helper itself (never through a command or writer that the old code had rename over its path).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.errors import StorageError
from scraper.store.outfile import write_output
from scraper.store.snapshot import write_json_atomic
from tests.conftest import examples

ROOT = Path(__file__).resolve().parents[1]


class Drain:
    """Read a pipe or FIFO to its end in a thread; never hangs: a writer end of our own is closed at ``done``."""

    def __init__(self, read_fd: int, keep_fd: int | None = None) -> None:
        self.read_fd, self.keep_fd, self.data = read_fd, keep_fd, bytearray()
        os.set_blocking(read_fd, True)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while block := os.read(self.read_fd, 1 << 16):
            self.data += block

    def done(self) -> bytes:
        if self.keep_fd is not None:
            os.close(self.keep_fd)
        self.thread.join(5)
        assert not self.thread.is_alive()
        os.close(self.read_fd)
        return bytes(self.data)


@contextlib.contextmanager
def fifo_drain(path: Path) -> Iterator[Drain]:
    """A FIFO at ``path`` with a reader (and a writer of ours, so the reader sees the end only at done)."""
    os.mkfifo(path)
    read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    keep_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    yield Drain(read_fd, keep_fd)


def kind(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "missing"
    for name, test in (("link", stat.S_ISLNK), ("file", stat.S_ISREG), ("fifo", stat.S_ISFIFO), ("chr", stat.S_ISCHR)):
        if test(mode):
            return name
    return "other"


KINDS = ["missing", "file", "link_to_file", "dangling_link", "fifo", "link_to_fifo", "proc_fd_pipe", "proc_fd_file"]


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(what=st.sampled_from(KINDS), data=st.binary(max_size=200_000))
def test_every_kind_of_path_gets_the_data_and_keeps_its_kind(what: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        room = Path(scratch)
        out, target = room / "out", room / "target"
        drain: Drain | None = None
        with contextlib.ExitStack() as stack:
            if what == "file":
                out.write_bytes(b"old contents")
            elif what == "link_to_file":
                target.write_bytes(b"old contents")
                out.symlink_to(target)
            elif what == "dangling_link":
                out.symlink_to(target)
            elif what in ("fifo", "link_to_fifo"):
                fifo = out if what == "fifo" else target
                drain = stack.enter_context(fifo_drain(fifo))
                if what == "link_to_fifo":
                    out.symlink_to(target)
            elif what == "proc_fd_pipe":  # as /dev/stdout when stdout is a pipe
                read_fd, write_fd = os.pipe()
                drain = Drain(read_fd, write_fd)
                out.symlink_to(f"/proc/self/fd/{write_fd}")
            elif what == "proc_fd_file":  # as /dev/stdout when stdout is `>> log`
                target.write_bytes(b"printed before\n")
                log_fd = os.open(target, os.O_WRONLY | os.O_APPEND)
                stack.callback(os.close, log_fd)
                out.symlink_to(f"/proc/self/fd/{log_fd}")
            inode = target.stat().st_ino if target.exists() else None
            before = kind(out)
            write_output(out, data)
            received = drain.done() if drain is not None else None
        after = kind(out)
        assert after == ("file" if before == "missing" else before), (what, before, after)
        if what in ("missing", "file"):
            assert out.read_bytes() == data
        elif what in ("link_to_file", "dangling_link"):
            assert target.read_bytes() == data and kind(target) == "file"  # through the link, atomically
        elif what == "proc_fd_file":
            assert target.read_bytes() == b"printed before\n" + data and target.stat().st_ino == inode
        else:
            assert received == data
            if what == "link_to_fifo":
                assert kind(target) == "fifo"
        assert not [p.name for p in room.iterdir() if p.name.endswith(".tmp")]


def test_the_real_dev_null_and_dev_full_are_written_to_and_stay_devices() -> None:
    null_before, full_before = os.stat("/dev/null"), os.stat("/dev/full")
    write_output(Path("/dev/null"), b"discarded\n")
    with pytest.raises(StorageError, match=r"cannot use /dev/full: .*\(ENOSPC\)"):
        write_output(Path("/dev/full"), b"x" * 10_000)
    for name, before in (("/dev/null", null_before), ("/dev/full", full_before)):
        after = os.stat(name)
        assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


def test_the_dataset_json_writer_writes_into_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "index.json"
    with fifo_drain(fifo) as drain:
        write_json_atomic(fifo, {"latest": "v0001"})
        assert json.loads(drain.done()) == {"latest": "v0001"}
    assert kind(fifo) == "fifo"


def test_a_socket_is_one_storage_error_and_stays(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(StorageError, match="cannot use"):
            write_output(path, b"x")
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def run_cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "scraper", *args], env=env, timeout=120, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_report_out_a_fifo_streams_the_page_to_its_reader(demo: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "page.fifo"
    with fifo_drain(fifo) as drain:
        done = run_cli("report", str(demo), "--out", str(fifo), "--json", capture_output=True)
        page = drain.done()
    assert done.returncode == 0, done.stderr
    assert kind(fifo) == "fifo"
    assert page.lstrip().lower().startswith(b"<!doctype html") and page.rstrip().endswith(b"</html>")
    assert json.loads(done.stdout)["bytes"] == len(page)


def test_summary_to_a_stdout_link_reaches_stdout_and_the_link_stays(demo: Path, tmp_path: Path) -> None:
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")  # what /dev/stdout is
    done = run_cli("validate", str(demo), "--json", "--summary", str(link), capture_output=True)
    assert done.returncode == 0, done.stderr
    assert kind(link) == "link" and os.readlink(link) == "/proc/self/fd/1"
    report, _, summary = done.stdout.decode().partition("\n}\n")  # the --json report, then the summary
    assert json.loads(report + "\n}")["valid"] is True
    assert json.loads(summary)["exit_code"] == 0


def _mknod(path: Path, major: int, minor: int) -> None:
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_look_alike_dev_full_is_a_disk_error_and_dev_null_a_sink(demo: Path, tmp_path: Path) -> None:
    full, null = tmp_path / "full", tmp_path / "null"
    _mknod(full, 1, 7)
    _mknod(null, 1, 3)
    failed = run_cli("report", str(demo), "--out", str(full), capture_output=True)
    assert failed.returncode == 74, failed.stderr
    lines = failed.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "(ENOSPC)" in lines[0] and str(full) in lines[0], lines
    fine = run_cli("report", str(demo), "--out", str(null), capture_output=True)
    shown = run_cli("validate", str(demo), "--summary", str(null), capture_output=True)
    assert fine.returncode == 0 and shown.returncode == 0, (fine.stderr, shown.stderr)
    for node in (full, null):
        assert stat.S_ISCHR(os.lstat(node).st_mode), node
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "null"]


def test_summary_to_a_full_device_is_a_warning_not_a_failure(demo: Path, tmp_path: Path) -> None:
    link = tmp_path / "full"
    link.symlink_to("/dev/full")  # written through to the device, never renamed over (the link stays)
    done = run_cli("validate", str(demo), "--summary", str(link), capture_output=True)
    assert done.returncode == 0
    assert "warning: summary not written" in done.stderr.decode() and "ENOSPC" in done.stderr.decode()
    assert kind(link) == "link" and stat.S_ISCHR(os.stat("/dev/full").st_mode)

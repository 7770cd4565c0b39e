"""Never a traceback: every command under bad paths, damaged stores, full and read-only disks.

Each test drives the real CLI (click's CliRunner, in process) and asserts the documented
exit code, one ``error:`` line and no traceback; fault injection raises ENOSPC or EROFS at
every write site a command reaches (opens for writing, Parquet writes, renames), one site
a run, and proves the earlier versions unchanged and the rerun complete.
"""

from __future__ import annotations

import builtins
import errno
import gc
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from scraper.cli import main
from scraper.errors import EXIT_CONFIG, EXIT_IO, EXIT_LOCKED, EXIT_NEEDS_PERSON, EXIT_TRY_LATER, IntegrityError
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.ingest import ingest
from scraper.publish.tree import publish
from scraper.store.snapshot import Dataset
from scraper.study import load
from tests.conftest import latest_manifest, write_spec
from tests.test_snapshot import tree_file

SPEC = '[dataset]\nname = "faults"\n[discovery]\nseeds = ["th0", "th1"]\n'

DOCUMENTED = {0, EXIT_NEEDS_PERSON, EXIT_CONFIG, EXIT_LOCKED, EXIT_IO, EXIT_TRY_LATER}
#: collect and refresh reach a dead port, never Reddit: what they do before any request is tested
DEAD_REDDIT = {
    "praw_client_id": "test-id",
    "praw_client_secret": "test-secret",
    "praw_user_agent": "python:tests:0 (hardening)",
    "SCRAPER_OAUTH_URL": "http://127.0.0.1:9",
    "SCRAPER_REDDIT_URL": "http://127.0.0.1:9",
}


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def assert_clean(result: Result, *codes: int) -> None:
    """No traceback, a documented exit code (one of ``codes`` when given), one error line on failure."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code in (codes or DOCUMENTED), (result.exit_code, result.output)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1, result.stderr
    if result.exit_code != 0 and "Usage:" not in result.stderr:
        assert errors or "INVALID" in result.stderr, result.stderr  # validate's verdict is its table


def digest_tree(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (the proof that nothing in it changed)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset with two versions, written by ingest."""
    tmp = tmp_path_factory.mktemp("base")
    folder = tmp / "ds"
    ingest(folder, [tree_file(tmp, "aaa", 30, 1)])
    ingest(folder, [tree_file(tmp, "bbb", 40, 2)])
    return folder


@pytest.fixture
def ds(base: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ds"
    shutil.copytree(base, target, ignore=shutil.ignore_patterns(".lock"))
    return target


# -- every command on a missing path, a garbage file, a garbage folder ---------------------------------
def _argument_sets(target: str, out: str) -> list[list[str]]:
    return [
        ["collect", target],
        ["refresh", target],
        ["ingest", target, target],
        ["versions", target],
        ["show", target],
        ["diff", target, "v0001", "v0002"],
        ["validate", target],
        ["publish", target, "--to", out],
        ["download", target, "--to", out],
        ["purge", target, "t1_abc"],
        ["demo", "--dataset", out, "--spec", target],
    ]


def test_every_command_answers_bad_paths_in_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00\xffnot json")
    folder = tmp_path / "junk"
    (folder / "versions" / "v0001").mkdir(parents=True)
    (folder / "versions" / "v0001" / "manifest.json").write_bytes(b"\xff\xfe[[[")
    (folder / "index.json").write_text("[1, 2]")
    (folder / "dataset.toml").write_bytes(b"\xff\xfe\x00")
    for target in (tmp_path / "nope", garbage, folder):
        explicit = _argument_sets(str(target), str(tmp_path / "out"))
        others = [[name, str(target), str(target)] for name in sorted(set(main.commands) - {a[0] for a in explicit})]
        for args in explicit + others:  # a command added later is driven too, with PATH and a FILE
            assert_clean(run(*args, env=DEAD_REDDIT))
            if target == garbage:  # the before-stop hook's other shape: the alias and nothing else
                assert_clean(run(args[0], "--dataset", str(target), env=DEAD_REDDIT))


# -- damaged manifests: every reader answers in one line, collect builds nothing ---------------------------
MANIFEST_DAMAGE: list[Callable[[dict[str, Any]], Any]] = [
    lambda m: b"",
    lambda m: b"\xff\xfe not utf-8",
    lambda m: b"[" * 100_000,
    lambda m: [m],
    lambda m: {**m, "files": "comments.parquet"},
    lambda m: {**m, "files": []},
    lambda m: {**m, "files": {"comments.parquet": "x"}},
    lambda m: {**m, "files": {"../../etc/passwd": m["files"]["comments.parquet"]}},
    lambda m: {**m, "files": {k: {**v, "bytes": "12"} for k, v in m["files"].items()}},
    lambda m: {**m, "files": {k: {**v, "sha256": None} for k, v in m["files"].items()}},
    lambda m: {**m, "version": "v0001"},
    lambda m: {**m, "card": "README.md"},
]


@pytest.mark.parametrize("damage", range(len(MANIFEST_DAMAGE)))
def test_a_damaged_manifest_is_one_line_in_every_command(ds: Path, tmp_path: Path, damage: int) -> None:
    path = ds / "versions" / "v0002" / "manifest.json"
    damaged = MANIFEST_DAMAGE[damage](json.loads(path.read_bytes()))
    path.write_bytes(damaged if isinstance(damaged, bytes) else json.dumps(damaged).encode())
    (ds / "dataset.toml").write_text('[dataset]\nname = "ds"\n[discovery]\nseeds = ["aaa"]\n')
    before = digest_tree(ds / "versions")
    for args in (
        ["versions", str(ds)],
        ["show", str(ds)],
        ["diff", str(ds), "v0001", "v0002"],
        ["validate", str(ds)],
        ["publish", str(ds), "--to", str(tmp_path / "pub"), "--identifiable"],
        *([["collect", str(ds)], ["ingest", str(ds), str(tree_file(tmp_path, "ccc", 5, 3))]] if damage < 4 else []),
    ):  # collect and ingest refuse through the same check_store as the readers: four kinds suffice there
        result = run(*args, env=DEAD_REDDIT)
        assert_clean(result, EXIT_NEEDS_PERSON)
        if args[0] != "validate":
            assert "manifest.json" in result.stderr, (args, result.stderr)
    assert_clean(run("show", str(ds), "--version", "v0001"), 0)  # the intact version still reads
    with pytest.raises(IntegrityError, match=r"v0002/manifest\.json"):
        load(ds)
    assert digest_tree(ds / "versions") == before  # nothing was built on top, nothing changed
    assert not (tmp_path / "pub" / "index.json").exists()


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_a_damaged_latest_parquet_stops_collect_ingest_diff_and_load(ds: Path, tmp_path: Path, how: str) -> None:
    path = ds / "versions" / "v0002" / "comments.parquet"
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    (ds / "dataset.toml").write_text('[dataset]\nname = "ds"\n[discovery]\nseeds = ["aaa"]\n')
    for args in (
        ["collect", str(ds)],
        ["ingest", str(ds), str(tree_file(tmp_path, "ccc", 5, 3))],
        ["diff", str(ds), "v0001", "v0002"],
        ["validate", str(ds)],
    ):
        result = run(*args, env=DEAD_REDDIT)
        assert_clean(result, EXIT_NEEDS_PERSON)
    assert Dataset(ds).versions() == ["v0001", "v0002"]  # nothing built on the damaged version
    with pytest.raises(IntegrityError, match=r"comments\.parquet does not match"):
        load(ds)


def test_versions_and_publish_leave_the_source_index_alone(ds: Path, tmp_path: Path) -> None:
    index = ds / "index.json"
    index.write_text('{"stale": true}\n')
    assert_clean(run("versions", str(ds)), 0)
    assert_clean(run("publish", str(ds), "--to", str(tmp_path / "pub"), "--identifiable"), 0)
    assert index.read_text() == '{"stale": true}\n'


# -- fault injection: ENOSPC and EROFS at every write site ---------------------------------------------
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class DiskFault:
    """Raise ``OSError(code)`` at the ``at``-th write under ``root`` (0: never; count them)."""

    def __init__(self, root: Path, code: int, at: int) -> None:
        self.root, self.code, self.at, self.count = str(root.resolve()), code, at, 0
        self.sites: list[str] = []

    def hit(self, path: Any, site: str) -> None:
        try:
            where = os.path.realpath(os.fspath(path))
        except TypeError:
            return
        if not where.startswith(self.root):
            return
        self.count += 1
        self.sites.append(f"{site} {os.path.relpath(where, self.root)}")
        if self.count == self.at:
            raise OSError(self.code, os.strerror(self.code), where)


@contextmanager
def disk_fault(monkeypatch: pytest.MonkeyPatch, root: Path, code: int, at: int) -> Iterator[DiskFault]:
    fault = DiskFault(root, code, at)
    real_open, real_os_open = builtins.open, os.open
    real_write_table, real_replace, real_rename = pq.write_table, os.replace, os.rename

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
            fault.hit(file, "open")
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS:
            fault.hit(path, "os.open")
        return real_os_open(path, flags, *args, **kwargs)

    def fake_write_table(table: Any, where: Any, *args: Any, **kwargs: Any) -> None:
        fault.hit(where, "write_table")
        real_write_table(table, where, *args, **kwargs)

    real_writer_init = pq.ParquetWriter.__init__

    def fake_writer_init(self: Any, where: Any, *args: Any, **kwargs: Any) -> None:
        fault.hit(where, "ParquetWriter")
        real_writer_init(self, where, *args, **kwargs)

    real_new_file = pyarrow.ipc.new_file

    def fake_new_file(sink: Any, *args: Any, **kwargs: Any) -> Any:  # the merge's sorted runs
        fault.hit(sink, "ipc.new_file")
        return real_new_file(sink, *args, **kwargs)

    def fake_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        fault.hit(dst, "replace")
        real_replace(src, dst, *args, **kwargs)

    def fake_rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        fault.hit(dst, "rename")
        real_rename(src, dst, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "open", fake_open)
        patch.setattr(io, "open", fake_open)
        patch.setattr(os, "open", fake_os_open)
        patch.setattr(pq, "write_table", fake_write_table)
        patch.setattr(pq.ParquetWriter, "__init__", fake_writer_init)
        patch.setattr(pyarrow.ipc, "new_file", fake_new_file)
        patch.setattr(os, "replace", fake_replace)
        patch.setattr(os, "rename", fake_rename)
        yield fault


def sweep(
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], tuple[Path, list[str]]],
    code: int,
    check: Callable[[Path], None],
    *,
    sample: int = 6,
    intact: bool = True,
    env: dict[str, str] | None = None,
) -> list[str]:
    """Run the command with a fault at write sites; each run exits 74 and the rerun completes.

    The sites are counted in a clean run first; ``sample`` of them, spread evenly over the
    run, get a fault (the lock, the first site, is covered by the bad-path tests), to keep
    the suite fast; the figures in docs/RELIABILITY.md came from sweeping every site.
    """
    if os.environ.get("SCRAPER_FULL_SWEEP"):  # every site: the figures in docs/RELIABILITY.md
        sample = 10**6
    root, args = make()
    with disk_fault(monkeypatch, root, code, 0) as counting:
        assert_clean(run(*args, env=env), 0)
    sites = counting.sites
    assert sites, "the command wrote nothing under its folder"
    chosen = sorted({max(1, round((i + 1) * len(sites) / (sample + 1))) for i in range(sample)})
    for at in chosen:
        root, args = make()
        versions = root / "versions"
        before = digest_tree(versions) if versions.is_dir() else {}
        with disk_fault(monkeypatch, root, code, at):
            result = run(*args, env=env)
        if result.exit_code == 0 and sites[at - 1].startswith("rename"):
            check(root)  # shutil.move answers a failed rename with a copy: the run completed
            continue
        assert_clean(result, EXIT_IO)
        assert errno.errorcode[code] in result.stderr, (sites[at - 1], result.stderr)
        if intact:  # earlier versions keep every byte
            after = digest_tree(versions) if versions.is_dir() else {}
            assert {k: v for k, v in after.items() if k in before} == before, sites[at - 1]
        assert_clean(run(*args, env=env), 0)  # space is back: the same command completes
        check(root)
    return sites


def ingest_onto_base(base: Path, tmp_path: Path) -> tuple[Callable[[], tuple[Path, list[str]]], Callable[[Path], None]]:
    """``make``: a fresh copy of the two-version base and an ``ingest`` of a third tree into it; ``check``: the
    copy then holds three versions, every manifest sound and the new latest intact."""
    source = tree_file(tmp_path, "ccc", 20, 3)
    n = iter(range(1000))

    def make() -> tuple[Path, list[str]]:
        folder = tmp_path / f"run{next(n)}"
        shutil.copytree(base, folder, ignore=shutil.ignore_patterns(".lock"))
        return folder, ["ingest", str(folder), str(source)]

    def check(folder: Path) -> None:
        assert Dataset(folder).versions() == ["v0001", "v0002", "v0003"]
        Dataset(folder).check_store()  # every manifest sound, the new latest intact

    return make, check


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_ingest_under_disk_faults(monkeypatch: pytest.MonkeyPatch, base: Path, tmp_path: Path, code: int) -> None:
    make, check = ingest_onto_base(base, tmp_path)
    sites = sweep(monkeypatch, make, code, check, sample=3 if code == errno.ENOSPC else 2)
    assert any(".parquet" in s for s in sites) and any("index.json" in s for s in sites)


def test_publish_under_disk_faults(monkeypatch: pytest.MonkeyPatch, base: Path, tmp_path: Path) -> None:
    n = iter(range(1000))

    def make() -> tuple[Path, list[str]]:
        target = tmp_path / f"pub{next(n)}"
        return target, ["publish", str(base), "--to", str(target), "--identifiable"]

    def check(target: Path) -> None:
        assert json.loads((target / "index.json").read_text())["latest"] == "v0002"
        assert run("validate", str(target)).exit_code == 0

    sweep(monkeypatch, make, errno.ENOSPC, check, sample=2)


def test_download_under_disk_faults(monkeypatch: pytest.MonkeyPatch, base: Path, tmp_path: Path) -> None:
    public = tmp_path / "public"
    publish(base, public, allow_identifiable=True)
    n = iter(range(1000))

    def make() -> tuple[Path, list[str]]:
        target = tmp_path / f"copy{next(n)}"
        return target, ["download", str(public), "--to", str(target)]

    def check(target: Path) -> None:
        assert Dataset(target).versions() == ["v0002"]
        assert run("validate", str(target)).exit_code == 0

    sweep(monkeypatch, make, errno.ENOSPC, check, sample=2)


def test_purge_under_disk_faults(monkeypatch: pytest.MonkeyPatch, base: Path, tmp_path: Path) -> None:
    victim = pq.read_table(base / "versions" / "v0002" / "comments.parquet").column("name")[0].as_py()
    n = iter(range(1000))

    def make() -> tuple[Path, list[str]]:
        folder = tmp_path / f"run{next(n)}"
        shutil.copytree(base, folder, ignore=shutil.ignore_patterns(".lock"))
        return folder, ["purge", str(folder), victim]

    def check(folder: Path) -> None:
        # each version is rewritten in staging and swapped in whole: a fault anywhere leaves every
        # version valid, and the rerun completes the purge in every one of them
        assert victim in (folder / "purges.jsonl").read_text()
        assert run("validate", str(folder)).exit_code == 0
        for version in Dataset(folder).versions():
            table = pq.read_table(folder / "versions" / version / "comments.parquet").to_pylist()
            assert [r["status"] for r in table if r["name"] == victim] in ([], ["purged"])
        assert not list((folder / ".staging").glob("purge-*"))

    sites = sweep(monkeypatch, make, errno.ENOSPC, check, sample=2, intact=False)
    assert any("purges.jsonl" in s for s in sites)


class _Budgeted:
    """A file open for writing whose writes stop, part-way, when the disk's space runs out."""

    def __init__(self, handle: Any, disk: DiskFills) -> None:
        self._handle, self._disk = handle, disk

    def write(self, data: Any) -> int:
        room = self._disk.take(len(data))
        if room < len(data):
            self._handle.write(data[:room])
            self._handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return int(self._handle.write(data))

    def __enter__(self) -> _Budgeted:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class DiskFills:
    """The disk under ``root`` holds ``room`` more bytes: the write that crosses it writes what fits, then ENOSPC.

    Unlike :class:`DiskFault` (a refusal at an open or a rename), the file is opened and
    written part-way first, as on a real full disk: the fault is inside the write.
    """

    def __init__(self, root: Path, room: int) -> None:
        self.root, self.room, self.written = str(root.resolve()), room, 0

    def under(self, path: Any) -> bool:
        try:
            return os.path.realpath(os.fspath(path)).startswith(self.root)
        except TypeError:
            return False

    def take(self, wanted: int) -> int:
        """How many of ``wanted`` bytes still fit."""
        granted = max(0, min(wanted, self.room - self.written))
        self.written += granted
        return granted


@contextmanager
def disk_fills(monkeypatch: pytest.MonkeyPatch, root: Path, room: int) -> Iterator[DiskFills]:
    disk = DiskFills(root, room)
    real_open, real_sendfile = builtins.open, os.sendfile
    budgeted_fds: set[int] = set()

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+") and disk.under(file):
            budgeted_fds.add(handle.fileno())
            return _Budgeted(handle, disk)
        return handle

    def fake_sendfile(out_fd: int, in_fd: int, offset: Any, count: int) -> int:  # shutil.copyfile's fast path
        if out_fd not in budgeted_fds:
            return real_sendfile(out_fd, in_fd, offset, count)
        room = disk.take(count)
        sent = real_sendfile(out_fd, in_fd, offset, room) if room else 0
        if sent < count and room < count:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return sent

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "open", fake_open)
        patch.setattr(io, "open", fake_open)
        patch.setattr(os, "sendfile", fake_sendfile)
        yield disk


def test_a_full_disk_during_republish_leaves_the_published_spec_and_card_whole(
    monkeypatch: pytest.MonkeyPatch, ds: Path, tmp_path: Path
) -> None:
    """The top files (dataset.toml, README.md) are replaced whole or not at all, whatever byte the disk fills at."""
    write_spec(ds, SPEC)
    (ds / "README.md").write_text("# faults\n\nThe card.\n", encoding="utf-8")
    old = tmp_path / "old"
    shutil.copytree(ds, old, ignore=shutil.ignore_patterns(".lock"))
    with (ds / "dataset.toml").open("a", encoding="utf-8") as spec:
        spec.write("\n# " + "x" * 30_000 + "\n")  # the spec grows, and the card
    (ds / "README.md").write_text("# faults\n\n" + "More about the card. " * 2_000, encoding="utf-8")
    target = tmp_path / "pub"

    def republish(room: int) -> tuple[Result, DiskFills]:
        shutil.rmtree(target, ignore_errors=True)
        publish(old, target, allow_identifiable=True)  # the old spec and card are published
        with disk_fills(monkeypatch, target, room) as disk:
            return run("publish", str(ds), "--to", str(target), "--identifiable"), disk

    result, counting = republish(10**9)
    assert_clean(result, 0)
    needed = counting.written  # the bytes a republish writes: the two top files and the index
    assert needed > 30_000
    for room in sorted({0, 1, 4096, needed // 3, needed // 2, needed - 1}):
        result, _ = republish(room)
        assert_clean(result, EXIT_IO)
        line = result.stderr.strip()
        assert "ENOSPC" in line and str(target) in line, line  # the file that could not be written, not the source
        for name in ("dataset.toml", "README.md"):  # whole: the old file or the new one, never a part
            assert (target / name).read_bytes() in ((old / name).read_bytes(), (ds / name).read_bytes()), (room, name)
        assert not [p.name for p in target.iterdir() if p.name.endswith(".tmp")], room
        assert_clean(run("publish", str(ds), "--to", str(target), "--identifiable"), 0)  # space is back
        assert (target / "dataset.toml").read_bytes() == (ds / "dataset.toml").read_bytes()


@contextmanager
def two_thread_reddit() -> Iterator[dict[str, str]]:
    """A fake Reddit holding two 25-comment threads; yields the environment a CLI run needs for it."""
    forest = Forest()
    for n in range(2):
        submission, comments = generate_thread(f"th{n}", 25, seed=n)
        forest.add_thread(submission, comments)
    with FakeReddit(forest, quota=10**9) as server:
        yield {
            "praw_client_id": server.client_id,
            "praw_client_secret": server.client_secret,
            "praw_user_agent": "python:tests:0 (hardening)",
            "SCRAPER_OAUTH_URL": server.url,
            "SCRAPER_REDDIT_URL": server.url,
        }


def test_collect_under_disk_faults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    counter = iter(range(1000))
    with two_thread_reddit() as env:

        def make() -> tuple[Path, list[str]]:
            folder = write_spec(tmp_path / f"run{next(counter)}" / "faults", SPEC)
            return folder, ["collect", str(folder)]

        def check(folder: Path) -> None:  # the same version an uninterrupted run wrote
            assert Dataset(folder).versions() == ["v0001"]
            assert strip_run(latest_manifest(folder)) == strip_run(latest_manifest(tmp_path / "run0" / "faults"))

        sites = sweep(monkeypatch, make, errno.ENOSPC, check, sample=2, env=env)
    print(f"collect: {len(sites)} write sites")
    assert any("raw/" in s for s in sites) and any(".parquet" in s for s in sites)


def test_refresh_under_disk_faults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    counter = iter(range(1000))
    with two_thread_reddit() as env:
        base = write_spec(tmp_path / "base" / "faults", SPEC)
        assert_clean(run("collect", str(base), env=env), 0)

        def make() -> tuple[Path, list[str]]:
            folder = tmp_path / f"run{next(counter)}" / "faults"
            shutil.copytree(base, folder, ignore=shutil.ignore_patterns(".lock"))
            return folder, ["refresh", str(folder), "--write-unchanged"]

        def check(folder: Path) -> None:  # the refreshed version, whole, beside the intact first one
            assert Dataset(folder).versions() == ["v0001", "v0002"]
            Dataset(folder).check_store()
            assert run("validate", str(folder)).exit_code == 0

        sites = sweep(monkeypatch, make, errno.ENOSPC, check, sample=2, env=env)
    print(f"refresh: {len(sites)} write sites")
    assert any(".parquet" in s for s in sites) and any("index.json" in s for s in sites)


def strip_run(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest less what names the run (its id, its request counts, which differ by the retried request)."""
    manifest.pop("completeness", None)
    for key in ("run", "requests"):
        manifest["stats"].pop(key, None)
    return manifest


def test_read_only_commands_never_write(monkeypatch: pytest.MonkeyPatch, ds: Path, tmp_path: Path) -> None:
    with disk_fault(monkeypatch, ds, errno.EROFS, 1) as fault:
        for args in (
            ["versions", str(ds)],
            ["show", str(ds)],
            ["diff", str(ds), "v0001", "v0002"],
            ["validate", str(ds)],
        ):
            assert_clean(run(*args), 0)
        load(ds)
    assert fault.count == 0, fault.sites


def test_summary_is_written_when_collect_fails_and_a_failed_summary_hides_nothing(ds: Path, tmp_path: Path) -> None:
    (ds / "dataset.toml").write_text('[dataset]\nname = "ds"\n[discovery]\nseeds = ["aaa"]\n')
    (ds / "versions" / "v0002" / "manifest.json").write_text("[]")
    summary = tmp_path / "logs" / "summary.json"
    result = run("collect", str(ds), "--summary", str(summary), env=DEAD_REDDIT)
    assert_clean(result, EXIT_NEEDS_PERSON)
    written = json.loads(summary.read_text())
    assert written["exit_code"] == 1 and "manifest.json" in written["error"]
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = run("collect", str(ds), "--summary", str(blocked / "summary.json"), env=DEAD_REDDIT)
    assert_clean(result, EXIT_NEEDS_PERSON)  # the run's own error, not the summary's
    assert "summary not written" in result.stderr and "manifest.json" in result.stderr


# -- logs ------------------------------------------------------------------------------------------
def test_log_json_records_the_fatal_error_and_makes_its_folder(ds: Path, tmp_path: Path) -> None:
    log = tmp_path / "not" / "yet" / "there" / "run.jsonl"
    result = run("--log-json", str(log), "show", str(ds), "--version", "v0009")
    assert_clean(result, EXIT_NEEDS_PERSON)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    fatal = [r for r in records if r["level"] == "ERROR"]
    assert len(fatal) == 1 and fatal[0]["exit_code"] == 1 and "v0009" in fatal[0]["message"]
    blocked = tmp_path / "afile"
    blocked.write_text("")
    result = run("--log-json", str(blocked / "run.jsonl"), "versions", str(ds))
    assert_clean(result, EXIT_IO)
    assert str(blocked) in result.stderr


# -- races: every writer takes the dataset's lock ------------------------------------------------------
def test_writers_wait_for_each_other(ds: Path, tmp_path: Path) -> None:
    from scraper.store.lock import dataset_lock, tree_lock

    public = tmp_path / "pub"
    with dataset_lock(ds):  # a collect or purge at work: publish must not copy half-purged text
        result = run("publish", str(ds), "--to", str(public), "--identifiable")
        assert_clean(result, EXIT_LOCKED)
        assert not (public / "versions").exists()
        assert_clean(run("ingest", str(ds), str(tree_file(tmp_path, "ccc", 5, 3))), EXIT_LOCKED)
        assert Dataset(ds).versions() == ["v0001", "v0002"]
    with dataset_lock(ds, shared=True):  # a publish reading the source: a purge waits for it
        assert_clean(run("purge", str(ds), "t3_aaa"), EXIT_LOCKED)
        assert_clean(run("publish", str(ds), "--to", str(public), "--identifiable"), 0)  # readers share
    with tree_lock(public):  # the target is being written by another publish (the folder is locked, no file)
        assert_clean(run("publish", str(ds), "--to", str(public), "--identifiable"), EXIT_LOCKED)
        assert_clean(run("download", str(public), "--to", str(tmp_path / "copy")), 0)  # reading it is fine
    with dataset_lock(tmp_path / "copy"):
        assert_clean(run("download", str(public), "--to", str(tmp_path / "copy")), EXIT_LOCKED)


# -- a full disk in the middle of a Parquet file: the writer's flush or footer fails ----------------------
@contextmanager
def full_at_parquet_write(monkeypatch: pytest.MonkeyPatch, root: Path, at: int) -> Iterator[DiskFault]:
    """ENOSPC from the ``at``-th row group or footer a ``ParquetWriter`` flushes under ``root`` (0: count them).

    The writer then stays broken, as on a disk that stays full: its later writes and closes fail
    too, and a failed close leaves it "open" as pyarrow's does, so a writer left to the garbage
    collector fails once more in ``__del__`` ("Exception ignored …", a traceback at exit).
    """
    fault = DiskFault(root, errno.ENOSPC, at)
    broken: set[int] = set()
    real_init, real_write, real_close = pq.ParquetWriter.__init__, pq.ParquetWriter.write_table, pq.ParquetWriter.close

    def init(self: Any, where: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, where, *args, **kwargs)
        self.test_path = where

    def step(self: Any, site: str) -> None:
        if id(self) in broken:
            raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")
        try:
            fault.hit(self.test_path, site)
        except OSError:
            broken.add(id(self))
            raise

    def write_table(self: Any, table: Any, row_group_size: Any = None) -> None:
        step(self, "parquet-write")
        real_write(self, table, row_group_size)

    def close(self: Any) -> None:
        if self.is_open:
            step(self, "parquet-close")
        real_close(self)

    # the merge's sorted runs are Arrow IPC files (scraper/store/writers.py): the same faults
    ipc_writer = pyarrow.ipc.RecordBatchFileWriter
    real_new_file = pyarrow.ipc.new_file
    real_ipc = {name: getattr(ipc_writer, name) for name in ("write_table", "write_batch", "close")}

    def new_file(sink: Any, schema: Any, **kwargs: Any) -> Any:
        writer = real_new_file(sink, schema, **kwargs)
        writer.test_path = sink
        return writer

    def ipc_step(name: str) -> Callable[..., Any]:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if name != "close" or not getattr(self, "test_closed", False):
                step(self, "ipc-close" if name == "close" else "ipc-write")
            result = real_ipc[name](self, *args, **kwargs)
            if name == "close":
                self.test_closed = True
            return result

        return method

    with monkeypatch.context() as patch:
        patch.setattr(pq.ParquetWriter, "__init__", init)
        patch.setattr(pq.ParquetWriter, "write_table", write_table)
        patch.setattr(pq.ParquetWriter, "close", close)
        patch.setattr(pyarrow.ipc, "new_file", new_file)
        for name in real_ipc:
            patch.setattr(ipc_writer, name, ipc_step(name))
        yield fault


def sweep_parquet(
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], tuple[Path, list[str]]],
    check: Callable[[Path], None],
    *,
    env: dict[str, str] | None = None,
) -> list[str]:
    """A full disk at the first write and the first close of each kind of Parquet file the command writes
    (sorted runs, the found file, the final tables): exit 74, one line naming the file being written, no
    traceback now or at exit, earlier versions intact; the rerun completes."""
    root, args = make()
    with full_at_parquet_write(monkeypatch, root, 0) as counting:
        assert_clean(run(*args, env=env), 0)
    sites = counting.sites
    kinds: dict[tuple[str, str], int] = {}
    for number, site in enumerate(sites, 1):
        how, path = site.split(" ", 1)
        kind = Path(path).name.split(".")[0] + (".run" if ".run-" in path else "")
        if kind in ("comments.run", "found", "comments"):  # a sorted run, the found file, a final table
            kinds.setdefault((how, kind), number)
    for at in sorted(kinds.values()):
        root, args = make()
        versions = root / "versions"
        before = digest_tree(versions) if versions.is_dir() else {}
        unraisable: list[Any] = []
        with full_at_parquet_write(monkeypatch, root, at), monkeypatch.context() as patch:
            patch.setattr("sys.unraisablehook", unraisable.append)
            result = run(*args, env=env)
            gc.collect()  # what a writer left open would print at exit
        assert_clean(result, EXIT_IO)
        assert not unraisable, (sites[at - 1], [str(u.exc_value) for u in unraisable])
        assert "Exception ignored" not in result.output and "Traceback" not in result.output
        (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        written = Path(sites[at - 1].split(" ", 1)[1])  # the work folder's name is random: its file, in root
        named = line.split("cannot use ", 1)[1].split(": ", 1)[0]
        assert Path(named).name == written.name and named.startswith(str(root)), (sites[at - 1], line)
        assert "ENOSPC" in line and "free some space" in line, (sites[at - 1], line)
        after = digest_tree(versions) if versions.is_dir() else {}
        assert {k: v for k, v in after.items() if k in before} == before, sites[at - 1]
        assert_clean(run(*args, env=env), 0)  # space is back: the same command completes
        check(root)
    return sorted(f"{how} {kind}" for how, kind in kinds)


def test_ingest_with_the_disk_full_inside_a_parquet_file(
    monkeypatch: pytest.MonkeyPatch, base: Path, tmp_path: Path
) -> None:
    make, check = ingest_onto_base(base, tmp_path)
    kinds = sweep_parquet(monkeypatch, make, check)
    assert {"ipc-write comments.run", "ipc-close comments.run", "parquet-write comments"} <= set(kinds)


def test_collect_with_the_disk_full_inside_a_parquet_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    counter = iter(range(1000))
    with two_thread_reddit() as env:

        def make() -> tuple[Path, list[str]]:
            folder = write_spec(tmp_path / f"run{next(counter)}" / "faults", SPEC)
            return folder, ["collect", str(folder)]

        def check(folder: Path) -> None:
            assert Dataset(folder).versions() == ["v0001"]
            assert strip_run(latest_manifest(folder)) == strip_run(latest_manifest(tmp_path / "run0" / "faults"))

        kinds = sweep_parquet(monkeypatch, make, check, env=env)
    assert {"parquet-write found", "parquet-close found", "ipc-write comments.run"} <= set(kinds)

"""download run again over an installed copy: its files are hashed, and a damaged or missing one is repaired.

A copy is "already installed" only once every file its manifest lists has the bytes and sha256
the manifest gives; a damaged or missing file is fetched again (and only it: the intact files are
kept), the copy's own purges are applied again, and the version is swapped in at once, so a
full disk or a kill during the repair leaves the old folder or the repaired one, never a half
file (adversarial review 5, F4).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.errors import EXIT_IO, EXIT_NEEDS_PERSON, IntegrityError
from scraper.ingest import ingest
from scraper.publish import download as download_module
from scraper.publish.download import LocalFetcher
from scraper.publish.download import download as run_download
from scraper.publish.tree import publish
from scraper.publish.validate import validate
from scraper.store.purge import PURGES_FILE, purge
from scraper.store.snapshot import Dataset
from tests.conftest import examples
from tests.forked import Forked, cli
from tests.test_download_hostile import HostileServer, drip
from tests.test_download_trust import comment_names, installed_bytes, status_of
from tests.test_snapshot import tree_file

LISTED = ("comments.parquet", "submissions.parquet", "README.md")
DAMAGES = ("overwrite", "truncate", "append", "delete", "symlink", "folder", "empty")


@pytest.fixture(scope="module")
def installed_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A published tree of one version and a good copy of it, built once a module (tests damage copies)."""
    tmp = tmp_path_factory.mktemp("repair")
    dataset, public, copy = tmp / "dataset", tmp / "public", tmp / "copy"
    ingest(dataset, [tree_file(tmp, "aaa", 12, 3), tree_file(tmp, "ccc", 3, 5)])
    publish(dataset, public, allow_identifiable=True)
    run_download(str(public), copy)
    assert sorted(p.name for p in (copy / "versions/v0001").iterdir()) == sorted([*LISTED, "manifest.json"])
    return public, copy


def fresh(installed_once: tuple[Path, Path], where: Path) -> Path:
    shutil.rmtree(where, ignore_errors=True)
    return Path(shutil.copytree(installed_once[1], where, symlinks=True))


def damage(path: Path, how: str, offset: int) -> None:
    data = path.read_bytes()
    at = offset % len(data)
    if how == "overwrite":
        path.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
    elif how == "truncate":
        path.write_bytes(data[:at])
    elif how == "append":
        path.write_bytes(data + b"\0")
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
        if how == "symlink":  # the right bytes behind a link are not a plain file of the version
            elsewhere = path.parents[3] / f"{path.name}.elsewhere"  # beside the copy, not in it
            elsewhere.write_bytes(data)
            path.symlink_to(elsewhere)
        elif how == "folder":
            path.mkdir()


class CountingFetcher(LocalFetcher):
    """A local source that records every file it is asked to stream."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.streamed: list[str] = []

    @contextmanager
    def stream(self, rel: str) -> Iterator[tuple[int | None, Iterator[bytes]]]:
        self.streamed.append(rel)
        with super().stream(rel) as answer:
            yield answer


@given(
    damaged=st.dictionaries(
        st.sampled_from(LISTED), st.tuples(st.sampled_from(DAMAGES), st.integers(0, 10**6)), min_size=1
    )
)
@settings(max_examples=examples(25), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_a_damaged_or_missing_installed_file_is_fetched_again_and_only_it(
    installed_once: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory, damaged: dict[str, tuple[str, int]]
) -> None:
    public, good = installed_once
    copy = fresh(installed_once, tmp_path_factory.mktemp("copy") / "copy")
    version = copy / "versions/v0001"
    for name, (how, offset) in damaged.items():
        damage(version / name, how, offset)
    fetcher = CountingFetcher(public)
    result = run_download(str(public), copy, fetcher=fetcher)
    assert result["already_installed"] and sorted(result["repaired"]) == sorted(damaged)
    assert sorted(result["downloaded"]) == sorted(damaged)
    assert sorted(result["skipped"]) == sorted(set(LISTED) - set(damaged))
    assert sorted(fetcher.streamed) == sorted(f"versions/v0001/{name}" for name in damaged)  # no good file again
    assert installed_bytes(copy) == installed_bytes(good)
    assert all(not (version / name).is_symlink() for name in LISTED)
    assert validate(copy).valid and not (copy / ".download").exists()
    again = run_download(str(public), copy, fetcher=(fetcher := CountingFetcher(public)))
    assert again["repaired"] == [] and sorted(again["skipped"]) == sorted(LISTED) and fetcher.streamed == []


def test_the_cli_says_what_it_repaired_and_what_it_verified(installed_once: tuple[Path, Path], tmp_path: Path) -> None:
    """The adversarial review's repro: 4 bytes of comments.parquet overwritten, download run again."""
    public, _ = installed_once
    copy = fresh(installed_once, tmp_path / "copy")
    path = copy / "versions/v0001/comments.parquet"
    data = bytearray(path.read_bytes())
    data[100:104] = b"XXXX"
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["download", str(public), "--to", str(copy)])
    assert result.exit_code == 0, result.output
    assert "repaired in" in result.stderr and "comments.parquet damaged or missing" in result.stderr
    assert "(1 downloaded, 2 verified in place)" in result.stderr
    assert validate(copy).valid
    result = CliRunner().invoke(main, ["download", str(public), "--to", str(copy)])
    assert result.exit_code == 0 and "already installed" in result.stderr
    assert "(0 downloaded, 3 verified in place)" in result.stderr


@pytest.mark.parametrize("name", LISTED)
def test_a_copy_purged_by_itself_is_repaired_with_its_purge_applied_again(
    installed_once: tuple[Path, Path], tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy's own purge rewrote comments.parquet and the card: a damaged one is fetched from the
    source and purged again, dated as its purge record dates it (not when the repair ran: the test's
    clock is a year on by then); a damaged file the purge left alone is fetched as it is."""
    from datetime import UTC, datetime

    from scraper.publish import download as download_module

    public, _ = installed_once
    copy = fresh(installed_once, tmp_path / "copy")
    mine = comment_names(copy)[3]
    purge(copy, [mine])
    purged = installed_bytes(copy)
    damage(copy / "versions/v0001" / name, "overwrite", 7)

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Later:  # type: ignore[override]
            return cls(2099, 1, 1, tzinfo=UTC)

    monkeypatch.setattr(download_module, "datetime", Later)
    result = run_download(str(public), copy)
    assert result["repaired"] == [name]
    assert status_of(copy, mine) == ("purged", "")
    assert validate(copy).valid
    if name == "submissions.parquet":  # untouched by the purge: the very bytes it had
        assert installed_bytes(copy) == purged
    assert run_download(str(public), copy)["repaired"] == []


def test_a_purged_copy_without_its_purge_record_is_not_repaired_into_purged_text(
    installed_once: tuple[Path, Path], tmp_path: Path
) -> None:
    public, _ = installed_once
    copy = fresh(installed_once, tmp_path / "copy")
    mine = comment_names(copy)[3]
    purge(copy, [mine])
    (copy / PURGES_FILE).unlink()
    damage(copy / "versions/v0001/comments.parquet", "overwrite", 7)
    before = installed_bytes(copy)
    with pytest.raises(IntegrityError, match="could bring purged text back"):
        run_download(str(public), copy)
    assert installed_bytes(copy) == before


class _Full:
    """Raises ENOSPC at the ``n``-th call of what it wraps."""

    def __init__(self, real: Any, n: int = 1) -> None:
        self.real, self.n, self.calls = real, n, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real(*args, **kwargs)


class _FullFile:
    """A file whose first write fails with ENOSPC (a full disk), everything else as the file does."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.write = _Full(handle.write)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def _full_writes(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """A full disk at one write of the repair, the real write failing (not the step around it)."""
    if where in ("part", "manifest"):  # the fetched file's bytes, or the staged manifest
        real_open = Path.open

        def open_(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            handle = real_open(self, mode, *args, **kwargs)
            hit = self.name.endswith(".part") if where == "part" else self.name == "manifest.json"
            return _FullFile(handle) if "w" in mode and ".download" in self.parts and hit else handle

        monkeypatch.setattr(Path, "open", open_)
    elif where == "link":  # a kept file linked (or copied) into the staged version
        monkeypatch.setattr(download_module.os, "link", _Full(os.link))
        monkeypatch.setattr(download_module.shutil, "copy2", _Full(shutil.copy2))
    elif where == "purge":
        monkeypatch.setattr(download_module, "_reapply_purges", _Full(download_module._reapply_purges))
    elif where == "swap":
        monkeypatch.setattr(download_module, "replace_dir", _Full(download_module.replace_dir))
    elif where == "index":
        monkeypatch.setattr(Dataset, "write_index", _Full(Dataset.write_index))


def purged_since(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of v0001, then the source purges a comment and publishes: (public, copy, a clean download)."""
    dataset, public, copy, good = (tmp_path / n for n in ("dataset", "public", "copy", "good"))
    ingest(dataset, [tree_file(tmp_path, "aaa", 12, 3)])
    publish(dataset, public, allow_identifiable=True)
    run_download(str(public), copy)
    purge(dataset, [comment_names(copy)[5]])
    publish(dataset, public, allow_identifiable=True)
    run_download(str(public), good)
    return public, copy, good


@pytest.mark.parametrize("what", ["file", "manifest", "source purged"])
@pytest.mark.parametrize("where", ["part", "link", "manifest", "purge", "swap", "index"])
def test_a_full_disk_at_any_write_of_a_repair_leaves_the_old_version_or_the_repaired_one(
    installed_once: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, what: str
) -> None:
    """A damaged data file, that and a damaged manifest (adversarial review 6, F7), or a damaged file
    of a version the source purged since (F6): a full disk at each write of the repair."""
    if what == "source purged":
        if where == "link":
            pytest.skip("the source's purged version is fetched whole: nothing is linked")
        public, copy, good = purged_since(tmp_path)
    else:
        public, good = installed_once
        copy = fresh(installed_once, tmp_path / "copy")
    if where == "purge":  # the purge is applied again only to a copy that purged something itself
        purge(copy, [comment_names(copy)[3]])
        good = Path(shutil.copytree(copy, tmp_path / "purged"))
    damage(copy / "versions/v0001/comments.parquet", "overwrite", 100)
    if what == "manifest":
        (copy / "versions/v0001/manifest.json").write_text('{"broken')
    damaged = installed_bytes(copy)
    with monkeypatch.context() as patch:
        _full_writes(patch, where)
        result = CliRunner().invoke(main, ["download", str(public), "--to", str(copy)])
    assert result.exit_code == EXIT_IO, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        line for line in result.stderr.splitlines() if line.strip()
    ] and "Traceback" not in result.output
    after = installed_bytes(copy)
    # each file is whole: the damaged one as it was, or the repaired one (the index is written after the swap)
    assert after == (installed_bytes(good) if where == "index" else damaged)
    assert not list((copy / "versions").rglob("*.part"))
    result = CliRunner().invoke(main, ["download", str(public), "--to", str(copy)])
    assert result.exit_code == 0, result.output
    if where != "purge":  # a purge applied again is stamped anew: the same rows, another date
        assert installed_bytes(copy) == installed_bytes(good)
    assert validate(copy).valid and not (copy / ".download").exists()


def test_a_kill_during_a_repair_leaves_the_damaged_file_whole_and_a_rerun_repairs_it(
    installed_once: tuple[Path, Path], tmp_path: Path
) -> None:
    """A real SIGKILL while the damaged file is being fetched again (the server drips it)."""
    public, good = installed_once
    copy = fresh(installed_once, tmp_path / "copy")
    target = copy / "versions/v0001/comments.parquet"
    damage(target, "overwrite", 100)
    damaged = target.read_bytes()
    files = {str(p.relative_to(public)): p.read_bytes() for p in public.rglob("*") if p.is_file()}
    with HostileServer(files) as server:
        server.behave["versions/v0001/comments.parquet"] = drip(server.stop)
        child = Forked(cli("download", server.url, "--to", str(copy)), stderr=-1)
        part = copy / ".download/v0001/comments.parquet.part"
        started = time.monotonic()
        while not part.is_file():  # its bytes are buffered: the file is there once the fetch began
            assert child.poll() is None and time.monotonic() - started < 30, child.communicate()
            time.sleep(0.01)
        time.sleep(0.1)  # a few dripped bytes in
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        child.communicate()
        assert target.read_bytes() == damaged  # the old file, whole: never the half-fetched one
        assert not list((copy / "versions").rglob("*.part"))
        del server.behave["versions/v0001/comments.parquet"]
        result = CliRunner().invoke(main, ["download", server.url, "--to", str(copy)])
    assert result.exit_code == 0 and "repaired in" in result.stderr, result.output
    assert installed_bytes(copy) == installed_bytes(good)
    assert validate(copy).valid and not (copy / ".download").exists()


@pytest.mark.parametrize("how", ["delete", "not json", "empty object", "not a manifest", "truncated"])
@pytest.mark.parametrize("own_purge", [False, True])
def test_a_damaged_or_missing_installed_manifest_is_repaired_with_the_copys_purges(
    installed_once: tuple[Path, Path], tmp_path: Path, how: str, own_purge: bool
) -> None:
    """The same v0001 with its manifest.json gone or broken is repaired, not "a different v0001"
    (adversarial review 6, F7); the copy's own purge stays applied."""
    public, _ = installed_once
    copy = fresh(installed_once, tmp_path / "copy")
    mine = comment_names(copy)[3]
    if own_purge:
        purge(copy, [mine])
    before = installed_bytes(copy)
    manifest = copy / "versions/v0001/manifest.json"
    text = manifest.read_text()
    if how == "delete":
        manifest.unlink()
    else:
        broken = {"not json": '{"broken', "empty object": "{}", "not a manifest": '{"version": 5}'}
        manifest.write_text(broken.get(how, text[: len(text) // 2]))
    result = CliRunner().invoke(main, ["download", str(public), "--to", str(copy)])
    assert result.exit_code == 0 and "repaired in" in result.stderr and "manifest.json" in result.stderr, result.output
    assert status_of(copy, mine) == (("purged", "") if own_purge else status_of(public, mine))
    assert validate(copy).valid and not (copy / ".download").exists()
    if own_purge:
        assert (copy / "versions/v0001/comments.parquet").read_bytes() != (
            public / "versions/v0001/comments.parquet"
        ).read_bytes()
    else:
        assert installed_bytes(copy) == before
    assert run_download(str(public), copy)["repaired"] == []


def test_a_damaged_manifest_over_files_of_another_version_is_named_and_left_alone(
    installed_once: tuple[Path, Path], tmp_path: Path
) -> None:
    public, _ = installed_once
    copy = fresh(installed_once, tmp_path / "copy")
    version = copy / "versions/v0001"
    for name in LISTED:
        damage(version / name, "append", 0)
    (version / "manifest.json").write_text('{"broken')
    before = installed_bytes(copy)
    result = CliRunner().invoke(main, ["download", str(public), "--to", str(copy)])
    assert result.exit_code == EXIT_NEEDS_PERSON, result.output
    line = result.stderr.strip()
    assert "\n" not in line and "manifest.json is missing or damaged" in line and "move" in line
    assert "different" not in line and installed_bytes(copy) == before


@pytest.mark.parametrize("how", ["overwrite", "truncate", "delete"])
@pytest.mark.parametrize("own_purge", [False, True])
def test_a_damaged_copy_the_source_purged_since_is_repaired_and_purged(
    tmp_path: Path, how: str, own_purge: bool
) -> None:
    """The source purged v0001 since, and the copy's comments.parquet is damaged: the source's purged
    file is taken and the copy's own purge applied to it again (adversarial review 6, F6)."""
    dataset, public, copy = tmp_path / "dataset", tmp_path / "public", tmp_path / "copy"
    ingest(dataset, [tree_file(tmp_path, "aaa", 12, 3)])
    publish(dataset, public, allow_identifiable=True)
    run_download(str(public), copy)
    names = comment_names(copy)
    mine, theirs = names[3], names[5]
    if own_purge:
        purge(copy, [mine])
    purge(dataset, [theirs])
    publish(dataset, public, allow_identifiable=True)
    damage(copy / "versions/v0001/comments.parquet", how, 100)
    result = CliRunner().invoke(main, ["download", str(public), "--to", str(copy)])
    assert result.exit_code == 0 and "comments.parquet" in result.stderr, result.output
    assert status_of(copy, theirs) == ("purged", "")
    if own_purge:
        assert status_of(copy, mine) == ("purged", "")
    assert validate(copy).valid and not (copy / ".download").exists()
    assert run_download(str(public), copy)["repaired"] == []


def test_a_damaged_copy_the_source_purged_without_its_own_record_is_not_repaired(tmp_path: Path) -> None:
    dataset, public, copy = tmp_path / "dataset", tmp_path / "public", tmp_path / "copy"
    ingest(dataset, [tree_file(tmp_path, "aaa", 12, 3)])
    publish(dataset, public, allow_identifiable=True)
    run_download(str(public), copy)
    names = comment_names(copy)
    purge(copy, [names[3]])
    (copy / PURGES_FILE).unlink()
    purge(dataset, [names[5]])
    publish(dataset, public, allow_identifiable=True)
    damage(copy / "versions/v0001/comments.parquet", "overwrite", 100)
    before = installed_bytes(copy)
    result = CliRunner().invoke(main, ["download", str(public), "--to", str(copy)])
    assert result.exit_code == EXIT_NEEDS_PERSON and "could bring purged text back" in result.stderr, result.output
    assert "published copy (download)" not in result.stderr and installed_bytes(copy) == before


@pytest.mark.parametrize("linked", ["version", "versions"])
def test_a_copy_whose_version_folder_is_a_symbolic_link_is_refused_and_left_as_it_is(
    installed_once: tuple[Path, Path], tmp_path: Path, linked: str
) -> None:
    """A version moved to another disk and linked back: one line, exit 1, nothing changed
    (adversarial review 6, F8), damaged or not."""
    public, _ = installed_once
    copy = fresh(installed_once, tmp_path / "copy")
    elsewhere = tmp_path / "otherdisk"
    elsewhere.mkdir()
    moved = copy / "versions/v0001" if linked == "version" else copy / "versions"
    shutil.move(moved, elsewhere / moved.name)
    moved.symlink_to(elsewhere / moved.name)
    damage(copy / "versions/v0001/comments.parquet", "overwrite", 7)
    before = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    result = CliRunner().invoke(main, ["download", str(public), "--to", str(copy)])
    assert result.exit_code == EXIT_NEEDS_PERSON, result.output
    assert (
        result.stderr.count("\n") == 1 and "symbolic link" in result.stderr and "nothing was changed" in result.stderr
    )
    assert moved.is_symlink() and {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()} == before


@given(cut=st.floats(0, 1, exclude_max=True), junk=st.binary(max_size=8))
@settings(max_examples=examples(10), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_an_installed_manifest_cut_anywhere_is_repaired(
    installed_once: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory, cut: float, junk: bytes
) -> None:
    """A manifest.json cut at any byte (a crash, a full disk elsewhere), junk after the cut or not (F7)."""
    public, good = installed_once
    copy = fresh(installed_once, tmp_path_factory.mktemp("copy") / "copy")
    manifest = copy / "versions/v0001/manifest.json"
    data = manifest.read_bytes()
    manifest.write_bytes(data[: int(cut * len(data))] + junk)
    result = run_download(str(public), copy)
    assert result["repaired"] == ["manifest.json"] and result["downloaded"] == []
    assert installed_bytes(copy) == installed_bytes(good) and validate(copy).valid

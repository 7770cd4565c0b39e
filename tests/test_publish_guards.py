"""publish, purge and validate on trees that would turn them against the source or the public.

A target inside the dataset (or holding it), a version that is a symbolic link to a
folder elsewhere, a lineage that runs backwards, the leftovers of a killed publish, a
lock file with a process id in a served tree: each is refused before anything changes,
reported, or cleaned up, and the commands say what they did.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.errors import EXIT_CONFIG, EXIT_LOCKED, EXIT_NEEDS_PERSON
from scraper.ingest import ingest
from tests.conftest import examples, write_spec
from tests.test_odd_files import resign
from tests.test_snapshot import tree_file


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_line(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (links not followed): files by sha256, folders and links by kind."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = f"link -> {os.readlink(path)}"
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[key] = "folder"
    return found


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two valid versions written by ingest, each with its card."""
    tmp = tmp_path_factory.mktemp("guards")
    ingest(tmp / "ds", [tree_file(tmp, "aaa", 30, 1)])
    ingest(tmp / "ds", [tree_file(tmp, "bbb", 40, 2)])
    return tmp / "ds"


def victim(ds: Path) -> str:
    """A comment v0001 holds."""
    return str(pq.read_table(ds / "versions" / "v0001" / "comments.parquet").column("name")[0].as_py())


def publish(ds: Path, target: Path, *more: str) -> Result:
    return run("publish", str(ds), "--to", str(target), "--identifiable", *more)


@pytest.fixture
def ds(clean: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "ds"
    shutil.copytree(clean, folder, ignore=shutil.ignore_patterns(".lock"))
    return folder


# -- a target inside the dataset, or holding it ----------------------------------------------------------
PART = st.text("abvx0123.", min_size=1, max_size=6).filter(lambda p: p not in (".", ".."))


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    where=st.one_of(
        st.lists(st.sampled_from(["versions", "v0001", "v0002", "raw", "."]) | PART, min_size=0, max_size=3).map(
            lambda parts: ("inside", parts)
        ),
        st.integers(1, 2).map(lambda up: ("holding", up)),
        st.just(("linked", 0)),
    )
)
def test_a_target_inside_or_holding_the_dataset_is_refused_before_anything(
    ds: Path, tmp_path: Path, where: tuple[str, object]
) -> None:
    kind, how = where
    if kind == "inside":
        target = ds.joinpath(*how)  # type: ignore[arg-type]
    elif kind == "holding":
        target = ds.parents[int(how) - 1]  # type: ignore[call-overload]
    else:  # a symbolic link outside that points into the dataset
        target = tmp_path / "pub-link"
        if not target.is_symlink():
            target.symlink_to(ds / "versions")
    before, around = snapshot(ds), sorted(p.name for p in tmp_path.iterdir())
    line = one_line(publish(ds, target), EXIT_CONFIG)
    assert str(target) in line and ("inside the dataset" in line or "holds the dataset" in line or "itself" in line)
    assert snapshot(ds) == before  # no lock folder, no half version, nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == around


# -- symbolic links among the versions -------------------------------------------------------------------
def link_version_folder(ds: Path, outside: Path) -> Path:
    shutil.move(ds / "versions" / "v0001", outside)
    (ds / "versions" / "v0001").symlink_to(outside)
    return ds / "versions" / "v0001"


def link_data_file(ds: Path, outside: Path) -> Path:
    outside.mkdir()
    shutil.move(ds / "versions" / "v0002" / "comments.parquet", outside / "comments.parquet")
    (ds / "versions" / "v0002" / "comments.parquet").symlink_to(outside / "comments.parquet")
    return ds / "versions" / "v0002" / "comments.parquet"


def link_card(ds: Path, outside: Path) -> Path:
    outside.mkdir()
    shutil.move(ds / "versions" / "v0001" / "README.md", outside / "README.md")
    (ds / "versions" / "v0001" / "README.md").symlink_to(outside / "README.md")
    return ds / "versions" / "v0001" / "README.md"


def link_versions(ds: Path, outside: Path) -> Path:
    shutil.move(ds / "versions", outside)
    (ds / "versions").symlink_to(outside)
    return ds / "versions"


@pytest.mark.parametrize("make_link", [link_version_folder, link_data_file, link_card, link_versions])
def test_a_symbolic_link_among_the_versions_fails_validate_and_stops_publish_and_purge(
    ds: Path, tmp_path: Path, make_link: object
) -> None:
    outside = tmp_path / "elsewhere"
    name = victim(ds)
    link = make_link(ds, outside)  # type: ignore[operator]
    result = run("validate", str(ds), "--json")
    assert result.exit_code == EXIT_NEEDS_PERSON
    checks = [c for c in json.loads(result.stdout)["checks"] if c["check"] == "no symbolic links"]
    assert checks and checks[0]["status"] == "fail" and checks[0]["examples"][0] == str(link.relative_to(ds))
    before, outside_before = snapshot(ds), snapshot(outside)
    target = tmp_path / "pub"
    line = one_line(publish(ds, target), EXIT_NEEDS_PERSON)
    assert f"{link} is a symbolic link" in line and not target.exists()
    line = one_line(run("purge", str(ds), name), EXIT_NEEDS_PERSON)
    assert f"{link} is a symbolic link" in line and "nothing was changed" in line
    after = {k: v for k, v in snapshot(ds).items() if k != ".lock"}
    assert after == {k: v for k, v in before.items() if k != ".lock"}  # no record, no staging, no swap
    assert snapshot(outside) == outside_before
    assert not (ds / "purges.jsonl").exists()


# -- what a published tree holds, and what publish says ---------------------------------------------------
def dead_pid() -> int:
    child = subprocess.Popen(["true"])  # a real process, gone once waited for
    child.wait()
    return child.pid


def test_a_published_tree_holds_no_lock_and_loses_a_killed_publishs_leftovers(ds: Path, tmp_path: Path) -> None:
    target = tmp_path / "pub"
    assert publish(ds, target).exit_code == 0
    assert not (target / ".lock").exists()  # no process id on a public server
    # what a publish killed before its renames left, and an older publish's lock file
    dead = dead_pid()
    stale = [f".index.json.{dead}.tmp", f".dataset.toml.{dead}.tmp", f".purges.jsonl.{dead}.tmp"]
    for name in stale:
        (target / name).write_text("{half", encoding="utf-8")
    alive = f".index.json.{os.getppid()}.tmp"  # a running process's file is not ours to remove
    (target / alive).write_text("{", encoding="utf-8")
    (target / ".lock").write_text("12345\n", encoding="utf-8")
    result = publish(ds, target, "--json")
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.stdout)["removed"]) == sorted([*stale, ".lock"])
    assert sorted(p.name for p in target.iterdir() if p.name.startswith(".")) == [alive]
    from scraper.store.lock import tree_lock

    with tree_lock(target):  # another publish at work: refused, the tree untouched
        before = snapshot(target)
        one_line(publish(ds, target), EXIT_LOCKED)
        assert snapshot(target) == before


def test_publish_names_the_versions_it_replaced_after_a_purge(ds: Path, tmp_path: Path) -> None:
    target = tmp_path / "pub"
    assert publish(ds, target).exit_code == 0
    assert run("purge", str(ds), victim(ds)).exit_code == 0
    result = publish(ds, target, "--json")
    assert result.exit_code == 0, result.output
    purged = json.loads(result.stdout)["purged"]
    assert purged and purged[0] == "v0001"
    assert f"(new: none; replaced after a purge: {', '.join(purged)})" in result.stderr, result.stderr


# -- the lineage of versions ------------------------------------------------------------------------------
def edit_manifest(ds: Path, version: str, **changes: object) -> None:
    path = ds / "versions" / version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))
    resign(ds, version)


@pytest.mark.parametrize(
    ("version", "parent"), [("v0001", "v0002"), ("v0002", "v0002"), ("v0002", "v0009"), ("v0002", "zzz")]
)
def test_a_parent_that_is_not_an_earlier_version_fails(ds: Path, version: str, parent: str) -> None:
    edit_manifest(ds, version, parent=parent)
    result = run("validate", str(ds), "--json")
    assert result.exit_code == EXIT_NEEDS_PERSON
    [check] = [c for c in json.loads(result.stdout)["checks"] if c["check"] == "each parent is an earlier version"]
    assert check["status"] == "fail" and check["examples"] == [f"{version} (parent {parent})"]


def test_created_at_going_back_warns_and_stays_valid(ds: Path) -> None:
    edit_manifest(ds, "v0002", created_at="2001-01-01T00:00:00+00:00")
    result = run("validate", str(ds), "--json")
    assert result.exit_code == 0, result.output
    [check] = [c for c in json.loads(result.stdout)["checks"] if c["check"] == "created_at in version order"]
    assert check["status"] == "warn" and check["examples"] == ["v0002 (created before v0001)"]


# -- a published manifest nested too deeply ---------------------------------------------------------------
def test_a_deeply_nested_published_manifest_is_named_as_such(ds: Path, tmp_path: Path) -> None:
    public = tmp_path / "pub"
    assert publish(ds, public).exit_code == 0
    raw = b"[" * 200_000 + b"]" * 200_000
    (public / "versions" / "v0002" / "manifest.json").write_bytes(raw)
    index = json.loads((public / "index.json").read_text())
    index["versions"][-1]["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
    (public / "index.json").write_text(json.dumps(index))
    line = one_line(run("download", str(public), "--to", str(tmp_path / "copy")), EXIT_NEEDS_PERSON)
    assert "manifest.json is nested too deeply" in line and "NoneType" not in line


# -- a publish killed at any rename: the next one ends where an uninterrupted one does ---------------------
def _killed_at(target: Path, at: int) -> Callable[[], None]:
    """The body of a forked publish that SIGKILLs itself just before its ``at``-th rename into ``target``."""

    def body() -> None:
        from scraper.publish.tree import publish as run_publish

        real_replace, real_rename, seen = os.replace, os.rename, [0]

        def dying(real: Callable[..., None]) -> Callable[..., None]:
            def step(src: object, dst: object, *args: object, **kwargs: object) -> None:
                if str(dst).startswith(str(target)):
                    seen[0] += 1
                    if seen[0] == at:
                        os.kill(os.getpid(), signal.SIGKILL)
                real(src, dst, *args, **kwargs)

            return step

        os.replace, os.rename = dying(real_replace), dying(real_rename)  # type: ignore[assignment]
        run_publish(SOURCE[0], target, allow_identifiable=True)

    return body


SOURCE: list[Path] = []


def test_a_publish_killed_at_any_rename_is_completed_by_the_next(ds: Path, tmp_path: Path) -> None:
    from tests import forked

    write_spec(ds, '[dataset]\nname = "guards"\n')
    (ds / "README.md").write_text("# guards\n", encoding="utf-8")
    SOURCE[:] = [ds]
    reference = tmp_path / "reference"
    assert publish(ds, reference).exit_code == 0
    expected = snapshot(reference)
    renames = 2 + 2 + 1  # two versions placed, two top files, the index
    for at in range(1, renames + 1):
        target = tmp_path / f"pub{at}"
        child = forked.run(_killed_at(target, at))
        assert child.returncode == -signal.SIGKILL, (at, child.stderr)
        result = publish(ds, target)
        assert result.exit_code == 0, (at, result.output)
        assert snapshot(target) == expected, at  # no temporary, no staging, the same bytes
    assert not forked.run(_killed_at(tmp_path / "once-more", renames + 1)).returncode  # no sixth rename: done

"""download does not take a source's word: purges, cards, table files, names, encodings, redirects, credentials.

Each test attacks a class of input (every table, every listed file, generated names, every
forgery of a purge), on folders or on servers the tests start on 127.0.0.1.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import ARROW_SCHEMAS, Comment, Submission
from scraper.errors import EXIT_NEEDS_PERSON, InputError, IntegrityError, SnapshotError
from scraper.ingest import ingest
from scraper.publish.download import download as run_download
from scraper.publish.download import redact_url
from scraper.publish.tree import publish
from scraper.publish.validate import validate
from scraper.store.purge import (
    PURGES_FILE,
    _purged,
    is_purge_of,
    merge_purge_logs,
    purge,
    purge_relation,
    purged_fullnames,
    read_purge_log,
)
from scraper.store.snapshot import (
    Dataset,
    is_file_name,
    is_version_id,
    manifest_problem,
    rows_to_table,
    sha256_file,
)
from scraper.study import load
from tests.conftest import examples
from tests.test_download_hostile import HostileServer, download, plain, refused
from tests.test_snapshot import tree_file

FAST = settings(max_examples=examples(8), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
TABLES = ("submissions", "comments")


@pytest.fixture(scope="module")
def source_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dataset of one version (two threads, 12 and 3 comments), built once a module."""
    tmp = tmp_path_factory.mktemp("trust")
    dataset = tmp / "dataset"
    ingest(dataset, [tree_file(tmp, "aaa", 12, 3), tree_file(tmp, "ccc", 3, 5)])
    return dataset


@pytest.fixture
def source(source_once: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source_once, tmp_path / "dataset"))


def comment_names(folder: Path) -> list[str]:
    return [str(n) for n in load(folder).comments["name"].to_pylist()]


def status_of(folder: Path, name: str) -> tuple[str, str]:
    table = load(folder).comments
    row = table.slice(table["name"].to_pylist().index(name), 1).to_pylist()[0]
    return row["status"], row["body"]


def installed_bytes(target: Path) -> dict[str, bytes]:
    return {str(p.relative_to(target)): p.read_bytes() for p in (target / "versions").rglob("*") if p.is_file()}


# -- 1: a copy's own purges survive every download ----------------------------------------------------------
@pytest.mark.parametrize("overlap", [False, True])
def test_a_local_purge_survives_a_download_from_a_source_that_purged_others(
    source: Path, tmp_path: Path, overlap: bool
) -> None:
    names = comment_names(source)
    mine, theirs = names[2], [names[5], names[7]] + ([names[2]] if overlap else [])
    public, copy = tmp_path / "public", tmp_path / "copy"
    publish(source, public, allow_identifiable=True)
    run_download(str(public), copy)
    purge(copy, [mine])  # the copy carries out its own removal request
    for name in theirs:  # the source purges others (and, with overlap, the same), one request each
        purge(source, [name])
    publish(source, public, allow_identifiable=True)

    result = run_download(str(public), copy)
    assert result["purged"] == ["v0001"]
    for name in (mine, *theirs):
        assert status_of(copy, name) == ("purged", ""), name
    log = read_purge_log(copy / PURGES_FILE)
    listed = [n for entry in log for n in entry["fullnames"]]
    assert sorted(listed) == sorted({mine, *theirs}), log  # local ∪ source, each fullname once
    assert log[0]["fullnames"] == [mine] and "from" not in log[0]  # the copy's own record first, as it was
    assert validate(copy).valid
    again = dict(installed_bytes(copy))
    second = run_download(str(public), copy)  # nothing new at the source: the copy stays as it is
    assert second["already_installed"] and second["purged"] == []
    assert installed_bytes(copy) == again and read_purge_log(copy / PURGES_FILE) == log


def test_a_version_installed_after_a_local_purge_gets_the_purge(source: Path, tmp_path: Path) -> None:
    public, copy = tmp_path / "public", tmp_path / "copy"
    publish(source, public, allow_identifiable=True)
    run_download(str(public), copy)
    mine = comment_names(source)[4]
    purge(copy, [mine])
    ingest(source, [tree_file(tmp_path, "bbb", 6, 4)])  # v0002 holds the thread of v0001 as well
    publish(source, public, allow_identifiable=True)
    assert mine in comment_names(public)
    assert run_download(str(public), copy)["version"] == "v0002"
    assert status_of(copy, mine) == ("purged", "")
    assert validate(copy).valid


@given(
    local=st.lists(st.sets(st.sampled_from([f"t1_{i}" for i in "abcdef"]), max_size=3), max_size=3),
    incoming=st.lists(st.sets(st.sampled_from([f"t1_{i}" for i in "abcdefgh"]), max_size=3), max_size=3),
)
@settings(max_examples=examples(60), deadline=None, derandomize=True)
def test_merged_purge_logs_keep_local_entries_and_add_each_fullname_once(
    local: list[set[str]], incoming: list[set[str]]
) -> None:
    mine = [{"at": f"l{i}", "fullnames": sorted(s), "rows": 1} for i, s in enumerate(local)]
    theirs = [{"at": f"s{i}", "fullnames": sorted(s)} for i, s in enumerate(incoming)]
    merged, changed = merge_purge_logs(mine, theirs, "http://mirror")
    assert merged[: len(mine)] == mine
    listed = [n for e in merged for n in e["fullnames"]]
    wanted = set().union(*local, *incoming)
    assert len(listed) - len([n for e in mine for n in e["fullnames"]]) == len(wanted - set().union(*local))
    assert set(listed) == wanted
    assert changed == bool(wanted - set().union(*local))
    assert all(e["from"] == "http://mirror" for e in merged[len(mine) :])


def test_is_purge_of_compares_which_fullnames_not_how_many() -> None:
    base: dict[str, Any] = {"version": "v0001", "files": {"c.parquet": {"table": "comments", "rows": 3}}}
    local = {**base, "purges": [{"at": "1", "items": 1, "fullnames": ["t1_a"]}]}
    source = {
        **base,
        "purges": [{"at": "2", "items": 1, "fullnames": ["t1_b"]}, {"at": "3", "items": 1, "fullnames": ["t1_c"]}],
    }
    assert not is_purge_of(source, local)  # more purges, but not the copy's: not "the copy plus a purge"
    assert purge_relation(source, local) == "purged"
    merged = {**base, "purges": [*source["purges"], *local["purges"]]}
    assert purge_relation(source, merged) == "held" and not is_purge_of(source, merged)
    assert is_purge_of(merged, source) and is_purge_of(source, base)


# -- 2: a purge claim rewrites nothing but the named rows, into tombstones -----------------------------------
def _forge(public: Path, table: str, rows: list[dict[str, Any]], names: list[str]) -> None:
    """Rewrite v0001's ``table`` of the published tree as ``rows``, claim a purge of ``names``, re-sign it all."""
    version = public / "versions" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    file = next(n for n, i in manifest["files"].items() if i["table"] == table)
    pq.write_table(pa.Table.from_pylist(rows, schema=ARROW_SCHEMAS[table]), version / file, compression="zstd")
    manifest["files"][file].update(
        rows=len(rows), bytes=(version / file).stat().st_size, sha256=sha256_file(version / file)
    )
    manifest.setdefault("purges", []).append({"at": "2026-12-02T00:00:00+00:00", "items": 1, "fullnames": names})
    raw = json.dumps(manifest, indent=2).encode()
    (version / "manifest.json").write_bytes(raw)
    index = json.loads((public / "index.json").read_text())
    index["versions"][0]["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
    (public / "index.json").write_text(json.dumps(index))


def _tombstone(table: str, row: dict[str, Any]) -> dict[str, Any]:
    model: Any = Submission if table == "submissions" else Comment
    return dict(rows_to_table(table, [_purged(model.model_validate(row))]).to_pylist()[0])


FORGERIES: dict[str, Callable[[str, list[dict[str, Any]], int, int], tuple[list[dict[str, Any]], int]]] = {
    # each returns the forged rows and the index of the row the purge claim names
    "rewrite an unnamed row": lambda t, r, i, j: (
        [*r[:j], {**r[j], ("body" if t == "comments" else "title"): "forged"}, *r[j + 1 :]],
        i,
    ),
    "tombstone an unnamed row": lambda t, r, i, j: ([*r[:j], _tombstone(t, r[j]), *r[j + 1 :]], i),
    "named row rewritten, not a tombstone": lambda t, r, i, j: (
        [*r[:i], {**r[i], "score": (r[i]["score"] or 0) + 7}, *r[i + 1 :]],
        i,
    ),
    "named row a tombstone with another score": lambda t, r, i, j: (
        [*r[:i], {**_tombstone(t, r[i]), "score": (r[i]["score"] or 0) + 7}, *r[i + 1 :]],
        i,
    ),
    "a row dropped": lambda t, r, i, j: ([*r[:j], *r[j + 1 :]], i),
    "rows reordered": lambda t, r, i, j: ([*r[j:], *r[:j]], i),
    "a row added": lambda t, r, i, j: ([*r, {**r[j], "name": "t1_zzzzzz" if t == "comments" else "t3_zzzzzz"}], i),
}


@pytest.fixture(scope="module")
def copy_once(source_once: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("forge")
    publish(source_once, tmp / "public", allow_identifiable=True)
    run_download(str(tmp / "public"), tmp / "copy")
    return tmp / "public", tmp / "copy"


@given(
    table=st.sampled_from(TABLES),
    forgery=st.sampled_from(sorted(FORGERIES)),
    named=st.integers(0, 1000),
    other=st.integers(0, 1000),
)
@FAST
def test_a_forged_purge_never_rewrites_an_installed_version(
    copy_once: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    table: str,
    forgery: str,
    named: int,
    other: int,
) -> None:
    tmp = tmp_path_factory.mktemp("forged")
    public = Path(shutil.copytree(copy_once[0], tmp / "public"))
    copy = Path(shutil.copytree(copy_once[1], tmp / "copy"))
    before = installed_bytes(copy)
    version = public / "versions" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    file = next(n for n, i in manifest["files"].items() if i["table"] == table)
    rows = pq.read_table(version / file).to_pylist()
    assert len(rows) > 1
    i = named % len(rows)
    j = other % len(rows) if other % len(rows) != i else (i + 1) % len(rows)
    forged, claimed = FORGERIES[forgery](table, rows, i, j)
    _forge(public, table, forged, [rows[claimed]["name"]])
    with pytest.raises((IntegrityError, SnapshotError)) as refusal:
        run_download(str(public), copy)
    assert "v0001" in str(refusal.value) and "\n" not in str(refusal.value)
    assert installed_bytes(copy) == before  # the installed, verified data untouched
    assert not (copy / ".download").exists()


@pytest.mark.parametrize("table", TABLES)
def test_an_exact_tombstone_of_the_named_row_is_accepted(
    copy_once: tuple[Path, Path], tmp_path: Path, table: str
) -> None:
    public = Path(shutil.copytree(copy_once[0], tmp_path / "public"))
    copy = Path(shutil.copytree(copy_once[1], tmp_path / "copy"))
    version = public / "versions" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    file = next(n for n, i in manifest["files"].items() if i["table"] == table)
    rows = pq.read_table(version / file).to_pylist()
    _forge(public, table, [*rows[:-1], _tombstone(table, rows[-1])], [rows[-1]["name"]])
    assert run_download(str(public), copy)["purged"] == ["v0001"]
    assert pq.read_table(copy / "versions" / "v0001" / file).to_pylist()[-1]["status"] == "purged"


def test_the_cli_refuses_a_forged_purge_in_one_line(copy_once: tuple[Path, Path], tmp_path: Path) -> None:
    public = Path(shutil.copytree(copy_once[0], tmp_path / "public"))
    copy = Path(shutil.copytree(copy_once[1], tmp_path / "copy"))
    rows = pq.read_table(public / "versions" / "v0001" / "comments.parquet").to_pylist()
    _forge(public, "comments", [{**rows[0], "body": "I never said this"}, *rows[1:]], ["t1_zzzzzzz"])
    result = download(str(public), "--to", str(copy))
    assert result.exit_code == EXIT_NEEDS_PERSON, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "v0001" in lines[0] and str(public) in lines[0] and "Traceback" not in result.output


# -- 3, 4: the manifest's card and table files --------------------------------------------------------------
def _resign(folder: Path, manifest: dict[str, Any]) -> None:
    raw = json.dumps(manifest, indent=2).encode()
    (folder / "versions" / "v0001" / "manifest.json").write_bytes(raw)
    index = json.loads((folder / "index.json").read_text())
    index["versions"][0]["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
    (folder / "index.json").write_text(json.dumps(index))


def test_a_card_named_like_any_listed_file_is_refused_everywhere(copy_once: tuple[Path, Path], tmp_path: Path) -> None:
    manifest = json.loads((copy_once[0] / "versions" / "v0001" / "manifest.json").read_text())
    for name in [*manifest["files"], "manifest.json", "card.txt", "README"]:
        public = Path(shutil.copytree(copy_once[0], tmp_path / name / "public"))
        version = public / "versions" / "v0001"
        (version / name).write_bytes(b"NOT THE DATA " * 50)
        forged = {**manifest, "card": {"name": name, "bytes": 650, "sha256": sha256_file(version / name)}}
        assert manifest_problem(forged, "v0001"), name
        _resign(public, forged)
        refused(
            download(str(public), "--to", str(tmp_path / name / "copy")), EXIT_NEEDS_PERSON, tmp_path / name / "copy"
        )
        with pytest.raises(IntegrityError):  # load(verify=True) of such a folder
            load(public)
        assert not validate(public).valid


@pytest.mark.parametrize("table", TABLES)
def test_readers_take_each_table_from_the_file_the_manifest_maps(source: Path, tmp_path: Path, table: str) -> None:
    from scraper.report.figures import connect

    version = source / "versions" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    file = next(n for n, i in manifest["files"].items() if i["table"] == table)
    other = next(n for n, i in manifest["files"].items() if i["table"] != table)
    (version / file).rename(version / f"mapped-{file}")
    manifest["files"][f"mapped-{file}"] = manifest["files"].pop(file)
    shutil.copyfile(version / other, version / file)  # an unlisted file under the table's usual name
    (version / "manifest.json").write_text(json.dumps(manifest))
    Dataset(source).write_index()
    snap = load(source)
    assert getattr(snap, table).num_rows == manifest["files"][f"mapped-{file}"]["rows"]
    assert getattr(snap, table).equals(pq.read_table(version / f"mapped-{file}"))
    con = connect(version)
    view = "c" if table == "comments" else "s"
    count = con.execute(f"select count(*) from {view}").fetchall()[0][0]
    con.close()
    assert count == manifest["files"][f"mapped-{file}"]["rows"]
    assert validate(source).valid


@pytest.mark.parametrize("table", TABLES)
def test_two_files_for_one_table_are_refused(copy_once: tuple[Path, Path], tmp_path: Path, table: str) -> None:
    public = Path(shutil.copytree(copy_once[0], tmp_path / "public"))
    version = public / "versions" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    file = next(n for n, i in manifest["files"].items() if i["table"] == table)
    shutil.copyfile(version / file, version / f"a{file}")
    manifest["files"][f"a{file}"] = dict(manifest["files"][file])
    _resign(public, manifest)
    assert "two files for table" in (manifest_problem(manifest, "v0001") or "")
    report = validate(public)
    assert not report.valid and any("two files" in c.detail for c in report.checks)
    refused(download(str(public), "--to", str(tmp_path / "copy")), EXIT_NEEDS_PERSON, tmp_path / "copy")


def test_a_file_of_no_known_table_is_refused(copy_once: tuple[Path, Path], tmp_path: Path) -> None:
    """A version holds its two tables and its card: a re-signed manifest listing ``evil.sh`` is refused (adv. 5, F9)."""
    public = Path(shutil.copytree(copy_once[0], tmp_path / "public"))
    version = public / "versions" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    (version / "evil.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    manifest["files"]["evil.sh"] = {"table": "evil", "rows": 0, "bytes": 19, "sha256": sha256_file(version / "evil.sh")}
    _resign(public, manifest)
    assert "table 'evil' is none of" in (manifest_problem(manifest, "v0001") or "")
    report = validate(public)
    assert not report.valid and any("table 'evil'" in c.detail for c in report.checks)
    refused(download(str(public), "--to", str(tmp_path / "copy")), EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert not (tmp_path / "copy" / "versions" / "v0001" / "evil.sh").exists()


def test_an_index_listing_a_version_twice_is_refused(copy_once: tuple[Path, Path], tmp_path: Path) -> None:
    """Which of two entries would be the version? Neither: the index is not one this tool wrote (adv. 5, F9)."""
    public = Path(shutil.copytree(copy_once[0], tmp_path / "public"))
    index = json.loads((public / "index.json").read_text())
    index["versions"] = [{**index["versions"][0], "manifest_sha256": "0" * 64}, *index["versions"]]
    (public / "index.json").write_text(json.dumps(index))
    report = validate(public)
    (check,) = [c for c in report.checks if c.name == "index"]
    assert check.status == "fail" and "v0001 (listed twice)" in check.examples
    result = download(str(public), "--to", str(tmp_path / "copy"))
    refused(result, EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert "lists v0001 twice" in result.output


@pytest.mark.parametrize("field", ["dataset", "key"])
def test_a_version_of_another_dataset_is_not_installed_beside_the_copys(
    copy_once: tuple[Path, Path], tmp_path: Path, field: str
) -> None:
    """A copy is one dataset: another dataset's version (or one pseudonymized with another key) is refused (adv. 5,
    F10); an empty folder takes any."""
    public = Path(shutil.copytree(copy_once[0], tmp_path / "public"))
    copy = Path(shutil.copytree(copy_once[1], tmp_path / "copy"))
    manifest = json.loads((public / "versions" / "v0001" / "manifest.json").read_text())
    if field == "dataset":
        manifest["dataset"] = "other-ds"
    else:
        manifest["pseudonymization"] = {**(manifest.get("pseudonymization") or {}), "key_fingerprint": "f" * 16}
        mine = copy / "versions" / "v0001" / "manifest.json"
        held = json.loads(mine.read_text())
        held["pseudonymization"] = {**(held.get("pseudonymization") or {}), "key_fingerprint": "0" * 16}
        mine.write_text(json.dumps(held))
    _resign(public, manifest)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    result = download(str(public), "--to", str(copy))
    assert result.exit_code == EXIT_NEEDS_PERSON and "Traceback" not in result.output, result.output
    assert ("dataset 'other-ds'" if field == "dataset" else "pseudonym key 'ffff") in result.output
    assert "download it into another folder" in result.output
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before
    assert run_download(str(public), tmp_path / "empty")["version"] == "v0001"  # an empty folder takes any dataset


def test_a_renamed_datasets_next_version_installs_beside_the_copys_own(
    copy_once: tuple[Path, Path], tmp_path: Path
) -> None:
    """A copy holding the source's own history takes the source's next version under a new name: a rename in
    dataset.toml, not another dataset (adversarial review 6, F5); validate reports it, does not refuse it."""
    public = Path(shutil.copytree(copy_once[0], tmp_path / "public"))
    copy = Path(shutil.copytree(copy_once[1], tmp_path / "copy"))
    shutil.copytree(public / "versions" / "v0001", public / "versions" / "v0002")
    manifest = json.loads((public / "versions" / "v0002" / "manifest.json").read_text())
    manifest.update(version="v0002", parent="v0001", dataset="renamed-ds")
    raw = json.dumps(manifest, indent=2).encode()
    (public / "versions" / "v0002" / "manifest.json").write_bytes(raw)
    index = json.loads((public / "index.json").read_text())
    index["versions"].append(
        {**index["versions"][0], "version": "v0002", "manifest_sha256": hashlib.sha256(raw).hexdigest()}
    )
    index["latest"] = "v0002"
    (public / "index.json").write_text(json.dumps(index))
    assert run_download(str(public), copy)["version"] == "v0002"
    report = validate(copy)
    (check,) = [c for c in report.checks if c.name == "every version is of one dataset"]
    assert report.valid and check.status == "warn" and check.examples == ["v0002 (dataset 'renamed-ds')"]


def test_a_version_of_another_dataset_is_reported_by_validate(copy_once: tuple[Path, Path], tmp_path: Path) -> None:
    """A folder holding versions naming two datasets (a download into the wrong folder, or a rename) is reported
    (adv. 5, F10; a warning since adv. 6, F5: a rename in dataset.toml is legitimate)."""
    folder = Path(shutil.copytree(copy_once[1], tmp_path / "mixed"))
    other = folder / "versions" / "v0002"
    shutil.copytree(folder / "versions" / "v0001", other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest.update(version="v0002", parent="v0001", dataset="other-ds")
    (other / "manifest.json").write_text(json.dumps(manifest))
    Dataset(folder).write_index()
    report = validate(folder)
    (check,) = [c for c in report.checks if c.name == "every version is of one dataset"]
    assert check.status == "warn" and check.examples == ["v0002 (dataset 'other-ds')"], check
    manifest["dataset"] = json.loads((folder / "versions" / "v0001" / "manifest.json").read_text())["dataset"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    Dataset(folder).write_index()
    (check,) = [c for c in validate(folder).checks if c.name == "every version is of one dataset"]
    assert check.status == "ok"


# -- 7: names: one form, ASCII, nothing after the end -------------------------------------------------------
@given(
    number=st.integers(1, 10**6),
    pad=st.integers(0, 3),
    tail=st.sampled_from(["\n", "\r", " ", "\x00", "/", "\n\n"]),
    digits=st.sampled_from(["٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"]),
)
@settings(max_examples=examples(80), deadline=None, derandomize=True)
def test_version_ids_and_file_names_have_one_form(number: int, pad: int, tail: str, digits: str) -> None:
    canonical = f"v{number:04d}"
    assert is_version_id(canonical)
    assert not is_version_id(canonical + tail) and not is_version_id("v" + "0" * (pad + 1) + canonical[1:])
    assert not is_version_id("v" + "".join(digits[int(c)] for c in canonical[1:]))
    assert is_file_name(f"part-{number}.parquet") and not is_file_name(f"part-{number}.parquet{tail}")
    assert not is_file_name("".join(digits[int(c)] for c in str(number)) + tail)


@pytest.mark.parametrize("name", ["comments.parquet\n", "comments.parquet\r", "README.md\n"])
def test_a_file_name_with_a_line_end_is_refused(copy_once: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    public = Path(shutil.copytree(copy_once[0], tmp_path / "public"))
    version = public / "versions" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["files"][name] = dict(manifest["files"]["comments.parquet"])
    shutil.copyfile(version / "comments.parquet", version / name)
    _resign(public, manifest)
    assert manifest_problem(manifest, "v0001")
    refused(download(str(public), "--to", str(tmp_path / "copy")), EXIT_NEEDS_PERSON, tmp_path / "copy")


@pytest.mark.parametrize("alias", ["v00001", "v0001\n", "v０００１"])
def test_a_version_id_in_another_form_is_refused(copy_once: tuple[Path, Path], tmp_path: Path, alias: str) -> None:
    public = Path(shutil.copytree(copy_once[0], tmp_path / "public"))
    index = json.loads((public / "index.json").read_text())
    index["versions"].append({**index["versions"][0], "version": alias})
    index["latest"] = alias
    (public / "index.json").write_text(json.dumps(index))
    refused(download(str(public), "--to", str(tmp_path / "copy")), EXIT_NEEDS_PERSON, tmp_path / "copy")
    if "\n" not in alias:  # a folder of that name beside v0001 makes the dataset invalid
        shutil.copytree(public / "versions" / "v0001", public / "versions" / alias)
        report = validate(public)
        assert not report.valid and any(c.name == "version folder names" for c in report.checks)


# -- 5, 6, 8: credentials, encodings, redirects -------------------------------------------------------------
@pytest.fixture
def hostile(copy_once: tuple[Path, Path]) -> Iterator[HostileServer]:
    public = copy_once[0]
    files = {str(p.relative_to(public)): p.read_bytes() for p in public.rglob("*") if p.is_file()}
    with HostileServer(files) as server:
        yield server


SECRET = "PASSWORDu7Yt5"


@pytest.mark.parametrize("how", ["ok", "404", "500", "cut"])
def test_credentials_in_the_url_reach_no_line_summary_or_log(hostile: HostileServer, tmp_path: Path, how: str) -> None:
    seen: list[str] = []

    def auth_checked(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        seen.append(handler.headers.get("authorization", ""))
        if how == "404" and handler.path.endswith(".parquet"):
            handler.send_error(404)
        elif how == "500" and handler.path.endswith(".parquet"):
            handler.send_error(500)
        elif how == "cut" and handler.path.endswith(".parquet"):
            handler.send_response(200)
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[:10])
        else:
            plain(handler, body)

    for rel in hostile.files:
        hostile.behave[rel] = auth_checked
    url = hostile.url.replace("http://", f"http://mirror:{SECRET}@") + "/"
    log, summary = tmp_path / "log.jsonl", tmp_path / "summary.json"
    from click.testing import CliRunner

    from scraper.cli import main

    result = CliRunner().invoke(
        main,
        ["-vv", "--log-json", str(log), "download", url, "--to", str(tmp_path / "copy"), "--summary", str(summary)],
    )
    assert (result.exit_code == 0) == (how == "ok"), result.output
    assert SECRET not in result.output and SECRET not in log.read_text() and SECRET not in summary.read_text()
    assert "HTTP Request" in log.read_text() or how != "ok"  # httpx's own lines are there, without the password
    expected = "Basic " + base64.b64encode(f"mirror:{SECRET}".encode()).decode()
    assert seen and all(header == expected for header in seen)  # the credentials still reach the server
    assert redact_url(url) == hostile.url.replace("http://", "http://***@") + "/"


def _encoded(encoding: str) -> Callable[[BaseHTTPRequestHandler, bytes], None]:
    def serve(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        assert handler.headers.get("accept-encoding") == "identity"
        packed = {"gzip": gzip.compress, "deflate": zlib.compress}.get(encoding, lambda b: b)(b"\0" * 100_000)
        handler.send_response(200)
        handler.send_header("content-encoding", encoding)
        handler.send_header("content-length", str(len(packed)))
        handler.end_headers()
        handler.wfile.write(packed)

    return serve


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd", "br", "x-unknown"])
@pytest.mark.parametrize("rel", ["index.json", "versions/v0001/manifest.json", "versions/v0001/comments.parquet"])
def test_an_encoded_answer_is_refused_before_it_is_decoded(
    hostile: HostileServer, tmp_path: Path, encoding: str, rel: str
) -> None:
    hostile.behave[rel] = _encoded(encoding)
    result = download(hostile.url, "--to", str(tmp_path / "copy"))
    refused(result, EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert f"{encoding}-encoded" in result.stderr
    assert not (tmp_path / "copy" / ".download").exists()


def _redirect(to: Callable[[BaseHTTPRequestHandler], str]) -> Callable[[BaseHTTPRequestHandler, bytes], None]:
    def serve(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        handler.send_response(302)
        handler.send_header("location", to(handler))
        handler.send_header("content-length", "0")
        handler.end_headers()

    return serve


@pytest.mark.parametrize(
    "to", [lambda h: h.path, lambda h: "file:///etc/passwd", lambda h: "ftp://127.0.0.1/x"], ids=["loop", "file", "ftp"]
)
@pytest.mark.parametrize("rel", ["index.json", "versions/v0001/comments.parquet"])
def test_a_redirect_that_cannot_work_exits_1_and_says_what_to_do(
    hostile: HostileServer, tmp_path: Path, to: Callable[[BaseHTTPRequestHandler], str], rel: str
) -> None:
    hostile.behave[rel] = _redirect(to)
    result = download(hostile.url, "--to", str(tmp_path / "copy"))
    refused(result, EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert "fix the URL or the server's redirects" in result.stderr and "run again" not in result.stderr
    assert not (tmp_path / "copy" / ".download").exists()


# -- 9: reruns after a kill ---------------------------------------------------------------------------------
@pytest.mark.parametrize("index", ["missing", "stale", "garbage"])
def test_a_rerun_rewrites_the_index_and_removes_work_folders(
    copy_once: tuple[Path, Path], tmp_path: Path, index: str
) -> None:
    copy = Path(shutil.copytree(copy_once[1], tmp_path / "copy"))
    expected = Dataset(copy).index()
    if index == "missing":
        (copy / "index.json").unlink()
    elif index == "stale":
        (copy / "index.json").write_text(json.dumps({**expected, "versions": [], "latest": None}))
    else:
        (copy / "index.json").write_text("{")
    (copy / ".download" / "v0001").mkdir(parents=True)
    (copy / ".download" / "v0001" / "comments.parquet.part").write_bytes(b"half")
    (copy / ".download" / "v0002").mkdir()
    result = run_download(str(copy_once[0]), copy)
    assert result["already_installed"]
    assert json.loads((copy / "index.json").read_text()) == expected
    assert not (copy / ".download").exists()
    assert validate(copy).valid


def test_a_failed_download_leaves_no_empty_work_folder(hostile: HostileServer, tmp_path: Path) -> None:
    for rel in hostile.files:
        if rel.endswith(".parquet"):
            hostile.behave[rel] = lambda handler, body: handler.send_error(404)
    refused(download(hostile.url, "--to", str(tmp_path / "copy")), EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert not (tmp_path / "copy" / ".download").exists()
    assert purged_fullnames(tmp_path / "copy") == frozenset()


def test_purge_finds_items_in_the_files_the_manifest_lists_only(source: Path) -> None:
    version = source / "versions" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["files"]["c2.parquet"] = manifest["files"].pop("comments.parquet")
    (version / "comments.parquet").rename(version / "c2.parquet")
    held = pq.read_table(version / "c2.parquet")["name"][0].as_py()
    rows = pq.read_table(version / "c2.parquet").to_pylist()
    stray = [{**rows[0], "name": "t1_stray1", "id": "stray1"}]
    pq.write_table(pa.Table.from_pylist(stray, schema=ARROW_SCHEMAS["comments"]), version / "comments.parquet")
    (version / "manifest.json").write_text(json.dumps(manifest))
    Dataset(source).write_index()
    with pytest.raises(InputError, match="t1_stray1"):  # only in an unlisted file: not held
        purge(source, ["t1_stray1"])
    assert purge(source, [held])["rows"] == {"v0001": 1}
    assert status_of(source, held) == ("purged", "")

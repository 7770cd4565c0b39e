"""publish + download over real HTTP on 127.0.0.1: verification, resume, tampering, traversal."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.errors import InputError, IntegrityError, TransientError
from scraper.ingest import ingest
from scraper.publish import download as download_module
from scraper.publish.download import download
from scraper.publish.tree import publish
from scraper.publish.validate import validate
from tests.test_snapshot import tree_file


class TreeServer:
    """A static file server over a folder, that can cut chosen files once, mid-body."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cut_once: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if self.path.lstrip("/") in server.cut_once:
                    server.cut_once.discard(self.path.lstrip("/"))
                    body = (server.root / self.path.lstrip("/")).read_bytes()
                    self.send_response(200)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                super().do_GET()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> TreeServer:
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def published_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published tree of two versions, built once a module (tests get a copy: several tamper with it)."""
    tmp_path = tmp_path_factory.mktemp("published")
    dataset = tmp_path / "dataset"
    ingest(dataset, [tree_file(tmp_path, "aaa", 60, 1)])
    ingest(dataset, [tree_file(tmp_path, "bbb", 90, 2)])
    target = tmp_path / "public"
    result = publish(dataset, target, allow_identifiable=True)
    assert result["copied"] == ["v0001", "v0002"]
    assert not (target / "raw").exists() and (target / "index.json").is_file()
    return target


@pytest.fixture
def published(published_once: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(published_once, tmp_path / "public"))


@pytest.fixture
def server(published: Path) -> Iterator[TreeServer]:
    with TreeServer(published) as srv:
        yield srv


def test_download_latest_verifies_and_installs(server: TreeServer, published: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy"
    result = download(server.url, target)
    assert result["version"] == "v0002"
    assert sorted(result["downloaded"]) == ["README.md", "comments.parquet", "submissions.parquet"]
    for name in ("comments.parquet", "submissions.parquet", "manifest.json", "README.md"):
        assert (target / "versions/v0002" / name).read_bytes() == (published / "versions/v0002" / name).read_bytes()
    assert validate(target).valid
    assert json.loads((target / "index.json").read_text())["latest"] == "v0002"
    again = download(server.url, target)
    assert again["already_installed"] and again["downloaded"] == []


def test_download_an_older_version_from_a_local_folder(published: Path, tmp_path: Path) -> None:
    result = download(str(published), tmp_path / "local", version="v0001")
    assert result["version"] == "v0001" and validate(tmp_path / "local").valid


def test_every_chunk_of_every_file_is_counted_and_reported(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files of many chunks: the sizes add up (or the checksum check refuses them) and progress is cumulative."""
    monkeypatch.setattr(download_module, "CHUNK", 512)
    calls: list[tuple[str, int, int | None]] = []
    result = download(str(published), tmp_path / "copy", on_progress=lambda *call: calls.append(call))
    assert result["version"] == "v0002"
    manifest = json.loads((published / "versions/v0002/manifest.json").read_text())
    sizes = {f"versions/v0002/{name}": info["bytes"] for name, info in manifest["files"].items()}
    sizes[f"versions/v0002/{manifest['card']['name']}"] = manifest["card"]["bytes"]
    assert {rel for rel, _, _ in calls} == set(sizes) and max(sizes.values()) > 3 * 512
    for rel, size in sizes.items():
        assert [(done, total) for r, done, total in calls if r == rel] == [
            (min(n, size), size) for n in range(512, size + 512, 512)
        ]
    assert validate(tmp_path / "copy").valid


def test_resume_after_a_cut_connection_skips_verified_files(server: TreeServer, tmp_path: Path) -> None:
    target = tmp_path / "copy"
    server.cut_once.add("versions/v0002/submissions.parquet")  # manifest order: comments first
    with pytest.raises(TransientError, match="run again to resume"):
        download(server.url, target)
    assert not (target / "versions").exists()  # nothing half-installed
    server.requests.clear()
    result = download(server.url, target)
    assert result["skipped"] == ["comments.parquet"] and result["downloaded"] == ["submissions.parquet", "README.md"]
    assert "/versions/v0002/comments.parquet" not in server.requests
    assert validate(target).valid


def test_tampered_file_is_refused_and_nothing_installed(server: TreeServer, published: Path, tmp_path: Path) -> None:
    path = published / "versions/v0002/comments.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"comments.parquet: .*another sha256"):
        download(server.url, tmp_path / "copy")
    assert not (tmp_path / "copy" / "versions").exists()
    assert not list((tmp_path / "copy").rglob("comments.parquet*"))


def test_tampered_manifest_is_refused(server: TreeServer, published: Path, tmp_path: Path) -> None:
    path = published / "versions/v0002/manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"]["comments.parquet"]["rows"] = 1
    path.write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match=r"manifest\.json does not match"):
        download(server.url, tmp_path / "copy")


def test_tampered_index_is_refused(server: TreeServer, published: Path, tmp_path: Path) -> None:
    index = json.loads((published / "index.json").read_text())
    index["versions"][-1]["manifest_sha256"] = "0" * 64
    (published / "index.json").write_text(json.dumps(index))
    with pytest.raises(IntegrityError):
        download(server.url, tmp_path / "copy")
    (published / "index.json").write_text("not json")
    with pytest.raises(IntegrityError, match="not a dataset index"):
        download(server.url, tmp_path / "copy")


def test_path_traversal_entry_is_refused(server: TreeServer, published: Path, tmp_path: Path) -> None:
    vdir = published / "versions/v0002"
    manifest = json.loads((vdir / "manifest.json").read_text())
    manifest["files"]["../../evil.parquet"] = manifest["files"].pop("comments.parquet")
    raw = json.dumps(manifest).encode()
    (vdir / "manifest.json").write_bytes(raw)
    index = json.loads((published / "index.json").read_text())
    index["versions"][-1]["manifest_sha256"] = hashlib.sha256(raw).hexdigest()  # the attacker controls both
    (published / "index.json").write_text(json.dumps(index))
    with pytest.raises(IntegrityError, match="outside the target"):
        download(server.url, tmp_path / "copy" / "inner")
    assert not (tmp_path / "copy" / "evil.parquet").exists() and not (tmp_path / "evil.parquet").exists()


def test_missing_version_is_a_clear_error(server: TreeServer, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no version 'v0042' \(versions: v0001, v0002\)"):
        download(server.url, tmp_path / "copy", version="v0042")


def test_cli_download_exit_codes(server: TreeServer, published: Path, tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["download", server.url, "--to", str(tmp_path / "a"), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["version"] == "v0002"
    missing = CliRunner().invoke(main, ["download", server.url, "--version", "v0009", "--to", str(tmp_path / "b")])
    assert missing.exit_code == 1 and "no version 'v0009'" in missing.stderr
    (published / "versions/v0001/submissions.parquet").write_bytes(b"tampered")
    bad = CliRunner().invoke(main, ["download", server.url, "--version", "v0001", "--to", str(tmp_path / "c")])
    assert bad.exit_code == 1 and "tampered or broken" in bad.stderr
    shutil.rmtree(published)
    gone = CliRunner().invoke(main, ["download", server.url, "--to", str(tmp_path / "d")])
    assert gone.exit_code == 1 and "not found (404)" in gone.stderr


def test_publish_refuses_an_invalid_dataset(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    ingest(dataset, [tree_file(tmp_path, "aaa", 30, 1)])
    (dataset / "versions/v0001/comments.parquet").write_bytes(b"broken")
    with pytest.raises(IntegrityError, match="does not validate"):
        publish(dataset, tmp_path / "public", allow_identifiable=True)


def test_every_version_published_or_downloaded_is_on_disk_before_it_is_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publish and download stage a version, then rename it into place: its files and the staging folder
    are flushed first, so a power cut after the rename never leaves a version of empty files."""
    from tests.test_purge_rerun import fsync_recorder, not_on_disk

    dataset = tmp_path / "dataset"
    ingest(dataset, [tree_file(tmp_path, "aaa", 20, 1)])
    synced = fsync_recorder(monkeypatch)
    missed: dict[str, list[str]] = {}
    real = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(dst).parent.name == "versions" and Path(src).is_dir():
            missed[str(Path(dst).relative_to(tmp_path))] = not_on_disk(Path(src), synced)
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    publish(dataset, tmp_path / "public", allow_identifiable=True)
    download(str(tmp_path / "public"), tmp_path / "copy")
    assert missed == {"public/versions/v0001": [], "copy/versions/v0001": []}

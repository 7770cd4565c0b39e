"""download against hostile sources: servers on 127.0.0.1 that drip, stall, oversize or lie; symlinked folders.

Every refusal exits 1 (75 for the network: stall, deadline), installs nothing and leaves
no version folder and no index behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.errors import EXIT_CONFIG, EXIT_NEEDS_PERSON, EXIT_TRY_LATER, ScraperError
from scraper.ingest import ingest
from scraper.publish.download import HttpFetcher
from scraper.publish.tree import publish
from tests.test_snapshot import tree_file

Serve = Callable[[BaseHTTPRequestHandler, bytes], None]


class HostileServer:
    """Serves a published tree from memory; ``behave[path]`` replaces the answer for one path."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.behave: dict[str, Serve] = {}
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                rel = self.path.lstrip("/")
                body = server.files.get(rel)
                if body is None:
                    self.send_error(404)
                    return
                (server.behave.get(rel) or plain)(self, body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def plain(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    handler.send_response(200)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def endless(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    """The right bytes, then more without end (no content-length): a 300 MB answer for a 400 KB file."""
    handler.send_response(200)
    handler.end_headers()
    try:
        handler.wfile.write(body)
        for _ in range(10_000):
            handler.wfile.write(b"\0" * 65536)
    except OSError:
        return


def lying_length(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    handler.send_response(200)
    handler.send_header("content-length", str(300 << 20))
    handler.end_headers()
    try:
        handler.wfile.write(body)
    except OSError:
        return


def drip(stop: threading.Event) -> Serve:
    """A byte every 20 ms: never silent long enough to stall, never done."""

    def serve(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        handler.send_response(200)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        try:
            for byte in body:
                if stop.wait(0.02):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:
            return

    return serve


def silent(stop: threading.Event) -> Serve:
    def serve(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        handler.send_response(200)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        stop.wait(5)

    return serve


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("hostile")
    dataset = tmp / "dataset"
    ingest(dataset, [tree_file(tmp, "aaa", 40, 1)])
    publish(dataset, tmp / "public", allow_identifiable=True)
    return {str(p.relative_to(tmp / "public")): p.read_bytes() for p in (tmp / "public").rglob("*") if p.is_file()}


@pytest.fixture
def server(tree: dict[str, bytes]) -> Iterator[HostileServer]:
    with HostileServer(dict(tree)) as hostile:
        yield hostile


def download(*args: str) -> Any:
    return CliRunner().invoke(main, ["download", *args])


def refused(result: Any, code: int, target: Path) -> None:
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert result.exit_code == code, result.output
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1
    assert not (target / "versions").exists() or not any((target / "versions").iterdir())
    assert not (target / "index.json").exists()
    assert not list(target.rglob("*.part"))


def test_a_body_past_the_manifests_bytes_is_cut_off(server: HostileServer, tmp_path: Path) -> None:
    server.behave["versions/v0001/comments.parquet"] = endless
    started = time.monotonic()
    result = download(server.url, "--to", str(tmp_path / "copy"))
    refused(result, EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert "more than the" in result.stderr
    assert time.monotonic() - started < 5  # stopped at the cap, not after 650 MB


def test_an_announced_length_past_the_manifest_is_refused_before_the_body(
    server: HostileServer, tmp_path: Path
) -> None:
    server.behave["versions/v0001/submissions.parquet"] = lying_length
    result = download(server.url, "--to", str(tmp_path / "copy"))
    refused(result, EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert "announces" in result.stderr


def test_a_dripping_server_meets_the_deadline(server: HostileServer, tmp_path: Path) -> None:
    server.behave["versions/v0001/comments.parquet"] = drip(server.stop)
    started = time.monotonic()
    result = download(server.url, "--to", str(tmp_path / "copy"), "--deadline", "0.5s", "--stall", "5s")
    refused(result, EXIT_TRY_LATER, tmp_path / "copy")
    assert "outlasted its deadline" in result.stderr and time.monotonic() - started < 5


def test_a_silent_server_is_a_stall(server: HostileServer, tmp_path: Path) -> None:
    server.behave["versions/v0001/comments.parquet"] = silent(server.stop)
    result = download(server.url, "--to", str(tmp_path / "copy"), "--stall", "0.3s")
    refused(result, EXIT_TRY_LATER, tmp_path / "copy")
    assert "sent nothing" in result.stderr


def _signed(server: HostileServer, manifest: Any) -> None:
    """Serve ``manifest`` for v0001 with an index that vouches for it (the attacker controls both)."""
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    server.files["versions/v0001/manifest.json"] = raw
    index = json.loads(server.files["index.json"])
    index["versions"][-1]["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
    server.files["index.json"] = json.dumps(index).encode()


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: [m],
        lambda m: {**m, "files": "comments.parquet"},
        lambda m: {**m, "files": {"comments.parquet": {"bytes": "1", "sha256": "x", "table": "comments"}}},
        lambda m: {**m, "files": {k: {**v, "bytes": -1} for k, v in m["files"].items()}},
        lambda m: {**m, "version": "v0002"},
        lambda m: {**m, "card": {"name": "../../README.md", "bytes": 1, "sha256": "0" * 64}},
        lambda m: b"[" * 50_000,
    ],
)
def test_malformed_manifests_are_refused(server: HostileServer, tmp_path: Path, damage: Callable[[Any], Any]) -> None:
    _signed(server, damage(json.loads(server.files["versions/v0001/manifest.json"])))
    refused(download(server.url, "--to", str(tmp_path / "copy")), EXIT_NEEDS_PERSON, tmp_path / "copy")


@pytest.mark.parametrize(
    "index",
    [
        b"",
        b"[]",
        b'{"versions": "v0001"}',
        b'{"versions": [1, 2]}',
        b'{"latest": "v0001", "versions": [{"version": "v0001", "manifest_sha256": 7}]}',
        b'{"latest": "../v0001", "versions": [{"version": "../v0001", "manifest_sha256": "' + b"0" * 64 + b'"}]}',
        b"{" * 100_000,
        b"\xff\xfe",
    ],
)
def test_malformed_indexes_are_refused(server: HostileServer, tmp_path: Path, index: bytes) -> None:
    server.files["index.json"] = index
    refused(download(server.url, "--to", str(tmp_path / "copy")), EXIT_NEEDS_PERSON, tmp_path / "copy")


def test_a_huge_index_is_refused(server: HostileServer, tmp_path: Path) -> None:
    server.behave["index.json"] = endless
    refused(download(server.url, "--to", str(tmp_path / "copy")), EXIT_NEEDS_PERSON, tmp_path / "copy")


def test_a_local_source_is_read_without_following_symlinks(tree: dict[str, bytes], tmp_path: Path) -> None:
    public = tmp_path / "public"
    for rel, data in tree.items():
        (public / rel).parent.mkdir(parents=True, exist_ok=True)
        (public / rel).write_bytes(data)
    host = tmp_path / "host-secret"
    host.write_bytes(b"a host file that must not be copied in\n")
    victim = public / "versions" / "v0001" / "comments.parquet"
    victim.unlink()
    os.symlink(host, victim)
    manifest = json.loads((public / "versions/v0001/manifest.json").read_bytes())
    manifest["files"]["comments.parquet"].update(
        bytes=host.stat().st_size, sha256=hashlib.sha256(host.read_bytes()).hexdigest()
    )
    raw = json.dumps(manifest).encode()
    (public / "versions/v0001/manifest.json").write_bytes(raw)
    index = json.loads((public / "index.json").read_bytes())
    index["versions"][-1]["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
    (public / "index.json").write_text(json.dumps(index))
    result = download(str(public), "--to", str(tmp_path / "copy"))
    refused(result, EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert "symbolic link" in result.stderr
    # a whole folder linked out of the tree is refused the same way, though every file in it matches
    outside = tmp_path / "outside"
    shutil.copytree(public / "versions", outside)  # the linked file copied as a plain one: all checksums hold
    shutil.rmtree(public / "versions")
    os.symlink(outside, public / "versions")
    result = download(str(public), "--to", str(tmp_path / "copy2"))
    refused(result, EXIT_NEEDS_PERSON, tmp_path / "copy2")
    assert f"{public / 'versions'} is a symbolic link" in result.stderr
    os.unlink(public / "versions")
    os.rename(outside, public / "versions")  # and the same files in place are downloaded
    assert download(str(public), "--to", str(tmp_path / "copy3")).exit_code == 0


def test_a_local_source_missing_a_file_or_holding_a_folder_in_its_place_names_it(
    tree: dict[str, bytes], tmp_path: Path
) -> None:
    public = tmp_path / "public"
    for rel, data in tree.items():
        (public / rel).parent.mkdir(parents=True, exist_ok=True)
        (public / rel).write_bytes(data)
    (public / "versions/v0001/comments.parquet").unlink()
    result = download(str(public), "--to", str(tmp_path / "copy"))
    refused(result, EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert f"{public}: no versions/v0001/comments.parquet" in result.stderr
    (public / "versions/v0001/comments.parquet").mkdir()
    result = download(str(public), "--to", str(tmp_path / "copy"))
    refused(result, EXIT_NEEDS_PERSON, tmp_path / "copy")
    assert f"{public}: versions/v0001/comments.parquet is not a file" in result.stderr


def status(code: int, headers: dict[str, str] | None = None) -> Serve:
    """Answer ``code`` with a small JSON body (and ``headers``), as a server refusing or failing does."""

    def serve(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        answer = b'{"error": "nope"}'
        handler.send_response(code)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)

    return serve


def expected_exit(code: int) -> int:
    """docs/OPERATIONS.md: 401/403 rejected credentials (2), other 4xx but 408/429 refused for good (1), else 75."""
    if code in (401, 403):
        return EXIT_CONFIG
    if 400 <= code < 500 and code not in (408, 429):
        return EXIT_NEEDS_PERSON
    return EXIT_TRY_LATER


@pytest.mark.parametrize("where", ["index.json", "versions/v0001/comments.parquet"])
@pytest.mark.parametrize("code", [400, 401, 403, 404, 408, 410, 429, 451, 500, 502, 503])
def test_each_http_status_exits_as_the_operations_guide_says(
    server: HostileServer, tmp_path: Path, code: int, where: str
) -> None:
    """Rejected credentials are a config error (fix the URL), a request refused for good needs a person,
    and only a timeout, a rate limit or a failing server is "try again" (adversarial review 5, F5)."""
    server.behave[where] = status(code, {"WWW-Authenticate": 'Basic realm="tree"'} if code == 401 else None)
    url = server.url.replace("http://", "http://reader:s3cret-pw@")
    result = download(url, "--to", str(tmp_path / "copy"))
    refused(result, expected_exit(code), tmp_path / "copy")
    assert "s3cret-pw" not in result.output
    if code == 404:
        assert "not found (404)" in result.stderr
    elif code in (401, 403):
        assert "fix the user and password" in result.stderr and "rejected the credentials" in result.stderr
        assert f"HTTP {code}" in result.stderr
    elif expected_exit(code) == EXIT_NEEDS_PERSON:
        assert "running again will not help" in result.stderr
    else:
        assert "run again" in result.stderr


def test_a_401_without_credentials_says_the_server_asks_for_them(server: HostileServer, tmp_path: Path) -> None:
    server.behave["index.json"] = status(401)
    result = download(server.url, "--to", str(tmp_path / "copy"))
    refused(result, EXIT_CONFIG, tmp_path / "copy")
    assert "asks for credentials" in result.stderr


def redirect(to: str) -> Serve:
    def serve(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        handler.send_response(302)
        handler.send_header("Location", to)
        handler.send_header("content-length", "0")
        handler.end_headers()

    return serve


@pytest.mark.parametrize("where", ["another host", "the same host"])
def test_a_401_after_a_redirect_names_the_server_that_answered(
    server: HostileServer, tmp_path: Path, where: str
) -> None:
    """Credentials go only to the URL's own host: a 401 from another host a redirect led to is not a rejected
    password, and the line names the URL that answered (adversarial review 6, F3)."""
    with HostileServer({"index.json": b"{}", "moved/index.json": b"{}"}) as other:
        target = other if where == "another host" else server
        target.behave["moved/index.json"] = status(401, {"WWW-Authenticate": 'Basic realm="tree"'})
        server.files["moved/index.json"] = b"{}"
        server.behave["index.json"] = redirect(f"{target.url}/moved/index.json")
        result = download(server.url.replace("http://", "http://reader:s3cret-pw@"), "--to", str(tmp_path / "copy"))
    refused(result, EXIT_CONFIG, tmp_path / "copy")
    assert "s3cret-pw" not in result.output
    assert f"(redirected to {target.url}/moved/index.json)" in result.stderr
    if where == "another host":
        assert "not sent to another host" in result.stderr and "rejected the credentials" not in result.stderr
    else:
        assert "rejected the credentials in the URL" in result.stderr


def test_a_429_names_the_wait_the_server_asks_for(server: HostileServer, tmp_path: Path) -> None:
    server.behave["index.json"] = status(429, {"Retry-After": "120"})
    result = download(server.url, "--to", str(tmp_path / "copy"))
    refused(result, EXIT_TRY_LATER, tmp_path / "copy")
    assert "asks to wait 120 s" in result.stderr


@given(code=st.integers(min_value=100, max_value=599).filter(lambda c: c not in (100, 101, 103, 200, 204, 304)))
@settings(max_examples=60, deadline=None)
def test_every_status_but_200_maps_to_its_documented_exit(code: int) -> None:
    """The whole range: each status other than 200 raises the error whose exit code the guide gives it
    (statuses http.client cannot read as a final answer, 1xx, and those without a body are left out)."""
    files = {"index.json": b"{}"}
    with HostileServer(files) as hostile:
        hostile.behave["index.json"] = status(code)
        fetcher = HttpFetcher(hostile.url.replace("http://", "http://u:pw@"))
        try:
            with pytest.raises(ScraperError) as caught:
                fetcher.read("index.json", 1024)
        finally:
            fetcher.client.close()
    assert caught.value.exit_code == expected_exit(code) and "pw" not in str(caught.value)

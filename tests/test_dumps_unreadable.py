"""`dumps` given a `.zst` that is not zstd: the one error line names the file and its fault, not the spec."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard

from scraper.dumps import ingest_dumps
from scraper.errors import InputError
from scraper.fake_arctic_shift.dumpfiles import write_zst
from tests import forked
from tests.conftest import write_spec
from tests.test_dump_spans import SPEC

LINE = json.dumps({"id": "p1", "subreddit": "MachineLearning", "created_utc": 1_500_000_000, "title": "t"}).encode()


def _not_zstd(kind: str) -> bytes:
    if kind == "plain":
        return LINE + b"\n"
    if kind == "gzip":
        return gzip.compress(LINE + b"\n")
    return zstandard.ZstdCompressor().compress(LINE * 50 + b"\n")[:20]  # cut before the first line ends


@pytest.mark.parametrize("kind", ["plain", "gzip", "cut"])
def test_the_error_line_names_the_file_that_could_not_be_read(tmp_path: Path, kind: str) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    path = tmp_path / "RS_2017-07.zst"
    path.write_bytes(_not_zstd(kind))
    with pytest.raises(InputError) as caught:
        ingest_dumps(folder, [path])
    message = str(caught.value)
    assert message.startswith("nothing kept from 1 dump file(s)")
    assert "1 file(s) could not be read: RS_2017-07.zst: zstd stream broken" in message
    assert "download it again" in message and "check the spec" not in message
    assert "\n" not in message
    assert not (folder / "versions").exists() or not any((folder / "versions").iterdir())


def test_with_other_files_read_the_spec_is_named_for_them(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    broken = tmp_path / "RS_2017-07.zst"
    broken.write_bytes(_not_zstd("gzip"))
    elsewhere = write_zst(
        tmp_path / "RS_2017-08.zst", [{"id": "x", "subreddit": "other", "created_utc": 1_501_600_000}]
    )
    with pytest.raises(InputError) as caught:
        ingest_dumps(folder, [broken, elsewhere])
    message = str(caught.value)
    assert "RS_2017-07.zst: zstd stream broken" in message and "RS_2017-08.zst" not in message
    assert "for the other files, check the spec's subreddits" in message


def test_the_cli_prints_one_error_line_naming_the_file(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    path = tmp_path / "RC_2017-07.zst"
    path.write_bytes(_not_zstd("plain"))
    done = forked.run(forked.cli("dumps", str(folder), str(path)), cwd=tmp_path, timeout=60)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "RC_2017-07.zst: zstd stream broken" in errors[0]
    assert "Traceback" not in done.stderr

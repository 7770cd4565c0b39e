"""What the CLI prints for people is inert text, and a reader that leaves early is no error.

F8 (adversarial review 5): ids, names and titles from the data reached the terminal raw (an OSC
``ESC ] 0 ; … BEL`` sets the window title, ``ESC [ 2 J`` clears the screen, U+202E turns a line
around; rich markup in a title was read as markup).  F11: ``validate D | head -1`` exited 74,
"Broken pipe; check the path and the disk".
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.table import Table

from scraper import cli
from scraper.errors import InputError
from scraper.terminal import inert, json_text
from tests import forked

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "reddit" / "samples" / "comments_fjn0j9_2020_medium.json"
HOSTILE = "ab\x1b]0;pwned-title\x07\x1b[2Jc"
NAME = "x\x1b]0;pwned\x07[bold]B[/bold]\u202eevil\x9b31m\ud800"


def controls(text: str) -> list[str]:
    """The characters in ``text`` a terminal acts on, or that move text around (all but newline)."""
    return [
        c
        for c in text
        if (c != "\n" and (unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in "\u061c\u200e\u200f"))
        or "\u202a" <= c <= "\u202e"
        or "\u2066" <= c <= "\u2069"
    ]


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset whose comment id holds an OSC and a clear-screen (ingest keeps it), and whose manifest's
    dataset name and created_at hold controls, rich markup, a bidi override, a C1 CSI and a lone surrogate."""
    if not SAMPLE.is_file():
        pytest.skip("../shared/reddit/samples is not present")
    work = tmp_path_factory.mktemp("hostile")
    answer = json.loads(SAMPLE.read_text(encoding="utf-8"))["response"]["json"]
    comment = answer[1]["data"]["children"][0]["data"]
    comment["id"] = HOSTILE
    comment["name"] = comment["parent_id"] = f"t1_{HOSTILE}"
    comment["replies"] = ""
    (work / "in.json").write_text(json.dumps(answer), encoding="utf-8")
    folder = work / "d"
    assert run("ingest", str(folder), str(work / "in.json")).exit_code == 0
    manifest_path = folder / "versions" / "v0001" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["dataset"] = manifest["created_at"] = NAME
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")  # json escapes the surrogate
    return folder


# F8: the one function every output goes through


def test_inert_escapes_every_control_and_keeps_the_rest() -> None:
    assert inert(HOSTILE) == "ab\\x1b]0;pwned-title\\x07\\x1b[2Jc"
    assert inert("a\u202eb\u2066c\x9bd\x7fe\ud800") == "a\\u202eb\\u2066c\\x9bd\\x7fe\\ud800"
    assert inert("one\ntwo\tthree\r") == "one\ntwo\\tthree\\r"
    assert inert("one\ntwo", newlines=False) == "one\\ntwo"
    kept = "Ünïcode 日本語 👨\u200d👩\u200d👧 [bold]x[/bold] C:\\path\\x1b"  # joiners, markup and backslashes stay
    assert inert(kept) == kept


def test_json_stays_exact_json_with_no_control_raw() -> None:
    payload = {"id": NAME, "n": [HOSTILE, "\u2028"]}
    text = json_text(payload)
    assert json.loads(text) == payload
    assert controls(text) == []


printable = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), max_size=6)
hostile_piece = st.sampled_from(
    ["\x1b]0;t\x07", "\x1b[2J", "\x1b]52;c;SGVsbG8=\x07", "\x1b]8;;http://x\x1b\\", "\x9b31m", "\x07", "\x00",
     "\r", "\t", "\n", "\u202e", "\u2066", "\u200f", "\u2028", "\x7f", "\ud83d", "[bold]", "[/]", "[red on white]",
     "[link=http://x]", "\\[", "\\"]
)  # fmt: skip
hostile_text = st.lists(st.one_of(printable, hostile_piece), min_size=1, max_size=6).map("".join)


def visible(text: str) -> str:
    """``text`` as the output shows it: escaped, without the whitespace a table may wrap at."""
    return re.sub(r"\s+", "", inert(text, newlines=False))


@settings(max_examples=150, deadline=None)
@given(name=hostile_text, cell=hostile_text)
def test_tables_print_data_inert_on_a_terminal_and_piped(name: str, cell: str) -> None:
    for terminal in (True, False):
        buffer = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("COLUMNS", "400")
            patch.setattr(sys, "stdout", buffer)
            patch.setattr(cli, "stdout_is_terminal", lambda terminal=terminal: terminal)
            table = Table("version", "examples", title=name)
            table.add_row(name, cell)
            cli.print_table(table)
        printed = buffer.getvalue()
        assert controls(printed.replace("\t", " ")) == [], (terminal, printed)
        flat = re.sub(r"\s+", "", printed)
        for text in (name, cell):
            shown = re.sub(r"\s+", "", inert(text.replace("\t", " ").replace("\n", " "), newlines=False))
            assert (visible(text) if terminal else shown) in flat, (terminal, text, printed)


@settings(max_examples=150, deadline=None)
@given(name=hostile_text)
def test_messages_logs_and_data_lines_are_inert(name: str) -> None:
    err, out = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stderr", err)
        patch.setattr(sys, "stdout", out)
        patch.setattr(cli.fatal_log, "error", lambda *a, **k: None)  # a lone surrogate cannot reach xdist's pipe
        with pytest.raises(SystemExit):
            cli.fail(InputError(name))
        cli.err.print(f"problem: {name}", soft_wrap=True)
        cli.out(f"comments added: {name}")
    record = logging.LogRecord("scraper", logging.WARNING, __file__, 1, "skipped %s", (name,), None)
    log_line = cli.InertFormatter("%(message)s").format(record)
    for printed in (err.getvalue(), out.getvalue(), log_line):
        assert controls(printed) == [], printed
    assert err.getvalue().count(f"error: {inert(name)}") == 1  # markup in the data printed as it is
    assert err.getvalue().count(f"problem: {inert(name)}") == 1
    assert out.getvalue() == f"comments added: {inert(name, newlines=False)}\n"
    assert log_line == f"skipped {inert(name)}"


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "{d}"),
        ("show", "{d}"),
        ("versions", "{d}"),
        ("show", "{d}", "--version", "v0009\x1b]0;t\x07"),  # an error line naming the argument
    ],
)
def test_commands_print_no_control_from_the_data(hostile: Path, args: tuple[str, ...]) -> None:
    result = run(*(a.format(d=hostile) for a in args))
    assert result.exit_code in (0, 1, 2)
    tsv = result.stdout.replace("\t", " ")  # the separators of tab-separated values
    assert controls(tsv) == [] and controls(result.stderr) == [], (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    if args[0] == "validate":
        assert "t1_ab\\x1b]0;pwned-title\\x07\\x1b[2jc" in result.stdout  # recognisably (ids are folded lower)
    elif len(args) == 2:
        assert "x\\x1b]0;pwned\\x07[bold]B[/bold]\\u202eevil\\x9b31m\\ud800" in result.stdout
    else:
        assert "v0009\\x1b]0;t\\x07" in result.stderr


def test_json_of_a_hostile_manifest_is_exact(hostile: Path) -> None:
    result = run("show", str(hostile), "--json")
    assert result.exit_code == 0 and controls(result.stdout) == []
    assert json.loads(result.stdout)["dataset"] == NAME


# F11: a reader that leaves early


def closed_pipe_on(fd: int, body: Callable[[], None]) -> Callable[[], None]:
    """In the child: ``fd`` is a pipe whose reader has gone already (as after ``| head -1``), then ``body``."""

    def child() -> None:
        read, write = os.pipe()
        os.close(read)
        os.dup2(write, fd)
        os.close(write)
        body()

    return child


COMMANDS = [
    ("validate", "{d}"),
    ("show", "{d}"),
    ("versions", "{d}"),
    ("versions", "{d}", "--json"),
    ("validate", "{d}", "--json"),
    ("diff", "{d}", "v0001", "v0001", "--values"),
]


@pytest.mark.parametrize("args", COMMANDS)
@pytest.mark.parametrize("fd", [1, 2])
def test_a_reader_gone_is_no_error(hostile: Path, args: tuple[str, ...], fd: int) -> None:
    """stdout (or stderr) a pipe nobody reads: the rest is dropped and the command ends with its own code."""
    argv = [a.format(d=hostile) for a in args]
    expected = run(*argv).exit_code  # validate: 1 (the hostile id is its own parent); the others 0
    for _ in range(3):
        child = forked.Forked(closed_pipe_on(fd, forked.cli(*argv)), stdout=forked.PIPE, stderr=forked.PIPE)
        stdout, stderr = child.communicate(timeout=60)
        assert child.returncode == expected, (stdout, stderr)
        kept = stderr if fd == 1 else stdout
        assert kept is not None
        assert "Broken pipe" not in kept and "EPIPE" not in kept and "Traceback" not in kept, kept
        assert "error" not in kept.lower().replace("errors", ""), kept


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A dataset whose diff prints more than a pipe holds (two versions of many comments)."""
    if not SAMPLE.is_file():
        pytest.skip("../shared/reddit/samples is not present")
    folder = tmp_path_factory.mktemp("big") / "d"
    answer = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert run("ingest", str(folder), str(SAMPLE)).exit_code == 0
    work = folder.parent / "more.json"
    children = answer["response"]["json"][1]["data"]["children"]
    for i, child in enumerate(children):
        child.get("data", {})["score"] = 10_000 + i
    work.write_text(json.dumps(answer), encoding="utf-8")
    assert run("ingest", str(folder), str(work)).exit_code == 0
    yield folder


def test_real_processes_piped_into_head_exit_quietly(big: Path) -> None:
    """The README's idioms, in a real shell and fresh interpreters: status 0, nothing on stderr but the
    command's own last line, no "Exception ignored" at interpreter exit."""
    python = sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    lines = []
    for command in (
        f"validate {big}",
        f"show {big}",
        f"diff {big} v0001 v0002 --values --limit 1000",
        f"diff {big} v0001 v0002 --json --values",
    ):
        lines.append(f'{python} -m scraper {command} 2>>"$E" | head -c 1 >/dev/null; echo "${{PIPESTATUS[0]}}"')
    script = "E=$(mktemp); " + "; ".join(lines) + '; cat "$E" >&2; rm -f "$E"'
    for _ in range(2):
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120)
        assert done.stdout.split() == ["0", "0", "0", "0"], (done.stdout, done.stderr)
        assert "Exception ignored" not in done.stderr and "Broken" not in done.stderr, done.stderr
        assert "error" not in done.stderr.lower(), done.stderr

"""tests/forked.py's children end as a new interpreter running the same script ends: status, streams, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests import forked

# Each script is run by `python -c` and by a forked child; both must end the same way.
SCRIPTS = {
    "ok": "import sys; print('out'); print('err', file=sys.stderr)",
    "exit 3": "import sys; sys.exit(3)",
    "exit with a message": "import sys; sys.exit('bad thing')",
    "uncaught error": "raise ValueError('boom')",
    "ctrl-c uncaught": "raise KeyboardInterrupt",
    "argv, env and folder": "import os, sys; print(sys.argv[1:], os.environ.get('FORKED_X'), os.getcwd())",
    "a warning is not an error": "import warnings; warnings.warn('careful'); print('went on')",
    "stdout is a pipe": "import sys; print(sys.stdout.isatty(), sys.stdin.read() == '')",
    "big output": "print('x' * 300000)",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_a_forked_child_ends_as_a_new_interpreter_does(name: str, tmp_path: Path) -> None:
    code = SCRIPTS[name]
    env = {**os.environ, "FORKED_X": "y"}
    real = subprocess.run(
        [sys.executable, "-c", code, "a", "b"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    child = forked.run(forked.script(code, "a", "b"), env=env, cwd=tmp_path)
    assert child.returncode == real.returncode
    assert child.stdout == real.stdout
    if name in ("uncaught error", "ctrl-c uncaught"):  # the same last line (the traceback's frames differ)
        assert child.stderr.strip().splitlines()[-1:] == real.stderr.strip().splitlines()[-1:] or (
            child.stderr == real.stderr == ""
        )
    elif name == "a warning is not an error":
        assert "UserWarning: careful" in child.stderr and "UserWarning: careful" in real.stderr
    else:
        assert child.stderr == real.stderr


def test_a_signal_and_a_kill_reach_the_child(tmp_path: Path) -> None:
    waiting = "import sys, time; print('ready', flush=True); time.sleep(60)"
    for number, status in ((signal.SIGINT, -signal.SIGINT), (signal.SIGKILL, -signal.SIGKILL)):
        child = forked.Forked(forked.script(waiting), stdout=forked.PIPE, stderr=forked.PIPE)
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        child.send_signal(number)
        _, err = child.communicate(timeout=30)
        assert child.returncode == status and child.pid != os.getpid()
        if number == signal.SIGINT:
            assert err is not None and err.strip().endswith("KeyboardInterrupt")


def test_the_cli_runs_as_python_m_scraper(tmp_path: Path) -> None:
    done = forked.run(forked.cli("versions", str(tmp_path / "nothing-here")))
    real = subprocess.run(
        [sys.executable, "-m", "scraper", "versions", str(tmp_path / "nothing-here")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (real.returncode, real.stdout, real.stderr)
    assert done.returncode != 0 and done.stderr.count("\n") == 1

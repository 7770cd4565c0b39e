"""The README's examples run as written, its spec example is a valid spec, and its links and the docs' links resolve."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.spec import DatasetSpec

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEMO = "build/demo/leaving-ml"


def block(name: str, language: str) -> str:
    found = re.search(rf"<!-- example: {name} -->\n```{language}\n(.*?)```", README, re.DOTALL)
    assert found is not None, f"README has no {name} example"
    return found.group(1)


def test_shell_example_runs(demo: Path) -> None:
    lines = [line for line in block("shell", "sh").splitlines() if line.strip()]
    assert lines
    for line in lines:
        words = shlex.split(line.replace(DEMO, str(demo)))
        assert words[:3] == ["python", "-m", "scraper"], line
        result = CliRunner().invoke(main, words[3:], catch_exceptions=False)
        assert result.exit_code == 0, (line, result.stderr)
        assert result.stdout.strip(), line  # data on stdout


def test_read_example_runs(demo: Path) -> None:
    code = block("read", "python").replace(DEMO, str(demo))
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert len(scope["comments"]) == 20  # type: ignore[arg-type]
    assert scope["subs"].height == 1  # type: ignore[attr-defined]


def test_spec_example_is_a_valid_spec() -> None:
    spec = DatasetSpec.model_validate(tomllib.loads(block("spec", "toml")))
    assert spec.dataset.name == "leaving-ml" and spec.pseudonymize.enabled
    assert spec.filter.matches("Why I quit", "")


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize(
    "doc", ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
)
def test_local_links_resolve(doc: str) -> None:
    path = ROOT / doc
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (path.parent / target).exists(), f"{doc} links to {target}, which does not exist"

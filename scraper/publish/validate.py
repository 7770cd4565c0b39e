"""Validate dataset versions: schema, checksums, keys, links, depth, statuses, timestamps.

``validate(path)`` takes a version folder, a dataset folder (every version) or a
downloaded copy, and returns a :class:`Report` of :class:`Check` results, each
with a count and a few example ids.  It reads only what it needs: the Parquet
footer for schemas and row counts, the bytes once for sha256, and columnar
scans through DuckDB for the rest.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from schemas import ARROW_SCHEMAS, SCHEMA_VERSION, schema_compatible
from schemas.upgrade import schema_problems
from scraper import duck
from scraper.errors import InputError, first_line
from scraper.spec import SPEC_FILE, ValidateOptions
from scraper.store.links import symlinks
from scraper.store.snapshot import MANIFEST_FORMAT, is_version_id, manifest_problem, sha256_file
from scraper.store.tablefile import PARQUET_ERRORS

EXAMPLES = 5
REDDIT_FOUNDED = datetime(2005, 6, 1, tzinfo=UTC)
#: Warn, do not fail, while orphans stay under this share of comments (windowed collections have some);
#: a dataset sets its own with ``[validate] orphan_warn`` in dataset.toml.
ORPHAN_WARN_SHARE = 0.05


@dataclass
class Check:
    """One check on one version: ``ok``, ``warn`` or ``fail``, with a count and example ids."""

    version: str
    name: str
    status: str
    count: int = 0
    detail: str = ""
    examples: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "version": self.version,
            "check": self.name,
            "status": self.status,
            "count": self.count,
            "detail": self.detail,
            "examples": self.examples,
        }


@dataclass
class Report:
    """Every check of every version validated."""

    path: str
    checks: list[Check] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """No check failed (warnings allowed)."""
        return all(c.status != "fail" for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"path": self.path, "valid": self.valid, "checks": [c.as_json() for c in self.checks]}

    def markdown(self) -> str:
        """A Markdown table, for ``$GITHUB_STEP_SUMMARY``."""
        icon = {"ok": "✅", "warn": "⚠️", "fail": "❌"}
        lines = [
            f"### validate `{self.path}`: {'valid' if self.valid else 'INVALID'}",
            "",
            "| version | check | status | count | detail | examples |",
            "|---|---|---|---:|---|---|",
        ]
        for c in self.checks:
            lines.append(
                f"| {c.version} | {c.name} | {icon[c.status]} {c.status} | {c.count} | {c.detail} | "
                f"{', '.join(f'`{e}`' for e in c.examples)} |"
            )
        return "\n".join(lines) + "\n"


def _read_index(index_path: Path) -> dict[str, Any] | str | None:
    """The parsed index, None when there is none, or what is wrong with it."""
    if not index_path.is_file():
        return None
    try:
        index = json.loads(index_path.read_bytes())
    except (ValueError, RecursionError) as exc:
        return f"index.json is not JSON ({str(exc)[:120]})"
    if not isinstance(index, dict) or not isinstance(index.get("versions"), list):
        return "index.json is not an object with a list of versions"
    if not all(isinstance(e, dict) for e in index["versions"]):
        return "index.json lists a version that is not an object"
    return index


def _version_dirs(path: Path) -> tuple[list[Path], dict[str, Any] | str | None, list[str]]:
    """The version folders under ``path``, the dataset's index (or its damage), and folders without a manifest."""
    if (path / "manifest.json").is_file():
        return [path], _read_index(path.parent.parent / "index.json"), []
    index_path = path / "index.json"
    if not index_path.is_file() and not (path / "versions").is_dir():
        raise InputError(f"{path}: neither a version folder (manifest.json) nor a dataset folder (index.json)")
    folders = sorted(p for p in (path / "versions").iterdir() if p.is_dir()) if (path / "versions").is_dir() else []
    found = [p for p in folders if (p / "manifest.json").is_file()]
    headless = [p.name for p in folders if not (p / "manifest.json").is_file() and is_version_id(p.name)]
    return found, _read_index(index_path), headless


def validate(path: Path, *, orphan_warn_share: float | None = None) -> Report:
    """Validate every version at ``path``; see the module docstring.

    Comments without their submission or parent comment (orphans) warn up to
    ``orphan_warn_share`` of the comments and fail above; without it, the share
    is the dataset's ``[validate] orphan_warn``, else :data:`ORPHAN_WARN_SHARE`.
    """
    if not path.exists():
        raise InputError(f"{path}: no such folder")
    if not path.is_dir():
        raise InputError(f"{path}: not a folder (give a dataset folder or a version folder)")
    if orphan_warn_share is None:
        orphan_warn_share = dataset_orphan_warn(path)
    versions, index, headless = _version_dirs(path)
    report = Report(str(path))
    single = (path / "manifest.json").is_file()
    links = sorted(p for p in path.iterdir() if p.is_symlink()) if single else symlinks(path)
    if links:
        report.checks.append(
            Check(
                "versions",
                "no symbolic links",
                "fail",
                len(links),
                "a version folder or file that is a symbolic link: the dataset depends on what it points at; "
                "replace it with the folder or file itself",
                [str(p.relative_to(path)) for p in links[:EXAMPLES]],
            )
        )
    if headless:
        report.checks.append(
            Check(
                "versions",
                "every version folder has its manifest",
                "fail",
                len(headless),
                "version folders without manifest.json: damaged or half-removed (they vanish from the index)",
                headless[:EXAMPLES],
            )
        )
    odd = [p.name for p in versions if p.parent.name == "versions" and not is_version_id(p.name)]
    if odd and not (path / "manifest.json").is_file():
        report.checks.append(
            Check(
                "versions",
                "version folder names",
                "fail",
                len(odd),
                "not a version id in its one form (v0001, v0002, … v10000): rename or remove them",
                odd[:EXAMPLES],
            )
        )
    if isinstance(index, str):
        report.checks.append(Check("index", "index", "fail", 1, index))
    elif index is not None:
        report.checks.extend(
            _check_index(path if (path / "index.json").is_file() else path.parent.parent, index, versions)
        )
    for folder in versions:
        report.checks.extend(_validate_version(folder, orphan_warn_share))
    if versions:  # a lone version too: its parent cannot be itself or a later one (adversarial review 5, F2)
        report.checks.extend(_check_lineage(versions))
    if not versions:
        report.checks.append(Check("-", "versions", "fail", 0, "no versions found"))
    return report


def dataset_orphan_warn(path: Path) -> float:
    """``[validate] orphan_warn`` of the dataset that ``path`` (a dataset or version folder) belongs to."""
    root = path.parent.parent if (path / "manifest.json").is_file() else path
    spec = root / SPEC_FILE
    if not spec.is_file():
        return ORPHAN_WARN_SHARE
    try:
        section = tomllib.loads(spec.read_text(encoding="utf-8")).get("validate") or {}
        return ValidateOptions.model_validate(section).orphan_warn
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{spec}: [validate] cannot be read ({first}); fix it or pass --orphan-warn") from None


def _check_index(root: Path, index: dict[str, Any], versions: list[Path]) -> list[Check]:
    listed = [str(e.get("version")) for e in index.get("versions") or [] if isinstance(e, dict)]
    entries = {str(e.get("version")): e for e in index.get("versions") or [] if isinstance(e, dict)}
    twice = sorted({v for v in listed if listed.count(v) > 1})  # which entry would be the version? (adv. 5, F9)
    bad: list[str] = [f"{v} (listed twice)" for v in twice]
    for folder in versions:
        entry = entries.get(folder.name)
        if entry is None or sha256_file(folder / "manifest.json") != entry.get("manifest_sha256"):
            bad.append(folder.name)
    missing = [v for v in entries if not is_version_id(v) or not (root / "versions" / v / "manifest.json").is_file()]
    latest_ok = index.get("latest") in entries or (index.get("latest") is None and not entries)
    problems = bad + [f"{v} (listed, absent)" for v in missing] + ([] if latest_ok else ["latest"])
    status = "ok" if not bad and latest_ok else "fail"
    if missing and status == "ok":
        status = "warn"  # a download holds only some versions
    detail = (
        "manifests match index.json"
        if status == "ok"
        else "manifest sha256 or latest disagree with index.json, or it lists a version twice"
    )
    return [Check("index", "index", status, len(problems), detail, problems[:EXAMPLES])]


def _check_lineage(versions: list[Path]) -> list[Check]:
    """Each version's ``parent`` is an earlier version; ``created_at`` does not go back in time.

    A parent that is the version itself or a later one cannot come from this tool (a version's
    parent is the latest before it): a damaged or edited manifest, so it fails.  A creation time
    earlier than an earlier version's only warns: clocks are set back, and versions are written
    on other machines, while the data may be sound.
    """
    order: list[tuple[str, str | None, datetime | None]] = []
    names: dict[str, str] = {}  # version -> the dataset its manifest names
    for folder in versions:
        try:
            manifest = json.loads((folder / "manifest.json").read_bytes())
        except (OSError, ValueError, RecursionError):
            continue  # the version's own checks report it
        if not isinstance(manifest, dict) or not is_version_id(folder.name):
            continue
        parent = manifest.get("parent")
        order.append((folder.name, parent if isinstance(parent, str) else None, _when(manifest.get("created_at"))))
        names[folder.name] = str(manifest.get("dataset"))
    order.sort(key=lambda v: int(v[0][1:]))
    later = [
        f"{vid} (parent {parent})"
        for vid, parent, _ in order
        if parent is not None and (not is_version_id(parent) or int(parent[1:]) >= int(vid[1:]))
    ]
    backwards = []
    latest: tuple[str, datetime] | None = None
    for vid, _, when in order:
        if when is None:
            continue
        if latest is not None and when < latest[1]:
            backwards.append(f"{vid} (created before {latest[0]})")
        if latest is None or when > latest[1]:
            latest = (vid, when)
    counts = Counter(names.values())
    usual = counts.most_common(1)[0][0] if counts else ""
    foreign = [f"{vid} (dataset {name[:40]!r})" for vid, name in sorted(names.items()) if name != usual]
    return [
        Check(
            "versions",
            "each parent is an earlier version",
            "fail" if later else "ok",
            len(later),
            "a manifest names itself, a later version or no version id as its parent: damaged or edited"
            if later
            else "all",
            later[:EXAMPLES],
        ),
        Check(
            "versions",
            "created_at in version order",
            "warn" if backwards else "ok",
            len(backwards),
            "a version was created before an earlier one: a clock set back, or written elsewhere (reported, "
            "not refused)"
            if backwards
            else "in order",
            backwards[:EXAMPLES],
        ),
        Check(
            "versions",
            "every version is of one dataset",
            "warn" if foreign else "ok",
            len(foreign),
            f"versions naming another dataset than {usual!r}: a rename in dataset.toml, or a version of another "
            "dataset (download refuses those; reported, not refused)"
            if foreign
            else "one dataset",
            foreign[:EXAMPLES],
        ),
    ]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _validate_version(folder: Path, orphan_warn_share: float) -> list[Check]:
    version = folder.name
    checks: list[Check] = []
    try:
        manifest = json.loads((folder / "manifest.json").read_bytes())
    except (ValueError, RecursionError) as exc:
        return [Check(version, "manifest", "fail", 1, f"manifest.json is not JSON: {str(exc)[:120]}")]
    expected_version = version if is_version_id(version) else None  # a version folder given on its own
    if problem := manifest_problem(manifest, expected_version):
        return [Check(version, "manifest", "fail", 1, f"manifest.json is damaged: {problem}")]
    schema_ok = schema_compatible(manifest.get("schema_version"))
    checks.append(
        Check(
            version,
            "schema version",
            "ok" if schema_ok else "fail",
            0 if schema_ok else 1,
            f"manifest {manifest.get('schema_version')}, tool {SCHEMA_VERSION}",
        )
    )
    files = {info.get("table"): (name, info) for name, info in (manifest.get("files") or {}).items()}
    readable: dict[str, Path] = {}
    for stem in ARROW_SCHEMAS:
        if stem not in files:
            checks.append(Check(version, f"{stem}: file", "fail", 1, "not listed in manifest.json"))
            continue
        name, info = files[stem]
        path = folder / name
        if "/" in name or not path.is_file():
            checks.append(Check(version, f"{stem}: file", "fail", 1, f"{name} missing"))
            continue
        integrity = _check_integrity(version, stem, path, info)
        checks.append(integrity)
        schema_check = _check_schema(version, stem, path)
        checks.append(schema_check)
        if schema_check.status == "ok" and integrity.status == "ok":
            readable[stem] = path
    checks.append(_check_facts(version, manifest, files))
    card = manifest.get("card")
    if isinstance(card, dict):
        path = folder / str(card.get("name"))
        ok = path.is_file() and path.stat().st_size == card.get("bytes") and sha256_file(path) == card.get("sha256")
        checks.append(
            Check(
                version,
                "card: sha256, bytes",
                "ok" if ok else "fail",
                0 if ok else 1,
                "README.md matches manifest.json" if ok else "README.md missing or changed",
            )
        )
    if set(readable) == set(ARROW_SCHEMAS):
        try:
            source = manifest.get("source")
            # comments kept by subreddit from comment dumps alone come without their threads by design
            unlinked = isinstance(source, dict) and source.get("threads_from_submissions") is False
            checks.extend(
                _check_rows(
                    version, readable["submissions"], readable["comments"], orphan_warn_share, unlinked=unlinked
                )
            )
            checks.append(_check_loops(version, readable["comments"]))
        except duckdb.Error as exc:
            checks.append(Check(version, "rows", "fail", 1, f"cannot scan the files: {exc}"))
    else:
        checks.append(Check(version, "rows", "fail", 1, "row checks skipped: a file failed its integrity or schema"))
    return checks


#: How far past this machine's clock a version's ``created_at`` may be before it is called a lie (clocks differ).
FUTURE_SLACK_S = 86_400


def _check_facts(version: str, manifest: dict[str, Any], files: dict[Any, tuple[str, dict[str, Any]]]) -> Check:
    """What the manifest says of itself agrees with what it is (adversarial review 5, F2).

    Its ``format`` is this tool's (when given: the oldest manifests have none); ``created_at`` is
    a time, and not a day or more after now; ``stats.submissions``/``stats.comments`` (when given)
    are the rows its files hold.  ``show`` and the card print these figures, so a manifest edited
    to say otherwise is damaged or edited, as a wrong checksum is.
    """
    problems = []
    given = manifest.get("format")
    if given is not None and given != MANIFEST_FORMAT:
        problems.append(f"format {str(given)[:60]!r} is not {MANIFEST_FORMAT}")
    if "created_at" in manifest:
        when = _when(manifest.get("created_at"))
        if when is None:
            problems.append(f"created_at {str(manifest.get('created_at'))[:40]!r} is not a time")
        elif (when - datetime.now(UTC)).total_seconds() > FUTURE_SLACK_S:
            problems.append(f"created_at {manifest['created_at']} is in the future")
    stats = manifest.get("stats") or {}
    for stem in ARROW_SCHEMAS:
        said, info = stats.get(stem), files.get(stem, ("", {}))[1]
        rows = info.get("rows")
        if isinstance(said, int) and not isinstance(said, bool) and isinstance(rows, int) and said != rows:
            problems.append(f"stats.{stem} {said} != the {info['rows']} rows of its file")
    return Check(
        version,
        "manifest: format, created_at, stats",
        "fail" if problems else "ok",
        len(problems),
        "; ".join(problems) or "the manifest's own facts agree with its files",
    )


def _check_integrity(version: str, stem: str, path: Path, info: dict[str, Any]) -> Check:
    problems = []
    size = path.stat().st_size
    if size != info.get("bytes"):
        problems.append(f"bytes {size} != {info.get('bytes')}")
    if sha256_file(path) != info.get("sha256"):
        problems.append("sha256 differs")
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except (*PARQUET_ERRORS, OSError) as exc:
        problems.append(f"not Parquet: {first_line(exc)}")
    else:
        if rows != info.get("rows"):
            problems.append(f"rows {rows} != {info.get('rows')}")
    return Check(
        version,
        f"{stem}: sha256, bytes, rows",
        "fail" if problems else "ok",
        len(problems),
        "; ".join(problems) or f"{info.get('rows')} rows match manifest.json",
    )


def _check_schema(version: str, stem: str, path: Path) -> Check:
    try:
        actual = pq.read_schema(path)
    except (*PARQUET_ERRORS, OSError) as exc:
        return Check(version, f"{stem}: schema", "fail", 1, f"unreadable footer: {first_line(exc)}")
    problems = schema_problems(stem, actual)
    return Check(
        version,
        f"{stem}: schema",
        "fail" if problems else "ok",
        len(problems),
        "; ".join(problems[:EXAMPLES]) or "matches the models",
    )


#: Each row check: (name, condition on the row and its joined parent, detail when none fail, what a hit is:
#: ``fail``, ``share`` (warns while under the orphan share of the comments, fails above) or ``warn``).
#: ``c`` is a comment, ``p`` its parent comment (absent: NULL), ``s_name`` its submission's name if held;
#: ``x`` a submission.
_TIME = (
    "{t}.created_utc > {t}.retrieved_at + interval 1 day or {t}.edited < {t}.created_utc "
    "or {t}.retrieved_at > now() + interval 1 day"
)
#: A creation time before Reddit existed only warns: the monthly dumps really carry such lines (RC_2025-01
#: holds one dated 2001, ../shared/archives §3.3), and real data is reported, never refused.
_FOUNDED = "{t}.created_utc < TIMESTAMPTZ '" + REDDIT_FOUNDED.isoformat() + "'"
_COMMENT_CHECKS: list[tuple[str, str, str, Literal["fail", "share", "warn"]]] = [
    ("comment link_id has its submission", "s_name is null", "all linked", "share"),
    ("parent_id has its parent", "c.parent_id like 't1_%' and p_name is null", "no orphans", "share"),
    ("no comment is its own parent", "c.parent_id = c.name", "none", "fail"),
    # A parent held in another thread (its link_id differs): a damaged or edited input; a parent not held
    # at all is an orphan (above), which archives really have (adversarial review 5, F6).
    ("a reply's parent is in its own thread", "c.link_id <> p_link", "every parent in its reply's thread", "fail"),
    (
        "parent_id of top-level comments is their link",
        "c.parent_id like 't3_%' and c.parent_id <> c.link_id",
        "all consistent",
        "fail",
    ),
    (
        "depth is parent's depth + 1",
        "(c.parent_id like 't3_%' and c.depth is not null and c.depth <> 0) "
        "or (p_depth is not null and c.depth is not null and c.depth <> p_depth + 1)",
        "consistent",
        "fail",
    ),
    (
        "status agrees with content",
        "(c.status <> 'visible' and (c.author is not null or c.body <> '')) "
        # status_of: "[removed]" always removes; "[deleted]" deletes only with the author gone (a live author
        # may write "[deleted]" over their own comment: WIRE-FORMAT §7, the body with the author decides)
        "or (c.status = 'visible' and (c.author is null or c.body in ('[removed]', '[ Removed by Reddit ]')))",
        "tombstones carry no text",
        "fail",
    ),
    ("timestamps within bounds", _TIME.format(t="c"), "created ≤ edited, created ≤ retrieved ≤ now", "fail"),
    ("created after Reddit's founding (2005-06)", _FOUNDED.format(t="c"), "all", "warn"),
]
_SUBMISSION_CHECKS: dict[str, str] = {
    # A visible submission may lack its author: archive lines of 2011-2013 sometimes have no author key.
    "status agrees with content": "(x.status <> 'visible' and (x.author is not null or x.title <> '' "
    "or x.selftext <> '')) or (x.status = 'visible' and (x.selftext in ('[removed]', '[ Removed by Reddit ]') "
    "or (x.author is null and x.selftext = '[deleted]')))",  # status_of: a removal marker always removes
    "timestamps within bounds": _TIME.format(t="x"),
    "created after Reddit's founding (2005-06)": _FOUNDED.format(t="x"),
}


def _check_loops(version: str, comments: Path) -> Check:
    """No comment's chain of parents comes back to itself (adversarial review 5, F3).

    Reddit's comments form trees; a loop (``a`` the parent of ``b``, ``b`` of ``a``) is a damaged or
    edited input, and code that walks a chain up to its submission (``path_to_root``, a
    researcher's own) would never end.  Around a loop ``depth`` cannot rise by one at each step,
    so every loop holds a comment without a depth, or the depth check already fails: the chains
    are followed only when some depth is missing.  Pointer jumping (numpy): each round every
    unfinished comment's pointer doubles its reach; a chain longer than the table has rows loops.
    """
    name = "parent chains end (no loops)"
    try:
        file = pq.ParquetFile(comments)
        if file.read(columns=["depth"])["depth"].null_count == 0:
            return Check(version, name, "ok", 0, "every comment has its depth: no loop can hide")
        table = file.read(columns=["name", "parent_id"])
    except (*PARQUET_ERRORS, OSError) as exc:
        return Check(version, name, "fail", 1, f"cannot read the comments: {first_line(exc)}")
    names = table["name"].combine_chunks()
    up = pc.fill_null(pc.index_in(table["parent_id"].combine_chunks(), value_set=names), -1)
    ptr = up.to_numpy(zero_copy_only=False).astype(np.int64)
    live = np.flatnonzero(ptr >= 0)
    for _ in range(max(1, len(ptr).bit_length() + 1)):
        if live.size == 0:
            break
        ptr[live] = ptr[ptr[live]]
        live = live[ptr[live] >= 0]
    if live.size == 0:
        return Check(version, name, "ok", 0, "every chain of parents ends at a submission or an orphan")
    on_loop = np.unique(ptr[live])  # 2^k steps on from a looping chain, past any tail: on the loop itself
    examples = sorted(names.take(pa.array(on_loop)).to_pylist())[:EXAMPLES]
    return Check(
        version,
        name,
        "fail",
        int(live.size),
        f"{live.size} comments have a chain of parents that loops ({on_loop.size} on the loops): a damaged or "
        "edited input; build the version again without it (ingest --replace with the other inputs)",
        examples,
    )


def _check_rows(
    version: str, submissions: Path, comments: Path, orphan_warn_share: float, *, unlinked: bool = False
) -> list[Check]:
    """Every row check's count in one statement; examples only for the checks that found something.

    The statement scans the comments with their parent and submission joined (one flag per
    comment check), the submissions (one flag per submission check) and every name (for
    duplicates).  A comment is counted once per match of its joins, as a join per check would
    count it.  Planning and starting a statement costs more than scanning a small version, so
    the examples of a failing check are a second statement over the same joins.
    """
    con = duck.connect()
    try:
        con.read_parquet(str(submissions)).create_view("s")
        con.read_parquet(str(comments)).create_view("c")
        flags = ", ".join(f"coalesce({cond}, false) as f{i}" for i, (_, cond, _, _) in enumerate(_COMMENT_CHECKS))
        sub_flags = ", ".join(f"coalesce({cond}, false) as g{i}" for i, cond in enumerate(_SUBMISSION_CHECKS.values()))
        # The SQL is this module's own constants; no value from the data is spliced in.
        flagged_c = (
            f"select c.name, {flags} from c "  # noqa: S608
            "left join (select name as p_name, depth as p_depth, link_id as p_link from c) p on c.parent_id = p.p_name "
            "left join (select name as s_name from s) on c.link_id = s_name"
        )
        flagged_s = f"select x.name, {sub_flags} from s x"  # noqa: S608
        dup = "select name from (select name from s union all select name from c) group by name having count(*) > 1"
        c_counts = ", ".join(f"count(*) filter (where f{i})" for i in range(len(_COMMENT_CHECKS)))
        s_counts = ", ".join(f"count(*) filter (where g{i})" for i in range(len(_SUBMISSION_CHECKS)))
        row = con.execute(
            f"select (select count(*) from c), (select count(*) from ({dup})), "  # noqa: S608
            f"(select [{c_counts}] from ({flagged_c})), (select [{s_counts}] from ({flagged_s}))"
        ).fetchall()[0]
        n_comments, n_dup, c_hits, s_hits = row[0], row[1], list(row[2]), list(row[3])

        def examples(sql: str, count: int) -> list[str]:
            return [str(r[0]) for r in con.execute(f"{sql} limit {EXAMPLES}").fetchall()] if count else []

        checks = []

        def add(name: str, count: int, examples: list[str], ok_detail: str, warn_under: float | None) -> None:
            status = "ok" if count == 0 else "fail"
            detail = ok_detail
            if count and warn_under == math.inf:
                status, detail = "warn", f"{count} rows (reported, not refused: the data is real)"
            elif count and warn_under is not None and count <= warn_under * max(n_comments, 1):
                status, detail = "warn", f"{count / max(n_comments, 1):.1%} of comments (warn up to {warn_under:.0%})"
            elif count:
                detail = f"{count} rows"
            checks.append(Check(version, name, status, count, detail, examples))

        add("unique fullnames", n_dup, examples(dup, n_dup), "every name once", None)
        sub_names = list(_SUBMISSION_CHECKS)
        for i, (name, _, ok_detail, kind) in enumerate(_COMMENT_CHECKS):
            count = c_hits[i]
            sql = f"select name from ({flagged_c}) where f{i}"  # noqa: S608
            if name in _SUBMISSION_CHECKS:
                j = sub_names.index(name)
                count += s_hits[j]
                sql += f" union all select name from ({flagged_s}) where g{j}"  # noqa: S608
            # a version built from comment dumps alone holds no threads by design: its manifest says so
            hit = "warn" if unlinked and name == "comment link_id has its submission" else kind
            add(
                name,
                count,
                examples(sql, count),
                ok_detail,
                {"fail": None, "share": orphan_warn_share, "warn": math.inf}[hit],
            )
    finally:
        con.close()
    return checks

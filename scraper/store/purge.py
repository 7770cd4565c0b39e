"""Purge: remove given items' text from every stored version and from the raw archive.

For removal requests.  It is the one operation that rewrites stored files:
each version's Parquet files get the items as ``purged`` rows (ids, links,
timestamps and score kept, text, URL and author emptied, as tombstones), the
manifests, cards and ``index.json`` get the new checksums and a ``purges``
entry, the raw archive's responses and the quarantine files lose the items'
text and author, and ``purges.jsonl`` records when and which fullnames were
purged.  Every file is rewritten beside itself and renamed over it.

A purge stays purged: ``purges.jsonl`` is read back (:func:`purged_fullnames`, the one
reader) by every path that makes rows or archives responses.  The streaming builder
applies it column-wise while merging; the in-memory reference path
(``scraper.build.write_rows``, which the tests hold the streaming build to) calls
:func:`apply_purges`; sources that build flat rows (the dump reader) call
:func:`purge_batch` and :func:`purged_quarantine_entry`; and :class:`PurgingArchive` blanks
the purged items in every response before it reaches the raw archive, so a refresh or a new
collection that meets the item on Reddit again never stores its text.

Fullnames are given in any case and recorded in Reddit's (lower-case base 36); stored names
are matched case-blind, so an item a version written before ids were lowered holds as
``t1_AbC12`` is purged by ``t1_abc12`` or ``t1_AbC12`` alike (adversarial review 4, F1).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from schemas import ARROW_SCHEMAS, Comment, Status, Submission
from scraper.errors import InputError, IntegrityError, first_line
from scraper.normalize.ids import lower_id, lower_ids
from scraper.normalize.policy import tombstone
from scraper.normalize.rows import RowSet
from scraper.publish.card import file_row, status_sentence
from scraper.store.encoding import writer_options
from scraper.store.killpoints import killpoint
from scraper.store.links import refuse_symlinks
from scraper.store.lock import dataset_lock
from scraper.store.raw import RawArchive, archive_files, read_records
from scraper.store.snapshot import (
    RESTORE,
    STAGING_DIR,
    Dataset,
    copy_file_atomic,
    drop_empty_staging,
    fsync_folder,
    make_staging_dir,
    pid_alive,
    replace_dir,
    rows_to_table,
    sha256_file,
    table_files,
    write_json_atomic,
    write_json_lines_atomic,
)
from scraper.store.tablefile import PARQUET_ERRORS, checked_schema, read_error
from scraper.store.writers import parquet_writer, write_batch

_FULLNAME = re.compile(r"t[13]_[0-9a-z]{1,13}")
#: A fullname as a user may give it: any case (an item an older version stored as ``t1_AbC12``; F1).
_GIVEN_FULLNAME = re.compile(r"(?i:t[13]_[0-9a-z]{1,13})")
PURGES_FILE = "purges.jsonl"
RowT = TypeVar("RowT", Submission, Comment)
TEXT_FIELDS = (
    "body",
    "body_html",
    "selftext",
    "selftext_html",
    "title",
    "author",
    "author_fullname",
    "author_flair_text",
    "url",
    "url_overridden_by_dest",
    "link_title",
    "permalink",
)


def _key(name: Any) -> Any:
    """A stored fullname as purges name it: in Reddit's case (a version written before ingest lowered ids may
    hold ``t1_AbC12``; purges record ``t1_abc12``)."""
    return lower_id(name)


def _keys(column: pa.Array | pa.ChunkedArray) -> Any:
    """:func:`_key` of each value of a ``name`` column."""
    return lower_ids(column)


def _nothing(hits: int) -> None:
    """No progress to record."""


def _replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.purge")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _purge_rows(path: Path, out_path: Path, stem: str, names: set[str], hit_names: set[str]) -> int:
    """Write ``path``'s rows with the purged items tombstoned to ``out_path``, if any changed; count them
    (and add their fullnames to ``hit_names``).

    The file is streamed: :data:`READ_ROWS` rows at a time are read and checked as models, and the
    rewritten rows are held only until a row group of :data:`GROUP_ROWS` is complete, so what a purge
    holds does not grow with the table.  The row groups are those a whole-table write makes (pyarrow's
    default size, each one contiguous), so the file's bytes and checksum are what the rewrite wrote when
    it read the table whole.  Every row is checked, even in a file that holds none of the items.
    """
    checked_schema(path, stem)  # its table, in a schema this tool reads: or refused by name
    hits = 0
    if not _holds_any(path, names):  # nothing to write; every row is still checked, as before
        for _ in _checked_rows(path, stem):
            pass
        return 0
    with parquet_writer(out_path, ARROW_SCHEMAS[stem], **writer_options(stem)) as writer:
        held: list[pa.Table] = []  # the rows of the row group being filled, never more than GROUP_ROWS
        held_rows = 0
        for rows in _checked_rows(path, stem):
            out, found = purge_rows(rows, names)
            hits += found
            hit_names.update(_key(new.name) for old, new in zip(rows, out, strict=True) if new != old)
            rest = rows_to_table(stem, out)
            while rest.num_rows:
                take = min(GROUP_ROWS - held_rows, rest.num_rows)
                held.append(rest.slice(0, take))
                held_rows += take
                rest = rest.slice(take)
                if held_rows == GROUP_ROWS:
                    _write_group(writer, out_path, held)
                    held, held_rows = [], 0
        if held_rows:
            _write_group(writer, out_path, held)
    if not hits:  # every named row was a purged tombstone already
        out_path.unlink()
    return hits


#: Rows a purge reads (and turns into models) at a time.
READ_ROWS = 16 * 1024
#: Rows of each row group a purge writes: pyarrow's default for a whole table, which the rewrite used
#: when it read the table whole (so the files it writes are the same bytes).
GROUP_ROWS = 1024 * 1024


def _write_group(writer: pq.ParquetWriter, path: Path, parts: list[pa.Table]) -> None:
    """One row group of ``parts``, in one contiguous chunk (as a whole-table write lays it out)."""
    write_batch(writer, path, pa.concat_tables(parts).combine_chunks(), row_group_size=GROUP_ROWS)


def _holds_any(path: Path, names: set[str] | frozenset[str]) -> bool:
    """Whether the Parquet file holds a row named in ``names`` (any case); reads the ``name`` column only."""
    wanted = pa.array(sorted(names), pa.string())
    return any(pc.any(pc.is_in(_keys(batch.column(0)), value_set=wanted)).as_py() for batch in _read(path, ["name"]))


def _read(path: Path, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The file's rows, :data:`READ_ROWS` at a time; a file that does not read is refused by name."""
    try:
        yield from pq.ParquetFile(path).iter_batches(batch_size=READ_ROWS, columns=columns, use_threads=False)
    except (*PARQUET_ERRORS, OSError) as exc:
        raise read_error(exc, path) from None


def _checked_rows(path: Path, stem: str) -> Iterator[list[Any]]:
    """The rows of ``path`` as models, :data:`READ_ROWS` at a time; a row no model takes is refused by name."""
    model: type[Submission] | type[Comment] = Submission if stem == "submissions" else Comment
    for batch in _read(path):
        try:
            rows: list[Any] = [model.model_validate(r) for r in batch.to_pylist()]
        except ValidationError as exc:  # a file that matched its manifest and schema, holding a value no row can have
            raise IntegrityError(
                f"{path} holds a row that is not a {stem[:-1]} ({first_line(exc)}); {RESTORE}"
            ) from None
        yield rows


def _purged(item: RowT) -> RowT:
    return tombstone(item.model_copy(update={"status": Status.PURGED}))


def purged_fullnames(dataset_dir: Path) -> frozenset[str]:
    """Every fullname ever purged from the dataset, from ``purges.jsonl`` (empty if there is none).

    A damaged log is an integrity error, never an empty list: reading it wrong would
    bring purged text back.
    """
    return frozenset(n for entry in read_purge_log(dataset_dir / PURGES_FILE) for n in entry["fullnames"])


def read_purge_log(path: Path) -> list[dict[str, Any]]:
    """The entries of a purge record (``purges.jsonl``), checked; none when there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"cannot read {path} ({exc}); it lists purged items, restore it from a backup") from None
    return parse_purge_log(text, str(path))


def parse_purge_log(text: str, where: str) -> list[dict[str, Any]]:
    """The entries of a purge record's text, each with a list of t1_/t3_ ``fullnames``; IntegrityError if not."""
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            found = entry["fullnames"]
            if not isinstance(found, list) or not all(isinstance(n, str) and _FULLNAME.fullmatch(n) for n in found):
                raise TypeError("fullnames is not a list of t1_/t3_ ids")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise IntegrityError(
                f"{where} line {number} is not a purge record ({exc}); fix or restore it before writing rows"
            ) from None
        entries.append(entry)
    return entries


def merge_purge_logs(
    local: list[dict[str, Any]], incoming: list[dict[str, Any]], origin: str
) -> tuple[list[dict[str, Any]], bool]:
    """The local purge record with every fullname ``incoming`` adds (each once), and whether any was added.

    Local entries stay as they are; an incoming entry is kept with only the fullnames the
    record lacks, and ``from`` naming where it came from.  A copy's own purges are never lost.
    """
    seen = {n for entry in local for n in entry["fullnames"]}
    merged = list(local)
    for entry in incoming:
        new = sorted({n for n in entry["fullnames"] if n not in seen})
        if new:
            merged.append({"at": entry.get("at"), "fullnames": new, "from": origin})
            seen.update(new)
    return merged, len(merged) != len(local)


def purge_rows(rows: list[RowT], names: frozenset[str] | set[str]) -> tuple[list[RowT], int]:
    """The rows with every purged item turned into a ``purged`` tombstone, and how many changed."""
    if not names:
        return rows, 0
    out, hits = [], 0
    for row in rows:
        kept = row
        if _key(row.name) in names:
            kept = _purged(row)
            hits += kept != row
        out.append(kept)
    return out, hits


def purge_batch(batch: pa.RecordBatch, stem: str, names: frozenset[str] | set[str]) -> pa.RecordBatch:
    """A batch of flat rows (in the Arrow schema of ``stem``) with every purged item a ``purged`` tombstone.

    The hook for sources that build rows column-wise, without the models (the dump reader):
    call it on every batch with :func:`purged_fullnames`.
    """
    if not names or batch.num_rows == 0:
        return batch
    from scraper.normalize.merge import _tombstones

    table = pa.Table.from_batches([batch])
    hit = pc.is_in(_keys(table["name"]), value_set=pa.array(sorted(names), pa.string()))
    if not pc.any(hit).as_py():
        return batch
    status = pc.if_else(hit, pa.scalar(Status.PURGED.value), table["status"])
    table = _tombstones(stem, table.set_column(table.schema.get_field_index("status"), "status", status))
    return table.cast(batch.schema).combine_chunks().to_batches()[0]


def purged_quarantine_entry(entry: dict[str, Any], kind: str, names: frozenset[str] | set[str]) -> bool:
    """Whether a quarantine entry (with the ``raw`` line) is a purged thing's, to be dropped with its text."""
    if not names:
        return False
    try:
        raw = json.loads(str(entry.get("raw") or ""))
    except ValueError:
        return False
    return isinstance(raw, dict) and (_key(_fullname(raw)) in names or _key(f"{kind}_{raw.get('id')}") in names)


def apply_purges(rows: RowSet, names: frozenset[str] | set[str]) -> int:
    """Apply the purge list to a set of rows in place; return how many rows it changed.

    Purged submissions and comments become ``purged`` tombstones; quarantined
    things that were purged are dropped (their raw text is all they hold).
    """
    rows.submissions, subs = purge_rows(rows.submissions, names)
    rows.comments, coms = purge_rows(rows.comments, names)
    kept = [q for q in rows.quarantined if _key(q.as_json().get("name")) not in names]
    dropped = len(rows.quarantined) - len(kept)
    rows.quarantined = kept
    return subs + coms + dropped


def is_purge_of(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether manifest ``new`` is ``old`` rewritten by one or more purges and nothing else.

    ``new`` holds every purge ``old`` records and more (compared by what each purge is: when,
    and which fullnames; never by how many there are), and the two differ only in purges, file
    checksums and sizes, and status counts.  Publish and download replace a version only then.
    """
    return _without_purges(new) == _without_purges(old) and _purge_keys(old) < _purge_keys(new)


def purge_relation(new: dict[str, Any], old: dict[str, Any]) -> str:
    """How manifest ``new`` stands to ``old``: ``purged`` (``old`` plus purges ``old`` lacks), ``held``
    (the same but for purges, and ``old`` records every purge ``new`` does, and maybe its own), or
    ``different``.
    """
    if _without_purges(new) != _without_purges(old):
        return "different"
    return "held" if _purge_keys(new) <= _purge_keys(old) else "purged"


def _purge_keys(manifest: dict[str, Any]) -> set[str]:
    return {json.dumps(entry, sort_keys=True) for entry in manifest.get("purges") or []}


def new_purge_names(new: dict[str, Any], old: dict[str, Any]) -> set[str] | None:
    """The fullnames the purges ``new`` records and ``old`` lacks name (None: a purge that names none)."""
    names: set[str] = set()
    known = _purge_keys(old)
    for entry in new.get("purges") or []:
        if json.dumps(entry, sort_keys=True) in known:
            continue
        found = entry.get("fullnames") if isinstance(entry, dict) else None
        if not isinstance(found, list) or not all(isinstance(n, str) and _FULLNAME.fullmatch(n) for n in found):
            return None  # written before purges named their items
        names.update(found)
    return names


def purge_rewrite_problem(
    old_dir: Path, new_dir: Path, files: dict[str, Any], claimed: set[str], local: set[str]
) -> str | None:
    """What sets a rewritten version apart from the installed one beyond a purge (None: nothing).

    The rewrite must hold the same rows (same keys, same order); a row named by ``claimed`` (the
    purge the source records) is the installed row made a ``purged`` tombstone (the project's
    rule, :func:`scraper.normalize.policy.tombstone`); a row named by ``local`` (the copy's own
    purges) may still hold text the copy removed, and is compared as a tombstone; every other row
    is equal in every column.
    """
    touched = pa.array(sorted(claimed | local), pa.string())
    for name, info in files.items():
        stem = info["table"]
        model: type[Submission] | type[Comment] = Submission if stem == "submissions" else Comment
        old, new = pq.ParquetFile(old_dir / name).read(), pq.ParquetFile(new_dir / name).read()
        if old.num_rows != new.num_rows or not old["name"].equals(new["name"]):
            return f"{name} holds other rows than the installed one (not the same fullnames in the same order)"
        hit = pc.fill_null(pc.is_in(_keys(old["name"]), value_set=touched), False)
        if not old.filter(pc.invert(hit)).equals(new.filter(pc.invert(hit))):
            return f"{name}: rows no purge names differ from the installed ones"
        for at in pc.indices_nonzero(hit).to_pylist():
            was: Any = model.model_validate(old.slice(at, 1).to_pylist()[0])
            now: Any = model.model_validate(new.slice(at, 1).to_pylist()[0])
            expected = _purged(was).model_dump()
            got = _purged(now).model_dump() if _key(was.name) in local else now.model_dump()
            if got != expected:
                return f"{name}: {was.name} is not the installed row made a purged tombstone"
    return None


def _without_purges(manifest: dict[str, Any]) -> Any:
    out = json.loads(json.dumps(manifest))
    out.pop("purges", None)
    (out.get("stats") or {}).pop("status", None)
    for info in [*(out.get("files") or {}).values(), out.get("card") or {}]:
        if isinstance(info, dict):
            info.pop("sha256", None)
            info.pop("bytes", None)
    return out


def copy_purge_log(source_dir: Path, target_dir: Path) -> bool:
    """Copy the purge record (``purges.jsonl``) beside a published or downloaded copy, atomically and durably.

    Written beside the target's record, flushed, renamed over it and the folder flushed
    (:func:`~scraper.store.snapshot.copy_file_atomic`): a full disk or a kill leaves the old record
    whole (a lost record would let purged text back in), and a failure is a StorageError naming it.
    """
    log = source_dir / PURGES_FILE
    if not log.is_file():
        return False
    copy_file_atomic(log, target_dir / PURGES_FILE)
    return True


def _purge_version(
    dataset: Dataset, version: str, names: set[str], when: str, before_swap: Callable[[int], None] = _nothing
) -> int:
    """Rewrite one version without the purged items' text; return how many rows changed.

    The rewritten version is built whole in a staging folder (:func:`purge_folder`) and swapped
    in for the old folder in one step (:func:`replace_dir`): a crash or a full disk at any write
    leaves the version as it was, valid, and running the purge again (it is recorded before this
    runs) completes it.  ``before_swap`` gets the count first (the purge log's progress).
    """
    folder = dataset.version_dir(version)
    stage = dataset.path / STAGING_DIR / f"purge-{version}.{os.getpid()}"
    try:
        hits = purge_folder(folder, stage, names, when)
        if hits:
            before_swap(hits)
            fsync_folder(stage)  # rewritten files, card and manifest on disk before the swap names them
            killpoint(f"purge-staged:{version}")
            replace_dir(stage, folder)
        return hits
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        drop_empty_staging(dataset.path)  # no empty .staging/ left behind (another run's staging keeps it)


def purge_folder(folder: Path, stage: Path, names: set[str] | frozenset[str], when: str) -> int:
    """Write version ``folder`` with the items ``names`` purged into ``stage``; return how many rows changed.

    Changed files are written anew, the others linked; the manifest gets the new checksums, the
    status counts and a ``purges`` entry naming the fullnames it turned into tombstones, the card
    its new lines.  Nothing is written (and 0 returned) when no row changes.
    """
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    shutil.rmtree(stage, ignore_errors=True)
    make_staging_dir(stage)
    hits = 0
    hit_names: set[str] = set()
    old_rows: dict[str, str] = {}  # the card's line of each rewritten file, before
    for name, info in manifest["files"].items():
        found = _purge_rows(folder / name, stage / name, info["table"], set(names), hit_names)
        if found:
            old_rows[name] = file_row(name, info)
            new = stage / name
            info.update(rows=pq.ParquetFile(new).metadata.num_rows, bytes=new.stat().st_size, sha256=sha256_file(new))
            hits += found
    if not hits:
        shutil.rmtree(stage, ignore_errors=True)
        return 0
    manifest.setdefault("purges", []).append({"at": when, "items": hits, "fullnames": sorted(hit_names)})
    stats = manifest.get("stats")
    old_status = status_sentence(stats) if isinstance(stats, dict) else None
    if isinstance(stats, dict) and isinstance(stats.get("status"), dict):
        stats["status"] = _status_counts(folder, stage, manifest["files"])
    card = manifest.get("card")
    if card:  # the card lists each file's size and checksum, and the rows by status
        text = (folder / card["name"]).read_text(encoding="utf-8")
        for name, line in old_rows.items():
            text = text.replace(line, file_row(name, manifest["files"][name]))
        if old_status is not None and isinstance(stats, dict):
            text = text.replace(old_status, status_sentence(stats), 1)
        _replace_file(stage / card["name"], text.encode())
        card.update(bytes=(stage / card["name"]).stat().st_size, sha256=sha256_file(stage / card["name"]))
    for entry in folder.iterdir():  # the files the purge did not change: the same bytes
        if entry.is_file() and entry.name != "manifest.json" and not (stage / entry.name).exists():
            _link_or_copy(entry, stage / entry.name)
    write_json_atomic(stage / "manifest.json", manifest)
    return hits


def _status_counts(folder: Path, stage: Path, files: dict[str, Any]) -> dict[str, int]:
    """Rows by status over the version's tables after the purge (rewritten files from ``stage``)."""
    counts: dict[str, int] = {}
    for name in files:
        path = stage / name if (stage / name).exists() else folder / name
        for batch in _read(path, ["status"]):  # a batch at a time: a column of a large table is large too
            for entry in pc.value_counts(batch.column(0)).to_pylist():
                counts[str(entry["values"])] = counts.get(str(entry["values"]), 0) + int(entry["counts"])
    return dict(sorted(counts.items()))


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the filesystem allows one (version files are never written in place), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _fullname(data: dict[str, Any]) -> str | None:
    """The fullname of a thing as Reddit or an archive gives it (``name``, or ``id`` and its kind's fields)."""
    name = data.get("name")
    if isinstance(name, str) and name[:3] in ("t1_", "t3_"):
        return name
    thing_id = data.get("id")
    if not isinstance(thing_id, str):
        return None
    if "body" in data:
        return f"t1_{thing_id}"
    if "title" in data or "selftext" in data:
        return f"t3_{thing_id}"
    return None


def _scrub(value: Any, names: frozenset[str] | set[str]) -> int:
    """Blank the text fields of every thing in ``value`` whose fullname is in ``names``; count those changed.

    A thing is any object with a fullname: Reddit's ``{"kind": "t1", "data": {...}}`` data
    and an archive's bare comment or submission objects alike.
    """
    hits = 0
    if isinstance(value, dict):
        if _key(_fullname(value)) in names:
            changed = False
            for key in TEXT_FIELDS:
                if key in value:
                    blank = None if key not in ("body", "selftext", "title") else ""
                    changed |= value[key] != blank
                    value[key] = blank
            hits += changed
        for child in value.values():
            hits += _scrub(child, names)
    elif isinstance(value, list):
        for child in value:
            hits += _scrub(child, names)
    return hits


def scrub_record(record: dict[str, Any], names: frozenset[str] | set[str]) -> int:
    """Blank the purged things inside one raw record (its ``body`` text or ``json`` value), in place."""
    if not names:
        return 0
    hits = 0
    body = record.get("body")
    if isinstance(body, str) and any(n.split("_", 1)[1] in body.lower() for n in names):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if parsed is not None:
            found = _scrub(parsed, names)
            if found:
                record["body"] = json.dumps(parsed, ensure_ascii=False)
                hits += found
    if isinstance(record.get("json"), dict | list):
        hits += _scrub(record["json"], names)
    return hits


class PurgingArchive(RawArchive):
    """A run's raw archive that never stores the text of a purged item.

    Each record passes through :func:`scrub_record` before it is written, and each
    write is a kill point (see :mod:`scraper.store.killpoints`).
    """

    def __init__(self, path: Path, purged: frozenset[str]) -> None:
        super().__init__(path)
        self.purged = purged

    def append(self, record: dict[str, Any]) -> None:
        """Scrub, append durably; a kill point before (a torn write) and after."""
        scrub_record(record, self.purged)
        phase = _phase(record)
        killpoint(f"torn-record:{phase}", lambda: self._torn(record))
        super().append(record)
        killpoint(f"record:{phase}")

    def _torn(self, record: dict[str, Any]) -> None:
        """Half of the record's gzip member, made durable: what a kill in the middle of a write leaves."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        member = gzip.compress(line, compresslevel=6, mtime=0)
        with self.path.open("ab") as handle:
            handle.write(member[: len(member) // 2])
            handle.flush()
            os.fsync(handle.fileno())


def _phase(record: dict[str, Any]) -> str:
    """Which part of a run a raw record belongs to, for naming kill points."""
    context = record.get("context") or {}
    if context.get("thread") or record.get("event") in ("thread", "thread-problem"):
        return "expansion"
    if context.get("refresh"):
        return "check"
    return "discovery"


def _purge_archive(path: Path, names: set[str], before_replace: Callable[[int], None] = _nothing) -> int:
    hits = 0
    out = bytearray()
    for record in read_records(path):
        hits += scrub_record(record, names)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        out += gzip.compress(line, compresslevel=6, mtime=0)
    if hits:
        before_replace(hits)
        killpoint(f"purge-raw:{path.name}")
        _replace_file(path, bytes(out))
    return hits


def _purge_quarantine(path: Path, names: set[str], before_replace: Callable[[int], None] = _nothing) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if _key(json.loads(line).get("name")) not in names]
    if len(kept) != len(lines):
        before_replace(len(lines) - len(kept))
        killpoint(f"purge-quarantine:{path.name}")
        _replace_file(path, ("\n".join(kept) + ("\n" if kept else "")).encode())
    return len(lines) - len(kept)


def purge(dataset_dir: Path, fullnames: list[str], *, allow_missing: bool = False) -> dict[str, Any]:
    """Remove the items' text from every version and the raw archive; return what was done.

    The purge is recorded in ``purges.jsonl`` first (atomically, before any file is
    rewritten), so a purge cut off by a crash is still applied by every later run and
    completed by running it again: the rerun finds its entry (the same fullnames, no counts
    yet), keeps its time, and ends it with the counts an uninterrupted purge records.  Each
    file's count goes into the entry's ``progress`` before the file is replaced, since a
    replaced file has nothing left to count.  A fullname held by no version and no quarantine
    file (a typo, most likely) raises :class:`~scraper.errors.InputError` before
    anything is recorded, unless ``allow_missing`` (an item seen only in the raw
    archive, or to keep it out of future runs).
    """
    bad = [n for n in fullnames if not _GIVEN_FULLNAME.fullmatch(n)]
    if bad or not fullnames:
        raise InputError(f"not fullnames: {', '.join(bad) or '(none given)'}; give t1_… or t3_… ids")
    names = {n.lower() for n in fullnames}  # in Reddit's case; matched against stored names in any case (F1)
    dataset = Dataset(dataset_dir)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    with dataset_lock(dataset_dir):
        refuse_symlinks(dataset.path, "purge")  # a linked version would be swapped as a link, half purged
        log_path = dataset.path / PURGES_FILE
        purged_fullnames(dataset.path)  # a damaged log stops us before anything changes
        _remove_dead_temporaries(dataset.path)
        earlier = [json.loads(line) for line in _log_lines(log_path)]
        cut_off = _cut_off_entry(earlier, sorted(names))
        missing = sorted(names - held_fullnames(dataset, names)) if cut_off is None else []  # checked before
        if missing and not allow_missing:
            raise InputError(
                f"not in any version of {dataset.path}: {', '.join(missing)}; nothing was purged or recorded. "
                "Check the ids, or give --allow-missing to record the purge anyway."
            )
        if cut_off is not None:  # the same purge, cut off: complete its entry, at its time
            entry: dict[str, Any] = earlier.pop(cut_off)
            when = str(entry["at"])
        else:
            entry = {"at": when, "fullnames": sorted(names)}
        progress: dict[str, dict[str, int]] = entry.setdefault("progress", {})
        for part in ("rows", "raw_things", "quarantine_lines"):
            progress.setdefault(part, {})
        logged = json.dumps([*earlier, entry], sort_keys=True)

        def record(part: str, key: str) -> Callable[[int], None]:
            def note(hits: int) -> None:
                nonlocal logged
                progress[part][key] = hits
                if json.dumps([*earlier, entry], sort_keys=True) != logged:
                    write_json_lines_atomic(log_path, [*earlier, entry])
                    logged = json.dumps([*earlier, entry], sort_keys=True)

            return note

        def counted(part: str, key: str, hits: int) -> int:
            return hits or progress[part].get(key, 0)  # 0 now: replaced by the cut-off run, which counted

        write_json_lines_atomic(log_path, [*earlier, entry])
        killpoint("purge-recorded")
        dataset.clean_staging()
        versions = {
            v: counted("rows", v, _purge_version(dataset, v, names, when, record("rows", v)))
            for v in dataset.versions()
        }
        raw = {
            p.name: counted("raw_things", p.name, _purge_archive(p, names, record("raw_things", p.name)))
            for p in archive_files(dataset.path / "raw")
        }
        quarantine_dir = dataset.path / "quarantine"
        quarantined = (
            sum(
                counted("quarantine_lines", p.name, _purge_quarantine(p, names, record("quarantine_lines", p.name)))
                for p in sorted(quarantine_dir.glob("*.jsonl"))
            )
            if quarantine_dir.is_dir()
            else 0
        )
        dataset.write_index()  # always: a purge cut off after its last swap left the index behind
        killpoint("purge-indexed")
        entry.pop("progress")
        entry.update(rows=versions, raw_things=raw, quarantine_lines=quarantined)
        write_json_lines_atomic(log_path, [*earlier, entry])
    return entry


def _cut_off_entry(entries: list[dict[str, Any]], fullnames: list[str]) -> int | None:
    """The index of the last purge of exactly ``fullnames`` that was cut off (no counts yet), if any."""
    for at in range(len(entries) - 1, -1, -1):
        entry = entries[at]
        if "rows" not in entry and "from" not in entry and sorted(entry["fullnames"]) == fullnames and entry.get("at"):
            return at
    return None


def _remove_dead_temporaries(folder: Path) -> None:
    """Remove the ``.NAME.PID.tmp`` files an atomic write of a killed process left in the dataset's root."""
    for leftover in folder.glob(".*.tmp"):
        pid = leftover.name.rsplit(".", 2)[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            leftover.unlink(missing_ok=True)


def held_fullnames(dataset: Dataset, names: set[str]) -> set[str]:
    """Which of ``names`` some stored version (or a quarantine file) holds; reads the ``name`` columns only."""
    wanted = pa.array(sorted(names), type=pa.string())
    held: set[str] = set()
    for version in dataset.versions():
        folder = dataset.version_dir(version)
        for name in sorted(table_files(dataset.manifest(version)).values()):  # the files the manifest lists
            for batch in _read(folder / name, ["name"]):
                column = _keys(batch.column(0))
                held.update(column.filter(pc.is_in(column, value_set=wanted)).unique().to_pylist())
    quarantine_dir = dataset.path / "quarantine"
    if quarantine_dir.is_dir():
        for path in sorted(quarantine_dir.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip() and (name := _key(json.loads(line).get("name"))) in names:
                    held.add(name)
    return held


def _log_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

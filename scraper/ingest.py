"""Ingest: build a version from saved Reddit API responses, without asking Reddit.

Accepted files, recognised by content:

- a raw archive of this tool (``*.jsonl.gz``), to rebuild a snapshot;
- a plain JSON response body: a comment tree (``/comments/…``), a morechildren
  answer, or a Listing (search, ``/api/info``, subreddit listings);
- a recorded interaction ``{"request": {...}, "response": {"json": ...}}``, the
  format of ``../shared/reddit/samples/``;
- a vcrpy cassette (``{"interactions": [...]}``) recorded against Reddit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scraper.build import build_version, pseudonymizer_for
from scraper.errors import InputError
from scraper.normalize.policy import keep_rule
from scraper.spec import SPEC_FILE, load_spec
from scraper.store.raw import read_records
from scraper.store.snapshot import Dataset


def file_records(path: Path) -> Iterator[dict[str, Any]]:
    """The raw records held in one input file."""
    origin = f"file:{path.name}"
    if path.name.endswith(".jsonl.gz"):
        for record in read_records(path):
            yield {**record, "label": f"{path.name}#{record.get('seq', '')}"}
        return
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not JSON ({exc}); give Reddit API responses saved as JSON") from None
    if isinstance(doc, dict) and isinstance(doc.get("interactions"), list):
        for number, interaction in enumerate(doc["interactions"]):
            yield _cassette_record(interaction, origin, f"{path.name}#{number}")
    elif isinstance(doc, dict) and isinstance(doc.get("response"), dict) and isinstance(doc.get("request"), dict):
        yield _sample_record(doc, origin, path.name)
    else:
        yield {"origin": origin, "label": path.name, "url": "", "params": {}, "status": 200, "json": doc}


def _sample_record(doc: dict[str, Any], origin: str, label: str) -> dict[str, Any]:
    request, response = doc["request"], doc["response"]
    url = str(request.get("url") or "")
    split = urlsplit(url)
    params = request.get("query") or dict(parse_qsl(split.query))
    record: dict[str, Any] = {
        "origin": origin,
        "label": label,
        "method": request.get("method"),
        "url": f"{split.scheme}://{split.netloc}{split.path}",
        "params": params,
        "form": request.get("form"),
        "status": response.get("status", 200),
        "received_at": _http_date(
            (doc.get("source") or {}).get("response_date_header") or (response.get("headers") or {}).get("date")
        ),
    }
    if "json" in response:
        record["json"] = response["json"]
    else:
        record["body"] = response.get("text", "")
    return record


def _cassette_record(interaction: dict[str, Any], origin: str, label: str) -> dict[str, Any]:
    request, response = interaction.get("request") or {}, interaction.get("response") or {}
    split = urlsplit(str(request.get("uri") or ""))
    raw_headers = response.get("headers") or {}
    headers = {k.lower(): (v[0] if isinstance(v, list) and v else v) for k, v in raw_headers.items()}
    return {
        "origin": origin,
        "label": label,
        "method": request.get("method"),
        "url": f"{split.scheme}://{split.netloc}{split.path}",
        "params": dict(parse_qsl(split.query)),
        "status": (response.get("status") or {}).get("code", 200),
        "received_at": _http_date(headers.get("date")),
        "body": (response.get("body") or {}).get("string", ""),
    }


def _http_date(value: Any) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value)).isoformat()
    except (TypeError, ValueError):
        return None


def ingest(dataset_dir: Path, files: Sequence[Path]) -> dict[str, Any]:
    """Write a new version of ``dataset_dir`` from ``files``; return its manifest."""
    if not files:
        raise InputError("give at least one file to ingest")
    records: list[dict[str, Any]] = []
    for path in files:
        records.extend(file_records(path))  # read all first: a bad file stops before anything is written
    dataset = Dataset(dataset_dir)
    spec, spec_sha = load_spec(dataset_dir) if (dataset_dir / SPEC_FILE).is_file() else (None, None)
    pseudonymizer = pseudonymizer_for(dataset, spec)  # before anything is written
    dataset_dir.mkdir(parents=True, exist_ok=True)
    return build_version(
        dataset,
        records,
        spec_sha256=spec_sha,
        source={"kind": "ingest", "files": [p.name for p in files]},
        pseudonymizer=pseudonymizer,
        spec=spec,
        keep_thread=keep_rule(spec) if spec is not None else None,
    )

"""A recorded answer asked for without ``raw_json=1`` is stored unescaped (adversarial review 7, F3).

Without ``raw_json=1`` Reddit escapes ``<``, ``>`` and ``&`` in every JSON string as ``&lt;``,
``&gt;`` and ``&amp;`` (WIRE-FORMAT §9), and nothing else.  Ingest knows the request of a
recorded interaction or a cassette: when it lacks ``raw_json=1`` every string of the answer
is unescaped (exactly those three, in one pass), on the fast path and the model path alike,
so an item is stored with the text collect stores.  A plain body does not say how it was
asked for: it is stored as it is and counted (``stats.escaping.unknown``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.ingest import ingest
from scraper.normalize.escaping import reddit_escape, reddit_unescape
from tests.conftest import SAMPLES, examples
from tests.test_ingest_undated import model_path

GX8R8Z = SAMPLES / "comments_gx8r8z_2020_deleted_removed_stickied.json"
T1_TEXT = ["body", "author", "author_flair_text", "subreddit", "permalink"]
T3_TEXT = ["title", "selftext", "url", "domain", "link_flair_text", "author_flair_text"]


def rows(folder: Path, manifest: dict[str, Any], stem: str) -> dict[str, dict[str, Any]]:
    table = pq.read_table(folder / "versions" / manifest["version"] / f"{stem}.parquet")
    return {r["name"]: r for r in table.to_pylist()}


def tree(texts: dict[str, str]) -> list[Any]:
    t3 = {"id": "abc", "name": "t3_abc", "created_utc": 1_600_000_000, "subreddit": "sub"}
    t3.update({key: texts[f"t3.{key}"] for key in T3_TEXT})
    t1 = {"id": "c1", "name": "t1_c1", "created_utc": 1_600_000_100, "link_id": "t3_abc", "parent_id": "t3_abc"}
    t1.update({key: texts[f"t1.{key}"] for key in T1_TEXT}, replies="")
    return [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": t3}]}},
        {"kind": "Listing", "data": {"children": [{"kind": "t1", "data": t1}]}},
    ]


def recorded(path: Path, body: Any, url: str, form: str) -> Path:
    if form == "cassette":
        response = {"status": {"code": 200}, "headers": {"Date": ["Tue, 01 Dec 2026 12:00:00 GMT"]}}
        interaction = {"request": {"method": "GET", "uri": url}, "response": {**response, "body": {"string": ""}}}
        interaction["response"]["body"]["string"] = json.dumps(body)
        doc: Any = {"interactions": [interaction]}
    else:
        headers = {"date": "Tue, 01 Dec 2026 12:00:00 GMT"}
        doc = {"request": {"method": "GET", "url": url}, "response": {"status": 200, "headers": headers, "json": body}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


#: Text made mostly of what entities are made of, so that entity-like runs (``&amp;lt;``, ``&quot;``) are common.
TEXT = st.text(alphabet=st.sampled_from("&<>;ltgampquo#39 x\u00e9\U0001f600"), max_size=16) | st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8
)
FIELDS = [f"t1.{key}" for key in T1_TEXT] + [f"t3.{key}" for key in T3_TEXT]


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.fixed_dictionaries({key: TEXT for key in FIELDS}),
    form=st.sampled_from(["sample", "cassette"]),
    models=st.booleans(),
)
def test_text_reddit_escaped_without_raw_json_is_stored_as_it_was(
    tmp_path_factory: pytest.TempPathFactory, texts: dict[str, str], form: str, models: bool
) -> None:
    tmp = tmp_path_factory.mktemp("escaped")
    sent = tree({key: reddit_escape(value) for key, value in texts.items()})
    legacy = recorded(tmp / "legacy.json", sent, "https://oauth.reddit.com/comments/abc/?limit=2048", form)
    raw = recorded(tmp / "raw.json", tree(texts), "https://oauth.reddit.com/comments/abc/?raw_json=1", form)
    with model_path(models):
        escaped_manifest = ingest(tmp / "legacy", [legacy])
        raw_manifest = ingest(tmp / "raw", [raw])
    for folder, manifest in ((tmp / "legacy", escaped_manifest), (tmp / "raw", raw_manifest)):
        stored = {**rows(folder, manifest, "submissions"), **rows(folder, manifest, "comments")}
        for key, value in texts.items():
            kind, field = key.split(".")
            row = stored[f"{kind}_{'abc' if kind == 't3' else 'c1'}"]
            want = None if field == "author" and value == "[deleted]" else value
            assert row[field] == want, (folder.name, key)
    assert escaped_manifest["stats"]["escaping"] == {"unescaped": 1}
    assert "escaping" not in raw_manifest["stats"]


@settings(max_examples=examples(50), deadline=None)
@given(text=st.text(alphabet=st.sampled_from("&<>;ltgampquo#39x"), max_size=24) | st.text())
def test_unescaping_undoes_exactly_reddits_escaping(text: str) -> None:
    assert reddit_unescape(reddit_escape(text)) == text


def test_only_the_three_entities_reddit_makes_are_undone() -> None:
    assert reddit_unescape("&quot;x&quot; &#39; &nbsp; &amp;lt; &lt;&gt;&amp;") == "&quot;x&quot; &#39; &nbsp; &lt; <>&"


@pytest.mark.parametrize("where", ["query", "url", "form"])
def test_raw_json_in_the_query_the_url_or_the_form_means_raw(tmp_path: Path, where: str) -> None:
    texts = dict.fromkeys(FIELDS, "a &amp; b")
    body = tree(texts)
    request: dict[str, Any] = {"method": "GET", "url": "https://oauth.reddit.com/comments/abc/"}
    if where == "query":
        request["query"] = {"raw_json": "1"}
    elif where == "url":
        request["url"] += "?raw_json=1"
    else:
        request.update(method="POST", form={"api_type": "json", "raw_json": "1"})
    path = tmp_path / "a.json"
    response = {"status": 200, "headers": {"date": "Tue, 01 Dec 2026 12:00:00 GMT"}, "json": body}
    path.write_text(json.dumps({"request": request, "response": response}), encoding="utf-8")
    manifest = ingest(tmp_path / "ds", [path])
    assert rows(tmp_path / "ds", manifest, "comments")["t1_c1"]["body"] == "a &amp; b"


@pytest.mark.skipif(not GX8R8Z.is_file(), reason="../shared/reddit/samples is not present")
@pytest.mark.parametrize("models", [False, True], ids=["fast", "models"])
def test_the_reviews_recorded_answer_without_raw_json(tmp_path: Path, models: bool) -> None:
    doc = json.loads(GX8R8Z.read_text(encoding="utf-8"))
    doc["request"]["url"] = doc["request"]["url"].replace("&raw_json=1", "")
    doc["request"]["query"].pop("raw_json")
    comment = doc["response"]["json"][1]["data"]["children"][2]["data"]["replies"]["data"]["children"][1]["data"]
    comment["body"] = "x &lt; y &amp;&amp; y &gt; z"  # what Reddit sends for "x < y && y > z" without raw_json=1
    path = tmp_path / "f2.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with model_path(models):
        manifest = ingest(tmp_path / "ds", [path])
    assert rows(tmp_path / "ds", manifest, "comments")["t1_fx1bybl"]["body"] == "x < y && y > z"


def test_a_plain_body_is_stored_as_it_is_and_counted(tmp_path: Path) -> None:
    texts = dict.fromkeys(FIELDS, "a &amp; b")
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(tree(texts)), encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "ds"), str(plain)])
    assert result.exit_code == 0, result.output
    assert "escaping unknown: 1 plain saved bodies" in result.output
    manifest = json.loads((tmp_path / "ds" / "versions" / "v0001" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stats"]["escaping"] == {"unknown": 1}
    assert rows(tmp_path / "ds", manifest, "comments")["t1_c1"]["body"] == "a &amp; b"

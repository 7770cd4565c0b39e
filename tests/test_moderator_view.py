"""A moderator's view of a removed or spam-filtered item is a tombstone (adversarial review 3, F1).

WIRE-FORMAT §5: ``removed``, ``spam`` (and ``banned_by``) are sent only when the viewer moderates the
subreddit; §7: "A moderator viewer sees the content with ``removed: true``".  The real gx8r8z tree is
such a view.  A collection run with a moderator's credentials gets the text of removed comments;
deletions are honoured, so those rows keep no text and no author, on the fast path and the model path.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Status
from scraper.normalize.status import moderator_removed, status_of, thing_status
from tests.conftest import SAMPLES, examples
from tests.test_fastpath import as_sample, reference, streamed, tables

GX8R8Z = SAMPLES / "comments_gx8r8z_2020_deleted_removed_stickied.json"


def _comments(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for child in listing["data"]["children"]:
        if child["kind"] == "t1":
            found[child["data"]["id"]] = child["data"]
            if child["data"]["replies"]:
                found.update(_comments(child["data"]["replies"]))
    return found


@pytest.mark.skipif(not GX8R8Z.is_file(), reason="../shared/reddit/samples is not present")
def test_a_moderators_view_of_removed_and_spam_comments_gives_tombstones(tmp_path: Path) -> None:
    tree = copy.deepcopy(json.loads(GX8R8Z.read_text(encoding="utf-8"))["response"]["json"])
    comments = _comments(tree[1])
    # fx1jgsp as a moderator sees it while its author still exists (the recorded one lost its author):
    comments["fx1jgsp"].update(body="the text the moderator removed", author="some_user", author_fullname="t2_abcde")
    comments["fszpuyo"].update(spam=True, removed=True, banned_by=True, body="buy cheap followers")  # spam-filtered
    comments["fx19hsi"].update(banned_by="a_moderator")  # removed: the remover's name alone says so
    assert comments["fszpw9i"]["approved"] is True and comments["fszpw9i"]["removed"] is False
    files = [as_sample(tmp_path, "modview.json", tree)]
    ref = tables(tmp_path / "models", reference(tmp_path / "models", files))  # the model path
    fast = tables(tmp_path / "fast", streamed(tmp_path / "fast", files))  # the fast path
    assert all(fast[stem].to_pylist() == ref[stem].to_pylist() for stem in ref)
    rows = {row["id"]: row for row in ref["comments"].to_pylist()}
    for ident in ("fx1jgsp", "fszpuyo", "fx19hsi"):
        assert rows[ident]["status"] == "removed", ident
        assert rows[ident]["body"] == "" and rows[ident]["author"] is None, ident
    assert rows["fszpw9i"]["status"] == "visible" and rows["fszpw9i"]["body"].startswith("Hi /u/")  # approved
    assert rows["fwxxs5d"]["status"] == "deleted"  # removed: false, [deleted]/[deleted]: the author deleted it
    assert rows["fx1bybl"]["status"] == "visible"
    assert ref["submissions"].to_pylist()[0]["status"] == "removed"  # removed_by_category, as before


@settings(max_examples=examples(60), deadline=None)
@given(
    kind=st.sampled_from(["t1", "t3"]),
    removed=st.sampled_from([None, False, True, "false", "true", 0, 1]),
    spam=st.sampled_from([None, False, True]),
    banned_by=st.sampled_from([None, False, True, "", "a_moderator"]),
    approved=st.sampled_from([None, False, True]),
    text=st.sampled_from(["some text", "[deleted]", "[removed]", ""]),
    author=st.sampled_from(["someone", "[deleted]"]),
)
def test_moderator_flags_remove_whatever_the_other_markers_say(
    kind: str, removed: Any, spam: Any, banned_by: Any, approved: Any, text: str, author: str
) -> None:
    data: dict[str, Any] = {"author": author, "body" if kind == "t1" else "selftext": text}
    data.update({k: v for k, v in (("removed", removed), ("spam", spam), ("banned_by", banned_by)) if v is not None})
    if approved is not None:
        data["approved"] = approved
    flagged = removed in (True, "true", 1) or spam is True or banned_by in (True, "a_moderator")
    assert moderator_removed(data) is flagged
    status = thing_status(data, kind)
    if flagged:
        assert status is Status.REMOVED  # approved never brings a removed item's text back
    else:  # without a moderator's flags, the rule of the markers alone (WIRE-FORMAT §7)
        assert status is status_of(kind, text, author, None)

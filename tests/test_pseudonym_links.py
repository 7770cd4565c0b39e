"""Pseudonyms reach every name that points at a user, not only u/ mentions (adversarial review 3, F11).

A real 2023 comment (``listing_r_sub_comments_2023.json``, ``t1_k3woe15``) links
``https://www.reddit.com/user/goodreads-rebot``; a pseudonymized version must not keep such a name,
in any link shape, and must rewrite nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.ingest import ingest
from scraper.normalize.flat import pseudonymize_batch
from scraper.normalize.pseudonyms import Pseudonymizer
from tests.conftest import examples, write_spec
from tests.test_pseudonyms import KEY, SPEC

P = Pseudonymizer(KEY.encode())
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
NAMES = st.builds(str.__add__, st.sampled_from(_ALNUM), st.text(alphabet=_ALNUM + "_-", min_size=2, max_size=19))
SCHEMES = st.sampled_from(["", "http://", "https://", "//", "HTTPS://"])
HOSTS = st.sampled_from(["reddit.com", "www.reddit.com", "old.reddit.com", "np.reddit.com", "new.reddit.com"])
HOSTS_ANY_CASE = st.one_of(HOSTS, st.sampled_from(["m.reddit.com", "WWW.Reddit.com", "i.reddit.com"]))
PROFILE_PATHS = st.sampled_from(["/user/", "/u/", "/User/", "/U/"])
TAILS = st.sampled_from(["", "/", "/comments/", "/submitted/?sort=new", "?utm=x", "#about", ".", ","])
FRAMES = st.sampled_from(["{}", "[a profile]({})", "<{}>", "({})", '"{}"', "**{}**"])
#: Free text that cannot hold a user's name by itself (no slash), around the links.
PLAIN = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/"), max_size=8)


@st.composite
def profile_links(draw: st.DrawFn) -> tuple[str, str, str]:
    """``(link with NAME, the name, the same link with the pseudonym)`` in every shape that names a user."""
    name = draw(NAMES)
    host = f"{draw(SCHEMES)}{draw(HOSTS_ANY_CASE)}"
    shape = draw(st.sampled_from(["profile", "relative", "mention", "subreddit", "message"]))
    if shape == "profile":
        head, pseudonym = f"{host}{draw(PROFILE_PATHS)}", P.name(name)
    elif shape == "relative":
        head, pseudonym = draw(st.sampled_from(["/user/", "/User/"])), P.name(name)
    elif shape == "mention":
        head, pseudonym = draw(st.sampled_from(["u/", "/u/"])), P.name(name)
    elif shape == "subreddit":  # a user's profile subreddit: r/u_name
        prefix = draw(st.sampled_from(["r/", "/r/", f"{host}/r/"]))
        return f"{prefix}u_{name}", name, f"{prefix}{P.name(name)}"
    else:
        to = draw(st.sampled_from(["", "/u/", "%2Fu%2F"]))
        head, pseudonym = f"{draw(st.sampled_from(['', host]))}/message/compose?to={to}", P.name(name)
    return f"{head}{name}", name, f"{head}{pseudonym}"


@settings(max_examples=examples(80), deadline=None)
@given(link=profile_links(), tail=TAILS, frame=FRAMES, before=PLAIN, after=PLAIN)
def test_every_link_shape_to_a_user_is_pseudonymized_and_nothing_around_it(
    link: tuple[str, str, str], tail: str, frame: str, before: str, after: str
) -> None:
    raw, name, pseudonymized = link
    text = f"{before} {frame.format(raw + tail)} {after}"
    assert P.text(text) == f"{before} {frame.format(pseudonymized + tail)} {after}"
    assert P.name(name) in P.text(text)


DECOYS = st.sampled_from(
    [
        "https://example.com/user/{}",  # another site's profile
        "twitter.com/u/{}",
        "github.com/{}",
        "https://www.reddit.com/r/{}",  # a subreddit, not a user
        "/r/{}/comments/abc/",
        "r/{}",
        "user/{}",  # a word, not a link
        "https://reddit.com.example.org/u/{}",  # not a reddit.com host
        "notreddit.com/user/{}",
        "xu/{}",
        "https://www.reddit.com/message/compose?to=%2Fr%2F{}",  # a message to a subreddit's moderators
        "U/{}",
    ]
)


# a name starting with u_ makes r/u_name, a user's profile subreddit: a user is named (the generator found "r/u_0")
NOT_PROFILES = NAMES.filter(lambda n: not n.lower().startswith("u_"))


@settings(max_examples=examples(60), deadline=None)
@given(parts=st.lists(st.one_of(PLAIN, st.tuples(DECOYS, NOT_PROFILES).map(lambda d: d[0].format(d[1]))), max_size=6))
def test_text_that_names_no_user_is_left_as_written(parts: list[str]) -> None:
    text = " ".join(parts)
    assert P.text(text) == text


def test_bare_mentions_keep_reddits_length_and_links_keep_their_rest() -> None:
    assert P.text("u/ab and u/" + "a" * 21) == "u/ab and u/" + "a" * 21  # Reddit links 3-20 character names only
    assert P.text("reddit.com/u/ab") == f"reddit.com/u/{P.name('ab')}"  # a link names a user whatever its length
    assert (
        P.text("https://old.reddit.com/user/Bob/comments/x/")
        == f"https://old.reddit.com/user/{P.name('bob')}/comments/x/"
    )


def test_ingest_and_the_dump_path_replace_profile_links_and_link_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PSEUD_KEY", KEY)
    sub = {
        **{"id": "abc", "name": "t3_abc", "title": "see reddit.com/u/dora", "selftext": "", "author": "carol"},
        **{"url": "https://www.reddit.com/user/erin/", "subreddit": "s", "created_utc": 1.6e9, "score": 1},
    }
    comment = {
        **{"id": "c1", "name": "t1_c1", "parent_id": "t3_abc", "link_id": "t3_abc", "author": "alice"},
        **{"subreddit": "s", "created_utc": 1.6e9 + 60, "score": 2, "replies": ""},
        "body": "…https://www.reddit.com/user/goodreads-rebot… and [him](https://np.reddit.com/u/frank)",
    }
    subs, comments = ingested_rows(tmp_path, sub, comment)
    assert subs[0]["url"] == f"https://www.reddit.com/user/{P.name('erin')}/"
    assert subs[0]["title"] == f"see reddit.com/u/{P.name('dora')}"
    assert comments[0]["body"] == (
        f"…https://www.reddit.com/user/{P.name('goodreads-rebot')}… and [him](https://np.reddit.com/u/{P.name('frank')})"
    )
    held = json.dumps([subs, comments], default=str)
    assert not any(name in held for name in ("dora", "erin", "goodreads-rebot", "frank"))
    # the dump path (scraper/normalize/flat.py) applies the same replacement to its batches
    batch = pa.RecordBatch.from_pylist(
        [{"author": "x", "author_fullname": None, "body": "see https://www.reddit.com/user/goodreads-rebot"}],
        schema=pa.schema([("author", pa.string()), ("author_fullname", pa.string()), ("body", pa.string())]),
    )
    assert pseudonymize_batch(batch, "comments", P).to_pylist()[0]["body"] == (
        f"see https://www.reddit.com/user/{P.name('goodreads-rebot')}"
    )


def ingested_rows(
    tmp_path: Path, sub: dict[str, Any], comment: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``ingest`` of one comment tree (``sub`` and its ``comment``) into a pseudonymized dataset: its rows."""
    tree = [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": sub}]}},
        {"kind": "Listing", "data": {"children": [{"kind": "t1", "data": comment}]}},
    ]
    (tmp_path / "tree.json").write_text(json.dumps(tree), encoding="utf-8")
    folder = write_spec(tmp_path / "ds", SPEC)
    ingest(folder, [tmp_path / "tree.json"])
    version = folder / "versions" / "v0001"
    return (
        pq.read_table(version / "submissions.parquet").to_pylist(),
        pq.read_table(version / "comments.parquet").to_pylist(),
    )

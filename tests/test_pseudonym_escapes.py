"""Pseudonyms reach names written with Markdown escapes or percent-encoded (adversarial review 4, F6).

Reddit's rich-text editor stores a mention of ``Jane_Doe_99`` as ``u/Jane\\_Doe\\_99`` in the Markdown body;
out.reddit.com redirects and compose links carry the profile path percent-encoded
(``url=https%3A%2F%2Fwww.reddit.com%2Fuser%2FJane_Doe_99``, ``compose?to=u%2FJane_Doe_99``).  Each must become the
same pseudonym as the user's own ``author`` pseudonym, with the rest of the text as written.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote

import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scraper.normalize.flat import pseudonymize_batch
from scraper.normalize.pseudonyms import Pseudonymizer
from tests.conftest import examples
from tests.test_pseudonym_links import ingested_rows
from tests.test_pseudonyms import KEY

P = Pseudonymizer(KEY.encode())
#: Reddit's usernames: 3 to 20 characters of letters, digits, ``_`` and ``-``.
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=3, max_size=20)
HOLE = "\x00"  # where the name goes in a form: no name, no escape, no percent-encoding holds it


def _escaped(name: str) -> str:
    return name.replace("_", "\\_")


#: ``(form with HOLE, how the name is written in it)``: every way a text points at a user.
FORMS: list[tuple[str, str]] = [
    ("u/\x00", "plain"),
    ("/u/\x00", "plain"),
    ("https://www.reddit.com/user/\x00", "plain"),
    ("u/\x00", "escaped"),
    ("/u/\x00", "escaped"),
    ("r/u_\x00", "escaped"),
    ("[u/\x00](https://www.reddit.com/user/\x00)", "escaped-text"),  # the editor's link: text escaped, URL not
    ("[a profile](https://old.reddit.com/u/\x00/)", "plain"),
    (quote("https://www.reddit.com/user/", safe="") + "\x00", "plain"),
    (quote("/user/", safe="") + "\x00", "plain"),
    (quote("/u/", safe="") + "\x00", "plain"),
    ("see%20" + quote("u/", safe="") + "\x00", "plain"),
    ("https://www.reddit.com/message/compose?to=\x00", "plain"),
    ("https://www.reddit.com/message/compose?to=u%2F\x00", "plain"),
    ("https://www.reddit.com/message/compose/?to=%2Fu%2F\x00&subject=hi", "plain"),
    ("/message/compose?to=/u/\x00", "plain"),
    ("https://www.reddit.com/message/compose?subject=hi&to=\x00", "plain"),  # another parameter first
    ("https://www.reddit.com/message/compose/?subject=a%20b&message=x%26y&to=u%2F\x00", "plain"),
    (
        "https://out.reddit.com/t3_x?url="
        + quote("https://www.reddit.com/message/compose?subject=hi&to=", safe="")
        + "\x00",
        "plain",
    ),
    (quote("https://www.reddit.com/message/compose?to=", safe="") + "\x00", "plain"),
    ("https://out.reddit.com/t3_x?url=" + quote("https://www.reddit.com/user/", safe="") + "\x00&token=y", "plain"),
    ("https://out.reddit.com/t3_x?url=" + quote("https://np.reddit.com/u/", safe="") + "\x00%2F&token=y", "plain"),
    (quote("/user/", safe="") + "\x00", "%5F"),  # an encoder that encodes _ too
]
#: Text around a form that names nobody (no slash, no backslash, no percent sign).
PLAIN = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/\\%"), max_size=6)


def _written(form: str, how: str, name: str) -> str:
    if how == "escaped":
        return form.replace(HOLE, _escaped(name))
    if how == "escaped-text":
        return form.replace(HOLE, _escaped(name), 1).replace(HOLE, name)
    if how == "%5F":
        return form.replace(HOLE, name.replace("_", "%5F"))
    return form.replace(HOLE, name)


def _leaks(name: str, text: str) -> bool:
    """Whether ``name`` is in ``text`` in any case, as written, with escapes removed or percent-decoded."""
    seen = (text, text.replace("\\", ""), unquote(text), unquote(text).replace("\\", ""))
    return any(name.lower() in s.lower() for s in seen)


@settings(max_examples=examples(120), deadline=None)
@given(
    name=NAMES,
    picks=st.lists(st.tuples(st.sampled_from(FORMS), PLAIN), min_size=1, max_size=4),
    before=PLAIN,
)
def test_every_written_form_of_a_name_becomes_the_authors_pseudonym(
    name: str, picks: list[tuple[tuple[str, str], str]], before: str
) -> None:
    template = before + "".join(f" {form} {after}" for (form, _), after in picks)
    assume(not _leaks(name, template.replace(HOLE, " ")))  # the name is not part of the text around it
    text = before + "".join(f" {_written(form, how, name)} {after}" for (form, how), after in picks)
    pseudonym = P.name(name)  # the author column's value for this user
    expected = before + "".join(f" {form.replace(HOLE, pseudonym)} {after}" for (form, _), after in picks)
    for form, _ in (p[0] for p in picks):
        if form.startswith("r/u_"):  # the profile subreddit r/u_NAME becomes r/u_<hex>, not r/u_u_<hex>
            expected = expected.replace(f"r/u_{pseudonym}", f"r/{pseudonym}")
    assert P.text(text) == expected
    assert not _leaks(name, P.text(text).replace(pseudonym, HOLE))
    # the dump path's batches and a link post's url get the same replacement
    batch = pa.RecordBatch.from_pylist(
        [{"author": name, "author_fullname": None, "title": text, "selftext": "", "url": text}],
        schema=pa.schema([(c, pa.string()) for c in ("author", "author_fullname", "title", "selftext", "url")]),
    )
    row = pseudonymize_batch(batch, "submissions", P).to_pylist()[0]
    assert row["author"] == pseudonym
    assert row["title"] == row["url"] == expected


def test_ingest_replaces_escaped_and_encoded_names_with_the_authors_pseudonym(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's repro: Jane_Doe_99 comments, and is named escaped, in a compose link and a redirect URL."""
    monkeypatch.setenv("PSEUD_KEY", KEY)
    redirect = "https://out.reddit.com/t3_thr?url=https%3A%2F%2Fwww.reddit.com%2Fuser%2FJane_Doe_99&token=x"
    sub = {
        **{"id": "thr", "name": "t3_thr", "title": "hello", "selftext": "", "author": "op_user", "url": redirect},
        **{"subreddit": "s", "created_utc": 1.7e9, "score": 1, "permalink": "/r/s/comments/thr/hello/"},
    }
    comment = {
        **{"id": "c1", "name": "t1_c1", "parent_id": "t3_thr", "link_id": "t3_thr", "author": "Jane_Doe_99"},
        **{"subreddit": "s", "created_utc": 1.7e9 + 1, "score": 2, "replies": ""},
        "body": "thanks u/Jane\\_Doe\\_99 and /u/Jane\\_Doe\\_99! DM me: "
        "https://www.reddit.com/message/compose?to=u%2FJane_Doe_99",
    }
    subs, comments = ingested_rows(tmp_path, sub, comment)
    jane = comments[0]["author"]
    assert jane == P.name("Jane_Doe_99")
    assert comments[0]["body"] == (
        f"thanks u/{jane} and /u/{jane}! DM me: https://www.reddit.com/message/compose?to=u%2F{jane}"
    )
    assert subs[0]["url"] == redirect.replace("Jane_Doe_99", jane)
    assert not _leaks("Jane_Doe", json.dumps([subs, comments], default=str))
    assert not _leaks("Doe_99", json.dumps([subs, comments], default=str))

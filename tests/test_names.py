"""Specs and Reddit names: bad specs are one ConfigError; nothing unchecked reaches a request path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.errors import ConfigError, RedditError
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.sources import names
from scraper.sources.reddit import RedditClient
from scraper.spec import load_spec
from tests.conftest import examples, settings_for

FAST = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def spec_with(tmp_path: Path, body: bytes) -> Path:
    (tmp_path / "dataset.toml").write_bytes(body)
    return tmp_path


@pytest.mark.parametrize(
    "body",
    [
        b'[dataset]\nname = "caf\xe9"\n',  # Latin-1, not UTF-8
        b"x = " + b"[" * 100_000,
        b'[dataset]\nname = "x"\n' + b"[a]\n" * 3 + b"deep = " + b"{a = " * 5000 + b"1" + b"}" * 5000,
        b'[dataset]\nname = "x"\n[filter]\ninclude = ["a{99999999999}"]\n',
        b'[dataset]\nname = "x"\n[filter]\ninclude = ["(unclosed"]\n',
        b'[dataset]\nname = "x"\n[discovery]\nsubreddits = ["../../api/v1/access_token?x="]\n',
        b'[dataset]\nname = "x"\n[discovery]\nsubreddits = ["MachineLearning/../../x"]\n',
        b'[dataset]\nname = "x"\n[discovery]\nseeds = ["https://www.reddit.com/r/x/comments/../../api/"]\n',
        b'[dataset]\nname = "x"\n[discovery]\nseeds = ["t3_abc/../x"]\n',
        b"\x00\x01\x02",
    ],
)
def test_bad_specs_are_one_config_error(tmp_path: Path, body: bytes) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.toml"):
        load_spec(spec_with(tmp_path, body))


def test_a_spec_that_is_a_folder_or_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "a" / "dataset.toml").mkdir(parents=True)
    with pytest.raises(ConfigError, match="is a folder"):
        load_spec(tmp_path / "a")
    (tmp_path / "b").mkdir()
    os.symlink(tmp_path / "b" / "dataset.toml", tmp_path / "b" / "dataset.toml")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_spec(tmp_path / "b")


@FAST
@given(st.lists(st.text(max_size=30), min_size=1, max_size=4), st.lists(st.text(max_size=30), max_size=3))
def test_any_subreddit_or_seed_is_checked_or_refused(tmp_path: Path, subreddits: list[str], seeds: list[str]) -> None:
    def toml_string(value: str) -> str:
        return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in value) + '"'

    body = (
        '[dataset]\nname = "x"\n[discovery]\n'
        f"subreddits = [{', '.join(map(toml_string, subreddits))}]\nseeds = [{', '.join(map(toml_string, seeds))}]\n"
    )
    try:
        spec, _ = load_spec(spec_with(tmp_path, body.encode()))
    except ConfigError as exc:
        assert "\n" not in str(exc).strip()
        return
    assert all(names.is_subreddit(s) for s in spec.discovery.subreddits)
    assert all(names.ID36.match(s) for s in spec.discovery.seeds)


@given(st.text(max_size=40))
@settings(max_examples=examples(200), deadline=None)
def test_names_accept_only_reddits_syntax(value: str) -> None:
    if names.is_subreddit(value):
        assert all(c.isascii() and (c.isalnum() or c in "_+") for c in value)
        assert "/" not in value and "?" not in value and "." not in value
    try:
        names.fullname(value)
    except ValueError:
        pass
    else:
        assert (
            value[:3] in {f"t{k}_" for k in "123456"}
            and value[3:].isalnum()
            and value[3:].islower() | value[3:].isdigit()
        )


def test_reddit_names_follow_reddits_rules() -> None:
    assert names.is_subreddit("MachineLearning") and names.is_subreddit("de") and names.is_subreddit("all")
    assert names.is_subreddit("datascience+MachineLearning")
    for bad in ("", "a", "Ab", "_abc", "a" * 22, "../../api", "ml?x=1", "ml/", "ml+", "m l"):
        assert not names.is_subreddit(bad), bad
    assert names.id36("11ryvao") == "11ryvao"
    for bad in ("", "11RYVAO", "1/2", "a" * 14, "../x"):
        with pytest.raises(ValueError, match="not a Reddit"):
            names.id36(bad)
    assert names.fullname("t1_jcaa00s") == "t1_jcaa00s"
    for bad in ("t7_abc", "t1_", "T1_abc", "t1_a/b"):
        with pytest.raises(ValueError, match="not a Reddit fullname"):
            names.fullname(bad)


def test_no_request_leaves_with_an_unchecked_name() -> None:
    forest = Forest()
    submission, comments = generate_thread("th0", 5, seed=1)
    forest.add_thread(submission, comments)
    with FakeReddit(forest, quota=10**9) as server:
        client = RedditClient(settings_for(server))
        for call in (
            lambda: client.search("../../api/v1/access_token?x=", "q", sort="new", time_filter="all"),
            lambda: client.search("ml", "q", sort="new", time_filter="all", after="../x"),
            lambda: client.comment_tree("../../api/v1/access_token?x="),
            lambda: client.comment_tree("th0", comment="a/../../b"),
            lambda: client.more_children("t3_th0", ["abc", "../x"]),
            lambda: client.info(["t1_abc", "t3_../../x"]),
        ):
            with pytest.raises(RedditError, match="refusing to put"):
                call()
        assert client.request_count == 0
        assert server.count() == 0  # not even the token request


@settings(max_examples=examples(60), deadline=None)
@given(
    number=st.integers(1, 36**7 - 1),
    form=st.sampled_from(
        [
            "https://www.reddit.com/r/MachineLearning/comments/{id}/to_those_of_you/",
            "https://old.reddit.com/r/MachineLearning/comments/{id}/",
            "https://www.reddit.com/gallery/{id}",  # a gallery post's link (WIRE-FORMAT §6), F10
            "https://redd.it/{id}",
            "t3_{id}",
            "{id}",
        ]
    ),
)
def test_every_form_of_a_thread_link_gives_its_id(number: int, form: str) -> None:
    from scraper.fake_reddit.generate import base36
    from scraper.spec import thread_id

    ident = base36(number)
    assert thread_id(form.format(id=ident)) == ident
    assert thread_id(form.format(id=ident.upper())) == ident

"""The ``[filter]`` keyword rule keeps the same posts in ``dumps`` as in collect, archive and refilter.

Adversarial review 7, F2: the dump reader ran the rule in DuckDB (RE2: ASCII ``\\b`` and ``\\w``, ``$``
only at the very end), the other paths in Python's ``re`` (:meth:`scraper.spec.Filter.matches`:
Unicode-aware, ``$`` also before a final newline, which every link post's text has). The dump
reader now runs the spec's own rule on the rows its SQL keeps; these tests hold every reader of
the dump path (block, fast file reader in its three typings, a span, the whole command) to it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.dumps import Chunk, Rule, Span, filter_chunk, filter_span, ingest_dumps
from scraper.fake_arctic_shift.dumpfiles import write_zst
from scraper.normalize import flat, keywords
from scraper.normalize.flat import Selection
from scraper.spec import Filter
from tests.conftest import examples, write_spec

PATTERNS = [
    r"\bquit",
    r"burned out$",
    r"^why",
    r"\w+ing",
    r"\bété\b",
    r"straße",
    r"(?<!not )tired",  # look-behind: Python's re runs it, RE2 did not
    r"(\w)\1",  # a back-reference, likewise
    r"data$",
    r"^$",
]
WORDS = [
    *("quit", "Quit", "équité", "QUITTING", "why", "Why", "WHY", "burned out", "Burned OUT", "été", "Été"),
    *("thing", "singing", "ING", "naïve", "straße", "STRASSE", "ſing", "\u212aing", "not tired", "tired"),
    *("data", "Data", "résumé", "αing", "日本ing", "book", "x_quit", "1quit"),
]
_ALPHABET = "abcdeiqtuwyéèüñçßαΩ日_ '\n\t.-\u2028\u00a0\u212aſ"
_PIECE = st.one_of(st.sampled_from(WORDS), st.text(_ALPHABET, max_size=4))
_TEXT = st.lists(_PIECE, max_size=6).flatmap(
    lambda parts: st.sampled_from([" ", "\n", "", "  "]).map(lambda sep: sep.join(parts))
)
_ENDING = st.sampled_from(["", "\n", "\n\n", " "])
_POST = st.tuples(_TEXT, st.one_of(st.just(""), _TEXT), _ENDING, st.booleans())


def _line(i: int, title: str, selftext: str, raw: bool) -> bytes:
    post = {"id": f"p{i}", "created_utc": 1_500_000_000, "subreddit": "datascience", "title": title}
    post |= {"selftext": selftext, "is_self": bool(selftext), "score": 1, "retrieved_on": 1_500_100_000}
    return json.dumps(post, ensure_ascii=not raw).encode() + b"\n"


def _ids(batches: list[object]) -> set[str]:
    return {i for b in batches if b is not None for i in b["id"].to_pylist()}  # type: ignore[attr-defined]


@settings(max_examples=examples(10), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    posts=st.lists(_POST, min_size=1, max_size=40),
    include=st.lists(st.sampled_from(PATTERNS), max_size=2, unique=True),
    exclude=st.lists(st.sampled_from(PATTERNS), max_size=2, unique=True),
)
def test_every_dump_reader_keeps_what_the_spec_rule_keeps(
    tmp_path: Path, posts: list[tuple[str, str, str, bool]], include: list[str], exclude: list[str]
) -> None:
    """Unicode letters, accents, trailing newlines, empty selftexts: the dump path keeps exactly ``Filter.matches``.

    (Each reading plans a query, ~0.15 s whatever the lines: few examples, many posts each.)
    """
    rule_filter = Filter(include=include, exclude=exclude)
    texts = [(title + ending, selftext) for title, selftext, ending, _ in posts]
    wanted = {f"p{i}" for i, (title, selftext) in enumerate(texts) if rule_filter.matches(title, selftext)}
    data = b"".join(_line(i, t, s, raw) for i, ((t, s), (*_, raw)) in enumerate(zip(texts, posts, strict=True)))
    path = tmp_path / "posts.ndjson"
    path.write_bytes(data)
    selection = Selection(include=tuple(include), exclude=tuple(exclude))

    batch, quarantined, counts = flat.normalize_block(data, 1, "t3", source="dump:x", selection=selection)
    assert quarantined == []
    assert _ids([batch]) == wanted, "block path"
    assert counts.get("filtered_keyword", 0) == len(posts) - len(wanted)
    for usual, strings in ((True, True), (False, False)):
        read = flat.normalize_file(str(path), "t3", source="dump:x", selection=selection, usual=usual, strings=strings)
        assert _ids([b for b, _ in read]) == wanted, f"fast reader usual={usual} strings={strings}"


def test_a_span_and_a_chunk_keep_what_the_spec_rule_keeps(tmp_path: Path) -> None:
    """The same through the tasks the engines run (a span read in place, a span of lines, a block)."""
    include, exclude = [r"\bquit", "burned out$", r"\w+ing"], [r"(?<!not )tired", "^why"]
    texts = [(w, s) for w in WORDS for s in ("", "\n", "ſing")]
    rule_filter = Filter(include=include, exclude=exclude)
    wanted = {f"p{i}" for i, (t, s) in enumerate(texts) if rule_filter.matches(t, s)}
    data = b"".join(_line(i, t, s, i % 2 == 0) for i, (t, s) in enumerate(texts))
    path = tmp_path / "posts.ndjson"
    path.write_bytes(data)
    rule = Rule(selection=Selection(include=tuple(include), exclude=tuple(exclude)))
    assert 0 < len(wanted) < len(texts)
    assert _ids([r.batch for r in filter_span(Span("posts.ndjson", "t3", str(path)), rule)]) == wanted, "span"
    assert _ids([r.batch for r in filter_span(Span("posts.ndjson", "t3", data=data), rule)]) == wanted, "span data"
    assert _ids([filter_chunk(Chunk("posts.ndjson", "t3", 1, data), rule).batch]) == wanted, "chunk"


def test_the_review_case_through_the_dumps_command(tmp_path: Path) -> None:
    """A Unicode word holding the pattern after an accent, and a link post ending its line: as collect keeps them."""
    spec = (
        '[dataset]\nname = "f2"\n\n[discovery]\nsubreddits = ["datascience"]\n\n'
        "[filter]\ninclude = ['\\bquit', 'burned out$']\nexclude = ['(?<!not )tired']\n\n"
        "[archive]\nafter = 2015-01-01\nbefore = 2020-01-01\n"
    )
    folder = write_spec(tmp_path / "ds", spec)
    titles = [
        "L'équité algorithmique en production",  # '\bquit' inside "équité": no word boundary in Python's re
        "Why I quit data science",
        "Two years in, burned out",  # a link post: the text ends "\n", and Python's '$' matches before it
        "I quit, tired",  # excluded by a look-behind RE2 could not even run
        "I quit, not tired",
    ]
    line = {"created_utc": 1_500_000_000, "subreddit": "datascience", "author": "a", "selftext": "", "is_self": False}
    posts = [{**line, "id": f"aaaa{i}", "title": t, "retrieved_on": 1_500_100_000} for i, t in enumerate(titles)]
    ingest_dumps(folder, [write_zst(tmp_path / "RS_2017-07.zst", posts)])
    kept = [r["title"] for r in pq.read_table(folder / "versions" / "v0001" / "submissions.parquet").to_pylist()]
    rule_filter = Filter(include=[r"\bquit", "burned out$"], exclude=["(?<!not )tired"])
    assert kept == [t for t in titles if rule_filter.matches(t, "")]
    assert kept == ["Why I quit data science", "Two years in, burned out", "I quit, not tired"]
    manifest = json.loads((folder / "versions" / "v0001" / "manifest.json").read_text())
    assert manifest["stats"]["not_kept"]["keyword"] == 2


CHARACTER_PATTERNS = [
    *("[a-z]", "[A-Z]", "k", "s", "i", "ß", "ǅ", "[ᾀ-ᾯ]", "[α-ω]", "ſ", "\u212a", "µ", "[^x]", r"\w", r"\d"),
    *(r"\s", ".", r"\W", "İ", "ı", "Ω", "ẞ", "[İ-ı]", "[0-9_]", r"[\w\s]", "ﬀ", "[ǰ-ǲ]", "ΐ", "[Ꭰ-Ᏽ]", "ꭰ"),
]


def test_the_re2_prefilter_matches_every_character_python_matches_in_any_case() -> None:
    """Case folding, where RE2 and Python differ most (İ is i to Python's IGNORECASE, not RE2's): planes 0-1."""
    con = duckdb.connect()
    points = [cp for cp in range(0x20000) if not 0xD800 <= cp <= 0xDFFF]  # every cased letter is below 0x1F000
    chars = pa.array([chr(cp) for cp in points], pa.string())
    every = "".join(chr(cp) for cp in points)
    con.register("chars", pa.table({"ch": chars}))
    for pattern in CHARACTER_PATTERNS:
        translated = keywords.superset(pattern)
        assert translated is not None, pattern
        re2 = con.sql("SELECT regexp_matches(ch, $p) FROM chars", params={"p": translated}).fetchnumpy()
        hits = next(iter(re2.values())).tolist()
        # each pattern matches one character: where it matches in the string of them all, that character matches
        python = (m.start() for m in re.finditer(pattern, every, re.IGNORECASE))
        missed = [hex(points[i]) for i in python if not hits[i]]
        assert missed == [], f"{pattern!r}: Python matches {missed[:10]}, the RE2 prefilter does not"


@settings(max_examples=examples(200), deadline=None)
@given(text=st.text(_ALPHABET + "KSsİı\u0307", max_size=30), pattern=st.sampled_from(PATTERNS + CHARACTER_PATTERNS))
def test_the_re2_prefilter_is_a_superset_of_python_on_texts(text: str, pattern: str) -> None:
    """A text Python's rule matches is matched by the prefilter (which DuckDB runs before Python)."""
    if re.search(pattern, text, re.IGNORECASE):
        translated = keywords.superset(pattern)
        assert translated is not None
        assert duckdb.execute("SELECT regexp_matches(?, ?)", [text, translated]).fetchone() == (True,)

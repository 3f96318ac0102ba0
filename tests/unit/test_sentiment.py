"""Sentiment (transforms/sentiment.py, sql/intermediate/text_sentiment.sql and the sentiment
column of intermediate.classified_events)."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from functools import cache
from unittest import mock

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from tests.conftest import examples
from tests.unit.builders import EMPTY_STAGING_PROFILES
from transforms.config import load_config
from transforms.models import build_models
from transforms.sentiment import (
    TOKEN_PATTERN,
    lexicon_path,
    read_lexicon,
    vader_constants,
)

T0 = datetime(2025, 3, 1, 9, 0, 0)


def make_events(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """A minimal staging.events (the staging columns; only event_id, source, identifiers, csat,
    satisfaction and text set) and an empty staging.profiles."""
    for schema in ("staging", "identity", "intermediate"):
        con.execute(f"create schema if not exists {schema}")
    con.execute(
        """
        create or replace table staging.events as
        select
            unnest($id::varchar[]) as event_id, 'support' as source, unnest($id::varchar[]) as source_event_id,
            'comment' as event_name, unnest($at::timestamp[]) as occurred_at,
            map(['support_requester_id'], [unnest($id::varchar[])]) as identifiers,
            null::varchar as url, null::varchar as url_path, null::varchar as referrer, null::varchar as utm_source,
            null::varchar as utm_medium, null::varchar as utm_campaign, null::varchar as device,
            'chat' as channel, null::double as amount, unnest($csat::double[]) as csat,
            unnest($satisfaction::varchar[]) as satisfaction, unnest($text::varchar[]) as text,
            null::json as properties, date '2025-03-01' as _partition, 'test' as _source_file,
            0::bigint as _line, timestamp '2025-03-02 00:00:00' as _loaded_at
        """,
        {
            "id": [f"support:{i}" for i in range(len(rows))],
            "at": [T0 + timedelta(minutes=i) for i in range(len(rows))],
            "csat": [r.get("csat") for r in rows],
            "satisfaction": [r.get("satisfaction") for r in rows],
            "text": [r.get("text") for r in rows],
        },
    )
    con.execute(EMPTY_STAGING_PROFILES)


@cache
def lexicon() -> dict[str, float]:
    return dict(zip(*read_lexicon(), strict=True))


def reference_score(text: str) -> float:
    """The documented algorithm in plain Python: tokens, lexicon valences, a negation among the
    three tokens before flips and damps, s / sqrt(s^2 + 15)."""
    lex = lexicon()
    negations = set(vader_constants()["negations"])
    tokens = re.findall(TOKEN_PATTERN, text.lower())
    s = 0.0
    for i, tok in enumerate(tokens):
        if tok in lex:
            v = lex[tok]
            if negations & set(tokens[max(i - 3, 0):i]):
                v *= -0.74
            s += v
    return s / math.sqrt(s * s + 15)


def text_scores(texts: list[str]) -> dict[str, float]:
    con = duckdb.connect()
    make_events(con, [{"text": t} for t in texts])
    build_models(con, config(), ["intermediate.text_sentiment"])
    return dict(con.execute("select text, sentiment from intermediate.text_sentiment").fetchall())


def test_lexicon_ships_inside_the_package():
    path = lexicon_path()
    assert path.name == "vader_lexicon.txt" and path.exists()
    assert "vaderSentiment" in str(path)
    lex = lexicon()
    assert len(lex) > 7000
    assert lex["great"] == 3.1 and lex["terrible"] == -2.1
    assert "can't stand" not in lex  # multi-word entries are left out


@pytest.mark.parametrize("text", [
    "I am happy",
    "the support was great and the agent was helpful",
    "the app crashed and it is broken",
    "terrible experience",
    "I am not happy about it",
    "this is not good",
    "thanks",
    "where is my order",
])
def test_agrees_with_vader_on_plain_sentences(text):
    vader = SentimentIntensityAnalyzer().polarity_scores(text)["compound"]
    assert text_scores([text])[text] == pytest.approx(vader, abs=1e-3)


words = st.sampled_from(["happy", "great", "terrible", "broken", "love", "hate", "not", "never", "the", "app",
                         "order", "is", "very", "Disappointed", "can't", "slow", "thanks", "help", "without"])


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.lists(words, min_size=1, max_size=12).map(" ".join), min_size=1, max_size=8, unique=True))
@mock.patch("transforms.warehouse.apply_comments", lambda con, relation: None)  # comments are not under test
def test_set_based_scores_equal_the_plain_python_reference(texts):
    scores = text_scores(texts)
    assert set(scores) == set(texts)
    for t in texts:
        assert scores[t] == pytest.approx(reference_score(t), abs=1e-9)
        assert -1 <= scores[t] <= 1


@cache
def config():
    return load_config()


def test_event_sentiment_prefers_ratings_then_text():
    rows = [
        {"csat": 1}, {"csat": 3}, {"csat": 5}, {"csat": 4, "text": "terrible"},
        {"satisfaction": "good"}, {"satisfaction": "bad", "text": "great"},
        {"text": "Still broken. Very disappointed."}, {"text": "order 123"}, {}, {"text": "   "},
        {"csat": 9},
    ]
    con = duckdb.connect()
    make_events(con, rows)
    build_models(con, config(), ["intermediate.classified_events"])
    got = dict(con.execute("select event_id, (sentiment, sentiment_source) from intermediate.classified_events").fetchall())
    s = [got[f"support:{i}"] for i in range(len(rows))]
    assert [x[0] for x in s[:6]] == [-1.0, 0.0, 1.0, 0.5, 1.0, -1.0]
    assert [x[1] for x in s[:6]] == ["csat", "csat", "csat", "csat", "satisfaction", "satisfaction"]
    assert s[6][0] == pytest.approx(reference_score("Still broken. Very disappointed.")) and s[6][0] < -0.5
    assert s[6][1] == "text"
    assert s[7] == (0.0, "text")  # text without sentiment words is neutral
    assert s[8] == (None, None) and s[9] == (None, None)  # nothing to score
    assert s[10] == (None, None)  # a CSAT outside 1..5 is not a rating

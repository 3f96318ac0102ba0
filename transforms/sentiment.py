"""Sentiment per event in -1..1, set-based in DuckDB.

* CSAT 1-5 maps linearly: (csat - 3) / 2; a satisfaction rating 'good' is 1, 'bad' is -1.
* Text is scored with the VADER lexicon that ships inside the vaderSentiment package
  (vader_lexicon.txt, read from the installed package; nothing is downloaded): the text is
  lower-cased and cut into word tokens, each token found in the lexicon adds its valence,
  multiplied by VADER's N_SCALAR (-0.74) when one of the three tokens before it is a negation
  (VADER's NEGATE list), and the sum s is normalized as VADER does: s / sqrt(s^2 + 15).
  This is VADER's core without its punctuation, capitals, booster and 'but' heuristics.
* An event's sentiment is the rating when there is one, else its text score; null when there
  is nothing to score.

`load_lexicon` writes intermediate.sentiment_lexicon (one row per single-word lexicon entry);
sql/intermediate/text_sentiment.sql scores each distinct text once, with no Python loop over texts.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from transforms.warehouse import replace_table, sql_file

ALPHA = 15.0  # VADER's normalization constant
TOKEN_PATTERN = r"[a-z]+(?:'[a-z]+)*"


def lexicon_path() -> Path:
    """vader_lexicon.txt inside the installed vaderSentiment package."""
    return Path(str(resources.files("vaderSentiment").joinpath("vader_lexicon.txt")))


def read_lexicon(path: Path | None = None) -> tuple[list[str], list[float]]:
    """(tokens, valences) of the single-word entries of a VADER lexicon file
    (tab-separated: token, mean valence, standard deviation, raw ratings); the packaged one by default."""
    tokens, valences = _read_lexicon(path or lexicon_path())
    return list(tokens), list(valences)


@cache
def _read_lexicon(path: Path) -> tuple[tuple[str, ...], tuple[float, ...]]:
    tokens: list[str] = []
    valences: list[float] = []
    seen: set[str] = set()
    text = path.read_text(encoding="utf-8", errors="replace")
    for line in text.splitlines():  # one iteration per lexicon entry (~7,500), not per text
        parts = line.strip("\r\n").split("\t")
        if len(parts) < 2:
            continue
        token = parts[0].strip().lower()
        if not token or " " in token or token in seen:
            continue
        try:
            valence = float(parts[1])
        except ValueError:
            continue
        seen.add(token)
        tokens.append(token)
        valences.append(valence)
    return tuple(tokens), tuple(valences)


def vader_constants() -> dict[str, Any]:
    """Negation words and their scalar, taken from the vaderSentiment package."""
    from vaderSentiment.vaderSentiment import N_SCALAR, NEGATE

    return {"negations": [w.lower() for w in NEGATE], "negation_scalar": float(N_SCALAR)}


def load_lexicon(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> int:
    """Write intermediate.sentiment_lexicon from the packaged VADER lexicon."""
    tokens, valences = read_lexicon(path)
    return replace_table(
        con,
        "intermediate.sentiment_lexicon",
        sql_file("ops/sentiment/lexicon").strip().rstrip(";"),
        {"tokens": tokens, "valences": valences},
    )


def sentiment_params() -> dict[str, Any]:
    """Bound parameters of sql/intermediate/text_sentiment.sql."""
    return {"token_pattern": TOKEN_PATTERN, "alpha": ALPHA, **vader_constants()}

"""How the local store turns a keyword list and a cosine list into one ranking (no numpy).

`recall` gathers candidates from two sides — the best FTS5 matches by BM25 and the nearest
memories by cosine similarity of sentence vectors — and scores each one:

    relevance = 0.9 × max(cosine, 0) + 0.1 × bm25 / best_bm25 + 0.2 × identifier_share
    score = relevance × ((0.5 + importance) × recency) ** 0.25

`identifier_share` is the fraction of the query's exact identifiers (error codes like `E1234`
or `ERR_SSL_PROTOCOL`, paths like `src/app/db.py`, `#123`, snake_case/camelCase names,
`CVE-2023-44487`) that appear verbatim in the memory. Meaning decides the order; the keyword
score breaks near-ties; an exact identifier lifts the memory that names it above
look-alikes that only share its meaning (sentence vectors barely tell `E1234` from `E1243`).
This weighted sum won on the labeled set in `bench/data/` against cosine alone and
reciprocal-rank fusion (`bench/memory_recall.py` prints the comparison).

A candidate without a vector yet (an older database being filled) gets its keyword score in
place of a cosine, scaled as a typical good match, so FTS5 answers for it until it is filled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

#: Ranking modes of `LocalMemory(ranking=…)`: the product default first.
HYBRID, EMBEDDING, RRF, KEYWORD = "hybrid", "embedding", "rrf", "keyword"
RANKINGS = (HYBRID, EMBEDDING, RRF, KEYWORD)

COSINE_WEIGHT = 0.9
IDENTIFIER_BOOST = 0.2
#: The cosine of a typical good match (median over the labeled set: 0.52).
TYPICAL_MATCH_COSINE = 0.5
#: Below this cosine, a memory with no keyword and no identifier in common is not a match.
MIN_COSINE = 0.1
RRF_K = 60
#: The store's importance and recency factors (×0.5..1.5 and ×0.8..1.0 on keyword scores)
#: are taken to this power on fused scores: ×0.8..1.1, enough to order near-ties, never
#: enough to bury a clearly closer memory (cosines span a far narrower range than BM25).
FACTOR_EXPONENT = 0.25

_TOKEN = re.compile(r"#\d+|[\w./\\-]+", re.UNICODE)
_FILE = re.compile(r"[\w-]{2,}\.[A-Za-z][A-Za-z0-9]{0,4}")
_CAMEL = re.compile(r"[a-z][A-Z]")


@dataclass
class Candidate:
    """One memory under consideration for a query."""

    n: int
    cosine: float | None = None  # None: no current vector
    cosine_rank: int | None = None  # 1-based among the cosine candidates
    bm25: float = 0.0  # relevance (−bm25, ≥ 0); 0 when not a keyword match
    bm25_rank: int | None = None
    identifiers: float = 0.0  # share of the query's identifiers found verbatim


def memory_text(summary: str, content: str, tags: Sequence[str]) -> str:
    """The text a memory's vector is computed from: summary, content (when it says more),
    tags. The encoder reads the first 256 word pieces."""
    parts = [summary.strip()]
    body = content.strip()
    if body and body != parts[0]:
        parts.append(body)
    if tags:
        parts.append(" ".join(tags))
    return "\n".join(parts)


def _is_path(raw: str, token: str) -> bool:
    """`src/app/db.py`, `/bin/bash`, `./run.sh`, `a/b/c` — not `and/or` or `CI/CD`."""
    slashes = token.count("/") + token.count("\\")
    if not slashes or not any(c.isalpha() for c in token):
        return False
    return slashes >= 2 or raw[:1] in "/~" or raw.startswith("./") or bool(_FILE.search(token))


def _is_identifier(raw: str, token: str) -> bool:
    if token.startswith("#"):
        return token[1:].isdigit()
    if len(token) < 3:
        return False
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return (
        _is_path(raw, token)
        or "_" in token.strip("_")  # snake_case, SCREAMING_CASE
        or (has_digit and has_alpha)  # E1234, x509, CVE-2023-44487, OPS-482, v2.4.0
        or bool(_CAMEL.search(token))  # camelCase
        or bool(_FILE.fullmatch(token))  # db.py, Node.js
        or (token.isalpha() and token.isupper() and len(token) >= 6)  # ECONNRESET, GOMAXPROCS
    )


def identifiers(query: str) -> list[str]:
    """The exact identifiers in a query, in order, without duplicates."""
    found: list[str] = []
    for match in _TOKEN.finditer(query):
        raw = match.group(0)
        token = raw.strip(".-/\\")
        if token and _is_identifier(raw, token) and token.lower() not in (f.lower() for f in found):
            found.append(token)
    return found


@lru_cache(maxsize=256)
def _pattern(identifier: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(identifier)}(?![\w])", re.IGNORECASE)


def identifier_share(idents: Sequence[str], text: str) -> float:
    """The fraction of `idents` that occur in `text` as whole tokens (case-insensitive)."""
    if not idents:
        return 0.0
    return sum(1 for i in idents if _pattern(i).search(text)) / len(idents)


def relevance(c: Candidate, ranking: str, best_bm25: float) -> float | None:
    """The fused relevance of one candidate (higher is better), or None when it is no match."""
    keyword = c.bm25 / best_bm25 if best_bm25 > 0 else 0.0
    if ranking == RRF:
        score = sum(1.0 / (RRF_K + r) for r in (c.cosine_rank, c.bm25_rank) if r is not None)
        return score or None
    if c.cosine is None:
        cosine = keyword * TYPICAL_MATCH_COSINE  # not embedded yet: FTS5 answers for it
    else:
        cosine = max(c.cosine, 0.0)
        if cosine < MIN_COSINE and keyword == 0.0 and c.identifiers == 0.0:
            return None
    if ranking == EMBEDDING:
        return cosine if cosine > 0 else None
    return COSINE_WEIGHT * cosine + (1.0 - COSINE_WEIGHT) * keyword + IDENTIFIER_BOOST * c.identifiers

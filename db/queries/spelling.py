"""Spelling tolerance for search: each query word may be any known word one edit away.

Trigram similarity is a poor judge of a swapped pair of letters: `marbel` and `marble`
share only 4 of 10 trigrams (word_similarity 0.57, under pg_trgm's 0.6 default), and in a
short word such as `tlie` / `tile` only the leading blank trigram survives. An edit
distance that counts a transposition as one edit (Damerau) catches every one of them
exactly. So each word of the query is expanded into the words one edit away (deletion,
adjacent transposition, substitution, insertion: about 450 for an 8-letter word), only
those that occur in the organisation's records are kept (`search_words`, one indexed
look-up), and the result is OR-ed into one tsquery that the GIN index of `search_vector`
answers. The search vector holds every searchable field (names, category, drawing type,
room, supplier, manufacturer, material, descriptions), so the tolerance covers them all.

Pure functions: the caller folds accents and case first (`lower(f_unaccent(q))`), so the
words are those of the stored `to_tsvector('simple', f_unaccent(...))` lexemes.
"""

from __future__ import annotations

import re

ALPHABET = "abcdefghijklmnopqrstuvwxyz"  # after f_unaccent, Turkish letters are ASCII too
MIN_LETTERS = 4  # shorter words have too many neighbours one edit away to mean anything
MAX_LETTERS = 32  # no real word is longer; the neighbours of a long one would only cost
MAX_WIDENED = 4  # words widened per query: bounds the tsquery (~450 words each)
_WORD = re.compile(r"[^\W_]+")
_PLAIN = re.compile(r"[a-z]+")
# websearch syntax the widening would misread: phrases, negation, OR
_SYNTAX = re.compile(r"\"|(^|\s)-\S|(^|\s)or(\s|$)")


def one_edit_away(word: str) -> set[str]:
    """Every word at Damerau-Levenshtein (optimal string alignment) distance 1."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1 and b[0] != b[1]}
    replaces = {a + c + b[1:] for a, b in splits if b for c in ALPHABET if c != b[0]}
    inserts = {a + c + b for a, b in splits for c in ALPHABET}
    return (deletes | swaps | replaces | inserts) - {word}


def correctable(folded: str) -> list[str]:
    """The words of a folded query that may be misspelled (at most MAX_WIDENED); none for
    websearch syntax (phrases, negation, OR) that widening would change."""
    if _SYNTAX.search(folded):
        return []
    words = dict.fromkeys(_WORD.findall(folded))
    return [w for w in words if _PLAIN.fullmatch(w)
            and MIN_LETTERS <= len(w) <= MAX_LETTERS][:MAX_WIDENED]


def neighbours(words: list[str]) -> list[str]:
    """Every word one edit away from any of `words`, to be looked up in `search_words`."""
    return sorted(set().union(*(one_edit_away(w) for w in words))) if words else []


def widened_tsquery(folded: str, known: set[str]) -> str | None:
    """`to_tsquery('simple', …)` text: every word of the query required, each correctable
    one as itself or any `known` word one edit away; None when no word has such a
    neighbour (the whole-word tier already ran that query)."""
    widen = set(correctable(folded))
    terms, widened = [], False
    for word in dict.fromkeys(_WORD.findall(folded)):
        near = sorted(one_edit_away(word) & known) if word in widen else []
        widened = widened or bool(near)
        terms.append("(" + " | ".join([word, *near]) + ")" if near else f"'{word}'")
    return " & ".join(terms) if widened else None

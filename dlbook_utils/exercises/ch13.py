"""Checkers for chapter 13, Sequence labelling: POS tagging, NER and dependency parsing.

* 13.1 ``bio_spans(tags)``: the entities of one sentence's BIO tags as a set of ``(type, first, last)``, with the
  CoNLL reading of a stray ``I-X`` (it opens an entity).
* 13.2 ``is_projective(heads)``: whether a dependency tree's arcs, the root's included, can be drawn above the
  sentence without crossing.

Each checker tests the answer on inputs it draws itself and compares with a reference (for 13.1 the package's own `seqmetrics.bio_spans`); its
messages say what kind of input goes wrong, not what the right answer is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, expect, expect_callable, register
from ..seqmetrics import bio_spans as _reference_spans   # the reference: the package's own reader of BIO tags

# ---------------------------------------------------------------------------------------------
# 13.1 BIO span extraction
# ---------------------------------------------------------------------------------------------

_TYPES = ("PER", "LOC", "ORG", "MISC")


def _as_spans(value: Any, what: str) -> set[tuple[str, int, int]]:
    if value is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    try:
        items = list(value)
        spans = {(str(k), int(a), int(b)) for k, a, b in items}
    except (TypeError, ValueError) as err:
        raise Feedback(f"{what} should return a set of (type, first, last) tuples; reading it failed: {err}") from None
    if len(spans) != len(items):
        raise Feedback(f"{what} lists the same entity twice: return each entity once (a set)")
    return spans


def _tag_cases(rng: np.random.Generator) -> list[tuple[str, list[str]]]:
    cases = [
        ("no entities", ["O", "O", "O"]),
        ("an empty sentence", []),
        ("one entity in the middle", ["O", "B-PER", "I-PER", "O"]),
        ("an entity that ends the sentence", ["O", "B-LOC", "I-LOC"]),
        ("an entity that starts the sentence", ["B-ORG", "I-ORG", "I-ORG", "O"]),
        ("two adjacent entities of the same type", ["B-PER", "B-PER", "I-PER"]),
        ("a B- right after an I- of the same type", ["B-LOC", "I-LOC", "B-LOC", "O"]),
        ("an entity whose I- changes type", ["B-ORG", "I-LOC", "I-LOC", "O"]),
        ("a stray I- after O", ["O", "I-MISC", "I-MISC", "O"]),
        ("a stray I- at the start", ["I-PER", "O", "B-LOC"]),
        ("one-token entities", ["B-PER", "O", "B-ORG", "B-LOC"]),
    ]
    for _ in range(200):
        n = int(rng.integers(1, 15))
        tags = []
        for _ in range(n):
            r = rng.random()
            tags.append("O" if r < 0.4 else f"{'B' if r < 0.7 else 'I'}-{_TYPES[rng.integers(len(_TYPES))]}")
        cases.append(("random BIO tags", tags))
    return cases


@register("13.1", "BIO span extraction", written_by_learner=("dlbook_utils.seqmetrics:bio_spans",))
def check_bio_spans(bio_spans: Any) -> None:
    expect_callable(bio_spans, "bio_spans")
    rng = np.random.default_rng(1301)
    for name, tags in _tag_cases(rng):
        copy = list(tags)
        got = _as_spans(bio_spans(copy), f"bio_spans({tags})")
        expect(copy == tags, "bio_spans changed the list of tags it was given; read it without modifying it")
        expected = _reference_spans(tags)
        if got == expected:
            continue
        if all(len(k) > 2 and k[1] == "-" for k, _, _ in got) and {(k[2:], a, b) for k, a, b in got} == expected:
            raise Feedback("the type of an entity is the tag without its prefix: 'PER', not 'B-PER'")
        if {(k, a, b + 1) for k, a, b in got} == expected or {(k, a, b - 1) for k, a, b in got} == expected:
            raise Feedback(f"on {tags} the entities are off by one at their end: 'last' is the position of the "
                           "entity's last token (inclusive)")
        raise Feedback(f"bio_spans({tags}) is not right (a case with {name}). Read each tag in turn and ask "
                       "whether it closes the entity that is open, opens a new one, or both.")


# ---------------------------------------------------------------------------------------------
# 13.2 Projectivity
# ---------------------------------------------------------------------------------------------


def _reference_projective(heads: list[int]) -> bool:
    arcs = [tuple(sorted((h, d))) for d, h in enumerate(heads, start=1)]
    return not any(a < c < b < e for a, b in arcs for c, e in arcs)


def _without_root_arc(heads: list[int]) -> bool:
    arcs = [tuple(sorted((h, d))) for d, h in enumerate(heads, start=1) if h != 0]
    return not any(a < c < b < e for a, b in arcs for c, e in arcs)


def _random_tree(rng: np.random.Generator, n: int) -> list[int]:
    order = list(rng.permutation(n) + 1)            # attach words one by one to the root or to a placed word
    heads = [0] * n
    placed = [0]
    for word in order:
        heads[word - 1] = int(placed[rng.integers(len(placed))])
        placed.append(word)
    return heads


@register("13.2", "projective dependency trees", written_by_learner=("dlbook_utils.tagging:is_projective",))
def check_is_projective(is_projective: Any) -> None:
    expect_callable(is_projective, "is_projective")
    fixed = [
        ([0], "a one-word sentence"),
        ([2, 0, 2], "a small projective tree"),
        ([3, 3, 0, 3], "arcs that share a head"),
        ([2, 3, 0], "a chain"),
        ([0, 1, 2, 3], "a chain to the right"),
        ([3, 4, 0, 3], "two crossing arcs"),
        ([0, 4, 1, 1], "two crossing arcs"),
        ([3, 0, 2, 1], "a crossing that only the root's arc takes part in"),
        ([2, 0, 4, 1], "a crossing that only the root's arc takes part in"),
        ([4, 3, 4, 0, 4], "nested arcs"),
    ]
    rng = np.random.default_rng(1302)
    cases = fixed + [(_random_tree(rng, int(rng.integers(2, 12))), "a random tree") for _ in range(300)]
    for heads, name in cases:
        copy = list(heads)
        got = is_projective(copy)
        expect(copy == heads, "is_projective changed the heads it was given; read them without modifying them")
        if got is None:
            raise Feedback("is_projective returned None: did you forget the `return`?")
        if not isinstance(got, (bool, np.bool_)):
            raise Feedback(f"is_projective should return True or False, but it returned a {type(got).__name__}")
        expected = _reference_projective(heads)
        if bool(got) == expected:
            continue
        if expected is False and _without_root_arc(heads):
            raise Feedback(f"is_projective({heads}) should see a crossing with the root's arc: the root is a word "
                           "at position 0, and its arc to the sentence's main word can cross other arcs")
        if expected:
            raise Feedback(f"is_projective({heads}) found a crossing where there is none ({name}): arcs that "
                           "share an end, or that lie one inside the other, do not cross")
        raise Feedback(f"is_projective({heads}) missed a crossing ({name}). Two arcs cross when exactly one end "
                       "of one lies strictly between the ends of the other.")

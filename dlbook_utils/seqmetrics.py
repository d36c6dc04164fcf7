"""Metrics for sequences: exact match, entity-level F1 from BIO tags, and attachment score for parsers.

Token accuracy flatters a tagger (most tokens are ``O``); named-entity recognition is scored on whole entities, as
the CoNLL shared tasks do: an entity counts only when its type, its first and its last token are all right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["exact_match", "bio_spans", "EntityScores", "entity_scores", "attachment_score"]


def exact_match(predicted: Sequence[Sequence], target: Sequence[Sequence]) -> float:
    """The fraction of predicted sequences (strings, lists, arrays) equal to their target in every position."""
    if len(predicted) != len(target):
        raise ValueError(f"{len(predicted)} predictions for {len(target)} targets")
    if not len(target):
        raise ValueError("exact match of no sequences is undefined")
    return float(np.mean([list(p) == list(t) for p, t in zip(predicted, target)]))


def bio_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """The entities in one sentence's BIO tags, as ``(type, first, last)`` token positions (``last`` inclusive).

    ``B-X`` opens an entity of type X; ``I-X`` continues one of type X, or opens one after ``O`` or after an entity
    of another type (the CoNLL evaluation script reads a stray ``I-X`` that way); ``O`` closes it.
    """
    spans: set[tuple[str, int, int]] = set()
    kind, start = None, 0
    for i, tag in enumerate(list(tags) + ["O"]):
        if tag != "O" and (len(tag) < 3 or tag[1] != "-" or tag[0] not in "BI"):
            raise ValueError(f"tag {tag!r} at position {i} is not O, B-TYPE or I-TYPE")
        prefix, label = (tag[0], tag[2:]) if tag != "O" else ("O", None)
        if kind is not None and (prefix != "I" or label != kind):
            spans.add((kind, start, i - 1))
            kind = None
        if prefix == "B" or (prefix == "I" and kind is None):
            kind, start = label, i
    return spans


@dataclass(frozen=True)
class EntityScores:
    """Micro-averaged precision, recall and F1 over entities, and the same per type (with the number of true ones)."""

    precision: float
    recall: float
    f1: float
    per_type: dict[str, tuple[float, float, float, int]]


def _prf(correct: int, predicted: int, true: int) -> tuple[float, float, float]:
    p = correct / predicted if predicted else 0.0
    r = correct / true if true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def entity_scores(true_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]) -> EntityScores:
    """Entity-level precision, recall and F1 of ``predicted_tags`` against ``true_tags`` (one tag list per sentence)."""
    if len(true_tags) != len(predicted_tags):
        raise ValueError(f"{len(predicted_tags)} predicted sentences for {len(true_tags)} true ones")
    counts: dict[str, list[int]] = {}
    for n, (truth, guess) in enumerate(zip(true_tags, predicted_tags)):
        if len(truth) != len(guess):
            raise ValueError(f"sentence {n}: {len(guess)} predicted tags for {len(truth)} tokens")
        t, g = bio_spans(truth), bio_spans(guess)
        for span in t | g:
            c = counts.setdefault(span[0], [0, 0, 0])
            c[0] += span in t and span in g
            c[1] += span in g
            c[2] += span in t
    total = np.sum(list(counts.values()), axis=0) if counts else np.zeros(3, dtype=int)
    per_type = {k: (*_prf(*v), v[2]) for k, v in sorted(counts.items())}
    return EntityScores(*_prf(*(int(x) for x in total)), per_type)


def attachment_score(predicted_heads: Sequence[Sequence[int]], true_heads: Sequence[Sequence[int]],
                     *, ignore: Sequence[Sequence[bool]] | None = None) -> float:
    """Unlabelled attachment score: the fraction of tokens whose predicted head is their true head.

    Heads are per sentence, 0 for the root and ``i`` for the sentence's ``i``-th token (1-based, the CoNLL
    convention). ``ignore`` marks tokens to leave out (for example punctuation), sentence by sentence.
    """
    if len(predicted_heads) != len(true_heads):
        raise ValueError(f"{len(predicted_heads)} predicted sentences for {len(true_heads)} true ones")
    right = total = 0
    for n, (p, t) in enumerate(zip(predicted_heads, true_heads)):
        p, t = np.asarray(p), np.asarray(t)
        if p.shape != t.shape:
            raise ValueError(f"sentence {n}: {p.shape[0]} predicted heads for {t.shape[0]} tokens")
        keep = np.ones(len(t), bool) if ignore is None else ~np.asarray(ignore[n], dtype=bool)
        right += int(np.sum((p == t) & keep))
        total += int(keep.sum())
    if not total:
        raise ValueError("no tokens to score")
    return right / total

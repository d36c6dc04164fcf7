"""Checkers for chapter 16, Tokenisation and language models.

* 16.1 ``count_pairs(word_counts)``: BPE's pair counts, from ``{word as a tuple of tokens: count}`` to
  ``{(left, right): count}``.
* 16.2 ``add_k_bigram(ids, vocab_size, k)``: the ``(V, V)`` matrix of add-k smoothed bigram probabilities
  ``P[a, b] = P(next = b | previous = a)``.
* 16.3 ``scores(probs)``: from the probabilities a model gave to the characters that came, the cross-entropy in
  nats, in bits, and the perplexity, as a tuple of three numbers.

Each checker draws its own inputs and compares with a reference computed here; its messages say what goes wrong,
not what the right numbers are.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from ..check import Feedback, expect, expect_callable, expect_close, expect_number, expect_shape, register

# ---------------------------------------------------------------------------------------------
# 16.1 BPE pair counts
# ---------------------------------------------------------------------------------------------


def _reference_pairs(word_counts: dict) -> dict:
    out: collections.Counter = collections.Counter()
    for word, n in word_counts.items():
        for pair in zip(word, word[1:]):
            out[pair] += n
    return dict(out)


def _random_words(rng: np.random.Generator, n_words: int, symbols: list[str]) -> dict:
    words = {}
    while len(words) < n_words:
        length = int(rng.integers(1, 8))
        words[tuple(rng.choice(symbols, size=length))] = int(rng.integers(1, 50))
    return words


@register("16.1", "counting adjacent pairs for BPE", written_by_learner=("dlbook_utils.tokenise:pair_statistics",))
def check_count_pairs(count_pairs: Any) -> None:
    expect_callable(count_pairs, "count_pairs")
    rng = np.random.default_rng(161)
    cases = [{("l", "o", "w"): 5, ("l", "o", "w", "e", "r"): 2, (" ", "n", "e", "w"): 6, ("a", "a", "a"): 3},
             _random_words(rng, 40, list("abcde ")), _random_words(rng, 200, ["th", "e", " ", "a", "ing", "s"]),
             {("x",): 7, (" ", "y"): 1}]
    for word_counts in cases:
        what = f"count_pairs on {len(word_counts)} words"
        before = dict(word_counts)
        got = count_pairs(word_counts)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        expect(isinstance(got, dict), f"{what} should return a dict (a Counter is fine), got {type(got).__name__}")
        expect(word_counts == before, "count_pairs changed the word table it was given; leave it as it is")
        got = {tuple(k): v for k, v in got.items() if v != 0}
        ref = _reference_pairs(word_counts)
        if got == ref:
            continue
        expect(all(isinstance(k, tuple) and len(k) == 2 for k in got),
               f"{what}: the keys should be pairs of tokens (left, right)")
        unweighted = _reference_pairs({w: 1 for w in word_counts})
        if got == unweighted:
            raise Feedback(f"{what}: every word counts once; a word that occurs n times holds its pairs n times")
        distinct = collections.Counter()
        for w, n in word_counts.items():
            for pair in set(zip(w, w[1:])):
                distinct[pair] += n
        if got == dict(distinct):
            raise Feedback(f"{what}: a pair that occurs twice in one word (as in 'a a a') should be counted twice")
        missing = set(ref) - set(got)
        extra = set(got) - set(ref)
        expect(not extra, f"{what}: {len(extra)} of your pairs never occur inside a word; pairs never cross the "
               "boundary between two words")
        expect(not missing, f"{what}: {len(missing)} pairs that occur are missing (look at the first and last "
               "pairs of each word)")
        wrong = sum(got[k] != ref[k] for k in ref)
        raise Feedback(f"{what}: {wrong} of the {len(ref)} counts are wrong")


# ---------------------------------------------------------------------------------------------
# 16.2 Add-k bigram probabilities
# ---------------------------------------------------------------------------------------------


def _reference_bigram(ids: np.ndarray, vocab_size: int, k: float) -> np.ndarray:
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return (counts + k) / (counts.sum(axis=1, keepdims=True) + k * vocab_size)


@register("16.2", "add-k smoothed bigram probabilities")
def check_add_k_bigram(add_k_bigram: Any) -> None:
    expect_callable(add_k_bigram, "add_k_bigram")
    rng = np.random.default_rng(162)
    for n, vocab_size, k in [(200, 5, 1.0), (5_000, 12, 0.1), (50, 30, 0.5), (1_000, 8, 2.0)]:
        ids = rng.integers(0, vocab_size, size=n)
        ids[-1] = vocab_size - 1                                        # the last symbol also starts no pair
        copy = ids.copy()
        what = f"add_k_bigram(ids of length {n}, vocab_size={vocab_size}, k={k})"
        got = add_k_bigram(ids, vocab_size, k)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        expect(np.array_equal(ids, copy), "add_k_bigram changed `ids`; leave its input as it is")
        ref = _reference_bigram(ids, vocab_size, k)
        got = expect_shape(got, ref.shape, what)
        if np.allclose(got, ref, atol=1e-9):
            continue
        expect(np.all(np.isfinite(got)), f"{what} contains NaN or infinite values")
        if np.allclose(got, ref.T, atol=1e-9):
            raise Feedback(f"{what}: the matrix is transposed; row a should hold P(next = b | previous = a)")
        counts = np.zeros((vocab_size, vocab_size))
        np.add.at(counts, (ids[:-1], ids[1:]), 1)
        unsmoothed = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        expect(not np.allclose(got, unsmoothed, atol=1e-9), f"{what}: these are the unsmoothed frequencies; "
               "smoothing with k should change them")
        expect(np.all(got > 0), f"{what}: some probabilities are 0; smoothing should give every pair some "
               "probability")
        if np.allclose(got.sum(axis=0), 1) and not np.allclose(got.sum(axis=1), 1):
            raise Feedback(f"{what}: the columns sum to 1; each row, a distribution over the next symbol, should")
        expect(np.allclose(got.sum(axis=1), 1, atol=1e-9), f"{what}: the rows do not sum to 1. The denominator "
               "is what makes a row a distribution: count every pair that starts with a, and what the k's add")
        expect_close(got, ref, what, rtol=1e-6, atol=1e-9, hint="each pair count gets k added once")


# ---------------------------------------------------------------------------------------------
# 16.3 Nats, bits and perplexity
# ---------------------------------------------------------------------------------------------


@register("16.3", "cross-entropy in nats and bits, and perplexity",
          written_by_learner=("dlbook_utils.ngram:perplexity", "dlbook_utils.ngram:bits_per_character"))
def check_scores(scores: Any) -> None:
    expect_callable(scores, "scores")
    rng = np.random.default_rng(163)
    cases = [np.full(10, 0.25), rng.uniform(0.01, 1, size=50), rng.beta(2, 5, size=1_000) + 1e-3, np.array([0.5])]
    for probs in cases:
        what = f"scores on {len(probs)} probabilities"
        copy = probs.copy()
        got = scores(probs)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        expect(np.array_equal(probs, copy), "scores changed its input; leave it as it is")
        expect(isinstance(got, (tuple, list)) and len(got) == 3,
               f"{what} should return three numbers: (nats, bits, perplexity)")
        nats, bits, ppl = (expect_number(v, f"the {name} of {what}") for v, name in
                           zip(got, ("cross-entropy in nats", "cross-entropy in bits", "perplexity")))
        ref_nats = float(-np.mean(np.log(probs)))
        if not np.isclose(nats, ref_nats, rtol=1e-6):
            expect(nats > 0, f"{what}: the cross-entropy is positive (−log of a probability is ≥ 0); "
                   "check the sign")
            expect(not np.isclose(nats, -np.sum(np.log(probs)), rtol=1e-6) or len(probs) == 1,
                   f"{what}: the cross-entropy is the mean over the characters, not the sum")
            expect(not np.isclose(nats, -np.mean(np.log10(probs)), rtol=1e-6),
                   f"{what}: nats use the natural logarithm")
            expect(not np.isclose(nats, -np.log(np.mean(probs)), rtol=1e-6),
                   f"{what}: take the logarithm of each probability first, then the mean")
            raise Feedback(f"{what}: the cross-entropy in nats is off")
        if not np.isclose(bits, ref_nats / np.log(2), rtol=1e-6):
            expect(not np.isclose(bits, ref_nats * np.log(2), rtol=1e-6),
                   f"{what}: one bit is ln 2 ≈ 0.69 nats, so the same cross-entropy is more bits than nats; "
                   "check the direction of the conversion")
            raise Feedback(f"{what}: the cross-entropy in bits is off; bits use base-2 logarithms")
        if not np.isclose(ppl, np.exp(ref_nats), rtol=1e-6):
            expect(not np.isclose(ppl, 2 ** ref_nats, rtol=1e-6) and not np.isclose(ppl, 10 ** ref_nats, rtol=1e-6),
                   f"{what}: the perplexity raises the logarithm's own base to the cross-entropy")
            expect(not np.isclose(ppl, 1 / np.mean(probs), rtol=1e-6),
                   f"{what}: the perplexity is the inverse of the geometric mean of the probabilities, not of "
                   "their arithmetic mean")
            raise Feedback(f"{what}: the perplexity is off")
        expect(np.isclose(ppl, 2 ** bits, rtol=1e-6), f"{what}: the perplexity should equal 2 to the power of the bits")

"""Checkers for chapter 11 · Word embeddings and Word2Vec.

* 11.1 ``keep_probability(counts, sample=1e-3)``: the subsampling of the released word2vec code.
* 11.2 ``draw_negatives(contexts, noise, k, rng)``: negative samples from a noise distribution, never the context.
* 11.3 ``analogy_3cosmul(vectors, a, b, c, k)``: Levy & Goldberg's multiplicative analogy search.

Each checker calls the learner's function on inputs it draws itself and compares with a reference computed
here; the messages say what is wrong without giving the answer away.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_shape, register


# ---------------------------------------------------------------------------------------------
# 11.1 · keep_probability
# ---------------------------------------------------------------------------------------------


def _reference_keep(counts: np.ndarray, sample: float) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    share = counts / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(share / sample) + 1) * sample / share
    keep[counts == 0] = 1.0
    return np.minimum(keep, 1.0)


@register("11.1", "word2vec's keep probability")
def check_keep_probability(keep_probability: Any) -> None:
    expect_callable(keep_probability, "keep_probability")
    rng = np.random.default_rng(1101)
    zipf = np.floor(2e6 / np.arange(1, 3001) ** 1.05)                 # a Zipf-like vocabulary
    cases = [(zipf, 1e-3), (zipf, 1e-4), (rng.integers(1, 50_000, size=500).astype(float), 1e-2),
             (np.array([900_000.0, 50_000, 3_000, 120, 7, 1]), 1e-3)]
    for counts, sample in cases:
        what = f"keep_probability(counts of {len(counts)} words, sample={sample:g})"
        original = counts.copy()
        got = keep_probability(counts, sample=sample)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        expect(np.array_equal(counts, original), "keep_probability changed the counts in place; work on a copy")
        got = expect_shape(as_array(got, what), counts.shape, what)
        expected = _reference_keep(counts, sample)
        expect(np.all(np.isfinite(got)), f"{what} contains inf or nan; a probability is a finite number")
        expect(np.all((got >= 0) & (got <= 1 + 1e-12)),
               f"{what} has values outside [0, 1]; a probability of keeping a word is capped at 1")
        if np.allclose(got, expected, rtol=1e-6, atol=1e-9):
            continue
        if np.allclose(got, 1 - expected, rtol=1e-6, atol=1e-9):
            raise Feedback(f"{what}: these look like probabilities of *dropping* a word; return the chance of keeping it")
        share = counts / counts.sum()
        with np.errstate(divide="ignore"):
            paper = np.clip(np.sqrt(sample / share), 0, 1)
        if np.allclose(got, paper, rtol=1e-6, atol=1e-9):
            raise Feedback(f"{what}: that is the paper's formula, sqrt(t / f); the released code adds a second "
                           "term, as in the exercise's formula")
        raw = counts / counts.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            by_counts = np.minimum((np.sqrt(counts / sample) + 1) * sample / counts, 1.0)
        if np.allclose(got, by_counts, rtol=1e-6, atol=1e-9) and not np.allclose(raw, counts):
            raise Feedback(f"{what}: f(w) is the word's share of the text (its count divided by the total), "
                           "not its raw count")
        expect(bool(np.all(np.diff(got[np.argsort(-counts, kind='stable')]) >= -1e-12)),
               f"{what}: a more frequent word should never be kept more often than a rarer one")
        raise Feedback(f"{what} differs from word2vec's keep probability; check the formula term by term "
                       "(where is the square root, and what multiplies it?)")
    # Words that never occur are always kept, and the default sample is 1e-3.
    counts = np.array([500_000.0, 20_000, 0, 40])
    got = as_array(keep_probability(counts), "keep_probability(counts)")
    expect(got.shape == (4,) and np.isfinite(got[2]) and abs(got[2] - 1) < 1e-12,
           "a word with count 0 should get keep probability 1 (and no inf or nan, and no warning-driven nan)")
    expect(np.allclose(got, _reference_keep(counts, 1e-3), rtol=1e-6),
           "keep_probability(counts) without `sample` should use the default sample=1e-3")


# ---------------------------------------------------------------------------------------------
# 11.2 · draw_negatives
# ---------------------------------------------------------------------------------------------


@register("11.2", "negative samples that are never the context")
def check_draw_negatives(draw_negatives: Any) -> None:
    expect_callable(draw_negatives, "draw_negatives")
    counts = np.floor(1e5 / np.arange(1, 41) ** 1.1)
    noise = counts**0.75 / np.sum(counts**0.75)
    rng = np.random.default_rng(1102)
    contexts = rng.choice(len(noise), size=20_000, p=noise)
    k = 4
    what = f"draw_negatives({len(contexts):,} contexts, a noise distribution over {len(noise)} words, k={k}, rng)"
    got = draw_negatives(contexts.copy(), noise.copy(), k, np.random.default_rng(7))
    if got is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    got = expect_shape(as_array(got, what), (len(contexts), k), what)
    expect(np.allclose(got, np.round(got)), f"{what} should return word ids, whole numbers")
    got = got.astype(np.int64)
    expect(bool(np.all((got >= 0) & (got < len(noise)))), f"{what} returned ids outside the vocabulary")
    clashes = int(np.sum(got == contexts[:, None]))
    expect(clashes == 0, f"{what}: {clashes} negatives equal their own row's context; those must be drawn again")
    again = as_array(draw_negatives(contexts.copy(), noise.copy(), k, np.random.default_rng(7)), what)
    expect(np.array_equal(again, got), "two calls with generators seeded alike gave different negatives: draw "
                                        "every random number from `rng`, not from np.random or a new generator")
    other = as_array(draw_negatives(contexts.copy(), noise.copy(), k, np.random.default_rng(8)), what)
    expect(not np.array_equal(other, got), "generators with different seeds gave the same negatives: use `rng`")
    # Each negative of a row with context c follows noise restricted to the other words.
    def restricted(weights: np.ndarray) -> np.ndarray:     # expected counts of each word among the negatives
        out = np.zeros(len(weights))
        for c, n in zip(*np.unique(contexts, return_counts=True)):
            p = np.array(weights, dtype=float)
            p[c] = 0
            out += n * k * p / p.sum()
        return out

    expected = restricted(noise)
    observed = np.bincount(got.ravel(), minlength=len(noise))
    busy = expected > 50
    z = (observed[busy] - expected[busy]) / np.sqrt(expected[busy])
    if np.max(np.abs(z)) > 6:
        uniform = restricted(np.ones(len(noise)))
        if np.max(np.abs(observed - uniform) / np.sqrt(uniform)) < 6:
            raise Feedback(f"{what}: the negatives look uniform over the vocabulary; draw them from `noise`")
        raise Feedback(f"{what}: the negatives are not distributed like `noise` (restricted to the words other "
                       "than the context); a redrawn entry should be drawn from the same distribution")
    # Every row must be able to hold any word but its context: a word with a large share is its own context often.
    small = np.array([0, 0, 1])
    two = np.array([0.5, 0.5])
    got = as_array(draw_negatives(small, two, 3, np.random.default_rng(3)), "draw_negatives on a 2-word vocabulary")
    expect(got.shape == (3, 3) and np.array_equal(got.astype(int), np.array([[1] * 3, [1] * 3, [0] * 3])),
           "with a vocabulary of two words, every negative must be the word that is not the context")


# ---------------------------------------------------------------------------------------------
# 11.3 · analogy_3cosmul
# ---------------------------------------------------------------------------------------------


def _reference_3cosmul(vectors: np.ndarray, a: int, b: int, c: int, k: int) -> np.ndarray:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    shifted = (1 + unit @ unit[[a, b, c]].T) / 2
    score = shifted[:, 1] * shifted[:, 2] / (shifted[:, 0] + 1e-3)
    score[[a, b, c]] = -np.inf
    return np.argsort(-score, kind="stable")[:k], score


def _3cosadd(vectors: np.ndarray, a: int, b: int, c: int, k: int) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    score = unit @ (unit[b] - unit[a] + unit[c])
    score[[a, b, c]] = -np.inf
    return np.argsort(-score)[:k]


@register("11.3", "analogies by 3CosMul")
def check_analogy_3cosmul(analogy_3cosmul: Any) -> None:
    expect_callable(analogy_3cosmul, "analogy_3cosmul")
    rng = np.random.default_rng(1103)
    for trial in range(12):
        n, d = int(rng.integers(30, 200)), int(rng.integers(4, 24))
        vectors = rng.normal(size=(n, d)) * rng.uniform(0.2, 5.0, size=(n, 1))   # rows of many lengths
        a, b, c = (int(i) for i in rng.choice(n, size=3, replace=False))
        if trial % 3 == 0:                        # plant an answer near b - a + c
            vectors[int(rng.integers(n))] = vectors[b] / np.linalg.norm(vectors[b]) - vectors[a] / np.linalg.norm(
                vectors[a]) + vectors[c] / np.linalg.norm(vectors[c]) + 0.05 * rng.normal(size=d)
        k = int(rng.integers(1, 8))
        what = f"analogy_3cosmul(vectors {vectors.shape}, a={a}, b={b}, c={c}, k={k})"
        original = vectors.copy()
        got = analogy_3cosmul(vectors, a, b, c, k)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        expect(np.array_equal(vectors, original), "analogy_3cosmul changed the vectors in place; work on a copy")
        got = np.asarray(as_array(got, what)).ravel()
        expect(got.shape == (k,), f"{what} should return {k} indices, got an array of shape {got.shape}")
        got = got.astype(np.int64)
        expect(not set(got.tolist()) & {a, b, c}, f"{what} returned one of the query words; they must be excluded")
        expect(len(set(got.tolist())) == k, f"{what} returned the same word twice")
        expected, score = _reference_3cosmul(vectors, a, b, c, k)
        if np.array_equal(got, expected):
            continue
        if np.allclose(score[got], score[expected], rtol=1e-9, atol=1e-12):
            continue                              # ties in another order
        if np.array_equal(got, _3cosadd(vectors, a, b, c, k)):
            raise Feedback(f"{what} returned the 3CosAdd answer (nearest to b - a + c); 3CosMul combines the "
                           "three similarities by multiplying and dividing")
        if set(got.tolist()) == set(expected.tolist()):
            raise Feedback(f"{what} found the right words in the wrong order; return the best answer first")
        unscaled = vectors @ vectors[[a, b, c]].T
        raw = (1 + unscaled) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            raw_score = raw[:, 1] * raw[:, 2] / (raw[:, 0] + 1e-3)
        raw_score[[a, b, c]] = -np.inf
        if np.array_equal(got, np.argsort(-raw_score)[:k]):
            raise Feedback(f"{what}: use cosine similarities, not raw dot products; the rows here have "
                           "different lengths")
        raise Feedback(f"{what} does not return the words with the highest 3CosMul score; check which similarity "
                       "goes in the denominator and that each is shifted into [0, 1] first")

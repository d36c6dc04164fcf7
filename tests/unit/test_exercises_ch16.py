"""Unit tests for the checkers of chapter 16 (dlbook_utils/exercises/ch16.py)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, assert_rejected, solution_namespace

NOTEBOOK = ROOT / "chapters" / "16_tokenisation_language_models.ipynb"
count_pairs = solution_namespace(NOTEBOOK, "16.1", np=np, collections=collections)["count_pairs"]
add_k_bigram = solution_namespace(NOTEBOOK, "16.2", np=np)["add_k_bigram"]
scores = solution_namespace(NOTEBOOK, "16.3", np=np)["scores"]


@pytest.mark.parametrize("exercise, answer", [("16.1", count_pairs), ("16.2", add_k_bigram), ("16.3", scores)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 16.1
# ---------------------------------------------------------------------------------------------


def test_pairs_as_a_plain_dict_are_accepted():
    def plain(word_counts):
        out = {}
        for word, n in word_counts.items():
            for i in range(len(word) - 1):
                out[word[i], word[i + 1]] = out.get((word[i], word[i + 1]), 0) + n
        return out

    assert check.run("16.1", plain)[0] == check.PASSED


def test_pairs_that_ignore_the_word_counts():
    def unweighted(word_counts):
        return collections.Counter(p for w in word_counts for p in zip(w, w[1:]))

    assert_rejected("16.1", unweighted, "every word counts once")


def test_pairs_counted_once_per_word():
    def distinct(word_counts):
        out = collections.Counter()
        for w, n in word_counts.items():
            for p in set(zip(w, w[1:])):
                out[p] += n
        return out

    assert_rejected("16.1", distinct, "counted twice")


def test_pairs_across_word_boundaries_or_missing_the_last_pair():
    def across(word_counts):
        flat = [t for w, n in word_counts.items() for _ in range(n) for t in w]
        return collections.Counter(zip(flat, flat[1:]))

    assert_rejected("16.1", across, "boundary")

    def off_by_one(word_counts):
        out = collections.Counter()
        for w, n in word_counts.items():
            for i in range(len(w) - 2):
                out[w[i], w[i + 1]] += n
        return out

    assert_rejected("16.1", off_by_one, "missing")


def test_pairs_with_joined_keys_in_place_or_none():
    assert_rejected("16.1", lambda wc: {a + b: n for (a, b), n in count_pairs(wc).items()}, "pairs of tokens")

    def in_place(word_counts):
        result = count_pairs(word_counts)
        word_counts.clear()
        return result

    assert_rejected("16.1", in_place, "changed")
    assert_rejected("16.1", lambda wc: None, "return")
    assert_rejected("16.1", lambda wc: list(count_pairs(wc).items()), "dict")


def test_pairs_may_not_call_the_package():
    from dlbook_utils import tokenise

    def borrowed(word_counts):
        symbols = sorted({t for w in word_counts for t in w})
        words = [[symbols.index(t) for t in w] for w in word_counts]
        pairs, _ = tokenise.pair_statistics(words, list(word_counts.values()))
        return {(symbols[a], symbols[b]): n for (a, b), n in pairs.items()}

    assert check.run("16.1", borrowed)[0] == check.FAILED


# ---------------------------------------------------------------------------------------------
# 16.2
# ---------------------------------------------------------------------------------------------


def _counts(ids, vocab_size):
    ids = np.asarray(ids)
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return counts


def test_bigram_transposed():
    assert_rejected("16.2", lambda ids, v, k: add_k_bigram(ids, v, k).T, "transposed")


def test_bigram_without_smoothing():
    def unsmoothed(ids, v, k):
        c = _counts(ids, v)
        return c / np.maximum(c.sum(axis=1, keepdims=True), 1)

    assert_rejected("16.2", unsmoothed, "smoothing")


def test_bigram_with_the_wrong_denominator():
    def no_kv(ids, v, k):
        c = _counts(ids, v)
        return (c + k) / c.sum(axis=1, keepdims=True).clip(1)

    assert_rejected("16.2", no_kv, "rows do not sum to 1")

    def all_occurrences(ids, v, k):                      # C(a) over every position, the last one included
        c = _counts(ids, v)
        totals = np.bincount(np.asarray(ids), minlength=v)[:, None]
        return (c + k) / (totals + k * v)

    assert_rejected("16.2", all_occurrences, "rows do not sum to 1")


def test_bigram_with_k_added_twice_or_changing_its_input():
    def k_twice(ids, v, k):
        c = _counts(ids, v)
        return (c + 2 * k) / (c.sum(axis=1, keepdims=True) + 2 * k * v)

    assert_rejected("16.2", k_twice, "off")

    def in_place(ids, v, k):
        result = add_k_bigram(ids, v, k)
        ids[0] = (ids[0] + 1) % v
        return result

    assert_rejected("16.2", in_place, "changed")
    assert_rejected("16.2", lambda ids, v, k: add_k_bigram(ids, v, k)[:-1], "shape")


# ---------------------------------------------------------------------------------------------
# 16.3
# ---------------------------------------------------------------------------------------------


def test_scores_with_the_wrong_logarithm_sign_or_sum():
    def log10(p):
        n = -np.mean(np.log10(p))
        return n, n / np.log(2), np.exp(n)

    assert_rejected("16.3", log10, "natural logarithm")

    def summed(p):
        n = -np.sum(np.log(p))
        return n, n / np.log(2), np.exp(n)

    assert_rejected("16.3", summed, "mean")

    def negative(p):
        n = np.mean(np.log(p))
        return n, n / np.log(2), np.exp(n)

    assert_rejected("16.3", negative, "sign")

    def log_of_mean(p):
        n = -np.log(np.mean(p))
        return n, n / np.log(2), np.exp(n)

    assert_rejected("16.3", log_of_mean, "logarithm of each probability")


def test_scores_with_wrong_conversions():
    def bits_backwards(p):
        n = -np.mean(np.log(p))
        return n, n * np.log(2), np.exp(n)

    assert_rejected("16.3", bits_backwards, "direction")

    def two_to_the_nats(p):
        n = -np.mean(np.log(p))
        return n, n / np.log(2), 2 ** n

    assert_rejected("16.3", two_to_the_nats, "own base")

    def arithmetic_mean(p):
        n = -np.mean(np.log(p))
        return n, n / np.log(2), 1 / np.mean(p)

    assert_rejected("16.3", arithmetic_mean, "geometric mean")

    assert_rejected("16.3", lambda p: scores(p)[:2], "three numbers")


def test_scores_as_numpy_scalars_are_accepted_and_the_package_is_not():
    assert check.run("16.3", lambda p: tuple(np.float64(v) for v in scores(p)))[0] == check.PASSED
    from dlbook_utils import ngram

    def borrowed(p):
        n = float(-np.mean(np.log(p)))
        return n, ngram.bits_per_character(n), ngram.perplexity(n)

    assert_rejected("16.3", borrowed, "Write it yourself")

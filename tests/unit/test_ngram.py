"""Unit tests for dlbook_utils.ngram (chapter 16's character n-gram models), against slow reference versions."""

from __future__ import annotations

import collections
import inspect
import math

import numpy as np
import pytest

from dlbook_utils import ngram

from tests.conftest import ROOT, load_nb

NOTEBOOK = ROOT / "chapters" / "16_tokenisation_language_models.ipynb"
TEXT = ("to be or not to be that is the question whether tis nobler in the mind to suffer "
        "the slings and arrows of outrageous fortune or to take arms against a sea of troubles ") * 3
ALPHABET = sorted(set(TEXT) | set("xyz"))          # three characters the text never uses


def test_the_chapter_shows_the_package_code():
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    shown = inspect.getsource(ngram.KneserNey).rstrip("\n")
    assert shown in sources, "chapter 16 should show KneserNey as in the package"


def _grams(text: str, m: int) -> collections.Counter:
    return collections.Counter(text[i : i + m] for i in range(len(text) - m + 1))


def test_counts_match_python_counting():
    counts = ngram.NGramCounts(TEXT, 4, alphabet=ALPHABET)
    V = len(ALPHABET)
    for m in range(1, 5):
        reference = _grams(TEXT, m)
        table = counts.raw[m]
        assert len(table.codes) == len(reference) and table.counts.sum() == len(TEXT) - m + 1
        for gram, n in list(reference.items())[:50]:
            code = 0
            for c in gram:
                code = code * V + ALPHABET.index(c)
            assert table.count(np.array([code]))[0] == n
    for m in range(1, 4):                                     # continuation: distinct characters before the m-gram
        reference = collections.Counter(g[1:] for g in _grams(TEXT, m + 1))
        assert sorted(counts.continuation[m].counts.astype(int)) == sorted(reference.values())
    assert list(counts.occurrences("to be xy", 2)) == [_grams(TEXT, 2)["to be xy"[i : i + 2]] for i in range(7)]


def _reference_add_k(text, order, k, history, c):
    h = history[len(history) - min(len(history), order - 1):]
    grams = _grams(text, len(h) + 1)
    total = sum(n for g, n in grams.items() if g[:-1] == h)
    return (grams[h + c] + k) / (total + k * len(ALPHABET))


def _reference_kneser_ney(text, order, d, history, c):
    h = history[len(history) - min(len(history), order - 1):]
    p = 1 / len(ALPHABET)
    for m in range(1, len(h) + 2):
        hh = h[len(h) - (m - 1):] if m > 1 else ""
        if m == order:
            table = _grams(text, m)
        else:
            table = collections.Counter(g[1:] for g in _grams(text, m + 1))
        followers = {x: table[hh + x] for x in ALPHABET if table[hh + x] > 0}
        total = sum(followers.values())
        if total:
            p = max(table[hh + c] - d, 0) / total + d * len(followers) / total * p
    return p


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_add_k_and_kneser_ney_match_the_reference_everywhere(order):
    counts = ngram.NGramCounts(TEXT, 5, alphabet=ALPHABET)
    new = "to sea or not, the mind xyz of arms"
    for model, reference in ((counts.add_k(order, 0.5), lambda h, c: _reference_add_k(TEXT, order, 0.5, h, c)),
                             (counts.kneser_ney(order, 0.7),
                              lambda h, c: _reference_kneser_ney(TEXT, order, 0.7, h, c))):
        got = np.exp(model.log_probs(new.replace(",", " "), context="be "))
        text = "be " + new.replace(",", " ")
        expected = [reference(text[:t], text[t]) for t in range(3, len(text))]
        np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("kind", ["add_k", "kneser_ney"])
def test_distributions_sum_to_one_and_agree_with_log_probs(kind):
    counts = ngram.NGramCounts(TEXT, 6, alphabet=ALPHABET)
    model = counts.add_k(6, 0.1) if kind == "add_k" else counts.kneser_ney(6, 0.8)
    for history in ["", "t", "to be", "xyzzy", "the slings and"]:
        p = model.distribution(history)
        assert p.shape == (len(ALPHABET),) and np.all(p > 0)
        np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-12)
    text = "whether to suffer the sea"
    lp = model.log_probs(text)
    for t in range(len(text)):
        assert math.isclose(lp[t], math.log(model.distribution(text[:t])[ALPHABET.index(text[t])]), rel_tol=1e-10)
    assert math.isclose(model.cross_entropy(text), -lp.mean())


def test_longer_histories_help_on_repetitive_text_and_kneser_ney_backs_off():
    counts = ngram.NGramCounts(TEXT, 6, alphabet=ALPHABET)
    scores = [counts.kneser_ney(n, 0.75).cross_entropy(TEXT[:200]) for n in range(1, 7)]
    assert all(a > b for a, b in zip(scores, scores[1:]))
    unseen = counts.kneser_ney(6, 0.75).cross_entropy("zyx zyx")
    assert math.isfinite(unseen)


def test_sampling_is_seeded_and_stays_in_the_alphabet():
    model = ngram.NGramCounts(TEXT, 8, alphabet=ALPHABET).kneser_ney(8, 0.5)
    a, b = model.sample(120, seed=3, prompt="to be"), model.sample(120, seed=3, prompt="to be")
    c = model.sample(120, seed=4)
    assert a == b and a != c and len(a) == 120 and set(a) <= set(ALPHABET)
    words = set(TEXT.split())
    assert np.mean([w in words for w in a.split()[1:-1]]) > 0.8        # an 8-gram copies the text's words


def test_units():
    assert math.isclose(ngram.perplexity(math.log(65)), 65)
    assert math.isclose(ngram.bits_per_character(math.log(2)), 1.0)
    assert math.isclose(2 ** ngram.bits_per_character(1.7), ngram.perplexity(1.7))


def test_errors():
    counts = ngram.NGramCounts(TEXT, 3)
    with pytest.raises(ValueError, match="order"):
        counts.add_k(4)
    with pytest.raises(ValueError, match="order"):
        counts.kneser_ney(0)
    with pytest.raises(ValueError, match="k must be positive"):
        counts.add_k(2, 0)
    with pytest.raises(ValueError, match="discount"):
        counts.kneser_ney(2, 1.0)
    with pytest.raises(ValueError, match="max_order"):
        ngram.NGramCounts(TEXT, 12, alphabet=[chr(i) for i in range(40, 110)])
    with pytest.raises(ValueError, match="fewer than max_order"):
        ngram.NGramCounts("ab", 3)
    with pytest.raises(ValueError, match="outside its alphabet"):
        counts.add_k(2).cross_entropy("to be!")
    with pytest.raises(ValueError, match="m must be"):
        counts.occurrences("to be", 4)

"""Unit tests for the checkers of chapter 11 (dlbook_utils/exercises/ch11.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check, embeddings

from tests.conftest import ROOT, assert_checker_contract, solution_namespace

NOTEBOOK = ROOT / "chapters" / "11_word_embeddings.ipynb"
keep_probability = solution_namespace(NOTEBOOK, "11.1", np=np)["keep_probability"]
draw_negatives = solution_namespace(NOTEBOOK, "11.2", np=np)["draw_negatives"]
analogy_3cosmul = solution_namespace(NOTEBOOK, "11.3", np=np)["analogy_3cosmul"]


@pytest.mark.parametrize("exercise, answer", [("11.1", keep_probability), ("11.2", draw_negatives),
                                              ("11.3", analogy_3cosmul)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# 11.1 ------------------------------------------------------------------------------------------


def test_keep_probability_rejects_the_discard_probability():
    def discard(counts, sample=1e-3):
        return 1 - keep_probability(counts, sample)

    status, message = check.run("11.1", discard)
    assert status == check.FAILED and "dropping" in message


def test_keep_probability_rejects_the_papers_formula():
    def paper(counts, sample=1e-3):
        return 1 - embeddings.discard_probability(counts, sample)

    status, message = check.run("11.1", paper)
    assert status == check.FAILED and "paper" in message


def test_keep_probability_rejects_raw_counts_and_uncapped_values():
    def raw_counts(counts, sample=1e-3):
        counts = np.asarray(counts, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            keep = (np.sqrt(counts / sample) + 1) * sample / counts
        keep[counts == 0] = 1
        return np.minimum(keep, 1)

    status, message = check.run("11.1", raw_counts)
    assert status == check.FAILED and "share" in message

    def uncapped(counts, sample=1e-3):
        share = np.asarray(counts, dtype=float) / np.sum(counts)
        with np.errstate(divide="ignore"):
            return (np.sqrt(share / sample) + 1) * sample / share

    status, message = check.run("11.1", uncapped)
    assert status == check.FAILED and ("[0, 1]" in message or "inf" in message)


def test_keep_probability_zero_counts_and_default():
    def nan_for_unseen(counts, sample=1e-3):
        share = np.asarray(counts, dtype=float) / np.sum(counts)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.minimum((np.sqrt(share / sample) + 1) * sample / share, 1.0)

    # min(inf, 1) is 1, so this one is right: it must pass
    assert check.run("11.1", nan_for_unseen)[0] == check.PASSED

    def other_default(counts, sample=1e-4):
        return keep_probability(counts, sample)

    status, message = check.run("11.1", other_default)
    assert status == check.FAILED and "default" in message


def test_keep_probability_may_not_call_the_checker():
    from dlbook_utils.exercises import ch11

    status, message = check.run("11.1", lambda counts, sample=1e-3: ch11._reference_keep(counts, sample))
    assert status == check.FAILED and "checkers" in message


# 11.2 ------------------------------------------------------------------------------------------


def test_negatives_that_may_equal_the_context_are_rejected():
    status, message = check.run("11.2", lambda contexts, noise, k, rng: embeddings.with_negatives(
        contexts, noise, k, rng)[:, 1:])
    assert status == check.FAILED and "equal their own row's context" in message


def test_uniform_negatives_are_rejected():
    def uniform(contexts, noise, k, rng):
        n = len(noise)
        out = rng.integers(0, n, size=(len(contexts), k))
        clash = out == np.asarray(contexts)[:, None]
        while clash.any():
            out[clash] = rng.integers(0, n, size=int(clash.sum()))
            clash = out == np.asarray(contexts)[:, None]
        return out

    status, message = check.run("11.2", uniform)
    assert status == check.FAILED and "uniform" in message


def test_replacing_clashes_by_a_fixed_word_is_rejected():
    def shift_by_one(contexts, noise, k, rng):
        out = rng.choice(len(noise), size=(len(contexts), k), p=noise)
        clash = out == np.asarray(contexts)[:, None]
        out[clash] = (out[clash] + 1) % len(noise)
        return out

    status, message = check.run("11.2", shift_by_one)
    assert status == check.FAILED and "distributed like" in message


def test_negatives_from_the_global_generator_are_rejected():
    def global_rng(contexts, noise, k, rng):
        return draw_negatives(contexts, noise, k, np.random.default_rng())

    status, message = check.run("11.2", global_rng)
    assert status == check.FAILED and "rng" in message


def test_negatives_of_the_wrong_shape_are_rejected():
    status, message = check.run("11.2", lambda contexts, noise, k, rng: draw_negatives(contexts, noise, k, rng).T)
    assert status == check.FAILED and "shape" in message


# 11.3 ------------------------------------------------------------------------------------------


def test_3cosadd_is_not_3cosmul():
    status, message = check.run("11.3", lambda vectors, a, b, c, k=1: embeddings.analogy(vectors, a, b, c, k))
    assert status == check.FAILED and "3CosAdd" in message


def test_3cosmul_without_exclusion_is_rejected():
    def no_exclusion(vectors, a, b, c, k=1):
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        shifted = (1 + unit @ unit[[a, b, c]].T) / 2
        return np.argsort(-(shifted[:, 1] * shifted[:, 2] / (shifted[:, 0] + 1e-3)))[:k]

    status, message = check.run("11.3", no_exclusion)
    assert status == check.FAILED and "query words" in message


def test_3cosmul_on_dot_products_or_reversed_is_rejected():
    def dot_products(vectors, a, b, c, k=1):
        shifted = (1 + vectors @ vectors[[a, b, c]].T) / 2
        score = shifted[:, 1] * shifted[:, 2] / (shifted[:, 0] + 1e-3)
        score[[a, b, c]] = -np.inf
        return np.argsort(-score)[:k]

    status, message = check.run("11.3", dot_products)
    assert status == check.FAILED

    def worst_first(vectors, a, b, c, k=1):
        return analogy_3cosmul(vectors, a, b, c, k)[::-1]

    status, message = check.run("11.3", worst_first)
    assert status == check.FAILED and "order" in message

    def a_on_top(vectors, a, b, c, k=1):
        return analogy_3cosmul(vectors, b, a, c, k)

    assert check.run("11.3", a_on_top)[0] == check.FAILED

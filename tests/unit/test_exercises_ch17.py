"""Unit tests for the checkers of chapter 17 (dlbook_utils/exercises/ch17.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, assert_rejected, solution_namespace

NOTEBOOK = ROOT / "chapters" / "17_building_a_gpt.ipynb"
causal = solution_namespace(NOTEBOOK, "17.1", np=np)["causal"]
top_k = solution_namespace(NOTEBOOK, "17.2", np=np)["top_k"]
top_p = solution_namespace(NOTEBOOK, "17.3", np=np)["top_p"]


@pytest.mark.parametrize("exercise, answer", [("17.1", causal), ("17.2", top_k), ("17.3", top_p)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 17.1
# ---------------------------------------------------------------------------------------------


def test_causal_masks_that_are_wrong():
    assert_rejected("17.1", lambda n: np.triu(np.ones((n, n), bool)), "wrong way round")
    assert_rejected("17.1", lambda n: np.tril(np.ones((n, n), bool), -1), "diagonal")
    assert_rejected("17.1", lambda n: np.ones((n, n), bool), "future")
    assert_rejected("17.1", lambda n: np.tril(np.ones((n, n + 1), bool)), "shape")
    assert_rejected("17.1", lambda n: np.tril(np.full((n, n), 2.0)), "True/False")
    assert_rejected("17.1", lambda n: np.eye(n, dtype=bool), "not the causal mask")
    assert_rejected("17.1", lambda n: None, "return")


def test_causal_mask_as_zeros_and_ones_is_accepted():
    assert check.run("17.1", lambda n: np.tril(np.ones((n, n), int)))[0] == check.PASSED


def test_causal_may_not_call_the_package():
    from dlbook_utils import transformer

    assert check.run("17.1", lambda n: np.asarray(transformer.causal_mask(n)))[0] == check.FAILED


# ---------------------------------------------------------------------------------------------
# 17.2
# ---------------------------------------------------------------------------------------------


def test_top_k_answers_that_are_wrong():
    def zeros_instead(logits, k):
        kth = np.sort(logits, axis=-1)[..., -k, None]
        return np.where(logits >= kth, logits, 0.0)

    assert_rejected("17.2", zeros_instead, "-inf")

    def smallest(logits, k):
        kth = np.sort(logits, axis=-1)[..., k - 1, None]
        return np.where(logits <= kth, logits, -np.inf)

    assert_rejected("17.2", smallest, "smallest")

    def one_too_many(logits, k):
        kth = np.sort(logits, axis=-1)[..., max(-k - 1, -logits.shape[-1]), None]
        return np.where(logits >= kth, logits, -np.inf)

    assert_rejected("17.2", one_too_many, "exactly k")

    def over_the_whole_array(logits, k):
        kth = np.sort(logits, axis=None)[-k]
        return np.where(logits >= kth, logits, -np.inf)

    assert_rejected("17.2", over_the_whole_array, "exactly k")

    def probabilities(logits, k):
        e = np.exp(top_k(logits, k))
        return e / e.sum(axis=-1, keepdims=True)

    assert_rejected("17.2", probabilities, "changed the logits")

    def in_place(logits, k):
        out = top_k(logits, k)
        logits[...] = out
        return out

    assert_rejected("17.2", in_place, "in place")


def test_top_k_may_not_call_the_package():
    from dlbook_utils import gpt

    assert check.run("17.2", lambda logits, k: gpt.top_k_filter(logits, k))[0] == check.FAILED


# ---------------------------------------------------------------------------------------------
# 17.3
# ---------------------------------------------------------------------------------------------


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_top_p_answers_that_are_wrong():
    def stops_before_p(logits, p):
        order = np.argsort(-logits, axis=-1)
        probs = np.take_along_axis(_softmax(logits), order, -1)
        keep_ranked = np.cumsum(probs, axis=-1) <= p           # drops the token that crosses p
        keep = np.zeros_like(keep_ranked)
        np.put_along_axis(keep, order, keep_ranked, -1)
        return np.where(keep, logits, -np.inf)

    assert_rejected("17.3", stops_before_p, "less than p")

    def stops_before_p_but_keeps_the_top(logits, p):
        out = stops_before_p(logits, p)
        top = np.argmax(logits, axis=-1)[..., None]
        np.put_along_axis(out, top, np.take_along_axis(logits, top, -1), -1)
        return out

    assert_rejected("17.3", stops_before_p_but_keeps_the_top, "less than p")

    def unsorted(logits, p):
        probs = _softmax(logits)
        keep = np.cumsum(probs, axis=-1) - probs < p           # in vocabulary order, not by probability
        return np.where(keep, logits, -np.inf)

    assert_rejected("17.3", unsorted, "more likely")

    def one_more(logits, p):
        order = np.argsort(-logits, axis=-1)
        probs = np.take_along_axis(_softmax(logits), order, -1)
        before = np.cumsum(probs, axis=-1) - probs
        keep_ranked = np.concatenate([np.ones_like(before[..., :1], bool), before[..., :-1] < p], axis=-1)
        keep = np.zeros_like(keep_ranked)
        np.put_along_axis(keep, order, keep_ranked, -1)
        return np.where(keep, logits, -np.inf)

    assert_rejected("17.3", one_more, "too many")

    def without_softmax(logits, p):
        order = np.argsort(-logits, axis=-1)
        ranked = np.take_along_axis(logits, order, -1)
        keep_ranked = np.cumsum(ranked, axis=-1) - ranked < p
        keep = np.zeros_like(keep_ranked)
        np.put_along_axis(keep, order, keep_ranked, -1)
        return np.where(keep, logits, -np.inf)

    assert check.run("17.3", without_softmax)[0] == check.FAILED


def test_top_p_may_not_call_the_package():
    from dlbook_utils import gpt

    assert check.run("17.3", lambda logits, p: gpt.top_p_filter(logits, p))[0] == check.FAILED

"""Unit tests for the checkers of chapter 19 (dlbook_utils/exercises/ch19.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, assert_rejected, solution_namespace

NOTEBOOK = ROOT / "chapters" / "19_fine_tuning_lora.ipynb"
merge = solution_namespace(NOTEBOOK, "19.1", np=np)["merge"]
response_weights = solution_namespace(NOTEBOOK, "19.2", np=np)["response_weights"]


@pytest.mark.parametrize("exercise, answer", [("19.1", merge), ("19.2", response_weights)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


def test_merges_that_are_wrong():
    assert_rejected("19.1", lambda w, a, b, alpha: w + a @ b if w.ndim == 2 else w + np.matmul(a, b), "not scaled")
    assert_rejected("19.1", lambda w, a, b, alpha: w + alpha * b.shape[0] * np.matmul(a, b), "not alpha · r")
    assert_rejected("19.1", lambda w, a, b, alpha: w + b.shape[0] / alpha * np.matmul(a, b), "not r / alpha")
    assert_rejected("19.1", lambda w, a, b, alpha: alpha / b.shape[0] * np.matmul(a, b), "update alone")
    assert_rejected("19.1", lambda w, a, b, alpha: w.copy(), "unchanged")
    assert_rejected("19.1", lambda w, a, b, alpha: w + alpha / a.shape[0] * np.matmul(a, b), "W + (alpha / r)")
    assert_rejected("19.1", lambda w, a, b, alpha: np.dot(a, b) if w.ndim == 2 else np.tensordot(a, b, 1)[..., :1], "shape")
    assert_rejected("19.1", lambda w, a, b, alpha: None, "return")

    def in_place(w, a, b, alpha):
        w += alpha / b.shape[0] * np.matmul(a, b)
        return w

    assert_rejected("19.1", in_place, "in place")


def test_merge_may_not_call_the_package():
    from dlbook_utils import finetune

    assert check.run("19.1", lambda w, a, b, alpha: finetune.merged_kernel(w, a, b, alpha))[0] == check.FAILED


def test_response_weights_that_are_wrong():
    def late(p, n, length):
        w = np.zeros(length)
        w[p:n] = 1
        return w

    def early(p, n, length):
        w = np.zeros(length)
        w[max(p - 2, 0):n - 2] = 1
        return w

    def prompt_too(p, n, length):
        w = np.zeros(length)
        w[: n - 1] = 1
        return w

    def without_the_newline(p, n, length):
        w = np.zeros(length)
        w[p - 1:n - 2] = 1
        return w

    assert_rejected("19.2", late, "late")
    assert_rejected("19.2", early, "early")
    assert_rejected("19.2", prompt_too, "response has")
    assert_rejected("19.2", without_the_newline, "response has")
    assert_rejected("19.2", lambda p, n, length: np.zeros(n), "shape")
    assert_rejected("19.2", lambda p, n, length: 2 * response_weights(p, n, length), "0s and 1s")
    assert_rejected("19.2", lambda p, n, length: None, "return")


def test_response_weights_as_booleans_are_accepted():
    assert check.run("19.2", lambda p, n, length: response_weights(p, n, length) > 0)[0] == check.PASSED


def test_response_weights_may_not_call_the_package():
    from dlbook_utils import finetune

    assert check.run("19.2", lambda p, n, length: finetune.response_weights(p, n, length))[0] == check.FAILED

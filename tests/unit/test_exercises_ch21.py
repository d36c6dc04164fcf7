"""Unit tests for the checkers of chapter 21 (dlbook_utils/exercises/ch21.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, assert_rejected, solution_namespace

NOTEBOOK = ROOT / "chapters" / "21_rlhf.ipynb"
bt_loss = solution_namespace(NOTEBOOK, "21.1", np=np)["bt_loss"]
token_rewards = solution_namespace(NOTEBOOK, "21.2", np=np)["token_rewards"]
dpo = solution_namespace(NOTEBOOK, "21.3", np=np)["dpo"]


@pytest.mark.parametrize("exercise, answer", [("21.1", bt_loss), ("21.2", token_rewards), ("21.3", dpo)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 21.1
# ---------------------------------------------------------------------------------------------


def test_bt_loss_with_log1p_is_accepted():
    def stable(r_chosen, r_rejected):
        x = np.asarray(r_chosen) - np.asarray(r_rejected)
        return float(np.mean(np.where(x > 0, np.log1p(np.exp(-np.abs(x))), -x + np.log1p(np.exp(-np.abs(x))))))

    assert check.run("21.1", stable)[0] == check.PASSED


def test_bt_loss_the_wrong_way_round():
    assert_rejected("21.1", lambda c, r: np.mean(np.logaddexp(0.0, c - r)), "order of the difference")


def test_bt_loss_without_the_minus_sign():
    assert_rejected("21.1", lambda c, r: -np.mean(np.logaddexp(0.0, r - c)), "sign")


def test_bt_loss_summed():
    assert_rejected("21.1", lambda c, r: np.sum(np.logaddexp(0.0, r - c)), "summed")


def test_bt_loss_that_returns_the_probability():
    assert_rejected("21.1", lambda c, r: np.mean(1 / (1 + np.exp(r - c))), "probability")


def test_bt_loss_that_overflows():
    with np.errstate(over="ignore"):
        assert_rejected("21.1", lambda c, r: np.mean(-np.log(1 / (1 + np.exp(r - c)))), "overflows")


def test_bt_loss_with_the_package_function_is_rejected():
    from dlbook_utils import rlhf

    assert_rejected("21.1", lambda c, r: float(np.asarray(rlhf.bradley_terry_loss(c, r))))


# ---------------------------------------------------------------------------------------------
# 21.2
# ---------------------------------------------------------------------------------------------


def _penalty(log_probs, ref_log_probs, beta):
    return -beta * (np.asarray(log_probs) - np.asarray(ref_log_probs))


def test_rewards_with_the_wrong_sign_of_penalty():
    def wrong_sign(scores, lp, ref, beta):
        rewards = beta * (lp - ref)
        rewards[:, -1] += scores
        return rewards

    assert_rejected("21.2", wrong_sign, "wrong sign")


def test_rewards_with_the_score_at_every_token():
    assert_rejected("21.2", lambda s, lp, ref, beta: _penalty(lp, ref, beta) + s[:, None], "every token")


def test_rewards_with_the_score_at_the_first_token():
    def first(scores, lp, ref, beta):
        rewards = _penalty(lp, ref, beta)
        rewards[:, 0] += scores
        return rewards

    assert_rejected("21.2", first, "first token")


def test_rewards_without_the_score():
    assert_rejected("21.2", lambda s, lp, ref, beta: _penalty(lp, ref, beta), "missing")


def test_rewards_that_change_their_inputs():
    def in_place(scores, lp, ref, beta):
        lp -= ref
        lp *= -beta
        lp[:, -1] += scores
        return lp

    assert_rejected("21.2", in_place, "in place")


def test_rewards_of_the_wrong_shape():
    assert_rejected("21.2", lambda s, lp, ref, beta: _penalty(lp, ref, beta).sum(axis=1) + s, "shape")


# ---------------------------------------------------------------------------------------------
# 21.3
# ---------------------------------------------------------------------------------------------


def test_dpo_without_the_reference():
    assert_rejected("21.3", lambda pc, pr, rc, rr, beta: np.mean(np.logaddexp(0.0, -beta * (pc - pr))), "reference")


def test_dpo_swapped():
    assert_rejected("21.3", lambda pc, pr, rc, rr, beta: np.mean(np.logaddexp(0.0, beta * ((pc - rc) - (pr - rr)))),
            "swapped")


def test_dpo_without_beta():
    assert_rejected("21.3", lambda pc, pr, rc, rr, beta: np.mean(np.logaddexp(0.0, -((pc - rc) - (pr - rr)))), "beta")


def test_dpo_summed():
    assert_rejected("21.3", lambda pc, pr, rc, rr, beta: np.sum(np.logaddexp(0.0, -beta * ((pc - rc) - (pr - rr)))),
            "summed")

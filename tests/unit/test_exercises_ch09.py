"""Unit tests for the checkers of chapter 09 (dlbook_utils/exercises/ch09.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, solution_namespace

NOTEBOOK = ROOT / "chapters" / "09_autoencoders.ipynb"
kl_diagonal_gaussians = solution_namespace(NOTEBOOK, "09.1", np=np)["kl_diagonal_gaussians"]
roc_auc = solution_namespace(NOTEBOOK, "09.2", np=np)["roc_auc"]


@pytest.mark.parametrize("exercise, answer", [("09.1", kl_diagonal_gaussians), ("09.2", roc_auc)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 09.1
# ---------------------------------------------------------------------------------------------


def _per_dim(mq, lq, mp, lp):
    return 0.5 * (lp - lq + (np.exp(lq) + (mq - mp) ** 2) / np.exp(lp) - 1.0)


def test_kl_accepts_an_equivalent_formula_and_lists():
    def with_std(mq, lq, mp, lp):
        sq, sp = np.exp(0.5 * np.asarray(lq)), np.exp(0.5 * np.asarray(lp))
        return np.sum(np.log(sp / sq) + (sq**2 + (np.asarray(mq) - np.asarray(mp)) ** 2) / (2 * sp**2) - 0.5, axis=1)

    assert check.run("09.1", with_std)[0] == check.PASSED
    assert check.run("09.1", lambda *a: kl_diagonal_gaussians(*a).tolist())[0] == check.PASSED


def test_kl_the_wrong_way_round_is_named():
    status, message = check.run("09.1", lambda mq, lq, mp, lp: kl_diagonal_gaussians(mp, lp, mq, lq))
    assert status == check.FAILED and "other way round" in message


def test_kl_not_summed_or_summed_over_the_batch():
    status, message = check.run("09.1", lambda *a: _per_dim(*a))
    assert status == check.FAILED and "per latent dimension" in message
    status, message = check.run("09.1", lambda *a: _per_dim(*a).sum())
    assert status == check.FAILED and "single number" in message


def test_kl_missing_half_and_flipped_sign():
    status, message = check.run("09.1", lambda *a: 2 * kl_diagonal_gaussians(*a))
    assert status == check.FAILED and "factor of 2" in message
    status, message = check.run("09.1", lambda *a: -kl_diagonal_gaussians(*a))
    assert status == check.FAILED and ("sign" in message or "negative" in message)


def test_kl_that_only_knows_the_standard_prior_fails():
    def standard_prior_only(mq, lq, mp, lp):
        return -0.5 * np.sum(1 + lq - mq**2 - np.exp(lq), axis=-1)

    status, message = check.run("09.1", standard_prior_only)
    assert status == check.FAILED and "identical" not in message
    assert "p = N(0, I)" not in message   # it passes those cases and fails on a learned prior


def test_kl_treating_log_variances_as_variances():
    def variances(mq, vq, mp, vp):
        return 0.5 * np.sum(np.log(vp / vq) + (vq + (mq - mp) ** 2) / vp - 1, axis=-1)

    with np.errstate(all="ignore"):
        status, message = check.run("09.1", variances)
    assert status == check.FAILED and "log-variances" in message


def test_kl_in_place_changes_and_none():
    def in_place(mq, lq, mp, lp):
        out = kl_diagonal_gaussians(mq, lq, mp, lp)
        mq += 1
        return out

    status, message = check.run("09.1", in_place)
    assert status == check.FAILED and "in place" in message
    status, message = check.run("09.1", lambda *a: None)
    assert status == check.FAILED and "None" in message


def test_kl_messages_do_not_reveal_the_formula():
    status, message = check.run("09.1", lambda mq, lq, mp, lp: np.sum((mq - mp) ** 2, axis=-1))
    assert status == check.FAILED
    assert "exp(" not in message and "log_var" not in message and "0.5" not in message


# ---------------------------------------------------------------------------------------------
# 09.2
# ---------------------------------------------------------------------------------------------


def test_auc_accepts_a_pairwise_version_and_numpy_scalars():
    def pairwise(normal, anomalous):
        diff = np.asarray(anomalous)[:, None] - np.asarray(normal)[None, :]
        return np.float32(np.mean((diff > 0) + 0.5 * (diff == 0)))

    assert check.run("09.2", pairwise)[0] == check.PASSED


def test_auc_reversed_orientation_is_named():
    status, message = check.run("09.2", lambda n, a: 1 - roc_auc(n, a))
    assert status == check.FAILED and "orientation" in message
    status, message = check.run("09.2", lambda n, a: roc_auc(a, n))
    assert status == check.FAILED and "orientation" in message


def test_auc_ties_counted_wrong_are_named():
    def strict(normal, anomalous):
        return float(np.mean(np.asarray(anomalous)[:, None] > np.asarray(normal)[None, :]))

    def loose(normal, anomalous):
        return float(np.mean(np.asarray(anomalous)[:, None] >= np.asarray(normal)[None, :]))

    for answer in (strict, loose):
        status, message = check.run("09.2", answer)
        assert status == check.FAILED and "tie" in message


def test_auc_other_wrong_statistics_fail():
    # accuracy of a threshold at the midpoint of the means, a common confusion with AUC
    def accuracy_at_midpoint(normal, anomalous):
        t = (np.mean(normal) + np.mean(anomalous)) / 2
        return (np.sum(np.asarray(anomalous) > t) + np.sum(np.asarray(normal) <= t)) / (len(normal) + len(anomalous))

    assert check.run("09.2", accuracy_at_midpoint)[0] == check.FAILED
    status, message = check.run("09.2", lambda n, a: 1.5)
    assert status == check.FAILED and "between 0 and 1" in message
    status, message = check.run("09.2", lambda n, a: np.array([0.5, 0.5]))
    assert status == check.FAILED and "single number" in message


def test_auc_sorting_in_place_is_reported():
    def sorts_inputs(normal, anomalous):
        normal.sort()
        return roc_auc(normal, anomalous)

    status, message = check.run("09.2", sorts_inputs)
    assert status == check.FAILED and "in place" in message

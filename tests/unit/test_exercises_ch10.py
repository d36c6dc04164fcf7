"""Unit tests for the checkers of chapter 10 (dlbook_utils/exercises/ch10.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, solution_namespace

NOTEBOOK = ROOT / "chapters" / "10_gans.ipynb"
gan_losses = solution_namespace(NOTEBOOK, "10.1", np=np)["gan_losses"]
inception_score = solution_namespace(NOTEBOOK, "10.2", np=np)["inception_score"]
slerp = solution_namespace(NOTEBOOK, "10.3", np=np)["slerp"]


def _sigmoid(s):
    return 1 / (1 + np.exp(-s))


@pytest.mark.parametrize("exercise, answer", [("10.1", gan_losses), ("10.2", inception_score), ("10.3", slerp)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 10.1
# ---------------------------------------------------------------------------------------------


def test_losses_through_probabilities_fail_only_on_extreme_logits():
    def naive(real, fake):
        return (np.mean(-np.log(_sigmoid(real))) + np.mean(-np.log(1 - _sigmoid(fake))),
                np.mean(-np.log(_sigmoid(fake))))

    with np.errstate(all="ignore"):
        status, message = check.run("10.1", naive)
    assert status == check.FAILED and "not finite" in message


def test_losses_with_clipped_probabilities_are_called_wrong():
    def clipped(real, fake):
        p_real, p_fake = np.clip(_sigmoid(real), 1e-7, 1 - 1e-7), np.clip(_sigmoid(fake), 1e-7, 1 - 1e-7)
        return np.mean(-np.log(p_real)) + np.mean(-np.log(1 - p_fake)), np.mean(-np.log(p_fake))

    with np.errstate(all="ignore"):
        status, message = check.run("10.1", clipped)
    assert status == check.FAILED and "finite but wrong" in message


def test_saturating_generator_loss_is_named():
    def saturating(real, fake):
        d_loss, _ = gan_losses(real, fake)
        return d_loss, -np.mean(np.logaddexp(0, fake))

    status, message = check.run("10.1", saturating)
    assert status == check.FAILED and "saturating" in message


def test_swapped_labels_and_averaged_terms_are_named():
    status, message = check.run("10.1", lambda r, f: gan_losses(-np.asarray(r), -np.asarray(f)))
    assert status == check.FAILED and "wrong way round" in message
    status, message = check.run("10.1", lambda r, f: (gan_losses(r, f)[0] / 2, gan_losses(r, f)[1]))
    assert status == check.FAILED and "half" in message


def test_generator_with_the_wrong_label_is_named():
    status, message = check.run("10.1", lambda r, f: (gan_losses(r, f)[0], np.mean(np.logaddexp(0, np.asarray(f)))))
    assert status == check.FAILED and "wrong label" in message


def test_losses_returning_arrays_or_one_value_are_explained():
    status, message = check.run("10.1", lambda r, f: (np.logaddexp(0, -np.asarray(r)), 0.0))
    assert status == check.FAILED and "single number" in message
    status, message = check.run("10.1", lambda r, f: gan_losses(r, f)[0])
    assert status == check.FAILED and "two numbers" in message


# ---------------------------------------------------------------------------------------------
# 10.2
# ---------------------------------------------------------------------------------------------


def test_inception_score_without_exp_and_with_reversed_kl_are_named():
    status, message = check.run("10.2", lambda p: np.log(inception_score(p)))
    assert status == check.FAILED and "exp" in message

    def reversed_kl(p):
        p = np.asarray(p, dtype=float)
        m = p.mean(axis=0, keepdims=True)
        return float(np.exp(np.mean(np.sum(m * (np.log(m) - np.log(np.clip(p, 1e-300, None))), axis=1))))

    with np.errstate(all="ignore"):
        status, message = check.run("10.2", reversed_kl)
    assert status == check.FAILED


def test_inception_score_that_forgets_zero_log_zero_fails_on_one_hot_predictions():
    def nan_on_zeros(p):
        p = np.asarray(p, dtype=float)
        m = p.mean(axis=0, keepdims=True)
        return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(m)), axis=1))))

    with np.errstate(all="ignore"):
        status, message = check.run("10.2", nan_on_zeros)
    assert status == check.FAILED and "0·log 0" in message


def test_inception_score_constant_answers_fail_without_revealing_the_value():
    for constant in (2.0, 1.0):
        status, message = check.run("10.2", lambda p, c=constant: c)
        assert status == check.FAILED
        assert "should be 10" not in message and "should be 1" not in message


# ---------------------------------------------------------------------------------------------
# 10.3
# ---------------------------------------------------------------------------------------------


def test_straight_line_is_named():
    status, message = check.run("10.3", lambda z0, z1, n: np.linspace(0, 1, n)[:, None] * (np.asarray(z1) - z0) + z0)
    assert status == check.FAILED and "straight line" in message


def test_slerp_without_the_parallel_fallback_fails():
    def no_fallback(z0, z1, steps):
        t = np.linspace(0.0, 1.0, steps)[:, None]
        theta = np.arccos(np.clip(np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1)), -1, 1))
        return (np.sin((1 - t) * theta) * z0 + np.sin(t * theta) * z1) / np.sin(theta)

    with np.errstate(all="ignore"):
        status, message = check.run("10.3", no_fallback)
    assert status == check.FAILED and "parallel" in message


def test_slerp_wrong_shape_and_wrong_endpoints():
    status, message = check.run("10.3", lambda z0, z1, steps: slerp(z0, z1, steps).T)
    assert status == check.FAILED and "shape" in message
    status, message = check.run("10.3", lambda z0, z1, steps: slerp(z0, z1, steps + 1)[:-1])
    assert status == check.FAILED and "last z1" in message


def test_slerp_with_unevenly_spaced_steps_is_named():
    def uneven(z0, z1, steps):
        t = np.linspace(0, 1, steps) ** 2
        return np.stack([slerp(z0, z1, 1001)[int(round(x * 1000))] for x in t])

    status, message = check.run("10.3", uneven)
    assert status == check.FAILED and "evenly spaced" in message

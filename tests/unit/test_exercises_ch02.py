"""Unit tests for the exercise checkers of chapter 02 (dlbook_utils/exercises/ch02.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from dlbook_utils import check


def stub(*args):
    raise NotImplementedError("Exercise: replace this line with your answer")


# ------------------------------------------------------------------------------------------ 02.1


def silu_grad(z):  # the notebook's solution
    s = 1.0 / (1.0 + np.exp(-z))
    return s + z * s * (1.0 - s)


def test_silu_grad_solution_passes():
    assert check.run("02.1", silu_grad) == (check.PASSED, "passed")


def test_silu_grad_works_with_a_stable_sigmoid():
    assert check.run("02.1", lambda z: expit(z) * (1 + z * (1 - expit(z))))[0] == check.PASSED


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda z: expit(z), "product rule"),
        (lambda z: expit(z) * (1 - expit(z)), "sigmoid alone"),
        (lambda z: z * expit(z) * (1 - expit(z)), "two terms"),
        (lambda z: np.ones_like(z), "finite differences"),
    ],
)
def test_silu_grad_wrong_answers_fail_with_a_hint(wrong, words):
    status, message = check.run("02.1", wrong)
    assert status == check.FAILED
    assert words in message


def test_silu_grad_must_keep_the_shape():
    status, message = check.run("02.1", lambda z: silu_grad(z)[:-1])
    assert status == check.FAILED and "shape" in message


def test_silu_grad_must_not_change_its_input():
    def in_place(z):
        s = expit(z)
        z *= 1.0 - s
        z += 1.0
        return s * z

    status, message = check.run("02.1", in_place)
    assert status == check.FAILED and "in place" in message


def test_silu_grad_stub_is_not_attempted():
    assert check.run("02.1", stub)[0] == check.NOT_ATTEMPTED
    assert check.run("02.1", None)[0] == check.NOT_ATTEMPTED


# ------------------------------------------------------------------------------------------ 02.2


def stable_softmax(z):  # the notebook's solution
    z = np.asarray(z, dtype=float)
    shifted = z - z.max(axis=-1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=-1, keepdims=True)


def naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def test_stable_softmax_solution_passes():
    assert check.run("02.2", stable_softmax) == (check.PASSED, "passed")


def test_naive_softmax_fails_on_large_logits():
    status, message = check.run("02.2", naive_softmax)
    assert status == check.FAILED
    assert "overflow" in message and "same constant" in message


def test_one_global_shift_fails_on_mixed_rows():
    def global_shift(z):
        e = np.exp(z - np.max(z))
        return e / e.sum(axis=-1, keepdims=True)

    status, message = check.run("02.2", global_shift)
    assert status == check.FAILED and "every row on its own" in message


@pytest.mark.parametrize("shift", ["min", "mean", "first"])
def test_a_shift_by_anything_but_the_maximum_fails(shift):
    """Subtracting the row minimum (or mean, or first logit) passes ordinary and uniformly large logits but
    overflows when one row's logits are far apart: [0, 1600] gives nan."""
    def shifted_softmax(z):
        z = np.asarray(z, dtype=float)
        c = {"min": z.min(axis=-1, keepdims=True), "mean": z.mean(axis=-1, keepdims=True),
             "first": z[..., :1]}[shift]
        e = np.exp(z - c)
        return e / e.sum(axis=-1, keepdims=True)

    with np.errstate(over="ignore", invalid="ignore"):
        status, message = check.run("02.2", shifted_softmax)
    assert status == check.FAILED and "1,600 apart" in message and "709" in message


def test_softmax_over_the_wrong_axis_fails():
    def wrong_axis(z):
        e = np.exp(z - np.max(z, axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    status, message = check.run("02.2", wrong_axis)
    assert status == check.FAILED and "row" in message


def test_softmax_must_not_change_its_input():
    def in_place(z):
        z -= z.max(axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
        return z

    status, message = check.run("02.2", in_place)
    assert status == check.FAILED and "in place" in message


def test_stable_softmax_message_does_not_reveal_values():
    status, message = check.run("02.2", lambda z: stable_softmax(z) * 0.9)
    assert status == check.FAILED and "sum to" in message
    assert "0.3" not in message and "0.2" not in message


def test_stable_softmax_stub_is_not_attempted():
    assert check.run("02.2", stub)[0] == check.NOT_ATTEMPTED


# ------------------------------------------------------------------------------------------ 02.3


def xor_weights():  # the notebook's solution
    W1 = np.array([[1.0, -1.0], [1.0, -1.0]])
    b1 = np.array([-0.5, 1.5])
    w2 = np.array([1.0, 1.0])
    b2 = -1.5
    return W1, b1, w2, b2


def test_xor_solution_passes():
    assert check.run("02.3", xor_weights) == (check.PASSED, "passed")


def test_xor_accepts_more_hidden_units_and_lists():
    def three_units():
        return [[1, -1, 0], [1, -1, 0]], [-0.5, 1.5, -1.0], [1, 1, 0], [-1.5]

    assert check.run("02.3", three_units)[0] == check.PASSED


def test_an_or_network_fails_and_names_the_wrong_input():
    def or_gate():  # the output is OR(x1, x2): right on three inputs, wrong on (1, 1)
        return np.eye(2), np.array([-0.5, -0.5]), np.array([1.0, 1.0]), -0.5

    status, message = check.run("02.3", or_gate)
    assert status == check.FAILED
    assert "1 of the 4" in message and "(1, 1)" in message and "(0, 1)" not in message


def test_an_and_network_fails_on_three_inputs():
    def and_gate():
        return np.eye(2), np.array([-0.5, -0.5]), np.array([1.0, 1.0]), -1.5

    status, message = check.run("02.3", and_gate)
    assert status == check.FAILED and "3 of the 4" in message


def test_a_boundary_through_a_corner_is_rejected():
    def fragile():  # hidden lines x1 + x2 = 1 and x1 + x2 = 1.5 : the first passes through (0,1) and (1,0)
        W1 = np.array([[1.0, -1.0], [1.0, -1.0]])
        b1 = np.array([-0.999, 1.5])
        return W1, b1, np.array([1.0, 1.0]), -1.5

    status, message = check.run("02.3", fragile)
    assert status == check.FAILED and "nudged" in message


def test_xor_wrong_shapes_are_explained():
    status, message = check.run("02.3", lambda: (np.ones(2), np.ones(2), np.ones(2), 0.0))
    assert status == check.FAILED and "W1 should have shape" in message
    status, message = check.run("02.3", lambda: (np.ones((2, 2)), np.ones(3), np.ones(2), 0.0))
    assert status == check.FAILED and "b1" in message
    status, message = check.run("02.3", lambda: (np.ones((2, 2)), np.ones(2)))
    assert status == check.FAILED and "four things" in message


def test_xor_stub_is_not_attempted():
    assert check.run("02.3", stub)[0] == check.NOT_ATTEMPTED


def test_every_exercise_is_registered_with_a_title():
    for ex in ("02.1", "02.2", "02.3"):
        assert check.get(ex).title

"""The chapter 06 exercise checkers: the notebook's solutions pass, plausible mistakes fail with a useful
message, and untouched stubs count as "not attempted"."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlbook_utils import check
from dlbook_utils.exercises import ch06

from tests.conftest import ROOT, solution_namespace

NOTEBOOK = ROOT / "chapters" / "06_generalisation.ipynb"
l2_penalty = solution_namespace(NOTEBOOK, "06.1", np=np)["l2_penalty"]
inverted_dropout = solution_namespace(NOTEBOOK, "06.2", np=np)["inverted_dropout"]
_bn = solution_namespace(NOTEBOOK, "06.3", np=np)
batch_norm_forward, batch_norm_backward = _bn["batch_norm_forward"], _bn["batch_norm_backward"]
bias_variance = solution_namespace(NOTEBOOK, "06.5", np=np)["bias_variance"]


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise 06.k: replace this line with your answer")


SOLUTIONS = {"06.1": l2_penalty, "06.2": inverted_dropout, "06.3": (batch_norm_forward, batch_norm_backward),
             "06.5": bias_variance}
STUBS = {"06.3": (stub, stub)}


@pytest.mark.parametrize("exercise", sorted(SOLUTIONS))
def test_solution_passes(exercise):
    assert check.run(exercise, SOLUTIONS[exercise]) == (check.PASSED, "passed")


@pytest.mark.parametrize("exercise", sorted(SOLUTIONS))
def test_stub_is_not_attempted(exercise):
    status, message = check.run(exercise, STUBS.get(exercise, stub))
    assert status == check.NOT_ATTEMPTED and "not attempted" in message


@pytest.mark.parametrize("exercise", sorted(SOLUTIONS))
def test_not_a_function(exercise):
    status, message = check.run(exercise, 3.0)
    assert status == check.FAILED and "function" in message


# --- 06.1 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda ws, lam: 0.5 * lam * sum(np.sum(w**2) for w in ws), "factor of 2"),
        (lambda ws, lam: sum(np.sum(w**2) for w in ws), "does not depend on lam"),
        (lambda ws, lam: lam * sum(np.sum(np.abs(w)) for w in ws), "L1"),
        (lambda ws, lam: lam * sum(np.mean(w**2) for w in ws), "average"),
        (lambda ws, lam: lam * np.sum(ws[0] ** 2), "only counts the first array"),
        (lambda ws, lam: lam * math.sqrt(sum(np.sum(w**2) for w in ws)), "no square root"),
        (lambda ws, lam: lam * sum(np.sum(w**2) for w in ws) + 0.1, "differs from keras.regularizers.L2"),
        (lambda ws, lam: [lam * np.sum(w**2) for w in ws], "one number"),
    ],
)
def test_l2_wrong_answers_are_explained(wrong, words):
    status, message = check.run("06.1", wrong)
    assert status == check.FAILED
    assert words in message, message


def test_l2_accepts_tensors():
    import keras

    def with_keras(weights, lam):
        return lam * sum(keras.ops.sum(keras.ops.square(w)) for w in weights)

    assert check.run("06.1", with_keras)[0] == check.PASSED


# --- 06.2 -----------------------------------------------------------------------------------------


def no_rescale(x, rate, rng):
    return np.where(rng.random(x.shape) >= rate, x, 0.0)


def keep_rate(x, rate, rng):
    return np.where(rng.random(x.shape) < rate, x / (1 - rate), 0.0) if rate else x.copy()


def global_random(x, rate, rng):
    return np.where(np.random.random(x.shape) >= rate, x / (1 - rate), 0.0)


def same_mask_each_call(x, rate, rng):
    return np.where(np.random.default_rng(0).random(x.shape) >= rate, x / (1 - rate), 0.0)


def scale_by_rate(x, rate, rng):
    return np.where(rng.random(x.shape) >= rate, x * (1 + rate), 0.0)


def in_place(x, rate, rng):
    x *= (rng.random(x.shape) >= rate) / (1 - rate)
    return x


def drop_rows(x, rate, rng):
    rows = rng.random((x.shape[0],) + (1,) * (x.ndim - 1)) >= rate
    return np.where(rows, x / (1 - rate), 0.0)


@pytest.mark.parametrize(
    "wrong, words",
    [
        (no_rescale, "Rescale the kept entries"),
        (keep_rate, "probability of *dropping*"),
        (global_random, "from the rng argument"),
        (same_mask_each_call, "fresh mask"),
        (scale_by_rate, "does not preserve the expected value"),
        (in_place, "in place"),
        (drop_rows, "independently"),
        (lambda x, rate, rng: x.ravel(), "shape"),
    ],
)
def test_dropout_wrong_answers_are_explained(wrong, words):
    status, message = check.run("06.2", wrong)
    assert status == check.FAILED
    assert words in message, message


# --- 06.3 -----------------------------------------------------------------------------------------


def bn_forward(slip=None):
    """batch_norm_forward as a learner might write it, with the slip ``slip``."""

    def forward(x, gamma, beta, eps=1e-3):
        if slip == "ignores eps":
            eps = 1e-3
        axis = {"rows": 1, "everything": None}.get(slip, 0)
        mean = x.mean(axis=axis, keepdims=True)
        var = x.var(axis=axis, keepdims=True, ddof=1 if slip == "sample variance" else 0)
        if slip == "no eps":
            std = np.sqrt(var)
        elif slip == "eps outside":
            std = np.sqrt(var) + eps
        elif slip == "divide by variance":
            std = var + eps
        else:
            std = np.sqrt(var + eps)
        x_hat = (x - mean) / std
        if slip == "in place":
            x -= mean
        y = {"gamma beta swapped": beta * x_hat + gamma, "no gamma beta": x_hat}.get(slip, gamma * x_hat + beta)
        return y, (x_hat, std, gamma)

    return forward


def bn_backward(slip=None):
    """batch_norm_backward as a learner might write it (for the right forward pass), with the slip ``slip``."""

    def backward(dy, cache):
        x_hat, std, gamma = cache
        m = dy.shape[0]
        dbeta, dgamma = dy.sum(axis=0), (dy * x_hat).sum(axis=0)
        if slip == "not summed":
            dbeta, dgamma = dy, dy * x_hat
        if slip == "summed over features":
            dbeta, dgamma = dy.sum(axis=1), (dy * x_hat).sum(axis=1)
        dxh = dy if slip == "no gamma in dx" else gamma * dy
        if slip == "constant statistics":
            dx = dxh / std
        elif slip == "no mean path":
            dx = (dxh - x_hat * (dxh * x_hat).mean(axis=0)) / std
        elif slip == "no variance path":
            dx = (dxh - dxh.mean(axis=0)) / std
        elif slip == "sample variance path":
            dx = (dxh - dxh.mean(axis=0) - x_hat * (dxh * x_hat).sum(axis=0) / (m - 1)) / std
        elif slip == "means over rows":
            dx = (dxh - dxh.mean(axis=1, keepdims=True) - x_hat * (dxh * x_hat).mean(axis=1, keepdims=True)) / std
        elif slip == "sign":
            dx = -(dxh - dxh.mean(axis=0) - x_hat * (dxh * x_hat).mean(axis=0)) / std
        else:
            dx = (dxh - dxh.mean(axis=0) - x_hat * (dxh * x_hat).mean(axis=0)) / std
        if slip == "swapped":
            dgamma, dbeta = dbeta, dgamma
        return dx, dgamma, dbeta

    return backward


@pytest.mark.parametrize(
    "slip, words",
    [
        ("sample variance", "sample variance (divided by m − 1)"),
        ("rows", "normalise each example (row) over its features"),
        ("everything", "one mean and one variance for the whole array"),
        ("no eps", "ε is missing"),
        ("eps outside", "ε is added after the square root"),
        ("divide by variance", "divide by the standard deviation"),
        ("gamma beta swapped", "γ and β are swapped"),
        ("no gamma beta", "the normalised x̂ alone"),
        ("in place", "leave its inputs unchanged"),
        ("ignores eps", "use the argument eps"),
    ],
)
def test_batch_norm_forward_slips_are_named(slip, words):
    status, message = check.run("06.3", (bn_forward(slip), batch_norm_backward))
    assert status == check.FAILED
    assert words in message, message


@pytest.mark.parametrize(
    "slip, words",
    [
        ("constant statistics", "treats the batch mean and variance as constants"),
        ("no mean path", "the path through the batch mean μ_B is missing"),
        ("no variance path", "the path through the batch variance σ²_B is missing"),
        ("sample variance path", "not 1/(m − 1)"),
        ("means over rows", "the means in dx run over the features"),
        ("no gamma in dx", "missing the factor γ"),
        ("swapped", "dgamma and dbeta look swapped"),
        ("not summed", "one row per example"),
        ("summed over features", "one number per example"),
        ("sign", "dx of the backward pass"),
    ],
)
def test_batch_norm_backward_slips_are_named(slip, words):
    status, message = check.run("06.3", (batch_norm_forward, bn_backward(slip)))
    assert status == check.FAILED
    assert words in message, message


def test_dgamma_from_the_raw_input_is_named():
    def forward(x, gamma, beta, eps=1e-3):
        y, cache = batch_norm_forward(x, gamma, beta, eps)
        return y, (x, cache)

    def backward(dy, cache):
        x, inner = cache
        dx, _, dbeta = batch_norm_backward(dy, inner)
        return dx, (dy * x).sum(axis=0), dbeta

    status, message = check.run("06.3", (forward, backward))
    assert status == check.FAILED and "γ multiplies the normalised x̂" in message, message


def test_batch_norm_backward_must_use_its_own_cache():
    last = {}

    def forward(x, gamma, beta, eps=1e-3):
        y, cache = batch_norm_forward(x, gamma, beta, eps)
        last["cache"] = cache
        return y, None

    def backward(dy, cache):
        return batch_norm_backward(dy, last["cache"])

    status, message = check.run("06.3", (forward, backward))
    assert status == check.FAILED and "cache that batch_norm_forward returns" in message


def test_batch_norm_malformed_answers_are_explained_not_crashed():
    cases = [
        ((lambda x, g, b, eps=1e-3: None, batch_norm_backward), "returned None"),
        ((lambda x, g, b, eps=1e-3: batch_norm_forward(x, g, b, eps)[0], batch_norm_backward), "pair (y, cache)"),
        ((lambda x, g, b, eps=1e-3: (batch_norm_forward(x, g, b, eps)[0].T, None), batch_norm_backward), "shape"),
        ((batch_norm_forward, lambda dy, cache: None), "returned None"),
        ((batch_norm_forward, lambda dy, cache: batch_norm_backward(dy, cache)[0]), "three arrays"),
        ((batch_norm_forward, lambda dy, cache: (dy.T, dy[0], dy[0])), "shape"),
        ((batch_norm_forward, lambda dy, cache: ("dx", "dgamma", "dbeta")), "should be numbers"),
        ((batch_norm_forward, stub), "now write batch_norm_backward"),
        (batch_norm_forward, "pass both functions as a pair"),
        ((batch_norm_forward,), "pair of functions"),
        ((batch_norm_forward, 3.0), "function"),
    ]
    for answer, words in cases:
        status, message = check.run("06.3", answer)
        assert status == check.FAILED, (words, message)
        assert words in message, message


def test_batch_norm_numerical_gradients_match_the_closed_form():
    rng = np.random.default_rng(3)
    x, gamma, beta, dy = ch06._bn_case(rng, 7, 3)
    numerical = ch06.bn_numerical_gradients(x, gamma, beta, dy, 1e-3)
    closed = ch06.bn_backward_variant(dy, x, gamma, 1e-3, "reference")
    for a, b in zip(numerical, closed):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    assert np.abs(closed[0].sum(axis=0)).max() < 1e-10  # every column of dx sums to zero


def test_batch_norm_reference_is_keras_batch_normalization():
    import keras

    rng = np.random.default_rng(4)
    x, gamma, beta, _ = ch06._bn_case(rng, 16, 5)
    layer = keras.layers.BatchNormalization(epsilon=ch06.BN_EPS)
    layer.build(x.shape)
    layer.gamma.assign(gamma.astype("float32"))
    layer.beta.assign(beta.astype("float32"))
    theirs = keras.ops.convert_to_numpy(layer(x.astype("float32"), training=True))
    np.testing.assert_allclose(theirs, ch06.batch_norm_reference(x, gamma, beta), rtol=1e-3, atol=1e-4)


# --- 06.5 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda p, t: bias_variance(p, t)[::-1], "wrong order"),
        (lambda p, t: (np.mean((p.mean(0) - t) ** 2), np.mean(p.var(0, ddof=1))), "n_sets − 1"),
        (lambda p, t: (np.mean((p.mean(0) - t) ** 2), np.mean(p.var(1))), "over the points of each training set"),
        (lambda p, t: (np.mean((p.mean(0) - t) ** 2), np.mean(p.std(0))), "standard deviation"),
        (lambda p, t: (np.mean(p.mean(0) - t) ** 2, np.mean(p.var(0))), "opposite sign cancel"),
        (lambda p, t: (np.mean(np.abs(p.mean(0) - t)), np.mean(p.var(0))), "averages |bias|"),
        (lambda p, t: (np.mean(p.mean(0) - t), np.mean(p.var(0))), "average bias, not the average squared"),
        (lambda p, t: (np.mean((p - t) ** 2), np.mean(p.var(0))), "contains the variance"),
        (lambda p, t: (np.mean((p.mean(0) - t) ** 2), np.mean(p.var(0)) + 0.1), "variance is off"),
        (lambda p, t: (np.mean((p.mean(0) - t) ** 2), p.var(0)), "single number"),
        (lambda p, t: None, "returned None"),
        (lambda p, t: np.mean((p - t) ** 2), "pair of numbers"),
    ],
)
def test_bias_variance_wrong_answers_are_explained(wrong, words):
    status, message = check.run("06.5", wrong)
    assert status == check.FAILED
    assert words in message, message


def test_bias_variance_adds_up_to_the_mean_squared_error():
    rng = np.random.default_rng(5)
    predictions, truth = ch06._bias_variance_case(rng, 7, 11)
    bias_sq, variance = bias_variance(predictions, truth)
    assert math.isclose(bias_sq + variance, float(np.mean((predictions - truth) ** 2)), rel_tol=1e-12)


def test_messages_do_not_reveal_the_reference():
    status, message = check.run("06.1", lambda ws, lam: 0.5 * lam * sum(np.sum(w**2) for w in ws))
    rng = np.random.default_rng(20260601)
    reference = ch06._keras_l2([rng.normal(size=(5, 3))], 0.01)
    assert f"{reference:.3g}" not in message

"""Unit tests for the checkers of chapter 12 (dlbook_utils/exercises/ch12.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check
from dlbook_utils.exercises import ch12
from dlbook_utils.recurrent import rnn_forward, sigmoid

from tests.conftest import ROOT, assert_checker_contract, solution_namespace

NOTEBOOK = ROOT / "chapters" / "12_recurrent_networks.ipynb"
gru_forward = solution_namespace(NOTEBOOK, "12.1", np=np, sigmoid=sigmoid)["gru_forward"]
rnn_input_gradients = solution_namespace(NOTEBOOK, "12.2", np=np, rnn_forward=rnn_forward)["rnn_input_gradients"]


@pytest.mark.parametrize("exercise, answer", [("12.1", gru_forward), ("12.2", rnn_input_gradients)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


def _weights(features, units, gates, bias_rows, seed=0):
    rng = np.random.default_rng(seed)
    shape = (gates * units,) if bias_rows is None else (bias_rows, gates * units)
    return (rng.normal(scale=0.5, size=(features, gates * units)), rng.normal(scale=0.5, size=(units, gates * units)),
            rng.normal(scale=0.5, size=shape))


# ---------------------------------------------------------------------------------------------
# 12.1
# ---------------------------------------------------------------------------------------------


@pytest.mark.backends
def test_the_checkers_reference_gru_is_keras_gru():
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(1).normal(size=(3, 7, 4)).astype("float32")
    layer = keras.layers.GRU(5, return_sequences=True)
    layer.build(x.shape)
    weights = [w.astype("float32") for w in _weights(4, 5, 3, 2)]
    layer.set_weights(weights)
    expected = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(ch12._reference_gru(x.astype(float), *weights), expected, atol=1e-5)
    np.testing.assert_allclose(gru_forward(x, *weights), expected, atol=1e-5)


def _gru_variant(order=(0, 1, 2), keep_old_with_z=True, reset_after=True, recurrent_bias=True):
    # A learner's GRU with one of the usual mistakes (written here: answers may not call the checkers' code).
    def gru(x, kernel, recurrent_kernel, bias):
        units = recurrent_kernel.shape[0]
        zi, ri, hi = [slice(k * units, (k + 1) * units) for k in order]
        b_rec = bias[1] if recurrent_bias else 0 * bias[1]
        h = np.zeros((x.shape[0], units))
        out = []
        for t in range(x.shape[1]):
            xw, hu = x[:, t] @ kernel + bias[0], h @ recurrent_kernel + b_rec
            z, r = sigmoid(xw[:, zi] + hu[:, zi]), sigmoid(xw[:, ri] + hu[:, ri])
            if reset_after:
                candidate = np.tanh(xw[:, hi] + r * hu[:, hi])
            else:
                candidate = np.tanh(xw[:, hi] + (r * h) @ recurrent_kernel[:, hi] + b_rec[hi])
            h = z * h + (1 - z) * candidate if keep_old_with_z else (1 - z) * h + z * candidate
            out.append(h)
        return np.stack(out, axis=1)

    return gru


@pytest.mark.parametrize("changes, words", [
    (dict(order=(1, 0, 2)), "order z, r"),
    (dict(keep_old_with_z=False), "swapped"),
    (dict(reset_after=False), "reset_after=True"),
    (dict(recurrent_bias=False), "second row of the bias"),
])
def test_gru_mistakes_are_named(changes, words):
    status, message = check.run("12.1", _gru_variant(**changes))
    assert status == check.FAILED and words in message


def test_gru_returning_only_the_last_state_is_named():
    status, message = check.run("12.1", lambda x, k, rk, b: gru_forward(x, k, rk, b)[:, -1])
    assert status == check.FAILED and "only the last state" in message


def test_gru_with_a_tanh_update_gate_fails_without_revealing_the_answer():
    def tanh_gate(x, kernel, recurrent_kernel, bias):
        units = recurrent_kernel.shape[0]
        h = np.zeros((x.shape[0], units))
        out = []
        for t in range(x.shape[1]):
            xz, xr, xh = np.split(x[:, t] @ kernel + bias[0], 3, axis=1)
            hz, hr, hh = np.split(h @ recurrent_kernel + bias[1], 3, axis=1)
            z, r = np.tanh(xz + hz), sigmoid(xr + hr)
            h = z * h + (1 - z) * np.tanh(xh + r * hh)
            out.append(h)
        return np.stack(out, axis=1)

    status, message = check.run("12.1", tanh_gate)
    assert status == check.FAILED and "off" in message and "sigmoid(" not in message


def test_gru_in_place_changes_and_none_are_reported():
    def in_place(x, kernel, recurrent_kernel, bias):
        out = gru_forward(x, kernel, recurrent_kernel, bias)
        bias *= 0
        return out

    status, message = check.run("12.1", in_place)
    assert status == check.FAILED and "in place" in message
    status, message = check.run("12.1", lambda x, k, rk, b: None)
    assert status == check.FAILED and "None" in message


def test_gru_accepts_float32_results():
    assert check.run("12.1", lambda *a: gru_forward(*a).astype("float32"))[0] == check.PASSED


# ---------------------------------------------------------------------------------------------
# 12.2
# ---------------------------------------------------------------------------------------------


def test_the_checkers_reference_gradient_is_a_finite_difference():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 3))
    weights = _weights(3, 4, 1, None, seed=4)
    grads = ch12._reference_input_gradients(x, *weights)
    eps = 1e-6
    for index in [(0, 0, 0), (1, 2, 1), (0, 4, 2), (1, 0, 2)]:
        bumped = x.copy()
        bumped[index] += eps
        numeric = (rnn_forward(bumped, *weights)[:, -1].sum() - rnn_forward(x, *weights)[:, -1].sum()) / eps
        assert abs(numeric - grads[index]) < 1e-4


def _grad_variant(tanh_derivative=True, transpose=True, derivative_from_previous=False):
    # A learner's BPTT with one of the usual mistakes (written here: answers may not call the checkers' code).
    def grads_of(x, kernel, recurrent_kernel, bias):
        states = np.concatenate([np.zeros_like(rnn_forward(x, kernel, recurrent_kernel, bias)[:, :1]),
                                 rnn_forward(x, kernel, recurrent_kernel, bias)], axis=1)   # h_0 ... h_T
        grad_h = np.ones_like(states[:, -1])
        grads = np.zeros(np.shape(x))
        for t in range(x.shape[1] - 1, -1, -1):
            local = states[:, t] if derivative_from_previous else states[:, t + 1]
            grad_a = grad_h * (1 - local ** 2) if tanh_derivative else grad_h
            grads[:, t] = grad_a @ kernel.T
            grad_h = grad_a @ (recurrent_kernel.T if transpose else recurrent_kernel)
        return grads

    return grads_of


@pytest.mark.parametrize("changes, words", [
    (dict(tanh_derivative=False), "derivative of tanh"),
    (dict(derivative_from_previous=True), "wrong state"),
    (dict(transpose=False), "transposed"),
])
def test_bptt_mistakes_are_named(changes, words):
    status, message = check.run("12.2", _grad_variant(**changes))
    assert status == check.FAILED and words in message


def test_bptt_only_the_last_step_is_named():
    def last_step_only(x, kernel, recurrent_kernel, bias):
        states = rnn_forward(x, kernel, recurrent_kernel, bias)
        grads = np.zeros(np.shape(x))
        grads[:, -1] = (1 - states[:, -1] ** 2) @ kernel.T
        return grads

    status, message = check.run("12.2", last_step_only)
    assert status == check.FAILED and "earlier ones" in message


def test_bptt_wrong_shape_and_none():
    status, message = check.run("12.2", lambda x, k, rk, b: rnn_input_gradients(x, k, rk, b)[:, :, 0])
    assert status == check.FAILED and "shape" in message
    status, message = check.run("12.2", lambda x, k, rk, b: None)
    assert status == check.FAILED and "None" in message

"""Checkers for chapter 12, Recurrent networks.

* 12.1 ``gru_forward(x, kernel, recurrent_kernel, bias)``: a GRU over a batch of sequences in NumPy, with the
  weights of ``keras.layers.GRU`` (``reset_after=True``, gate order z, r, h; ``bias`` of shape (2, 3 · units)),
  returning every state, shape (N, T, units).
* 12.2 ``rnn_input_gradients(x, kernel, recurrent_kernel, bias)``: back-propagation through time for the simple
  RNN of ``dlbook_utils.recurrent.rnn_forward``: the gradient of the sum of the last state's entries with respect
  to every input ``x``, shape (N, T, features).

Each checker draws its own inputs and weights and compares with a reference computed here; its messages say what
goes wrong, not what the right numbers are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, expect, expect_callable, expect_close, expect_shape, register


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _weights(rng: np.random.Generator, features: int, units: int, gates: int, bias_rows: int | None):
    kernel = rng.normal(scale=0.6, size=(features, gates * units))
    recurrent_kernel = rng.normal(scale=0.6, size=(units, gates * units))
    shape = (gates * units,) if bias_rows is None else (bias_rows, gates * units)
    return kernel, recurrent_kernel, rng.normal(scale=0.5, size=shape)


def _call(fn: Any, what: str, *args: np.ndarray) -> Any:
    copies = [a.copy() for a in args]
    got = fn(*args)
    if got is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    expect(all(np.array_equal(a, b) for a, b in zip(args, copies)),
           f"{what} changed its inputs in place; compute the result in new arrays")
    return got


# ---------------------------------------------------------------------------------------------
# 12.1 A GRU in NumPy, matched to Keras
# ---------------------------------------------------------------------------------------------


def _reference_gru(x, kernel, recurrent_kernel, bias, *, order=(0, 1, 2), keep_old_with_z=True,
                   reset_after=True, recurrent_bias=True):
    """Keras's GRU, and with the keyword arguments changed, the usual ways of getting it wrong."""
    units = recurrent_kernel.shape[0]
    blocks = [slice(k * units, (k + 1) * units) for k in order]
    zi, ri, hi = blocks
    b_in, b_rec = bias[0], bias[1] if recurrent_bias else np.zeros_like(bias[1])
    h = np.zeros((x.shape[0], units))
    out = []
    for t in range(x.shape[1]):
        xw = x[:, t] @ kernel + b_in
        hu = h @ recurrent_kernel + b_rec
        z = _sigmoid(xw[:, zi] + hu[:, zi])
        r = _sigmoid(xw[:, ri] + hu[:, ri])
        if reset_after:
            candidate = np.tanh(xw[:, hi] + r * hu[:, hi])
        else:
            candidate = np.tanh(xw[:, hi] + (r * h) @ recurrent_kernel[:, hi] + b_rec[hi])
        h = z * h + (1 - z) * candidate if keep_old_with_z else (1 - z) * h + z * candidate
        out.append(h)
    return np.stack(out, axis=1)


_GRU_MISTAKES = [
    (dict(order=(1, 0, 2)), "you read the update gate z and the reset gate r from each other's blocks: Keras keeps "
                            "the three blocks of its kernels in the order z, r, candidate"),
    (dict(keep_old_with_z=False), "the roles of z and 1 - z are swapped: in Keras's GRU the update gate z says how "
                                  "much of the *previous* state to keep"),
    (dict(reset_after=False), "you apply the reset gate to the state before multiplying by the recurrent kernel; "
                              "Keras's default (reset_after=True) multiplies first and then applies r to the "
                              "recurrent part of the candidate, bias included"),
    (dict(recurrent_bias=False), "the second row of the bias is missing: with reset_after=True Keras has one bias "
                                 "for the input part and one for the recurrent part"),
]


@register("12.1", "a GRU in NumPy, matched to Keras")
def check_gru_forward(gru_forward: Any) -> None:
    expect_callable(gru_forward, "gru_forward")
    rng = np.random.default_rng(1201)
    for n, steps, features, units in [(2, 1, 3, 2), (3, 5, 2, 4), (2, 9, 4, 3), (1, 12, 1, 5)]:
        x = rng.normal(size=(n, steps, features))
        kernel, recurrent_kernel, bias = _weights(rng, features, units, 3, 2)
        what = f"gru_forward on x of shape {x.shape} with {units} units"
        got = _call(gru_forward, what, x, kernel, recurrent_kernel, bias)
        expected = _reference_gru(x, kernel, recurrent_kernel, bias)
        arr = np.asarray(got, dtype=float) if not isinstance(got, (tuple, list)) else None
        if arr is not None and arr.shape == (n, units):
            raise Feedback(f"{what} returned only the last state, shape {arr.shape}; return every state, "
                           f"shape (N, T, units)")
        got = expect_shape(got, expected.shape, what)
        if np.allclose(got, expected, atol=1e-6):
            continue
        for changes, message in _GRU_MISTAKES:
            if np.allclose(got, _reference_gru(x, kernel, recurrent_kernel, bias, **changes), atol=1e-6):
                raise Feedback(f"{what}: {message}")
        expect_close(got, expected, what, atol=1e-6,
                     hint="start from h_0 = 0; at each step compute z and r from x_t and h_(t-1), then the "
                          "candidate, then mix the previous state and the candidate with z")


# ---------------------------------------------------------------------------------------------
# 12.2 Back-propagation through time for the simple RNN
# ---------------------------------------------------------------------------------------------


def _reference_input_gradients(x, kernel, recurrent_kernel, bias, *, tanh_derivative=True, transpose=True,
                               derivative_from_previous=False):
    h = np.zeros((x.shape[0], recurrent_kernel.shape[0]))
    states = [h]
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        states.append(h)
    grad_h = np.ones_like(h)                                  # d(sum of h_T) / d h_T
    grads = np.zeros_like(x)
    for t in range(x.shape[1] - 1, -1, -1):
        local = states[t] if derivative_from_previous else states[t + 1]
        grad_a = grad_h * (1 - local ** 2) if tanh_derivative else grad_h
        grads[:, t] = grad_a @ kernel.T
        grad_h = grad_a @ (recurrent_kernel.T if transpose else recurrent_kernel)
    return grads


@register("12.2", "back-propagation through time for the simple RNN")
def check_rnn_input_gradients(rnn_input_gradients: Any) -> None:
    expect_callable(rnn_input_gradients, "rnn_input_gradients")
    rng = np.random.default_rng(1202)
    for n, steps, features, units in [(3, 4, 2, 3), (2, 1, 3, 4), (2, 10, 3, 5), (1, 25, 1, 4)]:
        x = rng.normal(size=(n, steps, features))
        kernel, recurrent_kernel, bias = _weights(rng, features, units, 1, None)
        what = f"rnn_input_gradients on x of shape {x.shape} with {units} units"
        got = expect_shape(_call(rnn_input_gradients, what, x, kernel, recurrent_kernel, bias), x.shape, what)
        expected = _reference_input_gradients(x, kernel, recurrent_kernel, bias)
        if np.allclose(got, expected, rtol=1e-5, atol=1e-9):
            continue
        mistakes = [
            (dict(tanh_derivative=False), "the derivative of tanh is missing: each step back multiplies by "
                                          "1 - h_t², elementwise, before going through the weights"),
            (dict(derivative_from_previous=True), "the tanh derivative at step t uses the wrong state: it is the "
                                                  "derivative of the tanh that *produced* h_t"),
            (dict(transpose=False), "the gradient flows back through the recurrent kernel transposed: h_(t-1) U maps "
                                    "the old state to the new one, so the gradient maps back through U's transpose"),
        ]
        for changes, message in mistakes:
            if np.allclose(got, _reference_input_gradients(x, kernel, recurrent_kernel, bias, **changes),
                           rtol=1e-5, atol=1e-9):
                raise Feedback(f"{what}: {message}")
        if steps > 1 and np.allclose(got[:, -1], expected[:, -1], rtol=1e-5, atol=1e-9):
            raise Feedback(f"{what}: the last step is right but the earlier ones are not; the gradient has to "
                           "travel back through every recurrent step, through U and the tanh at each")
        expect_close(got, expected, what, rtol=1e-5, atol=1e-9,
                     hint="start from a gradient of ones on h_T and walk back one step at a time")

"""Checkers for chapter 02, "The artificial neuron".

* 02.1: the derivative of SiLU (swish), ``silu_grad(z)``, compared with central finite differences.
* 02.2: a numerically stable softmax, ``stable_softmax(z)``, on ordinary and very large logits.
* 02.3: hand-chosen weights for a two-layer network of step neurons that computes XOR.

Each checker computes its reference inside the checker, on fresh inputs, and says what is wrong
without printing the expected values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, expect, expect_callable, expect_close, expect_shape, register


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # Written in two branches so that neither exponential overflows.
    out = np.empty_like(z, dtype=float)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _silu(z: np.ndarray) -> np.ndarray:
    return z * _sigmoid(z)


def _central_difference(f: Any, z: np.ndarray, h: float = 1e-5) -> np.ndarray:
    return (f(z + h) - f(z - h)) / (2.0 * h)


def _call(fn: Any, *args: Any, what: str) -> Any:
    """Call the learner's function with fresh copies of the inputs; report a crash plainly."""
    copies = [np.array(a, dtype=float, copy=True) for a in args]
    try:
        with np.errstate(all="ignore"):  # an overflow shows up as NaN/inf, which the checks explain
            return fn(*copies)
    except (NotImplementedError, Feedback):
        raise
    except Exception as exc:
        raise Feedback(f"{what} raised {type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# 02.1 The derivative of SiLU
# ---------------------------------------------------------------------------------------------


@register("02.1", "derivative of SiLU")
def check_silu_grad(answer: Any) -> None:
    expect_callable(answer, "silu_grad")
    rng = np.random.default_rng(2021)
    z = np.concatenate([rng.uniform(-6.0, 6.0, size=40), [-30.0, -3.0, -1.0, -0.25, 0.0, 0.5, 2.0, 30.0]])
    reference = _central_difference(_silu, z)

    got = expect_shape(_call(answer, z, what="silu_grad(z)"), z.shape, "silu_grad(z) for a vector z")
    if not np.all(np.isfinite(got)):
        raise Feedback("silu_grad(z) returned NaN or infinite values; the derivative is finite everywhere")
    if not np.allclose(got, reference, rtol=1e-4, atol=1e-6):
        sig = _sigmoid(z)
        if np.allclose(got, sig, rtol=1e-4, atol=1e-6):
            hint = ("this is the derivative of only one factor. SiLU is a product of two functions of z, "
                    "so use the product rule")
        elif np.allclose(got, sig * (1.0 - sig), rtol=1e-4, atol=1e-6):
            hint = "this is the derivative of the sigmoid alone; SiLU multiplies the sigmoid by z"
        elif np.allclose(got, z * sig * (1.0 - sig), rtol=1e-4, atol=1e-6):
            hint = "the product rule has two terms, and one of them is missing"
        else:
            hint = "differentiate z·σ(z) with the product rule, and use σ'(z) from the chapter"
        worst = float(np.max(np.abs(got - reference)))
        raise Feedback(
            f"silu_grad(z) does not match the slope of SiLU measured by finite differences "
            f"(largest absolute error {worst:.2g}). Hint: {hint}."
        )

    # Elementwise on any shape, and no change to the caller's array.
    grid = rng.uniform(-4.0, 4.0, size=(3, 5))
    saved = grid.copy()
    got2 = answer(grid)
    expect(np.array_equal(grid, saved), "silu_grad changed its input array in place; compute a new array instead")
    expect_close(got2, _central_difference(_silu, saved), "silu_grad(z) for a 3×5 matrix z", rtol=1e-4, atol=1e-6,
                 hint="an activation's derivative works entry by entry and keeps the input's shape")


# ---------------------------------------------------------------------------------------------
# 02.2 A numerically stable softmax
# ---------------------------------------------------------------------------------------------


def _softmax_reference(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


@register("02.2", "numerically stable softmax")
def check_stable_softmax(answer: Any) -> None:
    expect_callable(answer, "stable_softmax")
    rng = np.random.default_rng(7)

    # 1. Ordinary logits, one vector.
    z = rng.normal(0.0, 2.0, size=6)
    got = expect_shape(_call(answer, z, what="stable_softmax(z)"), z.shape, "stable_softmax(z) for a vector z")
    expect(np.all(np.isfinite(got)), "stable_softmax(z) returned NaN or infinite values for small, ordinary logits")
    expect(abs(got.sum() - 1.0) < 1e-6, f"the probabilities of stable_softmax(z) sum to {got.sum():.4g}, not 1")
    expect_close(got, _softmax_reference(z), "stable_softmax(z) for a vector z", rtol=1e-6, atol=1e-9,
                 hint="softmax(z)_i = exp(z_i) / sum_j exp(z_j)")

    # 2. A batch: one distribution per row (the last axis).
    batch = rng.normal(0.0, 3.0, size=(5, 4))
    got = expect_shape(_call(answer, batch, what="stable_softmax(batch)"), batch.shape,
                       "stable_softmax(batch) for a 5×4 batch")
    expect(np.all(np.isfinite(got)), "stable_softmax(batch) returned NaN or infinite values for ordinary logits")
    expect(np.allclose(got.sum(axis=-1), 1.0, atol=1e-6),
           "for a batch, every row of the result should sum to 1: softmax works along the last axis, "
           "one probability distribution per row")
    expect_close(got, _softmax_reference(batch), "stable_softmax(batch)", rtol=1e-6, atol=1e-9,
                 hint="each row is normalised on its own")

    # 3. Very large logits: exp() overflows beyond about 709.
    big = np.array([1000.0, 1001.0, 1002.5, 990.0])
    got = expect_shape(_call(answer, big, what="stable_softmax(big)"), big.shape, "stable_softmax(z) for large z")
    if not np.all(np.isfinite(got)):
        raise Feedback(
            "stable_softmax(z) returns NaN or inf for logits around 1000, because exp(1000) overflows. "
            "Hint: softmax does not change when the same constant is added to every logit."
        )
    expect_close(got, _softmax_reference(big), "stable_softmax(z) for logits around 1000", rtol=1e-6, atol=1e-9)
    very_negative = -big
    got = expect_shape(_call(answer, very_negative, what="stable_softmax(-big)"), big.shape,
                       "stable_softmax(z) for very negative z")
    expect(np.all(np.isfinite(got)),
           "stable_softmax(z) returns NaN for logits around -1000: every exp() underflows to 0 and 0/0 is NaN")
    expect_close(got, _softmax_reference(very_negative), "stable_softmax(z) for logits around -1000",
                 rtol=1e-6, atol=1e-9)

    # 3b. Logits far apart within one row: shifting by anything but the maximum still overflows.
    spread = np.array([0.0, 1600.0, -5.0, 1595.0])
    got = expect_shape(_call(answer, spread, what="stable_softmax(spread)"), spread.shape,
                       "stable_softmax(z) for logits 1,600 apart")
    if not np.all(np.isfinite(got)):
        raise Feedback(
            "stable_softmax(z) returns NaN or inf when the logits of one vector are 1,600 apart: after your shift "
            "some exponent is still far above 709. Which constant makes every exponent at most 0?"
        )
    expect_close(got, _softmax_reference(spread), "stable_softmax(z) for logits 1,600 apart", rtol=1e-6, atol=1e-9)

    # 4. A batch whose rows live on very different scales.
    mixed = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -999.5], [0.5, -0.5, 2.0]])
    saved = mixed.copy()
    got = expect_shape(_call(answer, mixed, what="stable_softmax(mixed)"), mixed.shape,
                       "stable_softmax(batch) for rows of very different scale")
    if not np.all(np.isfinite(got)):
        raise Feedback(
            "stable_softmax fails on a batch whose rows have very different scales (one row near 1000, "
            "another near -1000): stabilise every row on its own, not the whole batch with one number"
        )
    expect_close(got, _softmax_reference(mixed), "stable_softmax(batch) for rows of very different scale",
                 rtol=1e-6, atol=1e-9, hint="stabilise every row on its own, not the batch as a whole")
    raw = mixed.copy()
    with np.errstate(all="ignore"):
        answer(raw)
    expect(np.array_equal(raw, saved),
           "stable_softmax changed its input array in place (for example with -=); compute a new array instead")


# ---------------------------------------------------------------------------------------------
# 02.3 XOR by hand
# ---------------------------------------------------------------------------------------------

_XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_XOR_TARGETS = np.array([0, 1, 1, 0])


def _step(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(float)


@register("02.3", "XOR with two layers of step neurons")
def check_xor_weights(answer: Any) -> None:
    expect_callable(answer, "xor_weights")
    try:
        weights = answer()
    except (NotImplementedError, Feedback):
        raise
    except Exception as exc:
        raise Feedback(f"xor_weights() raised {type(exc).__name__}: {exc}") from None
    if weights is None:
        raise NotImplementedError
    if not isinstance(weights, (tuple, list)) or len(weights) != 4:
        raise Feedback("xor_weights() should return four things: W1, b1, w2, b2")
    W1, b1, w2, b2 = weights
    W1 = np.asarray(W1, dtype=float)
    expect(W1.ndim == 2 and W1.shape[0] == 2,
           f"W1 should have shape (2, hidden_units): one row per input, one column per hidden neuron; got {W1.shape}")
    hidden = W1.shape[1]
    b1 = expect_shape(np.ravel(np.asarray(b1, dtype=float)), (hidden,), "b1 (one bias per hidden neuron)")
    w2 = expect_shape(np.ravel(np.asarray(w2, dtype=float)), (hidden,), "w2 (one weight per hidden neuron)")
    b2_arr = np.ravel(np.asarray(b2, dtype=float))
    expect(b2_arr.size == 1, f"b2 should be a single number (the output neuron's bias), got {b2_arr.size} numbers")
    values = [W1, b1, w2, b2_arr]
    expect(all(np.all(np.isfinite(v)) for v in values), "the weights contain NaN or infinite values")

    def network(x: np.ndarray) -> np.ndarray:
        return _step(_step(x @ W1 + b1) @ w2 + b2_arr[0])

    out = network(_XOR_INPUTS)
    wrong = [f"({int(a)}, {int(b)})" for (a, b), o, t in zip(_XOR_INPUTS, out, _XOR_TARGETS) if o != t]
    if wrong:
        raise Feedback(
            f"the network gets {len(wrong)} of the 4 XOR inputs wrong: {', '.join(wrong)}. Hint: let each "
            "hidden neuron cut the square with one line, then let the output neuron combine the two half-planes"
        )
    # A boundary that passes exactly through (or within a hair of) an input point is fragile.
    rng = np.random.default_rng(3)
    jitter = rng.uniform(-0.1, 0.1, size=(200, 4, 2))
    noisy = (_XOR_INPUTS[None] + jitter).reshape(-1, 2)
    agree = network(noisy) == np.tile(_XOR_TARGETS, 200)
    if not agree.all():
        raise Feedback(
            "the four corners are right, but a line passes (almost) exactly through one of them: moving an "
            f"input by less than 0.1 changes the answer for {int((~agree).sum())} of {agree.size} nudged inputs. "
            "Choose biases that keep every line well away from the corners"
        )

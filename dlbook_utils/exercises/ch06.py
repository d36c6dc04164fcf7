"""Checkers for chapter 06, generalisation and regularisation.

* 06.1 ``l2_penalty(weights, lam)``: the L2 penalty of a list of weight arrays, compared with
  ``keras.regularizers.L2`` on fresh random weights.
* 06.2 ``inverted_dropout(x, rate, rng)``: NumPy inverted dropout; checked for the share of dropped
  entries, the rescaling of the kept ones, the preserved expectation and the use of ``rng``.
* 06.3 ``(batch_norm_forward, batch_norm_backward)``: batch normalisation in training mode; the forward pass
  is compared with the formula of chapter 05, the backward pass with central differences, and the usual slips
  (the sample variance, the wrong axis, ε in the wrong place, a dx without the paths through the batch mean and
  variance, dγ and dβ not summed over the batch) are recognised and named.
* 06.5 ``bias_variance(predictions, truth)``: squared bias and variance over training sets, averaged over the
  points, compared with the definitions of section 1 on made-up predictions.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_shape, isolated, register
from .ch03 import _central_differences

# ---------------------------------------------------------------------------------------------
# 06.1  L2 penalty
# ---------------------------------------------------------------------------------------------


def _keras_l2(weights: Sequence[np.ndarray], lam: float) -> float:
    """The reference: what ``keras.regularizers.L2(lam)`` adds to the loss, summed over the arrays."""
    if lam == 0:
        return 0.0
    import keras

    regularizer = keras.regularizers.L2(lam)
    return float(sum(float(keras.ops.convert_to_numpy(regularizer(w.astype("float32")))) for w in weights))


def _close(a: float, b: float, rtol: float = 1e-4) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-9)


@register("06.1", "an L2 penalty")
def check_l2_penalty(answer: Any) -> None:
    expect_callable(answer, "l2_penalty")
    rng = np.random.default_rng(20260601)
    cases = [
        ([rng.normal(size=(5, 3))], 0.01),
        ([rng.normal(size=(8, 4)), rng.normal(size=(4,)), rng.normal(scale=2.0, size=(3, 3, 2, 5))], 0.003),
        ([rng.normal(size=(6, 2)), rng.normal(size=(2,))], 0.0),
        ([rng.normal(scale=0.1, size=(20, 10))], 0.5),
    ]
    for k, (weights, lam) in enumerate(cases, 1):
        reference = _keras_l2(weights, lam)
        shapes = ", ".join(str(w.shape) for w in weights)
        what = f"l2_penalty on {len(weights)} array(s) of shape {shapes} with lam={lam}"
        got = as_array(answer([w.copy() for w in weights], lam), what)
        expect(got.size == 1, f"{what} returned {got.size} numbers; it should return one number (a scalar)")
        value = float(got.reshape(()))
        expect(math.isfinite(value), f"{what} is NaN or infinite")
        if _close(value, reference):
            continue
        if lam == 0:
            raise Feedback(f"{what} should be 0: with lam = 0 there is no penalty at all")
        squares = sum(float(np.sum(w**2)) for w in weights)
        size = sum(w.size for w in weights)
        if _close(value, reference / 2) or _close(value, 2 * reference):
            raise Feedback(
                f"{what} is off by a factor of 2. Compare the constant in front of the sum with what "
                "keras.regularizers.L2 computes (print keras.regularizers.L2(lam)(w) for a small w)."
            )
        if _close(value, squares):
            raise Feedback(f"{what} does not depend on lam: the strength lam should multiply the penalty")
        if _close(value, lam * sum(float(np.sum(np.abs(w))) for w in weights)):
            raise Feedback(f"{what} matches an L1 penalty (absolute values); L2 uses squares")
        if _close(value, lam * squares / size) or _close(value, lam * float(np.mean([np.mean(w**2) for w in weights]))):
            raise Feedback(f"{what} looks like an average; the penalty adds the squares up, it does not average them")
        if len(weights) > 1 and _close(value, _keras_l2(weights[:1], lam)):
            raise Feedback(f"{what} only counts the first array: every array in the list should contribute")
        if _close(value, lam * math.sqrt(squares)):
            raise Feedback(f"{what} looks like lam times a norm; the penalty uses the squared norm (no square root)")
        raise Feedback(
            f"{what} differs from keras.regularizers.L2 (relative error {abs(value - reference) / reference:.2g})"
        )


# ---------------------------------------------------------------------------------------------
# 06.2  Inverted dropout
# ---------------------------------------------------------------------------------------------


def _call_dropout(answer: Any, x: np.ndarray, rate: float, seed: int, what: str) -> np.ndarray:
    original = x.copy()
    out = answer(x, rate, np.random.default_rng(seed))
    expect(np.array_equal(x, original), f"{what} changed its input x in place; return a new array instead")
    return expect_shape(out, x.shape, what)


@register("06.2", "inverted dropout")
def check_inverted_dropout(answer: Any) -> None:
    expect_callable(answer, "inverted_dropout")
    data_rng = np.random.default_rng(6062)

    x = data_rng.uniform(0.5, 2.0, size=(300, 400))
    same = _call_dropout(answer, x, 0.0, 1, "inverted_dropout(x, rate=0.0, rng)")
    expect(np.allclose(same, x), "with rate = 0.0 nothing should be dropped or rescaled: the output should equal x")

    for rate in (0.3, 0.75):
        what = f"inverted_dropout(x, rate={rate}, rng)"
        out = _call_dropout(answer, x, rate, 11, what)
        dropped = np.isclose(out, 0.0)
        share = float(dropped.mean())
        by_row, by_column = dropped.mean(axis=1), dropped.mean(axis=0)
        expect(
            max(abs(by_row - share).max(), abs(by_column - share).max()) < 0.2,
            f"{what}: some rows or columns are dropped far more often than others; every entry should be dropped "
            "independently with the same probability",
        )
        if abs(share - (1 - rate)) < 0.02 and abs(rate - 0.5) > 0.1:
            raise Feedback(
                f"{what} dropped {share:.0%} of the entries: rate is the probability of *dropping* an entry, "
                "not of keeping it"
            )
        expect(
            abs(share - rate) < 0.02,
            f"{what} dropped {share:.1%} of the entries; about {rate:.0%} should be dropped",
        )
        kept = ~dropped
        ratio = out[kept] / x[kept]
        if np.allclose(ratio, 1.0):
            raise Feedback(
                f"{what} keeps entries unchanged, so the output's expected value shrinks to {1 - rate:.0%} of the "
                "input's. Rescale the kept entries so the expectation is preserved."
            )
        expect(
            np.allclose(ratio, ratio[0]),
            f"{what} scales different kept entries by different amounts; every kept entry gets the same factor",
        )
        expect(
            np.allclose(ratio, 1 / (1 - rate), rtol=1e-6),
            f"{what} rescales kept entries by {ratio[0]:.4g}, which does not preserve the expected value "
            "(the average over many masks should equal the input)",
        )
        expect(
            abs(float(out.mean()) / float(x.mean()) - 1) < 0.03,
            f"{what}: the mean of the output is {out.mean():.3f} but the mean of x is {x.mean():.3f}; "
            "inverted dropout preserves the expected value",
        )

    what = "inverted_dropout(x, rate=0.5, rng)"
    first = _call_dropout(answer, x, 0.5, 123, what)
    again = _call_dropout(answer, x, 0.5, 123, what)
    expect(
        np.array_equal(first, again),
        "two generators with the same seed gave different masks: draw the random numbers from the rng argument "
        "(for example rng.random(...)), not from np.random",
    )
    rng = np.random.default_rng(5)
    one, two = answer(x, 0.5, rng), answer(x, 0.5, rng)
    expect(
        not np.array_equal(np.asarray(one), np.asarray(two)),
        "two calls with the same generator gave the same mask: each call should draw a fresh mask",
    )

    small = data_rng.normal(size=(7,))
    out = _call_dropout(answer, small, 0.2, 3, "inverted_dropout on a 1-D array")
    survivors = ~np.isclose(out, 0.0)
    expect(
        np.allclose(out[survivors], small[survivors] / 0.8),
        "inverted_dropout on a 1-D array of positive and negative numbers: kept entries should be the input "
        "entries, rescaled",
    )


# ---------------------------------------------------------------------------------------------
# 06.3  Batch normalisation, forward and backward
# ---------------------------------------------------------------------------------------------

BN_EPS = 1e-3  # the default of the exercise, as in chapter 05 and keras.layers.BatchNormalization


def batch_norm_reference(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = BN_EPS,
                         *, variant: str = "reference") -> np.ndarray:
    """Training-mode batch normalisation as in chapter 05, or with the slip ``variant``."""
    axis = {"rows": 1, "everything": None}.get(variant, 0)
    keep = axis is not None
    mean = x.mean(axis=axis, keepdims=keep)
    var = x.var(axis=axis, keepdims=keep, ddof=1 if variant == "sample variance" else 0)
    if variant == "no eps":
        x_hat = (x - mean) / np.sqrt(var)
    elif variant == "eps outside":
        x_hat = (x - mean) / (np.sqrt(var) + eps)
    elif variant == "divide by variance":
        x_hat = (x - mean) / (var + eps)
    else:
        x_hat = (x - mean) / np.sqrt(var + eps)
    if variant == "gamma beta swapped":
        return beta * x_hat + gamma
    if variant == "no gamma beta":
        return x_hat
    return gamma * x_hat + beta


BN_FORWARD_SLIPS = {
    "sample variance": "your output matches a normalisation with the sample variance (divided by m − 1). Batch "
    "normalisation uses the batch's own variance, the mean of the squared deviations (divided by m), as in "
    "chapter 05 and in keras.layers.BatchNormalization.",
    "rows": "you normalise each example (row) over its features; batch normalisation normalises each feature "
    "(column) over the examples of the batch, axis 0.",
    "everything": "you use one mean and one variance for the whole array; every feature (column) gets its own, "
    "computed over the examples of the batch (axis 0).",
    "no eps": "ε is missing: it is added to the variance before the square root.",
    "eps outside": "ε is added after the square root; it belongs inside, added to the variance.",
    "divide by variance": "you divide by the variance; divide by the standard deviation, the square root of "
    "σ² + ε.",
    "gamma beta swapped": "γ and β are swapped: γ scales the normalised features and β shifts them.",
    "no gamma beta": "your output is the normalised x̂ alone; the layer then scales it by γ and shifts it by β.",
}


def _bn_parts(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(x̂, the standard deviation sqrt(σ² + ε)) of a batch, per feature."""
    std = np.sqrt(x.var(axis=0) + eps)
    return (x - x.mean(axis=0)) / std, std


def bn_backward_variant(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float,
                        variant: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dgamma, dbeta) from the closed form, or from a closed form with the slip ``variant``."""
    m = x.shape[0]
    x_hat, std = _bn_parts(x, eps)
    dbeta, dgamma = dy.sum(axis=0), (dy * x_hat).sum(axis=0)
    d_xhat = dy if variant == "no gamma in dx" else dy * gamma
    mean_axis = 1 if variant == "dx means over rows" else 0
    mean_dxhat = d_xhat.mean(axis=mean_axis, keepdims=True)
    proj = (d_xhat * x_hat).mean(axis=mean_axis, keepdims=True)
    if variant == "sample variance path":
        proj = proj * m / (m - 1)
    if variant == "constant statistics":
        dx = d_xhat / std
    elif variant == "no mean path":
        dx = (d_xhat - x_hat * proj) / std
    elif variant == "no variance path":
        dx = (d_xhat - mean_dxhat) / std
    else:
        dx = (d_xhat - mean_dxhat - x_hat * proj) / std
    if variant == "dgamma from x":
        dgamma = (dy * x).sum(axis=0)
    if variant == "dgamma dbeta swapped":
        dgamma, dbeta = dbeta, dgamma
    return dx, dgamma, dbeta


BN_BACKWARD_SLIPS = {
    "constant statistics": "your dx treats the batch mean and variance as constants. Both are computed from every "
    "x_i of the batch, so the gradient reaches x_i along two more paths: through μ_B and through σ²_B.",
    "no mean path": "the path through the batch mean μ_B is missing from dx. (A hint from the forward pass: adding "
    "the same number to every example of a feature changes nothing after normalisation, so each column of dx "
    "should sum to zero.)",
    "no variance path": "the path through the batch variance σ²_B is missing from dx.",
    "sample variance path": "the path through the variance looks scaled by m/(m − 1): σ²_B is a mean over the m "
    "examples, so its derivative carries 1/m, not 1/(m − 1).",
    "dx means over rows": "the means in dx run over the features of each example; they run over the batch "
    "(axis 0), like the statistics of the forward pass.",
    "no gamma in dx": "the gradient that reaches x̂ is γ·dy: dx is missing the factor γ.",
    "dgamma from x": "dgamma multiplies dy by the raw input x; γ multiplies the normalised x̂.",
    "dgamma dbeta swapped": "dgamma and dbeta look swapped: return (dx, dgamma, dbeta) in this order.",
}


def bn_numerical_gradients(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dy: np.ndarray,
                           eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of L = sum(dy * y(x, γ, β)) by central differences: dL/dy is exactly dy."""
    x, gamma, beta = x.copy(), gamma.copy(), beta.copy()

    def loss() -> float:
        return float(np.sum(dy * batch_norm_reference(x, gamma, beta, eps)))

    return tuple(_central_differences(loss, a, h=1e-5) for a in (x, gamma, beta))  # type: ignore[return-value]


def _bn_case(rng: np.random.Generator, m: int, d: int) -> tuple[np.ndarray, ...]:
    """A batch whose features have all sorts of means and scales, one of them with a variance near ε."""
    scales = rng.uniform(0.5, 3.0, size=d)
    scales[1] = 0.03  # variance about 1e-3: ε matters here
    x = rng.normal(size=(m, d)) * scales + rng.normal(0.0, 3.0, size=d)
    gamma = rng.choice([-1.0, 1.0], size=d) * rng.uniform(0.5, 2.0, size=d)
    beta = rng.normal(size=d)
    dy = rng.normal(size=(m, d))
    return x, gamma, beta, dy


def _arrays_close(a: np.ndarray, b: np.ndarray, scale: float) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4, atol=1e-6 * scale))


def _bn_forward(forward: Any, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float | None,
                what: str) -> tuple[np.ndarray, Any]:
    inputs = (x.copy(), gamma.copy(), beta.copy())
    out = forward(*inputs) if eps is None else forward(*inputs, eps=eps)
    expect(out is not None, "batch_norm_forward returned None: did you forget the `return`?")
    expect(
        isinstance(out, (tuple, list)) and len(out) == 2,
        "batch_norm_forward should return a pair (y, cache): the output and whatever the backward pass needs",
    )
    expect(
        all(np.array_equal(a, b) for a, b in zip(inputs, (x, gamma, beta))),
        "batch_norm_forward changed x, gamma or beta in place; leave its inputs unchanged",
    )
    y, cache = out
    return expect_shape(y, x.shape, f"y of {what}"), cache


def _check_bn_forward(y: np.ndarray, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                      what: str) -> None:
    reference = batch_norm_reference(x, gamma, beta, eps)
    if _arrays_close(y, reference, 1.0):
        return
    if eps != BN_EPS and _arrays_close(y, batch_norm_reference(x, gamma, beta, BN_EPS), 1.0):
        raise Feedback(f"{what}: your output uses ε = {BN_EPS:g} whatever is passed; use the argument eps")
    for slip, message in BN_FORWARD_SLIPS.items():
        with np.errstate(all="ignore"):
            slipped = batch_norm_reference(x, gamma, beta, eps, variant=slip)
        if _arrays_close(y, slipped, 1.0):
            raise Feedback(f"{what}: {message}")
    expect(np.all(np.isfinite(y)), f"y of {what} contains NaN or infinite values")
    worst = float(np.max(np.abs(y - reference)))
    raise Feedback(
        f"y of {what} differs from batch normalisation (largest difference {worst:.2g}): per feature, subtract the "
        "batch mean, divide by the square root of the batch variance plus ε, then scale by γ and shift by β"
    )


def _check_bn_backward(grads: Any, x: np.ndarray, gamma: np.ndarray, dy: np.ndarray, eps: float,
                       numerical: tuple[np.ndarray, ...], what: str) -> None:
    m, d = x.shape
    expect(grads is not None, "batch_norm_backward returned None: did you forget the `return`?")
    expect(
        isinstance(grads, (tuple, list)) and len(grads) == 3,
        "batch_norm_backward should return three arrays, (dx, dgamma, dbeta)",
    )
    for g, name in zip(grads, ("dx", "dgamma", "dbeta")):
        expect(g is not None, f"{name} is None: return an array for each of dx, dgamma and dbeta")
    dx, dgamma, dbeta = (as_array(g, name) for g, name in zip(grads, ("dx", "dgamma", "dbeta")))
    for name, g in (("dgamma", dgamma), ("dbeta", dbeta)):
        if g.shape == (m, d):
            raise Feedback(
                f"{name} has shape {g.shape}, one row per example, but the parameter has shape ({d},): it is "
                "shared by every example of the batch, so what happens to the rows' contributions?"
            )
        if g.shape == (m,) and m != d:
            raise Feedback(
                f"{name} has shape {g.shape}, one number per example: add up over the batch (axis 0), "
                "one number per feature"
            )
    expect_shape(dx, (m, d), "dx")
    expect_shape(dgamma, (d,), "dgamma")
    expect_shape(dbeta, (d,), "dbeta")
    scale = float(np.abs(dy).max())
    if all(_arrays_close(a, b, scale) for a, b in zip((dx, dgamma, dbeta), numerical)):
        return
    for slip, message in BN_BACKWARD_SLIPS.items():
        slipped = bn_backward_variant(dy, x, gamma, eps, slip)
        if all(_arrays_close(a, b, scale) for a, b in zip((dx, dgamma, dbeta), slipped)):
            raise Feedback(f"{what}: {message}")
    for name, mine, num in zip(("dx", "dgamma", "dbeta"), (dx, dgamma, dbeta), numerical):
        expect(np.all(np.isfinite(mine)), f"{name} of {what} contains NaN or infinite values")
        if not _arrays_close(mine, num, scale):
            bad = ~np.isclose(mine, num, rtol=1e-4, atol=1e-6 * scale)
            raise Feedback(
                f"{name} of {what} differs from the numerical gradient in {int(bad.sum())} of {bad.size} entries "
                "(central differences of the loss sum(dy * y))"
            )


@register("06.3", "batch normalisation, forward and backward")
def check_batch_norm(answer: Any) -> None:
    if answer is None or answer is Ellipsis:
        raise NotImplementedError
    if callable(answer):
        raise Feedback("pass both functions as a pair: check.exercise(\"06.3\", (batch_norm_forward, batch_norm_backward))")
    expect(
        isinstance(answer, (tuple, list)) and len(answer) == 2,
        "the answer should be a pair of functions, (batch_norm_forward, batch_norm_backward)",
    )
    forward, backward = answer
    expect_callable(forward, "batch_norm_forward")
    expect_callable(backward, "batch_norm_backward")
    forward, backward = isolated(forward), isolated(backward)

    rng = np.random.default_rng(6063)
    # Three batches; the third has the shape of the first, so that a backward pass that reads the last forward
    # call's values instead of its cache can be recognised.
    cases = [((6, 4), None), ((16, 5), 1e-5), ((6, 4), None)]
    data = [_bn_case(rng, m, d) for (m, d), _ in cases]
    caches = []
    for ((m, d), eps), (x, gamma, beta, dy) in zip(cases, data):
        what = f"a batch of {m} examples with {d} features" + ("" if eps is None else f" and eps={eps:g}")
        y, cache = _bn_forward(forward, x, gamma, beta, eps, what)
        _check_bn_forward(y, x, gamma, beta, BN_EPS if eps is None else eps, what)
        caches.append(cache)

    # The backward passes run after all the forward passes: each must use the cache of its own forward call.
    for k, (((m, d), eps), (x, gamma, beta, dy), cache) in enumerate(zip(cases, data, caches)):
        eps = BN_EPS if eps is None else eps
        what = f"the backward pass for a batch of {m} examples with {d} features"
        try:
            grads = backward(dy.copy(), cache)
        except NotImplementedError:
            raise Feedback("the forward pass is right; now write batch_norm_backward") from None
        if k == 0 and isinstance(grads, (tuple, list)) and len(grads) == 3:
            x_last, gamma_last, beta_last, _ = data[-1]
            stale = bn_numerical_gradients(x_last, gamma_last, beta_last, dy, eps)
            try:
                mine = np.asarray(grads[0], dtype=float)
            except (TypeError, ValueError):
                mine = None
            if mine is not None and _arrays_close(mine, stale[0], float(np.abs(dy).max())):
                raise Feedback(
                    "the backward pass used the values of a later forward call: keep everything it needs in "
                    "the cache that batch_norm_forward returns"
                )
        _check_bn_backward(grads, x, gamma, dy, eps, bn_numerical_gradients(x, gamma, beta, dy, eps), what)


# ---------------------------------------------------------------------------------------------
# 06.5  Bias and variance
# ---------------------------------------------------------------------------------------------


def bias_variance_reference(predictions: np.ndarray, truth: np.ndarray, *,
                            variant: str = "reference") -> tuple[float, float]:
    """(squared bias, variance), each averaged over the points; or the same with the slip ``variant``."""
    average = predictions.mean(axis=0)                       # the average prediction at every point
    bias_sq = float(np.mean((average - truth) ** 2))
    variance = float(np.mean(predictions.var(axis=0)))
    if variant == "sample variance":
        variance = float(np.mean(predictions.var(axis=0, ddof=1)))
    elif variant == "variance over points":
        variance = float(np.mean(predictions.var(axis=1)))
    elif variant == "standard deviation":
        variance = float(np.mean(predictions.std(axis=0)))
    elif variant == "squared after averaging":
        bias_sq = float(np.mean(average - truth) ** 2)
    elif variant == "absolute bias":
        bias_sq = float(np.mean(np.abs(average - truth)))
    elif variant == "signed bias":
        bias_sq = float(np.mean(average - truth))
    elif variant == "bias includes variance":
        bias_sq = float(np.mean((predictions - truth) ** 2))
    elif variant == "swapped":
        bias_sq, variance = variance, bias_sq
    return bias_sq, variance


BIAS_VARIANCE_SLIPS = {
    "swapped": "the two numbers are the right ones in the wrong order: return (bias_sq, variance)",
    "sample variance": "the variance divides by n_sets − 1. The expectation over training sets is a plain mean "
    "over the rows (divide by n_sets); then bias_sq + variance equals the mean squared error exactly.",
    "variance over points": "the variance runs over the points of each training set; it should run over the "
    "training sets (axis 0), at every point, and then be averaged over the points",
    "standard deviation": "the second number is a standard deviation; the decomposition needs the variance",
    "squared after averaging": "the bias is averaged over the points before it is squared, so errors of "
    "opposite sign cancel; square it at every point, then average",
    "absolute bias": "the first number averages |bias|; the decomposition needs the squared bias",
    "signed bias": "the first number is the average bias, not the average squared bias",
    "bias includes variance": "your bias_sq compares every single prediction with the truth, so it contains the "
    "variance too; the bias compares the *average* prediction (over training sets) with the truth",
}


def _bias_variance_case(rng: np.random.Generator, n_sets: int, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-1, 1, n_points)
    truth = np.sin(np.pi * x)
    systematic = 0.4 * np.cos(3 * x)                          # a bias that changes sign across the points
    spread = rng.uniform(0.1, 0.8, size=n_points)             # a variance that differs from point to point
    predictions = truth + systematic + spread * rng.normal(size=(n_sets, n_points))
    return predictions, truth


@register("06.5", "bias and variance")
def check_bias_variance(answer: Any) -> None:
    from ..check import expect_number

    expect_callable(answer, "bias_variance")
    rng = np.random.default_rng(6065)
    for n_sets, n_points in ((5, 40), (60, 9)):
        predictions, truth = _bias_variance_case(rng, n_sets, n_points)
        what = f"bias_variance on {n_sets} training sets × {n_points} points"
        given = (predictions.copy(), truth.copy())
        result = answer(*given)
        expect(result is not None, f"{what} returned None: did you forget the `return`?")
        expect(
            isinstance(result, (tuple, list)) and len(result) == 2,
            f"{what} should return a pair of numbers (bias_sq, variance), got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""),
        )
        expect(
            np.array_equal(given[0], predictions) and np.array_equal(given[1], truth),
            f"{what} changed its inputs in place; leave them unchanged",
        )
        got = (expect_number(result[0], f"the bias_sq of {what}"), expect_number(result[1], f"the variance of {what}"))
        reference = bias_variance_reference(predictions, truth)
        if all(_close_number(a, b) for a, b in zip(got, reference)):
            continue
        for slip, message in BIAS_VARIANCE_SLIPS.items():
            slipped = bias_variance_reference(predictions, truth, variant=slip)
            if all(_close_number(a, b) for a, b in zip(got, slipped)):
                raise Feedback(f"{what}: {message}")
        wrong = [name for name, a, b in zip(("bias_sq", "variance"), got, reference) if not _close_number(a, b)]
        raise Feedback(
            f"{what}: {' and '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} off. Check the definitions: "
            "bias² compares the average prediction over training sets with the truth, the variance measures the "
            "spread of the predictions around that average; both are then averaged over the points"
        )


def _close_number(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-10)

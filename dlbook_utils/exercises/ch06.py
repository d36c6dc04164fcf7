"""Checkers for chapter 06, generalisation and regularisation.

* 06.1 ``l2_penalty(weights, lam)``: the L2 penalty of a list of weight arrays, compared with
  ``keras.regularizers.L2`` on fresh random weights.
* 06.2 ``inverted_dropout(x, rate, rng)``: NumPy inverted dropout; checked for the share of dropped
  entries, the rescaling of the kept ones, the preserved expectation and the use of ``rng``.
* 06.3 ``early_stopping(val_losses, patience)``: which epoch early stopping restores and after which
  epoch it stops, compared with the rule of ``keras.callbacks.EarlyStopping`` on fresh curves.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_shape, register

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
# 06.3  Early stopping
# ---------------------------------------------------------------------------------------------


def early_stopping_reference(val_losses: Sequence[float], patience: int, *, ties_improve: bool = False) -> tuple[int, int]:
    """(epoch whose weights are restored, number of epochs trained), both counted from 1.

    This is the rule of ``keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience)``
    with ``min_delta=0``: an epoch improves when its loss is strictly lower than the best so far;
    training stops after ``patience`` epochs in a row without improvement.
    """
    best, best_epoch, waited = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best or (ties_improve and loss == best):
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


def _curves() -> list[tuple[list[float], int, str]]:
    rng = np.random.default_rng(6063)
    epochs = np.arange(1, 41)
    cases: list[tuple[list[float], int, str]] = []
    for patience in (1, 3, 5):
        u_shape = 0.3 + 1.5 / epochs + 0.004 * epochs + rng.normal(scale=0.02, size=epochs.size)
        cases.append((u_shape.round(4).tolist(), patience, "a noisy U-shaped validation curve"))
    falling = (1.0 / epochs).round(4).tolist()
    cases.append((falling, 4, "a curve that keeps falling"))
    plateau = [0.9, 0.7, 0.6, 0.6, 0.6, 0.6, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    cases.append((plateau, 3, "a curve with a plateau of equal values"))
    walk = (1.0 + np.cumsum(rng.normal(scale=0.05, size=30))).round(4).tolist()
    cases.append((walk, 2, "a random-walk curve"))
    return cases


@register("06.3", "early stopping")
def check_early_stopping(answer: Any) -> None:
    expect_callable(answer, "early_stopping")
    for losses, patience, description in _curves():
        reference = early_stopping_reference(losses, patience)
        what = f"early_stopping on {description} ({len(losses)} epochs) with patience={patience}"
        got = answer(list(losses), patience)
        try:
            best_epoch, stopped = (int(v) for v in got)
        except (TypeError, ValueError):
            raise Feedback(f"{what} should return a pair of integers (best_epoch, epochs_trained), got {got!r}") from None
        if (best_epoch, stopped) == reference:
            continue
        if (best_epoch + 1, stopped + 1) == reference or (best_epoch + 1, stopped) == reference:
            raise Feedback(f"{what}: your epochs look counted from 0; count them from 1 (the first epoch is epoch 1)")
        if (best_epoch, stopped) == early_stopping_reference(losses, patience, ties_improve=True):
            raise Feedback(
                f"{what}: an epoch whose loss only equals the best so far is not an improvement "
                "(it must be strictly lower)"
            )
        if stopped < reference[1]:
            raise Feedback(
                f"{what} stops after epoch {stopped}, too early: training stops only once `patience` epochs "
                "in a row have not improved on the best loss"
            )
        if stopped > reference[1]:
            raise Feedback(
                f"{what} stops after epoch {stopped}, too late: training should stop as soon as `patience` "
                "epochs in a row have not improved on the best loss"
            )
        raise Feedback(
            f"{what} restores epoch {best_epoch}, which is not the epoch with the lowest validation loss "
            "seen before training stopped"
        )

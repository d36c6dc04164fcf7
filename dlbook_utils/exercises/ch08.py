"""Checkers for chapter 08, Modern CNNs and transfer learning.

* 08.1 ``residual_block_params(c_in, filters, strides=1)``: the weights of ``blocks.ResidualBlock(filters,
  strides)`` on an input with ``c_in`` channels, compared with Keras' ``count_params()``.
* 08.2 ``depthwise_conv2d(x, kernel)``: a "valid", stride-1, bias-free depthwise convolution in NumPy,
  compared with ``keras.layers.DepthwiseConv2D``.
* 08.3 ``few_labels(labels, classes, per_class, seed=0)``: ``per_class`` distinct random indices of each of
  ``classes``, reproducible from the seed.
* 08.4 ``crossover_point(labels, first, second)``: the number of labels at which curve ``second`` first catches
  up with curve ``first``, interpolated linearly in log(labels); ``labels[0]`` if it is never behind, ``None``
  if it never catches up. Compared with :func:`dlbook_utils.transfer.crossover` on curves the checker draws.

Each checker draws its own inputs; its messages say what goes wrong, not what the right numbers are.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..check import Feedback, expect, expect_callable, expect_close, expect_number, expect_shape, register


def _whole_number(value: Any, what: str) -> int:
    return expect_number(value, what, whole=True, whole_hint="a number of weights is a whole number")


# ---------------------------------------------------------------------------------------------
# 08.1 Weights of a residual block
# ---------------------------------------------------------------------------------------------


def _keras_block_params(c_in: int, filters: int, strides: int) -> int:
    from .. import blocks

    block = blocks.ResidualBlock(filters, strides)
    block.build((None, 12, 12, c_in))
    return int(block.count_params())


@register("08.1", "weights of a residual block")
def check_residual_block_params(residual_block_params: Any) -> None:
    expect_callable(residual_block_params, "residual_block_params")
    rng = np.random.default_rng(801)
    identity_cases = [(c, c, 1) for c in rng.choice(np.arange(3, 40), 3, replace=False)]
    channel_cases = [(int(a), int(b), 1) for a, b in rng.integers(2, 40, size=(3, 2)) if a != b]
    stride_cases = [(c, c, 2) for c in rng.choice(np.arange(3, 40), 2, replace=False)]
    both_cases = [(int(a), int(a) * 2, 2) for a in rng.integers(2, 30, size=2)]
    groups = [
        (identity_cases, "Start with a block that keeps the shape: two 3 × 3 convolutions without bias and their "
                         "batch normalisations. How many vectors does a Keras BatchNormalization layer store?"),
        (channel_cases, "When the number of channels changes, the first convolution sees c_in channels, the second "
                        "`filters`, and the shortcut can no longer be the identity."),
        (stride_cases, "A stride-2 block with the same number of channels still needs a projection shortcut: "
                       "the identity would have the wrong height and width."),
        (both_cases, "Check the case where both the stride and the number of channels change."),
    ]
    for cases, hint in groups:
        for c_in, filters, strides in cases:
            c_in, filters, strides = int(c_in), int(filters), int(strides)
            what = f"residual_block_params({c_in}, {filters}, strides={strides})"
            got = _whole_number(residual_block_params(c_in, filters, strides), what)
            if got != _keras_block_params(c_in, filters, strides):
                raise Feedback(f"{what} returned {got:,}, which is not what Keras counts. {hint}")
    got = _whole_number(residual_block_params(8, 8), "residual_block_params(8, 8)")
    expect(got == _keras_block_params(8, 8, 1),
           "residual_block_params(c_in, filters) with the default stride should mean stride 1")


# ---------------------------------------------------------------------------------------------
# 08.2 Depthwise convolution
# ---------------------------------------------------------------------------------------------


def _keras_depthwise(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    import keras

    layer = keras.layers.DepthwiseConv2D(kernel.shape[:2], padding="valid", use_bias=False)
    layer.build(x.shape)
    layer.set_weights([kernel[:, :, :, None].astype("float32")])
    return keras.ops.convert_to_numpy(layer(x.astype("float32"))).astype(float)


@register("08.2", "depthwise convolution in NumPy")
def check_depthwise_conv2d(depthwise_conv2d: Any) -> None:
    expect_callable(depthwise_conv2d, "depthwise_conv2d")
    rng = np.random.default_rng(802)
    cases = [((2, 6, 6, 1), (3, 3)), ((3, 7, 9, 4), (3, 3)), ((2, 8, 7, 3), (2, 4)), ((1, 5, 5, 6), (1, 1))]
    for x_shape, (kh, kw) in cases:
        x = rng.normal(size=x_shape)
        kernel = rng.normal(size=(kh, kw, x_shape[3]))
        what = f"depthwise_conv2d(x of shape {x_shape}, kernel of shape {kernel.shape})"
        got = depthwise_conv2d(x.copy(), kernel.copy())
        expected = _keras_depthwise(x, kernel)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        got = expect_shape(got, expected.shape, what)
        if x_shape[3] > 1:
            mixed = np.einsum("nhwc->nhw", expected)[..., None].repeat(x_shape[3], axis=-1)
            expect(not np.allclose(got, mixed, atol=1e-4),
                   f"{what} sums over the channels: a depthwise convolution keeps each channel separate")
        expect_close(got, expected, what, rtol=1e-4, atol=1e-4,
                     hint="each output channel c uses input channel c and kernel[:, :, c] only; "
                          "check which pixels sit under tap (u, v) for output (i, j)")


# ---------------------------------------------------------------------------------------------
# 08.3 A few labels per class
# ---------------------------------------------------------------------------------------------


@register("08.3", "a few labelled examples per class",
          written_by_learner=("dlbook_utils.transfer:label_draw",))
def check_few_labels(few_labels: Any) -> None:
    expect_callable(few_labels, "few_labels")
    rng = np.random.default_rng(803)
    labels = rng.integers(0, 8, size=2000)
    for classes, per_class, seed in [([5, 6, 7], 20, 0), ([0, 3], 50, 1), ([1, 2, 4, 6], 7, 2)]:
        what = f"few_labels(labels, classes={classes}, per_class={per_class}, seed={seed})"
        got = few_labels(labels.copy(), list(classes), per_class, seed)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        idx = np.asarray(got)
        expect(idx.ndim == 1 and idx.size > 0, f"{what} should return a 1-D array of indices")
        expect(np.issubdtype(idx.dtype, np.integer),
               f"{what} should return integer indices into `labels`, got dtype {idx.dtype}")
        expect(idx.min() >= 0 and idx.max() < len(labels), f"{what} returned indices outside `labels`")
        expect(len(np.unique(idx)) == len(idx), f"{what} returned the same example twice: draw without replacement")
        picked = labels[idx]
        expect(set(np.unique(picked)) <= set(classes), f"{what} picked examples of classes that were not asked for")
        for k in classes:
            n = int(np.sum(picked == k))
            expect(n == per_class, f"{what} returned {n} examples of class {k}, not {per_class}")
        again = np.asarray(few_labels(labels.copy(), list(classes), per_class, seed))
        expect(np.array_equal(np.sort(again), np.sort(idx)), f"{what} gives different indices for the same seed")
        other = np.asarray(few_labels(labels.copy(), list(classes), per_class, seed + 100))
        expect(not np.array_equal(np.sort(other), np.sort(idx)),
               f"{what} ignores the seed: a different seed should draw different examples")
        first = np.sort(np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in classes]))
        expect(not np.array_equal(np.sort(idx), first),
               f"{what} takes the first examples of each class: draw them at random")


# ---------------------------------------------------------------------------------------------
# 08.4 Where the curves cross
# ---------------------------------------------------------------------------------------------


def _crossing_cases(rng: np.random.Generator) -> list[tuple[str, list[float], list[float], list[float]]]:
    """(what the case tests, labels, first, second): curves the checker makes up, each with a known story."""
    labels = [10.0, 100.0, 1000.0]
    wide = [5.0, 20.0, 80.0, 320.0, 1280.0]
    cases = []
    for _ in range(2):                                          # one crossing between two grid points
        first = sorted(rng.uniform(0.6, 0.88, 3))
        behind, ahead = rng.uniform(0.02, 0.1), rng.uniform(0.02, 0.1)
        second = [first[0] - behind - 0.05, first[1] - behind, first[2] + ahead]
        cases.append(("a crossing between the second and the third point", labels, first, second))
    first = [0.7, 0.75, 0.8, 0.85, 0.9]
    second = [0.5, 0.7, 0.82, 0.8, 0.95]                            # crosses, falls back, crosses again
    cases.append(("curves that cross twice", wide, first, second))
    second = [0.4, 0.55, 0.65, 0.8, 0.9]                            # meets exactly at the last point
    cases.append(("a curve that meets the other exactly at a grid point", wide, first, second))
    cases.append(("a curve that is ahead from the start", labels, [0.5, 0.6, 0.7], [0.55, 0.58, 0.75]))
    cases.append(("a curve that never catches up", labels, [0.8, 0.9, 0.95], [0.5, 0.7, 0.9]))
    return cases


@register("08.4", "where the curves cross",
          written_by_learner=("dlbook_utils.transfer:crossover",))
def check_crossover_point(crossover_point: Any) -> None:
    from ..transfer import crossover

    expect_callable(crossover_point, "crossover_point")
    rng = np.random.default_rng(804)
    for story, labels, first, second in _crossing_cases(rng):
        expected = crossover(labels, first, second)
        what = f"crossover_point(labels={labels}, first={np.round(first, 3).tolist()}, " \
               f"second={np.round(second, 3).tolist()})"
        got = crossover_point(list(labels), list(first), list(second))
        if expected is None:
            expect(got is None, f"{what} (a case with {story}) should return None: the second curve never "
                                f"catches up within the labels given, got {got!r}")
            continue
        if got is None:
            raise Feedback(f"{what} returned None, but in this case ({story}) the second curve does catch up")
        got = expect_number(got, what)
        if math.isclose(got, expected, rel_tol=1e-6):
            continue
        gap = np.asarray(second) - np.asarray(first)
        i = next(k for k in range(len(gap)) if gap[k] >= 0)
        lo, hi = labels[max(i - 1, 0)], labels[i]
        on_linear = lo + (hi - lo) * (-gap[i - 1] / (gap[i] - gap[i - 1])) if i > 0 else lo
        if i > 0 and math.isclose(got, on_linear, rel_tol=1e-6):
            raise Feedback(f"{what} returned {got:.4g}: that interpolates on the labels themselves. The plot's "
                           f"x axis is logarithmic: interpolate the gap linearly in log(labels)")
        if any(math.isclose(got, value, rel_tol=1e-9) for value in labels[1:]) and i > 0 and gap[i] != 0:
            raise Feedback(f"{what} returned a grid point, {got:g}: the curves cross between two grid points; "
                           f"interpolate where the gap second - first reaches zero")
        if got > hi or got < lo:
            raise Feedback(f"{what} returned {got:.4g}, outside the interval where the second curve first stops "
                           f"being behind ({story}): find the first catch-up, not a later one")
        raise Feedback(f"{what} returned {got:.4g}, which is not where the gap second - first reaches zero "
                       f"on a log axis ({story})")

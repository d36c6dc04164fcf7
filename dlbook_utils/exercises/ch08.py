"""Checkers for chapter 08, Modern CNNs and transfer learning.

* 08.1 ``residual_block_params(c_in, filters, strides=1)``: the weights of ``blocks.ResidualBlock(filters,
  strides)`` on an input with ``c_in`` channels, compared with Keras' ``count_params()``.
* 08.2 ``depthwise_conv2d(x, kernel)``: a "valid", stride-1, bias-free depthwise convolution in NumPy,
  compared with ``keras.layers.DepthwiseConv2D``.
* 08.3 ``few_labels(labels, classes, per_class, seed=0)``: ``per_class`` distinct random indices of each of
  ``classes``, reproducible from the seed.

Each checker draws its own inputs; its messages say what goes wrong, not what the right numbers are.
"""

from __future__ import annotations

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


@register("08.3", "a few labelled examples per class")
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

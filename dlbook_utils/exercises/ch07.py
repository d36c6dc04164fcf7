"""Checkers for chapter 07, Convolutional networks.

* 07.1 ``conv_output_size(n, kernel, stride=1, padding="valid", dilation=1)``: the length of one spatial side
  of a convolution's output, including dilated kernels.
* 07.2 ``conv2d_strided(x, kernel, bias, strides)``: a multi-channel, strided, "valid" 2-D cross-correlation
  of a batch of images in NumPy.
* 07.3 ``receptive_field(layers)``: the receptive field of one output unit of a stack of (kernel, stride) layers.

Each checker tests the answer's behaviour on inputs it draws itself and compares with a reference computed
here; its messages say what goes wrong, not what the right numbers are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, expect, expect_callable, expect_close, expect_number, expect_shape, register


def _integer(value: Any, what: str) -> int:
    """A whole number out of whatever the learner returned (int, NumPy integer, integral float)."""
    return expect_number(value, what, whole=True,
                         whole_hint="a number of pixels is a whole number: round the right way")


# ---------------------------------------------------------------------------------------------
# 07.1 Output size with padding, stride and dilation
# ---------------------------------------------------------------------------------------------


def _reference_size(n: int, kernel: int, stride: int, padding: str, dilation: int) -> int:
    if padding == "same":
        return -(-n // stride)
    span = dilation * (kernel - 1) + 1
    return (n - span) // stride + 1


def _size_cases() -> list[tuple[int, int, int, str, int]]:
    cases = []
    for n in (28, 27, 32, 13, 100):
        for kernel in (1, 2, 3, 5, 7):
            for stride in (1, 2, 3):
                for dilation in (1, 2, 3):
                    for padding in ("valid", "same"):
                        if dilation * (kernel - 1) + 1 <= n:
                            cases.append((n, kernel, stride, padding, dilation))
    return cases


@register("07.1", "convolution output size with dilation")
def check_conv_output_size(conv_output_size: Any) -> None:
    expect_callable(conv_output_size, "conv_output_size")

    def size(n, kernel, stride, padding, dilation):
        what = f"conv_output_size({n}, kernel={kernel}, stride={stride}, padding={padding!r}, dilation={dilation})"
        return _integer(conv_output_size(n, kernel, stride=stride, padding=padding, dilation=dilation), what), what

    groups = [
        ("valid", lambda c: c[2] == 1 and c[3] == "valid" and c[4] == 1,
         "Count the positions where the whole kernel fits inside the image."),
        ("same", lambda c: c[3] == "same" and c[4] == 1,
         "With 'same' padding Keras pads just enough that the kernel size does not matter; only the stride does."),
        ("stride", lambda c: c[2] > 1 and c[4] == 1,
         "The kernel moves `stride` pixels at a time: count the start positions, and remember the first one."),
        ("dilation", lambda c: c[4] > 1,
         "A dilated kernel still has `kernel` taps, but they are `dilation` pixels apart: "
         "how many pixels does it span from its first tap to its last?"),
    ]
    cases = _size_cases()
    for _, belongs, hint in groups:
        for case in filter(belongs, cases):
            got, what = size(*case)
            if got != _reference_size(*case):
                raise Feedback(f"{what} returned {got}, which is not the size Keras computes. {hint}")
    # Default arguments: stride 1, "valid", no dilation.
    got = _integer(conv_output_size(20, 5), "conv_output_size(20, 5)")
    expect(got == _reference_size(20, 5, 1, "valid", 1),
           "conv_output_size(n, kernel) with the default arguments should mean stride 1, 'valid' padding and "
           f"no dilation, but conv_output_size(20, 5) returned {got}")


# ---------------------------------------------------------------------------------------------
# 07.2 A strided, multi-channel cross-correlation
# ---------------------------------------------------------------------------------------------


def _reference_conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    n, h, w, _ = x.shape
    kh, kw, _, cout = kernel.shape
    sh, sw = strides
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, oh, ow, cout))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :]
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return out + bias


@register("07.2", "strided multi-channel cross-correlation")
def check_conv2d_strided(conv2d_strided: Any) -> None:
    expect_callable(conv2d_strided, "conv2d_strided")
    rng = np.random.default_rng(707)
    cases = [
        ((2, 7, 7, 1), (3, 3, 1, 1), (1, 1)),
        ((3, 9, 8, 3), (3, 3, 3, 4), (1, 1)),
        ((2, 10, 11, 2), (2, 3, 2, 5), (1, 1)),   # a non-square kernel
        ((2, 11, 11, 3), (3, 3, 3, 2), (2, 2)),
        ((1, 12, 13, 2), (3, 2, 2, 3), (2, 3)),   # different strides along height and width
        ((2, 9, 10, 1), (1, 4, 1, 2), (3, 1)),
    ]
    for x_shape, k_shape, strides in cases:
        x = rng.standard_normal(x_shape)
        kernel = rng.standard_normal(k_shape)
        bias = rng.standard_normal(k_shape[-1])
        copies = (x.copy(), kernel.copy(), bias.copy())
        what = f"conv2d_strided on x {x_shape}, kernel {k_shape}, strides {strides}"
        got = conv2d_strided(x, kernel, bias, strides)
        if got is None:
            raise Feedback("conv2d_strided returned None: did you forget the `return`?")
        expect(all(np.array_equal(a, b) for a, b in zip((x, kernel, bias), copies)),
               "conv2d_strided changed its inputs in place; compute the result in a new array")
        expected = _reference_conv(x, kernel, bias, strides)
        got = expect_shape(got, expected.shape, what)
        if np.allclose(got, expected, rtol=1e-6, atol=1e-8):
            continue
        if np.allclose(got, _reference_conv(x, kernel[::-1, ::-1], bias, strides), rtol=1e-6, atol=1e-8) \
                and k_shape[0] * k_shape[1] > 1:
            raise Feedback(f"{what}: you flipped the kernel. That is the convolution of signal processing; "
                           "the 'convolution' of deep learning (and of Conv2D) is a cross-correlation, "
                           "which slides the kernel as it is")
        if np.allclose(got, expected - bias, rtol=1e-6, atol=1e-8):
            raise Feedback(f"{what}: the bias is missing; every output channel adds its own bias")
        expect_close(got, expected, what, rtol=1e-6, atol=1e-8,
                     hint="each output is the sum over the kernel's height, width and input channels of "
                          "kernel × the image patch under it, plus the bias of that output channel")


# ---------------------------------------------------------------------------------------------
# 07.3 Receptive fields
# ---------------------------------------------------------------------------------------------


def _reference_rf(layers: list[tuple[int, int]]) -> int:
    field, jump = 1, 1
    for kernel, stride in layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field


@register("07.3", "receptive field of a stack of layers")
def check_receptive_field(receptive_field: Any) -> None:
    expect_callable(receptive_field, "receptive_field")

    def rf(layers):
        return _integer(receptive_field([tuple(layer) for layer in layers]), f"receptive_field({layers})")

    got = rf([])
    expect(got == 1, f"receptive_field([]) returned {got}: with no layers at all, an output 'unit' is one pixel")
    for kernel in (1, 3, 5, 2):
        got = rf([(kernel, 1)])
        expect(got == kernel, f"receptive_field([({kernel}, 1)]) returned {got}: how many input pixels does one "
                              f"output of a single {kernel}-wide layer look at?")
    got = rf([(3, 2)])
    expect(got == 3, f"receptive_field([(3, 2)]) returned {got}: a layer's own stride moves its *next* output, "
                     "it does not widen what one output sees")
    stride_one = [(3, 1), (3, 1), (5, 1)]
    got = rf(stride_one)
    expect(got == _reference_rf(stride_one),
           f"receptive_field({stride_one}) returned {got}: stacking stride-1 layers, each extra layer widens "
           "the field by what its kernel adds beyond the centre pixel")
    rng = np.random.default_rng(77)
    stacks = [[(3, 1), (2, 2), (3, 1), (2, 2)], [(7, 2), (3, 2), (3, 1), (3, 2), (3, 1)]]
    stacks += [[(int(k), int(s)) for k, s in zip(rng.integers(1, 6, size=d), rng.integers(1, 4, size=d))]
               for d in (3, 5, 8)]
    for layers in stacks:
        got = rf(layers)
        expected = _reference_rf(layers)
        if got == expected:
            continue
        if got == 1 + sum(k - 1 for k, _ in layers):
            raise Feedback(f"receptive_field({layers}) returned {got}: your answer ignores the strides. After a "
                           "stride-2 layer, neighbouring units are two input pixels apart, so every later kernel "
                           "tap reaches further")
        jump, field = 1, 1
        for kernel, stride in layers:
            jump *= stride
            field += (kernel - 1) * jump
        if got == field:
            raise Feedback(f"receptive_field({layers}) returned {got}: you use a layer's own stride to space its "
                           "kernel taps, but the spacing comes from the strides of the layers *before* it")
        raise Feedback(f"receptive_field({layers}) returned {got}, which is not the size of the input region "
                       "that one output unit depends on")

"""Unit tests for the checkers of chapter 07 (dlbook_utils/exercises/ch07.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, solution_namespace

NOTEBOOK = ROOT / "chapters" / "07_convolutional_networks.ipynb"
conv_output_size = solution_namespace(NOTEBOOK, "07.1", math=math, np=np)["conv_output_size"]
conv2d_strided = solution_namespace(NOTEBOOK, "07.2", math=math, np=np)["conv2d_strided"]
receptive_field = solution_namespace(NOTEBOOK, "07.3", math=math, np=np)["receptive_field"]


@pytest.mark.parametrize(
    "exercise, answer", [("07.1", conv_output_size), ("07.2", conv2d_strided), ("07.3", receptive_field)]
)
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 07.1
# ---------------------------------------------------------------------------------------------


def test_output_size_accepts_math_ceil_and_numpy_integers():
    def with_math(n, kernel, stride=1, padding="valid", dilation=1):
        if padding == "same":
            return math.ceil(n / stride)
        return np.int64(math.floor((n - dilation * (kernel - 1) - 1) / stride) + 1)

    assert check.run("07.1", with_math)[0] == check.PASSED


def test_output_size_off_by_one_in_valid_padding():
    status, message = check.run("07.1", lambda n, kernel, stride=1, padding="valid", dilation=1: n - kernel)
    assert status == check.FAILED and "kernel fits" in message


def test_output_size_same_padding_that_ignores_stride_or_uses_the_kernel():
    def same_is_n(n, kernel, stride=1, padding="valid", dilation=1):
        return n if padding == "same" else conv_output_size(n, kernel, stride, padding, dilation)

    status, message = check.run("07.1", same_is_n)
    assert status == check.FAILED and "'same'" in message and "stride" in message

    def same_floor(n, kernel, stride=1, padding="valid", dilation=1):
        return n // stride if padding == "same" else conv_output_size(n, kernel, stride, padding, dilation)

    assert check.run("07.1", same_floor)[0] == check.FAILED


def test_output_size_forgetting_the_first_position_with_stride():
    def no_plus_one(n, kernel, stride=1, padding="valid", dilation=1):
        if padding == "same":
            return -(-n // stride)
        span = dilation * (kernel - 1) + 1
        return (n - span) // stride + (1 if stride == 1 else 0)

    status, message = check.run("07.1", no_plus_one)
    assert status == check.FAILED and "stride" in message and "first one" in message


def test_output_size_ignoring_dilation():
    def no_dilation(n, kernel, stride=1, padding="valid", dilation=1):
        return conv_output_size(n, kernel, stride, padding, 1)

    status, message = check.run("07.1", no_dilation)
    assert status == check.FAILED and "dilated kernel" in message

    def dilation_times_kernel(n, kernel, stride=1, padding="valid", dilation=1):
        if padding == "same":
            return -(-n // stride)
        return (n - dilation * kernel) // stride + 1

    status, message = check.run("07.1", dilation_times_kernel)
    assert status == check.FAILED


def test_output_size_fractional_and_missing_results():
    status, message = check.run("07.1", lambda n, kernel, stride=1, padding="valid", dilation=1: (n - kernel) / stride + 1)
    assert status == check.FAILED and "whole number" in message
    status, message = check.run("07.1", lambda n, kernel, stride=1, padding="valid", dilation=1: None)
    assert status == check.FAILED and "None" in message


def test_output_size_messages_do_not_reveal_the_formula():
    status, message = check.run("07.1", lambda n, kernel, stride=1, padding="valid", dilation=1: n)
    assert status == check.FAILED
    assert "n - kernel" not in message and "+ 1" not in message and "//" not in message


# ---------------------------------------------------------------------------------------------
# 07.2
# ---------------------------------------------------------------------------------------------


def _stride_one_then_subsample(x, kernel, bias, strides):
    from numpy.lib.stride_tricks import sliding_window_view

    kh, kw = kernel.shape[:2]
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))   # (n, h', w', c, kh, kw)
    full = np.einsum("nijcuv,uvco->nijo", windows, kernel) + bias
    return full[:, :: strides[0], :: strides[1]]


def test_strided_conv_accepts_a_subsampled_stride_one_result():
    assert check.run("07.2", _stride_one_then_subsample)[0] == check.PASSED


def test_strided_conv_with_a_flipped_kernel_is_named():
    def flipped(x, kernel, bias, strides):
        return conv2d_strided(x, kernel[::-1, ::-1], bias, strides)

    status, message = check.run("07.2", flipped)
    assert status == check.FAILED and "flipped the kernel" in message


def test_strided_conv_without_bias_is_named():
    def no_bias(x, kernel, bias, strides):
        return conv2d_strided(x, kernel, np.zeros_like(bias), strides)

    status, message = check.run("07.2", no_bias)
    assert status == check.FAILED and "bias is missing" in message


def test_strided_conv_ignoring_strides_or_swapping_them_fails_on_the_shape():
    status, message = check.run("07.2", lambda x, k, b, s: conv2d_strided(x, k, b, (1, 1)))
    assert status == check.FAILED and "shape" in message
    status, message = check.run("07.2", lambda x, k, b, s: conv2d_strided(x, k, b, s[::-1]))
    assert status == check.FAILED and "shape" in message


def test_strided_conv_wrong_window_offsets_fail_numerically():
    def off_by_one_start(x, kernel, bias, strides):
        # starts the windows one pixel in, where there is room; same shape, wrong values
        padded = np.concatenate([x[:, 1:], x[:, -1:]], axis=1)
        return conv2d_strided(padded, kernel, bias, strides)

    status, message = check.run("07.2", off_by_one_start)
    assert status == check.FAILED and "off" in message and "entries" in message


def test_strided_conv_in_place_changes_and_none_are_reported():
    def in_place(x, kernel, bias, strides):
        out = conv2d_strided(x, kernel, bias, strides)
        x *= 0
        return out

    status, message = check.run("07.2", in_place)
    assert status == check.FAILED and "in place" in message
    status, message = check.run("07.2", lambda x, k, b, s: None)
    assert status == check.FAILED and "None" in message


# ---------------------------------------------------------------------------------------------
# 07.3
# ---------------------------------------------------------------------------------------------


def test_receptive_field_ignoring_strides_is_named():
    status, message = check.run("07.3", lambda layers: 1 + sum(k - 1 for k, _ in layers))
    assert status == check.FAILED and "ignores the strides" in message


def test_receptive_field_using_the_current_stride_is_named():
    def current_stride(layers):
        field, jump = 1, 1
        for kernel, stride in layers:
            jump *= stride
            field += (kernel - 1) * jump
        return field

    status, message = check.run("07.3", current_stride)
    assert status == check.FAILED and "own stride" in message

    def current_stride_after_the_first_layer(layers):
        # right for a single layer, wrong from the second on
        field, jump = 1, 1
        for i, (kernel, stride) in enumerate(layers):
            if i > 0:
                jump *= stride
            field += (kernel - 1) * jump
            if i == 0:
                jump *= stride
        return field

    status, message = check.run("07.3", current_stride_after_the_first_layer)
    assert status == check.FAILED


def test_receptive_field_product_of_kernels_and_empty_stack():
    status, message = check.run("07.3", lambda layers: int(np.prod([k for k, _ in layers])) if layers else 1)
    assert status == check.FAILED
    status, message = check.run("07.3", lambda layers: sum(k for k, _ in layers))
    assert status == check.FAILED and "receptive_field([])" in message


def test_receptive_field_accepts_lists_of_lists_and_numpy_results():
    def numpy_version(layers):
        kernels = np.array([k for k, _ in layers], dtype=int)
        strides = np.array([s for _, s in layers], dtype=int)
        jumps = np.cumprod(np.concatenate([[1], strides[:-1]])) if len(layers) else np.array([], dtype=int)
        return np.int64(1 + np.sum((kernels - 1) * jumps))

    assert check.run("07.3", numpy_version)[0] == check.PASSED

"""Unit tests for the checkers of chapter 08 (dlbook_utils/exercises/ch08.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, solution_namespace

NOTEBOOK = ROOT / "chapters" / "08_modern_cnns.ipynb"
residual_block_params = solution_namespace(NOTEBOOK, "08.1", np=np)["residual_block_params"]
depthwise_conv2d = solution_namespace(NOTEBOOK, "08.2", np=np)["depthwise_conv2d"]
few_labels = solution_namespace(NOTEBOOK, "08.3", np=np)["few_labels"]
crossover_point = solution_namespace(NOTEBOOK, "08.4", np=np)["crossover_point"]


@pytest.mark.parametrize(
    "exercise, answer",
    [("08.1", residual_block_params), ("08.2", depthwise_conv2d), ("08.3", few_labels), ("08.4", crossover_point)],
)
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# 08.1 -------------------------------------------------------------------------------------------


def test_block_params_forgetting_the_batch_norm_statistics():
    def two_vectors(c_in, filters, strides=1):
        projection = c_in * filters + 2 * filters if (strides != 1 or c_in != filters) else 0
        return 9 * c_in * filters + 9 * filters * filters + 2 * 2 * filters + projection

    status, message = check.run("08.1", two_vectors)
    assert status == check.FAILED and "BatchNormalization" in message


def test_block_params_always_or_never_projecting():
    def never(c_in, filters, strides=1):
        return 9 * c_in * filters + 9 * filters * filters + 8 * filters

    status, message = check.run("08.1", never)
    assert status == check.FAILED and "identity" in message

    def only_on_channels(c_in, filters, strides=1):
        projection = c_in * filters + 4 * filters if c_in != filters else 0
        return 9 * c_in * filters + 9 * filters * filters + 8 * filters + projection

    status, message = check.run("08.1", only_on_channels)
    assert status == check.FAILED and "stride" in message


def test_block_params_with_biases_fails():
    def with_bias(c_in, filters, strides=1):
        return residual_block_params(c_in, filters, strides) + 2 * filters

    assert check.run("08.1", with_bias)[0] == check.FAILED


# 08.2 -------------------------------------------------------------------------------------------


def test_depthwise_that_mixes_channels_is_explained():
    def mixing(x, kernel):
        out = depthwise_conv2d(x, kernel)
        return out.sum(axis=-1, keepdims=True).repeat(x.shape[-1], axis=-1)

    status, message = check.run("08.2", mixing)
    assert status == check.FAILED and "channel" in message


def test_depthwise_with_a_flipped_kernel_or_same_padding_fails():
    status, _ = check.run("08.2", lambda x, kernel: depthwise_conv2d(x, kernel[::-1, ::-1]))
    assert status == check.FAILED

    def same_padding(x, kernel):
        kh, kw = kernel.shape[:2]
        padded = np.pad(x, ((0, 0), (kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2), (0, 0)))
        return depthwise_conv2d(padded, kernel)

    status, message = check.run("08.2", same_padding)
    assert status == check.FAILED and "shape" in message


# 08.3 -------------------------------------------------------------------------------------------


def test_few_labels_taking_the_first_examples_fails():
    def first(labels, classes, per_class, seed=0):
        labels = np.asarray(labels)
        return np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in classes])

    status, message = check.run("08.3", first)
    assert status == check.FAILED and ("seed" in message or "random" in message)


def test_few_labels_with_replacement_or_without_seed_fails():
    def with_replacement(labels, classes, per_class, seed=0):
        rng = np.random.default_rng(seed)
        labels = np.asarray(labels)
        return np.concatenate([rng.choice(np.flatnonzero(labels == k), per_class) for k in classes])

    status, message = check.run("08.3", with_replacement)
    assert status == check.FAILED and "twice" in message

    def unseeded(labels, classes, per_class, seed=0):
        return few_labels(labels, classes, per_class, seed=np.random.randint(1 << 30))

    status, message = check.run("08.3", unseeded)
    assert status == check.FAILED and "seed" in message


def test_few_labels_with_the_wrong_count_or_class_fails():
    status, message = check.run("08.3", lambda labels, classes, per_class, seed=0:
                                few_labels(labels, classes, per_class - 1, seed))
    assert status == check.FAILED and "examples of class" in message
    status, message = check.run("08.3", lambda labels, classes, per_class, seed=0:
                                few_labels(labels, list(classes) + [7 if 7 not in classes else 0], per_class, seed))
    assert status == check.FAILED and "not asked for" in message


# 08.4 -------------------------------------------------------------------------------------------


def _interpolated(labels, first, second, position):
    """A crossover-like answer whose interpolation is given by ``position(lo, hi, t)``."""
    gap = np.asarray(second, dtype=float) - np.asarray(first, dtype=float)
    if gap[0] >= 0:
        return labels[0]
    for i in range(1, len(gap)):
        if gap[i] >= 0:
            return position(labels[i - 1], labels[i], -gap[i - 1] / (gap[i] - gap[i - 1]))
    return None


def test_crossover_interpolating_on_the_labels_themselves_is_told_to_use_the_log_axis():
    status, message = check.run("08.4", lambda labels, first, second: _interpolated(
        labels, first, second, lambda lo, hi, t: lo + t * (hi - lo)))
    assert status == check.FAILED and "log" in message


def test_crossover_returning_the_grid_point_is_told_to_interpolate():
    status, message = check.run("08.4", lambda labels, first, second: _interpolated(
        labels, first, second, lambda lo, hi, t: hi))
    assert status == check.FAILED and "interpolate" in message


def test_crossover_taking_the_last_crossing_fails():
    def last(labels, first, second):
        gap = np.asarray(second) - np.asarray(first)
        if gap[0] >= 0:
            return labels[0]
        for i in range(len(gap) - 1, 0, -1):
            if gap[i] >= 0 > gap[i - 1]:
                t = -gap[i - 1] / (gap[i] - gap[i - 1])
                return float(np.exp(np.log(labels[i - 1]) + t * (np.log(labels[i]) - np.log(labels[i - 1]))))
        return None

    status, message = check.run("08.4", last)
    assert status == check.FAILED and "first catch-up" in message


def test_crossover_with_a_strict_inequality_or_no_none_fails():
    def strict(labels, first, second):
        gap = np.asarray(second) - np.asarray(first)
        if gap[0] > 0:
            return labels[0]
        for i in range(1, len(gap)):
            if gap[i] > 0:
                t = -gap[i - 1] / (gap[i] - gap[i - 1])
                return float(np.exp(np.log(labels[i - 1]) + t * (np.log(labels[i]) - np.log(labels[i - 1]))))
        return None

    status, message = check.run("08.4", strict)
    assert status == check.FAILED and "does catch up" in message

    def last_label_instead_of_none(labels, first, second):
        got = crossover_point(labels, first, second)
        return labels[-1] if got is None else got

    status, message = check.run("08.4", last_label_instead_of_none)
    assert status == check.FAILED and "None" in message


def test_crossover_with_the_curves_swapped_fails():
    status, _ = check.run("08.4", lambda labels, first, second: crossover_point(labels, second, first))
    assert status == check.FAILED

"""Unit tests for the checkers of chapter 05 (dlbook_utils/exercises/ch05.py)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, solution_namespace

NOTEBOOK = ROOT / "chapters" / "05_training_deep_networks.ipynb"
he_uniform_limit = solution_namespace(NOTEBOOK, "05.1", math=math, np=np)["he_uniform_limit"]
clip_by_global_norm = solution_namespace(NOTEBOOK, "05.2", math=math, np=np)["clip_by_global_norm"]
warmup_rsqrt = solution_namespace(NOTEBOOK, "05.3", math=math, np=np)["warmup_rsqrt"]


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your answer")


@pytest.mark.parametrize(
    "exercise, answer",
    [("05.1", he_uniform_limit), ("05.2", clip_by_global_norm), ("05.3", warmup_rsqrt)],
)
def test_solutions_pass(exercise, answer):
    assert check.run(exercise, answer) == (check.PASSED, "passed")


@pytest.mark.parametrize("exercise", ["05.1", "05.2", "05.3"])
def test_stubs_and_empty_answers_are_not_attempted(exercise):
    assert check.run(exercise, _stub)[0] == check.NOT_ATTEMPTED
    assert check.run(exercise, None)[0] == check.NOT_ATTEMPTED


@pytest.mark.parametrize("exercise", ["05.1", "05.2", "05.3"])
def test_a_non_function_is_explained(exercise):
    status, message = check.run(exercise, 3.0)
    assert status == check.FAILED and "function" in message


# ---------------------------------------------------------------------------------------------
# 05.1
# ---------------------------------------------------------------------------------------------


def test_he_uniform_accepts_numpy_and_keras_style_answers():
    assert check.run("05.1", lambda n: np.sqrt(6.0 / np.float32(n)))[0] == check.PASSED


def test_he_uniform_normal_std_instead_of_uniform_bound_fails_on_the_variance():
    # the He-normal standard deviation used as a uniform bound: variance too small by a factor 3
    status, message = check.run("05.1", lambda n: math.sqrt(2.0 / n))
    assert status == check.FAILED
    assert "shrinks" in message and "per layer" in message and "variance of U(-a, a)" in message
    assert "sqrt(6" not in message and "6 /" not in message


def test_he_uniform_glorot_like_bound_fails():
    status, message = check.run("05.1", lambda n: math.sqrt(3.0 / n))  # LeCun uniform: half of He's variance
    assert status == check.FAILED
    factor = float(re.search(r"shrinks by a factor of about ([0-9.]+) per layer", message).group(1))
    assert 0.4 < factor < 0.6  # half of He's variance: the mean square halves at every layer


def test_he_uniform_too_large_grows():
    status, message = check.run("05.1", lambda n: math.sqrt(12.0 / n))
    assert status == check.FAILED and "grows" in message


def test_he_uniform_wrong_scaling_with_fan_in():
    status, message = check.run("05.1", lambda n: 6.0 / n)
    assert status == check.FAILED and "quadrupling fan_in" in message
    status, message = check.run("05.1", lambda n: 0.1)
    assert status == check.FAILED and "does not shrink" in message


def test_he_uniform_bad_return_values():
    status, message = check.run("05.1", lambda n: None)
    assert status == check.FAILED and "None" in message
    status, message = check.run("05.1", lambda n: -math.sqrt(6.0 / n))
    assert status == check.FAILED and "positive" in message
    status, message = check.run("05.1", lambda n: np.full(3, math.sqrt(6.0 / n)))
    assert status == check.FAILED and "single number" in message


# ---------------------------------------------------------------------------------------------
# 05.2
# ---------------------------------------------------------------------------------------------


def test_clip_accepts_tensors_and_tuples():
    tf = pytest.importorskip("tensorflow")

    def with_tf(grads, max_norm):
        clipped, _ = tf.clip_by_global_norm([tf.constant(g) for g in grads], max_norm)
        return tuple(clipped)

    assert check.run("05.2", with_tf)[0] == check.PASSED


def test_clip_per_tensor_is_not_global():
    def per_tensor(grads, max_norm):
        return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads]

    status, message = check.run("05.2", per_tensor)
    assert status == check.FAILED and "one common factor" in message


def test_clip_always_rescaling_changes_small_gradients():
    def always(grads, max_norm):
        norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
        return [g * max_norm / norm for g in grads]

    status, message = check.run("05.2", always)
    assert status == check.FAILED and "already below max_norm was changed" in message


def test_clip_wrong_scale_is_reported_with_the_resulting_norm():
    def squared(grads, max_norm):  # divides by the squared norm
        norm2 = sum(float(np.sum(g * g)) for g in grads)
        return [g * min(1.0, max_norm / norm2) for g in grads]

    status, message = check.run("05.2", squared)
    assert status == check.FAILED and "below max_norm" in message and "no further" in message

    def not_enough(grads, max_norm):
        norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
        return [g * min(1.0, 2 * max_norm / norm) for g in grads]

    status, message = check.run("05.2", not_enough)
    assert status == check.FAILED and "above max_norm" in message


def test_clip_value_clipping_and_bad_structures_fail():
    status, message = check.run("05.2", lambda grads, c: [np.clip(g, -c, c) for g in grads])
    assert status == check.FAILED
    status, message = check.run("05.2", lambda grads, c: grads[:-1])
    assert status == check.FAILED and "one clipped array per gradient" in message
    status, message = check.run("05.2", lambda grads, c: [g.ravel() for g in grads])
    assert status == check.FAILED and "shape" in message
    status, message = check.run("05.2", lambda grads, c: None)
    assert status == check.FAILED and "None" in message


# ---------------------------------------------------------------------------------------------
# 05.3
# ---------------------------------------------------------------------------------------------


def test_rsqrt_off_by_one_warmup_fails_at_step_zero():
    def off_by_one(step, peak_lr, warmup_steps):
        return warmup_rsqrt(step + 1, peak_lr, warmup_steps)

    status, message = check.run("05.3", off_by_one)
    assert status == check.FAILED and "step 0" in message


def test_rsqrt_wrong_decay_law_is_named():
    def inverse_linear(step, peak_lr, warmup_steps):
        if step < warmup_steps:
            return peak_lr * step / warmup_steps
        return peak_lr * warmup_steps / step

    status, message = check.run("05.3", inverse_linear)
    assert status == check.FAILED and "four times the steps" in message and "0.25" in message


def test_rsqrt_without_warmup_and_with_a_hard_coded_peak_fail():
    status, message = check.run("05.3", lambda step, peak, warm: peak * math.sqrt(warm / max(step, 1)))
    assert status == check.FAILED and "warm-up" in message

    def hard_coded(step, peak_lr, warmup_steps):
        return warmup_rsqrt(step, 0.001, warmup_steps) * peak_lr / peak_lr

    status, message = check.run("05.3", hard_coded)
    assert status == check.FAILED


def test_rsqrt_curved_warmup_fails():
    def quadratic(step, peak_lr, warmup_steps):
        if step < warmup_steps:
            return peak_lr * (step / warmup_steps) ** 2
        return peak_lr * math.sqrt(warmup_steps / step)

    status, message = check.run("05.3", quadratic)
    assert status == check.FAILED and "straight line" in message


def test_rsqrt_accepts_numpy_scalars():
    def numpy_version(step, peak_lr, warmup_steps):
        step = np.float32(step)
        return np.where(step < warmup_steps, peak_lr * step / warmup_steps,
                        peak_lr * np.sqrt(warmup_steps / np.maximum(step, 1.0)))

    assert check.run("05.3", numpy_version)[0] == check.PASSED

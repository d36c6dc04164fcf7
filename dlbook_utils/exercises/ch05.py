"""Checkers for chapter 05, Training deep networks.

* 05.1 ``he_uniform_limit(fan_in)``: the bound ``a`` of a uniform distribution U(-a, a) whose
  variance is He's variance for ReLU layers.
* 05.2 ``clip_by_global_norm(grads, max_norm)``: gradient clipping by the global norm of a list of arrays.
* 05.3 ``warmup_rsqrt(step, peak_lr, warmup_steps)``: linear warm-up, then inverse-square-root decay.

Each checker tests the answer's behaviour on inputs it draws itself and compares with a reference
computed here; its messages say what goes wrong, not what the right numbers are.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..check import Feedback, expect, expect_callable, expect_close, expect_number, expect_shape, register


def _scalar(value: Any, what: str) -> float:
    """A single finite number out of whatever the learner returned (float, NumPy or tensor)."""
    return expect_number(value, what)


# ---------------------------------------------------------------------------------------------
# 05.1 He initialisation with a uniform distribution
# ---------------------------------------------------------------------------------------------


def _relu_energy_ratio(limit_of, widths: list[int], rng: np.random.Generator) -> float:
    """Mean square of the last pre-activation over the first, through ReLU layers drawn from U(-a, a)."""
    x = rng.standard_normal((512, widths[0]))
    energies = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        a = limit_of(fan_in)
        w = rng.uniform(-a, a, size=(fan_in, fan_out))
        z = x @ w
        energies.append(float(np.mean(z**2)))
        x = np.maximum(z, 0.0)
    return energies[-1] / energies[0]


@register("05.1", "He initialisation with a uniform distribution")
def check_he_uniform_limit(he_uniform_limit: Any) -> None:
    expect_callable(he_uniform_limit, "he_uniform_limit")
    rng = np.random.default_rng(2024)
    fan_ins = [int(n) for n in rng.integers(20, 2000, size=5)] + [1, 64]
    limits = {n: _scalar(he_uniform_limit(n), f"he_uniform_limit({n})") for n in fan_ins}
    for n, a in limits.items():
        expect(a > 0, f"he_uniform_limit({n}) is {a:g}, but a bound a of U(-a, a) must be positive")
    small, large = min(fan_ins), max(fan_ins)
    expect(
        limits[large] < limits[small],
        "your bound does not shrink as fan_in grows: a unit that sums more inputs needs smaller weights "
        "to keep the variance of its sum fixed",
    )
    # How the bound scales with fan_in: quadrupling fan_in should halve it.
    ratio = _scalar(he_uniform_limit(4 * 64), "he_uniform_limit(256)") / limits[64]
    expect(
        abs(ratio - 0.5) < 1e-3,
        f"quadrupling fan_in multiplies your bound by {ratio:.3g}; for variance ∝ 1/fan_in the bound must "
        "scale like 1/sqrt(fan_in), so it should halve",
    )
    # Behaviour: a 30-layer ReLU stack initialised with the answer keeps its signal.
    widths = [int(w) for w in rng.integers(100, 400, size=31)]
    per_layer = _relu_energy_ratio(lambda n: _scalar(he_uniform_limit(n), "he_uniform_limit"), widths, rng) ** (
        1 / 29
    )
    if not 0.93 < per_layer < 1.07:
        trend = "shrinks" if per_layer < 1 else "grows"
        raise Feedback(
            f"in a 30-layer ReLU network whose weights are drawn from U(-a, a) with your a, the mean square of "
            f"the pre-activations {trend} by a factor of about {per_layer:.2f} per layer (it should stay about "
            "1). Remember that the variance of U(-a, a) is not a² and that ReLU zeroes half of its inputs."
        )
    reference = {n: math.sqrt(6.0 / n) for n in fan_ins}
    expect_close(
        [limits[n] for n in fan_ins],
        [reference[n] for n in fan_ins],
        "he_uniform_limit(fan_in) for several fan_in",
        rtol=1e-4,
        hint="match the variance of U(-a, a) to He's variance exactly",
    )


# ---------------------------------------------------------------------------------------------
# 05.2 Clipping by global norm
# ---------------------------------------------------------------------------------------------


def _reference_clip(grads: list[np.ndarray], max_norm: float) -> list[np.ndarray]:
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return [g * scale for g in grads]


def _random_grads(rng: np.random.Generator, scales: list[float]) -> list[np.ndarray]:
    shapes = [(5, 3), (3,), (3, 4), (4,), (2, 2, 2)]
    return [rng.standard_normal(shape) * s for shape, s in zip(shapes, scales)]


@register("05.2", "gradient clipping by global norm")
def check_clip_by_global_norm(clip_by_global_norm: Any) -> None:
    expect_callable(clip_by_global_norm, "clip_by_global_norm")
    rng = np.random.default_rng(5)

    def call(grads: list[np.ndarray], max_norm: float) -> list[np.ndarray]:
        out = clip_by_global_norm([g.copy() for g in grads], max_norm)
        if out is None:
            raise Feedback("clip_by_global_norm returned None: return the list of clipped gradients")
        try:
            out = list(out)
        except TypeError:
            raise Feedback(f"clip_by_global_norm should return a list of arrays, got {type(out).__name__}") from None
        expect(
            len(out) == len(grads),
            f"you returned {len(out)} gradients for {len(grads)} inputs: return one clipped array per gradient",
        )
        arrays = [expect_shape(o, g.shape, f"clipped gradient {i}") for i, (o, g) in enumerate(zip(out, grads))]
        for i, a in enumerate(arrays):
            expect(bool(np.all(np.isfinite(a))), f"clipped gradient {i} contains NaN or infinite values")
        return arrays

    # 1. A small gradient (global norm below the threshold) must come back unchanged.
    small = _random_grads(rng, [0.05, 0.05, 0.05, 0.05, 0.05])
    small_norm = math.sqrt(sum(float(np.sum(g * g)) for g in small))
    out = call(small, max_norm=2.0 * small_norm)
    for i, (o, g) in enumerate(zip(out, small)):
        if not np.allclose(o, g, rtol=1e-6, atol=1e-12):
            raise Feedback(
                f"a gradient whose global norm is already below max_norm was changed (gradient {i}); "
                "clipping should leave it exactly as it is"
            )

    # 2. A large gradient: one tensor much larger than the rest, to tell global from per-tensor clipping.
    big = _random_grads(rng, [30.0, 1.0, 0.5, 2.0, 0.1])
    max_norm = 1.5
    out = call(big, max_norm)
    total = math.sqrt(sum(float(np.sum(o * o)) for o in out))
    factors = [float(np.sum(o * g) / np.sum(g * g)) for o, g in zip(out, big)]
    if max(factors) - min(factors) > 1e-6 * max(1.0, abs(max(factors))):
        raise Feedback(
            "your tensors were scaled by different factors, so the direction of the whole gradient changed. "
            "Clipping by the *global* norm scales every tensor by one common factor, computed from the norm of "
            "all the gradients taken together"
        )
    if abs(total - max_norm) > 1e-6 * max_norm:
        if total > max_norm:
            raise Feedback(
                f"after clipping, the global norm of all the gradients together is {total:.4g}, above max_norm = "
                f"{max_norm}: the norm has to come down to max_norm"
            )
        raise Feedback(
            f"after clipping, the global norm of all the gradients together is {total:.4g}, below max_norm = "
            f"{max_norm}: clipping should shrink a too-long gradient exactly to max_norm, no further"
        )
    reference = _reference_clip(big, max_norm)
    for i, (o, r) in enumerate(zip(out, reference)):
        expect_close(o, r, f"clipped gradient {i}", rtol=1e-6, atol=1e-10)

    # 3. Fresh shapes and a threshold exactly at the norm: nothing should change.
    fresh = [rng.standard_normal((7,)), rng.standard_normal((2, 9))]
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in fresh))
    out = call(fresh, max_norm=norm)
    for i, (o, g) in enumerate(zip(out, fresh)):
        expect_close(o, g, f"gradient {i} when its global norm equals max_norm", rtol=1e-6, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# 05.3 Warm-up then inverse-square-root decay
# ---------------------------------------------------------------------------------------------


def _reference_rsqrt(step: float, peak_lr: float, warmup_steps: int) -> float:
    if step < warmup_steps:
        return peak_lr * step / warmup_steps
    return peak_lr * math.sqrt(warmup_steps / step)


@register("05.3", "warm-up then inverse-square-root decay")
def check_warmup_rsqrt(warmup_rsqrt: Any) -> None:
    expect_callable(warmup_rsqrt, "warmup_rsqrt")
    rng = np.random.default_rng(11)
    peak_lr = float(rng.uniform(1e-3, 5e-3))
    warmup = int(rng.integers(200, 800))

    def lr(step: int) -> float:
        return _scalar(warmup_rsqrt(step, peak_lr, warmup), f"warmup_rsqrt({step}, peak_lr, warmup_steps)")

    start = lr(0)
    expect(abs(start) <= 1e-12 + 1e-9 * peak_lr, f"at step 0 your learning rate is {start:.3g}; warm-up starts from 0")
    quarter, half, top = lr(warmup // 4), lr(warmup // 2), lr(warmup)
    expect(
        abs(top - peak_lr) <= 1e-6 * peak_lr,
        f"at step == warmup_steps your learning rate is {top / peak_lr:.3g} × peak_lr; it should reach the peak there",
    )
    expect(
        abs(half / peak_lr - (warmup // 2) / warmup) <= 1e-6 and abs(quarter / peak_lr - (warmup // 4) / warmup) <= 1e-6,
        "during warm-up your learning rate does not rise in a straight line from 0 to peak_lr "
        f"(at a quarter and half of the warm-up it is {quarter / peak_lr:.3g} and {half / peak_lr:.3g} × peak_lr)",
    )
    after = lr(4 * warmup)
    expect(
        abs(after / top - 0.5) <= 1e-6,
        f"after warm-up, going from step warmup_steps to 4 × warmup_steps multiplies your learning rate by "
        f"{after / top:.3g}; with inverse-square-root decay, four times the steps means half the learning rate",
    )
    steps = sorted({int(s) for s in rng.integers(0, 20 * warmup, size=25)} | {warmup - 1, warmup + 1})
    expect_close(
        [lr(s) for s in steps],
        [_reference_rsqrt(s, peak_lr, warmup) for s in steps],
        "the learning rate at 27 random steps",
        rtol=1e-6,
        atol=1e-12,
        hint="check the boundary between the two phases",
    )
    other = _scalar(warmup_rsqrt(3 * warmup, 2 * peak_lr, warmup), "warmup_rsqrt with a doubled peak_lr")
    expect(
        abs(other - 2 * _reference_rsqrt(3 * warmup, peak_lr, warmup)) <= 1e-6 * other,
        "doubling peak_lr should double every learning rate of the schedule; yours does not, "
        "so a value is probably hard-coded instead of taken from the arguments",
    )

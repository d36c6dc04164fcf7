"""Checkers for chapter 10, Generative adversarial networks.

* 10.1 ``gan_losses(real_logits, fake_logits)``: the discriminator's loss and the generator's non-saturating loss
  from logits, numerically stable.
* 10.2 ``inception_score(probabilities)``: the Inception Score of an ``(N, K)`` array of class probabilities.
* 10.3 ``slerp(z0, z1, steps)``: spherical interpolation between two latent vectors.

Each checker draws its own inputs and compares with a reference computed here (10.1 with Keras itself); its
messages say what goes wrong, not what the right numbers are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_shape, register


def _scalar(value: Any, what: str) -> float:
    if value is None:
        raise Feedback(f"{what} is None: did you forget the `return`?")
    arr = as_array(value, what)
    if arr.size != 1:
        raise Feedback(f"{what} should be a single number (a mean over the batch), got an array of shape {arr.shape}")
    return float(arr.reshape(()))


# ---------------------------------------------------------------------------------------------
# 10.1 GAN losses from logits
# ---------------------------------------------------------------------------------------------


def _softplus(s: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, s)


def _reference_losses(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    d_loss = float(np.mean(_softplus(-real)) + np.mean(_softplus(fake)))
    g_loss = float(np.mean(_softplus(-fake)))
    return d_loss, g_loss


def _keras_losses(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    import keras

    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    value = lambda t, s: float(keras.ops.convert_to_numpy(bce(t[:, None], s[:, None])))
    return (value(np.ones_like(real), real) + value(np.zeros_like(fake), fake), value(np.ones_like(fake), fake))


@register("10.1", "GAN losses from logits")
def check_gan_losses(gan_losses: Any) -> None:
    expect_callable(gan_losses, "gan_losses")
    rng = np.random.default_rng(1010)

    def call(real, fake):
        out = gan_losses(real.copy(), fake.copy())
        if out is None:
            raise Feedback("gan_losses returned None: did you forget the `return`?")
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise Feedback("gan_losses should return two numbers, (d_loss, g_loss)")
        return _scalar(out[0], "d_loss"), _scalar(out[1], "g_loss")

    # Moderate logits first: compare with Keras's own binary cross-entropy.
    for n_real, n_fake in ((16, 16), (7, 23)):
        real, fake = rng.normal(0.5, 2.0, n_real), rng.normal(-0.5, 2.0, n_fake)
        d_loss, g_loss = call(real, fake)
        d_ref, g_ref = _keras_losses(real, fake)
        if not np.isclose(d_loss, d_ref, rtol=1e-4, atol=1e-5):
            if np.isclose(d_loss, d_ref / 2, rtol=1e-4, atol=1e-5):
                raise Feedback("d_loss is half of what it should be: average each term over its own batch, "
                               "then add the two terms (do not average them)")
            pooled = float(np.mean(np.concatenate([_softplus(-real), _softplus(fake)])))
            if n_real != n_fake and any(np.isclose(d_loss, c * pooled, rtol=1e-4, atol=1e-5) for c in (1, 2)):
                raise Feedback("d_loss mixes the two batches into one mean; average each term over its own batch")
            swapped = float(np.mean(_softplus(real)) + np.mean(_softplus(-fake)))
            if np.isclose(d_loss, swapped, rtol=1e-4, atol=1e-5):
                raise Feedback("d_loss has the labels the wrong way round: the discriminator calls real samples 1 "
                               "and generated samples 0")
            raise Feedback(f"d_loss is off for logits of moderate size (batches of {n_real} real and {n_fake} "
                           "generated): it should be the binary cross-entropy of real samples labelled 1 plus that "
                           "of generated samples labelled 0")
        if not np.isclose(g_loss, g_ref, rtol=1e-4, atol=1e-5):
            if np.isclose(g_loss, -float(np.mean(_softplus(fake))), rtol=1e-4, atol=1e-5):
                raise Feedback("g_loss is the minimax (saturating) loss log(1 - D(G(z))); the exercise asks for the "
                               "non-saturating loss")
            if np.isclose(g_loss, float(np.mean(_softplus(fake))), rtol=1e-4, atol=1e-5):
                raise Feedback("g_loss uses the wrong label: the generator wants its samples to be called real")
            raise Feedback("g_loss is off: it should be the cross-entropy of the generated samples labelled "
                           "'real', from their logits")
    # Extreme logits: must stay finite and right.
    real = np.array([1000.0, -1000.0, 50.0, -50.0, 0.0])
    fake = np.array([-1000.0, 1000.0, -60.0, 60.0, 0.0])
    d_loss, g_loss = call(real, fake)
    expect(np.isfinite(d_loss) and np.isfinite(g_loss),
           "with logits of ±1000 your losses are not finite: computing σ(s) and then its log overflows or takes "
           "log(0). Rewrite the log-sigmoid terms so that no exp of a large number is taken")
    d_ref, g_ref = _reference_losses(real, fake)
    expect(np.isclose(d_loss, d_ref, rtol=1e-6) and np.isclose(g_loss, g_ref, rtol=1e-6),
           "with logits of ±1000 your losses are finite but wrong: clipping the probabilities changes the loss; "
           "use a form that is exact for every logit")


# ---------------------------------------------------------------------------------------------
# 10.2 Inception Score
# ---------------------------------------------------------------------------------------------


def _reference_is(p: np.ndarray) -> float:
    marginal = p.mean(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))


def _random_probabilities(rng: np.random.Generator, n: int, k: int, sharpness: float) -> np.ndarray:
    logits = sharpness * rng.standard_normal((n, k))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@register("10.2", "Inception Score")
def check_inception_score(inception_score: Any) -> None:
    expect_callable(inception_score, "inception_score")
    rng = np.random.default_rng(1020)

    def score(p, what):
        return _scalar(inception_score(p.copy()), f"inception_score({what})")

    k = 10
    one_hot_all = np.eye(k)[np.repeat(np.arange(k), 5)]
    got = score(one_hot_all, "confident predictions spread evenly over 10 classes")
    expect(np.isclose(got, k, rtol=1e-6),
           f"for confident predictions spread evenly over {k} classes the score should be its largest possible "
           f"value, but you return {got:.4g}. Check the exp, and that 0·log 0 counts as 0")
    same_class = np.eye(k)[np.zeros(20, dtype=int)]
    got = score(same_class, "every sample confidently in the same class")
    expect(np.isclose(got, 1.0, rtol=1e-6),
           f"when every sample is confidently the same class the score should be its smallest value, but you "
           f"return {got:.4g}")
    uniform = np.full((12, k), 1.0 / k)
    got = score(uniform, "uniform predictions")
    expect(np.isclose(got, 1.0, rtol=1e-6),
           f"when every prediction is uniform (no confidence at all) the score should be its smallest value, but "
           f"you return {got:.4g}")
    for n, kk, sharp in ((50, 10, 2.0), (31, 4, 4.0), (200, 10, 0.5)):
        p = _random_probabilities(rng, n, kk, sharp)
        got = score(p, f"a random ({n}, {kk}) array")
        expected = _reference_is(p)
        if np.isclose(got, expected, rtol=1e-6):
            continue
        if np.isclose(got, np.log(expected), rtol=1e-6):
            raise Feedback("your score is the mean KL divergence itself: the Inception Score is its exponential")
        marginal = p.mean(axis=0, keepdims=True)
        reverse = float(np.exp(np.mean(np.sum(marginal * (np.log(marginal) - np.log(p)), axis=1))))
        if np.isclose(got, reverse, rtol=1e-6):
            raise Feedback("the KL divergence is the wrong way round: it is KL(p(y|x) || p(y)), weighted by p(y|x)")
        raise Feedback(f"inception_score is off on a random ({n}, {kk}) array of probabilities: average the KL "
                       "divergence of each sample's prediction from the average prediction, then exponentiate")


# ---------------------------------------------------------------------------------------------
# 10.3 Spherical interpolation
# ---------------------------------------------------------------------------------------------


def _reference_slerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, steps)[:, None]
    cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(theta) < 1e-6:
        return (1 - t) * z0 + t * z1
    return (np.sin((1 - t) * theta) * z0 + np.sin(t * theta) * z1) / np.sin(theta)


@register("10.3", "spherical interpolation in the latent space")
def check_slerp(slerp: Any) -> None:
    expect_callable(slerp, "slerp")
    rng = np.random.default_rng(1030)
    for d, steps in ((64, 8), (5, 11), (2, 3)):
        z0, z1 = rng.standard_normal(d), rng.standard_normal(d)
        what = f"slerp(z0, z1, {steps}) for {d}-dimensional vectors"
        got = slerp(z0.copy(), z1.copy(), steps)
        if got is None:
            raise Feedback("slerp returned None: did you forget the `return`?")
        got = expect_shape(got, (steps, d), what)
        expect(np.all(np.isfinite(got)), f"{what} contains NaN or infinite values")
        expect(np.allclose(got[0], z0, atol=1e-6) and np.allclose(got[-1], z1, atol=1e-6),
               f"{what}: the first row should be z0 and the last z1")
        expected = _reference_slerp(z0, z1, steps)
        if np.allclose(got, expected, atol=1e-6):
            continue
        t = np.linspace(0, 1, steps)[:, None]
        if np.allclose(got, (1 - t) * z0 + t * z1, atol=1e-6):
            raise Feedback(f"{what} is the straight line between z0 and z1: follow the arc between them instead")
        angles = [np.arccos(np.clip(np.dot(g, z0) / (np.linalg.norm(g) * np.linalg.norm(z0)), -1, 1)) for g in got]
        if not np.allclose(np.diff(angles), np.diff(angles)[0], atol=1e-4):
            raise Feedback(f"{what}: the steps are not evenly spaced in angle; use evenly spaced t from 0 to 1")
        raise Feedback(f"{what} differs from spherical interpolation: check the two sine weights and the angle θ")
    z0 = rng.standard_normal(6)
    for z1, case in ((z0 * 2.0, "parallel"), (z0 + 1e-9 * rng.standard_normal(6), "nearly identical")):
        got = slerp(z0.copy(), z1.copy(), 5)
        if got is None:
            raise Feedback("slerp returned None: did you forget the `return`?")
        got = expect_shape(got, (5, 6), f"slerp for {case} vectors")
        expect(np.all(np.isfinite(got)),
               f"for {case} vectors your slerp returns NaN or infinite values: sin θ is (nearly) 0 there, so fall "
               "back to another formula when the vectors are (nearly) parallel")
        expect(np.allclose(got, _reference_slerp(z0, z1, 5), atol=1e-6),
               f"for {case} vectors the path should be the straight line from z0 to z1")

"""Checkers for chapter 09, Autoencoders and latent spaces.

* 09.1 ``kl_diagonal_gaussians(mean_q, log_var_q, mean_p, log_var_p)``: KL(q || p) between two diagonal Gaussians,
  one value per example, in NumPy.
* 09.2 ``roc_auc(normal_scores, anomalous_scores)``: the area under the ROC curve of an anomaly score, in NumPy,
  with ties counted as half.

Each checker tests the answer's behaviour on inputs it draws itself and compares with a reference computed
here; its messages say what goes wrong, not what the right numbers are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_close, register

# ---------------------------------------------------------------------------------------------
# 09.1 KL divergence between two diagonal Gaussians
# ---------------------------------------------------------------------------------------------


def _reference_kl(mq: np.ndarray, lq: np.ndarray, mp: np.ndarray, lp: np.ndarray) -> np.ndarray:
    return 0.5 * np.sum(lp - lq + (np.exp(lq) + (mq - mp) ** 2) / np.exp(lp) - 1.0, axis=-1)


@register("09.1", "KL divergence between two diagonal Gaussians")
def check_kl_diagonal_gaussians(kl_diagonal_gaussians: Any) -> None:
    expect_callable(kl_diagonal_gaussians, "kl_diagonal_gaussians")
    rng = np.random.default_rng(909)

    def call(mq, lq, mp, lp, what):
        copies = [a.copy() for a in (mq, lq, mp, lp)]
        got = kl_diagonal_gaussians(mq, lq, mp, lp)
        if got is None:
            raise Feedback("kl_diagonal_gaussians returned None: did you forget the `return`?")
        expect(all(np.array_equal(a, b) for a, b in zip((mq, lq, mp, lp), copies)),
               "kl_diagonal_gaussians changed its inputs in place; compute the result in a new array")
        got = as_array(got, what)
        n, d = mq.shape
        if got.shape == (n, d):
            raise Feedback(f"{what} has shape {got.shape}: one value per latent dimension. The KL divergence of "
                           "a diagonal Gaussian is one number per example: add up the dimensions' contributions")
        if got.shape == () or got.size == 1 and n > 1:
            raise Feedback(f"{what} is a single number, but the batch holds {n} examples: return one KL value "
                           "per example (sum over the latent dimensions only)")
        return got

    # 1. identical distributions: zero
    n, d = 6, 3
    m, lv = rng.normal(size=(n, d)), rng.normal(scale=0.7, size=(n, d))
    got = call(m, lv, m.copy(), lv.copy(), "kl_diagonal_gaussians(q, q)")
    expect_close(got, np.zeros(n), "kl_diagonal_gaussians(q, q)", atol=1e-6,
                 hint="the divergence of a distribution from itself is zero")

    # 2. against a standard normal prior: the formula of section 4
    cases = [((8, 2), 0.0, 0.0), ((5, 4), 0.0, 0.0), ((7, 3), 0.8, 0.6), ((4, 10), -0.5, 1.2)]
    for shape, p_mean_scale, p_log_var_scale in cases:
        mq = rng.normal(scale=1.5, size=shape)
        lq = rng.normal(scale=1.0, size=shape)
        mp = rng.normal(scale=abs(p_mean_scale) + 1e-12, size=shape) if p_mean_scale else np.zeros(shape)
        lp = rng.normal(scale=p_log_var_scale, size=shape) if p_log_var_scale else np.zeros(shape)
        what = f"kl_diagonal_gaussians on a batch of {shape[0]} examples with {shape[1]} latent dimensions"
        if not (p_mean_scale or p_log_var_scale):
            what += " and p = N(0, I)"
        got = call(mq, lq, mp, lp, what)
        expected = _reference_kl(mq, lq, mp, lp)
        if got.shape == expected.shape and np.allclose(got, expected, rtol=1e-6, atol=1e-8):
            continue
        if got.shape == expected.shape:
            if np.allclose(got, _reference_kl(mp, lp, mq, lq), rtol=1e-6, atol=1e-8):
                raise Feedback(f"{what}: you computed KL(p || q), the divergence the other way round. KL is not "
                               "symmetric; the expectation is taken under q, the first distribution")
            if np.allclose(got, 2 * expected, rtol=1e-6, atol=1e-8) or np.allclose(got, expected / 2, rtol=1e-6):
                raise Feedback(f"{what}: off by a factor of 2. Check the 1/2 in front of the Gaussian log-density")
            if np.allclose(got, -expected, rtol=1e-6, atol=1e-8):
                raise Feedback(f"{what}: the sign is flipped; a KL divergence is never negative")
        if not np.all(np.isfinite(got)):
            raise Feedback(f"{what} contains NaN or infinite values. The arguments are log-variances, which can be "
                           "negative: are you taking the logarithm of one, or dividing by one?")
        expect(np.all(np.asarray(got) >= -1e-9),
               f"{what} gave a negative value; a KL divergence is never negative")
        expect_close(got, expected, what, rtol=1e-6, atol=1e-8,
                     hint="per dimension: the log of the ratio of the standard deviations, plus the mismatch of "
                          "variances and means measured in units of p's variance, minus the constant that makes "
                          "KL(q, q) zero")

    # 3. works on float32 input and a single latent dimension
    mq = rng.normal(size=(3, 1)).astype("float32")
    lq = rng.normal(size=(3, 1)).astype("float32")
    got = call(mq, lq, np.zeros_like(mq), np.zeros_like(lq), "kl_diagonal_gaussians with one latent dimension")
    expect_close(got, _reference_kl(*(a.astype(float) for a in (mq, lq, np.zeros((3, 1)), np.zeros((3, 1))))),
                 "kl_diagonal_gaussians with one latent dimension", rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# 09.2 ROC AUC of an anomaly score
# ---------------------------------------------------------------------------------------------


def _reference_auc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    greater = (anomalous[:, None] > normal[None, :]).sum()
    ties = (anomalous[:, None] == normal[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(normal) * len(anomalous)))


@register("09.2", "ROC AUC of an anomaly score")
def check_roc_auc(roc_auc: Any) -> None:
    expect_callable(roc_auc, "roc_auc")
    rng = np.random.default_rng(92)

    def auc(normal, anomalous, what):
        copies = (normal.copy(), anomalous.copy())
        value = roc_auc(normal, anomalous)
        if value is None:
            raise Feedback("roc_auc returned None: did you forget the `return`?")
        expect(np.array_equal(normal, copies[0]) and np.array_equal(anomalous, copies[1]),
               "roc_auc changed its inputs in place (sorting them, say); work on copies")
        arr = as_array(value, what)
        expect(arr.size == 1, f"{what} should be a single number, got an array of shape {arr.shape}")
        number = float(arr.reshape(()))
        expect(np.isfinite(number), f"{what} is {number}, not a finite number")
        expect(0.0 <= number <= 1.0, f"{what} is {number:.3g}, but an area under a curve in the unit square lies "
                                     "between 0 and 1")
        return number

    # perfectly separated, both ways round
    normal, anomalous = rng.uniform(0, 1, 50), rng.uniform(2, 3, 30)
    got = auc(normal, anomalous, "roc_auc on perfectly separated scores")
    if abs(got) < 1e-6:
        raise Feedback("roc_auc is 0 when every anomaly scores higher than every normal example: the orientation "
                       "is reversed. A higher score should mean 'more anomalous'")
    expect(abs(got - 1.0) < 1e-6, f"roc_auc on perfectly separated scores returned {got:.4g}: when every anomaly "
                                  "scores above every normal example, every threshold in between is perfect")
    got = auc(anomalous, normal, "roc_auc with the anomalies scoring lowest")
    expect(abs(got) < 1e-6, f"roc_auc returned {got:.4g} when every anomaly scores *below* every normal example")

    # overlapping continuous scores of unequal sizes
    for n_normal, n_anomalous, shift in ((200, 70, 1.0), (35, 120, 0.3), (500, 500, -0.4)):
        normal = rng.normal(0, 1, n_normal)
        anomalous = rng.normal(shift, 1.3, n_anomalous)
        what = f"roc_auc on {n_normal} normal and {n_anomalous} anomalous scores"
        got = auc(normal, anomalous, what)
        expected = _reference_auc(normal, anomalous)
        if abs(got - (1 - expected)) < 1e-6 and abs(expected - 0.5) > 0.01:
            raise Feedback(f"{what}: the orientation is reversed. A higher score should mean 'more anomalous'")
        expect(abs(got - expected) < 1e-6,
               f"{what} returned {got:.4f}, which is not the area under the ROC curve. The AUC is the probability "
               "that a randomly chosen anomaly scores higher than a randomly chosen normal example")

    # ties: discrete scores, where a half-credit for ties matters
    normal = rng.integers(0, 4, 80).astype(float)
    anomalous = rng.integers(1, 5, 60).astype(float)
    what = "roc_auc on whole-number scores with many ties"
    got = auc(normal, anomalous, what)
    expected = _reference_auc(normal, anomalous)
    strict = float((anomalous[:, None] > normal[None, :]).mean())
    loose = float((anomalous[:, None] >= normal[None, :]).mean())
    if abs(got - strict) < 1e-6 or abs(got - loose) < 1e-6:
        raise Feedback(f"{what}: tied scores are counted as all wins or all losses. A threshold cannot separate "
                       "two equal scores, so the ROC curve crosses a tie diagonally: a tie counts as half")
    expect(abs(got - expected) < 1e-6, f"{what} returned {got:.4f}, which is not the area under the ROC curve")
    # all scores equal: a useless score
    got = auc(np.ones(10), np.ones(7), "roc_auc when every score is the same")
    expect(abs(got - 0.5) < 1e-6, f"roc_auc returned {got:.4g} when every example has the same score; such a "
                                  "score cannot tell anything apart")

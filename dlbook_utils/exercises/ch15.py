"""Checkers for chapter 15, Transformers.

* 15.1 ``masked_attention(q, k, v, mask=None)``: scaled dot-product attention with a boolean mask in NumPy,
  returning ``(outputs, weights)``.
* 15.2 ``sinusoidal(length, dim)``: the sine/cosine position codes of Vaswani et al. (2017).
* 15.3 ``mask_for_mlm(ids, mask_id, vocab_size, seed=0)``: BERT's 80/10/10 corruption for masked language modelling.

Each checker draws its own inputs and compares with a reference computed here (or, for the random masking, with
the frequencies it should have); its messages say what goes wrong, not what the right numbers are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_close, expect_shape, register

# ---------------------------------------------------------------------------------------------
# 15.1 Scaled dot-product attention with a mask
# ---------------------------------------------------------------------------------------------


def _softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _reference_attention(q, k, v, mask=None, scale=None, axis=-1):
    scores = q @ np.swapaxes(k, -1, -2) / (np.sqrt(q.shape[-1]) if scale is None else scale)
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    if axis == -1:
        weights = _softmax(scores)
    else:
        e = np.exp(scores - scores.max(axis=axis, keepdims=True))
        weights = e / e.sum(axis=axis, keepdims=True)
    return weights @ v, weights


def _two_arrays(result: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if result is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Feedback(f"{what} should return two arrays, (outputs, weights)")
    return as_array(result[0], f"the outputs of {what}"), as_array(result[1], f"the weights of {what}")


@register("15.1", "scaled dot-product attention with a mask",
          written_by_learner=("dlbook_utils.transformer:scaled_dot_product_attention",))
def check_masked_attention(masked_attention: Any) -> None:
    expect_callable(masked_attention, "masked_attention")
    rng = np.random.default_rng(1515)
    cases = [((4, 3), (6, 3), (6, 2), None), ((2, 5, 8), (2, 7, 8), (2, 7, 4), None),
             ((2, 3, 5, 16), (2, 3, 5, 16), (2, 3, 5, 16), "causal"), ((3, 6, 4), (3, 6, 4), (3, 6, 5), "padding"),
             ((2, 2, 4, 8), (2, 2, 9, 8), (2, 2, 9, 3), "random")]
    for q_shape, k_shape, v_shape, kind in cases:
        q, k, v = (3 * rng.standard_normal(s) for s in (q_shape, k_shape, v_shape))
        tq, tk = q_shape[-2], k_shape[-2]
        mask = None
        if kind == "causal":
            mask = np.tril(np.ones((tq, tk), dtype=bool))
        elif kind == "padding":
            mask = np.arange(tk)[None, None, :] < rng.integers(2, tk, size=(q_shape[0], 1, 1))
        elif kind == "random":
            mask = rng.random((q_shape[0], 1, tq, tk)) < 0.5
            mask[..., 0] = True                                    # every query keeps at least one key
        copies = [a.copy() for a in (q, k, v)]
        what = f"masked_attention on q {q_shape}, k {k_shape}, v {v_shape}" + (f" with a {kind} mask" if kind else "")
        outputs, weights = _two_arrays(masked_attention(q, k, v, mask) if kind else masked_attention(q, k, v), what)
        expect(all(np.array_equal(a, b) for a, b in zip((q, k, v), copies)),
               "masked_attention changed its inputs in place; compute the result in new arrays")
        ref_out, ref_w = _reference_attention(q, k, v, mask)
        weights = expect_shape(weights, ref_w.shape, f"the weights of {what}")
        outputs = expect_shape(outputs, ref_out.shape, f"the outputs of {what}")
        if np.allclose(weights, ref_w, atol=1e-6) and np.allclose(outputs, ref_out, atol=1e-6):
            continue
        expect(np.all(np.isfinite(weights)), f"{what}: the weights contain NaN or infinite values. "
               "A masked score should become a very negative finite number (or -inf where at least one key is left)")
        if np.allclose(weights, _reference_attention(q, k, v, mask, scale=1.0)[1], atol=1e-6):
            raise Feedback(f"{what}: the scores are not scaled; divide q·k by the right function of d")
        if np.allclose(weights, _reference_attention(q, k, v, mask, scale=q.shape[-1])[1], atol=1e-6):
            raise Feedback(f"{what}: the scores are divided by d itself; the scale is the one that keeps their "
                           "variance near 1 when q and k have unit-variance entries")
        if not np.allclose(weights.sum(axis=-1), 1, atol=1e-5):
            raise Feedback(f"{what}: each query's weights should sum to 1 over the keys (the last axis)")
        if mask is not None:
            allowed = np.broadcast_to(mask, ref_w.shape)
            if np.allclose(weights, _reference_attention(q, k, v, ~np.asarray(mask))[1], atol=1e-6):
                raise Feedback(f"{what}: the mask is the wrong way round; True means 'may attend'")
            if np.any(weights[~allowed] > 1e-6):
                raise Feedback(f"{what}: some masked keys get weight; set their scores, not their weights, "
                               "to a very negative number before the softmax")
        expect_close(outputs, ref_out, f"the outputs of {what}", atol=1e-6,
                     hint="outputs = weights @ v, with the softmax over the keys")
        expect_close(weights, ref_w, f"the weights of {what}", atol=1e-6)


# ---------------------------------------------------------------------------------------------
# 15.2 Sinusoidal positions
# ---------------------------------------------------------------------------------------------


def _reference_sinusoidal(length: int, dim: int) -> np.ndarray:
    angles = np.arange(length)[:, None] / 10000.0 ** (np.arange(0, dim, 2)[None, :] / dim)
    out = np.empty((length, dim))
    out[:, 0::2], out[:, 1::2] = np.sin(angles), np.cos(angles)
    return out


@register("15.2", "sinusoidal position codes", written_by_learner=("dlbook_utils.transformer:sinusoidal_positions",))
def check_sinusoidal(sinusoidal: Any) -> None:
    expect_callable(sinusoidal, "sinusoidal")
    for length, dim in [(10, 4), (50, 16), (7, 2), (128, 64), (33, 10)]:
        what = f"sinusoidal({length}, {dim})"
        got = sinusoidal(length, dim)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        ref = _reference_sinusoidal(length, dim)
        got = expect_shape(got, ref.shape, what)
        if np.allclose(got, ref, atol=1e-5):
            continue
        expect(np.allclose(got[0, 0::2], 0, atol=1e-6) and np.allclose(got[0, 1::2], 1, atol=1e-6),
               f"{what}: at position 0 every angle is 0, so the even columns (sines) should be 0 and the odd "
               "columns (cosines) 1; check the order of sin and cos and that they alternate column by column")
        expect(np.allclose(got[:, 0], np.sin(np.arange(length)), atol=1e-5),
               f"{what}: column 0 should turn at the fastest rate, one radian per position")
        expect(np.allclose(got[:, 1], np.cos(np.arange(length)), atol=1e-5),
               f"{what}: columns 2i and 2i+1 share one frequency (a sine and a cosine of the same angle)")
        expect_close(got, ref, what, atol=1e-5,
                     hint="the frequency of pair i is 1 / 10000^(2i/dim), with i counting pairs of columns")


# ---------------------------------------------------------------------------------------------
# 15.3 BERT's 80/10/10 masking
# ---------------------------------------------------------------------------------------------


@register("15.3", "80/10/10 masking for masked language modelling",
          written_by_learner=("dlbook_utils.transformer:mask_tokens",))
def check_mask_for_mlm(mask_for_mlm: Any) -> None:
    expect_callable(mask_for_mlm, "mask_for_mlm")
    rng = np.random.default_rng(15_3)
    vocab_size, mask_id = 300, 300
    ids = rng.integers(2, vocab_size, size=(500, 120))
    lengths = rng.integers(30, 121, size=500)
    ids[np.arange(120)[None, :] >= lengths[:, None]] = 0            # padding at the ends
    original = ids.copy()
    what = "mask_for_mlm(ids, mask_id, vocab_size, seed=0)"
    result = mask_for_mlm(ids, mask_id, vocab_size, seed=0)
    expect(np.array_equal(ids, original), "mask_for_mlm changed `ids` in place; corrupt a copy")
    if result is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    expect(isinstance(result, (tuple, list)) and len(result) == 3,
           f"{what} should return three arrays: (inputs, targets, weights)")
    inputs, targets, weights = (expect_shape(a, ids.shape, f"{name} of {what}")
                                for a, name in zip(result, ("the inputs", "the targets", "the weights")))
    expect(np.array_equal(targets, ids), "the targets should be the original ids (the loss reads them at the "
           "chosen positions)")
    expect(np.all((weights == 0) | (weights == 1)), "the weights should be 1 at the chosen positions and 0 elsewhere")
    chosen, real = weights == 1, ids != 0
    expect(not chosen[~real].any(), "padding positions were chosen; only real tokens (id ≠ 0) can be chosen")
    expect(np.all(inputs[~real] == 0), "the padding should stay padding in the inputs")
    expect(np.array_equal(inputs[~chosen], ids[~chosen]), "tokens that were not chosen should be left as they are")
    rate = chosen[real].mean()
    expect(abs(rate - 0.15) < 0.01, f"{100 * rate:.1f}% of the real tokens were chosen; BERT chooses each one "
           "independently with probability 15%")
    picked_in, picked_orig = inputs[chosen], ids[chosen]
    to_mask = np.mean(picked_in == mask_id)
    kept = np.mean(picked_in == picked_orig)
    swapped = (picked_in != mask_id) & (picked_in != picked_orig)
    expect(abs(to_mask - 0.8) < 0.03, f"{100 * to_mask:.0f}% of the chosen tokens became the mask token; it "
           "should be about 80%")
    expect(abs(swapped.mean() - 0.1) < 0.025 and abs(kept - 0.1) < 0.025,
           f"of the chosen tokens {100 * swapped.mean():.0f}% became another token and {100 * kept:.0f}% stayed "
           "the same; draw one random number per chosen token and split the rest evenly between the two")
    expect(np.all((picked_in[swapped] >= 2) & (picked_in[swapped] < vocab_size)),
           "random replacements should be real words: ids from 2 (after padding and unknown) up to vocab_size - 1, "
           "never the mask token")
    again = mask_for_mlm(ids, mask_id, vocab_size, seed=0)
    expect(all(np.array_equal(as_array(a, "a result"), b) for a, b in zip(again, (inputs, targets, weights))),
           "the same seed should give the same corruption; seed NumPy's generator with `seed`")
    other = as_array(mask_for_mlm(ids, mask_id, vocab_size, seed=1)[2], "the weights")
    expect(not np.array_equal(other, weights), "a different seed should choose different positions")

"""Checkers for chapter 17, Building a GPT.

* 17.1 ``causal(length)``: the (length, length) boolean mask, True where query i may attend to key j (j ≤ i).
* 17.2 ``top_k(logits, k)``: keep the k largest logits of each row, set the others to -inf.
* 17.3 ``top_p(logits, p)``: keep the nucleus (the smallest set of most likely tokens whose probabilities add up
  to at least p), set the others to -inf.

Each checker draws its own inputs and compares with a reference computed here; its messages say what goes wrong,
not what the right numbers are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_shape, register

# ---------------------------------------------------------------------------------------------
# 17.1 The causal mask
# ---------------------------------------------------------------------------------------------


@register("17.1", "a causal mask", written_by_learner=("dlbook_utils.transformer:causal_mask",))
def check_causal(causal: Any) -> None:
    expect_callable(causal, "causal")
    for length in (1, 2, 5, 17):
        what = f"causal({length})"
        got = causal(length)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        got = expect_shape(got, (length, length), what)
        expect(np.all((got == 0) | (got == 1)), f"{what} should hold True/False (or 1/0) only")
        got = got.astype(bool)
        ref = np.tril(np.ones((length, length), dtype=bool))
        if np.array_equal(got, ref):
            continue
        expect(not np.array_equal(got, ref.T), f"{what} is the wrong way round: row i is the query at position i, "
               "and it may look at keys up to and including i, not at later ones")
        expect(not np.array_equal(got, np.tril(ref, -1)), f"{what} hides the diagonal: a position may attend "
               "to itself (otherwise the first position sees nothing)")
        expect(not got.all(), f"{what} allows everything: the future must be hidden")
        raise Feedback(f"{what} is not the causal mask: True exactly where the key's position is not after the "
                       "query's")


# ---------------------------------------------------------------------------------------------
# 17.2 and 17.3 Top-k and top-p filtering
# ---------------------------------------------------------------------------------------------


def _reference_top_k(logits: np.ndarray, k: int) -> np.ndarray:
    kth = np.sort(logits, axis=-1)[..., -k, None]
    return np.where(logits >= kth, logits, -np.inf)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _reference_top_p(logits: np.ndarray, p: float) -> np.ndarray:
    order = np.argsort(-logits, axis=-1)
    probs = np.take_along_axis(_softmax(logits), order, -1)
    keep_sorted = np.cumsum(probs, axis=-1) - probs < p
    keep = np.empty_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, -1)
    return np.where(keep, logits, -np.inf)


def _compare_filtered(got: np.ndarray, ref: np.ndarray, logits: np.ndarray, what: str) -> tuple[bool, np.ndarray]:
    """(whether `got` equals `ref`, the positions `got` keeps); Feedback on malformed answers."""
    got = expect_shape(got, ref.shape, what)
    expect(not np.any(np.isnan(got)), f"{what} contains NaN")
    expect(not np.any(got == np.inf), f"{what} contains +inf")
    kept = np.isfinite(got)
    expect(np.allclose(got[kept], logits[kept]), f"{what} changed the logits it keeps; keep them as they are "
           "(the softmax renormalises) and only set the others to -inf")
    expect(np.all(got[~kept] == -np.inf) or not np.any(~kept), f"{what}: removed logits should be -inf")
    return np.array_equal(kept, np.isfinite(ref)), kept


def _fresh_logits(rng: np.random.Generator) -> list[np.ndarray]:
    return [2.0 * rng.standard_normal(10), 3.0 * rng.standard_normal((4, 30)), rng.standard_normal((2, 3, 65))]


@register("17.2", "top-k filtering", written_by_learner=("dlbook_utils.gpt:top_k_filter",))
def check_top_k(top_k: Any) -> None:
    expect_callable(top_k, "top_k")
    rng = np.random.default_rng(17_2)
    for logits in _fresh_logits(rng):
        for k in (1, 3, logits.shape[-1]):
            what = f"top_k on logits of shape {logits.shape} with k = {k}"
            copy = logits.copy()
            got = top_k(logits, k)
            if got is None:
                raise Feedback(f"{what} returned None: did you forget the `return`?")
            expect(np.array_equal(logits, copy), "top_k changed the logits in place; return a new array")
            ref = _reference_top_k(logits, k)
            if got is not None and np.all(np.isfinite(as_array(got, what))) and k < logits.shape[-1]:
                got_arr = as_array(got, what)
                if got_arr.shape == logits.shape and np.all((got_arr == 0) | np.isclose(got_arr, logits)):
                    raise Feedback(f"{what}: the removed logits are 0, which still gives them probability "
                                   "after the softmax; set them to -inf")
            same, kept = _compare_filtered(got, ref, logits, what)
            if same:
                continue
            counts = kept.sum(axis=-1)
            expect(np.all(counts == k), f"{what}: each row should keep exactly k logits, but some keep "
                   f"{int(counts.min())}–{int(counts.max())}")
            smallest = np.isfinite(np.where(logits <= np.sort(logits, axis=-1)[..., k - 1, None], 1.0, -np.inf))
            expect(not np.array_equal(kept, smallest), f"{what} keeps the smallest logits; keep the largest")
            raise Feedback(f"{what} keeps the wrong logits in some row: the k largest of each row (the last axis)")


@register("17.3", "top-p (nucleus) filtering", written_by_learner=("dlbook_utils.gpt:top_p_filter",))
def check_top_p(top_p: Any) -> None:
    expect_callable(top_p, "top_p")
    rng = np.random.default_rng(17_3)
    cases = [(np.log(np.array([0.5, 0.3, 0.15, 0.05])), 0.6), (np.log(np.array([0.5, 0.3, 0.15, 0.05])), 0.5),
             (np.log(np.array([0.1, 0.7, 0.2])), 0.05), (np.log(np.array([0.1, 0.7, 0.2])), 0.95)]
    cases += [(logits, p) for logits in _fresh_logits(rng) for p in (0.1, 0.5, 0.9, 1.0)]
    for logits, p in cases:
        what = f"top_p on logits of shape {logits.shape} with p = {p}"
        copy = logits.copy()
        got = top_p(logits, p)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        expect(np.array_equal(logits, copy), "top_p changed the logits in place; return a new array")
        ref = _reference_top_p(logits, p)
        same, kept = _compare_filtered(got, ref, logits, what)
        if same:
            continue
        expect(np.all(kept.any(axis=-1)), f"{what}: a row keeps no token at all; the most likely token is "
               "always in the nucleus")
        order = np.argsort(-logits, axis=-1)
        ranked_kept = np.take_along_axis(kept, order, -1)
        expect(np.all(np.diff(ranked_kept.astype(int), axis=-1) <= 0), f"{what} keeps a token but drops a more "
               "likely one; the nucleus is made of the most likely tokens")
        mass = (_softmax(logits) * kept).sum(axis=-1)
        expect(np.all(mass >= p - 1e-9), f"{what}: the kept tokens' probabilities add up to less than p in some "
               "row; include the token that takes the running total to p or beyond")
        raise Feedback(f"{what} keeps too many tokens: stop at the first token at which the running total of "
                       "probabilities (most likely first) reaches p")

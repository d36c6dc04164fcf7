"""Checkers for chapter 14, Encoder–decoder and attention.

* 14.1 ``additive_attention(queries, keys, w_query, w_key, bias, v, key_mask)``: additive attention for a batch of
  queries in NumPy, returning the contexts and the weights.
* 14.2 ``beam_step(scores, log_probs, beam_width)``: one step of beam search for one example.
* 14.3 ``exact_match_by_bucket(predicted, target, lengths, edges)``: exact match in buckets of input length.

Each checker tests the answer's behaviour on inputs it draws itself and compares with a reference computed here;
its messages say what goes wrong, not what the right numbers are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_close, expect_shape, register

# ---------------------------------------------------------------------------------------------
# 14.1 Additive attention in NumPy
# ---------------------------------------------------------------------------------------------


def _reference_attention(queries, keys, w_query, w_key, bias, v, key_mask, *, mask=True, softmax_axis=-1,
                         tanh=True):
    q = queries @ w_query                                           # (batch, T, a)
    k = keys @ w_key + bias                                         # (batch, S, a)
    hidden = q[:, :, None, :] + k[:, None, :, :]
    scores = (np.tanh(hidden) if tanh else hidden) @ v              # (batch, T, S)
    if mask and key_mask is not None:
        scores = np.where(key_mask[:, None, :], scores, -np.inf)
    scores = scores - scores.max(axis=softmax_axis, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=softmax_axis, keepdims=True)
    return weights @ keys, weights


def _attention_case(rng, batch, t, s, d_q, d_k, units, padded):
    queries = rng.standard_normal((batch, t, d_q))
    keys = rng.standard_normal((batch, s, d_k))
    w_query = rng.standard_normal((d_q, units)) / np.sqrt(d_q)
    w_key = rng.standard_normal((d_k, units)) / np.sqrt(d_k)
    bias = 0.5 * rng.standard_normal(units)
    v = rng.standard_normal(units)
    key_mask = np.ones((batch, s), dtype=bool)
    if padded:                                  # left padding of different lengths, as in the chapter
        for row, pad in enumerate(rng.integers(1, s - 1, size=batch)):
            key_mask[row, :pad] = False
    return queries, keys, w_query, w_key, bias, v, key_mask


def _pair(result: Any, what: str) -> tuple[Any, Any]:
    if result is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Feedback(f"{what} should return two arrays, (contexts, weights)")
    return result[0], result[1]


@register("14.1", "additive attention in NumPy")
def check_additive_attention(additive_attention: Any) -> None:
    expect_callable(additive_attention, "additive_attention")
    rng = np.random.default_rng(1401)
    cases = [(1, 1, 5, 3, 4, 6, False), (2, 3, 7, 4, 5, 8, False), (3, 4, 9, 6, 3, 5, True),
             (2, 2, 6, 2, 2, 4, True)]
    for batch, t, s, d_q, d_k, units, padded in cases:
        args = _attention_case(rng, batch, t, s, d_q, d_k, units, padded)
        copies = [a.copy() for a in args]
        what = (f"additive_attention on {batch} × {t} queries of size {d_q}, {s} keys of size {d_k}"
                + (" with padding" if padded else ""))
        contexts, weights = _pair(additive_attention(*args), what)
        expect(all(np.array_equal(a, b) for a, b in zip(args, copies)),
               "additive_attention changed its inputs in place; compute the result in new arrays")
        ref_contexts, ref_weights = _reference_attention(*args)
        weights = expect_shape(weights, ref_weights.shape, f"{what}: the weights")
        expect(np.all(np.isfinite(weights)), f"{what}: the weights contain NaN or infinite values")
        sums = weights.sum(axis=-1)
        if not np.allclose(sums, 1.0, atol=1e-6):
            if np.allclose(weights.sum(axis=1), 1.0, atol=1e-6) and t > 1:
                raise Feedback(f"{what}: your weights sum to 1 over the queries; each query's weights should "
                               "sum to 1 over the keys (positions of the input)")
            raise Feedback(f"{what}: the weights of one query should add up to 1 over the keys")
        if padded and np.any(weights[~np.broadcast_to(args[6][:, None, :], weights.shape)] > 1e-6):
            raise Feedback(f"{what}: padding positions (key_mask False) receive attention weight; they should "
                           "receive none")
        if not np.allclose(weights, ref_weights, rtol=1e-5, atol=1e-7):
            if np.allclose(weights, _reference_attention(*args, tanh=False)[1], rtol=1e-5, atol=1e-7):
                raise Feedback(f"{what}: the weights are off; the scores are missing the non-linearity "
                               "that makes this attention 'additive' rather than a plain dot product")
            if np.allclose(weights, _reference_attention(*args[:4], np.zeros_like(args[4]), *args[5:])[1],
                           rtol=1e-5, atol=1e-7):
                raise Feedback(f"{what}: the weights are off; the key projection has a bias that your "
                               "scores leave out")
            expect_close(weights, ref_weights, f"{what}: the weights", rtol=1e-5, atol=1e-7,
                         hint="score each (query, key) pair with vᵀ tanh(W_q q + W_k h + b), then softmax "
                              "over the keys")
        expect_close(contexts, ref_contexts, f"{what}: the contexts", rtol=1e-5, atol=1e-7,
                     hint="a query's context is the sum of the keys weighted by that query's weights")


# ---------------------------------------------------------------------------------------------
# 14.2 One step of beam search
# ---------------------------------------------------------------------------------------------


def _reference_beam_step(scores, log_probs, beam_width):
    vocab = log_probs.shape[1]
    total = (scores[:, None] + log_probs).ravel()
    best = np.argsort(-total, kind="stable")[:beam_width]
    return total[best], best // vocab, best % vocab


def _triple(result: Any, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if result is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise Feedback(f"{what} should return three arrays: (new_scores, parents, tokens)")
    return tuple(as_array(r, what) for r in result)


@register("14.2", "one step of beam search")
def check_beam_step(beam_step: Any) -> None:
    expect_callable(beam_step, "beam_step")
    rng = np.random.default_rng(1402)
    for beams, vocab, width in [(1, 6, 3), (3, 5, 3), (4, 7, 2), (2, 4, 4), (5, 9, 5)]:
        scores = -np.sort(rng.exponential(2.0, size=beams))          # best beam first, as beam search keeps them
        logits = 2.0 * rng.standard_normal((beams, vocab))
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        copies = (scores.copy(), log_probs.copy())
        what = f"beam_step with {beams} beam(s), {vocab} tokens and beam_width={width}"
        new_scores, parents, tokens = _triple(beam_step(scores, log_probs, width), what)
        expect(np.array_equal(scores, copies[0]) and np.array_equal(log_probs, copies[1]),
               "beam_step changed its inputs in place; compute the result in new arrays")
        for name, arr in (("new_scores", new_scores), ("parents", parents), ("tokens", tokens)):
            expect_shape(arr, (width,), f"{what}: {name}")
        expect(np.all(parents == np.round(parents)) and np.all(tokens == np.round(tokens)),
               f"{what}: parents and tokens are indices, so whole numbers")
        parents, tokens = parents.astype(int), tokens.astype(int)
        expect(np.all((0 <= parents) & (parents < beams)) and np.all((0 <= tokens) & (tokens < vocab)),
               f"{what}: a parent is a beam number (0 to beams - 1) and a token a vocabulary index (0 to V - 1)")
        expect(np.allclose(new_scores, scores[parents] + log_probs[parents, tokens]),
               f"{what}: a new score should be its parent beam's score plus the log-probability of its token")
        ref_scores, _, _ = _reference_beam_step(scores, log_probs, width)
        if np.allclose(np.sort(new_scores)[::-1], ref_scores):
            expect(np.all(np.diff(new_scores) <= 1e-12), f"{what}: return the new beams best first")
            continue
        best_each = np.sort(scores[:, None] + log_probs.max(axis=1, keepdims=True), axis=None)[::-1]
        if beams > 1 and np.allclose(np.sort(new_scores)[::-1], best_each[:width]):
            raise Feedback(f"{what}: you keep the best token of each beam; the best continuations can come "
                           "several from one beam and none from another")
        if np.allclose(np.sort(new_scores)[::-1], np.sort((scores[0] + log_probs[0]))[::-1][:width]) and beams > 1:
            raise Feedback(f"{what}: you extend only the first beam; every beam competes for the places")
        raise Feedback(f"{what}: these are not the {width} most probable continuations of all beams")


# ---------------------------------------------------------------------------------------------
# 14.3 Exact match by input length
# ---------------------------------------------------------------------------------------------


def _reference_buckets(predicted, target, lengths, edges):
    out = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = [i for i, n in enumerate(lengths) if low <= n < high]
        out.append(np.mean([list(predicted[i]) == list(target[i]) for i in inside]) if inside else np.nan)
    return np.array(out, dtype=float)


@register("14.3", "exact match by input length", written_by_learner=("dlbook_utils.seq2seq:exact_match_by_length",))
def check_exact_match_by_bucket(exact_match_by_bucket: Any) -> None:
    expect_callable(exact_match_by_bucket, "exact_match_by_bucket")
    rng = np.random.default_rng(1403)
    alphabet = np.array(list("0123456789-"))
    for n, edges, top in [(12, [0, 5, 10], 14), (40, [0, 11, 21, 31, 46, 80], 85), (30, [3, 8, 20, 25, 100, 200], 100)]:
        target = ["".join(rng.choice(alphabet, size=10)) for _ in range(n)]
        predicted = [t if rng.random() < 0.6 else t[:-1] + ("0" if t[-1] != "0" else "1") for t in target]
        predicted[0] = target[0][:-1]                   # a shorter answer that agrees where it has characters
        lengths = [int(x) for x in rng.integers(edges[0], top, size=n)]   # the last case leaves a bucket empty
        lengths[1] = edges[1]                           # on an edge: belongs to the bucket that starts there
        what = f"exact_match_by_bucket on {n} answers with edges {edges}"
        got = exact_match_by_bucket(list(predicted), list(target), list(lengths), list(edges))
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        expected = _reference_buckets(predicted, target, lengths, edges)
        got = expect_shape(got, expected.shape, f"{what} (one number per bucket)")
        expect(np.array_equal(np.isnan(got), np.isnan(expected)),
               f"{what}: an empty bucket should give NaN (there is nothing to average), and only an empty one")
        if np.allclose(got, expected, equal_nan=True):
            continue
        lengths_right = [edges[0] < x <= edges[-1] for x in lengths]
        alt = [np.mean([list(predicted[i]) == list(target[i]) for i, x in enumerate(lengths) if lo < x <= hi] or
                       [np.nan]) for lo, hi in zip(edges[:-1], edges[1:])]
        if np.allclose(got, alt, equal_nan=True) and any(lengths_right):
            raise Feedback(f"{what}: an input whose length equals an edge is in the wrong bucket; a bucket "
                           "includes its lower edge and excludes its upper one")
        raise Feedback(f"{what}: some buckets' exact match is off (an answer counts only if every character "
                       "is right and it has the target's length)")

"""Unit tests for the checkers of chapter 14 (dlbook_utils/exercises/ch14.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, solution_namespace

NOTEBOOK = ROOT / "chapters" / "14_attention.ipynb"
additive_attention = solution_namespace(NOTEBOOK, "14.1", np=np)["additive_attention"]
beam_step = solution_namespace(NOTEBOOK, "14.2", np=np)["beam_step"]
exact_match_by_bucket = solution_namespace(NOTEBOOK, "14.3", np=np)["exact_match_by_bucket"]


@pytest.mark.parametrize(
    "exercise, answer", [("14.1", additive_attention), ("14.2", beam_step), ("14.3", exact_match_by_bucket)]
)
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 14.1
# ---------------------------------------------------------------------------------------------


def _softmax(scores, axis):
    w = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return w / w.sum(axis=axis, keepdims=True)


def test_attention_with_a_loop_over_the_batch_passes():
    def looped(queries, keys, w_query, w_key, bias, v, key_mask):
        contexts, weights = [], []
        for q, k, m in zip(queries, keys, key_mask):
            s = np.tanh((q @ w_query)[:, None] + (k @ w_key + bias)[None]) @ v
            w = _softmax(np.where(m[None], s, -1e30), axis=-1)
            contexts.append(w @ k)
            weights.append(w)
        return np.array(contexts), np.array(weights)

    assert check.run("14.1", looped)[0] == check.PASSED


def test_attention_without_tanh_is_named():
    def no_tanh(queries, keys, w_query, w_key, bias, v, key_mask):
        s = ((queries @ w_query)[:, :, None] + (keys @ w_key + bias)[:, None]) @ v
        w = _softmax(np.where(key_mask[:, None], s, -np.inf), axis=-1)
        return w @ keys, w

    status, message = check.run("14.1", no_tanh)
    assert status == check.FAILED and "non-linearity" in message


def test_attention_without_the_bias_is_named():
    status, message = check.run("14.1", lambda q, k, wq, wk, b, v, m: additive_attention(q, k, wq, wk, 0 * b, v, m))
    assert status == check.FAILED and "bias" in message


def test_attention_ignoring_the_mask_is_named():
    status, message = check.run("14.1", lambda q, k, wq, wk, b, v, m: additive_attention(q, k, wq, wk, b, v,
                                                                                          np.ones_like(m)))
    assert status == check.FAILED and "padding" in message


def test_attention_softmax_over_the_wrong_axis_is_named():
    def wrong_axis(queries, keys, w_query, w_key, bias, v, key_mask):
        s = np.tanh((queries @ w_query)[:, :, None] + (keys @ w_key + bias)[:, None]) @ v
        w = _softmax(s, axis=1)
        return w @ keys, w

    status, message = check.run("14.1", wrong_axis)
    assert status == check.FAILED and "over the keys" in message


def test_attention_wrong_contexts_and_shapes_fail():
    def mean_context(queries, keys, w_query, w_key, bias, v, key_mask):
        contexts, weights = additive_attention(queries, keys, w_query, w_key, bias, v, key_mask)
        return np.repeat(keys.mean(axis=1, keepdims=True), queries.shape[1], axis=1), weights

    status, message = check.run("14.1", mean_context)
    assert status == check.FAILED and "contexts" in message
    status, message = check.run("14.1", lambda *args: additive_attention(*args)[1])
    assert status == check.FAILED
    status, message = check.run("14.1", lambda *args: None)
    assert status == check.FAILED and "None" in message


def test_attention_in_place_changes_are_reported():
    def in_place(queries, keys, w_query, w_key, bias, v, key_mask):
        out = additive_attention(queries, keys, w_query, w_key, bias, v, key_mask)
        keys *= 2
        return out

    status, message = check.run("14.1", in_place)
    assert status == check.FAILED and "in place" in message


# ---------------------------------------------------------------------------------------------
# 14.2
# ---------------------------------------------------------------------------------------------


def test_beam_step_best_token_per_beam_is_named():
    def per_beam(scores, log_probs, beam_width):
        tokens = log_probs.argmax(axis=1)
        totals = scores + log_probs.max(axis=1)
        order = np.argsort(-totals)
        parents = np.resize(order, beam_width)
        return totals[parents], parents, tokens[parents]

    status, message = check.run("14.2", per_beam)
    assert status == check.FAILED


def test_beam_step_ignoring_the_scores_so_far_fails():
    def no_history(scores, log_probs, beam_width):
        vocab = log_probs.shape[1]
        best = np.argsort(-log_probs.ravel(), kind="stable")[:beam_width]
        return (scores[best // vocab] + log_probs.ravel()[best]), best // vocab, best % vocab

    assert check.run("14.2", no_history)[0] == check.FAILED


def test_beam_step_parent_and_token_swapped_or_unsorted_fail():
    def swapped(scores, log_probs, beam_width):
        new, parents, tokens = beam_step(scores, log_probs, beam_width)
        return new, tokens, parents

    assert check.run("14.2", swapped)[0] == check.FAILED

    def worst_first(scores, log_probs, beam_width):
        new, parents, tokens = beam_step(scores, log_probs, beam_width)
        return new[::-1], parents[::-1], tokens[::-1]

    status, message = check.run("14.2", worst_first)
    assert status == check.FAILED and "best first" in message


def test_beam_step_first_beam_only_is_named():
    def first_only(scores, log_probs, beam_width):
        best = np.argsort(-(scores[0] + log_probs[0]), kind="stable")[:beam_width]
        return scores[0] + log_probs[0][best], np.zeros(beam_width, dtype=int), best

    status, message = check.run("14.2", first_only)
    assert status == check.FAILED and "only the first beam" in message


def test_beam_step_accepts_lists_and_argpartition():
    def with_partition(scores, log_probs, beam_width):
        total = (scores[:, None] + log_probs).ravel()
        best = np.argpartition(-total, beam_width - 1)[:beam_width]
        best = best[np.argsort(-total[best])]
        return list(total[best]), list(best // log_probs.shape[1]), list(best % log_probs.shape[1])

    assert check.run("14.2", with_partition)[0] == check.PASSED


# ---------------------------------------------------------------------------------------------
# 14.3
# ---------------------------------------------------------------------------------------------


def test_buckets_with_the_edge_in_the_wrong_bucket_are_named():
    def upper_inclusive(predicted, target, lengths, edges):
        out = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = [i for i, n in enumerate(lengths) if lo < n <= hi]
            out.append(np.mean([predicted[i] == target[i] for i in inside]) if inside else np.nan)
        return out

    status, message = check.run("14.3", upper_inclusive)
    assert status == check.FAILED and "edge" in message


def test_buckets_that_compare_characters_or_give_zero_when_empty_fail():
    def per_character(predicted, target, lengths, edges):
        lengths = np.asarray(lengths)
        out = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = np.flatnonzero((lengths >= lo) & (lengths < hi))
            out.append(np.mean([np.mean([a == b for a, b in zip(predicted[i], target[i])]) for i in inside])
                       if len(inside) else np.nan)
        return out

    assert check.run("14.3", per_character)[0] == check.FAILED

    def zero_when_empty(predicted, target, lengths, edges):
        return np.nan_to_num(np.asarray(exact_match_by_bucket(predicted, target, lengths, edges), dtype=float))

    status, message = check.run("14.3", zero_when_empty)
    assert status == check.FAILED and "NaN" in message


def test_buckets_calling_the_package_function_fail():
    from dlbook_utils import seq2seq

    status, message = check.run("14.3", lambda p, t, n, e: seq2seq.exact_match_by_length(p, t, n, e))
    assert status == check.FAILED and "write it yourself" in message.lower()


def test_buckets_may_use_seqmetrics_exact_match():
    from dlbook_utils import seqmetrics

    def with_exact_match(predicted, target, lengths, edges):
        out = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = [i for i, n in enumerate(lengths) if lo <= n < hi]
            out.append(seqmetrics.exact_match([predicted[i] for i in inside], [target[i] for i in inside])
                       if inside else float("nan"))
        return out

    assert check.run("14.3", with_exact_match)[0] == check.PASSED

"""Unit tests for the checkers of chapter 15 (dlbook_utils/exercises/ch15.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, assert_rejected, solution_namespace

NOTEBOOK = ROOT / "chapters" / "15_transformers.ipynb"
masked_attention = solution_namespace(NOTEBOOK, "15.1", np=np)["masked_attention"]
sinusoidal = solution_namespace(NOTEBOOK, "15.2", np=np)["sinusoidal"]
mask_for_mlm = solution_namespace(NOTEBOOK, "15.3", np=np)["mask_for_mlm"]


@pytest.mark.parametrize("exercise, answer", [("15.1", masked_attention), ("15.2", sinusoidal),
                                              ("15.3", mask_for_mlm)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 15.1
# ---------------------------------------------------------------------------------------------


def _softmax(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_attention_with_minus_infinity_is_accepted():
    def with_inf(q, k, v, mask=None):
        s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
        if mask is not None:
            s = np.where(mask, s, -np.inf)
        w = _softmax(s)
        return w @ v, w

    assert check.run("15.1", with_inf)[0] == check.PASSED


def test_attention_without_scaling_or_scaled_by_d():
    def unscaled(q, k, v, mask=None):
        s = q @ np.swapaxes(k, -1, -2)
        w = _softmax(s if mask is None else np.where(mask, s, -1e9))
        return w @ v, w

    assert_rejected("15.1", unscaled, "not scaled")

    def by_d(q, k, v, mask=None):
        s = q @ np.swapaxes(k, -1, -2) / q.shape[-1]
        w = _softmax(s if mask is None else np.where(mask, s, -1e9))
        return w @ v, w

    assert_rejected("15.1", by_d, "divided by d itself")


def test_attention_softmax_over_the_wrong_axis():
    def wrong_axis(q, k, v, mask=None):
        s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
        w = _softmax(s if mask is None else np.where(mask, s, -1e9), axis=-2)
        return w @ v, w

    assert_rejected("15.1", wrong_axis, "sum to 1")


def test_attention_mask_ignored_inverted_or_applied_after_the_softmax():
    def ignores_mask(q, k, v, mask=None):
        return masked_attention(q, k, v)

    assert_rejected("15.1", ignores_mask, "masked keys get weight")

    def inverted(q, k, v, mask=None):
        return masked_attention(q, k, v, None if mask is None else ~np.asarray(mask))

    assert_rejected("15.1", inverted, "wrong way round")

    def zeroed_after(q, k, v, mask=None):
        out, w = masked_attention(q, k, v)
        if mask is not None:
            w = w * mask
        return w @ v, w

    assert_rejected("15.1", zeroed_after, "sum to 1")


def test_attention_that_returns_only_the_outputs_or_changes_its_inputs():
    assert_rejected("15.1", lambda q, k, v, mask=None: masked_attention(q, k, v, mask)[0], "two arrays")

    def in_place(q, k, v, mask=None):
        q /= np.sqrt(q.shape[-1])
        return masked_attention(q * np.sqrt(q.shape[-1]), k, v, mask)

    assert_rejected("15.1", in_place, "in place")


def test_attention_may_not_call_the_package():
    from dlbook_utils import transformer

    def borrowed(q, k, v, mask=None):
        out, w = transformer.scaled_dot_product_attention(q.astype("float32"), k.astype("float32"),
                                                          v.astype("float32"), mask)
        return np.asarray(out), np.asarray(w)

    assert check.run("15.1", borrowed)[0] == check.FAILED


# ---------------------------------------------------------------------------------------------
# 15.2
# ---------------------------------------------------------------------------------------------


def test_sinusoidal_sin_and_cos_swapped():
    assert_rejected("15.2", lambda length, dim: sinusoidal(length, dim)[:, np.arange(dim) ^ 1], "position 0")


def test_sinusoidal_halves_instead_of_interleaved():
    def halves(length, dim):
        s = sinusoidal(length, dim)
        return np.concatenate([s[:, 0::2], s[:, 1::2]], axis=1)

    assert_rejected("15.2", halves, "alternate column by column")


def test_sinusoidal_with_the_column_index_in_the_exponent():
    def column_exponent(length, dim):
        angles = np.arange(length)[:, None] / 10000.0 ** (np.arange(dim)[None, :] / dim)
        out = np.sin(angles)
        out[:, 1::2] = np.cos(angles[:, 1::2])
        return out

    assert_rejected("15.2", column_exponent, "share one frequency")

    def pair_index_without_the_two(length, dim):
        angles = np.arange(length)[:, None] / 10000.0 ** (np.arange(dim // 2)[None, :] / dim)
        out = np.empty((length, dim))
        out[:, 0::2], out[:, 1::2] = np.sin(angles), np.cos(angles)
        return out

    assert_rejected("15.2", pair_index_without_the_two, "frequency of pair i")


def test_sinusoidal_float32_is_accepted_and_the_package_is_not():
    assert check.run("15.2", lambda length, dim: sinusoidal(length, dim).astype("float32"))[0] == check.PASSED
    from dlbook_utils import transformer

    assert check.run("15.2", lambda length, dim: transformer.sinusoidal_positions(length, dim))[0] == check.FAILED


# ---------------------------------------------------------------------------------------------
# 15.3
# ---------------------------------------------------------------------------------------------


def test_masking_that_chooses_padding():
    def with_padding(ids, mask_id, vocab_size, seed=0):
        ids = np.asarray(ids)
        rng = np.random.default_rng(seed)
        chosen = rng.random(ids.shape) < 0.15
        inputs = ids.copy()
        inputs[chosen] = mask_id
        return inputs, ids.copy(), chosen.astype(float)

    assert_rejected("15.3", with_padding, "padding")


def test_masking_everything_chosen_becomes_mask():
    def all_mask(ids, mask_id, vocab_size, seed=0):
        ids = np.asarray(ids)
        chosen = (np.random.default_rng(seed).random(ids.shape) < 0.15) & (ids != 0)
        inputs = ids.copy()
        inputs[chosen] = mask_id
        return inputs, ids.copy(), chosen.astype(float)

    assert_rejected("15.3", all_mask, "80%")


def test_masking_with_the_wrong_rate_or_split():
    def rate_20(ids, mask_id, vocab_size, seed=0):
        ids = np.asarray(ids)
        rng = np.random.default_rng(seed)
        chosen = (rng.random(ids.shape) < 0.2) & (ids != 0)
        draw = rng.random(ids.shape)
        inputs = ids.copy()
        inputs[chosen & (draw < 0.8)] = mask_id
        swap = chosen & (draw >= 0.8) & (draw < 0.9)
        inputs[swap] = rng.integers(2, vocab_size, size=swap.sum())
        return inputs, ids.copy(), chosen.astype(float)

    assert_rejected("15.3", rate_20, "15%")

    def two_draws(ids, mask_id, vocab_size, seed=0):                # random/kept split 5/15 instead of 10/10
        ids = np.asarray(ids)
        rng = np.random.default_rng(seed)
        chosen = (rng.random(ids.shape) < 0.15) & (ids != 0)
        draw = rng.random(ids.shape)
        inputs = ids.copy()
        inputs[chosen & (draw < 0.8)] = mask_id
        swap = chosen & (draw >= 0.8) & (draw < 0.85)
        inputs[swap] = rng.integers(2, vocab_size, size=swap.sum())
        return inputs, ids.copy(), chosen.astype(float)

    assert_rejected("15.3", two_draws, "evenly")


def test_masking_random_words_that_include_specials_or_the_mask():
    def specials(ids, mask_id, vocab_size, seed=0):
        ids = np.asarray(ids)
        rng = np.random.default_rng(seed)
        chosen = (rng.random(ids.shape) < 0.15) & (ids != 0)
        draw = rng.random(ids.shape)
        inputs = ids.copy()
        inputs[chosen & (draw < 0.8)] = mask_id
        swap = chosen & (draw >= 0.8) & (draw < 0.9)
        inputs[swap] = rng.integers(0, 2, size=swap.sum())      # padding and unknown only: never real words
        return inputs, ids.copy(), chosen.astype(float)

    assert_rejected("15.3", specials, "real words")


def test_masking_targets_weights_seed_and_in_place():
    assert_rejected("15.3", lambda ids, m, v, seed=0: (mask_for_mlm(ids, m, v, seed)[0],) * 3, "targets")
    assert_rejected("15.3", lambda ids, m, v, seed=0: mask_for_mlm(ids, m, v, seed)[:2], "three arrays")
    assert_rejected("15.3", lambda ids, m, v, seed=0: mask_for_mlm(ids, m, v, None), "same seed")

    def in_place(ids, mask_id, vocab_size, seed=0):
        inputs, targets, weights = mask_for_mlm(ids, mask_id, vocab_size, seed)
        ids[0, 0] = mask_id
        return inputs, targets, weights

    assert_rejected("15.3", in_place, "in place")


def test_masking_may_not_call_the_package():
    from dlbook_utils import transformer

    def borrowed(ids, mask_id, vocab_size, seed=0):
        return transformer.mask_tokens(ids, mask_id=mask_id, vocab_size=vocab_size, seed=seed)

    assert check.run("15.3", borrowed)[0] == check.FAILED

"""Unit tests for dlbook_utils.seq2seq (chapter 14's dates, vocabularies, attention and decoding)."""

from __future__ import annotations

import datetime
import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlbook_utils import seq2seq  # noqa: E402

from tests.conftest import ROOT, load_nb  # noqa: E402

NOTEBOOK = ROOT / "chapters" / "14_attention.ipynb"


@pytest.mark.parametrize("obj", [seq2seq.AdditiveAttention, seq2seq.beam_search])
def test_the_chapter_shows_the_package_code(obj):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    assert inspect.getsource(obj).rstrip("\n") in sources, f"chapter 14 should show {obj.__name__} as in the package"


def test_words_for_numbers_ordinals_and_years():
    assert [seq2seq.number_words(n) for n in (0, 13, 20, 98)] == ["zero", "thirteen", "twenty", "ninety-eight"]
    assert [seq2seq.ordinal_words(n) for n in (1, 2, 3, 12, 20, 23, 30, 31)] == [
        "first", "second", "third", "twelfth", "twentieth", "twenty-third", "thirtieth", "thirty-first"]
    assert [seq2seq.ordinal_suffix(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]
    assert [seq2seq.year_words(y) for y in (1950, 1998, 2000, 2005, 2012, 2049)] == [
        "nineteen fifty", "nineteen ninety-eight", "two thousand", "two thousand and five", "twenty twelve",
        "twenty forty-nine"]
    for bad in (lambda: seq2seq.number_words(100), lambda: seq2seq.ordinal_words(0),
                lambda: seq2seq.year_words(1949), lambda: seq2seq.year_words(2050)):
        with pytest.raises(ValueError):
            bad()


def test_every_style_of_one_date():
    date = datetime.date(1998, 9, 23)
    written = {style: seq2seq.format_date(date, style) for style in seq2seq.STYLES}
    assert written == {
        "iso": "1998-09-23", "dots": "23.09.1998", "us": "9/23/1998", "us_short": "9/23/98",
        "day_mon": "23 Sep 1998", "month_day": "September 23, 1998", "weekday": "Wednesday, 23 September 1998",
        "ordinal": "the 23rd of September, 1998", "words": "twenty-third of September nineteen ninety-eight",
        "weekday_words": "Wednesday, the twenty-third of September, nineteen ninety-eight"}
    assert seq2seq.format_date(datetime.date(2005, 1, 2), "us_short") == "1/2/05"
    with pytest.raises(ValueError, match="unknown style"):
        seq2seq.format_date(date, "roman")


def test_date_pairs_are_reproducible_and_correct():
    inputs, targets = seq2seq.date_pairs(500, seed=3)
    again, _ = seq2seq.date_pairs(500, seed=3)
    assert inputs == again and len(targets) == 500
    for written, iso in zip(inputs, targets):
        date = datetime.date.fromisoformat(iso)
        assert seq2seq.FIRST <= date <= seq2seq.LAST
        assert written in {seq2seq.format_date(date, s) for s in seq2seq.STYLES}
    only, _ = seq2seq.date_pairs(50, seed=0, styles=["dots"])
    assert all(len(s) == 10 and s[2] == "." for s in only)
    with pytest.raises(ValueError):
        seq2seq.date_pairs(5, seed=0, styles=["nope"])


def test_vocabulary_and_encoding():
    vocab = seq2seq.char_vocabulary(["ba", "c"])
    assert vocab.tokens[:3] == ["<pad>", "<unk>", seq2seq.START] and vocab.tokens[3:] == ["a", "b", "c"]
    x = seq2seq.encode(["ab", "c"], vocab, 4, side="pre")
    np.testing.assert_array_equal(x, [[0, 0, 3, 4], [0, 0, 0, 5]])
    y = seq2seq.encode(["abc"], vocab, 3, start=True)
    np.testing.assert_array_equal(y, [[2, 3, 4]])
    with pytest.raises(ValueError, match="longer"):
        seq2seq.encode(["abcde"], vocab, 4)


def _numpy_attention(query, keys, wq, wk, b, v, mask):
    scores = np.tanh((query @ wq)[:, :, None] + (keys @ wk + b)[:, None]) @ v
    scores = np.where(mask[:, None], scores, -np.inf)
    w = np.exp(scores - scores.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return w @ keys, w


def test_additive_attention_matches_numpy_and_ignores_padding():
    rng = np.random.default_rng(0)
    query, keys = rng.normal(size=(2, 3, 5)).astype("float32"), rng.normal(size=(2, 6, 4)).astype("float32")
    mask = np.array([[False, False, True, True, True, True], [True] * 6])
    layer = seq2seq.AdditiveAttention(7)
    contexts, weights = (keras.ops.convert_to_numpy(t) for t in layer(query, keys, mask))
    wq, wk, b, v = (keras.ops.convert_to_numpy(w) for w in (layer.w_query.kernel, layer.w_key.kernel,
                                                             layer.w_key.bias, layer.v.kernel))
    ref_c, ref_w = _numpy_attention(query, keys, wq, wk, b, v[:, 0], mask)
    np.testing.assert_allclose(weights, ref_w, atol=1e-5)
    np.testing.assert_allclose(contexts, ref_c, atol=1e-5)
    assert weights[0, :, :2].max() == 0.0
    assert len(layer.trainable_weights) == 4
    again = seq2seq.AdditiveAttention.from_config(layer.get_config())
    assert again.units == 7


def _markov_step(table):
    """A toy decoder whose next-token log-probabilities depend on the previous token only (state unused)."""
    def step(tokens, state, *constants):
        return table[tokens], state
    return step


def _brute_force_best(table, start, length):
    vocab = table.shape[1]
    best, best_score = None, -np.inf
    for code in range(vocab ** length):
        seq = [(code // vocab ** i) % vocab for i in reversed(range(length))]
        score, prev = 0.0, start
        for tok in seq:
            score += table[prev, tok]
            prev = tok
        if score > best_score:
            best, best_score = seq, score
    return best, best_score


def test_greedy_and_beam_search_on_a_toy_decoder():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=2.0, size=(4, 4))
    table = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    step = _markov_step(table)
    state = np.zeros((1, 3))
    best, best_score = _brute_force_best(table, 0, 4)
    tokens, score = seq2seq.beam_search(step, state, start_id=0, length=4, beam_width=16)
    assert tokens[0].tolist() == best and np.isclose(score[0], best_score)
    greedy, g_score = seq2seq.greedy_decode(step, state, start_id=0, length=4)
    one, one_score = seq2seq.beam_search(step, state, start_id=0, length=4, beam_width=1)
    assert greedy.tolist() == one.tolist() and np.allclose(g_score, one_score)
    assert g_score[0] <= best_score + 1e-12


def test_beam_search_keeps_examples_apart_and_reorders_constants():
    # the step reads its constant (one number per row) to pick a favourite token: rows must stay with their example
    def step(tokens, state, favourite):
        log_probs = np.full((len(tokens), 5), np.log(0.05))
        log_probs[np.arange(len(tokens)), favourite.astype(int)] = np.log(0.8)
        return log_probs, state
    favourites = np.array([1, 4, 2])
    tokens, _ = seq2seq.beam_search(step, np.zeros((3, 2)), (favourites,), start_id=0, length=3, beam_width=3)
    np.testing.assert_array_equal(tokens, np.repeat(favourites[:, None], 3, axis=1))


def test_exact_match_by_length():
    pred, true = ["a", "b", "c", "dd"], ["a", "x", "c", "d"]
    got = seq2seq.exact_match_by_length(pred, true, [1, 5, 5, 12], [0, 5, 10, 20, 30])
    assert got[:3] == [1.0, 0.5, 0.0] and np.isnan(got[3])
    with pytest.raises(ValueError):
        seq2seq.exact_match_by_length(pred, true, [1, 2], [0, 5])
    with pytest.raises(ValueError):
        seq2seq.exact_match_by_length(pred, true, [1, 2, 3, 4], [5, 0])

"""Chapter 13's tagging and parsing pieces: features, encoder, baselines, arc scorer, tree decoding, arc drawing."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest

from dlbook_utils import tagging
from tests.conftest import ROOT, load_nb

NOTEBOOK = ROOT / "chapters" / "13_sequence_labelling.ipynb"


@pytest.mark.parametrize("fn", [tagging.word_shape, tagging.token_features, tagging.build_tagger,
                                tagging.BiaffineArcScorer, tagging.find_cycle, tagging.chu_liu_edmonds])
def test_the_chapter_shows_the_package_code(fn):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    assert any(inspect.getsource(fn).rstrip("\n") in s for s in sources), f"chapter 13 should show {fn.__name__}"


def test_word_shape_and_features():
    assert [tagging.word_shape(w) for w in ("Vinken", "U.S.", "1,000", "board", "IBM", "-")] == \
        ["Xx", "X.X.", "d,d", "x", "X", "-"]
    f = tagging.token_features(["The", "Boards"])
    assert f == {"word": ["the", "boards"], "suffix": ["the", "rds"], "shape": ["Xx", "Xx"]}


def test_encoder_round_trip_padding_and_unknown_words():
    sents, tags = [["The", "cat", "sat"], ["The", "dog"]], [["DT", "NN", "VBD"], ["DT", "NN"]]
    enc = tagging.FeatureEncoder.build(sents, tags, min_count=2)
    assert enc.tags == ["DT", "NN", "VBD"] and enc.sizes()["word"] == 3        # pad, unk, "the"
    x = enc.encode([["The", "zebra", "sat", "down"]], 3)
    assert x["word"].tolist() == [[2, 1, 1]] and x["word"].dtype == np.int32
    y = enc.encode_tags(tags, 4)
    assert y.tolist() == [[1, 2, 3, 0], [1, 2, 0, 0]]
    assert enc.decode_tags(y, [3, 2]) == tags


def test_most_frequent_tag_and_next_word_baselines():
    base = tagging.MostFrequentTag([["a", "b", "a"], ["a"]], [["X", "Y", "X"], ["Z"]])
    assert base.predict([["a", "b", "c"]]) == [["X", "Y", "X"]]
    assert tagging.next_word_heads(4) == [2, 3, 4, 0] and tagging.next_word_heads(0) == []


def _tree_score(scores, heads):
    return sum(scores[d, h] for d, h in enumerate(heads, start=1))


def test_chu_liu_edmonds_finds_the_best_tree_by_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(150):
        n = int(rng.integers(1, 6))
        scores = rng.standard_normal((n + 1, n + 1))
        heads = tagging.chu_liu_edmonds(scores)
        assert tagging.find_cycle(heads) is None and all(h != d for d, h in enumerate(heads, start=1))
        trees = [h for h in itertools.product(range(n + 1), repeat=n)
                 if all(x != d for d, x in enumerate(h, start=1)) and tagging.find_cycle(h) is None]
        assert _tree_score(scores, heads) == pytest.approx(max(_tree_score(scores, t) for t in trees))


def test_greedy_heads_find_cycle_and_projectivity():
    scores = np.array([[0, 0, 0], [0, 9, 5], [0, 5, 9.0]])        # each word prefers the other (never itself)
    assert tagging.greedy_heads(scores) == [2, 1]
    assert sorted(tagging.find_cycle([2, 1])) == [1, 2] and tagging.find_cycle([2, 0]) is None
    assert sorted(tagging.find_cycle([0, 3, 4, 2])) == [2, 3, 4]
    assert tagging.is_projective([2, 0, 2]) and not tagging.is_projective([3, 4, 0, 3])


@pytest.mark.backends
def test_tagger_and_parser_shapes():
    tagger = tagging.build_tagger({"word": 10, "suffix": 7, "shape": 5}, 4, word_dim=4, feature_dim=2, units=3)
    x = {k: np.array([[2, 3, 0]], dtype="int32") for k in ("word", "suffix", "shape")}
    assert tuple(tagger.predict(x, verbose=0).shape) == (1, 3, 5)
    parser = tagging.build_parser(10, 6, word_dim=4, tag_dim=2, units=3, arc_units=5)
    words = np.array([[2, 3, 4, 0]], dtype="int32")
    scores = np.asarray(parser.predict([words, words], verbose=0))
    assert scores.shape == (1, 4, 4) and (scores[0, :, 3] < -1e8).all() and (scores[0, :, :3] > -1e8).all()


def test_draw_arcs_draws_one_arc_per_non_root_word():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    tagging.draw_arcs(ax, ["a", "b", "c"], [2, 0, 2])
    tagging.draw_arcs(ax, ["a", "b", "c"], [2, 0, 1], below=True, wrong=[False, False, True])
    assert len(ax.patches) == 4 and ax.get_ylim()[0] < -2 and ax.get_ylim()[1] > 2
    plt.close(fig)

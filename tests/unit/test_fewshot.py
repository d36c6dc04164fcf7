"""Unit tests for dlbook_utils.fewshot (chapter 18's generated in-context tasks, episodes and prototypical networks)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from dlbook_utils import fewshot

from tests.conftest import ROOT, load_nb

NOTEBOOK = ROOT / "chapters" / "18_prompting_in_context_learning.ipynb"


@pytest.mark.parametrize("obj", [fewshot.draw_tasks, fewshot.sample_episode, fewshot.prototypes,
                                 fewshot.squared_distances, fewshot.nearest_prototype, fewshot.prototypical_loss])
def test_the_chapter_shows_the_package_code(obj):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    code = inspect.getsource(obj).rstrip("\n")
    assert any(code in s for s in sources), f"chapter 18 should show {obj.__name__} as in the package"


def test_draw_tasks_keeps_one_mapping_per_sequence():
    rng = np.random.default_rng(0)
    default = np.array([0, 1, 2, 3, 0, 1])
    symbols, labels, uses_default = fewshot.draw_tasks(400, 20, n_symbols=6, n_labels=4, rng=rng,
                                                       default=default, default_share=0.3)
    assert symbols.shape == labels.shape == (400, 20) and uses_default.shape == (400,)
    assert symbols.min() >= 0 and symbols.max() < 6 and labels.min() >= 0 and labels.max() < 4
    for s, l in zip(symbols, labels):
        for symbol in np.unique(s):
            assert len(np.unique(l[s == symbol])) == 1          # one label per symbol within a sequence
    assert np.array_equal(labels[uses_default], default[symbols[uses_default]])
    assert 0.2 < uses_default.mean() < 0.4
    assert not np.array_equal(labels[~uses_default], default[symbols[~uses_default]])


def test_draw_tasks_rejects_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        fewshot.draw_tasks(5, 4, n_symbols=4, n_labels=1, rng=rng)
    with pytest.raises(ValueError):
        fewshot.draw_tasks(5, 4, n_symbols=4, n_labels=2, rng=rng, default_share=0.5)
    with pytest.raises(ValueError):
        fewshot.draw_tasks(5, 4, n_symbols=4, n_labels=2, rng=rng, default=np.zeros(3, int), default_share=0.5)


def test_prompt_tokens_layout_with_and_without_separators():
    symbols, labels = np.array([[0, 2, 1]]), np.array([[1, 0, 1]])
    tokens, positions = fewshot.prompt_tokens(symbols, labels, n_symbols=3, n_labels=2)
    assert tokens.tolist() == [[1, 5, 3, 4, 2, 5]] and positions.tolist() == [0, 2, 4]
    tokens, positions = fewshot.prompt_tokens(symbols, labels, n_symbols=3, n_labels=2, separator=True)
    assert tokens.tolist() == [[1, 5, 6, 3, 4, 6, 2, 5, 6]] and positions.tolist() == [0, 3, 6]
    assert tokens.max() < fewshot.vocabulary_size(3, 2)
    with pytest.raises(ValueError):
        fewshot.prompt_tokens(symbols, labels, n_symbols=2, n_labels=2)
    with pytest.raises(ValueError):
        fewshot.prompt_tokens(symbols, labels[:, :2], n_symbols=3, n_labels=2)


def test_sample_episode_is_valid():
    labels = np.repeat(np.arange(6), 25)
    rng = np.random.default_rng(1)
    for _ in range(50):
        support, query = fewshot.sample_episode(labels, [0, 2, 3, 4, 5], 4, 3, 5, rng)
        assert support.shape == (4, 3) and query.shape == (4, 5)
        both = np.concatenate([support, query], axis=1)
        assert len(np.unique(both)) == both.size
        assert np.all(labels[both] == labels[both][:, :1])
        assert len(set(labels[both][:, 0])) == 4 and 1 not in labels[both]
    with pytest.raises(ValueError):
        fewshot.sample_episode(labels, [0, 1], 3, 1, 1, rng)
    with pytest.raises(ValueError):
        fewshot.sample_episode(labels, [0, 1], 2, 20, 10, rng)


def test_episode_batch_layout():
    x = np.arange(60)[:, None] * np.ones((1, 3))
    labels = np.repeat(np.arange(6), 10)
    xs, ys = fewshot.episode_batch(x, labels, [0, 1, 2, 3], 4, 3, 2, 4, np.random.default_rng(0))
    assert xs.shape == (4 * 3 * 6, 3) and ys.shape == (4 * 3 * 6,)
    per = 3 * 6
    for e in range(4):
        ep_labels = labels[xs[e * per:(e + 1) * per, 0].astype(int)]
        local = ys[e * per:(e + 1) * per]
        assert local.tolist() == [0, 0, 1, 1, 2, 2] + [0] * 4 + [1] * 4 + [2] * 4
        for c in range(3):                                  # one true class for each episode class number
            assert len(np.unique(ep_labels[local == c])) == 1


def test_prototypes_and_nearest_prototype():
    support = np.array([[[0.0, 0.0], [2.0, 0.0]], [[10.0, 10.0], [10.0, 12.0]]])
    assert np.allclose(fewshot.prototypes(support), [[1, 0], [10, 11]])
    queries = np.array([[1.0, 1.0], [9.0, 9.0], [6.0, 5.0]])
    assert np.allclose(fewshot.squared_distances(queries, [[1, 0], [10, 11]]), [[1, 181], [145, 5], [50, 52]])
    assert fewshot.nearest_prototype(support, queries).tolist() == [0, 1, 0]
    with pytest.raises(ValueError):
        fewshot.prototypes(support[0])


def test_prototypical_loss_matches_numpy():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    n_way, k_shot, n_query, d = 3, 2, 4, 5
    embeddings = rng.normal(size=(n_way * (k_shot + n_query), d)).astype("float32")
    y = np.concatenate([np.repeat(np.arange(n_way), k_shot), np.repeat(np.arange(n_way), n_query)])
    got = keras.ops.convert_to_numpy(fewshot.prototypical_loss(n_way, k_shot)(y, embeddings))
    logits = -fewshot.squared_distances(embeddings[n_way * k_shot:],
                                        fewshot.prototypes(embeddings[:n_way * k_shot].reshape(n_way, k_shot, d)))
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    expected = -log_p[np.arange(len(logits)), y[n_way * k_shot:]]
    assert np.allclose(got, expected, atol=1e-4)


def test_episode_accuracies_and_interval():
    labels = np.repeat(np.arange(5), 30)
    separable = np.eye(5)[labels] * 10 + np.random.default_rng(0).normal(size=(150, 5)) * 0.1
    accs = fewshot.episode_accuracies(separable, labels, range(5), 20, 5, 3, 4, np.random.default_rng(1))
    assert accs.shape == (20,) and np.all(accs == 1.0)
    noise = np.random.default_rng(2).normal(size=(150, 5))
    accs = fewshot.episode_accuracies(noise, labels, range(5), 300, 5, 3, 4, np.random.default_rng(1))
    mean, half = fewshot.mean_and_interval(accs)
    assert abs(mean - 0.2) < 0.05 and 0 < half < 0.05
    with pytest.raises(ValueError):
        fewshot.mean_and_interval([0.5])

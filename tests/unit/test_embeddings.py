"""Unit tests for dlbook_utils.embeddings (chapter 11's Word2Vec pieces)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from dlbook_utils import embeddings

from tests.conftest import ROOT, load_nb

NOTEBOOK = ROOT / "chapters" / "11_word_embeddings.ipynb"


@pytest.mark.parametrize("fn", [embeddings.skipgram_pairs, embeddings.discard_probability,
                                embeddings.noise_distribution, embeddings.with_negatives,
                                embeddings.skipgram_model, embeddings.unit_rows, embeddings.nearest,
                                embeddings.analogy])
def test_the_chapter_shows_the_package_code(fn):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    assert any(inspect.getsource(fn).rstrip("\n") in s for s in sources), f"chapter 11 should show {fn.__name__}"


def test_discard_probability_follows_the_formula():
    counts = np.array([0, 1_000_000, 10_000, 100, 1])
    p = embeddings.discard_probability(counts, t=1e-3)
    share = counts / counts.sum()
    assert p[0] == 0.0 and p[-1] == 0.0                          # unseen and rare words are kept
    np.testing.assert_allclose(p[1], 1 - np.sqrt(1e-3 / share[1]))
    assert np.all(np.diff(p[1:]) <= 0)


def test_noise_distribution_sums_to_one_and_flattens():
    counts = np.array([0, 1000, 100, 10, 1])
    noise = embeddings.noise_distribution(counts)
    assert noise[0] == 0 and abs(noise.sum() - 1) < 1e-12
    np.testing.assert_allclose(noise[1] / noise[2], 10**0.75)
    np.testing.assert_allclose(embeddings.noise_distribution(counts, power=1.0)[1:], counts[1:] / counts.sum())
    np.testing.assert_allclose(embeddings.noise_distribution(counts, power=0.0)[1:], 0.25)


def test_skipgram_pairs_with_a_full_window_and_documents():
    ids = np.arange(6)

    class Widest:                                   # every target draws the largest window
        def integers(self, low, high, size):
            return np.full(size, high - 1)

    t, c = embeddings.skipgram_pairs(ids, 2, Widest())
    pairs = set(zip(t.tolist(), c.tolist()))
    assert pairs == {(i, j) for i in ids for j in ids if 0 < abs(i - j) <= 2}
    assert len(t) == len(pairs)
    t, c = embeddings.skipgram_pairs(ids, 2, Widest(), doc_ids=np.array([0, 0, 0, 1, 1, 1]))
    assert all((i < 3) == (j < 3) for i, j in zip(t, c))


def test_skipgram_pairs_dynamic_window_favours_near_words():
    rng = np.random.default_rng(0)
    ids = np.arange(20_000)
    t, c = embeddings.skipgram_pairs(ids, 4, rng)
    distance = np.abs(t - c)
    assert distance.min() == 1 and distance.max() == 4
    share = np.bincount(distance)[1:] / np.sum(distance == 1)
    np.testing.assert_allclose(share, [1, 0.75, 0.5, 0.25], atol=0.03)   # P(window >= j) = (W - j + 1) / W


def test_with_negatives_puts_the_context_first():
    rng = np.random.default_rng(0)
    noise = embeddings.noise_distribution(np.array([0, 0, 50, 30, 20]))
    contexts = np.array([2, 3, 4])
    cand = embeddings.with_negatives(contexts, noise, 4, rng)
    assert cand.shape == (3, 5) and cand.dtype == np.int32
    np.testing.assert_array_equal(cand[:, 0], contexts)
    assert set(cand[:, 1:].ravel()) <= {2, 3, 4}


def test_skipgram_model_computes_dot_products():
    pytest.importorskip("keras")
    import keras

    model = embeddings.skipgram_model(20, 3)
    t = np.array([1, 5], dtype="int32")
    cand = np.array([[2, 3, 4], [5, 6, 7]], dtype="int32")
    logits = keras.ops.convert_to_numpy(model((t, cand)))
    W = model.get_layer("word_vectors").get_weights()[0]
    C = model.get_layer("context_vectors").get_weights()[0]
    np.testing.assert_allclose(logits, np.einsum("bd,bkd->bk", W[t], C[cand]), atol=1e-6)


def test_nearest_and_analogy_exclude_and_find():
    vectors = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [0.9, 0.1, 0], [0.1, 1.0, 0.05]])
    assert embeddings.nearest(vectors, vectors[0], 1, exclude=[0]).tolist() == [4]
    assert embeddings.nearest(vectors, vectors[0], 2).tolist() == [0, 4]
    # 0 : 1 :: 4 : ? -> nearest to e1 - e0 + (0.9, 0.1), the query words excluded
    answer = embeddings.analogy(vectors, 0, 1, 4, k=1)
    assert answer.tolist() == [5]
    np.testing.assert_allclose(np.linalg.norm(embeddings.unit_rows(vectors), axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(embeddings.pair_similarity(vectors, np.array([[0, 4], [0, 3]])),
                               [0.9 / np.sqrt(0.82), 0.0], atol=1e-6)


def test_cooccurrence_and_ppmi_match_dense_versions():
    ids = np.array([0, 1, 2, 1, 0, 2, 2, 1, -1, 0])
    docs = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    counts = embeddings.cooccurrence_matrix(ids, 3, 2, docs).toarray()
    dense = np.zeros((3, 3))
    for i in range(len(ids)):
        for j in range(i + 1, min(i + 3, len(ids))):
            if ids[i] >= 0 and ids[j] >= 0 and docs[i] == docs[j]:
                dense[ids[i], ids[j]] += 1
                dense[ids[j], ids[i]] += 1
    np.testing.assert_array_equal(counts, dense)
    ppmi = embeddings.sparse_ppmi(embeddings.cooccurrence_matrix(ids, 3, 2, docs)).toarray()
    total = dense.sum()
    pc = dense.sum(0) ** 0.75
    with np.errstate(divide="ignore"):
        expected = np.maximum(np.log(dense / total / np.outer(dense.sum(1) / total, pc / pc.sum())), 0)
    np.testing.assert_allclose(ppmi, expected, rtol=1e-5)


def test_write_projector_tsv(tmp_path):
    vectors = np.arange(6, dtype=float).reshape(3, 2) / 7
    v, m = embeddings.write_projector_tsv(tmp_path / "out", vectors, ["a", "b", "c"], columns={"count": [3, 2, 1]})
    np.testing.assert_allclose(np.loadtxt(v, delimiter="\t"), vectors, atol=1e-5)
    assert m.read_text().splitlines() == ["word\tcount", "a\t3", "b\t2", "c\t1"]
    _, m = embeddings.write_projector_tsv(tmp_path / "plain", vectors, ["a", "b", "c"])
    assert m.read_text().splitlines() == ["a", "b", "c"]
    with pytest.raises(ValueError):
        embeddings.write_projector_tsv(tmp_path, vectors, ["a", "b"])
    with pytest.raises(ValueError):
        embeddings.write_projector_tsv(tmp_path, vectors, ["a", "b\tx", "c"])

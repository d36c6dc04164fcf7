"""Unit tests for dlbook_utils.transformer (chapter 15's attention, positions and transformer blocks)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlbook_utils import transformer  # noqa: E402

from tests.conftest import ROOT, load_nb  # noqa: E402

NOTEBOOK = ROOT / "chapters" / "15_transformers.ipynb"


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("obj", [transformer.PositionalEmbedding, transformer.TransformerBlock])
def test_the_chapter_shows_the_package_code(obj):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    assert inspect.getsource(obj).rstrip("\n") in sources, f"chapter 15 should show {obj.__name__} as in the package"


def _reference_attention(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ v, weights


def test_attention_matches_numpy_with_and_without_a_mask():
    q, k, v = _x((2, 3, 5, 4), 1), _x((2, 3, 7, 4), 2), _x((2, 3, 7, 6), 3)
    mask = np.random.default_rng(4).random((2, 1, 5, 7)) < 0.6
    mask[..., 0] = True                                   # every query sees at least one key
    for m in (None, mask):
        out, w = transformer.scaled_dot_product_attention(q, k, v, m)
        ref_out, ref_w = _reference_attention(q, k, v, m)
        np.testing.assert_allclose(_np(out), ref_out, atol=1e-5)
        np.testing.assert_allclose(_np(w), ref_w, atol=1e-6)
    assert np.all(_np(w)[~np.broadcast_to(mask, w.shape)] < 1e-8)


def test_causal_and_padding_masks():
    np.testing.assert_array_equal(_np(transformer.causal_mask(4)), np.tril(np.ones((4, 4), bool)))
    ids = np.array([[5, 6, 0, 0], [7, 0, 0, 0]])
    pm = _np(transformer.padding_mask(ids))
    assert pm.shape == (2, 1, 4) and pm.dtype == bool
    np.testing.assert_array_equal(pm[:, 0], ids != 0)


def test_sinusoidal_positions():
    p = transformer.sinusoidal_positions(50, 16)
    assert p.shape == (50, 16) and p.dtype == np.float32
    np.testing.assert_allclose(p[0, 0::2], 0) and np.testing.assert_allclose(p[0, 1::2], 1)
    np.testing.assert_allclose(p[7, 2], np.sin(7 / 10000 ** (2 / 16)), rtol=1e-6)
    np.testing.assert_allclose(p[7, 3], np.cos(7 / 10000 ** (2 / 16)), rtol=1e-6)
    with pytest.raises(ValueError):
        transformer.sinusoidal_positions(10, 7)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_positional_embedding(positions):
    layer = transformer.PositionalEmbedding(30, 12, 8, positions=positions, mask_zero=True)
    ids = np.array([[3, 4, 5, 0, 0], [9, 0, 0, 0, 0]])
    y = _np(layer(ids))
    assert y.shape == (2, 5, 8)
    np.testing.assert_array_equal(_np(layer.compute_mask(ids)), ids != 0)
    tokens = _np(layer.tokens.embeddings)
    np.testing.assert_allclose(y[0, 1] - tokens[4], _np(layer.position_table.embeddings)[1], atol=1e-6)
    if positions == "sinusoidal":
        np.testing.assert_allclose(_np(layer.position_table.embeddings), transformer.sinusoidal_positions(12, 8))
        assert len(layer.trainable_weights) == 1
    with pytest.raises(ValueError):
        transformer.PositionalEmbedding(30, 12, 8, positions="rotary")


def _model(causal=False, norm="post", seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,), dtype="int32")
    x = transformer.PositionalEmbedding(40, 6, 16, mask_zero=not causal)(inputs)
    x = transformer.TransformerBlock(16, heads=4, ff_dim=32, norm=norm, causal=causal)(x)
    x = transformer.TransformerBlock(16, heads=2, ff_dim=32, norm=norm, causal=causal)(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_block_shapes_and_padding_is_ignored(norm):
    model = _model(norm=norm)
    ids = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 11, 0, 0, 0]])
    y = _np(model(ids, training=False))
    assert y.shape == (2, 6, 16)
    # Changing what sits under the padding (the embedding of id 0 itself) leaves the real positions unchanged.
    block = model.layers[2]
    x = _np(model.layers[1](ids))
    mask = ids != 0
    x2 = x.copy()
    x2[~mask] = _x(x2[~mask].shape, 5)
    a, b = _np(block(x, mask=mask, training=False)), _np(block(x2, mask=mask, training=False))
    np.testing.assert_allclose(a[mask], b[mask], atol=1e-5)
    assert not np.allclose(a[~mask], b[~mask], atol=1e-3)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_causal_block_does_not_look_ahead(norm):
    model = _model(causal=True, norm=norm)
    ids = np.array([[5, 6, 7, 8, 9, 10]])
    later = ids.copy()
    later[0, 4:] = [30, 31]
    a, b = _np(model(ids, training=False)), _np(model(later, training=False))
    np.testing.assert_allclose(a[0, :4], b[0, :4], atol=1e-5)
    assert not np.allclose(a[0, 4:], b[0, 4:], atol=1e-3)


def test_attention_scores_are_returned_and_respect_the_causal_mask():
    block = transformer.TransformerBlock(8, heads=2, ff_dim=16, causal=True)
    y, scores = block(_x((3, 5, 8)), return_attention_scores=True)
    scores = _np(scores)
    assert tuple(y.shape) == (3, 5, 8) and scores.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(scores.sum(-1), 1, atol=1e-5)
    assert np.all(scores[..., ~np.tril(np.ones((5, 5), bool))] < 1e-7)


def test_block_rejects_bad_arguments():
    with pytest.raises(ValueError):
        transformer.TransformerBlock(10, heads=3, ff_dim=8)
    with pytest.raises(ValueError):
        transformer.TransformerBlock(8, heads=2, ff_dim=8, norm="middle")


@pytest.mark.parametrize("causal", [False, True])
def test_save_and_load_round_trip(tmp_path, causal):
    model = _model(causal=causal, norm="pre")
    ids = np.array([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]])
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(_np(loaded(ids, training=False)), _np(model(ids, training=False)), atol=1e-6)
    block = loaded.layers[2]
    assert isinstance(block, transformer.TransformerBlock)
    assert block.get_config()["causal"] is causal and block.get_config()["norm"] == "pre"


def test_a_classifier_trains_with_fit():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 20, size=(256, 8))
    y = (ids == 3).any(axis=1).astype("float32")           # does token 3 occur anywhere?
    inputs = keras.Input((8,), dtype="int32")
    x = transformer.PositionalEmbedding(20, 8, 16)(inputs)
    x = transformer.TransformerBlock(16, heads=2, ff_dim=32, dropout=0.0)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalMaxPooling1D()(x))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(ids, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


def test_mask_tokens_80_10_10():
    rng = np.random.default_rng(1)
    ids = rng.integers(2, 500, size=(400, 100))
    ids[:, 80:] = 0
    inputs, targets, weights = transformer.mask_tokens(ids, mask_id=500, vocab_size=500, seed=3)
    np.testing.assert_array_equal(targets, ids)
    chosen = weights > 0
    assert not chosen[ids == 0].any() and np.all(inputs[ids == 0] == 0)
    assert abs(chosen[ids != 0].mean() - 0.15) < 0.01
    assert np.array_equal(inputs[~chosen], ids[~chosen])
    masked = (inputs == 500)[chosen].mean()
    kept = (inputs == ids)[chosen].mean()
    assert abs(masked - 0.8) < 0.02 and abs(kept - 0.1 - 0.1 / 498) < 0.02
    assert inputs[chosen & (inputs != 500)].min() >= 2
    again = transformer.mask_tokens(ids, mask_id=500, vocab_size=500, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (inputs, targets, weights)))

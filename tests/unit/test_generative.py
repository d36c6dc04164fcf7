"""Tests for dlbook_utils.generative: the GAN model, the DCGAN networks and the evaluation helpers."""

from __future__ import annotations

import ast
import inspect
import textwrap

import keras
import numpy as np
import pytest

from dlbook_utils import generative

from tests.conftest import ROOT, load_nb

pytestmark = pytest.mark.backends   # also run in make test's JAX pass

NOTEBOOK = ROOT / "chapters" / "10_gans.ipynb"


def _without_docstrings(tree: ast.AST) -> str:
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@pytest.mark.parametrize("name, first_line", [("TwoPlayerModel", "class TwoPlayerModel(keras.Model):"),
                                               ("GAN", "class GAN(TwoPlayerModel):")])
def test_the_notebook_teaches_the_package_gan_classes(name, first_line):
    cells = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    taught = [c for c in cells if c.startswith(first_line)]
    assert len(taught) == 1, f"the chapter defines {name} in exactly one cell"
    package = textwrap.dedent(inspect.getsource(getattr(generative, name)))
    assert _without_docstrings(ast.parse(taught[0])) == _without_docstrings(ast.parse(package)), \
        f"chapters/10_gans.ipynb and dlbook_utils.generative.{name} differ"


def _compiled(gan, lr=1e-3):
    gan.compile(d_optimizer=keras.optimizers.Adam(lr, beta_1=0.5), g_optimizer=keras.optimizers.Adam(lr, beta_1=0.5))
    return gan


def _mlp(n_in, n_out):
    return keras.Sequential([keras.Input(shape=(n_in,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(n_out)])


def test_unconditional_training_logs_both_players_and_moves_the_generator_only_by_its_step():
    keras.utils.set_random_seed(0)
    gan = _compiled(generative.GAN(_mlp(3, 1), _mlp(1, 1), latent_dim=3, seed=1))
    x = np.random.default_rng(0).normal(2.0, 0.5, size=(256, 1)).astype("float32")
    before_g = [w.copy() for w in gan.generator.get_weights()]
    before_d = [w.copy() for w in gan.discriminator.get_weights()]
    history = gan.fit(x, batch_size=64, epochs=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    for values in history.history.values():
        assert len(values) == 2 and all(np.isfinite(values))
    assert all(0 <= v <= 1 for v in history.history["d_real"] + history.history["d_fake"])
    assert any(not np.allclose(a, b) for a, b in zip(before_g, gan.generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(before_d, gan.discriminator.get_weights()))
    assert gan(np.zeros((5, 3), dtype="float32")).shape == (5, 1)


def test_the_discriminator_learns_to_separate_a_fixed_bad_generator():
    # With the generator's learning rate at zero, d_real must rise and d_fake fall: the losses push the right way.
    keras.utils.set_random_seed(0)
    gan = generative.GAN(_mlp(2, 1), _mlp(1, 1), latent_dim=2, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.SGD(0.0))
    x = np.full((512, 1), 5.0, dtype="float32")
    history = gan.fit(x, batch_size=64, epochs=8, verbose=0)
    assert history.history["d_real"][-1] > 0.9 and history.history["d_fake"][-1] < 0.15
    assert history.history["d_fake"][-1] < history.history["d_fake"][0]


def test_label_smoothing_caps_the_verdict_on_real_samples():
    keras.utils.set_random_seed(0)
    gan = generative.GAN(_mlp(2, 1), _mlp(1, 1), latent_dim=2, real_label=0.7, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.SGD(0.0))
    history = gan.fit(np.full((512, 1), 5.0, dtype="float32"), batch_size=64, epochs=4, verbose=0)
    assert 0.6 < history.history["d_real"][-1] < 0.8


def test_conditional_dcgan_networks_and_one_training_round():
    g = generative.dcgan_generator(16, num_classes=10)
    d = generative.dcgan_discriminator(num_classes=10)
    assert [tuple(i.shape) for i in g.inputs] == [(None, 16), (None,)]
    assert g.output_shape == (None, 28, 28, 1) and d.output_shape == (None, 1)
    gan = _compiled(generative.GAN(g, d, latent_dim=16), lr=2e-4)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(64, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=64)
    grid = generative.SampleGrid(rng.normal(size=(20, 16)), labels=np.repeat(np.arange(10), 2))
    gan.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[grid])
    assert [epoch for epoch, _ in grid.snapshots] == [0, 1, 2]
    samples = grid.snapshots[-1][1]
    assert samples.shape == (20, 28, 28, 1) and samples.min() >= -1 and samples.max() <= 1
    assert not np.allclose(grid.snapshots[0][1], samples)


def test_unconditional_networks_sizes_and_minibatch_std_option():
    g, d = generative.dcgan_generator(64), generative.dcgan_discriminator()
    assert g.output_shape == (None, 28, 28, 1) and g.count_params() == 246_657
    assert d.count_params() == 36_513
    d_std = generative.dcgan_discriminator(minibatch_std=True)
    assert any(isinstance(layer, generative.MinibatchStdDev) for layer in d_std.layers)
    assert d_std.count_params() == d.count_params() + 4 * 4 * 64


def test_training_under_mixed_precision_keeps_float32_outputs_and_finite_losses():
    before = keras.mixed_precision.global_policy().name
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        g, d = generative.dcgan_generator(8), generative.dcgan_discriminator()
        gan = generative.GAN(g, d, latent_dim=8)
        gan.compile(d_optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(2e-4)),
                    g_optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(2e-4)))
        x = np.random.default_rng(0).uniform(-1, 1, size=(32, 28, 28, 1)).astype("float32")
        history = gan.fit(x, batch_size=16, epochs=1, verbose=0)
        assert all(np.isfinite(v[-1]) for v in history.history.values())
        assert keras.backend.standardize_dtype(gan(np.zeros((2, 8), "float32")).dtype) == "float32"
    finally:
        keras.mixed_precision.set_global_policy(before)


def test_minibatch_stddev_appends_the_mean_batch_spread():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5, 5, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(generative.MinibatchStdDev()(x))
    assert out.shape == (6, 5, 5, 4)
    np.testing.assert_allclose(out[..., :3], x)
    np.testing.assert_allclose(out[..., 3], np.sqrt(x.var(axis=0) + 1e-8).mean(), rtol=1e-5)
    flat = rng.normal(size=(4, 7)).astype("float32")
    same = np.repeat(flat[:1], 4, axis=0)
    assert keras.ops.convert_to_numpy(generative.MinibatchStdDev()(same))[0, -1] < 1e-3
    assert keras.ops.convert_to_numpy(generative.MinibatchStdDev()(flat))[0, -1] > 0.3
    assert generative.MinibatchStdDev().compute_output_shape((None, 7)) == (None, 8)


def test_sample_grid_rejects_bad_arguments():
    with pytest.raises(ValueError, match="every"):
        generative.SampleGrid(np.zeros((2, 3)), every=0)
    with pytest.raises(ValueError, match="labels"):
        generative.SampleGrid(np.zeros((2, 3)), labels=[1, 2, 3])


def test_tile_and_to_pixels():
    images = np.arange(5 * 2 * 3, dtype="float32").reshape(5, 2, 3, 1)
    mosaic = generative.tile(images, ncols=2, pad=1, fill=-1)
    assert mosaic.shape == (3 * 3 - 1, 2 * 4 - 1)
    np.testing.assert_array_equal(mosaic[0:2, 4:7], images[1, ..., 0])
    np.testing.assert_array_equal(mosaic[6:8, 0:3], images[4, ..., 0])
    assert np.all(mosaic[6:8, 4:7] == -1)
    with pytest.raises(ValueError):
        generative.tile(np.zeros((0, 2, 2)), ncols=2)
    with pytest.raises(ValueError):
        generative.tile(np.zeros((2, 2, 2)), ncols=0)
    np.testing.assert_allclose(generative.to_pixels([-1.0, 0.0, 1.0, 1.5]), [0.0, 0.5, 1.0, 1.0])


class _LookupClassifier:
    """A stand-in classifier: the class is the image's first pixel."""

    def predict(self, images, batch_size=None, verbose=0):
        classes = np.asarray(images)[:, 0, 0, 0].astype(int)
        return np.eye(10)[classes]


def test_classifier_score_overall_and_per_class():
    predicted = np.array([0, 0, 1, 2, 2, 2])
    intended = np.array([0, 1, 1, 2, 2, 3])
    images = predicted[:, None, None, None].astype("float32") * np.ones((6, 2, 2, 1), dtype="float32")
    score = generative.classifier_score(_LookupClassifier(), images, intended)
    assert score.overall == pytest.approx(4 / 6)
    np.testing.assert_allclose(score.per_class[:4], [1.0, 0.5, 1.0, 0.0])
    assert np.isnan(score.per_class[4:]).all()
    assert "66.7%" in str(score)
    with pytest.raises(ValueError, match="intended"):
        generative.classifier_score(_LookupClassifier(), images, intended[:3])
    with pytest.raises(ValueError, match="0..9"):
        generative.classifier_score(_LookupClassifier(), images, intended + 7)

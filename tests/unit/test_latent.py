"""Unit tests for dlbook_utils.latent (the VAE pieces of chapter 09)."""

from __future__ import annotations

import ast
import inspect
import json

import keras
import numpy as np
import pytest

from dlbook_utils import latent
from tests.conftest import ROOT

NOTEBOOK = ROOT / "chapters" / "09_autoencoders.ipynb"


def _without_docstrings(node: ast.AST) -> str:
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            n.body = body[1:] or [ast.Pass()]
    return ast.dump(node)


def _notebook_definitions() -> dict[str, str]:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    found: dict[str, str] = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if source.lstrip().startswith(("#@title", "%", "import sys")):
            continue
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found[node.name] = _without_docstrings(node)
    return found


@pytest.mark.parametrize("name", ["Sampling", "gaussian_kl", "bernoulli_nll", "VAE"])
def test_the_notebook_shows_the_library_code(name):
    """Chapter 09 teaches these pieces; the code it shows must be the code readers import."""
    definitions = _notebook_definitions()
    assert name in definitions, f"chapter 09 no longer defines {name}"
    library = ast.parse(inspect.getsource(getattr(latent, name))).body[0]
    assert definitions[name] == _without_docstrings(library), (
        f"{name} in chapters/09_autoencoders.ipynb differs from dlbook_utils.latent.{name}")


def test_sampling_has_the_requested_mean_and_spread_and_is_seeded():
    mean = np.tile(np.array([[1.0, -2.0, 0.0]], dtype="float32"), (20_000, 1))
    log_var = np.tile(np.log(np.array([[1.0, 0.25, 4.0]], dtype="float32")), (20_000, 1))
    z = keras.ops.convert_to_numpy(latent.Sampling(seed=3)([mean, log_var]))
    assert z.shape == mean.shape
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0, 0.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [1.0, 0.5, 2.0], rtol=0.05)
    again = keras.ops.convert_to_numpy(latent.Sampling(seed=3)([mean, log_var]))
    np.testing.assert_array_equal(z, again)
    layer = latent.Sampling(seed=3)
    first = keras.ops.convert_to_numpy(layer([mean[:5], log_var[:5]]))
    second = keras.ops.convert_to_numpy(layer([mean[:5], log_var[:5]]))
    assert not np.allclose(first, second), "each call draws fresh noise"
    assert latent.Sampling.from_config(layer.get_config()).seed == 3


def test_gaussian_kl_closed_form_matches_monte_carlo_and_is_zero_at_the_prior():
    rng = np.random.default_rng(0)
    mean, log_var = np.array([[0.5, -1.0, 2.0]]), np.array([[0.3, -0.7, 0.0]])
    kl = float(keras.ops.convert_to_numpy(latent.gaussian_kl(mean, log_var))[0])
    z = mean + np.exp(0.5 * log_var) * rng.standard_normal((400_000, 3))
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var), axis=1)
    log_p = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=1)
    assert abs(kl - np.mean(log_q - log_p)) < 0.02
    zero = keras.ops.convert_to_numpy(latent.gaussian_kl(np.zeros((4, 2)), np.zeros((4, 2))))
    np.testing.assert_allclose(zero, np.zeros(4), atol=1e-7)


def test_bernoulli_nll_is_summed_binary_cross_entropy_per_example():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(3, 5, 4)).astype("float32")
    logits = rng.normal(size=(3, 5, 4)).astype("float32")
    p = 1 / (1 + np.exp(-logits))
    expected = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2))
    got = keras.ops.convert_to_numpy(latent.bernoulli_nll(x, logits))
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_dense_builders_shapes_and_dtypes():
    encoder = latent.dense_encoder(3, hidden=(16,))
    decoder = latent.dense_decoder(3, hidden=(16,))
    z_mean, z_log_var = encoder(np.zeros((2, 28, 28), dtype="float32"))
    assert tuple(z_mean.shape) == (2, 3) and tuple(z_log_var.shape) == (2, 3)
    logits = decoder(np.zeros((2, 3), dtype="float32"))
    assert tuple(logits.shape) == (2, 28, 28) and keras.backend.standardize_dtype(logits.dtype) == "float32"
    with pytest.raises(ValueError, match="latent_dim"):
        latent.dense_encoder(0)
    with pytest.raises(ValueError, match="hidden"):
        latent.dense_decoder(2, hidden=())
    with pytest.raises(ValueError, match="beta"):
        latent.dense_vae(beta=-1.0)


def test_vae_trains_logs_both_terms_and_improves_the_elbo():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # two prototype "images" with noise: a VAE should quickly learn to reconstruct them
    protos = rng.uniform(size=(2, 8, 8)) > 0.5
    x = np.clip(protos[rng.integers(0, 2, 512)] * 0.9 + 0.05 + 0.05 * rng.standard_normal((512, 8, 8)), 0, 1)
    x = x.astype("float32")
    vae = latent.dense_vae(latent_dim=2, hidden=(32,), input_shape=(8, 8), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = vae.evaluate(x, batch_size=128, verbose=0, return_dict=True)
    history = vae.fit(x, epochs=15, batch_size=64, verbose=0)
    after = vae.evaluate(x, batch_size=128, verbose=0, return_dict=True)
    assert {"loss", "reconstruction", "kl"} <= set(history.history)
    assert after["loss"] < before["loss"] - 10, (before, after)
    assert after["kl"] > 0.1
    np.testing.assert_allclose(after["loss"], after["reconstruction"] + after["kl"], rtol=1e-3)


def test_beta_weights_the_kl_term():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(16, 8, 8)).astype("float32")
    encoder = latent.dense_encoder(2, hidden=(8,), input_shape=(8, 8))
    decoder = latent.dense_decoder(2, hidden=(8,), output_shape=(8, 8))
    losses = {}
    for beta in (0.0, 1.0, 3.0):
        vae = latent.VAE(encoder, decoder, beta=beta, seed=5)
        out = vae(x)
        losses[beta] = float(vae.compute_loss(x, None, out))
        rec = float(keras.ops.mean(latent.bernoulli_nll(x, out["logits"])))
        kl = float(keras.ops.mean(latent.gaussian_kl(out["z_mean"], out["z_log_var"])))
        np.testing.assert_allclose(losses[beta], rec + beta * kl, rtol=1e-5)

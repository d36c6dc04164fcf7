"""Latent-variable models: the variational autoencoder's pieces, written once for the chapters that use them.

Chapter 09 teaches these; later chapters (generative models, anomaly detection) reuse them::

    from dlbook_utils import latent
    vae = latent.dense_vae(latent_dim=2, seed=0)
    vae.compile(optimizer="adam")
    vae.fit(x_train, epochs=30, batch_size=128)         # x: (n, 28, 28) float32 in [0, 1]; logs loss, reconstruction, kl
    z_mean, z_log_var = vae.encoder.predict(x_test)
    images = keras.ops.sigmoid(vae.decoder(z)).numpy()   # the decoder returns pixel logits

* :class:`Sampling` — the reparameterisation trick, ``z = mean + exp(log_var / 2) · ε`` with ``ε ~ N(0, I)``, drawn
  with a :class:`keras.random.SeedGenerator` so that runs are reproducible.
* :func:`gaussian_kl` — the closed-form KL divergence of ``N(mean, diag(exp(log_var)))`` from ``N(0, I)``, per example.
* :func:`bernoulli_nll` — the negative log-likelihood of pixels in [0, 1] under independent Bernoulli pixels given
  by logits (binary cross-entropy summed over the pixels), per example.
* :class:`VAE` — a Keras model that trains an encoder and a decoder on ``reconstruction + beta · KL`` and logs the
  two terms separately. It overrides ``compute_loss`` only, so ``fit``/``evaluate`` work on any Keras backend.
* :func:`dense_encoder`, :func:`dense_decoder`, :func:`dense_vae` — small fully connected builders for 28 × 28 images.

Everything is written with ``keras.ops`` and ``keras.random``; nothing here is specific to TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import layers, ops

__all__ = ["Sampling", "gaussian_kl", "bernoulli_nll", "VAE", "dense_encoder", "dense_decoder", "dense_vae"]


class Sampling(layers.Layer):
    """Draws z = mean + exp(log_var / 2) * eps with eps ~ N(0, I): the reparameterisation trick."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def gaussian_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) in nats, one value per example (summed over latent dimensions)."""
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)


def bernoulli_nll(x, logits):
    """-log p(x | logits) for independent Bernoulli pixels, in nats, one value per example (summed over pixels)."""
    per_pixel = ops.binary_crossentropy(x, logits, from_logits=True)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(x)[0], -1)), axis=-1)


class VAE(keras.Model):
    """A variational autoencoder trained on reconstruction + beta * KL, with both terms logged."""

    def __init__(self, encoder, decoder, beta=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder        # x -> (z_mean, z_log_var)
        self.decoder = decoder        # z -> pixel logits, shaped like x
        self.beta = beta
        self.sampling = Sampling(seed=seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def call(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        return {"z_mean": z_mean, "z_log_var": z_log_var, "logits": logits}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reconstruction = bernoulli_nll(x, y_pred["logits"])
        kl = gaussian_kl(y_pred["z_mean"], y_pred["z_log_var"])
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return ops.mean(reconstruction + self.beta * kl)


def _check_sizes(latent_dim: int, hidden: Sequence[int], shape: Sequence[int], what: str) -> None:
    if int(latent_dim) != latent_dim or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive whole number, got {latent_dim!r}")
    if not hidden or any(int(h) != h or h < 1 for h in hidden):
        raise ValueError(f"hidden must list one or more positive layer widths, got {hidden!r}")
    if not shape or any(int(s) != s or s < 1 for s in shape):
        raise ValueError(f"{what} must be a shape of positive sizes such as (28, 28), got {shape!r}")


def dense_encoder(latent_dim: int, hidden: Sequence[int] = (512, 256), input_shape: Sequence[int] = (28, 28),
                  name: str = "encoder") -> keras.Model:
    """x -> Flatten -> Dense(ReLU) for each width in ``hidden`` -> (z_mean, z_log_var), each ``latent_dim`` wide.

    Both outputs are float32 and unconstrained (``z_log_var`` is a log-variance, so any real number is valid).
    """
    _check_sizes(latent_dim, hidden, input_shape, "input_shape")
    inputs = keras.Input(shape=tuple(input_shape))
    h = layers.Flatten()(inputs)
    for width in hidden:
        h = layers.Dense(width, activation="relu")(h)
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(h)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def dense_decoder(latent_dim: int, hidden: Sequence[int] = (256, 512), output_shape: Sequence[int] = (28, 28),
                  name: str = "decoder") -> keras.Model:
    """z -> Dense(ReLU) for each width in ``hidden`` -> pixel logits of ``output_shape`` (float32).

    Apply ``keras.ops.sigmoid`` to the output to get pixel intensities (Bernoulli means) in [0, 1].
    """
    _check_sizes(latent_dim, hidden, output_shape, "output_shape")
    z = keras.Input(shape=(latent_dim,))
    h = z
    for width in hidden:
        h = layers.Dense(width, activation="relu")(h)
    logits = layers.Dense(math.prod(output_shape), dtype="float32", name="logits")(h)
    return keras.Model(z, layers.Reshape(tuple(output_shape), dtype="float32")(logits), name=name)


def dense_vae(latent_dim: int = 2, hidden: Sequence[int] = (512, 256), input_shape: Sequence[int] = (28, 28),
              beta: float = 1.0, seed: int | None = None, name: str = "vae") -> VAE:
    """A :class:`VAE` with a :func:`dense_encoder` and a mirror-image :func:`dense_decoder`, uncompiled."""
    if not beta >= 0:
        raise ValueError(f"beta must be a non-negative number, got {beta!r}")
    encoder = dense_encoder(latent_dim, hidden, input_shape)
    decoder = dense_decoder(latent_dim, tuple(reversed(tuple(hidden))), input_shape)
    return VAE(encoder, decoder, beta=beta, seed=seed, name=name)

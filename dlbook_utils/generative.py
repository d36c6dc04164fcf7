"""Generative adversarial networks: the pieces chapter 10 builds and later chapters reuse.

* :class:`GAN` — a ``keras.Model`` that trains a generator against a discriminator with a custom ``train_step``
  (the non-saturating loss, optional one-sided label smoothing) on any Keras backend. Give ``fit`` images alone for an unconditional
  GAN, or ``(images, labels)`` together with networks that take the labels as a second input for a
  class-conditional one: ``fit(x_train, y_train)``.
* :func:`dcgan_generator` and :func:`dcgan_discriminator` — small DCGAN networks for 28 × 28 × 1 images
  (7 × 7 × 64 → 14 × 14 × 32 → 28 × 28 × 1), optionally class-conditional (a label embedding concatenated to the
  noise; a projection discriminator).
* :class:`MinibatchStdDev` — the minibatch standard-deviation layer, a remedy for mode collapse.
* :class:`SampleGrid` — a callback that stores samples from fixed noise after every epoch.
* :func:`tile`, :func:`to_pixels`, :func:`classifier_score` — image mosaics, the generator's [-1, 1] range to
  the [0, 1] pixels classifiers expect, and the fraction of samples a classifier assigns to their intended class.

Typical use::

    from dlbook_utils import generative
    gan = generative.GAN(generative.dcgan_generator(64), generative.dcgan_discriminator(), latent_dim=64)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    gan.fit(x_train * 2 - 1, epochs=10, batch_size=64)   # images scaled to [-1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from . import autodiff

__all__ = [
    "TwoPlayerModel",
    "GAN",
    "dcgan_generator",
    "dcgan_discriminator",
    "MinibatchStdDev",
    "SampleGrid",
    "tile",
    "to_pixels",
    "ClassifierScore",
    "classifier_score",
]


class TwoPlayerModel(keras.Model):
    """What a GAN holds besides its training step: the two networks, their optimizers, the noise and the metrics.

    :class:`GAN` adds the training step. ``generate(z, labels)`` and ``discriminate(x, labels)`` call the networks
    with or without the labels of a conditional GAN.
    """

    def __init__(self, generator, discriminator, latent_dim, real_label=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.real_label = real_label            # 1.0; 0.9 is one-sided label smoothing
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.built = True                        # both networks arrive built: fit has nothing to build

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)                # e.g. steps_per_execution
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Build both optimizers now and keep their state (step counts, moment estimates) with the model's
        # variables: JAX runs a training step as a function of the model's state alone.
        d_optimizer.build(self.discriminator.trainable_weights)
        g_optimizer.build(self.generator.trainable_weights)
        self.optimizer_state = d_optimizer.variables + g_optimizer.variables

    @property
    def metrics(self):
        return list(self.trackers.values())

    def generate(self, z, labels=None, training=False):
        # A conditional generator takes [noise, labels]; an unconditional one takes the noise alone.
        return self.generator(z if labels is None else [z, labels], training=training)

    def discriminate(self, x, labels=None, training=False):
        return self.discriminator(x if labels is None else [x, labels], training=training)

    def call(self, z, labels=None):
        return self.generate(z, labels)


class GAN(TwoPlayerModel):
    """A generator and a discriminator trained against each other by ``fit``.

    ``generator`` maps noise of shape ``(batch, latent_dim)`` (and, if conditional, integer labels ``(batch,)``
    as a second input) to samples; ``discriminator`` maps samples (and labels) to one logit per sample (any shape
    with the batch first). Each training step takes one Adam step for the discriminator on real and generated
    samples, then one for the generator with the non-saturating loss ``-log D(G(z))``. ``real_label`` below 1
    is one-sided label smoothing. Logs ``d_loss``, ``g_loss`` and the discriminator's mean probability of "real"
    on real (``d_real``) and generated (``d_fake``) samples. ``gan(z)`` or ``gan.generate(z, labels)`` samples.
    Optimizers are used as given: under mixed precision, wrap them in ``keras.optimizers.LossScaleOptimizer``.
    The training step runs on every Keras backend (gradients from :mod:`dlbook_utils.autodiff`).
    """

    @autodiff.train_step                         # also on JAX, where fit passes the model's state in and out
    def train_step(self, data):
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch_size = keras.ops.shape(real)[0]
        d_weights, g_weights = self.discriminator.trainable_weights, self.generator.trainable_weights

        # 1 · Discriminator: label real samples 1 (or real_label) and generated ones 0.
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.noise_seed)
        fake = self.generate(z, labels, training=True)

        def discriminator_loss():
            real_logits = self.discriminate(real, labels, training=True)
            fake_logits = self.discriminate(fake, labels, training=True)
            d_loss = (self.bce(keras.ops.full_like(real_logits, self.real_label), real_logits)
                      + self.bce(keras.ops.zeros_like(fake_logits), fake_logits))
            scaled = self.d_optimizer.scale_loss(d_loss)        # loss scaling under mixed precision
            return scaled, (d_loss, real_logits, fake_logits)

        (_, (d_loss, real_logits, fake_logits)), grads = autodiff.value_and_grad(discriminator_loss, d_weights,
                                                                                has_aux=True)
        autodiff.apply_gradients(self.d_optimizer, grads, d_weights)

        # 2 · Generator, non-saturating loss: make the discriminator call fresh samples real (-log D(G(z))).
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.noise_seed)

        def generator_loss():
            logits = self.discriminate(self.generate(z, labels, training=True), labels, training=True)
            g_loss = self.bce(keras.ops.ones_like(logits), logits)
            return self.g_optimizer.scale_loss(g_loss), g_loss

        (_, g_loss), grads = autodiff.value_and_grad(generator_loss, g_weights, has_aux=True)
        autodiff.apply_gradients(self.g_optimizer, grads, g_weights)

        for name, value in (("d_loss", d_loss), ("g_loss", g_loss),
                            ("d_real", keras.ops.mean(keras.ops.sigmoid(real_logits))),
                            ("d_fake", keras.ops.mean(keras.ops.sigmoid(fake_logits)))):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def dcgan_generator(latent_dim=64, num_classes=None, embedding_dim=16, name="generator"):
    """A DCGAN generator for 28 × 28 × 1 images in [-1, 1]: noise → 7 × 7 × 64 → 14 × 14 × 32 → 28 × 28 × 1.

    With ``num_classes`` it is class-conditional: a second input of integer labels is embedded in
    ``embedding_dim`` numbers and concatenated to the noise. The output layer computes in float32.
    """
    z = keras.Input(shape=(latent_dim,), name="noise")
    inputs, h = [z], z
    if num_classes is not None:
        label = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(label)
        h = layers.Concatenate()([z, layers.Embedding(num_classes, embedding_dim, name="label_embedding")(label)])
    h = layers.Dense(7 * 7 * 64, use_bias=False)(h)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU()(h)
    h = layers.Reshape((7, 7, 64))(h)
    h = layers.Conv2DTranspose(32, 4, strides=2, padding="same", use_bias=False)(h)   # 14 × 14 × 32
    h = layers.BatchNormalization()(h)
    h = layers.ReLU()(h)
    out = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", dtype="float32",
                                 name="image")(h)                                     # 28 × 28 × 1
    return keras.Model(inputs if len(inputs) > 1 else z, out, name=name)


def dcgan_discriminator(num_classes=None, minibatch_std=False, name="discriminator"):
    """A DCGAN discriminator for 28 × 28 × 1 images: two stride-2 convolutions with leaky ReLU, then one logit.

    With ``num_classes`` it is a projection discriminator: a second input of integer labels is embedded in the
    space of the image features, and the logit gains the dot product of the two (Miyato & Koyama, 2018).
    ``minibatch_std`` inserts a :class:`MinibatchStdDev` layer before the last convolution. The logit is float32.
    """
    image = keras.Input(shape=(28, 28, 1), name="image")
    h = layers.Conv2D(32, 4, strides=2, padding="same")(image)                         # 14 × 14 × 32
    h = layers.LeakyReLU(0.2)(h)
    if minibatch_std:
        h = MinibatchStdDev()(h)
    h = layers.Conv2D(64, 4, strides=2, padding="same")(h)                             # 7 × 7 × 64
    h = layers.LeakyReLU(0.2)(h)
    features = layers.Flatten()(h)
    logit = layers.Dense(1, name="realness")(features)
    if num_classes is None:
        return keras.Model(image, layers.Activation("linear", dtype="float32", name="logit")(logit), name=name)
    label = keras.Input(shape=(), dtype="int32", name="label")
    class_vector = layers.Embedding(num_classes, features.shape[-1], name="label_embedding")(label)
    match = layers.Dot(axes=1, name="class_match")([features, class_vector])           # φ(x) · e_y
    logit = layers.Add()([logit, match])
    return keras.Model([image, label], layers.Activation("linear", dtype="float32", name="logit")(logit), name=name)


@keras.saving.register_keras_serializable(package="dlbook")
class MinibatchStdDev(layers.Layer):
    """Appends one feature: the standard deviation across the batch, averaged over all other axes.

    For inputs ``(batch, …, channels)`` the output is ``(batch, …, channels + 1)``; the new channel holds the
    same number for every sample and position. A discriminator that sees it can tell a batch of near-identical
    generated samples from a varied real batch, which penalises mode collapse (Karras et al., 2018).
    """

    def call(self, x):
        mean = keras.ops.mean(x, axis=0, keepdims=True)
        std = keras.ops.sqrt(keras.ops.mean(keras.ops.square(x - mean), axis=0) + 1e-8)
        shape = keras.ops.shape(x)
        stat = keras.ops.cast(keras.ops.mean(std), x.dtype)
        extra = keras.ops.ones(tuple(shape[:-1]) + (1,), dtype=x.dtype) * stat
        return keras.ops.concatenate([x, extra], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (None if input_shape[-1] is None else input_shape[-1] + 1,)


class SampleGrid(keras.callbacks.Callback):
    """Stores the generator's samples for fixed noise (and labels) before training and after every ``every`` epochs.

    ``snapshots`` is a list of ``(epoch, samples)`` with samples as NumPy arrays; epoch 0 is before training.
    Works with :class:`GAN` (it calls ``model.generate``).
    """

    def __init__(self, noise, labels=None, every=1):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.noise = np.asarray(noise, dtype="float32")
        self.labels = None if labels is None else np.asarray(labels, dtype="int32")
        if self.labels is not None and len(self.labels) != len(self.noise):
            raise ValueError(f"{len(self.labels)} labels for {len(self.noise)} noise vectors")
        self.every = every
        self.snapshots: list[tuple[int, np.ndarray]] = []

    def _store(self, epoch):
        samples = self.model.generate(self.noise, self.labels)
        self.snapshots.append((epoch, np.asarray(keras.ops.convert_to_numpy(samples), dtype="float32")))

    def on_train_begin(self, logs=None):
        if not self.snapshots:
            self._store(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.params.get("epochs"):
            self._store(epoch + 1)


def tile(images, ncols, pad=1, fill=1.0):
    """One 2-D mosaic of ``images`` (``(n, h, w)`` or ``(n, h, w, 1)``), ``ncols`` per row, ``pad`` pixels apart."""
    images = np.asarray(images, dtype="float32")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, 1) with n > 0, got {images.shape}")
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    n, h, w = images.shape
    nrows = -(-n // ncols)
    mosaic = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), fill, dtype="float32")
    for k, img in enumerate(images):
        r, c = divmod(k, ncols)
        mosaic[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = img
    return mosaic


def to_pixels(images):
    """Generator outputs in [-1, 1] → float32 pixels in [0, 1] (clipped), the range chapter 07's classifier reads."""
    return np.clip((np.asarray(images, dtype="float32") + 1.0) / 2.0, 0.0, 1.0)


@dataclass
class ClassifierScore:
    """How often a classifier assigns samples to the class they were meant to be."""

    overall: float
    per_class: np.ndarray      # fraction right for each intended class (NaN where a class has no samples)
    predicted: np.ndarray      # the classifier's class for each sample
    intended: np.ndarray

    def __str__(self) -> str:
        return (f"classifier agrees with the intended class for {self.overall:.1%} of {len(self.intended):,} "
                f"samples (per class {np.nanmin(self.per_class):.0%}–{np.nanmax(self.per_class):.0%})")

    __repr__ = __str__


def classifier_score(classifier, images, intended, num_classes=10, batch_size=1000):
    """Score class-conditional samples with a trained classifier.

    ``images`` are pixels in [0, 1] shaped as the classifier expects (use :func:`to_pixels` on generator
    outputs); ``intended`` the class each was generated for. For real test images with their labels this is
    the classifier's accuracy, the reference a generator is compared with.
    """
    intended = np.asarray(intended).astype(int).reshape(-1)
    if len(images) != len(intended):
        raise ValueError(f"{len(images)} images but {len(intended)} intended labels")
    if len(intended) == 0:
        raise ValueError("no images to score")
    if intended.min() < 0 or intended.max() >= num_classes:
        raise ValueError(f"intended labels must lie in 0..{num_classes - 1}")
    probabilities = classifier.predict(np.asarray(images, dtype="float32"), batch_size=batch_size, verbose=0)
    predicted = np.asarray(probabilities).argmax(axis=1)
    right = predicted == intended
    per_class = np.array([right[intended == c].mean() if np.any(intended == c) else np.nan
                          for c in range(num_classes)])
    return ClassifierScore(float(right.mean()), per_class, predicted, intended)

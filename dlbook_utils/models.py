"""Models that several chapters share.

* :func:`conv_classifier` — chapter 07's convolutional network: (Conv 5×5 → BatchNorm → ReLU → MaxPool) × 2 →
  Dropout → Dense softmax. About 84,000 weights; float32 outputs, so it trains in float32 and in mixed precision.
* :func:`train_classifier` — chapter 07's training recipe (Adam, linear warm-up then cosine decay to zero,
  optionally random horizontal flips).
* :func:`fashion_classifier` — a trained Fashion-MNIST classifier for later chapters (chapter 10 scores generated
  images with it, chapters 26–27 explain and improve on it). It is trained once per run mode and cached as
  ``<data cache>/models/fashion_conv_classifier-<mode>.keras``; chapter 07 saves its own trained model there with
  :func:`save_fashion_classifier`, so a reader who ran chapter 07 gets exactly that model back::

      from dlbook_utils import models
      classifier = models.fashion_classifier()   # loads the cached model, or trains it (full mode: minutes)
      classifier.predict(images)                 # images: (n, 28, 28, 1) float32 in [0, 1]

Nothing here downloads anything but the Fashion-MNIST files themselves (through :mod:`dlbook_utils.data`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import data
from .config import get_mode

__all__ = [
    "RECIPE",
    "VALIDATION_SIZE",
    "conv_classifier",
    "architecture",
    "warmup_cosine",
    "flipped_batches",
    "train_classifier",
    "fashion_classifier_path",
    "save_fashion_classifier",
    "save_atomically",
    "fashion_classifier",
]

# Chapter 07's recipe for Fashion-MNIST, per run mode. The first VALIDATION_SIZE training images are held out
# for validation; quick mode trains on a class-balanced subset of the real training split.
RECIPE: dict[str, dict[str, Any]] = {
    "full": {"n_train": None, "epochs": 15, "batch_size": 128, "peak_lr": 3e-3, "flip_horizontal": True},
    "quick": {"n_train": 3000, "epochs": 2, "batch_size": 64, "peak_lr": 3e-3, "flip_horizontal": True},
}
VALIDATION_SIZE = {"full": 5000, "quick": 500}


def conv_classifier(input_shape=(28, 28, 1), num_classes: int = 10, name: str = "conv_classifier"):
    """Chapter 07's convolutional classifier, uncompiled.

    Two blocks Conv2D(5×5, "same") → BatchNormalization → ReLU → MaxPooling2D(2×2), with 32 and 64 filters,
    then Flatten → Dropout(0.3) → Dense(num_classes, softmax). The convolutions have no bias (the batch
    normalisation that follows has its own shift). Inputs are images scaled to [0, 1]; the output layer
    computes in float32 under any global dtype policy. For 28×28×1 inputs and 10 classes: 83,754 weights.
    """
    import keras
    from keras import layers

    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    if input_shape[0] < 4 or input_shape[1] < 4:
        raise ValueError(f"two 2×2 poolings need images of at least 4×4 pixels, got {input_shape!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Conv2D(32, 5, padding="same", use_bias=False, name="conv1"),
            layers.BatchNormalization(momentum=0.9, name="bn1"),
            layers.ReLU(name="relu1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 5, padding="same", use_bias=False, name="conv2"),
            layers.BatchNormalization(momentum=0.9, name="bn2"),
            layers.ReLU(name="relu2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.3, name="dropout"),
            layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions"),
        ],
        name=name,
    )


def warmup_cosine(peak_lr: float, total_steps: int, warmup_fraction: float = 0.1):
    """A learning-rate schedule: linear warm-up from 0 to ``peak_lr``, then cosine decay to 0 at ``total_steps``."""
    import keras

    if total_steps < 1:
        raise ValueError(f"total_steps must be at least 1, got {total_steps}")
    warmup_steps = int(warmup_fraction * total_steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total_steps - warmup_steps, warmup_target=peak_lr, warmup_steps=warmup_steps
    )


def flipped_batches(x, y, batch_size: int, seed: int = 0):
    """Shuffled ``(x, y)`` batches in which each image is mirrored left–right with probability 1/2, drawn afresh
    every epoch, in a new order every epoch (data augmentation, chapter 06). ``x``: (n, height, width, channels).

    The batches are made in NumPy (:class:`dlbook_utils.augment.ShiftFlipBatches` with no shift), so ``fit``
    reads them on any Keras backend. The last batch of an epoch may be smaller.
    """
    from .augment import ShiftFlipBatches

    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} and {len(y)}")
    return ShiftFlipBatches(x, y, batch_size, max_shift=0, flip=True, seed=seed)


def train_classifier(model, x, y, *, epochs: int, batch_size: int, peak_lr: float, validation_data=None,
                     flip_horizontal: bool = False, verbose: int = 2):
    """Compile ``model`` with chapter 07's recipe and train it; returns the Keras ``History``.

    Adam with :func:`warmup_cosine`, sparse categorical cross-entropy, accuracy as the metric. With
    ``flip_horizontal``, training images are mirrored at random (:func:`flipped_batches`). Wrong for digits;
    for Fashion-MNIST a judgement call, since every shoe in it faces the same way (chapter 06). Chapter 07's
    recipe (:data:`RECIPE`) keeps flips, chapter 08's ResNet leaves them out.
    """
    import keras

    steps = epochs * math.ceil(len(x) / batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(warmup_cosine(peak_lr, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    if flip_horizontal:
        return model.fit(flipped_batches(x, y, batch_size), epochs=epochs, validation_data=validation_data,
                         verbose=verbose)
    return model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                     verbose=verbose)


def fashion_classifier_path(mode: str | None = None) -> Path:
    """Where the trained Fashion-MNIST classifier of ``mode`` is cached: ``<cache>/models/…-<mode>.keras``."""
    return data.cache_dir() / "models" / f"fashion_conv_classifier-{get_mode(mode)}.keras"


def save_fashion_classifier(model, *, mode: str | None = None) -> Path:
    """Save a trained classifier where :func:`fashion_classifier` finds it; returns the path.

    The file is written next to its final name and then moved into place, so a reader never loads half a file.
    """
    return save_atomically(model, fashion_classifier_path(mode))


def save_atomically(model, path: Path) -> Path:
    """``model.save(path)``, written next to ``path`` and then moved into place, so a reader never loads half a
    file; creates the folder; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial-{os.getpid()}.keras")
    try:
        model.save(partial)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    return path


def _prepare(images: np.ndarray) -> np.ndarray:
    return data.as_images(images)


def architecture(model) -> list[tuple[str, dict, tuple]]:
    """A model's layers as (class name, configuration without the layer's name, output shape) triples.

    Two models built by different code have the same architecture exactly when these lists are equal: a chapter
    uses it to show that the network it wrote out layer by layer is the one a helper in this package builds.
    """
    return [(type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"},
             tuple(layer.output.shape)) for layer in model.layers]


def fashion_classifier(*, mode: str | None = None, verbose: int = 0):
    """A trained Fashion-MNIST :func:`conv_classifier`: loaded from the cache, or trained and cached.

    ``mode`` defaults to the run mode (``DLBOOK_MODE``). Full mode trains on the whole training split but the
    held-out validation images (several minutes on a laptop CPU; chapter 07 reaches about 93% test accuracy
    with it); quick mode trains on a small subset for a few seconds and is only good for tests. ``verbose``
    is passed to ``fit`` when training is needed.
    """
    import keras

    mode = get_mode(mode)
    path = fashion_classifier_path(mode)
    if path.exists():
        return keras.models.load_model(path)
    recipe = RECIPE[mode]
    n_val = VALIDATION_SIZE[mode]
    n_train = None if recipe["n_train"] is None else recipe["n_train"] + n_val
    (x_train, y_train), _ = data.load_fashion_mnist(n_train=n_train, n_test=1)
    x_train = _prepare(x_train)
    model = conv_classifier(name="fashion_conv_classifier")
    train_classifier(model, x_train[n_val:], y_train[n_val:], epochs=recipe["epochs"],
                     batch_size=recipe["batch_size"], peak_lr=recipe["peak_lr"],
                     flip_horizontal=recipe["flip_horizontal"], verbose=verbose)
    save_fashion_classifier(model, mode=mode)
    return model

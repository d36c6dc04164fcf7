"""Small pieces of chapter 08's transfer-learning experiment, shared and tested here.

* :func:`label_draw` — a reproducible random draw of a few labelled examples per class.
* :func:`compile_adamw` — compile a classifier with AdamW and a warm-up + cosine learning rate (chapter 05).
* :func:`train_for_steps` — train a compiled-here classifier for (about) a given number of optimiser steps, so
  that small and large labelled sets get comparable training, whatever their number of batches per epoch.
* :class:`Retrainer` — one model compiled once and trained again and again from given starting weights, for a
  fixed number of steps: a sweep of many small trainings pays for one compiled training step, not one per run.
* :func:`pass_order` — the order of the examples for a given number of steps: whole passes over the data, each in
  a new random order.
* :func:`accuracy` — a classifier's accuracy from plain forward passes, without compiling a test step.
* :func:`crossover` — where one accuracy curve catches up with another, interpolated on a log axis.
* :func:`mean_and_range` — the mean of repeated runs and their lowest and highest value.

A typical use::

    from dlbook_utils import transfer
    picked = transfer.label_draw(y_train, classes=[5, 6, 7, 8, 9], per_class=10, seed=0)
    transfer.train_for_steps(model, x_train[picked], y_train[picked] - 5, steps=300, batch_size=50, peak_lr=3e-3)
    transfer.crossover([10, 100, 1000], finetuned_mean, scratch_mean)   # labels per class, or None
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .models import warmup_cosine

__all__ = ["label_draw", "compile_adamw", "train_for_steps", "Retrainer", "pass_order", "accuracy", "crossover",
           "mean_and_range"]


def label_draw(labels, classes: Sequence[int], per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` distinct examples of each of ``classes`` in ``labels``, drawn at random.

    The same ``seed`` gives the same indices; the indices come class by class, in the order of ``classes``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class numbers, got shape {labels.shape}")
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    rng = np.random.default_rng(seed)
    picked = []
    for k in classes:
        pool = np.flatnonzero(labels == k)
        if len(pool) < per_class:
            raise ValueError(f"class {k} has {len(pool)} examples, fewer than per_class={per_class}")
        picked.append(rng.choice(pool, per_class, replace=False))
    return np.concatenate(picked)


def compile_adamw(model, peak_lr: float, steps: int, *, weight_decay: float = 0.05, label_smoothing: float = 0.0):
    """Compile ``model`` (softmax outputs) with AdamW, a learning rate that warms up over the first 10% of
    ``steps`` and decays along a cosine to zero (:func:`dlbook_utils.models.warmup_cosine`), and accuracy.

    With ``label_smoothing`` > 0 the loss is categorical cross-entropy with smoothed targets, and the labels
    given to ``fit`` must be one-hot; with 0 it is sparse categorical cross-entropy on class numbers.
    """
    import keras

    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if label_smoothing > 0:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    optimizer = keras.optimizers.AdamW(warmup_cosine(peak_lr, steps), weight_decay=weight_decay)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def train_for_steps(model, x, y, *, steps: int, batch_size: int, peak_lr: float, weight_decay: float = 0.05,
                    verbose: int = 0):
    """Compile ``model`` with :func:`compile_adamw` and train it on ``(x, y)`` for whole epochs that add up to
    at least ``steps`` optimiser steps (each epoch visits every example once, in a new order).

    Returns the Keras ``History``. ``y`` holds class numbers. Seed Keras first (``keras.utils.set_random_seed``)
    for a reproducible order of the batches.
    """
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of the same length, got {len(x)} and {len(y)}")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got {steps} and {batch_size}")
    per_epoch = math.ceil(len(x) / batch_size)
    epochs = math.ceil(steps / per_epoch)
    compile_adamw(model, peak_lr, epochs * per_epoch, weight_decay=weight_decay)
    return model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose)


def pass_order(n: int, total: int, seed: int = 0) -> np.ndarray:
    """``total`` indices into ``n`` examples: pass after pass over all of them, each pass in a new random order
    (the last pass may be cut short). Feeding ``x[order]`` in batches is then the same as training for several
    epochs with reshuffling, in one call to ``fit``, however small ``n`` is."""
    if n < 1 or total < 1:
        raise ValueError(f"n and total must be positive, got {n} and {total}")
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(n) for _ in range(math.ceil(total / n))])[:total]


class Retrainer:
    """A model compiled once, with AdamW and a warm-up + cosine schedule over ``steps`` (:func:`compile_adamw`),
    and trained many times, each time from the weights given and with a fresh optimiser state.

    Compiling traces the training step and optimises its graph, which takes seconds; a training run of a small
    network on a few hundred images takes less. A sweep over label sets and seeds therefore keeps one Retrainer
    per architecture and number of steps. Freeze layers (``trainable = False``) before making the Retrainer:
    what trains is fixed when the model is compiled.

    ``fit(x, y, weights=..., seed=...)`` sets the weights (all of them, as ``model.get_weights()`` returns them),
    zeroes the optimiser's step counter and moments, and takes exactly ``steps`` optimiser steps of
    ``batch_size`` examples in :func:`pass_order`. ``y`` holds class numbers.
    """

    def __init__(self, model, *, steps: int, batch_size: int, peak_lr: float, weight_decay: float = 0.05):
        if steps < 1 or batch_size < 1:
            raise ValueError(f"steps and batch_size must be positive, got {steps} and {batch_size}")
        self.model, self.steps, self.batch_size = model, steps, batch_size
        compile_adamw(model, peak_lr, steps, weight_decay=weight_decay)

    def fit(self, x, y, *, weights=None, seed: int = 0):
        """Train from ``weights`` (None: the model's current weights) for ``steps`` steps; returns the History."""
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"x and y must be non-empty and of the same length, got {len(x)} and {len(y)}")
        if weights is not None:
            self.model.set_weights(weights)
        for variable in self.model.optimizer.variables:        # the step counter (so the schedule restarts), moments
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
        order = pass_order(len(x), self.steps * self.batch_size, seed)
        return self.model.fit(np.asarray(x)[order], np.asarray(y)[order], batch_size=self.batch_size, epochs=1,
                              shuffle=False, verbose=0)


def accuracy(model, x, y, batch_size: int = 500) -> float:
    """The fraction of ``x`` that ``model`` (in inference mode) assigns to the class numbers ``y``.

    It calls the model batch by batch instead of ``model.evaluate``, which compiles a test step for every new
    model: with dozens of small models, as in a sweep over label sets, that compilation would cost more than the
    forward passes themselves.
    """
    import keras

    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of the same length, got {len(x)} and {len(y)}")
    predicted = [np.argmax(keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=False)), axis=-1)
                 for i in range(0, len(x), batch_size)]
    return float(np.mean(np.concatenate(predicted) == np.asarray(y)))


def crossover(labels: Sequence[float], first: Sequence[float], second: Sequence[float]) -> float | None:
    """The number of labels at which curve ``second`` first catches up with curve ``first``.

    ``labels`` is increasing; ``first`` and ``second`` are accuracies (or any scores) measured at those points.
    Between the first point where ``second`` is no longer below ``first`` and the point before it, the gap
    ``second - first`` is interpolated linearly in log(labels). Returns ``labels[0]`` if ``second`` is never
    below ``first`` and ``None`` if it never catches up within ``labels``.
    """
    labels, first, second = (np.asarray(v, dtype=float) for v in (labels, first, second))
    if labels.ndim != 1 or first.shape != labels.shape or second.shape != labels.shape or len(labels) < 2:
        raise ValueError("labels, first and second must be 1-D, of the same length, with at least two points")
    if np.any(labels <= 0) or np.any(np.diff(labels) <= 0):
        raise ValueError(f"labels must be positive and increasing, got {labels.tolist()}")
    gap = second - first
    if gap[0] >= 0:
        return float(labels[0])
    for i in range(1, len(labels)):
        if gap[i] >= 0:
            lo, hi = math.log(labels[i - 1]), math.log(labels[i])
            t = -gap[i - 1] / (gap[i] - gap[i - 1])             # where the straight line between them hits 0
            return float(math.exp(lo + t * (hi - lo)))
    return None


def mean_and_range(values) -> tuple[float, float, float]:
    """``(mean, lowest, highest)`` of repeated measurements (seeds, label draws)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("mean_and_range needs at least one value")
    return float(values.mean()), float(values.min()), float(values.max())

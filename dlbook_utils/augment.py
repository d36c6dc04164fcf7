"""Cheap image augmentation for training on a CPU: random shifts and mirror images, done in NumPy per batch.

Keras's ``RandomTranslation`` layer inside a model resamples every image through an affine transform; on a
2-core CPU that costs about as much as the convolutions of a small ResNet. A shift by whole pixels needs no
resampling: pad the images once, then cut each training image out of its padded copy at a random offset. This
module does that (and the left–right mirror) in NumPy, batch by batch, as a :class:`keras.utils.PyDataset` that
``model.fit`` reads directly, on any Keras backend::

    from dlbook_utils import augment
    batches = augment.ShiftFlipBatches(x_train, y_train, batch_size=128, max_shift=2, flip=True, seed=0)
    model.fit(batches, epochs=10, validation_data=(x_val, y_val))

Every epoch sees the training set in a new order with new shifts and mirrors; the seed makes the whole sequence
reproducible. :func:`shift` moves every image by the same amount, for the views of test-time augmentation.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["shift", "shift_and_flip", "ShiftFlipBatches"]


def shift(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """A copy of ``images`` (n, height, width, channels), every image moved ``dy`` pixels down and ``dx`` pixels
    right (negative: up, left); the uncovered border is 0, as in :func:`shift_and_flip`."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, height, width, channels), got {images.shape}")
    height, width = images.shape[1:3]
    if abs(dy) >= height or abs(dx) >= width:
        raise ValueError(f"a shift of ({dy}, {dx}) moves {height} x {width} images out of the frame")
    out = np.zeros_like(images)
    out[:, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = (
        images[:, max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)])
    return out


def shift_and_flip(images: np.ndarray, rng: np.random.Generator, *, max_shift: int = 2, flip: bool = True,
                   padded: np.ndarray | None = None) -> np.ndarray:
    """A copy of ``images`` (n, height, width, channels), each shifted by up to ``max_shift`` pixels in each
    direction (the uncovered border is 0) and, with ``flip``, mirrored left–right with probability 1/2.

    ``padded`` may hold ``images`` already padded by ``max_shift`` zeros on each side (to pad once, not per call).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, height, width, channels), got {images.shape}")
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    n, height, width = images.shape[:3]
    if padded is None:
        pad = ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0))
        padded = np.pad(images, pad)
    elif padded.shape != (n, height + 2 * max_shift, width + 2 * max_shift, images.shape[3]):
        raise ValueError(f"padded has shape {padded.shape}, expected the images padded by {max_shift} on each side")
    dy = rng.integers(0, 2 * max_shift + 1, size=n)
    dx = rng.integers(0, 2 * max_shift + 1, size=n)
    rows = dy[:, None] + np.arange(height)[None, :]                     # (n, height): the rows each image keeps
    cols = dx[:, None] + np.arange(width)[None, :]
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if flip:
        mirrored = rng.random(n) < 0.5
        out[mirrored] = out[mirrored, :, ::-1]
    return out


def _py_dataset_base():
    import keras

    return keras.utils.PyDataset


class ShiftFlipBatches(_py_dataset_base()):
    """Shuffled training batches of ``(x, y)`` with fresh random shifts and mirrors every epoch (see module doc).

    ``x``: (n, height, width, channels) floats; ``y``: n labels. The last batch may be smaller.
    """

    def __init__(self, x, y, batch_size: int, *, max_shift: int = 2, flip: bool = True, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} and {len(y)}")
        if batch_size < 1 or len(x) == 0:
            raise ValueError("batch_size must be positive and x must hold at least one image")
        self.x, self.y, self.batch_size = x, y, int(batch_size)
        self.max_shift, self.flip = int(max_shift), bool(flip)
        self.rng = np.random.default_rng(seed)
        self._padded = np.pad(x, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
        self._order = self.rng.permutation(len(x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        picked = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images = shift_and_flip(self.x[picked], self.rng, max_shift=self.max_shift, flip=self.flip,
                                padded=self._padded[picked])
        return images, self.y[picked]

    def on_epoch_end(self) -> None:
        self._order = self.rng.permutation(len(self.x))

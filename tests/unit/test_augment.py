"""dlbook_utils.augment: whole-pixel shifts and mirrors in NumPy, batch by batch."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import augment

pytestmark = pytest.mark.backends   # also run in make test's JAX pass


def _images(n=6, h=5, w=7):
    return np.arange(n * h * w, dtype="float32").reshape(n, h, w, 1) + 1.0   # no zeros: padding is visible


def _matches_a_shift(original, out, max_shift, allow_flip):
    """True when ``out`` is ``original`` (maybe mirrored) shifted by some (dy, dx) with zeros filled in."""
    h, w = original.shape[:2]
    candidates = [original, original[:, ::-1]] if allow_flip else [original]
    for image in candidates:
        padded = np.pad(image, ((max_shift, max_shift), (max_shift, max_shift), (0, 0)))
        for dy in range(2 * max_shift + 1):
            for dx in range(2 * max_shift + 1):
                if np.array_equal(padded[dy : dy + h, dx : dx + w], out):
                    return True
    return False


def test_every_output_is_a_whole_pixel_shift_of_its_image():
    x = _images()
    out = augment.shift_and_flip(x, np.random.default_rng(0), max_shift=2, flip=False)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert all(_matches_a_shift(x[i], out[i], 2, allow_flip=False) for i in range(len(x)))
    assert not np.array_equal(out, x), "with 6 images and 25 offsets some image must move"


def test_flips_mirror_about_half_the_images_and_shift_zero_keeps_them():
    x = _images(n=400)
    out = augment.shift_and_flip(x, np.random.default_rng(1), max_shift=0, flip=True)
    mirrored = np.array([np.array_equal(out[i], x[i, :, ::-1]) for i in range(len(x))])
    kept = np.array([np.array_equal(out[i], x[i]) for i in range(len(x))])
    assert np.all(mirrored | kept) and 150 < mirrored.sum() < 250


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="shape"):
        augment.shift_and_flip(np.zeros((3, 4, 4)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_shift"):
        augment.shift_and_flip(_images(), np.random.default_rng(0), max_shift=-1)
    with pytest.raises(ValueError, match="padded"):
        augment.shift_and_flip(_images(), np.random.default_rng(0), max_shift=2, padded=_images())
    with pytest.raises(ValueError, match="differ in length"):
        augment.ShiftFlipBatches(_images(), np.zeros(5), batch_size=2)


def test_batches_cover_every_example_once_per_epoch_in_a_new_order():
    x = _images(n=10)
    y = np.arange(10)
    batches = augment.ShiftFlipBatches(x, y, batch_size=4, max_shift=1, seed=3)
    assert len(batches) == 3
    epoch1 = [batches[i] for i in range(len(batches))]
    labels1 = np.concatenate([b[1] for b in epoch1])
    assert sorted(labels1) == list(range(10)) and [len(b[1]) for b in epoch1] == [4, 4, 2]
    for images, labels in epoch1:
        assert all(_matches_a_shift(x[k], img, 1, allow_flip=True) for k, img in zip(labels, images))
    batches.on_epoch_end()
    labels2 = np.concatenate([batches[i][1] for i in range(len(batches))])
    assert sorted(labels2) == list(range(10)) and not np.array_equal(labels1, labels2)
    with pytest.raises(IndexError):
        batches[3]


def test_the_same_seed_gives_the_same_batches():
    x, y = _images(n=8), np.arange(8)
    a = augment.ShiftFlipBatches(x, y, batch_size=8, seed=5)[0]
    b = augment.ShiftFlipBatches(x, y, batch_size=8, seed=5)[0]
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_keras_trains_on_the_batches():
    import keras

    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    y = (x[:, :, :4].mean(axis=(1, 2, 3)) > x[:, :, 4:].mean(axis=(1, 2, 3))).astype("int32")
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(augment.ShiftFlipBatches(x, y, batch_size=16, max_shift=1, flip=False), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and all(np.isfinite(history.history["loss"]))


def test_shift_moves_every_image_and_fills_zeros():
    x = _images()
    assert np.array_equal(augment.shift(x, 0, 0), x)
    down = augment.shift(x, 1, 0)
    assert np.array_equal(down[:, 1:], x[:, :-1]) and not down[:, 0].any()
    left = augment.shift(x, 0, -2)
    assert np.array_equal(left[:, :, :-2], x[:, :, 2:]) and not left[:, :, -2:].any()
    diagonal = augment.shift(x, -1, 3)
    assert np.array_equal(diagonal[:, :-1, 3:], x[:, 1:, :-3])
    assert not diagonal[:, -1].any() and not diagonal[:, :, :3].any()
    assert np.array_equal(augment.shift(augment.shift(x, 2, 1), -2, -1)[:, :-2, :-1], x[:, :-2, :-1])
    with pytest.raises(ValueError):
        augment.shift(x, 5, 0)
    with pytest.raises(ValueError):
        augment.shift(x[0], 1, 0)


def test_shift_views_are_the_shifts_training_draws():
    x = _images(n=40)
    views = [augment.shift(x, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    out = augment.shift_and_flip(x, np.random.default_rng(3), max_shift=1, flip=False)
    for i in range(len(x)):
        assert any(np.array_equal(view[i], out[i]) for view in views)
    assert all(_matches_a_shift(x[i], views[k][i], 1, False) for i in range(3) for k in range(9))

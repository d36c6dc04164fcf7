"""Tests for dlbook_utils.models: chapter 07's classifier and the cached Fashion-MNIST model."""

from __future__ import annotations

import os
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from dlbook_utils import data, models

from tests.conftest import ROOT, load_nb

pytestmark = pytest.mark.backends   # also run in make test's JAX pass


def test_architecture_shapes_and_parameter_count():
    model = models.conv_classifier()
    assert model.name == "conv_classifier"
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    assert model.count_params() == 83_754 < 100_000
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D"] * 2 + ["Flatten", "Dropout", "Dense"]
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes["pool1"] == (14, 14, 32) and shapes["pool2"] == (7, 7, 64)
    probabilities = model.predict(np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32), verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_other_shapes_and_bad_arguments():
    model = models.conv_classifier((32, 32, 3), num_classes=4, name="small")
    assert model.output_shape == (None, 4) and model.name == "small"
    with pytest.raises(ValueError, match="height, width, channels"):
        models.conv_classifier((28, 28))
    with pytest.raises(ValueError, match="at least 4"):
        models.conv_classifier((2, 28, 1))
    with pytest.raises(ValueError, match="num_classes"):
        models.conv_classifier(num_classes=1)


def test_outputs_stay_float32_under_mixed_precision():
    before = keras.mixed_precision.global_policy().name
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        model = models.conv_classifier()
        assert model.get_layer("conv1").compute_dtype == "float16"
        out = model(np.zeros((2, 28, 28, 1), dtype="float32"))
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
    finally:
        keras.mixed_precision.set_global_policy(before)


def test_warmup_cosine_schedule():
    schedule = models.warmup_cosine(1e-2, total_steps=100)
    values = [float(keras.ops.convert_to_numpy(schedule(step))) for step in (0, 5, 10, 55, 100)]
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert values[1] == pytest.approx(5e-3, rel=1e-4)
    assert values[2] == pytest.approx(1e-2, rel=1e-4)
    assert 0 < values[3] < values[2] and values[4] == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError):
        models.warmup_cosine(1e-3, total_steps=0)


def test_path_follows_the_cache_and_the_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    monkeypatch.setenv("DLBOOK_MODE", "quick")
    assert models.fashion_classifier_path() == tmp_path / "models" / "fashion_conv_classifier-quick.keras"
    assert models.fashion_classifier_path("full").name == "fashion_conv_classifier-full.keras"


def _fashion_only_cache(tmp_path: Path) -> Path:
    """A cache folder holding only (links to) the real Fashion-MNIST files."""
    source = data.cache_dir()
    for file in data.dataset("fashion_mnist").files:
        real = source / file.path
        assert real.exists(), f"the tests need the offline Fashion-MNIST copy at {real}"
        link = tmp_path / file.path
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(real, link)
    return tmp_path


def test_fashion_classifier_trains_once_caches_and_loads_the_same_model(monkeypatch, tmp_path):
    cache = _fashion_only_cache(tmp_path)
    monkeypatch.setenv("DLBOOK_DATA", str(cache))
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    keras.utils.set_random_seed(0)

    trained = models.fashion_classifier(mode="quick")
    path = cache / "models" / "fashion_conv_classifier-quick.keras"
    assert path.exists() and not list(path.parent.glob("*.partial-*"))

    (_, _), (x_test, y_test) = data.load_fashion_mnist(n_train=10, n_test=500)
    x_test = x_test[..., None].astype("float32") / 255.0
    accuracy = float(np.mean(trained.predict(x_test, verbose=0).argmax(axis=1) == y_test))
    assert accuracy > 0.5, f"the quick model should be well above chance, got {accuracy:.3f}"

    def no_training(*args, **kwargs):
        raise AssertionError("a cached model must be loaded, not trained again")

    monkeypatch.setattr(models, "train_classifier", no_training)
    loaded = models.fashion_classifier(mode="quick")
    np.testing.assert_allclose(loaded.predict(x_test[:64], verbose=0), trained.predict(x_test[:64], verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_save_replaces_an_existing_file(monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    first = models.conv_classifier()
    path = models.save_fashion_classifier(first, mode="quick")
    second = models.conv_classifier()
    assert models.save_fashion_classifier(second, mode="quick") == path
    loaded = models.fashion_classifier(mode="quick")
    x = np.random.default_rng(1).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), second.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_the_chapter_uses_the_recipe_the_package_holds():
    notebook = ROOT / "chapters" / "07_convolutional_networks.ipynb"
    code = "\n".join("".join(c["source"]) for c in load_nb(notebook)["cells"] if c["cell_type"] == "code")

    def picked(name):
        match = re.search(rf"^{name} = cfg\.pick\(full=([^,]+), quick=([^)]+)\)", code, re.M)
        assert match, f"the chapter names {name} with cfg.pick"
        return {"full": eval(match.group(1)), "quick": eval(match.group(2))}

    epochs, batch = picked("EPOCHS"), picked("BATCH_SIZE")
    train = picked("N_TRAIN")
    peak = float(re.search(r"^PEAK_LR = ([0-9.e-]+)", code, re.M).group(1))
    for mode, recipe in models.RECIPE.items():
        assert recipe["epochs"] == epochs[mode] and recipe["batch_size"] == batch[mode]
        assert recipe["n_train"] == train[mode] and recipe["peak_lr"] == peak
    assert "models.VALIDATION_SIZE[cfg.mode]" in code
    assert all(recipe["flip_horizontal"] for recipe in models.RECIPE.values())
    assert "flip_horizontal=True" in code, "the chapter trains its Fashion-MNIST model with random flips"


def test_flipped_batches_mirror_some_images_and_keep_labels():
    rng = np.random.default_rng(0)
    x = rng.random((64, 5, 6, 1), dtype=np.float32)
    y = np.arange(64)
    seen = {}
    for images, labels in flipped_batches_list(x, y):
        for image, label in zip(images, labels):
            original = x[label]
            if np.array_equal(image, original):
                seen[label] = "kept"
            else:
                np.testing.assert_array_equal(image, original[:, ::-1])
                seen[label] = "mirrored"
    assert sorted(seen) == list(range(64)), "every example appears once per epoch, with its own label"
    kinds = list(seen.values())
    assert 10 < kinds.count("mirrored") < 54, "about half the images are mirrored"
    with pytest.raises(ValueError, match="differ in length"):
        models.flipped_batches(x, y[:10], batch_size=8)


def flipped_batches_list(x, y):
    return [(np.asarray(a), np.asarray(b)) for a, b in models.flipped_batches(x, y, batch_size=16, seed=3)]


def test_architecture_tells_equal_networks_from_different_ones():
    keras.utils.set_random_seed(0)
    a, b = models.conv_classifier(), models.conv_classifier()
    assert models.architecture(a) == models.architecture(b), "weights differ, the architecture does not"
    narrower = models.conv_classifier(num_classes=5)
    assert models.architecture(a) != models.architecture(narrower)
    first = models.architecture(a)[0]
    assert isinstance(first[0], str) and "name" not in first[1]
    assert first[2][0] is None and len(first[2]) == 4, "output shapes keep the batch axis"

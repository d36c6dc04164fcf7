"""Unit tests for dlbook_utils.blocks (chapter 08's reusable layers)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlbook_utils import blocks  # noqa: E402

from tests.conftest import ROOT, load_nb  # noqa: E402

NOTEBOOK = ROOT / "chapters" / "08_modern_cnns.ipynb"


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("cls", [blocks.ResidualBlock, blocks.BottleneckBlock])
def test_the_chapter_shows_the_package_code(cls):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    assert inspect.getsource(cls).rstrip("\n") in sources, f"chapter 08 should show {cls.__name__} as in the package"


def test_residual_block_identity_shortcut_shapes_and_weights():
    block = blocks.ResidualBlock(8)
    y = block(_x((2, 10, 10, 8)))
    assert tuple(y.shape) == (2, 10, 10, 8)
    assert block.projection is None
    assert block.count_params() == 2 * 9 * 8 * 8 + 2 * 4 * 8


@pytest.mark.parametrize("c_in, filters, strides, out_hw", [(8, 16, 1, 10), (8, 8, 2, 5), (4, 12, 2, 5)])
def test_residual_block_projection(c_in, filters, strides, out_hw):
    block = blocks.ResidualBlock(filters, strides)
    y = block(_x((2, 10, 10, c_in)))
    assert tuple(y.shape) == (2, out_hw, out_hw, filters)
    assert block.projection is not None
    expected = 9 * c_in * filters + 9 * filters * filters + 8 * filters + c_in * filters + 4 * filters
    assert block.count_params() == expected
    assert block.compute_output_shape((None, 10, 10, c_in)) == (None, out_hw, out_hw, filters)


def test_residual_block_starts_as_the_identity_on_non_negative_inputs():
    block = blocks.ResidualBlock(6)
    x = np.abs(_x((3, 7, 7, 6)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x, training=False)), x, atol=1e-5)


def test_bottleneck_block_shapes_and_weights():
    block = blocks.BottleneckBlock(4)                  # 16 channels out
    y = block(_x((2, 8, 8, 16)))
    assert tuple(y.shape) == (2, 8, 8, 16) and block.projection is None
    assert block.count_params() == 16 * 4 + 9 * 4 * 4 + 4 * 16 + 4 * (4 + 4 + 16)
    strided = blocks.BottleneckBlock(4, strides=2, expansion=2)
    y = strided(_x((2, 8, 8, 3)))
    assert tuple(y.shape) == (2, 4, 4, 8) and strided.projection is not None
    assert strided.compute_output_shape((None, 8, 8, 3)) == (None, 4, 4, 8)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        blocks.ResidualBlock(0)
    with pytest.raises(ValueError):
        blocks.BottleneckBlock(4, expansion=0)
    with pytest.raises(ValueError):
        blocks.mini_resnet(widths=(8, 16), blocks_per_stage=(1,))


def test_get_config_round_trip():
    for block in (blocks.ResidualBlock(8, 2, name="r"), blocks.BottleneckBlock(4, 2, 3, name="b")):
        clone = type(block).from_config(block.get_config())
        assert clone.get_config() == block.get_config()


def test_model_with_blocks_saves_and_loads(tmp_path):
    inputs = keras.Input(shape=(12, 12, 3))
    x = blocks.ResidualBlock(8, strides=2)(inputs)
    x = blocks.BottleneckBlock(2)(x)
    x = blocks.ResidualBlock(8)(x)
    outputs = keras.layers.Dense(3, dtype="float32")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    # Non-zero weights everywhere, so that the comparison is not trivially between zeros.
    model.set_weights([w + 0.1 for w in model.get_weights()])
    x_in = _x((4, 12, 12, 3))
    path = tmp_path / "blocks.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers[1:4]] == ["ResidualBlock", "BottleneckBlock",
                                                                      "ResidualBlock"]
    np.testing.assert_allclose(loaded.predict(x_in, verbose=0), model.predict(x_in, verbose=0), atol=1e-5)


def test_mini_resnet_shapes_and_head():
    model = blocks.mini_resnet(widths=(8, 16, 32), blocks_per_stage=(1, 2, 1), stem_filters=8, augment=True,
                               max_shift=2)
    assert [layer.name for layer in model.layers[1:3]] == ["flip", "shift"]
    assert "shift" not in [layer.name for layer in blocks.mini_resnet(augment=True).layers]
    assert model.output_shape == (None, 10)
    assert model.get_layer("stage3_block1").output.shape[1:] == (7, 7, 32)
    assert model.get_layer("predictions").count_params() == 33 * 10
    assert model.get_layer("predictions").compute_dtype == "float32"
    probabilities = model.predict(_x((2, 28, 28, 1)), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_parameter_formulas_match_keras():
    for k, c_in, c_out in [(3, 8, 16), (5, 3, 7), (1, 32, 4)]:
        conv = keras.layers.Conv2D(c_out, k)
        conv.build((None, 10, 10, c_in))
        sep = keras.layers.SeparableConv2D(c_out, k)
        sep.build((None, 10, 10, c_in))
        assert blocks.conv_params(k, c_in, c_out) == conv.count_params()
        assert blocks.separable_conv_params(k, c_in, c_out) == sep.count_params()
        assert blocks.conv_params(k, c_in, c_out, bias=False) == k * k * c_in * c_out


def test_freeze_batch_norm_reaches_nested_layers_and_switches_to_inference():
    keras.utils.set_random_seed(0)
    model = blocks.mini_resnet(widths=(8, 16), blocks_per_stage=(1, 1), stem_filters=8)
    # stem BN; stage 1: two BN (identity shortcut); stage 2: two BN + the projection's BN
    assert blocks.freeze_batch_norm(model) == 1 + 2 + 3
    stage2 = model.get_layer("stage2_block1")
    assert not stage2.bn1.trainable and not stage2.projection_bn.trainable
    assert all(w.trainable for w in stage2.conv1.weights), "convolutions stay trainable"
    means_before = [keras.ops.convert_to_numpy(w) for w in model.weights if "moving_mean" in w.path]
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32") * 5
    model(x, training=True)        # a trainable BN would update its moving statistics here
    means_after = [keras.ops.convert_to_numpy(w) for w in model.weights if "moving_mean" in w.path]
    assert len(means_before) == 6
    assert all(np.array_equal(a, b) for a, b in zip(means_before, means_after))
    # in inference mode the output with training=True equals the output with training=False
    assert np.allclose(model(x, training=True), model(x, training=False), atol=1e-6)

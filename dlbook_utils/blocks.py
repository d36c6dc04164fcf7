"""Building blocks of modern convolutional networks, as reusable Keras layers (chapter 08).

* :class:`ResidualBlock` — the basic residual block of ResNet: two 3 × 3 convolutions with batch normalisation,
  plus a shortcut (the identity, or a 1 × 1 projection when the shape changes), then ReLU.
* :class:`BottleneckBlock` — the bottleneck block: 1 × 1 reduce → 3 × 3 → 1 × 1 expand, plus a shortcut.
* :func:`mini_resnet` — a small ResNet for 28 × 28 images built from residual blocks, ending in global average
  pooling and a float32 softmax.
* :func:`freeze_batch_norm` — keep every batch-normalisation layer of a model, nested ones included, in
  inference mode with its stored statistics (for fine-tuning on small data).
* :func:`separable_conv_params` and :func:`conv_params` — weight counts of standard and depthwise-separable
  convolutions.

Both blocks are subclassed ``keras.layers.Layer`` with ``get_config`` and are registered as serialisable, so a
model that uses them saves to a ``.keras`` file and loads back::

    from dlbook_utils import blocks
    model = blocks.mini_resnet()
    model.save("resnet.keras")
    keras.models.load_model("resnet.keras")   # the blocks are found by their registered names
"""

from __future__ import annotations

import keras
from keras import layers

__all__ = ["ResidualBlock", "BottleneckBlock", "mini_resnet", "freeze_batch_norm", "conv_params",
           "separable_conv_params"]


@keras.saving.register_keras_serializable(package="dlbook")
class ResidualBlock(keras.layers.Layer):
    """y = ReLU(F(x) + shortcut(x)), F = Conv3×3(stride) → BN → ReLU → Conv3×3 → BN; the shortcut is the identity,
    or a strided 1 × 1 convolution + BN (a *projection*) when the block changes the shape."""

    def __init__(self, filters: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        if filters < 1 or strides < 1:
            raise ValueError(f"filters and strides must be positive, got {filters} and {strides}")
        self.filters, self.strides = int(filters), int(strides)
        self.conv1 = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)
        self.bn1 = layers.BatchNormalization(momentum=0.9)
        self.conv2 = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn2 = layers.BatchNormalization(momentum=0.9, gamma_initializer="zeros")
        self.projection = self.projection_bn = None

    def build(self, input_shape):
        if self.strides != 1 or input_shape[-1] != self.filters:
            self.projection = layers.Conv2D(self.filters, 1, strides=self.strides, use_bias=False)
            self.projection_bn = layers.BatchNormalization(momentum=0.9)
            self.projection.build(input_shape)
            self.projection_bn.build(self.projection.compute_output_shape(input_shape))
        shape = input_shape
        for layer in (self.conv1, self.bn1, self.conv2, self.bn2):  # each layer built for the shape it receives
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x, training=None):
        shortcut = x if self.projection is None else self.projection_bn(self.projection(x), training=training)
        y = keras.ops.relu(self.bn1(self.conv1(x), training=training))
        y = self.bn2(self.conv2(y), training=training)
        return keras.ops.relu(y + shortcut)

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


@keras.saving.register_keras_serializable(package="dlbook")
class BottleneckBlock(keras.layers.Layer):
    """ReLU(F(x) + shortcut(x)), F = Conv1×1 → BN → ReLU → Conv3×3(stride) → BN → ReLU → Conv1×1(expansion) → BN."""

    def __init__(self, filters: int, strides: int = 1, expansion: int = 4, **kwargs):
        super().__init__(**kwargs)
        if filters < 1 or strides < 1 or expansion < 1:
            raise ValueError(f"filters, strides and expansion must be positive, got {filters}, {strides}, {expansion}")
        self.filters, self.strides, self.expansion = int(filters), int(strides), int(expansion)
        self.reduce = layers.Conv2D(filters, 1, use_bias=False)
        self.bn1 = layers.BatchNormalization(momentum=0.9)
        self.conv = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)
        self.bn2 = layers.BatchNormalization(momentum=0.9)
        self.expand = layers.Conv2D(filters * expansion, 1, use_bias=False)
        self.bn3 = layers.BatchNormalization(momentum=0.9, gamma_initializer="zeros")
        self.projection = self.projection_bn = None

    def build(self, input_shape):
        if self.strides != 1 or input_shape[-1] != self.filters * self.expansion:
            self.projection = layers.Conv2D(self.filters * self.expansion, 1, strides=self.strides, use_bias=False)
            self.projection_bn = layers.BatchNormalization(momentum=0.9)
            self.projection.build(input_shape)
            self.projection_bn.build(self.projection.compute_output_shape(input_shape))
        shape = input_shape
        for layer in (self.reduce, self.bn1, self.conv, self.bn2, self.expand, self.bn3):
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x, training=None):
        shortcut = x if self.projection is None else self.projection_bn(self.projection(x), training=training)
        y = keras.ops.relu(self.bn1(self.reduce(x), training=training))
        y = keras.ops.relu(self.bn2(self.conv(y), training=training))
        y = self.bn3(self.expand(y), training=training)
        return keras.ops.relu(y + shortcut)

    def compute_output_shape(self, input_shape):
        return self.expand.compute_output_shape(self.conv.compute_output_shape(input_shape))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides, "expansion": self.expansion}


def mini_resnet(input_shape=(28, 28, 1), num_classes: int = 10, widths=(32, 64, 128), blocks_per_stage=(1, 1, 1),
                stem_filters: int = 24, augment: bool = False, max_shift: int = 0, name: str = "mini_resnet"):
    """A small ResNet for small images, uncompiled.

    Stem Conv3×3(``stem_filters``) → BN → ReLU at full resolution; then one stage per entry of ``widths``, each
    of ``blocks_per_stage`` :class:`ResidualBlock` s, the first block of every stage after the first halving
    the resolution (stride 2); then global average pooling and a float32 Dense softmax. With ``augment``, random
    horizontal flips, and shifts of up to ``max_shift`` pixels if it is positive, come first (training only).
    """
    if len(widths) != len(blocks_per_stage) or not widths:
        raise ValueError("widths and blocks_per_stage must be non-empty and of the same length")
    if any(b < 1 for b in blocks_per_stage):
        raise ValueError(f"every stage needs at least one block, got {blocks_per_stage}")
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    if augment:
        x = layers.RandomFlip("horizontal", name="flip")(x)
        if max_shift > 0:
            x = layers.RandomTranslation(max_shift / input_shape[0], max_shift / input_shape[1],
                                         fill_mode="constant", name="shift")(x)
    x = layers.Conv2D(stem_filters, 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for stage, (width, n_blocks) in enumerate(zip(widths, blocks_per_stage), start=1):
        for block in range(1, n_blocks + 1):
            strides = 2 if stage > 1 and block == 1 else 1
            x = ResidualBlock(width, strides=strides, name=f"stage{stage}_block{block}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def freeze_batch_norm(model) -> int:
    """Set ``trainable = False`` on every ``BatchNormalization`` layer in ``model``, including those inside
    :class:`ResidualBlock` and :class:`BottleneckBlock`; returns how many were frozen.

    In Keras 3 a BN layer that is not trainable also runs in inference mode: it normalises with its stored moving
    mean and variance and stops updating them. Fine-tuning a pretrained network on a few hundred images should
    keep it that way, since the statistics of small batches of the new task would replace those learned on the
    large source task. Call it after setting the other layers' ``trainable`` and before ``compile``.
    """
    seen, frozen = set(), 0

    def visit(layer):
        nonlocal frozen
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
            frozen += 1
        for value in vars(layer).values():           # sub-layers held as attributes, e.g. ResidualBlock.bn1
            if isinstance(value, keras.layers.Layer):
                visit(value)

    for layer in model.layers:
        visit(layer)
    return frozen


def conv_params(kernel: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """Weights of a standard k × k convolution: k·k·C_in·C_out (+ C_out biases)."""
    return kernel * kernel * c_in * c_out + (c_out if bias else 0)


def separable_conv_params(kernel: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """Weights of a depthwise-separable convolution: k·k·C_in (depthwise) + C_in·C_out (pointwise) (+ C_out)."""
    return kernel * kernel * c_in + c_in * c_out + (c_out if bias else 0)

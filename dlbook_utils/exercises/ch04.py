"""Checkers for chapter 04 · Neural networks with Keras.

* 04.1 ``dense_param_count(layer_sizes)``: parameters of a stack of Dense layers, by hand.
* 04.2 ``build_wide_and_deep(hidden_units)``: a Functional model with a concatenating shortcut.
* 04.3 ``BatchLossLogger``: a callback that records ``logs["loss"]`` after every training batch.

Keras is imported inside the checkers, so that importing this module stays cheap.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..check import Feedback, expect, expect_callable, expect_close, register

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


# ---------------------------------------------------------------------------------------------
# 04.1
# ---------------------------------------------------------------------------------------------


def _reference_param_count(sizes: list[int]) -> int:
    return int(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))


def _param_count_hint(sizes: list[int], got: Any) -> str:
    weights_only = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    biases_on_inputs = sum(a * (b + 1) for a, b in zip(sizes[:-1], sizes[1:]))
    last_layer_only = (sizes[-2] + 1) * sizes[-1]
    if got == weights_only:
        return "it looks like only the weight matrices are counted: a Dense layer has one more kind of parameter."
    if got == biases_on_inputs:
        return "check which side of the layer the biases belong to: there is one per output unit."
    if got == last_layer_only and len(sizes) > 2:
        return "only the last layer seems to be counted; add up every layer of the stack."
    return "a stack of n sizes has n - 1 layers; count each layer's parameters with the formula of section 2 and add them up."


@register("04.1", "parameters of a Dense stack")
def check_dense_param_count(answer: Any) -> None:
    expect_callable(answer, "dense_param_count")
    rng = np.random.default_rng()
    stacks = [[3, 2], [784, 256, 256, 10], [5, 1, 7]]
    stacks += [rng.integers(1, 60, size=int(rng.integers(2, 6))).tolist() for _ in range(4)]
    for sizes in stacks:
        got = answer(list(sizes))
        if isinstance(got, (np.integer, np.floating)):
            got = got.item()
        expect(
            isinstance(got, numbers.Real) and not isinstance(got, bool),
            f"dense_param_count({sizes}) returned a {type(got).__name__}; it should return a number (an int).",
        )
        expect(float(got).is_integer(), f"dense_param_count({sizes}) returned {got}, which is not a whole number.")
        expected = _reference_param_count(sizes)
        if int(got) != expected:
            raise Feedback(
                f"dense_param_count({sizes}) returned {int(got)}, which is not the parameter count of that stack. "
                f"Hint: {_param_count_hint(sizes, int(got))}"
            )


# ---------------------------------------------------------------------------------------------
# 04.2
# ---------------------------------------------------------------------------------------------


def _reference_wide_and_deep_params(hidden_units: int) -> int:
    pixels = int(np.prod(IMAGE_SHAPE))
    return (pixels + 1) * hidden_units + (pixels + hidden_units + 1) * NUM_CLASSES


def _activation_name(layer: Any) -> str:
    return str(layer.get_config().get("activation", ""))


@register("04.2", "a Functional wide-and-deep model")
def check_wide_and_deep(answer: Any) -> None:
    import keras

    expect_callable(answer, "build_wide_and_deep")
    rng = np.random.default_rng()
    for hidden_units in (int(rng.integers(11, 40)), int(rng.integers(41, 100))):
        model = answer(hidden_units)
        what = f"build_wide_and_deep({hidden_units})"
        expect(isinstance(model, keras.Model), f"{what} should return a keras.Model, not a {type(model).__name__}.")
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            inputs = None
        expect(
            bool(inputs) and len(inputs) == 1,
            f"{what} should be a Functional model with one input: start from keras.Input(shape=(28, 28)) and "
            "finish with keras.Model(inputs, outputs).",
        )
        expect(
            tuple(inputs[0].shape)[1:] == IMAGE_SHAPE,
            f"the input of {what} has shape {tuple(inputs[0].shape)}; one example should be a 28×28 image.",
        )
        expect(
            len(model.outputs) == 1 and tuple(model.outputs[0].shape)[1:] == (NUM_CLASSES,),
            f"the output of {what} has shape {[tuple(o.shape) for o in model.outputs]}; it should give "
            "one score per class for every image.",
        )
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        concat = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
        expect(len(concat) == 1, f"{what} has {len(concat)} Concatenate layers; the description has exactly one.")
        expect(
            len(dense) == 2,
            f"{what} has {len(dense)} Dense layers; the description has two (one hidden, one output).",
        )
        units = sorted(layer.units for layer in dense)
        expect(
            units == sorted([hidden_units, NUM_CLASSES]),
            f"the Dense layers of {what} have {units} units; one should have hidden_units units and the other one "
            "unit per class.",
        )
        hidden, classifier = dense
        expect(
            classifier.units == NUM_CLASSES,
            f"the last Dense layer of {what} should be the classifier, with one unit per class.",
        )
        expect(_activation_name(hidden) == "relu", "the hidden Dense layer should use the ReLU activation.")
        expect(
            _activation_name(classifier) == "softmax",
            "the output layer should turn its scores into class probabilities (which activation does that?).",
        )
        concat_width = tuple(concat[0].output.shape)[-1]
        expect(
            concat_width == int(np.prod(IMAGE_SHAPE)) + hidden_units,
            f"the Concatenate layer of {what} outputs {concat_width} features; check which two tensors go into it "
            "(the flattened pixels and the hidden layer's output).",
        )
        expected = _reference_wide_and_deep_params(hidden_units)
        got = model.count_params()
        expect(
            got == expected,
            f"{what} has {got:,} parameters, which does not match the described model; check what each Dense layer "
            "is applied to.",
        )
        images = rng.random((5, *IMAGE_SHAPE)).astype("float32")
        probs = keras.ops.convert_to_numpy(model(images, training=False))
        expect_close(probs.sum(axis=1), np.ones(5), "the sum of each image's class probabilities", rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# 04.3
# ---------------------------------------------------------------------------------------------


def _tiny_fit(callback: Any, reference: Any, *, epochs: int, rng: np.random.Generator) -> int:
    """Train a tiny softmax classifier on fresh random data; return the number of batches per epoch."""
    import keras

    n, features, classes, batch_size = int(rng.integers(40, 80)), 6, 3, 16
    x = rng.normal(size=(n, features)).astype("float32")
    y = rng.integers(0, classes, size=n)
    model = keras.Sequential([keras.Input((features,)), keras.layers.Dense(classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[callback, reference])
    return int(np.ceil(n / batch_size))


@register("04.3", "a callback that logs every batch")
def check_batch_loss_logger(answer: Any) -> None:
    import keras

    if answer is None or answer is Ellipsis:
        raise NotImplementedError
    expect(
        isinstance(answer, type) and issubclass(answer, keras.callbacks.Callback),
        "BatchLossLogger should be a class that subclasses keras.callbacks.Callback (pass the class, not an instance).",
    )

    class Reference(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    rng = np.random.default_rng()
    logger = answer()
    for epochs in (2, 1):  # the same logger twice: it must start empty at every fit
        reference = Reference()
        steps = _tiny_fit(logger, reference, epochs=epochs, rng=rng)
        losses = getattr(logger, "losses", None)
        expect(losses is not None, "after fit, your callback should have an attribute named `losses`.")
        expect(
            isinstance(losses, list),
            f"`losses` should be a Python list, but it is a {type(losses).__name__}.",
        )
        when = "in a second fit with the same callback" if epochs == 1 else "in a fit"
        expect(
            len(losses) == epochs * steps,
            f"{when} of {epochs} epoch(s) × {steps} batches your callback recorded {len(losses)} values; it should "
            "record one per training batch"
            + (", starting from an empty list at the beginning of every fit." if epochs == 1 else "."),
        )
        expect_close(
            losses, reference.losses, "the recorded losses", rtol=1e-6,
            hint="record logs['loss'] at the end of each training batch, as Keras reports it.",
        )

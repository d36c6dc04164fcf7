"""The checkers of chapter 04: the notebook's solutions pass, plausible mistakes fail with a useful message,
and stubs count as "not attempted"."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest

from dlbook_utils import check
from tests.conftest import ROOT

import keras  # noqa: E402
from keras import layers  # noqa: E402

NOTEBOOK = ROOT / "chapters" / "04_keras_networks.ipynb"


def _solution_namespace(exercise_id: str) -> dict:
    """Execute the notebook's solution cell for ``exercise_id`` and return its namespace."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    title = f"#@title Solution {exercise_id} "
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(title))
    namespace = {"keras": keras, "layers": layers, "np": np}
    exec(compile(cell.source, f"solution {exercise_id}", "exec"), namespace)
    return namespace


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your answer")


# ---------------------------------------------------------------------------------------------
# 04.1
# ---------------------------------------------------------------------------------------------


def test_0401_solution_passes():
    answer = _solution_namespace("04.1")["dense_param_count"]
    assert answer([784, 256, 256, 10]) == 269_322
    assert check.run("04.1", answer) == (check.PASSED, "passed")


def test_0401_forgotten_biases_fail_with_a_hint():
    status, message = check.run("04.1", lambda s: sum(a * b for a, b in zip(s[:-1], s[1:])))
    assert status == check.FAILED
    assert "only the weight matrices" in message


def test_0401_biases_on_the_wrong_side_fail_with_a_hint():
    status, message = check.run("04.1", lambda s: sum(a * (b + 1) for a, b in zip(s[:-1], s[1:])))
    assert status == check.FAILED
    assert "one per output unit" in message


def test_0401_wrong_type_and_stub():
    status, message = check.run("04.1", lambda s: str(sum((a + 1) * b for a, b in zip(s[:-1], s[1:]))))
    assert status == check.FAILED and "should return a number" in message
    assert check.run("04.1", 42)[0] == check.FAILED
    assert check.run("04.1", _stub)[0] == check.NOT_ATTEMPTED
    assert check.run("04.1", None)[0] == check.NOT_ATTEMPTED


def test_0401_numpy_integers_are_accepted():
    def answer(sizes):
        s = np.asarray(sizes)
        return np.sum((s[:-1] + 1) * s[1:])

    assert check.run("04.1", answer)[0] == check.PASSED


# ---------------------------------------------------------------------------------------------
# 04.2
# ---------------------------------------------------------------------------------------------


def test_0402_solution_passes():
    build = _solution_namespace("04.2")["build_wide_and_deep"]
    assert build(128).count_params() == 109_610
    assert check.run("04.2", build) == (check.PASSED, "passed")


def test_0402_plain_stack_without_the_shortcut_fails():
    def no_shortcut(hidden_units=128):
        inputs = keras.Input(shape=(28, 28))
        x = layers.Flatten()(inputs)
        x = layers.Dense(hidden_units, activation="relu")(x)
        return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))

    status, message = check.run("04.2", no_shortcut)
    assert status == check.FAILED and "Concatenate" in message


def test_0402_concatenating_the_wrong_tensors_fails():
    def wrong_concat(hidden_units=128):
        inputs = keras.Input(shape=(28, 28))
        pixels = layers.Flatten()(inputs)
        hidden = layers.Dense(hidden_units, activation="relu")(pixels)
        both = layers.Concatenate()([hidden, hidden])
        return keras.Model(inputs, layers.Dense(10, activation="softmax")(both))

    status, message = check.run("04.2", wrong_concat)
    assert status == check.FAILED and "which two tensors" in message


def test_0402_missing_softmax_and_fixed_width_fail():
    def logits(hidden_units=128):
        inputs = keras.Input(shape=(28, 28))
        pixels = layers.Flatten()(inputs)
        hidden = layers.Dense(hidden_units, activation="relu")(pixels)
        both = layers.Concatenate()([pixels, hidden])
        return keras.Model(inputs, layers.Dense(10)(both))

    status, message = check.run("04.2", logits)
    assert status == check.FAILED and "probabilities" in message

    build = _solution_namespace("04.2")["build_wide_and_deep"]
    status, message = check.run("04.2", lambda hidden_units=128: build(128))
    assert status == check.FAILED and "units" in message
    assert "109" not in message  # the expected count is not given away


def test_0402_not_a_model_and_stub():
    status, message = check.run("04.2", lambda h=128: [layers.Dense(h)])
    assert status == check.FAILED and "keras.Model" in message
    assert check.run("04.2", _stub)[0] == check.NOT_ATTEMPTED


# ---------------------------------------------------------------------------------------------
# 04.3
# ---------------------------------------------------------------------------------------------


def test_0403_solution_passes():
    logger_class = _solution_namespace("04.3")["BatchLossLogger"]
    assert check.run("04.3", logger_class) == (check.PASSED, "passed")


def test_0403_logging_once_per_epoch_fails():
    class EpochLogger(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.losses = []

        def on_epoch_end(self, epoch, logs=None):
            self.losses.append(float(logs["loss"]))

    status, message = check.run("04.3", EpochLogger)
    assert status == check.FAILED and "one per training batch" in message


def test_0403_list_that_is_never_reset_fails():
    class NeverReset(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    status, message = check.run("04.3", NeverReset)
    assert status == check.FAILED and "empty list at the beginning of every fit" in message


def test_0403_wrong_values_and_instances_are_explained():
    class KeepsTheLogs(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(dict(logs))

    status, message = check.run("04.3", KeepsTheLogs)
    assert status == check.FAILED and "should be numbers" in message

    class LogsTheBatchIndex(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(batch))

    status, message = check.run("04.3", LogsTheBatchIndex)
    assert status == check.FAILED and "recorded losses is off" in message and "logs['loss']" in message

    logger_class = _solution_namespace("04.3")["BatchLossLogger"]
    status, message = check.run("04.3", logger_class())
    assert status == check.FAILED and "pass the class" in message


def test_0403_stub_is_not_attempted():
    class Stub(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            raise NotImplementedError("Exercise 04.3: replace this line with your answer")

        def on_train_batch_end(self, batch, logs=None):
            raise NotImplementedError("Exercise 04.3: replace this line with your answer")

    assert check.run("04.3", Stub)[0] == check.NOT_ATTEMPTED


def test_student_version_stubs_every_solution():
    from dlbook_utils.student import student_notebook

    student = student_notebook(nbformat.read(NOTEBOOK, as_version=4))
    text = "\n".join(c.source for c in student.cells)
    assert "### BEGIN SOLUTION" not in text and "<details>" not in text
    assert len(re.findall(r"raise NotImplementedError", text)) == 4  # 04.1, 04.2 and the two methods of 04.3

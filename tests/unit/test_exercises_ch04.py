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


# ---------------------------------------------------------------------------------------------
# 04.4
# ---------------------------------------------------------------------------------------------


def _adam(slip=None):
    """adam_update as a learner might write it, with the slip ``slip`` (None: the right rule)."""

    def adam_update(params, grads, state, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-7):
        b1, b2 = (beta2, beta1) if slip == "swapped betas" else (beta1, beta2)
        if slip == "ignores arguments":
            lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
        if state is None or slip == "state lost":
            state = {"t": 0, "m": {k: np.zeros_like(p) for k, p in params.items()},
                     "s": {k: np.zeros_like(p) for k, p in params.items()}}
        t = {"t from 0": state["t"], "t stuck": 1}.get(slip, state["t"] + 1)
        new_params, m, s = {}, {}, {}
        for k, p in params.items():
            g = grads[k]
            second = {"g": g, "|g|": np.abs(g)}.get(slip, g * g)
            old_m = 0.0 if slip == "m forgotten" else state["m"][k]
            if slip == "no (1 - beta)":
                m[k], s[k] = b1 * old_m + g, b2 * state["s"][k] + second
            else:
                m[k], s[k] = b1 * old_m + (1 - b1) * g, b2 * state["s"][k] + (1 - b2) * second
            m_hat = m[k] if slip in ("no correction", "only s corrected") else m[k] / (1 - b1**t)
            s_hat = s[k] if slip in ("no correction", "only m corrected") else s[k] / (1 - b2**t)
            if slip == "eps inside":
                step = lr * m_hat / np.sqrt(s_hat + eps)
            elif slip == "no sqrt":
                step = lr * m_hat / (s_hat + eps)
            elif slip == "keras":  # Keras's rearrangement: the corrections folded into the learning rate
                step = lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m[k] / (np.sqrt(s[k]) + eps)
            elif slip == "twice the rate":
                step = 2 * lr * m_hat / (np.sqrt(s_hat) + eps)
            else:
                step = lr * m_hat / (np.sqrt(s_hat) + eps)
            if slip == "in place":
                p -= step
                new_params[k] = p
            else:
                new_params[k] = p + step if slip == "uphill" else p - step
        return new_params, {"t": state["t"] + 1, "m": m, "s": s}

    return adam_update


def test_0404_solution_passes_and_retraces_section_8():
    adam_update = _solution_namespace("04.4")["adam_update"]
    assert check.run("04.4", adam_update) == (check.PASSED, "passed")
    assert check.run("04.4", _adam()) == (check.PASSED, "passed")


@pytest.mark.parametrize(
    "slip, words",
    [
        ("no correction", "without the bias correction"),
        ("only m corrected", "only the first moment m is bias-corrected"),
        ("only s corrected", "only the second moment s is bias-corrected"),
        ("t from 0", "counted as t = 0"),
        ("t stuck", "bias correction of step 1"),
        ("state lost", "every step looks like a first step"),
        ("eps inside", "ε is added inside the square root"),
        ("g", "not its square"),
        ("|g|", "averages |g|"),
        ("swapped betas", "β₁ and β₂ look swapped"),
        ("no (1 - beta)", "weight it by (1 − β)"),
        ("no sqrt", "its square root"),
        ("uphill", "uphill"),
        ("ignores arguments", "those of the default settings"),
        ("in place", "leave them unchanged"),
        ("twice the rate", "the first step is off"),
        ("m forgotten", "step 2 is off"),
    ],
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_0404_slips_are_named(slip, words):
    status, message = check.run("04.4", _adam(slip))
    assert status == check.FAILED
    assert words in message, message


def test_0404_eps_inside_the_root_fails_only_where_it_matters():
    status, message = check.run("04.4", _adam("eps inside"))
    assert "gradients of about 1e-4" in message  # the cases with gradients of ordinary size passed


def test_0404_keras_placement_of_eps_and_float32_are_accepted():
    assert check.run("04.4", _adam("keras")) == (check.PASSED, "passed")
    solution = _solution_namespace("04.4")["adam_update"]

    def in_float32(params, grads, state, **settings):
        return solution({k: v.astype("float32") for k, v in params.items()},
                        {k: v.astype("float32") for k, v in grads.items()}, state, **settings)

    assert check.run("04.4", in_float32) == (check.PASSED, "passed")


def test_0404_malformed_answers_are_explained_not_crashed():
    status, message = check.run("04.4", lambda params, grads, state, **kw: None)
    assert status == check.FAILED and "returned None" in message
    adam_update = _solution_namespace("04.4")["adam_update"]
    status, message = check.run("04.4", lambda *a, **kw: adam_update(*a, **kw)[0])
    assert status == check.FAILED and "pair (new_params, new_state)" in message
    status, message = check.run(
        "04.4", lambda *a, **kw: ({k: v.ravel() for k, v in adam_update(*a, **kw)[0].items()}, None))
    assert status == check.FAILED and "shape" in message
    status, message = check.run("04.4", lambda *a, **kw: ({"w": 0.0}, None))
    assert status == check.FAILED and "same keys" in message
    status, message = check.run("04.4", lambda *a, **kw: (list(adam_update(*a, **kw)[0].values()), None))
    assert status == check.FAILED and "same keys" in message
    assert check.run("04.4", 3.0)[0] == check.FAILED
    assert check.run("04.4", _stub)[0] == check.NOT_ATTEMPTED
    assert check.run("04.4", None)[0] == check.NOT_ATTEMPTED


@pytest.mark.parametrize("scale", [1.0, 1e-4])
def test_0404_accepted_forms_are_keras_adam(scale):
    """Keras's Adam is the 'keras eps' form (exact up to float32 constants); with gradients of ordinary size the
    rule as written agrees with it within the checker's tolerance, with tiny gradients it does not."""
    from dlbook_utils.exercises import ch04

    rng = np.random.default_rng(0)
    grads_seq = ch04._adam_gradients(rng, 5, scale)
    settings = dict(ch04.ADAM_DEFAULTS, lr=0.01)
    optimizer = keras.optimizers.Adam(learning_rate=settings["lr"], beta_1=settings["beta1"],
                                      beta_2=settings["beta2"], epsilon=settings["eps"])
    variables = {k: keras.Variable(rng.normal(size=g.shape), dtype="float64") for k, g in grads_seq[0].items()}
    keras_steps = []
    for grads in grads_seq:
        before = {k: keras.ops.convert_to_numpy(v) for k, v in variables.items()}
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(grads[k], dtype="float64"), variables[k])
                                   for k in variables])
        keras_steps.append({k: keras.ops.convert_to_numpy(variables[k]) - before[k] for k in variables})
    exact = ch04.adam_steps(grads_seq, **settings, variant="keras eps")
    rule = ch04.adam_steps(grads_seq, **settings)
    assert ch04._same_steps(keras_steps, exact, settings["lr"])
    for mine, theirs in zip(keras_steps, exact):
        for k in mine:
            np.testing.assert_allclose(mine[k], theirs[k], rtol=1e-4)
    assert ch04._same_steps(keras_steps, rule, settings["lr"]) == (scale == 1.0)


def test_student_version_stubs_every_solution():
    from dlbook_utils.student import student_notebook

    student = student_notebook(nbformat.read(NOTEBOOK, as_version=4))
    text = "\n".join(c.source for c in student.cells)
    assert "### BEGIN SOLUTION" not in text and "<details>" not in text
    assert len(re.findall(r"raise NotImplementedError", text)) == 5  # 04.1, 04.2, the two methods of 04.3, 04.4

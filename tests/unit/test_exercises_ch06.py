"""The chapter 06 exercise checkers: the notebook's solutions pass, plausible mistakes fail with a useful
message, and untouched stubs count as "not attempted"."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlbook_utils import check
from dlbook_utils.exercises import ch06

from tests.conftest import ROOT, solution_namespace

NOTEBOOK = ROOT / "chapters" / "06_generalisation.ipynb"
l2_penalty = solution_namespace(NOTEBOOK, "06.1", np=np)["l2_penalty"]
inverted_dropout = solution_namespace(NOTEBOOK, "06.2", np=np)["inverted_dropout"]
early_stopping = solution_namespace(NOTEBOOK, "06.3", np=np)["early_stopping"]


def stub(*args):
    raise NotImplementedError("Exercise 06.k: replace this line with your answer")


SOLUTIONS = {"06.1": l2_penalty, "06.2": inverted_dropout, "06.3": early_stopping}


@pytest.mark.parametrize("exercise", sorted(SOLUTIONS))
def test_solution_passes(exercise):
    assert check.run(exercise, SOLUTIONS[exercise]) == (check.PASSED, "passed")


@pytest.mark.parametrize("exercise", sorted(SOLUTIONS))
def test_stub_is_not_attempted(exercise):
    status, message = check.run(exercise, stub)
    assert status == check.NOT_ATTEMPTED and "not attempted" in message


@pytest.mark.parametrize("exercise", sorted(SOLUTIONS))
def test_not_a_function(exercise):
    status, message = check.run(exercise, 3.0)
    assert status == check.FAILED and "function" in message


# --- 06.1 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda ws, lam: 0.5 * lam * sum(np.sum(w**2) for w in ws), "factor of 2"),
        (lambda ws, lam: sum(np.sum(w**2) for w in ws), "does not depend on lam"),
        (lambda ws, lam: lam * sum(np.sum(np.abs(w)) for w in ws), "L1"),
        (lambda ws, lam: lam * sum(np.mean(w**2) for w in ws), "average"),
        (lambda ws, lam: lam * np.sum(ws[0] ** 2), "only counts the first array"),
        (lambda ws, lam: lam * math.sqrt(sum(np.sum(w**2) for w in ws)), "no square root"),
        (lambda ws, lam: lam * sum(np.sum(w**2) for w in ws) + 0.1, "differs from keras.regularizers.L2"),
        (lambda ws, lam: [lam * np.sum(w**2) for w in ws], "one number"),
    ],
)
def test_l2_wrong_answers_are_explained(wrong, words):
    status, message = check.run("06.1", wrong)
    assert status == check.FAILED
    assert words in message, message


def test_l2_accepts_tensors():
    import keras

    def with_keras(weights, lam):
        return lam * sum(keras.ops.sum(keras.ops.square(w)) for w in weights)

    assert check.run("06.1", with_keras)[0] == check.PASSED


# --- 06.2 -----------------------------------------------------------------------------------------


def no_rescale(x, rate, rng):
    return np.where(rng.random(x.shape) >= rate, x, 0.0)


def keep_rate(x, rate, rng):
    return np.where(rng.random(x.shape) < rate, x / (1 - rate), 0.0) if rate else x.copy()


def global_random(x, rate, rng):
    return np.where(np.random.random(x.shape) >= rate, x / (1 - rate), 0.0)


def same_mask_each_call(x, rate, rng):
    return np.where(np.random.default_rng(0).random(x.shape) >= rate, x / (1 - rate), 0.0)


def scale_by_rate(x, rate, rng):
    return np.where(rng.random(x.shape) >= rate, x * (1 + rate), 0.0)


def in_place(x, rate, rng):
    x *= (rng.random(x.shape) >= rate) / (1 - rate)
    return x


def drop_rows(x, rate, rng):
    rows = rng.random((x.shape[0],) + (1,) * (x.ndim - 1)) >= rate
    return np.where(rows, x / (1 - rate), 0.0)


@pytest.mark.parametrize(
    "wrong, words",
    [
        (no_rescale, "Rescale the kept entries"),
        (keep_rate, "probability of *dropping*"),
        (global_random, "from the rng argument"),
        (same_mask_each_call, "fresh mask"),
        (scale_by_rate, "does not preserve the expected value"),
        (in_place, "in place"),
        (drop_rows, "independently"),
        (lambda x, rate, rng: x.ravel(), "shape"),
    ],
)
def test_dropout_wrong_answers_are_explained(wrong, words):
    status, message = check.run("06.2", wrong)
    assert status == check.FAILED
    assert words in message, message


# --- 06.3 -----------------------------------------------------------------------------------------


def zero_based(val_losses, patience):
    best, stop = early_stopping(val_losses, patience)
    return best - 1, stop - 1


def ties_improve(val_losses, patience):
    return ch06.early_stopping_reference(val_losses, patience, ties_improve=True)


def stops_one_late(val_losses, patience):
    return early_stopping(val_losses, patience + 1)


def stops_one_early(val_losses, patience):
    return early_stopping(val_losses, max(patience - 1, 0))


def returns_last_epoch(val_losses, patience):
    _, stop = early_stopping(val_losses, patience)
    return stop, stop


@pytest.mark.parametrize(
    "wrong, words",
    [
        (zero_based, "counted from 0"),
        (ties_improve, "strictly lower"),
        (stops_one_late, "too late"),
        (stops_one_early, "too early"),
        (returns_last_epoch, "lowest validation loss"),
        (lambda losses, patience: len(losses), "pair of integers"),
    ],
)
def test_early_stopping_wrong_answers_are_explained(wrong, words):
    status, message = check.run("06.3", wrong)
    assert status == check.FAILED
    assert words in message, message


def test_reference_matches_keras_early_stopping():
    """The checker's rule is the one keras.callbacks.EarlyStopping applies."""
    import keras

    class FakeModel:
        stop_training = False

    curves = [losses for losses, _, _ in ch06._curves()]
    rng = np.random.default_rng(1)
    curves += [(1 + np.cumsum(rng.normal(scale=0.05, size=25))).round(3).tolist() for _ in range(20)]
    for losses in curves:
        for patience in (0, 1, 2, 3, 5):
            callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience)
            model = FakeModel()
            callback.set_model(model)
            callback.on_train_begin()
            trained = 0
            for epoch, loss in enumerate(losses):
                callback.on_epoch_end(epoch, {"val_loss": loss})
                trained = epoch + 1
                if model.stop_training:
                    break
            expected = ch06.early_stopping_reference(losses, patience)
            assert (callback.best_epoch + 1, trained) == expected, (losses, patience)


def test_messages_do_not_reveal_the_reference():
    status, message = check.run("06.1", lambda ws, lam: 0.5 * lam * sum(np.sum(w**2) for w in ws))
    rng = np.random.default_rng(20260601)
    reference = ch06._keras_l2([rng.normal(size=(5, 3))], 0.01)
    assert f"{reference:.3g}" not in message

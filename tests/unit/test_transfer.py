"""Unit tests for dlbook_utils.transfer (chapter 08's transfer-learning experiment)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlbook_utils import transfer

pytestmark = pytest.mark.backends   # also run in make test's JAX pass

# label_draw --------------------------------------------------------------------------------------


def test_label_draw_is_balanced_distinct_reproducible_and_random():
    labels = np.random.default_rng(0).integers(0, 10, size=3000)
    picked = transfer.label_draw(labels, [5, 7, 9], per_class=12, seed=3)
    assert picked.shape == (36,) and len(np.unique(picked)) == 36
    assert [int(np.sum(labels[picked] == k)) for k in (5, 7, 9)] == [12, 12, 12]
    assert list(labels[picked][::12]) == [5, 7, 9]                       # class by class, in the order asked
    assert np.array_equal(picked, transfer.label_draw(labels, [5, 7, 9], 12, seed=3))
    assert not np.array_equal(picked, transfer.label_draw(labels, [5, 7, 9], 12, seed=4))
    first = np.concatenate([np.flatnonzero(labels == k)[:12] for k in (5, 7, 9)])
    assert not np.array_equal(np.sort(picked), np.sort(first))


def test_label_draw_rejects_impossible_requests():
    labels = np.array([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="fewer than"):
        transfer.label_draw(labels, [0], per_class=3)
    with pytest.raises(ValueError, match="per_class"):
        transfer.label_draw(labels, [0], per_class=0)
    with pytest.raises(ValueError, match="1-D"):
        transfer.label_draw(labels[None], [0], per_class=1)


# crossover ---------------------------------------------------------------------------------------


def test_crossover_interpolates_on_a_log_axis():
    # the gap goes from -4 at 10 to +4 at 1000: zero half-way in log, at 100
    assert transfer.crossover([10, 1000], [0.9, 0.9], [0.86, 0.94]) == pytest.approx(100.0)
    # -1 at 10, +3 at 100: a quarter of the way from log 10 to log 100
    got = transfer.crossover([10, 100, 1000], [0.8, 0.9, 0.95], [0.79, 0.93, 0.99])
    assert got == pytest.approx(10 ** 1.25)


def test_crossover_takes_the_first_catch_up_and_handles_the_ends():
    assert transfer.crossover([10, 100, 1000], [0.5, 0.6, 0.7], [0.6, 0.5, 0.8]) == 10.0    # ahead from the start
    assert transfer.crossover([10, 100, 1000], [0.9, 0.9, 0.9], [0.5, 0.6, 0.8]) is None    # never catches up
    assert transfer.crossover([10, 100, 1000], [0.9, 0.9, 0.9], [0.5, 0.9, 0.95]) == pytest.approx(100.0)
    first_catch_up = transfer.crossover([1, 10, 100, 1000], [0.9] * 4, [0.8, 1.0, 0.8, 1.0])
    assert first_catch_up == pytest.approx(math.sqrt(10))


def test_crossover_rejects_bad_grids():
    with pytest.raises(ValueError, match="increasing"):
        transfer.crossover([100, 10], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        transfer.crossover([10, 100], [0, 0, 0], [1, 1])


# mean_and_range ----------------------------------------------------------------------------------


def test_mean_and_range():
    assert transfer.mean_and_range([0.5, 0.7, 0.6]) == pytest.approx((0.6, 0.5, 0.7))
    with pytest.raises(ValueError):
        transfer.mean_and_range([])


# training ----------------------------------------------------------------------------------------


def test_train_for_steps_runs_whole_epochs_with_at_least_the_steps_asked():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    history = transfer.train_for_steps(model, x, y, steps=7, batch_size=10, peak_lr=0.05)
    assert len(history.history["loss"]) == 3                      # 3 batches per epoch: 3 epochs ≥ 7 steps
    assert int(model.optimizer.iterations) == 9
    assert history.history["loss"][-1] < history.history["loss"][0]
    with pytest.raises(ValueError, match="same length"):
        transfer.train_for_steps(model, x, y[:5], steps=1, batch_size=10, peak_lr=0.01)


def test_pass_order_makes_whole_passes_each_in_a_new_order():
    order = transfer.pass_order(7, 24, seed=3)
    assert len(order) == 24
    passes = [order[i : i + 7] for i in range(0, 21, 7)]
    for p in passes:
        assert sorted(p.tolist()) == list(range(7))                  # every example exactly once per pass
    assert not all(np.array_equal(passes[0], p) for p in passes[1:])  # reshuffled between passes
    assert len(set(order[21:].tolist())) == 3                        # the cut-short last pass has no repeats
    assert np.array_equal(order, transfer.pass_order(7, 24, seed=3))
    assert not np.array_equal(order, transfer.pass_order(7, 24, seed=4))
    with pytest.raises(ValueError):
        transfer.pass_order(0, 5)


def _tiny_problem(seed=0):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(30, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int32")
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    return keras, model, x, y


def test_retrainer_runs_are_independent_and_compile_once():
    keras, model, x, y = _tiny_problem()
    start = model.get_weights()
    retrainer = transfer.Retrainer(model, steps=12, batch_size=8, peak_lr=0.05)
    first = retrainer.fit(x, y, weights=start, seed=1)
    after_first = model.get_weights()
    step_function = model.train_function
    assert int(model.optimizer.iterations) == 12
    assert first.history["loss"][0] < np.log(2) + 0.2                 # it trained (one epoch, one loss value)
    assert any(not np.allclose(a, b) for a, b in zip(start, after_first))

    retrainer.fit(x[:5], y[:5], weights=start, seed=2)                # a different run in between
    again = retrainer.fit(x, y, weights=start, seed=1)                # same start, same order: same result
    assert model.train_function is step_function                      # not compiled again
    assert int(model.optimizer.iterations) == 12                      # the schedule restarted
    for a, b in zip(after_first, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert again.history["loss"][0] == pytest.approx(first.history["loss"][0], rel=1e-5)


def test_retrainer_without_reset_of_the_optimizer_would_differ():
    # The test above would pass trivially if the optimiser's state did not matter: show that it does.
    keras, model, x, y = _tiny_problem(1)
    start = model.get_weights()
    retrainer = transfer.Retrainer(model, steps=12, batch_size=8, peak_lr=0.05)
    retrainer.fit(x, y, weights=start, seed=1)
    reference = model.get_weights()
    model.set_weights(start)
    order = transfer.pass_order(30, 96, 1)
    model.fit(x[order], y[order], batch_size=8, shuffle=False, verbose=0)   # continues the old step count and moments
    assert any(not np.allclose(a, b, atol=1e-6) for a, b in zip(reference, model.get_weights()))
    with pytest.raises(ValueError):
        transfer.Retrainer(model, steps=0, batch_size=8, peak_lr=0.05)
    with pytest.raises(ValueError, match="same length"):
        retrainer.fit(x, y[:3])


def test_compile_adamw_with_label_smoothing_takes_one_hot_labels():
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    transfer.compile_adamw(model, 1e-3, 10, label_smoothing=0.1)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    transfer.compile_adamw(model, 1e-3, 10)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    with pytest.raises(ValueError, match="label_smoothing"):
        transfer.compile_adamw(model, 1e-3, 10, label_smoothing=1.0)


def test_accuracy_matches_evaluate():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(23, 5)).astype("float32")
    y = rng.integers(0, 3, size=23)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    expected = model.evaluate(x, y, verbose=0)[1]
    assert transfer.accuracy(model, x, y, batch_size=7) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError):
        transfer.accuracy(model, x, y[:3])

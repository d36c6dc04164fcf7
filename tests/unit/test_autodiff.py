"""dlbook_utils.autodiff: gradients and custom training steps on whichever backend Keras runs on.

`make test` runs this file twice: with the unit tests on TensorFlow, and again in the JAX pass (KERAS_BACKEND=jax,
TensorFlow hidden), so both implementations are checked against the same expectations."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dlbook_utils import autodiff

pytestmark = pytest.mark.backends   # also run in make test's JAX pass

BACKEND = keras.backend.backend()


def _dense(units=3, n_in=4, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((n_in,)), keras.layers.Dense(units)])


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(x)), dtype="float64")


def test_gradients_of_a_dense_layer_match_the_formula():
    model = _dense()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32")
    target = rng.normal(size=(8, 3)).astype("float32")

    def loss_fn():
        return keras.ops.mean(keras.ops.square(model(x) - target))

    loss, grads = autodiff.value_and_grad(loss_fn, model.trainable_weights)
    kernel, bias = (w.astype("float64") for w in model.get_weights())
    error = x @ kernel + bias - target
    d_out = 2 * error / error.size
    np.testing.assert_allclose(float(_numpy(loss)), np.mean(error ** 2), rtol=1e-5)
    np.testing.assert_allclose(_numpy(grads[0]), x.T @ d_out, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_numpy(grads[1]), d_out.sum(axis=0), rtol=1e-4, atol=1e-6)


def test_aux_comes_out_and_an_unused_variable_gets_a_zero_gradient():
    used, unused = _dense(seed=1), _dense(seed=2)
    x = np.ones((2, 4), dtype="float32")

    def loss_fn():
        out = used(x)
        return keras.ops.sum(out), out

    (loss, out), grads = autodiff.value_and_grad(loss_fn, used.trainable_weights + unused.trainable_weights,
                                                 has_aux=True)
    assert _numpy(out).shape == (2, 3)
    np.testing.assert_allclose(float(_numpy(loss)), _numpy(out).sum(), rtol=1e-6)
    assert len(grads) == 4
    for g, v in zip(grads[2:], unused.trainable_weights):
        assert tuple(g.shape) == tuple(v.shape) and not np.any(_numpy(g))
    np.testing.assert_allclose(_numpy(grads[0]), np.full((4, 3), 2.0))


def test_state_that_the_forward_pass_updates_is_updated_as_by_a_plain_call():
    """Batch normalisation in training mode moves its statistics, random layers advance their seeds."""
    x = np.random.default_rng(3).normal(2.0, 1.0, size=(16, 4)).astype("float32")

    def network():
        keras.utils.set_random_seed(4)
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
                                 keras.layers.Dropout(0.5), keras.layers.Dense(1)])

    plain, differentiated = network(), network()
    keras.utils.set_random_seed(5)
    expected = _numpy(plain(x, training=True))
    keras.utils.set_random_seed(5)
    (_, out), _ = autodiff.value_and_grad(lambda: (keras.ops.sum(differentiated(x, training=True)),
                                                   differentiated(x, training=False)),
                                          differentiated.trainable_weights, has_aux=True)
    for a, b in zip(plain.non_trainable_weights, differentiated.non_trainable_weights):
        np.testing.assert_allclose(_numpy(a), _numpy(b), rtol=1e-5, atol=1e-6)
    moving_mean = differentiated.layers[1].moving_mean
    assert np.any(_numpy(moving_mean) != 0), "the batch-normalisation statistics moved"
    assert expected.shape == (16, 1) and _numpy(out).shape == (16, 1)


def test_bad_arguments_are_clear_errors():
    model = _dense()
    with pytest.raises(ValueError, match="at least one variable"):
        autodiff.value_and_grad(lambda: 0.0, [])
    with pytest.raises(ValueError, match="trainable Keras variables"):
        autodiff.value_and_grad(lambda: 0.0, [np.zeros(3)])
    with pytest.raises(ValueError, match="pair"):
        autodiff.value_and_grad(lambda: keras.ops.sum(model(np.ones((1, 4), "float32"))),
                                model.trainable_weights, has_aux=True)
    with pytest.raises(ValueError, match="gradients for"):
        autodiff.apply_gradients(keras.optimizers.SGD(), [np.zeros(3)], model.trainable_weights)


def test_apply_gradients_outside_a_training_step_is_optimizer_apply():
    model = _dense()
    before = [w.copy() for w in model.get_weights()]
    grads = [np.ones_like(w) for w in before]
    autodiff.apply_gradients(keras.optimizers.SGD(0.5), grads, model.trainable_weights)
    for b, a in zip(before, model.get_weights()):
        np.testing.assert_allclose(a, b - 0.5, rtol=1e-6)


class TwoOptimizerRegression(keras.Model):
    """y ≈ a·x + b with the slope and the intercept in two layers, each with its own optimizer."""

    def __init__(self, keep_state=True):
        super().__init__()
        self.slope = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
        self.intercept = keras.layers.Dense(1, use_bias=True, kernel_initializer="zeros")
        self.slope.build((None, 1))
        self.intercept.build((None, 1))
        self.tracker = keras.metrics.Mean(name="loss")
        self.keep_state = keep_state
        self.built = True

    def compile(self, slope_optimizer, intercept_optimizer, **kwargs):
        super().compile(**kwargs)
        self.slope_optimizer, self.intercept_optimizer = slope_optimizer, intercept_optimizer
        slope_optimizer.build(self.slope.trainable_weights)
        intercept_optimizer.build(self.intercept.trainable_weights[1:])
        if self.keep_state:
            self.optimizer_state = slope_optimizer.variables + intercept_optimizer.variables

    @property
    def metrics(self):
        return [self.tracker]

    def call(self, x):
        return self.slope(x) + self.intercept(keras.ops.zeros_like(x))

    @autodiff.train_step
    def train_step(self, data):
        x, y = data
        for optimizer, weights in ((self.slope_optimizer, self.slope.trainable_weights),
                                   (self.intercept_optimizer, self.intercept.trainable_weights[1:])):
            def loss_fn():
                loss = keras.ops.mean(keras.ops.square(self(x) - y))
                return optimizer.scale_loss(loss), loss

            (_, loss), grads = autodiff.value_and_grad(loss_fn, weights, has_aux=True)
            autodiff.apply_gradients(optimizer, grads, weights)
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}


def _line(n=256):
    x = np.random.default_rng(6).normal(size=(n, 1)).astype("float32")
    return x, 3.0 * x - 2.0


@pytest.mark.parametrize("loss_scaling", [False, True], ids=["plain", "LossScaleOptimizer"])
def test_a_stateful_train_step_with_two_optimizers_trains_through_fit(loss_scaling):
    def optimizer(lr):
        adam = keras.optimizers.Adam(lr)
        return keras.optimizers.LossScaleOptimizer(adam) if loss_scaling else adam

    model = TwoOptimizerRegression()
    model.compile(optimizer(0.1), optimizer(0.1), steps_per_execution=4)
    x, y = _line()
    history = model.fit(x, y, batch_size=32, epochs=15, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.05 * losses[0], losses
    slope = float(model.slope.get_weights()[0][0, 0])
    intercept = float(model.intercept.get_weights()[1][0])
    assert abs(slope - 3.0) < 0.2 and abs(intercept + 2.0) < 0.2, (slope, intercept)
    inner = [o.inner_optimizer if loss_scaling else o for o in (model.slope_optimizer, model.intercept_optimizer)]
    assert [int(keras.ops.convert_to_numpy(o.iterations)) for o in inner] == [15 * 8, 15 * 8], \
        "each optimizer took one step per batch, and its state survived fit"


def test_the_same_steps_give_the_same_weights_on_a_second_model():
    """The decorated step is deterministic: two identical models trained alike end identical."""
    weights = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        model = TwoOptimizerRegression()
        model.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
        model.fit(*_line(64), batch_size=16, epochs=2, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(BACKEND != "jax", reason="only JAX needs an optimizer's state among the model's")
def test_on_jax_an_optimizer_outside_the_state_is_a_clear_error():
    model = TwoOptimizerRegression(keep_state=False)
    model.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    with pytest.raises(ValueError, match="not part of the model's state"):
        model.fit(*_line(32), batch_size=16, epochs=1, verbose=0)

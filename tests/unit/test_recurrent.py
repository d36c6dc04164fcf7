"""Unit tests for dlbook_utils.recurrent (chapter 12's NumPy recurrent cells and forecasting windows)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlbook_utils import recurrent  # noqa: E402

from tests.conftest import ROOT, load_nb  # noqa: E402

pytestmark = pytest.mark.backends   # the Keras comparisons also run in make test's JAX pass
NOTEBOOK = ROOT / "chapters" / "12_recurrent_networks.ipynb"


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("fn", [recurrent.rnn_forward, recurrent.lstm_forward, recurrent.make_windows])
def test_the_chapter_shows_the_package_code(fn):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    assert any(inspect.getsource(fn).rstrip("\n") in s for s in sources), \
        f"chapter 12 should show {fn.__name__} as in the package"


def _with_random_weights(layer, x, seed=1):
    layer.build(x.shape)
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


@pytest.mark.parametrize("units, features, steps", [(1, 1, 1), (5, 3, 7), (8, 2, 20)])
def test_rnn_forward_matches_simple_rnn(units, features, steps):
    x = _x((4, steps, features))
    layer = keras.layers.SimpleRNN(units, return_sequences=True)
    weights = _with_random_weights(layer, x)
    expected = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(recurrent.rnn_forward(x, *weights), expected, atol=1e-5)


@pytest.mark.parametrize("units, features, steps", [(1, 1, 1), (5, 3, 7), (8, 2, 20)])
def test_lstm_forward_matches_keras_lstm(units, features, steps):
    x = _x((3, steps, features), seed=2)
    layer = keras.layers.LSTM(units, return_sequences=True)
    weights = _with_random_weights(layer, x, seed=3)
    expected = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(recurrent.lstm_forward(x, *weights), expected, atol=1e-5)


def test_lstm_gate_order_matters():
    # Swapping the forget and input blocks gives different states: the test above really checks the order.
    x = _x((2, 6, 3))
    layer = keras.layers.LSTM(4, return_sequences=True)
    kernel, recurrent_kernel, bias = _with_random_weights(layer, x)
    swap = np.r_[4:8, 0:4, 8:16]
    got = recurrent.lstm_forward(x, kernel[:, swap], recurrent_kernel[:, swap], bias[swap])
    assert not np.allclose(got, keras.ops.convert_to_numpy(layer(x)), atol=1e-3)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="batch of sequences"):
        recurrent.rnn_forward(np.zeros((3, 4)), np.zeros((4, 2)), np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="do not fit"):
        recurrent.lstm_forward(np.zeros((1, 3, 2)), np.zeros((2, 8)), np.zeros((3, 8)), np.zeros(8))


def test_sigmoid_is_stable_and_right():
    z = np.array([-800.0, -2.0, 0.0, 3.0, 800.0])
    with np.errstate(all="raise"):
        got = recurrent.sigmoid(z)
    np.testing.assert_allclose(got, [0.0, 1 / (1 + np.exp(2)), 0.5, 1 / (1 + np.exp(-3)), 1.0], atol=1e-12)


def test_make_windows():
    series = np.arange(10.0)
    inputs, targets = recurrent.make_windows(series, 3)
    assert inputs.shape == (7, 3) and targets.shape == (7,)
    np.testing.assert_array_equal(inputs[0], [0, 1, 2])
    np.testing.assert_array_equal(targets, np.arange(3.0, 10.0))
    inputs, targets = recurrent.make_windows(series, 4, horizon=3)
    assert inputs.shape == (4, 4)
    np.testing.assert_array_equal(inputs[-1], [3, 4, 5, 6])
    np.testing.assert_array_equal(targets, [6, 7, 8, 9])
    for args in [(series, 0), (series, 3, 0), (series, 10), (np.zeros((3, 3)), 1)]:
        with pytest.raises(ValueError):
            recurrent.make_windows(*args)

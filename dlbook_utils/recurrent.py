"""Recurrent networks in NumPy, with Keras's weight layout, and windows for forecasting (chapter 12).

* :func:`rnn_forward` — a simple (Elman) RNN over a batch of sequences: the same numbers as
  ``keras.layers.SimpleRNN(units, return_sequences=True)`` given its weights.
* :func:`lstm_forward` — an LSTM over a batch of sequences: the same numbers as
  ``keras.layers.LSTM(units, return_sequences=True)`` given its weights (gate order i, f, c, o in the kernels).
* :func:`check_shapes` — the number of units, or a clear error when the weights do not fit the inputs.
* :func:`make_windows` — cut a series into (window, target) pairs for one-step-ahead forecasting.

The weights are what ``layer.get_weights()`` returns, in that order: ``kernel`` (input → units), ``recurrent_kernel``
(state → units) and ``bias``::

    from dlbook_utils import recurrent
    layer = keras.layers.LSTM(8, return_sequences=True)
    keras_states = layer(x)                                   # (N, T, 8)
    numpy_states = recurrent.lstm_forward(x, *layer.get_weights())

Plain NumPy, so the same code runs whichever Keras backend is active.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sigmoid", "check_shapes", "rnn_forward", "lstm_forward", "make_windows"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^-z), without overflow warnings for large negative z."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def check_shapes(x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, gates: int) -> int:
    """The number of units, after checking that x is (N, T, features) and the kernels hold ``gates`` blocks."""
    if x.ndim != 3:
        raise ValueError(f"x should be a batch of sequences (N, T, features), got shape {x.shape}")
    units = recurrent_kernel.shape[0]
    if kernel.shape != (x.shape[2], gates * units) or recurrent_kernel.shape != (units, gates * units):
        raise ValueError(f"kernel {kernel.shape} and recurrent_kernel {recurrent_kernel.shape} do not fit "
                         f"{x.shape[2]} features and {gates} block(s) of {units} units")
    return units


def rnn_forward(x, kernel, recurrent_kernel, bias):
    # h_t = tanh(x_t W + h_{t-1} U + b), from h_0 = 0; returns every h_t: (N, T, units).
    x = np.asarray(x, dtype=np.float64)
    units = check_shapes(x, kernel, recurrent_kernel, gates=1)
    h = np.zeros((x.shape[0], units))
    states = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        states.append(h)
    return np.stack(states, axis=1)


def lstm_forward(x, kernel, recurrent_kernel, bias):
    # Keras's LSTM: the 4 gate blocks side by side in the order input, forget, candidate (c), output.
    x = np.asarray(x, dtype=np.float64)
    units = check_shapes(x, kernel, recurrent_kernel, gates=4)
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    states = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias        # (N, 4 * units)
        i, f, g, o = np.split(z, 4, axis=1)
        i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
        c = f * c + i * g                                         # the cell state: forget some, write some
        h = o * np.tanh(c)                                        # the output: read some
        states.append(h)
    return np.stack(states, axis=1)


def make_windows(series, window, horizon=1):
    # Inputs: every run of `window` consecutive values; target: the value `horizon` steps after the run's end.
    series = np.asarray(series, dtype=np.float64)
    if series.ndim != 1 or window < 1 or horizon < 1:
        raise ValueError("make_windows needs a 1-D series and a positive window and horizon")
    n = len(series) - window - horizon + 1
    if n < 1:
        raise ValueError(f"a series of {len(series)} values is too short for window {window} + horizon {horizon}")
    starts = np.arange(n)[:, None]
    inputs = series[starts + np.arange(window)]                  # (n, window)
    targets = series[np.arange(n) + window + horizon - 1]         # (n,)
    return inputs, targets

"""Checkers for chapter 03 · Backpropagation and gradient descent.

* 03.1 ``dense_tanh_backward(X, W, b, grad_out) -> (dX, dW, db)``: compared with central differences.
* 03.2 ``value_exp(v) -> Value``: the exponential for the chapter's scalar autodiff engine; the check needs
  the notebook's ``Value`` class (``check.exercise("03.2", value_exp, Value=Value)``) and uses only its
  public interface: ``Value(number)``, ``.data``, ``.grad``, ``+``, ``*`` and ``.backward()``.
* 03.3 ``momentum_step(params, grads, velocity, lr, momentum) -> (params, velocity)``: gradient descent
  with momentum, checked by the path the parameters take over several steps.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..check import Feedback, expect, expect_callable, expect_close, expect_shape, register

# ---------------------------------------------------------------------------------------------
# 03.1 · backward pass of a dense layer with tanh
# ---------------------------------------------------------------------------------------------


def _central_differences(f: Callable[[], float], array: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f() / d array by central differences, changing ``array`` in place and restoring it."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        saved = array[i]
        array[i] = saved + h
        up = f()
        array[i] = saved - h
        down = f()
        array[i] = saved
        grad[i] = (up - down) / (2 * h)
    return grad


def _tanh_layer_case(rng: np.random.Generator, n: int, d_in: int, d_out: int):
    X = rng.normal(size=(n, d_in))
    W = rng.normal(scale=0.6, size=(d_in, d_out))
    b = rng.normal(scale=0.3, size=d_out)
    G = rng.normal(size=(n, d_out))

    def loss() -> float:  # a loss whose gradient with respect to the layer's output is exactly G
        return float(np.sum(np.tanh(X @ W + b) * G))

    reference = tuple(_central_differences(loss, arr) for arr in (X, W, b))
    return X, W, b, G, reference


def _matches(actual: np.ndarray, expected: np.ndarray) -> bool:
    return actual.shape == expected.shape and bool(np.allclose(actual, expected, rtol=1e-5, atol=1e-7))


@register("03.1", "backward pass of a tanh layer")
def check_dense_tanh_backward(answer: Any) -> None:
    expect_callable(answer, "dense_tanh_backward")
    rng = np.random.default_rng(301)
    for n, d_in, d_out in [(5, 4, 3), (7, 2, 6)]:
        X, W, b, G, (ref_dX, ref_dW, ref_db) = _tanh_layer_case(rng, n, d_in, d_out)
        result = answer(X.copy(), W.copy(), b.copy(), G.copy())
        expect(
            isinstance(result, (tuple, list)) and len(result) == 3,
            "dense_tanh_backward should return three arrays, (dX, dW, db)",
        )
        for name, r in zip(("dX", "dW", "db"), result):
            expect(r is not None, f"{name} is None: return an array for each of dX, dW and db")
        dX, dW, db = (np.asarray(r, dtype=float) for r in result)
        if db.shape == (n, d_out):
            raise Feedback(
                f"db has shape {db.shape}, one row per example; b has shape {b.shape}: it is shared by every "
                "row of the batch, so what should happen to the rows' contributions?"
            )
        expect_shape(dX, X.shape, "dX")
        expect_shape(dW, W.shape, "dW")
        expect_shape(db, b.shape, "db")

        # Diagnose the common slips before the generic comparison.
        pre = X @ W + b
        no_tanh = G
        wrong_derivative = G * (1.0 - pre**2)
        if _matches(dW, X.T @ no_tanh) or _matches(dX, no_tanh @ W.T):
            raise Feedback(
                "your gradients skip the tanh: the incoming gradient must be multiplied by tanh's local "
                "derivative before it reaches the matrix product"
            )
        if _matches(dW, X.T @ wrong_derivative) or _matches(dX, wrong_derivative @ W.T):
            raise Feedback(
                "the tanh derivative looks wrong: 1 - u**2 is the derivative when u is tanh's output, not its input"
            )
        if not np.allclose(db, ref_db, rtol=1e-5, atol=1e-7) and np.allclose(db * n, ref_db, rtol=1e-5, atol=1e-7):
            raise Feedback(
                f"db is off by a factor of {n}, the batch size: the bias is used by every row, and a value used "
                "several times collects the sum of the gradients of its uses"
            )
        expect_close(dW, ref_dW, "dW", rtol=1e-5, atol=1e-7,
                     hint="W's gradient combines the layer's input with the gradient at the pre-activation")
        expect_close(db, ref_db, "db", rtol=1e-5, atol=1e-7,
                     hint="b's gradient adds up the gradient at the pre-activation over the batch")
        expect_close(dX, ref_dX, "dX", rtol=1e-5, atol=1e-7,
                     hint="the gradient reaching X goes back through the tanh and then through the product with W")


# ---------------------------------------------------------------------------------------------
# 03.2 · exp for the scalar autodiff engine
# ---------------------------------------------------------------------------------------------


@register("03.2", "exp for the autodiff engine")
def check_value_exp(answer: Any, Value: Any = None) -> None:
    expect_callable(answer, "value_exp")
    if Value is None:
        raise Feedback("the check needs the engine's class: call check.exercise('03.2', value_exp, Value=Value)")

    a = Value(0.7)
    out = answer(a)
    expect(
        isinstance(out, Value),
        f"value_exp should return a new Value (a node of the graph), but it returned a {type(out).__name__}",
    )
    expect(out is not a, "value_exp should return a new Value and leave its argument as it is")
    expect_close(out.data, math.exp(0.7), "the value of value_exp(Value(0.7))")
    out.backward()
    if a.grad == 0:
        raise Feedback(
            "after backward() the input's gradient is still 0: the new Value must record its parent "
            "together with the local derivative, as the other operations of the engine do"
        )
    if math.isclose(a.grad, 0.7):
        raise Feedback("the local derivative you recorded equals the input value; what is the derivative of e^v?")
    expect_close(a.grad, math.exp(0.7), "the gradient of e^a with respect to a",
                 hint="the local derivative of e^v with respect to v")

    # Inside a larger graph: x and w are used several times, exp twice.
    xv, wv = -0.4, 1.3
    x, w = Value(xv), Value(wv)
    loss = answer(x * w) * x + answer(w)
    loss.backward()
    e = math.exp(xv * wv)
    expect_close(loss.data, e * xv + math.exp(wv), "the value of exp(x*w)*x + exp(w)")
    expect_close(x.grad, e * wv * xv + e, "d/dx of exp(x*w)*x + exp(w)",
                 hint="check that the gradient flows on through the node that feeds exp")
    expect_close(w.grad, e * xv * xv + math.exp(wv), "d/dw of exp(x*w)*x + exp(w)")

    # exp of exp.
    u = Value(0.3)
    nested = answer(answer(u))
    nested.backward()
    expect_close(u.grad, math.exp(math.exp(0.3)) * math.exp(0.3), "d/du of exp(exp(u))")


# ---------------------------------------------------------------------------------------------
# 03.3 · gradient descent with momentum
# ---------------------------------------------------------------------------------------------

_CURV = {"w": np.array([[0.5, 2.0, 4.0], [1.0, 3.0, 0.2]]), "b": np.array([6.0, 0.8, 1.5])}
_SHIFT = {"w": np.array([[1.0, -0.5, 0.3], [0.0, 0.7, -1.2]]), "b": np.array([-0.4, 0.9, 0.1])}


def _quadratic_grads(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gradient of sum(curv/2 * (p - shift)**2): a small bowl with different curvatures."""
    return {k: _CURV[k] * (params[k] - _SHIFT[k]) for k in _CURV}


def _reference_path(start: dict[str, np.ndarray], lr: float, momentum: float, steps: int) -> list[dict]:
    params = {k: v.copy() for k, v in start.items()}
    velocity = {k: np.zeros_like(v) for k, v in start.items()}
    path = []
    for _ in range(steps):
        g = _quadratic_grads(params)
        velocity = {k: momentum * velocity[k] - lr * g[k] for k in params}
        params = {k: params[k] + velocity[k] for k in params}
        path.append({k: v.copy() for k, v in params.items()})
    return path


def _learner_path(answer: Any, start: dict[str, np.ndarray], lr: float, momentum: float, steps: int) -> list[dict]:
    params = {k: v.copy() for k, v in start.items()}
    velocity = {k: np.zeros_like(v) for k, v in start.items()}
    path = []
    for step in range(steps):
        grads = _quadratic_grads(params)
        result = answer(params, grads, velocity, lr, momentum=momentum)
        expect(
            isinstance(result, (tuple, list)) and len(result) == 2,
            "momentum_step should return two dicts: (new params, new velocity)",
        )
        params, velocity = result
        for what, d in (("params", params), ("velocity", velocity)):
            expect(
                isinstance(d, dict) and set(d) == set(start),
                f"the returned {what} should be a dict with the same keys as the params ({sorted(start)})",
            )
        params = {k: expect_shape(params[k], start[k].shape, f"params[{k!r}]").copy() for k in start}
        velocity = {k: expect_shape(velocity[k], start[k].shape, f"velocity[{k!r}]").copy() for k in start}
        path.append({k: v.copy() for k, v in params.items()})
    return path


def _same(a: dict, b: dict) -> bool:
    return all(np.allclose(a[k], b[k], rtol=1e-7, atol=1e-10) for k in a)


@register("03.3", "gradient descent with momentum")
def check_momentum_step(answer: Any) -> None:
    expect_callable(answer, "momentum_step")
    rng = np.random.default_rng(303)
    start = {"w": rng.normal(size=(2, 3)), "b": rng.normal(size=3)}
    lr, steps = 0.05, 8

    plain = _learner_path(answer, start, lr, 0.0, steps)
    expect(
        _same(plain[0], _reference_path(start, lr, 0.0, 1)[0]),
        "with momentum=0 and a zero velocity, one step should be plain gradient descent: "
        "each parameter moves by the learning rate times its gradient, downhill",
    )
    expect(all(_same(p, r) for p, r in zip(plain, _reference_path(start, lr, 0.0, steps))),
           "with momentum=0 the first step is right but later steps are not plain gradient descent: "
           "with momentum=0 nothing of the old velocity should carry over to the next step")

    for momentum in (0.9, 0.5):
        mine = _learner_path(answer, start, lr, momentum, steps)
        reference = _reference_path(start, lr, momentum, steps)
        expect(_same(mine[0], reference[0]),
               f"with momentum={momentum} the first step (velocity still zero) should be a plain gradient step")
        if all(_same(p, r) for p, r in zip(mine, reference)):
            continue
        if all(_same(p, r) for p, r in zip(mine, plain)):
            raise Feedback(
                f"with momentum={momentum} your parameters follow plain gradient descent: the velocity from earlier "
                "steps has no effect (is it carried into the next velocity, and returned?)"
            )
        first_bad = int(np.argmax([not _same(p, r) for p, r in zip(mine, reference)]))
        raise Feedback(
            f"with momentum={momentum} step {first_bad + 1} is the first that goes wrong (the steps before it are right): "
            "check how the new velocity combines the old one with the gradient, and how the parameters use it"
        )

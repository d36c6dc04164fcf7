"""Checkers of chapter 03: the notebook's solutions pass, plausible mistakes fail with a useful message,
and the student stubs count as "not attempted"."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from dlbook_utils import check
from dlbook_utils.student import stub_code

NOTEBOOK = Path(__file__).resolve().parents[2] / "chapters" / "03_backpropagation.ipynb"


def _cells() -> list:
    return nbformat.read(NOTEBOOK, as_version=4).cells


def _solution_sources() -> dict[str, str]:
    """Exercise id -> source of its solution code cell."""
    found = {}
    for cell in _cells():
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            first = cell.source.splitlines()[0]
            exercise = first.split("Solution")[1].split()[0]
            found[exercise] = cell.source
    return found


def _engine_namespace() -> dict:
    """A namespace holding the notebook's Value class, with the backward pass (and topological_order) that the
    next cell adds to it."""
    ns: dict = {"math": math, "np": np}
    cells = [c.source for c in _cells() if c.cell_type == "code"]
    engine = [s for s in cells if s.startswith("class Value")] + [s for s in cells if "Value.backward = " in s]
    assert len(engine) == 2, "the notebook should define class Value in one cell and add backward() in another"
    for source in engine:
        exec(source, ns)
    return ns


@pytest.fixture(scope="module")
def solutions() -> dict:
    ns = _engine_namespace()
    for source in _solution_sources().values():
        exec(source, ns)
    return ns


@pytest.fixture(scope="module")
def stubs() -> dict:
    ns = _engine_namespace()
    for source in _solution_sources().values():
        exec(stub_code(source), ns)
    return ns


def test_the_notebook_has_the_three_checked_solutions():
    assert set(_solution_sources()) == {"03.1", "03.2", "03.3"}


# --- 03.1 ------------------------------------------------------------------------------------


def test_03_1_solution_passes(solutions):
    assert check.run("03.1", solutions["dense_tanh_backward"]) == (check.PASSED, "passed")


def _tanh_variant(derivative: str = "output", db_reduce: str = "sum"):
    def backward(X, W, b, grad_out):
        pre = X @ W + b
        local = {"output": 1 - np.tanh(pre) ** 2, "input": 1 - pre**2, "none": 1.0}[derivative]
        g = grad_out * local
        db = {"sum": g.sum(axis=0), "mean": g.mean(axis=0), "none": g}[db_reduce]
        return g @ W.T, X.T @ g, db

    return backward


@pytest.mark.parametrize(
    "wrong, words",
    [
        (_tanh_variant(derivative="none"), "skip the tanh"),
        (_tanh_variant(derivative="input"), "tanh's output, not its input"),
        (_tanh_variant(db_reduce="mean"), "factor of"),
        (_tanh_variant(db_reduce="none"), "one row per example"),
        (lambda X, W, b, g: (g @ W.T, X.T @ g), "three arrays"),
        (lambda X, W, b, g: (X, W, None), "None"),
    ],
)
def test_03_1_plausible_mistakes_fail_with_a_useful_message(wrong, words):
    status, message = check.run("03.1", wrong)
    assert status == check.FAILED
    assert words in message, message


def test_03_1_a_wrong_dx_is_named_without_the_answer():
    right = _tanh_variant()

    def wrong_dx(X, W, b, g):
        dX, dW, db = right(X, W, b, g)
        return 2 * dX, dW, db

    status, message = check.run("03.1", wrong_dx)
    assert status == check.FAILED and message.startswith("dX is off"), message
    assert "[" not in message  # no arrays printed


def test_03_1_stub_is_not_attempted(stubs):
    assert check.run("03.1", stubs["dense_tanh_backward"])[0] == check.NOT_ATTEMPTED


# --- 03.2 ------------------------------------------------------------------------------------


def test_03_2_solution_passes(solutions):
    assert check.run("03.2", solutions["value_exp"], Value=solutions["Value"]) == (check.PASSED, "passed")


def test_03_2_mistakes_fail_with_a_useful_message(solutions):
    Value = solutions["Value"]
    cases = [
        (lambda v: Value(math.exp(v.data)), "still 0"),                              # no parent recorded
        (lambda v: Value(math.exp(v.data), [(v, v.data)], "exp"), "equals the input"),  # local derivative = input
        (lambda v: Value(math.exp(v.data), [(v, 1.0)], "exp"), "gradient of e^a"),    # wrong local derivative
        (lambda v: math.exp(v.data), "returned a float"),                            # not a node
    ]
    for wrong, words in cases:
        status, message = check.run("03.2", wrong, Value=Value)
        assert status == check.FAILED and words in message, message


def test_03_2_needs_the_value_class(solutions):
    status, message = check.run("03.2", solutions["value_exp"])
    assert status == check.FAILED and "Value=Value" in message


def test_03_2_stub_is_not_attempted(stubs):
    assert check.run("03.2", stubs["value_exp"], Value=stubs["Value"])[0] == check.NOT_ATTEMPTED


# --- 03.3 ------------------------------------------------------------------------------------


def test_03_3_solution_passes(solutions):
    assert check.run("03.3", solutions["momentum_step"]) == (check.PASSED, "passed")


def test_03_3_the_other_common_convention_also_passes():
    def momentum_step(params, grads, velocity, lr, momentum=0.9):  # v <- beta v + g;  theta <- theta - lr v
        velocity = {k: momentum * velocity[k] + grads[k] for k in params}
        return {k: params[k] - lr * velocity[k] for k in params}, velocity

    assert check.run("03.3", momentum_step)[0] == check.PASSED


def _ignores_velocity(params, grads, velocity, lr, momentum=0.9):
    return {k: params[k] - lr * grads[k] for k in params}, velocity


def _uphill(params, grads, velocity, lr, momentum=0.9):
    velocity = {k: momentum * velocity[k] + lr * grads[k] for k in params}
    return {k: params[k] + velocity[k] for k in params}, velocity


def _velocity_not_decayed(params, grads, velocity, lr, momentum=0.9):
    velocity = {k: velocity[k] - lr * grads[k] for k in params}
    return {k: params[k] + velocity[k] for k in params}, velocity


def _old_velocity_in_the_step(params, grads, velocity, lr, momentum=0.9):
    new_velocity = {k: momentum * velocity[k] - lr * grads[k] for k in params}
    return {k: params[k] - lr * grads[k] + momentum * momentum * velocity[k] for k in params}, new_velocity


def _returns_params_only(params, grads, velocity, lr, momentum=0.9):
    return {k: params[k] - lr * grads[k] for k in params}


@pytest.mark.parametrize(
    "wrong, words",
    [
        (_ignores_velocity, "no effect"),
        (_uphill, "downhill"),
        (_velocity_not_decayed, "nothing of the old velocity"),
        (_old_velocity_in_the_step, "step 2 is the first"),
        (_returns_params_only, "two dicts"),
    ],
)
def test_03_3_plausible_mistakes_fail_with_a_useful_message(wrong, words):
    status, message = check.run("03.3", wrong)
    assert status == check.FAILED and words in message, message


def test_03_3_stub_is_not_attempted(stubs):
    assert check.run("03.3", stubs["momentum_step"])[0] == check.NOT_ATTEMPTED

"""Unit tests for the exercise checkers of chapter 01 (dlbook_utils/exercises/ch01.py).

The right answers are the notebook's own solution cells, so the notebook and its checks cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlbook_utils import check

NOTEBOOK = Path(__file__).resolve().parents[2] / "chapters" / "01_vectors_tensors_embeddings.ipynb"


def solution(exercise_id: str, name: str):
    """Execute the notebook's solution cell for ``exercise_id`` and return the function it defines."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith(f"#@title Solution {exercise_id} "):
            namespace: dict = {"np": np}
            exec(compile(source, f"solution {exercise_id}", "exec"), namespace)
            return namespace[name]
    raise AssertionError(f"no solution cell for exercise {exercise_id} in {NOTEBOOK.name}")


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your answer")


def assert_fails(exercise_id: str, answer, *fragments: str) -> str:
    status, message = check.run(exercise_id, answer)
    assert status == check.FAILED, (status, message)
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("exercise_id", ["01.1", "01.2", "01.3"])
def test_stub_is_not_attempted(exercise_id):
    assert check.run(exercise_id, stub)[0] == check.NOT_ATTEMPTED
    assert check.run(exercise_id, None)[0] == check.NOT_ATTEMPTED


def test_checks_need_a_function():
    assert_fails("01.1", (3, 4), "should be a function")
    assert_fails("01.2", np.zeros((2, 2)), "should be a function")


# ---------------------------------------------------------------- 01.1 broadcast_shape


def test_01_1_solution_passes():
    assert check.run("01.1", solution("01.1", "broadcast_shape")) == (check.PASSED, "passed")


def test_01_1_numpy_itself_passes():
    def via_numpy(a, b):
        return np.broadcast_shapes(a, b)

    assert check.run("01.1", via_numpy)[0] == check.PASSED


def test_01_1_aligning_from_the_left_fails():
    def left_aligned(a, b):
        ndim = max(len(a), len(b))
        a = tuple(a) + (1,) * (ndim - len(a))
        b = tuple(b) + (1,) * (ndim - len(b))
        out = []
        for x, y in zip(a, b):
            if x != y and 1 not in (x, y):
                raise ValueError("incompatible")
            out.append(max(x, y))
        return tuple(out)

    message = assert_fails("01.1", left_aligned)
    assert "right" in message  # the hint points at the alignment


def test_01_1_never_raising_fails():
    def elementwise_max(a, b):
        ndim = max(len(a), len(b))
        a = (1,) * (ndim - len(a)) + tuple(a)
        b = (1,) * (ndim - len(b)) + tuple(b)
        return tuple(max(x, y) for x, y in zip(a, b))

    assert_fails("01.1", elementwise_max, "should raise ValueError")


def test_01_1_too_strict_fails():
    def equal_shapes_only(a, b):
        if tuple(a) != tuple(b):
            raise ValueError("different shapes")
        return tuple(a)

    assert_fails("01.1", equal_shapes_only, "raised ValueError", "can be broadcast")


def test_01_1_wrong_return_type_is_explained():
    assert_fails("01.1", lambda a, b: "(2, 3)", "tuple of ints")
    assert_fails("01.1", lambda a, b: None, "tuple of ints")


def test_01_1_message_does_not_reveal_the_expected_shape():
    message = assert_fails("01.1", lambda a, b: tuple(a), "returned (6, 1)")
    assert "(6, 7)" not in message  # the first wrong case is (6, 1) with (1, 7)


# ---------------------------------------------------------------- 01.2 pairwise_distances


def test_01_2_solution_passes():
    assert check.run("01.2", solution("01.2", "pairwise_distances")) == (check.PASSED, "passed")


def test_01_2_expansion_trick_with_clipping_passes():
    def expanded(A, B):
        A, B = np.asarray(A), np.asarray(B)
        squared = (A**2).sum(1)[:, None] - 2 * A @ B.T + (B**2).sum(1)[None, :]
        return np.sqrt(np.maximum(squared, 0))

    assert check.run("01.2", expanded)[0] == check.PASSED


def test_01_2_expansion_trick_without_clipping_is_explained():
    def expanded(A, B):
        A, B = np.asarray(A), np.asarray(B)
        return np.sqrt((A**2).sum(1)[:, None] - 2 * A @ B.T + (B**2).sum(1)[None, :])

    with np.errstate(invalid="ignore"):
        status, message = check.run("01.2", expanded)
    if status == check.FAILED:  # float32 rounding produces negative squares on this platform
        assert "NaN" in message and "clip" in message


def test_01_2_squared_distances_fail():
    def squared(A, B):
        return np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=-1)

    assert_fails("01.2", squared, "squared distances")


def test_01_2_transposed_result_fails():
    def transposed(A, B):
        return np.sqrt(np.sum((B[:, None, :] - A[None, :, :]) ** 2, axis=-1))

    assert_fails("01.2", transposed, "transposed")


def test_01_2_forgotten_reduction_fails():
    assert_fails("01.2", lambda A, B: np.abs(A[:, None, :] - B[None, :, :]), "feature axis")


def test_01_2_wrong_norm_fails():
    def manhattan(A, B):
        return np.sum(np.abs(A[:, None, :] - B[None, :, :]), axis=-1)

    assert_fails("01.2", manhattan, "is off")


# ---------------------------------------------------------------- 01.3 most_similar


def test_01_3_solution_passes():
    assert check.run("01.3", solution("01.3", "most_similar")) == (check.PASSED, "passed")


def test_01_3_dot_product_ranking_fails():
    def by_dot_product(queries, vectors, k):
        return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]

    assert_fails("01.3", by_dot_product, "normalise")


def test_01_3_only_normalising_the_queries_fails():
    def half_normalised(queries, vectors, k):
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]

    assert_fails("01.3", half_normalised, "normalise")


def test_01_3_ascending_order_fails():
    def least_similar(queries, vectors, k):
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.argsort(q @ v.T, axis=1)[:, :k]

    assert_fails("01.3", least_similar, "least")


def test_01_3_wrong_order_within_k_fails():
    def reversed_top_k(queries, vectors, k):
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.argsort(-(q @ v.T), axis=1)[:, :k][:, ::-1]

    assert_fails("01.3", reversed_top_k, "wrong order")


def test_01_3_shape_mistakes_are_explained():
    def full_ranking(queries, vectors, k):
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.argsort(-(q @ v.T), axis=1)

    assert_fails("01.3", full_ranking, "first k columns")

    def transposed(queries, vectors, k):
        return full_ranking(queries, vectors, k)[:, :k].T

    assert_fails("01.3", transposed, "transposed")


def test_01_3_hard_coded_k_fails():
    def always_four(queries, vectors, k):
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.argsort(-(q @ v.T), axis=1)[:, :4]

    assert_fails("01.3", always_four, "k=7")


def test_01_3_crash_is_reported():
    status, message = check.run("01.3", lambda queries, vectors, k: queries.nope)
    assert status == check.FAILED and "AttributeError" in message

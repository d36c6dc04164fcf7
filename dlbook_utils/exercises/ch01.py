"""Checkers for chapter 01 · Vectors, tensors and embeddings.

* 01.1 ``broadcast_shape(shape_a, shape_b)``: the broadcasting rule, written by hand.
* 01.2 ``pairwise_distances(A, B)``: all Euclidean distances between the rows of two matrices.
* 01.3 ``most_similar(queries, vectors, k)``: the k nearest rows by cosine similarity, for a batch of queries.

Each checker calls the learner's function on fresh inputs and compares its behaviour with a
reference computed here; the messages say what is wrong without giving the answer away.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_close, expect_shape, register


# ---------------------------------------------------------------------------------------------
# 01.1 · broadcast_shape
# ---------------------------------------------------------------------------------------------


def _as_shape(value: Any, call: str) -> tuple[int, ...]:
    if value is None or value is Ellipsis:
        raise Feedback(f"{call} returned {value!r}; it should return a shape, a tuple of ints such as (2, 5)")
    try:
        shape = tuple(int(n) for n in value)
    except (TypeError, ValueError):
        raise Feedback(
            f"{call} returned {value!r} ({type(value).__name__}); it should return a tuple of ints such as (2, 5)"
        ) from None
    if any(isinstance(n, float) and not float(n).is_integer() for n in value):
        raise Feedback(f"{call} returned {value!r}; the sizes of a shape are whole numbers")
    return shape


def _broadcast_cases() -> tuple[list[tuple[tuple[int, ...], tuple[int, ...]]], list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """Compatible and incompatible pairs of shapes: a few hand-picked, the rest random."""
    compatible = [
        ((2, 3), (2, 3)),
        ((6, 1), (1, 7)),
        ((4, 5), (5,)),
        ((5,), (4, 1)),
        ((), (3, 2)),
        ((2, 1, 6), (3, 1)),
        ((1,), (9,)),
        ((7, 1, 1), (1, 2, 1)),
    ]
    incompatible = [
        ((3,), (4,)),
        ((2, 3), (3, 2)),
        ((5, 4), (5,)),
        ((2, 1, 3), (4, 2)),
    ]
    rng = np.random.default_rng(101)
    while len(compatible) < 40:
        ndim = int(rng.integers(1, 5))
        full = rng.integers(2, 6, size=ndim)
        a = [int(n) if rng.random() < 0.6 else 1 for n in full]
        b = [int(n) if rng.random() < 0.6 else 1 for n in full]
        b = b[int(rng.integers(0, ndim)) :]  # b may have fewer axes
        pair = (tuple(a), tuple(b)) if rng.random() < 0.5 else (tuple(b), tuple(a))
        if pair not in compatible:
            compatible.append(pair)
    while len(incompatible) < 15:
        ndim = int(rng.integers(1, 4))
        a = [int(n) for n in rng.integers(2, 6, size=ndim)]
        b = list(a)
        axis = int(rng.integers(0, ndim))
        b[axis] = a[axis] + int(rng.integers(1, 3))
        pair = (tuple(a), tuple(b))
        if pair not in incompatible:
            incompatible.append(pair)
    return compatible, incompatible


@register("01.1", "the broadcasting rule")
def check_broadcast_shape(broadcast_shape: Callable[..., Any]) -> None:
    expect_callable(broadcast_shape, "broadcast_shape")
    compatible, incompatible = _broadcast_cases()
    for a, b in compatible:
        call = f"broadcast_shape({a}, {b})"
        try:
            got = broadcast_shape(a, b)
        except ValueError:
            hint = "a size of 1 stretches to match any size"
            if len(a) != len(b):
                hint = "line the shapes up at their right-hand ends; a missing axis counts as size 1"
            raise Feedback(
                f"{call} raised ValueError, but these two shapes can be broadcast together. Hint: {hint}."
            ) from None
        shape = _as_shape(got, call)
        expected = np.broadcast_shapes(a, b)
        if shape != expected:
            hint = "compare the shapes axis by axis starting from the right (the last axis)"
            if len(shape) != len(expected):
                hint = (
                    "the result has as many axes as the longer of the two shapes; "
                    "line the shapes up at their right-hand ends"
                )
            raise Feedback(f"{call} returned {shape}, which is not the broadcast shape. Hint: {hint}.")
    for a, b in incompatible:
        call = f"broadcast_shape({a}, {b})"
        try:
            got = broadcast_shape(a, b)
        except ValueError:
            continue
        raise Feedback(
            f"{call} returned {got!r}, but NumPy refuses to broadcast these two shapes: your function "
            "should raise ValueError when two sizes differ and neither of them is 1."
        )


# ---------------------------------------------------------------------------------------------
# 01.2 · pairwise_distances
# ---------------------------------------------------------------------------------------------


def _reference_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=-1))


@register("01.2", "pairwise distances by broadcasting")
def check_pairwise_distances(pairwise_distances: Callable[..., Any]) -> None:
    expect_callable(pairwise_distances, "pairwise_distances")
    rng = np.random.default_rng(202)
    n, m, d = 5, 3, 4
    A = rng.normal(size=(n, d))
    B = rng.normal(size=(m, d))
    expected = _reference_distances(A, B)
    got = as_array(pairwise_distances(A.copy(), B.copy()), "pairwise_distances(A, B)")
    if got.shape == (m, n):
        raise Feedback(
            f"for A of shape {A.shape} and B of shape {B.shape} your result has shape {got.shape}: it looks "
            f"transposed. Entry [i, j] should be the distance from row i of A to row j of B, so the shape is ({n}, {m})."
        )
    if got.shape == (n, m, d):
        raise Feedback(
            f"your result has shape {got.shape}: it still has the feature axis. "
            "Reduce over the last axis to get one distance per pair of rows."
        )
    got = expect_shape(got, (n, m), f"pairwise_distances(A, B) for A of shape {A.shape} and B of shape {B.shape}")
    if np.allclose(got, expected**2, rtol=1e-6, atol=1e-9):
        raise Feedback("your values are squared distances: take the square root at the end.")
    expect_close(got, expected, "pairwise_distances(A, B)", rtol=1e-6, atol=1e-9,
                 hint="the distance between rows a and b is the norm of a - b")

    # A second, larger case where every row of A is also a row of B: some distances are exactly 0,
    # and the rows are far from the origin, which exposes rounding errors of some shortcuts.
    X = rng.normal(loc=30.0, scale=1.0, size=(40, 16)).astype(np.float32)
    Y = np.concatenate([X[::2], rng.normal(loc=30.0, scale=1.0, size=(10, 16)).astype(np.float32)])
    expected = _reference_distances(X.astype(np.float64), Y.astype(np.float64))
    got = expect_shape(pairwise_distances(X, Y), expected.shape,
                       f"pairwise_distances for inputs of shapes {X.shape} and {Y.shape}")
    if not np.all(np.isfinite(got)):
        raise Feedback(
            "with float32 inputs where some rows of A equal rows of B, your result contains NaN. "
            "Rounding can make a squared distance slightly negative before the square root: clip it at 0."
        )
    expect(np.all(got >= 0), "distances are never negative, but some of yours are")
    # float32 leaves room for rounding; wrong answers are off by far more (distinct rows are ~5 apart).
    expect_close(got, expected, "pairwise_distances for float32 inputs", rtol=0, atol=0.25,
                 hint="some distances should be 0 here: rows of A that also appear in B")


# ---------------------------------------------------------------------------------------------
# 01.3 · most_similar
# ---------------------------------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


@register("01.3", "k most similar rows for a batch of queries")
def check_most_similar(most_similar: Callable[..., Any]) -> None:
    expect_callable(most_similar, "most_similar")
    rng = np.random.default_rng(303)
    n_queries, n_vectors, dim, k = 6, 50, 8, 4
    directions = _unit(rng.normal(size=(n_vectors, dim)))
    lengths = rng.uniform(0.2, 5.0, size=(n_vectors, 1))  # very different lengths: cosine must ignore them
    vectors = directions * lengths
    queries = rng.normal(size=(n_queries, dim)) * rng.uniform(0.5, 3.0, size=(n_queries, 1))

    cosine = _unit(queries) @ _unit(vectors).T
    expected = _top_k(cosine, k)
    dot_ranking = _top_k(queries @ vectors.T, k)
    distance_ranking = np.argsort(
        np.linalg.norm(queries[:, None, :] - vectors[None, :, :], axis=-1), axis=1, kind="stable"
    )[:, :k]

    result = most_similar(queries.copy(), vectors.copy(), k)
    arr = np.asarray(result)
    call = f"most_similar(queries, vectors, k={k}) with {n_queries} queries and {n_vectors} vectors"
    if arr.shape == (k, n_queries):
        raise Feedback(f"{call} returned shape {arr.shape}: it looks transposed; one row per query, so ({n_queries}, {k}).")
    if arr.shape == (n_queries, n_vectors):
        raise Feedback(f"{call} returned shape {arr.shape}: keep only the first k columns of each query's ranking.")
    if arr.shape != (n_queries, k):
        raise Feedback(f"{call} returned shape {arr.shape}, but it should be ({n_queries}, {k}): k indices per query.")
    if not (np.issubdtype(arr.dtype, np.integer) or np.all(np.equal(np.mod(arr, 1), 0))):
        raise Feedback(f"{call} returned non-integer values: it should return row indices into vectors.")
    arr = arr.astype(int)
    if arr.min() < 0 or arr.max() >= n_vectors:
        raise Feedback(f"{call} returned indices outside 0..{n_vectors - 1}: return row numbers of vectors.")
    if np.array_equal(arr, expected):
        _check_k_and_batch(most_similar, rng)
        return
    if np.array_equal(arr, dot_ranking):
        raise Feedback(
            "your ranking follows the dot product, so long vectors win just for being long. "
            "Cosine similarity ignores lengths: normalise the queries and the vectors first."
        )
    if np.array_equal(arr, distance_ranking):
        raise Feedback("your ranking follows Euclidean distance; rank by cosine similarity (the angle) instead.")
    if np.array_equal(arr, _top_k(-cosine, k)):
        raise Feedback("you returned the k *least* similar rows: sort from the most similar down.")
    same_sets = all(set(row) == set(exp) for row, exp in zip(arr, expected))
    if same_sets:
        raise Feedback("you found the right k neighbours but in the wrong order: the most similar comes first.")
    wrong = sum(set(row) != set(exp) for row, exp in zip(arr, expected))
    raise Feedback(f"the neighbours are wrong for {wrong} of the {n_queries} queries.")


def _check_k_and_batch(most_similar: Callable[..., Any], rng: np.random.Generator) -> None:
    """The answer must honour k and must not mix queries up (a different k, a batch of one)."""
    vectors = rng.normal(size=(30, 5))
    queries = rng.normal(size=(3, 5))
    expected = _top_k(_unit(queries) @ _unit(vectors).T, 7)
    got = np.asarray(most_similar(queries, vectors, 7))
    expect(got.shape == (3, 7), f"with k=7 and 3 queries your function returned shape {got.shape}, not (3, 7)")
    expect(np.array_equal(got.astype(int), expected), "your function gives wrong neighbours when k is 7 (it passed with k=4)")
    single = np.asarray(most_similar(queries[:1], vectors, 2))
    expect(single.shape == (1, 2), f"with a batch of one query and k=2 your function returned shape {single.shape}, not (1, 2)")
    expect(np.array_equal(single.astype(int), expected[:1, :2]), "your function gives wrong neighbours for a batch of one query")

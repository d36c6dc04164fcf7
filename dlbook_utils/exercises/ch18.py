"""Checkers for chapter 18, Prompting, in-context, few-shot and zero-shot learning.

* 18.1 ``prototype_logits(support, queries)``: minus the squared Euclidean distances from queries to the class
  prototypes (means of the support embeddings).
* 18.2 ``draw_episode(labels, classes, n_way, k_shot, n_query, rng)``: the indices of one N-way K-shot episode.
* 18.3 ``best_accuracy(shots, n_symbols, n_labels)``: the accuracy of a perfect reader of the chapter's prompts.

Each checker draws its own inputs and compares with a reference computed here (or, for the random episodes, with
the properties they must have); its messages say what goes wrong, not what the right numbers are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_close, expect_number, expect_shape, register

# ---------------------------------------------------------------------------------------------
# 18.1 Prototype logits
# ---------------------------------------------------------------------------------------------


def _reference_logits(support: np.ndarray, queries: np.ndarray) -> np.ndarray:
    centres = support.mean(axis=1)
    return -((queries[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)


@register("18.1", "prototype logits", written_by_learner=(
    "dlbook_utils.fewshot:prototypes", "dlbook_utils.fewshot:squared_distances",
    "dlbook_utils.fewshot:nearest_prototype"))
def check_prototype_logits(prototype_logits: Any) -> None:
    expect_callable(prototype_logits, "prototype_logits")
    rng = np.random.default_rng(1818)
    for n_way, k_shot, n, d in [(5, 5, 12, 8), (3, 1, 4, 2), (4, 7, 9, 16), (2, 3, 5, 3)]:
        support = rng.normal(size=(n_way, k_shot, d))
        queries = rng.normal(size=(n, d))
        copies = support.copy(), queries.copy()
        what = f"prototype_logits on support {support.shape} and queries {queries.shape}"
        result = prototype_logits(support, queries)
        if result is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        expect(np.array_equal(support, copies[0]) and np.array_equal(queries, copies[1]),
               "prototype_logits changed its inputs in place; compute the result in new arrays")
        got = expect_shape(as_array(result, what), (n, n_way), what)
        ref = _reference_logits(support, queries)
        if np.allclose(got, ref, atol=1e-6):
            continue
        if np.allclose(got, -ref, atol=1e-6):
            raise Feedback(f"{what}: the logits have the wrong sign; a nearer prototype should get a larger logit")
        if np.allclose(got, -np.sqrt(-ref), atol=1e-6) or np.allclose(got, np.sqrt(-ref), atol=1e-6):
            raise Feedback(f"{what}: these are (minus) plain Euclidean distances; use the squared distances")
        medians = np.median(support, axis=1)
        firsts = support[:, 0, :]
        for centres, message in ((medians, "the prototype of a class is the mean of its support embeddings, "
                                            "not the median"),
                                 (firsts, "the prototype uses one support example only; average all k_shot")):
            if np.allclose(got, -((queries[:, None] - centres[None]) ** 2).sum(-1), atol=1e-6):
                raise Feedback(f"{what}: {message}")
        if n_way == k_shot:
            wrong = support.mean(axis=0)
            if np.allclose(got, -((queries[:, None] - wrong[None]) ** 2).sum(-1), atol=1e-6):
                raise Feedback(f"{what}: the mean is taken over the classes; average over each class's examples")
        expect_close(got, ref, f"the logits of {what}", atol=1e-6,
                     hint="logits[i, c] = -‖queries[i] - mean of support[c]‖²")


# ---------------------------------------------------------------------------------------------
# 18.2 Sampling an episode
# ---------------------------------------------------------------------------------------------


def _episode(result: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if result is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Feedback(f"{what} should return two index arrays, (support, query)")
    arrays = []
    for part, name in zip(result, ("support", "query")):
        as_array(part, f"the {name} of {what}")                     # numbers, or a clear message
        arrays.append(np.asarray(part))
    return arrays[0], arrays[1]


@register("18.2", "sampling an N-way K-shot episode", written_by_learner=(
    "dlbook_utils.fewshot:sample_episode", "dlbook_utils.fewshot:episode_batch"))
def check_draw_episode(draw_episode: Any) -> None:
    expect_callable(draw_episode, "draw_episode")
    labels = np.random.default_rng(18).permutation(np.repeat(np.arange(8), 30))
    classes = [0, 2, 3, 5, 7]
    picked_classes, picked_examples, first_supports = set(), set(), set()
    for trial in range(300):
        n_way, k_shot, n_query = (3, 2, 4) if trial % 2 else (5, 5, 15)
        what = f"draw_episode(labels, {classes}, n_way={n_way}, k_shot={k_shot}, n_query={n_query}, rng)"
        support, query = _episode(draw_episode(labels, classes, n_way, k_shot, n_query,
                                               np.random.default_rng(trial)), what)
        expect_shape(support, (n_way, k_shot), f"the support of {what}")
        expect_shape(query, (n_way, n_query), f"the query of {what}")
        expect(np.issubdtype(support.dtype, np.integer) and np.issubdtype(query.dtype, np.integer),
               f"{what}: return integer indices into labels, not labels or values")
        both = np.concatenate([support, query], axis=1)
        expect(both.min() >= 0 and both.max() < len(labels), f"{what}: some indices are outside labels")
        expect(len(np.unique(both)) == both.size, f"{what}: an example appears twice in the episode (in the "
               "support, in the query, or in both); draw the examples of a class without replacement")
        row_classes = labels[both]
        expect(np.all(row_classes == row_classes[:, :1]), f"{what}: row c must hold examples of one class only")
        chosen = row_classes[:, 0]
        expect(len(set(chosen)) == n_way, f"{what}: the {n_way} rows must be {n_way} different classes")
        expect(set(chosen) <= set(classes), f"{what}: the episode uses classes that are not among `classes`")
        if n_way < len(classes):
            picked_classes.update(chosen.tolist())
        picked_examples.update(both.ravel().tolist())
        if trial % 2 == 0:
            first_supports.add(tuple(support[0]))
    expect(picked_classes == set(classes), "over many episodes, some of `classes` were never chosen: choose the "
           "episode's classes at random among all of them")
    expect(len(first_supports) > 100, "different rngs give (almost) the same episodes: draw with `rng`")
    allowed = np.flatnonzero(np.isin(labels, classes))
    expect(len(picked_examples) > 0.9 * len(allowed), "over many episodes only a few examples of each class were "
           "ever chosen: draw the examples at random among all of the class's examples")


# ---------------------------------------------------------------------------------------------
# 18.3 The best possible in-context accuracy
# ---------------------------------------------------------------------------------------------


def _reference_best(shots: int, n_symbols: int, n_labels: int) -> float:
    seen = 1 - (1 - 1 / n_symbols) ** shots
    return seen + (1 - seen) / n_labels


@register("18.3", "the best possible in-context accuracy")
def check_best_accuracy(best_accuracy: Any) -> None:
    expect_callable(best_accuracy, "best_accuracy")
    for shots, n_symbols, n_labels in [(0, 8, 4), (1, 8, 4), (15, 8, 4), (5, 10, 2), (3, 3, 5), (40, 16, 4)]:
        what = f"best_accuracy({shots}, {n_symbols}, {n_labels})"
        got = expect_number(best_accuracy(shots, n_symbols, n_labels), what)
        ref = _reference_best(shots, n_symbols, n_labels)
        if abs(got - ref) < 1e-9:
            continue
        seen = 1 - (1 - 1 / n_symbols) ** shots
        if abs(got - seen) < 1e-9:
            raise Feedback(f"{what}: when the query's symbol is not in the prompt, a guess is still right "
                           "sometimes; add that chance")
        if shots == 0:
            raise Feedback(f"{what}: with no examples the best a reader can do is to guess among the labels")
        linear = min(shots / n_symbols, 1.0)
        if abs(got - (linear + (1 - linear) / n_labels)) < 1e-9:
            raise Feedback(f"{what}: the examples' symbols can repeat; the chance that none of them is the "
                           "query's symbol is a product over the examples")
        if abs(got - ((1 / n_symbols) ** shots + (1 - (1 / n_symbols) ** shots) / n_labels)) < 1e-9 or \
                abs(got - ((1 - 1 / n_symbols) ** shots + (1 - 1 / n_symbols) ** shots / n_labels)) < 1e-9:
            raise Feedback(f"{what}: check the probability that the query's symbol appears among the examples")
        raise Feedback(f"{what} = {got:.4f} is not the best possible accuracy")

"""Unit tests for the checkers of chapter 18 (dlbook_utils/exercises/ch18.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check, fewshot

from tests.conftest import ROOT, assert_checker_contract, assert_rejected, solution_namespace

NOTEBOOK = ROOT / "chapters" / "18_prompting_in_context_learning.ipynb"
prototype_logits = solution_namespace(NOTEBOOK, "18.1", np=np)["prototype_logits"]
draw_episode = solution_namespace(NOTEBOOK, "18.2", np=np)["draw_episode"]
best_accuracy = solution_namespace(NOTEBOOK, "18.3", np=np)["best_accuracy"]


@pytest.mark.parametrize("exercise, answer", [("18.1", prototype_logits), ("18.2", draw_episode),
                                              ("18.3", best_accuracy)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


def test_prototype_logits_wrong_answers():
    assert_rejected("18.1", lambda s, q: -prototype_logits(s, q), "sign")
    assert_rejected("18.1", lambda s, q: -np.sqrt(-prototype_logits(s, q)), "squared")
    assert_rejected("18.1", lambda s, q: -((q[:, None] - np.median(s, 1)[None]) ** 2).sum(-1), "median")
    assert_rejected("18.1", lambda s, q: -((q[:, None] - s[:, 0][None]) ** 2).sum(-1), "one support example")
    assert_rejected("18.1", lambda s, q: prototype_logits(s, q).T, "shape")
    assert_rejected("18.1", lambda s, q: -((q[:, None] - s.mean(1)[None]) ** 2).mean(-1), "off")


def test_prototype_logits_may_not_call_the_package():
    def through_package(support, queries):
        return -fewshot.squared_distances(queries, fewshot.prototypes(support))

    assert check.run("18.1", through_package)[0] == check.FAILED


def test_draw_episode_wrong_answers():
    def with_replacement(labels, classes, n_way, k_shot, n_query, rng):
        chosen = rng.choice(np.asarray(classes), n_way, replace=False)
        support = np.array([rng.choice(np.flatnonzero(labels == c), k_shot) for c in chosen])
        query = np.array([rng.choice(np.flatnonzero(labels == c), n_query) for c in chosen])
        return support, query

    assert_rejected("18.2", with_replacement, "twice")

    def first_classes(labels, classes, n_way, k_shot, n_query, rng):
        chosen = np.asarray(classes)[:n_way]
        picks = [rng.choice(np.flatnonzero(labels == c), k_shot + n_query, replace=False) for c in chosen]
        return np.array([p[:k_shot] for p in picks]), np.array([p[k_shot:] for p in picks])

    assert_rejected("18.2", first_classes, "never chosen")

    def first_examples(labels, classes, n_way, k_shot, n_query, rng):
        chosen = rng.choice(np.asarray(classes), n_way, replace=False)
        picks = [np.flatnonzero(labels == c)[:k_shot + n_query] for c in chosen]
        return np.array([p[:k_shot] for p in picks]), np.array([p[k_shot:] for p in picks])

    assert_rejected("18.2", first_examples)

    def returns_labels(labels, classes, n_way, k_shot, n_query, rng):
        support, query = draw_episode(labels, classes, n_way, k_shot, n_query, rng)
        return labels[support].astype(float), labels[query].astype(float)

    assert_rejected("18.2", returns_labels, "integer")
    assert_rejected("18.2", lambda *a: fewshot.sample_episode(*a))


def test_best_accuracy_wrong_answers():
    assert_rejected("18.3", lambda k, s, n: 1 - (1 - 1 / s) ** k, "guess")
    assert_rejected("18.3", lambda k, s, n: min(k / s, 1) + (1 - min(k / s, 1)) / n, "repeat")
    assert_rejected("18.3", lambda k, s, n: (1 / s) ** k + (1 - (1 / s) ** k) / n)
    assert_rejected("18.3", lambda k, s, n: 1.0 if k else 0.0)

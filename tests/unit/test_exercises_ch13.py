"""Unit tests for the checkers of chapter 13 (dlbook_utils/exercises/ch13.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check, seqmetrics, tagging

from tests.conftest import ROOT, assert_checker_contract, solution_namespace

NOTEBOOK = ROOT / "chapters" / "13_sequence_labelling.ipynb"
bio_spans = solution_namespace(NOTEBOOK, "13.1", np=np)["bio_spans"]
is_projective = solution_namespace(NOTEBOOK, "13.2", np=np)["is_projective"]


@pytest.mark.parametrize("exercise, answer", [("13.1", bio_spans), ("13.2", is_projective)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 13.1
# ---------------------------------------------------------------------------------------------


def test_the_solution_agrees_with_the_package():
    rng = np.random.default_rng(0)
    for _ in range(200):
        tags = [["O", "B-PER", "I-PER", "B-LOC", "I-LOC"][k] for k in rng.integers(0, 5, rng.integers(0, 12))]
        assert bio_spans(tags) == seqmetrics.bio_spans(tags)


def test_bio_spans_that_calls_the_package_fails():
    status, message = check.run("13.1", lambda tags: seqmetrics.bio_spans(tags))
    assert status == check.FAILED


def test_bio_spans_accepts_a_list_of_tuples():
    assert check.run("13.1", lambda tags: sorted(bio_spans(tags)))[0] == check.PASSED


def test_bio_spans_with_exclusive_ends_is_named():
    status, message = check.run("13.1", lambda tags: {(k, a, b + 1) for k, a, b in bio_spans(tags)})
    assert status == check.FAILED and "inclusive" in message


def test_bio_spans_keeping_the_prefix_is_named():
    def with_prefix(tags):
        return {(tags[a], a, b) for _, a, b in bio_spans(tags)}

    status, message = check.run("13.1", with_prefix)
    assert status == check.FAILED and "prefix" in message


def _strict(tags):
    # Only B- opens an entity: stray I- tags are dropped.
    spans, kind, start = set(), None, 0
    for i, tag in enumerate(list(tags) + ["O"]):
        if kind is not None and tag != f"I-{kind}":
            spans.add((kind, start, i - 1))
            kind = None
        if tag.startswith("B-"):
            kind, start = tag[2:], i
    return spans


def _ignores_type_changes(tags):
    spans, kind, start = set(), None, 0
    for i, tag in enumerate(list(tags) + ["O"]):
        if kind is not None and (tag == "O" or tag.startswith("B-")):
            spans.add((kind, start, i - 1))
            kind = None
        if tag != "O" and kind is None:
            kind, start = tag[2:], i
    return spans


def _forgets_the_last_entity(tags):
    spans = bio_spans(tags)
    return {s for s in spans if s[2] != len(tags) - 1}


@pytest.mark.parametrize("wrong", [_strict, _ignores_type_changes, _forgets_the_last_entity])
def test_bio_spans_known_wrong_answers_fail_without_the_answer(wrong):
    status, message = check.run("13.1", wrong)
    assert status == check.FAILED and "(type" not in message.split("is not right")[-1]


def test_bio_spans_duplicates_and_none():
    assert check.run("13.1", lambda tags: list(bio_spans(tags)) * 2)[0] == check.FAILED
    status, message = check.run("13.1", lambda tags: None)
    assert status == check.FAILED and "return" in message


# ---------------------------------------------------------------------------------------------
# 13.2
# ---------------------------------------------------------------------------------------------


def test_is_projective_agrees_with_the_package_on_the_treebank():
    from dlbook_utils import corpora

    for s in corpora.dependency_treebank()[:400]:
        assert is_projective(list(s.heads)) == tagging.is_projective(s.heads)


def test_is_projective_without_the_root_arc_is_named():
    def no_root(heads):
        arcs = [(min(h, d), max(h, d)) for d, h in enumerate(heads, start=1) if h != 0]
        return not any(a < c < b < e for a, b in arcs for c, e in arcs)

    status, message = check.run("13.2", no_root)
    assert status == check.FAILED and "root" in message


def test_is_projective_that_counts_shared_ends_or_nesting_as_crossing_fails():
    def shared_end(heads):
        arcs = [(min(h, d), max(h, d)) for d, h in enumerate(heads, start=1)]
        return not any(a <= c < b <= e and (a, b) != (c, e) for a, b in arcs for c, e in arcs)

    status, message = check.run("13.2", shared_end)
    assert status == check.FAILED and "share an end" in message

    def nested(heads):
        arcs = [(min(h, d), max(h, d)) for d, h in enumerate(heads, start=1)]
        return not any(a < c < e < b for a, b in arcs for c, e in arcs)

    assert check.run("13.2", nested)[0] == check.FAILED


def test_is_projective_always_true_and_wrong_types_fail():
    status, message = check.run("13.2", lambda heads: True)
    assert status == check.FAILED and "missed a crossing" in message
    status, message = check.run("13.2", lambda heads: int(is_projective(heads)))
    assert status == check.FAILED and "True or False" in message
    assert check.run("13.2", lambda heads: np.bool_(is_projective(heads)))[0] == check.PASSED
    assert check.run("13.2", lambda heads: tagging.is_projective(heads))[0] == check.FAILED   # the package's own

"""Sequence metrics: exact match, BIO entity spans and entity-level F1 (CoNLL conventions), attachment score."""

import pytest

from dlbook_utils import seqmetrics as sm


def test_exact_match_counts_whole_sequences_only():
    assert sm.exact_match(["2024-01-05", "1999-12-31"], ["2024-01-05", "1999-12-30"]) == 0.5
    assert sm.exact_match([[1, 2], [3]], [[1, 2], [3, 4]]) == 0.5
    with pytest.raises(ValueError):
        sm.exact_match(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        sm.exact_match([], [])


def test_bio_spans_follow_the_conll_reading():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG", "I-ORG", "O", "I-MISC"]
    assert sm.bio_spans(tags) == {("PER", 0, 1), ("LOC", 3, 3), ("LOC", 4, 4), ("ORG", 5, 6), ("MISC", 8, 8)}
    assert sm.bio_spans(["O", "O"]) == set()
    assert sm.bio_spans(["B-PER", "I-LOC"]) == {("PER", 0, 0), ("LOC", 1, 1)}
    with pytest.raises(ValueError, match="not O"):
        sm.bio_spans(["PER"])


def test_entity_scores_need_type_and_both_boundaries():
    truth = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    guess = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]]          # PER cut short: wrong entity
    s = sm.entity_scores(truth, guess)
    assert (s.precision, s.recall, s.f1) == (2 / 3, 2 / 3, pytest.approx(2 / 3))
    more = sm.entity_scores(truth, [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "B-MISC"]])   # one spurious
    assert (more.precision, more.recall) == (3 / 4, 1.0) and more.f1 == pytest.approx(2 * 0.75 / 1.75)
    assert s.per_type["PER"] == (0.0, 0.0, 0.0, 1)
    assert s.per_type["LOC"] == (1.0, 1.0, 1.0, 1)
    perfect = sm.entity_scores(truth, truth)
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    # the same tokens right but the type wrong scores nothing; all-O scores nothing (token accuracy would be 4/6)
    assert sm.entity_scores(truth, [["B-ORG", "I-ORG", "O", "B-PER"], ["B-LOC", "O"]]).f1 == 0.0
    assert sm.entity_scores(truth, [["O"] * 4, ["O"] * 2]).f1 == 0.0
    with pytest.raises(ValueError, match="sentence 1"):
        sm.entity_scores(truth, [guess[0], ["O"]])


def test_attachment_score_with_and_without_ignored_tokens():
    true_heads = [[2, 0, 2], [0, 1]]
    predicted = [[2, 0, 1], [0, 1]]
    assert sm.attachment_score(predicted, true_heads) == 4 / 5
    assert sm.attachment_score(predicted, true_heads, ignore=[[False, False, True], [False, False]]) == 1.0
    with pytest.raises(ValueError, match="sentence 0"):
        sm.attachment_score([[2, 0]], [[2, 0, 2]])

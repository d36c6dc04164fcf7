"""Readers for the NLTK corpora of chapter 13 (treebank, dependency treebank, CoNLL-2000, CoNLL-2002)."""

from __future__ import annotations

import pytest

from dlbook_utils import corpora


def test_parse_bracketed_keeps_leaves_in_order_and_drops_traces():
    text = "( (S (NP-SBJ (-NONE- *-1) (NNP Mr.) (NNP Vinken)) (VP (VBZ is)) (. .)))\n((S (NN yes)))"
    assert corpora.parse_bracketed(text) == [[("Mr.", "NNP"), ("Vinken", "NNP"), ("is", "VBZ"), (".", ".")],
                                             [("yes", "NN")]]
    assert corpora.parse_bracketed(text, traces=True)[0][0] == ("*-1", "-NONE-")
    with pytest.raises(ValueError, match="unbalanced"):
        corpora.parse_bracketed("((S (NN a))")
    with pytest.raises(ValueError, match="unbalanced"):
        corpora.parse_bracketed("(NN a))")


def test_parse_columns_splits_on_blank_lines_and_skips_docstart():
    text = "-DOCSTART- -DOCSTART- O\n\nLa DA B-LOC\nCoruña NC I-LOC\n\n\n, Fc O\n"
    assert corpora.parse_columns(text) == [[("La", "DA", "B-LOC"), ("Coruña", "NC", "I-LOC")], [(",", "Fc", "O")]]
    with pytest.raises(ValueError, match="columns"):
        corpora.parse_columns("a b c\nd e\n")


def test_dependency_sentence_validates_its_heads():
    s = corpora.DependencySentence(("a", "b"), ("DT", "NN"), (2, 0))
    assert len(s) == 2
    with pytest.raises(ValueError):
        corpora.DependencySentence(("a", "b"), ("DT", "NN"), (3, 0))
    with pytest.raises(ValueError):
        corpora.DependencySentence(("a",), ("DT", "NN"), (0,))


def test_treebank_and_its_dependency_version_hold_the_same_sentences():
    tagged = corpora.treebank_tagged()
    parsed = corpora.dependency_treebank()
    assert len(tagged) == len(parsed) == 3914
    assert tagged[0][:2] == [("Pierre", "NNP"), ("Vinken", "NNP")]
    assert all([w for w, _ in a] == list(b.words) and [t for _, t in a] == list(b.tags)
               for a, b in zip(tagged, parsed))
    assert not any(t == "-NONE-" for s in tagged for _, t in s)
    assert parsed[0].heads.count(0) == 1 and parsed[0].heads[7] == 0          # "will" is the root


def test_conll_corpora_sizes_and_columns():
    assert len(corpora.conll2000("train")) == 8936 and len(corpora.conll2000("test")) == 2012
    assert corpora.conll2000("train")[0][0] == ("Confidence", "NN", "B-NP")
    spanish = corpora.conll2002("testb")
    assert len(spanish) == 1517 and sum(map(len, spanish)) == 51533
    assert spanish[0][:2] == [("La", "DA", "B-LOC"), ("Coruña", "NC", "I-LOC")]
    assert {row[2][2:] for s in spanish for row in s} == {"", "PER", "LOC", "ORG", "MISC"}
    assert not any(row[0] == "-DOCSTART-" for s in corpora.conll2002("testa", "ned") for row in s)
    with pytest.raises(ValueError, match="splits"):
        corpora.conll2002("dev")
    with pytest.raises(ValueError, match="languages"):
        corpora.conll2002("train", "deu")
    with pytest.raises(ValueError, match="splits"):
        corpora.conll2000("valid")

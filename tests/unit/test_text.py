"""The text pipeline: tokeniser, vocabulary, padding, and the Keras layer that gives the same ids."""

import numpy as np
import pytest

from dlbook_utils import text


def test_tokenize_lowercases_drops_html_breaks_and_keeps_apostrophe_endings():
    assert text.tokenize("A <br /><br />GREAT film, isn't it? 10/10!") == [
        "a", "great", "film", "isn't", "it", "10", "10"]
    assert text.tokenize("") == []


def test_vocabulary_orders_by_frequency_and_reserves_padding_and_unknown():
    docs = [["b", "a", "b"], ["c", "b", "a"], ["d"]]
    vocab = text.Vocabulary.build(docs)
    assert vocab.tokens == [text.PAD, text.UNK, "b", "a", "c", "d"]   # c before d: first seen, same count
    assert list(vocab.encode(["a", "zzz", "d"])) == [3, 1, 5]
    assert vocab.decode([3, 0, 1, 5]) == ["a", text.UNK, "d"]
    assert vocab.decode([3, 0], skip_padding=False) == ["a", text.PAD]
    assert list(vocab.frequencies()) == [0, 0, 3, 2, 1, 1]
    small = text.Vocabulary.build(docs, max_size=4)
    assert small.tokens == [text.PAD, text.UNK, "b", "a"] and "c" not in small
    assert text.Vocabulary.build(docs, min_count=2).tokens == [text.PAD, text.UNK, "b", "a"]


def test_vocabulary_rejects_bad_input():
    with pytest.raises(ValueError, match="starts with"):
        text.Vocabulary(["a", "b"])
    with pytest.raises(ValueError, match="once"):
        text.Vocabulary([text.PAD, text.UNK, "a", "a"])
    with pytest.raises(ValueError, match="max_size"):
        text.Vocabulary.build([["a"]], max_size=2)
    with pytest.raises(ValueError, match="outside"):
        text.Vocabulary.build([["a"]]).decode([7])


def test_pad_truncates_and_pads_on_either_side():
    seqs = [[1, 2, 3, 4], [5]]
    assert text.pad(seqs, 3).tolist() == [[1, 2, 3], [5, 0, 0]]
    assert text.pad(seqs, 3, truncate="pre", side="pre").tolist() == [[2, 3, 4], [0, 0, 5]]
    assert text.pad(seqs, 5, value=9).tolist() == [[1, 2, 3, 4, 9], [5, 9, 9, 9, 9]]
    assert text.pad(seqs, 3).dtype == np.int32
    with pytest.raises(ValueError):
        text.pad(seqs, 0)
    with pytest.raises(ValueError):
        text.pad(seqs, 3, side="middle")


def test_text_vectorization_gives_the_same_ids_as_the_vocabulary():
    pytest.importorskip("tensorflow")
    reviews = ["One of the best films I've seen.<br />Loved it", "Worst film ever, don't watch it!", "zzz qqq"]
    tokens = [text.tokenize(r) for r in reviews]
    vocab = text.Vocabulary.build(tokens[:2])
    layer = text.text_vectorization(vocab, length=6)
    ids = np.asarray(layer([" ".join(t) for t in tokens]))
    assert ids.tolist() == text.pad([vocab.encode(t) for t in tokens], 6).tolist()
    assert ids[2].tolist() == [1, 1, 0, 0, 0, 0]


def test_load_imdb_tokens_shuffles_a_balanced_sample():
    tokens, labels = text.load_imdb_tokens("test", n=200, seed=1)
    again, labels_again = text.load_imdb_tokens("test", n=200, seed=1)
    assert tokens == again and labels.tolist() == labels_again.tolist()
    assert len(tokens) == 200 and 0.35 < labels.mean() < 0.65
    assert all(t and all(w == w.lower() for w in t) for t in tokens)
    with pytest.raises(ValueError):
        text.load_imdb_tokens("test", n=0)

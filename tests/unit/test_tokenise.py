"""Unit tests for dlbook_utils.tokenise (chapter 16's character, word and byte-pair tokenisers)."""

from __future__ import annotations

import collections
import inspect

import numpy as np
import pytest

from dlbook_utils import tokenise

from tests.conftest import ROOT, load_nb

NOTEBOOK = ROOT / "chapters" / "16_tokenisation_language_models.ipynb"
TRICKY = "First Citizen:\nBefore we proceed,  hear me...\n\n\tAll: 'Tis 42 o'clock!  \n  end "


def _random_text(seed: int, n: int = 3_000) -> str:
    rng = np.random.default_rng(seed)
    words = ["the", "then", "there", "a", "an", "and", "hand", "band", "aaa", "x", "!", "12"]
    seps = [" ", " ", " ", "\n", ", ", "  "]
    return "".join(rng.choice(words) + rng.choice(seps) for _ in range(n // 4))


@pytest.mark.parametrize("obj", [tokenise.merge_word, tokenise.train_bpe])
def test_the_chapter_shows_the_package_code(obj):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    shown = inspect.getsource(obj).rstrip("\n")
    assert shown in sources, f"chapter 16 should show {obj.__name__} as in the package"


@pytest.mark.parametrize("text", [TRICKY, "", " ", "\n\n", "a", "  two  spaces  ", "café naïve — ok", _random_text(0)])
def test_pretokenise_joins_back_and_keeps_the_space_before_a_word(text):
    words = tokenise.pretokenise(text)
    assert "".join(words) == text
    assert all(words)
    assert tokenise.pretokenise("to be, or")[:3] == ["to", " be", ","]


def test_character_tokeniser_round_trip_and_errors():
    chars = tokenise.CharTokeniser.build(TRICKY)
    assert chars.alphabet == sorted(set(TRICKY)) and len(chars) == len(set(TRICKY))
    ids = chars.encode(TRICKY)
    assert ids.dtype == np.int32 and chars.decode(ids) == TRICKY
    with pytest.raises(ValueError, match="outside its alphabet"):
        chars.encode("Z")
    for bad in ([], ["ab"], ["a", "a"]):
        with pytest.raises(ValueError):
            tokenise.CharTokeniser(bad)


def test_word_tokeniser_keeps_the_most_frequent_words_and_marks_the_others_unknown():
    text = "the cat and the dog and the bird"
    words = tokenise.WordTokeniser.build(text, max_size=3)
    assert words.words == [" and", " the", "the"] and len(words) == 4     # ties: first seen first
    ids = words.encode("the cat and the")
    assert list(ids) == [3, 0, 1, 2]
    assert words.decode(ids) == "the<unk> and the"
    full = tokenise.WordTokeniser.build(text)
    assert full.decode(full.encode(text)) == text
    with pytest.raises(ValueError):
        tokenise.WordTokeniser.build(text, max_size=0)


def test_merge_word_reads_left_to_right_without_overlaps():
    assert tokenise.merge_word([1, 1, 1], (1, 1), 9) == [9, 1]
    assert tokenise.merge_word([1, 1, 1, 1], (1, 1), 9) == [9, 9]
    assert tokenise.merge_word([2, 1, 2, 1, 3], (2, 1), 7) == [7, 7, 3]
    assert tokenise.merge_word([1, 2], (2, 1), 7) == [1, 2]
    assert tokenise.merge_word([], (2, 1), 7) == []


def _naive_bpe(text: str, vocab_size: int, alphabet: list[str]) -> list[tuple[int, int]]:
    """Recount every pair of every word after each merge: slow, obviously right."""
    index = {c: i for i, c in enumerate(alphabet)}
    words = [[index[c] for c in w] for w in tokenise.pretokenise(text)]
    merges = []
    while len(alphabet) + len(merges) < vocab_size:
        pairs = collections.Counter(p for w in words for p in zip(w, w[1:]))
        if not pairs:
            break
        top = max(pairs.values())
        pair = min(p for p, n in pairs.items() if n == top)          # ties: the smallest ids
        new = len(alphabet) + len(merges)
        words = [tokenise.merge_word(w, pair, new) for w in words]
        merges.append(pair)
    return merges


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_training_learns_the_same_merges_as_recounting(seed):
    text = _random_text(seed)
    alphabet = sorted(set(text))
    bpe = tokenise.train_bpe(text, 80, alphabet=alphabet)
    assert bpe.merges == _naive_bpe(text, 80, alphabet)


def test_training_notes_counts_and_the_length_of_the_text_after_each_merge():
    text = _random_text(3)
    base = len(set(text))
    bpe = tokenise.train_bpe(text, base + 20)
    assert len(bpe.counts) == len(bpe.tokens) == len(bpe.merges) == 20
    assert bpe.counts[0] >= bpe.counts[-1] and all(c > 0 for c in bpe.counts)
    assert all(a > b for a, b in zip(bpe.tokens, bpe.tokens[1:]))
    for size in (base + 1, base + 5, base + 20):
        assert len(bpe.truncated(size).encode(text)) == bpe.tokens[size - base - 1]
    assert tokenise.train_bpe("aaaa aaa", 100).tokens == [5, 4, 3, 2]    # 'aa' joins 3 pairs: 8 → 5 tokens


def test_training_stops_when_every_word_is_one_token():
    bpe = tokenise.train_bpe("ab ab ab", 100)
    assert [bpe.vocab[len(bpe.alphabet) + r] for r in range(len(bpe.merges))] == ["ab", " ab"]
    assert list(bpe.encode("ab ab")) == [bpe.vocab.index("ab"), bpe.vocab.index(" ab")]


@pytest.mark.parametrize("seed", [0, 4])
def test_bpe_round_trips_any_text_over_its_alphabet(seed):
    text = _random_text(seed)
    bpe = tokenise.train_bpe(text, 90)
    other = _random_text(seed + 10)[::-1]                               # new text, reversed words
    for t in (text, other, "", " ", "\n\n a"):
        ids = bpe.encode(t)
        assert ids.dtype == np.int32 and bpe.decode(ids) == t
    assert len(bpe.encode(text)) < len(text)


def test_bpe_errors():
    bpe = tokenise.train_bpe("abc abc", 6)
    with pytest.raises(ValueError, match="outside its alphabet"):
        bpe.encode("abd")
    with pytest.raises(ValueError, match="smaller than the alphabet"):
        tokenise.train_bpe("abc", 2)
    with pytest.raises(ValueError, match="outside its alphabet"):
        tokenise.train_bpe("abz", 10, alphabet=["a", "b"])
    with pytest.raises(ValueError, match="vocab_size"):
        bpe.truncated(100)
    with pytest.raises(ValueError, match="merge 0"):
        tokenise.BPE(["a", "b"], [(0, 5)])
    with pytest.raises(ValueError):
        tokenise.tokens_per_character(3, "")
    assert tokenise.tokens_per_character(3, "abcdef") == 0.5


def test_pair_statistics_counts_with_word_frequencies():
    pairs, where = tokenise.pair_statistics([[0, 1, 0, 1], [1, 0]], [3, 2])
    assert pairs == {(0, 1): 6, (1, 0): 5}
    assert where[(1, 0)] == {0, 1} and where[(0, 1)] == {0}

"""Tokenisers for language models (chapter 16): characters, words and byte-pair encoding trained from scratch.

Every tokeniser here is lossless: ``decode(encode(text)) == text`` for any text over its alphabet, spaces and
line breaks included, because the text is cut into pieces that join back to it exactly.

    chars = tokenise.CharTokeniser.build(train_text)
    bpe = tokenise.train_bpe(train_text, vocab_size=1_000)
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text

Byte-pair encoding (Sennrich et al., 2016) starts from the characters and repeatedly merges the most frequent
pair of adjacent tokens into a new token. Like real trainers, :func:`train_bpe` first cuts the text into words
(:func:`pretokenise`, GPT-2's rule: a word keeps the space before it), counts each distinct word once with its
frequency, and updates the pair counts only in the words that a merge changes, so training on a million
characters takes seconds instead of hours.
"""

from __future__ import annotations

import collections
import heapq
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PRETOKEN_PATTERN", "pretokenise", "check_alphabet", "CharTokeniser", "WordTokeniser", "BPE",
           "merge_word", "pair_statistics", "train_bpe", "tokens_per_character"]

PRETOKEN_PATTERN = r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+"
"""A word: letters, digits or other symbols, each with the one space before it, or a run of whitespace."""

_PRETOKEN_RE = re.compile(PRETOKEN_PATTERN)


def pretokenise(text: str) -> list[str]:
    """``text`` cut into words that keep the space before them (GPT-2's rule); ``"".join`` gives ``text`` back."""
    return _PRETOKEN_RE.findall(text)


def check_alphabet(text: str, index: dict[str, int], what: str) -> None:
    """Raise a ValueError that names the characters of ``text`` missing from ``index`` (a character → id map)."""
    unknown = set(text) - set(index)
    if unknown:
        raise ValueError(f"{what} cannot encode characters outside its alphabet: {sorted(unknown)[:10]}")


@dataclass
class CharTokeniser:
    """One token per character; ids are the positions of the characters in the sorted ``alphabet``."""

    alphabet: list[str]

    def __post_init__(self) -> None:
        distinct = len(set(self.alphabet)) == len(self.alphabet)
        if not self.alphabet or any(len(c) != 1 for c in self.alphabet) or not distinct:
            raise ValueError("an alphabet is a non-empty list of distinct single characters")
        self.index = {c: i for i, c in enumerate(self.alphabet)}

    @classmethod
    def build(cls, text: str) -> CharTokeniser:
        """The tokeniser whose alphabet is the sorted set of the characters of ``text``."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.alphabet)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text`` (int32); a character outside the alphabet is an error."""
        check_alphabet(text, self.index, "this character tokeniser")
        return np.array([self.index[c] for c in text], dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.alphabet[int(i)] for i in ids)


@dataclass
class WordTokeniser:
    """One token per word of :func:`pretokenise`; words outside the vocabulary become ``unknown`` (id 0)."""

    words: list[str]
    unknown: str = "<unk>"

    def __post_init__(self) -> None:
        self.index = {w: i + 1 for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, text: str, max_size: int | None = None) -> WordTokeniser:
        """The ``max_size`` most frequent words of ``text`` (all of them if ``None``), ties by first appearance."""
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be positive, got {max_size}")
        counts = collections.Counter(pretokenise(text))
        return cls([w for w, _ in counts.most_common(max_size)])

    def __len__(self) -> int:
        return len(self.words) + 1

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index.get(w, 0) for w in pretokenise(text)], dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.words[i - 1] if i else self.unknown for i in map(int, ids))


@dataclass
class BPE:
    """A trained byte-pair encoding: the base ``alphabet`` (ids ``0 … len(alphabet)-1``) and the ``merges`` in the
    order they were learned; merge ``r`` joins the pair of ids ``merges[r]`` into the new id ``len(alphabet) + r``.
    ``counts[r]`` is how often the pair occurred in the training words when it was merged, and ``tokens[r]`` how
    many tokens the training text had after that merge."""

    alphabet: list[str]
    merges: list[tuple[int, int]]
    counts: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chars = CharTokeniser(self.alphabet)
        self.vocab = list(self.alphabet)
        self.rank: dict[tuple[int, int], int] = {}
        for r, (a, b) in enumerate(self.merges):
            if not (0 <= a < len(self.vocab) and 0 <= b < len(self.vocab)):
                raise ValueError(f"merge {r} joins ids {a}, {b}, but only ids below {len(self.vocab)} exist then")
            self.rank[(a, b)] = r
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._cache: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.vocab)

    def truncated(self, vocab_size: int) -> BPE:
        """The encoding with only the first merges, so that it has ``vocab_size`` tokens."""
        if not len(self.alphabet) <= vocab_size <= len(self):
            raise ValueError(f"vocab_size must be between {len(self.alphabet)} and {len(self)}, got {vocab_size}")
        n = vocab_size - len(self.alphabet)
        return BPE(self.alphabet, self.merges[:n], self.counts[:n], self.tokens[:n])

    def encode_word(self, word: str) -> list[int]:
        """The ids of one word: its characters, then the learned merges applied, lowest rank (earliest) first."""
        ids = [self.chars.index[c] for c in word]
        while len(ids) > 1:
            ranks = [self.rank.get(pair, len(self.rank)) for pair in zip(ids, ids[1:])]
            best = min(ranks)
            if best == len(self.rank):
                break                                   # no pair of this word was ever merged
            ids = merge_word(ids, self.merges[best], len(self.alphabet) + best)
        return ids

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text`` (int32): each word encoded once and remembered, since words repeat."""
        check_alphabet(text, self.chars.index, "this BPE")
        out: list[int] = []
        for word in pretokenise(text):
            if word not in self._cache:
                self._cache[word] = self.encode_word(word)
            out.extend(self._cache[word])
        return np.array(out, dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``: the concatenation of their tokens' strings."""
        return "".join(self.vocab[int(i)] for i in ids)


def merge_word(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair``, read left to right without overlaps, replaced by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def pair_statistics(words: list[list[int]], counts: list[int]) -> tuple[collections.Counter, dict]:
    """How often each pair of adjacent ids occurs, each word weighted by its count, and which words hold it."""
    pairs: collections.Counter[tuple[int, int]] = collections.Counter()
    where: dict[tuple[int, int], set[int]] = collections.defaultdict(set)
    for w, (ids, n) in enumerate(zip(words, counts)):
        for pair in zip(ids, ids[1:]):
            pairs[pair] += n
            where[pair].add(w)
    return pairs, where


def train_bpe(text: str, vocab_size: int, alphabet: Sequence[str] | None = None) -> BPE:
    """Learn ``vocab_size - len(alphabet)`` merges from ``text``; ties go to the pair with the smallest ids."""
    alphabet = sorted(set(text)) if alphabet is None else list(alphabet)
    if vocab_size < len(alphabet):
        raise ValueError(f"vocab_size {vocab_size} is smaller than the alphabet ({len(alphabet)} characters)")
    index = {c: i for i, c in enumerate(alphabet)}
    check_alphabet(text, index, "train_bpe's alphabet")
    freq = collections.Counter(pretokenise(text))
    words, counts = [[index[c] for c in w] for w in freq], list(freq.values())   # each distinct word once
    pairs, where = pair_statistics(words, counts)
    heap = [(-n, pair) for pair, n in pairs.items()]                # the most frequent pair on top
    heapq.heapify(heap)
    merges, merged_counts, tokens = [], [], [sum(len(ids) * n for ids, n in zip(words, counts))]
    while len(alphabet) + len(merges) < vocab_size and heap:
        n, pair = heapq.heappop(heap)
        if n == 0 or -n != pairs.get(pair, 0):
            continue                                                # stale: the count changed since
        new_id = len(alphabet) + len(merges)
        merges.append(pair)
        merged_counts.append(-n)
        tokens.append(tokens[-1])
        for w in where.pop(pair):                                   # only the words that hold the pair change
            old, new = words[w], merge_word(words[w], pair, new_id)
            for p in zip(old, old[1:]):
                pairs[p] -= counts[w]
            for p in zip(new, new[1:]):
                pairs[p] += counts[w]
                where[p].add(w)
            for p in set(zip(old, old[1:])) | set(zip(new, new[1:])):
                heapq.heappush(heap, (-pairs[p], p))                # its new count (stale ones are skipped)
            words[w] = new
            tokens[-1] -= (len(old) - len(new)) * counts[w]
        del pairs[pair]
    return BPE(alphabet, merges, merged_counts, tokens[1:])


def tokens_per_character(n_tokens: int, text: str) -> float:
    """How many tokens a tokeniser spends per character of ``text``."""
    if not text:
        raise ValueError("tokens_per_character needs a non-empty text")
    return n_tokens / len(text)

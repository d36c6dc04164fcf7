"""The book's text pipeline: tokenising, a vocabulary, integer encoding and padding (Part III onwards).

Plain Python and NumPy, so that it runs the same on every Keras backend (``keras.layers.TextVectorization`` runs
on TensorFlow only; :func:`text_vectorization` builds one that gives the same ids where TensorFlow is there).

    tokens = [text.tokenize(review) for review in reviews]
    vocab = text.Vocabulary.build(tokens, max_size=20_000)
    x = text.pad([vocab.encode(t) for t in tokens], length=200)

:func:`load_imdb_tokens` does the three steps for the IMDB reviews, with the split and a size chosen by the caller.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PAD", "UNK", "TOKEN_PATTERN", "clean", "tokenize", "Vocabulary", "pad", "load_imdb_tokens",
           "text_vectorization"]

PAD = "<pad>"
UNK = "<unk>"
TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z]+)?"
"""A token: a run of lower-case letters and digits, with an apostrophe ending kept ("don't", "film's")."""

_TOKEN_RE = re.compile(TOKEN_PATTERN)
_TAG_RE = re.compile(r"<[^>]{0,20}>")


def clean(text: str) -> str:
    """Lower-case ``text`` and drop the HTML line breaks (``<br />``) that the IMDB reviews contain."""
    return _TAG_RE.sub(" ", text.lower())


def tokenize(text: str) -> list[str]:
    """The tokens of ``text``: :func:`clean`, then every match of :data:`TOKEN_PATTERN`, in order."""
    return _TOKEN_RE.findall(clean(text))


@dataclass
class Vocabulary:
    """Tokens ↔ integer ids. Id 0 is :data:`PAD`, id 1 is :data:`UNK`, then tokens from most to least frequent."""

    tokens: list[str]
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tokens[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r} and {UNK!r}, got {self.tokens[:2]}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once")
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], *, max_size: int | None = None, min_count: int = 1
              ) -> Vocabulary:
        """The ``max_size`` (padding and unknown included) most frequent tokens seen ``min_count`` times or more.

        Ties are broken by first appearance, so the same texts always give the same vocabulary.
        """
        if max_size is not None and max_size < 3:
            raise ValueError(f"max_size must leave room for {PAD!r}, {UNK!r} and one token, got {max_size}")
        counter: collections.Counter[str] = collections.Counter()
        for tokens in token_lists:
            counter.update(tokens)
        counter.pop(PAD, None)
        counter.pop(UNK, None)
        kept = [(t, c) for t, c in counter.most_common() if c >= min_count]
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([PAD, UNK] + [t for t, _ in kept], dict(counter))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """The ids of ``tokens`` (unknown tokens → 1)."""
        return np.array([self.index.get(t, 1) for t in tokens], dtype=np.int32)

    def decode(self, ids: Iterable[int], *, skip_padding: bool = True) -> list[str]:
        """The tokens of ``ids``; padding is left out unless ``skip_padding`` is False."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"id {i} is outside the vocabulary (0–{len(self.tokens) - 1})")
            if i or not skip_padding:
                out.append(self.tokens[i])
        return out

    def frequencies(self) -> np.ndarray:
        """How often each token of the vocabulary occurred in the texts it was built from (0 for the specials)."""
        return np.array([self.counts.get(t, 0) if i > 1 else 0 for i, t in enumerate(self.tokens)], dtype=np.int64)


def pad(sequences: Sequence[Sequence[int]], length: int, *, value: int = 0, truncate: str = "post",
        side: str = "post") -> np.ndarray:
    """Sequences of ids as one ``(n, length)`` int32 array.

    Longer sequences lose their end (``truncate="post"``) or their start (``"pre"``); shorter ones get ``value``
    after (``side="post"``) or before (``"pre"``) them.
    """
    if length < 1:
        raise ValueError(f"length must be positive, got {length}")
    if truncate not in ("pre", "post") or side not in ("pre", "post"):
        raise ValueError(f"truncate and side are 'pre' or 'post', got {truncate!r} and {side!r}")
    out = np.full((len(sequences), length), value, dtype=np.int32)
    for row, seq in enumerate(sequences):
        seq = np.asarray(seq, dtype=np.int32)
        seq = seq[:length] if truncate == "post" else seq[-length:]
        if side == "post":
            out[row, : len(seq)] = seq
        else:
            out[row, length - len(seq):] = seq
    return out


def load_imdb_tokens(split: str = "train", *, n: int | None = None, seed: int = 0) -> tuple[list[list[str]], np.ndarray]:
    """Tokenised IMDB reviews of ``split`` and their labels (1 = positive), shuffled with ``seed``.

    ``n`` keeps that many reviews of the shuffled split (the classes stay about balanced); ``None`` keeps all 25,000.
    """
    from . import data

    texts, labels = data.load_imdb(split)
    order = np.random.default_rng(seed).permutation(len(texts))
    if n is not None:
        if not 0 < n <= len(texts):
            raise ValueError(f"n must be between 1 and {len(texts)}, got {n}")
        order = order[:n]
    return [tokenize(texts[i]) for i in order], labels[order]


def text_vectorization(vocabulary: Vocabulary, length: int):
    """A ``keras.layers.TextVectorization`` that gives the same ids as ``vocabulary`` followed by :func:`pad`.

    It reads text already tokenised and joined by spaces (``" ".join(tokenize(review))``), so that both paths share
    one tokeniser. Needs TensorFlow (the layer is built on ``tf.strings``); on other backends use
    :meth:`Vocabulary.encode` and :func:`pad`.
    """
    import keras

    return keras.layers.TextVectorization(standardize=None, split="whitespace", output_mode="int",
                                          output_sequence_length=length, vocabulary=vocabulary.tokens[2:])

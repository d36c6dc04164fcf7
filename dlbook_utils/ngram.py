"""Character n-gram language models (chapter 16): counting, smoothing, cross-entropy and sampling.

An n-gram model predicts each character from the ``n - 1`` characters before it. :class:`NGramCounts` counts every
m-gram of a text once (m = 1 … ``max_order``), with NumPy: an m-gram of an alphabet of V characters is stored as
one integer, its base-V number, so counting is sorting and looking up is a binary search. From the counts come two
smoothed models, both able to give a probability to strings they never saw:

* :class:`AddK` (Laplace when k = 1): ``P(c | h) = (C(hc) + k) / (C(h) + kV)``.
* :class:`KneserNey`, interpolated Kneser–Ney with one absolute discount ``d``: the seen counts lose ``d`` each, and
  the probability mass they free goes to the model one order lower, whose counts are *continuation* counts (in
  how many different contexts a string was seen), down to the uniform distribution.

Both score a text with :meth:`NGramModel.log_probs` (natural logarithms, one per character, each character given
the ones before it; the first characters use the shorter history they have, or ``context`` when given) and
:meth:`NGramModel.cross_entropy` (nats per character), and generate text with :meth:`NGramModel.sample`.

    counts = ngram.NGramCounts(train_text, max_order=6)
    model = counts.kneser_ney(order=5, discount=0.8)
    nats = model.cross_entropy(validation_text)        # perplexity: ngram.perplexity(nats)
"""

from __future__ import annotations

import math

import numpy as np

from .tokenise import CharTokeniser

__all__ = ["NGramCounts", "NGramModel", "AddK", "KneserNey", "perplexity", "bits_per_character"]


def perplexity(nats_per_character: float) -> float:
    """``exp`` of the cross-entropy in nats: the number of equally likely characters that would be as uncertain."""
    return float(math.exp(nats_per_character))


def bits_per_character(nats_per_character: float) -> float:
    """The same cross-entropy measured with base-2 logarithms: nats / ln 2."""
    return float(nats_per_character / math.log(2))


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` at the positions of ``query`` in the sorted ``keys``, and 0 where a query is not a key."""
    if len(keys) == 0:
        return np.zeros(query.shape, dtype=values.dtype)
    at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[at] == query, values[at], 0)


class _Table:
    """Counts of m-grams (sorted codes and their counts) with the totals and the number of distinct followers of
    each (m-1)-character context."""

    def __init__(self, codes: np.ndarray, counts: np.ndarray, alphabet_size: int) -> None:
        self.codes, self.counts = codes, counts.astype(np.float64)
        contexts = codes // alphabet_size
        self.contexts, starts, self.followers = np.unique(contexts, return_index=True, return_counts=True)
        self.totals = np.add.reduceat(self.counts, starts) if len(starts) else np.zeros(0)

    def count(self, codes: np.ndarray) -> np.ndarray:
        return _lookup(self.codes, self.counts, codes)

    def context(self, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Total count and number of distinct next characters of each context (0 for unseen contexts)."""
        return (_lookup(self.contexts, self.totals, contexts),
                _lookup(self.contexts, self.followers.astype(np.float64), contexts))


class NGramCounts:
    """Every m-gram of ``text`` counted, for m = 1 … ``max_order``, over ``alphabet`` (default: the text's own
    characters). ``raw[m]`` holds plain counts and ``continuation[m]`` (m < max_order) the number of distinct
    characters seen just before each m-gram."""

    def __init__(self, text: str, max_order: int, alphabet: list[str] | None = None) -> None:
        self.chars = CharTokeniser(sorted(set(text)) if alphabet is None else list(alphabet))
        self.size = V = len(self.chars)
        if max_order < 1 or V ** max_order >= 2**62:
            raise ValueError(f"max_order must be at least 1 and V**max_order fit in int64 (V = {V}), got {max_order}")
        if len(text) < max_order:
            raise ValueError(f"the text has {len(text)} characters, fewer than max_order = {max_order}")
        self.max_order, self.n_characters = max_order, len(text)
        ids = self.chars.encode(text).astype(np.int64)
        self.raw: dict[int, _Table] = {}
        self.continuation: dict[int, _Table] = {}
        codes = ids.copy()
        for m in range(1, max_order + 1):
            if m > 1:
                codes = codes[:-1] * V + ids[m - 1:]            # the m-gram starting at each position
            self.raw[m] = _Table(*np.unique(codes, return_counts=True), V)
            if m > 1:                                           # distinct characters before each (m-1)-gram
                suffixes = self.raw[m].codes % V ** (m - 1)
                self.continuation[m - 1] = _Table(*np.unique(suffixes, return_counts=True), V)

    def occurrences(self, text: str, m: int) -> np.ndarray:
        """For each m-gram of ``text`` (from its first to its last character), how often the counted text holds it."""
        if not 1 <= m <= self.max_order:
            raise ValueError(f"m must be between 1 and max_order {self.max_order}, got {m}")
        ids = self.chars.encode(text).astype(np.int64)
        codes = ids[: len(ids) - m + 1].copy()
        for j in range(1, m):
            codes = codes * self.size + ids[j : len(ids) - m + 1 + j]
        return self.raw[m].count(codes).astype(np.int64)

    def add_k(self, order: int, k: float = 1.0) -> AddK:
        """The add-k model of ``order`` (k = 1: Laplace)."""
        return AddK(self, order, k)

    def kneser_ney(self, order: int, discount: float = 0.75) -> KneserNey:
        """The interpolated Kneser–Ney model of ``order`` with one absolute ``discount``."""
        return KneserNey(self, order, discount)


class NGramModel:
    """What every n-gram model does; subclasses give the probabilities of given characters after given histories."""

    def __init__(self, counts: NGramCounts, order: int) -> None:
        if not 1 <= order <= counts.max_order:
            raise ValueError(f"order must be between 1 and the counts' max_order {counts.max_order}, got {order}")
        self.counts, self.order, self.size = counts, order, counts.size

    def _probs(self, histories: np.ndarray, lengths: np.ndarray, chars: np.ndarray) -> np.ndarray:
        """P(chars | histories): ``histories`` are codes of the last ``lengths`` characters (< order)."""
        raise NotImplementedError

    def log_probs(self, text: str, context: str = "") -> np.ndarray:
        """ln P(c_t | the characters before it) for every character of ``text``; ``context`` comes before it."""
        V, n = self.size, self.order
        ids = self.counts.chars.encode(context + text).astype(np.int64)
        start = len(context)
        positions = np.arange(start, len(ids))
        lengths = np.minimum(positions, n - 1)                  # how much history each character has
        histories = np.zeros(len(positions), dtype=np.int64)
        for j in range(1, n):                                   # the code of the last `lengths` characters
            has = lengths >= j
            histories[has] += ids[positions[has] - j] * V ** (j - 1)
        return np.log(self._probs(histories, lengths, ids[start:]))

    def cross_entropy(self, text: str, context: str = "") -> float:
        """The mean of −ln P over the characters of ``text``: nats per character."""
        return float(-self.log_probs(text, context).mean())

    def distribution(self, history: str) -> np.ndarray:
        """P(c | history) for every character c of the alphabet (the last ``order - 1`` characters count)."""
        ids = self.counts.chars.encode(history[len(history) - min(len(history), self.order - 1):])
        code = 0
        for i in ids:
            code = code * self.size + int(i)
        chars = np.arange(self.size, dtype=np.int64)
        return self._probs(np.full(self.size, code, dtype=np.int64), np.full(self.size, len(ids)), chars)

    def sample(self, length: int, seed: int = 0, prompt: str = "") -> str:
        """``length`` characters drawn one at a time from the model, after ``prompt``."""
        rng = np.random.default_rng(seed)
        text = prompt
        for _ in range(length):
            p = self.distribution(text)
            text += self.counts.chars.alphabet[rng.choice(self.size, p=p / p.sum())]
        return text[len(prompt):]


class AddK(NGramModel):
    """``P(c | h) = (C(hc) + k) / (C(h) + kV)``, with the longest history of at most ``order - 1`` characters."""

    def __init__(self, counts: NGramCounts, order: int, k: float = 1.0) -> None:
        super().__init__(counts, order)
        if not k > 0:
            raise ValueError(f"k must be positive, got {k}")
        self.k = float(k)

    def _probs(self, histories: np.ndarray, lengths: np.ndarray, chars: np.ndarray) -> np.ndarray:
        p = np.empty(len(chars))
        for m in np.unique(lengths) + 1:                        # the m-gram table for m - 1 characters of history
            at = lengths == m - 1
            table = self.counts.raw[m]
            joint = table.count(histories[at] * self.size + chars[at])
            total, _ = table.context(histories[at])
            p[at] = (joint + self.k) / (total + self.k * self.size)
        return p


class KneserNey(NGramModel):
    """Interpolated Kneser–Ney: ``P_m(c|h) = max(N(hc) − d, 0)/N(h) + d·T(h)/N(h) · P_{m−1}(c|h')``, where h'
    is h without its first character, N are raw counts at the highest order and continuation counts below it,
    T(h) is the number of distinct characters seen after h, and P_0 is uniform; an unseen h passes P_{m−1} on."""

    def __init__(self, counts: NGramCounts, order: int, discount: float = 0.75) -> None:
        super().__init__(counts, order)
        if not 0 < discount < 1:
            raise ValueError(f"the discount must be between 0 and 1, got {discount}")
        self.discount = float(discount)

    def _probs(self, histories: np.ndarray, lengths: np.ndarray, chars: np.ndarray) -> np.ndarray:
        V, d = self.size, self.discount
        p = np.full(len(chars), 1.0 / V)                        # P_0: uniform
        for m in range(1, self.order + 1):
            at = lengths >= m - 1                               # characters with m - 1 characters of history
            h = histories[at] % V ** (m - 1)                    # the last m - 1 of them
            table = self.counts.raw[m] if m == self.order else self.counts.continuation[m]
            joint = table.count(h * V + chars[at])
            total, followers = table.context(h)
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            mixed = np.maximum(joint - d, 0) / safe + d * followers / safe * p[at]
            p[at] = np.where(seen, mixed, p[at])
        return p

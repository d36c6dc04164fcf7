"""Sequence to sequence with attention (chapter 14): generated dates, character vocabularies, additive attention,
greedy and beam decoding, and exact match by input length.

* :func:`format_date` writes one date in one of :data:`STYLES` (``"23.09.1998"``, ``"Wednesday, the twenty-third
  of September, nineteen ninety-eight"``, …); :func:`date_pairs` draws ``n`` random dates and styles and returns
  the written dates with their ISO 8601 forms (``"1998-09-23"``), the task of the chapter.
* :func:`char_vocabulary` and :func:`encode` turn strings into padded arrays of character ids with
  :class:`dlbook_utils.text.Vocabulary`; :data:`START` is the decoder's first input.
* :class:`AdditiveAttention` is Bahdanau's additive attention as a Keras layer.
* :func:`greedy_decode` and :func:`beam_search` run a decoder's step function in NumPy.
* :func:`exact_match_by_length` splits exact match into buckets of input length.

Plain Python, NumPy and ``keras.ops``, so it runs on every Keras backend::

    inputs, targets = seq2seq.date_pairs(1000, seed=0)
    vocab = seq2seq.char_vocabulary(inputs)
    x = seq2seq.encode(inputs, vocab, length=64, side="pre")
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence

import keras
import numpy as np

from . import text

__all__ = ["START", "STYLES", "MONTHS", "WEEKDAYS", "number_words", "ordinal_words", "ordinal_suffix", "year_words",
           "format_date", "date_pairs", "char_vocabulary", "encode", "AdditiveAttention", "greedy_decode",
           "beam_search", "exact_match_by_length"]

START = "<s>"
"""The decoder's first input: "start writing the answer"."""

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
STYLES = ("iso", "dots", "us", "us_short", "day_mon", "month_day", "weekday", "ordinal", "words", "weekday_words")
"""The ways :func:`format_date` writes a date, from the shortest to the longest (examples: 23 September 1998)::

    iso            1998-09-23
    dots           23.09.1998
    us             9/23/1998
    us_short       9/23/98          (two-digit years: 50–99 are 19xx, 00–49 are 20xx)
    day_mon        23 Sep 1998
    month_day      September 23, 1998
    weekday        Wednesday, 23 September 1998
    ordinal        the 23rd of September, 1998
    words          twenty-third of September nineteen ninety-eight
    weekday_words  Wednesday, the twenty-third of September, nineteen ninety-eight
"""
FIRST, LAST = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINAL_UNITS = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
                  "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth").split()


def number_words(n: int) -> str:
    """0–99 in English words: ``number_words(98) == "ninety-eight"``."""
    if not 0 <= n <= 99:
        raise ValueError(f"number_words covers 0–99, got {n}")
    if n < 20:
        return _UNITS[n]
    tens, units = divmod(n, 10)
    return _TENS[tens] + (f"-{_UNITS[units]}" if units else "")


def ordinal_words(n: int) -> str:
    """1–99 as an ordinal in words: ``ordinal_words(23) == "twenty-third"``, ``ordinal_words(30) == "thirtieth"``."""
    if not 1 <= n <= 99:
        raise ValueError(f"ordinal_words covers 1–99, got {n}")
    if n < 20:
        return _ORDINAL_UNITS[n]
    tens, units = divmod(n, 10)
    return _TENS[tens][:-1] + "ieth" if not units else f"{_TENS[tens]}-{_ORDINAL_UNITS[units]}"


def ordinal_suffix(n: int) -> str:
    """``n`` with its English ordinal suffix: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd, 23rd, …"""
    if n % 100 in (11, 12, 13):
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def year_words(year: int) -> str:
    """A year of 1950–2049 as it is read aloud: "nineteen ninety-eight", "two thousand and five", "twenty twelve"."""
    if not FIRST.year <= year <= LAST.year:
        raise ValueError(f"year_words covers {FIRST.year}–{LAST.year}, got {year}")
    if year < 2000:
        return f"nineteen {number_words(year - 1900)}"
    if year < 2010:
        return "two thousand" + (f" and {number_words(year - 2000)}" if year > 2000 else "")
    return f"twenty {number_words(year - 2000)}"


def format_date(date: datetime.date, style: str) -> str:
    """``date`` written in ``style`` (one of :data:`STYLES`)."""
    d, m, y = date.day, date.month, date.year
    month, weekday = MONTHS[m - 1], WEEKDAYS[date.weekday()]
    written = {
        "iso": lambda: date.isoformat(),
        "dots": lambda: f"{d:02d}.{m:02d}.{y}",
        "us": lambda: f"{m}/{d}/{y}",
        "us_short": lambda: f"{m}/{d}/{y % 100:02d}",
        "day_mon": lambda: f"{d} {month[:3]} {y}",
        "month_day": lambda: f"{month} {d}, {y}",
        "weekday": lambda: f"{weekday}, {d} {month} {y}",
        "ordinal": lambda: f"the {ordinal_suffix(d)} of {month}, {y}",
        "words": lambda: f"{ordinal_words(d)} of {month} {year_words(y)}",
        "weekday_words": lambda: f"{weekday}, the {ordinal_words(d)} of {month}, {year_words(y)}",
    }
    if style not in written:
        raise ValueError(f"unknown style {style!r}; use one of {STYLES}")
    return written[style]()


def date_pairs(n: int, *, seed: int, styles: Sequence[str] = STYLES) -> tuple[list[str], list[str]]:
    """``n`` random dates between 1950 and 2049, each written in a random one of ``styles``, and their ISO forms.

    Dates and styles are drawn uniformly with ``numpy.random.default_rng(seed)``, so a seed gives the same pairs.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    unknown = [s for s in styles if s not in STYLES]
    if unknown or not styles:
        raise ValueError(f"styles must be a non-empty selection of {STYLES}, got {list(styles)}")
    rng = np.random.default_rng(seed)
    days = rng.integers(0, (LAST - FIRST).days + 1, size=n)
    chosen = rng.integers(0, len(styles), size=n)
    dates = [FIRST + datetime.timedelta(days=int(k)) for k in days]
    return [format_date(d, styles[s]) for d, s in zip(dates, chosen)], [d.isoformat() for d in dates]


def char_vocabulary(texts: Sequence[str]) -> text.Vocabulary:
    """A character vocabulary: padding (id 0), unknown (1), :data:`START` (2), then the characters of ``texts``
    in sorted order, so the same characters always get the same ids."""
    chars = sorted(set().union(*map(set, texts))) if len(texts) else []
    return text.Vocabulary([text.PAD, text.UNK, START] + chars)


def encode(texts: Sequence[str], vocab: text.Vocabulary, length: int, *, side: str = "post",
           start: bool = False) -> np.ndarray:
    """Strings as an ``(n, length)`` int32 array of character ids, padded with 0 on ``side`` (``"pre"`` or
    ``"post"``); with ``start``, each row begins with the id of :data:`START` (and loses its last character
    if it would not fit). Strings longer than ``length`` raise an error instead of being cut."""
    rows = [([START] if start else []) + list(t) for t in texts]
    too_long = [t for t, r in zip(texts, rows) if len(r) > length + start]
    if too_long:
        raise ValueError(f"{len(too_long)} strings are longer than length={length}, e.g. {too_long[0]!r}")
    return text.pad([vocab.encode(r[:length]) for r in rows], length, side=side)


@keras.saving.register_keras_serializable(package="dlbook")
class AdditiveAttention(keras.layers.Layer):
    """Additive attention (Bahdanau et al., 2015): score(q, h) = vᵀ tanh(W_q q + W_k h + b).

    Called with queries (batch, T, d_q), keys (batch, S, d_k) and an optional boolean key_mask (batch, S) that
    is False on padding; returns the contexts (batch, T, d_k) and the attention weights (batch, T, S)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.w_query = keras.layers.Dense(self.units, use_bias=False, name="w_query")
        self.w_key = keras.layers.Dense(self.units, name="w_key")        # its bias is the b above
        self.v = keras.layers.Dense(1, use_bias=False, name="v")

    def build(self, query_shape, keys_shape, key_mask_shape=None):
        self.w_query.build(query_shape)
        self.w_key.build(keys_shape)
        self.v.build((*keys_shape[:-1], self.units))

    def call(self, query, keys, key_mask=None):
        q = keras.ops.expand_dims(self.w_query(query), 2)                 # (batch, T, 1, units)
        k = keras.ops.expand_dims(self.w_key(keys), 1)                    # (batch, 1, S, units)
        scores = keras.ops.squeeze(self.v(keras.ops.tanh(q + k)), -1)    # (batch, T, S)
        if key_mask is not None:                                          # padding gets no weight
            scores = keras.ops.where(keras.ops.expand_dims(key_mask, 1), scores, -1e9)
        weights = keras.ops.softmax(scores, axis=-1)
        return keras.ops.matmul(weights, keys), weights                   # contexts: weighted sums of keys

    def get_config(self):
        return {**super().get_config(), "units": self.units}


Step = Callable[..., tuple[np.ndarray, np.ndarray]]
"""A decoder step: ``step(tokens, state, *constants) -> (log_probs, new_state)`` for ``m`` rows at once, with
``tokens`` (m,) the previous outputs, ``state`` (m, d), ``constants`` per-row arrays that do not change (the
encoder's outputs), and ``log_probs`` (m, vocabulary) the log-probabilities of the next token."""


def greedy_decode(step: Step, state: np.ndarray, constants: Sequence[np.ndarray] = (), *, start_id: int,
                  length: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``length`` tokens for every row by taking the most probable token at each step.

    Returns the tokens (n, length) and the total log-probability of each row's answer (n,)."""
    tokens = np.full(len(state), start_id)
    out, total = [], np.zeros(len(state))
    for _ in range(length):
        log_probs, state = step(tokens, state, *constants)
        tokens = np.asarray(log_probs).argmax(axis=1)
        total += np.take_along_axis(np.asarray(log_probs), tokens[:, None], axis=1)[:, 0]
        out.append(tokens)
    return np.stack(out, axis=1), total


def beam_search(step, state, constants=(), *, start_id, length, beam_width):
    # Keep the `beam_width` most probable partial answers of every row; return the best full one and its log-prob.
    n, k = len(state), beam_width
    state = np.repeat(state, k, axis=0)                          # rows i*k ... i*k + k - 1 belong to example i
    constants = [np.repeat(c, k, axis=0) for c in constants]
    scores = np.tile([0.0] + [-np.inf] * (k - 1), n)             # (n*k,): at first all k beams are the same one
    tokens = np.full((n * k, 0), start_id)
    last = np.full(n * k, start_id)
    for _ in range(length):
        log_probs, state = step(last, state, *constants)          # (n*k, V)
        vocab = log_probs.shape[1]
        total = (scores[:, None] + log_probs).reshape(n, k * vocab)   # every beam × every next token
        best = np.argsort(-total, axis=1, kind="stable")[:, :k]       # the k best continuations per example
        parent = (best // vocab + k * np.arange(n)[:, None]).ravel()  # which beam each one extends
        last = (best % vocab).ravel()                                 # and with which token
        scores = np.take_along_axis(total, best, axis=1).ravel()
        tokens = np.concatenate([tokens[parent], last[:, None]], axis=1)
        state = np.asarray(state)[parent]
    return tokens.reshape(n, k, length)[:, 0], scores.reshape(n, k)[:, 0]


def exact_match_by_length(predicted: Sequence[Sequence], target: Sequence[Sequence], lengths: Sequence[int],
                          edges: Sequence[int]) -> list[float]:
    """Exact match within buckets of input length: bucket ``b`` holds the examples with
    ``edges[b] <= length < edges[b + 1]``. Returns one fraction per bucket (NaN for an empty bucket)."""
    from .seqmetrics import exact_match

    if not len(predicted) == len(target) == len(lengths):
        raise ValueError(f"{len(predicted)} predictions, {len(target)} targets and {len(lengths)} lengths")
    if len(edges) < 2 or list(edges) != sorted(edges):
        raise ValueError(f"edges must be at least two increasing numbers, got {list(edges)}")
    lengths = np.asarray(lengths)
    scores = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = np.flatnonzero((lengths >= low) & (lengths < high))
        scores.append(exact_match([predicted[i] for i in inside], [target[i] for i in inside])
                      if len(inside) else float("nan"))
    return scores

"""Sequence labelling and dependency parsing (chapter 13): token features, one BiLSTM tagger for POS tags,
chunks and named entities, a biaffine arc scorer, tree decoding and arcs drawn over a sentence.

    encoder = tagging.FeatureEncoder.build(train_words, train_tags)
    model = tagging.build_tagger(encoder.sizes(), len(encoder.tags))
    model.fit(encoder.encode(train_words, 60), encoder.encode_tags(train_tags, 60), ...)

Heads follow the CoNLL convention of :mod:`dlbook_utils.seqmetrics`: per sentence, ``heads[i]`` is the head of
word ``i + 1``, 0 for the root and ``k`` for the ``k``-th word. Score matrices for decoding are indexed
``scores[dependent, head]`` over ``n + 1`` nodes, node 0 being the root.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from . import text

__all__ = ["word_shape", "token_features", "FeatureEncoder", "build_tagger", "MostFrequentTag", "next_word_heads",
           "BiaffineArcScorer", "build_parser", "greedy_heads", "find_cycle", "chu_liu_edmonds", "is_projective",
           "draw_arcs"]

ROOT = "<root>"
FEATURES = ("word", "suffix", "shape")


def word_shape(word: str) -> str:
    """The word's shape: upper-case letters become X, lower-case x, digits d, and runs of one symbol shrink to one.

    ``word_shape("Vinken") == "Xx"``, ``word_shape("U.S.") == "X.X."``, ``word_shape("1,000") == "d,d"``.
    """
    symbols = ["X" if c.isupper() else "x" if c.islower() else "d" if c.isdigit() else c for c in word]
    return "".join(s for i, s in enumerate(symbols) if i == 0 or s != symbols[i - 1])


def token_features(words: Sequence[str]) -> dict[str, list[str]]:
    """Three views of each word: lower-cased (``word``), its last three letters (``suffix``) and :func:`word_shape`."""
    lower = [w.lower() for w in words]
    return {"word": lower, "suffix": [w[-3:] for w in lower], "shape": [word_shape(w) for w in words]}


def _pad_ids(rows: Sequence[Sequence[int]], length: int) -> np.ndarray:
    out = np.zeros((len(rows), length), dtype="int32")
    for i, row in enumerate(rows):
        row = list(row)[:length]
        out[i, : len(row)] = row
    return out


@dataclass
class FeatureEncoder:
    """Vocabularies for the token features and the tag set; turns sentences into padded integer arrays.

    Tag ids start at 1; id 0 marks padding (its positions get zero weight in the loss).
    """

    vocabularies: dict[str, text.Vocabulary]
    tags: list[str]

    @classmethod
    def build(cls, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], *, max_words: int = 20_000,
              min_count: int = 2) -> FeatureEncoder:
        """Vocabularies from the training sentences (words seen fewer than ``min_count`` times stay unknown)."""
        columns: dict[str, list[list[str]]] = {name: [] for name in FEATURES}
        for words in sentences:
            for name, values in token_features(words).items():
                columns[name].append(values)
        vocabularies = {name: text.Vocabulary.build(columns[name], max_size=max_words if name == "word" else None,
                                                    min_count=min_count) for name in FEATURES}
        tag_set = sorted({t for row in tags for t in row})
        return cls(vocabularies, tag_set)

    def sizes(self) -> dict[str, int]:
        """The number of ids of each feature (padding and unknown included)."""
        return {name: len(v) for name, v in self.vocabularies.items()}

    def encode(self, sentences: Sequence[Sequence[str]], length: int) -> dict[str, np.ndarray]:
        """``{feature: (n_sentences, length) int32}``, padded with 0 and cut at ``length``."""
        rows: dict[str, list[list[int]]] = {name: [] for name in FEATURES}
        for words in sentences:
            for name, values in token_features(words).items():
                rows[name].append(self.vocabularies[name].encode(values))
        return {name: _pad_ids(r, length) for name, r in rows.items()}

    def encode_tags(self, tags: Sequence[Sequence[str]], length: int) -> np.ndarray:
        """``(n_sentences, length) int32`` tag ids; a tag never seen in training gets 0, like padding."""
        index = {t: i + 1 for i, t in enumerate(self.tags)}
        return _pad_ids([[index.get(t, 0) for t in row] for row in tags], length)

    def decode_tags(self, ids: np.ndarray, lengths: Sequence[int]) -> list[list[str]]:
        """Tag strings for the first ``lengths[i]`` positions of each row of ``ids`` (id 0 reads as the first tag)."""
        names = [self.tags[0]] + self.tags
        return [[names[k] for k in row[:n]] for row, n in zip(np.asarray(ids), lengths)]


def build_tagger(sizes: dict[str, int], n_tags: int, *, word_dim: int = 64, feature_dim: int = 16,
                 units: int = 64, dropout: float = 0.3) -> Any:
    """Embeddings of word, suffix and shape → concatenate → BiLSTM → a softmax over the tags at every position.

    The word embedding masks padding (id 0), so the LSTMs skip it and the loss ignores it.
    """
    layers = keras.layers
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURES}
    embedded = [layers.Embedding(sizes["word"], word_dim, mask_zero=True, name="word_embedding")(inputs["word"])]
    embedded += [layers.Embedding(sizes[name], feature_dim, name=f"{name}_embedding")(inputs[name])
                 for name in FEATURES[1:]]
    x = layers.Dropout(dropout)(layers.Concatenate()(embedded))
    x = layers.Bidirectional(layers.LSTM(units, return_sequences=True), name="bilstm")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_tags + 1, activation="softmax", name="tags")(x)
    return keras.Model(inputs, outputs, name="bilstm_tagger")


class MostFrequentTag:
    """The baseline tagger: each known word gets the tag it had most often in training, unknown words the commonest
    tag overall."""

    def __init__(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> None:
        counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        overall: collections.Counter[str] = collections.Counter()
        for words, row in zip(sentences, tags):
            for w, t in zip(words, row):
                counts[w][t] += 1
                overall[t] += 1
        self.default = overall.most_common(1)[0][0]
        self.table = {w: c.most_common(1)[0][0] for w, c in counts.items()}

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [[self.table.get(w, self.default) for w in words] for words in sentences]


def next_word_heads(n: int) -> list[int]:
    """The baseline parse of an ``n``-word sentence: every word's head is the next word, the last word is the root."""
    return list(range(2, n + 1)) + [0] if n else []


class BiaffineArcScorer(keras.layers.Layer):
    """Scores every (dependent, head) pair of a sentence: ``s[b, i, j]`` = score of word ``j`` as the head of ``i``.

    Two small ReLU layers give each word a "dependent" view ``d_i`` and a "head" view ``g_j``; the score is
    ``d_i U g_j + g_j · w`` (bilinear + how likely ``j`` is to be anyone's head). Padded heads score -1e9.
    """

    def __init__(self, units: int = 128, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True                    # it reads padding from the word ids, and passes no mask on
        self.dependent = keras.layers.Dense(units, activation="relu", name="dependent")
        self.head = keras.layers.Dense(units, activation="relu", name="head")

    def build(self, input_shape: Any) -> None:
        states_shape, _ = input_shape
        self.dependent.build(states_shape)
        self.head.build(states_shape)
        self.U = self.add_weight(shape=(self.units, self.units), initializer="zeros", name="U")
        self.w = self.add_weight(shape=(self.units,), initializer="zeros", name="w")

    def call(self, inputs: Any) -> Any:
        states, word_ids = inputs                       # (B, T, F) BiLSTM states, (B, T) ids with 0 = padding
        d, g = self.dependent(states), self.head(states)          # (B, T, units) each
        scores = keras.ops.einsum("bie,ef,bjf->bij", d, self.U, g)
        scores = scores + keras.ops.einsum("bjf,f->bj", g, self.w)[:, None, :]
        is_pad = keras.ops.cast(keras.ops.equal(word_ids, 0), scores.dtype)[:, None, :]
        return scores - 1e9 * is_pad

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


def build_parser(n_words: int, n_tags: int, *, word_dim: int = 64, tag_dim: int = 32, units: int = 128,
                 depth: int = 2, arc_units: int = 128, dropout: float = 0.3) -> Any:
    """Word and POS-tag embeddings → ``depth`` BiLSTM layers → :class:`BiaffineArcScorer`: head logits ``(B, T, T)``.

    Position 0 of every sentence holds the root token, so a word whose head is 0 points at position 0.
    """
    layers = keras.layers
    words = keras.Input(shape=(None,), dtype="int32", name="words")
    tags = keras.Input(shape=(None,), dtype="int32", name="tags")
    x = layers.Concatenate()([layers.Embedding(n_words, word_dim, mask_zero=True, name="word_embedding")(words),
                              layers.Embedding(n_tags, tag_dim, name="tag_embedding")(tags)])
    x = layers.Dropout(dropout)(x)
    for k in range(1, depth + 1):
        x = layers.Bidirectional(layers.LSTM(units, return_sequences=True), name=f"bilstm{k}")(x)
        x = layers.Dropout(dropout)(x)
    scores = BiaffineArcScorer(arc_units, name="arcs")([x, words])
    return keras.Model([words, tags], scores, name="biaffine_parser")


def greedy_heads(scores: np.ndarray) -> list[int]:
    """Each word's highest-scoring head (never itself), from ``scores[dependent, head]`` over ``n + 1`` nodes."""
    s = np.array(scores, dtype=float)
    np.fill_diagonal(s, -np.inf)
    return [int(h) for h in s[1:].argmax(axis=1)]


def find_cycle(heads: Sequence[int]) -> list[int] | None:
    """A cycle of the head pointers (nodes 1..n, ``heads[i - 1]`` the head of node ``i``), or None if it is a tree."""
    parent = [0] + list(heads)
    done = [False] * len(parent)
    for start in range(1, len(parent)):
        path, node = [], start
        while node != 0 and not done[node] and node not in path:
            path.append(node)
            node = parent[node]
        if node in path:
            return path[path.index(node):]
        for v in path:
            done[v] = True
    return None


def chu_liu_edmonds(scores: np.ndarray) -> list[int]:
    """The highest-scoring tree over nodes 0..n rooted at 0 (Chu–Liu/Edmonds), from ``scores[dependent, head]``.

    Take every word's best head; if that makes a cycle, contract the cycle into one node, rescore the arcs into it
    by what they gain over the cycle's own arc, solve the smaller problem, and break the cycle where the chosen
    arc enters it.
    """
    s = np.array(scores, dtype=float)
    np.fill_diagonal(s, -np.inf)
    heads = [0] + greedy_heads(s)
    cycle = find_cycle(heads[1:])
    if cycle is None:
        return heads[1:]
    rest = [v for v in range(len(s)) if v not in cycle]              # node 0 and the words outside the cycle
    inside = np.array(cycle)
    gain = s[inside][:, rest] - s[inside, [heads[v] for v in cycle]][:, None]   # enter the cycle at v from u
    out_of = s[rest][:, inside]                                       # a cycle word as head of an outside word
    small = np.full((len(rest) + 1, len(rest) + 1), -np.inf)
    small[: len(rest), : len(rest)] = s[np.ix_(rest, rest)]
    small[len(rest), : len(rest)] = gain.max(axis=0)
    small[: len(rest), len(rest)] = out_of.max(axis=1)
    small_heads = [0] + chu_liu_edmonds(small)
    for k, v in enumerate(rest[1:], start=1):                         # outside words: map back their heads
        h = small_heads[k]
        heads[v] = int(inside[out_of[k].argmax()]) if h == len(rest) else rest[h]
    u = small_heads[len(rest)]                                        # the arc that enters the cycle
    heads[int(inside[gain[:, u].argmax()])] = rest[u]
    return heads[1:]


def is_projective(heads: Sequence[int]) -> bool:
    """Whether the arcs can be drawn above the sentence without crossing (the root's arc counts, from position 0)."""
    arcs = [tuple(sorted((h, d))) for d, h in enumerate(heads, start=1)]
    return not any(a < c < b < e for a, b in arcs for c, e in arcs)


def draw_arcs(ax: Any, words: Sequence[str], heads: Sequence[int], *, below: bool = False, color: str = "C0",
              wrong: Sequence[bool] | None = None, wrong_color: str = "C3") -> None:
    """Draw a parse as arcs from each head to its dependent over (or under) the words on ``ax``.

    Arc height grows with its length; an arrowhead marks the dependent; the root's arc is a vertical line.
    ``wrong`` marks the arcs to draw in ``wrong_color`` (for example a prediction's mistakes).
    """
    from matplotlib.patches import Arc

    sign = -1 if below else 1
    for d, h in enumerate(heads, start=1):
        c = wrong_color if wrong is not None and wrong[d - 1] else color
        if h == 0:
            ax.plot([d, d], [0.3 * sign, 2.2 * sign], color=c, lw=1.4)
            ax.text(d, 2.35 * sign, "root", ha="center", va="bottom" if sign > 0 else "top", fontsize=8, color=c)
            continue
        width, height = abs(d - h), min(0.5 + 0.45 * abs(d - h), 2.0)
        ax.add_patch(Arc(((d + h) / 2, 0.3 * sign), width, 2 * height, theta1=0 if sign > 0 else 180,
                         theta2=180 if sign > 0 else 360, color=c, lw=1.4))
        ax.annotate("", xy=(d, 0.3 * sign), xytext=(d, 0.3 * sign + 0.35 * sign),
                    arrowprops={"arrowstyle": "-|>", "color": c, "lw": 1.2})
    for i, w in enumerate(words, start=1):
        ax.text(i, 0, w, ha="center", va="center", fontsize=9)
    low, high = sorted((-0.6 * sign, 2.8 * sign))
    if getattr(ax, "_dlbook_arcs", False):                            # a second parse on the same axes
        low, high = min(low, ax.get_ylim()[0]), max(high, ax.get_ylim()[1])
    ax._dlbook_arcs = True
    ax.set_xlim(0.3, len(words) + 0.7)
    ax.set_ylim(low, high)
    ax.set_yticks([])
    ax.set_xticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)

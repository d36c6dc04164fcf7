"""Few-shot and in-context learning (chapter 18): generated in-context tasks, episodes and prototypical networks.

* :func:`draw_tasks` and :func:`prompt_tokens` — prompts for in-context learning. Every sequence draws a fresh
  random mapping from symbols to labels (or, for a share of them, one fixed "default" mapping that a model can
  learn in its weights) and lists (symbol, label) pairs; a model that predicts each label from what came before
  can only do better than chance on a fresh mapping by reading the earlier pairs of its own prompt.
* :func:`sample_episode` and :func:`episode_batch` — N-way K-shot episodes: N classes drawn at random, K support
  and Q query examples of each, laid out support first (class by class), then queries.
* :func:`prototypes`, :func:`squared_distances`, :func:`nearest_prototype` — Snell et al.'s (2017) prototypical
  classifier in NumPy; :func:`prototypical_loss` is the same thing in ``keras.ops`` as a Keras loss for
  ``model.fit`` on episodes (one episode per batch), on every backend.
* :func:`episode_accuracies` and :func:`mean_and_interval` — evaluation on many episodes with a 95% interval.

    symbols, labels, _ = draw_tasks(64, 16, n_symbols=8, n_labels=4, rng=rng)
    tokens, positions = prompt_tokens(symbols, labels, n_symbols=8, n_labels=4)
    support, query = sample_episode(y, classes=[0, 1, 3, 5, 8], n_way=5, k_shot=5, n_query=15, rng=rng)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["draw_tasks", "prompt_tokens", "vocabulary_size", "sample_episode", "episode_batch", "prototypes",
           "squared_distances", "nearest_prototype", "prototypical_loss", "episode_accuracies",
           "mean_and_interval"]


# ------------------------------------------------------------------------------------------------------------
# In-context learning on generated tasks
# ------------------------------------------------------------------------------------------------------------


def draw_tasks(n: int, length: int, *, n_symbols: int, n_labels: int, rng: np.random.Generator,
               default: np.ndarray | None = None, default_share: float = 0.0):
    """``n`` sequences of ``length`` (symbol, label) pairs, each from its own task.

    A task is a mapping from the symbols 0…n_symbols-1 to the labels 0…n_labels-1, drawn uniformly at random for
    every sequence; with probability ``default_share`` a sequence uses the fixed mapping ``default`` instead.
    Returns ``(symbols, labels, uses_default)``: two (n, length) int arrays and an (n,) boolean array.
    """
    if n < 1 or length < 1 or n_symbols < 1 or n_labels < 2:
        raise ValueError(f"need n, length, n_symbols >= 1 and n_labels >= 2, "
                         f"got {n}, {length}, {n_symbols}, {n_labels}")
    if not 0.0 <= default_share <= 1.0:
        raise ValueError(f"default_share is a probability, got {default_share}")
    if default_share > 0 and (default is None or np.shape(default) != (n_symbols,)):
        raise ValueError(f"default_share > 0 needs a default mapping of shape ({n_symbols},)")
    mappings = rng.integers(0, n_labels, size=(n, n_symbols))
    uses_default = rng.random(n) < default_share
    if uses_default.any():
        mappings[uses_default] = np.asarray(default)
    symbols = rng.integers(0, n_symbols, size=(n, length))
    labels = np.take_along_axis(mappings, symbols, axis=1)
    return symbols, labels, uses_default


def vocabulary_size(n_symbols: int, n_labels: int) -> int:
    """Token ids of :func:`prompt_tokens`: 0 unused, symbols, labels, and one separator."""
    return n_symbols + n_labels + 2


def prompt_tokens(symbols: np.ndarray, labels: np.ndarray, *, n_symbols: int, n_labels: int,
                  separator: bool = False):
    """Interleave (n, k) symbols and labels into prompts ``x₁ y₁ x₂ y₂ …``, or ``x₁ y₁ ; x₂ y₂ ; …`` with
    ``separator``.

    Symbol s becomes token 1 + s, label l token 1 + n_symbols + l, the separator the last id of
    :func:`vocabulary_size`. Returns ``(tokens, query_positions)``: the (n, T) int32 tokens and the k positions
    of the symbols, where a causal model predicts the label that follows from everything before it.
    """
    symbols, labels = np.asarray(symbols), np.asarray(labels)
    if symbols.shape != labels.shape or symbols.ndim != 2:
        raise ValueError(f"symbols and labels are (n, k) arrays of the same shape, got {symbols.shape}, {labels.shape}")
    if symbols.min() < 0 or symbols.max() >= n_symbols or labels.min() < 0 or labels.max() >= n_labels:
        raise ValueError(f"symbols lie in 0…{n_symbols - 1} and labels in 0…{n_labels - 1}")
    step = 3 if separator else 2
    n, k = symbols.shape
    tokens = np.zeros((n, k * step), dtype="int32")
    tokens[:, 0::step] = 1 + symbols
    tokens[:, 1::step] = 1 + n_symbols + labels
    if separator:
        tokens[:, 2::step] = vocabulary_size(n_symbols, n_labels) - 1
    return tokens, np.arange(0, k * step, step)


# ------------------------------------------------------------------------------------------------------------
# Episodes and prototypical networks
# ------------------------------------------------------------------------------------------------------------


def sample_episode(labels: np.ndarray, classes: Sequence[int], n_way: int, k_shot: int, n_query: int,
                   rng: np.random.Generator):
    """Indices of one N-way K-shot episode: ``n_way`` of ``classes`` at random, then for each of them ``k_shot``
    support and ``n_query`` query examples, all different. Returns ``(support, query)`` of shapes
    (n_way, k_shot) and (n_way, n_query): row c holds examples of the episode's class c."""
    labels = np.asarray(labels)
    if n_way > len(classes):
        raise ValueError(f"an episode of {n_way} classes needs at least that many classes, got {len(classes)}")
    picked = rng.choice(np.asarray(classes), size=n_way, replace=False)
    support, query = [], []
    for c in picked:
        members = np.flatnonzero(labels == c)
        if len(members) < k_shot + n_query:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than {k_shot} + {n_query}")
        chosen = rng.choice(members, size=k_shot + n_query, replace=False)
        support.append(chosen[:k_shot])
        query.append(chosen[k_shot:])
    return np.array(support), np.array(query)


def episode_batch(x: np.ndarray, labels: np.ndarray, classes: Sequence[int], episodes: int, n_way: int,
                  k_shot: int, n_query: int, rng: np.random.Generator):
    """``episodes`` episodes stacked for ``model.fit(..., batch_size=n_way * (k_shot + n_query), shuffle=False)``.

    Each episode is laid out as its support (class 0's k_shot examples, then class 1's, …) and then its queries
    in the same class order. Returns ``(x_episodes, y_episodes)`` with the episode's class numbers 0…n_way-1 as
    labels (what :func:`prototypical_loss` reads).
    """
    local = np.concatenate([np.repeat(np.arange(n_way), k_shot), np.repeat(np.arange(n_way), n_query)])
    indices = []
    for _ in range(episodes):
        support, query = sample_episode(labels, classes, n_way, k_shot, n_query, rng)
        indices.append(np.concatenate([support.ravel(), query.ravel()]))
    return x[np.concatenate(indices)], np.tile(local, episodes).astype("int32")


def prototypes(support: np.ndarray) -> np.ndarray:
    """Class prototypes: the mean of each class's support embeddings, (n_way, k_shot, d) → (n_way, d)."""
    support = np.asarray(support)
    if support.ndim != 3:
        raise ValueError(f"support embeddings have shape (n_way, k_shot, d), got {support.shape}")
    return support.mean(axis=1)


def squared_distances(queries: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(n, d) queries and (m, d) centres → (n, m) squared Euclidean distances."""
    queries, centres = np.asarray(queries), np.asarray(centres)
    return ((queries[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)


def nearest_prototype(support: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The episode class (0…n_way-1) of the prototype nearest to each query, by squared Euclidean distance."""
    return squared_distances(queries, prototypes(support)).argmin(axis=1)


def prototypical_loss(n_way: int, k_shot: int) -> Callable:
    """A Keras loss for one episode per batch laid out as :func:`episode_batch` does: ``y_pred`` are the
    embeddings of the whole batch, ``y_true`` the episode's class numbers. The prototypes are the means of the
    support embeddings; each query's logits are minus its squared distances to them; the loss is the
    cross-entropy of the queries (Snell et al., 2017)."""
    import keras
    from keras import ops

    n_support = n_way * k_shot

    def loss(y_true, y_pred):
        support = ops.reshape(y_pred[:n_support], (n_way, k_shot, -1))
        centres = ops.mean(support, axis=1)                                    # (n_way, d)
        queries = y_pred[n_support:]                                           # (n_way * n_query, d)
        distances = ops.sum(ops.square(queries[:, None, :] - centres[None, :, :]), axis=-1)
        targets = ops.cast(ops.reshape(y_true, (-1,))[n_support:], "int32")
        return keras.losses.sparse_categorical_crossentropy(targets, -distances, from_logits=True)

    return loss


def episode_accuracies(embeddings: np.ndarray, labels: np.ndarray, classes: Sequence[int], episodes: int,
                       n_way: int, k_shot: int, n_query: int, rng: np.random.Generator) -> np.ndarray:
    """Nearest-prototype accuracy of each of ``episodes`` episodes drawn from ``classes``, on precomputed
    (n, d) embeddings of the examples whose labels are ``labels``."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    accuracies = np.empty(episodes)
    for e in range(episodes):
        support, query = sample_episode(labels, classes, n_way, k_shot, n_query, rng)
        predicted = nearest_prototype(embeddings[support], embeddings[query.ravel()])
        accuracies[e] = np.mean(predicted == np.repeat(np.arange(n_way), n_query))
    return accuracies


def mean_and_interval(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its normal-approximation 95% confidence interval (1.96 standard errors)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        raise ValueError("a confidence interval needs at least two values")
    return float(values.mean()), float(1.96 * values.std(ddof=1) / np.sqrt(values.size))

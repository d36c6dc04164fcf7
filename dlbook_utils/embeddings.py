"""Word embeddings: the pieces of Word2Vec (skip-gram with negative sampling) and of judging word vectors.

Chapter 11 builds each piece in the open and uses these, so the chapter and the package hold the same code (a
test compares them). Everything here is NumPy except :func:`skipgram_model`, which is plain Keras 3 and runs on
every backend.

    keep = rng.random(len(ids)) >= discard_probability(counts)[ids]       # subsample frequent words
    targets, contexts = skipgram_pairs(ids[keep], window=5, rng=rng)      # (target, context) pairs
    candidates = with_negatives(contexts, noise_distribution(counts), 5, rng)
    model = skipgram_model(vocab_size, dim)                               # logits for [context, noise, ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["discard_probability", "noise_distribution", "skipgram_pairs", "with_negatives", "skipgram_model",
           "unit_rows", "nearest", "analogy", "pair_similarity", "cooccurrence_matrix", "sparse_ppmi",
           "write_projector_tsv"]


def discard_probability(counts: np.ndarray, t: float = 1e-5) -> np.ndarray:
    """Mikolov et al.'s chance of dropping each occurrence of a word: 1 - sqrt(t / f), f its share of the text."""
    counts = np.asarray(counts, dtype=np.float64)
    share = counts / counts.sum()
    with np.errstate(divide="ignore"):
        keep = np.sqrt(t / share)                   # inf for words never seen: they are never dropped
    return np.clip(1.0 - keep, 0.0, 1.0)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """The distribution negative samples are drawn from: counts ** power, normalised to sum to 1."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    weights[np.asarray(counts) == 0] = 0.0          # 0 ** 0 would give a never-seen word a share
    return weights / weights.sum()


def skipgram_pairs(ids: np.ndarray, window: int, rng: np.random.Generator,
                   doc_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every (target, context) pair of ``ids`` within a window, built with one array operation per offset.

    Each target draws its own window size from 1..``window`` (so near words count more often, as in word2vec);
    with ``doc_ids``, pairs never cross from one document into the next.
    """
    ids = np.asarray(ids)
    reach = rng.integers(1, window + 1, size=len(ids))            # each target's window size
    targets, contexts = [], []
    for offset in range(1, window + 1):
        for t, c in ((slice(None, -offset), slice(offset, None)),     # context to the right
                     (slice(offset, None), slice(None, -offset))):    # context to the left
            keep = reach[t] >= offset
            if doc_ids is not None:
                keep &= doc_ids[t] == doc_ids[c]
            targets.append(ids[t][keep])
            contexts.append(ids[c][keep])
    return np.concatenate(targets), np.concatenate(contexts)


def with_negatives(contexts: np.ndarray, noise: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 1 + k)`` candidate ids per pair: the true context first, then ``k`` words drawn from ``noise``."""
    negatives = rng.choice(len(noise), size=(len(contexts), k), p=noise)
    return np.concatenate([np.asarray(contexts)[:, None], negatives], axis=1).astype(np.int32)


def skipgram_model(vocab_size: int, dim: int):
    """Skip-gram with negative sampling: the logit of each candidate is the dot product w_target · c_candidate."""
    import keras
    from keras import layers, ops

    target = keras.Input(shape=(), dtype="int32", name="target")                 # (batch,)
    candidates = keras.Input(shape=(None,), dtype="int32", name="candidates")    # (batch, 1 + k)
    w = layers.Embedding(vocab_size, dim, name="word_vectors")(target)           # (batch, dim)
    c = layers.Embedding(vocab_size, dim, name="context_vectors")(candidates)    # (batch, 1 + k, dim)
    logits = ops.sum(ops.expand_dims(w, 1) * c, axis=-1)                         # (batch, 1 + k)
    return keras.Model([target, candidates], logits, name="skipgram")


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Every row scaled to length 1 (an all-zero row stays zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def nearest(vectors: np.ndarray, query: np.ndarray, k: int = 8, exclude: Sequence[int] = ()) -> np.ndarray:
    """Indices of the ``k`` rows most cosine-similar to the vector ``query``, most similar first, ``exclude`` left out."""
    similarities = unit_rows(vectors) @ (query / max(float(np.linalg.norm(query)), 1e-12))
    similarities[list(exclude)] = -np.inf
    return np.argsort(-similarities)[:k]


def analogy(vectors: np.ndarray, a: int, b: int, c: int, k: int = 1) -> np.ndarray:
    """"a is to b as c is to ?": the ``k`` rows nearest to b - a + c (unit vectors), the three query words excluded."""
    unit = unit_rows(vectors)
    return nearest(unit, unit[b] - unit[a] + unit[c], k, exclude=(a, b, c))


def pair_similarity(vectors: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Cosine similarity of each pair of row indices in ``pairs`` (shape ``(n, 2)``)."""
    unit = unit_rows(vectors)
    pairs = np.asarray(pairs)
    return np.sum(unit[pairs[:, 0]] * unit[pairs[:, 1]], axis=1)


def cooccurrence_matrix(ids: np.ndarray, vocab_size: int, window: int, doc_ids: np.ndarray | None = None):
    """Sparse symmetric counts: entry (i, j) is how often j occurs within ``window`` words of i (ids < 0 skipped)."""
    import scipy.sparse

    ids = np.asarray(ids)
    counts = scipy.sparse.csr_matrix((vocab_size, vocab_size), dtype=np.float32)
    for offset in range(1, window + 1):
        left, right = ids[:-offset], ids[offset:]
        keep = (left >= 0) & (right >= 0)
        if doc_ids is not None:
            keep &= doc_ids[:-offset] == doc_ids[offset:]
        ones = np.ones(int(keep.sum()), dtype=np.float32)
        counts = counts + scipy.sparse.csr_matrix((ones, (left[keep], right[keep])), shape=counts.shape)
    return (counts + counts.T).tocsr()


def sparse_ppmi(counts, alpha: float = 0.75):
    """Positive PMI of a sparse count matrix, context counts smoothed with ``alpha`` (chapter 01's ``ppmi``)."""
    counts = counts.tocoo()
    total = counts.sum()
    p_word = np.asarray(counts.sum(axis=1)).ravel() / total
    context_mass = np.asarray(counts.sum(axis=0)).ravel() ** alpha
    p_context = context_mass / context_mass.sum()
    pmi = np.log(counts.data / total / (p_word[counts.row] * p_context[counts.col]))
    keep = pmi > 0
    import scipy.sparse

    return scipy.sparse.csr_matrix((pmi[keep].astype(np.float32), (counts.row[keep], counts.col[keep])),
                                   shape=counts.shape)


def write_projector_tsv(folder: str | Path, vectors: np.ndarray, labels: Sequence[str],
                        columns: dict[str, Sequence] | None = None, name: str = "vectors") -> tuple[Path, Path]:
    """Write ``<name>.tsv`` (one row of numbers per word) and ``metadata.tsv`` for the Embedding Projector.

    With ``columns`` (extra metadata such as counts) the metadata file gets a header line ``word<TAB>...``, as
    the projector requires when there is more than one column; without, it holds one label per line.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if len(labels) != len(vectors):
        raise ValueError(f"{len(labels)} labels for {len(vectors)} vectors")
    if any("\t" in str(label) or "\n" in str(label) for label in labels):
        raise ValueError("labels may not contain tabs or line breaks")
    vector_path, metadata_path = folder / f"{name}.tsv", folder / "metadata.tsv"
    np.savetxt(vector_path, np.asarray(vectors), delimiter="\t", fmt="%.5f")
    columns = dict(columns or {})
    with open(metadata_path, "w", encoding="utf-8") as f:
        if columns:
            f.write("\t".join(["word", *columns]) + "\n")
        for i, label in enumerate(labels):
            f.write("\t".join([str(label), *(str(values[i]) for values in columns.values())]) + "\n")
    return vector_path, metadata_path

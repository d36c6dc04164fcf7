"""A small GPT for characters (chapter 17; chapters 18–21 reuse the trained model).

* :func:`vocabulary`, :func:`encode`, :func:`decode` — characters ↔ ids for tiny Shakespeare.
* :func:`gpt_model` — a decoder-only transformer: token + position embedding, pre-LN causal
  :class:`~dlbook_utils.transformer.TransformerBlock`\\ s, a final LayerNorm and logits over the characters.
* :class:`RandomWindows` and :func:`validation_windows` — training batches of random windows of the text, and the
  validation text cut into non-overlapping windows.
* :func:`train_gpt` — the chapter's recipe (AdamW, warm-up and cosine decay, ``fit`` with one line per evaluation).
* :func:`top_k_filter`, :func:`top_p_filter`, :func:`sample_next` — temperature, top-k and nucleus sampling.
* :func:`cached_block_step` and :class:`KVCacheDecoder` — generation with a key/value cache, and
  :func:`recompute_generate`, the same generation recomputing the whole prefix at every step.
* :func:`fit_power_law` — a least-squares power law on log–log axes (the scaling experiment).
* :func:`shakespeare_gpt` — the trained model of chapter 17 and its characters, from the cache or trained with
  :data:`RECIPE` (``model, chars = gpt.shakespeare_gpt()``).

Everything runs on every Keras backend (``keras.ops`` only); the sampling functions are NumPy, since they act on
one vector of logits at a time.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from . import data, models, transformer
from .config import get_mode

__all__ = ["RECIPE", "vocabulary", "encode", "decode", "gpt_model", "RandomWindows", "validation_windows",
           "steps_per_evaluation", "train_gpt", "evaluate_loss", "top_k_filter", "top_p_filter", "sample_next", "cached_block_step",
           "KVCacheDecoder", "recompute_generate", "non_embedding_params", "shakespeare_gpt_path",
           "save_shakespeare_gpt", "shakespeare_gpt", "fit_power_law", "VALIDATION_WINDOWS"]

RECIPE: dict[str, dict] = {
    "full": dict(context=128, dim=128, blocks=4, heads=4, batch_size=16, peak_lr=2e-3, weight_decay=0.1,
                 warmup_fraction=0.05, tokens=3_000_000, evaluations=10, seed=0),
    "quick": dict(context=64, dim=32, blocks=2, heads=2, batch_size=16, peak_lr=3e-3, weight_decay=0.1,
                  warmup_fraction=0.1, tokens=160_000, evaluations=2, seed=0),
}
"""The recipe of chapter 17's model in each run mode: the architecture, the optimiser and the tokens it sees."""


# ---------------------------------------------------------------------------------------------
# Characters
# ---------------------------------------------------------------------------------------------


def vocabulary(text: str | None = None) -> str:
    """The sorted distinct characters of ``text`` (default: the whole of tiny Shakespeare), one string."""
    text = data.load_tiny_shakespeare() if text is None else text
    if not text:
        raise ValueError("vocabulary needs a non-empty text")
    return "".join(sorted(set(text)))


def encode(text: str, chars: str) -> np.ndarray:
    """int32 ids of the characters of ``text`` in ``chars``; a character outside ``chars`` is an error."""
    index = {c: i for i, c in enumerate(chars)}
    unknown = sorted(set(text) - set(index))
    if unknown:
        raise ValueError(f"characters outside the vocabulary: {unknown[:10]}")
    return np.array([index[c] for c in text], dtype=np.int32)


def decode(ids, chars: str) -> str:
    """The text of a sequence of ids."""
    return "".join(chars[int(i)] for i in np.asarray(ids).reshape(-1))


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


def gpt_model(vocab_size, context, dim, blocks, heads, dropout=0.0, name="gpt"):
    """Token + position embedding → `blocks` pre-LN causal blocks → LayerNorm → logits over the vocabulary."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")        # any length up to `context`
    x = transformer.PositionalEmbedding(vocab_size, context, dim, name="embedding")(token_ids)
    for i in range(blocks):
        x = transformer.TransformerBlock(dim, heads, 4 * dim, dropout, norm="pre", causal=True,
                                         name=f"block_{i}")(x)
    x = layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)              # pre-LN leaves x un-normalised
    small = keras.initializers.RandomNormal(stddev=0.02)                            # untrained logits near 0
    return keras.Model(token_ids, layers.Dense(vocab_size, kernel_initializer=small, name="logits")(x), name=name)


def non_embedding_params(model) -> int:
    """Weights outside the token and position embeddings (the N of the scaling laws of Kaplan et al., 2020)."""
    embedding = model.get_layer("embedding")
    return int(model.count_params() - embedding.count_params())


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


class RandomWindows(keras.utils.PyDataset):
    """Batches of `batch_size` windows of `context + 1` ids at random places: inputs are the first `context`
    ids, targets the same window shifted by one. `steps` batches make one epoch; every batch is new."""

    def __init__(self, ids, context, batch_size, steps, seed=0, **kwargs):
        super().__init__(**kwargs)
        if len(ids) <= context + 1 or steps < 1:
            raise ValueError(f"need more than context + 1 = {context + 1} ids and steps ≥ 1")
        self.ids, self.context, self.batch_size, self.steps = np.asarray(ids), context, batch_size, steps
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        starts = self.rng.integers(0, len(self.ids) - self.context - 1, size=self.batch_size)
        windows = self.ids[starts[:, None] + np.arange(self.context + 1)]
        return windows[:, :-1], windows[:, 1:]


def validation_windows(ids, context: int, limit: int | None = None):
    """``(inputs, targets)``: the text cut into consecutive, non-overlapping windows of `context` predictions
    (the first `limit` windows if given). Every character but the first is predicted once."""
    ids = np.asarray(ids)
    n = (len(ids) - 1) // context
    if n < 1:
        raise ValueError(f"a text of {len(ids)} ids holds no window of {context} predictions")
    n = n if limit is None else min(n, limit)
    starts = np.arange(n) * context
    windows = ids[starts[:, None] + np.arange(context + 1)]
    return windows[:, :-1], windows[:, 1:]


def evaluate_loss(model, inputs, targets, batch_size: int = 64) -> float:
    """Mean cross-entropy in nats per predicted character."""
    logits = model.predict(inputs, batch_size=batch_size, verbose=0)
    losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    return float(np.mean(keras.ops.convert_to_numpy(losses)))


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def steps_per_evaluation(recipe) -> int:
    """Training steps between two evaluations: the recipe's tokens in batches, split into its evaluations."""
    steps = recipe["tokens"] // (recipe["batch_size"] * recipe["context"])
    return max(1, steps // recipe["evaluations"])


def train_gpt(model, train_ids, validation, recipe, verbose=2):
    """Train with AdamW and a warm-up + cosine schedule; one epoch per evaluation on `validation`."""
    per_evaluation = steps_per_evaluation(recipe)
    total = per_evaluation * recipe["evaluations"]
    schedule = models.warmup_cosine(recipe["peak_lr"], total, recipe["warmup_fraction"])
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=recipe["weight_decay"], beta_2=0.99, clipnorm=1.0)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    batches = RandomWindows(train_ids, recipe["context"], recipe["batch_size"], per_evaluation, recipe["seed"])
    return model.fit(batches, validation_data=validation, validation_batch_size=64,
                     epochs=recipe["evaluations"], verbose=verbose)


# ---------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------


def top_k_filter(logits, k):
    """Keep the `k` largest logits (along the last axis) and set the others to -inf; `k` None keeps all."""
    logits = np.asarray(logits, dtype=np.float64)
    if k is None or k >= logits.shape[-1]:
        return logits.copy()
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    kth_largest = np.sort(logits, axis=-1)[..., -k, None]
    return np.where(logits >= kth_largest, logits, -np.inf)


def top_p_filter(logits, p):
    """Keep the smallest set of largest-probability tokens whose probabilities add up to at least `p` (the
    nucleus) and set the other logits to -inf; `p` None or 1 keeps all."""
    logits = np.asarray(logits, dtype=np.float64)
    if p is None or p >= 1:
        return logits.copy()
    if p <= 0:
        raise ValueError(f"p must be in (0, 1], got {p}")
    order = np.argsort(-logits, axis=-1)
    sorted_logits = np.take_along_axis(logits, order, -1)
    probs = np.exp(sorted_logits - sorted_logits[..., :1])
    probs /= probs.sum(axis=-1, keepdims=True)
    before = np.cumsum(probs, axis=-1) - probs                  # probability of the tokens ranked above each one
    keep_sorted = before < p                                     # the top token is always kept
    keep = np.empty_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, -1)
    return np.where(keep, logits, -np.inf)


def sample_next(logits, rng, temperature=1.0, top_k=None, top_p=None):
    """Draw one id per row of `logits` (last axis: the vocabulary): divide by the temperature, filter with
    top-k and then top-p, and sample from the softmax. Temperature 0 picks the most likely id."""
    logits = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return np.argmax(logits, axis=-1)
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0, got {temperature}")
    logits = top_p_filter(top_k_filter(logits / temperature, top_k), top_p)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    flat = probs.reshape(-1, probs.shape[-1])
    picks = np.array([rng.choice(len(row), p=row) for row in flat])
    return picks.reshape(probs.shape[:-1])


# ---------------------------------------------------------------------------------------------
# Generation: with a key/value cache, and by recomputing the prefix
# ---------------------------------------------------------------------------------------------


def cached_block_step(block, x, keys, values, position):
    """One new position through a pre-LN causal block that reads the keys and values cached before it.

    x: (batch, 1, dim), the new position's vector; keys, values: (batch, slots, heads, head_dim), the first
    slots of the cache, filled up to position - 1 (later slots are ignored); position: (batch, 1) int. Returns
    the block's output and the new position's key and value, (batch, 1, heads, head_dim) each, to be stored.
    """
    attention, slots = block.attention, ops.arange(ops.shape(keys)[1])[None, :]     # (1, max_length)
    h = block.norm1(x)
    q, k, v = attention.query_dense(h), attention.key_dense(h), attention.value_dense(h)  # (batch, 1, heads, hd)
    scale = 1.0 / math.sqrt(keys.shape[-1])
    past = ops.einsum("bqhd,bkhd->bhqk", q, keys) * scale                            # scores of the cached slots
    before = ops.expand_dims(ops.expand_dims(slots < position, 1), 1)                # (batch, 1, 1, max_length)
    scores = ops.concatenate([ops.where(before, past, -1e9), ops.einsum("bqhd,bkhd->bhqk", q, k) * scale], -1)
    weights = ops.softmax(scores, axis=-1)                                           # empty slots get weight 0
    mixed = ops.einsum("bhqk,bkhd->bqhd", weights[..., :-1], values) + ops.einsum("bhqk,bkhd->bqhd",
                                                                                  weights[..., -1:], v)
    x = x + attention.output_dense(mixed)
    return x + block.ff(block.norm2(x)), k, v


def _blocks(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, transformer.TransformerBlock)]


def _decode_step_layer(model):
    class DecodeStep(keras.layers.Layer):
        """The GPT on one new position per sequence, with every block's cache as extra inputs and outputs."""

        def __init__(self, gpt, **kwargs):
            super().__init__(**kwargs)
            self.gpt = gpt

        def call(self, token, position, *caches):
            embedding = self.gpt.get_layer("embedding")
            x = embedding.tokens(token) + embedding.position_table(position)        # (batch, 1, dim)
            fresh = []
            for i, block in enumerate(_blocks(self.gpt)):
                x, key, value = cached_block_step(block, x, caches[2 * i], caches[2 * i + 1], position)
                fresh += [key, value]
            logits = self.gpt.get_layer("logits")(self.gpt.get_layer("final_norm")(x))
            return (logits[:, 0], *fresh)

    return DecodeStep(model)


class KVCacheDecoder:
    """Generation one position at a time, each block's keys and values kept in a cache of `context` slots.

    The step is one Keras model (the GPT's own layers, shared) that Keras compiles once; :meth:`logits` and
    :meth:`generate` call it once per position with the cache as NumPy arrays.
    """

    def __init__(self, model, bucket: int = 32):
        self.model, self.blocks, self.bucket = model, _blocks(model), bucket
        if not self.blocks:
            raise ValueError("the model has no TransformerBlock layers")
        embedding = model.get_layer("embedding")
        self.context = embedding.max_length
        heads = self.blocks[0].heads
        self.cache_shape = (self.context, heads, self.blocks[0].dim // heads)
        token, position = keras.Input((1,), dtype="int32"), keras.Input((1,), dtype="int32")
        caches = [keras.Input((None, *self.cache_shape[1:])) for _ in range(2 * len(self.blocks))]  # any slots
        outputs = _decode_step_layer(model)(token, position, *caches)
        self.step_model = keras.Model([token, position, *caches], list(outputs))

    def empty_cache(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, *self.cache_shape), np.float32) for _ in range(2 * len(self.blocks))]

    def step(self, tokens, position: int, cache):
        """Logits (batch, vocab) for `tokens` (batch,) at `position`, and the cache with this position stored.

        Only the slots up to `position`, rounded up to a multiple of `bucket` (few shapes, compiled once
        each), go into Keras; the step model returns only the new position's keys and values, and they are
        written into the cache's arrays here, so the cache never comes back out of Keras."""
        tokens = np.asarray(tokens, np.int32).reshape(-1, 1)
        where = np.full_like(tokens, position)
        slots = min(self.context, -(-(position + 1) // self.bucket) * self.bucket)
        logits, *fresh = self.step_model.predict_on_batch([tokens, where, *(c[:, :slots] for c in cache)])
        for stored, new in zip(cache, fresh):
            stored[:, position] = np.asarray(new)[:, 0]
        return np.asarray(logits), cache

    def logits(self, ids) -> np.ndarray:
        """(batch, length, vocab) logits of every position of `ids` (batch, length), one position at a time."""
        ids = np.atleast_2d(np.asarray(ids, np.int32))
        if ids.shape[1] > self.context:
            raise ValueError(f"{ids.shape[1]} positions do not fit the context of {self.context}")
        cache, out = self.empty_cache(len(ids)), []
        for t in range(ids.shape[1]):
            logits, cache = self.step(ids[:, t], t, cache)
            out.append(logits)
        return np.stack(out, axis=1)

    def generate(self, prompt, steps: int, pick) -> np.ndarray:
        """Extend `prompt` (batch, length ≤ context) ids by `steps` ids chosen by `pick(logits) -> ids`.

        When the cache is full, it is emptied and refilled with the last half-context of ids, so the text can
        be longer than the context (each id still sees at least half a context before it)."""
        ids = np.atleast_2d(np.asarray(prompt, np.int32))
        if not 1 <= ids.shape[1] <= self.context:
            raise ValueError(f"the prompt must hold 1 to {self.context} ids, got {ids.shape[1]}")
        target, start, filled, cache = ids.shape[1] + steps, 0, 0, self.empty_cache(len(ids))
        while ids.shape[1] < target:
            if ids.shape[1] - start > self.context:                  # full: restart from the last half-context
                start, filled, cache = ids.shape[1] - self.context // 2, 0, self.empty_cache(len(ids))
            while start + filled < ids.shape[1]:                     # feed the ids the cache has not seen
                logits, cache = self.step(ids[:, start + filled], filled, cache)
                filled += 1
            ids = np.concatenate([ids, np.asarray(pick(logits), np.int32).reshape(-1, 1)], axis=1)
        return ids


def recompute_generate(model, prompt, steps: int, pick, bucket: int = 32) -> np.ndarray:
    """The same generation without a cache: at every step run the model on the whole prefix (padded at the end
    to a multiple of `bucket` positions, so that only a few shapes are compiled; causal attention ignores the
    padding) and read the logits at its last position."""
    ids = np.atleast_2d(np.asarray(prompt, np.int32))
    context = model.get_layer("embedding").max_length
    if ids.shape[1] < 1 or ids.shape[1] + steps > context:
        raise ValueError(f"prompt + steps must fit the context of {context} (and the prompt be non-empty)")
    for _ in range(steps):
        length = ids.shape[1]
        padded = min(context, -(-length // bucket) * bucket)
        x = np.pad(ids, ((0, 0), (0, padded - length)))
        logits = np.asarray(model.predict_on_batch(x))[:, length - 1]
        ids = np.concatenate([ids, np.asarray(pick(logits), np.int32).reshape(-1, 1)], axis=1)
    return ids


# ---------------------------------------------------------------------------------------------
# Scaling
# ---------------------------------------------------------------------------------------------


def fit_power_law(x, y) -> tuple[float, float]:
    """Least-squares fit of y = a · x^b on log–log axes; returns ``(a, b)``. Needs ≥ 2 positive points."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("fit_power_law needs two arrays of the same length ≥ 2 with positive values")
    b, log_a = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(log_a)), float(b)


# ---------------------------------------------------------------------------------------------
# The trained model, cached for later chapters
# ---------------------------------------------------------------------------------------------


def shakespeare_gpt_path(mode: str | None = None) -> Path:
    """Where chapter 17's trained model of ``mode`` is cached: ``<cache>/models/shakespeare_gpt-<mode>.keras``."""
    return data.cache_dir() / "models" / f"shakespeare_gpt-{get_mode(mode)}.keras"


def save_shakespeare_gpt(model, *, mode: str | None = None) -> Path:
    """Save a trained model where :func:`shakespeare_gpt` finds it (written beside, then moved into place)."""
    return models.save_atomically(model, shakespeare_gpt_path(mode))


def shakespeare_gpt(*, mode: str | None = None, verbose: int = 0):
    """Chapter 17's character-level GPT trained on tiny Shakespeare, and its characters: ``(model, chars)``.

    Loaded from the cache, or trained with :data:`RECIPE` of ``mode`` (default: the run mode) and cached. Full
    mode trains for several minutes to tens of minutes on a laptop CPU; quick mode for seconds and is only good
    for tests. ``verbose`` is passed to ``fit`` when training is needed.
    """
    mode = get_mode(mode)
    chars = vocabulary()
    path = shakespeare_gpt_path(mode)
    if path.exists():
        return keras.models.load_model(path), chars
    recipe = RECIPE[mode]
    train_text, val_text = data.tiny_shakespeare_split()
    keras.utils.set_random_seed(recipe["seed"])
    model = gpt_model(len(chars), recipe["context"], recipe["dim"], recipe["blocks"], recipe["heads"],
                      name="shakespeare_gpt")
    validation = validation_windows(encode(val_text, chars), recipe["context"], limit=VALIDATION_WINDOWS)
    train_gpt(model, encode(train_text, chars), validation, recipe, verbose=verbose)
    save_shakespeare_gpt(model, mode=mode)
    return model, chars


VALIDATION_WINDOWS = 128
"""Validation windows scored after each epoch of training (the final loss is measured on the whole text)."""

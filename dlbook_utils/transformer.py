"""Transformer building blocks as reusable Keras layers (chapter 15; the GPT, fine-tuning and RLHF chapters reuse them).

* :func:`scaled_dot_product_attention` — softmax(q kᵀ / √d) v with an optional boolean mask, in ``keras.ops``.
* :func:`causal_mask` and :func:`padding_mask` — boolean masks (True = may attend) in the layout that
  ``keras.layers.MultiHeadAttention`` takes as ``attention_mask``.
* :func:`sinusoidal_positions` — the fixed sine/cosine position codes of Vaswani et al. (2017).
* :class:`PositionalEmbedding` — token embedding + position embedding (learned or sinusoidal); with
  ``mask_zero=True`` it passes a padding mask on to the layers after it.
* :class:`TransformerBlock` — multi-head self-attention and a feed-forward network, each with a residual
  connection and layer normalisation (post-LN as in the original paper, or pre-LN as in GPT-2); ``causal=True``
  makes it a decoder-only (GPT) block.
* :func:`mask_tokens` — BERT's masked-language-model corruption (15% of tokens; 80% → [MASK], 10% → random, 10% kept).

The layers are subclassed ``keras.layers.Layer`` with ``get_config`` and registered as serialisable, so a model
that uses them saves to a ``.keras`` file and loads back; they use only ``keras.ops`` and run on every backend::

    from dlbook_utils import transformer
    inputs = keras.Input((200,), dtype="int32")
    x = transformer.PositionalEmbedding(20_000, 200, 64, mask_zero=True)(inputs)
    x = transformer.TransformerBlock(64, heads=2, ff_dim=128)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling1D()(x))

A pre-LN stack (``norm="pre"``) leaves its output un-normalised: add a final ``LayerNormalization`` after the last
block, as GPT-2 does.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

__all__ = ["scaled_dot_product_attention", "causal_mask", "padding_mask", "sinusoidal_positions",
           "PositionalEmbedding", "TransformerBlock", "mask_tokens"]


def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q kᵀ / √d) v over the last two axes; returns ``(outputs, weights)``.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv). ``mask`` is boolean and broadcasts to (..., Tq, Tk):
    True where a query may attend to a key. A masked score is set to a large negative number before the softmax,
    so its weight is 0 (a row with every key masked gets uniform weights rather than NaN).
    """
    scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
    weights = ops.softmax(scores, axis=-1)
    return ops.matmul(weights, v), weights


def causal_mask(length):
    """(length, length) boolean mask, True on and below the diagonal: position i sees positions 0…i only."""
    positions = ops.arange(length)
    return ops.expand_dims(positions, 1) >= ops.expand_dims(positions, 0)


def padding_mask(token_ids, pad_id=0):
    """(batch, 1, length) boolean mask from (batch, length) ids: every query may attend to the real tokens only."""
    return ops.expand_dims(ops.not_equal(token_ids, pad_id), 1)


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """(length, dim) float32 position codes: P[p, 2i] = sin(p / 10000^(2i/dim)), P[p, 2i+1] = cos(same angle)."""
    if length < 1 or dim < 2 or dim % 2:
        raise ValueError(f"length must be positive and dim even and at least 2, got {length} and {dim}")
    angles = np.arange(length)[:, None] / 10000.0 ** (np.arange(0, dim, 2)[None, :] / dim)
    codes = np.empty((length, dim), dtype=np.float32)
    codes[:, 0::2], codes[:, 1::2] = np.sin(angles), np.cos(angles)
    return codes


@keras.saving.register_keras_serializable(package="dlbook")
class PositionalEmbedding(keras.layers.Layer):
    """Token embedding + position embedding, learned (``positions="learned"``) or fixed sine/cosine codes."""

    def __init__(self, vocab_size: int, max_length: int, dim: int, positions: str = "learned",
                 mask_zero: bool = False, **kwargs):
        super().__init__(**kwargs)
        if positions not in ("learned", "sinusoidal"):
            raise ValueError(f"positions is 'learned' or 'sinusoidal', got {positions!r}")
        self.vocab_size, self.max_length, self.dim = int(vocab_size), int(max_length), int(dim)
        self.positions, self.mask_zero = positions, bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.tokens = layers.Embedding(vocab_size, dim)
        self.position_table = layers.Embedding(max_length, dim, trainable=positions == "learned")

    def build(self, input_shape):
        self.tokens.build(input_shape)
        self.position_table.build((self.max_length,))
        if self.positions == "sinusoidal":                       # fixed codes instead of learned vectors
            self.position_table.set_weights([sinusoidal_positions(self.max_length, self.dim)])

    def call(self, token_ids):
        length = ops.shape(token_ids)[-1]
        return self.tokens(token_ids) + self.position_table(ops.arange(length))

    def compute_mask(self, token_ids, mask=None):
        return ops.not_equal(token_ids, 0) if self.mask_zero else None

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_length": self.max_length,
                "dim": self.dim, "positions": self.positions, "mask_zero": self.mask_zero}


@keras.saving.register_keras_serializable(package="dlbook")
class TransformerBlock(keras.layers.Layer):
    """Self-attention → add & LayerNorm → feed-forward → add & LayerNorm (``norm="post"``), or the pre-LN order
    x + f(LayerNorm(x)) for both sub-layers (``norm="pre"``). ``causal=True``: position i attends to 0…i only."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.1, norm: str = "post",
                 causal: bool = False, activation: str = "gelu", **kwargs):
        super().__init__(**kwargs)
        if dim % heads or norm not in ("pre", "post"):
            raise ValueError(f"dim must divide into heads and norm be 'pre' or 'post', got {dim}, {heads}, {norm!r}")
        self.dim, self.heads, self.ff_dim, self.dropout, self.norm = dim, heads, ff_dim, dropout, norm
        self.causal, self.activation, self.supports_masking = causal, activation, True
        self.attention = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout)
        self.ff = keras.Sequential([layers.Dense(ff_dim, activation=activation), layers.Dense(dim)])
        self.norm1, self.norm2 = layers.LayerNormalization(epsilon=1e-6), layers.LayerNormalization(epsilon=1e-6)
        self.drop1, self.drop2 = layers.Dropout(dropout), layers.Dropout(dropout)

    def build(self, input_shape):
        self.attention.build(input_shape, input_shape)
        for layer in (self.ff, self.norm1, self.norm2):
            layer.build(input_shape)

    def call(self, x, mask=None, training=None, return_attention_scores=False):
        allowed = None if mask is None else ops.expand_dims(ops.cast(mask, "bool"), 1)     # (B, 1, T): real keys
        if self.causal:
            future = causal_mask(ops.shape(x)[1])[None]                                   # (1, T, T)
            allowed = future if allowed is None else ops.logical_and(allowed, future)
        h = self.norm1(x) if self.norm == "pre" else x
        h, scores = self.attention(h, h, attention_mask=allowed, training=training, return_attention_scores=True)
        x = x + self.drop1(h, training=training)
        x = self.norm1(x) if self.norm == "post" else x
        h = self.ff(self.norm2(x) if self.norm == "pre" else x)
        x = x + self.drop2(h, training=training)
        x = self.norm2(x) if self.norm == "post" else x
        return (x, scores) if return_attention_scores else x

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads, "ff_dim": self.ff_dim,
                "dropout": self.dropout, "norm": self.norm, "causal": self.causal, "activation": self.activation}


def mask_tokens(ids, *, mask_id: int, vocab_size: int, rate: float = 0.15, seed=None, first_token: int = 2):
    """BERT's masked-LM corruption of (batch, length) ids; padding (id 0) is never chosen.

    Each real token is chosen with probability ``rate``; a chosen token becomes ``mask_id`` with probability 0.8,
    a random token in ``[first_token, vocab_size)`` with probability 0.1, and stays as it is otherwise. Returns
    ``(inputs, targets, weights)``: the corrupted ids, the original ids, and float32 weights that are 1 at the
    chosen positions and 0 elsewhere (the loss is computed there only).
    """
    ids = np.asarray(ids)
    rng = np.random.default_rng(seed)
    chosen = (rng.random(ids.shape) < rate) & (ids != 0)
    action = rng.random(ids.shape)
    inputs = ids.copy()
    inputs[chosen & (action < 0.8)] = mask_id
    randomised = chosen & (action >= 0.8) & (action < 0.9)
    inputs[randomised] = rng.integers(first_token, vocab_size, size=int(randomised.sum()))
    return inputs, ids.copy(), chosen.astype(np.float32)

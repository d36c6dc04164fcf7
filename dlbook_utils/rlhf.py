"""Reinforcement learning from human feedback on a small character GPT (chapter 21).

The pieces of the loop, each small enough to read on its own:

* :func:`to_vocabulary`, :func:`review_prompts` — review text in the 65 characters of chapter 17's GPT, and the
  short openings of reviews that the policy continues.
* :class:`SentimentAnnotator` with :func:`annotator_model` — the simulated person: a bag-of-words logistic
  regression on IMDB, whose score ``s`` makes it prefer text A over B with probability σ((s_A − s_B)/τ)
  (:func:`preference_probability`, :func:`simulate_preferences`).
* :func:`bradley_terry_loss` and :func:`reward_model` — the reward model: a copy of the GPT (:func:`body`) with a
  scalar head, trained so that σ(r_chosen − r_rejected) is the probability of the preference.
* :func:`token_log_probs`, :func:`response_log_probs`, :func:`kl_per_position` — log-probabilities of the tokens
  a policy chose and the KL divergence to the reference, position by position.
* :func:`shaped_rewards` — PPO's per-token reward: −β (log π − log π_ref) at every generated token, and the
  reward model's score added at the last one.
* :func:`policy_with_value_head`, :func:`ppo_targets`, :func:`ppo_loss` — the policy and its value head as one
  Keras model, the per-position targets of one PPO batch (GAE from :mod:`dlbook_utils.rl`) and the loss that
  ``compile`` takes.
* :func:`dpo_loss`, :func:`pair_log_prob_model` — direct preference optimisation on the same pairs.
* :func:`win_rate` — how often the annotator prefers one policy's responses to another's; and two crude measures
  of fluency, :func:`known_word_fraction` and :func:`distinct_word_fraction`.

Losses are written with ``keras.ops``, so they run inside compiled training steps on TensorFlow and JAX; the rest
is NumPy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops

from . import rl, text

__all__ = ["to_vocabulary", "review_prompts", "annotator_model", "SentimentAnnotator", "preference_probability",
           "simulate_preferences", "bradley_terry_loss", "body", "reward_model", "token_log_probs",
           "response_log_probs", "kl_per_position", "shaped_rewards", "policy_with_value_head", "ppo_targets",
           "ppo_loss", "dpo_loss", "pair_log_prob_model", "win_rate", "known_word_fraction", "distinct_word_fraction"]

_BREAK = re.compile(r"<br\s*/?>")
_SPACES = re.compile(r" {2,}")


def to_vocabulary(review: str, chars: str) -> str:
    """``review`` written in the characters ``chars``: HTML line breaks and every character outside ``chars``
    become spaces, and runs of spaces shrink to one."""
    if " " not in chars:
        raise ValueError("the vocabulary needs a space to stand in for the characters it lacks")
    known = set(chars)
    mapped = "".join(c if c in known else " " for c in _BREAK.sub(" ", review))
    return _SPACES.sub(" ", mapped).strip()


def review_prompts(reviews: Sequence[str], chars: str, length: int) -> list[str]:
    """The first ``length`` characters of each review (in ``chars``) that has that many, as prompts."""
    if length < 1:
        raise ValueError(f"a prompt holds at least one character, got length {length}")
    mapped = (to_vocabulary(r, chars) for r in reviews)
    return [m[:length] for m in mapped if len(m) >= length]


# ---------------------------------------------------------------------------------------------
# The simulated annotator
# ---------------------------------------------------------------------------------------------


def annotator_model(vocab_size: int, length: int) -> keras.Model:
    """Logistic regression on the *set* of words of a text: one weight per word, averaged over the distinct words
    present (ids > 0; 0 pads), plus a bias. Output: the logit of "positive"."""
    ids = keras.Input((length,), dtype="int32", name="word_ids")
    weights = layers.Embedding(vocab_size, 1, embeddings_initializer="zeros", name="word_weights")(ids)[..., 0]
    present = ops.cast(ops.greater(ids, 0), "float32")
    mean = ops.sum(weights * present, axis=1, keepdims=True) / ops.maximum(ops.sum(present, 1, keepdims=True), 1.0)
    return keras.Model(ids, layers.Dense(1, name="scale")(mean), name="annotator")


class SentimentAnnotator:
    """The simulated person who compares two texts: a sentiment score s (logit of "positive") from a bag-of-words
    logistic regression, and a preference for A over B drawn with probability σ((s_A − s_B)/τ).

    ``vocabulary`` is a :class:`dlbook_utils.text.Vocabulary`; ``model`` an :func:`annotator_model` built for it.
    :meth:`encode` turns texts into the model's input; after training, :meth:`score` computes s in NumPy from the
    model's weights (fast, and the same on every backend).
    """

    def __init__(self, vocabulary: text.Vocabulary, length: int = 256, temperature: float = 1.0):
        if temperature <= 0:
            raise ValueError(f"the annotator's temperature τ must be positive, got {temperature}")
        self.vocabulary, self.length, self.temperature = vocabulary, length, temperature
        self.model = annotator_model(len(vocabulary), length)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, length) ids of the distinct known words of each text, in order of first appearance, 0-padded."""
        rows = []
        for t in texts:
            ids = self.vocabulary.encode(text.tokenize(t))
            rows.append(list(dict.fromkeys(int(i) for i in ids if i > 1)))
        return text.pad(rows, self.length)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """The sentiment logit s of each text (0 for a text without a known word: no evidence either way)."""
        table = np.asarray(self.model.get_layer("word_weights").get_weights()[0])[:, 0]
        kernel, bias = (np.asarray(w).reshape(-1) for w in self.model.get_layer("scale").get_weights())
        ids = self.encode(texts)
        present = ids > 0
        mean = (table[ids] * present).sum(1) / np.maximum(present.sum(1), 1)
        return np.where(present.any(1), kernel[0] * mean + bias[0], 0.0)

    def prefer(self, texts_a: Sequence[str], texts_b: Sequence[str], rng: np.random.Generator) -> np.ndarray:
        """One noisy judgement per pair: True where A is preferred to B."""
        return simulate_preferences(self.score(texts_a), self.score(texts_b), self.temperature, rng)


def preference_probability(score_a, score_b, temperature: float = 1.0) -> np.ndarray:
    """P(A preferred to B) = σ((s_A − s_B)/τ): the Bradley–Terry model with temperature τ."""
    if temperature <= 0:
        raise ValueError(f"the temperature τ must be positive, got {temperature}")
    diff = (np.asarray(score_a, np.float64) - np.asarray(score_b, np.float64)) / temperature
    return 0.5 * (1.0 + np.tanh(0.5 * diff))                              # σ(x), without overflow


def simulate_preferences(score_a, score_b, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Draw one judgement per pair from :func:`preference_probability`: True where A is preferred."""
    p = preference_probability(score_a, score_b, temperature)
    return rng.random(p.shape) < p


def win_rate(score_tuned, score_base, temperature: float, rng: np.random.Generator) -> tuple[float, float]:
    """How often the annotator prefers the tuned response to the base one for the same prompt: the fraction of
    drawn judgements, and its expectation (the mean preference probability)."""
    p = preference_probability(score_tuned, score_base, temperature)
    return float(np.mean(rng.random(p.shape) < p)), float(np.mean(p))


def known_word_fraction(texts: Sequence[str], vocabulary: text.Vocabulary) -> float:
    """The fraction of the words of ``texts`` that are in ``vocabulary`` (a crude measure of real English)."""
    words = [w for t in texts for w in text.tokenize(t)]
    return float(np.mean([w in vocabulary for w in words])) if words else 0.0


def distinct_word_fraction(texts: Sequence[str]) -> float:
    """The mean, over the texts that have words, of the fraction of their words that are distinct (1 for text that
    never repeats a word, small for text that says the same word again and again)."""
    fractions = [len(set(words)) / len(words) for words in (text.tokenize(t) for t in texts) if words]
    return float(np.mean(fractions)) if fractions else 0.0


# ---------------------------------------------------------------------------------------------
# Reward model
# ---------------------------------------------------------------------------------------------


def bradley_terry_loss(r_chosen, r_rejected):
    """−log σ(r_chosen − r_rejected), averaged over pairs: the negative log-likelihood of the preferences under
    the Bradley–Terry model. Written as softplus(r_rejected − r_chosen), which does not overflow."""
    return ops.mean(ops.softplus(r_rejected - r_chosen))


def body(gpt: keras.Model, name: str, logits: bool = True) -> keras.Model:
    """A copy of a GPT (new weights, equal to the GPT's now; it shares nothing with ``gpt``) that outputs its last
    hidden states (after the final LayerNorm) and, with ``logits``, its logits: ``ids → [hidden, logits]``."""
    copy = keras.models.clone_model(gpt)
    copy.set_weights(gpt.get_weights())
    hidden = copy.get_layer("final_norm").output
    return keras.Model(copy.input, [hidden, copy.output] if logits else hidden, name=name)


def reward_model(gpt: keras.Model, prompt_length: int, name: str = "reward_model") -> keras.Model:
    """A copy of ``gpt`` with a scalar head: ids (batch, length) → reward (batch,), a Dense layer on the mean of
    the hidden states of the response (the positions from ``prompt_length`` on). The language-model head goes."""
    if prompt_length < 1:
        raise ValueError(f"the prompt holds at least one id, got {prompt_length}")
    trunk = body(gpt, f"{name}_gpt", logits=False)
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    response = ops.mean(trunk(ids)[:, prompt_length:], axis=1)
    return keras.Model(ids, layers.Dense(1, name="reward_head")(response)[:, 0], name=name)


# ---------------------------------------------------------------------------------------------
# Log-probabilities and the KL penalty
# ---------------------------------------------------------------------------------------------


def token_log_probs(logits, ids):
    """log π(ids[:, t+1] | ids[:, :t+1]) for every t: the log-probability of each next token, from the logits of
    the positions before it. logits: (batch, T, vocab) computed on ids[:, :T]; ids: (batch, T + 1). Returns
    (batch, T). Works on NumPy arrays and on tensors (``keras.ops``)."""
    return rl.log_prob(logits, ids[:, 1:])


def response_log_probs(logits, ids, prompt_length: int):
    """The log-probability of each sequence's response (the ids after the first ``prompt_length``), summed over
    its tokens: (batch,). Arguments as in :func:`token_log_probs`."""
    if prompt_length < 1:
        raise ValueError(f"the prompt holds at least one id, got {prompt_length}")
    return ops.sum(token_log_probs(logits, ids)[:, prompt_length - 1:], axis=1)


def kl_per_position(logits, ref_logits) -> np.ndarray:
    """KL(π ‖ π_ref) = Σ_v π(v) (log π(v) − log π_ref(v)) at every position, from the two models' logits
    (..., vocab) → (...). Exact over the vocabulary, so never negative (NumPy)."""
    log_p = _log_softmax(np.asarray(logits, np.float64))
    log_q = _log_softmax(np.asarray(ref_logits, np.float64))
    return np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def shaped_rewards(scores, log_probs, ref_log_probs, beta: float) -> np.ndarray:
    """PPO's reward for each generated token: −β (log π(a_t) − log π_ref(a_t)), plus the reward model's score of
    the whole response at the last token.

    scores: (batch,); log_probs, ref_log_probs: (batch, response length), of the tokens the policy chose, under
    the policy that chose them and under the reference. Summed over a response, the penalty is β times an estimate
    of KL(π ‖ π_ref) for that response, so the total is score − β · KL.
    """
    if beta < 0:
        raise ValueError(f"the KL coefficient β is ≥ 0, got {beta}")
    log_probs, ref_log_probs = np.asarray(log_probs, np.float64), np.asarray(ref_log_probs, np.float64)
    scores = np.asarray(scores, np.float64)
    if log_probs.ndim != 2 or log_probs.shape != ref_log_probs.shape or scores.shape != log_probs.shape[:1]:
        raise ValueError(f"scores (batch,) and log-probabilities (batch, tokens) needed; got {scores.shape}, "
                         f"{log_probs.shape} and {ref_log_probs.shape}")
    rewards = -beta * (log_probs - ref_log_probs)
    rewards[:, -1] += scores
    return rewards


# ---------------------------------------------------------------------------------------------
# PPO for a language model
# ---------------------------------------------------------------------------------------------


def policy_with_value_head(gpt: keras.Model, name: str = "policy") -> tuple[keras.Model, keras.Model]:
    """A trainable copy of ``gpt`` and, on top of it, the model PPO trains: ids (batch, T) → (batch, T, vocab + 1),
    the copy's logits with a value estimate V(s_t) (a Dense layer on the hidden state) as the last column.

    Returns ``(policy_gpt, actor_critic)``; they share their layers, so training ``actor_critic`` changes the
    ``policy_gpt`` that generates text (for example through a :class:`dlbook_utils.gpt.KVCacheDecoder`)."""
    trunk = body(gpt, f"{name}_trunk")
    policy_gpt = keras.Model(trunk.input, trunk.outputs[1], name=name)
    value = layers.Dense(1, kernel_initializer="zeros", name=f"{name}_value_head")(trunk.outputs[0])
    actor_critic = keras.Model(trunk.input, ops.concatenate([trunk.outputs[1], value], axis=-1),
                               name=f"{name}_actor_critic")
    return policy_gpt, actor_critic


def ppo_targets(ids, log_probs, values, rewards, prompt_length: int, gamma: float = 1.0, lam: float = 0.95,
                normalise: bool = True) -> np.ndarray:
    """The per-position training targets of one PPO batch, as the (batch, T, 5) array ``y`` that :func:`ppo_loss`
    reads: the token chosen, its log-probability under the policy that chose it, the advantage, the value target
    (advantage + value) and a mask that is 1 on the response.

    ids: (batch, T + 1) prompt and response; log_probs, values: (batch, T), from the actor-critic on ids[:, :T]
    (position t predicts token t + 1 and values the state that precedes it); rewards: (batch, response length),
    from :func:`shaped_rewards`. Advantages are GAE over the response (``rl.gae``; the episode ends with the last
    token) and, with ``normalise``, whitened over the batch's response tokens.
    """
    ids, log_probs, values = np.asarray(ids), np.asarray(log_probs, np.float64), np.asarray(values, np.float64)
    batch, steps = log_probs.shape
    start = prompt_length - 1                                          # the position that predicts the first token
    rewards = np.asarray(rewards, np.float64)
    if ids.shape != (batch, steps + 1) or values.shape != (batch, steps) or rewards.shape != (batch, steps - start):
        raise ValueError(f"shapes do not fit: ids {ids.shape}, log_probs {log_probs.shape}, values {values.shape}, "
                         f"rewards {rewards.shape} with a prompt of {prompt_length}")
    v = values[:, start:]
    next_v = np.concatenate([v[:, 1:], np.zeros((batch, 1))], axis=1)
    done = np.zeros_like(v)
    done[:, -1] = 1.0                                                  # the response ends: nothing comes after it
    advantages = rl.gae(rewards, v, next_v, done, gamma=gamma, lam=lam, axis=1)
    returns = advantages + v
    if normalise:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    y = np.zeros((batch, steps, 5), np.float32)
    y[..., 0], y[..., 1] = ids[:, 1:], log_probs
    y[:, start:, 2], y[:, start:, 3], y[:, start:, 4] = advantages, returns, 1.0
    return y


def ppo_loss(clip: float = 0.2, value_coef: float = 0.5):
    """The loss to ``compile`` an actor-critic from :func:`policy_with_value_head` with: PPO's clipped surrogate
    (``rl.clipped_policy_loss``) plus ``value_coef`` times the value loss (``rl.value_loss``), both over the
    response tokens only. ``y`` comes from :func:`ppo_targets`."""
    def loss(y, outputs):
        logits, values = outputs[..., :-1], outputs[..., -1]
        actions, old_log_probs, advantages, returns, mask = (y[..., k] for k in range(5))
        policy = rl.clipped_policy_loss(rl.log_prob(logits, actions), old_log_probs, advantages, clip, mask)
        return policy + value_coef * rl.value_loss(values, returns, mask)
    return loss


# ---------------------------------------------------------------------------------------------
# DPO
# ---------------------------------------------------------------------------------------------


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float = 0.1):
    """Direct preference optimisation (Rafailov et al., 2023): −log σ(β [(log π(y_c) − log π_ref(y_c)) −
    (log π(y_r) − log π_ref(y_r))]), averaged over pairs. Arguments are the summed log-probabilities of the
    chosen and rejected responses under the policy and under the frozen reference."""
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return ops.mean(ops.softplus(-beta * margin))


def pair_log_prob_model(policy_gpt: keras.Model, prompt_length: int) -> keras.Model:
    """(chosen ids, rejected ids), each (batch, T + 1) → (batch, 2): the summed log-probabilities of the two
    responses under ``policy_gpt`` (whose weights it shares), for training with :func:`dpo_loss`."""
    chosen = keras.Input((None,), dtype="int32", name="chosen")
    rejected = keras.Input((None,), dtype="int32", name="rejected")
    scores = [response_log_probs(policy_gpt(ids[:, :-1]), ids, prompt_length) for ids in (chosen, rejected)]
    return keras.Model([chosen, rejected], ops.stack(scores, axis=1), name="pair_log_probs")

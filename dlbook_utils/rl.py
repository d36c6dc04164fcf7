"""Reinforcement learning: the pieces chapter 20 teaches and chapter 21 applies to a language model.

Nothing here is specific to CartPole. The estimators take plain arrays with time along the first axis (or along
``axis``), so the same code serves a batch of environments, ``(steps, envs)``, and a batch of generated token
sequences, ``(tokens, sequences)``; the losses take tensors and are written with ``keras.ops``, so they run inside
a training step on every Keras backend.

* :func:`discounted_returns` — G_t = r_t + gamma G_{t+1}, restarted where an episode ends.
* :func:`gae` — generalised advantage estimation (Schulman et al., 2016), with terminations (no bootstrap) and
  truncations (bootstrap from the value of the state the episode was cut at) kept apart.
* :func:`log_prob`, :func:`entropy` — of a categorical policy given its logits.
* :func:`clipped_policy_loss`, :func:`value_loss` — PPO's clipped surrogate objective (Schulman et al., 2017) and
  the critic's squared error, both with an optional mask (for padded sequences).
* :class:`ReplayBuffer` — a fixed-size ring buffer of transitions for DQN.
* :func:`numpy_forward` — a NumPy copy of a small Keras MLP's forward pass, for acting one step at a time cheaply.
* :func:`learning_curve` — training returns against environment steps, smoothed, on a common grid (for seeds).
* :func:`evaluate` — the mean return of a policy over episodes with fixed seeds (needs Gymnasium).

Typical PPO update (chapter 20)::

    advantages = rl.gae(rewards, values, next_values, terminated, truncated, gamma=0.99, lam=0.95)
    returns = advantages + values                       # the critic's targets
    loss = (rl.clipped_policy_loss(rl.log_prob(logits, actions), old_log_probs, advantages, clip=0.2)
            + 0.5 * rl.value_loss(new_values, returns) - 0.01 * ops.mean(rl.entropy(logits)))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from keras import ops

__all__ = [
    "discounted_returns",
    "gae",
    "log_prob",
    "entropy",
    "clipped_policy_loss",
    "value_loss",
    "ReplayBuffer",
    "numpy_forward",
    "learning_curve",
    "evaluate",
    "require_gymnasium",
]


def discounted_returns(rewards, gamma: float, dones=None, last_value=0.0, axis: int = 0) -> np.ndarray:
    """The return from every step on, G_t = r_t + gamma (1 - done_t) G_{t+1}, where G_T is `last_value`.

    `rewards` has time along `axis` (other axes hold independent sequences); `dones` (same shape, or None) is 1
    where an episode ends with that step, so no reward flows back across it; `last_value` (broadcast to one time
    slice) values what follows the last step: 0 for finished episodes, a critic's estimate for cut ones.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma is between 0 and 1, got {gamma}")
    r = np.moveaxis(np.asarray(rewards, dtype=np.float64), axis, 0)                  # time first
    d = np.zeros_like(r) if dones is None else np.moveaxis(np.asarray(dones, dtype=np.float64), axis, 0)
    if d.shape != r.shape:
        raise ValueError(f"dones have shape {d.shape} with time first, rewards {r.shape}")
    returns = np.zeros_like(r)
    running = np.broadcast_to(np.asarray(last_value, dtype=np.float64), r.shape[1:]).copy()
    for t in reversed(range(len(r))):                                                  # from the last step back
        running = r[t] + gamma * (1.0 - d[t]) * running
        returns[t] = running
    return np.moveaxis(returns, 0, axis)


def gae(rewards, values, next_values, terminated, truncated=None, gamma: float = 0.99, lam: float = 0.95,
        axis: int = 0) -> np.ndarray:
    """Generalised advantage estimates: A_t = delta_t + gamma lam (1 - done_t) A_{t+1}, from the last step back.

    `values[t]` is the critic's V(s_t), `next_values[t]` its V(s_{t+1}) for the state step t led to (at the end
    of an episode: the state it ended in, before any reset). `terminated[t]` is 1 if s_{t+1} is terminal (its
    value counts as 0); `truncated[t]` is 1 if the episode was cut there (a time limit, or the end of the batch):
    s_{t+1} keeps its value, but the sum stops. delta_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t).
    All arrays have the shape of `rewards`, time along `axis`. The critic's targets are advantages + values.
    """
    if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0):
        raise ValueError(f"gamma and lam are between 0 and 1, got {gamma} and {lam}")
    if truncated is None:
        truncated = np.zeros_like(np.asarray(rewards, dtype=np.float64))
    r, v, v_next, term, trunc = (np.moveaxis(np.asarray(a, dtype=np.float64), axis, 0)
                                 for a in (rewards, values, next_values, terminated, truncated))
    if any(a.shape != r.shape for a in (v, v_next, term, trunc)):
        raise ValueError(f"values, next_values, terminated and truncated need the shape of rewards, {r.shape}")
    deltas = r + gamma * (1.0 - term) * v_next - v
    keep = 1.0 - np.maximum(term, trunc)                 # 0 where an episode ends: the sum stops there
    advantages, running = np.zeros_like(r), np.zeros_like(r[0])
    for t in reversed(range(len(r))):
        running = deltas[t] + gamma * lam * keep[t] * running
        advantages[t] = running
    return np.moveaxis(advantages, 0, axis)


def log_prob(logits, actions):
    """log pi(a | s) of integer `actions` under a categorical policy with `logits` (..., number of actions)."""
    log_p = ops.log_softmax(logits, axis=-1)
    picked = ops.take_along_axis(log_p, ops.expand_dims(ops.cast(actions, "int32"), -1), axis=-1)
    return ops.squeeze(picked, -1)


def entropy(logits):
    """The entropy -sum_a pi(a) log pi(a) of a categorical policy, one value per row of `logits`."""
    log_p = ops.log_softmax(logits, axis=-1)
    return -ops.sum(ops.exp(log_p) * log_p, axis=-1)


def clipped_policy_loss(log_probs, old_log_probs, advantages, clip: float = 0.2, mask=None):
    """PPO's clipped surrogate objective, negated to be minimised: the mean of -min(r A, clip(r, 1-eps, 1+eps) A).

    r = pi_new(a|s) / pi_old(a|s) = exp(log_probs - old_log_probs). The smaller of the two terms removes any gain
    from moving r beyond [1 - clip, 1 + clip] in the direction the advantage A favours. With a `mask` (1 at the
    positions that count, e.g. the generated tokens of padded sequences) the mean is over those positions.
    """
    ratio = ops.exp(log_probs - old_log_probs)
    clipped = ops.clip(ratio, 1.0 - clip, 1.0 + clip)
    objective = ops.minimum(ratio * advantages, clipped * advantages)
    if mask is None:
        return -ops.mean(objective)
    mask = ops.cast(mask, objective.dtype)
    return -ops.sum(objective * mask) / ops.maximum(ops.sum(mask), 1.0)


def value_loss(values, returns, mask=None):
    """The critic's loss: half the squared error between its `values` and the `returns` it targets, averaged
    (over the positions where `mask` is 1, if given)."""
    error = 0.5 * ops.square(values - returns)
    if mask is None:
        return ops.mean(error)
    mask = ops.cast(mask, error.dtype)
    return ops.sum(error * mask) / ops.maximum(ops.sum(mask), 1.0)


class ReplayBuffer:
    """The last ``capacity`` transitions $(s, a, r, s', \\text{terminated})$, sampled uniformly for DQN.

    ``add`` takes one transition or a batch of them (leading axis: one per environment); when the buffer is full
    the oldest are overwritten. ``sample(n, rng)`` returns a dict of arrays with ``n`` rows.
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype: str = "float32") -> None:
        if capacity < 1:
            raise ValueError(f"capacity is a positive number of transitions, got {capacity}")
        self.capacity, self.size, self.next = int(capacity), 0, 0
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)

    def __len__(self) -> int:
        return self.size

    def add(self, obs, actions, rewards, next_obs, terminated) -> None:
        obs = np.asarray(obs, dtype=self.obs.dtype)
        batched = obs.ndim == self.obs.ndim
        obs = obs if batched else obs[None]
        if len(obs) > self.capacity:
            raise ValueError(f"{len(obs)} transitions at once do not fit in a buffer of {self.capacity}")
        rows = (np.arange(len(obs)) + self.next) % self.capacity
        self.obs[rows] = obs
        self.next_obs[rows] = np.asarray(next_obs, dtype=self.obs.dtype).reshape(obs.shape)
        self.actions[rows] = np.ravel(actions)
        self.rewards[rows] = np.ravel(rewards)
        self.terminated[rows] = np.ravel(terminated)
        self.next = int((self.next + len(obs)) % self.capacity)
        self.size = min(self.size + len(obs), self.capacity)

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if self.size == 0:
            raise ValueError("the replay buffer is empty")
        rows = rng.integers(0, self.size, size=n)
        return {"obs": self.obs[rows], "actions": self.actions[rows], "rewards": self.rewards[rows],
                "next_obs": self.next_obs[rows], "terminated": self.terminated[rows]}


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x, "relu": lambda x: np.maximum(x, 0.0), "tanh": np.tanh}


def numpy_forward(dense_layers) -> Callable[[np.ndarray], np.ndarray]:
    """A NumPy function computing what a stack of Keras ``Dense`` layers computes, with their current weights.

    Calling a Keras model on one observation costs about a millisecond of framework overhead; a NumPy forward
    pass through a few small layers costs microseconds. The weights are copied now, so call this again after
    training (this copy is also how DQN keeps its frozen target network). Activations: linear, relu, tanh.
    """
    weights = []
    for layer in dense_layers:
        name = getattr(layer.activation, "__name__", str(layer.activation))
        if name not in _ACTIVATIONS or not hasattr(layer, "kernel"):
            raise ValueError(f"numpy_forward takes built Dense layers with activations {sorted(_ACTIVATIONS)}; "
                             f"{layer.name} has {name}")
        kernel, *rest = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
        bias = rest[0] if rest else np.zeros(kernel.shape[-1], dtype=np.float32)       # use_bias=False
        weights.append((kernel, bias, _ACTIVATIONS[name]))

    def forward(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        for kernel, bias, activation in weights:
            x = activation(x @ kernel + bias)
        return x

    return forward


def learning_curve(episode_ends, episode_returns, grid, window: int = 20) -> np.ndarray:
    """At each step count in ``grid``, the mean return of the last ``window`` episodes finished by then.

    ``episode_ends`` are the environment steps at which episodes finished (in increasing order) and
    ``episode_returns`` their returns. Runs with different seeds finish episodes at different steps; on a common
    ``grid`` their curves can be averaged. NaN before the first episode ends.
    """
    ends, returns = np.asarray(episode_ends, dtype=float), np.asarray(episode_returns, dtype=float)
    if ends.shape != returns.shape or ends.ndim != 1:
        raise ValueError(f"one end step per return: got shapes {ends.shape} and {returns.shape}")
    if window < 1:
        raise ValueError(f"window is a positive number of episodes, got {window}")
    finished = np.searchsorted(ends, np.asarray(grid, dtype=float), side="right")
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    first = np.maximum(finished - window, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finished > 0, (cumulative[finished] - cumulative[first]) / (finished - first), np.nan)


def require_gymnasium():
    """Import Gymnasium, or fail with a message that says how to install it."""
    try:
        import gymnasium
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("This chapter simulates its environments with Gymnasium, which is not installed. "
                          "Install it with `pip install gymnasium` (or `pip install dlbook-utils[rl]`).") from error
    return gymnasium


def evaluate(policy: Callable[[np.ndarray], np.ndarray], env_id: str = "CartPole-v1", episodes: int = 100,
             seed: int = 10_000, max_steps: int | None = None) -> np.ndarray:
    """The return of each of ``episodes`` episodes of ``policy`` (a batch of observations → a batch of actions).

    All episodes run side by side in a vector environment; episode ``i`` starts from the reset seeded with
    ``seed + i``, so every policy meets the same starting states. Only each environment's first episode counts.
    Give a greedy policy (argmax) to measure what was learned rather than the luck of exploration.
    """
    gym = require_gymnasium()
    if episodes < 1:
        raise ValueError(f"episodes is a positive number, got {episodes}")
    envs = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="sync")
    try:
        obs, _ = envs.reset(seed=seed)
        limit = max_steps or envs.spec.max_episode_steps or 10_000
        returns, running = np.zeros(episodes), np.ones(episodes, dtype=bool)
        for _ in range(limit):
            obs, rewards, terminated, truncated, _ = envs.step(np.asarray(policy(obs)))
            returns += rewards * running
            running &= ~(terminated | truncated)
            if not running.any():
                break
    finally:
        envs.close()
    return returns

"""Checkers for chapter 20, Deep reinforcement learning.

* 20.1 ``returns(rewards, gamma, dones)``: discounted returns of a 1-D sequence of rewards, restarted where an
  episode ends.
* 20.2 ``advantages(rewards, values, next_values, terminated, truncated, gamma, lam)``: generalised advantage
  estimates for 1-D arrays, with terminations and truncations kept apart.
* 20.3 ``ppo_loss(log_probs, old_log_probs, advantages, clip)``: PPO's clipped surrogate loss in NumPy.

Each checker draws its own inputs and compares with a reference computed here; before saying "off" it tries the
usual mistakes, so that its message says which one was made without giving the numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect_callable, expect_close, expect_number, register

# ---------------------------------------------------------------------------------------------
# 20.1 Discounted returns
# ---------------------------------------------------------------------------------------------


def _returns(rewards, gamma, dones):
    out, running = np.zeros(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * (1.0 - dones[t]) * running
        out[t] = running
    return out


def _returns_forward(rewards, gamma, dones):            # discounts the past instead of the future
    out, running = np.zeros(len(rewards)), 0.0
    for t in range(len(rewards)):
        running = rewards[t] + gamma * running
        out[t] = running
        if dones[t]:
            running = 0.0
    return out


def _returns_from_start(rewards, gamma, dones):          # gamma ** t counted from the start of the array
    powers = gamma ** np.arange(len(rewards))
    return np.array([np.sum(rewards[t:] * powers[t:]) for t in range(len(rewards))])


def _one_array(result: Any, what: str, n: int) -> np.ndarray:
    if result is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    arr = as_array(result, what)
    if arr.shape != (n,):
        raise Feedback(f"{what} has shape {arr.shape}; it should have one value per step, shape ({n},)")
    return arr


@register("20.1", "discounted returns", written_by_learner=("dlbook_utils.rl:discounted_returns",))
def check_returns(returns: Any) -> None:
    expect_callable(returns, "returns")
    rng = np.random.default_rng(201)
    cases = [(np.array([1.0, 1.0, 1.0]), 0.5, np.zeros(3)), (rng.normal(size=12), 0.9, np.zeros(12)),
             (rng.normal(size=15), 0.8, (rng.random(15) < 0.25).astype(float)),
             (np.ones(10), 0.99, np.array([0, 0, 1, 0, 0, 0, 1, 0, 0, 0.0])), (rng.normal(size=6), 1.0, np.zeros(6))]
    for rewards, gamma, dones in cases:
        what = f"returns(rewards, gamma={gamma}, dones) for {len(rewards)} steps"
        copies = rewards.copy(), dones.copy()
        got = _one_array(returns(rewards, gamma, dones), what, len(rewards))
        if not (np.array_equal(rewards, copies[0]) and np.array_equal(dones, copies[1])):
            raise Feedback("returns changed its inputs in place; write the returns into a new array")
        ref = _returns(rewards, gamma, dones)
        if np.allclose(got, ref, atol=1e-8):
            continue
        if np.allclose(got, _returns(rewards, gamma, np.zeros_like(dones)), atol=1e-8):
            raise Feedback(f"{what}: rewards flow back across the end of an episode; where dones[t] is 1 the "
                           "return of step t stops at r_t")
        if np.allclose(got, _returns_forward(rewards, gamma, dones), atol=1e-8):
            raise Feedback(f"{what}: the sum runs the wrong way; G_t collects the rewards of step t and the steps "
                           "after it, so compute it from the last step backwards")
        if np.allclose(got, _returns_from_start(rewards, gamma, dones), atol=1e-8):
            raise Feedback(f"{what}: the discount counts from the start of the array; in G_t the reward of step "
                           "t is not discounted, the one after it once, and so on")
        if np.allclose(got, _returns(rewards, 1.0, dones), atol=1e-8) and gamma != 1.0:
            raise Feedback(f"{what}: the rewards are not discounted")
        expect_close(got, ref, what, atol=1e-8, hint="G_t = r_t + gamma (1 - done_t) G_{t+1}, with G after the "
                     "last step equal to 0")


# ---------------------------------------------------------------------------------------------
# 20.2 Generalised advantage estimation
# ---------------------------------------------------------------------------------------------


def _gae(rewards, values, next_values, terminated, truncated, gamma, lam, *, bootstrap_terminal=False,
         stop_at=("terminated", "truncated"), bootstrap_truncated=True):
    term_boot = np.zeros_like(terminated) if bootstrap_terminal else terminated
    if not bootstrap_truncated:
        term_boot = np.maximum(term_boot, truncated)
    deltas = rewards + gamma * (1.0 - term_boot) * next_values - values
    stops = np.zeros_like(rewards)
    if "terminated" in stop_at:
        stops = np.maximum(stops, terminated)
    if "truncated" in stop_at:
        stops = np.maximum(stops, truncated)
    out, running = np.zeros(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        running = deltas[t] + gamma * lam * (1.0 - stops[t]) * running
        out[t] = running
    return out


@register("20.2", "generalised advantage estimation", written_by_learner=("dlbook_utils.rl:gae",))
def check_advantages(advantages: Any) -> None:
    expect_callable(advantages, "advantages")
    rng = np.random.default_rng(202)
    for n, gamma, lam in [(5, 0.9, 0.8), (20, 0.99, 0.95), (12, 0.95, 0.0), (16, 0.9, 1.0), (30, 0.97, 0.9)]:
        rewards, values, next_values = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
        terminated = (rng.random(n) < 0.15).astype(float)
        truncated = ((rng.random(n) < 0.15) & (terminated == 0)).astype(float)
        terminated[n // 3] = 1.0                                    # at least one ending of each kind
        truncated[n // 3] = 0.0
        truncated[2 * n // 3] = 1.0 - terminated[2 * n // 3]
        truncated[-1] = 1.0 - terminated[-1]                       # the batch ends: the last step is cut
        what = f"advantages(...) for {n} steps with gamma={gamma}, lam={lam}"
        arrays = (rewards, values, next_values, terminated, truncated)
        copies = [a.copy() for a in arrays]
        got = _one_array(advantages(*arrays, gamma, lam), what, n)
        if not all(np.array_equal(a, b) for a, b in zip(arrays, copies)):
            raise Feedback("advantages changed its inputs in place; write the advantages into a new array")
        ref = _gae(*arrays, gamma, lam)
        if np.allclose(got, ref, atol=1e-8):
            continue
        mistakes = [
            (dict(bootstrap_terminal=True), "a terminal step still adds gamma V(s_{t+1}); after termination "
             "there is nothing more to collect, so the next value counts as 0 there"),
            (dict(bootstrap_truncated=False), "a truncated step is treated as terminal; the episode was only cut, "
             "so its delta keeps gamma V(s_{t+1}) — only the sum over later steps stops"),
            (dict(stop_at=()), "the sum runs on across the end of an episode; multiply the running sum by "
             "(1 - done) where done is terminated or truncated"),
            (dict(stop_at=("terminated",)), "the sum runs on across a truncation; where an episode is cut the "
             "advantage of the next step belongs to another episode"),
        ]
        for kwargs, message in mistakes:
            if np.allclose(got, _gae(*arrays, gamma, lam, **kwargs), atol=1e-8):
                raise Feedback(f"{what}: {message}")
        if lam not in (0.0,) and np.allclose(got, _gae(*arrays, gamma, 1.0), atol=1e-8):
            raise Feedback(f"{what}: lam is not used; the sum of deltas decays by gamma * lam per step")
        if np.allclose(got, _gae(*arrays, gamma, 0.0), atol=1e-8):
            raise Feedback(f"{what}: these are the one-step errors delta_t; the advantage adds the later deltas, "
                           "each discounted by gamma * lam per step")
        expect_close(got, ref, what, atol=1e-8,
                     hint="A_t = delta_t + gamma lam (1 - done_t) A_{t+1}, computed from the last step backwards")


# ---------------------------------------------------------------------------------------------
# 20.3 The clipped surrogate loss
# ---------------------------------------------------------------------------------------------


def _ppo(log_probs, old, adv, clip, *, how="min"):
    ratio = np.exp(log_probs - old)
    clipped = np.clip(ratio, 1 - clip, 1 + clip)
    if how == "min":
        return -np.mean(np.minimum(ratio * adv, clipped * adv))
    if how == "max":
        return -np.mean(np.maximum(ratio * adv, clipped * adv))
    if how == "clipped only":
        return -np.mean(clipped * adv)
    if how == "unclipped":
        return -np.mean(ratio * adv)
    if how == "no sign":
        return np.mean(np.minimum(ratio * adv, clipped * adv))
    if how == "log ratio":
        lr = log_probs - old
        return -np.mean(np.minimum(lr * adv, np.clip(lr, -clip, clip) * adv))
    raise ValueError(how)


@register("20.3", "PPO's clipped surrogate loss", written_by_learner=("dlbook_utils.rl:clipped_policy_loss",))
def check_ppo_loss(ppo_loss: Any) -> None:
    expect_callable(ppo_loss, "ppo_loss")
    rng = np.random.default_rng(203)
    for n, clip in [(6, 0.2), (50, 0.2), (40, 0.1), (64, 0.3)]:
        old = np.log(rng.uniform(0.05, 0.95, size=n))
        log_probs = old + rng.normal(scale=0.4, size=n)              # ratios both inside and outside the range
        adv = rng.normal(size=n)
        what = f"ppo_loss(...) on {n} actions with clip={clip}"
        copies = [a.copy() for a in (log_probs, old, adv)]
        got = expect_number(ppo_loss(log_probs, old, adv, clip), what)
        if not all(np.array_equal(a, b) for a, b in zip((log_probs, old, adv), copies)):
            raise Feedback("ppo_loss changed its inputs in place")
        ref = _ppo(log_probs, old, adv, clip)
        if np.isclose(got, ref, atol=1e-8):
            continue
        messages = {
            "no sign": "the sign is flipped: the surrogate objective is to be maximised, so the loss is its negative",
            "max": "the larger of the two terms is taken; PPO keeps the smaller (pessimistic) one",
            "clipped only": "only the clipped term is used; where clipping would flatter the new policy the "
                            "unclipped term must win, so take the smaller of the two",
            "unclipped": "the ratio is never clipped",
            "log ratio": "the ratio is pi_new / pi_old, the exponential of the difference of the log-probabilities",
        }
        for how, message in messages.items():
            if np.isclose(got, _ppo(log_probs, old, adv, clip, how=how), atol=1e-8):
                raise Feedback(f"{what}: {message}")
        raise Feedback(f"{what} is off from the reference; the loss is the mean over the actions of "
                       "-min(r A, clip(r, 1 - clip, 1 + clip) A)")

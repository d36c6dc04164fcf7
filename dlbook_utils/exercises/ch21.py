"""Checkers for chapter 21, Reinforcement learning from human feedback.

* 21.1 ``bt_loss(r_chosen, r_rejected)``: the Bradley–Terry loss −log σ(r_chosen − r_rejected), averaged over
  pairs, in NumPy, without overflow for large reward gaps.
* 21.2 ``token_rewards(scores, log_probs, ref_log_probs, beta)``: PPO's per-token rewards with the KL penalty and
  the reward model's score at the last token.
* 21.3 ``dpo(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)``: the DPO loss in NumPy.

Each checker draws its own inputs and compares with a reference computed here; before saying "off" it tries the
usual mistakes, so that its message says which one was made without giving the numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_close, expect_number, register


def _softplus(x):
    return np.logaddexp(0.0, x)


def _number(result: Any, what: str) -> float:
    return expect_number(result, what)


# ---------------------------------------------------------------------------------------------
# 21.1 The Bradley–Terry loss
# ---------------------------------------------------------------------------------------------


def _bt(chosen, rejected):
    return float(np.mean(_softplus(rejected - chosen)))


@register("21.1", "Bradley–Terry loss", written_by_learner=("dlbook_utils.rlhf:bradley_terry_loss",))
def check_bt_loss(bt_loss: Any) -> None:
    expect_callable(bt_loss, "bt_loss")
    rng = np.random.default_rng(211)
    cases = [(np.array([2.0]), np.array([0.0])), (rng.normal(size=7), rng.normal(size=7)),
             (rng.normal(size=20) * 3, rng.normal(size=20) * 3)]
    for chosen, rejected in cases:
        what = f"bt_loss for {len(chosen)} pairs"
        got = _number(bt_loss(chosen.copy(), rejected.copy()), what)
        ref = _bt(chosen, rejected)
        if np.isclose(got, ref, rtol=1e-6, atol=1e-9):
            continue
        if np.isclose(got, _bt(rejected, chosen), rtol=1e-6):
            raise Feedback(f"{what}: the loss should be small when the chosen response has the larger reward; "
                           "check the order of the difference")
        if np.isclose(got, -ref, rtol=1e-6):
            raise Feedback(f"{what}: the sign is wrong; a loss is the *negative* log-likelihood")
        if np.isclose(got, ref * len(chosen), rtol=1e-6) and len(chosen) > 1:
            raise Feedback(f"{what}: the losses are summed; average them over the pairs")
        if np.isclose(got, float(np.mean(1.0 / (1.0 + np.exp(rejected - chosen)))), rtol=1e-6):
            raise Feedback(f"{what}: that is the probability of the preference, not its negative log")
        raise Feedback(f"{what} is off: it is not −log σ(r_chosen − r_rejected) averaged over the pairs")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        far = as_array(bt_loss(np.array([0.0, 800.0]), np.array([800.0, 0.0])), "bt_loss for reward gaps of ±800")
    expect(far.size == 1 and np.isfinite(far).all() and np.isclose(float(far.reshape(-1)[0]), 400.0, rtol=1e-6),
           "bt_loss overflows (or loses the large term) when the reward gap is large, here ±800: compute "
           "−log σ(x) so that exp never sees a large positive number (np.logaddexp helps)")


# ---------------------------------------------------------------------------------------------
# 21.2 Per-token rewards with the KL penalty
# ---------------------------------------------------------------------------------------------


def _rewards(scores, log_probs, ref_log_probs, beta):
    rewards = -beta * (log_probs - ref_log_probs)
    rewards[:, -1] += scores
    return rewards


@register("21.2", "per-token rewards with a KL penalty", written_by_learner=("dlbook_utils.rlhf:shaped_rewards",))
def check_token_rewards(token_rewards: Any) -> None:
    expect_callable(token_rewards, "token_rewards")
    rng = np.random.default_rng(212)
    for batch, tokens, beta in [(1, 3, 0.5), (4, 6, 0.1), (3, 9, 0.0), (5, 2, 1.3)]:
        scores = rng.normal(size=batch)
        log_probs, ref_log_probs = -rng.random((batch, tokens)) * 3, -rng.random((batch, tokens)) * 3
        copies = scores.copy(), log_probs.copy(), ref_log_probs.copy()
        what = f"token_rewards for {batch} responses of {tokens} tokens, beta={beta}"
        result = token_rewards(scores, log_probs, ref_log_probs, beta)
        if result is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        if not all(np.array_equal(a, b) for a, b in zip((scores, log_probs, ref_log_probs), copies)):
            raise Feedback("token_rewards changed its inputs in place; build the rewards in a new array")
        got = as_array(result, what)
        if got.shape != (batch, tokens):
            raise Feedback(f"{what} has shape {got.shape}; it should have one reward per token, ({batch}, {tokens})")
        ref = _rewards(scores, log_probs, ref_log_probs, beta)
        if np.allclose(got, ref, atol=1e-9):
            continue
        penalty = -beta * (log_probs - ref_log_probs)
        if beta and np.allclose(got, _rewards(scores, log_probs, ref_log_probs, -beta), atol=1e-9):
            raise Feedback(f"{what}: the penalty has the wrong sign; tokens the policy likes more than the "
                           "reference does should cost reward")
        if np.allclose(got, penalty + scores[:, None], atol=1e-9) and tokens > 1:
            raise Feedback(f"{what}: the score is added to every token; it rewards the whole response once, at "
                           "its last token")
        first = penalty.copy()
        first[:, 0] += scores
        if np.allclose(got, first, atol=1e-9) and tokens > 1:
            raise Feedback(f"{what}: the score is added at the first token; the response is only finished, and "
                           "scored, at its last one")
        if np.allclose(got, penalty, atol=1e-9):
            raise Feedback(f"{what}: the reward model's score is missing")
        raise Feedback(f"{what} is off: check the penalty −β (log π − log π_ref) and where the score goes")


# ---------------------------------------------------------------------------------------------
# 21.3 The DPO loss
# ---------------------------------------------------------------------------------------------


def _dpo(pc, pr, rc, rr, beta):
    return float(np.mean(_softplus(-beta * ((pc - rc) - (pr - rr)))))


@register("21.3", "DPO loss", written_by_learner=("dlbook_utils.rlhf:dpo_loss",))
def check_dpo(dpo: Any) -> None:
    expect_callable(dpo, "dpo")
    rng = np.random.default_rng(213)
    for n, beta in [(1, 0.1), (6, 0.5), (12, 2.0)]:
        pc, pr, rc, rr = (-rng.random(n) * 40 for _ in range(4))
        what = f"dpo for {n} pairs with beta={beta}"
        got = _number(dpo(pc.copy(), pr.copy(), rc.copy(), rr.copy(), beta), what)
        ref = _dpo(pc, pr, rc, rr, beta)
        if np.isclose(got, ref, rtol=1e-6, atol=1e-9):
            continue
        if np.isclose(got, _dpo(pc, pr, 0 * rc, 0 * rr, beta), rtol=1e-6):
            raise Feedback(f"{what}: the reference model's log-probabilities are missing; DPO compares how much "
                           "the policy has moved from the reference on each response")
        if np.isclose(got, _dpo(pr, pc, rr, rc, beta), rtol=1e-6):
            raise Feedback(f"{what}: chosen and rejected are swapped; the loss should fall as the chosen "
                           "response gains probability")
        if np.isclose(got, _dpo(pc, pr, rc, rr, 1.0), rtol=1e-6):
            raise Feedback(f"{what}: beta is not used; it scales the log-ratio margin inside the sigmoid")
        if n > 1 and np.isclose(got, ref * n, rtol=1e-6):
            raise Feedback(f"{what}: the losses are summed; average them over the pairs")
        raise Feedback(f"{what} is off: it is not −log σ(β · margin) averaged over the pairs")
    expect_close(dpo(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([0.0]), 0.3), np.log(2.0),
                 "dpo when the policy equals the reference", rtol=1e-6)

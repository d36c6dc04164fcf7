"""Unit tests for the checkers of chapter 20 (dlbook_utils/exercises/ch20.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils import check

from tests.conftest import ROOT, assert_checker_contract, assert_rejected, solution_namespace

NOTEBOOK = ROOT / "chapters" / "20_deep_reinforcement_learning.ipynb"
returns = solution_namespace(NOTEBOOK, "20.1", np=np)["returns"]
advantages = solution_namespace(NOTEBOOK, "20.2", np=np)["advantages"]
ppo_loss = solution_namespace(NOTEBOOK, "20.3", np=np)["ppo_loss"]


@pytest.mark.parametrize("exercise, answer", [("20.1", returns), ("20.2", advantages), ("20.3", ppo_loss)])
def test_the_checker_keeps_its_contract(exercise, answer):
    assert_checker_contract(exercise, answer)


# ---------------------------------------------------------------------------------------------
# 20.1
# ---------------------------------------------------------------------------------------------


def test_returns_written_with_a_list_are_accepted():
    def with_list(rewards, gamma, dones):
        out, g = [], 0.0
        for r, d in zip(rewards[::-1], dones[::-1]):
            g = r + gamma * g * (1 - d)
            out.append(g)
        return out[::-1]

    assert check.run("20.1", with_list)[0] == check.PASSED


def test_returns_that_ignore_dones():
    def no_dones(rewards, gamma, dones):
        out, g = np.zeros(len(rewards)), 0.0
        for t in reversed(range(len(rewards))):
            g = rewards[t] + gamma * g
            out[t] = g
        return out

    assert_rejected("20.1", no_dones, "end of an episode")


def test_returns_summed_forwards():
    def forwards(rewards, gamma, dones):
        out, g = np.zeros(len(rewards)), 0.0
        for t in range(len(rewards)):
            g = rewards[t] + gamma * g
            out[t] = g
            if dones[t]:
                g = 0.0
        return out

    assert_rejected("20.1", forwards, "wrong way")


def test_returns_discounted_from_the_start():
    def from_start(rewards, gamma, dones):
        p = gamma ** np.arange(len(rewards))
        return np.array([np.sum(rewards[t:] * p[t:]) for t in range(len(rewards))])

    assert_rejected("20.1", from_start, "from the start")


def test_returns_undiscounted_and_in_place():
    def undiscounted(rewards, gamma, dones):
        out, g = np.zeros(len(rewards)), 0.0
        for t in reversed(range(len(rewards))):
            g = rewards[t] + (1 - dones[t]) * g
            out[t] = g
        return out

    assert_rejected("20.1", undiscounted, "not discounted")

    def in_place(rewards, gamma, dones):
        for t in reversed(range(len(rewards) - 1)):
            rewards[t] += gamma * (1 - dones[t]) * rewards[t + 1]
        return rewards

    assert_rejected("20.1", in_place, "in place")


# ---------------------------------------------------------------------------------------------
# 20.2
# ---------------------------------------------------------------------------------------------


def _gae(term_boot, stops, keep_lambda=True):
    def fn(rewards, values, next_values, terminated, truncated, gamma, lam):
        boot = {"terminated": terminated, "none": np.zeros_like(terminated),
                "both": np.maximum(terminated, truncated)}[term_boot]
        stop = {"both": np.maximum(terminated, truncated), "terminated": terminated,
                "none": np.zeros_like(terminated)}[stops]
        deltas = rewards + gamma * (1 - boot) * next_values - values
        out, a = np.zeros(len(rewards)), 0.0
        for t in reversed(range(len(rewards))):
            a = deltas[t] + gamma * (lam if keep_lambda else 1.0) * (1 - stop[t]) * a
            out[t] = a
        return out
    return fn


def test_gae_variants_are_accepted_or_named():
    assert check.run("20.2", _gae("terminated", "both"))[0] == check.PASSED
    assert_rejected("20.2", _gae("none", "both"), "terminal step")
    assert_rejected("20.2", _gae("both", "both"), "treated as terminal")
    assert_rejected("20.2", _gae("terminated", "terminated"), "truncation")
    assert_rejected("20.2", _gae("terminated", "none"), "end of an episode")
    assert_rejected("20.2", _gae("terminated", "both", keep_lambda=False), "lam")


def test_gae_one_step_errors_only():
    def td0(rewards, values, next_values, terminated, truncated, gamma, lam):
        return rewards + gamma * (1 - terminated) * next_values - values

    assert_rejected("20.2", td0, "one-step")


# ---------------------------------------------------------------------------------------------
# 20.3
# ---------------------------------------------------------------------------------------------


def _ppo(kind):
    def fn(log_probs, old_log_probs, advantages, clip):
        r = np.exp(log_probs - old_log_probs)
        c = np.clip(r, 1 - clip, 1 + clip)
        if kind == "max":
            return -np.mean(np.maximum(r * advantages, c * advantages))
        if kind == "sign":
            return np.mean(np.minimum(r * advantages, c * advantages))
        if kind == "unclipped":
            return -np.mean(r * advantages)
        if kind == "clipped only":
            return -np.mean(c * advantages)
        if kind == "log ratio":
            lr = log_probs - old_log_probs
            return -np.mean(np.minimum(lr * advantages, np.clip(lr, -clip, clip) * advantages))
        if kind == "sum":
            return -np.sum(np.minimum(r * advantages, c * advantages))
        raise ValueError(kind)
    return fn


@pytest.mark.parametrize("kind, word", [("max", "larger"), ("sign", "sign"), ("unclipped", "never clipped"),
                                        ("clipped only", "only the clipped"), ("log ratio", "exponential"),
                                        ("sum", "mean")])
def test_ppo_loss_mistakes_are_named(kind, word):
    assert_rejected("20.3", _ppo(kind), word)


def test_ppo_loss_must_be_one_number():
    def per_action(log_probs, old_log_probs, advantages, clip):
        r = np.exp(log_probs - old_log_probs)
        return -np.minimum(r * advantages, np.clip(r, 1 - clip, 1 + clip) * advantages)

    assert_rejected("20.3", per_action, "single number")

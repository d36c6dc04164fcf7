"""Unit tests for dlbook_utils.rl (chapter 20's returns, GAE, PPO losses, replay buffer and evaluation)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlbook_utils import rl  # noqa: E402

from tests.conftest import ROOT, load_nb  # noqa: E402

NOTEBOOK = ROOT / "chapters" / "20_deep_reinforcement_learning.ipynb"


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("obj", [rl.discounted_returns, rl.gae, rl.clipped_policy_loss])
def test_the_chapter_shows_the_package_code(obj):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    assert any(inspect.getsource(obj).rstrip("\n") in s for s in sources), \
        f"chapter 20 should show {obj.__name__} as in the package"


def test_discounted_returns_by_hand():
    # rewards 1, 2, 3 with gamma 0.5: G2 = 3, G1 = 2 + 1.5 = 3.5, G0 = 1 + 1.75 = 2.75
    np.testing.assert_allclose(rl.discounted_returns([1.0, 2.0, 3.0], 0.5), [2.75, 3.5, 3.0])
    # an episode ends after step 1: nothing flows back across it; the last step bootstraps from last_value
    got = rl.discounted_returns([1.0, 1.0, 1.0, 1.0], 0.9, dones=[0, 1, 0, 0], last_value=10.0)
    np.testing.assert_allclose(got, [1.9, 1.0, 1 + 0.9 * (1 + 9.0), 1 + 9.0])


def test_discounted_returns_on_other_axes():
    rewards = np.random.default_rng(0).random((3, 5))               # (sequences, time)
    by_rows = rl.discounted_returns(rewards, 0.8, axis=1)
    for row, expected in zip(by_rows, rewards):
        np.testing.assert_allclose(row, rl.discounted_returns(expected, 0.8))
    np.testing.assert_allclose(rl.discounted_returns(rewards.T, 0.8), by_rows.T)


def test_gae_by_hand():
    rewards, values = np.array([1.0, 1.0, 1.0]), np.array([0.5, 0.4, 0.3])
    next_values = np.array([0.4, 0.3, 0.2])
    gamma, lam = 0.9, 0.5
    deltas = rewards + gamma * next_values - values                  # 0.86, 0.87, 0.88
    expected = [deltas[0] + gamma * lam * (deltas[1] + gamma * lam * deltas[2]),
                deltas[1] + gamma * lam * deltas[2], deltas[2]]
    got = rl.gae(rewards, values, next_values, terminated=np.zeros(3), gamma=gamma, lam=lam)
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(expected, [1.4297, 1.266, 0.88])


def test_gae_termination_and_truncation():
    rewards, values = np.ones(4), np.array([1.0, 2.0, 3.0, 4.0])
    next_values = np.array([2.0, 7.0, 4.0, 5.0])        # step 1 ends its episode; 7 is the state it ended in
    gamma, lam = 0.9, 0.8
    terminated = np.array([0, 1, 0, 0])
    got = rl.gae(rewards, values, next_values, terminated, gamma=gamma, lam=lam)
    d = rewards + gamma * next_values * (1 - terminated) - values
    np.testing.assert_allclose(got[1], d[1])                          # terminal: no bootstrap, no flow back
    np.testing.assert_allclose(got[0], d[0] + gamma * lam * d[1])
    truncated = np.array([0, 1, 0, 0])                                # cut instead: bootstraps from 7
    got = rl.gae(rewards, values, next_values, np.zeros(4), truncated, gamma=gamma, lam=lam)
    np.testing.assert_allclose(got[1], 1 + gamma * 7.0 - 2.0)
    np.testing.assert_allclose(got[2], (1 + gamma * 4 - 3) + gamma * lam * (1 + gamma * 5 - 4))


def test_gae_limits_are_one_step_error_and_monte_carlo():
    rng = np.random.default_rng(1)
    rewards, values = rng.random((6, 3)), rng.random((6, 3))
    next_values = np.concatenate([values[1:], np.zeros((1, 3))])
    term = np.zeros((6, 3))
    term[-1] = 1
    np.testing.assert_allclose(rl.gae(rewards, values, next_values, term, gamma=0.9, lam=0.0),
                               rewards + 0.9 * next_values * (1 - term) - values)
    np.testing.assert_allclose(rl.gae(rewards, values, next_values, term, gamma=0.9, lam=1.0),
                               rl.discounted_returns(rewards, 0.9) - values)
    np.testing.assert_allclose(rl.gae(rewards.T, values.T, next_values.T, term.T, gamma=0.9, lam=0.7, axis=1),
                               rl.gae(rewards, values, next_values, term, gamma=0.9, lam=0.7).T)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="gamma"):
        rl.discounted_returns([1.0], 1.5)
    with pytest.raises(ValueError, match="shape"):
        rl.gae(np.ones(3), np.ones(4), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="capacity"):
        rl.ReplayBuffer(0, (4,))


def test_log_prob_and_entropy():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]], dtype="float32")
    np.testing.assert_allclose(_np(rl.log_prob(logits, np.array([1, 0]))), np.log([0.5, 0.75]), rtol=1e-6)
    np.testing.assert_allclose(_np(rl.entropy(logits)), [np.log(2), -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))],
                               rtol=1e-6)


def test_clipped_policy_loss_by_hand():
    ratios = np.array([0.5, 1.0, 1.5, 1.5, 0.5], dtype="float32")
    advantages = np.array([1.0, 2.0, 1.0, -1.0, -1.0], dtype="float32")
    old = np.zeros(5, dtype="float32")
    # min(r A, clip(r) A): 0.5 (unclipped, r < 1 - eps with A > 0 keeps the lower r A), 2, 1.2, -1.5, -0.8
    expected = -np.mean([0.5, 2.0, 1.2, -1.5, -0.8])
    got = _np(rl.clipped_policy_loss(np.log(ratios), old, advantages, clip=0.2))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    mask = np.array([1, 1, 0, 0, 0], dtype="float32")
    np.testing.assert_allclose(_np(rl.clipped_policy_loss(np.log(ratios), old, advantages, 0.2, mask)), -1.25,
                               rtol=1e-6)
    np.testing.assert_allclose(_np(rl.value_loss(np.array([1.0, 3.0]), np.array([0.0, 0.0]))), 2.5)


def test_replay_buffer_wraps_around_and_samples():
    buffer = rl.ReplayBuffer(5, (2,))
    for i in range(3):
        buffer.add(np.full(2, i), i % 2, float(i), np.full(2, i + 1), 0.0)
    assert len(buffer) == 3
    buffer.add(np.stack([np.full(2, 3), np.full(2, 4), np.full(2, 5)]), [1, 0, 1], [3.0, 4.0, 5.0],
               np.stack([np.full(2, 4), np.full(2, 5), np.full(2, 6)]), [0, 0, 1])
    assert len(buffer) == 5                                           # 6 added, the oldest overwritten
    assert set(buffer.rewards) == {1.0, 2.0, 3.0, 4.0, 5.0}
    batch = buffer.sample(64, np.random.default_rng(0))
    assert batch["obs"].shape == (64, 2) and batch["actions"].shape == (64,)
    np.testing.assert_allclose(batch["next_obs"], batch["obs"] + 1)
    np.testing.assert_allclose(batch["rewards"], batch["obs"][:, 0])
    assert np.all(batch["terminated"] == (batch["rewards"] == 5.0))


def test_numpy_forward_matches_keras():
    dense = [keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(8, activation="relu"),
             keras.layers.Dense(3)]
    model = keras.Sequential([keras.Input((4,))] + dense)
    x = np.random.default_rng(2).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(rl.numpy_forward(dense)(x), _np(model(x)), atol=1e-5)
    with pytest.raises(ValueError, match="activations"):
        rl.numpy_forward([keras.layers.Dense(2, activation="sigmoid")])


def test_evaluate_counts_first_episodes_with_fixed_seeds():
    pytest.importorskip("gymnasium")
    always_left = rl.evaluate(lambda obs: np.zeros(len(obs), dtype=int), episodes=5, seed=0)
    assert always_left.shape == (5,) and np.all((always_left >= 5) & (always_left <= 20))
    np.testing.assert_array_equal(always_left, rl.evaluate(lambda obs: np.zeros(len(obs), dtype=int),
                                                           episodes=5, seed=0))


def test_learning_curve_averages_the_last_episodes():
    ends, returns = [10, 20, 30, 40], [1.0, 2.0, 3.0, 4.0]
    got = rl.learning_curve(ends, returns, grid=[5, 10, 25, 40, 100], window=2)
    np.testing.assert_allclose(got, [np.nan, 1.0, 1.5, 3.5, 3.5])
    with pytest.raises(ValueError, match="one end step"):
        rl.learning_curve([1, 2], [1.0], grid=[1])


def test_numpy_forward_without_bias_and_buffer_overflow():
    dense = [keras.layers.Dense(3, use_bias=False)]
    model = keras.Sequential([keras.Input((2,))] + dense)
    x = np.ones((4, 2), dtype="float32")
    np.testing.assert_allclose(rl.numpy_forward(dense)(x), _np(model(x)), atol=1e-6)
    with pytest.raises(ValueError, match="do not fit"):
        rl.ReplayBuffer(2, (1,)).add(np.zeros((3, 1)), [0, 0, 0], [0, 0, 0], np.zeros((3, 1)), [0, 0, 0])

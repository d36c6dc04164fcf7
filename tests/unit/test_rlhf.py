"""Unit tests for dlbook_utils.rlhf (chapter 21's annotator, reward model, KL-shaped rewards, PPO targets, DPO)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlbook_utils import gpt, rl, rlhf, text  # noqa: E402

from tests.conftest import ROOT, load_nb  # noqa: E402

NOTEBOOK = ROOT / "chapters" / "21_rlhf.ipynb"
CHARS = " !',-.?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n"


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _tiny_gpt(seed=0):
    keras.utils.set_random_seed(seed)
    return gpt.gpt_model(len(CHARS), context=16, dim=8, blocks=1, heads=2)


@pytest.mark.parametrize("obj", [rlhf.bradley_terry_loss, rlhf.shaped_rewards, rlhf.dpo_loss])
def test_the_chapter_shows_the_package_code(obj):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    assert any(inspect.getsource(obj).rstrip("\n") in s for s in sources), \
        f"chapter 21 should show {obj.__name__} as in the package"


def test_to_vocabulary_and_prompts():
    assert rlhf.to_vocabulary("Great film!<br /><br />Loved it — 10/10", CHARS) == "Great film! Loved it"
    assert rlhf.review_prompts(["A fine, fine film.", "Too short"], CHARS, 10) == ["A fine, fi"]
    with pytest.raises(ValueError, match="space"):
        rlhf.to_vocabulary("abc", "abc")
    with pytest.raises(ValueError):
        rlhf.review_prompts(["abc"], CHARS, 0)


def test_preference_probability_is_bradley_terry_with_a_temperature():
    np.testing.assert_allclose(rlhf.preference_probability([0.0, 2.0], [0.0, 0.0], 1.0), [0.5, 1 / (1 + np.exp(-2))])
    np.testing.assert_allclose(rlhf.preference_probability(2.0, 0.0, 2.0), 1 / (1 + np.exp(-1)))
    assert rlhf.preference_probability(1000.0, -1000.0, 1.0) == 1.0                # no overflow
    with pytest.raises(ValueError):
        rlhf.preference_probability(1.0, 0.0, 0.0)


def test_simulated_preferences_follow_their_probability():
    rng = np.random.default_rng(0)
    a, b = np.full(20_000, 1.0), np.zeros(20_000)
    assert abs(rlhf.simulate_preferences(a, b, 1.0, rng).mean() - 1 / (1 + np.exp(-1))) < 0.01
    drawn, expected = rlhf.win_rate(a, b, 1.0, rng)
    assert abs(drawn - expected) < 0.01 and expected == pytest.approx(1 / (1 + np.exp(-1)))


def test_annotator_scores_the_mean_weight_of_distinct_known_words():
    vocab = text.Vocabulary.build([["good", "bad", "film"]])
    annotator = rlhf.SentimentAnnotator(vocab, length=8, temperature=0.5)
    table = np.zeros((len(vocab), 1), np.float32)
    table[vocab.index["good"]], table[vocab.index["bad"]] = 2.0, -4.0
    annotator.model.get_layer("word_weights").set_weights([table])
    annotator.model.get_layer("scale").set_weights([np.array([[1.5]], np.float32), np.array([0.25], np.float32)])
    scores = annotator.score(["good good film", "bad", "unknown words only"])
    np.testing.assert_allclose(scores, [1.5 * 1.0 + 0.25, 1.5 * -4.0 + 0.25, 0.0], rtol=1e-6)
    x = annotator.encode(["good good film"])
    np.testing.assert_allclose(_np(annotator.model(x))[:, 0], scores[:1], rtol=1e-5)   # NumPy = the Keras model
    with pytest.raises(ValueError):
        rlhf.SentimentAnnotator(vocab, temperature=0.0)


def test_bradley_terry_loss():
    got = float(_np(rlhf.bradley_terry_loss(np.array([2.0, 0.0]), np.array([0.0, 0.0]))))
    assert got == pytest.approx(np.mean([np.log1p(np.exp(-2.0)), np.log(2.0)]), rel=1e-6)
    assert np.isfinite(float(_np(rlhf.bradley_terry_loss(np.array([-500.0]), np.array([500.0])))))


def test_log_probs_and_kl():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 5, 7)).astype("float32")
    ids = rng.integers(0, 7, size=(2, 6))
    per_token = _np(rlhf.token_log_probs(logits, ids))
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(per_token[1, 3], log_p[1, 3, ids[1, 4]], rtol=1e-5)
    np.testing.assert_allclose(_np(rlhf.response_log_probs(logits, ids, 3)), per_token[:, 2:].sum(1), rtol=1e-5)
    kl = rlhf.kl_per_position(logits, logits[::-1])
    assert kl.shape == (2, 5) and np.all(kl >= 0)
    np.testing.assert_allclose(rlhf.kl_per_position(logits, logits), 0.0, atol=1e-12)
    with pytest.raises(ValueError):
        rlhf.response_log_probs(logits, ids, 0)


def test_shaped_rewards_put_the_score_at_the_last_token():
    lp, ref = np.log([[0.5, 0.2, 0.9]]), np.log([[0.25, 0.2, 0.3]])
    got = rlhf.shaped_rewards(np.array([3.0]), lp, ref, beta=0.5)
    np.testing.assert_allclose(got, [[-0.5 * np.log(2), 0.0, -0.5 * np.log(3) + 3.0]])
    assert got.sum() == pytest.approx(3.0 - 0.5 * (lp - ref).sum())             # score − β · (KL estimate)
    with pytest.raises(ValueError):
        rlhf.shaped_rewards(np.array([1.0]), lp, ref, beta=-1.0)
    with pytest.raises(ValueError):
        rlhf.shaped_rewards(np.array([1.0, 2.0]), lp, ref, beta=0.1)


def test_ppo_targets_are_gae_over_the_response():
    rng = np.random.default_rng(2)
    batch, length, prompt = 3, 8, 3
    ids = rng.integers(0, 10, size=(batch, length + 1))
    log_probs, values = -rng.random((batch, length)), rng.normal(size=(batch, length))
    rewards = rng.normal(size=(batch, length - prompt + 1))
    y = rlhf.ppo_targets(ids, log_probs, values, rewards, prompt, gamma=1.0, lam=0.9, normalise=False)
    assert y.shape == (batch, length, 5)
    np.testing.assert_array_equal(y[..., 0], ids[:, 1:])
    np.testing.assert_array_equal(y[..., 4], np.arange(length)[None].repeat(batch, 0) >= prompt - 1)
    v = values[:, prompt - 1:]
    done = np.zeros_like(v)
    done[:, -1] = 1
    expected = rl.gae(rewards, v, np.concatenate([v[:, 1:], np.zeros((batch, 1))], 1), done, gamma=1.0, lam=0.9,
                      axis=1)
    np.testing.assert_allclose(y[:, prompt - 1:, 2], expected, rtol=1e-5)
    np.testing.assert_allclose(y[:, prompt - 1:, 3], expected + v, rtol=1e-5)
    assert np.all(y[:, : prompt - 1, 2:] == 0)
    normalised = rlhf.ppo_targets(ids, log_probs, values, rewards, prompt)[:, prompt - 1:, 2]
    assert abs(normalised.mean()) < 1e-5 and normalised.std() == pytest.approx(1.0, rel=1e-4)
    with pytest.raises(ValueError, match="shapes"):
        rlhf.ppo_targets(ids, log_probs, values, rewards[:, 1:], prompt)


def test_dpo_loss():
    assert float(_np(rlhf.dpo_loss(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3)))) == pytest.approx(np.log(2))
    # the chosen response gained 2 nats over the reference, the rejected one lost 1: margin 3, β = 0.5
    got = float(_np(rlhf.dpo_loss(np.array([-8.0]), np.array([-11.0]), np.array([-10.0]), np.array([-10.0]), 0.5)))
    assert got == pytest.approx(np.log1p(np.exp(-1.5)), rel=1e-6)


def test_models_copy_the_gpt_and_train_on_both_backends():
    base = _tiny_gpt()
    ids = np.random.default_rng(3).integers(0, len(CHARS), size=(4, 12)).astype("int32")
    policy, actor_critic = rlhf.policy_with_value_head(base)
    out = _np(actor_critic(ids[:, :-1]))
    assert out.shape == (4, 11, len(CHARS) + 1)
    np.testing.assert_allclose(out[..., :-1], _np(base(ids[:, :-1])), atol=1e-5)    # starts as the GPT
    np.testing.assert_allclose(out[..., -1], 0.0)                                   # value head starts at 0
    rm = rlhf.reward_model(base, prompt_length=4)
    assert _np(rm(ids)).shape == (4,)
    pairs = rlhf.pair_log_prob_model(policy, prompt_length=4)
    lp = _np(pairs([ids, ids[::-1]]))
    np.testing.assert_allclose(lp[:, 0], _np(rlhf.response_log_probs(base(ids[:, :-1]), ids, 4)), rtol=1e-4)
    actor_critic.compile(keras.optimizers.Adam(1e-2), loss=rlhf.ppo_loss())
    log_probs = _np(rlhf.token_log_probs(out[..., :-1], ids))
    rewards = rlhf.shaped_rewards(np.array([1.0, -1.0, 1.0, -1.0]), log_probs[:, 3:], log_probs[:, 3:], 0.1)
    y = rlhf.ppo_targets(ids, log_probs, out[..., -1], rewards, 4)
    first = float(actor_critic.train_on_batch(ids[:, :-1], y))
    assert np.isfinite(first)
    np.testing.assert_allclose(_np(base(ids[:, :-1])), out[..., :-1], atol=1e-5)    # the original is untouched
    assert not np.allclose(_np(policy(ids[:, :-1])), out[..., :-1], atol=1e-4)      # the copy has moved


def test_known_word_fraction():
    vocab = text.Vocabulary.build([["good", "film"]])
    assert rlhf.known_word_fraction(["good film", "xyzzy film"], vocab) == pytest.approx(0.75)
    assert rlhf.known_word_fraction([""], vocab) == 0.0
    assert rlhf.distinct_word_fraction(["it is it is", "a b c", ""]) == pytest.approx((0.5 + 1.0) / 2)

"""Unit tests for dlbook_utils.finetune (chapter 19: instruction data, the response-only mask, full, new-head and
LoRA fine-tuning, and the hand-written LoRA update)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlbook_utils import finetune, gpt  # noqa: E402

from tests.conftest import ROOT, load_nb  # noqa: E402

NOTEBOOK = ROOT / "chapters" / "19_fine_tuning_lora.ipynb"
CHARS = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TEXT = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?
What authority surfeits on would relieve us: if they
"""


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _tiny_gpt(seed=0):
    keras.utils.set_random_seed(seed)
    return gpt.gpt_model(len(CHARS), 64, 16, 2, 2, name="tiny")


@pytest.mark.parametrize("obj", [finetune.response_weights, finetune.encode_examples, finetune.prepare_new_head,
                                 finetune.lora_targets, finetune.prepare_lora, finetune.fine_tune,
                                 finetune.merged_kernel, finetune.lora_output])
def test_the_chapter_shows_the_package_code(obj):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    assert inspect.getsource(obj).rstrip("\n") in sources, f"chapter 19 should show {obj.__name__} as in the package"


def test_spoken_lines_drop_the_speakers_and_blank_lines():
    lines = finetune.spoken_lines(TEXT)
    assert lines[0] == "Before we proceed any further, hear me speak." and "All:" not in lines
    assert "What authority surfeits on would relieve us: if they" in lines and len(lines) == 4


def test_split_lines_is_a_disjoint_partition():
    lines = [f"line {i}" for i in range(50)] + ["line 3"]
    train, held_out = finetune.split_lines(lines, 0.2, seed=1)
    assert len(held_out) == 10 and len(train) == 40 and not set(train) & set(held_out)
    with pytest.raises(ValueError):
        finetune.split_lines(lines, 1.5)


def test_examples_follow_the_template_and_their_tasks():
    lines = finetune.spoken_lines(TEXT)
    examples = finetune.make_examples(lines, 30, max_length=100, seed=0, words=(1, 3))
    assert [e["task"] for e in examples[:3]] == list(finetune.TASKS)
    for e in examples:
        assert e["prompt"].startswith("Instruction: ") and e["prompt"].endswith("\nResponse: ")
        assert e["response"].endswith("\n") and len(e["prompt"]) + len(e["response"]) <= 100
        wording, text = e["prompt"][len("Instruction: "):-len("\nResponse: ")].split(": ", 1)
        assert wording in finetune.TASKS[e["task"]]["wordings"]
        answer, words = e["response"][:-1], text.split()
        if e["task"] == "count":
            assert answer == finetune.NUMBER_WORDS[len(words)]
        elif e["task"] == "last word":
            assert answer == words[-1]
        else:
            assert any(line.startswith(f"{text} {answer}") for line in lines)
        gpt.encode(e["prompt"] + e["response"], CHARS)              # within the vocabulary
    held = finetune.make_examples(lines, 6, max_length=100, seed=0, held_out_wording=True, words=(1, 3))
    assert all(finetune.TASKS[e["task"]]["held_out"] in e["prompt"] for e in held)
    with pytest.raises(ValueError):
        finetune.make_examples(lines, 5, max_length=10)
    with pytest.raises(ValueError):
        finetune.make_examples(lines, 5, max_length=80, tasks=["sing"])


def test_the_response_weights_pick_the_targets_of_the_response():
    w = finetune.response_weights(4, 7, 10)
    np.testing.assert_array_equal(w, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0])
    with pytest.raises(ValueError):
        finetune.response_weights(5, 5, 10)
    examples = [dict(task="count", prompt="ab: ", response="cd\n")]
    inputs, targets, weights = finetune.encode_examples(examples, CHARS, 8)
    text = "ab: cd\n"
    assert gpt.decode(inputs[0, :6], CHARS) == text[:-1] and gpt.decode(targets[0, :6], CHARS) == text[1:]
    assert gpt.decode(targets[0][weights[0] == 1], CHARS) == "cd\n"          # exactly the response is scored
    with pytest.raises(ValueError):
        finetune.encode_examples(examples, CHARS, 4)


def test_task_losses_average_over_response_characters():
    model = _tiny_gpt()
    lines = finetune.spoken_lines(TEXT)
    examples = finetune.make_examples(lines, 6, max_length=65, seed=0, words=(1, 3))
    arrays = finetune.encode_examples(examples, CHARS, 64)
    losses = finetune.task_losses(model, arrays, examples)
    assert set(losses) == {"all", *finetune.TASKS}
    assert abs(losses["all"] - np.log(len(CHARS))) < 0.2                   # an untrained model: about ln V
    logits = _np(model(arrays[0]))
    per = _np(keras.losses.sparse_categorical_crossentropy(arrays[1], logits, from_logits=True))
    np.testing.assert_allclose(losses["all"], (per * arrays[2]).sum() / arrays[2].sum(), rtol=1e-4)


def test_the_three_preparations_train_what_they_should():
    full = finetune.prepare_full(_tiny_gpt())
    assert finetune.trainable_parameters(full) == full.count_params()
    head = finetune.prepare_new_head(_tiny_gpt())
    assert finetune.trainable_parameters(head) == 16 * len(CHARS) + len(CHARS)
    model = _tiny_gpt()
    ids = np.random.default_rng(0).integers(0, len(CHARS), (2, 10))
    before = _np(model(ids))
    lora = finetune.prepare_lora(model, rank=2, alpha=4)
    np.testing.assert_allclose(_np(lora(ids)), before, atol=1e-5)           # B = 0: the same model at the start
    names = {w.path.split("/")[-1] for w in lora.trainable_weights}
    assert names == {"lora_kernel_a", "lora_kernel_b"}
    per_block = 3 * (16 * 2 * 2 + 2 * 8) + (2 * 8 * 2 + 2 * 16)             # query, key, value; output
    assert finetune.trainable_parameters(lora) == 2 * per_block
    with_ff = finetune.prepare_lora(_tiny_gpt(), rank=2, feed_forward=True)
    assert finetune.trainable_parameters(with_ff) == 2 * (per_block + (16 * 2 + 2 * 64) + (64 * 2 + 2 * 16))
    with pytest.raises(ValueError):
        finetune.prepare_lora(_tiny_gpt(), rank=0)


def test_the_hand_written_lora_update_matches_keras():
    model = finetune.prepare_lora(_tiny_gpt(), rank=3, alpha=6)
    rng = np.random.default_rng(1)
    for layer in finetune.lora_targets(model):
        layer.lora_kernel_b.assign(rng.normal(size=layer.lora_kernel_b.shape).astype("float32"))
    attention = model.get_layer("block_1").attention
    for layer, shape in [(attention._query_dense, (2, 4, 16)), (attention._output_dense, (2, 4, 2, 8))]:
        merged = finetune.merged_kernel(_np(layer._kernel), _np(layer.lora_kernel_a), _np(layer.lora_kernel_b), 6)
        np.testing.assert_allclose(merged, _np(layer.kernel), atol=1e-5)
        x = rng.normal(size=shape).astype("float32")
        np.testing.assert_allclose(finetune.lora_output(layer, x), _np(layer(x)), atol=1e-4)
    dense = keras.layers.Dense(5, activation="relu")
    dense.build((None, 7))
    dense.enable_lora(2, lora_alpha=3)
    dense.lora_kernel_b.assign(rng.normal(size=(2, 5)).astype("float32"))
    x = rng.normal(size=(4, 7)).astype("float32")
    np.testing.assert_allclose(finetune.lora_output(dense, x), _np(dense(x)), atol=1e-5)
    with pytest.raises(ValueError):
        finetune.merged_kernel(np.zeros((4, 5)), np.zeros((4, 2)), np.zeros((3, 5)), 1.0)


def test_fine_tuning_lowers_the_response_loss_and_lora_leaves_the_base_weights():
    lines = finetune.spoken_lines(TEXT)
    examples = finetune.make_examples(lines, 64, max_length=65, seed=0, words=(1, 3))
    arrays = finetune.encode_examples(examples, CHARS, 64)
    model = finetune.prepare_full(_tiny_gpt())
    before = finetune.task_losses(model, arrays, examples)["all"]
    history = finetune.fine_tune(model, arrays, arrays, steps=40, batch_size=16, peak_lr=1e-2, evaluations=2,
                                 verbose=0)
    assert history.history["val_loss"][-1] < before - 1.0
    np.testing.assert_allclose(history.history["val_loss"][-1], finetune.task_losses(model, arrays, examples)["all"],
                               rtol=1e-3)                                   # fit's loss is per response character
    lora = finetune.prepare_lora(_tiny_gpt(), rank=2)
    frozen = [_np(w).copy() for w in lora.non_trainable_weights]
    finetune.fine_tune(lora, arrays, arrays, steps=4, batch_size=16, peak_lr=1e-2, evaluations=1, verbose=0)
    for w, old in zip(lora.non_trainable_weights, frozen):
        np.testing.assert_array_equal(_np(w), old)
    assert all(np.abs(_np(w)).max() > 0 for w in lora.trainable_weights if "lora_kernel_b" in w.path)


def test_greedy_responses_stop_at_a_newline_and_at_the_end_of_the_row():
    class Echo(keras.Model):
        """Predicts 'a' everywhere, then a newline after three 'a's: a model with a known answer."""

        def call(self, ids):
            ids = keras.ops.convert_to_numpy(ids)
            logits = np.zeros((*ids.shape, len(CHARS)), np.float32)
            a, newline = CHARS.index("a"), CHARS.index("\n")
            run = np.cumsum(ids == a, axis=1)
            logits[..., a] = 1.0
            logits[..., newline] = np.where(run >= 3, 2.0, 0.0)
            return logits

        def predict_on_batch(self, x):
            return self.call(x)

    answers = finetune.greedy_responses(Echo(), ["xy", "xa", "xyzwv"], CHARS, 6, max_new=10)
    assert answers == ["aaa", "aa", "aa"]                                    # the last row runs out of room
    assert finetune.exact_match(answers, [dict(response="aaa\n")] * 3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        finetune.greedy_responses(Echo(), ["x" * 6], CHARS, 6)

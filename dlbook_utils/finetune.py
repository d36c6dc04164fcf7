"""Fine-tuning a pretrained GPT on instructions, fully, with a frozen body, or with LoRA (chapter 19).

* :data:`TASKS`, :func:`spoken_lines`, :func:`make_examples` — instruction-style examples generated from the lines
  of a text: ``"Instruction: <wording>: <input>\\nResponse: <answer>\\n"``, with wordings held out for testing.
* :func:`encode_examples` — ids, next-character targets and the **response-only loss mask** (weight 1 on the
  characters of the answer, 0 on the prompt and the padding).
* :func:`masked_losses` — the mean cross-entropy of each example's response characters.
* :func:`prepare_full`, :func:`prepare_new_head`, :func:`prepare_lora` — the three ways of preparing a model for
  fine-tuning: every weight trains; only a fresh output layer trains; only low-rank updates of the attention
  projections train (Keras's layer-level ``enable_lora``).
* :func:`lora_targets`, :func:`merged_kernel` and :func:`lora_output` — where LoRA goes, and its update written
  out by hand, W + (alpha / r) · A · B, with A and B shaped as Keras shapes them.
* :func:`trainable_parameters` — the number of weights an optimiser updates.
* :func:`fine_tune` — AdamW with warm-up and cosine decay, the loss weighted by the mask, one ``fit`` call on
  :class:`ExampleBatches` (random batches of examples with their weights).
* :func:`greedy_responses` and :func:`exact_match` — answers decoded greedily for a batch of prompts of any
  lengths, and the share that is exactly right.

Everything runs on every Keras backend (``keras.ops`` only).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from . import gpt, models, transformer

__all__ = ["TASKS", "NUMBER_WORDS", "PROMPT", "spoken_lines", "split_lines", "make_examples", "response_weights",
           "encode_examples", "masked_losses", "task_losses", "prepare_full", "prepare_new_head", "prepare_lora",
           "lora_targets", "merged_kernel", "lora_output", "trainable_parameters", "fine_tune", "ExampleBatches",
           "greedy_responses", "exact_match"]

PROMPT = "Instruction: {wording}: {text}\nResponse: "
"""The prompt of every example; the response that follows it ends with a newline."""

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _count(words: list[str], n: int) -> tuple[str, str]:
    return " ".join(words[:n]), NUMBER_WORDS[n]


def _last(words: list[str], n: int) -> tuple[str, str]:
    return " ".join(words[:n]), words[n - 1]


def _finish(words: list[str], n: int) -> tuple[str, str]:
    return " ".join(words[:n]), " ".join(words[n:])


TASKS: dict[str, dict] = {
    "last word": dict(make=_last, wordings=("Give the last word", "Which word comes last"),
                      held_out="Say the final word", exact=True),
    "count": dict(make=_count, wordings=("Count the words", "How many words are in this"),
                  held_out="Say how many words there are", exact=True),
    "finish": dict(make=_finish, wordings=("Finish the line", "Complete this verse"),
                   held_out="End the line", exact=False),
}
"""The tasks: ``make(words, n)`` turns the first ``n`` words of a line into ``(input, answer)``; the wordings of
the instruction seen in training, one held out; whether the task has one right answer (exact-match scored)."""


def spoken_lines(text: str) -> list[str]:
    """The spoken lines of a play text: non-empty lines that are not a speaker's name (a line ending in ':' that
    starts a speech, after a blank line or at the start)."""
    lines, out, previous = text.split("\n"), [], ""
    for line in lines:
        heading = line.endswith(":") and previous == ""
        if line.strip() and not heading:
            out.append(line.strip())
        previous = line.strip()
    return out


def split_lines(lines: Sequence[str], held_out_fraction: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """``(train_lines, held_out_lines)``: a random ``held_out_fraction`` of the distinct lines held out."""
    if not 0 < held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must be in (0, 1), got {held_out_fraction}")
    distinct = sorted(set(lines))
    order = np.random.default_rng(seed).permutation(len(distinct))
    cut = int(round(len(distinct) * (1 - held_out_fraction)))
    return [distinct[i] for i in order[:cut]], [distinct[i] for i in order[cut:]]


def make_examples(lines: Sequence[str], n: int, *, max_length: int, seed: int = 0, held_out_wording: bool = False,
                  tasks: Sequence[str] | None = None, words: tuple[int, int] = (2, 6)) -> list[dict]:
    """``n`` examples, the tasks in turn: dicts with ``task``, ``prompt`` and ``response`` (ending in a newline).

    Each example takes the first ``words`` (a random number in the inclusive range) of a random line, and a random
    training wording of its task (or the held-out wording). Examples whose prompt + response are longer than
    ``max_length`` characters are drawn again, so the texts fit the model's context.
    """
    tasks = list(TASKS) if tasks is None else list(tasks)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not lines or n < 1:
        raise ValueError(f"unknown tasks {unknown}, or no lines, or n < 1 (n = {n})")
    rng, examples, tries = np.random.default_rng(seed), [], 0
    while len(examples) < n:
        tries += 1
        if tries > 100 * n:
            raise ValueError(f"could not make {n} examples of at most {max_length} characters from these lines")
        task = TASKS[tasks[len(examples) % len(tasks)]]
        line_words = lines[rng.integers(len(lines))].split()
        count = int(rng.integers(words[0], words[1] + 1))
        if len(line_words) < count + (task["make"] is _finish):            # finishing needs words left over
            continue
        text, answer = task["make"](line_words, count)
        wording = task["held_out"] if held_out_wording else task["wordings"][rng.integers(len(task["wordings"]))]
        prompt = PROMPT.format(wording=wording, text=text)
        if len(prompt) + len(answer) + 1 <= max_length:
            examples.append(dict(task=tasks[len(examples) % len(tasks)], prompt=prompt, response=answer + "\n"))
    return examples


def response_weights(prompt_length: int, text_length: int, length: int) -> np.ndarray:
    """The loss weights of one example's ``length`` targets: 1 where the target is a response character.

    Target t is character t + 1 of the text, so the response, which starts at character ``prompt_length``, is
    predicted from position ``prompt_length - 1`` up to the text's last prediction, ``text_length - 2``."""
    if not 1 <= prompt_length < text_length <= length + 1:
        raise ValueError(f"need 1 ≤ prompt_length < text_length ≤ length + 1, got {prompt_length}, "
                         f"{text_length}, {length}")
    weights = np.zeros(length, np.float32)
    weights[prompt_length - 1 : text_length - 1] = 1.0
    return weights


def encode_examples(examples: list[dict], chars: str, length: int):
    """``(inputs, targets, weights)``, each (len(examples), length): the ids of prompt + response without the
    last character, the same ids shifted by one, and the response-only loss weights. Rows are padded at the
    end with id 0 and weight 0."""
    inputs = np.zeros((len(examples), length), np.int32)
    targets = np.zeros((len(examples), length), np.int32)
    weights = np.zeros((len(examples), length), np.float32)
    for row, example in enumerate(examples):
        ids = gpt.encode(example["prompt"] + example["response"], chars)
        if len(ids) - 1 > length:
            raise ValueError(f"example {row} has {len(ids)} characters; at most length + 1 = {length + 1} fit")
        inputs[row, : len(ids) - 1], targets[row, : len(ids) - 1] = ids[:-1], ids[1:]
        weights[row] = response_weights(len(example["prompt"]), len(ids), length)
    return inputs, targets, weights


def masked_losses(model, inputs, targets, weights, batch_size: int = 64) -> np.ndarray:
    """Per example, the summed cross-entropy (nats) of the characters where ``weights`` is 1."""
    logits = model.predict(inputs, batch_size=batch_size, verbose=0)
    losses = keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))
    return (losses * weights).sum(axis=1)


def task_losses(model, arrays, examples: Sequence[dict]) -> dict[str, float]:
    """Mean cross-entropy per response character (nats) of ``arrays = encode_examples(examples, ...)``: over
    all of them (key ``"all"``) and for each task."""
    summed, counts = masked_losses(model, *arrays), arrays[2].sum(axis=1)
    tasks = np.array([e["task"] for e in examples])
    out = {"all": float(summed.sum() / counts.sum())}
    for task in dict.fromkeys(tasks):
        out[task] = float(summed[tasks == task].sum() / counts[tasks == task].sum())
    return out


# ---------------------------------------------------------------------------------------------
# Three ways to prepare a pretrained model
# ---------------------------------------------------------------------------------------------


def prepare_full(model):
    """Full fine-tuning: every weight of ``model`` trains. Returns the model."""
    model.trainable = True
    return model


def prepare_new_head(model, seed: int = 0):
    """A frozen body and a fresh output layer: a new model that shares ``model``'s layers up to its final
    LayerNorm (frozen) and ends in a new, randomly initialised ``Dense`` over the vocabulary (the only part
    that trains)."""
    body_output = model.get_layer("final_norm").output
    vocab = model.get_layer("logits").units
    for layer in model.layers:
        layer.trainable = False
    small = keras.initializers.RandomNormal(stddev=0.02, seed=seed)
    head = layers.Dense(vocab, kernel_initializer=small, name="new_logits")
    return keras.Model(model.inputs, head(body_output), name=f"{model.name}_new_head")


def lora_targets(model, feed_forward: bool = False) -> list:
    """The layers LoRA adapts: in every TransformerBlock, the attention's query, key, value and output projections
    (``EinsumDense``; ``MultiHeadAttention`` has no ``enable_lora`` of its own), and with ``feed_forward`` the
    two ``Dense`` layers of the feed-forward network."""
    targets = []
    for block in (layer for layer in model.layers if isinstance(layer, transformer.TransformerBlock)):
        attention = block.attention
        targets += [attention._query_dense, attention._key_dense, attention._value_dense, attention._output_dense]
        if feed_forward:
            targets += list(block.ff.layers)
    if not targets:
        raise ValueError("the model has no TransformerBlock layers")
    return targets


def prepare_lora(model, rank: int, alpha: float | None = None, feed_forward: bool = False):
    """LoRA: freeze every weight of ``model``, then give each of :func:`lora_targets` a trainable low-rank update
    (``layer.enable_lora(rank, lora_alpha=alpha)``; alpha defaults to the rank). Only the A and B matrices
    train: the biases of the adapted layers stay frozen too. Returns the model."""
    if rank < 1:
        raise ValueError(f"rank must be at least 1, got {rank}")
    for layer in model.layers:
        layer.trainable = False
    for layer in lora_targets(model, feed_forward):
        layer.trainable = True
        layer.enable_lora(rank, lora_alpha=rank if alpha is None else alpha)   # freezes the layer's kernel
        if layer.bias is not None:
            layer.bias.trainable = False
    return model


def merged_kernel(kernel, a, b, alpha: float):
    """W + (alpha / r) · A · B, with r = B.shape[0], for kernels of any rank: A has the kernel's shape with its
    last axis replaced by r, B is (r, last axis), and the product contracts r (as ``np.matmul`` does)."""
    kernel, a, b = np.asarray(kernel), np.asarray(a), np.asarray(b)
    rank = b.shape[0]
    if a.shape != (*kernel.shape[:-1], rank) or b.shape != (rank, kernel.shape[-1]):
        raise ValueError(f"A {a.shape} and B {b.shape} do not fit a kernel of shape {kernel.shape}")
    return kernel + (alpha / rank) * np.matmul(a, b)


def lora_output(layer, x) -> np.ndarray:
    """What a LoRA-enabled ``Dense`` or ``EinsumDense`` layer computes for ``x``, by hand in NumPy: the frozen
    kernel merged with its low-rank update, then the layer's product, bias and activation."""
    kernel = merged_kernel(keras.ops.convert_to_numpy(layer._kernel), keras.ops.convert_to_numpy(layer.lora_kernel_a),
                           keras.ops.convert_to_numpy(layer.lora_kernel_b), layer.lora_alpha)
    x = np.asarray(x, np.float32)
    y = np.einsum(layer.equation, x, kernel) if hasattr(layer, "equation") else x @ kernel
    if layer.bias is not None:
        y = y + keras.ops.convert_to_numpy(layer.bias)
    return keras.ops.convert_to_numpy(layer.activation(y)) if layer.activation is not None else y


def trainable_parameters(model) -> int:
    """The number of weights the optimiser updates (the sizes of ``model.trainable_weights``)."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# ---------------------------------------------------------------------------------------------
# Training and decoding
# ---------------------------------------------------------------------------------------------


def fine_tune(model, train, validation, *, steps: int, batch_size: int, peak_lr: float, evaluations: int = 4,
              weight_decay: float = 0.0, seed: int = 0, verbose: int = 2):
    """Train on ``train = (inputs, targets, weights)`` for ``steps`` steps of ``batch_size`` examples, the loss
    averaged over the response characters only (the weights), with AdamW, a 10% warm-up and cosine decay; one
    line per ``evaluation`` on ``validation`` (same layout). Returns the Keras ``History``."""
    inputs, targets, weights = train
    per_evaluation = max(1, steps // evaluations)
    schedule = models.warmup_cosine(peak_lr, per_evaluation * evaluations, 0.1)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay, beta_2=0.99, clipnorm=1.0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
    model.compile(optimizer, loss, jit_compile=True)
    batches = ExampleBatches(inputs, targets, weights, batch_size, per_evaluation, seed)
    return model.fit(batches, validation_data=validation, validation_batch_size=64, epochs=evaluations,
                     verbose=verbose)


class ExampleBatches(keras.utils.PyDataset):
    """``steps`` batches of ``batch_size`` examples drawn at random (with their loss weights) per epoch."""

    def __init__(self, inputs, targets, weights, batch_size, steps, seed=0, **kwargs):
        super().__init__(**kwargs)
        if len(inputs) < batch_size or steps < 1:
            raise ValueError(f"need at least batch_size = {batch_size} examples and steps ≥ 1")
        self.arrays, self.batch_size, self.steps = (inputs, targets, weights), batch_size, steps
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        rows = self.rng.choice(len(self.arrays[0]), self.batch_size, replace=False)
        return tuple(a[rows] for a in self.arrays)


def greedy_responses(model, prompts: Sequence[str], chars: str, length: int, max_new: int = 40) -> list[str]:
    """The model's greedy answers to ``prompts`` (strings of any lengths), up to a newline, ``max_new`` characters
    or the end of the ``length`` positions. Every step runs the model on one (len(prompts), length) array, so one
    shape is compiled: each row holds its prompt and what has been generated so far, and the next character is
    read from the logits at the row's own last position."""
    ends = np.array([len(p) for p in prompts])
    if not len(prompts) or ends.min() < 1 or ends.max() >= length:
        raise ValueError(f"need prompts of 1 to {length - 1} characters")
    ids = np.zeros((len(prompts), length), np.int32)
    for row, prompt in enumerate(prompts):
        ids[row, : len(prompt)] = gpt.encode(prompt, chars)
    answers, done, newline = [[] for _ in prompts], np.zeros(len(prompts), bool), chars.index("\n")
    for _ in range(max_new):
        logits = np.asarray(model.predict_on_batch(ids))
        for row in np.flatnonzero(~done):
            pick = int(logits[row, ends[row] - 1].argmax())
            if pick == newline:                                          # the answer is complete
                done[row] = True
                continue
            answers[row].append(chars[pick])
            if ends[row] == length:                                      # no room for another character
                done[row] = True
            else:
                ids[row, ends[row]] = pick
                ends[row] += 1
        if done.all():
            break
    return ["".join(a) for a in answers]


def exact_match(answers: Sequence[str], examples: Sequence[dict]) -> float:
    """The share of ``answers`` equal to their example's response (without its final newline)."""
    if len(answers) != len(examples) or not answers:
        raise ValueError(f"{len(answers)} answers for {len(examples)} examples")
    return float(np.mean([a == e["response"].rstrip("\n") for a, e in zip(answers, examples)]))

"""Checkers for chapter 19, Fine-tuning and parameter-efficient fine-tuning.

* 19.1 ``merge(kernel, a, b, alpha)``: the kernel a LoRA-enabled Keras layer computes with, W + (alpha / r) · A · B,
  for Dense kernels (2 axes) and EinsumDense kernels (any number of axes).
* 19.2 ``response_weights(prompt_length, text_length, length)``: the response-only loss weights of one example's
  targets (target t is character t + 1 of the text).

Each checker draws its own inputs and compares with a reference computed here; its messages say what goes wrong,
not what the right numbers are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..check import Feedback, as_array, expect, expect_callable, expect_shape, register

# ---------------------------------------------------------------------------------------------
# 19.1 The merged LoRA kernel
# ---------------------------------------------------------------------------------------------


def _lora_cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    cases = []
    for shape, rank, alpha in [((6, 5), 2, 2.0), ((8, 3), 3, 6.0), ((7, 3, 4), 2, 1.0), ((3, 4, 9), 5, 8.0)]:
        kernel = rng.normal(size=shape)
        a = rng.normal(size=(*shape[:-1], rank))
        b = rng.normal(size=(rank, shape[-1]))
        cases.append((kernel, a, b, alpha))
    return cases


@register("19.1", "the merged LoRA kernel", written_by_learner=("dlbook_utils.finetune:merged_kernel",))
def check_merge(merge: Any) -> None:
    expect_callable(merge, "merge")
    rng = np.random.default_rng(19_1)
    for kernel, a, b, alpha in _lora_cases(rng):
        rank = b.shape[0]
        what = f"merge on a kernel of shape {kernel.shape} with rank {rank} and alpha {alpha:g}"
        copies = [x.copy() for x in (kernel, a, b)]
        got = merge(kernel, a, b, alpha)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        expect(all(np.array_equal(x, c) for x, c in zip((kernel, a, b), copies)),
               "merge changed its inputs in place; return a new array")
        got = expect_shape(got, kernel.shape, what)
        expect(np.all(np.isfinite(got)), f"{what} contains NaN or infinite values")
        product = np.matmul(a, b)
        ref = kernel + (alpha / rank) * product
        if np.allclose(got, ref, rtol=1e-6, atol=1e-8):
            continue
        expect(not np.allclose(got, kernel + product), f"{what}: the update is not scaled; multiply A·B by "
               "alpha / r")
        expect(not np.allclose(got, kernel + alpha * rank * product), f"{what}: the scale is alpha / r, not "
               "alpha · r")
        expect(not np.allclose(got, kernel + (rank / alpha) * product), f"{what}: the scale is alpha / r, not "
               "r / alpha")
        expect(not np.allclose(got, (alpha / rank) * product), f"{what} returns the update alone; add the frozen "
               "kernel W to it")
        expect(not np.allclose(got, kernel), f"{what} returns the kernel unchanged; add the low-rank update")
        raise Feedback(f"{what} is not W + (alpha / r) · A · B; check which axes the product contracts (A's last "
                       "with B's first) and where r comes from (B's first axis)")


# ---------------------------------------------------------------------------------------------
# 19.2 The response-only weights
# ---------------------------------------------------------------------------------------------


def _reference_weights(prompt_length: int, text_length: int, length: int) -> np.ndarray:
    weights = np.zeros(length)
    weights[prompt_length - 1 : text_length - 1] = 1.0
    return weights


@register("19.2", "the response-only loss weights",
          written_by_learner=("dlbook_utils.finetune:response_weights", "dlbook_utils.finetune:encode_examples"))
def check_response_weights(response_weights: Any) -> None:
    expect_callable(response_weights, "response_weights")
    for prompt_length, text_length, length in [(5, 9, 12), (3, 4, 6), (10, 21, 20), (7, 15, 30), (1, 3, 4)]:
        what = (f"response_weights({prompt_length}, {text_length}, {length}) (a prompt of {prompt_length} "
                f"characters, {text_length} in all)")
        got = response_weights(prompt_length, text_length, length)
        if got is None:
            raise Feedback(f"{what} returned None: did you forget the `return`?")
        got = as_array(got, what)
        expect(got.shape == (length,), f"{what} has shape {got.shape}: one weight per target, ({length},)")
        got = expect_shape(got.astype(float), (length,), what)
        expect(np.all((got == 0) | (got == 1)), f"{what} should hold only 0s and 1s")
        ref = _reference_weights(prompt_length, text_length, length)
        if np.array_equal(got, ref):
            continue
        response = text_length - prompt_length
        expect(got.sum() == response, f"{what} gives weight to {int(got.sum())} targets, but the response has "
               f"{response} characters, and each is one target")
        expect(not np.array_equal(got, _reference_weights(prompt_length + 1, text_length + 1, length)),
               f"{what} is one position late: target t is character t + 1, so the first response character is "
               "the target of the position before it")
        expect(not np.array_equal(got, _reference_weights(prompt_length - 1, text_length - 1, length))
               if prompt_length > 1 else True,
               f"{what} is one position early: it weights the last prompt character and misses the last response "
               "character")
        raise Feedback(f"{what} weights the wrong targets: 1 exactly where the target is a response character")

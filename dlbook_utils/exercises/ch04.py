"""Checkers for chapter 04 · Neural networks with Keras.

* 04.1 ``dense_param_count(layer_sizes)``: parameters of a stack of Dense layers, by hand.
* 04.2 ``build_wide_and_deep(hidden_units)``: a Functional model with a concatenating shortcut.
* 04.3 ``BatchLossLogger``: a callback that records ``logs["loss"]`` after every training batch.
* 04.4 ``adam_update(params, grads, state, lr, beta1, beta2, eps) -> (params, state)``: one Adam step for a
  dict of arrays, checked step by step against the rule on random gradients; the usual slips (no bias
  correction, the first step counted as t = 0, ε inside the root, g instead of g², swapped β's, a state that
  is not carried) are recognised and named.

Keras is imported inside the checkers, so that importing this module stays cheap.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..check import Feedback, expect, expect_callable, expect_close, expect_shape, register

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


# ---------------------------------------------------------------------------------------------
# 04.1
# ---------------------------------------------------------------------------------------------


def _reference_param_count(sizes: list[int]) -> int:
    return int(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))


def _param_count_hint(sizes: list[int], got: Any) -> str:
    weights_only = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    biases_on_inputs = sum(a * (b + 1) for a, b in zip(sizes[:-1], sizes[1:]))
    last_layer_only = (sizes[-2] + 1) * sizes[-1]
    if got == weights_only:
        return "it looks like only the weight matrices are counted: a Dense layer has one more kind of parameter."
    if got == biases_on_inputs:
        return "check which side of the layer the biases belong to: there is one per output unit."
    if got == last_layer_only and len(sizes) > 2:
        return "only the last layer seems to be counted; add up every layer of the stack."
    return "a stack of n sizes has n - 1 layers; count each layer's parameters with the formula of section 2 and add them up."


@register("04.1", "parameters of a Dense stack")
def check_dense_param_count(answer: Any) -> None:
    expect_callable(answer, "dense_param_count")
    rng = np.random.default_rng()
    stacks = [[3, 2], [784, 256, 256, 10], [5, 1, 7]]
    stacks += [rng.integers(1, 60, size=int(rng.integers(2, 6))).tolist() for _ in range(4)]
    for sizes in stacks:
        got = answer(list(sizes))
        if isinstance(got, (np.integer, np.floating)):
            got = got.item()
        expect(
            isinstance(got, numbers.Real) and not isinstance(got, bool),
            f"dense_param_count({sizes}) returned a {type(got).__name__}; it should return a number (an int).",
        )
        expect(float(got).is_integer(), f"dense_param_count({sizes}) returned {got}, which is not a whole number.")
        expected = _reference_param_count(sizes)
        if int(got) != expected:
            raise Feedback(
                f"dense_param_count({sizes}) returned {int(got)}, which is not the parameter count of that stack. "
                f"Hint: {_param_count_hint(sizes, int(got))}"
            )


# ---------------------------------------------------------------------------------------------
# 04.2
# ---------------------------------------------------------------------------------------------


def _reference_wide_and_deep_params(hidden_units: int) -> int:
    pixels = int(np.prod(IMAGE_SHAPE))
    return (pixels + 1) * hidden_units + (pixels + hidden_units + 1) * NUM_CLASSES


def _activation_name(layer: Any) -> str:
    return str(layer.get_config().get("activation", ""))


@register("04.2", "a Functional wide-and-deep model")
def check_wide_and_deep(answer: Any) -> None:
    import keras

    expect_callable(answer, "build_wide_and_deep")
    rng = np.random.default_rng()
    for hidden_units in (int(rng.integers(11, 40)), int(rng.integers(41, 100))):
        model = answer(hidden_units)
        what = f"build_wide_and_deep({hidden_units})"
        expect(isinstance(model, keras.Model), f"{what} should return a keras.Model, not a {type(model).__name__}.")
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            inputs = None
        expect(
            bool(inputs) and len(inputs) == 1,
            f"{what} should be a Functional model with one input: start from keras.Input(shape=(28, 28)) and "
            "finish with keras.Model(inputs, outputs).",
        )
        expect(
            tuple(inputs[0].shape)[1:] == IMAGE_SHAPE,
            f"the input of {what} has shape {tuple(inputs[0].shape)}; one example should be a 28×28 image.",
        )
        expect(
            len(model.outputs) == 1 and tuple(model.outputs[0].shape)[1:] == (NUM_CLASSES,),
            f"the output of {what} has shape {[tuple(o.shape) for o in model.outputs]}; it should give "
            "one score per class for every image.",
        )
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        concat = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
        expect(len(concat) == 1, f"{what} has {len(concat)} Concatenate layers; the description has exactly one.")
        expect(
            len(dense) == 2,
            f"{what} has {len(dense)} Dense layers; the description has two (one hidden, one output).",
        )
        units = sorted(layer.units for layer in dense)
        expect(
            units == sorted([hidden_units, NUM_CLASSES]),
            f"the Dense layers of {what} have {units} units; one should have hidden_units units and the other one "
            "unit per class.",
        )
        hidden, classifier = dense
        expect(
            classifier.units == NUM_CLASSES,
            f"the last Dense layer of {what} should be the classifier, with one unit per class.",
        )
        expect(_activation_name(hidden) == "relu", "the hidden Dense layer should use the ReLU activation.")
        expect(
            _activation_name(classifier) == "softmax",
            "the output layer should turn its scores into class probabilities (which activation does that?).",
        )
        concat_width = tuple(concat[0].output.shape)[-1]
        expect(
            concat_width == int(np.prod(IMAGE_SHAPE)) + hidden_units,
            f"the Concatenate layer of {what} outputs {concat_width} features; check which two tensors go into it "
            "(the flattened pixels and the hidden layer's output).",
        )
        expected = _reference_wide_and_deep_params(hidden_units)
        got = model.count_params()
        expect(
            got == expected,
            f"{what} has {got:,} parameters, which does not match the described model; check what each Dense layer "
            "is applied to.",
        )
        images = rng.random((5, *IMAGE_SHAPE)).astype("float32")
        probs = keras.ops.convert_to_numpy(model(images, training=False))
        expect_close(probs.sum(axis=1), np.ones(5), "the sum of each image's class probabilities", rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# 04.3
# ---------------------------------------------------------------------------------------------


def _tiny_fit(callback: Any, reference: Any, *, epochs: int, rng: np.random.Generator) -> int:
    """Train a tiny softmax classifier on fresh random data; return the number of batches per epoch."""
    import keras

    n, features, classes, batch_size = int(rng.integers(40, 80)), 6, 3, 16
    x = rng.normal(size=(n, features)).astype("float32")
    y = rng.integers(0, classes, size=n)
    model = keras.Sequential([keras.Input((features,)), keras.layers.Dense(classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[callback, reference])
    return int(np.ceil(n / batch_size))


@register("04.3", "a callback that logs every batch")
def check_batch_loss_logger(answer: Any) -> None:
    import keras

    if answer is None or answer is Ellipsis:
        raise NotImplementedError
    expect(
        isinstance(answer, type) and issubclass(answer, keras.callbacks.Callback),
        "BatchLossLogger should be a class that subclasses keras.callbacks.Callback (pass the class, not an instance).",
    )

    class Reference(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    rng = np.random.default_rng()
    logger = answer()
    for epochs in (2, 1):  # the same logger twice: it must start empty at every fit
        reference = Reference()
        steps = _tiny_fit(logger, reference, epochs=epochs, rng=rng)
        losses = getattr(logger, "losses", None)
        expect(losses is not None, "after fit, your callback should have an attribute named `losses`.")
        expect(
            isinstance(losses, list),
            f"`losses` should be a Python list, but it is a {type(losses).__name__}.",
        )
        when = "in a second fit with the same callback" if epochs == 1 else "in a fit"
        expect(
            len(losses) == epochs * steps,
            f"{when} of {epochs} epoch(s) × {steps} batches your callback recorded {len(losses)} values; it should "
            "record one per training batch"
            + (", starting from an empty list at the beginning of every fit." if epochs == 1 else "."),
        )
        expect_close(
            losses, reference.losses, "the recorded losses", rtol=1e-6,
            hint="record logs['loss'] at the end of each training batch, as Keras reports it.",
        )


# ---------------------------------------------------------------------------------------------
# 04.4
# ---------------------------------------------------------------------------------------------

ADAM_DEFAULTS = {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}
_ADAM_SHAPES = {"W1": (4, 3), "b1": (3,), "W2": (3, 2)}
_ADAM_SCALES = {"W1": 1.0, "b1": 0.1, "W2": 10.0}

# Accepted forms of the rule: as written in section 8, and Keras's rearrangement, which folds the bias
# corrections into the learning rate and so adds ε to sqrt(s) rather than to sqrt(ŝ). The two differ only
# where the gradients are about as small as ε.
ACCEPTED = ("reference", "keras eps")

# Slips a learner is likely to make, each with the message that names it. Tried in this order.
ADAM_SLIPS: dict[str, str] = {
    "t from 0": "the first step contains NaN or infinite values: the bias correction divides by 1 − β₁ᵗ and "
    "1 − β₂ᵗ, which are zero if the first step is counted as t = 0. Count the steps from 1.",
    "no correction": "your steps are those of Adam without the bias correction. m and s start at zero, so their "
    "early averages are too small; divide them by 1 − β₁ᵗ and 1 − β₂ᵗ before the update.",
    "only m corrected": "only the first moment m is bias-corrected; the second moment s needs its own correction.",
    "only s corrected": "only the second moment s is bias-corrected; the first moment m needs its own correction.",
    "t stuck": "the first step is right, but later steps use the bias correction of step 1: t should count "
    "the steps taken so far and be kept in the state.",
    "state lost": "from the second step on, every step looks like a first step: m, s and t start from zero "
    "again. Return the updated state, so that the next call continues from it.",
    "v from g": "the second moment averages the gradient itself, not its square, so s can turn negative "
    "and its square root is NaN. s is a running average of g².",
    "v from |g|": "the second moment averages |g|; it should average the squared gradient g².",
    "swapped betas": "β₁ and β₂ look swapped: β₁ belongs to the average of the gradient (m), β₂ to the "
    "average of its square (s).",
    "no (1 - beta)": "the running averages add the whole new gradient; weight it by (1 − β) as in the rule, "
    "so that m and s are averages and not sums.",
    "no sqrt": "the update divides by ŝ itself; it divides by its square root (plus ε).",
    "uphill": "your steps go uphill: the update subtracts η·m̂/(√ŝ + ε) from the parameters.",
    "eps inside": "with gradients this small your steps are too short: ε is added inside the square root. "
    "Add it after the root, √ŝ + ε: inside, it sets a floor of √ε under the denominator and damps every "
    "gradient below about √ε.",
}


def _adam_gradients(rng: np.random.Generator, steps: int, scale: float) -> list[dict[str, np.ndarray]]:
    """Random gradients bounded away from zero (so that ε matters only where a case wants it to)."""
    seq = []
    for _ in range(steps):
        seq.append({
            k: scale * _ADAM_SCALES[k] * rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape)
            for k, shape in _ADAM_SHAPES.items()
        })
    return seq


def adam_steps(grads_seq: list[dict[str, np.ndarray]], *, lr: float, beta1: float, beta2: float, eps: float,
               variant: str = "reference") -> list[dict[str, np.ndarray]]:
    """The change of every parameter at every step: Adam as in section 8, or with the slip ``variant``.

    The gradients do not depend on the parameters, so the steps do not depend on where the parameters are.
    """
    if variant == "swapped betas":
        beta1, beta2 = beta2, beta1
    m = {k: np.zeros_like(g) for k, g in grads_seq[0].items()}
    s = {k: np.zeros_like(g) for k, g in grads_seq[0].items()}
    steps = []
    for n, grads in enumerate(grads_seq, start=1):
        if variant == "state lost":
            m = {k: np.zeros_like(v) for k, v in m.items()}
            s = {k: np.zeros_like(v) for k, v in s.items()}
        t = {"t from 0": n - 1, "t stuck": 1, "state lost": 1}.get(variant, n)
        step = {}
        with np.errstate(all="ignore"):
            for k, g in grads.items():
                second = {"v from g": g, "v from |g|": np.abs(g)}.get(variant, g**2)
                keep1, keep2 = (1.0, 1.0) if variant == "no (1 - beta)" else (1 - beta1, 1 - beta2)
                m[k] = beta1 * m[k] + keep1 * g
                s[k] = beta2 * s[k] + keep2 * second
                c1, c2 = 1 - beta1**t, 1 - beta2**t
                m_hat = m[k] if variant in ("no correction", "only s corrected") else m[k] / c1
                s_hat = s[k] if variant in ("no correction", "only m corrected") else s[k] / c2
                if variant == "keras eps":
                    delta = -lr * np.sqrt(c2) / c1 * m[k] / (np.sqrt(s[k]) + eps)
                elif variant == "eps inside":
                    delta = -lr * m_hat / np.sqrt(s_hat + eps)
                elif variant == "no sqrt":
                    delta = -lr * m_hat / (s_hat + eps)
                else:
                    delta = -lr * m_hat / (np.sqrt(s_hat) + eps)
                step[k] = -delta if variant == "uphill" else delta
        steps.append(step)
    return steps


def _same_steps(mine: list[dict], theirs: list[dict], lr: float) -> bool:
    """Step by step, key by key: equal within a tolerance that float32 arithmetic meets (NaN equals NaN)."""
    return all(
        np.allclose(a[k], b[k], rtol=1e-3, atol=1e-3 * lr, equal_nan=True) for a, b in zip(mine, theirs) for k in b
    )


def _learner_steps(answer: Any, grads_seq: list[dict], settings: dict | None) -> list[dict]:
    """Run the learner's adam_update along ``grads_seq``; return the change of every parameter at each step.

    Every call gets fresh parameter values (the gradients do not depend on them), so that a NaN in one step
    does not spill into the next and only the state links one call to the next.
    """
    rng = np.random.default_rng(404)
    state = None
    steps = []
    for grads in grads_seq:
        params = {k: rng.normal(size=shape) for k, shape in _ADAM_SHAPES.items()}
        params_in = {k: v.copy() for k, v in params.items()}
        grads_in = {k: v.copy() for k, v in grads.items()}
        result = answer(params_in, grads_in, state) if settings is None else answer(params_in, grads_in, state, **settings)
        expect(result is not None, "adam_update returned None: did you forget the `return`?")
        expect(
            isinstance(result, (tuple, list)) and len(result) == 2,
            f"adam_update should return a pair (new_params, new_state), but it returned a {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""),
        )
        new_params, state = result
        expect(
            isinstance(new_params, dict) and set(new_params) == set(params),
            f"the new params should be a dict with the same keys as params ({sorted(params)}), "
            f"but got {sorted(new_params) if isinstance(new_params, dict) else type(new_params).__name__}",
        )
        for k in params:
            expect(
                np.array_equal(params_in[k], params[k]) and np.array_equal(grads_in[k], grads[k]),
                "adam_update changed an array of the params or grads passed to it; leave them unchanged and "
                "return new arrays",
            )
        new = {k: expect_shape(new_params[k], _ADAM_SHAPES[k], f"new params[{k!r}]") for k in params}
        steps.append({k: new[k] - params[k] for k in params})
    return steps


def _adam_case_feedback(steps: list[dict], grads_seq: list[dict], settings: dict, what: str) -> None:
    """Pass quietly if ``steps`` follow Adam; otherwise raise Feedback that names the slip if it is a known one."""
    lr = settings["lr"]
    if any(_same_steps(steps, adam_steps(grads_seq, **settings, variant=v), lr) for v in ACCEPTED):
        return
    reference = adam_steps(grads_seq, **settings)
    candidates = dict(ADAM_SLIPS)
    if settings != ADAM_DEFAULTS:
        candidates["defaults"] = (
            "your steps are those of the default settings: use the lr, beta1, beta2 and eps passed to the function"
        )
    for slip, message in candidates.items():
        slipped = adam_steps(grads_seq, **(ADAM_DEFAULTS if slip == "defaults" else settings),
                             variant="reference" if slip == "defaults" else slip)
        if _same_steps(steps, slipped, lr) and not _same_steps(slipped, reference, lr):
            raise Feedback(f"{what}: {message}")
    bad = [not _same_steps([a], [b], lr) for a, b in zip(steps, reference)]
    first = int(np.argmax(bad))
    if not all(np.all(np.isfinite(v)) for v in steps[first].values()):
        raise Feedback(
            f"{what}: step {first + 1} contains NaN or infinite values; look for a division by zero or the square "
            "root of a negative number"
        )
    worst = max(
        float(np.max(np.abs(steps[first][k] - reference[first][k]) / (np.abs(reference[first][k]) + 1e-3 * lr)))
        for k in reference[first]
    )
    if first == 0:
        raise Feedback(
            f"{what}: the first step is off (largest relative error {worst:.2g}). With m and s starting at zero, "
            "check the two running averages, the bias correction and the update of θ against the rule"
        )
    raise Feedback(
        f"{what}: the first {first} step(s) are right, but step {first + 1} is off (largest relative error "
        f"{worst:.2g}): check what the state carries from one call to the next (m, s and the step count t)"
    )


@register("04.4", "an Adam step in NumPy")
def check_adam_update(answer: Any) -> None:
    expect_callable(answer, "adam_update")
    rng = np.random.default_rng()
    custom = {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-8}
    cases = [
        (None, 1.0, 6, "with the default settings"),
        (custom, 1.0, 6, "with lr=0.05, beta1=0.8, beta2=0.95, eps=1e-8"),
        (None, 1e-4, 4, "with the default settings and gradients of about 1e-4, where ε matters"),
    ]
    for settings, scale, n_steps, what in cases:
        grads_seq = _adam_gradients(rng, n_steps, scale)
        steps = _learner_steps(answer, grads_seq, settings)
        _adam_case_feedback(steps, grads_seq, settings or ADAM_DEFAULTS, what)

"""Measure before choosing: training-step timings and the mixed-precision decision.

Mixed precision (float16 arithmetic, float32 weights) makes convolutional and dense layers several times faster
on GPUs with tensor cores and slower on a CPU. Chapters do not guess: they time a few training steps in both
precisions on the machine they run on and use mixed precision only where it measurably helps, on a GPU (on a CPU
float32 is always kept). It works on every Keras backend (TensorFlow, JAX, PyTorch)::

    from dlbook_utils import perf
    result = perf.compare_precision(build_model, x_train[:2048], y_train[:2048], batch_size=256)
    print(result)                      # a short table: ms per step in each precision, and the choice
    perf.use_precision(result.choice)  # sets Keras's global dtype policy for the models built next

A model built for mixed precision must keep its outputs in float32 (for example
``layers.Dense(10, activation="softmax", dtype="float32")``), so that the loss is computed in full precision.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["PrecisionComparison", "gpu_available", "time_train_steps", "compare_precision", "use_precision",
           "trace_training_once"]

# compare_precision stops timing mixed precision once it has taken this many times float32's total time.
SLOW_FACTOR = 4.0


def gpu_available() -> bool:
    """True when the backend Keras runs on (TensorFlow, JAX or PyTorch) sees at least one GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return any(d.platform in ("gpu", "cuda", "rocm") for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return False


def time_train_steps(model, x, y, *, batch_size: int, steps: int = 20, warmup: int = 3,
                     max_seconds: float | None = None) -> float:
    """Seconds per training step of a compiled ``model`` on batches of ``x``/``y``, after ``warmup`` steps.

    The warm-up steps absorb tracing and compilation, which would otherwise dominate a short measurement.
    ``x`` must hold at least one batch; batches are taken in turn, cycling through the data. With
    ``max_seconds``, timing stops after the first step that brings the measured time past it (at least one
    step is always timed), and the mean is over the steps that ran.
    """
    if steps < 1 or warmup < 0:
        raise ValueError("steps must be >= 1 and warmup >= 0")
    n = len(x)
    if n < batch_size:
        raise ValueError(f"time_train_steps needs at least one batch: got {n} examples for batch_size {batch_size}")
    n_batches = n // batch_size

    def batch(i):
        j = (i % n_batches) * batch_size
        return x[j : j + batch_size], y[j : j + batch_size]

    for i in range(warmup):
        model.train_on_batch(*batch(i))
    start = time.perf_counter()
    done = 0
    for i in range(warmup, warmup + steps):
        logs = model.train_on_batch(*batch(i), return_dict=True)
        done += 1
        # train_on_batch returns Python numbers, so this step has finished when we read the clock.
        elapsed = time.perf_counter() - start
        if max_seconds is not None and elapsed > max_seconds:
            break
    if not all(np.isfinite(v) for v in logs.values()):
        raise FloatingPointError(f"the timed training steps produced non-finite values: {logs}")
    return elapsed / done


@dataclass
class PrecisionComparison:
    """Milliseconds per training step in float32 and in mixed precision, and the precision to use."""

    device: str
    float32_ms: float
    mixed_ms: float
    batch_size: int
    steps: int
    threshold: float

    @property
    def speedup(self) -> float:
        """How many times faster mixed precision is (below 1: slower)."""
        return self.float32_ms / self.mixed_ms

    @property
    def choice(self) -> str:
        """"mixed_float16" when it is at least ``threshold`` times faster on a GPU, else "float32".

        On a CPU the answer is always float32: CPUs have no fast float16 arithmetic (the backends convert to
        float32 and back, or emulate it), so a gain measured over a few steps there is noise, and a choice that
        followed it would change from run to run.
        """
        if self.device == "CPU":
            return "float32"
        return "mixed_float16" if self.speedup >= self.threshold else "float32"

    def __str__(self) -> str:
        if self.choice == "mixed_float16":
            verdict = f"mixed precision is {self.speedup:.2f}× as fast: use it"
        elif self.device == "CPU":
            verdict = (f"mixed precision is {self.speedup:.2f}× as fast; a CPU has no fast float16 arithmetic: "
                       "stay in float32")
        else:
            verdict = f"mixed precision is {self.speedup:.2f}× as fast (needs ≥ {self.threshold}×): stay in float32"
        return (
            f"training step on {self.device}, batch {self.batch_size}, mean of {self.steps} steps\n"
            f"  float32          {self.float32_ms:8.1f} ms\n"
            f"  mixed_float16    {self.mixed_ms:8.1f} ms\n"
            f"  → {verdict}"
        )

    __repr__ = __str__


def use_precision(policy: str) -> None:
    """Set Keras's global dtype policy ("float32" or "mixed_float16") for the layers built from now on."""
    import keras

    if policy not in ("float32", "mixed_float16"):
        raise ValueError(f"policy must be 'float32' or 'mixed_float16', not {policy!r}")
    keras.mixed_precision.set_global_policy(policy)


def compare_precision(
    build: Callable[[], object],
    x,
    y,
    *,
    batch_size: int = 256,
    steps: int = 20,
    warmup: int = 3,
    compile_kwargs: dict | None = None,
    threshold: float = 1.15,
) -> PrecisionComparison:
    """Time ``steps`` training steps of ``build()`` in float32 and in mixed_float16 on this machine.

    ``build`` returns a fresh, uncompiled Keras model (with float32 outputs); it is called once per precision
    under that global policy. The global policy is restored afterwards. ``compile_kwargs`` default to Adam and
    sparse categorical cross-entropy. Mixed precision is chosen only when it is at least ``threshold`` times
    faster, since a smaller gain is within the noise of a short measurement. Float32 is timed first; the mixed
    precision timing stops early once it has used ``SLOW_FACTOR`` times float32's measured time (on a CPU, where
    float16 is emulated, a step can be fifty times slower, and a few steps already settle the question).
    """
    import keras

    compile_kwargs = compile_kwargs or {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}
    before = keras.mixed_precision.global_policy().name
    timings = {}
    try:
        for policy in ("float32", "mixed_float16"):
            keras.mixed_precision.set_global_policy(policy)
            model = build()
            kwargs = dict(compile_kwargs)
            if isinstance(kwargs.get("optimizer"), keras.optimizers.Optimizer):
                kwargs["optimizer"] = kwargs["optimizer"].__class__.from_config(kwargs["optimizer"].get_config())
            model.compile(**kwargs)
            budget = None if policy == "float32" else SLOW_FACTOR * steps * timings["float32"]
            timings[policy] = time_train_steps(model, x, y, batch_size=batch_size, steps=steps, warmup=warmup,
                                               max_seconds=budget)
    finally:
        keras.mixed_precision.set_global_policy(before)
    device = "GPU" if gpu_available() else "CPU"
    return PrecisionComparison(
        device=device,
        float32_ms=1000 * timings["float32"],
        mixed_ms=1000 * timings["mixed_float16"],
        batch_size=batch_size,
        steps=steps,
        threshold=threshold,
    )


def _optimizer_ready_before_tracing(model) -> None:
    """Build ``model``'s optimizer for its trainable variables now, if they all exist and it is not built yet."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or getattr(optimizer, "built", True) or not model.built:
        return
    if not all(layer.built for layer in model._flatten_layers(include_self=False)):
        return          # a layer still creates its weights on the first call: leave it all to Keras
    optimizer.build(model.trainable_variables)


def trace_training_once(enabled: bool = True) -> bool:
    """On the TensorFlow backend, have ``fit`` and ``train_on_batch`` trace the training step once instead of twice.

    Keras 3 on TensorFlow (without a distribution strategy) creates the optimizer's variables, Adam's moments for
    example, inside the first trace of the training step. A ``tf.function`` whose first trace creates variables
    is traced a second time, so every newly compiled model pays for tracing its step twice: on a small network
    that is seconds, more than the training itself in quick mode. With this switched on, the optimizer is built
    for the model's trainable variables just before the training step is made (what Keras itself does when it
    runs under a distribution strategy), provided every layer already has its weights; the step is then traced
    once. What is computed is unchanged (a unit test compares the weights after training both ways).
    ``dlbook_utils.setup`` switches it on; ``enabled=False`` restores Keras's own behaviour. Returns whether the
    switch is on; on other backends, which compile the step once anyway, it does nothing and returns False.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    try:
        from keras.src.backend.tensorflow.trainer import TensorFlowTrainer
    except ImportError:  # pragma: no cover - a Keras without this module: keep its behaviour
        return False
    current = TensorFlowTrainer.make_train_function
    original = getattr(current, "_dlbook_original", current)
    if not enabled:
        TensorFlowTrainer.make_train_function = original
        return False
    if current is not original:
        return True

    def make_train_function(self, force=False):
        if self._distribute_strategy is None and (force or self.train_function is None):
            _optimizer_ready_before_tracing(self)
        return original(self, force=force)

    make_train_function._dlbook_original = original
    make_train_function.__doc__ = original.__doc__
    TensorFlowTrainer.make_train_function = make_train_function
    return True

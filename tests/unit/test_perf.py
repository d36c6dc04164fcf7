"""dlbook_utils.perf: step timings and the measured mixed-precision choice."""

from __future__ import annotations


import keras
import numpy as np
import pytest

from dlbook_utils import perf

pytestmark = pytest.mark.backends   # also run in make test's JAX pass


def _build():
    return keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dense(3, activation="softmax", dtype="float32")])


def _data(n=256):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 16)).astype("float32"), rng.integers(0, 3, size=n)


def test_time_train_steps_is_positive_and_trains():
    x, y = _data()
    model = _build()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    seconds = perf.time_train_steps(model, x, y, batch_size=64, steps=3, warmup=1)
    assert seconds > 0
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights())), "the steps must update weights"


def test_time_train_steps_stops_at_its_time_budget(monkeypatch):
    """A fake clock that advances 0.05 s per step: the budget decides on measured time, not on the machine."""
    x, y = _data()
    model = _build()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    clock = [100.0]
    monkeypatch.setattr(perf.time, "perf_counter", lambda: clock[0])
    calls = []
    step = model.train_on_batch

    def slow_step(*args, **kwargs):
        calls.append(1)
        clock[0] += 0.05
        return step(*args, **kwargs)

    model.train_on_batch = slow_step
    seconds = perf.time_train_steps(model, x, y, batch_size=64, steps=50, warmup=1, max_seconds=0.12)
    assert len(calls) - 1 == 3, "timing stops after the first step that passes the budget (0.15 s > 0.12 s)"
    assert seconds == pytest.approx(0.05), "the mean is over the steps that ran"


def test_time_train_steps_refuses_too_little_data():
    x, y = _data(10)
    model = _build()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="at least one batch"):
        perf.time_train_steps(model, x, y, batch_size=64)


def test_compare_precision_measures_both_and_restores_the_policy():
    x, y = _data()
    keras.mixed_precision.set_global_policy("float32")
    seen = []

    def build():
        seen.append(keras.mixed_precision.global_policy().name)
        return _build()

    result = perf.compare_precision(build, x, y, batch_size=64, steps=2, warmup=1)
    assert seen == ["float32", "mixed_float16"]
    assert keras.mixed_precision.global_policy().name == "float32"
    assert result.float32_ms > 0 and result.mixed_ms > 0
    assert result.device == ("GPU" if perf.gpu_available() else "CPU")
    assert "float32" in str(result) and "mixed_float16" in str(result)


def test_the_choice_follows_the_measured_speedup():
    fast = perf.PrecisionComparison("GPU", float32_ms=30.0, mixed_ms=10.0, batch_size=256, steps=20, threshold=1.15)
    slow = perf.PrecisionComparison("CPU", float32_ms=10.0, mixed_ms=25.0, batch_size=256, steps=20, threshold=1.15)
    marginal = perf.PrecisionComparison("GPU", float32_ms=11.0, mixed_ms=10.0, batch_size=256, steps=20, threshold=1.15)
    assert fast.speedup == pytest.approx(3.0) and fast.choice == "mixed_float16" and "use it" in str(fast)
    assert slow.choice == "float32" and "stay in float32" in str(slow)
    assert marginal.choice == "float32"
    cpu = perf.PrecisionComparison("CPU", float32_ms=13.1, mixed_ms=9.0, batch_size=32, steps=2, threshold=1.15)
    assert cpu.choice == "float32" and "a CPU has no fast float16" in str(cpu), "a CPU keeps float32 whatever it measured"


def test_use_precision_sets_and_validates():
    try:
        perf.use_precision("mixed_float16")
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
        with pytest.raises(ValueError):
            perf.use_precision("float16")
    finally:
        perf.use_precision("float32")


def _count_traces_and_train(model, x, y):
    """Train one epoch; return (how many times the training step was traced, the weights after training)."""
    traces = []
    original = model.train_step

    def counting_train_step(data):       # runs in Python only while the step is being traced
        traces.append(1)
        return original(data)

    model.train_step = counting_train_step
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    return len(traces), model.get_weights()


def _compiled(seed=0):
    keras.utils.set_random_seed(seed)
    model = _build()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture
def restore_trainer():
    if keras.backend.backend() != "tensorflow":
        yield
        return
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer
    saved = TensorFlowTrainer.make_train_function
    yield
    TensorFlowTrainer.make_train_function = saved


def test_trace_training_once_halves_tracing_and_changes_nothing_computed(restore_trainer):
    x, y = _data()
    if keras.backend.backend() != "tensorflow":
        assert perf.trace_training_once() is False       # JAX compiles the step once anyway: nothing to change
        return
    assert perf.trace_training_once(enabled=False) is False
    keras_traces, keras_weights = _count_traces_and_train(_compiled(), x, y)
    assert perf.trace_training_once() is True
    assert perf.trace_training_once() is True           # a second call does not wrap the wrapper
    once_traces, once_weights = _count_traces_and_train(_compiled(), x, y)
    assert keras_traces == 2, "Keras on TensorFlow traces a new model's step twice (the reason for the switch)"
    assert once_traces == 1
    for a, b in zip(keras_weights, once_weights):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_trace_training_once_leaves_lazily_built_models_to_keras(restore_trainer):
    class Lazy(keras.Model):                             # its Dense layers create their weights on the first call
        def __init__(self):
            super().__init__()
            self.hidden, self.out = keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)

        def call(self, x):
            return self.out(self.hidden(x))

    perf.trace_training_once()
    keras.utils.set_random_seed(0)
    model = Lazy()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _data(128)
    history = model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    assert len(model.optimizer.variables) > 2 and np.isfinite(history.history["loss"]).all()

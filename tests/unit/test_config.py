import numpy as np
import pytest

import dlbook_utils
from dlbook_utils.config import ModeError, RunConfig, get_mode

pytestmark = pytest.mark.backends   # also run in make test's JAX pass


def test_default_mode_is_full(monkeypatch):
    monkeypatch.delenv("DLBOOK_MODE", raising=False)
    assert get_mode() == "full"
    monkeypatch.setenv("DLBOOK_MODE", "")
    assert get_mode() == "full"


def test_quick_mode_is_read_and_normalised(monkeypatch):
    monkeypatch.setenv("DLBOOK_MODE", " Quick ")
    assert get_mode() == "quick"


def test_unknown_mode_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DLBOOK_MODE", "fast")
    with pytest.raises(ModeError) as err:
        get_mode()
    assert "'fast'" in str(err.value) and "full" in str(err.value) and "quick" in str(err.value)
    with pytest.raises(ModeError):
        dlbook_utils.setup(verbose=False)


def test_pick_follows_the_mode():
    assert RunConfig(mode="full", seed=0).pick(full=10, quick=2) == 10
    assert RunConfig(mode="quick", seed=0).pick(full=10, quick=2) == 2
    with pytest.raises(TypeError):
        RunConfig(mode="full", seed=0).pick(10, 2)  # keywords only, so full/quick cannot be swapped


def test_setup_reports_mode_backend_versions_and_device(capsys):
    import keras

    cfg = dlbook_utils.setup(chapter="07", mode="quick")
    out = capsys.readouterr().out
    assert "Chapter 07" in out and "run mode: quick" in out
    backend = keras.backend.backend()
    assert f"({backend} backend)" in cfg.versions["Keras"] and f"({backend} backend)" in out
    library = {"tensorflow": "TensorFlow", "jax": "JAX"}[backend]
    assert library in cfg.versions and library in out and "device:" in out
    if backend == "jax":
        assert "TensorFlow" not in cfg.versions, "only the backend Keras uses is asked for its devices"
    assert cfg.device.startswith(("CPU", "GPU"))
    assert cfg.quick and not cfg.full


def test_jax_is_started_without_taking_a_whole_gpu_and_around_its_cpu_bug(monkeypatch):
    from dlbook_utils import config

    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    versions = {"jaxlib": "0.8.1"}
    monkeypatch.setattr("importlib.metadata.version", lambda name: versions[name])
    config._prepare_jax_environment()
    assert config.os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert config.os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_cpu_use_xnnpack=false"
    config._prepare_jax_environment()
    assert config.os.environ["XLA_FLAGS"].count("xnnpack") == 1, "added once"
    monkeypatch.setenv("XLA_FLAGS", "")
    versions["jaxlib"] = "0.8.3"
    config._prepare_jax_environment()
    assert config.os.environ["XLA_FLAGS"] == "", "a jaxlib without the bug keeps its defaults"


def test_setup_rejects_a_badly_written_chapter():
    with pytest.raises(ValueError, match="two-digit"):
        dlbook_utils.setup(chapter="7", verbose=False)


def test_setup_seeds_numpy_and_keras():
    import keras

    dlbook_utils.setup(seed=3, verbose=False)
    a = np.random.rand(3), keras.ops.convert_to_numpy(keras.random.uniform((3,)))
    dlbook_utils.setup(seed=3, verbose=False)
    b = np.random.rand(3), keras.ops.convert_to_numpy(keras.random.uniform((3,)))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    dlbook_utils.setup(seed=4, verbose=False)
    assert not np.array_equal(np.random.rand(3), a[0])


def test_record_needs_a_chapter(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_METRICS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="chapter"):
        RunConfig(mode="quick", seed=0).record("acc", 0.5)
    entry = RunConfig(mode="quick", seed=0, chapter="02").record("acc", 0.5, target=0.9)
    assert entry["met"] is False and (tmp_path / "02.json").exists()


def test_setup_drops_only_tensorflows_retracing_warnings(caplog):
    import logging

    dlbook_utils.setup(verbose=False)
    dlbook_utils.setup(verbose=False)  # a second call adds no second filter
    logger = logging.getLogger("tensorflow")
    assert sum(type(f).__name__ == "_DropRetracingWarnings" for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        logger.warning("5 out of the last 5 calls to <function f> triggered tf.function retracing. Tracing is expensive")
        logger.warning("something else worth seeing")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["something else worth seeing"]


def test_onednn_is_switched_off_only_on_amd_cpus():
    from dlbook_utils import _onednn_setting

    assert _onednn_setting("AuthenticAMD") == "0"
    assert _onednn_setting(" AuthenticAMD\n") == "0"
    assert _onednn_setting("GenuineIntel") is None          # TensorFlow's default
    assert _onednn_setting(None) is None and _onednn_setting("") is None   # not Linux, or an ARM CPU

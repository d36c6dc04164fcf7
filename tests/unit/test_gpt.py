"""Unit tests for dlbook_utils.gpt (chapter 17's GPT, sampling, key/value cache and cached model)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

pytestmark = pytest.mark.backends   # also run in make test's JAX pass

from dlbook_utils import gpt  # noqa: E402

from tests.conftest import ROOT, load_nb  # noqa: E402

NOTEBOOK = ROOT / "chapters" / "17_building_a_gpt.ipynb"
CHARS = "\n !abcdefgh"


@pytest.mark.parametrize("obj", [gpt.gpt_model, gpt.RandomWindows, gpt.steps_per_evaluation, gpt.train_gpt,
                                 gpt.top_k_filter, gpt.top_p_filter, gpt.sample_next, gpt.cached_block_step])
def test_the_chapter_shows_the_package_code(obj):
    sources = ["".join(c["source"]) for c in load_nb(NOTEBOOK)["cells"] if c["cell_type"] == "code"]
    code = inspect.getsource(obj).rstrip("\n")
    assert any(code in source for source in sources), f"chapter 17 should show {obj.__name__} as in the package"


def test_characters_round_trip():
    chars = gpt.vocabulary("hello world\n")
    assert chars == "\n dehlorw"
    ids = gpt.encode("hello", chars)
    assert ids.dtype == np.int32 and gpt.decode(ids, chars) == "hello"
    with pytest.raises(ValueError):
        gpt.encode("hello!", chars)
    with pytest.raises(ValueError):
        gpt.vocabulary("")


def _tiny(seed=0, context=16):
    keras.utils.set_random_seed(seed)
    return gpt.gpt_model(len(CHARS), context, dim=16, blocks=2, heads=2)


def test_model_shapes_and_causality():
    model = _tiny()
    ids = np.random.default_rng(0).integers(0, len(CHARS), (2, 10)).astype("int32")
    logits = keras.ops.convert_to_numpy(model(ids))
    assert logits.shape == (2, 10, len(CHARS))
    changed = ids.copy()
    changed[:, 6:] = (changed[:, 6:] + 1) % len(CHARS)
    after = keras.ops.convert_to_numpy(model(changed))
    np.testing.assert_allclose(logits[:, :6], after[:, :6], atol=1e-5)
    assert np.abs(logits[:, 6:] - after[:, 6:]).max() > 1e-4
    assert 0 < gpt.non_embedding_params(model) < model.count_params()


def test_windows():
    ids = np.arange(100, dtype=np.int32)
    x, y = gpt.RandomWindows(ids, 8, batch_size=4, steps=3, seed=1)[0]
    assert x.shape == y.shape == (4, 8)
    np.testing.assert_array_equal(y, x + 1)
    vx, vy = gpt.validation_windows(ids, 10)
    assert vx.shape == (9, 10) and vx[1, 0] == 10
    np.testing.assert_array_equal(vy, vx + 1)
    assert gpt.validation_windows(ids, 10, limit=3)[0].shape == (3, 10)
    with pytest.raises(ValueError):
        gpt.RandomWindows(ids[:5], 8, 4, 3)


def test_top_k_and_top_p():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    kept = np.isfinite(gpt.top_k_filter(logits, 2))
    np.testing.assert_array_equal(kept, [[True, True, False, False]])
    np.testing.assert_array_equal(gpt.top_k_filter(logits, None), logits)
    np.testing.assert_array_equal(np.isfinite(gpt.top_p_filter(logits, 0.6)), [[True, True, False, False]])
    np.testing.assert_array_equal(np.isfinite(gpt.top_p_filter(logits, 0.5)), [[True, False, False, False]])
    np.testing.assert_array_equal(np.isfinite(gpt.top_p_filter(logits, 0.01)), [[True, False, False, False]])
    assert np.isfinite(gpt.top_p_filter(logits, 1.0)).all()
    shuffled = logits[:, ::-1]
    np.testing.assert_array_equal(np.isfinite(gpt.top_p_filter(shuffled, 0.6)), [[False, False, True, True]])
    for bad in (lambda: gpt.top_k_filter(logits, 0), lambda: gpt.top_p_filter(logits, 0.0)):
        with pytest.raises(ValueError):
            bad()


def test_sample_next_follows_the_distribution():
    rng = np.random.default_rng(0)
    logits = np.tile(np.log(np.array([0.6, 0.3, 0.1])), (20_000, 1))
    picks = gpt.sample_next(logits, rng)
    np.testing.assert_allclose(np.bincount(picks, minlength=3) / len(picks), [0.6, 0.3, 0.1], atol=0.015)
    assert set(gpt.sample_next(logits[:2000], rng, top_k=1)) == {0}
    assert set(gpt.sample_next(logits[:2000], rng, top_p=0.8)) == {0, 1}
    assert np.all(gpt.sample_next(logits[:5], rng, temperature=0) == 0)
    cold = gpt.sample_next(logits[:5000], rng, temperature=0.25)
    assert np.mean(cold == 0) > 0.9


def test_kv_cache_matches_recomputation_and_generation_agrees():
    model = _tiny(1)
    ids = np.random.default_rng(2).integers(0, len(CHARS), (3, 12)).astype("int32")
    full = np.asarray(model.predict(ids, verbose=0))
    decoder = gpt.KVCacheDecoder(model)
    np.testing.assert_allclose(decoder.logits(ids), full, atol=1e-4)
    greedy = lambda logits: np.argmax(logits, axis=-1)  # noqa: E731
    cached = decoder.generate(ids[:, :3], 8, greedy)
    recomputed = gpt.recompute_generate(model, ids[:, :3], 8, greedy, bucket=4)
    assert cached.shape == (3, 11)
    np.testing.assert_array_equal(cached, recomputed)
    long = decoder.generate(ids[:, :3], 40, greedy)          # beyond the context of 16: the cache restarts
    assert long.shape == (3, 43)
    np.testing.assert_array_equal(long[:, :11], cached)
    with pytest.raises(ValueError):
        gpt.recompute_generate(model, ids[:, :3], 14, greedy)


def test_power_law_fit():
    x = np.array([1e3, 1e4, 1e5, 1e6])
    a, b = gpt.fit_power_law(x, 5.0 * x ** -0.3)
    assert a == pytest.approx(5.0) and b == pytest.approx(-0.3)
    with pytest.raises(ValueError):
        gpt.fit_power_law([1.0], [2.0])


def test_cached_model_is_saved_and_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    model = _tiny(3)
    path = gpt.save_shakespeare_gpt(model, mode="quick")
    assert path == gpt.shakespeare_gpt_path("quick") and path.exists()
    loaded = keras.models.load_model(path)
    ids = np.arange(8, dtype="int32")[None] % len(CHARS)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(ids)), keras.ops.convert_to_numpy(model(ids)),
                               atol=1e-6)


def test_shakespeare_gpt_trains_once_caches_and_loads(monkeypatch, tmp_path):
    from dlbook_utils import data

    real = data.data_path("tiny_shakespeare")
    link = tmp_path / real.relative_to(data.cache_dir())
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    small = {**gpt.RECIPE["quick"], "tokens": 4_096, "evaluations": 1}
    monkeypatch.setitem(gpt.RECIPE, "quick", small)
    model, chars = gpt.shakespeare_gpt(mode="quick")
    assert gpt.shakespeare_gpt_path("quick").exists() and len(chars) == 65
    assert model.output_shape[-1] == len(chars)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached model must be loaded, not trained again")

    monkeypatch.setattr(gpt, "train_gpt", no_training)
    loaded, _ = gpt.shakespeare_gpt(mode="quick")
    ids = gpt.encode("ROMEO:", chars)[None]
    np.testing.assert_allclose(np.asarray(loaded.predict(ids, verbose=0)), np.asarray(model.predict(ids, verbose=0)),
                               atol=1e-5)

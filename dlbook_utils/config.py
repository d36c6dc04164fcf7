"""Run configuration: the book's two run modes, seeding and the device summary.

Every chapter starts with::

    cfg = dlbook_utils.setup(chapter="03")

which reads ``DLBOOK_MODE`` (``full``, the default, or ``quick``), seeds Python, NumPy and
Keras, keeps the backend from claiming a whole GPU (TensorFlow's memory growth, JAX without
preallocation), prints one short block saying where and how the notebook runs (with Keras's
backend and its device), and returns a :class:`RunConfig`.  Chapters then size their experiments with
``cfg.pick(full=..., quick=...)``.
"""

from __future__ import annotations

import logging
import os
import platform
import random
import sys
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

MODES = ("full", "quick")
DEFAULT_MODE = "full"
DEFAULT_SEED = 42

T = TypeVar("T")


class ModeError(ValueError):
    """Raised when ``DLBOOK_MODE`` holds something other than ``full`` or ``quick``."""


def get_mode(value: str | None = None) -> str:
    """Return the run mode, from ``value`` or else the ``DLBOOK_MODE`` environment variable.

    Blank or unset means ``full``.  Anything else that is not a known mode is an error
    rather than a silent fallback, so a typo never runs the wrong experiment.
    """
    raw = os.environ.get("DLBOOK_MODE", "") if value is None else value
    mode = raw.strip().lower() or DEFAULT_MODE
    if mode not in MODES:
        raise ModeError(
            f"Unknown run mode {raw!r} (from {'DLBOOK_MODE' if value is None else 'the mode argument'}). "
            f"Use one of: {', '.join(MODES)}. 'full' is what the book shows; 'quick' runs the same "
            "cells on less data for tests."
        )
    return mode


def on_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


@dataclass(frozen=True)
class RunConfig:
    """How this notebook runs: the mode, the seed and where the maths happens."""

    mode: str
    seed: int
    chapter: str | None = None
    device: str = "CPU"
    colab: bool = False
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    @property
    def full(self) -> bool:
        return self.mode == "full"

    def pick(self, *, full: T, quick: T) -> T:
        """Return ``full`` in full mode and ``quick`` in quick mode."""
        return full if self.mode == "full" else quick

    def record(self, name: str, value: float, **kwargs: Any) -> dict[str, Any]:
        """Record a headline metric of this chapter (see :func:`dlbook_utils.metrics.record`)."""
        from . import metrics

        if self.chapter is None:
            raise ValueError("record() needs the chapter: call setup(chapter='NN') first.")
        return metrics.record(self.chapter, name, value, mode=self.mode, **kwargs)

    def summary(self) -> str:
        """The block that ``setup`` prints at the top of every notebook."""
        where = "Google Colab" if self.colab else "local Python"
        head = f"Chapter {self.chapter}" if self.chapter else "dlbook"
        if self.quick:
            mode_line = "quick (less data, fewer epochs; targets are for full)"
        else:
            mode_line = "full (the book's settings and targets)"
        versions = " · ".join(f"{k} {v}" for k, v in self.versions.items())
        return "\n".join(
            [
                f"{head} · run mode: {mode_line}",
                f"{versions}",
                f"device: {self.device} · running on: {where} · seed: {self.seed}",
            ]
        )


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import keras
    except ImportError:  # pragma: no cover - the book always has Keras
        return
    keras.utils.set_random_seed(seed)


def _keras_backend() -> str:
    """The backend Keras will use: ``KERAS_BACKEND``, else Keras's own choice (read without importing TensorFlow)."""
    try:
        import keras
    except ImportError:  # pragma: no cover - the book always has Keras
        return os.environ.get("KERAS_BACKEND", "tensorflow") or "tensorflow"
    return keras.backend.backend()


def _cpu() -> str:
    return f"CPU ({os.cpu_count()} cores)"


def _tensorflow_device(versions: dict[str, str]) -> str:
    try:
        import tensorflow as tf
    except ImportError:
        return _cpu()
    versions["TensorFlow"] = tf.__version__
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            # Memory growth must be set before the GPU is first used; a second
            # setup() in the same kernel lands here and changes nothing.
            pass
    if not gpus:
        return _cpu()
    names = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus]
    return "GPU: " + ", ".join(names)


# jaxlib releases whose CPU backend computes wrong results when a compiled training step reuses the memory of its
# inputs (buffer donation, which Keras's JAX trainer uses): its XNNPACK code path. Measured on this book's chapters:
# a Fashion-MNIST MLP that trains to 75% accuracy evaluates at 28% with the weights it ends with.
JAXLIB_CPU_XNNPACK_BUG = ("0.7.2", "0.8.0", "0.8.1")


def _prepare_jax_environment() -> None:
    """Settings JAX reads once, when it first starts its backends (so before the first ``jax.devices()``).

    * ``XLA_PYTHON_CLIENT_PREALLOCATE=false``: JAX's counterpart of TensorFlow's memory growth; without it JAX
      takes 75% of a GPU's memory at start-up, and a second notebook on the same GPU runs out.
    * On a jaxlib with the CPU bug above, ``--xla_cpu_use_xnnpack=false`` in ``XLA_FLAGS`` (it changes only the
      CPU backend).
    """
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        from importlib.metadata import version

        jaxlib_version = version("jaxlib")
    except Exception:  # noqa: BLE001 - no jaxlib metadata: nothing to work around
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if jaxlib_version in JAXLIB_CPU_XNNPACK_BUG and "xla_cpu_use_xnnpack" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_use_xnnpack=false".strip()


def _jax_device(versions: dict[str, str]) -> str:
    _prepare_jax_environment()
    import jax

    versions["JAX"] = jax.__version__
    accelerators = [d for d in jax.devices() if d.platform != "cpu"]
    if not accelerators:
        return _cpu()
    kind = "GPU" if accelerators[0].platform in ("gpu", "cuda", "rocm") else accelerators[0].platform.upper()
    return f"{kind}: " + ", ".join(d.device_kind for d in accelerators)


def _torch_device(versions: dict[str, str]) -> str:
    import torch

    versions["PyTorch"] = torch.__version__
    if not torch.cuda.is_available():
        return _cpu()
    return "GPU: " + ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def _device_and_versions() -> tuple[str, dict[str, str]]:
    """The device the backend computes on and the versions of what runs the notebook.

    Only the backend Keras uses is asked (and imported): TensorFlow turns on memory growth for its GPUs, JAX is
    started without taking the whole GPU (:func:`_prepare_jax_environment`).
    """
    versions = {"Python": platform.python_version()}
    backend = _keras_backend()
    if backend == "jax":
        device = _jax_device(versions)
    elif backend == "torch":
        device = _torch_device(versions)
    elif backend == "tensorflow":
        device = _tensorflow_device(versions)
    else:
        device = _cpu()
    try:
        import keras

        versions["Keras"] = f"{keras.__version__} ({keras.backend.backend()} backend)"
    except ImportError:  # pragma: no cover
        pass
    return device, versions


def setup(
    chapter: str | None = None,
    *,
    seed: int = DEFAULT_SEED,
    mode: str | None = None,
    verbose: bool = True,
) -> RunConfig:
    """Prepare a chapter to run: mode, seeds, GPU memory, and a short report (backend, versions, device).

    Parameters
    ----------
    chapter:
        The chapter number as a string (``"03"``); used to label the report and metrics.
    seed:
        Seed for Python's ``random``, NumPy and Keras (and so the backend's random numbers).
    mode:
        Overrides ``DLBOOK_MODE`` when given.
    verbose:
        Print the summary block (default ``True``).
    """
    if chapter is not None and not (isinstance(chapter, str) and chapter.isdigit() and len(chapter) == 2):
        raise ValueError(f"chapter must be a two-digit string such as '03', not {chapter!r}")
    resolved = get_mode(mode)
    device, versions = _device_and_versions()
    _seed_everything(seed)
    _quiet_retracing_warnings()
    _trace_training_once()
    _style_plots()
    cfg = RunConfig(
        mode=resolved, seed=seed, chapter=chapter, device=device, colab=on_colab(), versions=versions
    )
    if verbose:
        print(cfg.summary())
    return cfg


class _DropRetracingWarnings(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warnings: harmless here, and noise on a page."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def _trace_training_once() -> None:
    """TensorFlow backend: each new model's training step is traced once, not twice (``perf.trace_training_once``)."""
    if _keras_backend() == "tensorflow":
        from dlbook_utils import perf

        perf.trace_training_once()


def _quiet_retracing_warnings() -> None:
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _DropRetracingWarnings) for f in logger.filters):
        logger.addFilter(_DropRetracingWarnings())


#: Figures are shown at 100 dpi and drawn at up to twice that, for high-density screens, but never wider than
#: this many pixels: the website's text column is about 760 px wide, so a wider figure is only shrunk.
FIGURE_MAX_PIXELS = 1600


def _style_plots() -> None:
    try:
        import matplotlib as mpl
    except ImportError:  # pragma: no cover
        return
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "figure.figsize": (6.4, 4.0),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            # The book's images are small arrays (28 × 28 digits, feature maps, weight and attention maps)
            # drawn larger: show their pixels as they are. Matplotlib's default smooths an enlargement below
            # three times, which blurs them and makes the PNGs two to three times heavier.
            "image.interpolation": "nearest",
        }
    )
    _sharp_inline_figures()


def _png_for_screens(fig) -> tuple[bytes, dict[str, int]] | None:
    """A figure as PNG, drawn at up to twice its display resolution (capped at FIGURE_MAX_PIXELS wide), with
    the display size in the metadata, so notebooks and the website show it at its usual size, sharp."""
    from IPython.core.pylabtools import print_figure

    dpi = max(fig.dpi, min(2 * fig.dpi, FIGURE_MAX_PIXELS / fig.get_figwidth()))
    data = print_figure(fig, "png", dpi=dpi)
    if not data:  # an empty figure shows nothing, as with IPython's own formatter
        return None
    data = _compact_png(data)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # the PNG header
    scale = fig.dpi / dpi
    return data, {"width": round(width * scale), "height": round(height * scale)}


def _compact_png(data: bytes) -> bytes:
    """The same pixels in a smaller PNG: without Matplotlib's alpha channel when every pixel is opaque, and with
    a palette when the figure has at most 256 colours (most line plots and grids do). Lossless; on the book's
    figures it saves about 13%."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if image.mode == "RGBA" and image.getextrema()[3][0] == 255:
        image = image.convert("RGB")
    if image.mode == "RGB" and image.getcolors(256):
        rgb = np.asarray(image, dtype=np.uint32)
        colours, index = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2], return_inverse=True)
        paletted = Image.frombytes("P", image.size, index.astype(np.uint8).tobytes())
        paletted.putpalette(np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], 1).astype(np.uint8).tobytes())
        image = paletted
    elif image.mode == "RGBA":
        return data
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _sharp_inline_figures() -> None:
    """In a notebook kernel (Jupyter, Colab, nbval, the book build), show figures through _png_for_screens."""
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - outside IPython there is nothing to do
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    import matplotlib

    if "inline" not in matplotlib.get_backend():  # another backend (ipympl, a GUI) shows figures its own way
        return
    # Matplotlib loads its backend when the first figure is made, and the inline backend then registers its
    # own PNG formatter: load it now (no figure is open yet), so that ours comes after it and stays.
    import matplotlib.pyplot as plt

    plt.switch_backend(matplotlib.get_backend())
    shell.display_formatter.formatters["image/png"].for_type(Figure, _png_for_screens)

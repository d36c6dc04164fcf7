"""Run configuration: the book's two run modes, seeding and the device summary.

Every chapter starts with::

    cfg = dlbook_utils.setup(chapter="03")

which reads ``DLBOOK_MODE`` (``full``, the default, or ``quick``), seeds Python, NumPy and
Keras, turns on GPU memory growth, prints one short block saying where and how the notebook
runs, and returns a :class:`RunConfig`.  Chapters then size their experiments with
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


def _device_and_versions() -> tuple[str, dict[str, str]]:
    versions = {"Python": platform.python_version()}
    device = f"CPU ({os.cpu_count()} cores)"
    try:
        import tensorflow as tf
    except ImportError:
        tf = None
    if tf is not None:
        versions["TensorFlow"] = tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                # Memory growth must be set before the GPU is first used; a second
                # setup() in the same kernel lands here and changes nothing.
                pass
        if gpus:
            names = []
            for gpu in gpus:
                details = tf.config.experimental.get_device_details(gpu)
                names.append(details.get("device_name", gpu.name))
            device = "GPU: " + ", ".join(names)
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
    """Prepare a chapter to run: mode, seeds, GPU memory growth, and a short report.

    Parameters
    ----------
    chapter:
        The chapter number as a string (``"03"``); used to label the report and metrics.
    seed:
        Seed for Python's ``random``, NumPy and Keras (and so TensorFlow).
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


def _quiet_retracing_warnings() -> None:
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _DropRetracingWarnings) for f in logger.filters):
        logger.addFilter(_DropRetracingWarnings())


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
        }
    )

"""dlbook_utils: the small helper library shared by the chapters of the book.

* :func:`setup` — run mode (``DLBOOK_MODE=full|quick``), seeds, device report; returns a :class:`RunConfig`.
* :mod:`dlbook_utils.data` — the data registry (sources, checksums, licences) and loaders.
* :mod:`dlbook_utils.plots` — learning curves, image grids, confusion matrices, decision boundaries.
* :mod:`dlbook_utils.check` — automatic checks for the exercises.
* :mod:`dlbook_utils.student` and :mod:`dlbook_utils.grade` — student versions and grading.
* :mod:`dlbook_utils.metrics` — record each chapter's headline numbers.
* :mod:`dlbook_utils.autodiff` — gradients and custom training steps on whichever backend Keras runs on.
* :mod:`dlbook_utils.backends` — the chapters that run on TensorFlow only, and the tests' JAX pass.
"""

from __future__ import annotations

import os as _os

# Importing the package before TensorFlow keeps TensorFlow's C++ start-up log (for example the
# "failed call to cuInit" line on machines without a GPU) out of every notebook's output.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _onednn_setting(cpu_vendor: str | None) -> str | None:
    """The ``TF_ENABLE_ONEDNN_OPTS`` value the book sets on a CPU of this vendor (``/proc/cpuinfo``), or None.

    On AMD CPUs, TensorFlow 2.20's oneDNN kernels crash (segmentation fault) on some broadcast batched matrix
    products, such as a ``Dense`` layer applied to a 4-D tensor with a dimension of size 1 (chapter 14's
    attention while it decodes one character at a time), and TensorFlow's own kernels were measured about 10%
    faster there on chapter 08's ResNet as well; so the book switches oneDNN off on AMD CPUs. Elsewhere, or
    where the vendor cannot be read, TensorFlow's default is kept.
    """
    return "0" if (cpu_vendor or "").strip() == "AuthenticAMD" else None


def _cpu_vendor() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            return next((line.partition(":")[2].strip() for line in cpuinfo if line.startswith("vendor_id")), None)
    except OSError:  # not Linux
        return None


# Before TensorFlow is imported, like the line above; an explicit TF_ENABLE_ONEDNN_OPTS is kept.
if (_setting := _onednn_setting(_cpu_vendor())) is not None:
    _os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", _setting)

from .config import MODES, ModeError, RunConfig, get_mode, on_colab, setup

__all__ = ["MODES", "ModeError", "RunConfig", "get_mode", "on_colab", "setup"]
__version__ = "0.1.0"

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

from .config import MODES, ModeError, RunConfig, get_mode, on_colab, setup

__all__ = ["MODES", "ModeError", "RunConfig", "get_mode", "on_colab", "setup"]
__version__ = "0.1.0"

"""Which Keras backends the chapters run on, and which chapters the tests run on JAX.

Every chapter runs unchanged on TensorFlow and on JAX (STYLE.md: Keras 3 APIs first; gradients of one's own through
:mod:`dlbook_utils.autodiff`), except the chapters listed in :data:`TENSORFLOW_ONLY`: those whose lesson is
TensorFlow itself (``tf.GradientTape``, ``tf.data``, ``tf.distribute``). Such a chapter says so in one sentence near
its top, and this dictionary, chapter number → reason, is the one place the tests read: ``make test`` runs every
other chapter on JAX as well (``tests/nbval_capture.py`` leaves the listed ones out of its JAX pass, and
``tests/unit/test_backends.py`` checks the list against the chapters).

The JAX pass costs about as much as the TensorFlow pass, so ``make test`` runs the backend-agnostic chapters on
JAX in turns: :func:`rotation` splits them into ``groups`` groups by their position in the book (chapters 1, 3, 5, …
and 2, 4, 6, … for two groups) and picks the group of the day of the year. Over ``groups`` consecutive days every
chapter runs on JAX; a chapter with uncommitted changes runs every time (:func:`changed_chapters`).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["TENSORFLOW_ONLY", "BACKENDS", "SITE_BACKEND", "chapter_number", "runs_on", "rotation",
           "changed_chapters"]

# Chapter number ("NN") → why the chapter runs on TensorFlow only. Empty while every chapter is backend-agnostic;
# a chapter about tf.data or tf.distribute would be listed here, e.g. "23": "the lesson is tf.distribute".
TENSORFLOW_ONLY: dict[str, str] = {}

# The backends the book is tested on. The site shows the notebooks executed on SITE_BACKEND.
BACKENDS = ("tensorflow", "jax")
SITE_BACKEND = "tensorflow"


def chapter_number(path: str | Path) -> str:
    """"07" for ``chapters/07_convolutional_networks.ipynb`` (or its stem, or "07")."""
    match = re.match(r"(\d\d)(?:_|$)", Path(path).stem)
    if not match:
        raise ValueError(f"{path!s} is not a chapter (NN_slug.ipynb)")
    return match.group(1)


def runs_on(chapter: str | Path, backend: str) -> bool:
    """Whether ``chapter`` (a path, a stem or "NN") is meant to run on Keras backend ``backend``."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: the book is tested on {', '.join(BACKENDS)}")
    return backend == "tensorflow" or chapter_number(chapter) not in TENSORFLOW_ONLY


def rotation(chapters: Sequence[str | Path], *, groups: int, day: int, always: Iterable[str | Path] = ()
             ) -> list[str | Path]:
    """The chapters of ``chapters`` (in book order) that a rotating pass runs on day ``day`` of the year.

    Chapter ``i`` (0-based, in book order) belongs to group ``i % groups``; day ``day`` runs group
    ``day % groups``, plus the chapters in ``always``. ``groups=1`` runs every chapter.
    """
    if groups < 1:
        raise ValueError(f"groups must be at least 1, got {groups}")
    ordered = sorted(chapters, key=chapter_number)
    extra = {chapter_number(c) for c in always}
    return [c for i, c in enumerate(ordered) if i % groups == day % groups or chapter_number(c) in extra]


def changed_chapters(root: str | Path) -> list[str]:
    """Chapter numbers of the notebooks under ``root/chapters`` with uncommitted changes (``[]`` without git)."""
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--", "chapters"], cwd=root, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    if proc.returncode != 0:
        return []
    numbers = set()
    for line in proc.stdout.splitlines():
        name = Path(line[3:].strip().strip('"')).name
        if re.match(r"\d\d_.*\.ipynb$", name):
            numbers.add(name[:2])
    return sorted(numbers)

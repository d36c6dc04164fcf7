"""What a chapter costs to run, as a benchmark rather than a test.

Machines of the same kind differ by two times and more, so a duration in seconds says as much about the machine
as about the chapter. Every time this module measures chapters it first times a **calibration workload**: a fixed
small Keras training job (:func:`calibration_job`), run in a fresh Python process. A chapter's cost is then
reported in *calibration units*: its wall time divided by the calibration time of the same run on the same
machine. That ratio moves far less from machine to machine than the seconds do.

The quick-mode budget of a chapter is :data:`QUICK_BUDGET_UNITS` units (about 60 s on the 2-core machine the book
is developed on). Nothing fails when a chapter is over budget: the report marks it, and the chapter's author makes
it cheaper.

Two ways in:

* ``make test`` times every chapter while nbval runs it (``tests/nbval_capture.py``), prints the table at the end
  and saves it as ``_build/test/timings.md``.
* ``make bench`` (``python -m dlbook_utils.bench [NOTEBOOK ...]``) runs the chapters in quick mode on their own,
  outside pytest, and prints the same table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "QUICK_BUDGET_UNITS",
    "Calibration",
    "ChapterTiming",
    "timing_key",
    "calibration_job",
    "calibrate",
    "process_cpu_seconds",
    "report",
    "run_notebook",
    "main",
]

# A chapter's quick-mode budget, in calibration units. The calibration job took about 2.5 s on the book's 2-core
# development machine (2.3–2.8 s over several runs), where the budget is meant to be 60 s: 60 / 2.5 = 24 units.
QUICK_BUDGET_UNITS = 24.0

CALIBRATION_REPEATS = 3


def calibration_job(seed: int = 0) -> float:
    """Seconds to build, compile and train a small fixed convolutional network: the unit of cost.

    The job mixes what chapters spend their time on in quick mode: building a model, tracing its training step,
    and some convolution and dense arithmetic (two epochs over 2,048 random 28 × 28 images, then an evaluation).
    The data are random numbers because only the time matters here; nothing is learned or reported from them.
    """
    import keras
    from keras import layers

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2048, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=2048)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(32, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    model.evaluate(x[:512], y[:512], verbose=0)
    return time.perf_counter() - start


@dataclass(frozen=True)
class Calibration:
    """The calibration workload's time in this run: the median of ``runs``, on ``backend``."""

    seconds: float
    runs: tuple[float, ...]
    backend: str

    def units(self, seconds: float) -> float:
        """``seconds`` expressed in calibration units."""
        return seconds / self.seconds


def calibrate(repeats: int = CALIBRATION_REPEATS, *, env: dict[str, str] | None = None) -> Calibration:
    """Time :func:`calibration_job` ``repeats`` times in a fresh Python process and return the median.

    A fresh process (like a notebook's kernel) keeps the measurement independent of whatever the calling process
    has already imported, traced or allocated. ``env`` overrides environment variables (``KERAS_BACKEND``).
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    child_env = {**os.environ, **(env or {}), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "dlbook_utils.bench", "--calibrate-only", "--repeats", str(repeats)],
        capture_output=True, text=True, env=child_env, timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the calibration workload failed:\n{proc.stderr[-3000:]}")
    payload = json.loads(proc.stdout.strip().splitlines()[-1])
    return Calibration(seconds=payload["seconds"], runs=tuple(payload["runs"]), backend=payload["backend"])


def _calibrate_here(repeats: int) -> dict:
    import keras

    runs = [calibration_job(seed=i) for i in range(repeats)]
    return {"seconds": statistics.median(runs), "runs": [round(r, 3) for r in runs], "backend": keras.backend.backend()}


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` and its children, or None if unreadable."""
    try:
        import psutil

        times = psutil.Process(pid).cpu_times()
    except Exception:  # noqa: BLE001 - no psutil, or the process has gone: the CPU time is simply unknown
        return None
    return times.user + times.system + getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)


def timing_key(chapter: str, backend: str) -> str:
    """The key of one chapter run in ``timings.json``: the notebook's stem and the Keras backend,
    ``"07_convolutional_networks/jax"``, so that the same chapter on two backends gives two rows."""
    if not chapter or "/" in chapter or not backend:
        raise ValueError(f"a timing needs a chapter stem without '/' and a backend, got {chapter!r}, {backend!r}")
    return f"{chapter}/{backend}"


@dataclass
class ChapterTiming:
    """One chapter's measured cost in one run (on one Keras backend)."""

    chapter: str
    seconds: float
    cpu_seconds: float | None = None
    failed: bool = False
    backend: str = ""
    mode: str = "quick"

    @property
    def key(self) -> str:
        """This run's key in ``timings.json`` (:func:`timing_key`)."""
        return timing_key(self.chapter, self.backend or "tensorflow")

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "chapter"}

    @classmethod
    def from_json(cls, key: str, data: dict) -> "ChapterTiming":
        """From a ``timings.json`` entry: ``key`` is ``"stem/backend"`` (or, in older files, the stem alone)."""
        chapter, _, backend = key.partition("/")
        known = {k: data[k] for k in ("seconds", "cpu_seconds", "failed", "backend", "mode") if k in data}
        known.setdefault("backend", backend)
        return cls(chapter=chapter, **known)


def report(timings: list[ChapterTiming], calibration: Calibration | None,
           budget_units: float = QUICK_BUDGET_UNITS) -> str:
    """A Markdown report: one row per chapter with wall time, CPU time, cost in calibration units and budget."""
    lines = []
    if calibration is None:
        lines.append("Calibration workload: not measured in this run, so no chapter's cost can be given in units.")
    else:
        runs = ", ".join(f"{r:.2f}" for r in calibration.runs)
        lines.append(
            f"Calibration workload ({calibration.backend} backend): {calibration.seconds:.2f} s "
            f"(median of {runs} s). 1 unit = {calibration.seconds:.2f} s on this machine; "
            f"the quick-mode budget is {budget_units:g} units = {budget_units * calibration.seconds:.0f} s here."
        )
    lines += ["", "| chapter | backend | mode | wall (s) | CPU (s) | CPU / wall | units | budget |",
              "|---|---|---|---:|---:|---:|---:|---|"]
    total = 0.0
    for t in sorted(timings, key=lambda t: (t.chapter, t.backend)):
        total += t.seconds
        cpu = "" if t.cpu_seconds is None else f"{t.cpu_seconds:.1f}"
        ratio = "" if t.cpu_seconds is None or t.seconds <= 0 else f"{t.cpu_seconds / t.seconds:.2f}"
        if t.failed:
            units, verdict = "", "FAILED (not a cost)"
        elif calibration is None:
            units, verdict = "", "unknown"
        else:
            u = calibration.units(t.seconds)
            units = f"{u:.1f}"
            if t.mode != "quick":
                verdict = f"{t.mode} mode: no quick budget"
            else:
                verdict = "within" if u <= budget_units else f"OVER ({u / budget_units:.0%})"
        lines.append(f"| {t.chapter} | {t.backend or '?'} | {t.mode} | {t.seconds:.1f} | {cpu} | {ratio} | {units} | {verdict} |")
    total_units = "" if calibration is None else f", {calibration.units(total):.1f} units"
    lines += ["", f"Total: {total:.0f} s{total_units} over {len(timings)} chapter runs."]
    backends = sorted({t.backend or "?" for t in timings})
    if len(backends) > 1:
        parts = []
        for backend in backends:
            runs = [t for t in timings if (t.backend or "?") == backend]
            seconds = sum(t.seconds for t in runs)
            units = "" if calibration is None else f", {calibration.units(seconds):.1f} units"
            parts.append(f"{backend}: {seconds:.0f} s{units} over {len(runs)} chapters")
        lines.append("By backend: " + "; ".join(parts) + ".")
    over = [f"{t.chapter} ({t.backend or '?'})" for t in timings if not t.failed and calibration is not None
            and t.mode == "quick" and calibration.units(t.seconds) > budget_units]
    if over:
        lines.append(f"Over the quick-mode budget: {', '.join(sorted(set(over)))}. This is a benchmark, not a test: "
                     "nothing failed, but these chapters should be made cheaper.")
    return "\n".join(lines) + "\n"


def run_notebook(path: Path, *, mode: str = "quick", timeout: int = 600, env: dict[str, str] | None = None
                 ) -> ChapterTiming:
    """Execute one notebook top to bottom in a fresh kernel and return its wall and CPU time.

    The notebook runs in its own folder with ``DLBOOK_MODE`` set to ``mode``; it stops at the first error,
    which marks the timing as failed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in ("DLBOOK_MODE", *(env or {}))}
    os.environ.update({"DLBOOK_MODE": mode, **(env or {})})
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    failed = False
    cpu = None
    start = time.perf_counter()
    try:
        with client.setup_kernel():
            pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
            try:
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
            except CellExecutionError:
                failed = True
            if pid is not None:
                cpu = process_cpu_seconds(pid)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - start
    backend = (env or {}).get("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))
    return ChapterTiming(chapter=path.stem, seconds=seconds, cpu_seconds=cpu, failed=failed, backend=backend, mode=mode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlbook_utils.bench",
        description="Time chapters (quick mode by default) against a calibration workload measured in the same run.",
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: chapters/[0-9]*.ipynb)")
    parser.add_argument("--mode", default="quick", choices=("quick", "full"))
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may run (default 600)")
    parser.add_argument("--out", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--repeats", type=int, default=CALIBRATION_REPEATS, help=argparse.SUPPRESS)
    parser.add_argument("--calibrate-only", action="store_true",
                        help="time the calibration workload in this process and print it as JSON")
    args = parser.parse_args(argv)

    if args.calibrate_only:
        print(json.dumps(_calibrate_here(args.repeats)))
        return 0

    notebooks = args.notebooks or sorted(Path("chapters").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        parser.error("no notebooks given and none found in chapters/")
    missing = [str(p) for p in notebooks if not p.exists()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    print("timing the calibration workload …", flush=True)
    calibration = calibrate(args.repeats)
    print(f"  {calibration.seconds:.2f} s per run", flush=True)
    timings = []
    for path in notebooks:
        print(f"running {path.name} in {args.mode} mode …", flush=True)
        t = run_notebook(path, mode=args.mode, timeout=args.timeout)
        print(f"  {t.seconds:.1f} s ({calibration.units(t.seconds):.1f} units){'  FAILED' if t.failed else ''}",
              flush=True)
        timings.append(t)
    text = report(timings, calibration)
    print()
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 1 if any(t.failed for t in timings) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""pytest plugin: keep what nbval executes, so each chapter runs once per test session, and time it.

nbval runs every cell of a chapter in a kernel and compares nothing in ``--nbval-lax`` mode but
errors. This plugin copies each cell's outputs back into the notebook and, when the last cell of
a notebook has run, writes the executed notebook to ``$DLBOOK_TEST_OUT/executed/``.

It also makes the chapters' cost a benchmark (``dlbook_utils.bench``): before the first notebook runs
it times the calibration workload, and for each notebook it records wall time and the kernel's CPU
time in ``$DLBOOK_TEST_OUT/timings.json``. The report in calibration units is rewritten to
``$DLBOOK_TEST_OUT/timings.md`` after every notebook and printed at the end of the run. No test
compares these durations with a number of seconds. ``tests/book`` then checks the executed chapters
and builds the website from them with execution switched off.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from dlbook_utils import bench

_state: dict[str, dict] = {}
_calibration: list[bench.Calibration | None] = []


def _out_dir() -> Path:
    return Path(os.environ.get("DLBOOK_TEST_OUT", "_build/test"))


def _backend() -> str:
    return os.environ.get("KERAS_BACKEND", "tensorflow") or "tensorflow"


def _is_nbval_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Time the calibration workload once, before any notebook runs (only when notebooks will run)."""
    if _calibration or not any(_is_nbval_cell(item) for item in session.items):
        return
    out = _out_dir()
    out.mkdir(parents=True, exist_ok=True)
    try:
        calibration = bench.calibrate()
    except Exception as exc:  # noqa: BLE001 - a broken calibration must not stop the tests; the report says so
        print(f"\ncalibration workload failed, costs will be reported in seconds only: {exc}")
        calibration = None
    _calibration.append(calibration)
    if calibration is not None:
        (out / "calibration.json").write_text(json.dumps(
            {"seconds": calibration.seconds, "runs": calibration.runs, "backend": calibration.backend}, indent=1))


def _kernel_pid(nb_file) -> int | None:
    kernel = getattr(nb_file, "kernel", None)
    km = getattr(kernel, "km", None)
    return getattr(getattr(km, "provisioner", None), "pid", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if not _is_nbval_cell(item):
        yield
        return
    key = str(item.parent.path)
    state = _state.setdefault(key, {"start": time.perf_counter(), "count": 0, "failed": False, "cpu": None})
    yield
    state["count"] += 1
    cell = item.cell
    if cell.cell_type == "code":
        cell.outputs = list(item.test_outputs or [])
        cell.execution_count = state["count"]
    if nextitem is None or getattr(nextitem, "parent", None) is not item.parent:
        _finish(item.parent, state)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    yield
    if _is_nbval_cell(item):
        # The kernel is still alive here (nbval stops it in the last cell's teardown): read its CPU time.
        pid = _kernel_pid(item.parent)
        if pid is not None:
            cpu = bench.process_cpu_seconds(pid)
            if cpu is not None:
                _state.setdefault(str(item.parent.path), {"start": time.perf_counter(), "count": 0})["cpu"] = cpu


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    if _is_nbval_cell(item) and outcome.get_result().failed:
        _state.setdefault(str(item.parent.path), {"start": time.perf_counter(), "count": 0})["failed"] = True


def _load_timings(out: Path) -> dict:
    path = out / "timings.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _report(out: Path) -> str:
    timings = [bench.ChapterTiming.from_json(name, t) for name, t in sorted(_load_timings(out).items())]
    calibration = _calibration[0] if _calibration else None
    return bench.report(timings, calibration)


def _finish(nb_file, state: dict) -> None:
    seconds = time.perf_counter() - state["start"]
    out = _out_dir()
    executed = out / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    path = Path(nb_file.path)
    nb = nb_file.nb
    mode = os.environ.get("DLBOOK_MODE", "full") or "full"
    nb.metadata.setdefault("dlbook", {})["executed_by"] = f"nbval ({mode} mode)"
    nbformat.write(nb, executed / path.name)
    timing = bench.ChapterTiming(chapter=path.stem, seconds=round(seconds, 2),
                                 cpu_seconds=None if state.get("cpu") is None else round(state["cpu"], 2),
                                 failed=state.get("failed", False), backend=_backend(), mode=mode)
    timings = _load_timings(out)
    timings[path.stem] = timing.to_json()
    (out / "timings.json").write_text(json.dumps(timings, indent=1, sort_keys=True))
    (out / "timings.md").write_text(_report(out))


def pytest_terminal_summary(terminalreporter) -> None:
    out = _out_dir()
    if not _load_timings(out):
        return
    mode = os.environ.get("DLBOOK_MODE", "full")
    text = _report(out)
    (out / "timings.md").write_text(text)
    terminalreporter.write_sep("-", f"chapter costs ({mode} mode, nbval) — a benchmark, not a test")
    for line in text.splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(saved to {out / 'timings.md'})")

"""pytest plugin: keep what nbval executes, so each chapter runs once per test session, and time it.

nbval runs every cell of a chapter in a kernel and compares nothing in ``--nbval-lax`` mode but
errors. This plugin copies each cell's outputs back into the notebook and, when the last cell of
a notebook has run, writes the executed notebook to ``$DLBOOK_TEST_OUT/executed/`` (on TensorFlow,
the backend the website shows), or to ``$DLBOOK_TEST_OUT/executed-<backend>/`` on another Keras
backend (``KERAS_BACKEND=jax``), so that a second pass never overwrites what the site is built from.

It also makes the chapters' cost a benchmark (``dlbook_utils.bench``): before the first notebook runs
it times the calibration workload (``--reuse-calibration``: take the one an earlier pass of the same
run saved, so that both backends' chapters are measured in the same unit), and for each notebook it
records wall time and the kernel's CPU time in ``$DLBOOK_TEST_OUT/timings.json``, keyed by notebook
stem and backend (``bench.timing_key``): the same chapter on two backends gives two rows. The report
in calibration units is rewritten to ``$DLBOOK_TEST_OUT/timings.md`` after every notebook and printed
at the end of the run. No test compares these durations with a number of seconds. ``tests/book`` then
checks the executed chapters and builds the website from them with execution switched off.

On a backend other than TensorFlow the plugin leaves out the chapters that run on TensorFlow only
(``dlbook_utils.backends.TENSORFLOW_ONLY``), and with ``--rotate-chapters=N`` it runs only the day's
group of N (``dlbook_utils.backends.rotation``; chapters with uncommitted changes always run).
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from dlbook_utils import backends, bench

_state: dict[str, dict] = {}
_calibration: list[bench.Calibration | None] = []
_left_out: list[str] = []
ROOT = Path(__file__).resolve().parents[1]


def _out_dir() -> Path:
    return Path(os.environ.get("DLBOOK_TEST_OUT", "_build/test"))


def _backend() -> str:
    return os.environ.get("KERAS_BACKEND", "tensorflow") or "tensorflow"


def _executed_dir(out: Path) -> Path:
    backend = _backend()
    return out / ("executed" if backend == backends.SITE_BACKEND else f"executed-{backend}")


def _is_nbval_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends: runs on the Keras backend; make test runs it again on JAX")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dlbook", "the book's notebook runs")
    group.addoption("--reuse-calibration", action="store_true",
                    help="use the calibration.json an earlier pass of this run saved in $DLBOOK_TEST_OUT")
    group.addoption("--rotate-chapters", type=int, default=1, metavar="N",
                    help="on a backend other than TensorFlow, run only today's group of N chapter groups "
                         "(chapters with uncommitted changes always run; 1, the default: every chapter)")


def pytest_itemcollected(item: pytest.Item) -> None:
    """A chapter's cells run on the Keras backend: they carry the `backends` mark (so `-m backends` keeps them)."""
    if _is_nbval_cell(item):
        item.add_marker(pytest.mark.backends)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a backend other than TensorFlow: leave out TensorFlow-only chapters and, with --rotate-chapters, the
    chapters of the other days' groups."""
    backend = _backend()
    if backend == backends.SITE_BACKEND:
        return
    notebooks = sorted({Path(item.parent.path) for item in items if _is_nbval_cell(item)},
                       key=lambda p: p.name)
    if not notebooks:
        return
    chapters = [p for p in notebooks if backends.runs_on(p, backend)]
    for p in notebooks:
        if p not in chapters:
            _left_out.append(f"{p.stem}: TensorFlow only ({backends.TENSORFLOW_ONLY[backends.chapter_number(p)]})")
    groups = config.getoption("--rotate-chapters")
    if groups > 1:
        day = datetime.date.today().timetuple().tm_yday
        picked = backends.rotation(chapters, groups=groups, day=day, always=backends.changed_chapters(ROOT))
        for p in chapters:
            if p not in picked:
                _left_out.append(f"{p.stem}: not in today's group (day {day} of the year, {groups} groups)")
        chapters = picked
    running = set(chapters)
    keep = [item for item in items if not _is_nbval_cell(item) or Path(item.parent.path) in running]
    dropped = [item for item in items if _is_nbval_cell(item) and Path(item.parent.path) not in running]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _saved_calibration(out: Path) -> bench.Calibration | None:
    path = out / "calibration.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return bench.Calibration(seconds=data["seconds"], runs=tuple(data["runs"]), backend=data["backend"])


def pytest_collection_finish(session: pytest.Session) -> None:
    """Time the calibration workload once, before any notebook runs (only when notebooks will run)."""
    if _calibration or not any(_is_nbval_cell(item) for item in session.items):
        return
    out = _out_dir()
    out.mkdir(parents=True, exist_ok=True)
    saved = _saved_calibration(out) if session.config.getoption("--reuse-calibration") else None
    if saved is not None:
        _calibration.append(saved)
        return
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
    timings = [bench.ChapterTiming.from_json(key, t) for key, t in sorted(_load_timings(out).items())]
    calibration = _calibration[0] if _calibration else _saved_calibration(out)
    return bench.report(timings, calibration)


def _finish(nb_file, state: dict) -> None:
    seconds = time.perf_counter() - state["start"]
    out = _out_dir()
    executed = _executed_dir(out)
    executed.mkdir(parents=True, exist_ok=True)
    path = Path(nb_file.path)
    nb = nb_file.nb
    mode = os.environ.get("DLBOOK_MODE", "full") or "full"
    nb.metadata.setdefault("dlbook", {})["executed_by"] = f"nbval ({mode} mode, {_backend()} backend)"
    nbformat.write(nb, executed / path.name)
    timing = bench.ChapterTiming(chapter=path.stem, seconds=round(seconds, 2),
                                 cpu_seconds=None if state.get("cpu") is None else round(state["cpu"], 2),
                                 failed=state.get("failed", False), backend=_backend(), mode=mode)
    timings = _load_timings(out)
    timings[timing.key] = timing.to_json()
    (out / "timings.json").write_text(json.dumps(timings, indent=1, sort_keys=True))
    (out / "timings.md").write_text(_report(out))


def pytest_terminal_summary(terminalreporter) -> None:
    if _left_out:
        terminalreporter.write_sep("-", f"chapters left out of this pass on {_backend()}")
        for line in _left_out:
            terminalreporter.write_line(line)
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

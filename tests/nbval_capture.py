"""pytest plugin: keep what nbval executes, so each chapter runs once per test session.

nbval runs every cell of a chapter in a kernel and compares nothing in ``--nbval-lax`` mode but
errors. This plugin copies each cell's outputs back into the notebook and, when the last cell of
a notebook has run, writes the executed notebook to ``$DLBOOK_TEST_OUT/executed/`` and its
wall time to ``$DLBOOK_TEST_OUT/timings.json``. ``tests/book`` then checks the timings and
metrics and builds the website from these executed notebooks with execution switched off.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

_state: dict[str, dict] = {}


def _out_dir() -> Path:
    return Path(os.environ.get("DLBOOK_TEST_OUT", "_build/test"))


def _is_nbval_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if not _is_nbval_cell(item):
        yield
        return
    key = str(item.parent.path)
    state = _state.setdefault(key, {"start": time.perf_counter(), "count": 0, "failed": False})
    yield
    state["count"] += 1
    cell = item.cell
    if cell.cell_type == "code":
        cell.outputs = list(item.test_outputs or [])
        cell.execution_count = state["count"]
    if nextitem is None or getattr(nextitem, "parent", None) is not item.parent:
        _finish(item.parent, state)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    if _is_nbval_cell(item) and outcome.get_result().failed:
        _state.setdefault(str(item.parent.path), {"start": time.perf_counter(), "count": 0})["failed"] = True


def _finish(nb_file, state: dict) -> None:
    seconds = time.perf_counter() - state["start"]
    out = _out_dir()
    executed = out / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    path = Path(nb_file.path)
    nb = nb_file.nb
    nb.metadata.setdefault("dlbook", {})["executed_by"] = "nbval (quick mode)"
    nbformat.write(nb, executed / path.name)
    timings_file = out / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    timings[path.stem] = {"seconds": round(seconds, 2), "failed": state.get("failed", False)}
    timings_file.write_text(json.dumps(timings, indent=1, sort_keys=True))


def pytest_terminal_summary(terminalreporter) -> None:
    timings_file = _out_dir() / "timings.json"
    if not timings_file.exists():
        return
    timings = json.loads(timings_file.read_text())
    mode = os.environ.get("DLBOOK_MODE", "full")
    terminalreporter.write_sep("-", f"chapter run times ({mode} mode, nbval)")
    for name, t in sorted(timings.items()):
        status = "FAILED" if t["failed"] else "ok"
        terminalreporter.write_line(f"{name:40s} {t['seconds']:7.1f} s  {status}")

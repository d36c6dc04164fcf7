"""dlbook_utils.bench: chapter costs in calibration units, reported and never asserted in seconds."""

from __future__ import annotations

import nbformat
import pytest

from dlbook_utils import bench

CAL = bench.Calibration(seconds=2.0, runs=(2.1, 2.0, 1.9), backend="tensorflow")


def _t(chapter, seconds, **kw):
    return bench.ChapterTiming(chapter=chapter, seconds=seconds, backend="tensorflow", **kw)


def _row(text, chapter):
    rows = [line for line in text.splitlines() if line.startswith(f"| {chapter} |")]
    assert len(rows) == 1, text
    return [c.strip() for c in rows[0].strip("|").split("|")]


def test_report_gives_units_cpu_share_and_budget_verdicts():
    text = bench.report([_t("01_a", 10.0, cpu_seconds=15.0), _t("02_b", 50.0, cpu_seconds=60.0)], CAL,
                        budget_units=20)
    assert "1 unit = 2.00 s" in text and "20 units = 40 s here" in text
    a, b = _row(text, "01_a"), _row(text, "02_b")
    assert a[3:8] == ["10.0", "15.0", "1.50", "5.0", "within"]
    assert b[6] == "25.0" and b[7].startswith("OVER (125%)")
    assert "Over the quick-mode budget: 02_b" in text and "not a test" in text
    assert "Total: 60 s, 30.0 units over 2 chapter runs." in text


def test_report_marks_failures_and_full_mode_and_missing_measurements():
    text = bench.report([_t("01_a", 99.0, failed=True), _t("02_b", 600.0, mode="full")], CAL, budget_units=20)
    assert _row(text, "01_a")[7].startswith("FAILED")
    assert _row(text, "02_b")[7] == "full mode: no quick budget"
    assert "Over the quick-mode budget" not in text
    unknown = bench.report([_t("01_a", 10.0)], None)
    assert "not measured" in unknown and _row(unknown, "01_a")[7] == "unknown"


def test_timing_round_trips_through_json():
    t = _t("03_c", 12.5, cpu_seconds=20.0, failed=True, mode="quick")
    assert t.key == "03_c/tensorflow"
    assert bench.ChapterTiming.from_json(t.key, t.to_json()) == t
    assert bench.ChapterTiming.from_json("03_c", t.to_json()) == t, "older files keyed by stem alone still read"
    old = bench.ChapterTiming.from_json("03_c/jax", {"seconds": 3.0})
    assert (old.chapter, old.backend) == ("03_c", "jax")
    with pytest.raises(ValueError):
        bench.timing_key("03_c/jax", "jax")


def test_the_same_chapter_on_two_backends_gives_two_rows_and_totals_per_backend():
    runs = [_t("01_a", 10.0), bench.ChapterTiming(chapter="01_a", seconds=30.0, backend="jax"),
            _t("02_b", 20.0), bench.ChapterTiming(chapter="02_b", seconds=50.0, backend="jax")]
    assert len({t.key for t in runs}) == 4
    text = bench.report(runs, CAL, budget_units=20)
    rows = [line for line in text.splitlines() if line.startswith("| 01_a |")]
    assert [r.split("|")[2].strip() for r in rows] == ["jax", "tensorflow"]
    assert "By backend: jax: 80 s, 40.0 units over 2 chapters; tensorflow: 30 s, 15.0 units over 2 chapters." in text
    assert "Over the quick-mode budget: 02_b (jax)." in text


def test_calibration_runs_the_fixed_job_in_a_fresh_process():
    cal = bench.calibrate(repeats=2)
    assert len(cal.runs) == 2 and min(cal.runs) <= cal.seconds <= max(cal.runs)
    assert cal.backend in ("tensorflow", "jax", "torch")
    assert cal.units(cal.seconds * 3) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        bench.calibrate(repeats=0)


def _notebook(tmp_path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "07_demo.ipynb"
    nbformat.write(nb, path)
    return path


def test_run_notebook_measures_wall_and_kernel_cpu_time_in_the_given_mode(tmp_path):
    path = _notebook(tmp_path, "import os, time\nassert os.environ['DLBOOK_MODE'] == 'quick'",
                     "end = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass")
    t = bench.run_notebook(path, mode="quick")
    assert not t.failed and t.chapter == "07_demo" and t.mode == "quick"
    assert t.cpu_seconds is not None and t.cpu_seconds >= 0.3, "the kernel's busy loop shows in its CPU time"
    assert t.seconds >= 0.3


def test_run_notebook_reports_a_failing_notebook_and_main_exits_non_zero(tmp_path, capsys):
    path = _notebook(tmp_path, "raise RuntimeError('broken chapter')")
    assert bench.run_notebook(path).failed
    out = tmp_path / "report.md"
    assert bench.main([str(path), "--repeats", "1", "--out", str(out)]) == 1
    assert "FAILED" in _row(out.read_text(), "07_demo")[7]
    with pytest.raises(SystemExit):
        bench.main([str(tmp_path / "missing.ipynb")])

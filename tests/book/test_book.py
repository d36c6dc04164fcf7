"""Checks on the chapters that nbval has just executed (tests/nbval_capture.py keeps them), and the
website built from those executed notebooks with -W, so no chapter is executed twice.

These tests run after ``chapters`` in the test command (``make test``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dlbook_utils import grade, metrics
from dlbook_utils.student import student_notebook
from tests.conftest import CHAPTERS, ROOT

IDS = [p.stem for p in CHAPTERS]
OUT = Path(os.environ.get("DLBOOK_TEST_OUT", ROOT / "_build" / "test"))
if not OUT.is_absolute():
    OUT = ROOT / OUT
QUICK_BUDGET_S = float(os.environ.get("DLBOOK_QUICK_BUDGET_S", "60"))


def _timings() -> dict:
    path = OUT / "timings.json"
    assert path.exists(), f"{path} is missing: run the chapters through nbval first (make test)"
    return json.loads(path.read_text())


def _executed(path: Path) -> nbformat.NotebookNode:
    executed = OUT / "executed" / path.name
    assert executed.exists(), f"{executed} is missing: nbval did not run {path.name}"
    return nbformat.read(executed, as_version=4)


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_ran_in_quick_mode_within_budget(path):
    t = _timings().get(path.stem)
    assert t is not None, f"{path.name} was not run"
    assert not t["failed"], f"{path.name} failed under nbval"
    assert t["seconds"] <= QUICK_BUDGET_S, f"{path.name} took {t['seconds']:.0f} s in quick mode (budget {QUICK_BUDGET_S:.0f} s)"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_executed_chapter_shows_mode_figures_and_passing_checks(path):
    nb = _executed(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first_text = "".join(o.get("text", "") for o in code[0].outputs if o.get("output_type") == "stream")
    assert f"Chapter {path.name[:2]} · run mode: quick" in first_text
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "a chapter shows at least one figure"
    for i, cell in enumerate(code):
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert not errors, f"code cell {i} raised {errors[0].get('ename')}"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_recorded_its_headline_metrics(path):
    entries = [e for e in metrics.collect(OUT / "metrics") if e["chapter"] == path.name[:2]]
    assert entries, f"{path.name} recorded no metric (cfg.record)"
    assert all(e["mode"] == "quick" for e in entries)
    assert any(e.get("target") is not None for e in entries), "at least one metric states its full-mode target"


def test_student_version_runs_and_reports_every_exercise_unattempted(tmp_path):
    """The student copy of the fastest chapter runs to the end with only exercise checks failing."""
    timings = _timings()
    fastest = min(CHAPTERS, key=lambda p: timings.get(p.stem, {"seconds": 1e9})["seconds"])
    student = tmp_path / fastest.name
    nbformat.write(student_notebook(nbformat.read(fastest, as_version=4)), student)
    shutil.copytree(ROOT / "chapters", tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.ipynb"))
    result = grade.grade_notebook(student, mode="quick", timeout=300)
    assert not result.error, result.error
    assert not result.cell_errors, f"the student copy breaks outside the exercises: {result.cell_errors}"
    assert result.results and all(status == "not attempted" for status, _ in result.results.values()), result.results


def _stage_site(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "chapters").mkdir(parents=True)
    config = (ROOT / "_config.yml").read_text()
    config, n = re.subn(r"execute_notebooks:\s*\S+", 'execute_notebooks: "off"', config)
    assert n == 1
    (dest / "_config.yml").write_text(config)
    shutil.copy(ROOT / "_toc.yml", dest / "_toc.yml")
    for f in (ROOT / "chapters").iterdir():
        if f.suffix in (".md", ".bib"):
            shutil.copy(f, dest / "chapters" / f.name)
    for path in CHAPTERS:
        shutil.copy(OUT / "executed" / path.name, dest / "chapters" / path.name)


def test_website_builds_with_warnings_as_errors_from_the_executed_chapters():
    src, out = OUT / "site-src", OUT / "site"
    _stage_site(src)
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(src), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, f"site build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-4000:]}"
    html = out / "_build" / "html"
    assert "chapters/intro.html" in (html / "index.html").read_text()
    front = (html / "chapters" / "intro.html").read_text()
    assert "Part I" in front and "Appendix A" in front
    for path in CHAPTERS:
        page = (html / "chapters" / f"{path.stem}.html").read_text()
        assert "<img" in page, f"{path.stem}: no figure on the page"
        assert "run mode: quick" in page, f"{path.stem}: the executed outputs are not on the page"
        assert f"colab.research.google.com/github/dlbook/executable-deep-learning/blob/main/chapters/{path.name}" in page
    for page in ("appendix_a_running", "appendix_b_instructors", "references"):
        assert (html / "chapters" / f"{page}.html").exists()

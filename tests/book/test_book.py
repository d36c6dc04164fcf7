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

from dlbook_utils import backends, bench, grade, mathjax, metrics, widgetjs
from dlbook_utils.results_page import format_value
from dlbook_utils.student import student_notebook
from tests.conftest import CHAPTERS, ROOT

IDS = [p.stem for p in CHAPTERS]
OUT = Path(os.environ.get("DLBOOK_TEST_OUT", ROOT / "_build" / "test"))
if not OUT.is_absolute():
    OUT = ROOT / OUT


def _timings(backend: str = backends.SITE_BACKEND) -> dict:
    """Notebook stem → its timing on ``backend`` (timings.json is keyed by stem and backend)."""
    path = OUT / "timings.json"
    assert path.exists(), f"{path} is missing: run the chapters through nbval first (make test)"
    entries = json.loads(path.read_text())
    runs = {key: bench.ChapterTiming.from_json(key, entry) for key, entry in entries.items()}
    return {t.chapter: entries[key] for key, t in runs.items() if t.backend == backend}


def _executed(path: Path) -> nbformat.NotebookNode:
    executed = OUT / "executed" / path.name
    assert executed.exists(), f"{executed} is missing: nbval did not run {path.name}"
    return nbformat.read(executed, as_version=4)


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_ran_and_its_cost_is_in_the_benchmark_report(path):
    """Every chapter ran without error, and its cost was measured (wall and kernel CPU time, in calibration
    units). The cost is a benchmark printed at the end of the run, never compared with a number of seconds."""
    t = _timings().get(path.stem)
    assert t is not None, f"{path.name} was not run"
    assert not t["failed"], f"{path.name} failed under nbval"
    assert t["seconds"] > 0 and t.get("cpu_seconds"), f"{path.name}: wall and CPU time were not both measured: {t}"
    assert t["mode"] == "quick"
    calibration = json.loads((OUT / "calibration.json").read_text())
    assert calibration["seconds"] > 0 and len(calibration["runs"]) >= 1
    row = [line for line in (OUT / "timings.md").read_text().splitlines()
           if line.startswith(f"| {path.stem} | {backends.SITE_BACKEND} |")]
    assert len(row) == 1, f"timings.md has no single {backends.SITE_BACKEND} row for {path.stem}"
    units = float(row[0].split("|")[7])
    assert abs(units - t["seconds"] / calibration["seconds"]) < 0.1, row[0]


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


def test_student_versions_of_a_real_chapter_are_graded_against_the_master(tmp_path):
    """The student copy of the fastest chapter, returned untouched and returned with the book's own solutions
    pasted into its answer cells, graded by the real grader against chapters/: every exercise "not attempted"
    in the first, "passed" in the second, and nothing else breaks in either."""
    timings = _timings()
    fastest = min(CHAPTERS, key=lambda p: timings.get(p.stem, {"seconds": 1e9})["seconds"])
    master = nbformat.read(fastest, as_version=4)
    untouched = student_notebook(master)
    solved = student_notebook(master)
    solutions = {c.id: c.source for c in master.cells if "solution" in c.metadata.get("tags", [])}
    for cell in solved.cells:
        if cell.get("id") in solutions and "student-answer" in cell.metadata.get("tags", []):
            cell.source = solutions[cell.id]
    for name, nb in (("untouched", untouched), ("solved", solved)):
        (tmp_path / name).mkdir()
        nbformat.write(nb, tmp_path / name / fastest.name)
    grades = {g.notebook.split("/")[0]: g for g in grade.grade_submissions(
        [tmp_path], masters=ROOT / "chapters", mode="quick", timeout=300, csv_path=tmp_path / "grades.csv")}
    for name, expected in (("untouched", "not attempted"), ("solved", "passed")):
        result = grades[name]
        assert result.status == "graded" and not result.error, result.error
        assert not result.cell_errors, f"the {name} copy breaks outside the exercises: {result.cell_errors}"
        assert result.results and all(s == expected for s, _ in result.results.values()), (name, result.results)


def _stage_site(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "chapters").mkdir(parents=True)
    config = (ROOT / "_config.yml").read_text()
    config, n = re.subn(r"execute_notebooks:\s*\S+", 'execute_notebooks: "off"', config)
    assert n == 1
    (dest / "_config.yml").write_text(config)
    shutil.copy(ROOT / "_toc.yml", dest / "_toc.yml")
    # the stylesheet, logo and favicon, and the site's own MathJax and widget scripts (fetched by `make vendor`)
    shutil.copytree(ROOT / "_static", dest / "_static")
    assert mathjax.is_current(ROOT / mathjax.DEFAULT_DEST), \
        f"{mathjax.DEFAULT_DEST} lacks MathJax {mathjax.VERSION}: run `make vendor` (make test does)"
    shutil.copytree(ROOT / mathjax.DEFAULT_DEST, dest / mathjax.DEFAULT_DEST)
    assert widgetjs.is_current(ROOT / widgetjs.DEFAULT_DEST), \
        f"{widgetjs.DEFAULT_DEST} lacks the widget scripts: run `make vendor` (make test does)"
    shutil.copytree(ROOT / widgetjs.DEFAULT_DEST, dest / widgetjs.DEFAULT_DEST)
    for f in (ROOT / "chapters").iterdir():
        if f.suffix in (".md", ".bib"):
            shutil.copy(f, dest / "chapters" / f.name)
    for path in CHAPTERS:
        shutil.copy(OUT / "executed" / path.name, dest / "chapters" / path.name)


def test_website_builds_with_warnings_as_errors_from_the_executed_chapters():
    src, out = OUT / "site-src", OUT / "site"
    _stage_site(src)
    jb = Path(sys.executable).with_name("jupyter-book")
    # the results page reads the metrics and run times of the quick-mode nbval run
    env = {**os.environ, "DLBOOK_MODE": "quick", "DLBOOK_TEST_OUT": str(OUT),
           "DLBOOK_METRICS_DIR": str(OUT / "metrics")}
    proc = subprocess.run(
        [str(jb), "build", str(src), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900, env=env,
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
    for page in ("appendix_a_running", "appendix_b_instructors", "results", "references"):
        assert (html / "chapters" / f"{page}.html").exists()
    # the site's own MathJax (with the fonts and the TeX extensions it loads on demand), no thebe, no source
    # maps, no external Colab badge; tests/book/test_browser.py then looks at the pages in a real browser
    for part in (mathjax.COMPONENT, "input/tex/extensions/boldsymbol.js",
                 "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff"):
        assert (html / "_static" / "mathjax" / part).is_file(), f"_static/mathjax/{part} is missing"
    assert not list(html.rglob("*.map")), "source maps are deployed"
    for path in CHAPTERS:
        page = (html / "chapters" / f"{path.stem}.html").read_text()
        assert f'src="../_static/mathjax/{mathjax.COMPONENT}' in page and "cdn.jsdelivr.net" not in page
        assert "thebe" not in page.lower() and "colab-badge" not in page
    results = (html / "chapters" / "results.html").read_text()
    assert "These are quick-mode numbers, not the book" in results, "the results page does not say they are quick"
    assert "not measured" not in results, "the results page lacks run times that nbval measured"
    for path in CHAPTERS:
        assert f'href="{path.stem}.html"' in results, f"{path.stem}: no row on the results page"
        for e in (e for e in metrics.collect(OUT / "metrics") if e["chapter"] == path.name[:2]):
            assert e["name"] in results and format_value(e) in results, f"{path.stem}: {e['name']} is not shown"

"""The grader runs real kernels on small notebooks that use a checker registered for the test."""

import csv

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from dlbook_utils import grade

PRELUDE = """
import numpy as np
from dlbook_utils import check

@check.register("97.1", "double")
def _c(answer):
    check.expect_callable(answer)
    x = np.arange(4.0)
    check.expect_close(answer(x), 2 * x, "double(x)")

@check.register("97.2", "square")
def _s(answer):
    check.expect_callable(answer)
    x = np.arange(4.0)
    check.expect_close(answer(x), x * x, "square(x)")
"""


def _nb(path, double_body, square_cells=True):
    cells = [new_code_cell(PRELUDE), new_code_cell(f"def double(x):\n    {double_body}"),
             new_code_cell('check.exercise("97.1", double)')]
    if square_cells:
        cells += [new_code_cell("def square(x):\n    return x * x"), new_code_cell('check.exercise("97.2", square)')]
    cells.append(new_code_cell("undefined_name"))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_grades_passed_failed_not_attempted_and_missing(tmp_path):
    good = _nb(tmp_path / "good.ipynb", "return 2 * x")
    wrong = _nb(tmp_path / "wrong.ipynb", "return 3 * x")
    stub = _nb(tmp_path / "stub.ipynb", "raise NotImplementedError")
    grades = {g.notebook: g for g in (grade.grade_notebook(p, timeout=60) for p in (good, wrong, stub))}
    assert grades["good.ipynb"].results["97.1"][0] == "passed" and grades["good.ipynb"].score == 1.0
    assert grades["wrong.ipynb"].results["97.1"][0] == "failed"
    assert "double(x) is off" in grades["wrong.ipynb"].results["97.1"][1]
    assert grades["wrong.ipynb"].results["97.2"][0] == "passed"  # a failure does not stop later checks
    assert grades["stub.ipynb"].results["97.1"][0] == "not attempted" and grades["stub.ipynb"].score == 0.5
    assert any("NameError" in e for e in grades["good.ipynb"].cell_errors)

    deleted = _nb(tmp_path / "deleted.ipynb", "return 2 * x", square_cells=False)
    nb = nbformat.read(deleted, as_version=4)
    nb.cells.insert(1, new_code_cell('# check.exercise("97.2", square) was removed by the student'))
    nbformat.write(nb, deleted)
    g = grade.grade_notebook(deleted, timeout=60)
    assert g.results["97.2"] == ("did not run", "its check cell did not run")

    out = tmp_path / "grades.csv"
    grade.write_csv(list(grades.values()), out)
    rows = {r["notebook"]: r for r in csv.DictReader(out.open())}
    assert rows["wrong.ipynb"]["97.1"] == "failed" and rows["good.ipynb"]["score"] == "1.000"
    assert "1/2 exercises passed" in grade.report([grades["wrong.ipynb"]])

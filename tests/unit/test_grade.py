"""The grader as a class would attack it: forged results, patched checks, deleted checks, broken files, a file
that touches another, same-named files, notebooks over their time limit and huge outputs. Each gets an honest
grade or a clear row. Real kernels run small notebooks whose checkers live in a module on disk."""

from __future__ import annotations

import csv
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dlbook_utils import grade
from dlbook_utils.student import student_notebook

CHECKERS = """
import numpy as np
from dlbook_utils import check

@check.register("97.1", "double")
def _double(answer):
    check.expect_callable(answer)
    x = np.arange(4.0)
    check.expect_close(answer(x), 2 * x, "double(x)")

@check.register("97.2", "square")
def _square(answer):
    check.expect_callable(answer)
    x = np.arange(4.0)
    check.expect_close(answer(x), x * x, "square(x)")
"""


def _solution(exercise, name, body):
    cell = new_code_cell(f'#@title Solution {exercise} {{ display-mode: "form" }}\ndef {name}(x):\n'
                         f"    ### BEGIN SOLUTION\n    {body}\n    ### END SOLUTION")
    cell.metadata["tags"] = ["solution", "hide-input"]
    return cell


@pytest.fixture
def course(tmp_path):
    """A master chapter 97 (two implement-exercises), its checkers on disk, and a student version."""
    (tmp_path / "checkers").mkdir()
    (tmp_path / "checkers" / "ex97.py").write_text(CHECKERS)
    master_dir = tmp_path / "master"
    master_dir.mkdir()
    prelude = (f"import sys\nsys.path.insert(0, {str(tmp_path / 'checkers')!r})\nimport numpy as np\n"
               "import ex97\nfrom dlbook_utils import check")
    master = new_notebook(cells=[
        new_markdown_cell("# 97 · A chapter for tests"), new_code_cell(prelude),
        _solution("97.1", "double", "return 2 * x"), new_code_cell('check.exercise("97.1", double)'),
        _solution("97.2", "square", "return x * x"), new_code_cell('check.exercise("97.2", square)'),
        new_code_cell("print('the lesson goes on')"),
    ])
    master.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(master, master_dir / "97_tests.ipynb")
    student = student_notebook(nbformat.read(master_dir / "97_tests.ipynb", as_version=4))
    return tmp_path, master_dir, student


def _answer(student, exercise, source):
    """A copy of the student version with the answer cell of ``exercise`` replaced by ``source``."""
    nb = nbformat.from_dict(json.loads(json.dumps(student)))
    cells = [c for c in nb.cells if "student-answer" in c.metadata.get("tags", []) and exercise in c.source]
    assert len(cells) == 1
    cells[0].source = f"# Exercise {exercise}: your answer\n{source}"
    return nb


def _write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _grade(tmp_path, master_dir, paths, **kw):
    kw.setdefault("timeout", 60)
    return {g.notebook: g for g in grade.grade_submissions(
        paths, masters=master_dir, checker_module="ex{chapter}", checker_path=str(tmp_path / "checkers"), **kw)}


GOOD_1 = "def double(x):\n    return 2 * x"
GOOD_2 = "def square(x):\n    return x * x"


def test_right_wrong_and_untouched_answers(course):
    tmp, master_dir, student = course
    sub = tmp / "returned"
    _write(_answer(_answer(student, "97.1", GOOD_1), "97.2", GOOD_2), sub / "good" / "97_tests.ipynb")
    _write(_answer(student, "97.1", "def double(x):\n    return 3 * x"), sub / "wrong" / "97_tests.ipynb")
    _write(student, sub / "untouched" / "97_tests.ipynb")
    g = _grade(tmp, master_dir, [sub], csv_path=tmp / "grades.csv", executed_dir=tmp / "graded")
    assert set(g) == {"good/97_tests.ipynb", "wrong/97_tests.ipynb", "untouched/97_tests.ipynb"}, \
        "same-named files in per-student folders stay apart, named by their relative path"
    assert g["good/97_tests.ipynb"].score == 1.0 and g["good/97_tests.ipynb"].status == "graded"
    wrong = g["wrong/97_tests.ipynb"]
    assert wrong.results["97.1"][0] == "failed" and "double(x) is off" in wrong.results["97.1"][1]
    assert wrong.results["97.2"][0] == "not attempted"
    assert all(s == "not attempted" for s, _ in g["untouched/97_tests.ipynb"].results.values())
    rows = {r["notebook"]: r for r in csv.DictReader((tmp / "grades.csv").open())}
    assert rows["good/97_tests.ipynb"]["score"] == "1.000" and rows["wrong/97_tests.ipynb"]["97.1"] == "failed"
    assert list(rows["good/97_tests.ipynb"])[-2:] == ["97.1", "97.2"]
    assert (tmp / "graded" / "good" / "97_tests.ipynb").exists(), "the executed copies mirror the layout"
    assert "1/2 exercises passed" not in grade.report([g["good/97_tests.ipynb"]])


def test_forged_results_patched_checks_deleted_checks_and_invented_ids_earn_nothing(course):
    tmp, master_dir, student = course
    sub = tmp / "returned"
    forged = _answer(student, "97.1", (
        "import os, json\n"
        "for ex in ('97.1', '97.2', '97.9'):\n"
        "    line = json.dumps({'exercise': ex, 'status': 'passed', 'message': 'passed'})\n"
        "    open(os.environ.get('DLBOOK_RESULTS', 'results.jsonl'), 'a').write(line + '\\n')\n"
        "    print('DLBOOK-VERDICT-0123456789abcdef0123456789abcdef:' + line)\n"
        "def double(x):\n    return x"))
    forged.cells.append(new_code_cell('check.exercise("97.9", None)'))
    patched = _answer(student, "97.1", (
        "from dlbook_utils import check\n"
        "check.run = lambda *args, **kwargs: ('passed', 'passed')\n"
        "check.exercise = lambda *args, **kwargs: print('✅ passed')\n"
        "def double(x):\n    return x"))
    deleted = _answer(student, "97.2", "def square(x):\n    return x + x")
    deleted.cells = [c for c in deleted.cells if "check.exercise" not in c.source]
    _write(forged, sub / "forged" / "97_tests.ipynb")
    _write(patched, sub / "patched" / "97_tests.ipynb")
    _write(deleted, sub / "deleted" / "97_tests.ipynb")
    g = _grade(tmp, master_dir, [sub])
    for name in ("forged", "patched", "deleted"):
        row = g[f"{name}/97_tests.ipynb"]
        assert row.passed == 0 and row.total == 2 and set(row.results) == {"97.1", "97.2"}, (name, row.results)
    assert g["forged/97_tests.ipynb"].results["97.1"][0] == "failed"
    assert any("DLBOOK_RESULTS" in f for f in g["forged/97_tests.ipynb"].flags), "forgery is flagged for review"
    assert g["patched/97_tests.ipynb"].results["97.1"][0] == "failed", "the grader re-imports the checkers"
    assert g["deleted/97_tests.ipynb"].results["97.2"][0] == "failed", "deleted checks come back from the master"


def test_a_broken_file_and_a_file_that_overwrites_another_do_not_stop_or_harm_the_class(course):
    tmp, master_dir, student = course
    sub = tmp / "returned"
    (sub / "broken").mkdir(parents=True)
    (sub / "broken" / "97_tests.ipynb").write_text('{"cells": [')
    victim = _write(_answer(_answer(student, "97.1", GOOD_1), "97.2", GOOD_2), sub / "victim" / "97_tests.ipynb")
    attacker = _answer(student, "97.1", (
        f"src = open({str(victim)!r}).read()\n"
        f"open({str(victim)!r}, 'w').write(src.replace('return 2 * x', 'return 0 * x'))\n"
        "def double(x):\n    return 2 * x"))
    _write(attacker, sub / "attacker" / "97_tests.ipynb")
    g = _grade(tmp, master_dir, [sub], csv_path=tmp / "grades.csv")
    assert g["broken/97_tests.ipynb"].status == "unreadable" and "not a readable notebook" in g["broken/97_tests.ipynb"].error
    assert g["victim/97_tests.ipynb"].score == 1.0, "every submission is read and hashed before any runs"
    assert "return 0 * x" in victim.read_text(), "(the attack did change the file on disk)"
    rows = list(csv.DictReader((tmp / "grades.csv").open()))
    assert len(rows) == 3 and {r["status"] for r in rows} == {"unreadable", "graded"}
    assert all(len(r["sha256"]) == 64 for r in rows)


def test_time_limits_a_dead_kernel_and_huge_output_each_get_a_row(course):
    tmp, master_dir, student = course
    sub = tmp / "returned"
    _write(_answer(student, "97.1", "import time\ntime.sleep(30)\ndef double(x):\n    return 2 * x"),
           sub / "slow_cell" / "97_tests.ipynb")
    _write(_answer(_answer(student, "97.1", "import time\ntime.sleep(3.5)\n" + GOOD_1),
                   "97.2", "import time\ntime.sleep(3.5)\n" + GOOD_2), sub / "slow_notebook" / "97_tests.ipynb")
    _write(_answer(student, "97.1", "import os\nos._exit(1)"), sub / "dies" / "97_tests.ipynb")
    _write(_answer(student, "97.1", "print('x' * 3_000_000)\n" + GOOD_1), sub / "loud" / "97_tests.ipynb")
    g = _grade(tmp, master_dir, [sub], timeout=4, notebook_timeout=6, executed_dir=tmp / "graded",
               max_output_chars=10_000)
    cell = g["slow_cell/97_tests.ipynb"]
    assert cell.status == "timed out" and "cell" in cell.error and cell.results["97.1"][0] == "did not run"
    whole = g["slow_notebook/97_tests.ipynb"]
    assert whole.status == "timed out" and "notebook" in whole.error, whole.error
    assert g["dies/97_tests.ipynb"].status == "kernel died"
    loud = g["loud/97_tests.ipynb"]
    assert loud.status == "graded" and loud.results["97.1"][0] == "passed" and loud.truncated >= 1
    assert (tmp / "graded" / "loud" / "97_tests.ipynb").stat().st_size < 200_000
    text = grade.report(list(g.values()))
    assert "TIMED OUT" in text and "KERNEL DIED" in text and "cut in the executed copy" in text


def test_unknown_chapter_and_missing_paths(course, tmp_path):
    tmp, master_dir, student = course
    odd = new_notebook(cells=[new_markdown_cell("no title here")])
    _write(odd, tmp / "odd" / "homework.ipynb")
    g = _grade(tmp, master_dir, [tmp / "odd"])
    assert g["homework.ipynb"].status == "unknown chapter"
    with pytest.raises(SystemExit):
        grade.main([str(tmp / "missing.ipynb"), "--master", str(master_dir)])


def test_an_answer_that_runs_a_packaged_reference_earns_nothing(course):
    """The reference of 02.2 is importable from the installed package; an answer that runs it fails, and is
    flagged for review. Without the call, the same answer passes (the first notebook)."""
    tmp, master_dir, student = course
    sub = tmp / "returned"
    uses = ("from dlbook_utils.exercises.ch02 import _softmax_reference\n"
            "def double(x):\n    _softmax_reference(x)\n    return 2 * x")
    _write(_answer(student, "97.1", GOOD_1), sub / "own" / "97_tests.ipynb")
    _write(_answer(student, "97.1", uses), sub / "imported" / "97_tests.ipynb")
    g = _grade(tmp, master_dir, [sub])
    assert g["own/97_tests.ipynb"].results["97.1"][0] == "passed"
    status, message = g["imported/97_tests.ipynb"].results["97.1"]
    assert status == "failed" and "_softmax_reference from the checkers" in message
    assert any("_reference" in f for f in g["imported/97_tests.ipynb"].flags)


def test_an_answer_that_rewrites_the_kernels_output_is_flagged(course):
    """The limit Appendix B states: the grader's cells run in the student's process, so code in an answer cell
    that tampers with what the kernel prints is a risk; the report flags it for review."""
    tmp, master_dir, student = course
    rewrite = ("import sys\n_write = sys.stdout.write\n"
               "sys.stdout.write = lambda s: _write(s.replace('\"failed\"', '\"passed\"'))\n"
               "def double(x):\n    return 3 * x")
    g = _grade(tmp, master_dir, [_write(_answer(student, "97.1", rewrite), tmp / "returned" / "97_tests.ipynb")])
    row = g["97_tests.ipynb"]
    assert any("sys.stdout" in f for f in row.flags), row.flags
    assert "FLAGGED FOR REVIEW" in grade.report([row])


def test_answers_that_reach_for_the_machinery_are_flagged_without_running(course):
    tmp, master_dir, student = course
    master = nbformat.read(master_dir / "97_tests.ipynb", as_version=4)
    reaching = _answer(_answer(student, "97.1", "from dlbook_utils.exercises.ch02 import _softmax_reference\n" + GOOD_1),
                       "97.2", "import sys\ndef square(x):\n    return sys._getframe(1).f_locals['expected']")
    nb, flags = grade.rebuild(master, reaching, "TOKEN:")
    assert len(flags) == 2 and "_reference" in flags[0] and "_getframe" in flags[1]
    assert "TOKEN:" in nb.cells[-1].source and "dlbook-grader" in nb.cells[-1].metadata["tags"]
    assert sum("check.exercise(" in c.source for c in nb.cells) == 2, "the master's check cells are all there"
    assert grade.rebuild(master, student, "TOKEN:")[1] == [], "an untouched student version raises no flag"

"""Student versions: the generator's rules, and the real chapters run through it."""

import re

import nbformat
import pytest

from dlbook_utils.student import (
    BEGIN,
    END,
    StudentVersionError,
    make_student_versions,
    stub_code,
    student_notebook,
)
from tests.conftest import CHAPTERS

SOLUTION = '#@title Solution 02.1 { display-mode: "form" }\ndef softmax(z):\n    """Doc stays."""\n    ### BEGIN SOLUTION\n    e = np.exp(z - z.max())\n    return e / e.sum()\n    ### END SOLUTION'


def test_marked_region_becomes_an_indented_stub():
    out = stub_code(SOLUTION)
    assert out.splitlines()[0] == "# Exercise 02.1: your answer"
    assert "def softmax(z):" in out and '"""Doc stays."""' in out
    assert "    # YOUR CODE HERE" in out and '    raise NotImplementedError("Exercise 02.1' in out
    assert "np.exp" not in out and "display-mode" not in out and BEGIN not in out


def test_cell_without_markers_is_replaced_whole():
    out = stub_code("answer = 42")
    assert "42" not in out and "NotImplementedError" in out


@pytest.mark.parametrize(
    "source, problem",
    [(f"{BEGIN}\nx = 1", "never closed"), (f"{END}", "without"), (f"{BEGIN}\n{BEGIN}\n{END}", "inside")],
)
def test_broken_markers_are_reported(source, problem):
    with pytest.raises(StudentVersionError, match=problem):
        stub_code(source)


def test_notebook_without_solutions_is_refused():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(StudentVersionError, match="no cell tagged"):
        student_notebook(nb)


def _solution_lines(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside and len(line.strip()) > 12:
            lines.append(line.strip())
    return lines


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_real_chapter_student_version(path, tmp_path):
    original = nbformat.read(path, as_version=4)
    student = student_notebook(original, name=path.name)
    nbformat.validate(student)
    assert len(student.cells) == len(original.cells) + 1  # the banner
    assert student.metadata["dlbook"]["student"] is True
    student_code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    student_md = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
    # No solution code survives (a line may still appear where the lesson itself uses it); every check cell does.
    lesson_code = "\n".join(
        c.source for c in original.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])
    )
    for cell in original.cells:
        if "solution" in cell.metadata.get("tags", []):
            if cell.cell_type == "code":
                for line in _solution_lines(cell.source):
                    assert student_code.count(line) <= lesson_code.count(line), f"solution line leaked: {line}"
            else:
                body = re.sub(r"<[^>]+>", "", cell.source).strip()
                assert body[:80] not in student_md
    original_checks = re.findall(r"check\.exercise\(", "\n".join(c.source for c in original.cells))
    assert len(re.findall(r"check\.exercise\(", student_code)) == len(original_checks) > 0
    assert all(c.get("outputs", []) == [] for c in student.cells if c.cell_type == "code")
    assert student_code.count("raise NotImplementedError") >= 1


def test_make_student_versions_writes_every_chapter(tmp_path):
    written = make_student_versions(CHAPTERS[0].parent, tmp_path / "student")
    assert sorted(p.name for p in written) == sorted(p.name for p in CHAPTERS)
    for p in written:
        nbformat.validate(nbformat.read(p, as_version=4))

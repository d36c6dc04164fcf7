"""Student versions of the chapters: solutions out, stubs in, checks kept.

Conventions in the chapter notebooks (see the README's "Writing a chapter"):

* A **code** cell tagged ``solution`` holds a worked answer.  Lines between ``### BEGIN SOLUTION``
  and ``### END SOLUTION`` are replaced by a stub at the same indentation
  (``# YOUR CODE HERE`` and ``raise NotImplementedError``); a cell without markers is replaced
  whole.  A first line ``#@title ...`` (Colab's collapsed form view) becomes a plain heading.
* A **markdown** cell tagged ``solution`` holds a written answer and is replaced by a prompt.
* Everything else, the ``check.exercise(...)`` cells included, is kept.  Outputs are cleared.

Usage::

    python -m dlbook_utils.student chapters/ --out student/
"""

from __future__ import annotations

import argparse
import copy
import re
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SOLUTION_TAG = "solution"
_TITLE = re.compile(r"^#@title\s*(?P<title>.*?)\s*(\{.*\})?\s*$")
_EXERCISE_ID = re.compile(r"\b(\d\d\.\d+)\b")


class StudentVersionError(ValueError):
    """A chapter breaks the solution-cell conventions."""


def _stub(indent: str, exercise: str | None) -> list[str]:
    label = f"Exercise {exercise}" if exercise else "this exercise"
    return [
        f"{indent}# YOUR CODE HERE",
        f'{indent}raise NotImplementedError("{label}: replace this line with your answer")',
    ]


def stub_code(source: str, where: str = "cell") -> str:
    """Return ``source`` with each marked solution region (or the whole cell) replaced by a stub."""
    lines = source.splitlines()
    heading: list[str] = []
    exercise = None
    if lines and (m := _TITLE.match(lines[0])):
        title = m.group("title").strip() or "Your answer"
        ids = _EXERCISE_ID.findall(title)
        exercise = ids[0] if ids else None
        heading = [f"# Exercise {exercise}: your answer" if exercise else f"# {title}"]
        lines = lines[1:]
    if not any(line.strip() in (BEGIN, END) for line in lines):
        return "\n".join(heading + _stub("", exercise))
    out: list[str] = list(heading)
    inside = False
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise StudentVersionError(f"{where}: line {n}: '{BEGIN}' inside another solution region")
            inside = True
            out.extend(_stub(line[: len(line) - len(line.lstrip())], exercise))
        elif stripped == END:
            if not inside:
                raise StudentVersionError(f"{where}: line {n}: '{END}' without a '{BEGIN}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise StudentVersionError(f"{where}: '{BEGIN}' is never closed by '{END}'")
    return "\n".join(out)


def _answer_prompt(source: str) -> str:
    ids = _EXERCISE_ID.findall(source)
    label = f"exercise {ids[0]}" if ids else "this exercise"
    return f"**Your answer to {label}:** *(write it here)*"


def student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A student copy of ``nb``: solutions replaced by stubs or prompts, outputs cleared."""
    student = nbformat.from_dict(copy.deepcopy(dict(nb)))
    solutions = 0
    for i, cell in enumerate(student.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if SOLUTION_TAG not in tags:
            continue
        solutions += 1
        if cell.cell_type == "code":
            cell.source = stub_code(cell.source, where=f"{name} cell {i}")
        else:
            cell.source = _answer_prompt(cell.source)
        cell.metadata["tags"] = [t for t in tags if t not in (SOLUTION_TAG, "hide-input", "hide-cell")] + [
            "student-answer"
        ]
    if solutions == 0:
        raise StudentVersionError(f"{name} has no cell tagged '{SOLUTION_TAG}'")
    banner = nbformat.v4.new_markdown_cell(
        "> **Student version.** The worked solutions of this chapter's exercises are removed. "
        "Write your answer where it says `YOUR CODE HERE` (or *write it here*), then run the "
        "`check.exercise(...)` cell below it: it tells you whether your answer is right and, if not, "
        "what is wrong."
    )
    banner.metadata["tags"] = ["student-banner"]
    student.cells.insert(1 if student.cells else 0, banner)
    student.metadata.setdefault("dlbook", {})["student"] = True
    return student


def make_student_versions(chapters: Path, out: Path) -> list[Path]:
    """Write a student copy of every ``*.ipynb`` in ``chapters`` into ``out``; return the paths."""
    chapters, out = Path(chapters), Path(out)
    notebooks = sorted(chapters.glob("*.ipynb"))
    if not notebooks:
        raise StudentVersionError(f"no notebooks in {chapters}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        student = student_notebook(nb, name=path.name)
        nbformat.validate(student)
        target = out / path.name
        nbformat.write(student, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write student versions of the book's chapters.")
    parser.add_argument("chapters", type=Path, nargs="?", default=Path("chapters"))
    parser.add_argument("--out", type=Path, default=Path("student"))
    args = parser.parse_args(argv)
    for path in make_student_versions(args.chapters, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""Grade returned student notebooks by running them and collecting their exercise checks.

Usage::

    python -m dlbook_utils.grade submissions/*.ipynb --csv grades.csv

Each notebook runs top to bottom in a fresh kernel (in quick mode unless ``--mode full``), errors
and all: a failing exercise does not stop the ones after it.  Every ``check.exercise(...)`` call
reports to a results file, and the grade of a notebook is the share of its exercises that passed.
An exercise whose check never ran (the cell was deleted, or an earlier cell broke it) counts as
not passed and is listed as "did not run".
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

_EXERCISE_ERRORS = {"ExerciseFailed", "NotImplementedError"}
_CHECK_CALL = re.compile(r"""check\.exercise\(\s*["'](\d\d\.\d+)["']""")


@dataclass
class NotebookGrade:
    notebook: str
    results: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (status, message)
    error: str = ""
    cell_errors: list[str] = field(default_factory=list)  # errors other than exercise checks

    @property
    def passed(self) -> int:
        return sum(1 for status, _ in self.results.values() if status == "passed")

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0


def expected_exercises(nb: nbformat.NotebookNode) -> list[str]:
    """The exercise ids a notebook checks, in order of appearance."""
    ids: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            for ex in _CHECK_CALL.findall(cell.source):
                if ex not in ids:
                    ids.append(ex)
    return ids


def grade_notebook(path: Path, *, mode: str = "quick", timeout: int = 600, executed_dir: Path | None = None) -> NotebookGrade:
    """Run one notebook and return its grade."""
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    grade = NotebookGrade(path.name)
    expected = expected_exercises(nb)
    with tempfile.TemporaryDirectory() as tmp:
        results_file = Path(tmp) / "results.jsonl"
        saved = {k: os.environ.get(k) for k in ("DLBOOK_RESULTS", "DLBOOK_MODE")}
        os.environ["DLBOOK_RESULTS"] = str(results_file)
        os.environ["DLBOOK_MODE"] = mode
        try:
            client = NotebookClient(
                nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                resources={"metadata": {"path": str(path.parent.resolve())}},
            )
            client.execute()
        except Exception as exc:  # a kernel that dies or a cell that times out
            grade.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        seen: dict[str, tuple[str, str]] = {}
        if results_file.exists():
            for line in results_file.read_text().splitlines():
                entry = json.loads(line)
                seen[entry["exercise"]] = (entry["status"], entry["message"])
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error" and out.get("ename") not in _EXERCISE_ERRORS:
                grade.cell_errors.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
    for ex in expected:
        grade.results[ex] = seen.get(ex, ("did not run", "its check cell did not run"))
    for ex, result in seen.items():
        grade.results.setdefault(ex, result)
    if executed_dir is not None:
        executed_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_dir / path.name)
    return grade


def report(grades: list[NotebookGrade]) -> str:
    lines = []
    for g in grades:
        lines.append(f"{g.notebook}: {g.passed}/{g.total} exercises passed ({g.score:.0%})")
        if g.error:
            lines.append(f"  run stopped: {g.error}")
        for err in g.cell_errors:
            lines.append(f"  other error: {err}")
        for ex, (status, message) in g.results.items():
            lines.append(f"  {ex}: {status}" + ("" if status == "passed" else f" — {message}"))
    return "\n".join(lines)


def write_csv(grades: list[NotebookGrade], path: Path) -> None:
    exercises = sorted({ex for g in grades for ex in g.results})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["notebook", "passed", "total", "score", *exercises])
        for g in grades:
            writer.writerow(
                [g.notebook, g.passed, g.total, f"{g.score:.3f}",
                 *[g.results.get(ex, ("", ""))[0] for ex in exercises]]
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade student notebooks by running their exercise checks.")
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    parser.add_argument("--csv", type=Path, help="write one row per notebook to this CSV file")
    parser.add_argument("--executed", type=Path, help="save the executed notebooks (with outputs) here")
    args = parser.parse_args(argv)
    missing = [p for p in args.notebooks if not p.exists()]
    if missing:
        parser.error(f"no such notebook: {', '.join(map(str, missing))}")
    grades = []
    for path in args.notebooks:
        print(f"grading {path} ...", file=sys.stderr)
        grades.append(grade_notebook(path, mode=args.mode, timeout=args.timeout, executed_dir=args.executed))
    print(report(grades))
    if args.csv:
        write_csv(grades, args.csv)
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

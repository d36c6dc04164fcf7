"""Grade returned student notebooks: the grader owns the checks, and one bad notebook never stops a class.

Usage::

    python -m dlbook_utils.grade returned/ --master chapters/ --csv grades.csv --executed graded/

How a returned notebook is graded (the model is nbgrader's):

1. **Everything is read first.** Every returned file (files and folders of ``.ipynb`` may be given) is read and
   hashed before any of them runs, so nothing a submission does can change another submission.
2. **The notebook that runs is rebuilt from the instructor's master copy** (``chapters/NN_*.ipynb``, found from
   the chapter number of the returned file). Only the student's *answer cells* (the cells the student version
   marks ``student-answer``: the master's ``solution`` cells) come from the returned file, matched by cell id
   or, failing that, by exercise number. Every other cell, the check cells included, comes from the master. A
   deleted or edited check cell therefore changes nothing, and the list of exercises comes from the master.
3. **Results come only from cells the grader appends at the end.** They re-import the checkers from the
   installed package (dropping any copy the notebook may have patched) and print one verdict per exercise,
   each carrying a random token chosen for this run. Nothing student code writes before them is believed:
   no results file, no printed line without the token.
4. **Each notebook runs in a temporary folder of its own**, with a minimal environment, a time limit per cell
   and one for the whole notebook. A notebook that cannot be read, times out or kills its kernel gets a row
   saying so, and grading goes on. Executed copies are saved with long outputs cut down.
5. **An answer that runs the checkers' own code fails.** The references ship with the package, so an answer
   can import one; while each answer runs, :func:`dlbook_utils.check.isolated` watches the functions it enters,
   and a call into ``dlbook_utils/exercises/`` (or into the package function the exercise asks for) fails the
   exercise with a message that says so.
6. Answers that mention the machinery (``_reference``, ``DLBOOK_RESULTS``, ``_getframe``,
   ``dlbook_utils.exercises``, ``getsource``, ``__code__``, ``setprofile``) or the kernel's own machinery
   (``sys.stdout``, ``builtins``, ``sys.modules``, ``meta_path``) are **flagged for review**.

The CSV gets a row as each notebook finishes. Grading runs the students' code with your permissions: run it
in a container or as a separate user (Appendix B of the book gives the command).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = [
    "NotebookGrade", "Submission", "collect", "expected_exercises", "rebuild", "grade_notebook",
    "grade_submissions", "report", "write_csv", "main",
]

_EXERCISE_ERRORS = {"ExerciseFailed", "NotImplementedError"}
_CHECK_CALL = re.compile(r"""^\s*check\.exercise\(\s*["'](\d\d\.\d+)["']\s*,\s*(.+?)\)\s*$""", re.M)
_EXERCISE_ID = re.compile(r"\b(\d\d\.\d+)\b")
_CHAPTER_FILE = re.compile(r"^(\d\d)_")
_TITLE_CHAPTER = re.compile(r"^#\s*(\d\d)\s*·", re.M)
SUSPICIOUS = ("_reference", "DLBOOK_RESULTS", "_getframe", "dlbook_utils.exercises", "f_locals", "f_back",
              "_current_frames", "get_referrers", "DLBOOK-VERDICT", "getsource", "__code__", "co_consts",
              "setprofile", "settrace", "sys.stdout", "builtins", "sys.modules", "meta_path")
ANSWER_TAG, SOLUTION_TAG, GRADER_TAG = "student-answer", "solution", "dlbook-grader"
DEFAULT_CELL_TIMEOUT = 600
DEFAULT_NOTEBOOK_TIMEOUT = 1800
DEFAULT_MAX_OUTPUT_CHARS = 20_000          # per output of an executed copy
# Variables a graded kernel keeps from the grader's environment; everything else is dropped.
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "DLBOOK_DATA", "DLBOOK_OFFLINE",
             "KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _exercise_key(exercise_id: str) -> tuple[int, int]:
    chapter, _, number = exercise_id.partition(".")
    return int(chapter), int(number)


@dataclass
class Submission:
    """One returned file, read once before grading starts."""

    path: Path
    name: str            # path relative to the common folder of all submissions: the row's name
    content: bytes
    sha256: str


@dataclass
class NotebookGrade:
    notebook: str
    results: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (status, message)
    status: str = "graded"        # graded | unreadable | unknown chapter | timed out | kernel died
    error: str = ""
    cell_errors: list[str] = field(default_factory=list)   # errors other than exercise checks
    flags: list[str] = field(default_factory=list)         # answers to look at by hand
    truncated: int = 0                                     # outputs cut down in the executed copy
    sha256: str = ""

    @property
    def passed(self) -> int:
        return sum(1 for status, _ in self.results.values() if status == "passed")

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0


# --- reading the submissions --------------------------------------------------------------------


def collect(paths: list[Path]) -> list[Submission]:
    """Every ``.ipynb`` named or found under a named folder, read and hashed now, named relative to their
    common folder (so two students' ``03_backpropagation.ipynb`` in different folders stay apart)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in f.parts)
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"no such notebook or folder: {p}")
    files = list(dict.fromkeys(f.resolve() for f in files))
    if not files:
        return []
    root = Path(os.path.commonpath([f.parent for f in files]))
    out = []
    for f in files:
        content = f.read_bytes()
        out.append(Submission(f, f.relative_to(root).as_posix(), content, hashlib.sha256(content).hexdigest()))
    return out


def expected_exercises(nb: nbformat.NotebookNode) -> list[str]:
    """The exercise ids a notebook checks, in order of appearance."""
    ids: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            for ex, _ in _CHECK_CALL.findall(cell.source):
                if ex not in ids:
                    ids.append(ex)
    return ids


def _check_calls(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Exercise id -> the argument text of its check call in the master (``"value_exp, Value=Value"``)."""
    calls: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            for ex, args in _CHECK_CALL.findall(cell.source):
                calls.setdefault(ex, args)
    return calls


def chapter_of(nb: nbformat.NotebookNode, name: str) -> str | None:
    """The chapter number of a returned notebook: from its file name (``03_…``), else its title cell."""
    m = _CHAPTER_FILE.match(Path(name).name)
    if m:
        return m.group(1)
    for cell in nb.cells[:3]:
        if cell.cell_type == "markdown" and (m := _TITLE_CHAPTER.search(cell.source)):
            return m.group(1)
    return None


def find_master(masters: Path, chapter: str) -> Path | None:
    found = sorted(Path(masters).glob(f"{chapter}_*.ipynb"))
    return found[0] if found else None


# --- rebuilding the notebook from the master ------------------------------------------------------


def _solution_exercise(cell) -> str | None:
    first = cell.source.splitlines()[0] if cell.source else ""
    ids = _EXERCISE_ID.findall(first) or _EXERCISE_ID.findall(cell.source[:300])
    return ids[0] if ids else None


def rebuild(master: nbformat.NotebookNode, student: nbformat.NotebookNode, token: str,
            checker_module: str = "dlbook_utils.exercises.ch{chapter}", checker_path: str | None = None
            ) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook to run: the master's cells, with each ``solution`` cell replaced by the student's answer
    cell, and the grader's verdict cell appended. Returns it and the flags raised by the answers."""
    import copy

    answers = [c for c in student.cells if ANSWER_TAG in c.get("metadata", {}).get("tags", [])]
    by_id = {c.get("id"): c for c in answers if c.get("id")}
    by_exercise: dict[str, list] = {}
    for c in answers:
        ex = _EXERCISE_ID.findall(c.source.splitlines()[0] if c.source else "")
        if ex:
            by_exercise.setdefault(ex[0], []).append(c)
    graded = nbformat.from_dict(copy.deepcopy(dict(master)))
    flags: list[str] = []
    for cell in graded.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if SOLUTION_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        exercise = _solution_exercise(cell)
        mine = by_id.get(cell.get("id"))
        if mine is None and exercise and len(by_exercise.get(exercise, [])) == 1:
            mine = by_exercise[exercise][0]
        if mine is None or mine.cell_type != cell.cell_type:
            # no answer cell came back: the stub of the student version stands in for it
            from .student import _answer_prompt, stub_code

            cell.source = stub_code(cell.source) if cell.cell_type == "code" else _answer_prompt(cell.source)
        else:
            cell.source = mine.source
            hits = [s for s in SUSPICIOUS if s in mine.source]
            if hits:
                flags.append(f"answer to {exercise or 'an exercise'} mentions {', '.join(hits)}: read it")
        cell.metadata["tags"] = [ANSWER_TAG]
    chapter = (expected_exercises(master) or ["00.0"])[0][:2]
    calls = _check_calls(master)
    lines = [
        "def _dlbook_grader_verdicts():",
        "    import importlib, json, sys",
        f"    token = {token!r}",
        "    for name in [m for m in list(sys.modules) if m == 'dlbook_utils.check' or",
        "                 m.startswith('dlbook_utils.exercises') or m == " + repr(checker_module.format(chapter=chapter)) + "]:",
        "        del sys.modules[name]",
    ]
    if checker_path:
        lines.append(f"    sys.path.insert(0, {checker_path!r})")
    lines += [
        "    check = importlib.import_module('dlbook_utils.check')",
        f"    importlib.import_module({checker_module.format(chapter=chapter)!r})",
        "    def verdict(exercise, run):",
        "        try:",
        "            status, message = run(check)",
        "        except NameError as exc:",
        "            status, message = 'did not run', f'no answer to check ({exc})'",
        "        except Exception as exc:",
        "            status, message = 'failed', f'checking the answer raised {type(exc).__name__}: {exc}'",
        "        sys.stdout.write(token + json.dumps({'exercise': exercise, 'status': status, 'message': message}) + '\\n')",
    ]
    for ex, args in calls.items():
        lines.append(f"    verdict({ex!r}, lambda check: check.run({ex!r}, {args}))")
    lines += ["    sys.stdout.flush()", "_dlbook_grader_verdicts()"]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = [GRADER_TAG]
    graded.cells.append(cell)
    return graded, flags


# --- running one notebook ----------------------------------------------------------------------


def _minimal_env(mode: str, home: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    data = os.environ.get("DLBOOK_DATA")
    if not data:
        env["DLBOOK_DATA"] = str(Path.home() / ".cache" / "dlbook")   # the default cache, found from the real home
    env.update({"HOME": str(home), "DLBOOK_MODE": mode, "MPLBACKEND": "agg", "PYTHONNOUSERSITE": "1"})
    env.setdefault("PATH", os.defpath)
    return env


def _cap_outputs(nb: nbformat.NotebookNode, max_chars: int) -> int:
    """Cut every text output of ``nb`` to ``max_chars`` characters; returns how many were cut."""
    cut = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream" and len(out.get("text", "")) > max_chars:
                out["text"] = out["text"][:max_chars] + f"\n[… output cut by the grader: {len(out['text']):,} characters]\n"
                cut += 1
            for key, value in list(out.get("data", {}).items()):
                text = value if isinstance(value, str) else "".join(value) if isinstance(value, list) else ""
                if key.startswith("text/") and len(text) > max_chars:
                    out["data"][key] = text[:max_chars] + "\n[… cut by the grader]"
                    cut += 1
            if out.get("output_type") == "error" and sum(len(t) for t in out.get("traceback", [])) > max_chars:
                out["traceback"] = out["traceback"][:3] + ["[… traceback cut by the grader]"] + out["traceback"][-3:]
                cut += 1
    return cut


def _run(nb: nbformat.NotebookNode, workdir: Path, env: dict[str, str], cell_timeout: int,
         notebook_timeout: int) -> tuple[str, str]:
    """Execute ``nb`` in place; returns (status, error): ("graded", ""), ("timed out", …) or ("kernel died", …)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    client = NotebookClient(nb, timeout=cell_timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    deadline = time.monotonic() + notebook_timeout
    try:
        with client.setup_kernel(env=env, cwd=str(workdir)):
            for index, cell in enumerate(nb.cells):
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timed out", f"the notebook ran past its {notebook_timeout} s limit (stopped before cell {index})"
                client.timeout = int(max(1, min(cell_timeout, left)))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    limit = "notebook" if left < cell_timeout else "cell"
                    return "timed out", (f"cell {index} ran past the {limit} limit "
                                         f"({notebook_timeout if limit == 'notebook' else cell_timeout} s)")
    except DeadKernelError as exc:
        return "kernel died", f"the kernel died: {str(exc).splitlines()[0] if str(exc) else 'no message'}"
    except Exception as exc:  # noqa: BLE001 - a kernel that never starts, a broken notebook: a row, not a crash
        return "kernel died", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return "graded", ""


def grade_notebook(path: Path | Submission, *, masters: Path = Path("chapters"), mode: str = "quick",
                   timeout: int = DEFAULT_CELL_TIMEOUT, notebook_timeout: int = DEFAULT_NOTEBOOK_TIMEOUT,
                   executed_dir: Path | None = None, max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
                   checker_module: str = "dlbook_utils.exercises.ch{chapter}",
                   checker_path: str | None = None) -> NotebookGrade:
    """Grade one returned notebook (see the module doc) and return its row."""
    sub = path if isinstance(path, Submission) else collect([Path(path)])[0]
    grade = NotebookGrade(sub.name, sha256=sub.sha256)
    try:
        student = nbformat.reads(sub.content.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - anything unreadable is a row
        grade.status, grade.error = "unreadable", f"not a readable notebook: {type(exc).__name__}: {exc}".splitlines()[0]
        return grade
    chapter = chapter_of(student, sub.name)
    master_path = find_master(masters, chapter) if chapter else None
    if master_path is None:
        grade.status = "unknown chapter"
        grade.error = (f"no master notebook for chapter {chapter} in {masters}" if chapter else
                       "cannot tell which chapter this is (name it NN_….ipynb or keep its title cell)")
        return grade
    master = nbformat.read(master_path, as_version=4)
    token = f"DLBOOK-VERDICT-{secrets.token_hex(16)}:"
    nb, grade.flags = rebuild(master, student, token, checker_module=checker_module, checker_path=checker_path)
    grader_index = len(nb.cells) - 1
    with tempfile.TemporaryDirectory(prefix="dlbook-grade-") as tmp:
        workdir, home = Path(tmp) / "work", Path(tmp) / "home"
        workdir.mkdir()
        home.mkdir()
        for f in master_path.parent.iterdir():          # the chapter's companions (never other submissions)
            if f.is_file() and f.suffix != ".ipynb":
                shutil.copy(f, workdir / f.name)
        grade.status, grade.error = _run(nb, workdir, _minimal_env(mode, home), timeout, notebook_timeout)
    seen: dict[str, tuple[str, str]] = {}
    for out in nb.cells[grader_index].get("outputs", []):
        if out.get("output_type") != "stream":
            continue
        for line in out.get("text", "").splitlines():
            if line.startswith(token):
                try:
                    entry = json.loads(line[len(token):])
                    seen[entry["exercise"]] = (entry["status"], entry["message"])
                except (ValueError, KeyError, TypeError):
                    continue
    for index, cell in enumerate(nb.cells[:grader_index]):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error" and out.get("ename") not in _EXERCISE_ERRORS:
                grade.cell_errors.append(f"cell {index}: {out.get('ename')}: {str(out.get('evalue'))[:300]}")
    reason = {"graded": "its check did not run", "timed out": "the notebook timed out before its check",
              "kernel died": "the kernel died before its check"}.get(grade.status, "its check did not run")
    for ex in expected_exercises(master):
        grade.results[ex] = seen.get(ex, ("did not run", reason))
    if executed_dir is not None:
        grade.truncated = _cap_outputs(nb, max_output_chars)
        target = Path(executed_dir) / sub.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    return grade


# --- a class at a time -----------------------------------------------------------------------------


def _columns(submissions: list[Submission], masters: Path) -> list[str]:
    ids: set[str] = set()
    for sub in submissions:
        try:
            nb = nbformat.reads(sub.content.decode("utf-8"), as_version=4)
        except Exception:  # noqa: BLE001
            continue
        chapter = chapter_of(nb, sub.name)
        master = find_master(masters, chapter) if chapter else None
        if master is not None:
            ids.update(expected_exercises(nbformat.read(master, as_version=4)))
    return sorted(ids, key=_exercise_key)


_CSV_HEAD = ["notebook", "status", "passed", "total", "score", "flags", "sha256"]


def _csv_row(g: NotebookGrade, exercises: list[str]) -> list[str]:
    return [g.notebook, g.status, str(g.passed), str(g.total), f"{g.score:.3f}", " | ".join(g.flags), g.sha256,
            *[g.results.get(ex, ("", ""))[0] for ex in exercises]]


def write_csv(grades: list[NotebookGrade], path: Path) -> None:
    """All rows at once (``grade_submissions`` writes them one by one as notebooks finish)."""
    exercises = sorted({ex for g in grades for ex in g.results}, key=_exercise_key)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*_CSV_HEAD, *exercises])
        for g in grades:
            writer.writerow(_csv_row(g, exercises))


def grade_submissions(paths: list[Path], *, masters: Path = Path("chapters"), csv_path: Path | None = None,
                      progress=None, **kwargs) -> list[NotebookGrade]:
    """Read and hash every submission first, then grade them one by one, appending each row to ``csv_path``
    as soon as its notebook finishes."""
    submissions = collect(paths)
    exercises = _columns(submissions, masters)
    writer, fh = None, None
    if csv_path is not None:
        fh = open(csv_path, "w", newline="", encoding="utf-8")
        writer = csv.writer(fh)
        writer.writerow([*_CSV_HEAD, *exercises])
        fh.flush()
    grades = []
    try:
        for i, sub in enumerate(submissions, 1):
            if progress:
                progress(f"[{i}/{len(submissions)}] grading {sub.name} …")
            g = grade_notebook(sub, masters=masters, **kwargs)
            grades.append(g)
            if writer is not None:
                writer.writerow(_csv_row(g, exercises))
                fh.flush()
    finally:
        if fh is not None:
            fh.close()
    return grades


def report(grades: list[NotebookGrade]) -> str:
    lines = []
    for g in grades:
        if g.status in ("unreadable", "unknown chapter"):
            lines.append(f"{g.notebook}: {g.status.upper()}: {g.error}")
            continue
        head = f"{g.notebook}: {g.passed}/{g.total} exercises passed ({g.score:.0%})"
        lines.append(head if g.status == "graded" else f"{head}, {g.status.upper()}: {g.error}")
        for flag in g.flags:
            lines.append(f"  FLAGGED FOR REVIEW: {flag}")
        for err in g.cell_errors:
            lines.append(f"  other error: {err}")
        for ex, (status, message) in g.results.items():
            lines.append(f"  {ex}: {status}" + ("" if status == "passed" else f" — {message}"))
        if g.truncated:
            lines.append(f"  ({g.truncated} long outputs were cut in the executed copy)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlbook_utils.grade",
        description="Grade returned student notebooks against the instructor's master chapters.")
    parser.add_argument("notebooks", nargs="+", type=Path, help="returned notebooks, or folders of them")
    parser.add_argument("--master", type=Path, default=Path("chapters"),
                        help="folder of the instructor's chapter notebooks (default: chapters)")
    parser.add_argument("--mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT, help="seconds allowed per cell")
    parser.add_argument("--notebook-timeout", type=int, default=DEFAULT_NOTEBOOK_TIMEOUT,
                        help="seconds allowed for a whole notebook")
    parser.add_argument("--csv", type=Path, help="write one row per notebook to this CSV file, as each finishes")
    parser.add_argument("--executed", type=Path, help="save the executed notebooks here (same folder layout)")
    parser.add_argument("--max-output", type=int, default=DEFAULT_MAX_OUTPUT_CHARS,
                        help="characters kept of each output in the executed copies")
    args = parser.parse_args(argv)
    try:
        import nbclient  # noqa: F401
    except ModuleNotFoundError:
        parser.error('grading needs nbclient and ipykernel: pip install "dlbook-utils[grading]"')
    if not args.master.is_dir():
        parser.error(f"the master folder {args.master} does not exist (use --master chapters/)")
    try:
        grades = grade_submissions(args.notebooks, masters=args.master, csv_path=args.csv, mode=args.mode,
                                   timeout=args.timeout, notebook_timeout=args.notebook_timeout,
                                   executed_dir=args.executed, max_output_chars=args.max_output,
                                   progress=lambda text: print(text, file=sys.stderr, flush=True))
    except FileNotFoundError as exc:
        parser.error(str(exc))
    print(report(grades))
    if args.csv:
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import dlbook_utils  # noqa: F401  (before any test imports TensorFlow: it sets TensorFlow's CPU options)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def repository_url() -> str:
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", text, re.M)
    assert match, "_config.yml has no repository url"
    return match.group(1)


@pytest.fixture
def chapters() -> list[Path]:
    assert CHAPTERS, "no chapters found"
    return CHAPTERS


def load_nb(path: Path) -> dict:
    return json.loads(path.read_text())


def solution_namespace(notebook: Path, exercise_id: str, **names) -> dict:
    """Run the notebook's own solution cell for ``exercise_id`` and return the names it defines.

    Tests check the solutions the readers see, not a copy of them; ``names`` are the imports the cell expects.
    """
    title = f"#@title Solution {exercise_id} "
    cells = load_nb(notebook)["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    matches = [s for s in sources if s.startswith(title)]
    assert len(matches) == 1, f"{notebook.name} has {len(matches)} solution cells for exercise {exercise_id}"
    namespace = dict(names)
    exec(compile(matches[0], f"{notebook.name}: solution {exercise_id}", "exec"), namespace)
    return namespace


def exercise_stub(*args, **kwargs):
    """What a student copy holds before an answer is written."""
    raise NotImplementedError("Exercise: replace this line with your answer")


def assert_checker_contract(exercise_id: str, solution) -> None:
    """What every implement-exercise checker promises: the notebook's solution passes; the stub, ``None`` and
    ``...`` count as "not attempted"; a non-function is failed with a message that says a function is wanted."""
    from dlbook_utils import check

    assert check.run(exercise_id, solution) == (check.PASSED, "passed")
    for empty in (exercise_stub, None, ...):
        assert check.run(exercise_id, empty)[0] == check.NOT_ATTEMPTED
    status, message = check.run(exercise_id, 3.0)
    assert status == check.FAILED and "function" in message


def assert_rejected(exercise_id: str, answer, *words: str) -> str:
    """``answer`` is failed by the checker of ``exercise_id``, with a message that contains every one of ``words``
    (what a student reads); returns the message."""
    from dlbook_utils import check

    status, message = check.run(exercise_id, answer)
    assert status == check.FAILED, message
    for word in words:
        assert word in message, message
    return message

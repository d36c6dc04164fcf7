"""dlbook_utils.backends: the TensorFlow-only list, the JAX pass's rotation, and the chapters' imports."""

from __future__ import annotations

import ast
import re
import subprocess

import pytest

from dlbook_utils import backends
from tests.conftest import CHAPTERS, ROOT, load_nb

NUMBERS = [p.name[:2] for p in CHAPTERS]


def _code(path) -> str:
    cells = ["".join(c["source"]) for c in load_nb(path)["cells"] if c["cell_type"] == "code"]
    # IPython's own translation of magics (%pip …) into Python, as the kernel does
    from IPython.core.inputtransformer2 import TransformerManager

    return "\n".join(TransformerManager().transform_cell(cell) for cell in cells)


def test_the_tensorflow_only_list_names_real_chapters_with_a_reason():
    for number, reason in backends.TENSORFLOW_ONLY.items():
        assert number in NUMBERS, f"TENSORFLOW_ONLY lists chapter {number}, which does not exist"
        assert re.search(r"tf\.(GradientTape|data|distribute)", reason), \
            f"chapter {number}: the reason should name the TensorFlow API the lesson is about, got {reason!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_a_chapter_imports_tensorflow_only_where_it_may(path):
    """A backend-agnostic chapter imports TensorFlow only inside `try` (a cell that works without it) or in a
    branch on the backend; a TensorFlow-only chapter says so in a sentence."""
    number = path.name[:2]
    if number in backends.TENSORFLOW_ONLY:
        text = " ".join("".join(c["source"]) for c in load_nb(path)["cells"] if c["cell_type"] == "markdown")
        assert "runs on TensorFlow only" in text, f"{path.name} must say that it runs on TensorFlow only, and why"
        return
    tree = ast.parse(_code(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if not any(n == "tensorflow" or n.startswith("tensorflow.") for n in names):
            continue
        guarded, up = False, parents.get(node)
        while up is not None:
            if isinstance(up, (ast.Try, ast.If)):
                guarded = True
                break
            up = parents.get(up)
        assert guarded, (f"{path.name} line {node.lineno}: `import tensorflow` outside a try/if: the chapter would "
                         "fail on a machine with JAX only (list it in backends.TENSORFLOW_ONLY if its lesson is "
                         "TensorFlow itself)")


def test_runs_on_and_chapter_numbers():
    assert backends.chapter_number(ROOT / "chapters" / "07_convolutional_networks.ipynb") == "07"
    assert backends.chapter_number("07") == "07"
    with pytest.raises(ValueError, match="not a chapter"):
        backends.chapter_number("intro.md")
    assert all(backends.runs_on(n, "tensorflow") for n in NUMBERS)
    assert [n for n in NUMBERS if not backends.runs_on(n, "jax")] == sorted(backends.TENSORFLOW_ONLY)
    with pytest.raises(ValueError, match="unknown backend"):
        backends.runs_on("07", "theano")


def test_the_rotation_covers_every_chapter_over_its_groups_and_keeps_changed_ones():
    chapters = [f"{n:02d}_c" for n in range(1, 11)]
    for groups in (1, 2, 3):
        days = [backends.rotation(chapters, groups=groups, day=d) for d in range(groups)]
        assert sorted(c for day in days for c in day) == chapters, "each chapter in exactly one group"
        assert max(len(d) for d in days) - min(len(d) for d in days) <= 1
    assert backends.rotation(chapters, groups=2, day=10) == ["01_c", "03_c", "05_c", "07_c", "09_c"]
    assert backends.rotation(chapters, groups=2, day=11, always=["05"]) == ["02_c", "04_c", "05_c", "06_c",
                                                                         "08_c", "10_c"]
    assert backends.rotation(chapters, groups=1, day=123) == chapters
    with pytest.raises(ValueError):
        backends.rotation(chapters, groups=0, day=1)


def test_changed_chapters_come_from_git(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    assert backends.changed_chapters(tmp_path) == [], "not a repository: nothing"
    git("init", "-q")
    (tmp_path / "chapters").mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb", "intro.md"):
        (tmp_path / "chapters" / name).write_text("{}")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "chapters")
    assert backends.changed_chapters(tmp_path) == []
    (tmp_path / "chapters" / "02_b.ipynb").write_text('{"changed": 1}')
    (tmp_path / "chapters" / "03_new.ipynb").write_text("{}")
    (tmp_path / "chapters" / "intro.md").write_text("changed")
    assert backends.changed_chapters(tmp_path) == ["02", "03"]


def test_make_test_runs_a_jax_pass_without_tensorflow():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\ntest:"):]
    recipe = recipe[: recipe.index("\n\n")]
    assert "KERAS_BACKEND=jax" in recipe and "--rotate-chapters" in recipe and "--reuse-calibration" in recipe
    assert "tests/without_tensorflow" in recipe, "the JAX pass hides TensorFlow, as on a machine without it"
    stub = ROOT / "tests" / "without_tensorflow" / "tensorflow" / "__init__.py"
    assert "raise ImportError" in stub.read_text()

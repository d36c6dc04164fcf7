"""Every chapter follows the book's conventions (README, "Contributing a chapter")."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from dlbook_utils import check
from tests.conftest import CHAPTERS, ROOT, repository_url

IDS = [p.stem for p in CHAPTERS]
TITLE_LINE = re.compile(r'^#@title Solution (\d\d\.\d+) \{ display-mode: "form" \}$')


def _nb(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _number(path: Path) -> str:
    return path.name[:2]


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_there_are_chapters_and_the_toc_lists_exactly_them():
    assert CHAPTERS, "no chapters in chapters/"
    toc = (ROOT / "_toc.yml").read_text()
    listed = re.findall(r"file:\s*(\S+)", toc)
    for entry in listed:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".ipynb", ".md")), f"_toc.yml lists missing {entry}"
    for path in CHAPTERS:
        assert f"chapters/{path.stem}" in listed, f"{path.name} is not in _toc.yml"
    numbers = [_number(p) for p in CHAPTERS]
    assert len(set(numbers)) == len(numbers), "two chapters share a number"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_valid_and_stored_without_outputs(path):
    nb = _nb(path)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {i} has stored outputs"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_title_objectives_prerequisites_and_colab_badge(path):
    nb = _nb(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith(f"# {_number(path)} · "), "the first line is '# NN · Title'"
    colab = f"https://colab.research.google.com/github/{repository_url().split('github.com/')[1]}/blob/main/chapters/{path.name}"
    assert colab in first.source, f"the Colab badge must link {colab}"
    text = _markdown(nb)
    assert "Learning objectives" in text and "Prerequisites" in text
    objectives = text[text.index("Learning objectives") : text.index("Prerequisites")]
    bullets = re.findall(r"^[-*] ", objectives, re.M)
    assert 3 <= len(bullets) <= 6, f"3–5 learning objectives as bullets, found {len(bullets)}"
    for heading in ("Exercises", "Summary", "Further reading"):
        assert re.search(rf"^##+ .*{heading}", text, re.M), f"missing a '{heading}' section"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_setup_cell(path):
    nb = _nb(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[0].source
    assert 'if "google.colab" in sys.modules' in setup
    assert f'"dlbook-utils @ git+{repository_url()}@main"' in setup, "the Colab install must use _config's repository"
    assert "%pip install" in setup and "tensorflow" not in setup.split("%pip install")[1].splitlines()[0].lower()
    assert f'dlbook_utils.setup(chapter="{_number(path)}")' in setup
    assert setup.index("import dlbook_utils") < setup.index("import keras")


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_markdown_is_plain_enough_for_colab(path):
    text = _markdown(_nb(path))
    assert "```{" not in text and not re.search(r"\{(cite|doc|ref|numref|glue)\}`", text), \
        "MyST directives and roles do not render in Colab"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_check_cells_assert_the_model_learned(path):
    nb = _nb(path)
    checks = [c for c in nb.cells if "check" in _tags(c)]
    assert checks, "no cell tagged 'check'"
    body = "\n".join(c.source for c in checks)
    assert "assert " in body and "cfg.pick(full=" in body, "check cells assert against cfg.pick(full=..., quick=...)"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "cfg.record(" in code, "record the headline metrics with cfg.record"
    # model.fit directly, or a dlbook_utils recipe that calls it (models.train_classifier)
    assert re.search(r"\.fit\(|\btrain_classifier\(", code), "every chapter trains at least one Keras model"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_exercises_solutions_and_checks(path):
    nb = _nb(path)
    number = _number(path)
    exercise_ids: set[str] = set()
    checked: list[str] = []
    for i, cell in enumerate(nb.cells):
        tags = _tags(cell)
        if cell.cell_type == "code":
            checked += re.findall(r"check\.exercise\(\s*[\"'](\d\d\.\d+)[\"']", cell.source)
        if "solution" not in tags:
            continue
        if cell.cell_type == "code":
            first = cell.source.splitlines()[0]
            m = TITLE_LINE.match(first)
            assert m, f"cell {i}: a code solution starts with '#@title Solution NN.k {{ display-mode: \"form\" }}'"
            ex = m.group(1)
            assert ex.startswith(number + "."), f"cell {i}: exercise {ex} belongs to another chapter"
            assert "hide-input" in tags, f"cell {i}: solutions are collapsed on the website (hide-input)"
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
            following = next(c for c in nb.cells[i + 1 :] if c.cell_type == "code")
            assert f'check.exercise("{ex}"' in following.source, f"cell {i}: the next code cell checks {ex}"
            exercise_ids.add(ex)
        else:
            assert "<details>" in cell.source, f"cell {i}: a written solution is folded in <details>"
            exercise_ids.update(re.findall(rf"\b{number}\.\d+\b", cell.source))
    assert 3 <= len(exercise_ids | set(checked)) <= 5, f"3–5 exercises, found {sorted(exercise_ids | set(checked))}"
    assert len(set(checked)) >= 2, "at least two exercises have automatic checks"
    for ex in set(checked):
        check.get(ex)  # a checker is registered


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_figures_carry_alt_text(path):
    nb = _nb(path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt) > 10, f"cell {i} shows a figure without alt text (metadata mystnb.image.alt)"


def test_at_least_one_widget_explorer_in_part_one():
    sources = "\n".join(c.source for p in CHAPTERS if p.name[:2] <= "03" for c in _nb(p).cells)
    assert "ipywidgets" in sources


FIXED_SECTIONS = ("Check that the model learned", "Exercises", "Summary", "Further reading")
EXERCISE_HEADING = re.compile(r"^### Exercise (\d\d)\.(\d+) · (.+) \(([a-z ,]+)\)$")
KINDS = {"implement", "explain", "change and observe"}


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_one_template_for_headings_exercises_and_solutions(path):
    """One voice across the book: numbered sections "## N · Title" (then the four fixed sections), exercises
    headed "### Exercise NN.k · Title (kind)" and numbered from 1, written solutions labelled "Solution NN.k"."""
    nb = _nb(path)
    number = _number(path)
    sections = [line[3:] for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("## ")]
    numbered = [s for s in sections if s not in FIXED_SECTIONS]
    for k, title in enumerate(numbered, start=1):
        assert re.match(rf"^{k} · \S", title), f"section heading '## {title}' should be '## {k} · Title'"
    fixed = [s for s in sections if s in FIXED_SECTIONS]
    assert fixed == list(FIXED_SECTIONS), f"the closing sections are {FIXED_SECTIONS}, in order; found {fixed}"
    assert sections[-len(FIXED_SECTIONS):] == list(FIXED_SECTIONS), "numbered sections come before the closing ones"

    exercises: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if re.match(r"^\W*(Exercise )?\d\d\.\d+ ·", line):
                m = EXERCISE_HEADING.match(line)
                assert m, f"exercise heading {line[:60]!r} should be '### Exercise NN.k · Title (kind)'"
                assert m.group(1) == number, f"{line[:40]!r} belongs to chapter {m.group(1)}"
                kinds = {k.strip() for k in re.split(r",|\bthen\b", m.group(4)) if k.strip()}
                assert kinds <= KINDS, f"{line[:50]!r}: the kind is one of {sorted(KINDS)}"
                exercises.append(f"{m.group(1)}.{m.group(2)}")
        for label in re.findall(r"<summary>([^<]*)</summary>", cell.source):
            assert re.fullmatch(r"Solution \d\d\.\d+", label), f"a written solution is labelled 'Solution NN.k', not {label!r}"
            assert label.split()[1] in exercises, f"{label} comes before its exercise"
    assert exercises == [f"{number}.{k}" for k in range(1, len(exercises) + 1)], f"exercises numbered 1, 2, …: {exercises}"


MAX_CODE_CELL_LINES = 40


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_code_cells_are_short_enough_to_read(path):
    """A code cell a reader can take in at once: at most MAX_CODE_CELL_LINES lines. Longer ones are split where the
    code changes subject, or what they define moves into dlbook_utils."""
    nb = _nb(path)
    long = [(i, len(c.source.splitlines()), c.source.splitlines()[0][:50]) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and len(c.source.splitlines()) > MAX_CODE_CELL_LINES]
    assert not long, (f"code cells over {MAX_CODE_CELL_LINES} lines (cell index, lines, first line): {long}; "
                      "split them or lift what they define into dlbook_utils")

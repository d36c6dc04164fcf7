"""Every widget the chapters build also works with Colab's ipywidgets (7.7.1), not only with the book's 8.x.

Installing dlbook_utils never replaces Colab's ipywidgets (the package does not depend on it). So the chapters'
sliders and dropdowns must work on 7.x: this test reads each chapter's widget calls (``widgets.Name(...)``,
``widgets.interactive(...)``) from its code, then builds the same widgets, with the same keyword arguments, in a
separate Python that imports ipywidgets 7.7.1 (installed by ``make env`` into ``.venv/colab-widgets``).
Arguments that are not literals in the notebook (``options=sorted(vocab)``) are replaced by a value of the right
kind; the keyword itself must still be one the 7.x widget knows.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CHAPTERS, ROOT, load_nb

COLAB_WIDGETS = ROOT / ".venv" / "colab-widgets"

_BUILD = r"""
import json, sys
import ipywidgets as widgets
assert widgets.__version__ == "7.7.1", widgets.__version__
problems = []
for call in json.loads(sys.stdin.read()):
    cls = getattr(widgets, call["name"], None)
    if cls is None:
        problems.append(f"{call['where']}: ipywidgets 7.7.1 has no {call['name']}")
        continue
    kwargs = dict(call["literal"])
    for key in call["other"]:
        if key == "options":
            kwargs["options"] = [kwargs["value"]] if "value" in kwargs else ["a", "b"]
        elif not cls.class_traits().get(key):
            problems.append(f"{call['where']}: {call['name']} in 7.7.1 has no argument {key!r}")
    try:
        widget = cls(**kwargs)
        widgets.interactive(lambda **values: None, x=widget)
    except Exception as exc:
        problems.append(f"{call['where']}: {call['name']}(**{kwargs}) fails on 7.7.1: {type(exc).__name__}: {exc}")
print(json.dumps(problems))
"""


def _literal_dicts(tree: ast.AST) -> dict[str, dict]:
    """``name = dict(a=1, ...)`` assignments with literal values, for calls that pass ``**name``."""
    found = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "dict"):
            try:
                found[node.targets[0].id] = {k.arg: ast.literal_eval(k.value) for k in node.value.keywords}
            except ValueError:
                continue
    return found


def widget_calls(path: Path) -> list[dict]:
    """The ``widgets.Name(...)`` constructor calls of a chapter, with their literal and other keyword names."""
    body: list[ast.stmt] = []
    for cell in load_nb(path)["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        try:
            body += ast.parse(source).body
        except SyntaxError:                                 # IPython magics (%pip) are not Python
            lines = [line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                     else line for line in source.splitlines()]
            body += ast.parse("\n".join(lines)).body
    tree = ast.Module(body=body, type_ignores=[])
    dicts = _literal_dicts(tree)
    calls = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "widgets"):
            continue
        if node.func.attr == "interactive":
            continue                                        # built around every widget in the subprocess
        literal, other = {}, []
        for kw in node.keywords:
            if kw.arg is None and isinstance(kw.value, ast.Name) and kw.value.id in dicts:
                literal.update(dicts[kw.value.id])
                continue
            try:
                literal[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                other.append(kw.arg)
        calls.append({"where": f"{path.stem} line {node.lineno}", "name": node.func.attr, "literal": literal,
                      "other": other})
    return calls


def test_the_chapters_widgets_are_found():
    calls = [c for path in CHAPTERS for c in widget_calls(path)]
    names = {c["name"] for c in calls}
    assert {"FloatSlider", "IntSlider", "Dropdown"} <= names, names
    slider = next(c for c in calls if c["where"].startswith("02_") and c["name"] == "FloatSlider")
    assert {"min", "max", "value", "description"} <= set(slider["literal"]), "the **slider dict is resolved"


def test_every_widget_of_every_chapter_builds_with_colabs_ipywidgets_7():
    assert COLAB_WIDGETS.exists(), f"{COLAB_WIDGETS} is missing: run `make env` (it installs Colab's ipywidgets)"
    calls = [c for path in CHAPTERS for c in widget_calls(path)]
    env = {**os.environ, "PYTHONPATH": str(COLAB_WIDGETS)}
    proc = subprocess.run([sys.executable, "-c", _BUILD], input=json.dumps(calls), capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_the_subprocess_would_catch_an_argument_7x_does_not_know():
    """The check can fail: a keyword that ipywidgets 7.7.1's FloatSlider lacks is reported."""
    bad = [{"where": "demo", "name": "FloatSlider", "literal": {"value": 1.0}, "other": ["no_such_trait"]},
           {"where": "demo", "name": "NoSuchWidget", "literal": {}, "other": []}]
    env = {**os.environ, "PYTHONPATH": str(COLAB_WIDGETS)}
    proc = subprocess.run([sys.executable, "-c", _BUILD], input=json.dumps(bad), capture_output=True, text=True,
                          env=env, timeout=120)
    problems = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(problems) == 2 and "no_such_trait" in problems[0] and "NoSuchWidget" in problems[1]

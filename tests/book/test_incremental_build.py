"""`make book` is incremental: real jupyter-book builds of a two-notebook book with the book's own execution
settings, through the command the Makefile runs (``python -m dlbook_utils.book``). Each notebook appends a
line to a log when it runs, so the tests count executions: a rebuild with nothing changed runs nothing, an
edited notebook runs alone, and a quick-mode build never reuses full-mode outputs (nor the reverse)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from dlbook_utils import ModeError, book
from tests.conftest import ROOT

CODE = """import os
mode = os.environ.get("DLBOOK_MODE", "full")
with open(os.environ["DLBOOK_EXEC_LOG"], "a") as log:
    print("{name}", mode, file=log)
print("notebook {name} ({version}) ran in", mode, "mode")"""


def _write_notebook(folder: Path, name: str, version: str = "v1") -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Notebook {name}"),
                nbformat.v4.new_code_cell(CODE.format(name=name, version=version))]
    nbformat.write(nb, folder / f"{name}.ipynb")


def _make_book(folder: Path) -> None:
    """A two-notebook book whose execution settings are the real book's (execute: and the nb_* Sphinx options)."""
    real = yaml.safe_load((ROOT / "_config.yml").read_text())
    nb_options = {k: v for k, v in real.get("sphinx", {}).get("config", {}).items() if k.startswith("nb_")}
    config = {"title": "Incremental build", "author": "tests", "only_build_toc_files": True,
              "exclude_patterns": ["_build", "**/.ipynb_checkpoints"],
              "execute": real["execute"], "sphinx": {"config": nb_options}}
    (folder / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (folder / "_toc.yml").write_text("format: jb-book\nroot: a\nchapters:\n  - file: b\n")
    for name in ("a", "b"):
        _write_notebook(folder, name)


class Book:
    def __init__(self, folder: Path):
        self.folder, self.log = folder, folder.parent / "executions.log"
        self.seen = 0

    def build(self, mode: str, *, force: bool = False) -> list[str]:
        """Build as `make book` does, with DLBOOK_MODE=mode; return the executions it caused ("a full", ...)."""
        command = [sys.executable, "-m", "dlbook_utils.book", str(self.folder), *(["--force"] if force else []),
                   "--", "-W", "-n", "--keep-going"]
        env = {**os.environ, "DLBOOK_MODE": mode, "DLBOOK_EXEC_LOG": str(self.log)}
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        new, self.seen = sorted(lines[self.seen:]), len(lines)
        return new

    def page(self, name: str) -> str:
        return (self.folder / "_build" / "html" / f"{name}.html").read_text()


@pytest.fixture
def small_book(tmp_path) -> Book:
    folder = tmp_path / "book"
    folder.mkdir()
    _make_book(folder)
    return Book(folder)


def test_rebuilds_run_only_changed_notebooks_and_each_mode_has_its_own_cache(small_book):
    b = small_book
    assert b.build("full") == ["a full", "b full"]
    assert "notebook a (v1) ran in full mode" in b.page("a")

    assert b.build("full") == [], "a rebuild with nothing changed executed notebooks"

    _write_notebook(b.folder, "a", version="v2")
    assert b.build("full") == ["a full"], "only the edited notebook runs again"
    assert "notebook a (v2) ran in full mode" in b.page("a")

    # Same code, other mode: nothing comes from the full-mode cache, and the pages show quick-mode outputs.
    assert b.build("quick") == ["a quick", "b quick"]
    assert "ran in quick mode" in b.page("a") and "ran in quick mode" in b.page("b")
    assert b.build("quick") == []

    # Back to full: its cache survived the quick build, and every page shows full-mode outputs again.
    assert b.build("full") == []
    assert "notebook a (v2) ran in full mode" in b.page("a") and "ran in full mode" in b.page("b")
    caches = b.folder / "_build" / ".jupyter_cache"
    assert sorted(p.name for p in caches.iterdir()) == ["full", "quick"]

    # The forced rebuild (make book FORCE=1) runs every notebook of that mode again, and leaves the other mode's cache.
    assert b.build("full", force=True) == ["a full", "b full"]
    assert b.build("quick") == []


def test_an_unknown_mode_stops_before_building(small_book):
    with pytest.raises(ModeError):
        book.build(small_book.folder, "fast")
    env = {**os.environ, "DLBOOK_MODE": "fast"}
    proc = subprocess.run([sys.executable, "-m", "dlbook_utils.book", str(small_book.folder)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Unknown run mode 'fast'" in proc.stderr
    assert not (small_book.folder / "_build").exists()


def test_generated_config_is_the_books_config_with_the_modes_cache(tmp_path):
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    path = book.write_config(tmp_path, "quick")
    assert path == tmp_path / "_build" / ".config" / "quick.yml"
    real, generated = (yaml.safe_load(p.read_text()) for p in (ROOT / "_config.yml", path))
    assert generated["execute"].pop("cache") == str(tmp_path / "_build" / ".jupyter_cache" / "quick")
    assert generated == real


def test_book_config_and_makefile_use_the_per_mode_cache():
    config = (ROOT / "_config.yml").read_text()
    # tests/book/test_book.py switches execution off with this pattern: it must still match exactly once.
    assert [m.group(0) for m in re.finditer(r"execute_notebooks:\s*\S+", config)] == ["execute_notebooks: cache"]
    rule = re.search(r"^book:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert rule, "the Makefile has no book target"
    assert "-m dlbook_utils.book . $(if $(FORCE),--force) -- -W -n --keep-going" in rule.group(1)

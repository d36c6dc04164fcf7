"""What the website adds to jupyter-book's defaults: a Sphinx extension, loaded from ``_config.yml``.

* **MathJax from the site itself.** ``mathjax_path`` in ``_config.yml`` names ``mathjax/<component>``, a file
  under the built site's ``_static``; this copies the pinned MathJax (:mod:`dlbook_utils.mathjax`, fetched by
  ``make`` into ``_vendor/mathjax``) there, so equations render offline and wherever a CDN is blocked. A
  missing or stale copy stops the build with the command that fetches it.
* **Widgets from the site itself.** The scripts that draw the saved widgets (``nb_ipywidgets_js`` in
  ``_config.yml`` names ``widgets/…``, under ``_static``) are copied the same way from ``_vendor/widgets``
  (:mod:`dlbook_utils.widgetjs`), instead of myst-nb's default of two CDNs.
* **Solutions say what they are.** A code cell tagged ``solution`` opens with "Show solution NN.k" /
  "Hide solution NN.k" instead of "Show code cell source", and its first line, Colab's
  ``#@title Solution NN.k { display-mode: "form" }``, is left out of the page (the notebook keeps it).
* **No Colab badge on the site.** The badge under each chapter's title is an image on Google's servers that
  duplicates the rocket button's *Colab* link; pages leave it out (the notebooks keep it), so no page loads
  anything from elsewhere and none shows a broken image offline.
* **No thebe.** jupyter-book always loads sphinx-thebe, for live code on Binder, which this book does not
  use; its set-up script was also added twice to every page ("Identifier 'THEBE_JS_URL' has already been
  declared"). The extension takes sphinx-thebe's hooks and files out again.
* **No source maps.** The themes ship ``*.map`` files (about 3 MB) that only a developer of the themes needs;
  they are deleted from the built ``_static`` with the comments that point at them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.transforms.post_transforms import SphinxPostTransform

from . import mathjax, widgetjs

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
SOLUTION_TITLE = re.compile(r'^#@title\s+Solution\s+(\d\d\.\d+)\b[^\n]*(\n|$)')
_MAP_COMMENT = re.compile(r"\n?(?://# sourceMappingURL=(\S+?\.map)|/\*# sourceMappingURL=(\S+?\.map)\s*\*/)\s*$")


def _mathjax_folder(app: Sphinx) -> Path:
    folder = Path(app.config.dlbook_mathjax_dir)
    return folder if folder.is_absolute() else Path(app.srcdir) / folder


def _check_mathjax(app: Sphinx) -> None:
    """Fail early, with the fix, when the pages would point at a MathJax copy that is not there."""
    if app.builder.format != "html" or not str(app.config.mathjax_path).startswith("mathjax/"):
        return
    expected = f"mathjax/{mathjax.COMPONENT}"
    if app.config.mathjax_path != expected:
        raise ExtensionError(f"mathjax_path is {app.config.mathjax_path!r}, but the site's copy of MathJax "
                             f"provides {expected!r}")
    folder = _mathjax_folder(app)
    if not mathjax.is_current(folder):
        raise ExtensionError(
            f"the website's copy of MathJax {mathjax.VERSION} is missing or stale in {folder}. "
            f"Fetch it with `make vendor` (or: python -m dlbook_utils.mathjax {folder}); "
            "`make book` and `make test` do this for you.")


#: where nb_ipywidgets_js points (relative to the site's _static, as Sphinx reads a script's path)
WIDGETS_STATIC = "widgets/"


def _widgets_folder(app: Sphinx) -> Path:
    folder = Path(app.config.dlbook_widgets_dir)
    return folder if folder.is_absolute() else Path(app.srcdir) / folder


def _serves_widgets(app: Sphinx) -> bool:
    return any(str(path).startswith(WIDGETS_STATIC) for path in (app.config.nb_ipywidgets_js or {}))


def _check_widgets(app: Sphinx) -> None:
    """Fail early when the pages would load widget scripts from the site that are not there."""
    if app.builder.format != "html" or not _serves_widgets(app):
        return
    expected = [WIDGETS_STATIC + name for name in widgetjs.SCRIPTS]
    if list(app.config.nb_ipywidgets_js) != expected:
        raise ExtensionError(f"nb_ipywidgets_js names {list(app.config.nb_ipywidgets_js)}, but the site's copy of "
                             f"the widget scripts provides {expected}, in that order")
    folder = _widgets_folder(app)
    if not widgetjs.is_current(folder):
        raise ExtensionError(
            f"the website's copy of the widget scripts is missing or stale in {folder}. Fetch it with "
            f"`make vendor` (or: python -m dlbook_utils.widgetjs {folder}); `make book` and `make test` do this "
            "for you.")


def _copy_widgets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html" or not _serves_widgets(app):
        return
    target = Path(app.outdir) / "_static" / WIDGETS_STATIC
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(_widgets_folder(app), target, ignore=shutil.ignore_patterns(widgetjs.STAMP))


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html" or not str(app.config.mathjax_path).startswith("mathjax/"):
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(_mathjax_folder(app), target, ignore=shutil.ignore_patterns(mathjax.STAMP))


def _drop_source_maps(app: Sphinx, exception: Exception | None) -> None:
    static = Path(app.outdir) / "_static"
    if exception is not None or app.builder.format != "html" or not static.is_dir():
        return
    maps = {p.resolve() for p in static.rglob("*.map")}
    for path in [*static.rglob("*.js"), *static.rglob("*.css")]:
        text = path.read_text(encoding="utf8", errors="surrogateescape")
        match = _MAP_COMMENT.search(text)
        if match and (path.parent / (match.group(1) or match.group(2))).resolve() in maps:
            path.write_text(text[: match.start()] + "\n", encoding="utf8", errors="surrogateescape")
    for path in maps:
        path.unlink()


def _drop_thebe(app: Sphinx) -> None:
    """Undo sphinx-thebe's set-up (jupyter-book loads it before this extension): hooks, stylesheet, files."""
    for listeners in app.events.listeners.values():
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").split(".")[0] == "sphinx_thebe":
                app.disconnect(listener.id)
    app.registry.css_files = [(name, attrs) for name, attrs in app.registry.css_files if "thebe" not in name]


class SolutionCells(SphinxPostTransform):
    """Label collapsed solution cells as solutions and leave Colab's ``#@title`` line out of the page.

    Runs before myst-nb's ``HideInputCells`` (priority 199), which turns the prompts into the toggle.
    """

    default_priority = 150
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        for cell in self.document.findall(nodes.container):
            if cell.get("nb_element") != "cell_code" or "tag_solution" not in cell["classes"]:
                continue
            number = ""
            for source in cell.findall(nodes.container):
                if source.get("nb_element") != "cell_code_source":
                    continue
                for block in source.findall(nodes.literal_block):
                    match = SOLUTION_TITLE.match(block.astext())
                    if match:
                        number = f" {match.group(1)}"
                        code = block.astext()[match.end():]
                        block.children = [nodes.Text(code)]
                        block.rawsource = code
                    break
                break
            if cell.get("hide_mode"):
                cell["prompt_show"] = f"Show solution{number}"
                cell["prompt_hide"] = f"Hide solution{number}"


class DropColabBadge(SphinxPostTransform):
    """Leave the external Colab badge out of the page (with its link, and its paragraph if nothing else)."""

    default_priority = 150
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        for image in list(self.document.findall(nodes.image)):
            if not image.get("uri", "").startswith(COLAB_BADGE):
                continue
            target = image.parent if isinstance(image.parent, nodes.reference) else image
            paragraph = target.parent
            paragraph.remove(target)
            if isinstance(paragraph, nodes.paragraph) and not paragraph.astext().strip() \
                    and not list(paragraph.findall(nodes.image)):
                paragraph.parent.remove(paragraph)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("dlbook_mathjax_dir", str(mathjax.DEFAULT_DEST), "html")
    app.connect("config-inited", lambda app, config: _drop_thebe(app))  # after every extension's set-up
    app.add_config_value("dlbook_widgets_dir", str(widgetjs.DEFAULT_DEST), "html")
    app.connect("builder-inited", _check_mathjax)
    app.connect("builder-inited", _check_widgets)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _copy_widgets)
    app.connect("build-finished", _drop_source_maps)
    app.add_post_transform(SolutionCells)
    app.add_post_transform(DropColabBadge)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

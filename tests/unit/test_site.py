"""The website's own pieces: the pinned MathJax copy (dlbook_utils.mathjax), the Sphinx extension
(dlbook_utils.site), the site settings in _config.yml and the figures' resolution. No network: the MathJax
tests use a small tarball made here. The real site is checked by tests/book (build and browser)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

from dlbook_utils import mathjax, site, widgetjs
from tests.conftest import ROOT

KEPT = ["tex-mml-chtml.js", "input/tex/extensions/boldsymbol.js", "input/mml/entities/a.js",
        "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff", "ui/menu.js", "a11y/explorer.js",
        "sre/mathmaps/en.json"]
LEFT_OUT = ["tex-svg.js", "output/svg/fonts/tex.js", "node-main.js", "adaptors/liteDOM.js"]


def _tarball(path: Path, extra: dict[str, bytes] | None = None) -> bytes:
    members = {f"package/es5/{name}": name.encode() for name in KEPT + LEFT_OUT}
    members.update({"package/LICENSE": b"Apache-2.0", "package/README.md": b"readme", **(extra or {})})
    return _npm_tarball(path, members).read_bytes()


def test_mathjax_keeps_the_component_and_what_it_loads_and_records_the_pinned_version(tmp_path, monkeypatch):
    data = _tarball(tmp_path / "mathjax.tgz", {"package/es5/../../escape.js": b"x"})
    monkeypatch.setattr(mathjax, "INTEGRITY", mathjax.integrity_of(data))
    dest = tmp_path / "_vendor" / "mathjax"
    mathjax.fetch(dest, tarball=tmp_path / "mathjax.tgz", log=lambda *a: None)
    for name in KEPT + ["LICENSE"]:
        assert (dest / name).is_file(), name
    for name in LEFT_OUT + ["README.md"]:
        assert not (dest / name).exists(), name
    assert not (tmp_path / "escape.js").exists() and not list(tmp_path.rglob("escape.js"))
    stamp = json.loads((dest / mathjax.STAMP).read_text())
    assert stamp["version"] == mathjax.VERSION and stamp["integrity"] == mathjax.INTEGRITY
    assert mathjax.is_current(dest)
    said = []
    mathjax.fetch(dest, log=said.append)  # current: nothing is fetched (there is no network here)
    assert "already" in said[0]
    monkeypatch.setattr(mathjax, "VERSION", "9.9.9")
    assert not mathjax.is_current(dest), "a copy of another version is stale"


def test_mathjax_refuses_a_tarball_that_does_not_match_the_pinned_checksum(tmp_path, capsys):
    _tarball(tmp_path / "mathjax.tgz")
    dest = tmp_path / "mathjax"
    with pytest.raises(mathjax.MathJaxError, match="does not match the pinned checksum"):
        mathjax.fetch(dest, tarball=tmp_path / "mathjax.tgz")
    assert not dest.exists() and not mathjax.is_current(dest)
    assert mathjax.main([str(dest), "--tarball", str(tmp_path / "missing.tgz")]) == 1
    err = capsys.readouterr().err
    assert "needs its own copy of MathJax" in err and "--tarball" in err and "npm pack mathjax@" in err


def test_mathjax_pin_is_an_npm_sha512_integrity():
    assert mathjax.INTEGRITY.startswith("sha512-") and len(mathjax.INTEGRITY) == len("sha512-") + 88
    assert mathjax.VERSION.startswith("3.")


def _npm_tarball(path: Path, members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return path


def _widget_tarballs(tmp_path, monkeypatch, *, drop=None):
    contents = {
        "requirejs": {"package/require.js": b"var requirejs;", "package/bin/r.js": b"optimizer"},
        "@jupyter-widgets/html-manager": {
            "package/dist/embed-amd.js": b"define('@jupyter-widgets/base')", "package/dist/embed.js": b"other build",
            "package/dist/abc.woff2": b"font", "package/dist/abc.svg": b"big font", "package/dist/embed.js.map": b"{}",
            "package/LICENSE": b"BSD-3-Clause", "package/dist/../../escape.js": b"x"},
    }
    if drop:
        del contents[drop[0]][drop[1]]
    paths, pins = {}, []
    for package in widgetjs.PACKAGES:
        path = _npm_tarball(tmp_path / (package.name.replace("/", "-") + ".tgz"), contents[package.name])
        paths[package.name] = path
        pins.append(widgetjs.Package(package.name, package.version, mathjax.integrity_of(path.read_bytes()),
                                     package.files, package.suffixes))
    monkeypatch.setattr(widgetjs, "PACKAGES", tuple(pins))
    return paths


def test_widget_scripts_keep_what_the_pages_load_and_record_the_pins(tmp_path, monkeypatch):
    dest = tmp_path / "_vendor" / "widgets"
    widgetjs.fetch(dest, tarballs=_widget_tarballs(tmp_path, monkeypatch), log=lambda *a: None)
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [widgetjs.STAMP, "require.js", "paths.js", "embed-amd.js", "abc.woff2", "LICENSE.html-manager"])
    assert (dest / "embed-amd.js").read_bytes() == b"define('@jupyter-widgets/base')"
    assert not list(tmp_path.rglob("escape.js"))
    assert widgetjs.is_current(dest)
    said = []
    widgetjs.fetch(dest, log=said.append)  # current: nothing is fetched (there is no network here)
    assert "already" in said[0]
    (dest / "require.js").unlink()
    assert not widgetjs.is_current(dest), "a copy without one of its scripts is stale"


def test_widget_scripts_refuse_a_wrong_checksum_or_a_tarball_without_the_script(tmp_path, monkeypatch, capsys):
    paths = _widget_tarballs(tmp_path, monkeypatch)
    dest = tmp_path / "widgets"
    real = widgetjs.PACKAGES
    monkeypatch.setattr(widgetjs, "PACKAGES", (real[0], widgetjs.Package(
        real[1].name, real[1].version, "sha512-" + "A" * 88, real[1].files, real[1].suffixes)))
    with pytest.raises(widgetjs.WidgetJSError, match="does not match the pinned checksum"):
        widgetjs.fetch(dest, tarballs=paths, log=lambda *a: None)
    assert not dest.exists() and not widgetjs.is_current(dest)
    paths = _widget_tarballs(tmp_path, monkeypatch, drop=("@jupyter-widgets/html-manager", "package/dist/embed-amd.js"))
    with pytest.raises(widgetjs.WidgetJSError, match="lacks embed-amd.js"):
        widgetjs.fetch(dest, tarballs=paths, log=lambda *a: None)
    assert not dest.exists() and not list(tmp_path.glob("widgets*")), "nothing half-unpacked is left behind"
    assert widgetjs.main([str(dest), "--tarball", f"requirejs={tmp_path / 'missing.tgz'}"]) == 1
    err = capsys.readouterr().err
    assert "missing.tgz does not exist" in err and "--tarball NAME=FILE" in err and "npm pack requirejs@" in err
    with pytest.raises(widgetjs.WidgetJSError, match="no pinned package is called leftpad"):
        widgetjs.fetch(dest, tarballs={"leftpad": paths["requirejs"]})


def test_widget_pins_are_npm_sha512_integrities_and_match_myst_nb():
    from myst_nb.core.config import ipywidgets_js_factory

    for package in widgetjs.PACKAGES:
        assert package.integrity.startswith("sha512-") and len(package.integrity) == len("sha512-") + 88
    manager = next(p for p in widgetjs.PACKAGES if p.name == "@jupyter-widgets/html-manager")
    assert any(f"html-manager@{manager.version}/" in url for url in ipywidgets_js_factory()), \
        "the vendored widget manager is the version myst-nb was written for"


def test_source_maps_and_the_comments_that_name_them_are_removed(tmp_path):
    static = tmp_path / "_static" / "scripts"
    static.mkdir(parents=True)
    (static / "a.js").write_text("var a=1;\n//# sourceMappingURL=a.js.map")
    (static / "a.js.map").write_text("{}")
    (static / "b.css").write_text("a{color:red}\n/*# sourceMappingURL=b.css.map*/")
    (static / "b.css.map").write_text("{}")
    (static / "c.js").write_text("var c=1;\n//# sourceMappingURL=elsewhere.js.map")
    app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    site._drop_source_maps(app, None)
    assert not list(tmp_path.rglob("*.map"))
    assert (static / "a.js").read_text() == "var a=1;\n" and (static / "b.css").read_text() == "a{color:red}\n"
    assert "elsewhere.js.map" in (static / "c.js").read_text(), "a comment for a map that is not there stays"


def _document():
    return new_document("test", get_default_settings(Parser))


def test_solution_cells_are_labelled_and_lose_their_colab_title_line():
    doc = _document()
    source = '#@title Solution 07.2 { display-mode: "form" }\ndef f(x):\n    return x\n'
    cell = nodes.container(nb_element="cell_code", classes=["cell", "tag_solution", "tag_hide-input"],
                           hide_mode="input", prompt_show="Show code cell {type}", prompt_hide="Hide code cell {type}")
    code = nodes.container(nb_element="cell_code_source")
    code += nodes.literal_block(source, source)
    cell += code
    other = nodes.container(nb_element="cell_code", classes=["cell"], hide_mode="input",
                            prompt_show="Show code cell {type}", prompt_hide="Hide code cell {type}")
    doc += [cell, other]
    site.SolutionCells(doc).run()
    assert (cell["prompt_show"], cell["prompt_hide"]) == ("Show solution 07.2", "Hide solution 07.2")
    block = next(iter(cell.findall(nodes.literal_block)))
    assert block.astext() == block.rawsource == "def f(x):\n    return x\n"
    assert other["prompt_show"] == "Show code cell {type}", "cells that are not solutions keep myst-nb's label"


def test_the_colab_badge_is_left_out_of_the_page_with_its_link_and_paragraph():
    doc = _document()
    badge = nodes.paragraph()
    link = nodes.reference(refuri="https://colab.research.google.com/github/x/y/blob/main/chapters/a.ipynb")
    link += nodes.image(uri=site.COLAB_BADGE, alt="Open In Colab")
    badge += link
    text = nodes.paragraph(text="Other images stay:")
    text += nodes.image(uri="figure.png", alt="a figure")
    doc += [badge, text]
    site.DropColabBadge(doc).run()
    assert [p.astext() for p in doc.findall(nodes.paragraph)] == ["Other images stay:a figure"]
    assert [i["uri"] for i in doc.findall(nodes.image)] == ["figure.png"]


def test_config_serves_mathjax_from_the_site_and_fixes_the_theme():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config["sphinx"]
    assert "dlbook_utils.site" in sphinx["extra_extensions"]
    assert sphinx["config"]["mathjax_path"] == f"mathjax/{mathjax.COMPONENT}"
    assert sphinx["recursive_update"] is True, "html_theme_options would replace the launch buttons' options"
    assert sphinx["config"]["html_theme_options"]["navbar_persistent"] == []
    assert config["html"]["home_page_in_navbar"] is False, "the title would be twice in the sidebar"
    assert "_vendor" in config["exclude_patterns"]
    for key in ("favicon",):
        assert (ROOT / config["html"][key]).is_file()
    for path in (ROOT / config["logo"], ROOT / config["html"]["favicon"], ROOT / "_static" / "custom.css"):
        assert path.is_file() and path.stat().st_size < 20_000, path
    assert "_vendor/" in (ROOT / ".gitignore").read_text().splitlines()
    assert list(sphinx["config"]["nb_ipywidgets_js"]) == [site.WIDGETS_STATIC + s for s in widgetjs.SCRIPTS], \
        "widget pages load their scripts from the site, not from CDNs"
    assert not list((ROOT / "_static").rglob("*.js")), "every .js in _static is added to every page"


def test_figures_are_drawn_for_high_density_screens_within_a_pixel_budget():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from dlbook_utils import config

    for width, expected_scale in ((6.4, 2.0), (13.0, config.FIGURE_MAX_PIXELS / 1300)):
        fig, ax = plt.subplots(figsize=(width, 3), dpi=100)
        ax.plot([0, 1], [0, 1])
        data, meta = config._png_for_screens(fig)
        plt.close(fig)
        pixels = int.from_bytes(data[16:20], "big")
        assert pixels <= config.FIGURE_MAX_PIXELS
        assert abs(pixels / meta["width"] - expected_scale) < 0.02, (width, pixels, meta)
    fig = plt.figure()
    assert config._png_for_screens(fig) is None, "an empty figure shows nothing"
    plt.close(fig)


def test_figures_are_compacted_without_changing_a_pixel():
    pytest.importorskip("matplotlib")
    import numpy as np
    from PIL import Image

    from dlbook_utils import config

    rng = np.random.default_rng(0)
    cases = {"few colours": rng.integers(0, 3, (40, 60, 1)) * np.array([[[90, 20, 200, 255]]]),
             "many colours": np.concatenate([rng.integers(0, 256, (40, 60, 3)), np.full((40, 60, 1), 255)], 2),
             "transparent": np.concatenate([rng.integers(0, 256, (40, 60, 3)), rng.integers(0, 256, (40, 60, 1))], 2)}
    for name, pixels in cases.items():
        buffer = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8)).save(buffer, "PNG")
        small = config._compact_png(buffer.getvalue())
        before = np.asarray(Image.open(buffer).convert("RGBA"))
        after = np.asarray(Image.open(io.BytesIO(small)).convert("RGBA"))
        assert (before == after).all(), name
        assert len(small) <= len(buffer.getvalue()) * 1.01, name

"""The results page: the tables built from recorded metrics, and a small real Sphinx build of the page."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace

from dlbook_utils import metrics, plan
from dlbook_utils import results_page as rp
from tests.conftest import CHAPTERS, ROOT


def _record(folder: Path, chapter: str, name: str, value: float, mode: str = "full", **kwargs) -> None:
    metrics.record(chapter, name, value, mode=mode, directory=folder, verbose=False, **kwargs)


def _by_chapter(results: list[rp.ChapterResults]) -> dict[str, rp.ChapterResults]:
    return {r.chapter: r for r in results}


def _text(nodes_: list) -> str:
    return "\n".join(n.astext() for n in nodes_)


def test_rows_say_met_not_met_and_no_target(tmp_path):
    _record(tmp_path, "07", "mnist_test_accuracy", 0.9931, target=0.992)
    _record(tmp_path, "07", "fashion_test_accuracy", 0.921, target=0.925)
    _record(tmp_path, "07", "parameters", 83754)
    _record(tmp_path, "07", "conv_max_abs_error", 3e-6, target=1e-5, higher_is_better=False)
    _record(tmp_path, "09", "test_elbo_nats", -258.93, unit=" nats/image")
    results = _by_chapter(rp.gather(metrics.collect(tmp_path), build_mode="full"))
    assert rp.metric_rows(results["07"].entries) == [
        ("conv_max_abs_error", "3e-06", "≤ 1e-05", "yes"),
        ("fashion_test_accuracy", "0.921", "≥ 0.925", "no"),
        ("mnist_test_accuracy", "0.9931", "≥ 0.992", "yes"),
        ("parameters", "83,754", "—", "—"),
    ]
    assert rp.targets_met(results["07"].entries) == "2 of 3"
    assert rp.metric_rows(results["09"].entries) == [("test_elbo_nats", "-258.9 nats/image", "—", "—")]
    assert rp.targets_met(results["09"].entries) == "no target recorded"
    assert results["07"].title == "Convolutional networks" and results["07"].plan.anchor
    assert "99.19%" in results["07"].plan.anchor and results["09"].plan.anchor is None
    assert rp.quick_notice(list(results.values())) is None


def test_run_times_come_from_this_build_then_the_test_run_else_not_measured(tmp_path):
    for chapter in ("01", "02", "03"):
        _record(tmp_path, chapter, "accuracy", 0.9, target=0.8)
    docs = rp.chapter_docs(["chapters/intro", "chapters/01_vectors", "chapters/02_neuron", "chapters/03_backprop"])
    assert docs == {"01": "chapters/01_vectors", "02": "chapters/02_neuron", "03": "chapters/03_backprop"}
    runtimes = rp.chapter_runtimes(
        docs, executed={"chapters/01_vectors": 53.2}, timings={"01_vectors": 1.0, "02_neuron": 412.0}
    )
    assert runtimes["01"] == rp.RunTime(53.2, rp.SOURCE_BOOK_BUILD)
    assert runtimes["02"] == rp.RunTime(412.0, rp.SOURCE_TEST_RUN)
    assert "03" not in runtimes
    results = rp.gather(metrics.collect(tmp_path), build_mode="full", docs=docs, runtimes=runtimes)
    assert [row[2] for row in rp.overview_rows(results)] == ["53 s", "6.9 min", "not measured"]
    assert rp.runtime_sources(results) == [rp.SOURCE_BOOK_BUILD, rp.SOURCE_TEST_RUN]
    page = _text(rp.results_nodes(results, link=lambda docname: docname + ".html"))
    assert "run time: not measured" in page and "measured by the book build that last executed" in page


def test_mixed_modes_show_the_build_mode_and_say_which_chapters_are_quick(tmp_path):
    _record(tmp_path, "03", "numpy_mlp_test_accuracy", 0.975, mode="full", target=0.96)
    _record(tmp_path, "03", "numpy_mlp_test_accuracy", 0.61, mode="quick", target=0.96)
    _record(tmp_path, "04", "test_accuracy", 0.896, mode="full", target=0.89)
    _record(tmp_path, "05", "residual_bn_test_accuracy", 0.52, mode="quick", target=0.88)
    runtimes = {c: rp.RunTime(30.0, rp.SOURCE_TEST_RUN) for c in ("03", "04", "05")}

    quick = _by_chapter(rp.gather(metrics.collect(tmp_path), build_mode="quick", runtimes=runtimes))
    assert (quick["03"].mode, quick["03"].other_modes) == ("quick", ("full",))
    assert rp.metric_rows(quick["03"].entries) == [("numpy_mlp_test_accuracy", "0.61", "≥ 0.96", "no")]
    assert quick["04"].mode == "full" and quick["04"].runtime is None
    assert rp.runtime_text(quick["04"]) == "not measured (the full-mode numbers come from an earlier run)"
    notice = rp.quick_notice(list(quick.values()))
    assert notice.startswith("Some chapters show quick-mode numbers (chapters 03, 05")

    full = _by_chapter(rp.gather(metrics.collect(tmp_path), build_mode="full", runtimes=runtimes))
    assert full["03"].mode == "full" and full["03"].entries[0]["value"] == 0.975
    assert full["05"].mode == "quick"
    page = _text(rp.results_nodes(list(full.values()), link=lambda docname: None))
    assert "Quick-mode numbers" in page and "Also recorded in quick mode (not shown)" in page


def test_only_quick_numbers_say_so_plainly(tmp_path):
    _record(tmp_path, "02", "xor_accuracy", 1.0, mode="quick", target=1.0)
    results = rp.gather(metrics.collect(tmp_path), build_mode="quick")
    assert rp.quick_notice(results).startswith("These are quick-mode numbers, not the book's results.")


def test_a_chapter_page_without_metrics_is_listed_and_an_empty_folder_says_how_to_get_results(tmp_path):
    docs = {"01": "chapters/01_vectors", "02": "chapters/02_neuron"}
    assert not rp.gather([], build_mode="full")
    empty = _text(rp.results_nodes(rp.gather([], build_mode="full", docs=docs), link=lambda d: None))
    assert "No chapter has recorded results yet" in empty and "make book" in empty
    _record(tmp_path, "02", "xor_accuracy", 1.0, target=1.0)
    results = rp.gather(metrics.collect(tmp_path), build_mode="full", docs=docs)
    first = rp.overview_rows(results)[0]
    assert first == ("01 · Vectors, tensors and embeddings", "—", "not measured", "nothing recorded")
    assert "This chapter has recorded no metric yet" in _text(rp.results_nodes(results, link=lambda d: None))


def test_read_timings(tmp_path):
    path = tmp_path / "timings.json"
    assert rp.read_timings(path) == {}
    path.write_text(json.dumps({
        "01_a": {"seconds": 12.5, "failed": False, "cpu_seconds": 20.0, "mode": "quick"},
        "02_b": {"failed": True},
        "03_c": {"seconds": "soon"},
    }))
    assert rp.read_timings(path) == {"01_a": 12.5}
    path.write_text(json.dumps({"01_a/tensorflow": {"seconds": 12.5}, "01_a/jax": {"seconds": 30.0},
                                "02_b/jax": {"seconds": 9.0}}))
    assert rp.read_timings(path) == {"01_a": 12.5}, "the site shows the TensorFlow runs"
    assert rp.read_timings(path, backend="jax") == {"01_a": 30.0, "02_b": 9.0}
    path.write_text("{not json")
    with pytest.raises(ValueError, match="timings.json is not valid JSON"):
        rp.read_timings(path)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "not measured"), (4.26, "4.3 s"), (53.4, "53 s"), (372, "6.2 min"), (3300, "55.0 min"),
     (6300, "1 h 45 min")],
)
def test_format_seconds(seconds, text):
    assert rp.format_seconds(seconds) == text


def test_the_plan_lists_every_chapter_with_its_notebook_title():
    assert CHAPTERS
    for path in CHAPTERS:
        entry = plan.planned(path.name[:2])
        assert entry is not None, f"dlbook_utils/plan.py has no entry for {path.name}"
        first = json.loads(path.read_text())["cells"][0]["source"]
        assert "".join(first).splitlines()[0] == f"# {entry.number} · {entry.title}"
        assert entry.target and entry.anchor != ""


def _build(src: Path, out: Path) -> str:
    warnings = io.StringIO()
    with docutils_namespace():
        app = Sphinx(str(src), str(src), str(out / "html"), str(out / "doctrees"), "html",
                     status=None, warning=warnings, warningiserror=True)
        app.build()
    assert not warnings.getvalue(), warnings.getvalue()
    return (out / "html" / "chapters" / "results.html").read_text()


def _visible(page: str) -> str:
    """The text of an HTML page, without tags, with whitespace runs as one space."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


def test_a_sphinx_build_fills_the_page_and_refreshes_it_on_every_build(tmp_path, monkeypatch):
    src, out, metrics_dir, test_out = tmp_path / "src", tmp_path / "out", tmp_path / "metrics", tmp_path / "test"
    (src / "chapters").mkdir(parents=True)
    (src / "conf.py").write_text('extensions = ["myst_parser", "dlbook_utils.results_page"]\nproject = "tiny"\n')
    (src / "index.md").write_text("# Tiny\n\n```{toctree}\nchapters/07_convolutional_networks\nchapters/results\n```\n")
    (src / "chapters" / "07_convolutional_networks.md").write_text("# 07 · Convolutional networks\n\nText.\n")
    shutil.copy(ROOT / "chapters" / "results.md", src / "chapters" / "results.md")
    test_out.mkdir()
    (test_out / "timings.json").write_text(json.dumps({"07_convolutional_networks": {"seconds": 41.8}}))
    monkeypatch.setenv("DLBOOK_METRICS_DIR", str(metrics_dir))
    monkeypatch.setenv("DLBOOK_TEST_OUT", str(test_out))
    monkeypatch.setenv("DLBOOK_MODE", "quick")

    page = _visible(_build(src, out))
    assert "No chapter has recorded results yet" in page and "make book" in page

    _record(metrics_dir, "07", "mnist_test_accuracy", 0.9712, mode="quick", target=0.992)
    _record(metrics_dir, "07", "parameters", 83754, mode="quick")
    page = _build(src, out)  # nothing changed in the sources: the page is re-written all the same
    assert 'href="07_convolutional_networks.html"' in page
    page = _visible(page)
    assert "No chapter has recorded results yet" not in page
    assert "These are quick-mode numbers, not the book's results" in page
    assert "07 · Convolutional networks" in page
    for text in ("mnist_test_accuracy", "0.9712", "≥ 0.992", "83,754", "42 s", "keras-io", "99.19%"):
        assert text in page, text

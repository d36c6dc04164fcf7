"""The book's results page: a Sphinx extension that lists what every chapter recorded.

Chapters record their headline numbers with ``cfg.record(...)`` (:mod:`dlbook_utils.metrics`) while
they execute, which happens when Sphinx reads them.  A page that holds the directive::

    ```{dlbook-results}
    ```

gets a placeholder at read time; on ``doctree-resolved`` (the write phase, after every chapter has
been read and so executed) the placeholder becomes tables built from the metrics folder
(``$DLBOOK_METRICS_DIR``): each chapter's metrics with their values, targets and whether they were
met, the mode the numbers come from, the chapter's run time, and the book plan's target and anchor
(:mod:`dlbook_utils.plan`).  The page is re-read on every build, so it never shows stale numbers.

Run times come from the execution data myst-nb keeps for each notebook a book build executed (with
the execution cache, the time of the run that filled it), or else from ``$DLBOOK_TEST_OUT/timings.json``
(written by the test run that executed the notebooks); otherwise they are "not measured".

Load it with ``sphinx: extra_extensions: [dlbook_utils.results_page]`` in ``_config.yml``.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.docutils import SphinxDirective

from . import metrics
from .config import get_mode
from .plan import PlannedChapter, planned

DIRECTIVE = "dlbook-results"
NOT_MEASURED = "not measured"
SOURCE_BOOK_BUILD = "the book build that last executed the notebook (myst-nb)"
SOURCE_TEST_RUN = "the test run that executed the notebooks (nbval, timings.json)"
_CHAPTER_DOC = re.compile(r"^(\d\d)_")
_TITLE_NUMBER = re.compile(r"^\d\d\s*·\s*")

Entry = dict[str, Any]


# --- what the page shows, as plain data ------------------------------------------------------------


@dataclass(frozen=True)
class RunTime:
    """How long a chapter took to execute, and who measured it."""

    seconds: float
    source: str


@dataclass(frozen=True)
class ChapterResults:
    """Everything the results page shows for one chapter."""

    chapter: str
    title: str
    docname: str | None
    mode: str | None
    entries: tuple[Entry, ...]
    runtime: RunTime | None
    runtime_note: str
    plan: PlannedChapter | None
    other_modes: tuple[str, ...]


def choose_mode(modes: Iterable[str], build_mode: str) -> str | None:
    """The mode whose numbers to show for a chapter that recorded in ``modes``.

    The build's own mode first (those numbers belong with this build's run times), else full (the
    book's results), else whatever there is; ``None`` when nothing was recorded.
    """
    available = set(modes)
    for mode in (build_mode, "full", *sorted(available)):
        if mode in available:
            return mode
    return None


def format_seconds(seconds: float | None) -> str:
    """A run time for people: ``53 s``, ``6.2 min``, ``1 h 05 min``; ``not measured`` for ``None``."""
    if seconds is None:
        return NOT_MEASURED
    if seconds < 0:
        raise ValueError(f"a run time cannot be negative: {seconds}")
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def format_value(entry: Entry) -> str:
    """A recorded value with its unit: whole numbers with thousands separators, others to 4 digits."""
    value = float(entry["value"])
    text = f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return text + str(entry.get("unit") or "")


def format_target(entry: Entry) -> str:
    """``≥ 0.96`` or ``≤ 1e-06`` for a metric with a target, ``—`` for one without."""
    if entry.get("target") is None:
        return "—"
    sign = "≥" if entry.get("higher_is_better", True) else "≤"
    return f"{sign} {float(entry['target']):g}"


def format_met(entry: Entry) -> str:
    """``yes`` or ``no`` from the recorded ``met``; ``—`` when the metric has no target."""
    if "met" not in entry:
        return "—"
    return "yes" if entry["met"] else "no"


def metric_rows(entries: Sequence[Entry]) -> list[tuple[str, str, str, str]]:
    """One row per metric: (name, value, target, met)."""
    return [(e["name"], format_value(e), format_target(e), format_met(e)) for e in entries]


def targets_met(entries: Sequence[Entry]) -> str:
    """``2 of 3`` (metrics with a target that met it), or ``no target recorded``."""
    with_target = [e for e in entries if "met" in e]
    if not with_target:
        return "no target recorded"
    return f"{sum(bool(e['met']) for e in with_target)} of {len(with_target)}"


def chapter_docs(docnames: Iterable[str]) -> dict[str, str]:
    """Chapter number → docname, for the documents named ``NN_slug`` (``chapters/07_cnns`` → ``07``)."""
    found: dict[str, str] = {}
    for docname in sorted(docnames):
        match = _CHAPTER_DOC.match(posixpath.basename(docname))
        if match:
            found.setdefault(match.group(1), docname)
    return found


def gather(
    entries: Sequence[Entry],
    *,
    build_mode: str,
    docs: Mapping[str, str] | None = None,
    titles: Mapping[str, str] | None = None,
    runtimes: Mapping[str, RunTime] | None = None,
) -> list[ChapterResults]:
    """Group recorded ``entries`` by chapter, in chapter order, with each chapter's page, title and run time.

    ``docs`` maps chapter numbers to their docnames (chapters with a page are listed even when they
    recorded nothing), ``titles`` chapter numbers to page titles, and ``runtimes`` chapter numbers to
    the run time measured in ``build_mode``.  A chapter shown with numbers from another mode gets no
    run time: those numbers come from an earlier run.
    """
    docs, titles, runtimes = docs or {}, titles or {}, runtimes or {}
    by_chapter: dict[str, list[Entry]] = {}
    for entry in entries:
        by_chapter.setdefault(str(entry["chapter"]), []).append(entry)
    results = []
    for chapter in sorted(set(by_chapter) | set(docs)):
        recorded = by_chapter.get(chapter, [])
        modes = {str(e["mode"]) for e in recorded}
        mode = choose_mode(modes, build_mode)
        shown = tuple(sorted((e for e in recorded if e["mode"] == mode), key=lambda e: e["name"]))
        plan = planned(chapter)
        title = titles.get(chapter) or (plan.title if plan else f"Chapter {chapter}")
        runtime, note = runtimes.get(chapter), ""
        if mode is not None and mode != build_mode:
            runtime, note = None, f"the {mode}-mode numbers come from an earlier run"
        results.append(
            ChapterResults(
                chapter=chapter,
                title=title,
                docname=docs.get(chapter),
                mode=mode,
                entries=shown,
                runtime=runtime,
                runtime_note=note,
                plan=plan,
                other_modes=tuple(sorted(modes - {mode} if mode else modes)),
            )
        )
    return results


def runtime_text(result: ChapterResults) -> str:
    """The run-time cell of a chapter: ``53 s``, or ``not measured`` with the reason when there is one."""
    if result.runtime is not None:
        return format_seconds(result.runtime.seconds)
    return f"{NOT_MEASURED} ({result.runtime_note})" if result.runtime_note else NOT_MEASURED


def overview_rows(results: Sequence[ChapterResults]) -> list[tuple[str, str, str, str]]:
    """One row per chapter: (``NN · title``, mode, run time, targets met)."""
    rows = []
    for r in results:
        met = targets_met(r.entries) if r.entries else "nothing recorded"
        rows.append((f"{r.chapter} · {r.title}", r.mode or "—", runtime_text(r), met))
    return rows


def quick_notice(results: Sequence[ChapterResults]) -> str | None:
    """What the top of the page says when quick-mode numbers are shown; ``None`` when none are."""
    quick = [r.chapter for r in results if r.mode == "quick"]
    if not quick:
        return None
    why = (
        "Quick mode runs the same cells on less of the same data and for fewer epochs, so that each chapter "
        "runs in about a minute for the tests. The targets are for full mode: a quick number that misses its "
        "target is expected. `make book` runs every chapter in full mode and gives the book's results."
    )
    shown = [r for r in results if r.mode is not None]
    if len(quick) == len(shown):
        return f"These are quick-mode numbers, not the book's results. {why}"
    return (
        f"Some chapters show quick-mode numbers (chapters {', '.join(quick)}; see the mode column): "
        f"those are not the book's results. {why}"
    )


def runtime_sources(results: Sequence[ChapterResults]) -> list[str]:
    """Who measured the run times shown, in a stable order."""
    order = {SOURCE_BOOK_BUILD: 0, SOURCE_TEST_RUN: 1}
    sources = {r.runtime.source for r in results if r.runtime is not None}
    return sorted(sources, key=lambda s: (order.get(s, 2), s))


# --- where the run times come from -------------------------------------------------------------------


def read_timings(path: Path, backend: str = "tensorflow") -> dict[str, float]:
    """Notebook stem → seconds from a ``timings.json`` (``{"stem/backend": {"seconds": 12.3, ...}}``).

    Only the runs on ``backend`` count (the website shows the notebooks executed on TensorFlow); a key without a
    backend (``"stem"``, older files) counts as that backend's. A missing file gives ``{}``; entries without a
    numeric ``seconds`` are skipped; a file that is not such a JSON object is an error that names it.
    """
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); delete it or re-run the tests") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} should hold an object mapping notebook names to timings")
    seconds = {}
    for key, timing in data.items():
        stem, _, run_backend = key.partition("/")
        if run_backend and run_backend != backend:
            continue
        value = timing.get("seconds") if isinstance(timing, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            seconds[stem] = float(value)
    return seconds


def timings_from_test_run() -> dict[str, float]:
    """Run times from ``$DLBOOK_TEST_OUT/timings.json``; ``{}`` when the variable is unset."""
    out = os.environ.get("DLBOOK_TEST_OUT", "").strip()
    return read_timings(Path(out).expanduser() / "timings.json") if out else {}


def executed_runtimes(env: BuildEnvironment) -> dict[str, float]:
    """Docname → seconds, from the execution data myst-nb keeps for each notebook it executed."""
    runtimes = {}
    for docname, data in getattr(env, "nb_metadata", {}).items():
        exec_data = data.get("exec_data") if isinstance(data, dict) else None
        runtime = exec_data.get("runtime") if isinstance(exec_data, dict) else None
        if isinstance(runtime, (int, float)) and runtime >= 0:
            runtimes[docname] = float(runtime)
    return runtimes


def chapter_runtimes(
    docs: Mapping[str, str], executed: Mapping[str, float], timings: Mapping[str, float]
) -> dict[str, RunTime]:
    """Chapter number → run time: the book build's execution data first, else the test run's timings."""
    runtimes = {}
    for chapter, docname in docs.items():
        stem = posixpath.basename(docname)
        if docname in executed:
            runtimes[chapter] = RunTime(executed[docname], SOURCE_BOOK_BUILD)
        elif stem in timings:
            runtimes[chapter] = RunTime(timings[stem], SOURCE_TEST_RUN)
    return runtimes


# --- docutils nodes ------------------------------------------------------------------------------------

Link = Callable[[str], str | None]
"""Docname → URI of its page from the results page (``None``: no link)."""


def _inline_code(text: str) -> list[nodes.Node]:
    """Text in which `backquoted` parts become inline code."""
    parts = text.split("`")
    return [nodes.literal(p, p) if i % 2 else nodes.Text(p) for i, p in enumerate(parts) if p]


def _paragraph(text: str) -> nodes.paragraph:
    return nodes.paragraph("", "", *_inline_code(text))


def _cell(content: str | nodes.Node) -> nodes.entry:
    paragraph = _paragraph(content) if isinstance(content, str) else nodes.paragraph("", "", content)
    return nodes.entry("", paragraph)


def _table(header: Sequence[str], rows: Sequence[Sequence[str | nodes.Node]], widths: Sequence[int]) -> nodes.table:
    """A docutils table with a header row."""
    table = nodes.table(classes=["dlbook-results-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    head += nodes.row("", *(_cell(h) for h in header))
    group += head
    body = nodes.tbody()
    for row in rows:
        body += nodes.row("", *(_cell(c) for c in row))
    group += body
    return table


def _chapter_label(result: ChapterResults, link: Link) -> nodes.Node:
    text = f"{result.chapter} · {result.title}"
    uri = link(result.docname) if result.docname else None
    if uri is None:
        return nodes.Text(text)
    return nodes.reference("", text, internal=True, refuri=uri)


def empty_nodes() -> list[nodes.Node]:
    """What the page says before any chapter has recorded a result."""
    return [
        _paragraph("No chapter has recorded results yet."),
        _paragraph(
            "Build the book with `make book`: it executes every chapter in full mode, each chapter records its "
            "headline numbers with `cfg.record(...)` in `$DLBOOK_METRICS_DIR` (by default "
            "`~/.cache/dlbook/metrics`), and this page lists them."
        ),
    ]


def chapter_nodes(result: ChapterResults, link: Link) -> list[nodes.Node]:
    """A chapter's part of the page: heading, the plan's target and anchor, and its metrics table."""
    rubric = nodes.rubric("", "", _chapter_label(result, link))
    if result.plan is not None:
        plan = f"Book plan's full-mode target: {result.plan.target}."
        plan += f" Anchor: {result.plan.anchor}." if result.plan.anchor else " No anchor cited."
    else:
        plan = "The book plan's table of targets does not list this chapter."
    mode = f"{result.mode} mode" if result.mode else "no mode"
    facts = f"Numbers from {mode}; run time: {runtime_text(result)}."
    if result.other_modes:
        facts += f" Also recorded in {', '.join(result.other_modes)} mode (not shown)."
    out: list[nodes.Node] = [rubric, _paragraph(plan), _paragraph(facts)]
    if result.entries:
        rows = [(nodes.literal(name, name), *cells) for name, *cells in metric_rows(result.entries)]
        out.append(_table(("Metric", "Value", "Full-mode target", "Met"), rows, (40, 20, 25, 15)))
    else:
        out.append(_paragraph("This chapter has recorded no metric yet."))
    return out


def results_nodes(results: Sequence[ChapterResults], link: Link) -> list[nodes.Node]:
    """The whole generated part of the results page."""
    if not any(r.entries for r in results):
        return empty_nodes()
    out: list[nodes.Node] = []
    notice = quick_notice(results)
    if notice is not None:
        box = nodes.admonition(classes=["warning", "dlbook-quick-notice"])
        box += nodes.title("", "Quick-mode numbers")
        box += _paragraph(notice)
        out.append(box)
    rows = [
        (_chapter_label(r, link), mode, runtime, met)
        for r, (_, mode, runtime, met) in zip(results, overview_rows(results))
    ]
    out.append(_table(("Chapter", "Mode", "Run time", "Full-mode targets met"), rows, (45, 10, 25, 20)))
    sources = runtime_sources(results)
    if sources:
        measured_by = " and by ".join(sources)
        out.append(_paragraph(f"Run times: wall time of each chapter's execution, measured by {measured_by}."))
    else:
        out.append(_paragraph("Run times: not measured in this build."))
    for result in results:
        out.extend(chapter_nodes(result, link))
    return out


# --- the Sphinx extension -----------------------------------------------------------------------------


class results_placeholder(nodes.General, nodes.Element):
    """Where the results go; replaced on ``doctree-resolved``."""


class ResultsDirective(SphinxDirective):
    """``{dlbook-results}``: the tables of every chapter's recorded results."""

    has_content = False
    required_arguments = 0
    optional_arguments = 0

    def run(self) -> list[nodes.Node]:
        _results_docs(self.env).add(self.env.docname)
        return [results_placeholder()]


def _results_docs(env: BuildEnvironment) -> set[str]:
    """The docnames that hold the directive (kept in the environment between builds)."""
    if not hasattr(env, "dlbook_results_docs"):
        env.dlbook_results_docs = set()
    return env.dlbook_results_docs


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _results_docs(env).discard(docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    _results_docs(env).update(_results_docs(other) & docnames)


def _always_outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """Re-read the results page on every build, so that it is re-written with the latest numbers."""
    return sorted(d for d in _results_docs(env) if d in env.found_docs and d not in removed)


def _titles(env: BuildEnvironment, docs: Mapping[str, str]) -> dict[str, str]:
    """Chapter number → page title without its leading ``NN ·``."""
    titles = {}
    for chapter, docname in docs.items():
        title = env.titles.get(docname)
        if title is not None:
            titles[chapter] = _TITLE_NUMBER.sub("", title.astext()).strip()
    return titles


def _fill(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    """Replace each placeholder with the results, from the metrics folder as it is now."""
    placeholders = list(doctree.findall(results_placeholder))
    if not placeholders:
        return
    env = app.env
    docs = chapter_docs(env.found_docs)
    results = gather(
        metrics.collect(metrics.metrics_dir()),
        build_mode=get_mode(),
        docs=docs,
        titles=_titles(env, docs),
        runtimes=chapter_runtimes(docs, executed_runtimes(env), timings_from_test_run()),
    )

    def link(docname: str) -> str | None:
        return app.builder.get_relative_uri(fromdocname, docname) if docname in env.all_docs else None

    for placeholder in placeholders:
        placeholder.replace_self(results_nodes(results, link))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive(DIRECTIVE, ResultsDirective)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _always_outdated)
    app.connect("doctree-resolved", _fill)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

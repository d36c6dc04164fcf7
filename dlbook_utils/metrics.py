"""Headline metrics: each chapter records what its models reached, so a runner can collect them.

``cfg.record("test_accuracy", acc, target=0.96)`` (see :meth:`RunConfig.record`) writes one entry
to ``$DLBOOK_METRICS_DIR/NN.json`` (default ``~/.cache/dlbook/metrics``).  Entries are keyed by
(mode, name), so a re-run replaces the old value.  ``python -m dlbook_utils.metrics [DIR]`` prints
every chapter's metrics as a table.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any


def metrics_dir() -> Path:
    env = os.environ.get("DLBOOK_METRICS_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dlbook" / "metrics"


def record(
    chapter: str,
    name: str,
    value: float,
    *,
    mode: str,
    target: float | None = None,
    higher_is_better: bool = True,
    unit: str = "",
    directory: Path | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Store one headline metric of ``chapter`` and return the entry."""
    if not name or not isinstance(name, str):
        raise ValueError("a metric needs a non-empty name")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {name!r} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"metric {name!r} is {number}; only finite values can be recorded")
    entry: dict[str, Any] = {
        "chapter": chapter,
        "name": name,
        "value": number,
        "mode": mode,
        "target": None if target is None else float(target),
        "higher_is_better": higher_is_better,
        "unit": unit,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if target is not None:
        entry["met"] = number >= target if higher_is_better else number <= target
    folder = metrics_dir() if directory is None else Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}.json"
    entries = json.loads(path.read_text()) if path.exists() else []
    entries = [e for e in entries if not (e["name"] == name and e["mode"] == mode)] + [entry]
    path.write_text(json.dumps(entries, indent=1))
    if verbose:
        goal = ""
        if target is not None:
            goal = f" (target {'≥' if higher_is_better else '≤'} {target:g} in full mode)"
        print(f"recorded {name} = {number:.4g}{unit}{goal} [{mode} mode]")
    return entry


def collect(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every recorded entry in ``directory``, sorted by chapter, mode and name."""
    folder = metrics_dir() if directory is None else Path(directory)
    entries: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        entries.extend(json.loads(path.read_text()))
    return sorted(entries, key=lambda e: (e["chapter"], e["mode"], e["name"]))


def table(entries: list[dict[str, Any]]) -> str:
    rows = [("chapter", "mode", "metric", "value", "target", "met")]
    for e in entries:
        target = "" if e.get("target") is None else f"{'≥' if e['higher_is_better'] else '≤'} {e['target']:g}"
        met = "" if "met" not in e else ("yes" if e["met"] else "no")
        rows.append((e["chapter"], e["mode"], e["name"], f"{e['value']:.4g}{e.get('unit', '')}", target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


if __name__ == "__main__":  # pragma: no cover
    print(table(collect(Path(sys.argv[1]) if len(sys.argv) > 1 else None)))

"""Build the website incrementally, with one execution cache per run mode.

``make book`` runs::

    python -m dlbook_utils.book . [--force] -- -W -n --keep-going

``_config.yml`` asks for ``execute_notebooks: cache``: jupyter-cache keeps every executed notebook
and a later build re-runs only the notebooks whose code changed.  The cache matches notebooks on
their code alone, not on ``DLBOOK_MODE``, so each mode gets its own folder,
``_build/.jupyter_cache/<mode>``: a quick-mode build never shows full-mode outputs, nor the reverse.
jupyter-book's YAML cannot read the environment, so this writes ``_build/.config/<mode>.yml``
(``_config.yml`` plus ``execute: cache: <that folder>``) and gives it to ``jupyter-book build --config``.  Switching
modes changes the configuration, so Sphinx reads every page again, from that mode's cache.

The cache cannot see changes in ``dlbook_utils`` or in the data: ``--force`` (``make book FORCE=1``)
empties the mode's cache and re-reads every page, so every chapter runs again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .config import ModeError, get_mode

CACHE_DIR = Path("_build") / ".jupyter_cache"
CONFIG_DIR = Path("_build") / ".config"


def cache_path(source: str | Path = ".", mode: str | None = None) -> Path:
    """The jupyter-cache folder of ``mode`` (``DLBOOK_MODE`` when None) for the book in ``source``."""
    return Path(source).resolve() / CACHE_DIR / get_mode(mode)


def write_config(source: str | Path = ".", mode: str | None = None) -> Path:
    """Write ``_build/.config/<mode>.yml``: the book's ``_config.yml`` with the mode's cache folder."""
    import yaml  # comes with jupyter-book; the chapters themselves never need it

    source, mode = Path(source).resolve(), get_mode(mode)
    config = yaml.safe_load((source / "_config.yml").read_text(encoding="utf8")) or {}
    config.setdefault("execute", {})["cache"] = str(cache_path(source, mode))
    # jupyter-book resolves local extension folders against the config file's folder
    sphinx = config.get("sphinx") or {}
    for name, folder in (sphinx.get("local_extensions") or {}).items():
        sphinx["local_extensions"][name] = str((source / folder).resolve())
    path = source / CONFIG_DIR / f"{mode}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Written by dlbook_utils.book from _config.yml for {mode} mode: edit _config.yml, not this file.\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf8")
    return path


def _jupyter_book() -> str:
    beside = Path(sys.executable).with_name("jupyter-book")
    return str(beside) if beside.exists() else (shutil.which("jupyter-book") or "jupyter-book")


def build(source: str | Path = ".", mode: str | None = None, *, force: bool = False,
          args: list[str] | tuple[str, ...] = (), **run_kwargs) -> subprocess.CompletedProcess:
    """Build the book in ``source`` in ``mode`` (``DLBOOK_MODE`` when None) with its own cache.

    ``force`` empties that mode's cache and passes ``--all``, so every notebook runs again.
    ``args`` go to ``jupyter-book build``; ``run_kwargs`` to :func:`subprocess.run`.
    """
    mode = get_mode(mode)  # an unknown mode stops here, before anything is built
    if force:
        shutil.rmtree(cache_path(source, mode), ignore_errors=True)
        args = [*args, "--all"]
    config = write_config(source, mode)
    command = [_jupyter_book(), "build", str(source), "--config", str(config), *args]
    env = {**os.environ, **run_kwargs.pop("env", {}), "DLBOOK_MODE": mode}
    return subprocess.run(command, env=env, **run_kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlbook_utils.book",
        description="Build the book with jupyter-book, re-running only the notebooks whose code changed "
                    "(one execution cache per DLBOOK_MODE).",
        usage="%(prog)s [SOURCE] [--mode MODE] [--force] [-- JUPYTER_BOOK_BUILD_ARGS...]",
    )
    parser.add_argument("source", nargs="?", default=".", help="the book's folder (default: .)")
    parser.add_argument("--mode", help="full or quick (default: DLBOOK_MODE, else full)")
    parser.add_argument("--force", action="store_true",
                        help="empty this mode's cache and execute every notebook again "
                             "(after changes in dlbook_utils or in the data)")
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    opts, jb_args = parser.parse_args(argv[:split]), argv[split + 1:]
    try:
        mode = get_mode(opts.mode)
    except ModeError as error:
        parser.error(str(error))
    print(f"Building the book in {mode} mode; execution cache: {cache_path(opts.source, mode)}"
          + (" (emptied first: --force)" if opts.force else ""), flush=True)
    return build(opts.source, mode, force=opts.force, args=jb_args).returncode


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

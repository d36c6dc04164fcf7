"""The website's own copy of the JavaScript that shows saved widgets, so widget pages work offline too.

Chapters 01, 02, 03, 05 and 06 have sliders (ipywidgets). On the website there is no kernel to move them, but the
page still shows each widget as it was saved when the chapter ran: its controls and its output, the figure
included. Drawing them takes two scripts that myst-nb loads from CDNs by default: RequireJS and the widgets' HTML
manager. Offline, or wherever a CDN is blocked, the widget and the figure inside it are simply missing.

This module puts pinned copies of both into ``_vendor/widgets``, the way :mod:`dlbook_utils.mathjax` does for
MathJax (``make book`` and ``make test`` run ``python -m dlbook_utils.widgetjs _vendor/widgets``):

* ``requirejs`` at :data:`PACKAGES` ``[0]``: ``require.js``;
* ``@jupyter-widgets/html-manager`` at the version myst-nb uses: ``dist/embed-amd.js`` (the manager with the
  standard widgets built in) and the icon fonts it loads beside itself;
* ``paths.js``, three lines written here (:data:`PATHS_JS`) that tell RequireJS where the manager and its fonts
  are.

Each npm tarball is checked against the registry's sha512 before anything is unpacked. The Sphinx extension
:mod:`dlbook_utils.site` copies the folder to the built site's ``_static/widgets`` and points myst-nb there
(``nb_ipywidgets_js`` in ``_config.yml``). Offline, pass the two tarballs fetched elsewhere with ``--tarball``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import mathjax as _npm


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    #: the npm registry's ``dist.integrity`` (``npm view NAME@VERSION dist.integrity``)
    integrity: str
    #: file name in the package → file name in the vendored folder
    files: tuple[tuple[str, str], ...]
    #: also keep files of the package's ``dist`` folder with these endings (fonts loaded by a script)
    suffixes: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


PACKAGES = (
    Package("requirejs", "2.3.7",
            "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==",
            files=(("require.js", "require.js"),)),
    Package("@jupyter-widgets/html-manager", "1.0.6",
            "sha512-+Mn+Ra8wyIHrYaUpfmf9A3dsLkt/NuwzPQN8sthdxBD35VV5cOJbpmgMhNR27n/rmP3mKyEe0PWCJrtZrXTXDQ==",
            files=(("dist/embed-amd.js", "embed-amd.js"), ("LICENSE", "LICENSE.html-manager")),
            suffixes=(".woff2", ".woff", ".ttf", ".eot")),
)
#: The scripts a widget page loads, in order (myst-nb's ``nb_ipywidgets_js``), relative to the folder.
SCRIPTS = ("require.js", "paths.js", "embed-amd.js")
#: Written here, not fetched: the manager's modules find their icon fonts beside the URL RequireJS gives each
#: module, which by default is relative to the page (``chapters/@jupyter-widgets/…``). This points those module
#: names at the folder the scripts are served from.
PATHS_JS = """\
// Written by dlbook_utils.widgetjs: the widget manager's module (and the icon fonts it loads beside itself) live
// in the folder this script is served from.
(function () {
  var src = document.currentScript && document.currentScript.src;
  if (!src || typeof require === "undefined") { return; }
  var here = src.slice(0, src.lastIndexOf("/"));
  require.config({paths: {"@jupyter-widgets": here, "@jupyter-widgets/html-manager/dist": here}});
})();
"""
DEFAULT_DEST = Path("_vendor") / "widgets"
STAMP = ".dlbook-widgetjs.json"


class WidgetJSError(RuntimeError):
    """The pinned widget scripts could not be fetched, verified or found."""


def expected_stamp() -> dict:
    return {"packages": {p.name: [p.version, p.integrity] for p in PACKAGES}, "scripts": list(SCRIPTS),
            "paths_js": hashlib.sha256(PATHS_JS.encode()).hexdigest()}


def is_current(dest: str | Path = DEFAULT_DEST) -> bool:
    """True when ``dest`` holds the pinned versions, completely unpacked."""
    dest = Path(dest)
    try:
        found = json.loads((dest / STAMP).read_text(encoding="utf8"))
    except (OSError, ValueError):
        return False
    return {k: found.get(k) for k in expected_stamp()} == expected_stamp() \
        and all((dest / s).is_file() for s in SCRIPTS)


def _unpack(package: Package, tarball: Path, dest: Path) -> int:
    wanted = {PurePosixPath("package", inner): out for inner, out in package.files}
    count = 0
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if not member.isfile() or ".." in name.parts or name.is_absolute():
                continue
            if name in wanted:
                target = dest / wanted[name]
            elif name.parent == PurePosixPath("package", "dist") and name.suffix in package.suffixes:
                target = dest / name.name
            else:
                continue
            with tar.extractfile(member) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
            count += 1
    missing = [out for inner, out in package.files if not (dest / out).is_file()]
    if missing:
        raise WidgetJSError(f"the {package.spec} tarball lacks {', '.join(missing)}")
    return count


def _fetch_one(package: Package, workdir: Path, tarball: Path | None) -> tuple[Path, str]:
    if tarball is not None:
        return tarball, str(tarball)
    if shutil.which("npm"):
        return _npm._npm_pack(shutil.which("npm"), workdir, package.name, package.version, WidgetJSError), "npm pack"
    return _npm._download(workdir, package.name, package.version, WidgetJSError), "the npm registry"


def fetch(dest: str | Path = DEFAULT_DEST, *, tarballs: dict[str, str | Path] | None = None, force: bool = False,
          log=print) -> Path:
    """Make ``dest`` hold the pinned widget scripts; fetch, verify and unpack them unless they are there.

    ``tarballs`` maps a package name to a local ``.tgz`` to use instead of fetching it.
    """
    dest = Path(dest).resolve()
    tarballs = {k: Path(v) for k, v in (tarballs or {}).items()}
    unknown = set(tarballs) - {p.name for p in PACKAGES}
    if unknown:
        raise WidgetJSError(f"no pinned package is called {', '.join(sorted(unknown))} "
                            f"(the pins: {', '.join(p.spec for p in PACKAGES)})")
    if not force and not tarballs and is_current(dest):
        log(f"the widget scripts are already in {dest}")
        return dest
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    files = 0
    try:
        with tempfile.TemporaryDirectory(prefix="dlbook-widgetjs-") as tmp:
            for i, package in enumerate(PACKAGES):
                workdir = Path(tmp) / str(i)
                workdir.mkdir()
                given = tarballs.get(package.name)
                if given is not None and not given.is_file():
                    raise WidgetJSError(f"{given} does not exist")
                source, how = _fetch_one(package, workdir, given)
                found = _npm.integrity_of(source.read_bytes())
                if found != package.integrity:
                    raise WidgetJSError(f"{package.spec} from {how} does not match the pinned checksum:\n"
                                        f"    expected {package.integrity}\n    found    {found}\n"
                                        "nothing was unpacked.")
                files += _unpack(package, source, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    (partial / "paths.js").write_text(PATHS_JS, encoding="utf8")
    (partial / STAMP).write_text(json.dumps({**expected_stamp(), "files": files}, indent=1) + "\n", encoding="utf8")
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    log(f"widget scripts ({', '.join(p.spec for p in PACKAGES)}; {files} files, checksums verified) -> {dest}")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlbook_utils.widgetjs",
        description="Put the website's copy of the widget scripts (npm packages, checksums pinned) into DEST.")
    parser.add_argument("dest", nargs="?", default=str(DEFAULT_DEST), help=f"default: {DEFAULT_DEST}")
    parser.add_argument("--tarball", action="append", default=[], metavar="NAME=FILE",
                        help="use this .tgz for package NAME instead of fetching it (offline); repeatable")
    parser.add_argument("--force", action="store_true", help="fetch and unpack again even if DEST is current")
    opts = parser.parse_args(argv)
    try:
        tarballs = dict(item.split("=", 1) for item in opts.tarball)
    except ValueError:
        parser.error("--tarball takes NAME=FILE, e.g. requirejs=requirejs-2.3.7.tgz")
    try:
        fetch(opts.dest, tarballs=tarballs, force=opts.force)
    except WidgetJSError as exc:
        specs = " ".join(p.spec for p in PACKAGES)
        print(f"error: the website needs its own copy of the widget scripts (so widgets show offline), and it could "
              f"not be put into {opts.dest}:\n{exc}\nCheck the network connection to the npm registry, or run "
              f"`npm pack {specs}` on another machine and pass each file with --tarball NAME=FILE.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

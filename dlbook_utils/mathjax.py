"""The website's own copy of MathJax, so its equations render offline and wherever a CDN is blocked.

The copy is never committed: ``make book`` and ``make test`` run::

    python -m dlbook_utils.mathjax _vendor/mathjax

which takes the npm package ``mathjax`` at the pinned :data:`VERSION` (with ``npm pack`` when npm is
installed, so npm's registry, proxy and cache settings apply; otherwise straight from the npm registry
over HTTPS), checks the tarball against the pinned :data:`INTEGRITY` (the registry's own sha512), and
unpacks into ``_vendor/mathjax`` the component the site loads (:data:`COMPONENT`) and every file that
component can load on demand: the TeX extensions (``\\boldsymbol`` autoloads one), the MathML
entities, the CHTML fonts, the context menu and the accessibility tools with their speech rules.
A stamp file records what is there, so the next run does nothing.

The Sphinx extension :mod:`dlbook_utils.site` copies the folder into the built site's ``_static/mathjax``
and stops the build with a clear message when it is missing or stale. Offline, pass a ``mathjax-<VERSION>.tgz``
fetched elsewhere with ``--tarball`` (it is verified the same way).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

PACKAGE = "mathjax"
VERSION = "3.2.2"
#: The npm registry's ``dist.integrity`` of mathjax@3.2.2 (``npm view mathjax@3.2.2 dist.integrity``).
INTEGRITY = "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
#: The combined component the pages load: TeX and MathML input, CommonHTML output (Sphinx's default).
COMPONENT = "tex-mml-chtml.js"
#: What is kept from the package's ``es5`` folder: the component and what it loads on demand.
PARTS = (COMPONENT, "input/tex", "input/mml", "output/chtml", "ui", "a11y", "sre")
DEFAULT_DEST = Path("_vendor") / "mathjax"
STAMP = ".dlbook-mathjax.json"
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
TIMEOUT = 120


class MathJaxError(RuntimeError):
    """The pinned MathJax could not be fetched, verified or found."""


def expected_stamp() -> dict:
    return {"package": PACKAGE, "version": VERSION, "integrity": INTEGRITY, "component": COMPONENT,
            "parts": list(PARTS)}


def is_current(dest: str | Path = DEFAULT_DEST) -> bool:
    """True when ``dest`` holds the pinned version, completely unpacked."""
    stamp = Path(dest) / STAMP
    try:
        found = json.loads(stamp.read_text(encoding="utf8"))
    except (OSError, ValueError):
        return False
    return {k: found.get(k) for k in expected_stamp()} == expected_stamp() and (Path(dest) / COMPONENT).is_file()


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _npm_pack(npm: str, workdir: Path, package: str = PACKAGE, version: str = VERSION, error=None) -> Path:
    error = error or MathJaxError
    spec = f"{package}@{version}"
    try:
        proc = subprocess.run([npm, "pack", spec, "--pack-destination", str(workdir), "--loglevel=error"],
                              capture_output=True, text=True, timeout=TIMEOUT, cwd=workdir)
    except subprocess.TimeoutExpired:
        raise error(f"`npm pack {spec}` did not finish within {TIMEOUT} s (is the npm registry reachable?)")
    tarballs = sorted(workdir.glob("*.tgz"))
    if proc.returncode != 0 or len(tarballs) != 1:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        # npm's summary lines ("code ECONNREFUSED", "request to ... failed") say more than its object dumps
        detail = [ln for ln in lines if any(k in ln for k in (" code ", "request to", "404", "ETARGET"))] or lines[-6:]
        raise error(f"`npm pack {spec}` failed (exit {proc.returncode}):\n    " + "\n    ".join(detail[:6]))
    return tarballs[0]


def _download(workdir: Path, package: str = PACKAGE, version: str = VERSION, error=None) -> Path:
    error = error or MathJaxError
    registry = os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY
    base = package.rsplit("/", 1)[-1]  # a scoped package's tarball is named without its scope
    url = f"{registry.rstrip('/')}/{package}/-/{base}-{version}.tgz"
    path = workdir / f"{base}-{version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, path.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as exc:
        raise error(f"downloading {url} failed: {exc}") from exc
    return path


def _unpack(tarball: Path, dest: Path) -> int:
    """Write the kept parts of ``package/es5`` (and the licence) into ``dest``; return the number of files."""
    count = 0
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if not member.isfile() or ".." in name.parts or name.is_absolute():
                continue
            if name == PurePosixPath("package/LICENSE"):
                relative = PurePosixPath("LICENSE")
            elif name.parts[:2] == ("package", "es5"):
                relative = PurePosixPath(*name.parts[2:])
                if not any(relative == PurePosixPath(p) or PurePosixPath(p) in relative.parents for p in PARTS):
                    continue
            else:
                continue
            target = dest.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
            count += 1
    return count


def fetch(dest: str | Path = DEFAULT_DEST, *, tarball: str | Path | None = None, force: bool = False,
          log=print) -> Path:
    """Make ``dest`` hold the pinned MathJax; fetch, verify and unpack it unless it is already there."""
    dest = Path(dest).resolve()
    if not force and tarball is None and is_current(dest):
        log(f"MathJax {VERSION} is already in {dest}")
        return dest
    with tempfile.TemporaryDirectory(prefix="dlbook-mathjax-") as tmp:
        workdir = Path(tmp)
        if tarball is not None:
            source = Path(tarball)
            if not source.is_file():
                raise MathJaxError(f"{source} does not exist")
            how = str(source)
        elif shutil.which("npm"):
            source, how = _npm_pack(shutil.which("npm"), workdir), "npm pack"
        else:
            source, how = _download(workdir), "the npm registry (npm is not installed)"
        data = source.read_bytes()
        found = integrity_of(data)
        if found != INTEGRITY:
            raise MathJaxError(f"{PACKAGE}@{VERSION} from {how} does not match the pinned checksum:\n"
                               f"    expected {INTEGRITY}\n    found    {found}\nnothing was unpacked.")
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        files = _unpack(source, partial)
        if not (partial / COMPONENT).is_file():
            raise MathJaxError(f"the {PACKAGE}@{VERSION} tarball has no es5/{COMPONENT}")
        (partial / STAMP).write_text(json.dumps({**expected_stamp(), "files": files}, indent=1) + "\n", encoding="utf8")
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
    log(f"MathJax {VERSION} ({files} files, checksum verified) from {how} -> {dest}")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlbook_utils.mathjax",
        description=f"Put the website's copy of MathJax {VERSION} (npm package, checksum pinned) into DEST.")
    parser.add_argument("dest", nargs="?", default=str(DEFAULT_DEST), help=f"default: {DEFAULT_DEST}")
    parser.add_argument("--tarball", help=f"use this {PACKAGE}-{VERSION}.tgz instead of fetching it (offline)")
    parser.add_argument("--force", action="store_true", help="fetch and unpack again even if DEST is current")
    opts = parser.parse_args(argv)
    try:
        fetch(opts.dest, tarball=opts.tarball, force=opts.force)
    except MathJaxError as exc:
        print(f"error: the website needs its own copy of MathJax {VERSION} (so equations render offline), "
              f"and it could not be put into {opts.dest}:\n{exc}\n"
              f"Check the network connection to the npm registry, or fetch {PACKAGE}-{VERSION}.tgz on another "
              f"machine (`npm pack {PACKAGE}@{VERSION}`) and run: python -m dlbook_utils.mathjax --tarball "
              f"{PACKAGE}-{VERSION}.tgz", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The project's promises about installation, pinning and its two commands."""

import re
import tomllib

from tests.conftest import ROOT


def test_helper_package_does_not_pin_tensorflow_or_keras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + sum(project.get("optional-dependencies", {}).values(), [])
    for dep in deps:
        name = re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0].lower()
        assert name not in {"tensorflow", "keras", "tensorflow-cpu", "tf-keras", "jax", "jaxlib", "torch"}, dep
        assert "==" not in dep, f"the package declares lower bounds only: {dep}"
    assert project["requires-python"] == ">=3.11"


def test_test_environment_is_pinned_to_colab_versions():
    pins = dict(
        line.split("==", 1) for line in (ROOT / ".ci/requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    pins = {k.lower(): v for k, v in pins.items()}
    assert pins["tensorflow"].startswith("2.20.")
    assert pins["keras"].startswith("3.13.")
    # JAX's CPU wheels for make test's JAX pass; jax and jaxlib are released together at the same version
    assert pins["jax"] == pins["jaxlib"]
    from dlbook_utils.config import JAXLIB_CPU_XNNPACK_BUG

    assert pins["jaxlib"] not in JAXLIB_CPU_XNNPACK_BUG, "these jaxlib releases miscompute training on a CPU"
    assert pins["jupyter-book"].startswith("1.")
    for tool in ("sphinx", "myst-nb", "sphinx-book-theme", "nbval", "ipywidgets", "jupyterlab", "matplotlib"):
        assert tool in pins, f"{tool} must be pinned exactly"


def test_readme_documents_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    for needed in ("make book", "make test", "DLBOOK_MODE", "DLBOOK_DATA", "Colab", "make student",
                   "dlbook_utils.grade", "Contributing a chapter"):
        assert needed in readme, needed
    ci = (ROOT / ".ci/run").read_text()
    assert re.search(r"^make test$", ci, re.M) and "DLBOOK_DATA" in ci and "shared/data" in ci


def test_installing_the_package_leaves_colabs_ipywidgets_alone():
    """The package never imports ipywidgets, so it does not require it: on Colab (ipywidgets 7.7.1) installing
    dlbook-utils must not replace it. What the chapters import beyond TensorFlow/Keras is the `chapters` extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(dep.lower().startswith("ipywidgets") for dep in project["dependencies"])
    for path in (ROOT / "dlbook_utils").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+ipywidgets", path.read_text(), re.M), path
    extra = " ".join(project["optional-dependencies"]["chapters"]).lower()
    imported = set()
    for nb in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"):
        imported |= set(re.findall(r"(?:import|from) (ipywidgets|sklearn|scipy)\b", nb.read_text()))
    for module, package in (("ipywidgets", "ipywidgets"), ("sklearn", "scikit-learn"), ("scipy", "scipy")):
        if module in imported:
            assert package in extra, f"chapters import {module}: list {package} in the `chapters` extra"
    bound = next(d for d in project["optional-dependencies"]["chapters"] if d.startswith("ipywidgets"))
    assert re.fullmatch(r"ipywidgets>=7\.\d+", bound), "Colab's ipywidgets 7.7.1 must satisfy the bound"

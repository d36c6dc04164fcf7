from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def repository_url() -> str:
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", text, re.M)
    assert match, "_config.yml has no repository url"
    return match.group(1)


@pytest.fixture
def chapters() -> list[Path]:
    assert CHAPTERS, "no chapters found"
    return CHAPTERS


def load_nb(path: Path) -> dict:
    return json.loads(path.read_text())

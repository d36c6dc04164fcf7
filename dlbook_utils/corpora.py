"""Readers for the NLTK corpora of chapter 13, straight from NLTK's own zip files (NLTK itself is not needed).

Each reader fetches its corpus through :mod:`dlbook_utils.data` (``data.fetch("nltk_<name>")``) and returns plain
Python lists, one entry per sentence:

* :func:`treebank_tagged` — the 10% sample of the Penn Treebank (Wall Street Journal, files wsj_0001–wsj_0199),
  ``[(word, tag), ...]`` read from the bracketed parses, with the empty elements (``-NONE-`` traces) left out.
* :func:`dependency_treebank` — the same sample converted to dependencies: :class:`DependencySentence` with the
  words, their tags and their heads (0 for the root, ``i`` for the ``i``-th word, counted from 1).
* :func:`conll2000` — CoNLL-2000 chunking, ``[(word, tag, chunk), ...]`` with BIO chunk tags.
* :func:`conll2002` — CoNLL-2002 named entities, ``[(word, tag, entity), ...]`` with BIO tags for PER, LOC, ORG
  and MISC (Spanish ``esp`` or Dutch ``ned``; the Dutch files' ``-DOCSTART-`` lines are dropped).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import data

__all__ = ["DependencySentence", "treebank_tagged", "dependency_treebank", "conll2000", "conll2002",
           "parse_bracketed", "parse_columns"]

CONLL2000_SPLITS = ("train", "test")
CONLL2002_SPLITS = ("train", "testa", "testb")
CONLL2002_LANGUAGES = ("esp", "ned")

_BRACKET_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass(frozen=True)
class DependencySentence:
    """One dependency-parsed sentence: ``heads[i]`` is the head of ``words[i]`` (0: the root, k: ``words[k-1]``)."""

    words: tuple[str, ...]
    tags: tuple[str, ...]
    heads: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.words)
        if len(self.tags) != n or len(self.heads) != n:
            raise ValueError(f"{n} words, {len(self.tags)} tags and {len(self.heads)} heads")
        if any(not 0 <= h <= n for h in self.heads):
            raise ValueError(f"heads must lie in 0..{n}, got {self.heads}")

    def __len__(self) -> int:
        return len(self.words)


def _zip(corpus: str) -> Path:
    (path,) = data.fetch(f"nltk_{corpus}")
    return path


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:           # the CoNLL-2002 files were first published in Latin-1
        return raw.decode("latin-1")


def _members(path: Path, pattern: str) -> list[tuple[str, str]]:
    """``(name, text)`` of the zip's members whose name matches ``pattern``, sorted by name."""
    rx = re.compile(pattern)
    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if rx.fullmatch(n))
        if not names:
            raise FileNotFoundError(f"{path.name} has no member matching {pattern!r}")
        return [(n, _decode(zf.read(n))) for n in names]


def parse_bracketed(text: str, *, traces: bool = False) -> list[list[tuple[str, str]]]:
    """The ``(word, tag)`` leaves of each top-level tree in Penn Treebank bracketed text.

    A leaf is a bracket ``(TAG word)``; ``-NONE-`` leaves (traces and other empty elements) are dropped unless
    ``traces`` is true.
    """
    sentences: list[list[tuple[str, str]]] = []
    leaves: list[tuple[str, str]] = []
    depth = 0
    tokens = _BRACKET_TOKEN.findall(text)
    for i, token in enumerate(tokens):
        if token == "(":
            depth += 1
            leaf = tokens[i + 1: i + 4]
            if len(leaf) == 3 and leaf[0] not in "()" and leaf[1] not in "()" and leaf[2] == ")":
                tag, word = leaf[0], leaf[1]
                if traces or tag != "-NONE-":
                    leaves.append((word, tag))
        elif token == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced brackets: a ')' closes nothing")
            if depth == 0 and leaves:
                sentences.append(leaves)
                leaves = []
    if depth != 0:
        raise ValueError(f"unbalanced brackets: {depth} left open")
    return sentences


def parse_columns(text: str, *, skip_docstart: bool = True) -> list[list[tuple[str, ...]]]:
    """Sentences of a CoNLL-style file: one token per line, space- or tab-separated columns, blank lines between."""
    sentences: list[list[tuple[str, ...]]] = []
    current: list[tuple[str, ...]] = []
    for line in text.splitlines() + [""]:
        fields = tuple(line.split())
        if skip_docstart and fields and fields[0] == "-DOCSTART-":
            fields = ()
        if fields:
            if current and len(fields) != len(current[0]):
                raise ValueError(f"line {line!r} has {len(fields)} columns, the sentence before it {len(current[0])}")
            current.append(fields)
        elif current:
            sentences.append(current)
            current = []
    return sentences


def treebank_tagged(*, traces: bool = False) -> list[list[tuple[str, str]]]:
    """The Penn Treebank sample's 3,914 sentences as ``[(word, tag), ...]``, in file order (wsj_0001 first)."""
    sentences: list[list[tuple[str, str]]] = []
    for _, text in _members(_zip("treebank"), r"treebank/combined/wsj_\d+\.mrg"):
        sentences.extend(parse_bracketed(text, traces=traces))
    return sentences


def dependency_treebank() -> list[DependencySentence]:
    """The dependency version of the treebank sample, in file order: words, tags and heads per sentence."""
    sentences: list[DependencySentence] = []
    for name, text in _members(_zip("dependency_treebank"), r"dependency_treebank/wsj_\d+\.dp"):
        for rows in parse_columns(text):
            if len(rows[0]) != 3:
                raise ValueError(f"{name}: expected word, tag and head per line, got {rows[0]}")
            words, tags, heads = zip(*rows)
            sentences.append(DependencySentence(tuple(words), tuple(tags), tuple(int(h) for h in heads)))
    return sentences


def conll2000(split: str) -> list[list[tuple[str, str, str]]]:
    """CoNLL-2000 chunking, ``split`` = "train" or "test": ``[(word, tag, chunk), ...]`` per sentence."""
    if split not in CONLL2000_SPLITS:
        raise ValueError(f"CoNLL-2000 has splits {CONLL2000_SPLITS}, not {split!r}")
    ((_, text),) = _members(_zip("conll2000"), f"conll2000/{split}.txt")
    return [list(map(tuple, s)) for s in parse_columns(text)]  # type: ignore[misc]


def conll2002(split: str, language: str = "esp") -> list[list[tuple[str, str, str]]]:
    """CoNLL-2002 named entities, ``split`` = "train", "testa" or "testb": ``[(word, tag, entity), ...]``."""
    if split not in CONLL2002_SPLITS:
        raise ValueError(f"CoNLL-2002 has splits {CONLL2002_SPLITS}, not {split!r}")
    if language not in CONLL2002_LANGUAGES:
        raise ValueError(f"CoNLL-2002 has languages {CONLL2002_LANGUAGES}, not {language!r}")
    ((_, text),) = _members(_zip("conll2002"), f"conll2002/{language}.{split}")
    return [list(map(tuple, s)) for s in parse_columns(text)]  # type: ignore[misc]

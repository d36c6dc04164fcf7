"""The book's data registry: where each dataset comes from, what its bytes hash to, and how to load it.

Every file the book trains on is listed here with its source URL, its SHA-256 and its licence.
:func:`fetch` looks in the cache folder first (``DLBOOK_DATA``, default ``~/.cache/dlbook``);
if a file is missing it downloads it (unless ``DLBOOK_OFFLINE=1``), verifies it and only then
moves it into place.  A file whose hash does not match is never used.

The cache layout mirrors the book's offline data folder, so pointing ``DLBOOK_DATA`` at a
(writable) copy of that folder makes every loader work without a network.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK = 1 << 20


class DataError(RuntimeError):
    """Base class for data registry errors."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A file is neither in the cache nor downloadable right now."""


class ChecksumError(DataError):
    """A file's bytes do not hash to the value the registry expects."""


class UnknownDatasetError(DataError, KeyError):
    """The name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset: where it lives in the cache, where it comes from, what it hashes to."""

    path: str  # relative to the cache root, with forward slashes
    url: str
    sha256: str

    def __post_init__(self) -> None:
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"{self.path}: sha256 must be 64 lower-case hex digits")


@dataclass(frozen=True)
class TreeSource:
    """An archive published upstream whose extracted files are checked against a known digest.

    Used where the book's offline copy is a repack of an upstream archive (IMDB, FSDD): the
    upstream archive has no published hash, but the sorted list ``"<sha256>  <path>"`` of the
    files the book uses does, so after download and extraction the tree itself is verified.
    """

    url: str
    members: Callable[[str], str | None]  # archive member name -> path in the list, or None to skip
    list_sha256: str


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    licence: str
    citation: str
    files: tuple[DataFile, ...]
    tree_source: TreeSource | None = None
    notes: str = ""
    aliases: tuple[str, ...] = field(default=())


def _files(base_url: str, prefix: str, specs: Iterable[tuple[str, str]]) -> tuple[DataFile, ...]:
    return tuple(DataFile(f"{prefix}/{name}", f"{base_url}/{name}", sha) for name, sha in specs)


_KERAS_FASHION = "https://storage.googleapis.com/tensorflow/tf-keras-datasets"
_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist"
_BROWNLEE = "https://raw.githubusercontent.com/jbrownlee/Datasets/d20fcb6402ae34e653d4513b00f39257bb37ed7f"
_NLTK = "https://raw.githubusercontent.com/nltk/nltk_data/5db857e6f7df11eabb5e5665836db9ec8df07e28/packages/corpora"
_FSDD_COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"


def _imdb_member(name: str) -> str | None:
    # Upstream holds train/unsup and .feat files that the book's list leaves out.
    if not name.startswith("aclImdb/") or "/unsup/" in name or name.endswith(".feat"):
        return None
    return name


def _fsdd_member(name: str) -> str | None:
    # GitHub's archive of a commit: free-spoken-digit-dataset-<sha>/recordings/<file>.wav
    parts = name.split("/")
    if len(parts) == 3 and parts[1] == "recordings" and parts[2].endswith(".wav"):
        return parts[2]
    return None


REGISTRY: dict[str, Dataset] = {}


def _register(ds: Dataset) -> None:
    REGISTRY[ds.name] = ds


_register(
    Dataset(
        name="fashion_mnist",
        title="Fashion-MNIST: 60,000 + 10,000 28×28 grey images of clothing, 10 classes",
        licence="MIT",
        citation="Xiao, Rasul & Vollgraf (2017), Fashion-MNIST, arXiv:1708.07747",
        files=_files(
            _KERAS_FASHION,
            "keras/datasets/fashion-mnist",
            [
                ("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
                ("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
                ("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
                ("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
            ],
        ),
    )
)
_register(
    Dataset(
        name="mnist",
        title="MNIST: 60,000 + 10,000 28×28 handwritten digits",
        licence="CC BY-SA 3.0",
        citation="LeCun, Cortes & Burges, The MNIST database of handwritten digits",
        files=_files(
            _MNIST,
            "mnist",
            [
                ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
                ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
            ],
        ),
    )
)
_register(
    Dataset(
        name="tiny_shakespeare",
        title="tiny Shakespeare (char-rnn): 1.1 MB of plays as plain text",
        licence="public domain",
        citation="Karpathy (2015), char-rnn",
        files=(
            DataFile(
                "text/tinyshakespeare.txt",
                "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e"
                "/data/tinyshakespeare/input.txt",
                "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            ),
        ),
    )
)
_register(
    Dataset(
        name="imdb",
        title="IMDB Large Movie Review Dataset v1.0: 25,000 train + 25,000 test reviews, positive/negative",
        licence="research use; cite the paper",
        citation="Maas et al. (2011), Learning Word Vectors for Sentiment Analysis, ACL",
        files=(
            DataFile(
                "imdb/aclImdb_v1_train_test.tar.gz",
                "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                "3c27c84c5b647935a2b44ee9c5b3fc302d26b6d268caf4c6a360aa7cb1f5fce7",
            ),
        ),
        tree_source=TreeSource(
            url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
            members=_imdb_member,
            list_sha256="1b451fb3de288ce393d5ea20db03b9825caf4832651be821eac02edb775b7b38",
        ),
        notes="The cached file is a repack without train/unsup and the .feat files.",
    )
)
_register(
    Dataset(
        name="review_polarity",
        title="Movie review polarity v2.0: 1,000 positive + 1,000 negative reviews",
        licence="research use; cite the paper",
        citation="Pang & Lee (2004), A Sentimental Education, ACL",
        files=(
            DataFile(
                "text/review_polarity.tar.gz",
                f"{_BROWNLEE}/review_polarity.tar.gz",
                "fc0dccc2671af5db3c5d8f81f77a1ebfec953ecdd422334062df61ede36b2179",
            ),
        ),
    )
)
_NLTK_SHAS = {
    "treebank": "9da92d76c3666cfb6cddeaed0f7e86b344cce0f0928a286d439e555f19c37399",
    "dependency_treebank": "0df483999f1391f32b141d6047d8ce19efd0a5a3e63ca019bfc4af8530f51fbd",
    "conll2000": "01e65164f268366e7caa0db92332a1955d081908c87016e2c7640c3c5279b7cd",
    "conll2002": "64440e49236d0d393e08e0b266284966d68e2d2a82a50cc41b8e96d98c03b5c8",
    "movie_reviews": "a41211ae685019137410268134db6a1a14428c89b671eb83056151a878539008",
    "sentence_polarity": "6e1ed4405b65c7eabf1d199a7f7c437091ac21da0ea7467b410a74062574566b",
    "brown": "9b275f9b3b95d7bd66ccfb7cd259f445a13bbe5d1f4107aba09fd3e8364bafa6",
    "stopwords": "15c94179887425ca1bedc265608cab9f27d650211f709bb929e320990a4b01d1",
}
_NLTK_LICENCES = {
    "treebank": "LDC sample, non-commercial use",
    "dependency_treebank": "LDC sample, non-commercial use",
    "conll2000": "as distributed with NLTK",
    "conll2002": "CoNLL-2002 shared-task data, free for research (cite Tjong Kim Sang 2002)",
    "movie_reviews": "CC BY 4.0",
    "sentence_polarity": "CC BY 4.0",
    "brown": "non-commercial use",
    "stopwords": "as distributed with NLTK",
}
for _corpus, _sha in _NLTK_SHAS.items():
    _register(
        Dataset(
            name=f"nltk_{_corpus}",
            title=f"NLTK corpus '{_corpus}' (NLTK's own zip; set NLTK_DATA to <cache>/nltk_data)",
            licence=_NLTK_LICENCES[_corpus],
            citation="Bird, Klein & Loper (2009), Natural Language Processing with Python",
            files=(DataFile(f"nltk_data/corpora/{_corpus}.zip", f"{_NLTK}/{_corpus}.zip", _sha),),
        )
    )
_register(
    Dataset(
        name="fsdd",
        title="Free Spoken Digit Dataset: 3,000 8 kHz recordings (6 speakers × 10 digits × 50)",
        licence="CC BY-SA 4.0",
        citation="Jackson et al., Free Spoken Digit Dataset (github.com/Jakobovski/free-spoken-digit-dataset)",
        files=(
            DataFile(
                "fsdd/fsdd_recordings.tar.gz",
                f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{_FSDD_COMMIT}.tar.gz",
                "fee8138a9de48c1a6bd517821950efa19772f4ef811b8a78208896d008de0ec5",
            ),
        ),
        tree_source=TreeSource(
            url=f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{_FSDD_COMMIT}.tar.gz",
            members=_fsdd_member,
            list_sha256="1801eae019c063377d98f831d3f93574f259475df7332bb0e3d1b080fb5e6959",
        ),
    )
)
_register(
    Dataset(
        name="movielens_small",
        title="MovieLens latest-small (2018-09): 100,836 ratings of 9,742 movies by 610 users",
        licence="GroupLens terms: research use, no commercial use; cite Harper & Konstan (2015)",
        citation="Harper & Konstan (2015), The MovieLens Datasets, ACM TiiS 5(4)",
        files=tuple(
            DataFile(
                f"movielens/ml-latest-small/{name}",
                "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
                sha,
            )
            for name, sha in [
                ("ratings.csv", "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646"),
                ("movies.csv", "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07"),
                ("links.csv", "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31"),
                ("tags.csv", "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d"),
                ("README.txt", "b394074d9f76e4e3a2f2b3a7a138df9ce2f566290e8be1b3c2db66f4061df899"),
            ]
        ),
        notes="Online, the files come out of the official zip, each verified by its own hash.",
    )
)
_TIMESERIES = {
    "monthly-sunspots.csv": "c4ec8cc57d9f6fb6ecdb3e1f37f25b6f4badd5124c55931052b0cd2fc3bc71f3",
    "daily-min-temperatures.csv": "8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da",
    "airline-passengers.csv": "8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621",
}
_register(
    Dataset(
        name="timeseries",
        title="Classic time series: monthly sunspots 1749–1983, Melbourne daily minimum temperatures "
        "1981–1990, monthly airline passengers 1949–1960",
        licence="classic public time series; cite the source in the chapter",
        citation="Brownlee, Datasets collection (github.com/jbrownlee/Datasets)",
        files=_files(_BROWNLEE, "timeseries", _TIMESERIES.items()),
    )
)


# ---------------------------------------------------------------------------------------------
# Cache and fetching
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The folder the registry reads from and downloads into: ``$DLBOOK_DATA`` or ``~/.cache/dlbook``."""
    env = os.environ.get("DLBOOK_DATA", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dlbook"


def offline() -> bool:
    """True when ``DLBOOK_OFFLINE`` is set to 1/true/yes: never try the network."""
    return os.environ.get("DLBOOK_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def list_datasets() -> list[str]:
    return sorted(REGISTRY)


def dataset(name: str) -> Dataset:
    """Look a dataset up by name; an unknown name lists the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}. Known datasets: {', '.join(list_datasets())}."
        ) from None


def describe(name: str) -> str:
    """A short human-readable description: title, licence, citation, files and their sources."""
    ds = dataset(name)
    lines = [ds.title, f"licence: {ds.licence}", f"cite: {ds.citation}"]
    for f in ds.files:
        lines.append(f"  {f.path}  (sha256 {f.sha256[:12]}…)  from {f.url}")
    if ds.notes:
        lines.append(ds.notes)
    return "\n".join(lines)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _how_to_provide(rel: str, root: Path) -> str:
    return (
        f"To provide it: connect to the internet and run again (unset DLBOOK_OFFLINE), or copy the file to "
        f"{root / rel}, or set DLBOOK_DATA to a writable folder that holds '{rel}' "
        "(for example a copy of the book's offline data folder)."
    )


def _download(url: str, dest: Path, *, timeout: float, progress: bool) -> None:
    """Download ``url`` to ``dest`` (a temporary path) with a timeout and an optional progress bar."""
    request = urllib.request.Request(url, headers={"User-Agent": "dlbook-utils"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {Path(url).name}")
            except ImportError:  # pragma: no cover
                bar = None
        try:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()


def fetch_file(
    file: DataFile,
    root: Path | None = None,
    *,
    allow_download: bool | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    progress: bool = True,
    extract_from_zip: str | None = None,
) -> Path:
    """Return the verified local path of ``file``, downloading it into the cache if needed.

    A cached file with the wrong hash is moved aside (``<name>.corrupt``) and never used.
    ``extract_from_zip`` names a member to take out of the downloaded archive at ``file.url``
    (MovieLens publishes one zip for several files).
    """
    root = cache_dir() if root is None else Path(root)
    allow_download = (not offline()) if allow_download is None else allow_download
    target = root / file.path
    problems: list[str] = []
    if target.exists():
        actual = sha256_of(target)
        if actual == file.sha256:
            return target
        corrupt = target.with_name(target.name + ".corrupt")
        try:
            target.replace(corrupt)
            where = f"moved aside to {corrupt}"
        except OSError:
            where = "left in place (the cache folder is not writable) and ignored"
        problems.append(
            f"{target} has sha256 {actual}, expected {file.sha256}: the file is damaged or a different "
            f"version; it was {where}"
        )
    else:
        problems.append(f"{target} does not exist")

    if not allow_download:
        reason = "downloading is switched off (DLBOOK_OFFLINE=1)" if offline() else "downloading was not allowed"
        raise DataNotFoundError(
            f"Data file '{file.path}' is not available. Looked in the cache folder {root} "
            f"(DLBOOK_DATA={os.environ.get('DLBOOK_DATA', '<unset>')}): {'; '.join(problems)}; {reason}. "
            + _how_to_provide(file.path, root)
        )

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            _download(file.url, tmp, timeout=timeout, progress=progress)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise DataNotFoundError(
                f"Data file '{file.path}' is not available. Looked in the cache folder {root}: "
                f"{'; '.join(problems)}. Downloading {file.url} failed: {exc}. " + _how_to_provide(file.path, root)
            ) from exc
        if extract_from_zip is not None:
            with zipfile.ZipFile(tmp) as zf:
                payload = zf.read(extract_from_zip)
            tmp.write_bytes(payload)
        actual = sha256_of(tmp)
        if actual != file.sha256:
            raise ChecksumError(
                f"Downloaded {file.url} for '{file.path}' but its sha256 is {actual}, expected {file.sha256}. "
                "The file was discarded; the source may have changed or the download was damaged."
            )
        tmp.replace(target)
        return target
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch(name: str, *, root: Path | None = None, allow_download: bool | None = None) -> list[Path]:
    """Make sure every file of dataset ``name`` is in the cache and verified; return their paths."""
    ds = dataset(name)
    root = cache_dir() if root is None else Path(root)
    if ds.tree_source is not None:
        return [_fetch_tree_dataset(ds, root, allow_download)]
    paths = []
    for f in ds.files:
        member = None
        if f.url.endswith(".zip") and not f.path.endswith(".zip"):
            member = f.url.rsplit("/", 1)[1][: -len(".zip")] + "/" + f.path.rsplit("/", 1)[1]
        paths.append(fetch_file(f, root, allow_download=allow_download, extract_from_zip=member))
    return paths


def tree_listing(files: dict[str, bytes | Path]) -> bytes:
    """The ``"<sha256>  <path>"`` list, sorted by path, that a :class:`TreeSource` digest covers."""
    lines = []
    for path in sorted(files):
        content = files[path]
        digest = hashlib.sha256(content).hexdigest() if isinstance(content, bytes) else sha256_of(content)
        lines.append(f"{digest}  {path}\n")
    return "".join(lines).encode()


def verify_tree_archive(archive: Path, source: TreeSource) -> None:
    """Check that the files ``source.members`` selects from ``archive`` match the published digest."""
    files: dict[str, bytes] = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            listed = source.members(member.name)
            if listed is None:
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            files[listed] = handle.read()
    actual = hashlib.sha256(tree_listing(files)).hexdigest()
    if actual != source.list_sha256:
        raise ChecksumError(
            f"The files in {archive.name} do not match the published checksum list "
            f"(digest {actual}, expected {source.list_sha256}); the archive was discarded."
        )


def _fetch_tree_dataset(ds: Dataset, root: Path, allow_download: bool | None) -> Path:
    """The cached archive if present and verified; else the upstream archive, verified by its tree.

    An upstream archive that passed :func:`verify_tree_archive` is kept as ``*.upstream.tar.gz``
    beside a ``.sha256`` note of its bytes, so later runs re-check it with one hash.
    """
    cached = ds.files[0]
    source = ds.tree_source
    assert source is not None
    target = root / cached.path
    upstream = target.with_name(target.name.replace(".tar.gz", ".upstream.tar.gz"))
    note = upstream.with_name(upstream.name + ".sha256")
    allow = (not offline()) if allow_download is None else allow_download
    if not target.exists() and upstream.exists() and note.exists():
        if sha256_of(upstream) == note.read_text().strip():
            return upstream
    if target.exists() or not allow:
        return fetch_file(cached, root, allow_download=allow)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            _download(source.url, tmp, timeout=DOWNLOAD_TIMEOUT_S, progress=True)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise DataNotFoundError(
                f"Data file '{cached.path}' is not available. Looked in the cache folder {root}: "
                f"{target} does not exist. Downloading {source.url} failed: {exc}. "
                + _how_to_provide(cached.path, root)
            ) from exc
        verify_tree_archive(tmp, source)
        note.write_text(sha256_of(tmp) + "\n")
        tmp.replace(upstream)
        return upstream
    finally:
        if tmp.exists():
            tmp.unlink()


def data_path(name: str) -> Path:
    """The single verified file of a one-file dataset."""
    paths = fetch(name)
    if len(paths) != 1:
        raise ValueError(f"{name} has {len(paths)} files; use fetch({name!r}) instead")
    return paths[0]


# ---------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file, the format of MNIST and Fashion-MNIST, into a NumPy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but holds {data.size} values")
    return data.reshape(dims)


def subsample(
    x: np.ndarray, y: np.ndarray, n: int | None, *, seed: int = 0, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Take ``n`` examples of ``(x, y)``, keeping class proportions (``n=None`` keeps all).

    Quick mode uses this to run on *less of the real data*, never on different data.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    if n is None or n >= len(x):
        return x, y
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    if not stratify:
        idx = np.sort(rng.choice(len(x), size=n, replace=False))
        return x[idx], y[idx]
    classes, counts = np.unique(y, return_counts=True)
    quota = np.floor(counts / counts.sum() * n).astype(int)
    quota[np.argsort(-(counts / counts.sum() * n - quota))[: n - quota.sum()]] += 1
    picked = [rng.choice(np.flatnonzero(y == c), size=q, replace=False) for c, q in zip(classes, quota)]
    idx = rng.permutation(np.concatenate(picked))
    return x[idx], y[idx]


def _load_idx_pair(name: str, n_train: int | None, n_test: int | None, seed: int):
    paths = {p.name: p for p in fetch(name)}
    x_train = read_idx(paths["train-images-idx3-ubyte.gz"])
    y_train = read_idx(paths["train-labels-idx1-ubyte.gz"])
    x_test = read_idx(paths["t10k-images-idx3-ubyte.gz"])
    y_test = read_idx(paths["t10k-labels-idx1-ubyte.gz"])
    return subsample(x_train, y_train, n_train, seed=seed), subsample(x_test, y_test, n_test, seed=seed + 1)


def load_fashion_mnist(n_train: int | None = None, n_test: int | None = None, *, seed: int = 0):
    """Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays (28×28 images, labels 0–9).

    ``n_train``/``n_test`` take a class-balanced subset of the real data (for quick mode).
    Class names are in :data:`FASHION_MNIST_CLASSES`.
    """
    return _load_idx_pair("fashion_mnist", n_train, n_test, seed)


def as_images(x: np.ndarray) -> np.ndarray:
    """uint8 images of shape ``(n, 28, 28)`` as the float32 ``(n, 28, 28, 1)`` tensors a ``Conv2D`` takes, with
    pixel values in [0, 1] (the channel axis last, as Keras expects)."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"as_images expects a stack of 2-D grey images (n, height, width), got shape {x.shape}")
    return x[..., None].astype("float32") / 255.0


def load_mnist(n_train: int | None = None, n_test: int | None = None, *, seed: int = 0):
    """MNIST as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays, like :func:`load_fashion_mnist`."""
    return _load_idx_pair("mnist", n_train, n_test, seed)


def load_tiny_shakespeare() -> str:
    """The whole tiny-Shakespeare text (about 1.1 million characters)."""
    return data_path("tiny_shakespeare").read_text(encoding="utf-8")


SHAKESPEARE_TRAIN_FRACTION = 0.9
"""The share of tiny Shakespeare's characters that language models train on; the rest is validation text."""


def tiny_shakespeare_split(text: str | None = None) -> tuple[str, str]:
    """Tiny Shakespeare as ``(train, validation)``: the first 90% of the characters and the last 10%.

    It is the split of nanoGPT's character-level Shakespeare model, so validation losses compare with its
    published ones. Every language model of the book (the n-grams of chapter 16, the GPTs of chapter 17 and
    later) is scored on the same validation text, in nats per character. ``text`` defaults to
    :func:`load_tiny_shakespeare`.
    """
    text = load_tiny_shakespeare() if text is None else text
    if not text:
        raise ValueError("tiny_shakespeare_split needs a non-empty text")
    cut = int(len(text) * SHAKESPEARE_TRAIN_FRACTION)
    return text[:cut], text[cut:]


def _read_tar_texts(archive: Path, select: Callable[[str], str | None]) -> dict[str, str]:
    out: dict[str, str] = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if member.isfile():
                key = select(member.name)
                if key is not None:
                    handle = tar.extractfile(member)
                    assert handle is not None
                    out[key] = handle.read().decode("utf-8", errors="replace")
    return out


def load_imdb(split: str = "train") -> tuple[list[str], np.ndarray]:
    """IMDB reviews of one split (``"train"`` or ``"test"``): texts and labels (1 = positive).

    Reviews come in a fixed order (sorted by file name within each class); shuffle before training. The archive
    is read once per process for both splits (decompressing it is most of the cost), so loading the second split
    is immediate.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    archive = fetch("imdb")[0]
    stat = archive.stat()
    texts = _imdb_texts(str(archive), stat.st_size, stat.st_mtime_ns)[split]
    keys = sorted(texts)
    labels = np.array([1 if k.startswith("pos/") else 0 for k in keys], dtype=np.int64)
    return [texts[k] for k in keys], labels


@functools.lru_cache(maxsize=1)
def _imdb_texts(archive: str, size: int, mtime_ns: int) -> dict[str, dict[str, str]]:
    """Both labelled splits of the IMDB archive in one pass: {split: {"pos/<file>": text, ...}}.

    ``size`` and ``mtime_ns`` are part of the cache key, so a replaced archive is read again.
    """
    def select(name: str) -> str | None:
        parts = name.split("/")
        labelled = len(parts) == 4 and parts[1] in ("train", "test") and parts[2] in ("pos", "neg")
        if labelled and parts[3].endswith(".txt"):
            return f"{parts[1]}/{parts[2]}/{parts[3]}"
        return None

    splits: dict[str, dict[str, str]] = {"train": {}, "test": {}}
    for key, text in _read_tar_texts(Path(archive), select).items():
        split, rest = key.split("/", 1)
        splits[split][rest] = text
    return splits


def load_review_polarity() -> tuple[list[str], np.ndarray]:
    """Pang & Lee's 2,000 movie reviews: texts and labels (1 = positive)."""
    archive = data_path("review_polarity")

    def select(name: str) -> str | None:
        parts = name.split("/")
        if len(parts) >= 3 and parts[-2] in ("pos", "neg") and parts[-1].endswith(".txt"):
            return f"{parts[-2]}/{parts[-1]}"
        return None

    texts = _read_tar_texts(archive, select)
    keys = sorted(texts)
    return [texts[k] for k in keys], np.array([1 if k.startswith("pos/") else 0 for k in keys])


def nltk_data_dir(corpora: Sequence[str] = ("treebank", "conll2000")) -> Path:
    """Verify the named NLTK corpora in the cache and return the folder to give ``NLTK_DATA``."""
    for corpus in corpora:
        fetch(f"nltk_{corpus}")
    return cache_dir() / "nltk_data"


def load_fsdd() -> tuple[list[np.ndarray], np.ndarray, list[str], int]:
    """Free Spoken Digit Dataset: waveforms (float32 in [-1, 1]), digit labels, speakers, sample rate."""
    import wave

    archive = fetch("fsdd")[0]
    waves: list[np.ndarray] = []
    digits: list[int] = []
    speakers: list[str] = []
    rate = 0
    with tarfile.open(archive, "r:*") as tar:
        members = sorted((m for m in tar if m.isfile() and m.name.endswith(".wav")), key=lambda m: m.name)
        for member in members:
            handle = tar.extractfile(member)
            assert handle is not None
            with wave.open(io.BytesIO(handle.read())) as w:
                rate = w.getframerate()
                width = w.getsampwidth()
                frames = w.readframes(w.getnframes())
            dtype = {1: np.uint8, 2: np.int16}[width]
            signal = np.frombuffer(frames, dtype=dtype).astype(np.float32)
            signal = (signal - 128) / 128 if width == 1 else signal / 32768
            digit, speaker, _ = Path(member.name).stem.split("_")
            waves.append(signal)
            digits.append(int(digit))
            speakers.append(speaker)
    return waves, np.array(digits), speakers, rate


def load_movielens_ratings() -> np.ndarray:
    """MovieLens latest-small ratings as a structured array (userId, movieId, rating, timestamp)."""
    paths = {p.name: p for p in fetch("movielens_small")}
    return np.genfromtxt(
        paths["ratings.csv"],
        delimiter=",",
        names=True,
        dtype=[("userId", "i4"), ("movieId", "i4"), ("rating", "f4"), ("timestamp", "i8")],
    )


def load_movielens_movies() -> dict[int, tuple[str, str]]:
    """MovieLens latest-small movies: ``{movieId: (title, genres)}``."""
    import csv

    paths = {p.name: p for p in fetch("movielens_small")}
    with open(paths["movies.csv"], newline="", encoding="utf-8") as fh:
        return {int(r["movieId"]): (r["title"], r["genres"]) for r in csv.DictReader(fh)}


def load_timeseries(name: str) -> tuple[list[str], np.ndarray]:
    """One of the classic series (file stem, e.g. ``"monthly-sunspots"``): dates and float values."""
    import csv

    files = {Path(f.path).stem: f for f in dataset("timeseries").files}
    if name not in files:
        raise UnknownDatasetError(f"Unknown time series {name!r}. Known: {', '.join(sorted(files))}.")
    path = fetch_file(files[name])
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    body = rows[1:]
    return [r[0] for r in body], np.array([float(r[1]) for r in body], dtype=np.float64)


def registry_markdown() -> str:
    """The registry as a Markdown table (kept in ``data/README.md``; a test checks they agree)."""
    rows = ["| dataset | what | files (cache path) | licence |", "|---|---|---|---|"]
    for name in list_datasets():
        ds = REGISTRY[name]
        files = "<br>".join(f"`{f.path}`" for f in ds.files)
        rows.append(f"| `{name}` | {ds.title} | {files} | {ds.licence} |")
    return "\n".join(rows) + "\n"


def prepare_cache_from(folder: Path, root: Path | None = None) -> Path:
    """Copy an offline data folder (such as the book's shared copy) into a writable cache folder."""
    root = cache_dir() if root is None else Path(root)
    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder} is not a folder")
    for src in folder.rglob("*"):
        if src.is_file():
            dest = root / src.relative_to(folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                shutil.copyfile(src, dest)
    return root


if __name__ == "__main__":  # pragma: no cover - a small command line
    import argparse

    parser = argparse.ArgumentParser(description="The book's data registry")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the datasets")
    fetch_cmd = sub.add_parser("fetch", help="download and verify datasets into the cache")
    fetch_cmd.add_argument("names", nargs="*", help="datasets (default: all)")
    args = parser.parse_args()
    if args.cmd == "list":
        for n in list_datasets():
            print(f"{n:20s} {dataset(n).title}")
    else:
        for n in args.names or list_datasets():
            try:
                for p in fetch(n):
                    print(f"ok  {n}: {p}")
            except DataError as exc:
                print(f"ERR {n}: {exc}", file=sys.stderr)
                sys.exit(1)

"""The data registry: real download code against a local HTTP server, the cache, and every loader."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dlbook_utils import data
from dlbook_utils.data import (
    ChecksumError,
    DataFile,
    DataNotFoundError,
    Dataset,
    TreeSource,
    UnknownDatasetError,
)


class _Server:
    """Serves a folder on 127.0.0.1, counting requests; paths under /slow/ answer after a delay."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                outer.requests.append(self.path)
                if self.path.startswith("/slow/"):
                    time.sleep(2.0)
                    self.path = self.path[len("/slow") :]
                return super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    server = _Server(folder)
    yield folder, server
    server.close()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_download_verifies_and_caches(served, tmp_path):
    folder, server = served
    payload = b"hello, tensors\n" * 1000
    (folder / "file.txt").write_bytes(payload)
    f = DataFile("text/file.txt", server.url("file.txt"), _sha(payload))
    cache = tmp_path / "cache"
    path = data.fetch_file(f, cache, allow_download=True, progress=False)
    assert path == cache / "text/file.txt" and path.read_bytes() == payload
    again = data.fetch_file(f, cache, allow_download=True, progress=False)
    assert again == path and len(server.requests) == 1, "a verified cached file must not be downloaded again"
    assert not list(path.parent.glob(".download-*")), "no temporary files are left behind"


def test_corrupt_cache_file_is_moved_aside_and_replaced(served, tmp_path):
    folder, server = served
    payload = b"the right bytes"
    (folder / "f.bin").write_bytes(payload)
    f = DataFile("f.bin", server.url("f.bin"), _sha(payload))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.bin").write_bytes(b"the wrong bytes")
    path = data.fetch_file(f, cache, allow_download=True, progress=False)
    assert path.read_bytes() == payload
    assert (cache / "f.bin.corrupt").read_bytes() == b"the wrong bytes"


def test_corrupt_cache_file_offline_is_never_used(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.bin").write_bytes(b"tampered")
    f = DataFile("f.bin", "http://127.0.0.1:9/f.bin", _sha(b"original"))
    with pytest.raises(DataNotFoundError) as err:
        data.fetch_file(f, cache, allow_download=False)
    assert "sha256" in str(err.value) and "expected" in str(err.value)
    assert not (cache / "f.bin").exists()


def test_download_with_wrong_hash_is_discarded(served, tmp_path):
    folder, server = served
    (folder / "f.bin").write_bytes(b"changed upstream")
    f = DataFile("f.bin", server.url("f.bin"), _sha(b"what we expect"))
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="discarded"):
        data.fetch_file(f, cache, allow_download=True, progress=False)
    assert not (cache / "f.bin").exists()
    assert not list(cache.glob(".download-*"))


def test_missing_file_offline_names_file_places_and_remedy(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "nowhere"))
    f = DataFile("text/tinyshakespeare.txt", "http://127.0.0.1:9/x", "0" * 64)
    with pytest.raises(DataNotFoundError) as err:
        data.fetch_file(f)
    msg = str(err.value)
    assert "text/tinyshakespeare.txt" in msg
    assert str(tmp_path / "nowhere") in msg
    assert "DLBOOK_OFFLINE" in msg and "DLBOOK_DATA" in msg and "copy the file" in msg


def test_http_error_is_reported_with_the_url(served, tmp_path):
    _, server = served
    f = DataFile("missing.bin", server.url("missing.bin"), "0" * 64)
    with pytest.raises(DataNotFoundError) as err:
        data.fetch_file(f, tmp_path, allow_download=True, progress=False)
    assert server.url("missing.bin") in str(err.value) and "404" in str(err.value)


def test_download_times_out(served, tmp_path):
    folder, server = served
    (folder / "f.bin").write_bytes(b"late")
    f = DataFile("f.bin", server.url("slow/f.bin"), _sha(b"late"))
    # The server answers only after 2 s, so a download that ignored its 0.3 s timeout would succeed instead.
    with pytest.raises(DataNotFoundError, match="timed out"):
        data.fetch_file(f, tmp_path, allow_download=True, timeout=0.3, progress=False)
    assert not (tmp_path / "f.bin").exists()


def test_zip_member_download(served, tmp_path):
    folder, server = served
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pack/ratings.csv", "userId,movieId\n1,2\n")
        zf.writestr("pack/other.csv", "x\n")
    (folder / "pack.zip").write_bytes(buf.getvalue())
    f = DataFile("ml/ratings.csv", server.url("pack.zip"), _sha(b"userId,movieId\n1,2\n"))
    path = data.fetch_file(f, tmp_path, allow_download=True, progress=False, extract_from_zip="pack/ratings.csv")
    assert path.read_text() == "userId,movieId\n1,2\n"


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_tree_source_download_is_verified_file_by_file(served, tmp_path):
    folder, server = served
    upstream = {"top/keep/a.txt": b"alpha", "top/keep/b.txt": b"beta", "top/skip/c.feat": b"ignored"}
    (folder / "up.tar.gz").write_bytes(_tar(upstream))
    members = lambda name: name if "/keep/" in name else None  # noqa: E731
    listing = data.tree_listing({"top/keep/a.txt": b"alpha", "top/keep/b.txt": b"beta"})
    assert listing.decode().splitlines()[0].endswith("  top/keep/a.txt")
    ds = Dataset(
        name="toy", title="toy", licence="none", citation="none",
        files=(DataFile("toy/toy.tar.gz", server.url("repack.tar.gz"), "0" * 64),),
        tree_source=TreeSource(server.url("up.tar.gz"), members, _sha(listing)),
    )
    path = data._fetch_tree_dataset(ds, tmp_path, allow_download=True)
    assert path.name == "toy.upstream.tar.gz" and path.exists()
    assert data._fetch_tree_dataset(ds, tmp_path, allow_download=False) == path  # reused, no download
    assert len(server.requests) == 1

    # A tampered upstream archive is refused and nothing is cached.
    (folder / "up.tar.gz").write_bytes(_tar({**upstream, "top/keep/b.txt": b"BETA"}))
    bad_root = tmp_path / "other"
    with pytest.raises(ChecksumError, match="checksum list"):
        data._fetch_tree_dataset(ds, bad_root, allow_download=True)
    assert not list((bad_root / "toy").glob("*.tar.gz"))


def test_registry_lists_known_datasets_and_rejects_unknown_ones():
    names = data.list_datasets()
    for expected in ["fashion_mnist", "mnist", "tiny_shakespeare", "imdb", "fsdd", "movielens_small",
                     "nltk_treebank", "nltk_conll2000", "review_polarity", "timeseries"]:
        assert expected in names
    with pytest.raises(UnknownDatasetError) as err:
        data.fetch("fashion-mnist")
    assert "fashion_mnist" in str(err.value) and "Known datasets" in str(err.value)
    assert "MIT" in data.describe("fashion_mnist")


def test_every_registry_entry_has_source_hash_and_licence():
    for name in data.list_datasets():
        ds = data.dataset(name)
        assert ds.licence and ds.citation and ds.files
        for f in ds.files:
            assert f.url.startswith("https://"), f
            assert len(f.sha256) == 64


def test_registry_matches_the_offline_manifest():
    """Every file listed in the offline copy's SHA256SUMS is in the registry with the same hash."""
    sums = data.cache_dir() / "SHA256SUMS"
    if not sums.exists():
        pytest.fail(f"{sums} is missing: point DLBOOK_DATA at a copy of the book's offline data folder")
    registered = {f.path: f.sha256 for ds in data.REGISTRY.values() for f in ds.files}
    listed = dict(line.split()[::-1] for line in sums.read_text().splitlines() if line.strip())
    for path, sha in listed.items():
        if path.endswith(("README.md",)) and path.startswith("fsdd/"):
            continue  # the FSDD README is documentation, not data
        assert registered.get(path) == sha, path


def test_data_readme_lists_the_registry():
    readme = (Path(__file__).resolve().parents[2] / "data" / "README.md").read_text()
    assert data.registry_markdown() in readme, "regenerate data/README.md from data.registry_markdown()"


def test_bad_data_file_hash_is_rejected_at_definition():
    with pytest.raises(ValueError):
        DataFile("x", "https://example.org/x", "abc")


# --- parsing and subsampling -------------------------------------------------------------------


def test_read_idx_roundtrip_and_bad_header(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    (tmp_path / "ok.gz").write_bytes(gzip.compress(header + arr.tobytes()))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "ok.gz"), arr)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="IDX"):
        data.read_idx(tmp_path / "bad")
    (tmp_path / "short.gz").write_bytes(gzip.compress(header + arr.tobytes()[:-1]))
    with pytest.raises(ValueError, match="header"):
        data.read_idx(tmp_path / "short.gz")


def test_subsample_keeps_class_balance_and_is_deterministic():
    y = np.repeat(np.arange(4), [100, 200, 300, 400])
    x = np.arange(len(y))
    xs, ys = data.subsample(x, y, 100, seed=1)
    assert len(xs) == 100 and np.array_equal(np.bincount(ys), [10, 20, 30, 40])
    np.testing.assert_array_equal(y[xs], ys)  # rows stay paired
    np.testing.assert_array_equal(data.subsample(x, y, 100, seed=1)[0], xs)
    assert data.subsample(x, y, None)[0] is x
    with pytest.raises(ValueError):
        data.subsample(x, y[:-1], 10)
    with pytest.raises(ValueError):
        data.subsample(x, y, 0)


# --- the real loaders, on the real (cached) data ------------------------------------------------


def test_load_fashion_mnist_and_mnist():
    (x, y), (xt, yt) = data.load_fashion_mnist()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.array_equal(np.bincount(y), [6000] * 10)
    (xs, ys), (xts, yts) = data.load_fashion_mnist(n_train=500, n_test=100)
    assert xs.shape == (500, 28, 28) and np.array_equal(np.bincount(ys), [50] * 10)
    (m, my), _ = data.load_mnist()
    assert m.shape == (60000, 28, 28) and set(np.unique(my)) == set(range(10))
    assert len(data.FASHION_MNIST_CLASSES) == 10


def test_load_text_datasets():
    text = data.load_tiny_shakespeare()
    assert len(text) == 1115394 and text.startswith("First Citizen")
    reviews, labels = data.load_review_polarity()
    assert len(reviews) == 2000 and labels.sum() == 1000


def test_tiny_shakespeare_split_is_nanogpts_ninety_ten_cut():
    train, val = data.tiny_shakespeare_split()
    assert len(train) == 1003854 and len(val) == 111540          # nanoGPT's shakespeare_char sizes
    assert train + val == data.load_tiny_shakespeare()
    assert data.tiny_shakespeare_split("abcdefghij") == ("abcdefghi", "j")
    with pytest.raises(ValueError):
        data.tiny_shakespeare_split("")


def test_load_imdb():
    texts, labels = data.load_imdb("test")
    assert len(texts) == 25000 and labels.sum() == 12500 and all(isinstance(t, str) for t in texts[:5])
    with pytest.raises(ValueError):
        data.load_imdb("unsup")


def test_load_imdb_reads_the_archive_once_for_both_splits(monkeypatch):
    data._imdb_texts.cache_clear()
    reads = []
    real = data._read_tar_texts
    monkeypatch.setattr(data, "_read_tar_texts", lambda archive, select: reads.append(archive) or real(archive, select))
    train_texts, train_labels = data.load_imdb("train")
    test_texts, test_labels = data.load_imdb("test")
    assert len(reads) == 1
    assert len(train_texts) == len(test_texts) == 25000 and train_labels.sum() == test_labels.sum() == 12500
    assert train_texts[0] != test_texts[0] and train_labels[0] == 0 and train_labels[-1] == 1   # neg/ sorts first
    data._imdb_texts.cache_clear()


def test_load_fsdd_movielens_timeseries_nltk():
    waves, digits, speakers, rate = data.load_fsdd()
    assert len(waves) == 3000 and rate == 8000 and len(set(speakers)) == 6
    assert np.array_equal(np.bincount(digits), [300] * 10)
    assert all(np.abs(w).max() <= 1.0 for w in waves[:20])
    ratings = data.load_movielens_ratings()
    assert len(ratings) == 100836 and ratings["rating"].max() == 5.0
    assert len(data.load_movielens_movies()) == 9742
    dates, values = data.load_timeseries("monthly-sunspots")
    assert len(values) == 2820 and dates[0].startswith("1749")
    with pytest.raises(UnknownDatasetError):
        data.load_timeseries("sunspots")
    assert (data.nltk_data_dir() / "corpora" / "treebank.zip").exists()


def test_as_images_adds_the_channel_axis_and_scales_to_unit_range():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    images = data.as_images(x)
    assert images.shape == (1, 2, 2, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images[0, :, :, 0], [[0.0, 1.0], [0.2, 0.4]])
    with pytest.raises(ValueError, match="stack of 2-D grey images"):
        data.as_images(x[0])

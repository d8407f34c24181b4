"""CIFAR's official download, for real: the loader's own download code against an HTTP server on 127.0.0.1
serving a generated binary-version archive (good, missing, cut off mid-transfer, bit-flipped, a member that is not
the official one), the mirror list pointed there through TINYCNN_CIFAR_MIRRORS. No traffic leaves this machine."""
import os

import numpy as np
import pytest

from tinycnn.data import last_source, load_cifar10, load_cifar100

from .cifar_helpers import expected, fake_split, files_of, register, tarball
from .test_download import Server


@pytest.fixture
def server(tmp_path, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    for var in ("TINYCNN_DATA", "TINYCNN_NO_MIRRORS"):
        monkeypatch.delenv(var, raising=False)
    s = Server()
    yield s
    s.close()


def official_archive(monkeypatch, key="cifar10", seed=0):
    """A generated binary archive with both splits, registered (archive and members): (train parts, test parts,
    archive name, bytes)."""
    train, test = fake_split(key, "train", seed), fake_split(key, "test", seed)
    files = files_of(key, "binary", {**train, **test})
    folder, name = ("cifar-10-batches-bin", "cifar-10-binary.tar.gz") if key == "cifar10" else \
        ("cifar-100-binary", "cifar-100-binary.tar.gz")
    archive = tarball(folder, files)
    register(monkeypatch, key, {**files, name: archive})
    return train, test, name, archive


def point(monkeypatch, server, *folders):
    monkeypatch.setenv("TINYCNN_CIFAR_MIRRORS", " ".join(f"{server.url}/{f}/" for f in folders))


def cache_files(tmp_path):
    folder = tmp_path / "cache"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_download_verified_cached_and_then_read_from_the_cache(server, monkeypatch, tmp_path):
    train, test, name, archive = official_archive(monkeypatch)
    server.routes[f"/good/{name}"] = ("ok", archive)
    point(monkeypatch, server, "down", "good")  # the first mirror 404s
    x, y = load_cifar10("test", verbose=False)
    np.testing.assert_array_equal(x, expected(test)[0])
    np.testing.assert_array_equal(y, expected(test)[1])
    assert last_source().kind == "mirror" and "/good/" in last_source().location
    assert cache_files(tmp_path) == ["cifar10-test.npz", "cifar10-test.npz.sha256", "cifar10-train.npz",
                                     "cifar10-train.npz.sha256"]  # one download serves both splits
    requests = len(server.requests)
    x, y = load_cifar10("train", verbose=False)
    np.testing.assert_array_equal(x, expected(train)[0])
    assert last_source().kind == "cache" and len(server.requests) == requests


def test_cifar100_download(server, monkeypatch):
    _, test, name, archive = official_archive(monkeypatch, "cifar100")
    server.routes[f"/m/{name}"] = ("ok", archive)
    point(monkeypatch, server, "m")
    _, fine = load_cifar100("test", verbose=False)
    np.testing.assert_array_equal(fine, expected(test, field=1)[1])


def test_transfer_cut_off_moves_on_to_the_next_mirror(server, monkeypatch):
    _, test, name, archive = official_archive(monkeypatch)
    server.routes[f"/cut/{name}"] = ("cut", archive)
    server.routes[f"/good/{name}"] = ("ok", archive)
    point(monkeypatch, server, "cut", "good")
    x, _ = load_cifar10("test", verbose=False)
    np.testing.assert_array_equal(x, expected(test)[0])
    assert "/good/" in last_source().location


def test_every_mirror_failing_lists_each(server, monkeypatch, tmp_path):
    _, _, name, archive = official_archive(monkeypatch)
    server.routes[f"/cut/{name}"] = ("cut", archive)
    point(monkeypatch, server, "cut", "down")
    with pytest.raises(RuntimeError) as err:
        load_cifar10("test", verbose=False)
    message = str(err.value)
    assert f"{server.url}/cut/" in message and f"{server.url}/down/" in message and "cifar.html" in message
    assert cache_files(tmp_path) == []


@pytest.mark.parametrize("fault", ["bit flip", "truncated"])
def test_a_bad_archive_is_refused_naming_it_and_never_cached(server, monkeypatch, tmp_path, fault):
    _, _, name, archive = official_archive(monkeypatch)
    data = bytearray(archive)
    if fault == "bit flip":
        data[len(data) // 2] ^= 0x10
    else:
        data = data[:-40]  # served whole, under its own (shorter) Content-Length
    server.routes[f"/bad/{name}"] = ("ok", bytes(data))
    point(monkeypatch, server, "bad")
    with pytest.raises(ValueError) as err:
        load_cifar10("test", verbose=False)
    assert f"{server.url}/bad/{name}" in str(err.value) and "md5 mismatch" in str(err.value)
    assert cache_files(tmp_path) == []


def test_an_archive_with_a_wrong_member_is_refused(server, monkeypatch, tmp_path):
    """The archive's md5 is right (as registered) but one member is not the official file: refused by name."""
    train, test, name, _ = official_archive(monkeypatch)
    files = files_of("cifar10", "binary", {**train, **test})
    files["test_batch.bin"] = bytes(len(files["test_batch.bin"]))  # all zeros: right size, wrong content
    archive = tarball("cifar-10-batches-bin", files)
    register(monkeypatch, "cifar10", {name: archive})
    server.routes[f"/m/{name}"] = ("ok", archive)
    point(monkeypatch, server, "m")
    with pytest.raises(ValueError) as err:
        load_cifar10("train", verbose=False)
    assert "test_batch.bin" in str(err.value) and "md5 mismatch" in str(err.value)
    assert cache_files(tmp_path) == []


def test_no_mirrors_and_download_false_skip_the_download(server, monkeypatch):
    _, _, name, archive = official_archive(monkeypatch)
    server.routes[f"/m/{name}"] = ("ok", archive)
    point(monkeypatch, server, "m")
    with pytest.raises(RuntimeError, match="download=False"):
        load_cifar10("test", verbose=False, download=False)
    monkeypatch.setenv("TINYCNN_NO_MIRRORS", "1")
    with pytest.raises(RuntimeError, match="TINYCNN_NO_MIRRORS"):
        load_cifar10("test", verbose=False)
    assert server.requests == []

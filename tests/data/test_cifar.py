"""CIFAR-10 / CIFAR-100 from a folder: every published form (binary and python folders, their files directly, the
archives), the order of preference, checksums before parsing, verify=False, malformed files, the restricted
unpickler, safe archive reading, the cache, and the Dataset classes. Files are generated in the official layouts
(cifar_helpers); the download is tested against a local server in test_cifar_download.py."""
import io
import os
import pickle
import socket
import tarfile
import warnings

import numpy as np
import pytest

from tinycnn.data import CIFAR10, CIFAR100, last_source, load_cifar10, load_cifar100, load_dataset, sources

from .cifar_helpers import expected, fake_split, files_of, layout, py2_pickle, register, tarball, write


def no_network(url, timeout=None):
    raise socket.timeout(f"timed out ({url})")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No network, a private cache, no TINYCNN_DATA."""
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    for var in ("TINYCNN_DATA", "TINYCNN_NO_MIRRORS", "TINYCNN_CIFAR_MIRRORS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sources.urllib.request, "urlopen", no_network)
    return tmp_path


def official(monkeypatch, key, kind, split, seed=0):
    """Generated files of one split in one form, registered as official: (parts, {name: bytes})."""
    parts = fake_split(key, split, seed)
    files = files_of(key, kind, parts)
    register(monkeypatch, key, files)
    return parts, files


@pytest.mark.parametrize("kind", ["binary", "python"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_folder_of_each_version(env, monkeypatch, kind, split):
    parts, files = official(monkeypatch, "cifar10", kind, split)
    write(env / "root" / layout("cifar10", kind).folder, files)
    x, y = load_cifar10(split, root=env / "root", verbose=False)
    want_x, want_y = expected(parts)
    np.testing.assert_array_equal(x, want_x)  # train: data_batch_1 .. 5 in order
    np.testing.assert_array_equal(y, want_y)
    assert x.dtype == np.uint8 and x.shape[1:] == (3, 32, 32) and y.dtype == np.int64
    assert last_source().kind == "root" and layout("cifar10", kind).folder in last_source().location
    assert not (env / "cache").exists()  # a folder of yours is not copied into the cache


def test_files_directly_in_the_folder_named(env, monkeypatch):
    parts, files = official(monkeypatch, "cifar10", "binary", "test")
    write(env / "cifar-10-batches-bin-renamed", files)
    x, _ = load_cifar10("test", root=env / "cifar-10-batches-bin-renamed", verbose=False)
    np.testing.assert_array_equal(x, expected(parts)[0])


@pytest.mark.parametrize("kind", ["binary", "python"])
def test_the_official_archive_itself(env, monkeypatch, kind):
    parts, files = official(monkeypatch, "cifar10", kind, "test")
    lay = layout("cifar10", kind)
    archive = tarball(lay.folder, files)
    register(monkeypatch, "cifar10", {lay.archive: archive})
    write(env / "root", {lay.archive: archive})
    x, y = load_cifar10("test", root=env / "root", verbose=False)
    np.testing.assert_array_equal(x, expected(parts)[0])
    np.testing.assert_array_equal(y, expected(parts)[1])
    assert os.listdir(env / "root") == [lay.archive]  # read in memory: nothing extracted


def test_binary_folder_preferred_to_python_folder_and_archives(env, monkeypatch):
    parts, bin_files = official(monkeypatch, "cifar10", "binary", "test", seed=1)
    _, py_files = official(monkeypatch, "cifar10", "python", "test", seed=2)
    write(env / "root" / "cifar-10-batches-bin", bin_files)
    write(env / "root" / "cifar-10-batches-py", py_files)
    write(env / "root", {"cifar-10-python.tar.gz": b"not even read"})
    x, _ = load_cifar10("test", root=env / "root", verbose=False)
    np.testing.assert_array_equal(x, expected(parts)[0])
    assert "cifar-10-batches-bin" in last_source().location


def test_named_folder_without_the_files_is_an_error(env, monkeypatch):
    (env / "empty" / "cifar-10-batches-bin").mkdir(parents=True)
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10("test", root=env / "empty", verbose=False)
    assert "cifar-10-batches-bin/test_batch.bin" in str(err.value) and "cifar-10-binary.tar.gz" in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cifar10("test", root=env / "nowhere", verbose=False)


def test_tinycnn_data_without_the_files_is_skipped(env, monkeypatch):
    (env / "elsewhere").mkdir()
    monkeypatch.setenv("TINYCNN_DATA", str(env / "elsewhere"))
    with pytest.raises(RuntimeError) as err:
        load_cifar10("test", verbose=False)
    message = str(err.value)
    assert "TINYCNN_DATA: no" in message and "cache" in message and "mirror" in message


@pytest.mark.parametrize("kind", ["binary", "python"])
def test_a_changed_byte_is_refused_naming_the_file(env, monkeypatch, kind):
    _, files = official(monkeypatch, "cifar10", kind, "test")
    name = layout("cifar10", kind).files["test"][0]
    data = bytearray(files[name])
    data[len(data) // 2] ^= 0x01
    write(env / "root" / layout("cifar10", kind).folder, {name: bytes(data)})
    with pytest.raises(ValueError) as err:
        load_cifar10("test", root=env / "root", verbose=False)
    message = str(err.value)
    assert name in message and "md5 mismatch" in message and "verify=False" in message


def test_verify_false_loads_your_own_files_with_one_warning(env):
    parts = fake_split("cifar10", "test", seed=5)  # not registered: not the official files
    write(env / "root" / "cifar-10-batches-py", files_of("cifar10", "python", parts))
    with pytest.raises(ValueError, match="md5 mismatch"):
        load_cifar10("test", root=env / "root", verbose=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, y = load_cifar10("test", root=env / "root", verify=False, verbose=False)
    assert len([w for w in caught if "verify=False" in str(w.message)]) == 1
    np.testing.assert_array_equal(x, expected(parts)[0])
    np.testing.assert_array_equal(y, expected(parts)[1])


def test_truncated_binary_file_is_refused_naming_it(env):
    parts = fake_split("cifar10", "test")
    data = files_of("cifar10", "binary", parts)["test_batch.bin"]
    write(env / "root" / "cifar-10-batches-bin", {"test_batch.bin": data[:-100]})
    with pytest.raises(ValueError) as err:
        load_cifar10("test", root=env / "root", verify=False, verbose=False)
    assert "test_batch.bin" in str(err.value) and "whole number of 3,073-byte records" in str(err.value)


@pytest.mark.parametrize("payload, match", [
    ({b"labels": [1]}, "not a CIFAR python batch"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [1, 2]}, "must be uint8"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, "2 images but 1 labels"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}, "labels must lie in 0..9"),
    ([1, 2, 3], "not a CIFAR python batch"),
])
def test_malformed_python_batch_is_refused_naming_it(env, payload, match):
    write(env / "root" / "cifar-10-batches-py", {"test_batch": py2_pickle(payload)})
    with pytest.raises(ValueError, match=match) as err:
        load_cifar10("test", root=env / "root", verify=False, verbose=False)
    assert "test_batch" in str(err.value)


def test_truncated_pickle_is_refused_naming_it(env):
    data = files_of("cifar10", "python", fake_split("cifar10", "test"))["test_batch"]
    write(env / "root" / "cifar-10-batches-py", {"test_batch": data[:len(data) // 2]})
    with pytest.raises(ValueError, match="truncated or malformed pickle") as err:
        load_cifar10("test", root=env / "root", verify=False, verbose=False)
    assert "test_batch" in str(err.value)


class _Sneaky:
    """Pickles as a call of os.makedirs(path): what a hostile 'CIFAR batch' could run when unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (self.path,))


@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize("protocol", [2, 4])
def test_restricted_unpickler_refuses_anything_but_arrays(env, monkeypatch, verify, protocol):
    marker = env / "pwned"
    payload = {b"data": _Sneaky(str(marker)), b"labels": []}
    hostile = py2_pickle(payload) if protocol == 2 else pickle.dumps(payload, protocol=protocol)
    files = {"test_batch": hostile}
    if verify:
        register(monkeypatch, "cifar10", files)  # even a file whose md5 matches is read through the unpickler
    write(env / "root" / "cifar-10-batches-py", files)
    with pytest.raises(ValueError) as err:
        load_cifar10("test", root=env / "root", verify=verify, verbose=False)
    assert "refusing to unpickle os.makedirs" in str(err.value)
    assert "test_batch" in str(err.value)
    assert not marker.exists()


def _member(name, type_=tarfile.REGTYPE, data=b"", linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = type_, len(data) if type_ == tarfile.REGTYPE else 0, linkname
    return info, (data if type_ == tarfile.REGTYPE else None)


def test_archive_members_outside_the_folder_are_never_written(env, monkeypatch):
    parts, files = official(monkeypatch, "cifar10", "binary", "test")
    archive = tarball("cifar-10-batches-bin", files, extra=[_member("../../escaped", data=b"x"),
                                                            _member("/tmp/absolute-escape", data=b"x")])
    write(env / "root", {"cifar-10-binary.tar.gz": archive})
    with pytest.warns(UserWarning, match="verify=False"):
        x, _ = load_cifar10("test", root=env / "root", verify=False, verbose=False)
    np.testing.assert_array_equal(x, expected(parts)[0])
    assert not (env / "escaped").exists() and sorted(os.listdir(env / "root")) == ["cifar-10-binary.tar.gz"]


@pytest.mark.parametrize("bad, match", [
    ([_member("cifar-10-batches-bin/test_batch.bin", tarfile.SYMTYPE, linkname="/etc/passwd")], "not a regular file"),
    ([_member("cifar-10-batches-bin/test_batch.bin", data=b"\0" * 3073)], "appears twice"),
])
def test_irregular_or_duplicated_members_are_refused(env, monkeypatch, bad, match):
    _, files = official(monkeypatch, "cifar10", "binary", "test")
    write(env / "root", {"cifar-10-binary.tar.gz": tarball("cifar-10-batches-bin", files, extra=bad)})
    with pytest.raises(ValueError, match=match) as err:
        load_cifar10("test", root=env / "root", verify=False, verbose=False)
    assert "cifar-10-binary.tar.gz" in str(err.value)


def test_truncated_archive_is_refused_naming_it(env, monkeypatch):
    _, files = official(monkeypatch, "cifar10", "binary", "test")
    archive = tarball("cifar-10-batches-bin", files)
    write(env / "root", {"cifar-10-binary.tar.gz": archive[: len(archive) // 2]})
    with pytest.raises(ValueError, match="truncated or corrupt archive"):
        load_cifar10("test", root=env / "root", verify=False, verbose=False)
    register(monkeypatch, "cifar10", {"cifar-10-binary.tar.gz": archive})  # the whole archive is the official one
    with pytest.raises(ValueError, match="md5 mismatch"):
        load_cifar10("test", root=env / "root", verbose=False)


@pytest.mark.parametrize("kind", ["binary", "python"])
def test_cifar100_fine_and_coarse(env, monkeypatch, kind):
    parts, files = official(monkeypatch, "cifar100", kind, "train")
    write(env / "root" / layout("cifar100", kind).folder, files)
    x, fine = load_cifar100("train", root=env / "root", verbose=False)
    _, coarse = load_cifar100("train", root=env / "root", label_type="coarse", verbose=False)
    np.testing.assert_array_equal(x, expected(parts)[0])
    np.testing.assert_array_equal(fine, expected(parts, field=1)[1])
    np.testing.assert_array_equal(coarse, expected(parts, field=0)[1])
    with pytest.raises(ValueError, match="label_type"):
        load_cifar100("train", root=env / "root", label_type="both")


def test_split_and_dataset_names(env, monkeypatch):
    parts, files = official(monkeypatch, "cifar10", "binary", "test")
    write(env / "root" / "cifar-10-batches-bin", files)
    for name in ("cifar10", "CIFAR-10", "cifar_10"):
        x, _ = load_dataset(name, "test", root=env / "root", verbose=False)
        np.testing.assert_array_equal(x, expected(parts)[0])
    with pytest.raises(ValueError, match="split must be one of"):
        load_cifar10("valid", root=env / "root")


def test_cache_is_used_and_a_bad_one_rebuilt(env, monkeypatch):
    parts = fake_split("cifar10", "test")
    images, labels = expected(parts)
    sources.save_cache("cifar10-test", images=images, labels=labels[:, None])
    x, y = load_cifar10("test", verbose=False)
    np.testing.assert_array_equal(x, images)
    assert last_source().kind == "cache"
    cache = env / "cache" / "cifar10-test.npz"
    cache.write_bytes(cache.read_bytes()[:-10])
    with pytest.warns(RuntimeWarning, match="removing bad cache file"), pytest.raises(RuntimeError):
        load_cifar10("test", verbose=False)  # nothing else to fall back on here: no network
    assert not cache.exists()


def test_dataset_classes_as_torchvision(env, monkeypatch):
    parts, files = official(monkeypatch, "cifar10", "binary", "test")
    write(env / "root" / "cifar-10-batches-bin", files)
    ds = CIFAR10(env / "root", train=False, verbose=False)
    images, labels = expected(parts)
    assert len(ds) == len(images) and ds.data.shape == (len(images), 32, 32, 3) and ds.classes[0] == "airplane"
    assert ds.targets == labels.tolist() and ds.class_to_idx["truck"] == 9
    image, target = ds[1]
    np.testing.assert_array_equal(image, images[1].transpose(1, 2, 0))  # height, width, RGB as PIL's
    assert target == labels[1] and type(target) is int
    ds = CIFAR10(env / "root", train=False, transform=lambda im: im.sum(), target_transform=lambda t: -t,
                 verbose=False)
    assert ds[0] == (images[0].astype(np.int64).sum(), -labels[0])
    with pytest.raises(RuntimeError, match="download=False"):
        CIFAR10(train=False, verbose=False)  # nothing local, and no download asked for
    parts100, files100 = official(monkeypatch, "cifar100", "binary", "test")
    write(env / "root" / "cifar-100-binary", files100)
    ds = CIFAR100(env / "root", train=False, label_type="coarse", verbose=False)
    assert ds.targets == expected(parts100, field=0)[1].tolist() and len(ds.classes) == 20
    assert len(CIFAR100(env / "root", train=False, verbose=False).classes) == 100


def test_archive_bytes_helper_is_a_real_tar(env):
    """The generated archives are what tarfile itself reads: the tests exercise the real format."""
    archive = tarball("cifar-10-batches-bin", {"test_batch.bin": b"\0" * 3073})
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert tar.getnames() == ["cifar-10-batches-bin/readme.html", "cifar-10-batches-bin/test_batch.bin"]

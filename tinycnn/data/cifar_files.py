"""The CIFAR-10 and CIFAR-100 files as the data set's authors publish them: names, checksums, and the two formats.

Krizhevsky's home page (https://www.cs.toronto.edu/~kriz/cifar.html) offers each data set in a "python version"
(pickled dicts) and a "binary version" (fixed-length records), each as one .tar.gz:

    cifar-10-binary.tar.gz   cifar-10-batches-bin/  data_batch_1.bin .. data_batch_5.bin (10,000 records each),
                                                    test_batch.bin (10,000)
    cifar-10-python.tar.gz   cifar-10-batches-py/   data_batch_1 .. data_batch_5, test_batch (10,000 each)
    cifar-100-binary.tar.gz  cifar-100-binary/      train.bin (50,000), test.bin (10,000)
    cifar-100-python.tar.gz  cifar-100-python/      train (50,000), test (10,000)

A binary record is 1 label byte (CIFAR-100: 1 coarse-label byte, then 1 fine-label byte) followed by 3,072 pixel
bytes: 1,024 red, 1,024 green, 1,024 blue values of a 32x32 image in row-major order. A python file is a pickle of a
dict with byte-string keys: ``b"data"`` uint8 (N, 3072) laid out as the record's pixels, ``b"labels"`` (CIFAR-100:
``b"fine_labels"``, ``b"coarse_labels"``) a list of ints, ``b"batch_label"`` and ``b"filenames"``. The binary
version needs no unpickling, so tinycnn prefers it (and downloads it); a python file is read only after its md5
matched, and then only through :func:`tinycnn.data.safe_pickle.restricted_loads`, which builds nothing but NumPy
arrays and the plain types.

Checksums (md5, as published): the archives' on the home page; the python files' as torchvision's ``CIFAR10`` /
``CIFAR100`` list them; the binary files' as two independent projects list them (pytorch-cpp's
``fetch_cifar10.cmake``, whose MNIST md5s in the same form match the real MNIST files here, and rai-project's
dldataset, which also gives CIFAR-100's ``train.bin`` / ``test.bin``). They could not be checked against the real
files on the machine this was written on (no route to the data set's server); a mismatch is refused, never used.
"""
from __future__ import annotations

import io
import tarfile
import zlib
from typing import NamedTuple

import numpy as np

from .safe_pickle import NUMPY_ARRAY_GLOBALS, restricted_loads
from .sources import verify_hash

__all__ = ["Layout", "LAYOUTS", "CIFAR10_MD5", "CIFAR100_MD5", "parse_binary", "parse_python", "read_tar_members"]

PIXELS = 3 * 32 * 32

# name -> md5 of every official file, archives included. Tests register their generated files here.
CIFAR10_MD5 = {
    "cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530",
    "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25",
    "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
    "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421",
    "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
    "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d",
    "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
    "cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a",
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
CIFAR100_MD5 = {
    "cifar-100-binary.tar.gz": "03b5dce01913d631647c71ecec9e9cb8",
    "train.bin": "6172c7755cfe09b2fe270c85cebc1b15",
    "test.bin": "4499cfba6c016c1be1438163640a0898",
    "cifar-100-python.tar.gz": "eb9058c3a382ffc7106e4002c42a8d85",
    "train": "16019d7e3df5f24257cddd939b257f8d",
    "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
}


class Layout(NamedTuple):
    """One published form of one data set: ``kind`` "binary" or "python", the ``folder`` its archive holds, the
    archive's name, each split's files, and the number of label fields (CIFAR-100: coarse and fine)."""

    kind: str
    folder: str
    archive: str
    files: dict
    label_fields: int


_TRAIN10 = [f"data_batch_{i}" for i in range(1, 6)]
# Per data set, in order of preference: the binary version first (no pickle).
LAYOUTS = {
    "cifar10": (
        Layout("binary", "cifar-10-batches-bin", "cifar-10-binary.tar.gz",
               {"train": tuple(f + ".bin" for f in _TRAIN10), "test": ("test_batch.bin",)}, 1),
        Layout("python", "cifar-10-batches-py", "cifar-10-python.tar.gz",
               {"train": tuple(_TRAIN10), "test": ("test_batch",)}, 1),
    ),
    "cifar100": (
        Layout("binary", "cifar-100-binary", "cifar-100-binary.tar.gz",
               {"train": ("train.bin",), "test": ("test.bin",)}, 2),
        Layout("python", "cifar-100-python", "cifar-100-python.tar.gz", {"train": ("train",), "test": ("test",)}, 2),
    ),
}


def parse_binary(data: bytes, label_fields: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels uint8 (N, label_fields)) of a binary-version file's bytes.

    Raises ValueError naming the file when its length is not a whole number of records (truncated, or not such
    a file)."""
    record = label_fields + PIXELS
    if not data or len(data) % record:
        raise ValueError(f"{name}: {len(data):,} bytes is not a whole number of {record:,}-byte records "
                         f"({label_fields} label byte{'s' if label_fields > 1 else ''} + {PIXELS:,} pixel bytes): "
                         "truncated, or not a CIFAR binary batch")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    return records[:, label_fields:].reshape(-1, 3, 32, 32), records[:, :label_fields]


def _labels(entry, key: bytes, n: int, name: str) -> np.ndarray:
    values = entry.get(key)
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iu":
        labels = values
    elif isinstance(values, list) and all(type(v) is int for v in values):  # noqa: E721 - bool is no label
        labels = np.array(values, dtype=np.int64) if values else np.zeros(0, np.int64)
    else:
        raise ValueError(f"{name}: {key!r} must be a list of ints, got {type(values).__name__}")
    if len(labels) != n:
        raise ValueError(f"{name}: {n} images but {len(labels)} {key.decode()}")
    return labels


def parse_python(data: bytes, label_fields: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels (N, label_fields)) of a python-version file's bytes (a pickle).

    Read through the restricted unpickler (NumPy arrays and plain types only). Raises ValueError naming the file
    for a pickle that builds anything else, a truncated one, or one without the official dict's fields."""
    entry = restricted_loads(data, NUMPY_ARRAY_GLOBALS, name, encoding="bytes")
    if not isinstance(entry, dict) or b"data" not in entry:
        what = f"a dict with keys {sorted(entry)[:5]}" if isinstance(entry, dict) else f"a {type(entry).__name__}"
        raise ValueError(f"{name}: not a CIFAR python batch (expected a dict with b'data' and the labels, got {what})")
    images = entry[b"data"]
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != PIXELS:
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
        raise ValueError(f"{name}: b'data' must be uint8 (N, {PIXELS}), got {got}")
    n = len(images)
    keys = (b"labels",) if label_fields == 1 else (b"coarse_labels", b"fine_labels")
    labels = np.stack([_labels(entry, k, n, name) for k in keys], axis=1)
    return images.reshape(n, 3, 32, 32), labels


def read_tar_members(data: bytes, folder: str, names, name: str) -> dict[str, bytes]:
    """{file name: bytes} of the members ``folder/NAME`` of a .tar.gz held in ``data``, read in memory.

    Safe by construction: nothing is written to disk, so no member name can reach outside a folder; only the
    members asked for are read, each must be a regular file (not a link or a device) and appear once. Raises
    ValueError naming the archive for a truncated or corrupt archive, a missing, duplicated or irregular member."""
    wanted = {f"{folder}/{n}": n for n in names}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                base = wanted.get(member.name)
                if base is None:
                    continue  # readme.html, batches.meta ...: not read
                if not member.isreg():
                    raise ValueError(f"{name}: member {member.name} is not a regular file; archive not used")
                if base in found:
                    raise ValueError(f"{name}: member {member.name} appears twice; archive not used")
                found[base] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise ValueError(f"{name}: truncated or corrupt archive ({type(e).__name__}: {e}); not used") from None
    missing = [m for m, n in wanted.items() if n not in found]
    if missing:
        raise ValueError(f"{name}: the archive lacks {', '.join(missing)}; not used")
    return found


def verified(data: bytes, table: dict, base: str, name: str, title: str, verify: bool) -> bytes:
    """``data`` after its md5 matched ``table[base]`` (skipped when not ``verify``); the ValueError names the file
    and says how to load files that are not the official ones."""
    if verify:
        try:
            verify_hash(data, table[base], "md5", name)
        except ValueError as e:
            raise ValueError(f"{e} (not the official {title} {base}; files of your own in this layout load "
                             "with verify=False, CLI --no-verify)") from None
    return data

"""Small CIFAR-10 / CIFAR-100 files generated in the official layouts, for the loader tests.

- binary version: records of label byte(s) + 3,072 pixel bytes;
- python version: pickles written as Python 2's cPickle wrote the official ones (protocol 2, byte strings as
  Python 2 ``str`` opcodes, the array rebuilder named ``numpy.core.multiarray._reconstruct``), of dicts with byte
  keys (``b"data"``, ``b"labels"`` or ``b"fine_labels"``/``b"coarse_labels"``, ``b"batch_label"``, ``b"filenames"``);
- the archives: .tar.gz of the folder, with a readme beside the batches as the real ones have.

``register`` is the test hook that makes generated files "official": it puts their md5s into the checksum tables
of :mod:`tinycnn.data.cifar_files` through ``monkeypatch`` (undone after each test), as test_mnist's ``register``
does for MNIST.
"""
import gzip
import hashlib
import io
import pickle
import struct
import tarfile

import numpy as np

from tinycnn.data import cifar_files

SMALL = {"cifar10": {"train": 3, "test": 4}, "cifar100": {"train": 7, "test": 4}}  # records per file
TABLES = {"cifar10": cifar_files.CIFAR10_MD5, "cifar100": cifar_files.CIFAR100_MD5}


def layout(key, kind):
    return next(lay for lay in cifar_files.LAYOUTS[key] if lay.kind == kind)


def fake_split(key, split, seed=0, n=None):
    """{python-version file name: (images uint8 (n, 3, 32, 32), labels (n, fields))} for one split; ``n`` records
    per file (default SMALL's)."""
    rng = np.random.default_rng(seed + (0 if split == "train" else 100))
    lay = layout(key, "python")
    out = {}
    count = SMALL[key][split] if n is None else n
    for name in lay.files[split]:
        images = rng.integers(0, 256, (count, 3, 32, 32), dtype=np.uint8)
        if key == "cifar10":
            labels = rng.integers(0, 10, (count, 1))
        else:
            labels = np.stack([rng.integers(0, 20, count), rng.integers(0, 100, count)], axis=1)
        out[name] = (images, labels.astype(np.int64))
    return out


def expected(parts, field=0):
    """The concatenated (images, labels) a loader should return for ``parts`` (label column ``field``)."""
    return (np.concatenate([p[0] for p in parts.values()]),
            np.concatenate([p[1][:, field] for p in parts.values()]))


def binary_bytes(images, labels):
    records = np.concatenate([labels.astype(np.uint8), images.reshape(len(images), -1)], axis=1)
    return records.tobytes()


class _Py2Pickler(pickle._Pickler):
    """Writes bytes and str as Python 2 wrote its str objects (BINSTRING / SHORT_BINSTRING)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def py2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def python_bytes(images, labels, name, key):
    entry = {b"batch_label": f"{name} of 5".encode(), b"data": images.reshape(len(images), -1),
             b"filenames": [f"img_{i}.png".encode() for i in range(len(images))]}
    if key == "cifar10":
        entry[b"labels"] = [int(v) for v in labels[:, 0]]
    else:
        entry[b"coarse_labels"] = [int(v) for v in labels[:, 0]]
        entry[b"fine_labels"] = [int(v) for v in labels[:, 1]]
    return py2_pickle(entry)


def files_of(key, kind, parts):
    """{file name in the layout: bytes} for ``parts`` (python-version names, as fake_split gives them)."""
    lay = layout(key, kind)
    python_names = layout(key, "python").files
    out = {}
    for split in ("train", "test"):
        for pname, fname in zip(python_names[split], lay.files[split]):
            if pname in parts:
                images, labels = parts[pname]
                out[fname] = (binary_bytes(images, labels) if kind == "binary"
                              else python_bytes(images, labels, pname, key))
    return out


def tarball(folder, files, extra=(), mtime=0) -> bytes:
    """.tar.gz of ``folder/NAME`` for each file, plus ``extra`` TarInfo/bytes pairs, deterministic."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        readme = b"<html>readme</html>"
        for name, data in [("readme.html", readme), *files.items()]:
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size, info.mtime = len(data), mtime
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip.compress(raw.getvalue(), mtime=0)


def register(monkeypatch, key, files):
    """Make ``files`` ({name: bytes}) the official ones of ``key``: their md5s go into the checksum table."""
    for name, data in files.items():
        monkeypatch.setitem(TABLES[key], name, hashlib.md5(data).hexdigest())


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
